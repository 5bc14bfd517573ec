/*
 * server.c — assembles the running server: the event loop, the evhttp front and its limits,
 * the store, and the signals that stop it cleanly.
 */
#include "ctg/server.h"
#include "ctg/api.h"
#include "ctg/clock.h"
#include "ctg/events.h"
#include "ctg/http.h"
#include "ctg/log.h"

#include <event2/event.h>
#include <event2/http.h>

#include <signal.h>
#include <stdio.h>
#include <string.h>

/*
 * evhttp refuses bodies over the configured limit plus this margin with its own (HTML) 413;
 * bodies between the two get ctgd's JSON 413. The margin bounds the memory one request holds
 * beyond the limit (libevent 2.1 reads the body before any handler can look at the headers).
 */
#define EVHTTP_BODY_MARGIN (1024 * 1024)
#define HEADERS_MAX (64 * 1024)
#define LOG_WATCH_INTERVAL_US 250000 /* how soon commits of another process are published */
#define STOP_FLUSH_US 200000         /* time given to the last answers to leave at shutdown */

void server_changes_committed(struct server *srv)
{
    events_publish_pending(srv->events);
    api_changes_notify(srv);
}

static void on_stop_signal(evutil_socket_t sig, short events, void *arg)
{
    (void)events;
    struct server *srv = arg;
    struct timeval flush = {0, STOP_FLUSH_US};
    log_info("server", "signal %d: stopping", (int)sig);
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

/* Another process may write to the store too: its commits are published like ours. */
static void on_log_watch(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct server *srv = arg;
    uint64_t known = store_last_seq(srv->store);
    if (store_refresh_last_seq(srv->store) != known)
        server_changes_committed(srv);
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
    const int signals[] = {SIGINT, SIGTERM};
    for (size_t i = 0; i < 2; i++) {
        srv->signal_events[i] = evsignal_new(srv->base, signals[i], on_stop_signal, srv);
        if (!srv->signal_events[i] || event_add(srv->signal_events[i], NULL) < 0)
            return -1;
    }
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

static int start_http(struct server *srv, char *err, size_t errlen)
{
    const struct config *cfg = srv->cfg;
    srv->http = evhttp_new(srv->base);
    if (!srv->http) {
        snprintf(err, errlen, "cannot create the HTTP server");
        return -1;
    }
    evhttp_set_allowed_methods(srv->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
                                              EVHTTP_REQ_PUT | EVHTTP_REQ_PATCH |
                                              EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS);
    evhttp_set_max_body_size(srv->http, (ev_ssize_t)(cfg->limits.body_max + EVHTTP_BODY_MARGIN));
    evhttp_set_max_headers_size(srv->http, HEADERS_MAX);
    evhttp_set_timeout(srv->http, cfg->limits.timeout);
    evhttp_set_gencb(srv->http, http_dispatch, srv);
    if (!evhttp_bind_socket_with_handle(srv->http, cfg->listen_host, (ev_uint16_t)cfg->listen_port)) {
        snprintf(err, errlen, "cannot listen on %s port %d (address in use, or not an address of "
                              "this machine?)", cfg->listen_host, cfg->listen_port);
        return -1;
    }
    return 0;
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
    struct store_options opt = {cfg->data_dir, cfg->map_size, cfg->map_size_max};
    srv->store = store_open(&opt, err, errlen);
    if (!srv->store)
        return -1;
    srv->base = event_base_new();
    if (!srv->base || add_signal_handlers(srv) < 0 ||
        !(srv->heartbeat = add_timer(srv, cfg->events_heartbeat, on_heartbeat)) ||
        !(srv->log_watch = add_timer(srv, LOG_WATCH_INTERVAL_US / 1e6, on_log_watch))) {
        snprintf(err, errlen, "cannot set up the event loop");
        return -1;
    }
    srv->events = events_open(srv->base, srv->store, cfg->events_bind, err, errlen);
    if (!srv->events)
        return -1;
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
    if (srv->http)
        evhttp_free(srv->http);
    events_close(srv->events);
    struct event *timers[] = {srv->signal_events[0], srv->signal_events[1], srv->heartbeat,
                              srv->log_watch};
    for (size_t i = 0; i < sizeof timers / sizeof timers[0]; i++)
        if (timers[i])
            event_free(timers[i]);
    if (srv->base)
        event_base_free(srv->base);
    store_close(srv->store);
    metrics_free(&srv->metrics);
    memset(srv, 0, sizeof *srv);
}
