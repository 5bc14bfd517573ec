/*
 * client.h — ctgctl's side of the HTTP API: one keep-alive connection (libcurl), the token,
 * and answers parsed as JSON. Failures map to ctgctl's exit codes.
 */
#ifndef CTGCTL_CLIENT_H
#define CTGCTL_CLIENT_H

#include <jansson.h>

/* ctgctl's exit codes (docs/ctgctl.md). */
enum exit_code { EXIT_OK = 0, EXIT_REFUSED = 1, EXIT_USAGE = 2, EXIT_UNREACHABLE = 3 };

struct client;

/* `url` is the server's base ("http://127.0.0.1:8080"); `token` may be NULL. */
struct client *client_new(const char *url, const char *token);
void client_free(struct client *c);

/*
 * GET `path` quietly: EXIT_OK with *out (the caller owns it) for a 2xx, EXIT_REFUSED with the
 * status in *status for an error answer, EXIT_UNREACHABLE.
 */
enum exit_code client_get(struct client *c, const char *path, json_t **out, long *status);

/*
 * GET `path` (with its query) and parse the answer. Returns EXIT_OK with *out set (the caller
 * owns it), EXIT_REFUSED when the server answered an error (its message printed on stderr), or
 * EXIT_UNREACHABLE.
 */
enum exit_code client_get_json(struct client *c, const char *path, json_t **out);

#endif
