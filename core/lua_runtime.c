/*
 * lua_runtime.c — the sandboxed Lua state and its budgets (see lua_runtime.h).
 *
 * The sandbox follows Redis's scripting engine: an allowlist of globals and libraries copied
 * into fresh tables, published through read-only proxies whose metatables are protected, so
 * that neither setmetatable(_G, nil) (CVE-2022-24735) nor a write to string.format can reach
 * another plugin. The runaway-script guard is Redis's too: a count hook checks the budget, and
 * once it is spent switches to firing at every instruction, so the error comes back after any
 * pcall that caught it.
 *
 * The clock is read every HOOK_STEP instructions, at every function call and on every large
 * allocation: one instruction that calls a C function (utf8.len, string.find, s:upper()) or
 * concatenates long strings may take milliseconds, and a loop of them would otherwise run a
 * thousand of them between two looks at the clock, far past the deadline.
 */
#define _GNU_SOURCE /* SIGEV_THREAD_ID and gettid: the deadline signal goes to this thread */
#include "ctg/lua_runtime.h"
#include "ctg/clock.h"
#include "ctg/log.h"

#include <lauxlib.h>
#include <lualib.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define HOOK_STEP 1000 /* instructions between two looks at the budget */
/*
 * A call whose state grew by more than this (a report's thousands of documents) is collected
 * after it returns: what it held is garbage then, and the next call would otherwise sweep it.
 */
#define COLLECT_AFTER_GROWTH (16u << 20)
/* Without a deadline timer, the clock is also read at every function call (watch_deadline). */
#define HOOK_MASK_UNTIMED (LUA_MASKCOUNT | LUA_MASKCALL)
#define LARGE_ALLOCATION (1024 * 1024) /* bytes from which an allocation looks at the clock */

struct lua_runtime {
    lua_State *L;
    struct lua_limits limits;
    size_t used;          /* bytes the state holds */
    bool over_memory;     /* an allocation was refused during the current call */
    struct {              /* the last refused request, which Lua asks again after a collection */
        void *ptr;
        size_t osize, nsize;
        bool pending;
    } refused;
    volatile sig_atomic_t in_call; /* a call runs under the budgets */
    timer_t timer;        /* signals this thread at or before the deadline of the current call */
    bool timed;           /* the timer exists */
    volatile sig_atomic_t armed; /* the timer runs */
    long steps;           /* instructions run by the current call, to HOOK_STEP */
    volatile double deadline; /* clock_monotonic() after which the current call stops */
    const char *exhausted; /* which budget ran out, or NULL */
    size_t hold_until;    /* the collector is held off while the state holds less; 0: not held */
    int globals;          /* registry ref of the table behind the read-only globals */
    unsigned long outside_reads; /* calls that read more than their arguments (see header) */
};

static const char *const base_allowed[] = {
    "assert", "error",    "ipairs", "next",     "pairs",        "pcall",        "rawequal",
    "rawget", "rawlen",   "select", "tonumber", "tostring",     "type",         "xpcall",
    "setmetatable", "getmetatable", "_VERSION", NULL,
};
static const char *const os_allowed[] = {"time", "date", "clock", NULL};
/* What answers differently from one call to the next with the same arguments. */
static const char *const math_outside[] = {"random", "randomseed", NULL};
static const char *const string_denied[] = {"dump", NULL}; /* bytecode out, then back in */

static void budget_hook(lua_State *L, lua_Debug *ar);

/*
 * Marks the current call's time budget spent once its deadline is past. The hook then fires
 * at the next instruction and raises the error: lua_sethook only sets fields of the state, so
 * this is safe from inside the allocator, where no error may be raised.
 */
static void check_deadline(struct lua_runtime *rt)
{
    if (rt->in_call && !rt->exhausted && clock_monotonic() > rt->deadline) {
        rt->exhausted = "time budget";
        lua_sethook(rt->L, budget_hook, LUA_MASKCOUNT, 1);
    }
}

static void *capped_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    struct lua_runtime *rt = ud;
    size_t old = ptr ? osize : 0; /* without ptr, osize tells the kind of object */
    if (nsize == 0) {
        rt->used -= old;
        free(ptr);
        return NULL;
    }
    if (nsize > old && rt->used - old + nsize > rt->limits.memory) {
        /*
         * Lua's core answers a refusal with an emergency collection and asks once more, at
         * once: a request that fits then is no failure. Any other refusal is the cap reached,
         * and fails the call even if a pcall catches the error (see lua_runtime_call).
         */
        if (rt->refused.pending)
            rt->over_memory = true;
        rt->refused.ptr = ptr;
        rt->refused.osize = osize;
        rt->refused.nsize = nsize;
        rt->refused.pending = true;
        return NULL;
    }
    if (rt->refused.pending && rt->refused.ptr == ptr && rt->refused.osize == osize &&
        rt->refused.nsize == nsize)
        rt->refused.pending = false; /* granted after the collection */
    if (nsize >= LARGE_ALLOCATION)
        check_deadline(rt); /* copying that much takes time: a loop of such copies is caught */
    void *p = realloc(ptr, nsize);
    if (p)
        rt->used = rt->used - old + nsize;
    return p;
}

static struct lua_runtime *runtime_of(lua_State *L)
{
    void *ud;
    lua_getallocf(L, &ud);
    return ud;
}

/*
 * The clock of the checks at every function call: CLOCK_MONOTONIC at the resolution of a tick
 * (a few ms), read in a few nanoseconds where clock_monotonic() takes about twenty. It never
 * runs ahead of clock_monotonic(), which sets the deadline: a check is at most a tick late.
 */
static double coarse_now(void)
{
#ifdef CLOCK_MONOTONIC_COARSE
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC_COARSE, &ts) == 0)
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
#endif
    return clock_monotonic();
}

/*
 * The deadline of a call is a timer whose signal sets the hook to run at the next instruction
 * (lua_sethook is safe in a signal handler), so that work done by C functions between two
 * counted instructions (utf8.len of 16 MiB in a loop) is stopped without a hook at every
 * function call, which took a fifth of a report's time.
 */
#define DEADLINE_SIGNAL SIGRTMIN
#ifndef sigev_notify_thread_id /* glibc before 2.35 names it only through its union */
#define sigev_notify_thread_id _sigev_un._tid
#endif

/*
 * Arms the timer for `seconds` from now. It is not disarmed after a call: every call gets the
 * same budget, so a timer armed for an earlier call expires before the deadline of any later
 * one, and its signal arms it again for the running call (on_deadline). Calls that follow each
 * other then cost no system call; an idle runtime gets one signal, then none.
 */
static bool arm_timer(struct lua_runtime *rt, double seconds)
{
    struct itimerspec when = {{0, 0}, {(time_t)seconds, 0}};
    when.it_value.tv_nsec = (long)((seconds - (double)when.it_value.tv_sec) * 1e9);
    if (when.it_value.tv_sec == 0 && when.it_value.tv_nsec == 0)
        when.it_value.tv_nsec = 1;
    rt->armed = true; /* before: the signal of a short timer may come before timer_settime returns */
    if (timer_settime(rt->timer, 0, &when, NULL) == 0)
        return true;
    rt->armed = false;
    return false;
}

/* Runs on the runtime's thread; uses only what is safe in a signal handler. */
static void on_deadline(int sig, siginfo_t *info, void *context)
{
    (void)sig;
    (void)context;
    struct lua_runtime *rt = info->si_value.sival_ptr;
    if (!rt)
        return;
    rt->armed = false;
    if (!rt->in_call)
        return;
    double left = rt->deadline - clock_monotonic();
    if (left <= 0)
        lua_sethook(rt->L, budget_hook, LUA_MASKCOUNT, 1);
    else if (!arm_timer(rt, left))
        lua_sethook(rt->L, budget_hook, HOOK_MASK_UNTIMED, HOOK_STEP);
}

/* Creates the runtime's deadline timer, aimed at this thread; false if it cannot be had. */
static bool create_deadline_timer(struct lua_runtime *rt)
{
    static bool handler_installed;
    if (!handler_installed) {
        struct sigaction sa = {.sa_sigaction = on_deadline, .sa_flags = SA_SIGINFO | SA_RESTART};
        sigemptyset(&sa.sa_mask);
        if (sigaction(DEADLINE_SIGNAL, &sa, NULL) < 0)
            return false;
        handler_installed = true;
    }
    struct sigevent ev = {.sigev_notify = SIGEV_THREAD_ID, .sigev_signo = DEADLINE_SIGNAL,
                          .sigev_value.sival_ptr = rt};
    ev.sigev_notify_thread_id = gettid();
    return timer_create(CLOCK_MONOTONIC, &ev, &rt->timer) == 0;
}

/* The mask of the hook for the call that begins: without a timer, it also reads the clock. */
static int watch_deadline(struct lua_runtime *rt)
{
    if (rt->timed && (rt->armed || arm_timer(rt, rt->limits.seconds)))
        return LUA_MASKCOUNT;
    return HOOK_MASK_UNTIMED;
}

/* Ends lua_runtime_hold_collector, and a stop that a decoding cut by an error left behind. */
static void release_collector(struct lua_runtime *rt)
{
    rt->hold_until = 0;
    if (!lua_gc(rt->L, LUA_GCISRUNNING))
        lua_gc(rt->L, LUA_GCRESTART);
}

void lua_runtime_hold_collector(lua_State *L)
{
    struct lua_runtime *rt = runtime_of(L);
    rt->hold_until = rt->used * 2;
    lua_gc(L, LUA_GCSTOP);
}

/* Called every HOOK_STEP instructions (and, untimed, at every function call) until a budget is
 * spent; at every instruction once the deadline signal came or a budget is spent. */
static void budget_hook(lua_State *L, lua_Debug *ar)
{
    struct lua_runtime *rt = runtime_of(L);
    if (!rt->exhausted) {
        bool counted = ar->event == LUA_HOOKCOUNT;
        if (counted)
            rt->steps += HOOK_STEP;
        if (rt->steps > rt->limits.instructions)
            rt->exhausted = "instruction budget";
        else if ((counted ? clock_monotonic() : coarse_now()) > rt->deadline)
            rt->exhausted = "time budget";
        else {
            /* past a hold, or after a decoding stopped by a memory error that a pcall caught */
            if (rt->hold_until ? rt->used > rt->hold_until : !lua_gc(L, LUA_GCISRUNNING))
                release_collector(rt);
            return;
        }
        lua_sethook(L, budget_hook, LUA_MASKCOUNT, 1); /* from now on, at every instruction */
    }
    luaL_error(L, "the %s of this call is spent", rt->exhausted);
}

static int panic(lua_State *L)
{
    /* Every call goes through lua_pcall: reaching here is a bug of ctgd, not of a plugin. */
    log_error("lua", "unprotected error: %s", lua_tostring(L, -1));
    abort();
}

/* ---------- read-only tables ---------- */

static int refuse_write(lua_State *L)
{
    return luaL_error(L, "this table is read-only (sandbox)");
}

/* The iterator of pairs() on a proxy: walks the table behind it, kept as its upvalue. */
static int backing_next(lua_State *L)
{
    lua_settop(L, 2);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushvalue(L, 2);
    if (lua_next(L, -2))
        return 2;
    lua_pushnil(L);
    return 1;
}

/*
 * pairs() on a proxy: the table behind it stays an upvalue of the iterator, never a value the
 * plugin holds (pairs' second result is the proxy itself), so it cannot be written through.
 */
static int proxy_pairs(lua_State *L)
{
    lua_getmetatable(L, 1); /* the C API sees through __metatable */
    lua_getfield(L, -1, "__index");
    lua_pushcclosure(L, backing_next, 1);
    lua_pushvalue(L, 1);
    lua_pushnil(L);
    return 3;
}

/* Replaces the table on top of the stack with a read-only proxy of it. */
static void make_read_only(lua_State *L)
{
    lua_newtable(L);            /* proxy */
    lua_createtable(L, 0, 4);   /* its metatable */
    lua_pushvalue(L, -3);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, refuse_write);
    lua_setfield(L, -2, "__newindex");
    lua_pushcfunction(L, proxy_pairs);
    lua_setfield(L, -2, "__pairs");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable"); /* getmetatable answers false; setmetatable fails */
    lua_setmetatable(L, -2);
    lua_remove(L, -2);
}

void lua_runtime_make_read_only(lua_State *L)
{
    make_read_only(L);
}

/* ---------- the sandbox ---------- */

/* Copies the fields of the library table on top of the stack, but `denied`, into a new table. */
static void copy_library(lua_State *L, const char *const denied[])
{
    lua_newtable(L);
    lua_pushnil(L);
    while (lua_next(L, -3)) {
        bool refused = false;
        for (size_t i = 0; denied && denied[i] && lua_type(L, -2) == LUA_TSTRING; i++)
            refused |= strcmp(lua_tostring(L, -2), denied[i]) == 0;
        if (refused) {
            lua_pop(L, 1);
            continue;
        }
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, -4);
    }
    lua_remove(L, -2);
}

/* Copies the named fields of the table at `from` into the table on top of the stack. */
static void copy_fields(lua_State *L, int from, const char *const names[])
{
    for (size_t i = 0; names[i]; i++) {
        lua_getfield(L, from, names[i]);
        lua_setfield(L, -2, names[i]);
    }
}

/* load(chunk [, name [, mode [, env]]]) for text chunks only; env defaults to the sandbox. */
static int safe_load(lua_State *L)
{
    size_t len;
    const char *chunk = luaL_checklstring(L, 1, &len);
    const char *name = luaL_optstring(L, 2, "=(load)");
    int has_env = !lua_isnone(L, 4);
    if (luaL_loadbufferx(L, chunk, len, name, "t") != LUA_OK) {
        luaL_pushfail(L);
        lua_insert(L, -2);
        return 2;
    }
    if (has_env)
        lua_pushvalue(L, 4);
    else
        lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
    lua_setupvalue(L, -2, 1);
    return 1;
}

/*
 * xpcall(f, handler, ...): the handler runs after the error has unwound, as a plain call. Lua
 * calls a message handler from inside the hook that raised a spent budget's error, where hooks
 * are off: a handler that loops there would never be stopped.
 */
static int safe_xpcall(lua_State *L)
{
    int n = lua_gettop(L);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_pushboolean(L, 1); /* the status, at n + 1 */
    lua_pushvalue(L, 1);
    for (int i = 3; i <= n; i++)
        lua_pushvalue(L, i);
    if (lua_pcall(L, n - 2, LUA_MULTRET, 0) == LUA_OK)
        return lua_gettop(L) - n;
    lua_pushvalue(L, 2);
    lua_insert(L, -2);
    lua_pcall(L, 1, 1, 0); /* the handler's answer, or its own error */
    lua_pushboolean(L, 0);
    lua_replace(L, n + 1);
    return 2;
}

/* setmetatable without __gc: finalizers run inside the collector, out of reach of the budget. */
static int safe_setmetatable(lua_State *L)
{
    lua_pushliteral(L, "__gc");
    if (lua_type(L, 2) == LUA_TTABLE && lua_rawget(L, 2) != LUA_TNIL)
        return luaL_error(L, "setmetatable: __gc is not allowed in the sandbox");
    lua_settop(L, 2);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, 2, 1);
    return 1;
}

/*
 * Lua's pattern matcher backtracks inside one C call, where the instruction budget cannot stop
 * it: ("a"):rep(20000):find(".-.-.-b") would run for hours. Before find, match, gmatch and gsub
 * run, the worst case is estimated as m × n^(q+1) steps (n the subject's length, m the items of
 * the pattern, q those with a repetition: * + - ?), m × n^q when the pattern is anchored, n × m
 * for a plain find, and refused over PATTERN_COST_MAX.
 */
#define PATTERN_COST_MAX 1e9

static size_t skip_class(const char *p, const char *end)
{
    const char *start = p;
    if (*p == '%')
        return p + 1 < end ? 2 : 1;
    if (*p != '[')
        return 1;
    p++;
    if (p < end && *p == '^')
        p++;
    do { /* a ']' right after '[' or '[^' is a member of the set */
        if (p < end && *p == '%')
            p++;
        if (p < end)
            p++;
    } while (p < end && *p != ']');
    return (size_t)(p + (p < end) - start);
}

static double pattern_cost(const char *p, size_t len, double n)
{
    const char *end = p + len;
    bool anchored = p < end && *p == '^';
    int repeats = 0, items = 0;
    for (p += anchored; p < end; items++) {
        if (*p == '(' || *p == ')' || (*p == '$' && p + 1 == end)) {
            p++;
            continue;
        }
        if (*p == '%' && p + 1 < end && (p[1] == 'b' || p[1] == 'f')) {
            p += p[1] == 'b' ? 4 : 2 + (p + 2 < end ? skip_class(p + 2, end) : 0);
            continue;
        }
        p += skip_class(p, end);
        if (p < end && (*p == '*' || *p == '+' || *p == '-' || *p == '?')) {
            repeats++; /* '?' doubles the tries at worst: counted like the others */
            p++;
        }
    }
    double cost = (anchored ? 1 : n) * (items ? items : 1);
    for (int i = 0; i < repeats; i++)
        cost *= n;
    return cost;
}

/* find(s, text, init, true) compares the text at every position: n × m at worst. */
static double plain_cost(size_t len, double n)
{
    return n * (double)(len ? len : 1);
}

/* Wraps a string function whose arguments are (subject, pattern, ...). */
static int guarded_pattern_call(lua_State *L)
{
    size_t n, len;
    luaL_checklstring(L, 1, &n);
    const char *pattern = luaL_checklstring(L, 2, &len);
    bool plain = lua_toboolean(L, 4) && lua_toboolean(L, lua_upvalueindex(2)); /* find's 4th */
    double cost = plain ? plain_cost(len, (double)n + 1) : pattern_cost(pattern, len, (double)n + 1);
    if (cost > PATTERN_COST_MAX)
        return luaL_error(L, "this pattern may backtrack too long on %d bytes: split the text "
                             "or simplify the pattern (fewer '-', '*', '+')", (int)n);
    /* The string library's own C function, on this frame: no second call through Lua. */
    return lua_tocfunction(L, lua_upvalueindex(1))(L);
}

/* string.rep of an empty string with an empty separator loops n times allocating nothing. */
static int guarded_rep(lua_State *L)
{
    size_t len, sep_len = 0;
    luaL_checklstring(L, 1, &len);
    luaL_optlstring(L, 3, "", &sep_len);
    if (len + sep_len == 0) {
        lua_pushliteral(L, "");
        return 1;
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

/* True when the table at `index` has metamethods the table library would call from C. */
static bool has_table_metamethods(lua_State *L, int index)
{
    static const char *const names[] = {"__index", "__newindex", "__len", NULL};
    bool found = false;
    if (lua_type(L, index) != LUA_TTABLE || !lua_getmetatable(L, index))
        return false;
    for (size_t i = 0; names[i] && !found; i++) {
        lua_pushstring(L, names[i]);
        found = lua_rawget(L, -2) != LUA_TNIL;
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return found;
}

/*
 * The table library loops in C over what a table claims: a __len of 2^50 or a table.move over a
 * range of nils would run on out of the budget's reach. Its functions take plain tables, and
 * move a range no larger than its source or TABLE_RANGE_MAX.
 */
#define TABLE_RANGE_MAX (1 << 20)

static int guarded_table_call(lua_State *L)
{
    bool is_move = lua_toboolean(L, lua_upvalueindex(2));
    if (has_table_metamethods(L, 1) || (is_move && has_table_metamethods(L, 5)))
        return luaL_error(L, "the table library takes tables without __index, __newindex or "
                             "__len in the sandbox");
    if (is_move) {
        lua_Integer first = luaL_checkinteger(L, 2), last = luaL_checkinteger(L, 3);
        luaL_checktype(L, 1, LUA_TTABLE);
        if (last >= first && (lua_Unsigned)last - (lua_Unsigned)first >= TABLE_RANGE_MAX &&
            (lua_Unsigned)last - (lua_Unsigned)first >= lua_rawlen(L, 1))
            return luaL_error(L, "table.move: the range is larger than the table");
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

static void guard_table_library(lua_State *L)
{
    static const char *const names[] = {"concat", "insert", "move", "remove", "sort", "unpack",
                                        NULL};
    for (size_t i = 0; names[i]; i++) {
        lua_getfield(L, -1, names[i]);
        lua_pushboolean(L, strcmp(names[i], "move") == 0);
        lua_pushcclosure(L, guarded_table_call, 2);
        lua_setfield(L, -2, names[i]);
    }
}

/* Replaces the pattern functions of the string library copy on top of the stack. */
static void guard_patterns(lua_State *L)
{
    static const char *const names[] = {"find", "match", "gmatch", "gsub", NULL};
    for (size_t i = 0; names[i]; i++) {
        lua_getfield(L, -1, names[i]);
        lua_pushboolean(L, strcmp(names[i], "find") == 0); /* only find has `plain` */
        lua_pushcclosure(L, guarded_pattern_call, 2);
        lua_setfield(L, -2, names[i]);
    }
    lua_getfield(L, -1, "rep");
    lua_pushcclosure(L, guarded_rep, 1);
    lua_setfield(L, -2, "rep");
}

static int log_print(lua_State *L)
{
    luaL_Buffer b;
    int n = lua_gettop(L);
    luaL_buffinit(L, &b);
    for (int i = 1; i <= n; i++) {
        luaL_tolstring(L, i, NULL);
        luaL_addvalue(&b);
        if (i < n)
            luaL_addchar(&b, ' ');
    }
    luaL_pushresult(&b);
    log_info("plugin", "%s", lua_tostring(L, -1));
    return 0;
}

void lua_runtime_note_outside_read(lua_State *L)
{
    runtime_of(L)->outside_reads++;
}

unsigned long lua_runtime_outside_reads(const struct lua_runtime *rt)
{
    return rt->outside_reads;
}

/* The function in upvalue 1, called with this call's arguments, once the read is noted. */
static int noted_call(lua_State *L)
{
    lua_runtime_note_outside_read(L);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

/* Replaces the functions `names` of the table on top with noted_call closures of them. */
static void note_reads_of(lua_State *L, const char *const names[])
{
    for (size_t i = 0; names[i]; i++) {
        lua_getfield(L, -1, names[i]);
        lua_pushcclosure(L, noted_call, 1);
        lua_setfield(L, -2, names[i]);
    }
}

/* Adds the read-only proxy of library `name` (opened by `open`) to the table on top. */
static void add_library(lua_State *L, const char *name, lua_CFunction open,
                        const char *const denied[])
{
    luaL_requiref(L, name, open, 0);
    copy_library(L, denied);
    if (open == luaopen_string)
        guard_patterns(L);
    else if (open == luaopen_table)
        guard_table_library(L);
    else if (open == luaopen_math)
        note_reads_of(L, math_outside);
    make_read_only(L);
    lua_setfield(L, -2, name);
}

static int build_sandbox(lua_State *L, void *arg)
{
    struct lua_runtime *rt = arg;
    luaL_requiref(L, "_G", luaopen_base, 0);
    int base = lua_gettop(L);
    lua_newtable(L); /* the globals plugins read */
    copy_fields(L, base, base_allowed);
    lua_pushcfunction(L, safe_load);
    lua_setfield(L, -2, "load");
    lua_pushcfunction(L, safe_xpcall);
    lua_setfield(L, -2, "xpcall");
    lua_getfield(L, base, "setmetatable");
    lua_pushcclosure(L, safe_setmetatable, 1);
    lua_setfield(L, -2, "setmetatable");
    lua_pushcfunction(L, log_print);
    lua_setfield(L, -2, "print");
    add_library(L, LUA_STRLIBNAME, luaopen_string, string_denied);
    add_library(L, LUA_TABLIBNAME, luaopen_table, NULL);
    add_library(L, LUA_MATHLIBNAME, luaopen_math, NULL);
    add_library(L, LUA_UTF8LIBNAME, luaopen_utf8, NULL);
    luaL_requiref(L, LUA_OSLIBNAME, luaopen_os, 0);
    lua_newtable(L);
    copy_fields(L, lua_gettop(L) - 1, os_allowed);
    note_reads_of(L, os_allowed);
    make_read_only(L);
    lua_setfield(L, -3, "os");
    lua_pop(L, 1);
    /* The string metatable is shared by every string: hide it from getmetatable(""). */
    lua_pushliteral(L, "");
    lua_getmetatable(L, -1);
    lua_getfield(L, -3, LUA_STRLIBNAME);
    lua_setfield(L, -2, "__index");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 2);
    lua_pushvalue(L, -1);
    rt->globals = luaL_ref(L, LUA_REGISTRYINDEX);
    make_read_only(L);
    lua_rawseti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS); /* nothing reaches the full _G */
    lua_settop(L, base - 1);
    return 0;
}

struct lua_runtime *lua_runtime_new(const struct lua_limits *limits)
{
    struct lua_runtime *rt = calloc(1, sizeof *rt);
    if (!rt)
        return NULL;
    rt->limits = *limits;
    rt->L = lua_newstate(capped_alloc, rt);
    if (!rt->L) {
        free(rt);
        return NULL;
    }
    lua_atpanic(rt->L, panic);
    rt->timed = create_deadline_timer(rt);
    char err[256];
    if (lua_runtime_call(rt, build_sandbox, rt, err, sizeof err) < 0) {
        log_error("lua", "cannot build the sandbox: %s", err);
        lua_runtime_free(rt);
        return NULL;
    }
    return rt;
}

void lua_runtime_free(struct lua_runtime *rt)
{
    if (!rt)
        return;
    if (rt->timed)
        timer_delete(rt->timer);
    lua_close(rt->L);
    free(rt);
}

lua_State *lua_runtime_state(struct lua_runtime *rt)
{
    return rt->L;
}

size_t lua_runtime_memory(const struct lua_runtime *rt)
{
    return rt->used;
}

void lua_runtime_set_global(struct lua_runtime *rt, const char *name)
{
    lua_State *L = rt->L;
    lua_rawgeti(L, LUA_REGISTRYINDEX, rt->globals);
    lua_insert(L, -2);
    lua_setfield(L, -2, name);
    lua_pop(L, 1);
}

void lua_runtime_push_env(struct lua_runtime *rt)
{
    lua_State *L = rt->L;
    lua_newtable(L);
    lua_createtable(L, 0, 2);
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
    lua_setfield(L, -2, "__index");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
}

/* ---------- calls ---------- */

struct protected_call {
    int (*fn)(lua_State *L, void *arg);
    void *arg;
};

static int run_protected(lua_State *L)
{
    struct protected_call *call = lua_touserdata(L, 1);
    lua_remove(L, 1);
    call->fn(L, call->arg);
    return 0;
}

int lua_runtime_call(struct lua_runtime *rt, int (*fn)(lua_State *L, void *arg), void *arg,
                     char *err, size_t errlen)
{
    lua_State *L = rt->L;
    int top = lua_gettop(L);
    struct protected_call call = {fn, arg};
    rt->steps = 0;
    rt->exhausted = NULL;
    rt->over_memory = false;
    rt->refused.pending = false;
    if (rt->used > rt->limits.memory / 2)
        lua_gc(L, LUA_GCCOLLECT); /* the call gets the cap, not what the last one left over */
    size_t used_before = rt->used;
    rt->deadline = clock_monotonic() + rt->limits.seconds;
    rt->in_call = true;
    lua_sethook(L, budget_hook, watch_deadline(rt), HOOK_STEP);
    lua_pushcfunction(L, run_protected);
    lua_pushlightuserdata(L, &call);
    int rc = lua_pcall(L, 1, 0, 0);
    rt->in_call = false;
    lua_sethook(L, NULL, 0, 0);
    rt->over_memory |= rt->refused.pending; /* a refusal that was not granted after all */
    if (rt->exhausted)
        snprintf(err, errlen, "the %s of this call is spent (a loop that does not end?)",
                 rt->exhausted);
    else if (rt->over_memory)
        snprintf(err, errlen, "the memory cap of %zu MiB is reached", rt->limits.memory >> 20);
    else if (rc != LUA_OK)
        snprintf(err, errlen, "%s", lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1)
                                                                     : "an error that is not a string");
    lua_settop(L, top);
    release_collector(rt);
    if (rc != LUA_OK || rt->over_memory || rt->used > used_before + COLLECT_AFTER_GROWTH)
        lua_gc(L, LUA_GCCOLLECT); /* give back what the failed or the large call held */
    return rc == LUA_OK && !rt->over_memory && !rt->exhausted ? 0 : -1;
}
