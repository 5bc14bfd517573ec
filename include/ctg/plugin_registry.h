/*
 * plugin_registry.h — what the loaded plugins declared, kept on the C side: their files and
 * hashes, and the champs, indicators, exports, reports, validators and change handlers they
 * registered (Lua functions are kept as registry references). Shared by lua_ctg.c, which
 * fills it while plugins load, and plugins.c, which answers from it.
 */
#ifndef CTG_PLUGIN_REGISTRY_H
#define CTG_PLUGIN_REGISTRY_H

#include "ctg/lua_runtime.h"
#include "ctg/store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

enum entry_kind { ENTRY_CHAMP, ENTRY_INDICATOR, ENTRY_EXPORT, ENTRY_REPORT, ENTRY_KINDS };

struct plugin_entry {
    enum entry_kind kind;
    size_t plugin;       /* index in registry.plugins */
    char *key, *label;
    char *detail;        /* champ: group; indicator: unit; export/report: content type */
    char *description;   /* indicator: optional */
    int fn;              /* LUA_NOREF for champs */
    bool pure;           /* indicator, export: declared a function of its document alone */
};

/* Whether `e` is the `kind` entry named `key`; the first byte is compared inline, as most
 * entries differ there (a champ is looked up among all entries for each key of a write). */
static inline bool plugin_entry_is(const struct plugin_entry *e, enum entry_kind kind,
                                   const char *key)
{
    return e->kind == kind && e->key[0] == key[0] && strcmp(e->key, key) == 0;
}

/* An on_change handler: its function, and the change types it takes (bit 1 << enum
 * change_type for each), or CHANGE_TYPES_ANY when it was registered without a list. */
struct change_handler {
    int fn;
    unsigned types;
};

#define CHANGE_TYPES_ANY (~0u)

struct plugin_info {
    char *name, *label, *file;
    char department[4];  /* "" for a base plugin */
    char sha256[65];
    int *validators;
    struct change_handler *on_change;
    size_t n_validators, n_on_change;
    uint64_t errors;     /* failed calls since load */
    char *last_error;
};

struct plugin_publisher {
    void (*publish)(void *arg, const char *department, const char *name, const char *json);
    void *arg;
};

struct plugin_registry {
    struct lua_runtime *rt;
    struct plugin_info *plugins;
    size_t n_plugins;
    struct plugin_entry *entries;
    size_t n_entries;
    /* while loading: the file being run; NULL once loaded (registrations are then refused) */
    const char *loading_file;
    const char *loading_hash;
    /* what callbacks may use */
    struct store *store;
    struct plugin_publisher publisher;
    const char *call_department; /* the department of the document or event being handled */
    bool validating;             /* inside validate: the write's transaction is open */
};

/* Makes the `ctg` table and adds it to the sandbox's globals. */
int lua_ctg_open(lua_State *L, struct plugin_registry *reg);

/*
 * True when `e` is part of `department`'s set: the entries of its own plugins, and those of the
 * base plugins that no entry of its own (same kind, same key) overrides.
 */
bool plugin_entry_visible(const struct plugin_registry *reg, const struct plugin_entry *e,
                          const char *department);

/* Frees what the registry holds on the C side (not the Lua state). */
void plugin_registry_clear(struct plugin_registry *reg);

#endif
