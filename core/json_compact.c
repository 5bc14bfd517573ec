/*
 * json_compact.c — members of the compact JSON text ctgd writes, found without decoding it (see
 * json_compact.h).
 */
#include "ctg/json_compact.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The end of the string whose text starts at p (after its quote), or NULL. */
static const char *compact_skip_string(const char *p, const char *end)
{
    for (const char *from = p; from < end;) {
        const char *quote = memchr(from, '"', (size_t)(end - from));
        if (!quote)
            return NULL;
        size_t slashes = 0; /* an odd run of backslashes before it escapes it */
        while (quote - slashes > p && quote[-1 - (ptrdiff_t)slashes] == '\\')
            slashes++;
        if (slashes % 2 == 0)
            return quote + 1;
        from = quote + 1;
    }
    return NULL;
}

/* The end of the value of compact text at p, or NULL; what it holds is checked when read. */
static const char *compact_skip_value(const char *p, const char *end)
{
    if (p < end && *p == '"')
        return compact_skip_string(p + 1, end);
    if (p < end && *p != '{' && *p != '[') {
        while (p < end && *p != ',' && *p != '}' && *p != ']')
            p++;
        return p;
    }
    uint64_t arrays = 0; /* a bit per open container, set for an array */
    for (int depth = 0; p < end;) {
        char ch = *p++;
        if (ch == '"' && !(p = compact_skip_string(p, end)))
            return NULL;
        if (ch == '{' || ch == '[') {
            if (depth == 64)
                return NULL;
            arrays = arrays << 1 | (ch == '[');
            depth++;
        } else if (ch == '}' || ch == ']') {
            if ((arrays & 1) != (ch == ']'))
                return NULL; /* not what opened it: not a text of ours */
            arrays >>= 1;
            if (--depth == 0)
                return p;
        }
    }
    return NULL;
}

enum json_member json_compact_member(const char *text, size_t len, const char *key, size_t key_len,
                                     const char **value, size_t *value_len)
{
    const char *p = text, *end = text + len;
    if (end - p < 2 || *p++ != '{')
        return JSON_MEMBER_UNKNOWN;
    if (*p == '}')
        return p + 1 == end ? JSON_MEMBER_ABSENT : JSON_MEMBER_UNKNOWN;
    for (;;) {
        const char *k = p + 1;
        if (*p != '"' || !(p = compact_skip_string(k, end)) || p == end || *p != ':')
            return JSON_MEMBER_UNKNOWN;
        size_t n = (size_t)(p - 1 - k);
        const char *v = ++p;
        if (memchr(k, '\\', n) || !(p = compact_skip_value(v, end)) || p == end)
            return JSON_MEMBER_UNKNOWN;
        if (n == key_len && memcmp(k, key, n) == 0) {
            *value = v;
            *value_len = (size_t)(p - v);
            return JSON_MEMBER_FOUND;
        }
        if (*p == '}')
            return p + 1 == end ? JSON_MEMBER_ABSENT : JSON_MEMBER_UNKNOWN;
        if (*p++ != ',' || p == end)
            return JSON_MEMBER_UNKNOWN;
    }
}

bool json_compact_is_object(const char *text, size_t len)
{
    return len >= 2 && text[0] == '{' && compact_skip_value(text, text + len) == text + len;
}
