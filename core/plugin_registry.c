/*
 * plugin_registry.c — the C side of what plugins declared (see plugin_registry.h): which
 * entries a department sees, and the release of it all.
 */
#include "ctg/plugin_registry.h"

#include <stdlib.h>
#include <string.h>

bool plugin_entry_visible(const struct plugin_registry *reg, const struct plugin_entry *e,
                          const char *department)
{
    const char *own = reg->plugins[e->plugin].department;
    if (own[0])
        return strcmp(own, department) == 0;
    for (size_t i = 0; i < reg->n_entries; i++) {
        const struct plugin_entry *other = &reg->entries[i];
        if (plugin_entry_is(other, e->kind, e->key) &&
            strcmp(reg->plugins[other->plugin].department, department) == 0)
            return false; /* the department's own entry overrides the base one */
    }
    return true;
}

void plugin_registry_clear(struct plugin_registry *reg)
{
    for (size_t i = 0; i < reg->n_plugins; i++) {
        struct plugin_info *p = &reg->plugins[i];
        free(p->name);
        free(p->label);
        free(p->file);
        free(p->validators);
        free(p->on_change);
        free(p->last_error);
    }
    for (size_t i = 0; i < reg->n_entries; i++) {
        free(reg->entries[i].key);
        free(reg->entries[i].label);
        free(reg->entries[i].detail);
        free(reg->entries[i].description);
    }
    free(reg->plugins);
    free(reg->entries);
    reg->plugins = NULL;
    reg->entries = NULL;
    reg->n_plugins = reg->n_entries = 0;
}
