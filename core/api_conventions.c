/*
 * api_conventions.c — the /v1/conventions routes: reading (get, list, history, revisions)
 * served straight from the stored bytes, and writing through write_convention().
 */
#include "ctg/api.h"
#include "ctg/auth.h"
#include "ctg/json_parse.h"
#include "ctg/list_query.h"
#include "ctg/model.h"
#include "ctg/server.h"
#include "ctg/write_queue.h"
#include "ctg/writes.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const json_types[] = {"application/json", NULL};
static const char *const patch_types[] = {"application/merge-patch+json", "application/json", NULL};

/* ---------- shared checks ---------- */

/*
 * The {id} of the route, checked, on a request without query parameters (but those in
 * `params`); answers 400 and returns NULL otherwise.
 */
static const char *require_path_id(struct http_request *r, const char *const params[])
{
    const char *id = r->params[0];
    if (!http_query_only(r, params))
        return NULL;
    if (model_id_valid(id))
        return id;
    http_error(r, 400, "bad_parameter", "'%s' is not a convention id (^[a-z0-9][a-z0-9-]{2,63}$)",
               id);
    return NULL;
}

/* Parses a positive decimal rev; -1 when `text` is not one. */
static int parse_rev(const char *text, uint64_t *out)
{
    if (!text || !isdigit((unsigned char)*text))
        return -1;
    char *end;
    errno = 0;
    unsigned long long rev = strtoull(text, &end, 10);
    if (errno || *end || rev == 0)
        return -1;
    *out = rev;
    return 0;
}

/* The department of a stored JSON text (summary or document); the caller frees it. */
static char *department_of(const char *json, size_t len)
{
    json_t *doc = json_parse_body(json, len, NULL);
    const char *department = json_string_value(json_object_get(doc, "department"));
    char *copy = department ? strdup(department) : NULL;
    json_decref(doc);
    return copy;
}

/*
 * Reads are scoped to the token's departments: answers 403 and returns false when the stored
 * JSON (summary or document) is of another one. An all-departments token skips the parse.
 */
static bool require_record_readable(struct http_request *r, const char *json, size_t len)
{
    if (r->who->all_departments)
        return true;
    char *department = department_of(json, len);
    bool ok = http_require_readable(r, department);
    free(department);
    return ok;
}

/* Answers 404 (naming `id`) or 500 and returns true when a store read did not succeed. */
static bool reply_store_failure(struct http_request *r, enum store_status status, const char *id)
{
    if (status == STORE_OK)
        return false;
    if (status == STORE_NOT_FOUND && id)
        http_error(r, 404, "not_found", "no convention '%s'", id);
    else
        http_error(r, 500, "internal", "the store could not be read");
    return true;
}

/* ---------- GET /v1/conventions/{id} ---------- */

static void get_convention(struct http_request *r)
{
    const char *id = require_path_id(r, http_no_params);
    struct store *st = r->srv->store;
    struct record_view doc;
    if (!id || reply_store_failure(r, store_read_begin(st), NULL))
        return;
    if (!reply_store_failure(r, store_get_doc(st, id, &doc), id) &&
        require_record_readable(r, doc.meta, doc.meta_len)) {
        http_set_etag(r, doc.rev);
        if (http_rev_not_modified(r, doc.rev))
            http_reply_empty(r, 304);
        else
            http_reply_json_text(r, 200, doc.body, doc.body_len);
    }
    store_read_end(st);
}

bool api_read_convention(struct http_request *r, struct record_view *doc)
{
    const char *id = require_path_id(r, http_no_params);
    struct store *st = r->srv->store;
    if (!id || reply_store_failure(r, store_read_begin(st), NULL))
        return false;
    if (!reply_store_failure(r, store_get_doc(st, id, doc), id) &&
        require_record_readable(r, doc->meta, doc->meta_len))
        return true;
    store_read_end(st);
    return false;
}

json_t *api_parse_convention(struct http_request *r, const struct record_view *doc)
{
    json_t *parsed = json_parse_body(doc->body, doc->body_len, NULL);
    if (!parsed)
        http_error(r, 500, "internal", "the stored convention cannot be read");
    return parsed;
}

json_t *api_load_convention(struct http_request *r)
{
    struct record_view doc;
    if (!api_read_convention(r, &doc))
        return NULL;
    json_t *parsed = api_parse_convention(r, &doc);
    store_read_end(r->srv->store);
    return parsed;
}

/* ---------- GET /v1/conventions ---------- */

/*
 * The accepted summaries are answered as stored, text after text: a summary is read (parsed)
 * only when the token's rights or the text filter need one of its values.
 */
struct list_filter {
    struct http_request *r;
    const char *q;
    bool all_readable;     /* every candidate is in a department the token reads */
    size_t wanted;         /* items in the page; the one after only says there is a next page */
    size_t accepted;
    struct evbuffer *items; /* the page's summaries, comma separated */
    char last_id[128];     /* the id of the page's last item */
};

/* Case-insensitive (ASCII) substring test. */
static bool contains_text(const char *haystack, const char *needle)
{
    if (!haystack)
        return false;
    size_t n = strlen(needle);
    for (const char *h = haystack; *h; h++)
        if (strncasecmp(h, needle, n) == 0)
            return true;
    return false;
}

static bool summary_accepted(const struct list_filter *f, const char *id,
                             const struct record_view *doc)
{
    if (f->all_readable && !f->q)
        return true;
    json_error_t err;
    json_t *summary = json_parse_body(doc->meta, doc->meta_len, &err);
    const char *department = json_string_value(json_object_get(summary, "department"));
    bool visible = summary && department && auth_can_read(f->r->who, department);
    bool matches = !f->q || contains_text(id, f->q) ||
                   contains_text(json_string_value(json_object_get(summary, "title")), f->q) ||
                   contains_text(json_string_value(json_object_get(summary, "territory")), f->q);
    json_decref(summary);
    return visible && matches;
}

static int accept_summary(const char *id, const struct record_view *doc, void *arg)
{
    struct list_filter *f = arg;
    if (!summary_accepted(f, id, doc))
        return 0;
    if (++f->accepted <= f->wanted) {
        if (f->accepted > 1)
            evbuffer_add(f->items, ",", 1);
        evbuffer_add(f->items, doc->meta, doc->meta_len);
        snprintf(f->last_id, sizeof f->last_id, "%s", id);
    }
    return 1;
}

/* Reads and checks the list's query; answers 400 and returns false on a bad one. */
static bool read_list_query(struct http_request *r, struct store_query *q, const char **text)
{
    struct list_query list;
    if (!http_query_only(r, list_query_params))
        return false;
    const char *bad = list_query_read(&r->query, &list);
    if (bad) {
        http_error(r, 400, "bad_parameter", "%s", bad);
        return false;
    }
    q->department = list.department;
    q->status = list.status;
    q->champ = list.champ;
    q->after = list.cursor;
    q->limit = list.limit + 1; /* one more than asked tells whether a next page exists */
    *text = list.text;
    return true;
}

/* {"items": [the summaries], "next": the cursor of the next page or null}, as stored. */
static void reply_list(struct http_request *r, const struct list_filter *f)
{
    struct evbuffer *body = evbuffer_new();
    evbuffer_add(body, "{\"items\":[", 10);
    evbuffer_add_buffer(body, f->items);
    if (f->accepted > f->wanted) /* ids are [a-z0-9-]: nothing to escape */
        evbuffer_add_printf(body, "],\"next\":\"%s\"}\n", f->last_id);
    else
        evbuffer_add(body, "],\"next\":null}\n", 15);
    http_reply_body(r, 200, "application/json", body);
    evbuffer_free(body);
}

static void list_conventions(struct http_request *r)
{
    struct store_query q = {0};
    struct list_filter f = {.r = r};
    if (!read_list_query(r, &q, &f.q))
        return;
    if (q.department && !http_require_readable(r, q.department))
        return;
    struct store *st = r->srv->store;
    if (reply_store_failure(r, store_read_begin(st), NULL))
        return;
    f.all_readable = q.department || r->who->all_departments;
    f.wanted = q.limit - 1;
    f.items = evbuffer_new();
    q.accept = accept_summary;
    q.arg = &f;
    enum store_status status = store_list(st, &q);
    store_read_end(st);
    if (!reply_store_failure(r, status, NULL))
        reply_list(r, &f);
    evbuffer_free(f.items);
}

/* ---------- history and revisions ---------- */

struct history {
    struct http_request *r;
    json_t *items;
    size_t hidden; /* revisions of departments the token may not read */
};

/* Each revision is shown to the tokens that may read the department it had. */
static void collect_revision(const struct record_view *rev, void *arg)
{
    struct history *h = arg;
    json_t *meta = json_parse_body(rev->meta, rev->meta_len, NULL);
    const char *department = json_string_value(json_object_get(meta, "department"));
    if (department && auth_can_read(h->r->who, department))
        json_array_append(h->items, meta);
    else
        h->hidden++;
    json_decref(meta);
}

static void get_history(struct http_request *r)
{
    const char *id = require_path_id(r, http_no_params);
    struct store *st = r->srv->store;
    if (!id || reply_store_failure(r, store_read_begin(st), NULL))
        return;
    struct history h = {.r = r, .items = json_array()};
    enum store_status status = store_each_revision(st, id, collect_revision, &h);
    store_read_end(st);
    if (reply_store_failure(r, status, id))
        ;
    else if (json_array_size(h.items) == 0 && h.hidden)
        http_error(r, 403, "forbidden", "token '%s' cannot read the departments of '%s'",
                   r->who->name, id);
    else
        http_reply_json(r, 200, json_pack("{s:s, s:O}", "id", id, "history", h.items));
    json_decref(h.items);
}

static void get_revision(struct http_request *r)
{
    const char *id = require_path_id(r, http_no_params);
    uint64_t rev;
    if (!id)
        return;
    if (parse_rev(r->params[1], &rev) < 0) {
        http_error(r, 400, "bad_parameter", "'%s' is not a rev (a positive integer)", r->params[1]);
        return;
    }
    struct store *st = r->srv->store;
    struct record_view view;
    if (reply_store_failure(r, store_read_begin(st), NULL))
        return;
    enum store_status status = store_get_revision(st, id, rev, &view);
    if (status == STORE_NOT_FOUND)
        http_error(r, 404, "not_found", "'%s' has no rev %llu", id, (unsigned long long)rev);
    else if (!reply_store_failure(r, status, id)) {
        if (view.body_len == 0)
            http_error(r, 404, "not_found", "rev %llu of '%s' is its deletion",
                       (unsigned long long)rev, id);
        else if (require_record_readable(r, view.body, view.body_len)) {
            http_set_etag(r, view.rev);
            http_reply_json_text(r, 200, view.body, view.body_len);
        }
    }
    store_read_end(st);
}

/* ---------- writes ---------- */

/* If-Match: "3", W/"3", 3 or *. */
static int parse_if_match(const char *header, struct rev_claim *claim)
{
    while (*header == ' ')
        header++;
    claim->given = claim->if_match = true;
    if (strcmp(header, "*") == 0) {
        claim->any = true;
        return 0;
    }
    if (strncmp(header, "W/", 2) == 0) {
        claim->rev = 0; /* a weak tag never matches in If-Match (RFC 9110 §13.1.1): 412 */
        return 0;
    }
    char text[32];
    size_t len = strlen(header);
    if (len >= 2 && header[0] == '"' && header[len - 1] == '"') {
        header++;
        len -= 2;
    }
    if (len == 0 || len >= sizeof text)
        return -1;
    memcpy(text, header, len);
    text[len] = '\0';
    return parse_rev(text, &claim->rev);
}

/*
 * Collects the rev the client read from If-Match, the body's `rev` (taken out of the body) or,
 * for DELETE, the query's `rev` (other routes refuse query parameters). A number given beside
 * If-Match: * is the rev checked. Answers 400 and returns false when they are unreadable or
 * disagree.
 */
static bool read_rev_claim(struct http_request *r, json_t *body, struct rev_claim *claim)
{
    memset(claim, 0, sizeof *claim);
    const char *if_match = http_header(r, "If-Match");
    if (if_match && parse_if_match(if_match, claim) < 0) {
        http_error(r, 400, "bad_parameter", "If-Match must be an ETag such as \"3\"");
        return false;
    }
    json_t *body_rev = body ? json_object_get(body, "rev") : NULL;
    const char *query_rev = http_query(r, "rev");
    uint64_t rev = 0;
    if (body_rev && !(json_is_integer(body_rev) && json_integer_value(body_rev) > 0)) {
        http_error(r, 400, "bad_parameter", "rev must be a positive integer");
        return false;
    }
    uint64_t query = 0;
    if (query_rev && parse_rev(query_rev, &query) < 0) {
        http_error(r, 400, "bad_parameter", "rev must be a positive integer");
        return false;
    }
    rev = body_rev ? (uint64_t)json_integer_value(body_rev) : query;
    if (body_rev && query_rev && rev != query) {
        http_error(r, 400, "bad_parameter", "the body's rev and ?rev= name different revs");
        return false;
    }
    if (body)
        json_object_del(body, "rev");
    if (!rev)
        return true;
    if (claim->given && !claim->any && claim->rev != rev) {
        http_error(r, 400, "bad_parameter", "If-Match and rev name different revs");
        return false;
    }
    if (!claim->given || claim->any)
        *claim = (struct rev_claim){.given = true, .rev = rev};
    return true;
}

void api_count_outcome(struct server *srv, const struct write_outcome *out)
{
    if (out->status < 400) {
        srv->metrics.writes[out->type]++;
        return;
    }
    enum write_failure reason = out->status == 507   ? WRITE_STORAGE_FULL
                                : out->status == 500 ? WRITE_STORE_ERROR
                                                     : WRITE_REFUSED;
    srv->metrics.write_failures[reason]++;
}

void api_reply_write_outcome(struct http_request *r, struct write_outcome *out)
{
    api_count_outcome(r->srv, out);
    if (out->status >= 400) {
        http_error_with(r, out->status, out->code, out->extra, "%s", out->message);
        out->extra = NULL;
        return;
    }
    http_set_etag(r, out->rev);
    if (out->type == CHANGE_DELETED) {
        http_reply_json(r, 200, json_pack("{s:s, s:I, s:b}", "id", out->id, "rev",
                                          (json_int_t)out->rev, "deleted", 1));
        return;
    }
    if (out->status == 201) {
        char location[128];
        snprintf(location, sizeof location, "/v1/conventions/%s", out->id);
        http_set_header(r, "Location", location);
    }
    http_reply_json_text(r, out->status, out->text, strlen(out->text));
}

bool api_require_writer(struct http_request *r)
{
    if (r->who->role >= ROLE_EDITOR)
        return true;
    http_error(r, 403, "forbidden", "token '%s' is a %s and cannot write", r->who->name,
               config_role_name(r->who->role));
    return false;
}

/* Queues one write for the route's id (NULL on POST) with the given body (group commit). */
static void write_and_reply(struct http_request *r, enum write_kind kind, const char *id,
                            json_t *body, const struct json_verbatim *verbatim)
{
    /* .plugins is left out: the queue sets the current generation when it writes the batch */
    struct write_request w = {.kind = kind, .id = id, .body = body, .verbatim = verbatim,
                              .who = r->who};
    if (kind == WRITE_PATCH_ACTION)
        w.action_id = r->params[1];
    if (kind != WRITE_CREATE && !read_rev_claim(r, body, &w.claim))
        return;
    write_queue_submit(r->srv->writes, r, &w);
}

/* The routes whose body is a document or a merge patch. */
static void write_with_body(struct http_request *r, enum write_kind kind,
                            const char *const media_types[])
{
    const char *id = NULL;
    json_t *body;
    struct json_verbatim verbatim = {0};
    if (kind != WRITE_CREATE && !(id = require_path_id(r, http_no_params)))
        return;
    struct json_verbatim *wanted = write_stores_body_values(kind) ? &verbatim : NULL;
    if (!api_require_writer(r) || !(body = http_json_body(r, media_types, wanted)))
        return;
    write_and_reply(r, kind, id, body, wanted);
    json_verbatim_clear(&verbatim);
    json_decref(body);
}

static void post_convention(struct http_request *r)
{
    write_with_body(r, WRITE_CREATE, json_types);
}

static void put_convention(struct http_request *r)
{
    write_with_body(r, WRITE_REPLACE, json_types);
}

static void patch_convention(struct http_request *r)
{
    write_with_body(r, WRITE_PATCH, patch_types);
}

static void patch_action(struct http_request *r)
{
    write_with_body(r, WRITE_PATCH_ACTION, patch_types);
}

static void delete_convention(struct http_request *r)
{
    static const char *const rev_param[] = {"rev", NULL};
    const char *id = require_path_id(r, rev_param);
    if (!id || !api_require_writer(r))
        return;
    json_t *body = NULL;
    if (evbuffer_get_length(evhttp_request_get_input_buffer(r->req)) > 0 &&
        !(body = http_json_body(r, json_types, NULL)))
        return;
    write_and_reply(r, WRITE_DELETE, id, body, NULL);
    json_decref(body);
}

const struct http_route api_conventions_routes[] = {
    {"/v1/conventions", EVHTTP_REQ_GET, list_conventions, false},
    {"/v1/conventions", EVHTTP_REQ_POST, post_convention, false},
    {"/v1/conventions/{id}", EVHTTP_REQ_GET, get_convention, false},
    {"/v1/conventions/{id}", EVHTTP_REQ_PUT, put_convention, false},
    {"/v1/conventions/{id}", EVHTTP_REQ_PATCH, patch_convention, false},
    {"/v1/conventions/{id}", EVHTTP_REQ_DELETE, delete_convention, false},
    {"/v1/conventions/{id}/actions/{action_id}", EVHTTP_REQ_PATCH, patch_action, false},
    {"/v1/conventions/{id}/history", EVHTTP_REQ_GET, get_history, false},
    {"/v1/conventions/{id}/revisions/{rev}", EVHTTP_REQ_GET, get_revision, false},
    {NULL, 0, NULL, false},
};
