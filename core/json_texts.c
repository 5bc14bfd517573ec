/*
 * json_texts.c — JSON texts back to back in one buffer (see json_texts.h).
 */
#include "ctg/json_texts.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Grows *p (of *cap items of `size` bytes) to hold at least `need` items. */
static int reserve(void **p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return 0;
    size_t grown = *cap ? *cap : 16;
    while (grown < need)
        grown *= 2;
    if (grown > SIZE_MAX / size)
        return -1;
    void *q = realloc(*p, grown * size);
    if (!q)
        return -1;
    *p = q;
    *cap = grown;
    return 0;
}

int json_texts_add(struct json_texts *t, const char *text, size_t len)
{
    if (len > SIZE_MAX - t->len || reserve((void **)&t->buf, &t->cap, t->len + len, 1) < 0 ||
        reserve((void **)&t->ends, &t->cap_n, t->n + 1, sizeof *t->ends) < 0)
        return -1;
    memcpy(t->buf + t->len, text, len);
    t->len += len;
    t->ends[t->n++] = t->len;
    return 0;
}

const char *json_texts_get(const struct json_texts *t, size_t i, size_t *len)
{
    size_t start = i ? t->ends[i - 1] : 0;
    *len = t->ends[i] - start;
    return t->buf + start;
}

void json_texts_clear(struct json_texts *t)
{
    free(t->buf);
    free(t->ends);
    memset(t, 0, sizeof *t);
}
