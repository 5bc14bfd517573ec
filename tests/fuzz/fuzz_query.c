/*
 * fuzz_query.c — the query of GET /v1/conventions (core/list_query.c), reached the way a request
 * reaches it: the input is what follows "/v1/conventions?" in the request line, which goes
 * through evhttp's URI parser (with the flags evhttp uses for requests), evhttp_parse_query_str()
 * (as http_dispatch() does), then list_query_read().
 *
 * Properties:
 *   - a refused query has a message to answer;
 *   - an accepted one holds only values the listing can use: a limit of 1..1000 written in
 *     plain digits, a real department code and status, a champ key, a cursor that is an id, a q
 *     of 1..200 bytes;
 *   - written back as a query string (each value percent-encoded, as ctgctl and browsers do),
 *     an accepted query reads back the same.
 */
#include "ctg/list_query.h"
#include "ctg/model.h"

#include "fuzz_common.h"

#include <sys/queue.h>

#include <event2/http.h>
#include <stdbool.h>

#define ROUTE "/v1/conventions?"

/* The parameters of the request line "<ROUTE><query>" into `params`; false when evhttp would
 * refuse the line or its query (a 400 before the route runs). */
static bool parse_request(const char *query, struct evkeyvalq *params)
{
    char *line = malloc(strlen(ROUTE) + strlen(query) + 1);
    FUZZ_ASSERT(line, "out of memory");
    strcat(strcpy(line, ROUTE), query);
    struct evhttp_uri *uri = evhttp_uri_parse_with_flags(line, EVHTTP_URI_NONCONFORMANT);
    const char *raw = uri ? evhttp_uri_get_query(uri) : NULL;
    TAILQ_INIT(params);
    bool ok = uri && (!raw || evhttp_parse_query_str(raw, params) == 0);
    if (uri)
        evhttp_uri_free(uri);
    free(line);
    return ok;
}

static void check_values(const struct evkeyvalq *params, const struct list_query *q)
{
    const char *limit = evhttp_find_header(params, "limit");
    FUZZ_ASSERT(q->limit >= 1 && q->limit <= LIST_QUERY_LIMIT_MAX, "limit %zu", q->limit);
    FUZZ_ASSERT(!limit || strspn(limit, "0123456789") == strlen(limit),
                "limit '%s' is not written in digits", limit);
    FUZZ_ASSERT(!q->department || model_department_valid(q->department), "department '%s'",
                q->department);
    FUZZ_ASSERT(!q->status || model_status_valid(q->status), "status '%s'", q->status);
    FUZZ_ASSERT(!q->champ || (*q->champ && strlen(q->champ) <= MODEL_KEY_MAX), "champ '%s'",
                q->champ);
    FUZZ_ASSERT(!q->cursor || model_id_valid(q->cursor), "cursor '%s'", q->cursor);
    FUZZ_ASSERT(!q->text || (*q->text && strlen(q->text) <= LIST_QUERY_TEXT_MAX), "q '%s'",
                q->text);
}

/* Appends "&name=<value percent-encoded>" to `out` (malloc'ed, grown) when value is set. */
static char *append_param(char *out, const char *name, const char *value)
{
    if (!value)
        return out;
    char *encoded = evhttp_uriencode(value, -1, 0);
    FUZZ_ASSERT(encoded, "out of memory");
    size_t len = strlen(out);
    out = realloc(out, len + strlen(name) + strlen(encoded) + 3);
    FUZZ_ASSERT(out, "out of memory");
    sprintf(out + len, "%s%s=%s", len ? "&" : "", name, encoded);
    free(encoded);
    return out;
}

static bool same_value(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* The accepted query, written as a query string, reads back the same. */
static void check_written_back(const struct list_query *q)
{
    char limit[24];
    snprintf(limit, sizeof limit, "%zu", q->limit);
    char *query = strdup("");
    query = append_param(query, "department", q->department);
    query = append_param(query, "status", q->status);
    query = append_param(query, "champ", q->champ);
    query = append_param(query, "q", q->text);
    query = append_param(query, "limit", limit);
    query = append_param(query, "cursor", q->cursor);
    struct evkeyvalq params;
    struct list_query back;
    FUZZ_ASSERT(parse_request(query, &params), "'%s' cannot be parsed", query);
    const char *bad = list_query_read(&params, &back);
    FUZZ_ASSERT(!bad, "'%s' is refused: %s", query, bad);
    FUZZ_ASSERT(same_value(back.department, q->department) && same_value(back.status, q->status)
                && same_value(back.champ, q->champ) && same_value(back.text, q->text)
                && same_value(back.cursor, q->cursor) && back.limit == q->limit,
                "'%s' does not read back as it was written", query);
    evhttp_clear_headers(&params);
    free(query);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *query = fuzz_text(data, size);
    struct evkeyvalq params;
    if (parse_request(query, &params)) {
        struct list_query q;
        const char *bad = list_query_read(&params, &q);
        if (bad) {
            FUZZ_ASSERT(*bad, "a refusal without a message");
        } else {
            check_values(&params, &q);
            check_written_back(&q);
        }
    }
    evhttp_clear_headers(&params);
    free(query);
    return 0;
}
