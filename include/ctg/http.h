/*
 * http.h — the HTTP front: routing, authentication, bodies, and the JSON error shape of
 * SPEC §3. Handlers (api_*.c) receive a struct http_request and answer through the
 * http_reply_* / http_error* functions exactly once.
 */
#ifndef CTG_HTTP_H
#define CTG_HTTP_H

#include "ctg/config.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct server;
struct embedded_file;

#define HTTP_PARAMS_MAX 4

struct http_request {
    struct evhttp_request *req;
    struct server *srv;
    const struct token *who;          /* the authenticated token */
    enum evhttp_cmd_type method;
    const char *method_name;
    const char *route;                /* the matched route's pattern, for metrics and logs */
    char *params[HTTP_PARAMS_MAX];    /* decoded {placeholders} of the route, in order */
    struct evkeyvalq query;
    int status;                       /* set when the answer is sent */
    bool replied;                     /* a whole answer was handed to evhttp (not a stream) */
    double started;                   /* clock_monotonic() when the request arrived */
    bool deferred;                    /* answered later, through the copy http_defer() made */
};

typedef void (*http_handler)(struct http_request *r);

struct http_route {
    const char *pattern;  /* "/v1/conventions/{id}": a {segment} matches one decoded segment */
    unsigned methods;     /* EVHTTP_REQ_* mask */
    http_handler handler;
    bool open;            /* answers without a token */
};

/* Prints "METHOD /pattern" for every route, one per line (ctgd --routes). */
void http_print_routes(FILE *out);

/* The evhttp callback: routes, authenticates, calls the handler, counts and logs. */
void http_dispatch(struct evhttp_request *req, void *server);

/* --- answering --- */
/* Sends `body` (consumed) as JSON with `status`. */
void http_reply_json(struct http_request *r, int status, json_t *body);
/* Sends `body` (emptied, still the caller's) with its content type. */
void http_reply_body(struct http_request *r, int status, const char *content_type,
                     struct evbuffer *body);
/* Sends `len` bytes of JSON text as they are. */
void http_reply_json_text(struct http_request *r, int status, const char *text, size_t len);
void http_reply_empty(struct http_request *r, int status);
/* True when an If-None-Match `header` (may be NULL) lists `etag` ("\"...\""), weakly, or is *. */
bool http_etag_listed(const char *header, const char *etag);
/* True when If-None-Match lists the ETag of `rev` (or is *). */
bool http_rev_not_modified(struct http_request *r, uint64_t rev);
/* Sends a compiled-in file with its ETag (304 when If-None-Match lists it), to revalidate. */
void http_reply_file(struct http_request *r, const struct embedded_file *file);
void http_set_header(struct http_request *r, const char *name, const char *value);
void http_set_etag(struct http_request *r, uint64_t rev);

/* Sends the SPEC §3 error shape; `extra` (consumed, may be NULL) is merged into "error". */
void http_error_with(struct http_request *r, int status, const char *code, json_t *extra,
                     const char *fmt, ...) __attribute__((format(printf, 5, 6)));
#define http_error(r, status, code, ...) http_error_with(r, status, code, NULL, __VA_ARGS__)

/*
 * For answers that come later (long-poll, event streams): returns a heap copy of `r` that the
 * reply functions take, without the route's params and query (freed when the handler returns).
 * Once answered, or abandoned, the copy is given to http_finish_deferred(), which counts and
 * logs the request and frees the copy.
 */
struct http_request *http_defer(struct http_request *r);
void http_finish_deferred(struct http_request *deferred);

/*
 * Keeps the deferred request's connection read while its answer waits. evhttp stops reading a
 * connection once a request is whole and reads it again after the answer: two epoll_ctl calls
 * when the answer comes in a later turn of the loop, where a stop and a start in the same turn
 * leave one change. What the client sends meanwhile (pipelined requests) waits in the
 * connection's buffer, 64 KiB at most until the answer is sent, for evhttp to read after it,
 * as it would have; an end of input or an error only stops the reading, and the answer still
 * goes out.
 */
void http_keep_reading(struct http_request *deferred);

/* Answers 403 and returns false unless the token may read `department` (NULL: unknown). */
bool http_require_readable(struct http_request *r, const char *department);

/* --- reading --- */
/*
 * The request body as a JSON object. Checks the content type against `media_types`
 * (NULL-terminated), the size limit and the syntax; on any problem answers the error
 * (415, 413, 400) and returns NULL. When `verbatim` is not NULL (zeroed or cleared), it gets the
 * members whose text can be stored as it is (json_verbatim.h); they point into the request.
 */
struct json_verbatim;
json_t *http_json_body(struct http_request *r, const char *const media_types[],
                       struct json_verbatim *verbatim);
/*
 * The raw request body (`*len` bytes, contiguous), after the same content-type check and a
 * size check against `limit`; answers 415 or 413 and returns NULL otherwise.
 */
const char *http_body(struct http_request *r, const char *const media_types[], size_t limit,
                      size_t *len);
/* The value of a request header, or NULL. */
const char *http_header(struct http_request *r, const char *name);
/* The value of query parameter `name`, or NULL. */
const char *http_query(struct http_request *r, const char *name);
/* Answers 400 and returns false when the query has a parameter not in `allowed`. */
extern const char *const http_no_params[]; /* for routes that take none */
bool http_query_only(struct http_request *r, const char *const allowed[]);

#endif
