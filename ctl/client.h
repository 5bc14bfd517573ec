/*
 * client.h — ctgctl's side of the HTTP API: one keep-alive connection (libcurl), the token, and
 * one function that performs any request. Failures map to ctgctl's exit codes: a server's
 * refusal is EXIT_REFUSED with its message on stderr, no answer at all is EXIT_UNREACHABLE.
 */
#ifndef CTGCTL_CLIENT_H
#define CTGCTL_CLIENT_H

#include "buf.h"

#include <jansson.h>

#include <stdbool.h>

/* ctgctl's exit codes (docs/ctgctl.md). */
enum exit_code { EXIT_OK = 0, EXIT_REFUSED = 1, EXIT_USAGE = 2, EXIT_UNREACHABLE = 3 };

struct client;

/* `url` is the server's base ("http://127.0.0.1:8080"); `token` may be NULL. */
struct client *client_new(const char *url, const char *token);
void client_free(struct client *c);

struct request {
    const char *method;       /* "GET", "POST", "PUT", "PATCH", "DELETE" */
    const char *path;         /* under the base URL, with its query, already percent-encoded */
    const char *content_type; /* of the body; NULL when there is none */
    const void *body;         /* borrowed for the request */
    size_t body_len;
    const char *if_match;     /* a rev: sent as If-Match: "<rev>"; NULL for none */
    bool quiet;               /* true: the caller reports a refusal itself */
};

struct response {
    long status;      /* 0 when the server did not answer */
    struct buf body;  /* the bytes of the answer, as they came */
    json_t *json;     /* the answer parsed when it is application/json, else NULL */
};

/*
 * Performs `req`. EXIT_OK for a 2xx answer, EXIT_REFUSED for an error answer (its message on
 * stderr unless req->quiet), EXIT_UNREACHABLE when there is no answer (reported on stderr).
 * *resp is filled in every case; free it with response_free().
 */
enum exit_code client_request(struct client *c, const struct request *req, struct response *resp);
void response_free(struct response *resp);

/*
 * `req` with `body` (NULL: none) sent as JSON, answered by a JSON document: EXIT_OK with *out
 * set (the caller owns it), or the failure, reported unless req->quiet. An answer that is not
 * JSON is refused. The HTTP status goes to *status when status is not NULL.
 */
enum exit_code client_json(struct client *c, const struct request *req, const json_t *body,
                           json_t **out, long *status);

/* GET `path` (with its query) and parse the answer, as client_json() does. */
enum exit_code client_get_json(struct client *c, const char *path, json_t **out);

/*
 * GET `path` quietly: EXIT_OK with *out (the caller owns it) for a 2xx, EXIT_REFUSED with the
 * status in *status for an error answer, EXIT_UNREACHABLE.
 */
enum exit_code client_get(struct client *c, const char *path, json_t **out, long *status);

/*
 * Prints a server's error on stderr: "ctgctl: <where> <status> <code>: <message>" (no status when
 * it is 0), then one line per detail that says more than the message. `error` is the error object of an
 * answer ({"status", "code", "message", ...}) or the whole answer {"error": {...}}; NULL prints
 * the status alone.
 */
void client_print_error(const char *where, long status, const json_t *error);

#endif
