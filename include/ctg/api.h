/*
 * api.h — the route tables of the HTTP API, one per resource file (api_<resource>.c).
 * Each table ends with an entry whose pattern is NULL.
 */
#ifndef CTG_API_H
#define CTG_API_H

#include "ctg/http.h"
#include "ctg/record.h"

#include <stddef.h>

extern const struct http_route api_system_routes[];
extern const struct http_route api_conventions_routes[];
extern const struct http_route api_changes_routes[];
extern const struct http_route api_plugins_routes[];
extern const struct http_route api_bulk_routes[];
extern const struct http_route api_web_routes[];

struct write_outcome;
/* Answers 403 and returns false unless the token's role writes. */
bool api_require_writer(struct http_request *r);
/* Counts a write's outcome in the metrics. */
void api_count_outcome(struct server *srv, const struct write_outcome *out);
/* Counts and answers one write of a committed batch (write_queue.h). */
void api_reply_write_outcome(struct http_request *r, struct write_outcome *out);

/*
 * The convention of the route's {id}, parsed, for the token that asks; NULL once the error
 * (400, 403, 404, 500) is answered. The caller owns it.
 */
json_t *api_load_convention(struct http_request *r);

/*
 * The same in two steps. api_read_convention finds the stored convention, in a store read
 * that the caller ends (store_read_end) once done with `doc`; false once the error is answered,
 * with no read left open. api_parse_convention parses it; NULL once 500 is answered.
 */
bool api_read_convention(struct http_request *r, struct record_view *doc);
json_t *api_parse_convention(struct http_request *r, const struct record_view *doc);

struct server;
/* New entries in the change log: answer the long-polls they concern, feed the event streams. */
void api_changes_notify(struct server *srv);
/* A comment line on every event stream, so that proxies and clients see it alive. */
void api_changes_keepalive(struct server *srv);
/* How many clients wait on /v1/changes, and follow /v1/events. */
void api_changes_count(const struct server *srv, size_t *long_polls, size_t *streams);
/* At shutdown: answer every long-poll with what there is, end every event stream. */
void api_changes_end_all(struct server *srv);

#endif
