/*
 * lua_runtime.h — one sandboxed Lua 5.4 state, and the only way C calls into it.
 *
 * The state sees an allowlist of the standard library (no io, no os but time/date/clock, no
 * debug, no package or require, load of text only), through read-only tables so that no
 * plugin can undo the protection or change what another plugin sees. Every call runs under an
 * instruction budget and a wall-clock deadline (a count hook), and the whole state under a
 * memory cap (its allocator). When a budget runs out, the hook raises an error at every
 * following instruction, so that a pcall in the plugin cannot swallow it.
 */
#ifndef CTG_LUA_RUNTIME_H
#define CTG_LUA_RUNTIME_H

#include <lua.h>
#include <stdbool.h>
#include <stddef.h>

struct lua_limits {
    long instructions; /* per call */
    double seconds;    /* per call, wall clock */
    size_t memory;     /* bytes, the whole state */
};

struct lua_runtime;

/* Creates the state with its sandbox; NULL when out of memory. */
struct lua_runtime *lua_runtime_new(const struct lua_limits *limits);
void lua_runtime_free(struct lua_runtime *rt);
lua_State *lua_runtime_state(struct lua_runtime *rt);

/* Adds the value on top of the stack (popped) to the sandbox's globals as `name`. */
void lua_runtime_set_global(struct lua_runtime *rt, const char *name);

/*
 * Pushes a new environment for one plugin chunk: its own table for its globals, reading
 * through to the sandbox's read-only globals.
 */
void lua_runtime_push_env(struct lua_runtime *rt);

/* Replaces the table on top of the stack with a read-only proxy (protected metatable). */
void lua_runtime_make_read_only(lua_State *L);

/*
 * Inside a call: holds the collector off until the call returns, or until the state holds
 * twice what it holds now. For values built just before a plugin function is called that live
 * as long as the call (a report's documents): the collector would only walk them again and
 * again, and what the call leaves is collected after it (see lua_runtime_call). The memory cap
 * still collects before it refuses.
 */
void lua_runtime_hold_collector(lua_State *L);

/*
 * Calls to what answers from outside the arguments of a plugin function (the clock, the random
 * numbers, the store) or acts outside it (publish) are counted: a result computed while the
 * count stayed the same depends on its arguments alone, and may be kept (result_cache.h).
 */
void lua_runtime_note_outside_read(lua_State *L);
unsigned long lua_runtime_outside_reads(const struct lua_runtime *rt);

/* Bytes the state holds now. */
size_t lua_runtime_memory(const struct lua_runtime *rt);

/*
 * Runs `fn(L, arg)` in protected mode under the budgets: fn may call into Lua and raise Lua
 * errors. Returns 0, or -1 with a message in `err` (the error raised, or which budget ran out).
 * The stack is left as it was. A call after which the state holds much more than before it is
 * followed by a full collection.
 */
int lua_runtime_call(struct lua_runtime *rt, int (*fn)(lua_State *L, void *arg), void *arg,
                     char *err, size_t errlen);

#endif
