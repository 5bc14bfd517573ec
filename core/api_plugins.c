/*
 * api_plugins.c — the routes served by the department plugins: the plugins themselves and
 * their reload, the departments, and the indicators, exports and reports they compute.
 */
#include "ctg/api.h"
#include "ctg/auth.h"
#include "ctg/json_write.h"
#include "ctg/log.h"
#include "ctg/model.h"
#include "ctg/plugins.h"
#include "ctg/result_cache.h"
#include "ctg/server.h"

#include <event2/buffer.h>

#include <stdlib.h>
#include <string.h>

#define REPORT_CONVENTIONS_MAX 1000000

/*
 * What a rendered export or report may do once a browser shows it: its own inline styles and
 * data: images (the charts), nothing else. A plugin that forgets to escape a document's text
 * cannot run a script in the dashboard's origin.
 */
static const char rendered_policy[] =
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox";

static void send_rendered(struct http_request *r, const char *body, size_t len,
                          const char *content_type)
{
    struct evbuffer *out = evbuffer_new();
    evbuffer_add(out, body, len);
    http_set_header(r, "Content-Security-Policy", rendered_policy);
    http_set_header(r, "X-Content-Type-Options", "nosniff");
    http_reply_body(r, 200, content_type, out);
    evbuffer_free(out);
}

static void reply_rendered(struct http_request *r, enum plugin_result result,
                           struct rendered *out, const char *what, const char *err)
{
    if (result == PLUGIN_UNKNOWN) {
        http_error(r, 404, "not_found", "no %s '%s' here", what, r->params[1]);
        return;
    }
    if (result == PLUGIN_FAILED) {
        http_error(r, 500, "plugin_failed", "%s", err);
        return;
    }
    send_rendered(r, out->body, out->len, out->content_type);
    free(out->body);
}

/* ---------- plugins ---------- */

static json_t *plugins_answer(const struct server *srv)
{
    return json_pack("{s:I, s:o}", "generation", (json_int_t)plugins_generation(srv->plugins),
                     "plugins", plugins_describe(srv->plugins));
}

static void get_plugins(struct http_request *r)
{
    if (http_query_only(r, http_no_params))
        http_reply_json(r, 200, plugins_answer(r->srv));
}

static void post_reload(struct http_request *r)
{
    if (!http_query_only(r, http_no_params))
        return;
    if (!auth_is_admin(r->who)) {
        http_error(r, 403, "forbidden", "only an admin token reloads the plugins");
        return;
    }
    char err[1024];
    if (server_reload_plugins(r->srv, err, sizeof err) < 0) {
        http_error_with(r, 422, "plugin_load_failed",
                        json_pack("{s:[{s:s, s:s}]}", "details", "path", "", "message", err),
                        "the plugins were not reloaded; the previous ones stay: %s", err);
        return;
    }
    http_reply_json(r, 200, plugins_answer(r->srv));
}

/* ---------- departments ---------- */

static void get_departments(struct http_request *r)
{
    if (http_query_only(r, http_no_params))
        http_reply_json(r, 200, json_pack("{s:o}", "departments",
                                          plugins_departments(r->srv->plugins)));
}

/* The {code} of the route, checked; answers 400 and returns NULL otherwise. */
static const char *require_department(struct http_request *r)
{
    if (!http_query_only(r, http_no_params))
        return NULL;
    if (model_department_valid(r->params[0]))
        return r->params[0];
    http_error(r, 400, "bad_parameter", "'%s' is not an INSEE department code", r->params[0]);
    return NULL;
}

static void get_department(struct http_request *r)
{
    const char *code = require_department(r);
    if (code)
        http_reply_json(r, 200, plugins_department(r->srv->plugins, code));
}

/* The stored text of every convention of the department; -1 once a 500 is answered. */
static int load_department(struct http_request *r, const char *code, struct json_texts *docs)
{
    struct store_query q = {.department = code, .limit = REPORT_CONVENTIONS_MAX};
    if (store_list_texts(r->srv->store, &q, docs) == STORE_OK)
        return 0;
    json_texts_clear(docs);
    http_error(r, 500, "internal", "the store could not be read");
    return -1;
}

static void get_report(struct http_request *r)
{
    const char *code = require_department(r);
    struct json_texts docs = {0};
    if (!code || !http_require_readable(r, code) || load_department(r, code, &docs) < 0)
        return;
    struct rendered out;
    char err[1024];
    enum plugin_result result = plugins_render_report(r->srv->plugins, code, r->params[1], &docs,
                                                      &out, err, sizeof err);
    json_texts_clear(&docs);
    reply_rendered(r, result, &out, "report", err);
}

/* ---------- a convention's indicators and exports ---------- */

/*
 * The answer `what` about the route's convention: from the cache when it is kept for the
 * convention's revision (answered by `reply`), else the convention parsed, for the caller to
 * compute it; NULL once answered. *rev: the revision read.
 */
static json_t *load_unless_kept(struct http_request *r, const char *what,
                                void (*reply)(struct http_request *, const struct cached_result *),
                                uint64_t *rev)
{
    struct record_view view;
    if (!api_read_convention(r, &view))
        return NULL;
    struct cached_result kept;
    json_t *doc = NULL;
    *rev = view.rev;
    if (result_cache_get(r->srv->results, what, r->params[0], view.rev,
                         plugins_generation(r->srv->plugins), &kept))
        reply(r, &kept);
    else
        doc = api_parse_convention(r, &view);
    store_read_end(r->srv->store);
    return doc;
}

/* Keeps `answer` as the answer `what` for revision `rev` of the route's convention. */
static void keep_answer(struct http_request *r, const char *what, uint64_t rev,
                        const struct cached_result *answer)
{
    result_cache_put(r->srv->results, what, r->params[0], rev,
                     plugins_generation(r->srv->plugins), answer->content_type, answer->body,
                     answer->len);
}

static void reply_indicators(struct http_request *r, const struct cached_result *answer)
{
    http_reply_json_text(r, 200, answer->body, answer->len);
}

static void get_indicators(struct http_request *r)
{
    uint64_t rev;
    json_t *doc = load_unless_kept(r, "indicators", reply_indicators, &rev);
    if (!doc)
        return;
    char err[1024];
    bool pure;
    json_t *indicators = plugins_indicators(r->srv->plugins, doc, &pure, err, sizeof err);
    json_t *answer = indicators ? json_pack("{s:O, s:O, s:o}", "id", json_object_get(doc, "id"),
                                            "rev", json_object_get(doc, "rev"), "indicators",
                                            indicators)
                                : NULL;
    size_t len;
    char *text = answer ? json_write(answer, &len) : NULL;
    if (!indicators) {
        http_error(r, 500, "plugin_failed", "%s", err);
    } else if (!text) {
        http_error(r, 500, "internal", "the answer could not be encoded");
    } else {
        struct cached_result computed = {text, len, "application/json"};
        if (pure)
            keep_answer(r, "indicators", rev, &computed);
        reply_indicators(r, &computed);
    }
    free(text);
    json_decref(answer);
    json_decref(doc);
}

static void get_exports(struct http_request *r)
{
    json_t *doc = api_load_convention(r);
    if (!doc)
        return;
    const char *id = json_string_value(json_object_get(doc, "id"));
    json_t *exports = plugins_exports(r->srv->plugins,
                                      json_string_value(json_object_get(doc, "department")));
    size_t i;
    json_t *e;
    json_array_foreach(exports, i, e) {
        char href[256];
        snprintf(href, sizeof href, "/v1/conventions/%s/exports/%s", id,
                 json_string_value(json_object_get(e, "key")));
        json_object_set_new(e, "href", json_string(href));
    }
    http_reply_json(r, 200, json_pack("{s:s, s:o}", "id", id, "exports", exports));
    json_decref(doc);
}

static void reply_export(struct http_request *r, const struct cached_result *answer)
{
    send_rendered(r, answer->body, answer->len, answer->content_type);
}

static void get_export(struct http_request *r)
{
    /* a longer key is no export's (its 404 comes from the plugins): never cut to a kept one's */
    bool keepable = strlen(r->params[1]) <= MODEL_KEY_MAX;
    char what[sizeof "export/" + MODEL_KEY_MAX];
    uint64_t rev = 0;
    snprintf(what, sizeof what, "export/%s", r->params[1]);
    json_t *doc = keepable ? load_unless_kept(r, what, reply_export, &rev)
                           : api_load_convention(r);
    if (!doc)
        return;
    struct rendered out;
    char err[1024];
    enum plugin_result result = plugins_render_export(r->srv->plugins, doc, r->params[1], &out,
                                                      err, sizeof err);
    json_decref(doc);
    if (result == PLUGIN_OK && out.pure && keepable)
        keep_answer(r, what, rev, &(struct cached_result){out.body, out.len, out.content_type});
    reply_rendered(r, result, &out, "export", err);
}

const struct http_route api_plugins_routes[] = {
    {"/v1/plugins", EVHTTP_REQ_GET, get_plugins, false},
    {"/v1/plugins/reload", EVHTTP_REQ_POST, post_reload, false},
    {"/v1/departments", EVHTTP_REQ_GET, get_departments, false},
    {"/v1/departments/{code}", EVHTTP_REQ_GET, get_department, false},
    {"/v1/departments/{code}/reports/{key}", EVHTTP_REQ_GET, get_report, false},
    {"/v1/conventions/{id}/indicators", EVHTTP_REQ_GET, get_indicators, false},
    {"/v1/conventions/{id}/exports", EVHTTP_REQ_GET, get_exports, false},
    {"/v1/conventions/{id}/exports/{key}", EVHTTP_REQ_GET, get_export, false},
    {NULL, 0, NULL, false},
};
