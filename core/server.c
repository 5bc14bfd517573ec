/*
 * server.c — assembles the running server: the event loop, the evhttp front and its limits,
 * the store, and the signals that stop it cleanly.
 */
#include "ctg/server.h"
#include "ctg/clock.h"
#include "ctg/http.h"
#include "ctg/log.h"

#include <event2/event.h>
#include <event2/http.h>

#include <signal.h>
#include <stdio.h>
#include <string.h>

/*
 * evhttp refuses bodies over this many times the configured limit with its own (HTML) 413;
 * bodies between the two get ctgd's JSON 413. The margin bounds the memory one request holds.
 */
#define EVHTTP_BODY_MARGIN 4
#define HEADERS_MAX (64 * 1024)

static void on_stop_signal(evutil_socket_t sig, short events, void *arg)
{
    (void)events;
    struct server *srv = arg;
    log_info("server", "signal %d: stopping", (int)sig);
    event_base_loopexit(srv->base, NULL);
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
    evhttp_set_max_body_size(srv->http, (ev_ssize_t)(cfg->limits.body_max * EVHTTP_BODY_MARGIN));
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
    if (!srv->base || add_signal_handlers(srv) < 0) {
        snprintf(err, errlen, "cannot set up the event loop");
        return -1;
    }
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
    for (size_t i = 0; i < sizeof srv->signal_events / sizeof srv->signal_events[0]; i++)
        if (srv->signal_events[i])
            event_free(srv->signal_events[i]);
    if (srv->base)
        event_base_free(srv->base);
    store_close(srv->store);
    metrics_free(&srv->metrics);
    memset(srv, 0, sizeof *srv);
}
