/*
 * write_queue.h — group commit. The single-document writes that arrive during one turn of the
 * event loop wait here, then share one transaction and one sync (write_conventions_from());
 * each is answered only after that sync, so a 2xx still means "on disk". A sync costs about a
 * millisecond whatever it carries: sixteen clients writing at once pay it once, not sixteen
 * times.
 */
#ifndef CTG_WRITE_QUEUE_H
#define CTG_WRITE_QUEUE_H

#include "ctg/http.h"
#include "ctg/writes.h"

#include <event2/event.h>

struct server;
struct write_queue;

/* Answers one queued write once its batch is committed (or refused). */
typedef void (*write_reply_fn)(struct http_request *r, struct write_outcome *out);

struct write_queue *write_queue_new(struct server *srv, write_reply_fn reply);
/*
 * Queues `w` (copied: the id, action id and body may go when this returns) and takes over the
 * answer of `r`. The batch is written after the loop's next look at the sockets.
 */
void write_queue_submit(struct write_queue *q, struct http_request *r,
                        const struct write_request *w);
/* Writes and answers what is queued now (at shutdown, before the store closes). */
void write_queue_flush(struct write_queue *q);
void write_queue_free(struct write_queue *q);

#endif
