/*
 * server.h — the running ctgd: one event loop, the HTTP front, the store, the metrics.
 */
#ifndef CTG_SERVER_H
#define CTG_SERVER_H

#include "ctg/config.h"
#include "ctg/metrics.h"
#include "ctg/store.h"

#include <stddef.h>

struct event_base;
struct evhttp;
struct event;

struct server {
    const struct config *cfg;
    struct store *store;
    struct event_base *base;
    struct evhttp *http;
    struct event *signal_events[3];
    struct metrics metrics;
    double started; /* clock_monotonic() at start */
};

/* Opens the store and binds the listen address. On failure writes why into `err`. */
int server_init(struct server *srv, const struct config *cfg, char *err, size_t errlen);
/* Runs the loop until SIGINT or SIGTERM. */
int server_run(struct server *srv);
void server_free(struct server *srv);

#endif
