/*
 * json_write.c — compact JSON text of a jansson value through yajl_gen (see json_write.h).
 *
 * yajl escapes strings as jansson does (the two-letter escapes, \u00XX in upper case for the
 * other control characters, nothing else). Reals are written here, as jansson writes them: 17
 * significant digits, ".0" when the text would read back as an integer, no '+' and no leading
 * zero in the exponent. A value yajl_gen refuses (nested deeper than its 128 levels) is left
 * to json_dumps.
 */
#include "ctg/json_write.h"

#include <yajl/yajl_gen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct text {
    char *buf;
    size_t len, cap;
    bool failed; /* out of memory */
};

static void append(void *ctx, const char *s, size_t n)
{
    struct text *t = ctx;
    if (t->failed)
        return;
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 1024;
        while (cap < t->len + n + 1)
            cap *= 2;
        char *grown = realloc(t->buf, cap);
        if (!grown) {
            t->failed = true;
            return;
        }
        t->buf = grown;
        t->cap = cap;
    }
    memcpy(t->buf + t->len, s, n);
    t->len += n;
}

/* jansson's jsonp_dtostr at its default precision. */
static size_t format_real(double value, char out[32])
{
    int n = snprintf(out, 32, "%.17g", value);
    size_t len = n > 0 && n < 28 ? (size_t)n : 0;
    if (!strchr(out, '.') && !strchr(out, 'e')) {
        memcpy(out + len, ".0", 3);
        len += 2;
    }
    char *exponent = strchr(out, 'e');
    if (exponent) {
        char *start = exponent + 1, *end = start + 1;
        if (*start == '-')
            start++;
        while (*end == '0')
            end++;
        if (end != start) {
            memmove(start, end, (size_t)(out + len + 1 - end));
            len -= (size_t)(end - start);
        }
    }
    return len;
}

/* The decimal text of `value`; yajl_gen_integer's own goes through sprintf, ten times slower. */
static size_t format_integer(long long value, char out[24])
{
    char digits[24];
    size_t n = 0;
    unsigned long long magnitude = value < 0 ? 0ull - (unsigned long long)value
                                             : (unsigned long long)value;
    do
        digits[n++] = (char)('0' + magnitude % 10);
    while (magnitude /= 10);
    size_t len = 0;
    if (value < 0)
        out[len++] = '-';
    while (n)
        out[len++] = digits[--n];
    return len;
}

static bool write_value(yajl_gen g, const json_t *value)
{
    switch (json_typeof(value)) {
    case JSON_OBJECT: {
        const char *key;
        size_t key_len; /* a key may hold a NUL */
        json_t *member;
        if (yajl_gen_map_open(g) != yajl_gen_status_ok)
            return false;
        json_object_keylen_foreach((json_t *)value, key, key_len, member) {
            if (yajl_gen_string(g, (const unsigned char *)key, key_len) != yajl_gen_status_ok ||
                !write_value(g, member))
                return false;
        }
        return yajl_gen_map_close(g) == yajl_gen_status_ok;
    }
    case JSON_ARRAY: {
        size_t i;
        json_t *item;
        if (yajl_gen_array_open(g) != yajl_gen_status_ok)
            return false;
        json_array_foreach(value, i, item) {
            if (!write_value(g, item))
                return false;
        }
        return yajl_gen_array_close(g) == yajl_gen_status_ok;
    }
    case JSON_STRING:
        return yajl_gen_string(g, (const unsigned char *)json_string_value(value),
                               json_string_length(value)) == yajl_gen_status_ok;
    case JSON_INTEGER: {
        char text[24];
        size_t len = format_integer((long long)json_integer_value(value), text);
        return yajl_gen_number(g, text, len) == yajl_gen_status_ok;
    }
    case JSON_REAL: {
        char text[32];
        size_t len = format_real(json_real_value(value), text);
        return len && yajl_gen_number(g, text, len) == yajl_gen_status_ok;
    }
    case JSON_TRUE:
    case JSON_FALSE:
        return yajl_gen_bool(g, json_is_true(value)) == yajl_gen_status_ok;
    case JSON_NULL:
        return yajl_gen_null(g) == yajl_gen_status_ok;
    }
    return false;
}

char *json_write(const json_t *value, size_t *len)
{
    if (!value)
        return NULL; /* what json_pack gives for a text that is not UTF-8, say */
    struct text t = {0};
    yajl_gen g = yajl_gen_alloc(NULL);
    bool written = g && yajl_gen_config(g, yajl_gen_print_callback, append, &t) &&
                   write_value(g, value);
    if (g)
        yajl_gen_free(g);
    append(&t, "", 1); /* the NUL */
    if (!written || t.failed) {
        free(t.buf);
        char *text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
        if (text && len)
            *len = strlen(text);
        return text;
    }
    if (len)
        *len = t.len - 1;
    return t.buf;
}
