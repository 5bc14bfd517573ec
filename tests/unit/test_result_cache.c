/*
 * test_result_cache.c — core/result_cache.c: an answer is found again only for its revision
 * and plugin generation, the least recently used goes first once the size is reached, what
 * cannot be kept (too large, a key too long, a size of 0) is not, and a body comes back byte
 * for byte, UTF-8 or not.
 */
#include "ctg/result_cache.h"

#include <string.h>

#include "check.h"

#define TYPE "application/json"

static void put(struct result_cache *c, const char *id, uint64_t rev, const char *body)
{
    result_cache_put(c, "indicators", id, rev, 1, TYPE, body, strlen(body));
}

/* The body kept for (id, rev) at generation 1, or NULL. */
static const char *get(struct result_cache *c, const char *id, uint64_t rev)
{
    static char copy[256];
    struct cached_result r;
    if (!result_cache_get(c, "indicators", id, rev, 1, &r))
        return NULL;
    CHECK_STR(r.content_type, TYPE);
    snprintf(copy, sizeof copy, "%.*s", (int)r.len, r.body);
    return copy;
}

static void test_found_for_its_revision_and_generation(void)
{
    struct result_cache *c = result_cache_new(1 << 20);
    put(c, "cv-1", 3, "{\"a\":1}");
    CHECK_STR(get(c, "cv-1", 3), "{\"a\":1}");
    CHECK(get(c, "cv-1", 2) == NULL);  /* another revision */
    CHECK(get(c, "cv-2", 3) == NULL);  /* another convention */
    struct cached_result r;
    CHECK(!result_cache_get(c, "indicators", "cv-1", 3, 2, &r)); /* after a reload */
    CHECK(!result_cache_get(c, "export/synthese", "cv-1", 3, 1, &r)); /* another question */
    put(c, "cv-1", 4, "{\"a\":2}"); /* the new revision's answer replaces the old one */
    CHECK_STR(get(c, "cv-1", 4), "{\"a\":2}");
    CHECK(get(c, "cv-1", 3) == NULL);
    struct result_cache_stats s = result_cache_stats(c);
    CHECK_INT(s.entries, 1);
    CHECK_INT(s.hits, 2);
    CHECK_INT(s.misses, 5);
    result_cache_free(c);
}

static void test_least_recently_used_goes_first(void)
{
    struct result_cache *probe = result_cache_new(1 << 20);
    put(probe, "cv-a", 1, "{\"x\":\"aaaaaaaaaaaaaaaa\"}");
    size_t one = result_cache_stats(probe).bytes; /* every entry below has this size */
    result_cache_free(probe);

    struct result_cache *c = result_cache_new(2 * one + one / 2);
    put(c, "cv-a", 1, "{\"x\":\"aaaaaaaaaaaaaaaa\"}");
    put(c, "cv-b", 1, "{\"x\":\"bbbbbbbbbbbbbbbb\"}");
    CHECK(get(c, "cv-a", 1) != NULL); /* a is now the most recently used */
    put(c, "cv-c", 1, "{\"x\":\"cccccccccccccccc\"}");
    CHECK(get(c, "cv-b", 1) == NULL); /* b went */
    CHECK(get(c, "cv-a", 1) != NULL);
    CHECK(get(c, "cv-c", 1) != NULL);
    struct result_cache_stats s = result_cache_stats(c);
    CHECK_INT(s.entries, 2);
    CHECK_INT(s.evictions, 1);
    CHECK_INT(s.bytes, 2 * one);
    result_cache_free(c);
}

static void test_what_is_not_kept(void)
{
    struct result_cache *none = result_cache_new(0);
    put(none, "cv-1", 1, "{}");
    CHECK(get(none, "cv-1", 1) == NULL);
    CHECK_INT(result_cache_stats(none).bytes, 0);
    result_cache_free(none);

    struct result_cache *c = result_cache_new(1024);
    char large[2048];
    memset(large, 'x', sizeof large - 1);
    large[sizeof large - 1] = '\0';
    put(c, "cv-1", 1, "{}");
    put(c, "cv-2", 1, large); /* larger than the whole cache: kept nowhere, nothing evicted */
    CHECK(get(c, "cv-2", 1) == NULL);
    CHECK(get(c, "cv-1", 1) != NULL);
    char long_id[600];
    memset(long_id, 'i', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = '\0';
    put(c, long_id, 1, "{}");
    CHECK(get(c, long_id, 1) == NULL);
    CHECK_INT(result_cache_stats(c).entries, 1);
    result_cache_free(c);
}

static void test_any_bytes_come_back_whole(void)
{
    struct result_cache *c = result_cache_new(1 << 20);
    static const char body[] = "a\0b\xff\xfe"; /* a NUL, and bytes that are not UTF-8 */
    result_cache_put(c, "export/x", "cv-1", 1, 1, "text/csv; charset=latin1", body, 5);
    struct cached_result r;
    CHECK(result_cache_get(c, "export/x", "cv-1", 1, 1, &r));
    CHECK(r.len == 5 && memcmp(r.body, body, 5) == 0);
    CHECK_STR(r.content_type, "text/csv; charset=latin1");
    result_cache_free(c);
}

int main(void)
{
    test_found_for_its_revision_and_generation();
    test_least_recently_used_goes_first();
    test_what_is_not_kept();
    test_any_bytes_come_back_whole();
    return check_summary("test_result_cache");
}
