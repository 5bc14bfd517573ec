/*
 * http.c — the HTTP front of ctgd: every request passes through http_dispatch(), which finds
 * its route, checks its token, runs its handler, then counts and logs the answer. It also owns
 * the helpers that read bodies and send answers, so that every error has the JSON shape of
 * SPEC §3 whichever handler raised it.
 */
#include "ctg/http.h"
#include "ctg/api.h"
#include "ctg/auth.h"
#include "ctg/clock.h"
#include "ctg/embedded.h"
#include "ctg/json_parse.h"
#include "ctg/json_verbatim.h"
#include "ctg/json_write.h"
#include "ctg/log.h"
#include "ctg/server.h"
#include "ctg/utf8.h"

#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define PATH_SEGMENTS_MAX 8
#define WAITING_INPUT_MAX (64u << 10) /* bytes read ahead while an answer waits */

static const struct http_route *const route_tables[] = {api_system_routes, api_bulk_routes,
                                                       api_conventions_routes, api_changes_routes,
                                                       api_plugins_routes, api_web_routes};

static const struct {
    enum evhttp_cmd_type method;
    const char *name;
} method_names[] = {
    {EVHTTP_REQ_GET, "GET"},         {EVHTTP_REQ_HEAD, "HEAD"},   {EVHTTP_REQ_POST, "POST"},
    {EVHTTP_REQ_PUT, "PUT"},         {EVHTTP_REQ_PATCH, "PATCH"}, {EVHTTP_REQ_DELETE, "DELETE"},
    {EVHTTP_REQ_OPTIONS, "OPTIONS"}, {EVHTTP_REQ_TRACE, "TRACE"}, {EVHTTP_REQ_CONNECT, "CONNECT"},
};

static const char *method_name(enum evhttp_cmd_type method)
{
    for (size_t i = 0; i < sizeof method_names / sizeof method_names[0]; i++)
        if (method_names[i].method == method)
            return method_names[i].name;
    return "OTHER";
}

/* ---------- answering ---------- */

/*
 * The Date header, formatted once a second: evhttp would otherwise format it for every answer
 * (gmtime_r and a printf, a few percent of a GET). The second is the exact clock's: time()
 * reads the clock of the last tick, which can still be in the second before the request came.
 */
static const char *date_now(void)
{
    static time_t formatted_at = -1;
    static char date[40];
    struct timespec exact;
    clock_gettime(CLOCK_REALTIME, &exact);
    time_t now = exact.tv_sec;
    if (now != formatted_at) {
        static const char days[][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
        static const char months[][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
        struct tm tm;
        gmtime_r(&now, &tm);
        snprintf(date, sizeof date, "%s, %02d %s %d %02d:%02d:%02d GMT", days[tm.tm_wday],
                 tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                 tm.tm_sec);
        formatted_at = now;
    }
    return date;
}

/*
 * A HEAD answer is the GET answer without its body (RFC 9110, 9.3.2), with the body's length:
 * evhttp would send the body of a HEAD as it is, without a Content-Length, and the client would
 * read it as the start of the next answer.
 */
static void drop_body_of_head(struct http_request *r, struct evbuffer *body)
{
    struct evbuffer *queued = evhttp_request_get_output_buffer(r->req);
    size_t len = evbuffer_get_length(queued) + (body ? evbuffer_get_length(body) : 0);
    if (len > 0) {
        char length[32];
        snprintf(length, sizeof length, "%zu", len);
        http_set_header(r, "Content-Length", length);
    }
    evbuffer_drain(queued, evbuffer_get_length(queued));
    if (body)
        evbuffer_drain(body, evbuffer_get_length(body));
}

static void send_reply(struct http_request *r, int status, struct evbuffer *body)
{
    r->status = status;
    r->replied = true;
    http_set_header(r, "Date", date_now());
    if (r->method == EVHTTP_REQ_HEAD)
        drop_body_of_head(r, body);
    evhttp_send_reply(r->req, status, NULL, body);
}

/* The connection's bufferevent, or NULL once evhttp has let the connection go. */
static struct bufferevent *bufferevent_of(struct evhttp_request *req)
{
    struct evhttp_connection *conn = evhttp_request_get_connection(req);
    return conn ? evhttp_connection_get_bufferevent(conn) : NULL;
}

/*
 * Writes an answer handed to evhttp now rather than on the next turn of the loop. evhttp waits
 * for the socket to report writable, which costs two epoll_ctl calls and one more epoll_wait
 * per request, although the socket almost always takes the whole answer at once. When it
 * does, evhttp's write callback is run as the writable socket would have run it (it ends the
 * request: `req` is freed); what the socket does not take, or an error, is left to evhttp.
 */
static void write_reply_now(struct evhttp_request *req)
{
    struct bufferevent *bev = bufferevent_of(req);
    if (!bev)
        return;
    struct evbuffer *out = bufferevent_get_output(bev);
    if (evbuffer_get_length(out) == 0)
        return;
    /* as libevent's own write callback does: the front stays frozen between its writes */
    evbuffer_unfreeze(out, 1);
    int written = evbuffer_write(out, bufferevent_getfd(bev));
    evbuffer_freeze(out, 1);
    if (written > 0 && evbuffer_get_length(out) == 0)
        bufferevent_trigger(bev, EV_WRITE, 0);
}

void http_set_header(struct http_request *r, const char *name, const char *value)
{
    evhttp_add_header(evhttp_request_get_output_headers(r->req), name, value);
}

static void format_etag(char *out, size_t size, uint64_t rev)
{
    snprintf(out, size, "\"%llu\"", (unsigned long long)rev);
}

void http_set_etag(struct http_request *r, uint64_t rev)
{
    char etag[32];
    format_etag(etag, sizeof etag, rev);
    http_set_header(r, "ETag", etag);
}

void http_reply_body(struct http_request *r, int status, const char *content_type,
                     struct evbuffer *body)
{
    http_set_header(r, "Content-Type", content_type);
    send_reply(r, status, body);
}

void http_reply_json_text(struct http_request *r, int status, const char *text, size_t len)
{
    /* straight into the request's own buffer: no evbuffer of our own to make and free */
    struct evbuffer *out = evhttp_request_get_output_buffer(r->req);
    evbuffer_add(out, text, len);
    evbuffer_add(out, "\n", 1);
    http_reply_body(r, status, "application/json", NULL);
}

void http_reply_json(struct http_request *r, int status, json_t *body)
{
    size_t len;
    char *text = json_write(body, &len);
    json_decref(body);
    if (!text) {
        http_error(r, 500, "internal", "the answer could not be encoded");
        return;
    }
    http_reply_json_text(r, status, text, len);
    free(text);
}

void http_reply_empty(struct http_request *r, int status)
{
    send_reply(r, status, NULL);
}

bool http_etag_listed(const char *header, const char *etag)
{
    if (!header)
        return false;
    size_t etag_len = strlen(etag);
    for (const char *p = header; *p;) {
        p += strspn(p, " ,");
        if (strncmp(p, "W/", 2) == 0)
            p += 2; /* If-None-Match compares weakly (RFC 9110, 13.1.2) */
        size_t len = strcspn(p, " ,");
        if ((len == 1 && *p == '*') || (len == etag_len && strncmp(p, etag, len) == 0))
            return true;
        p += len;
    }
    return false;
}

bool http_rev_not_modified(struct http_request *r, uint64_t rev)
{
    const char *listed = http_header(r, "If-None-Match");
    if (!listed)
        return false;
    char etag[32];
    format_etag(etag, sizeof etag, rev);
    return http_etag_listed(listed, etag);
}

void http_reply_file(struct http_request *r, const struct embedded_file *file)
{
    http_set_header(r, "ETag", file->etag);
    http_set_header(r, "Cache-Control", "no-cache");
    http_set_header(r, "X-Content-Type-Options", "nosniff");
    if (http_etag_listed(http_header(r, "If-None-Match"), file->etag)) {
        http_reply_empty(r, 304);
        return;
    }
    struct evbuffer *body = evbuffer_new();
    evbuffer_add_reference(body, file->bytes, file->len, NULL, NULL);
    http_reply_body(r, 200, file->content_type, body);
    evbuffer_free(body);
}

void http_error_with(struct http_request *r, int status, const char *code, json_t *extra,
                     const char *fmt, ...)
{
    char message[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    utf8_repair(message); /* it may quote a decoded path segment */
    json_t *error = json_pack("{s:i, s:s, s:s}", "status", status, "code", code, "message", message);
    if (extra) {
        json_object_update(error, extra);
        json_decref(extra);
    }
    http_reply_json(r, status, json_pack("{s:o}", "error", error));
}

bool http_require_readable(struct http_request *r, const char *department)
{
    if (department && auth_can_read(r->who, department))
        return true;
    http_error(r, 403, "forbidden", "token '%s' cannot read department %s", r->who->name,
               department ? department : "(unknown)");
    return false;
}

/* ---------- reading ---------- */

const char *http_header(struct http_request *r, const char *name)
{
    return evhttp_find_header(evhttp_request_get_input_headers(r->req), name);
}

const char *http_query(struct http_request *r, const char *name)
{
    return evhttp_find_header(&r->query, name);
}

bool http_query_only(struct http_request *r, const char *const allowed[])
{
    struct evkeyval *kv;
    TAILQ_FOREACH(kv, &r->query, next) {
        bool known = false;
        for (size_t i = 0; allowed[i] && !known; i++)
            known = strcmp(kv->key, allowed[i]) == 0;
        if (!known) {
            http_error(r, 400, "bad_parameter", "unknown query parameter '%s'", kv->key);
            return false;
        }
        if (evhttp_find_header(&r->query, kv->key) != kv->value) {
            http_error(r, 400, "bad_parameter", "query parameter '%s' is given twice", kv->key);
            return false;
        }
    }
    return true;
}

/* True when the Content-Type's media type (before any ';') is one of `media_types`. */
static bool media_type_accepted(const char *content_type, const char *const media_types[])
{
    if (!content_type)
        return false;
    while (*content_type == ' ')
        content_type++;
    size_t len = strcspn(content_type, "; ");
    for (size_t i = 0; media_types[i]; i++)
        if (strlen(media_types[i]) == len && strncasecmp(content_type, media_types[i], len) == 0)
            return true;
    return false;
}

const char *const http_no_params[] = {NULL};

const char *http_body(struct http_request *r, const char *const media_types[], size_t limit,
                      size_t *len)
{
    if (!media_type_accepted(http_header(r, "Content-Type"), media_types)) {
        http_error(r, 415, "unsupported_media_type", "send the body as Content-Type: %s",
                   media_types[0]);
        return NULL;
    }
    struct evbuffer *in = evhttp_request_get_input_buffer(r->req);
    *len = evbuffer_get_length(in);
    if (*len > limit) {
        http_error(r, 413, "body_too_large", "the body is %zu bytes; the limit is %zu", *len,
                   limit);
        return NULL;
    }
    return *len ? (const char *)evbuffer_pullup(in, -1) : "";
}

json_t *http_json_body(struct http_request *r, const char *const media_types[],
                       struct json_verbatim *verbatim)
{
    size_t len;
    const char *body = http_body(r, media_types, r->srv->cfg->limits.body_max, &len);
    if (!body)
        return NULL;
    if (len == 0) {
        http_error(r, 400, "malformed_json", "the body is empty: send a JSON object");
        return NULL;
    }
    json_error_t err;
    json_t *doc = json_parse_body_verbatim(body, len, &err, verbatim);
    if (!doc) {
        http_error(r, 400, "malformed_json", "invalid JSON at line %d, column %d: %s", err.line,
                   err.column, err.text);
        return NULL;
    }
    if (!json_is_object(doc)) {
        json_decref(doc);
        if (verbatim)
            json_verbatim_clear(verbatim);
        http_error(r, 400, "malformed_json", "the body must be a JSON object");
        return NULL;
    }
    return doc;
}

/* ---------- routing ---------- */

struct path {
    char *buf;                         /* the path without its first '/', split by NULs */
    char *segments[PATH_SEGMENTS_MAX]; /* decoded, in place in buf */
    size_t n;
};

static void path_free(struct path *p)
{
    free(p->buf);
    p->buf = NULL;
    p->n = 0;
}

/* Decodes the %XX of `segment` where it is (decoding never lengthens); false when one is NUL. */
static bool decode_segment(char *segment)
{
    if (!strchr(segment, '%'))
        return true;
    size_t len = 0;
    char *decoded = evhttp_uridecode(segment, 0, &len);
    if (!decoded)
        return false;
    bool without_nul = len == strlen(decoded);
    memcpy(segment, decoded, len + 1);
    free(decoded);
    return without_nul;
}

/* Splits "/a/b%20c" into decoded segments; -1 for a path too deep or with a NUL. */
static int path_split(const char *path, struct path *out)
{
    out->n = 0;
    if (!path || *path != '/' || !(out->buf = strdup(path + 1)))
        return -1;
    for (char *s = out->buf;;) {
        if (out->n == PATH_SEGMENTS_MAX)
            return -1;
        size_t len = strcspn(s, "/");
        bool last = s[len] == '\0';
        s[len] = '\0';
        out->segments[out->n++] = s;
        if (!decode_segment(s))
            return -1;
        if (last)
            return 0;
        s += len + 1;
    }
}

/* Matches `pattern` against the path, segment by segment; fills `params` when it matches. */
static bool route_matches(const char *pattern, const struct path *p, char **params)
{
    const char *s = pattern + 1;
    bool pattern_left = true;
    size_t n_params = 0;
    for (size_t i = 0; i < p->n; i++) {
        if (!pattern_left)
            return false; /* the path is longer than the pattern */
        size_t len = strcspn(s, "/");
        if (*s == '{') {
            if (n_params == HTTP_PARAMS_MAX || p->segments[i][0] == '\0')
                return false;
            params[n_params++] = p->segments[i];
        } else if (strlen(p->segments[i]) != len || memcmp(s, p->segments[i], len) != 0) {
            return false;
        }
        s += len;
        if (*s == '/')
            s++;
        else
            pattern_left = false;
    }
    return !pattern_left;
}

static unsigned method_mask(enum evhttp_cmd_type method)
{
    return method == EVHTTP_REQ_HEAD ? EVHTTP_REQ_GET : (unsigned)method;
}

/*
 * Finds the route; sets *allowed to the methods of the path when only the method differs. A
 * pattern without placeholders wins over one with: "/v1/conventions/_bulk" is never an {id}.
 */
static const struct http_route *find_route(const struct path *p, enum evhttp_cmd_type method,
                                           char **params, unsigned *allowed)
{
    const struct http_route *with_placeholders = NULL;
    char *placeholder_params[HTTP_PARAMS_MAX] = {0};
    unsigned literal_allowed = 0, placeholder_allowed = 0;
    for (size_t t = 0; t < sizeof route_tables / sizeof route_tables[0]; t++) {
        for (const struct http_route *route = route_tables[t]; route->pattern; route++) {
            char *candidate[HTTP_PARAMS_MAX] = {0};
            if (!route_matches(route->pattern, p, candidate))
                continue;
            bool method_ok = route->methods & method_mask(method);
            if (strchr(route->pattern, '{') == NULL) {
                if (method_ok) {
                    memcpy(params, candidate, sizeof candidate);
                    return route;
                }
                literal_allowed |= route->methods;
            } else if (!method_ok) {
                placeholder_allowed |= route->methods;
            } else if (!with_placeholders) {
                with_placeholders = route;
                memcpy(placeholder_params, candidate, sizeof candidate);
            }
        }
    }
    *allowed = literal_allowed ? literal_allowed : placeholder_allowed;
    if (literal_allowed || !with_placeholders)
        return NULL;
    memcpy(params, placeholder_params, sizeof placeholder_params);
    return with_placeholders;
}

void http_print_routes(FILE *out)
{
    for (size_t t = 0; t < sizeof route_tables / sizeof route_tables[0]; t++)
        for (const struct http_route *route = route_tables[t]; route->pattern; route++)
            for (size_t i = 0; i < sizeof method_names / sizeof method_names[0]; i++)
                if (route->methods & method_names[i].method)
                    fprintf(out, "%s %s\n", method_names[i].name, route->pattern);
}

static void reply_method_not_allowed(struct http_request *r, unsigned allowed)
{
    char list[128] = "";
    for (size_t i = 0; i < sizeof method_names / sizeof method_names[0]; i++) {
        if (!(allowed & method_names[i].method))
            continue;
        if (*list)
            strcat(list, ", ");
        strcat(list, method_names[i].name);
        if (method_names[i].method == EVHTTP_REQ_GET)
            strcat(list, ", HEAD");
    }
    http_set_header(r, "Allow", list);
    http_error(r, 405, "method_not_allowed", "%s is not allowed here; allowed: %s", r->method_name,
               list);
}

static bool authenticate(struct http_request *r)
{
    const char *authorization = http_header(r, "Authorization");
    enum auth_result result = auth_authenticate(r->srv->cfg, authorization, &r->who);
    if (result == AUTH_OK)
        return true;
    http_set_header(r, "WWW-Authenticate", "Bearer realm=\"ctgd\"");
    http_error(r, 401, "unauthorized", result == AUTH_MISSING
                                           ? "this API needs a token: Authorization: Bearer <token>"
                                           : "unknown token");
    return false;
}

static void route_request(struct http_request *r, const struct path *p)
{
    unsigned allowed;
    char *params[HTTP_PARAMS_MAX] = {0};
    const struct http_route *route = find_route(p, r->method, params, &allowed);
    if (!route) {
        if (allowed)
            reply_method_not_allowed(r, allowed);
        else
            http_error(r, 404, "not_found", "no such route: %s", evhttp_request_get_uri(r->req));
        return;
    }
    r->route = route->pattern;
    memcpy(r->params, params, sizeof params);
    if (route->open || authenticate(r))
        route->handler(r);
}

/* Counts and logs an answered request (status 0: the client left before an answer). */
static void finish(struct http_request *r)
{
    double seconds = clock_monotonic() - r->started;
    metrics_count_request(&r->srv->metrics, r->route, r->method_name, r->status, seconds);
    enum log_level level = r->status >= 500 ? LOG_ERROR : LOG_INFO;
    log_msg(level, "http", "%s %s %d %.2fms %s", r->method_name, evhttp_request_get_uri(r->req),
            r->status, seconds * 1000, r->who ? r->who->name : "-");
}

struct http_request *http_defer(struct http_request *r)
{
    struct http_request *copy = malloc(sizeof *copy);
    if (!copy)
        return NULL;
    *copy = *r;
    memset(copy->params, 0, sizeof copy->params);
    TAILQ_INIT(&copy->query);
    r->deferred = true;
    return copy;
}

/* While the answer waits, an end of input or an error stops the reading, nothing more. */
static void on_event_while_waiting(struct bufferevent *bev, short what, void *arg)
{
    (void)what;
    (void)arg;
    bufferevent_disable(bev, EV_READ);
}

/*
 * The answer is all sent: evhttp reads the next request, whose body it takes whole from the
 * connection's buffer, which must then hold more than the bound of the wait.
 */
static void on_answer_sent(struct evhttp_request *req, void *arg)
{
    (void)arg;
    struct bufferevent *bev = bufferevent_of(req);
    if (bev)
        bufferevent_setwatermark(bev, EV_READ, 0, 0);
}

void http_keep_reading(struct http_request *deferred)
{
    struct bufferevent *bev = bufferevent_of(deferred->req);
    if (!bev)
        return;
    bufferevent_data_cb write_cb;
    void *arg;
    bufferevent_getcb(bev, NULL, &write_cb, NULL, &arg);
    bufferevent_setcb(bev, NULL, write_cb, on_event_while_waiting, arg);
    /* the bound holds until the answer is sent: evhttp reads on while it writes */
    bufferevent_setwatermark(bev, EV_READ, 0, WAITING_INPUT_MAX);
    evhttp_request_set_on_complete_cb(deferred->req, on_answer_sent, NULL);
    bufferevent_enable(bev, EV_READ);
}

void http_finish_deferred(struct http_request *deferred)
{
    finish(deferred);
    if (deferred->replied)
        write_reply_now(deferred->req);
    free(deferred);
}

void http_dispatch(struct evhttp_request *req, void *server)
{
    struct http_request r = {.req = req, .srv = server, .route = "unmatched"};
    r.started = clock_monotonic();
    r.method = evhttp_request_get_command(req);
    r.method_name = method_name(r.method);
    TAILQ_INIT(&r.query);
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
    struct path p = {0};
    if (!uri || path_split(evhttp_uri_get_path(uri), &p) < 0)
        http_error(&r, 400, "bad_parameter", "the request path cannot be read");
    else if (query && (strstr(query, "%00") || evhttp_parse_query_str(query, &r.query) < 0))
        /* %00 would end the decoded value early: "29%00x" must not read as "29" */
        http_error(&r, 400, "bad_parameter", "the query string cannot be read");
    else
        route_request(&r, &p);
    path_free(&p);
    evhttp_clear_headers(&r.query);
    if (r.deferred)
        return;
    finish(&r);
    if (r.replied)
        write_reply_now(req);
}
