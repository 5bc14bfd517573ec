/*
 * conn_limit.h — a cap on client connections. evhttp 2.1 has none (evhttp_set_max_connections
 * came with 2.2), so the cap is the process's file descriptors: ctgd keeps the descriptors it
 * holds once started, plus `connections` for clients (HTTP connections and nanomsg subscribers
 * together), plus CONN_LIMIT_OWN for its own work (reading plugin files on reload). When a new
 * connection finds none left, it is answered 503 `too_many_connections` (JSON) through a spare
 * descriptor and closed, instead of waiting, and instead of the loop spinning on the listening
 * socket.
 */
#ifndef CTG_CONN_LIMIT_H
#define CTG_CONN_LIMIT_H

#include <event2/listener.h>
#include <stddef.h>
#include <stdint.h>

#define CONN_LIMIT_OWN 16

struct conn_limit;

/*
 * Sets RLIMIT_NOFILE to the descriptors open now + `connections` + CONN_LIMIT_OWN, and takes
 * over accept failures on `listener`. Fails, writing why into `err`, when the hard limit is
 * lower than that.
 */
struct conn_limit *conn_limit_start(struct evconnlistener *listener, size_t connections,
                                    char *err, size_t errlen);
/* Connections answered 503 since start. */
uint64_t conn_limit_refused(const struct conn_limit *cl);
void conn_limit_free(struct conn_limit *cl);

#endif
