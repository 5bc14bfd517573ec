/*
 * metrics.c — request counts, latency histograms, write counts; Prometheus text format 0.0.4.
 */
#include "ctg/metrics.h"

#include <stdlib.h>
#include <string.h>

static const double bucket_bounds[METRICS_BUCKETS - 1] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 2.5,
};

static struct metrics_histogram *route_histogram(struct metrics *m, const char *route)
{
    for (size_t i = 0; i < m->n_routes; i++)
        if (strcmp(m->routes[i], route) == 0)
            return &m->latency[i];
    if (m->n_routes == METRICS_ROUTES_MAX)
        return NULL;
    m->routes[m->n_routes] = route;
    return &m->latency[m->n_routes++];
}

static struct metrics_request_count *request_counter(struct metrics *m, const char *route,
                                                     const char *method, int status)
{
    for (size_t i = 0; i < m->n_requests; i++) {
        struct metrics_request_count *c = &m->requests[i];
        if (c->status == status && strcmp(c->route, route) == 0 && strcmp(c->method, method) == 0)
            return c;
    }
    if (m->n_requests == m->cap_requests) {
        size_t cap = m->cap_requests ? m->cap_requests * 2 : 32;
        struct metrics_request_count *grown = realloc(m->requests, cap * sizeof *grown);
        if (!grown)
            return NULL;
        m->requests = grown;
        m->cap_requests = cap;
    }
    m->requests[m->n_requests] = (struct metrics_request_count){route, method, status, 0};
    return &m->requests[m->n_requests++];
}

void metrics_count_request(struct metrics *m, const char *route, const char *method, int status,
                           double seconds)
{
    struct metrics_request_count *c = request_counter(m, route, method, status);
    if (c)
        c->count++;
    struct metrics_histogram *h = route_histogram(m, route);
    if (!h)
        return;
    size_t b = 0;
    while (b < METRICS_BUCKETS - 1 && seconds > bucket_bounds[b])
        b++;
    h->buckets[b]++;
    h->count++;
    h->sum += seconds;
}

void metrics_free(struct metrics *m)
{
    free(m->requests);
    memset(m, 0, sizeof *m);
}

static void render_requests(const struct metrics *m, struct evbuffer *out)
{
    evbuffer_add_printf(out, "# HELP ctgd_http_requests_total HTTP requests answered.\n"
                             "# TYPE ctgd_http_requests_total counter\n");
    for (size_t i = 0; i < m->n_requests; i++) {
        const struct metrics_request_count *c = &m->requests[i];
        evbuffer_add_printf(out, "ctgd_http_requests_total{route=\"%s\",method=\"%s\",code=\"%d\"} %llu\n",
                            c->route, c->method, c->status, (unsigned long long)c->count);
    }
}

static void render_latency(const struct metrics *m, struct evbuffer *out)
{
    evbuffer_add_printf(out, "# HELP ctgd_http_request_duration_seconds Time to answer a request.\n"
                             "# TYPE ctgd_http_request_duration_seconds histogram\n");
    for (size_t r = 0; r < m->n_routes; r++) {
        const struct metrics_histogram *h = &m->latency[r];
        uint64_t cumulative = 0;
        for (size_t b = 0; b < METRICS_BUCKETS; b++) {
            cumulative += h->buckets[b];
            if (b < METRICS_BUCKETS - 1)
                evbuffer_add_printf(out, "ctgd_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n",
                                    m->routes[r], bucket_bounds[b], (unsigned long long)cumulative);
            else
                evbuffer_add_printf(out, "ctgd_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n",
                                    m->routes[r], (unsigned long long)cumulative);
        }
        evbuffer_add_printf(out, "ctgd_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n"
                                 "ctgd_http_request_duration_seconds_count{route=\"%s\"} %llu\n",
                            m->routes[r], h->sum, m->routes[r], (unsigned long long)h->count);
    }
}

static void render_writes(const struct metrics *m, struct evbuffer *out)
{
    static const char *const types[] = {"created", "updated", "deleted"};
    static const char *const reasons[] = {"refused", "storage_full", "store_error"};
    evbuffer_add_printf(out, "# HELP ctgd_writes_total Committed writes, by type.\n"
                             "# TYPE ctgd_writes_total counter\n");
    for (size_t i = 0; i < 3; i++)
        evbuffer_add_printf(out, "ctgd_writes_total{type=\"%s\"} %llu\n", types[i],
                            (unsigned long long)m->writes[i]);
    evbuffer_add_printf(out, "# HELP ctgd_write_errors_total Writes not committed, by reason.\n"
                             "# TYPE ctgd_write_errors_total counter\n");
    for (size_t i = 0; i < WRITE_FAILURE_COUNT; i++)
        evbuffer_add_printf(out, "ctgd_write_errors_total{reason=\"%s\"} %llu\n", reasons[i],
                            (unsigned long long)m->write_failures[i]);
}

/* One metric without labels; `type` is "gauge" or "counter". */
static void render_single(struct evbuffer *out, const char *type, const char *name,
                          const char *help, uint64_t value)
{
    evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help, name, type, name,
                        (unsigned long long)value);
}

static void render_events(const struct metrics_readings *g, struct evbuffer *out)
{
    render_single(out, "counter", "ctgd_events_published_total",
                  "Change events sent on the PUB socket.", g->events.published);
    render_single(out, "counter", "ctgd_events_failed_total",
                  "Change events nanomsg refused, never sent.", g->events.failed);
    render_single(out, "counter", "ctgd_events_heartbeats_total", "Heartbeats sent.",
                  g->events.heartbeats);
    render_single(out, "gauge", "ctgd_events_published_seq", "Seq of the last event sent.",
                  g->events.published_seq);
    render_single(out, "gauge", "ctgd_events_subscribers", "Connections on the PUB socket.",
                  g->events.subscribers);
    evbuffer_add_printf(out, "# HELP ctgd_feed_clients Clients waiting on /v1/changes or "
                             "following /v1/events.\n# TYPE ctgd_feed_clients gauge\n"
                             "ctgd_feed_clients{kind=\"long_poll\"} %zu\n"
                             "ctgd_feed_clients{kind=\"stream\"} %zu\n",
                        g->long_polls, g->streams);
}

static void render_results(const struct result_cache_stats *s, struct evbuffer *out)
{
    render_single(out, "counter", "ctgd_result_cache_hits_total",
                  "Indicators and exports answered from limits.result_cache.", s->hits);
    render_single(out, "counter", "ctgd_result_cache_misses_total",
                  "Indicators and exports computed by the plugins (none kept for the revision).",
                  s->misses);
    render_single(out, "counter", "ctgd_result_cache_evictions_total",
                  "Answers dropped to keep limits.result_cache.", s->evictions);
    render_single(out, "gauge", "ctgd_result_cache_bytes", "Bytes of the answers kept.",
                  s->bytes);
}

void metrics_render(const struct metrics *m, const struct metrics_readings *g, struct evbuffer *out)
{
    render_requests(m, out);
    render_latency(m, out);
    render_writes(m, out);
    render_events(g, out);
    render_single(out, "counter", "ctgd_events_plugin_published_total",
                  "Events of plugins (ctg.publish) sent.", g->events.plugin_published);
    render_single(out, "counter", "ctgd_plugin_errors_total",
                  "Calls into the current plugins that failed.", g->plugin_errors);
    render_single(out, "gauge", "ctgd_plugin_generation", "Generation of the loaded plugins.",
                  g->plugin_generation);
    render_results(&g->results, out);
    render_single(out, "gauge", "ctgd_conventions", "Conventions in the store.", g->conventions);
    render_single(out, "gauge", "ctgd_last_seq", "Seq of the last change-log entry.", g->last_seq);
    render_single(out, "gauge", "ctgd_store_map_size_bytes", "Size of the LMDB map.", g->map_size);
    render_single(out, "counter", "ctgd_store_commits_total",
                  "Write transactions committed, one sync each (writes of one loop turn share one).",
                  g->commits);
    render_single(out, "counter", "ctgd_http_connections_refused_total",
                  "Connections answered 503 because limits.connections was reached.",
                  g->connections_refused);
}
