/*
 * json_write.c — compact JSON text of a jansson value (see json_write.h).
 *
 * The text is written straight into one growing buffer: strings are copied in runs and only
 * what jansson escapes is escaped (the two-letter escapes, \u00XX in upper case for the other
 * control characters, nothing else). Reals are written as jansson writes them: 17 significant
 * digits, ".0" when the text would read back as an integer, no '+' and no leading zero in the
 * exponent.
 */
#include "ctg/json_write.h"
#include "ctg/json_bytes.h"
#include "ctg/json_verbatim.h"
#include "ctg/utf8.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Makes the buffer hold `n` more bytes and a NUL; false once memory has run out. */
static bool grow(struct json_text *t, size_t n)
{
    size_t cap = t->cap ? t->cap : 1024;
    while (cap < t->len + n + 1)
        cap *= 2;
    char *grown = realloc(t->buf, cap);
    if (!grown) {
        t->failed = true;
        return false;
    }
    t->buf = grown;
    t->cap = cap;
    return true;
}

/* Room for `n` more bytes and a NUL; false once memory has run out. */
static inline bool reserve(struct json_text *t, size_t n)
{
    return !t->failed && (t->len + n + 1 <= t->cap || grow(t, n));
}

static inline void put(struct json_text *t, const char *s, size_t n)
{
    if (reserve(t, n)) {
        memcpy(t->buf + t->len, s, n);
        t->len += n;
    }
}

static inline void put_char(struct json_text *t, char c)
{
    if (reserve(t, 1))
        t->buf[t->len++] = c;
}

/* The escape of `c`, a byte that needs one: its two-letter form, or \u00XX. */
static void put_escape(struct json_text *t, unsigned char c)
{
    static const char hex[] = "0123456789ABCDEF";
    char letter = c == '"' ? '"' : c == '\\' ? '\\' : c == '\b' ? 'b' : c == '\f' ? 'f'
                : c == '\n' ? 'n' : c == '\r' ? 'r' : c == '\t' ? 't' : 0;
    if (letter) {
        const char two[2] = {'\\', letter};
        put(t, two, 2);
        return;
    }
    const char six[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
    put(t, six, 6);
}

/* The rest of a string from its first byte that needs an escape, in runs between escapes. */
static void put_escaped(struct json_text *t, const char *s, size_t n)
{
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!json_byte_special(c))
            continue;
        put(t, s + run, i - run);
        put_escape(t, c);
        run = i + 1;
    }
    put(t, s + run, n - run);
}

/*
 * A string (or key) between quotes. Most have nothing to escape (keys, ids, dates): they are
 * copied in one pass, eight bytes at a time, into room made once.
 */
static void put_string(struct json_text *t, const char *s, size_t n)
{
    if (!reserve(t, n + 2))
        return;
    char *out = t->buf + t->len;
    size_t i = 0;
    out[0] = '"';
    for (uint64_t w; i + 8 <= n && (memcpy(&w, s + i, 8), !json_word_special(w)); i += 8)
        memcpy(out + 1 + i, &w, 8);
    for (; i < n && !json_byte_special((unsigned char)s[i]); i++)
        out[1 + i] = s[i];
    t->len += 1 + i;
    if (i < n)
        put_escaped(t, s + i, n - i);
    put_char(t, '"');
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

/* The decimal text of `value`, without sprintf's cost. */
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

static void write_value(struct json_text *t, const json_t *value);

/* An object; the texts of the members that `v` has (when not NULL) are copied from it. */
static void write_object(struct json_text *t, json_t *object, const struct json_verbatim *v)
{
    /* the iterator itself: json_object_keylen_foreach finds it again from the key, thrice */
    void *first = json_object_iter(object);
    put_char(t, '{');
    for (void *it = first; it; it = json_object_iter_next(object, it)) {
        const char *key = json_object_iter_key(it), *text;
        size_t key_len = json_object_iter_key_len(it), len; /* NULs too */
        const json_t *value = json_object_iter_value(it);
        if (it != first)
            put_char(t, ',');
        put_string(t, key, key_len);
        put_char(t, ':');
        if (v && (text = json_verbatim_find(v, key, key_len, value, &len)))
            put(t, text, len);
        else
            write_value(t, value);
    }
    put_char(t, '}');
}

static void write_value(struct json_text *t, const json_t *value)
{
    char number[32];
    switch (json_typeof(value)) {
    case JSON_OBJECT:
        write_object(t, (json_t *)value, NULL);
        return;
    case JSON_ARRAY: {
        size_t i;
        json_t *item;
        put_char(t, '[');
        json_array_foreach(value, i, item) {
            if (i)
                put_char(t, ',');
            write_value(t, item);
        }
        put_char(t, ']');
        return;
    }
    case JSON_STRING:
        put_string(t, json_string_value(value), json_string_length(value));
        return;
    case JSON_INTEGER:
        put(t, number, format_integer((long long)json_integer_value(value), number));
        return;
    case JSON_REAL:
        put(t, number, format_real(json_real_value(value), number));
        return;
    case JSON_TRUE:
        put(t, "true", 4);
        return;
    case JSON_FALSE:
        put(t, "false", 5);
        return;
    case JSON_NULL:
        put(t, "null", 4);
        return;
    }
}

/* The text written, NUL-terminated, its length in *len; NULL (and nothing kept) once failed. */
static char *finish(struct json_text *t, size_t *len)
{
    if (!reserve(t, 0)) {
        free(t->buf);
        *t = (struct json_text){0};
        return NULL;
    }
    t->buf[t->len] = '\0';
    if (len)
        *len = t->len;
    return t->buf;
}

char *json_write(const json_t *value, size_t *len)
{
    return json_write_verbatim(value, NULL, len);
}

char *json_write_verbatim(const json_t *value, const struct json_verbatim *v, size_t *len)
{
    if (!value)
        return NULL; /* what json_pack gives for a text that is not UTF-8, say */
    struct json_text t = {0};
    if (v && v->count && json_is_object(value))
        write_object(&t, (json_t *)value, v);
    else
        write_value(&t, value);
    return finish(&t, len);
}

/* ---- objects written member by member ---- */

void json_text_object_start(struct json_text *t)
{
    *t = (struct json_text){0};
    put_char(t, '{');
}

/* The key of the next member, after a comma unless it is the first. */
static void put_key(struct json_text *t, const char *key)
{
    if (t->len > 1)
        put_char(t, ',');
    put_string(t, key, strlen(key));
    put_char(t, ':');
}

/* Whether a string may be written: one that is not UTF-8 fails the text, as json_pack refuses. */
static bool text_string_valid(struct json_text *t, const char *value, size_t len)
{
    if (!utf8_valid(value, len))
        t->failed = true;
    return !t->failed;
}

void json_text_member_string(struct json_text *t, const char *key, const char *value)
{
    size_t len = strlen(value);
    if (!text_string_valid(t, value, len))
        return;
    put_key(t, key);
    put_string(t, value, len);
}

void json_text_member_integer(struct json_text *t, const char *key, long long value)
{
    char number[24];
    put_key(t, key);
    put(t, number, format_integer(value, number));
}

void json_text_member_value(struct json_text *t, const char *key, const json_t *value)
{
    if (!value)
        return;
    put_key(t, key);
    write_value(t, value);
}

void json_text_member_array_start(struct json_text *t, const char *key)
{
    put_key(t, key);
    put_char(t, '[');
}

void json_text_item_string(struct json_text *t, const char *value, size_t len)
{
    if (!text_string_valid(t, value, len))
        return;
    if (t->buf[t->len - 1] != '[')
        put_char(t, ',');
    put_string(t, value, len);
}

void json_text_array_end(struct json_text *t)
{
    put_char(t, ']');
}

char *json_text_object_end(struct json_text *t, size_t *len)
{
    put_char(t, '}');
    return finish(t, len);
}
