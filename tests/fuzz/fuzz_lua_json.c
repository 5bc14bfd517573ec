/*
 * fuzz_lua_json.c — JSON ⇄ Lua (core/lua_json.c) inside the plugins' sandbox
 * (core/lua_runtime.c), under its budgets. The input is a JSON text, read as json.decode reads it.
 *
 * Properties:
 *   - JSON → Lua (lua_json_push) → JSON (lua_json_to) gives back the same value, same kinds,
 *     same text, and leaves the Lua stack as it was, when the value nests at most
 *     LUA_JSON_DEPTH_MAX deep; deeper, the way back is refused with a message, not a crash;
 *   - so does the value's compact text (as the store writes it) decoded straight into Lua
 *     (lua_json_push_text);
 *   - in Lua, json.encode of the pushed value and of json.decode(text) are the same text, which
 *     is the sorted compact text of the input, and which decodes and encodes to itself; so is
 *     json.encode of the value pushed to be read on demand (lua_json_push_lazy, and
 *     lua_json_push_text_lazy of its compact text), with some of its members read, then after
 *     pairs() has filled it;
 *   - any input that starts like an object, JSON or not, pushed by lua_json_push_text_lazy and
 *     read here and there, fails with a Lua error at worst (ASan watches the reads).
 */
#define _GNU_SOURCE /* memmem */
#include "ctg/lua_json.h"
#include "ctg/lua_runtime.h"

#include "fuzz_common.h"

#include <lauxlib.h>
#include <stdbool.h>

/* Run as a plugin's chunk: returns the function called on each input. */
static const char round_trip_lua[] =
    "return function(pushed, text, lazy, lazy_text)\n"
    "  local encoded = json.encode(pushed)\n"
    "  assert(json.encode(json.decode(text)) == encoded, 'json.decode and the push disagree')\n"
    "  assert(json.encode(json.decode(encoded)) == encoded, 'encoding is not stable')\n"
    "  for _, doc in ipairs({lazy, lazy_text}) do\n"
    "    if type(pushed) == 'table' then\n"
    "      for k, v in pairs(pushed) do\n"
    "        if type(v) == 'table' then assert(json.encode(doc[k]) == json.encode(v)) end\n"
    "      end\n"
    "    end\n"
    "    assert(json.encode(doc) == encoded, 'read on demand, the value encodes otherwise')\n"
    "    if type(doc) == 'table' then for _ in pairs(doc) do end end\n"
    "    assert(json.encode(doc) == encoded, 'filled, the value encodes otherwise')\n"
    "  end\n"
    "  return encoded\n"
    "end\n";

/* Run as a plugin's chunk too: reads a document of any text here and there. */
static const char probe_lua[] =
    "return function(doc)\n"
    "  pcall(function()\n"
    "    for _, k in ipairs({'a', 'b', '', 'doc', 'id', 'c'}) do\n"
    "      local v = doc[k]\n"
    "      if type(v) == 'table' then local _ = v.a, v[''], v.b, v[1] end\n"
    "    end\n"
    "  end)\n"
    "  pcall(json.encode, doc)\n"
    "  pcall(function() for _ in pairs(doc) do end end)\n"
    "end\n";

static struct lua_runtime *runtime;
static int round_trip_ref = LUA_NOREF, probe_ref = LUA_NOREF;

/* One input, and what the calls into Lua found. */
struct trip {
    const json_t *value;
    const char *text;
    size_t len;
    const char *stored; /* the value's compact text, as the store writes it */
    json_t *back;      /* lua_json_to's answer */
    json_t *back_text; /* its answer for the stored text decoded straight into Lua */
    char err[256];     /* its refusal */
    char *encoded;     /* json.encode's text in Lua */
};

/* The sandbox's globals get `json` (read-only, as ctg.json is); the round trip is loaded. */
/* Loads `chunk` as a plugin's, runs it and keeps the function it returns in the registry. */
static int load_function(lua_State *L, struct lua_runtime *rt, const char *chunk, size_t len,
                         const char *name)
{
    if (luaL_loadbufferx(L, chunk, len, name, "t"))
        return lua_error(L);
    lua_runtime_push_env(rt);
    lua_setupvalue(L, -2, 1);
    lua_call(L, 0, 1);
    return luaL_ref(L, LUA_REGISTRYINDEX);
}

static int open_sandbox(lua_State *L, void *arg)
{
    lua_json_push_module(L);
    lua_runtime_make_read_only(L);
    lua_runtime_set_global(arg, "json");
    round_trip_ref = load_function(L, arg, round_trip_lua, sizeof round_trip_lua - 1,
                                   "=round_trip");
    probe_ref = load_function(L, arg, probe_lua, sizeof probe_lua - 1, "=probe");
    return 0;
}

/*
 * Reads the input, JSON or not, as a change event's text is read (see probe_lua), its "doc"
 * placed as the server places it: after the first "doc": and up to the last byte.
 */
static int run_probe(lua_State *L, void *arg)
{
    const struct trip *t = arg;
    lua_rawgeti(L, LUA_REGISTRYINDEX, probe_ref);
    const char *doc = memmem(t->text, t->len, "\"doc\":", 6);
    size_t doc_at = doc ? (size_t)(doc - t->text) + 6 : 0;
    lua_json_push_text_lazy_known(L, t->text, t->len, "doc", doc_at,
                                  doc && t->len > doc_at ? t->len - doc_at - 1 : 0);
    lua_call(L, 1, 0);
    return 0;
}

static int run_trip(lua_State *L, void *arg)
{
    struct trip *t = arg;
    int top = lua_gettop(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, round_trip_ref);
    lua_json_push(L, t->value);
    t->back = lua_json_to(L, -1, t->err, sizeof t->err);
    FUZZ_ASSERT(lua_gettop(L) == top + 2, "lua_json_to moved the stack");
    lua_json_push_text(L, t->stored, strlen(t->stored));
    t->back_text = lua_json_to(L, -1, NULL, 0);
    lua_pop(L, 1);
    lua_pushlstring(L, t->text, t->len);
    lua_json_push_lazy(L, t->value);
    lua_json_push_text_lazy(L, t->stored, strlen(t->stored));
    lua_call(L, 4, 1);
    t->encoded = strdup(lua_tostring(L, -1));
    lua_settop(L, top);
    return 0;
}

/* How many containers deep `value` nests: 0 for a scalar, 1 for [] or {}. */
static int depth_of(const json_t *value)
{
    int deepest = 0;
    size_t i;
    const char *key;
    json_t *item;
    if (json_is_array(value)) {
        json_array_foreach(value, i, item) {
            int d = depth_of(item);
            deepest = d > deepest ? d : deepest;
        }
    } else if (json_is_object(value)) {
        json_object_foreach((json_t *)value, key, item) {
            int d = depth_of(item);
            deepest = d > deepest ? d : deepest;
        }
    } else {
        return 0;
    }
    return deepest + 1;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    struct lua_limits limits = {.instructions = 100000000, .seconds = 10, .memory = 256u << 20};
    char err[256];
    runtime = lua_runtime_new(&limits);
    FUZZ_ASSERT(runtime, "no Lua runtime");
    int rc = lua_runtime_call(runtime, open_sandbox, runtime, err, sizeof err);
    FUZZ_ASSERT(rc == 0, "the sandbox does not open: %s", err);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct trip t = {.text = (const char *)data, .len = size};
    if (size > 0 && data[0] == '{') {
        char probe_err[512];
        lua_runtime_call(runtime, run_probe, &t, probe_err, sizeof probe_err);
        lua_gc(lua_runtime_state(runtime), LUA_GCCOLLECT); /* see below */
    }
    json_t *value = json_loadb(t.text, size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
    if (!value)
        return 0;
    t.value = value;
    char *stored = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
    FUZZ_ASSERT(stored, "no text for a decoded value");
    t.stored = stored;
    char err[512]; /* "json.encode: " and lua_json_to's refusal (less than 256 bytes) */
    int rc = lua_runtime_call(runtime, run_trip, &t, err, sizeof err);
    lua_json_end_lazy(lua_runtime_state(runtime));
    /* What this input made is freed now, not at some later input: libFuzzer takes a run that
     * allocates more than it frees for a leak and searches the whole heap after it. */
    lua_gc(lua_runtime_state(runtime), LUA_GCCOLLECT);
    char *want = fuzz_dump(value);
    if (depth_of(value) <= LUA_JSON_DEPTH_MAX) {
        FUZZ_ASSERT(fuzz_same_text(t.back, value),
                    "lua_json_to gave %s for %s (%s)", t.back ? fuzz_dump(t.back) : "nothing",
                    want, t.err);
        FUZZ_ASSERT(rc == 0, "the round trip failed in Lua: %s", err);
        FUZZ_ASSERT(fuzz_same_text(t.back_text, value), "lua_json_push_text(%s) came back as %s",
                    stored, t.back_text ? fuzz_dump(t.back_text) : "nothing");
        FUZZ_ASSERT(strcmp(t.encoded, want) == 0, "json.encode gave %s for %s", t.encoded, want);
    } else {
        FUZZ_ASSERT(!t.back && strstr(t.err, "nested deeper"), "%d levels came back: %s",
                    depth_of(value), t.err);
        FUZZ_ASSERT(rc < 0 && strstr(err, "nested deeper"), "json.encode took %d levels: %s",
                    depth_of(value), err);
    }
    free(want);
    free(stored);
    free(t.encoded);
    json_decref(t.back);
    json_decref(t.back_text);
    json_decref(value);
    return 0;
}
