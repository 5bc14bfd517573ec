/*
 * lua_json.c — JSON values (jansson) as Lua values and back, and the ctg.json module (see
 * lua_json.h).
 *
 * Owns the null sentinel, the two metatables that mark arrays and objects (kept in the registry),
 * both conversions, and encode/decode for plugins. The conversions use raw table access only:
 * no metamethod runs, so a plugin's code never runs in the middle of one.
 *
 * Lua to JSON keeps the path of the value being converted as a chain of segments on the C stack
 * and renders it only when a value is refused, so a successful conversion allocates nothing but
 * the JSON values themselves. A refusal abandons the whole conversion: the partial result is
 * freed on the way up and lua_json_to restores the stack height once, at the end.
 */
#include "ctg/lua_json.h"
#include "ctg/json_compact.h"
#include "ctg/json_parse.h"
#include "ctg/utf8.h"

#include <lauxlib.h>
#include <yajl/yajl_parse.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define ARRAY_MT_KEY  "ctg.json.array_mt"
#define OBJECT_MT_KEY "ctg.json.object_mt"
#define HELD_MT_KEY   "ctg.json.held"
#define TEXT_DECODER_MT_KEY "ctg.json.text_decoder"
#define TEXT_HINTS_KEY "ctg.json.text_hints"

/*
 * Stored documents share their shape, so each container is created at the size its
 * predecessor in the same place had (the same depth, the same rank in its parent), in this
 * text or an earlier one: tables are not grown key by key. A wrong guess costs one table's
 * growth or slack, no more.
 */
#define TEXT_HINT_SLOTS 256

#define MIXED_KEYS "mixed keys: a table with both string and integer keys is neither an array " \
                   "nor an object"

/* About what jansson takes for one value beyond its text: the node, its slot, a key's entry. */
#define JSON_VALUE_COST 64

/* json.null is the address of this byte as a light userdata: unique, equal in every state, and
 * pushed without allocating. */
static char null_sentinel;

/* The address of this byte is the registry key of the size bound (lua_json_set_size_max). */
static char size_max_key;

/* The address of this byte is the registry key of the documents read on demand's lazy_state. */
static char lazy_state_key;

/* ---- the registry ---------------------------------------------------------------------- */

static int refuse_write(lua_State *L)
{
    return luaL_error(L, "json.array_mt and json.object_mt cannot be changed");
}

/*
 * The metatable of a kind is shared by every document of the state, so no Lua code may reach
 * it: its __metatable field answers getmetatable() with a marker instead — an empty table that
 * refuses writes — and json.array_mt / json.object_mt are those markers.
 */
static void ensure_kind_metatable(lua_State *L, const char *key, const char *name)
{
    if (lua_getfield(L, LUA_REGISTRYINDEX, key) == LUA_TNIL) {
        lua_createtable(L, 0, 2);
        lua_pushstring(L, name);
        lua_setfield(L, -2, "__name");
        lua_newtable(L); /* the marker */
        lua_createtable(L, 0, 2);
        lua_pushcfunction(L, refuse_write);
        lua_setfield(L, -2, "__newindex");
        lua_pushboolean(L, 0);
        lua_setfield(L, -2, "__metatable");
        lua_setmetatable(L, -2);
        lua_setfield(L, -2, "__metatable");
        lua_setfield(L, LUA_REGISTRYINDEX, key);
    }
    lua_pop(L, 1);
}

/* Pushes the marker that getmetatable() gives for the kind of `key`. */
static void push_kind_marker(lua_State *L, const char *key)
{
    lua_getfield(L, LUA_REGISTRYINDEX, key);
    lua_getfield(L, -1, "__metatable");
    lua_remove(L, -2);
}

/*
 * What encode and decode own while a Lua call may still raise a memory error. It lives in a
 * userdata whose __gc frees it, so such an error leaks nothing; on success it is released at once.
 */
struct held {
    json_t *value;
    char *text;
};

static void held_release(struct held *h)
{
    json_decref(h->value);
    free(h->text);
    h->value = NULL;
    h->text = NULL;
}

static int held_gc(lua_State *L)
{
    held_release(lua_touserdata(L, 1));
    return 0;
}

static int text_decoder_gc(lua_State *L); /* JSON text to Lua, below */
static void lazy_init(lua_State *L);       /* documents read on demand, below */

static struct held *push_held(lua_State *L)
{
    struct held *h = lua_newuserdatauv(L, sizeof *h, 0);
    *h = (struct held){NULL, NULL};
    luaL_setmetatable(L, HELD_MT_KEY);
    return h;
}

void lua_json_init(lua_State *L)
{
    ensure_kind_metatable(L, ARRAY_MT_KEY, "json.array");
    ensure_kind_metatable(L, OBJECT_MT_KEY, "json.object");
    if (luaL_newmetatable(L, HELD_MT_KEY)) {
        lua_pushcfunction(L, held_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);
    if (luaL_newmetatable(L, TEXT_DECODER_MT_KEY)) {
        lua_pushcfunction(L, text_decoder_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);
    if (lua_getfield(L, LUA_REGISTRYINDEX, TEXT_HINTS_KEY) == LUA_TNIL) {
        memset(lua_newuserdatauv(L, TEXT_HINT_SLOTS * sizeof(int), 0), 0,
               TEXT_HINT_SLOTS * sizeof(int));
        lua_setfield(L, LUA_REGISTRYINDEX, TEXT_HINTS_KEY);
    }
    lua_pop(L, 1);
    lazy_init(L);
}

void lua_json_set_size_max(lua_State *L, size_t bytes)
{
    lua_pushinteger(L, bytes > (size_t)LUA_MAXINTEGER ? LUA_MAXINTEGER : (lua_Integer)bytes);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &size_max_key);
}

/* The bound set for L, or SIZE_MAX. Reads the registry without allocating. */
static size_t size_max(lua_State *L)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, &size_max_key);
    size_t bytes = lua_isinteger(L, -1) ? (size_t)lua_tointeger(L, -1) : SIZE_MAX;
    lua_pop(L, 1);
    return bytes;
}

/* ---- JSON to Lua ----------------------------------------------------------------------- */

/* Stack indices of the two metatables, fetched once per conversion rather than once per table. */
struct kinds {
    int array_mt;
    int object_mt;
};

static void push_value(lua_State *L, const json_t *value, const struct kinds *k);

static void push_array(lua_State *L, const json_t *array, const struct kinds *k)
{
    size_t n = json_array_size(array);
    luaL_checkstack(L, 2, "JSON nested too deeply");
    lua_createtable(L, n > INT_MAX ? INT_MAX : (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        push_value(L, json_array_get(array, i), k);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_pushvalue(L, k->array_mt);
    lua_setmetatable(L, -2);
}

static void push_object(lua_State *L, const json_t *object, const struct kinds *k)
{
    /* jansson's iterators take a non-const object; they do not modify it. */
    json_t *o = (json_t *)object;
    size_t n = json_object_size(o);
    luaL_checkstack(L, 3, "JSON nested too deeply");
    lua_createtable(L, 0, n > INT_MAX ? INT_MAX : (int)n);
    for (void *it = json_object_iter(o); it; it = json_object_iter_next(o, it)) {
        lua_pushlstring(L, json_object_iter_key(it), json_object_iter_key_len(it));
        push_value(L, json_object_iter_value(it), k);
        lua_rawset(L, -3);
    }
    lua_pushvalue(L, k->object_mt);
    lua_setmetatable(L, -2);
}

static void push_value(lua_State *L, const json_t *value, const struct kinds *k)
{
    switch (json_typeof(value)) {
    case JSON_OBJECT:
        push_object(L, value, k);
        break;
    case JSON_ARRAY:
        push_array(L, value, k);
        break;
    case JSON_STRING:
        lua_pushlstring(L, json_string_value(value), json_string_length(value));
        break;
    case JSON_INTEGER:
        lua_pushinteger(L, json_integer_value(value));
        break;
    case JSON_REAL:
        lua_pushnumber(L, json_real_value(value));
        break;
    case JSON_TRUE:
    case JSON_FALSE:
        lua_pushboolean(L, json_is_true(value));
        break;
    case JSON_NULL:
        lua_pushlightuserdata(L, &null_sentinel);
        break;
    }
}

void lua_json_push(lua_State *L, const json_t *value)
{
    luaL_checkstack(L, 3, NULL);
    lua_getfield(L, LUA_REGISTRYINDEX, ARRAY_MT_KEY);
    lua_getfield(L, LUA_REGISTRYINDEX, OBJECT_MT_KEY);
    struct kinds k = {lua_absindex(L, -2), lua_absindex(L, -1)};
    push_value(L, value, &k);
    lua_replace(L, k.array_mt); /* the value takes the first metatable's slot */
    lua_settop(L, k.array_mt);
}

/* ---- JSON text to Lua ------------------------------------------------------------------ */

/*
 * Text the server wrote itself (a stored document, a change event) is decoded by yajl's
 * callbacks straight into Lua values, the same values lua_json_push gives for its jansson
 * tree: no tree is built and freed for each document, which is most of the cost of a report
 * over thousands of them.
 */

struct text_level {
    bool array;
    unsigned slot;     /* its size hint */
    lua_Integer count; /* items so far */
};


/*
 * One decoding of one or more texts. It lives in a userdata whose __gc frees the parser and
 * the levels, so that a memory error raised by a callback (it unwinds through yajl) leaks
 * nothing. Its one parser, made for the first text that is not compact, takes text after text
 * (yajl_allow_multiple_values).
 */
struct text_decoder {
    lua_State *L;
    struct kinds k;
    yajl_handle parser;
    struct text_level *levels; /* the open containers, innermost last */
    size_t depth, cap;
    int *hint;           /* TEXT_HINT_SLOTS sizes, kept by the state from text to text */
    bool collector_held; /* it stopped the collector, which runs again when it ends */
    size_t text_len;     /* the text being decoded: its length, */
    bool in_text;        /* whether yajl reads it (not the space after it), */
    size_t value_end;    /* and where its value ended */
    bool has_value;      /* its value is complete: a second one ends the decoding */
};

static void text_decoder_release(struct text_decoder *d)
{
    if (d->collector_held)
        lua_gc(d->L, LUA_GCRESTART);
    d->collector_held = false;
    if (d->parser)
        yajl_free(d->parser);
    free(d->levels);
    d->parser = NULL;
    d->levels = NULL;
    d->depth = d->cap = 0;
}

static int text_decoder_gc(lua_State *L)
{
    text_decoder_release(luaL_checkudata(L, 1, TEXT_DECODER_MT_KEY));
    return 0;
}

/* Stores the value on top into its container, or leaves it on the stack at the top level. */
static int text_attach(struct text_decoder *d)
{
    if (d->depth == 0 && d->has_value)
        return 0; /* "1 2 3…": each would stay on the stack; yajl stops here, the text is refused */
    if (d->depth == 0) {
        d->value_end = d->in_text ? yajl_get_bytes_consumed(d->parser) : d->text_len;
        d->has_value = true;
    }
    if (d->depth > 0) {
        struct text_level *l = &d->levels[d->depth - 1];
        if (l->array)
            lua_rawseti(d->L, -2, ++l->count);
        else {
            lua_rawset(d->L, -3); /* the key is below the value */
            l->count++;
        }
    }
    return 1;
}

static int text_null(void *ctx)
{
    struct text_decoder *d = ctx;
    lua_pushlightuserdata(d->L, &null_sentinel);
    return text_attach(d);
}

static int text_boolean(void *ctx, int value)
{
    struct text_decoder *d = ctx;
    lua_pushboolean(d->L, value);
    return text_attach(d);
}

/*
 * A number, from its text: yajl's own integer reading refuses -2^63, which jansson writes, so
 * the text is read as jansson reads it (json_number_read).
 */
static int text_number(void *ctx, const char *text, size_t len)
{
    struct text_decoder *d = ctx;
    long long integer;
    double real;
    switch (json_number_read(text, len, &integer, &real)) {
    case JSON_NUMBER_INTEGER:
        lua_pushinteger(d->L, (lua_Integer)integer);
        return text_attach(d);
    case JSON_NUMBER_REAL:
        lua_pushnumber(d->L, real);
        return text_attach(d);
    default:
        return 0;
    }
}

static int text_string(void *ctx, const unsigned char *value, size_t len)
{
    struct text_decoder *d = ctx;
    lua_pushlstring(d->L, (const char *)value, len);
    return text_attach(d);
}

static int text_key(void *ctx, const unsigned char *key, size_t len)
{
    struct text_decoder *d = ctx;
    lua_pushlstring(d->L, (const char *)key, len);
    return 1;
}

/* The hint slot of a container opened now: its depth and its rank in its parent. */
static unsigned text_hint_slot(const struct text_decoder *d)
{
    lua_Integer rank = d->depth ? d->levels[d->depth - 1].count : 0;
    return (unsigned)(d->depth * 16 + (size_t)(rank < 15 ? rank : 15)) % TEXT_HINT_SLOTS;
}

static int text_open(struct text_decoder *d, bool array)
{
    if (d->depth == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 16;
        struct text_level *levels = realloc(d->levels, cap * sizeof *levels);
        if (!levels)
            return luaL_error(d->L, "not enough memory");
        d->levels = levels;
        d->cap = cap;
    }
    luaL_checkstack(d->L, 3, "JSON nested too deeply");
    unsigned slot = text_hint_slot(d);
    int size = d->hint[slot];
    lua_createtable(d->L, array ? size : 0, array ? 0 : size);
    d->levels[d->depth++] = (struct text_level){.array = array, .slot = slot};
    return 1;
}

static int text_start_map(void *ctx)
{
    return text_open(ctx, false);
}

static int text_start_array(void *ctx)
{
    return text_open(ctx, true);
}

/* Closes the innermost container: it gets the metatable of its kind. */
static int text_end(void *ctx)
{
    struct text_decoder *d = ctx;
    const struct text_level *l = &d->levels[--d->depth];
    d->hint[l->slot] = l->count < 64 ? (int)l->count : 64; /* slack stays small */
    lua_pushvalue(d->L, l->array ? d->k.array_mt : d->k.object_mt);
    lua_setmetatable(d->L, -2);
    return text_attach(d);
}

static const yajl_callbacks text_callbacks = {
    .yajl_null = text_null,
    .yajl_boolean = text_boolean,
    .yajl_number = text_number,
    .yajl_string = text_string,
    .yajl_start_map = text_start_map,
    .yajl_map_key = text_key,
    .yajl_end_map = text_end,
    .yajl_start_array = text_start_array,
    .yajl_end_array = text_end,
};

/*
 * Compact text read without yajl. What ctgd writes itself (json_write; json_dumps with
 * JSON_COMPACT in older stores) has no white space, and escapes only quotes, backslashes and
 * control characters: this reader takes that and drives the callbacks above, several times
 * faster than yajl's lexer. Whatever else it meets (white space, a \u escape of a surrogate
 * or of NUL, bytes that are not UTF-8, a number of another shape, nesting past
 * COMPACT_DEPTH_MAX, text after the value) makes it give up: yajl then reads the text from
 * its start, and accepts or refuses it as it always did.
 */
#define COMPACT_DEPTH_MAX 64

struct compact {
    struct text_decoder *d;
    const char *p, *end;
};

static bool compact_value(struct compact *c, int depth);

static bool compact_take(struct compact *c, char expected)
{
    if (c->p == c->end || *c->p != expected)
        return false;
    c->p++;
    return true;
}

/* The character of the escape at s (after its backslash) into b; its length in the text, or 0. */
static size_t compact_unescape(luaL_Buffer *b, const char *s, const char *end)
{
    char letter = json_escaped_letter(*s);
    if (letter) {
        luaL_addchar(b, letter);
        return 1;
    }
    long code = *s == 'u' ? json_escaped_code_point(s + 1, end) : -1;
    if (code < 0)
        return 0;
    char utf8[3];
    luaL_addlstring(b, utf8, json_utf8_put(utf8, code));
    return 5;
}

/* Pushes the string that starts after the opening quote; false when it is not of compact text. */
static bool compact_string(struct compact *c)
{
    const char *start = c->p, *p = start, *end = c->end;
    bool escaped = false;
    for (;;) {
        /* printable ASCII but '"' and '\\' is taken as it is */
        while (p < end && (unsigned char)(*p - 0x20) < 0x60 && *p != '"' && *p != '\\')
            p++;
        if (p == end || *p == '"')
            break;
        unsigned char ch = (unsigned char)*p;
        size_t len = 2; /* an escape: the backslash and the character after it */
        if (ch < 0x20 || (ch == '\\' && end - p < 2))
            return false;
        if (ch == '\\')
            escaped = true;
        else if (!(len = utf8_sequence((const unsigned char *)p, (size_t)(end - p))))
            return false;
        p += len;
    }
    if (p >= end)
        return false;
    c->p = p;
    const char *stop = c->p++;
    if (!escaped) {
        lua_pushlstring(c->d->L, start, (size_t)(stop - start));
        return true;
    }
    luaL_Buffer b;
    luaL_buffinitsize(c->d->L, &b, (size_t)(stop - start)); /* escapes only shorten it */
    for (const char *s = start; s < stop;) {
        const char *next = memchr(s, '\\', (size_t)(stop - s));
        luaL_addlstring(&b, s, (size_t)((next ? next : stop) - s));
        if (!next)
            break;
        size_t used = compact_unescape(&b, next + 1, stop);
        if (!used) {
            luaL_pushresult(&b);
            lua_pop(c->d->L, 1);
            return false;
        }
        s = next + 1 + used;
    }
    luaL_pushresult(&b);
    return true;
}

/* A number of JSON's grammar, read as jansson reads it. */
static bool compact_number(struct compact *c)
{
    const char *start = c->p, *stop = json_number_end(start, c->end);
    if (!stop)
        return false;
    c->p = stop;
    return text_number(c->d, start, (size_t)(stop - start)) != 0;
}

static bool compact_word(struct compact *c, const char *word, size_t len)
{
    if ((size_t)(c->end - c->p) < len || memcmp(c->p, word, len) != 0)
        return false;
    c->p += len;
    return true;
}

/* The members of an object (after its '{') or the items of an array (after its '['). */
static bool compact_container(struct compact *c, bool array, int depth)
{
    char close = array ? ']' : '}';
    if (depth == COMPACT_DEPTH_MAX)
        return false;
    text_open(c->d, array);
    if (compact_take(c, close))
        return text_end(c->d);
    do {
        if (!array && !(compact_take(c, '"') && compact_string(c) && compact_take(c, ':')))
            return false;
        if (!compact_value(c, depth + 1))
            return false;
    } while (compact_take(c, ','));
    return compact_take(c, close) && text_end(c->d);
}

static bool compact_value(struct compact *c, int depth)
{
    if (c->p == c->end)
        return false;
    switch (*c->p++) {
    case '{':
        return compact_container(c, false, depth);
    case '[':
        return compact_container(c, true, depth);
    case '"':
        return compact_string(c) && text_attach(c->d);
    case 't':
        return compact_word(c, "rue", 3) && text_boolean(c->d, 1);
    case 'f':
        return compact_word(c, "alse", 4) && text_boolean(c->d, 0);
    case 'n':
        return compact_word(c, "ull", 3) && text_null(c->d);
    default:
        c->p--;
        return compact_number(c);
    }
}

/* Decodes one compact text onto the stack; false (the stack as it was) when it is not one. */
static bool decode_compact(struct text_decoder *d, const char *text, size_t len)
{
    int top = lua_gettop(d->L);
    struct compact c = {d, text, text + len};
    d->depth = 0;
    d->text_len = len;
    d->has_value = false;
    if (compact_value(&c, 0) && c.p == c.end)
        return true;
    lua_settop(d->L, top);
    d->depth = 0;
    return false;
}

/* yajl's parser, made for the first text that is not compact text: most decoders need none. */
static yajl_handle decoder_parser(struct text_decoder *d)
{
    if (!d->parser) {
        d->parser = yajl_alloc(&text_callbacks, NULL, d);
        if (!d->parser || !yajl_config(d->parser, yajl_allow_multiple_values, 1))
            luaL_error(d->L, "not enough memory");
    }
    return d->parser;
}

/*
 * Decodes one text onto the stack, with the decoder's metatables and parser. The space after
 * it ends a number that ends the text, which yajl would otherwise keep for the next text; what
 * follows the value in the text must be white space (yajl would keep a string begun there).
 */
static void decode_text(struct text_decoder *d, const char *text, size_t len)
{
    if (decode_compact(d, text, len))
        return;
    int top = lua_gettop(d->L);
    d->depth = 0;
    d->text_len = len;
    d->value_end = 0;
    d->has_value = false;
    d->in_text = true;
    bool read = yajl_parse(decoder_parser(d), (const unsigned char *)text, len) == yajl_status_ok;
    d->in_text = false;
    if (!read || yajl_parse(d->parser, (const unsigned char *)" ", 1) != yajl_status_ok ||
        d->depth || lua_gettop(d->L) != top + 1 ||
        !json_space_only(text + d->value_end, len - d->value_end)) {
        lua_settop(d->L, top);
        text_decoder_release(d); /* the collector runs again even if a pcall catches this */
        luaL_error(d->L, "a stored JSON text cannot be read (run ctgd --verify)");
    }
}

/* Pushes the two metatables and a decoder, which the caller must pop with pop_decoder. */
static struct text_decoder *push_decoder(lua_State *L)
{
    luaL_checkstack(L, 4, NULL);
    lua_getfield(L, LUA_REGISTRYINDEX, ARRAY_MT_KEY);
    lua_getfield(L, LUA_REGISTRYINDEX, OBJECT_MT_KEY);
    lua_getfield(L, LUA_REGISTRYINDEX, TEXT_HINTS_KEY); /* the registry keeps it */
    int *hint = lua_touserdata(L, -1);
    lua_pop(L, 1);
    struct text_decoder *d = lua_newuserdatauv(L, sizeof *d, 0);
    *d = (struct text_decoder){.L = L, .k = {lua_absindex(L, -3), lua_absindex(L, -2)},
                               .hint = hint};
    luaL_setmetatable(L, TEXT_DECODER_MT_KEY);
    return d;
}

/* Frees the decoder and leaves only the value on top where the first metatable was. */
static void pop_decoder(lua_State *L, struct text_decoder *d)
{
    int base = d->k.array_mt;
    text_decoder_release(d);
    lua_replace(L, base);
    lua_settop(L, base);
}

void lua_json_push_text(lua_State *L, const char *text, size_t len)
{
    /* A string, a number or a literal in compact text needs no decoder of its own (a userdata
       and four reads of the registry): most members read on demand are one. */
    if (len && text[0] != '{' && text[0] != '[') {
        struct text_decoder scalar = {.L = L};
        if (decode_compact(&scalar, text, len))
            return;
    }
    struct text_decoder *d = push_decoder(L);
    decode_text(d, text, len);
    pop_decoder(L, d);
}

/*
 * Decoding only adds live values, which the collector would walk again and again as they grow:
 * when it runs, it is held off until the last one is in place (after a memory error, the
 * plugins' runtime turns it on again; see lua_runtime.c).
 */
void lua_json_push_texts(lua_State *L, const struct json_texts *texts)
{
    struct text_decoder *d = push_decoder(L);
    if (lua_gc(L, LUA_GCISRUNNING)) {
        lua_gc(L, LUA_GCSTOP);
        d->collector_held = true;
    }
    lua_createtable(L, texts->n > INT_MAX ? INT_MAX : (int)texts->n, 0);
    for (size_t i = 0; i < texts->n; i++) {
        size_t len;
        const char *text = json_texts_get(texts, i, &len);
        decode_text(d, text, len);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_pushvalue(L, d->k.array_mt);
    lua_setmetatable(L, -2);
    pop_decoder(L, d);
}

/* ---- documents read on demand ---------------------------------------------------------- */

/*
 * A document given to one plugin call is an empty table whose metatable reads, member by
 * member, what its box holds: either a jansson object (lua_json_push_lazy) or the compact text
 * of an object (lua_json_push_text_lazy). A member is converted when first read, and a member
 * that is a table is kept, so that it is the same table each time it is read. In a text, a
 * member that is an object is read on demand in turn (a change event's "doc"). The first write
 * or pairs() fills the table with every member and gives it the object metatable: it is then a
 * document like any other. The metatable answers getmetatable() with the object marker, as a
 * document's does, so no plugin code can reach these functions, the boxes or the text.
 *
 * The jansson object belongs to the caller and lives as long as the call. A generation counter
 * in the registry, raised by lua_json_end_lazy, tells the tables of an ended call: reading one
 * of those raises an error instead of reading freed memory. A text is a Lua string that the
 * box holds: it lives as long as the table.
 */
/* What a document read on demand reads: a jansson object, or the compact text of an object. */
struct lazy {
    const json_t *object; /* NULL for a text */
    const char *text;     /* the object's text, braces included */
    size_t len;
};

/* A document's box: what it reads, in a userdata whose user values are listed below. */
struct lazy_box {
    const json_t *object; /* the jansson object, or NULL for a text */
    const struct lazy_state *state;
    lua_Integer generation; /* the call's, for an object */
};

enum lazy_box_value {
    LAZY_TEXT = 1, /* the object's text, a Lua string of its own */
    LAZY_TABLES,   /* the members read that are tables, by key; created at the first one */
};

/* The registry's: the generation, and as user values the documents' metatable and their boxes. */
struct lazy_state {
    lua_Integer generation;
};

enum lazy_state_value {
    LAZY_METATABLE = 1,
    LAZY_BOXES, /* document -> box, with weak keys */
};

#define LAZY_ENDED "a document given to a plugin can be read only during the call it was given to"

static int lazy_index(lua_State *L);
static int lazy_newindex(lua_State *L);
static int lazy_pairs(lua_State *L);

/*
 * Every document read on demand has the same metatable, whose functions find the document's
 * box in the table of boxes, their upvalue: a metatable of its own for each document took two
 * tables and five fields at each push, and four lookups at each read.
 */
static void lazy_init(lua_State *L)
{
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &lazy_state_key) != LUA_TNIL) {
        lua_pop(L, 1);
        return;
    }
    lua_pop(L, 1);
    struct lazy_state *state = lua_newuserdatauv(L, sizeof *state, 2);
    state->generation = 0;
    lua_newtable(L); /* the boxes */
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "k");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_createtable(L, 0, 5); /* the metatable */
    static const luaL_Reg methods[] = {
        {"__index", lazy_index}, {"__newindex", lazy_newindex}, {"__pairs", lazy_pairs},
        {NULL, NULL}};
    lua_pushvalue(L, -2);
    luaL_setfuncs(L, methods, 1);
    push_kind_marker(L, OBJECT_MT_KEY);
    lua_setfield(L, -2, "__metatable");
    lua_pushliteral(L, "json.object");
    lua_setfield(L, -2, "__name");
    lua_setiuservalue(L, -3, LAZY_METATABLE);
    lua_setiuservalue(L, -2, LAZY_BOXES);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &lazy_state_key);
}

static struct lazy_state *push_lazy_state(lua_State *L)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, &lazy_state_key);
    return lua_touserdata(L, -1);
}

/* With a box at the top of the stack: what it reads, in `out`; true once its call ended. */
static bool read_box(lua_State *L, struct lazy *out)
{
    const struct lazy_box *box = lua_touserdata(L, -1);
    *out = (struct lazy){.object = box->object};
    if (box->object)
        return box->generation != box->state->generation;
    lua_getiuservalue(L, -1, LAZY_TEXT);
    out->text = lua_tolstring(L, -1, &out->len); /* the box keeps the string */
    lua_pop(L, 1);
    return false;
}

/* Pushes the box of the table at `t` from the boxes at `boxes`; false (nil pushed) for none. */
static bool push_box(lua_State *L, int boxes, int t)
{
    lua_pushvalue(L, t);
    return lua_rawget(L, boxes) == LUA_TUSERDATA;
}

/* Pushes the box of the table at `t` when it is a document read on demand; else nothing. */
static bool push_lazy_box(lua_State *L, int t)
{
    t = lua_absindex(L, t);
    int top = lua_gettop(L);
    if (!lua_getmetatable(L, t))
        return false;
    push_lazy_state(L);
    lua_getiuservalue(L, -1, LAZY_METATABLE);
    bool lazy = lua_rawequal(L, -1, -3) && lua_getiuservalue(L, -2, LAZY_BOXES) == LUA_TTABLE &&
                push_box(L, lua_gettop(L), t);
    if (lazy)
        lua_replace(L, top + 1);
    lua_settop(L, top + lazy);
    return lazy;
}

/* Whether the table at `t` is a document read on demand: what it reads in `out`, and whether
 * the call it was given to is over. Allocates nothing. */
static bool lazy_table(lua_State *L, int t, struct lazy *out, bool *ended)
{
    if (!push_lazy_box(L, t))
        return false;
    *ended = read_box(L, out);
    lua_pop(L, 1);
    return true;
}

/* In a function of the documents' metatable: pushes the box of the document at `t` and
 * returns what it reads; raises once the call it was given to ended. */
static struct lazy lazy_of(lua_State *L, int t)
{
    struct lazy z = {0};
    if (!push_box(L, lua_upvalueindex(1), t) || read_box(L, &z))
        luaL_error(L, LAZY_ENDED);
    return z;
}

/* Pushes the members read so far that are tables of the document whose box is at `box` (a
 * table created if there is none and `create`); returns the type pushed. */
static int push_read_tables(lua_State *L, int box, bool create)
{
    if (lua_getiuservalue(L, box, LAZY_TABLES) == LUA_TNIL && create) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_setiuservalue(L, box, LAZY_TABLES);
    }
    return lua_type(L, -1);
}

/* Pushes an empty document read on demand, then its box (a text is still to be put in it). */
static void push_lazy_table(lua_State *L, const json_t *object)
{
    luaL_checkstack(L, 6, NULL);
    const struct lazy_state *state = push_lazy_state(L);
    lua_createtable(L, 0, 0);
    lua_getiuservalue(L, -2, LAZY_METATABLE);
    lua_setmetatable(L, -2);
    struct lazy_box *box = lua_newuserdatauv(L, sizeof *box, 2);
    *box = (struct lazy_box){object, state, state->generation};
    lua_getiuservalue(L, -3, LAZY_BOXES);
    lua_pushvalue(L, -3);
    lua_pushvalue(L, -3);
    lua_rawset(L, -3);
    lua_pop(L, 1);
    lua_remove(L, -3);
}

/* Replaces the string at the top, the compact text of an object, by a document read on demand
 * and pushes its box. */
static void lazy_from_string(lua_State *L)
{
    push_lazy_table(L, NULL);
    lua_pushvalue(L, -3);
    lua_setiuservalue(L, -2, LAZY_TEXT);
    lua_rotate(L, -3, -1);
    lua_pop(L, 1);
}

/* Pushes the compact text of an object as a document read on demand; it keeps a copy. */
static void push_text_lazy(lua_State *L, const char *text, size_t len)
{
    lua_pushlstring(L, text, len);
    lazy_from_string(L);
    lua_pop(L, 1);
}

static void copy_pairs(lua_State *L, int from, int to)
{
    for (lua_pushnil(L); lua_next(L, from);) {
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, to);
    }
}

/* Puts every member into the table at `t`, whose box is at `box`, those read already as they
 * were read, and gives the table the object metatable: from then on it is a plain document. */
static void lazy_fill(lua_State *L, int t, int box, const struct lazy *z)
{
    luaL_checkstack(L, 4, NULL);
    int top = lua_gettop(L);
    if (z->object)
        lua_json_push(L, z->object);
    else
        lua_json_push_text(L, z->text, z->len);
    copy_pairs(L, top + 1, t);
    if (push_read_tables(L, box, false) == LUA_TTABLE)
        copy_pairs(L, top + 2, t);
    lua_settop(L, top);
    lua_getfield(L, LUA_REGISTRYINDEX, OBJECT_MT_KEY);
    lua_setmetatable(L, t);
    push_lazy_state(L); /* the box, and its text, can go */
    lua_getiuservalue(L, -1, LAZY_BOXES);
    lua_pushvalue(L, t);
    lua_pushnil(L);
    lua_rawset(L, -3);
    lua_settop(L, top);
}

/* Pushes a member that is not a table, or converts one that is; false when it is not there. */
static bool push_member(lua_State *L, int t, int box, const struct lazy *z, const char *key,
                        size_t key_len, bool *is_table)
{
    if (z->object) {
        json_t *member = json_object_getn(z->object, key, key_len);
        *is_table = json_is_object(member) || json_is_array(member);
        if (member)
            lua_json_push(L, member);
        return member != NULL;
    }
    const char *value;
    size_t len;
    enum json_member found = json_compact_member(z->text, z->len, key, key_len, &value, &len);
    if (found == JSON_MEMBER_UNKNOWN) { /* decoded whole, once: the table becomes a plain one */
        lazy_fill(L, t, box, z);
        lua_pushlstring(L, key, key_len);
        *is_table = false; /* it is in the table now */
        if (lua_rawget(L, t) == LUA_TNIL) {
            lua_pop(L, 1);
            return false;
        }
        return true;
    }
    if (found == JSON_MEMBER_ABSENT)
        return false;
    *is_table = *value == '{' || *value == '[';
    if (*value == '{')
        push_text_lazy(L, value, len); /* a copy: keeping it does not keep the whole text */
    else
        lua_json_push_text(L, value, len);
    return true;
}

/* __index(t, key): the member, converted now; one that is a table, converted once. */
static int lazy_index(lua_State *L)
{
    lua_settop(L, 2);
    struct lazy z = lazy_of(L, 1); /* its box at 3 */
    if (lua_type(L, 2) != LUA_TSTRING)
        return 0;
    size_t key_len;
    const char *key = lua_tolstring(L, 2, &key_len);
    if (push_read_tables(L, 3, false) == LUA_TTABLE) {
        lua_pushvalue(L, 2);
        if (lua_rawget(L, -2) != LUA_TNIL)
            return 1;
    }
    lua_settop(L, 3);
    bool is_table;
    if (!push_member(L, 1, 3, &z, key, key_len, &is_table))
        return 0;
    if (is_table) {
        push_read_tables(L, 3, true);
        lua_pushvalue(L, 2);
        lua_pushvalue(L, -3);
        lua_rawset(L, -3);
        lua_pop(L, 1);
    }
    return 1;
}

/* __newindex(t, key, value): the document becomes a plain one, then takes the write. */
static int lazy_newindex(lua_State *L)
{
    lua_settop(L, 3);
    struct lazy z = lazy_of(L, 1);
    lazy_fill(L, 1, 4, &z);
    lua_settop(L, 3);
    lua_rawset(L, 1);
    return 0;
}

/* The iterator __pairs hands out: plugin code may call it with anything. */
static int raw_next(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 2);
    if (lua_next(L, 1))
        return 2;
    lua_pushnil(L);
    return 1;
}

/* __pairs(t): the document becomes a plain one, walked as pairs() walks any table. */
static int lazy_pairs(lua_State *L)
{
    lua_settop(L, 1);
    struct lazy z = lazy_of(L, 1);
    lazy_fill(L, 1, 2, &z);
    lua_settop(L, 1);
    lua_pushcfunction(L, raw_next);
    lua_pushvalue(L, 1);
    lua_pushnil(L);
    return 3;
}

/* Makes the table at `t`, when it is a document read on demand, a plain one. */
static void lazy_fill_if_lazy(lua_State *L, int t)
{
    if (!push_lazy_box(L, t))
        return;
    struct lazy z;
    if (read_box(L, &z))
        luaL_error(L, LAZY_ENDED);
    lazy_fill(L, lua_absindex(L, t), lua_gettop(L), &z);
    lua_pop(L, 1);
}

void lua_json_push_lazy(lua_State *L, const json_t *value)
{
    if (!json_is_object(value)) {
        lua_json_push(L, value);
        return;
    }
    push_lazy_table(L, value);
    lua_pop(L, 1);
}

void lua_json_push_text_lazy(lua_State *L, const char *text, size_t len)
{
    if (len == 0 || text[0] != '{') {
        lua_json_push_text(L, text, len);
        return;
    }
    push_text_lazy(L, text, len);
}

/* True when the text just before `value_at` is the key of `key` ("key":). */
static bool key_before(const char *text, const char *key, size_t value_at)
{
    size_t key_len = strlen(key);
    return value_at >= key_len + 3 && text[value_at - 1] == ':' && text[value_at - 2] == '"' &&
           memcmp(text + value_at - key_len - 2, key, key_len) == 0 &&
           text[value_at - key_len - 3] == '"';
}

/*
 * Pushes the object's text with the value at `value_at` (an object, the member `key`'s) written
 * {} as a document read on demand, then its box: the member, read already, keeps its place
 * among the others.
 */
static void push_text_lazy_without(lua_State *L, const char *text, size_t len, size_t value_at,
                                   size_t value_len)
{
    luaL_Buffer rest;
    luaL_buffinit(L, &rest);
    luaL_addlstring(&rest, text, value_at);
    luaL_addstring(&rest, "{}");
    luaL_addlstring(&rest, text + value_at + value_len, len - value_at - value_len);
    luaL_pushresult(&rest);
    lazy_from_string(L);
}

void lua_json_push_text_lazy_known(lua_State *L, const char *text, size_t len, const char *key,
                                   size_t value_at, size_t value_len)
{
    if (len == 0 || text[0] != '{' || value_len == 0 || value_at > len ||
        value_len > len - value_at || text[value_at] != '{') {
        lua_json_push_text_lazy(L, text, len); /* not a document read on demand, or not a place in it */
        return;
    }
    /* The member's bytes, most of an event's, are copied once: into the member's own table. */
    if (key_before(text, key, value_at)) {
        push_text_lazy_without(L, text, len, value_at, value_len);
    } else {
        lua_pushlstring(L, text, len);
        lazy_from_string(L);
    }
    push_read_tables(L, lua_gettop(L), true); /* as if the member had been read already */
    lua_pushstring(L, key);
    push_text_lazy(L, text + value_at, value_len);
    lua_rawset(L, -3);
    lua_pop(L, 2); /* the tables and the box */
}

void lua_json_end_lazy(lua_State *L)
{
    push_lazy_state(L)->generation++;
    lua_pop(L, 1);
}

/* ---- paths and refusals ---------------------------------------------------------------- */

/* One segment of a JSON pointer (RFC 6901, so array indices count from 0); the root is NULL. */
struct path {
    const struct path *up;
    const char *key; /* NULL for an array index; else a string on the Lua stack */
    size_t key_len;
    size_t index;
};

static struct path at_key(const struct path *up, const char *key, size_t key_len)
{
    return (struct path){.up = up, .key = key, .key_len = key_len};
}

static struct path at_index(const struct path *up, size_t index)
{
    return (struct path){.up = up, .index = index};
}

/* A bounded buffer; `len` also counts what did not fit, so the caller sees the cut. */
struct text {
    char *buf;
    size_t cap;
    size_t len;
};

static void text_put(struct text *t, const char *s, size_t n)
{
    if (t->len < t->cap)
        memcpy(t->buf + t->len, s, n < t->cap - t->len ? n : t->cap - t->len);
    t->len += n;
}

static void put_segment(struct text *t, const struct path *p)
{
    text_put(t, "/", 1);
    if (!p->key) {
        char digits[24];
        text_put(t, digits, (size_t)snprintf(digits, sizeof digits, "%zu", p->index));
        return;
    }
    for (size_t i = 0; i < p->key_len; i++) {
        /* ~ and / as RFC 6901 escapes them; a NUL would end the message early. */
        char ch = p->key[i];
        const char *escape = ch == '~' ? "~0" : ch == '/' ? "~1" : ch == '\0' ? "\\u0000" : NULL;
        if (escape)
            text_put(t, escape, strlen(escape));
        else
            text_put(t, &p->key[i], 1);
    }
}

static void put_path(struct text *t, const struct path *p)
{
    if (!p)
        return;
    put_path(t, p->up);
    put_segment(t, p);
}

/*
 * Writes "<path>: <message>" into err (just the message at the root). The message always fits
 * unless err is tiny: a path that is too long, such as a table that contains itself, is cut with
 * "..." on a character boundary so that the whole text stays valid UTF-8.
 */
static void write_refusal(char *err, size_t errlen, const struct path *p, const char *message)
{
    if (errlen == 0)
        return;
    size_t room = errlen - 1, tail = strlen(message) + (p ? 2 : 0);
    struct text t = {err, room > tail ? room - tail : 0, 0};
    put_path(&t, p);
    if (t.len > t.cap) {
        size_t keep = t.cap > 3 ? t.cap - 3 : 0;
        while (keep > 0 && ((unsigned char)err[keep] & 0xC0) == 0x80)
            keep--;
        t.len = keep;
        text_put(&t, "...", 3);
        t.len = t.len < t.cap ? t.len : t.cap;
    }
    snprintf(err + t.len, errlen - t.len, "%s%s", p ? ": " : "", message);
}

/* Whether jansson takes `key` as text. Called on the error path only, where allocating is fine. */
static int key_is_utf8(const char *key, size_t key_len)
{
    json_t *s = json_stringn(key, key_len);
    int ok = s != NULL;
    json_decref(s);
    return ok;
}

/* ---- Lua to JSON ----------------------------------------------------------------------- */

struct to_json {
    lua_State *L;
    int array_mt, object_mt; /* stack indices of the two metatables */
    int depth;               /* tables entered on the way to the current value */
    size_t room;             /* bytes the JSON may still take (lua_json_set_size_max) */
    size_t size_max;
    char *err;
    size_t errlen;
};

/*
 * Writes the refusal of the value at `p` into c->err and returns NULL. Keys are checked for UTF-8
 * only when their object is built, after its values; a key that is not UTF-8 on the way to `p`
 * is the first problem, so it is the one reported — which also keeps its bytes out of the message.
 */
__attribute__((format(printf, 3, 4)))
static json_t *refuse(struct to_json *c, const struct path *p, const char *fmt, ...)
{
    char message[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    for (const struct path *q = p; q; q = q->up) {
        if (q->key && !key_is_utf8(q->key, q->key_len)) {
            p = q->up;
            snprintf(message, sizeof message, "a key is not valid UTF-8");
        }
    }
    write_refusal(c->err, c->errlen, p, message);
    return NULL;
}

static json_t *refuse_key_type(struct to_json *c, const struct path *p, int key)
{
    lua_State *L = c->L;
    if (lua_type(L, key) == LUA_TNUMBER)
        return refuse(c, p, "a key must be a string, not %s",
                      lua_isinteger(L, key) ? "an integer" : "a float");
    return refuse(c, p, "a key must be a string, not a %s", luaL_typename(L, key));
}

static json_t *allocated(struct to_json *c, const struct path *p, json_t *value)
{
    return value ? value : refuse(c, p, "out of memory");
}

static json_t *value_to_json(struct to_json *c, int index, const struct path *p);

/*
 * Counts one more value of `bytes` of text against the bound. The same table or string may be
 * reached many times: it is counted each time, as jansson copies it each time.
 */
static bool charge(struct to_json *c, size_t bytes)
{
    if (bytes > c->room)
        return false;
    c->room -= bytes;
    return true;
}

static json_t *refuse_size(struct to_json *c, const struct path *p)
{
    return refuse(c, p, "the JSON would take more than %zu MiB (is a table or a string reached "
                        "many times?)", c->size_max >> 20);
}

static json_t *number_to_json(struct to_json *c, int index, const struct path *p)
{
    lua_State *L = c->L;
    if (lua_isinteger(L, index))
        return allocated(c, p, json_integer(lua_tointeger(L, index)));
    lua_Number x = lua_tonumber(L, index);
    if (isnan(x))
        return refuse(c, p, "NaN cannot be written as JSON");
    if (isinf(x))
        return refuse(c, p, "infinity cannot be written as JSON");
    return allocated(c, p, json_real(x));
}

static json_t *string_to_json(struct to_json *c, int index, const struct path *p)
{
    size_t len;
    const char *s = lua_tolstring(c->L, index, &len);
    json_t *value = json_stringn(s, len);
    return value ? value : refuse(c, p, "a string is not valid UTF-8");
}

/*
 * Items 1..n of the table at `index` as a JSON array. Every one must be there: a nil is a hole,
 * which JSON cannot show, and json.null is what stands for "nothing" in an array.
 */
static json_t *items_to_json(struct to_json *c, int index, const struct path *p, size_t n)
{
    lua_State *L = c->L;
    json_t *array = json_array();
    if (!array)
        return refuse(c, p, "out of memory");
    for (size_t i = 0; i < n; i++) {
        struct path at = at_index(p, i);
        int type = lua_rawgeti(L, index, (lua_Integer)i + 1);
        json_t *item = type == LUA_TNIL
                           ? refuse(c, &at, "holes in an array: this item is nil (use json.null)")
                           : value_to_json(c, lua_gettop(L), &at);
        if (!item || json_array_append_new(array, item)) {
            json_decref(array);
            return item ? refuse(c, &at, "out of memory") : NULL;
        }
        lua_pop(L, 1);
    }
    return array;
}

/*
 * The JSON object of the table at `index`, whose keys must all be strings. `plain` says the table
 * has no metatable of ours: an integer key then means the table mixes the two kinds.
 */
static json_t *object_to_json(struct to_json *c, int index, const struct path *p, int plain)
{
    lua_State *L = c->L;
    json_t *object = json_object();
    if (!object)
        return refuse(c, p, "out of memory");
    lua_pushnil(L);
    while (lua_next(L, index)) {
        /* Only a string key is read as text: lua_tolstring would turn a number key into a
         * string in place, and lua_next would then lose its way. */
        if (lua_type(L, -2) != LUA_TSTRING) {
            json_decref(object);
            return plain && lua_isinteger(L, -2) ? refuse(c, p, MIXED_KEYS)
                                                 : refuse_key_type(c, p, -2);
        }
        size_t key_len;
        const char *key = lua_tolstring(L, -2, &key_len);
        struct path at = at_key(p, key, key_len);
        json_t *item = charge(c, key_len) ? value_to_json(c, lua_gettop(L), &at)
                                          : refuse_size(c, &at);
        if (!item) {
            json_decref(object);
            return NULL;
        }
        if (json_object_setn_new(object, key, key_len, item)) {
            json_decref(object);
            return refuse(c, p, key_is_utf8(key, key_len) ? "out of memory"
                                                          : "a key is not valid UTF-8");
        }
        lua_pop(L, 1);
    }
    return object;
}

/*
 * The n of a plain table whose keys must be the integers 1..n; 0 once the refusal is written.
 * Only the kind of each key is checked here: n integer keys that are not exactly 1..n leave one
 * of 1..n missing, and items_to_json reports that hole with its path.
 */
static int count_items(struct to_json *c, int index, const struct path *p, size_t *n)
{
    lua_State *L = c->L;
    size_t count = 0;
    lua_pushnil(L);
    while (lua_next(L, index)) {
        lua_pop(L, 1); /* only the key matters here */
        if (lua_type(L, -1) == LUA_TSTRING) {
            refuse(c, p, MIXED_KEYS);
            return 0;
        }
        if (!lua_isinteger(L, -1)) {
            refuse_key_type(c, p, -1);
            return 0;
        }
        /* Said at once, as the usual slip is an index from 0. */
        if (lua_tointeger(L, -1) < 1) {
            refuse(c, p, "an array's keys must be 1..n, not %lld", (long long)lua_tointeger(L, -1));
            return 0;
        }
        count++;
    }
    *n = count;
    return 1;
}

/* A table with neither metatable is an array if its keys are integers, an object otherwise. */
static json_t *plain_table_to_json(struct to_json *c, int index, const struct path *p)
{
    lua_State *L = c->L;
    lua_pushnil(L);
    if (!lua_next(L, index))
        return allocated(c, p, json_object());
    int first_is_string = lua_type(L, -2) == LUA_TSTRING;
    lua_pop(L, 2);
    if (first_is_string)
        return object_to_json(c, index, p, 1);
    size_t n;
    return count_items(c, index, p, &n) ? items_to_json(c, index, p, n) : NULL;
}

/*
 * Charges the JSON value `v`, a container of which would be the `depth`th table on the way, as
 * the conversion of its Lua value would be charged; false (the refusal written) when it does
 * not fit or nests deeper than LUA_JSON_DEPTH_MAX.
 */
static bool charge_shared(struct to_json *c, const json_t *v, int depth, const struct path *p)
{
    if (depth > LUA_JSON_DEPTH_MAX && (json_is_object(v) || json_is_array(v))) {
        refuse(c, p, "tables nested deeper than %d levels (does a table contain itself?)",
               LUA_JSON_DEPTH_MAX);
        return false;
    }
    if (!charge(c, JSON_VALUE_COST + (json_is_string(v) ? json_string_length(v) : 0))) {
        refuse_size(c, p);
        return false;
    }
    const char *key;
    size_t key_len, i;
    json_t *item;
    json_object_keylen_foreach((json_t *)v, key, key_len, item) {
        if (!charge(c, key_len)) {
            refuse_size(c, p);
            return false;
        }
        if (!charge_shared(c, item, depth + 1, p))
            return false;
    }
    json_array_foreach(v, i, item) {
        if (!charge_shared(c, item, depth + 1, p))
            return false;
    }
    return true;
}

/* Converts the members read as tables (the box's LAZY_TABLES) into `read`, as they are now;
 * false once refused. */
static bool read_members_to_json(struct to_json *c, int index, const struct path *p, json_t *read)
{
    lua_State *L = c->L;
    int top = lua_gettop(L);
    bool done = true;
    if (push_lazy_box(L, index) && push_read_tables(L, top + 1, false) == LUA_TTABLE) {
        for (lua_pushnil(L); done && lua_next(L, top + 2); lua_pop(L, 1)) {
            size_t key_len;
            const char *key = lua_tolstring(L, -2, &key_len); /* a string: lazy_index's key */
            struct path at = at_key(p, key, key_len);
            json_t *item = charge(c, key_len) ? value_to_json(c, lua_gettop(L), &at)
                                              : refuse_size(c, &at);
            if (!item) {
                done = false;
            } else if (json_object_setn_new(read, key, key_len, item)) {
                refuse(c, &at, "out of memory");
                done = false;
            }
        }
    }
    lua_settop(L, top);
    return done;
}

/* Charges a member of the document not read (or its `now`, charged already) and adds it. */
static bool add_member(struct to_json *c, json_t *object, const char *key, size_t key_len,
                       json_t *member, json_t *now, const struct path *p)
{
    struct path at = at_key(p, key, key_len);
    if (!now && !charge(c, key_len)) {
        refuse_size(c, &at);
        return false;
    }
    if (!now && !charge_shared(c, member, c->depth + 1, &at))
        return false;
    if (json_object_setn(object, key, key_len, now ? now : member)) {
        refuse(c, p, "out of memory");
        return false;
    }
    return true;
}

/*
 * The JSON object of a document read on demand: the members read as tables converted as they
 * are now (a plugin may have changed them), the others shared with the jansson object (or the
 * text's, parsed here), which outlives the conversion's result only through their references.
 * Allocates no Lua value.
 */
static json_t *lazy_to_json(struct to_json *c, int index, const struct lazy *z,
                            const struct path *p)
{
    json_t *backing = z->object ? json_incref((json_t *)z->object)
                                : json_parse_body(z->text, z->len, NULL);
    json_t *object = NULL, *read = NULL, *result = NULL;
    if (!json_is_object(backing))
        refuse(c, p, "a stored JSON text cannot be read (run ctgd --verify)");
    else if (!(object = json_object()) || !(read = json_object()))
        refuse(c, p, "out of memory");
    else if (!lua_checkstack(c->L, 5))
        refuse(c, p, "out of Lua stack");
    else if (read_members_to_json(c, index, p, read)) {
        const char *key;
        size_t key_len;
        json_t *member;
        bool added = true;
        json_object_keylen_foreach(backing, key, key_len, member) {
            added = add_member(c, object, key, key_len, member,
                               json_object_getn(read, key, key_len), p);
            if (!added)
                break;
        }
        if (added) {
            result = object;
            object = NULL;
        }
    }
    json_decref(object);
    json_decref(read);
    json_decref(backing);
    return result;
}

static json_t *table_to_json(struct to_json *c, int index, const struct path *p)
{
    lua_State *L = c->L;
    /* A table that contains itself ends here too. */
    if (c->depth == LUA_JSON_DEPTH_MAX)
        return refuse(c, p, "tables nested deeper than %d levels (does a table contain itself?)",
                      LUA_JSON_DEPTH_MAX);
    /* Room for a metatable and what finds a document's box (push_lazy_box), or a key and its
       value; lua_checkstack raises no error. */
    if (!lua_checkstack(L, 5))
        return refuse(c, p, "out of Lua stack");
    c->depth++;
    json_t *value;
    if (!lua_getmetatable(L, index)) {
        value = plain_table_to_json(c, index, p);
    } else {
        int is_array = lua_rawequal(L, -1, c->array_mt);
        int is_object = lua_rawequal(L, -1, c->object_mt);
        lua_pop(L, 1);
        bool ended = false;
        struct lazy z;
        bool lazy = !is_array && !is_object && lazy_table(L, index, &z, &ended);
        /* An array reads items 1..#t: keys past the border #t and non-integer keys are not
         * part of it and are not written. */
        value = is_array    ? items_to_json(c, index, p, (size_t)lua_rawlen(L, index))
                : is_object ? object_to_json(c, index, p, 0)
                : lazy && ended ? refuse(c, p, LAZY_ENDED)
                : lazy      ? lazy_to_json(c, index, &z, p)
                            : plain_table_to_json(c, index, p);
    }
    c->depth--;
    return value;
}

static json_t *value_to_json(struct to_json *c, int index, const struct path *p)
{
    lua_State *L = c->L;
    size_t len = 0;
    if (lua_type(L, index) == LUA_TSTRING)
        lua_tolstring(L, index, &len);
    if (!charge(c, JSON_VALUE_COST + len))
        return refuse_size(c, p);
    switch (lua_type(L, index)) {
    case LUA_TBOOLEAN:
        return json_boolean(lua_toboolean(L, index));
    case LUA_TNUMBER:
        return number_to_json(c, index, p);
    case LUA_TSTRING:
        return string_to_json(c, index, p);
    case LUA_TTABLE:
        return table_to_json(c, index, p);
    case LUA_TLIGHTUSERDATA:
        if (lua_touserdata(L, index) == &null_sentinel)
            return json_null();
        break;
    case LUA_TNIL:
        return refuse(c, p, "nil cannot be written as JSON (use json.null)");
    }
    return refuse(c, p, "a %s cannot be written as JSON", luaL_typename(L, index));
}

json_t *lua_json_to(lua_State *L, int index, char *err, size_t errlen)
{
    int top = lua_gettop(L);
    struct to_json c = {.L = L, .array_mt = top + 2, .object_mt = top + 3, .err = err,
                        .errlen = errlen};
    if (!lua_checkstack(L, 4)) {
        write_refusal(err, errlen, NULL, "out of Lua stack");
        return NULL;
    }
    /* A copy of the value goes first: an index past the top then reads as nil, not as one of
     * the metatables. The only calls that may raise (a memory error, interning the registry
     * keys) come before any JSON value exists, so such an error leaks nothing. */
    lua_pushvalue(L, index);
    lua_getfield(L, LUA_REGISTRYINDEX, ARRAY_MT_KEY);
    lua_getfield(L, LUA_REGISTRYINDEX, OBJECT_MT_KEY);
    c.room = c.size_max = size_max(L);
    json_t *value = value_to_json(&c, top + 1, NULL);
    lua_settop(L, top);
    return value;
}

/* ---- the ctg.json module --------------------------------------------------------------- */

/* json.encode(value) -> string: compact JSON text. Keys are sorted: Lua tables have no order,
 * and the same value should always give the same text. */
static int lua_json_encode(lua_State *L)
{
    char err[256];
    struct held *h = push_held(L);
    h->value = lua_json_to(L, 1, err, sizeof err);
    if (!h->value)
        return luaL_error(L, "json.encode: %s", err);
    h->text = json_dumps(h->value, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
    if (!h->text)
        return luaL_error(L, "json.encode: out of memory");
    lua_pushstring(L, h->text);
    held_release(h);
    return 1;
}

/*
 * About the memory jansson takes to decode `text`: the text, and a value for each ',', '[' and
 * '{' outside strings. "[0,0,0,...]" takes some twenty times its length.
 */
static size_t decoded_size(const char *text, size_t len)
{
    size_t values = 1;
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        char ch = text[i];
        if (in_string && ch == '\\')
            i++;
        else if (ch == '"')
            in_string = !in_string;
        else if (!in_string && (ch == ',' || ch == '[' || ch == '{'))
            values++;
    }
    return len + values * JSON_VALUE_COST;
}

/* json.decode(text) -> value: any JSON value, objects with a duplicate key refused. */
static int lua_json_decode(lua_State *L)
{
    size_t len;
    const char *text = luaL_checklstring(L, 1, &len);
    size_t bound = size_max(L);
    if (decoded_size(text, len) > bound)
        return luaL_error(L, "json.decode: the text would take more than %d MiB once decoded",
                          (int)(bound >> 20));
    json_error_t error;
    struct held *h = push_held(L);
    h->value = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &error);
    if (!h->value)
        return luaL_error(L, "json.decode: %s at line %d column %d", error.text, error.line,
                          error.column);
    lua_json_push(L, h->value);
    held_release(h);
    return 1;
}

/* True when the table at `index` has a metatable that is not one of the two kinds. */
static bool has_foreign_metatable(lua_State *L, int index)
{
    if (!lua_getmetatable(L, index))
        return false;
    lua_getfield(L, LUA_REGISTRYINDEX, ARRAY_MT_KEY);
    lua_getfield(L, LUA_REGISTRYINDEX, OBJECT_MT_KEY);
    bool ours = lua_rawequal(L, -3, -2) || lua_rawequal(L, -3, -1);
    lua_pop(L, 3);
    return !ours;
}

/* Gives the table in argument 1 (a new one if there is none) the metatable under `key`. */
static int mark_table(lua_State *L, const char *key)
{
    lua_settop(L, 1);
    if (lua_isnil(L, 1)) {
        lua_newtable(L);
        lua_replace(L, 1);
    }
    luaL_checktype(L, 1, LUA_TTABLE);
    lazy_fill_if_lazy(L, 1); /* a document read on demand becomes a plain one */
    /* A table with another metatable (a read-only proxy of the sandbox, say) keeps it. */
    if (has_foreign_metatable(L, 1))
        return luaL_error(L, "json.array/json.object: the table has a metatable of its own");
    luaL_setmetatable(L, key);
    return 1;
}

/* json.array([t]) -> t: t (or a new table) written as an array even when empty. */
static int lua_json_array(lua_State *L)
{
    return mark_table(L, ARRAY_MT_KEY);
}

/* json.object([t]) -> t: t (or a new table) written as an object even when empty. */
static int lua_json_object(lua_State *L)
{
    return mark_table(L, OBJECT_MT_KEY);
}

void lua_json_push_module(lua_State *L)
{
    static const luaL_Reg functions[] = {
        {"encode", lua_json_encode},
        {"decode", lua_json_decode},
        {"array", lua_json_array},
        {"object", lua_json_object},
        {NULL, NULL},
    };
    lua_json_init(L); /* the module hands out the metatables, so they must exist */
    luaL_newlib(L, functions);
    lua_pushlightuserdata(L, &null_sentinel);
    lua_setfield(L, -2, "null");
    push_kind_marker(L, ARRAY_MT_KEY);
    lua_setfield(L, -2, "array_mt");
    push_kind_marker(L, OBJECT_MT_KEY);
    lua_setfield(L, -2, "object_mt");
}
