/*
 * api_system.c — the routes about the server itself: health and metrics.
 */
#include "ctg/api.h"
#include "ctg/clock.h"
#include "ctg/conn_limit.h"
#include "ctg/embedded.h"
#include "ctg/events.h"
#include "ctg/plugins.h"
#include "ctg/result_cache.h"
#include "ctg/server.h"

#include <event2/buffer.h>


static void get_health(struct http_request *r)
{
    struct server *srv = r->srv;
    if (!http_query_only(r, http_no_params))
        return;
    size_t conventions = 0;
    if (store_read_begin(srv->store) == STORE_OK) {
        conventions = store_count(srv->store);
        store_read_end(srv->store);
    }
    http_reply_json(r, 200, json_pack("{s:s, s:s, s:I, s:I, s:I, s:I}",
                                      "status", "ok",
                                      "version", CTG_VERSION,
                                      "last_seq", (json_int_t)store_last_seq(srv->store),
                                      "plugin_generation",
                                      (json_int_t)plugins_generation(srv->plugins),
                                      "conventions", (json_int_t)conventions,
                                      "uptime_s", (json_int_t)(clock_monotonic() - srv->started)));
}

static void get_metrics(struct http_request *r)
{
    struct server *srv = r->srv;
    if (!http_query_only(r, http_no_params))
        return;
    struct metrics_readings readings = {
        .last_seq = store_last_seq(srv->store),
        .map_size = store_map_size(srv->store),
        .commits = store_commits(srv->store),
    };
    events_get_stats(srv->events, &readings.events);
    api_changes_count(srv, &readings.long_polls, &readings.streams);
    readings.plugin_generation = plugins_generation(srv->plugins);
    readings.plugin_errors = plugins_error_count(srv->plugins);
    readings.results = result_cache_stats(srv->results);
    readings.connections_refused = conn_limit_refused(srv->conn_limit);
    if (store_read_begin(srv->store) == STORE_OK) {
        readings.conventions = store_count(srv->store);
        store_read_end(srv->store);
    }
    struct evbuffer *body = evbuffer_new();
    metrics_render(&srv->metrics, &readings, body);
    http_reply_body(r, 200, "text/plain; version=0.0.4; charset=utf-8", body);
    evbuffer_free(body);
}

static void get_openapi(struct http_request *r)
{
    if (http_query_only(r, http_no_params))
        http_reply_file(r, embedded_find(embedded_docs, "openapi.yaml"));
}

const struct http_route api_system_routes[] = {
    {"/v1/health", EVHTTP_REQ_GET, get_health, true},
    {"/v1/metrics", EVHTTP_REQ_GET, get_metrics, false},
    {"/v1/openapi.yaml", EVHTTP_REQ_GET, get_openapi, true},
    {NULL, 0, NULL, false},
};
