/*
 * api_bulk.c — POST /v1/conventions/_bulk: many documents in one request, as JSON lines.
 *
 * Each line is a convention. A line with an id is a PUT of that id (created when absent;
 * replaced when present, which needs the line's `rev`); a line without one is a POST. Lines are
 * validated one by one and written in batches of BULK_BATCH, one transaction and one sync per
 * batch; the answer has one result per line, and a refused line leaves no trace.
 */
#include "ctg/api.h"
#include "ctg/json_parse.h"
#include "ctg/server.h"
#include "ctg/writes.h"

#include <stdlib.h>
#include <string.h>

#define BULK_BATCH 1000

static const char *const line_types[] = {"application/x-ndjson", "application/jsonl",
                                         "application/json-lines", "application/x-jsonlines", NULL};

struct bulk_line {
    size_t number;   /* 1-based line number in the body */
    json_t *doc;     /* NULL when the line is refused before any write */
    const char *code; /* then: the error code, */
    char error[256]; /* and why */
};

/* Refuses a line before it reaches the write pipeline (a 400). */
static void refuse_line(struct bulk_line *line, const char *code, const char *message)
{
    json_decref(line->doc);
    line->doc = NULL;
    line->code = code;
    snprintf(line->error, sizeof line->error, "%s", message);
}

/* One result per line, as in docs/api.md. */
static json_t *line_result(const struct bulk_line *line, const struct write_outcome *out)
{
    if (!line->doc)
        return json_pack("{s:I, s:i, s:s, s:{s:i, s:s, s:s}}", "line", (json_int_t)line->number,
                         "status", 400, "result", "refused", "error", "status", 400, "code",
                         line->code, "message", line->error);
    if (out->status >= 400) {
        json_t *error = json_pack("{s:i, s:s, s:s}", "status", out->status, "code", out->code,
                                  "message", out->message);
        if (out->extra)
            json_object_update(error, out->extra);
        return json_pack("{s:I, s:i, s:s, s:O?, s:o}", "line", (json_int_t)line->number,
                         "status", out->status, "result", "refused", "id",
                         json_object_get(line->doc, "id"), "error", error);
    }
    return json_pack("{s:I, s:i, s:s, s:s, s:I}", "line", (json_int_t)line->number, "status",
                     out->status, "result", out->type == CHANGE_CREATED ? "created" : "updated",
                     "id", out->id, "rev", (json_int_t)out->rev);
}

/* Writes the parsed lines of one batch and appends their results. */
static void write_batch(struct http_request *r, struct bulk_line *lines, size_t n, json_t *results)
{
    struct write_request *w = calloc(n, sizeof *w);
    struct write_outcome *out = calloc(n, sizeof *out);
    size_t *line_of = calloc(n, sizeof *line_of);
    size_t writes = 0;
    for (size_t i = 0; w && out && line_of && i < n; i++) {
        if (!lines[i].doc)
            continue;
        json_t *rev = json_object_get(lines[i].doc, "rev");
        if (rev && !(json_is_integer(rev) && json_integer_value(rev) > 0)) {
            refuse_line(&lines[i], "bad_parameter", "rev must be a positive integer");
            continue;
        }
        const char *id = json_string_value(json_object_get(lines[i].doc, "id"));
        w[writes] = (struct write_request){
            .kind = id ? WRITE_REPLACE : WRITE_CREATE, .id = id, .body = lines[i].doc,
            .who = r->who, .plugins = r->srv->plugins,
            .claim = {.given = json_is_integer(rev), .rev = (uint64_t)json_integer_value(rev)},
        };
        line_of[writes++] = i;
    }
    if (writes)
        write_conventions(r->srv->store, w, out, writes);
    for (size_t i = 0, k = 0; i < n; i++) {
        bool written = k < writes && line_of[k] == i;
        struct write_outcome none = {0};
        json_array_append_new(results, line_result(&lines[i], written ? &out[k] : &none));
        if (written) {
            api_count_outcome(r->srv, &out[k]);
            write_outcome_clear(&out[k++]);
        }
    }
    free(w);
    free(out);
    free(line_of);
    server_changes_committed(r->srv);
    server_writers_answered(r->srv); /* the request's answer waits for its last batch */
}

static void parse_line(struct bulk_line *line, const char *text, size_t len)
{
    json_error_t err;
    line->doc = json_parse_body(text, len, &err);
    if (!line->doc)
        refuse_line(line, "malformed_json", err.text);
    else if (!json_is_object(line->doc))
        refuse_line(line, "malformed_json", "the line is not a JSON object");
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
    json_t *results = json_array();
    struct bulk_line *lines = calloc(BULK_BATCH, sizeof *lines);
    size_t n = 0, number = 0;
    for (const char *p = body, *end = body + len; lines && p < end;) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        size_t line_len = eol ? (size_t)(eol - p) : (size_t)(end - p);
        number++;
        if (!is_blank(p, line_len)) {
            lines[n] = (struct bulk_line){.number = number};
            parse_line(&lines[n++], p, line_len);
        }
        p += line_len + 1;
        if (n == BULK_BATCH || (p >= end && n)) {
            write_batch(r, lines, n, results);
            for (size_t i = 0; i < n; i++)
                json_decref(lines[i].doc);
            n = 0;
        }
    }
    free(lines);
    http_reply_json(r, 200, json_pack("{s:o}", "results", results));
}

const struct http_route api_bulk_routes[] = {
    {"/v1/conventions/_bulk", EVHTTP_REQ_POST, post_bulk, false},
    {NULL, 0, NULL, false},
};
