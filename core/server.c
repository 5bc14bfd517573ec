/*
 * server.c — assembles the running server: the event loop, the evhttp front and its limits,
 * the store, and the signals that stop it cleanly.
 */
#include "ctg/server.h"
#include "ctg/api.h"
#include "ctg/clock.h"
#include "ctg/changes.h"
#include "ctg/conn_limit.h"
#include "ctg/event_texts.h"
#include "ctg/events.h"
#include "ctg/http.h"
#include "ctg/log.h"
#include "ctg/plugins.h"
#include "ctg/result_cache.h"
#include "ctg/write_queue.h"

#include <event2/event.h>
#include <event2/http.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

/*
 * evhttp refuses bodies over the configured limit plus this margin with its own (HTML) 413;
 * bodies between the two get ctgd's JSON 413. The margin bounds the memory one request holds
 * beyond the limit (libevent 2.1 reads the body before any handler can look at the headers).
 */
#define EVHTTP_BODY_MARGIN (1024 * 1024)
#define HEADERS_MAX (64 * 1024)
#define CHECKPOINT_TICK_US 250000 /* how often an idle store looks for a checkpoint due */
#define STOP_FLUSH_US 200000         /* time given to the last answers to leave at shutdown */

#define CHANGE_HANDLER_BATCH 64 /* events read at once; the slice is checked between reads */
#define HANDLERS_SLICE 0.05 /* seconds of on_change handlers per turn of the loop */
#define HANDOVER_MAX (8u << 20) /* bytes of events the publisher passes on to the handlers */

/* Change events read from the log for the handlers (one pass, at most a batch). */
struct pending_events {
    struct event_texts events;
    struct evbuffer *scratch; /* where an event's text is put together */
    uint64_t last;            /* the last seq read, readable or not */
};

static int collect_event(uint64_t seq, const struct record_view *entry, void *arg)
{
    struct pending_events *pending = arg;
    struct change_event route;
    pending->last = seq;
    if (change_event_read(seq, entry, &route) < 0)
        return 0;
    evbuffer_drain(pending->scratch, evbuffer_get_length(pending->scratch));
    size_t doc_at = change_event_append_json(entry, pending->scratch);
    size_t len = evbuffer_get_length(pending->scratch);
    const char *text = (const char *)evbuffer_pullup(pending->scratch, -1);
    if (text)
        event_texts_add(&pending->events, &route, text, len, doc_at);
    return pending->events.texts.n == CHANGE_HANDLER_BATCH;
}

/*
 * The publisher has just sent this event: the handlers take it from the hand-over, in memory,
 * rather than reading the log again, when it follows the last one there (or the last one they
 * saw) and there is room. Otherwise they read it from the log, as they read every gap.
 */
static void hand_over(void *arg, const struct change_event *route, const char *json, size_t len,
                      size_t doc_at)
{
    struct server *srv = arg;
    struct event_texts *h = &srv->handover;
    uint64_t next = h->texts.n ? h->routes[h->texts.n - 1].seq + 1 : srv->plugins_seq + 1;
    if (srv->plugins && route->seq == next && h->texts.len + len <= HANDOVER_MAX)
        event_texts_add(h, route, json, len, doc_at);
}

/*
 * Schedules the handlers after the loop's next look at the sockets (a timer of 0 s: an event
 * made active would run before any socket is served), so that requests go in between.
 */
static void run_handlers_later(struct server *srv)
{
    static const struct timeval now = {0, 0};
    event_add(srv->handlers_more, &now);
}

/*
 * Runs the handlers on events[from..] in order until `deadline`; returns the index after the
 * last one run (more than `from`: at least one runs).
 */
static size_t run_handlers_until(struct server *srv, const struct event_texts *events,
                                 size_t from, double deadline)
{
    for (size_t i = from; i < events->texts.n; i++) {
        struct plugin_event event = event_texts_get(events, i);
        plugins_on_change(srv->plugins, events->routes[i].department, &event);
        if (clock_monotonic() > deadline)
            return i + 1;
    }
    return events->texts.n;
}

/*
 * Where the next event the handlers have not seen is in the hand-over; SIZE_MAX when it is not
 * there (the hand-over is then emptied if the handlers are past all of it).
 */
static size_t next_handed_over(struct server *srv)
{
    struct event_texts *h = &srv->handover;
    if (h->texts.n == 0)
        return SIZE_MAX;
    uint64_t first = h->routes[0].seq, next = srv->plugins_seq + 1;
    if (next >= first && next - first < h->texts.n)
        return (size_t)(next - first);
    if (next > first)
        event_texts_clear(h); /* the handlers are past it */
    return SIZE_MAX;
}

/* Runs the handlers on the hand-over from `at`, until `deadline`. */
static void run_handed_over(struct server *srv, size_t at, double deadline)
{
    struct event_texts *h = &srv->handover;
    size_t done = run_handlers_until(srv, h, at, deadline);
    srv->plugins_seq = h->routes[done - 1].seq;
    if (done == h->texts.n)
        event_texts_clear(h);
}

/*
 * Reads up to a batch of events from the log and runs the handlers on them, until `deadline`;
 * false when the log could not be read.
 */
static bool run_from_log(struct server *srv, struct pending_events *pending, double deadline)
{
    event_texts_clear(&pending->events);
    pending->last = srv->plugins_seq;
    if (store_read_begin(srv->store) == STORE_OK) {
        store_each_change(srv->store, srv->plugins_seq, collect_event, pending);
        store_read_end(srv->store);
    }
    if (pending->last == srv->plugins_seq)
        return false;
    const struct event_texts *events = &pending->events;
    size_t done = events->texts.n ? run_handlers_until(srv, events, 0, deadline) : 0;
    /* past any entry that could not be read, unless the slice ended before the last */
    srv->plugins_seq = done < events->texts.n ? events->routes[done - 1].seq : pending->last;
    return true;
}

/*
 * Gives the plugins' on_change handlers the changes they have not seen, in seq order: from the
 * hand-over of the publisher when the next one is there, else from the log (read first and the
 * read ended: a handler may read the store itself). A pass stops after HANDLERS_SLICE seconds
 * (checked after each event) and goes on in the next turn of the loop, so that a thousand slow
 * handlers after a bulk write do not hold every request back.
 */
static void run_change_handlers(struct server *srv)
{
    double deadline = clock_monotonic() + HANDLERS_SLICE;
    struct pending_events pending = {.scratch = evbuffer_new()};
    while (pending.scratch && srv->plugins && srv->plugins_seq < store_last_seq(srv->store)) {
        if (clock_monotonic() > deadline) {
            run_handlers_later(srv);
            break;
        }
        size_t at = next_handed_over(srv);
        if (at != SIZE_MAX)
            run_handed_over(srv, at, deadline);
        else if (!run_from_log(srv, &pending, deadline))
            break; /* the log could not be read: try again at the next commit */
    }
    event_texts_clear(&pending.events);
    if (pending.scratch)
        evbuffer_free(pending.scratch);
}

static void on_handlers_more(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    run_change_handlers(arg);
}

void server_changes_committed(struct server *srv)
{
    events_publish_pending(srv->events);
    api_changes_notify(srv);
}

void server_writers_answered(struct server *srv)
{
    store_after_answers(srv->store);
    /* The handlers run in the next turn of the loop: the requests that came meanwhile are
       read first. */
    run_handlers_later(srv);
}

static void publish_plugin_event(void *arg, const char *department, const char *name,
                                 const char *json)
{
    struct server *srv = arg;
    events_publish_plugin(srv->events, department, name, json);
}

int server_reload_plugins(struct server *srv, char *err, size_t errlen)
{
    const struct config *cfg = srv->cfg;
    struct plugins_options opt = {
        .dirs = cfg->plugin_dirs,
        .limits = {cfg->limits.lua_instructions, cfg->limits.lua_seconds, cfg->limits.lua_memory},
        .store = srv->store,
        .publisher = {publish_plugin_event, srv},
        .generation = srv->plugins ? plugins_generation(srv->plugins) + 1 : 1,
    };
    double started = clock_monotonic();
    struct plugins *loaded = plugins_load(&opt, err, errlen);
    if (!loaded) {
        log_error("plugins", "not loaded, the previous plugins stay: %s", err);
        return -1;
    }
    plugins_free(srv->plugins);
    srv->plugins = loaded;
    log_info("plugins", "generation %llu loaded in %.1f ms", (unsigned long long)opt.generation,
             (clock_monotonic() - started) * 1000);
    return 0;
}

static void on_reload_signal(evutil_socket_t sig, short events, void *arg)
{
    (void)sig;
    (void)events;
    char err[1024];
    server_reload_plugins(arg, err, sizeof err);
}

static void on_stop_signal(evutil_socket_t sig, short events, void *arg)
{
    (void)events;
    struct server *srv = arg;
    struct timeval flush = {0, STOP_FLUSH_US};
    log_info("server", "signal %d: stopping", (int)sig);
    write_queue_flush(srv->writes); /* what is queued is written and answered before the stop */
    api_changes_end_all(srv);
    event_base_loopexit(srv->base, &flush);
}

static void on_heartbeat(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct server *srv = arg;
    events_send_heartbeat(srv->events);
    api_changes_keepalive(srv);
}

/* Writes start checkpoints as they commit; this starts the one due once they stop. */
static void on_checkpoint_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct server *srv = arg;
    store_checkpoint_if_due(srv->store);
}

static struct event *add_timer(struct server *srv, double seconds,
                               void (*cb)(evutil_socket_t, short, void *))
{
    struct timeval every = {(time_t)seconds, (suseconds_t)((seconds - (time_t)seconds) * 1e6)};
    struct event *ev = event_new(srv->base, -1, EV_PERSIST, cb, srv);
    if (ev && event_add(ev, &every) < 0) {
        event_free(ev);
        return NULL;
    }
    return ev;
}

static int add_signal_handlers(struct server *srv)
{
    const int signals[] = {SIGINT, SIGTERM, SIGHUP};
    for (size_t i = 0; i < 3; i++) {
        srv->signal_events[i] = evsignal_new(srv->base, signals[i],
                                             signals[i] == SIGHUP ? on_reload_signal : on_stop_signal,
                                             srv);
        if (!srv->signal_events[i] || event_add(srv->signal_events[i], NULL) < 0)
            return -1;
    }
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

/*
 * The loop, with epoll's change list: the adds and removes of a socket's events during one turn
 * become one epoll_ctl, or none when they cancel out, as they do for each HTTP request.
 */
static struct event_base *new_event_base(void)
{
    struct event_config *cfg = event_config_new();
    if (!cfg)
        return NULL;
    event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
    struct event_base *base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    return base;
}

/* The address a name such as "localhost" resolved to: the API is open only on loopback. */
static bool bound_to_loopback(evutil_socket_t fd)
{
    struct sockaddr_storage addr;
    socklen_t len = sizeof addr;
    if (getsockname(fd, (struct sockaddr *)&addr, &len) < 0)
        return false;
    if (addr.ss_family == AF_INET)
        return config_addr_is_loopback(AF_INET, &((struct sockaddr_in *)&addr)->sin_addr);
    return config_addr_is_loopback(AF_INET6, &((struct sockaddr_in6 *)&addr)->sin6_addr);
}

/*
 * Answers leave at once: the sockets accepted from this listener inherit TCP_NODELAY (Linux),
 * so the last segment of a long answer does not wait for the client's delayed acknowledgement.
 */
static void set_no_delay(evutil_socket_t listener)
{
    int on = 1;
    if (setsockopt(listener, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on) < 0)
        log_warn("server", "TCP_NODELAY refused: answers may wait for acknowledgements");
}

static int start_http(struct server *srv, char *err, size_t errlen)
{
    const struct config *cfg = srv->cfg;
    srv->http = evhttp_new(srv->base);
    if (!srv->http) {
        snprintf(err, errlen, "cannot create the HTTP server");
        return -1;
    }
    /* Every method evhttp knows reaches the router, which answers 405 in JSON. */
    evhttp_set_allowed_methods(srv->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
                                              EVHTTP_REQ_PUT | EVHTTP_REQ_PATCH |
                                              EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
                                              EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT);
    size_t largest = cfg->limits.bulk_max > cfg->limits.body_max ? cfg->limits.bulk_max
                                                                  : cfg->limits.body_max;
    evhttp_set_max_body_size(srv->http, (ev_ssize_t)(largest + EVHTTP_BODY_MARGIN));
    evhttp_set_max_headers_size(srv->http, HEADERS_MAX);
    evhttp_set_timeout(srv->http, cfg->limits.timeout);
    evhttp_set_gencb(srv->http, http_dispatch, srv);
    struct evhttp_bound_socket *bound =
        evhttp_bind_socket_with_handle(srv->http, cfg->listen_host, (ev_uint16_t)cfg->listen_port);
    if (!bound) {
        snprintf(err, errlen, "cannot listen on %s port %d (address in use, or not an address of "
                              "this machine?)", cfg->listen_host, cfg->listen_port);
        return -1;
    }
    set_no_delay(evhttp_bound_socket_get_fd(bound));
    if (cfg->n_tokens == 0 && !bound_to_loopback(evhttp_bound_socket_get_fd(bound))) {
        snprintf(err, errlen, "no token is configured, and %s is not a loopback address once "
                              "resolved: listen on 127.0.0.1 or ::1, or configure tokens",
                 cfg->listen_host);
        return -1;
    }
    /* Last: the cap counts the descriptors that ctgd holds once started. */
    srv->conn_limit = conn_limit_start(evhttp_bound_socket_get_listener(bound),
                                       cfg->limits.connections, err, errlen);
    return srv->conn_limit ? 0 : -1;
}

int server_init(struct server *srv, const struct config *cfg, char *err, size_t errlen)
{
    memset(srv, 0, sizeof *srv);
    srv->cfg = cfg;
    srv->started = clock_monotonic();
    if (cfg->n_tokens == 0 && !config_host_is_loopback(cfg->listen_host)) {
        snprintf(err, errlen, "no token is configured, so the API would be open to anyone: listen "
                              "on a loopback address (127.0.0.1, ::1) or configure tokens");
        return -1;
    }
    struct store_options opt = {cfg->data_dir, cfg->map_size, cfg->map_size_max, cfg->wal_size};
    srv->store = store_open(&opt, err, errlen);
    if (!srv->store)
        return -1;
    srv->base = new_event_base();
    if (!srv->base || add_signal_handlers(srv) < 0 ||
        !(srv->heartbeat = add_timer(srv, cfg->events_heartbeat, on_heartbeat)) ||
        !(srv->checkpoint_tick = add_timer(srv, CHECKPOINT_TICK_US / 1e6, on_checkpoint_tick)) ||
        !(srv->handlers_more = event_new(srv->base, -1, 0, on_handlers_more, srv)) ||
        !(srv->writes = write_queue_new(srv, api_reply_write_outcome)) ||
        !(srv->results = result_cache_new(cfg->limits.result_cache))) {
        snprintf(err, errlen, "cannot set up the event loop");
        return -1;
    }
    srv->events = events_open(srv->base, srv->store, cfg->events_bind, err, errlen);
    if (!srv->events || server_reload_plugins(srv, err, errlen) < 0)
        return -1;
    events_on_sent(srv->events, hand_over, srv);
    srv->plugins_seq = store_last_seq(srv->store); /* handlers see the changes from now on */
    return start_http(srv, err, errlen);
}

int server_run(struct server *srv)
{
    log_info("server", "ctgd %s listening on http://%s%s%s:%d/ (data in %s, last seq %llu)",
             CTG_VERSION, strchr(srv->cfg->listen_host, ':') ? "[" : "", srv->cfg->listen_host,
             strchr(srv->cfg->listen_host, ':') ? "]" : "", srv->cfg->listen_port,
             srv->cfg->data_dir, (unsigned long long)store_last_seq(srv->store));
    if (srv->cfg->n_tokens == 0)
        log_warn("server", "no token configured: the API is open to this machine");
    return event_base_dispatch(srv->base) < 0 ? -1 : 0;
}

void server_free(struct server *srv)
{
    write_queue_free(srv->writes); /* answers what is still queued, while evhttp is there */
    if (srv->http)
        evhttp_free(srv->http);
    conn_limit_free(srv->conn_limit);
    events_close(srv->events);
    plugins_free(srv->plugins);
    result_cache_free(srv->results);
    struct event *timers[] = {srv->signal_events[0], srv->signal_events[1],
                              srv->signal_events[2], srv->heartbeat, srv->checkpoint_tick,
                              srv->handlers_more};
    for (size_t i = 0; i < sizeof timers / sizeof timers[0]; i++)
        if (timers[i])
            event_free(timers[i]);
    if (srv->base)
        event_base_free(srv->base);
    store_close(srv->store);
    event_texts_clear(&srv->handover);
    metrics_free(&srv->metrics);
    memset(srv, 0, sizeof *srv);
}
