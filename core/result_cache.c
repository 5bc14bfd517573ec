/*
 * result_cache.c — the plugins' answers for one revision of a convention (see result_cache.h).
 *
 * The index is a jansson object: its members keep their order of insertion, so the first is
 * the least recently used once a hit moves its member to the end. Each member's key is
 * "<what>\0<id>", its value [rev, generation, content type, body]; the body's bytes are kept
 * as they are (any bytes: an export need not be UTF-8).
 */
#include "ctg/result_cache.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define KEY_MAX 512
/* Counted in the size beyond the key and the body: jansson's five values, the index's slot and
 * the allocator's rounding, about (anonymous memory grew 590-620 bytes more than key and body
 * an answer, over 4 000 to 8 500 answers kept). */
#define ENTRY_OVERHEAD 600

enum { AT_REV, AT_GENERATION, AT_TYPE, AT_BODY };

struct result_cache {
    json_t *index;
    size_t max_bytes, bytes;
    uint64_t hits, misses, evictions;
};

struct result_cache *result_cache_new(size_t max_bytes)
{
    struct result_cache *c = calloc(1, sizeof *c);
    if (!c || !(c->index = json_object())) {
        free(c);
        return NULL;
    }
    c->max_bytes = max_bytes;
    return c;
}

void result_cache_free(struct result_cache *c)
{
    if (!c)
        return;
    json_decref(c->index);
    free(c);
}

/* "<what>\0<id>" into `key`; its length, or 0 when it does not fit. */
static size_t make_key(char key[KEY_MAX], const char *what, const char *id)
{
    size_t what_len = strlen(what), id_len = strlen(id);
    if (what_len + 1 + id_len > KEY_MAX)
        return 0;
    memcpy(key, what, what_len);
    key[what_len] = '\0';
    memcpy(key + what_len + 1, id, id_len);
    return what_len + 1 + id_len;
}

static size_t entry_size(size_t key_len, const json_t *entry)
{
    return key_len + ENTRY_OVERHEAD + json_string_length(json_array_get(entry, AT_TYPE)) +
           json_string_length(json_array_get(entry, AT_BODY));
}

static void remove_entry(struct result_cache *c, const char *key, size_t key_len)
{
    json_t *entry = json_object_getn(c->index, key, key_len);
    if (!entry)
        return;
    c->bytes -= entry_size(key_len, entry);
    json_object_deln(c->index, key, key_len);
}

/* Drops the least recently used entries until `room` more bytes fit. */
static void make_room(struct result_cache *c, size_t room)
{
    while (c->bytes + room > c->max_bytes && json_object_size(c->index) > 0) {
        void *oldest = json_object_iter(c->index);
        remove_entry(c, json_object_iter_key(oldest), json_object_iter_key_len(oldest));
        c->evictions++;
    }
}

static bool entry_is(const json_t *entry, uint64_t rev, uint64_t generation)
{
    return (uint64_t)json_integer_value(json_array_get(entry, AT_REV)) == rev &&
           (uint64_t)json_integer_value(json_array_get(entry, AT_GENERATION)) == generation;
}

bool result_cache_get(struct result_cache *c, const char *what, const char *id, uint64_t rev,
                      uint64_t generation, struct cached_result *out)
{
    char key[KEY_MAX];
    size_t key_len = make_key(key, what, id);
    json_t *entry = key_len ? json_object_getn(c->index, key, key_len) : NULL;
    if (!entry || !entry_is(entry, rev, generation)) {
        c->misses++;
        return false;
    }
    /* the most recently used goes last: taken out, then put back */
    size_t size = entry_size(key_len, entry);
    json_incref(entry);
    json_object_deln(c->index, key, key_len);
    if (json_object_setn_new_nocheck(c->index, key, key_len, entry) < 0) {
        c->bytes -= size; /* out of memory: jansson let the entry go */
        c->misses++;
        return false;
    }
    const json_t *body = json_array_get(entry, AT_BODY);
    *out = (struct cached_result){.body = json_string_value(body),
                                  .len = json_string_length(body),
                                  .content_type = json_string_value(json_array_get(entry, AT_TYPE))};
    c->hits++;
    return true;
}

void result_cache_put(struct result_cache *c, const char *what, const char *id, uint64_t rev,
                      uint64_t generation, const char *content_type, const char *body,
                      size_t len)
{
    char key[KEY_MAX];
    size_t key_len = make_key(key, what, id);
    if (!key_len)
        return;
    remove_entry(c, key, key_len); /* a stale answer, if any */
    json_t *entry = json_pack("[I, I, s, o]", (json_int_t)rev, (json_int_t)generation,
                              content_type, json_stringn_nocheck(body, len));
    if (!entry)
        return; /* out of memory: computed again next time */
    size_t size = entry_size(key_len, entry);
    if (size > c->max_bytes) {
        json_decref(entry);
        return;
    }
    make_room(c, size);
    if (json_object_setn_new_nocheck(c->index, key, key_len, entry) == 0)
        c->bytes += size;
}

struct result_cache_stats result_cache_stats(const struct result_cache *c)
{
    return (struct result_cache_stats){.hits = c->hits, .misses = c->misses,
                                       .evictions = c->evictions,
                                       .entries = json_object_size(c->index),
                                       .bytes = c->bytes};
}
