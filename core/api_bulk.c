/*
 * api_bulk.c — POST /v1/conventions/_bulk: many documents in one request, as JSON lines.
 *
 * Each line is a convention. A line with an id is a PUT of that id (created when absent;
 * replaced when present, which needs the line's `rev`); a line without one is a POST. Lines are
 * written in batches of BULK_BATCH, one transaction and one sync per batch, each parsed just
 * before its write and freed after it: a batch holds one document at a time, in memory still
 * in the cache. The answer has one result per line, and a refused line leaves no trace.
 */
#include "ctg/api.h"
#include "ctg/json_parse.h"
#include "ctg/json_write.h"
#include "ctg/server.h"
#include "ctg/writes.h"

#include <event2/buffer.h>

#include <stdlib.h>
#include <string.h>

#define BULK_BATCH 1000

static const char *const line_types[] = {"application/x-ndjson", "application/jsonl",
                                         "application/json-lines", "application/x-jsonlines", NULL};

struct bulk_line {
    size_t number;    /* 1-based line number in the body */
    const char *text; /* the line, in the body */
    size_t len;
    json_t *doc;      /* parsed while its write runs */
    char *given_id;   /* the line's id, as JSON text, for its result; NULL when it has none */
    bool is_write;    /* a document with a valid rev: its outcome counts in the metrics */
};

struct bulk_batch {
    struct http_request *r;
    struct bulk_line *lines;
    struct json_verbatim verbatim; /* of the line being written */
};

/* Keeps the line's id for its result, which is made once the document is gone. */
static void keep_given_id(struct bulk_line *line)
{
    const json_t *id = json_object_get(line->doc, "id");
    free(line->given_id); /* from an earlier run of the batch */
    line->given_id = NULL;
    size_t len = id ? json_dumpb(id, NULL, 0, JSON_ENCODE_ANY | JSON_COMPACT) : 0;
    if (len && (line->given_id = malloc(len + 1))) {
        json_dumpb(id, line->given_id, len, JSON_ENCODE_ANY | JSON_COMPACT);
        line->given_id[len] = '\0';
    }
}

/* Parses the i-th line of the batch into its write, inside the batch's transaction. */
static int prepare_line(void *arg, size_t i, struct write_request *w, struct write_outcome *out)
{
    struct bulk_batch *b = arg;
    struct bulk_line *line = &b->lines[i];
    json_error_t err;
    line->doc = json_parse_body_verbatim(line->text, line->len, &err, &b->verbatim);
    if (!line->doc) {
        write_refuse(out, 400, "malformed_json", err.text);
        return -1;
    }
    if (!json_is_object(line->doc)) {
        write_refuse(out, 400, "malformed_json", "the line is not a JSON object");
        return -1;
    }
    json_t *rev = json_object_get(line->doc, "rev");
    if (rev && !(json_is_integer(rev) && json_integer_value(rev) > 0)) {
        write_refuse(out, 400, "bad_parameter", "rev must be a positive integer");
        return -1;
    }
    keep_given_id(line);
    line->is_write = true;
    const char *id = json_string_value(json_object_get(line->doc, "id"));
    *w = (struct write_request){
        .kind = id ? WRITE_REPLACE : WRITE_CREATE, .id = id, .body = line->doc,
        .verbatim = &b->verbatim, .who = b->r->who, .plugins = b->r->srv->plugins,
        .claim = {.given = json_is_integer(rev), .rev = (uint64_t)json_integer_value(rev)},
    };
    return 0;
}

static void release_line(void *arg, size_t i)
{
    struct bulk_batch *b = arg;
    json_verbatim_clear(&b->verbatim);
    json_decref(b->lines[i].doc);
    b->lines[i].doc = NULL;
}

/* The result of a refused line, as in docs/api.md. */
static char *refused_result(const struct bulk_line *line, const struct write_outcome *out)
{
    json_t *error = json_pack("{s:i, s:s, s:s}", "status", out->status, "code", out->code,
                              "message", out->message);
    if (out->extra)
        json_object_update(error, out->extra);
    json_t *id = line->given_id ? json_loads(line->given_id, JSON_DECODE_ANY, NULL) : NULL;
    json_t *result = json_pack("{s:I, s:i, s:s, s:o?, s:o}", "line", (json_int_t)line->number,
                               "status", out->status, "result", "refused", "id", id, "error",
                               error);
    char *text = json_write(result, NULL);
    json_decref(result);
    return text;
}

/* The result of a written line, written straight into its text: most lines are. */
static char *written_result(const struct bulk_line *line, const struct write_outcome *out)
{
    struct json_text t;
    json_text_object_start(&t);
    json_text_member_integer(&t, "line", (long long)line->number);
    json_text_member_integer(&t, "status", out->status);
    json_text_member_string(&t, "result", out->type == CHANGE_CREATED ? "created" : "updated");
    json_text_member_string(&t, "id", out->id);
    json_text_member_integer(&t, "rev", (long long)out->rev);
    return json_text_object_end(&t, NULL);
}

/* Appends one result per line (docs/api.md) to `results`, the items of the answer's array. */
static void add_result(struct evbuffer *results, const struct bulk_line *line,
                       const struct write_outcome *out)
{
    char *text = out->status >= 400 ? refused_result(line, out) : written_result(line, out);
    if (evbuffer_get_length(results) > 0)
        evbuffer_add(results, ",", 1);
    if (text)
        evbuffer_add(results, text, strlen(text));
    else /* out of memory: the line's place still says so */
        evbuffer_add_printf(results, "{\"line\":%zu,\"status\":500,\"result\":\"refused\"}",
                            line->number);
    free(text);
}

/* Writes the lines of one batch and appends their results. */
static void write_batch(struct http_request *r, struct bulk_line *lines, size_t n,
                        struct evbuffer *results)
{
    struct write_outcome *out = calloc(n, sizeof *out);
    struct bulk_batch batch = {.r = r, .lines = lines};
    struct write_source src = {.prepare = prepare_line, .release = release_line, .arg = &batch,
                               .outcomes_only = true};
    struct write_outcome no_memory = {0};
    if (out)
        write_conventions_from(r->srv->store, &src, out, n);
    else
        write_refuse(&no_memory, 500, "internal", "out of memory; nothing was written");
    for (size_t i = 0; i < n; i++) {
        struct write_outcome *line_out = out ? &out[i] : &no_memory;
        add_result(results, &lines[i], line_out);
        if (lines[i].is_write) /* as for a single write: a malformed body is no write */
            api_count_outcome(r->srv, line_out);
        if (out)
            write_outcome_clear(line_out);
        free(lines[i].given_id);
    }
    free(out);
    server_changes_committed(r->srv);
    server_writers_answered(r->srv); /* the request's answer waits for its last batch */
}

/* Answers {"results": [...]} with the results written; 500 when there was no memory for them. */
static void reply_results(struct http_request *r, struct evbuffer *results)
{
    static const char start[] = "{\"results\":[", end[] = "]}";
    const char *text = NULL;
    if (results && evbuffer_prepend(results, start, sizeof start - 1) == 0 &&
        evbuffer_add(results, end, sizeof end - 1) == 0)
        text = (const char *)evbuffer_pullup(results, -1);
    if (text)
        http_reply_json_text(r, 200, text, evbuffer_get_length(results));
    else
        http_error(r, 500, "internal", "out of memory");
    if (results)
        evbuffer_free(results);
}

static bool is_blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!strchr(" \t\r", s[i]))
            return false;
    return true;
}

static void post_bulk(struct http_request *r)
{
    size_t len;
    const char *body;
    if (!http_query_only(r, http_no_params) || !api_require_writer(r) ||
        !(body = http_body(r, line_types, r->srv->cfg->limits.bulk_max, &len)))
        return;
    struct evbuffer *results = evbuffer_new();
    struct bulk_line *lines = results ? calloc(BULK_BATCH, sizeof *lines) : NULL;
    size_t n = 0, number = 0;
    for (const char *p = body, *end = body + len; lines && p < end;) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        size_t line_len = eol ? (size_t)(eol - p) : (size_t)(end - p);
        number++;
        if (!is_blank(p, line_len))
            lines[n++] = (struct bulk_line){.number = number, .text = p, .len = line_len};
        p += line_len + 1;
        if (n == BULK_BATCH || (p >= end && n)) {
            write_batch(r, lines, n, results);
            n = 0;
        }
    }
    free(lines);
    reply_results(r, results);
}

const struct http_route api_bulk_routes[] = {
    {"/v1/conventions/_bulk", EVHTTP_REQ_POST, post_bulk, false},
    {NULL, 0, NULL, false},
};
