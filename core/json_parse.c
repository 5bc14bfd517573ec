/*
 * json_parse.c — JSON bodies into jansson values, through yajl's lexer (see json_parse.h).
 *
 * The builder takes only what json_loadb takes, and builds what json_loadb builds: strings
 * and keys must be well-formed UTF-8 (yajl lets overlong forms through), numbers are
 * told apart and read as jansson does, objects keep their keys in the order of the text. Any
 * doubt stops the build, and json_loadb reads the text again: it then gives its own value or
 * its own error, whose message the client sees.
 */
#include "ctg/json_parse.h"
#include "ctg/json_arena.h"
#include "ctg/utf8.h"

#include <yajl/yajl_parse.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define LOADB_FLAGS JSON_REJECT_DUPLICATES
#define DEPTH_MAX 2048 /* json_loadb's own limit (JSON_PARSER_MAX_DEPTH) */

/* A container being filled, and the members set in it (an object's: a duplicate key sets none). */
struct open_container {
    json_t *value;
    size_t members;
};

struct builder {
    yajl_handle parser;
    json_t *root;
    size_t root_end; /* the offset just after the root's closing bracket */
    struct open_container *open; /* innermost last */
    size_t depth, cap;
    char *key;     /* the key of the next member (yajl's own copy may not outlive the call) */
    size_t key_len, key_cap;
};

/* Puts `value` (a new reference, which it takes) in the open container, or makes it the root. */
static int attach(struct builder *b, json_t *value)
{
    if (!value)
        return 0;
    if (b->depth == DEPTH_MAX) {
        json_decref(value); /* json_loadb counts every value, a scalar too, in its depth */
        return 0;
    }
    if (b->depth == 0) {
        if (b->root || !(json_is_object(value) || json_is_array(value))) {
            json_decref(value); /* json_loadb wants one object or array */
            return 0;
        }
        b->root = value;
        return 1;
    }
    struct open_container *parent = &b->open[b->depth - 1];
    parent->members++;
    if (json_is_array(parent->value))
        return json_array_append_new(parent->value, value) == 0;
    return json_object_setn_new_nocheck(parent->value, b->key, b->key_len, value) == 0;
}

static int on_null(void *ctx)
{
    return attach(ctx, json_null());
}

static int on_boolean(void *ctx, int value)
{
    return attach(ctx, json_boolean(value));
}

/* The integer of at most 18 digits (no overflow possible) that `text` is, into *out. */
static bool small_integer(const char *text, size_t len, long long *out)
{
    bool negative = len > 0 && text[0] == '-';
    size_t i = negative;
    if (len == i || len - i > 18)
        return false;
    long long value = 0;
    for (; i < len; i++) {
        if (text[i] < '0' || text[i] > '9')
            return false;
        value = value * 10 + (text[i] - '0');
    }
    *out = negative ? -value : value;
    return true;
}

/* Most numbers of a convention are small integers: read without a copy or strtoll. */
enum json_number_kind json_number_read(const char *text, size_t len, long long *integer,
                                       double *real)
{
    if (small_integer(text, len, integer))
        return JSON_NUMBER_INTEGER;
    char digits[64];
    if (len >= sizeof digits)
        return JSON_NUMBER_UNREAD; /* no number jansson writes is that long */
    memcpy(digits, text, len);
    digits[len] = '\0';
    char *end;
    errno = 0;
    if (strpbrk(digits, ".eE")) {
        *real = strtod(digits, &end);
        /* an underflow is read as jansson reads it, to a tiny number or 0 */
        bool overflow = errno == ERANGE && (*real == HUGE_VAL || *real == -HUGE_VAL);
        return *end || overflow ? JSON_NUMBER_UNREAD : JSON_NUMBER_REAL;
    }
    *integer = strtoll(digits, &end, 10);
    return *end || errno == ERANGE ? JSON_NUMBER_UNREAD : JSON_NUMBER_INTEGER;
}

static int on_number(void *ctx, const char *text, size_t len)
{
    long long integer;
    double real;
    switch (json_number_read(text, len, &integer, &real)) {
    case JSON_NUMBER_INTEGER:
        return attach(ctx, json_integer((json_int_t)integer));
    case JSON_NUMBER_REAL:
        return attach(ctx, json_real(real));
    default:
        return 0; /* out of range: json_loadb's error */
    }
}

/*
 * What json_loadb takes for a string or a key: well-formed UTF-8 (yajl lets overlong forms
 * through) and no NUL (refused without JSON_ALLOW_NUL). Checked here, with a faster check than
 * jansson's own, which is then skipped.
 */
static bool text_accepted(const unsigned char *text, size_t len)
{
    return !memchr(text, '\0', len) && utf8_valid((const char *)text, len);
}

static int on_string(void *ctx, const unsigned char *value, size_t len)
{
    if (!text_accepted(value, len))
        return 0;
    return attach(ctx, json_stringn_nocheck((const char *)value, len));
}

static int on_key(void *ctx, const unsigned char *key, size_t len)
{
    struct builder *b = ctx;
    if (!text_accepted(key, len))
        return 0;
    if (len + 1 > b->key_cap) {
        size_t cap = len + 1 > 2 * b->key_cap ? len + 1 : 2 * b->key_cap;
        char *grown = realloc(b->key, cap);
        if (!grown)
            return 0;
        b->key = grown;
        b->key_cap = cap;
    }
    memcpy(b->key, key, len);
    b->key[len] = '\0';
    b->key_len = len;
    return 1;
}

static int open_container(struct builder *b, json_t *container)
{
    if (!container)
        return 0;
    if (b->depth == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 32;
        struct open_container *grown = realloc(b->open, cap * sizeof *grown);
        if (!grown) {
            json_decref(container);
            return 0;
        }
        b->open = grown;
        b->cap = cap;
    }
    if (!attach(b, json_incref(container))) {
        json_decref(container);
        return 0;
    }
    b->open[b->depth++] = (struct open_container){container, 0};
    json_decref(container); /* its parent (or the root) holds it */
    return 1;
}

static int on_start_map(void *ctx)
{
    return open_container(ctx, json_object());
}

static int on_start_array(void *ctx)
{
    return open_container(ctx, json_array());
}

/*
 * A duplicate key replaces the member of the same key: the object then has fewer members than
 * were set in it, and json_loadb says which key it was.
 */
static int on_end(void *ctx)
{
    struct builder *b = ctx;
    const struct open_container *closed = &b->open[b->depth - 1];
    if (json_is_object(closed->value) && json_object_size(closed->value) != closed->members)
        return 0;
    if (--b->depth == 0)
        b->root_end = yajl_get_bytes_consumed(b->parser);
    return 1;
}

static const yajl_callbacks callbacks = {
    .yajl_null = on_null,
    .yajl_boolean = on_boolean,
    .yajl_number = on_number,
    .yajl_string = on_string,
    .yajl_start_map = on_start_map,
    .yajl_map_key = on_key,
    .yajl_end_map = on_end,
    .yajl_start_array = on_start_array,
    .yajl_end_array = on_end,
};

/*
 * Texts where yajl and json_loadb disagree, which json_loadb reads: an escaped UTF-16
 * surrogate (\uD800 to \uDFFF; yajl reads a lone or ill-paired one into something else where
 * json_loadb refuses it), and a form feed or vertical tab (white space to yajl, not to JSON).
 */
static bool yajl_may_differ(const char *text, size_t len)
{
    const char *end = text + len;
    if (memchr(text, '\f', len) || memchr(text, '\v', len))
        return true;
    for (const char *p = text; (p = memchr(p, '\\', (size_t)(end - p))); p++)
        if (end - p >= 4 && p[1] == 'u' && (p[2] == 'd' || p[2] == 'D') && p[3] &&
            strchr("89abcdefABCDEF", p[3]))
            return true;
    return false;
}

bool json_space_only(const char *text, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!strchr(" \t\n\r", text[i]) || !text[i])
            return false;
    return true;
}

/* The value when the builder took the whole text for certain, else NULL. */
static json_t *build(const char *text, size_t len)
{
    struct builder b = {0};
    b.parser = yajl_alloc(&callbacks, NULL, &b);
    bool built = b.parser &&
                 yajl_parse(b.parser, (const unsigned char *)text, len) == yajl_status_ok &&
                 yajl_complete_parse(b.parser) == yajl_status_ok && b.root && b.depth == 0 &&
                 /* yajl does not see a string begun after the value and never ended */
                 json_space_only(text + b.root_end, len - b.root_end);
    if (b.parser)
        yajl_free(b.parser);
    free(b.open);
    free(b.key);
    if (built)
        return b.root;
    json_decref(b.root);
    return NULL;
}

json_t *json_parse_body(const char *text, size_t len, json_error_t *err)
{
    struct json_arena *arena = json_arena_open();
    json_t *value = yajl_may_differ(text, len) ? NULL : build(text, len);
    if (!value)
        value = json_loadb(text, len, LOADB_FLAGS, err);
    json_arena_close(arena);
    return value;
}
