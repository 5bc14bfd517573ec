/*
 * metrics.h — counters and latency histograms, rendered in the Prometheus text format
 * (GET /v1/metrics). Everything is counted in the event loop's thread: no locking.
 */
#ifndef CTG_METRICS_H
#define CTG_METRICS_H

#include "ctg/events.h"
#include "ctg/result_cache.h"

#include <event2/buffer.h>
#include <stddef.h>
#include <stdint.h>

#define METRICS_ROUTES_MAX 32
#define METRICS_BUCKETS 12

enum write_failure { WRITE_REFUSED, WRITE_STORAGE_FULL, WRITE_STORE_ERROR, WRITE_FAILURE_COUNT };

struct metrics_request_count {
    const char *route, *method;
    int status;
    uint64_t count;
};

struct metrics_histogram {
    uint64_t buckets[METRICS_BUCKETS]; /* cumulative at render time, per bucket here */
    uint64_t count;
    double sum;
};

struct metrics {
    struct metrics_request_count *requests; /* grows as new (route, method, status) appear */
    size_t n_requests, cap_requests;
    const char *routes[METRICS_ROUTES_MAX];
    struct metrics_histogram latency[METRICS_ROUTES_MAX];
    size_t n_routes;
    uint64_t writes[3];                     /* by enum change_type */
    uint64_t write_failures[WRITE_FAILURE_COUNT];
};

/* `route` and `method` must outlive the metrics (route patterns, method names). */
void metrics_count_request(struct metrics *m, const char *route, const char *method, int status,
                           double seconds);
void metrics_free(struct metrics *m);

/* What other modules report at render time. */
struct metrics_readings {
    uint64_t conventions, last_seq, map_size;
    struct events_stats events;
    size_t long_polls, streams;
    uint64_t plugin_generation, plugin_errors;
    uint64_t connections_refused;
    uint64_t commits;
    struct result_cache_stats results;
};
void metrics_render(const struct metrics *m, const struct metrics_readings *g, struct evbuffer *out);

#endif
