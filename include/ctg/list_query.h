/*
 * list_query.h — the query of GET /v1/conventions (docs/api.md, "Listing"): its parameters,
 * read from the parsed query string and checked, apart from any request so that the fuzzing
 * harness (tests/fuzz/fuzz_query.c) calls exactly what the route calls.
 */
#ifndef CTG_LIST_QUERY_H
#define CTG_LIST_QUERY_H

#include <event2/keyvalq_struct.h>
#include <stddef.h>

#define LIST_QUERY_LIMIT_DEFAULT 50
#define LIST_QUERY_LIMIT_MAX     1000
#define LIST_QUERY_TEXT_MAX      200   /* bytes of q */

/* Every value is borrowed from the query it was read from; NULL when the parameter is absent. */
struct list_query {
    const char *department, *status, *champ; /* index filters */
    const char *cursor;                      /* the `next` of the previous page */
    const char *text;                        /* q: a substring of the id, title or territory */
    size_t limit;                            /* 1..LIST_QUERY_LIMIT_MAX */
};

/* The parameters the route takes (NULL-terminated), for http_query_only(). */
extern const char *const list_query_params[];

/*
 * Reads the parameters of `query` into `out`. Returns NULL when every value is good, else the
 * message of the 400 bad_parameter to answer. Unknown and repeated parameters are not its
 * concern: the route refuses them first.
 */
const char *list_query_read(const struct evkeyvalq *query, struct list_query *out);

#endif
