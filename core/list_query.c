/* list_query.c — the query of GET /v1/conventions, read and checked (see list_query.h). */
#include "ctg/list_query.h"
#include "ctg/model.h"

#include <event2/http.h>
#include <stdlib.h>
#include <string.h>

const char *const list_query_params[] = {"department", "status", "champ", "q", "limit", "cursor",
                                         NULL};

/*
 * `text` as a limit of 1..LIST_QUERY_LIMIT_MAX written in decimal digits only: strtol alone
 * would also take leading white space and a sign ("limit=%0C001", "limit=%2B5"). -1 when it is
 * not one.
 */
static int read_limit(const char *text, size_t *limit)
{
    size_t len = strlen(text);
    if (len == 0 || strspn(text, "0123456789") != len)
        return -1;
    long n = strtol(text, NULL, 10); /* LONG_MAX when too long: refused below */
    if (n < 1 || n > LIST_QUERY_LIMIT_MAX)
        return -1;
    *limit = (size_t)n;
    return 0;
}

const char *list_query_read(const struct evkeyvalq *query, struct list_query *out)
{
    out->department = evhttp_find_header(query, "department");
    out->status = evhttp_find_header(query, "status");
    out->champ = evhttp_find_header(query, "champ");
    out->cursor = evhttp_find_header(query, "cursor");
    out->text = evhttp_find_header(query, "q");
    out->limit = LIST_QUERY_LIMIT_DEFAULT;
    const char *limit = evhttp_find_header(query, "limit");
    if (limit && read_limit(limit, &out->limit) < 0)
        return "limit must be an integer from 1 to 1000";
    if (out->department && !model_department_valid(out->department))
        return "department must be an INSEE department code (01..19, 2A, 2B, 21..95, 971..976)";
    if (out->status && !model_status_valid(out->status))
        return "status must be one of preparation, diagnostic, action_plan, monitoring, "
               "evaluation, closed";
    if (out->champ && (!*out->champ || strlen(out->champ) > MODEL_KEY_MAX))
        return "champ must be a champ key";
    if (out->cursor && !model_id_valid(out->cursor))
        return "cursor must be the `next` of a previous page";
    if (out->text && (!*out->text || strlen(out->text) > LIST_QUERY_TEXT_MAX))
        return "q must be 1 to 200 bytes";
    return NULL;
}
