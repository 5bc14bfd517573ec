/*
 * test_list_query.c — core/list_query.c: the defaults, every parameter accepted and refused,
 * and the limits that strtol alone would take (found by tests/fuzz/fuzz_query.c).
 */
#include "ctg/list_query.h"

#include <sys/queue.h>

#include <event2/http.h>

#include "check.h"

/* Reads `query` (a query string) as the route does; returns the refusal or NULL. The values
 * of `out` live in `params` until the caller clears it. */
static const char *read_query(const char *query, struct evkeyvalq *params, struct list_query *out)
{
    TAILQ_INIT(params);
    CHECK(evhttp_parse_query_str(query, params) == 0);
    return list_query_read(params, out);
}

static void check_refused(const char *query, const char *message_start)
{
    struct evkeyvalq params;
    struct list_query q;
    const char *bad = read_query(query, &params, &q);
    if (!bad || strncmp(bad, message_start, strlen(message_start)) != 0)
        fprintf(stderr, "'%s': %s\n", query, bad ? bad : "accepted");
    CHECK(bad && strncmp(bad, message_start, strlen(message_start)) == 0);
    evhttp_clear_headers(&params);
}

static void test_defaults(void)
{
    struct evkeyvalq params;
    struct list_query q;
    CHECK(read_query("", &params, &q) == NULL);
    CHECK(!q.department && !q.status && !q.champ && !q.cursor && !q.text);
    CHECK_INT(q.limit, LIST_QUERY_LIMIT_DEFAULT);
    evhttp_clear_headers(&params);
}

static void test_every_parameter(void)
{
    struct evkeyvalq params;
    struct list_query q;
    CHECK(read_query("department=2A&status=action_plan&champ=petite-enfance&q=Pays%20Bigouden"
                     "&limit=1000&cursor=29-pays-bigouden-sud", &params, &q) == NULL);
    CHECK_STR(q.department, "2A");
    CHECK_STR(q.status, "action_plan");
    CHECK_STR(q.champ, "petite-enfance");
    CHECK_STR(q.text, "Pays Bigouden");
    CHECK_STR(q.cursor, "29-pays-bigouden-sud");
    CHECK_INT(q.limit, 1000);
    evhttp_clear_headers(&params);
}

static void test_bad_values(void)
{
    check_refused("department=20", "department");
    check_refused("status=open", "status");
    check_refused("champ=", "champ");
    check_refused("champ=cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
                  "c", "champ"); /* 65 bytes */
    check_refused("cursor=-x", "cursor");
    check_refused("q=", "q must");
}

static void test_limit_is_digits_only(void)
{
    static const char *const refused[] = {
        "limit=", "limit=0", "limit=1001", "limit=99999999999999999999", "limit=abc",
        "limit=5x", "limit=-1", "limit=%2B5", "limit=%205", "limit=%0C001", "limit=5%20", NULL,
    };
    for (const char *const *query = refused; *query; query++)
        check_refused(*query, "limit");
    struct evkeyvalq params;
    struct list_query q;
    CHECK(read_query("limit=0007", &params, &q) == NULL);
    CHECK_INT(q.limit, 7);
    evhttp_clear_headers(&params);
}

int main(void)
{
    test_defaults();
    test_every_parameter();
    test_bad_values();
    test_limit_is_digits_only();
    return check_summary("test_list_query");
}
