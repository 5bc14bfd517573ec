/*
 * server.h — the running ctgd: one event loop, the HTTP front, the store, the metrics.
 */
#ifndef CTG_SERVER_H
#define CTG_SERVER_H

#include "ctg/config.h"
#include "ctg/event_texts.h"
#include "ctg/metrics.h"
#include "ctg/store.h"

#include <stddef.h>

struct event_base;
struct evhttp;
struct event;
struct events;
struct feed_client;
struct plugins;
struct result_cache;

struct server {
    const struct config *cfg;
    struct store *store;
    struct events *events;             /* the nanomsg publisher */
    struct plugins *plugins;           /* the current generation */
    struct result_cache *results;      /* the plugins' answers by convention revision */
    uint64_t plugins_seq;              /* the last change the on_change handlers saw */
    struct event_texts handover;       /* events just published, for the handlers (server.c) */
    struct feed_client *feed_clients;  /* long-polls and event streams (api_changes.c) */
    struct event_base *base;
    struct evhttp *http;
    struct conn_limit *conn_limit;     /* the cap on client connections */
    struct write_queue *writes;        /* group commit of single writes */
    struct event *signal_events[3];
    struct event *heartbeat;           /* every events.heartbeat seconds */
    struct event *checkpoint_tick;     /* starts a checkpoint due while no write comes */
    struct event *handlers_more;       /* on_change handlers go on in the next loop turn */
    struct metrics metrics;
    double started;                    /* clock_monotonic() at start */
};

/* Opens the store and binds the listen address. On failure writes why into `err`. */
int server_init(struct server *srv, const struct config *cfg, char *err, size_t errlen);
/* Runs the loop until SIGINT or SIGTERM. */
int server_run(struct server *srv);
void server_free(struct server *srv);

/*
 * After a commit, before its writers are answered: publish the new change-log entries and wake
 * the clients that wait for them, so that a subscriber hears of a write no later than its
 * writer does (write -> subscriber p99 at 200/s: 1.86 -> 1.62 ms, docs/benchmarks.md).
 */
void server_changes_committed(struct server *srv);
/*
 * Once the writers of a commit are answered: start the data file's writeback, and a checkpoint
 * if one is due, and run the plugins' on_change handlers in the next turn of the loop.
 */
void server_writers_answered(struct server *srv);

/*
 * Loads the configured plugins into a new generation and, if every file loaded, puts it in
 * place of the current one. Otherwise nothing changes and `err` says which file failed, where.
 */
int server_reload_plugins(struct server *srv, char *err, size_t errlen);

#endif
