/*
 * result_cache.h — what the plugins computed for one revision of a convention (its indicators,
 * its exports), kept to answer the same question again without parsing the document or
 * calling into Lua.
 *
 * An answer is kept under (what, id) with the document's revision and the plugins' generation:
 * a new revision or a reload makes it stale, and the next request computes it again (a stale
 * answer goes as the least recently used). The caller keeps only an answer of entries declared
 * `pure` whose computation read nothing but the document (plugins.h). The least recently used
 * answers go first once the cache holds more than its size; a size of 0 keeps nothing.
 */
#ifndef CTG_RESULT_CACHE_H
#define CTG_RESULT_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct result_cache;

struct cached_result {
    const char *body; /* valid until the next result_cache_put or result_cache_free */
    size_t len;
    const char *content_type;
};

struct result_cache_stats {
    uint64_t hits, misses, evictions;
    size_t entries, bytes;
};

/* NULL when out of memory. */
struct result_cache *result_cache_new(size_t max_bytes);
void result_cache_free(struct result_cache *c);

/* Finds the answer to `what` for revision `rev` of `id` under plugin generation `generation`. */
bool result_cache_get(struct result_cache *c, const char *what, const char *id, uint64_t rev,
                      uint64_t generation, struct cached_result *out);

/* Keeps a copy of `body` as that answer (in place of an older one); out of memory keeps none. */
void result_cache_put(struct result_cache *c, const char *what, const char *id, uint64_t rev,
                      uint64_t generation, const char *content_type, const char *body,
                      size_t len);

struct result_cache_stats result_cache_stats(const struct result_cache *c);

#endif
