/*
 * api_changes.c — the change log over HTTP: GET /v1/changes (paged, filtered, long-poll) and
 * GET /v1/events (Server-Sent Events).
 *
 * Both read the store's change log by seq, so what a client sees is what was committed, in
 * order, and a client that comes back with the last seq it saw misses nothing. Clients that
 * wait — a long-poll with nothing to answer yet, an open event stream — are kept in a list that
 * api_changes_notify() walks after each commit. An event stream has at most one batch in flight:
 * the next is read from the log only once the previous one left the socket, so a slow reader
 * costs memory for one batch, never for the whole log.
 */
#include "ctg/api.h"
#include "ctg/auth.h"
#include "ctg/changes.h"
#include "ctg/log.h"
#include "ctg/model.h"
#include "ctg/server.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHANGES_LIMIT_DEFAULT 100
#define CHANGES_LIMIT_MAX 1000
#define WAIT_MAX_SECONDS 60
#define STREAM_BATCH 500

struct feed_client {
    struct feed_client *next, *prev;
    struct http_request *http;          /* the deferred request */
    char department[CHANGES_DEPARTMENT_MAX]; /* "" for every department of the token */
    uint64_t after;                     /* the last seq this client has seen (or skipped) */
    size_t limit;                       /* long-poll: the page size */
    bool stream;                        /* an event stream, else a long-poll */
    bool in_flight;                     /* stream: a batch is being written */
    struct event *deadline;             /* long-poll: when to answer with nothing */
};

/* ---------- reading the log for one client ---------- */

struct feed_filter {
    const struct token *who;
    const char *department; /* NULL: every department the token may read */
};

struct collect {
    struct feed_filter filter;
    struct evbuffer *out;
    bool stream;            /* SSE framing, else JSON array items */
    size_t count, limit;
    uint64_t last_seen;     /* the last seq examined: the client may go on after it */
};

static bool filter_accepts(const struct feed_filter *f, const struct change_event *ev)
{
    if (f->department)
        return strcmp(ev->department, f->department) == 0;
    return auth_can_read(f->who, ev->department);
}

static int collect_change(uint64_t seq, const struct record_view *entry, void *arg)
{
    struct collect *k = arg;
    struct change_event ev;
    if (k->count == k->limit)
        return 1;
    k->last_seen = seq;
    if (change_event_read(seq, entry, &ev) < 0 || !filter_accepts(&k->filter, &ev))
        return 0;
    if (k->stream)
        evbuffer_add_printf(k->out, "id: %llu\nevent: %s\ndata: ", (unsigned long long)seq, ev.type);
    else if (k->count)
        evbuffer_add(k->out, ",", 1);
    change_event_append_json(entry, k->out);
    if (k->stream)
        evbuffer_add(k->out, "\n\n", 2);
    k->count++;
    return 0;
}

/* Appends the client's next changes after `after` to k->out; STORE_OK or the failure. */
static enum store_status collect_after(struct store *st, uint64_t after, struct collect *k)
{
    k->last_seen = after;
    if (store_read_begin(st) != STORE_OK)
        return STORE_ERROR;
    enum store_status status = store_each_change(st, after, collect_change, k);
    store_read_end(st);
    return status;
}

static struct feed_filter client_filter(const struct feed_client *c)
{
    return (struct feed_filter){c->http->who, c->department[0] ? c->department : NULL};
}

/* ---------- the list of waiting clients ---------- */

static void client_link(struct server *srv, struct feed_client *c)
{
    c->next = srv->feed_clients;
    if (c->next)
        c->next->prev = c;
    srv->feed_clients = c;
}

/* Forgets the client and logs its request (status 0: it left before an answer). */
static void client_release(struct feed_client *c)
{
    struct server *srv = c->http->srv;
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->feed_clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    struct evhttp_connection *conn = evhttp_request_get_connection(c->http->req);
    if (conn)
        evhttp_connection_set_closecb(conn, NULL, NULL);
    if (c->deadline)
        event_free(c->deadline);
    http_finish_deferred(c->http);
    free(c);
}

/*
 * The client's connection is going away. A request evhttp has detached from it is ours to free;
 * one still attached is freed by evhttp right after this callback.
 */
static void on_client_close(struct evhttp_connection *conn, void *arg)
{
    (void)conn;
    struct feed_client *c = arg;
    struct evhttp_request *req = c->http->req;
    bool detached = evhttp_request_get_connection(req) == NULL;
    client_release(c);
    if (detached)
        evhttp_request_free(req);
}

static struct feed_client *client_new(struct http_request *r, const char *department,
                                      uint64_t after, bool stream)
{
    struct feed_client *c = calloc(1, sizeof *c);
    struct http_request *deferred = c ? http_defer(r) : NULL;
    if (!deferred) {
        free(c);
        http_error(r, 500, "internal", "out of memory");
        return NULL;
    }
    c->http = deferred;
    c->after = after;
    c->stream = stream;
    if (department)
        snprintf(c->department, sizeof c->department, "%s", department);
    client_link(r->srv, c);
    evhttp_connection_set_closecb(evhttp_request_get_connection(r->req), on_client_close, c);
    return c;
}

/* ---------- GET /v1/changes ---------- */

struct changes_query {
    uint64_t since;
    size_t limit;
    const char *department;
    double wait;
};

static int parse_u64(const char *text, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = text && *text >= '0' && *text <= '9' ? strtoull(text, &end, 10) : 0;
    if (!text || !(*text >= '0' && *text <= '9') || errno || *end)
        return -1;
    *out = v;
    return 0;
}

/* The department filter: checked, and within the token's reach; answers the error otherwise. */
static bool read_department(struct http_request *r, const char **out)
{
    *out = http_query(r, "department");
    if (*out && !model_department_valid(*out)) {
        http_error(r, 400, "bad_parameter", "department must be an INSEE department code");
        return false;
    }
    return !*out || http_require_readable(r, *out);
}

static bool read_changes_query(struct http_request *r, struct changes_query *q)
{
    static const char *const allowed[] = {"since", "limit", "department", "wait", NULL};
    const char *since = http_query(r, "since"), *limit = http_query(r, "limit"),
               *wait = http_query(r, "wait");
    uint64_t n = CHANGES_LIMIT_DEFAULT;
    char *end = NULL;
    *q = (struct changes_query){0};
    if (!http_query_only(r, allowed))
        return false;
    const char *bad = NULL;
    if (since && parse_u64(since, &q->since) < 0)
        bad = "since must be a seq (an integer from 0)";
    else if (limit && (parse_u64(limit, &n) < 0 || n < 1 || n > CHANGES_LIMIT_MAX))
        bad = "limit must be an integer from 1 to 1000";
    else if (wait && (!*wait || (q->wait = strtod(wait, &end), *end) || !(q->wait >= 0) ||
                      q->wait > WAIT_MAX_SECONDS))
        bad = "wait must be a number of seconds from 0 to 60";
    if (bad) {
        http_error(r, 400, "bad_parameter", "%s", bad);
        return false;
    }
    q->limit = (size_t)n;
    return read_department(r, &q->department);
}

/* Answers {"changes": [...], "last_seq": N} from the collected items. */
static void reply_changes(struct http_request *r, struct collect *k)
{
    struct evbuffer *body = evbuffer_new();
    evbuffer_add(body, "{\"changes\":[", 12);
    evbuffer_add_buffer(body, k->out);
    evbuffer_add_printf(body, "],\"last_seq\":%llu}\n", (unsigned long long)k->last_seen);
    http_reply_body(r, 200, "application/json", body);
    evbuffer_free(body);
}

/*
 * Answers a waiting long-poll when the log now holds something for it, or in any case when
 * `always`; otherwise remembers how far it looked, so the next look starts there.
 */
static void offer_to_waiter(struct feed_client *c, bool always)
{
    struct collect k = {.filter = client_filter(c), .out = evbuffer_new(), .limit = c->limit};
    enum store_status status = collect_after(c->http->srv->store, c->after, &k);
    if (status != STORE_OK)
        http_error(c->http, 500, "internal", "the change log could not be read");
    else if (k.count || always)
        reply_changes(c->http, &k);
    else
        c->after = k.last_seen;
    evbuffer_free(k.out);
    if (status != STORE_OK || k.count || always)
        client_release(c);
}

static void on_wait_over(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    offer_to_waiter(arg, true);
}

static void park_waiter(struct http_request *r, const struct changes_query *q)
{
    struct feed_client *c = client_new(r, q->department, q->since, false);
    if (!c)
        return;
    c->limit = q->limit;
    struct timeval wait = {(time_t)q->wait, (suseconds_t)((q->wait - (time_t)q->wait) * 1e6)};
    c->deadline = evtimer_new(r->srv->base, on_wait_over, c);
    if (c->deadline)
        evtimer_add(c->deadline, &wait);
    else
        offer_to_waiter(c, true);
}

static void get_changes(struct http_request *r)
{
    struct changes_query q;
    if (!read_changes_query(r, &q))
        return;
    struct collect k = {
        .filter = {r->who, q.department}, .out = evbuffer_new(), .limit = q.limit,
    };
    if (collect_after(r->srv->store, q.since, &k) != STORE_OK)
        http_error(r, 500, "internal", "the change log could not be read");
    else if (k.count == 0 && q.wait > 0)
        park_waiter(r, &q);
    else
        reply_changes(r, &k);
    evbuffer_free(k.out);
}

/* ---------- GET /v1/events ---------- */

static void stream_pump(struct feed_client *c);

static void on_batch_written(struct evhttp_connection *conn, void *arg)
{
    (void)conn;
    struct feed_client *c = arg;
    c->in_flight = false;
    stream_pump(c);
}

/* Sends the next batch of the log to an event stream, unless one is still being written. */
static void stream_pump(struct feed_client *c)
{
    struct store *st = c->http->srv->store;
    if (c->in_flight || c->after >= store_last_seq(st))
        return;
    struct collect k = {.filter = client_filter(c), .out = evbuffer_new(), .stream = true,
                        .limit = STREAM_BATCH};
    if (collect_after(st, c->after, &k) == STORE_OK) {
        c->after = k.last_seen;
        if (evbuffer_get_length(k.out)) {
            c->in_flight = true;
            evhttp_send_reply_chunk_with_cb(c->http->req, k.out, on_batch_written, c);
        } else if (c->after < store_last_seq(st)) {
            stream_pump(c); /* a whole batch of other departments' changes */
        }
    }
    evbuffer_free(k.out);
}

/* Where a stream starts: after `since`, or after the Last-Event-ID a reconnecting client sends. */
static bool read_stream_start(struct http_request *r, uint64_t *after)
{
    const char *since = http_query(r, "since"), *last_id = http_header(r, "Last-Event-ID");
    *after = store_last_seq(r->srv->store);
    if (last_id && parse_u64(last_id, after) == 0)
        return true;
    if (since && parse_u64(since, after) < 0) {
        http_error(r, 400, "bad_parameter", "since must be a seq (an integer from 0)");
        return false;
    }
    return true;
}

static void get_events(struct http_request *r)
{
    static const char *const allowed[] = {"since", "department", NULL};
    const char *department;
    uint64_t after;
    if (!http_query_only(r, allowed) || !read_department(r, &department) ||
        !read_stream_start(r, &after))
        return;
    struct feed_client *c = client_new(r, department, after, true);
    if (!c)
        return;
    struct evkeyvalq *headers = evhttp_request_get_output_headers(c->http->req);
    evhttp_add_header(headers, "Content-Type", "text/event-stream");
    evhttp_add_header(headers, "Cache-Control", "no-cache");
    evhttp_add_header(headers, "X-Accel-Buffering", "no"); /* proxies must not hold events */
    c->http->status = 200;
    evhttp_send_reply_start(c->http->req, 200, "OK");
    struct evbuffer *hello = evbuffer_new();
    evbuffer_add_printf(hello, "retry: 2000\n: ctgd change stream from seq %llu\n\n",
                        (unsigned long long)after);
    evhttp_send_reply_chunk(c->http->req, hello);
    evbuffer_free(hello);
    stream_pump(c);
}

/* ---------- what the server calls ---------- */

void api_changes_notify(struct server *srv)
{
    uint64_t last = store_last_seq(srv->store);
    for (struct feed_client *c = srv->feed_clients, *next; c; c = next) {
        next = c->next;
        if (c->stream)
            stream_pump(c);
        else if (c->after < last)
            offer_to_waiter(c, false);
    }
}

void api_changes_keepalive(struct server *srv)
{
    for (struct feed_client *c = srv->feed_clients; c; c = c->next) {
        if (!c->stream || c->in_flight)
            continue;
        struct evbuffer *comment = evbuffer_new();
        evbuffer_add(comment, ": keep-alive\n\n", 14);
        evhttp_send_reply_chunk(c->http->req, comment);
        evbuffer_free(comment);
    }
}

void api_changes_count(const struct server *srv, size_t *long_polls, size_t *streams)
{
    *long_polls = *streams = 0;
    for (const struct feed_client *c = srv->feed_clients; c; c = c->next)
        (*(c->stream ? streams : long_polls))++;
}

void api_changes_end_all(struct server *srv)
{
    while (srv->feed_clients) {
        struct feed_client *c = srv->feed_clients;
        if (c->stream) {
            /* released first: ending an HTTP/1.0 stream closes the connection at once, and
             * its close callback would release the client a second time */
            struct evhttp_request *req = c->http->req;
            client_release(c);
            evhttp_send_reply_end(req);
        } else {
            offer_to_waiter(c, true);
        }
    }
}

const struct http_route api_changes_routes[] = {
    {"/v1/changes", EVHTTP_REQ_GET, get_changes, false},
    {"/v1/events", EVHTTP_REQ_GET, get_events, false},
    {NULL, 0, NULL, false},
};
