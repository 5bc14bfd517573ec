/*
 * config.h — ctgd's configuration (SPEC §6): a Lua file of plain assignments, read once at
 * start. Every key is checked; an unknown key is an error, so that a typo never passes silently.
 */
#ifndef CTG_CONFIG_H
#define CTG_CONFIG_H

#include "ctg/log.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum role { ROLE_READER, ROLE_EDITOR, ROLE_ADMIN };

struct token {
    char *name;
    uint8_t sha256[32];   /* the token's SHA-256; the token itself is never kept */
    enum role role;
    bool all_departments; /* departments = "*" */
    char **departments;   /* NULL-terminated when !all_departments */
};

struct limits {
    size_t body_max;      /* bytes of a request body (default 1 MiB) */
    size_t bulk_max;      /* bytes of a POST /v1/conventions/_bulk body (default 64 MiB) */
    int timeout;          /* seconds a connection may stay idle or slow (default 30) */
    size_t connections;   /* client connections at once (default 1024; conn_limit.h) */
    long lua_instructions; /* per call into a plugin (default 100 million) */
    double lua_seconds;   /* per call into a plugin, wall clock (default 5) */
    size_t lua_memory;    /* bytes of the plugins' Lua state (default 512 MiB) */
    size_t result_cache;  /* bytes of the plugins' answers kept (default 16 MiB; result_cache.h) */
};

struct config {
    char *listen_host;    /* from listen = "host:port" ("[v6]:port" for IPv6) */
    int listen_port;
    char *data_dir;
    size_t map_size;      /* initial LMDB map size */
    size_t map_size_max;  /* the map grows up to this when full, then writes get 507 */
    size_t wal_size;      /* bytes of a new write-ahead log (an existing one keeps its size) */
    char *events_bind;
    double events_heartbeat;
    char **plugin_dirs;   /* NULL-terminated */
    struct token *tokens;
    size_t n_tokens;
    struct limits limits;
    enum log_level log_level;
};

/*
 * Reads `path` into `cfg`. On failure returns -1 and writes a one-line message naming the file
 * and the problem into `err`; `cfg` then holds nothing to free.
 */
int config_load(const char *path, struct config *cfg, char *err, size_t errlen);
void config_free(struct config *cfg);

/* True when `host` is a loopback address (127.0.0.0/8, ::1, localhost). */
bool config_host_is_loopback(const char *host);
/* True when `addr` (a struct in_addr or in6_addr, as `family` says) is a loopback address. */
bool config_addr_is_loopback(int family, const void *addr);

const char *config_role_name(enum role role);

#endif
