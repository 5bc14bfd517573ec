/*
 * json_texts.h — JSON texts back to back in one growing buffer: the stored documents of a
 * report, the events of one pass of the on_change handlers. They reach the plugins as text,
 * decoded straight into Lua values (lua_json_push_text), never as a jansson tree first.
 */
#ifndef CTG_JSON_TEXTS_H
#define CTG_JSON_TEXTS_H

#include <stddef.h>

struct json_texts {
    char *buf;   /* every text, back to back (no separator, no NUL) */
    size_t len, cap;
    size_t *ends; /* ends[i]: the offset where text i ends; it starts where text i - 1 ends */
    size_t n, cap_n;
};

/* Appends a copy of `text`; -1 (nothing appended) when out of memory. */
int json_texts_add(struct json_texts *t, const char *text, size_t len);

/* Text `i` (< t->n): its start, and its length in *len. */
const char *json_texts_get(const struct json_texts *t, size_t i, size_t *len);

/* Frees the buffers and empties `t` for reuse. */
void json_texts_clear(struct json_texts *t);

#endif
