/*
 * config.c — reads the configuration file (SPEC §6).
 *
 * The file is a Lua chunk of plain assignments, run in an empty environment (no libraries:
 * arithmetic and tables only) under an instruction budget, so that a configuration can neither
 * reach the system nor hang the start. Each key is then read from that environment and checked;
 * the first problem is reported with the file and the key's path.
 */
#include "ctg/config.h"
#include "ctg/log.h"
#include "ctg/model.h"
#include "ctg/wal.h"

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONFIG_INSTRUCTION_BUDGET 10000000

struct reader {
    lua_State *L;
    const char *path;
    char *err;
    size_t errlen;
};

static int fail(struct reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct reader *r, const char *fmt, ...)
{
    int n = snprintf(r->err, r->errlen, "%s: ", r->path);
    if (n < 0 || (size_t)n >= r->errlen)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err + n, r->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

static char *dup_string(const char *s)
{
    char *copy = strdup(s);
    if (!copy)
        abort(); /* out of memory while reading the configuration: nothing sensible to do */
    return copy;
}

static void budget_exhausted(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    luaL_error(L, "the configuration ran for too long (is there a loop?)");
}

/* Runs the file in a fresh environment table, left on the stack. */
static int run_chunk(struct reader *r)
{
    if (luaL_loadfilex(r->L, r->path, "t") != LUA_OK)
        return fail(r, "%s", lua_tostring(r->L, -1));
    lua_newtable(r->L);
    lua_pushvalue(r->L, -1);
    lua_setupvalue(r->L, -3, 1); /* the chunk's _ENV */
    lua_insert(r->L, -2);
    lua_sethook(r->L, budget_exhausted, LUA_MASKCOUNT, CONFIG_INSTRUCTION_BUDGET);
    if (lua_pcall(r->L, 0, 0, 0) != LUA_OK) {
        const char *message = lua_tostring(r->L, -1);
        return fail(r, "%s", message ? message : "error raised with a value that is not a string");
    }
    lua_sethook(r->L, NULL, 0, 0);
    return 0;
}

/* Fails on any key of the table at the top of the stack that is not in `known`. */
static int check_known_keys(struct reader *r, const char *where, const char *const known[])
{
    lua_pushnil(r->L);
    while (lua_next(r->L, -2)) {
        lua_pop(r->L, 1);
        if (lua_type(r->L, -1) != LUA_TSTRING) {
            lua_pop(r->L, 1);
            return fail(r, "%s: keys must be names", where);
        }
        const char *key = lua_tostring(r->L, -1);
        bool found = false;
        for (size_t i = 0; known[i] && !found; i++)
            found = strcmp(key, known[i]) == 0;
        if (!found) {
            fail(r, "%s%s%s: unknown key", where, *where ? "." : "", key);
            lua_pop(r->L, 1);
            return -1;
        }
    }
    return 0;
}

/* The value of `key` in the table at the top of the stack is pushed; nil when absent. */
static int push_field(struct reader *r, const char *key)
{
    return lua_getfield(r->L, -1, key);
}

static int read_string(struct reader *r, const char *key, const char *where, char **out)
{
    int type = push_field(r, key);
    if (type == LUA_TNIL) {
        lua_pop(r->L, 1);
        return 0;
    }
    if (type != LUA_TSTRING || lua_rawlen(r->L, -1) == 0) {
        lua_pop(r->L, 1);
        return fail(r, "%s%s: must be a non-empty string", where, key);
    }
    free(*out);
    *out = dup_string(lua_tostring(r->L, -1));
    lua_pop(r->L, 1);
    return 0;
}

static int read_number(struct reader *r, const char *key, const char *where, double min, double max,
                       double *out)
{
    int type = push_field(r, key);
    if (type == LUA_TNIL) {
        lua_pop(r->L, 1);
        return 0;
    }
    double value = lua_tonumber(r->L, -1);
    lua_pop(r->L, 1);
    if (type != LUA_TNUMBER || !(value >= min && value <= max)) /* NaN fails too */
        return fail(r, "%s%s: must be a number from %g to %g", where, key, min, max);
    *out = value;
    return 0;
}

static int read_size(struct reader *r, const char *key, const char *where, double min, double max,
                     size_t *out)
{
    double value = (double)*out;
    if (read_number(r, key, where, min, max, &value) < 0)
        return -1;
    *out = (size_t)value;
    return 0;
}

static int parse_listen(struct reader *r, struct config *cfg, const char *listen)
{
    const char *colon = strrchr(listen, ':');
    const char *host = listen, *host_end = colon;
    if (listen[0] == '[') {
        host = listen + 1;
        host_end = strchr(listen, ']');
        if (!host_end || host_end + 1 != colon)
            host_end = NULL;
    }
    char *end = NULL;
    long port = colon ? strtol(colon + 1, &end, 10) : 0;
    if (!host_end || host_end == host || !end || *end || port < 1 || port > 65535)
        return fail(r, "listen: must be \"host:port\" (\"[v6]:port\" for IPv6), got \"%s\"", listen);
    free(cfg->listen_host);
    cfg->listen_host = strndup(host, (size_t)(host_end - host));
    if (!cfg->listen_host)
        abort();
    cfg->listen_port = (int)port;
    return 0;
}

static int read_listen(struct reader *r, struct config *cfg)
{
    char *listen = NULL;
    if (read_string(r, "listen", "", &listen) < 0)
        return -1;
    int rc = listen ? parse_listen(r, cfg, listen) : 0;
    free(listen);
    return rc;
}

/* Reads a list of strings at the top of the stack into a NULL-terminated array. */
/* True when the table at the top of the stack has only the keys 1..n of a list. */
static bool is_list(lua_State *L)
{
    lua_Integer count = 0;
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_pop(L, 1);
        count++;
    }
    return count == (lua_Integer)lua_rawlen(L, -1);
}

static int read_string_list(struct reader *r, const char *where, char ***out)
{
    if (!lua_istable(r->L, -1) || !is_list(r->L))
        return fail(r, "%s: must be a list of strings", where);
    size_t n = lua_rawlen(r->L, -1);
    char **list = calloc(n + 1, sizeof *list);
    if (!list)
        abort();
    for (size_t i = 0; i < n; i++) {
        if (lua_rawgeti(r->L, -1, (lua_Integer)i + 1) != LUA_TSTRING) {
            lua_pop(r->L, 1);
            for (size_t j = 0; j < i; j++)
                free(list[j]);
            free(list);
            return fail(r, "%s[%zu]: must be a string", where, i + 1);
        }
        list[i] = dup_string(lua_tostring(r->L, -1));
        lua_pop(r->L, 1);
    }
    *out = list;
    return 0;
}

static void free_string_list(char **list)
{
    for (size_t i = 0; list && list[i]; i++)
        free(list[i]);
    free(list);
}

static int parse_hex_sha256(const char *hex, uint8_t out[32])
{
    if (strlen(hex) != 64)
        return -1;
    for (size_t i = 0; i < 32; i++) {
        unsigned byte;
        if (sscanf(hex + 2 * i, "%2x", &byte) != 1 || !strchr("0123456789abcdefABCDEF", hex[2 * i]) ||
            !strchr("0123456789abcdefABCDEF", hex[2 * i + 1]))
            return -1;
        out[i] = (uint8_t)byte;
    }
    return 0;
}

static int read_role(struct reader *r, const char *where, enum role *out)
{
    char *name = NULL;
    if (read_string(r, "role", where, &name) < 0)
        return -1;
    int rc = 0;
    if (!name)
        rc = fail(r, "%srole: required (reader, editor or admin)", where);
    else if (strcmp(name, "reader") == 0)
        *out = ROLE_READER;
    else if (strcmp(name, "editor") == 0)
        *out = ROLE_EDITOR;
    else if (strcmp(name, "admin") == 0)
        *out = ROLE_ADMIN;
    else
        rc = fail(r, "%srole: must be reader, editor or admin, got \"%s\"", where, name);
    free(name);
    return rc;
}

static int read_departments(struct reader *r, const char *where, struct token *t)
{
    char path[64];
    snprintf(path, sizeof path, "%sdepartments", where);
    int type = push_field(r, "departments");
    int rc = 0;
    if (type == LUA_TSTRING && strcmp(lua_tostring(r->L, -1), "*") == 0) {
        t->all_departments = true;
    } else if (type == LUA_TTABLE) {
        rc = read_string_list(r, path, &t->departments);
        for (size_t i = 0; rc == 0 && t->departments[i]; i++)
            if (!model_department_valid(t->departments[i]))
                rc = fail(r, "%s[%zu]: \"%s\" is not a department code", path, i + 1,
                          t->departments[i]);
    } else {
        rc = fail(r, "%s: required, \"*\" or a list of department codes", path);
    }
    lua_pop(r->L, 1);
    return rc;
}

static int read_token(struct reader *r, struct config *cfg, size_t index, struct token *t)
{
    static const char *const keys[] = {"name", "sha256", "role", "departments", NULL};
    char table[32], where[40];
    snprintf(table, sizeof table, "tokens[%zu]", index + 1);
    snprintf(where, sizeof where, "%s.", table);
    if (!lua_istable(r->L, -1))
        return fail(r, "%s: must be a table {name, sha256, role, departments}", table);
    if (check_known_keys(r, table, keys) < 0)
        return -1;
    char *hex = NULL;
    if (read_string(r, "name", where, &t->name) < 0 || read_string(r, "sha256", where, &hex) < 0)
        goto fail;
    if (!t->name) {
        fail(r, "%sname: required", where);
        goto fail;
    }
    for (size_t i = 0; i < index; i++)
        if (strcmp(cfg->tokens[i].name, t->name) == 0) {
            fail(r, "%sname: \"%s\" is used twice", where, t->name);
            goto fail;
        }
    if (!hex || parse_hex_sha256(hex, t->sha256) < 0) {
        fail(r, "%ssha256: must be the token's SHA-256 as 64 hex digits", where);
        goto fail;
    }
    for (size_t i = 0; i < index; i++)
        if (memcmp(cfg->tokens[i].sha256, t->sha256, sizeof t->sha256) == 0) {
            fail(r, "%ssha256: the same token as tokens[%zu]", where, i + 1);
            goto fail;
        }
    free(hex);
    return read_role(r, where, &t->role) < 0 ? -1 : read_departments(r, where, t);
fail:
    free(hex);
    return -1;
}

static int read_tokens(struct reader *r, struct config *cfg)
{
    if (push_field(r, "tokens") == LUA_TNIL) {
        lua_pop(r->L, 1);
        return 0;
    }
    int rc = 0;
    if (!lua_istable(r->L, -1) || !is_list(r->L) || lua_rawlen(r->L, -1) == 0) {
        /* a mistyped table must not leave the API open */
        rc = fail(r, "tokens: must be a non-empty list of {name, sha256, role, departments}");
    } else {
        size_t n = lua_rawlen(r->L, -1);
        cfg->tokens = calloc(n ? n : 1, sizeof *cfg->tokens);
        if (!cfg->tokens)
            abort();
        for (size_t i = 0; i < n && rc == 0; i++) {
            lua_rawgeti(r->L, -1, (lua_Integer)i + 1);
            cfg->n_tokens = i + 1;
            rc = read_token(r, cfg, i, &cfg->tokens[i]);
            lua_pop(r->L, 1);
        }
    }
    lua_pop(r->L, 1);
    return rc;
}

/* Reads the sub-table `key` with the given reader; absent is fine. */
static int read_section(struct reader *r, struct config *cfg, const char *key,
                        int (*read)(struct reader *, struct config *))
{
    int type = push_field(r, key);
    int rc = 0;
    if (type == LUA_TTABLE)
        rc = read(r, cfg);
    else if (type != LUA_TNIL)
        rc = fail(r, "%s: must be a table", key);
    lua_pop(r->L, 1);
    return rc;
}

static int read_events(struct reader *r, struct config *cfg)
{
    static const char *const keys[] = {"bind", "heartbeat", NULL};
    if (check_known_keys(r, "events", keys) < 0 ||
        read_string(r, "bind", "events.", &cfg->events_bind) < 0)
        return -1;
    return read_number(r, "heartbeat", "events.", 0.1, 3600, &cfg->events_heartbeat);
}

static int read_limits(struct reader *r, struct config *cfg)
{
    static const char *const keys[] = {"body_max", "bulk_max", "timeout", "connections",
                                       "lua_instructions", "lua_seconds", "lua_memory", "result_cache",
                                       NULL};
    double timeout = cfg->limits.timeout, instructions = (double)cfg->limits.lua_instructions;
    if (check_known_keys(r, "limits", keys) < 0 ||
        read_size(r, "body_max", "limits.", 1024, 1024.0 * 1024 * 1024, &cfg->limits.body_max) < 0 ||
        read_size(r, "bulk_max", "limits.", 1024, 4096.0 * 1024 * 1024, &cfg->limits.bulk_max) < 0 ||
        read_number(r, "timeout", "limits.", 1, 3600, &timeout) < 0 ||
        read_size(r, "connections", "limits.", 8, 1e6, &cfg->limits.connections) < 0 ||
        read_number(r, "lua_instructions", "limits.", 1e4, 1e12, &instructions) < 0 ||
        read_number(r, "lua_seconds", "limits.", 0.01, 3600, &cfg->limits.lua_seconds) < 0 ||
        read_size(r, "lua_memory", "limits.", 1024.0 * 1024, 64.0 * 1024 * 1024 * 1024,
                  &cfg->limits.lua_memory) < 0 ||
        read_size(r, "result_cache", "limits.", 0, 64.0 * 1024 * 1024 * 1024,
                  &cfg->limits.result_cache) < 0)
        return -1;
    cfg->limits.timeout = (int)timeout;
    cfg->limits.lua_instructions = (long)instructions;
    return 0;
}

static int read_plugins(struct reader *r, struct config *cfg)
{
    free_string_list(cfg->plugin_dirs);
    cfg->plugin_dirs = NULL;
    return read_string_list(r, "plugins", &cfg->plugin_dirs);
}

static int read_log_level(struct reader *r, struct config *cfg)
{
    char *name = NULL;
    int rc = read_string(r, "log_level", "", &name);
    if (rc == 0 && name && log_level_parse(name, &cfg->log_level) < 0)
        rc = fail(r, "log_level: must be debug, info, warn or error");
    free(name);
    return rc;
}

static void set_defaults(struct config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->listen_host = dup_string("127.0.0.1");
    cfg->listen_port = 8080;
    cfg->data_dir = dup_string("data");
    cfg->map_size = (size_t)256 << 20;
    cfg->map_size_max = (size_t)16 << 30;
    cfg->wal_size = WAL_SIZE_DEFAULT;
    cfg->events_bind = dup_string("tcp://127.0.0.1:5560");
    cfg->events_heartbeat = 5;
    cfg->plugin_dirs = calloc(1, sizeof *cfg->plugin_dirs);
    cfg->limits.body_max = (size_t)1 << 20;
    cfg->limits.bulk_max = (size_t)64 << 20;
    cfg->limits.timeout = 30;
    cfg->limits.connections = 1024;
    cfg->limits.lua_instructions = 100000000;
    cfg->limits.lua_seconds = 5;
    cfg->limits.lua_memory = (size_t)512 << 20;
    cfg->limits.result_cache = (size_t)16 << 20;
    cfg->log_level = LOG_INFO;
    if (!cfg->plugin_dirs)
        abort();
}

static int read_top_level(struct reader *r, struct config *cfg)
{
    static const char *const keys[] = {"listen",  "data_dir", "map_size", "map_size_max",
                                       "wal_size", "events", "plugins", "tokens", "limits",
                                       "log_level", NULL};
    const double min_map = 1 << 20, max_map = 1024.0 * 1024 * 1024 * 1024;
    bool max_given = lua_getfield(r->L, -1, "map_size_max") != LUA_TNIL;
    lua_pop(r->L, 1);
    if (check_known_keys(r, "", keys) < 0 || read_listen(r, cfg) < 0 ||
        read_string(r, "data_dir", "", &cfg->data_dir) < 0 ||
        read_size(r, "map_size", "", min_map, max_map, &cfg->map_size) < 0 ||
        read_size(r, "map_size_max", "", min_map, max_map, &cfg->map_size_max) < 0 ||
        read_size(r, "wal_size", "", WAL_SIZE_MIN, max_map, &cfg->wal_size) < 0 ||
        read_section(r, cfg, "events", read_events) < 0 ||
        read_section(r, cfg, "plugins", read_plugins) < 0 || read_tokens(r, cfg) < 0 ||
        read_section(r, cfg, "limits", read_limits) < 0 ||
        read_log_level(r, cfg) < 0)
        return -1;
    if (!max_given && cfg->map_size_max < cfg->map_size)
        cfg->map_size_max = cfg->map_size;
    if (cfg->map_size_max < cfg->map_size)
        return fail(r, "map_size_max: must not be below map_size");
    return 0;
}

int config_load(const char *path, struct config *cfg, char *err, size_t errlen)
{
    struct reader r = {luaL_newstate(), path, err, errlen};
    if (!r.L)
        abort();
    set_defaults(cfg);
    int rc = run_chunk(&r);
    if (rc == 0)
        rc = read_top_level(&r, cfg);
    lua_close(r.L);
    if (rc < 0)
        config_free(cfg);
    return rc;
}

void config_free(struct config *cfg)
{
    free(cfg->listen_host);
    free(cfg->data_dir);
    free(cfg->events_bind);
    free_string_list(cfg->plugin_dirs);
    for (size_t i = 0; i < cfg->n_tokens; i++) {
        free(cfg->tokens[i].name);
        free_string_list(cfg->tokens[i].departments);
    }
    free(cfg->tokens);
    memset(cfg, 0, sizeof *cfg);
}

bool config_addr_is_loopback(int family, const void *addr)
{
    if (family == AF_INET)
        return ntohl(((const struct in_addr *)addr)->s_addr) >> 24 == 127;
    return family == AF_INET6 && IN6_IS_ADDR_LOOPBACK((const struct in6_addr *)addr);
}

bool config_host_is_loopback(const char *host)
{
    struct in6_addr addr; /* large enough for either family */
    if (inet_pton(AF_INET, host, &addr) == 1)
        return config_addr_is_loopback(AF_INET, &addr);
    if (inet_pton(AF_INET6, host, &addr) == 1)
        return config_addr_is_loopback(AF_INET6, &addr);
    return strcmp(host, "localhost") == 0;
}

const char *config_role_name(enum role role)
{
    static const char *const names[] = {"reader", "editor", "admin"};
    return names[role];
}
