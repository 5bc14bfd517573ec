/*
 * test_lua_json.c — core/lua_json.c: JSON → Lua → JSON gives back the same values of the same
 * kinds; tables made in Lua become arrays or objects by the header's rules, and those that cannot
 * be JSON are refused with the path of the offending value; the stack is left as it was; the
 * stored JSON texts decoded straight into Lua give the very values of the jansson path; and the
 * ctg.json module behaves, from Lua code, as a plugin sees it.
 */
#include "ctg/lua_json.h"

#include <lauxlib.h>
#include <lualib.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static lua_State *new_state(void)
{
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    lua_json_init(L);
    lua_json_push_module(L);
    lua_setglobal(L, "json");
    return L;
}

static void report_mismatch(const char *what, const json_t *got, const char *err)
{
    char *text = got ? json_dumps(got, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    fprintf(stderr, "%s: got %s\n", what, text ? text : err);
    free(text);
}

/* JSON text → Lua → JSON must be json_equal to the original, which also tells an integer from
 * a real and an array from an object. */
static void check_round_trip(lua_State *L, const char *text)
{
    json_t *want = json_loads(text, JSON_DECODE_ANY, NULL);
    CHECK(want != NULL);
    if (!want)
        return;
    char err[256] = "";
    int top = lua_gettop(L);
    lua_json_push(L, want);
    json_t *got = lua_json_to(L, -1, err, sizeof err);
    if (!json_equal(got, want))
        report_mismatch(text, got, err);
    CHECK(json_equal(got, want));
    lua_settop(L, top);
    json_decref(got);
    json_decref(want);
}

/*
 * Runs `chunk`, which returns one value, and converts that value: NULL with `err` written if it
 * is refused. Success or not, lua_json_to must leave the stack as it found it.
 */
static json_t *from_lua(lua_State *L, const char *chunk, char *err, size_t errlen)
{
    int top = lua_gettop(L);
    if (luaL_dostring(L, chunk) != LUA_OK) {
        snprintf(err, errlen, "chunk failed: %s", lua_tostring(L, -1));
        lua_settop(L, top);
        return NULL;
    }
    json_t *value = lua_json_to(L, -1, err, errlen);
    CHECK_INT(lua_gettop(L), top + 1);
    lua_settop(L, top);
    return value;
}

static void check_lua(lua_State *L, const char *chunk, const char *expected)
{
    char err[256] = "";
    json_t *want = json_loads(expected, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    json_t *got = from_lua(L, chunk, err, sizeof err);
    if (!json_equal(got, want))
        report_mismatch(chunk, got, err);
    CHECK(want && json_equal(got, want));
    json_decref(got);
    json_decref(want);
}

/* Whether `text` is valid UTF-8, by jansson's rules: error messages end up in JSON responses. */
static int is_utf8(const char *text)
{
    json_t *s = json_string(text);
    int ok = s != NULL;
    json_decref(s);
    return ok;
}

/* The value must be refused with a message containing `fragment`. */
static void check_refused(lua_State *L, const char *chunk, const char *fragment)
{
    char err[256] = "";
    json_t *got = from_lua(L, chunk, err, sizeof err);
    if (got || !strstr(err, fragment))
        fprintf(stderr, "%s: expected a refusal with \"%s\", got \"%s\"\n", chunk, fragment, err);
    CHECK(got == NULL && strstr(err, fragment) != NULL);
    CHECK(is_utf8(err));
    json_decref(got);
}

/* The value must be refused with exactly `message`. */
static void check_refusal_is(lua_State *L, const char *chunk, const char *message)
{
    char err[256] = "";
    json_t *got = from_lua(L, chunk, err, sizeof err);
    CHECK(got == NULL);
    CHECK_STR(err, message);
    json_decref(got);
}

/* Runs `chunk`, which must return true; a Lua error is printed. */
static int lua_says(lua_State *L, const char *chunk)
{
    int top = lua_gettop(L);
    int ok = luaL_dostring(L, chunk) == LUA_OK;
    if (!ok)
        fprintf(stderr, "%s\n  raised: %s\n", chunk, lua_tostring(L, -1));
    ok = ok && lua_toboolean(L, -1);
    lua_settop(L, top);
    return ok;
}

static void test_round_trip_null_and_containers(lua_State *L)
{
    check_round_trip(L, "null");
    check_round_trip(L, "[null, 1, null]");
    check_round_trip(L, "{\"a\": null, \"b\": {\"c\": null}}");
    check_round_trip(L, "[]");
    check_round_trip(L, "{}");
    check_round_trip(L, "[[], {}, [[]], {\"e\": {}}]");
    check_round_trip(L, "{\"actions\": [{\"id\": \"fa-1\", \"figures\": {\"n\": 212, \"tags\": "
                        "[\"a\", true, false, null]}}, {\"id\": \"fa-2\", \"figures\": {}}], "
                        "\"status\": \"monitoring\"}");
    check_round_trip(L, "true");
    check_round_trip(L, "\"top\"");
}

static void test_round_trip_numbers(lua_State *L)
{
    check_round_trip(L, "0");
    check_round_trip(L, "-1");
    check_round_trip(L, "9007199254740993");
    check_round_trip(L, "[-9223372036854775808, 9223372036854775807]");
    check_round_trip(L, "2.0");
    check_round_trip(L, "[0.1, -1e300, 1.5e-300]");
}

static void test_round_trip_text(lua_State *L)
{
    check_round_trip(L, "[\"Finistère\", \"€\", \"😀\", \"\"]");
    check_round_trip(L, "{\"a/b\": 1, \"~1\": {\"c~d/\": \"Île-Tudy\"}}");

    /* jansson keeps NUL bytes in strings and keys; so does the round trip. (json_equal stops
     * at a NUL in a key, so the texts are compared.) */
    json_t *want = json_object();
    json_object_setn_new(want, "k\0ey", 4, json_stringn("a\0b", 3));
    lua_json_push(L, want);
    json_t *got = lua_json_to(L, -1, NULL, 0);
    lua_pop(L, 1);
    char *want_text = json_dumps(want, JSON_COMPACT);
    char *got_text = json_dumps(got, JSON_COMPACT);
    CHECK_STR(got_text, want_text);
    CHECK_INT(json_string_length(json_object_getn(got, "k\0ey", 4)), 3);
    free(got_text);
    free(want_text);
    json_decref(got);
    json_decref(want);
}

static void test_lua_tables(lua_State *L)
{
    check_lua(L, "return {1, 2, 3}", "[1, 2, 3]");
    check_lua(L, "return {a = 1}", "{\"a\": 1}");
    check_lua(L, "return {}", "{}");
    check_lua(L, "return {[1] = 'x', [2] = 'y'}", "[\"x\", \"y\"]");
    check_lua(L, "return {3, 3.0, -0.5, math.maxinteger, 2^53}",
              "[3, 3.0, -0.5, 9223372036854775807, 9007199254740992.0]");
    check_lua(L, "return {a = json.null, b = {json.null}, c = {true, false}}",
              "{\"a\": null, \"b\": [null], \"c\": [true, false]}");
    check_lua(L, "return json.null", "null");
    check_lua(L, "return 'a\\0b'", "\"a\\u0000b\"");
}

static void test_marked_tables(lua_State *L)
{
    check_lua(L, "return json.array({})", "[]");
    check_lua(L, "return json.array()", "[]");
    check_lua(L, "return json.object()", "{}");
    check_lua(L, "return {list = json.array(), map = json.object({})}",
              "{\"list\": [], \"map\": {}}");
    /* An array reads items 1..#t: other keys are not part of it. */
    check_lua(L, "return json.array({1, 2, name = 'x'})", "[1, 2]");
    check_refused(L, "return json.array({1, nil, 3})", "holes in an array");
    check_refusal_is(L, "return json.object({1})", "a key must be a string, not an integer");
    /* A metatable that is not ours does not make a table an array or an object. */
    check_lua(L, "return setmetatable({1, 2}, {})", "[1, 2]");
}

static void test_refused_tables(lua_State *L)
{
    check_refused(L, "return {[1] = 1, [3] = 3}", "holes in an array");
    check_refused(L, "return {[0] = 'zero', 'one'}", "keys must be 1..n");
    check_refused(L, "return {1, a = 2}", "mixed keys");
    check_refused(L, "return {a = 1, 2}", "mixed keys");
    check_refusal_is(L, "return {[1.5] = 1}", "a key must be a string, not a float");
    check_refusal_is(L, "return {a = {[true] = 1}}", "/a: a key must be a string, not a boolean");
}

static void test_refused_values(lua_State *L)
{
    check_refusal_is(L, "return {x = {1, print}}", "/x/1: a function cannot be written as JSON");
    check_refusal_is(L, "return {['a/b'] = {['c~d'] = {print}}}",
                     "/a~1b/c~0d/0: a function cannot be written as JSON");
    check_refusal_is(L, "return print", "a function cannot be written as JSON");
    check_refused(L, "return {io.stdout}", "a userdata cannot");
    check_refused(L, "return {co = coroutine.create(print)}", "a thread cannot");
    check_refused(L, "return nil", "use json.null");
    check_refusal_is(L, "return {n = 0/0}", "/n: NaN cannot be written as JSON");
    check_refused(L, "return {math.huge}", "infinity");
    check_refused(L, "return {-math.huge}", "infinity");
    check_refusal_is(L, "return {s = '\\xff'}", "/s: a string is not valid UTF-8");
    /* The bad key is reported, not the function under it, and its bytes stay out of the text. */
    check_refusal_is(L, "return {ok = {['\\xff'] = {print}}}", "/ok: a key is not valid UTF-8");
    check_refusal_is(L, "return {['\\xff'] = 1}", "a key is not valid UTF-8");

    /* A light userdata other than json.null. */
    static char other;
    char err[128];
    lua_pushlightuserdata(L, &other);
    CHECK(lua_json_to(L, -1, err, sizeof err) == NULL);
    CHECK_STR(err, "a userdata cannot be written as JSON");
    lua_pop(L, 1);
}

static void test_depth(lua_State *L)
{
    char err[256] = "";
    json_t *deep = from_lua(L, "local t = {} for i = 2, 64 do t = {t} end return t", err,
                            sizeof err);
    CHECK(deep != NULL);
    json_decref(deep);
    check_refused(L, "local t = {} for i = 2, 65 do t = {t} end return t",
                  "nested deeper than 64");
    check_refused(L, "local t = {} t.self = t return t", "nested deeper than 64");

    /* A path too long for the buffer is cut on a character boundary, whichever byte of "/è"
     * the cut falls on, and the reason survives. */
    for (size_t len = 99; len <= 101; len++) {
        char small[101];
        json_t *none = from_lua(L, "local t = {} t['è'] = t return t", small, len);
        CHECK(none == NULL);
        CHECK(is_utf8(small));
        CHECK(strncmp(small, "/è/è/è", strlen("/è/è/è")) == 0);
        CHECK(strstr(small, "...: tables nested deeper than 64 levels") != NULL);
    }
}

static void test_stack_balance(lua_State *L)
{
    char err[128];
    int top = lua_gettop(L);
    lua_pushinteger(L, 7);
    CHECK(luaL_dostring(L, "return {a = {1, 2}}") == LUA_OK);
    lua_pushstring(L, "above");
    json_t *ok = lua_json_to(L, -2, err, sizeof err);
    CHECK(ok != NULL);
    CHECK_INT(lua_gettop(L), top + 3);
    CHECK(luaL_dostring(L, "return {a = {1, print}}") == LUA_OK);
    lua_pushstring(L, "above");
    CHECK(lua_json_to(L, -2, err, sizeof err) == NULL);
    CHECK_INT(lua_gettop(L), top + 5);
    CHECK_STR(lua_tostring(L, -1), "above");
    CHECK_INT(lua_tointeger(L, top + 1), 7);

    /* An index past the top reads as nil, never as something lua_json_to pushed. */
    CHECK(lua_json_to(L, top + 6, err, sizeof err) == NULL);
    CHECK_INT(lua_gettop(L), top + 5);
    lua_settop(L, top);
    json_decref(ok);

    /* lua_json_push adds exactly one value. */
    json_t *doc = json_pack("{s:[i,{}]}", "a", 1);
    lua_json_push(L, doc);
    CHECK_INT(lua_gettop(L), top + 1);
    lua_settop(L, top);
    json_decref(doc);
}

static void test_decode_types(lua_State *L)
{
    CHECK(lua_says(L, "v = json.decode('{\"a\":[1,2.5,null,{}]}') return true"));
    CHECK(lua_says(L, "return getmetatable(v) == json.object_mt"));
    CHECK(lua_says(L, "return getmetatable(v.a) == json.array_mt and #v.a == 4"));
    CHECK(lua_says(L, "return math.type(v.a[1]) == 'integer' and v.a[1] == 1"));
    CHECK(lua_says(L, "return math.type(v.a[2]) == 'float' and v.a[2] == 2.5"));
    CHECK(lua_says(L, "return v.a[3] == json.null"));
    CHECK(lua_says(L, "return getmetatable(v.a[4]) == json.object_mt and next(v.a[4]) == nil"));
    CHECK(lua_says(L, "return math.type(json.decode('2.0')) == 'float'"));
    CHECK(lua_says(L, "return json.decode('\"Finistère\"') == 'Finistère'"));
}

static void test_encode(lua_State *L)
{
    CHECK(lua_says(L, "local s = '{\"a\":[1,2.5,null,{},[],true,false,\"Finistère\"],"
                      "\"b\":{\"c\":-3,\"d\":\"x\"}}' return json.encode(json.decode(s)) == s"));
    CHECK(lua_says(L, "return json.encode({b = 1, a = {2.0}, c = json.object()}) == "
                      "'{\"a\":[2.0],\"b\":1,\"c\":{}}'"));
    CHECK(lua_says(L, "return json.encode(json.null) == 'null' and json.encode('€') == '\"€\"'"));
    CHECK(lua_says(L, "local ok, e = pcall(json.encode, print) return not ok "
                      "and e == 'json.encode: a function cannot be written as JSON'"));
    CHECK(lua_says(L, "local ok, e = pcall(json.encode, {x = {print}}) "
                      "return not ok and e == 'json.encode: /x/0: a function cannot be written "
                      "as JSON'"));
}

static void test_decode_errors(lua_State *L)
{
    CHECK(lua_says(L, "local ok, e = pcall(json.decode, '{\"a\":1,\"a\":2}') "
                      "return not ok and e:find('json.decode: ', 1, true) == 1 "
                      "and e:find('duplicate', 1, true) ~= nil"));
    CHECK(lua_says(L, "local ok, e = pcall(json.decode, '[1,\\n  x]') "
                      "return not ok and e:find(' at line 2 column 3$') ~= nil"));
    CHECK(lua_says(L, "return not pcall(json.decode, '')"));
}

static void test_module_tables(lua_State *L)
{
    CHECK(lua_says(L, "local t = {} return json.array(t) == t "
                      "and getmetatable(t) == json.array_mt"));
    CHECK(lua_says(L, "local t = {} return json.object(t) == t "
                      "and getmetatable(t) == json.object_mt"));
    CHECK(lua_says(L, "return not pcall(json.array, 5)"));
    CHECK(lua_says(L, "return tostring(json.array()):find('^json.array: ') ~= nil"));
    CHECK(lua_says(L, "return tostring(json.object()):find('^json.object: ') ~= nil"));
    CHECK(lua_says(L, "return json.array_mt ~= json.object_mt"));

    /* A second lua_json_init keeps the metatables the module already handed out. */
    lua_json_init(L);
    json_t *doc = json_pack("[[]]");
    lua_json_push(L, doc);
    lua_setglobal(L, "pushed");
    json_decref(doc);
    CHECK(lua_says(L, "return getmetatable(pushed) == json.array_mt "
                      "and getmetatable(pushed[1]) == json.array_mt"));
}


/* ---- stored texts decoded straight into Lua (lua_json_push_text) ---- */

/* Lua: whether two values are the same, kinds included (integer/float, array/object marks). */
static const char same_lua[] =
    "local function same(a, b)\n"
    "  if type(a) ~= type(b) then return false end\n"
    "  if type(a) == 'number' then return math.type(a) == math.type(b) and a == b end\n"
    "  if type(a) ~= 'table' then return a == b end\n"
    "  if getmetatable(a) ~= getmetatable(b) then return false end\n"
    "  for k, v in pairs(a) do if not same(v, b[k]) then return false end end\n"
    "  for k in pairs(b) do if rawget(a, k) == nil then return false end end\n"
    "  return true\n"
    "end\n"
    "return same\n";

/* `text` decoded straight into Lua must be the value lua_json_push gives for `value`, and leave
 * one value on the stack. */
static void check_text_gives(lua_State *L, const char *text, const json_t *value)
{
    int top = lua_gettop(L);
    CHECK(luaL_dostring(L, same_lua) == LUA_OK);
    lua_json_push(L, value);
    lua_json_push_text(L, text, strlen(text));
    CHECK_INT(lua_gettop(L), top + 3);
    lua_call(L, 2, 1);
    if (!lua_toboolean(L, -1))
        fprintf(stderr, "lua_json_push_text(%s) differs from lua_json_push\n", text);
    CHECK(lua_toboolean(L, -1));
    lua_settop(L, top);
}

/* The text jansson writes for `value`, as the store holds it. */
static void check_text_push(lua_State *L, const json_t *value)
{
    char *text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
    check_text_gives(L, text, value);
    free(text);
}

static void check_text_push_of(lua_State *L, const char *text)
{
    json_t *value = json_loads(text, JSON_DECODE_ANY, NULL);
    CHECK(value != NULL);
    if (value)
        check_text_push(L, value);
    json_decref(value);
}

/* A text as it comes, not as jansson writes it: escapes, white space, numbers of every shape. */
static void check_text_as_jansson_reads_it(lua_State *L, const char *text)
{
    json_t *value = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    CHECK(value != NULL);
    if (value)
        check_text_gives(L, text, value);
    json_decref(value);
}

static void test_text_push(lua_State *L)
{
    /* what the compact reader takes itself, and what it leaves to yajl */
    check_text_as_jansson_reads_it(L, "{\"e\":\"\\u00e9\\u20ac\\u0041\\/x\",\"n\":[1E+2,-0.5e-3,0,-0,"
                                      "10,-9223372036854775808,1.5e300]}");
    check_text_as_jansson_reads_it(L, "[\"\\ud83d\\ude00\",\"\\u0000\",\"a\\u0000b\"]");
    check_text_as_jansson_reads_it(L, "{ \"a\" : [ 1 , 2.5 , \"x\" ] , \"b\" : { } }");
    check_text_as_jansson_reads_it(L, "[1,2]  ");
    check_text_as_jansson_reads_it(L, "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
    /* a scalar alone: the compact reader without a decoder, or yajl when it is not compact */
    check_text_as_jansson_reads_it(L, "1.5e3");
    check_text_as_jansson_reads_it(L, "-9223372036854775808");
    check_text_as_jansson_reads_it(L, "\"\\u00e9\\n\\\"\"");
    check_text_as_jansson_reads_it(L, "\"a\\u0000b\"");
    check_text_as_jansson_reads_it(L, " -7");
    check_text_as_jansson_reads_it(L, "42 ");
    check_text_as_jansson_reads_it(L, "\t\"x\" ");
    check_text_as_jansson_reads_it(L, "false");
    check_text_push_of(L, "null");
    check_text_push_of(L, "true");
    check_text_push_of(L, "\"top\"");
    check_text_push_of(L, "[]");
    check_text_push_of(L, "{}");
    check_text_push_of(L, "[[], {}, [[]], {\"e\": {}}, null, false]");
    check_text_push_of(L, "[0, -0, -1, 9007199254740993, -9223372036854775808, "
                          "9223372036854775807, 2.0, 0.1, -1e300, 1.5e-300, -0.0, 1e-320, 4.9e-324]");
    check_text_push_of(L, "{\"a\": \"Finistère\", \"€\": \"😀\", \"q\": \"\\\"\\\\/\\b\\f\\n\\r\\t\","
                          " \"c\": \"\\u0001\\u001f\", \"\": \"\"}");
    check_text_push_of(L, "{\"actions\": [{\"id\": \"fa-1\", \"figures\": {\"n\": 212, \"tags\": "
                          "[\"a\", true, false, null]}}, {\"id\": \"fa-2\", \"figures\": {}}], "
                          "\"status\": \"monitoring\"}");
    /* NUL bytes in keys and strings, which jansson writes as \u0000 */
    json_t *nul = json_object();
    json_object_setn_new(nul, "k\0ey", 4, json_stringn("a\0b", 3));
    check_text_push(L, nul);
    json_decref(nul);
    /* deeper than the decoder's first levels, in arrays and objects */
    json_t *deep = json_integer(7);
    for (int i = 0; i < 200; i++)
        deep = i % 2 ? json_pack("[o]", deep) : json_pack("{so}", "k", deep);
    check_text_push(L, deep);
    json_decref(deep);
}

static int push_texts_of(lua_State *L)
{
    struct json_texts *texts = lua_touserdata(L, 1);
    lua_json_push_texts(L, texts);
    return 1;
}

/* lua_json_push_text of `len` bytes at a light userdata, with nothing after them. */
static int push_bytes(lua_State *L)
{
    lua_json_push_text(L, lua_touserdata(L, 1), (size_t)lua_tointeger(L, 2));
    return 1;
}

/* (text) -> lua_json_push_text of it; lua_json_push_text_lazy when upvalue 1 is true. */
static int push_text_of(lua_State *L)
{
    size_t len;
    const char *text = luaL_checklstring(L, 1, &len);
    if (lua_toboolean(L, lua_upvalueindex(1)))
        lua_json_push_text_lazy(L, text, len);
    else
        lua_json_push_text(L, text, len);
    return 1;
}

/* Sets global `name` to push_text_of, reading on demand when `lazy`. */
static void set_text_push(lua_State *L, const char *name, bool lazy)
{
    lua_pushboolean(L, lazy);
    lua_pushcclosure(L, push_text_of, 1);
    lua_setglobal(L, name);
}

/* Several texts become one marked array; an empty list, an empty marked array. */
static void test_texts_push(lua_State *L)
{
    struct json_texts texts = {0};
    static const char *const docs[] = {"{\"id\":\"a\",\"n\":1}", "[1,2.5]", "null"};
    for (size_t i = 0; i < 3; i++)
        CHECK_INT(json_texts_add(&texts, docs[i], strlen(docs[i])), 0);
    size_t len;
    CHECK(strncmp(json_texts_get(&texts, 1, &len), "[1,2.5]", 7) == 0 && len == 7);
    int top = lua_gettop(L);
    lua_pushcfunction(L, push_texts_of);
    lua_pushlightuserdata(L, &texts);
    CHECK(lua_pcall(L, 1, 1, 0) == LUA_OK);
    lua_setglobal(L, "pushed");
    CHECK_INT(lua_gettop(L), top);
    CHECK(lua_says(L, "return getmetatable(pushed) == json.array_mt and #pushed == 3 "
                      "and pushed[1].id == 'a' and math.type(pushed[1].n) == 'integer' "
                      "and getmetatable(pushed[1]) == json.object_mt "
                      "and math.type(pushed[2][2]) == 'float' and pushed[3] == json.null"));
    CHECK(lua_gc(L, LUA_GCISRUNNING)); /* held off while decoding only */
    json_texts_clear(&texts);
    /* One parser reads text after text: a number that ends a text does not run on into the
     * next, and containers of changing sizes (each sized after its predecessor) keep every item. */
    static const char *const shapes[] = {"12", "34", "{\"a\":[1,2,3,4,5,6,7,8,9,10]}",
                                         "{\"a\":[]}", "{\"a\":[1],\"b\":{\"c\":2}}", "5"};
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++)
        CHECK_INT(json_texts_add(&texts, shapes[i], strlen(shapes[i])), 0);
    lua_pushcfunction(L, push_texts_of);
    lua_pushlightuserdata(L, &texts);
    CHECK(lua_pcall(L, 1, 1, 0) == LUA_OK);
    lua_setglobal(L, "pushed");
    CHECK(lua_says(L, "return #pushed == 6 and pushed[1] == 12 and pushed[2] == 34 "
                      "and #pushed[3].a == 10 and pushed[3].a[10] == 10 and #pushed[4].a == 0 "
                      "and pushed[5].a[1] == 1 and pushed[5].b.c == 2 and pushed[6] == 5"));
    json_texts_clear(&texts);
    /* a text cut short is an error, not the start of a value that the next text ends */
    static const char *const cut[] = {"{\"a\":", "1}"};
    static const char *const string_after[] = {"{\"a\":1}\"x", "{\"b\":\"y\"}"};
    for (size_t i = 0; i < 2; i++)
        CHECK_INT(json_texts_add(&texts, cut[i], strlen(cut[i])), 0);
    lua_pushcfunction(L, push_texts_of);
    lua_pushlightuserdata(L, &texts);
    CHECK(lua_pcall(L, 1, 1, 0) != LUA_OK);
    CHECK(strstr(lua_tostring(L, -1), "a stored JSON text cannot be read") != NULL);
    lua_settop(L, top);
    CHECK(lua_gc(L, LUA_GCISRUNNING)); /* the failed decoding let it run again */
    /* nor is a string begun after a value: the text holding it is the one refused */
    json_texts_clear(&texts);
    for (size_t i = 0; i < 2; i++)
        CHECK_INT(json_texts_add(&texts, string_after[i], strlen(string_after[i])), 0);
    lua_pushcfunction(L, push_texts_of);
    lua_pushlightuserdata(L, &texts);
    CHECK(lua_pcall(L, 1, 1, 0) != LUA_OK);
    lua_settop(L, top);
    lua_pushboolean(L, 0);
    lua_pushcclosure(L, push_text_of, 1);
    lua_pushliteral(L, "{\"a\":1}\"x");
    CHECK(lua_pcall(L, 1, 1, 0) != LUA_OK);
    lua_settop(L, top);
    /* a collector stopped before (a report's hold) stays stopped */
    lua_gc(L, LUA_GCSTOP);
    json_texts_clear(&texts);
    CHECK_INT(json_texts_add(&texts, "{}", 2), 0);
    lua_pushcfunction(L, push_texts_of);
    lua_pushlightuserdata(L, &texts);
    CHECK(lua_pcall(L, 1, 1, 0) == LUA_OK);
    CHECK(!lua_gc(L, LUA_GCISRUNNING));
    lua_gc(L, LUA_GCRESTART);
    lua_settop(L, top);
    json_texts_clear(&texts);
    CHECK(texts.n == 0 && texts.buf == NULL);
    lua_pushcfunction(L, push_texts_of);
    lua_pushlightuserdata(L, &texts);
    CHECK(lua_pcall(L, 1, 1, 0) == LUA_OK);
    lua_setglobal(L, "pushed");
    CHECK(lua_says(L, "return getmetatable(pushed) == json.array_mt and next(pushed) == nil"));
}

/* A text that does not decode raises an error that says so, and leaves the stack as it was. */
static void test_text_push_errors(lua_State *L)
{
    set_text_push(L, "push_text", false);
    static const char *const bad[] = {"{", "[1,]", "{\"a\":1}x", "", "[1] [2]", "\"\\x\"",
                                      "\"\xff\"", "[01]", "[1.]", "[-]", "[.5]", "[1e]", "{\"a\"1}",
                                      "{\"a\":1,}", "[tru]", "[\"\xc3\"]", "\"\\u12\"",
                                      "[\"a\x01\"]"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int top = lua_gettop(L);
        lua_getglobal(L, "push_text");
        lua_pushstring(L, bad[i]);
        CHECK(lua_pcall(L, 1, 1, 0) != LUA_OK);
        CHECK(strstr(lua_tostring(L, -1), "a stored JSON text cannot be read") != NULL);
        lua_settop(L, top);
    }
    CHECK(lua_says(L, "return push_text('[1]')[1] == 1"));
    /* many values one after the other are refused at the second, not left on the stack */
    CHECK(lua_says(L, "local ok, e = pcall(push_text, string.rep('1 ', 100000)) "
                      "return not ok and e:find('cannot be read', 1, true) ~= nil"));
    /* a text that ends inside an escape is not read past its end (under ASan, the block is the
     * text's exact size) */
    static const char ends_in_escape[] = {'[', '"', 'a', '\\'};
    char *exact = malloc(sizeof ends_in_escape);
    CHECK(exact != NULL);
    if (!exact)
        return;
    memcpy(exact, ends_in_escape, sizeof ends_in_escape);
    int top = lua_gettop(L);
    lua_pushcfunction(L, push_bytes);
    lua_pushlightuserdata(L, exact);
    lua_pushinteger(L, (lua_Integer)sizeof ends_in_escape);
    CHECK(lua_pcall(L, 2, 1, 0) != LUA_OK);
    lua_settop(L, top);
    free(exact);
}

/* A Lua allocator that refuses to go past `limit` bytes in use. */
struct budget {
    size_t used, limit;
};

static void *budget_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    struct budget *b = ud;
    size_t old = ptr ? osize : 0; /* without ptr, osize is a type tag */
    if (nsize == 0) {
        free(ptr);
        b->used -= old;
        return NULL;
    }
    if (nsize > old && b->used - old + nsize > b->limit)
        return NULL;
    void *p = realloc(ptr, nsize);
    if (p)
        b->used = b->used - old + nsize;
    return p;
}

/* ---- documents read on demand (lua_json_push_lazy) ---- */

static const char lazy_doc[] =
    "{\"id\": \"pbs\", \"title\": \"CTG du Pays Bigouden Sud\", \"rev\": 3, \"score\": 2.0,"
    " \"signed\": true, \"note\": null, \"champs\": [\"jeunesse\", \"logement\"],"
    " \"period\": {\"start\": \"2020-01-01\", \"end\": \"2023-12-31\"}, \"empty\": {},"
    " \"actions\": [{\"code\": \"A1\", \"figures\": [1, 2]}]}";

/* Sets global `doc` to `value` read on demand, and `full` to its whole conversion. */
static void set_lazy_globals(lua_State *L, const json_t *value)
{
    lua_json_push_lazy(L, value);
    lua_setglobal(L, "doc");
    lua_json_push(L, value);
    lua_setglobal(L, "full");
}

/* The JSON of the Lua value of global `name` must be `want`. */
static void check_global_is(lua_State *L, const char *name, const json_t *want)
{
    char err[256] = "";
    lua_getglobal(L, name);
    json_t *got = lua_json_to(L, -1, err, sizeof err);
    lua_pop(L, 1);
    if (!json_equal(got, want))
        report_mismatch(name, got, err);
    CHECK(json_equal(got, want));
    json_decref(got);
}

/* Read member by member, the document gives what the whole conversion gives. */
static void test_lazy_reads(lua_State *L)
{
    json_t *value = json_loads(lazy_doc, 0, NULL);
    set_lazy_globals(L, value);
    CHECK(lua_says(L, "return doc.id == 'pbs' and doc.rev == 3 and math.type(doc.rev) == "
                      "'integer' and math.type(doc.score) == 'float' and doc.signed == true"));
    CHECK(lua_says(L, "return doc.note == json.null and doc.missing == nil and doc[1] == nil"));
    CHECK(lua_says(L, "return doc.period == doc.period and doc.period['end'] == '2023-12-31'"));
    CHECK(lua_says(L, "return #doc.champs == 2 and doc.champs[2] == 'logement' and "
                      "getmetatable(doc.champs) == json.array_mt"));
    CHECK(lua_says(L, "return getmetatable(doc) == json.object_mt and "
                      "getmetatable(doc.empty) == json.object_mt"));
    CHECK(lua_says(L, "return not pcall(setmetatable, doc, nil)"));
    CHECK(lua_says(L, "return json.encode(doc) == json.encode(full)"));
    check_global_is(L, "doc", value);
    /* a member changed through the table it was read as is written as it is now */
    CHECK(lua_says(L, "doc.period.start = '2021-01-01' table.insert(doc.actions, 'x') "
                      "return next(doc) == nil"));
    json_t *changed = json_deep_copy(value);
    json_object_set_new(json_object_get(changed, "period"), "start", json_string("2021-01-01"));
    json_array_append_new(json_object_get(changed, "actions"), json_string("x"));
    check_global_is(L, "doc", changed);
    json_decref(changed);
    /* inside another table, the document is written as it is, nothing of it read */
    json_t *fresh = json_loads(lazy_doc, 0, NULL);
    set_lazy_globals(L, fresh);
    json_t *inside = json_pack("{s:O, s:i}", "d", fresh, "e", 1);
    check_global_is(L, "doc", fresh);
    CHECK(lua_says(L, "inside = {d = doc, e = 1} return next(doc) == nil"));
    check_global_is(L, "inside", inside);
    json_decref(inside);
    json_decref(fresh);
    lua_json_end_lazy(L);
    json_decref(value);
}

/* What pairs() hands out refuses what is not a table; json.object fills the document. */
static void test_lazy_guards(lua_State *L)
{
    json_t *value = json_loads(lazy_doc, 0, NULL);
    set_lazy_globals(L, value);
    CHECK(lua_says(L, "local f = pairs(doc) return not pcall(f, 0x41414141) and "
                      "not pcall(f, 's') and not pcall(f, json.null) and f(doc) ~= nil"));
    set_lazy_globals(L, value);
    CHECK(lua_says(L, "return json.object(doc) == doc and next(doc) ~= nil and "
                      "getmetatable(doc) == json.object_mt"));
    lua_json_end_lazy(L);
    json_decref(value);
}

/* A member not read is charged against the size bound and the depth as its conversion is. */
static void test_lazy_bounds(lua_State *L)
{
    char *big = malloc(10001);
    memset(big, 'x', 10000);
    big[10000] = '\0';
    json_t *value = json_pack("{s:s, s:i}", "big", big, "n", 1);
    free(big);
    set_lazy_globals(L, value);
    lua_json_set_size_max(L, 15000); /* one copy of the document, not two */
    CHECK(lua_says(L, "return #json.encode(doc) > 10000"));
    check_refused(L, "return {doc, doc}", "the JSON would take more than");
    check_refused(L, "return {full, full}", "the JSON would take more than");
    lua_json_set_size_max(L, 64 << 20);
    lua_json_end_lazy(L);
    json_decref(value);
    json_t *deep = json_object(), *at = deep;
    for (int i = 0; i < LUA_JSON_DEPTH_MAX + 2; i++) {
        json_t *inner = json_object();
        json_object_set_new(at, "a", inner);
        at = inner;
    }
    set_lazy_globals(L, deep);
    check_refused(L, "return full", "nested deeper than");
    check_refused(L, "return doc", "nested deeper than");
    lua_json_end_lazy(L);
    json_decref(deep);
}

/* (text, at, len) -> lua_json_push_text_lazy_known of it, its "doc" at 0-based `at`. */
static int push_event_of(lua_State *L)
{
    size_t len;
    const char *text = luaL_checklstring(L, 1, &len);
    lua_json_push_text_lazy_known(L, text, len, "doc", (size_t)luaL_checkinteger(L, 2),
                                  (size_t)luaL_checkinteger(L, 3));
    return 1;
}

/* An event whose "doc" the caller places: read as if found, and only there. */
static void test_text_lazy_known(lua_State *L)
{
    lua_pushcfunction(L, push_event_of);
    lua_setglobal(L, "lazy_event");
    CHECK(lua_says(L, "ev_text = '{\"type\":\"t\",\"changed\":[\"status\"],"
                      "\"doc\":{\"status\":\"a\",\"n\":[1,2]}}' "
                      "doc_at = ev_text:find('{\"status\"', 1, true) - 1 "
                      "doc_len = #ev_text - 1 - doc_at return true"));
    CHECK(lua_says(L, "local e = lazy_event(ev_text, doc_at, doc_len) local d = e.doc "
                      "return d == e.doc and d.status == 'a' and d.n[2] == 2 and e.type == 't' "
                      "and getmetatable(d) == json.object_mt"));
    /* the whole event is the text's: pairs and encode see "doc" once, as it is */
    CHECK(lua_says(L, "local e = lazy_event(ev_text, doc_at, doc_len) local n = 0 "
                      "for k in pairs(e) do n = n + 1 end "
                      "return n == 3 and json.encode(e) == json.encode(json.decode(ev_text))"));
    CHECK(lua_says(L, "local e = lazy_event(ev_text, doc_at, doc_len) e.doc.status = 'b' "
                      "return e.doc.status == 'b' and json.decode(json.encode(e)).doc.status == 'b'"));
    /* the member first or between others: the rest of the text is the rest of the event */
    CHECK(lua_says(L, "local t = '{\"doc\":{\"a\":1},\"other\":{\"a\":2}}' "
                      "local e = lazy_event(t, 6, 7) local n = 0 for k in pairs(e) do n = n + 1 end "
                      "return n == 2 and e.doc.a == 1 and e.other.a == 2 and "
                      "json.encode(e) == json.encode(json.decode(t))"));
    CHECK(lua_says(L, "local t = '{\"x\":1,\"doc\":{\"a\":1},\"y\":[2]}' "
                      "local e = lazy_event(t, 12, 7) "
                      "return e.x == 1 and e.y[1] == 2 and e.doc.a == 1 and "
                      "json.encode(e) == json.encode(json.decode(t))"));
    /* the place given is read as it is, even when it is not after the key: it is not searched
       for, and the member whose value it is stays as it is */
    CHECK(lua_says(L, "local t = '{\"doc\":{\"a\":1},\"other\":{\"a\":2}}' "
                      "local at = t:find('{\"a\":2', 1, true) - 1 local e = lazy_event(t, at, 7) "
                      "return e.doc.a == 2 and e.other.a == 2"));
    /* a place that holds no object, or lies past the text, is not taken: the search finds it */
    CHECK(lua_says(L, "return lazy_event(ev_text, 2, 5).doc.status == 'a' and "
                      "lazy_event(ev_text, #ev_text, 9).doc.status == 'a' and "
                      "lazy_event(ev_text, doc_at, #ev_text).doc.status == 'a' and "
                      "lazy_event('[1]', 0, 3)[1] == 1"));
}

/* What a document read on demand holds goes with it: many pushed leave no memory behind. */
static void test_lazy_leaves_nothing(lua_State *L)
{
    static const char text[] = "{\"a\":{\"b\":1},\"c\":\"a text of some length, kept by "
                               "the document read on demand until it goes\"}";
    json_t *value = json_loads(lazy_doc, 0, NULL);
    lua_gc(L, LUA_GCCOLLECT);
    int before = lua_gc(L, LUA_GCCOUNT);
    for (int i = 0; i < 20000; i++) {
        lua_json_push_text_lazy(L, text, sizeof text - 1);
        lua_json_push_lazy(L, value);
        lua_pop(L, 2);
    }
    lua_json_end_lazy(L);
    lua_gc(L, LUA_GCCOLLECT);
    int grown = lua_gc(L, LUA_GCCOUNT) - before; /* KiB; 20 000 of each would be some 5 MiB */
    if (grown >= 256)
        fprintf(stderr, "test_lazy_leaves_nothing: %d KiB more after the collection\n", grown);
    CHECK(grown < 256);
    json_decref(value);
}

/* Runs `chunk` (compiled with no limit) with only `room` more bytes for Lua to use. */

/* pairs() and the first write turn the document into the whole conversion, kept as it is. */
static void test_lazy_becomes_plain(lua_State *L)
{
    json_t *value = json_loads(lazy_doc, 0, NULL);
    set_lazy_globals(L, value);
    CHECK(lua_says(L, "local period = doc.period local n = 0 "
                      "for k, v in pairs(doc) do n = n + 1 assert(json.encode(v) == "
                      "json.encode(full[k])) end "
                      "return n == 10 and next(doc) ~= nil and rawget(doc, 'period') == period"));
    json_t *other = json_loads(lazy_doc, 0, NULL);
    set_lazy_globals(L, other);
    CHECK(lua_says(L, "doc.title = nil doc.extra = 1 return rawget(doc, 'id') == 'pbs' and "
                      "getmetatable(doc) == json.object_mt"));
    json_object_del(other, "title");
    json_object_set_new(other, "extra", json_integer(1));
    lua_json_end_lazy(L);
    check_global_is(L, "doc", other); /* plain now: readable after its call */
    json_decref(other);
    json_decref(value);
}

/* After its call, a document that is still read on demand is refused, not read. */
static void test_lazy_after_the_call(lua_State *L)
{
    json_t *value = json_loads(lazy_doc, 0, NULL);
    set_lazy_globals(L, value);
    CHECK(lua_says(L, "kept = doc.period return doc.title ~= nil"));
    lua_json_end_lazy(L);
    json_decref(value); /* what the caller does after the call: ASan sees any read of it */
    CHECK(lua_says(L, "local ok, e = pcall(function() return doc.id end) "
                      "return not ok and e:find('only during the call', 1, true) ~= nil"));
    CHECK(lua_says(L, "return not pcall(pairs, doc) and not pcall(function() doc.x = 1 end)"));
    CHECK(lua_says(L, "return kept.start == '2020-01-01'")); /* a member read is its own */
    check_refusal_is(L, "return {doc}", "/0: a document given to a plugin can be read only "
                                        "during the call it was given to");
    json_t *scalar = json_integer(7);
    lua_json_push_lazy(L, scalar); /* anything but an object is pushed whole */
    CHECK(lua_isinteger(L, -1) && lua_tointeger(L, -1) == 7);
    lua_pop(L, 1);
    json_decref(scalar);
}

/* A text read on demand gives what its whole decoding gives, objects inside it read on demand
 * too; it stays readable after the call. */
static void test_text_lazy(lua_State *L)
{
    json_t *value = json_loads(lazy_doc, 0, NULL);
    char *compact = json_dumps(value, JSON_COMPACT);
    set_text_push(L, "lazy_text", true);
    lua_pushstring(L, compact);
    lua_setglobal(L, "text");
    lua_pushstring(L, lazy_doc); /* with white space: read whole, then member by member */
    lua_setglobal(L, "spaced");
    CHECK(lua_says(L, "local d = lazy_text(text) local p = d.period "
                      "return next(p) == nil and p == d.period and p.start == '2020-01-01' and "
                      "d.rev == 3 and math.type(d.score) == 'float' and d.note == json.null and "
                      "d.champs[1] == 'jeunesse' and getmetatable(p) == json.object_mt"));
    CHECK(lua_says(L, "local d = lazy_text(text) return json.encode(d) == json.encode("
                      "json.decode(text)) and json.encode(d.period) == "
                      "'{\"end\":\"2023-12-31\",\"start\":\"2020-01-01\"}'"));
    CHECK(lua_says(L, "local d = lazy_text(text) d.period.start = 'x' local n = 0 "
                      "for k in pairs(d) do n = n + 1 end "
                      "return n == 10 and rawget(d, 'period').start == 'x' and d.empty ~= nil"));
    CHECK(lua_says(L, "local d, s = lazy_text(text), lazy_text(spaced) "
                      "return s.period['end'] == '2023-12-31' and s.missing == nil and "
                      "json.encode(s) == json.encode(d)"));
    CHECK(lua_says(L, "kept = lazy_text(text) return true"));
    lua_json_end_lazy(L);
    CHECK(lua_says(L, "return kept.actions[1].code == 'A1' and kept.period.start == '2020-01-01'"));
    /* escaped keys; a damaged text fails where it is read, and its encoding is refused */
    CHECK(lua_says(L, "local d = lazy_text([[{\"a\\\"b\":1,\"c\":{\"d\":2}}]]) "
                      "return d['a\"b'] == 1 and next(d) ~= nil and d.c.d == 2"));
    CHECK(lua_says(L, "local d = lazy_text('{\"a\":[1},\"b\":2}') "
                      "return not pcall(function() return d.b end)"));
    /* an object kept from a text keeps its own text, not the whole one */
    CHECK(lua_says(L, "local filler = string.rep('x', 100000) kept_parts = {} "
                      "collectgarbage() local before = collectgarbage('count') "
                      "for i = 1, 50 do kept_parts[i] = lazy_text('{\"f\":\"' .. filler .. "
                      "'\",\"p\":{\"a\":1}}').p end "
                      "collectgarbage() return collectgarbage('count') - before < 1000 and "
                      "kept_parts[50].a == 1"));
    CHECK(lua_says(L, "local d = lazy_text('{\"a\":1,\"b\":tru}') "
                      "local ok, e = pcall(function() return d.b end) "
                      "return d.a == 1 and not ok and e:find('cannot be read', 1, true) ~= nil"));
    check_refused(L, "return lazy_text('{\"a\":1,\"b\":tru}')", "cannot be read");
    CHECK(lua_says(L, "return lazy_text('[1,2]')[2] == 2 and lazy_text('{}').x == nil"));
    /* strings ending in escaped backslashes, and escaped quotes, are skipped where they end */
    CHECK(lua_says(L, "local d = lazy_text([[{\"a\":\"x\\\\\",\"b\":\"q\\\"r\\\\\\\"\","
                      "\"c\":{\"d\":[\"]\",\"}\"]},\"e\":1}]]) "
                      "return d.e == 1 and d.c.d[2] == '}' and d.b == [[q\"r\\\"]] and d.a == [[x\\]]"));
    free(compact);
    json_decref(value);
}

/* Runs `chunk` (compiled with no limit) with only `room` more bytes for Lua to use. */
static int lua_says_with_room(lua_State *L, struct budget *b, const char *chunk, size_t room)
{
    if (luaL_loadstring(L, chunk) != LUA_OK)
        return 0;
    b->limit = b->used + room;
    int ok = lua_pcall(L, 0, 1, 0) == LUA_OK && lua_toboolean(L, -1);
    b->limit = (size_t)-1;
    lua_pop(L, 1);
    return ok;
}

/* When Lua runs out of memory in the middle of decode or encode, the JSON value or text they
 * hold is still freed (LeakSanitizer watches). */
static void test_memory_errors_leak_nothing(void)
{
    struct budget b = {0, (size_t)-1};
    lua_State *L = lua_newstate(budget_alloc, &b);
    luaL_openlibs(L);
    lua_json_init(L);
    lua_json_push_module(L);
    lua_setglobal(L, "json");
    CHECK(lua_says(L, "text = '[' .. ('{\"a\":[1,2,3]},'):rep(2000) .. '1]' "
                      "value = json.decode(text) return #value == 2001"));
    CHECK(lua_says_with_room(L, &b, "local ok, e = pcall(json.decode, text) "
                                    "return not ok and e == 'not enough memory'", 20000));
    CHECK(lua_says_with_room(L, &b, "local ok, e = pcall(json.encode, value) "
                                    "return not ok and e == 'not enough memory'", 10000));
    CHECK(lua_says(L, "return #json.encode(value) == #text"));
    /* and so does a stored text decoded straight into Lua: the parser is freed */
    set_text_push(L, "push_text", false);
    CHECK(lua_says_with_room(L, &b, "local ok, e = pcall(push_text, text) "
                                    "return not ok and e == 'not enough memory'", 20000));
    CHECK(lua_says(L, "return #push_text(text) == 2001"));
    lua_close(L);
}

int main(void)
{
    lua_State *L = new_state();
    test_round_trip_null_and_containers(L);
    test_round_trip_numbers(L);
    test_round_trip_text(L);
    test_lua_tables(L);
    test_marked_tables(L);
    test_refused_tables(L);
    test_refused_values(L);
    test_depth(L);
    test_stack_balance(L);
    test_decode_types(L);
    test_encode(L);
    test_decode_errors(L);
    test_module_tables(L);
    test_text_push(L);
    test_texts_push(L);
    test_text_push_errors(L);
    test_lazy_reads(L);
    test_lazy_becomes_plain(L);
    test_lazy_after_the_call(L);
    test_text_lazy(L);
    test_text_lazy_known(L);
    test_lazy_guards(L);
    test_lazy_bounds(L);
    test_lazy_leaves_nothing(L);
    lua_close(L);
    test_memory_errors_leak_nothing();
    return check_summary("test_lua_json");
}
