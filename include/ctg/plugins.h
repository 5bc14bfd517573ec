/*
 * plugins.h — the department variants (SPEC §5) as the rest of ctgd uses them.
 *
 * A `struct plugins` is one generation: a Lua state holding every plugin file of the
 * configured folders, and what they declared. A reload builds a whole new generation and
 * replaces the old one only if every file loaded. Every call into a plugin runs under the
 * budgets of lua_runtime.h; a failure is reported with the plugin's name and file, recorded as
 * its last error, and never stops the server.
 */
#ifndef CTG_PLUGINS_H
#define CTG_PLUGINS_H

#include "ctg/lua_runtime.h"
#include "ctg/plugin_registry.h"
#include "ctg/store.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct plugins;

struct plugins_options {
    char *const *dirs;   /* NULL-terminated */
    struct lua_limits limits;
    struct store *store; /* for ctg.store */
    struct plugin_publisher publisher;
    uint64_t generation;
};

/* Loads every *.lua file of the folders; NULL with the file, line and message in `err`. */
struct plugins *plugins_load(const struct plugins_options *opt, char *err, size_t errlen);
void plugins_free(struct plugins *p);

uint64_t plugins_generation(const struct plugins *p);
uint64_t plugins_error_count(const struct plugins *p);

/* GET /v1/plugins: [{name, label, file, department, sha256, generation, errors, last_error}] */
json_t *plugins_describe(const struct plugins *p);
/* GET /v1/departments: [{code, label, plugins}] for each department a plugin is written for. */
json_t *plugins_departments(const struct plugins *p);
/* GET /v1/departments/{code}: {code, label, plugins, champs, indicators, exports, reports}. */
json_t *plugins_department(const struct plugins *p, const char *code);
/* The exports available for a convention of `department`: [{key, label, content_type, plugin}]. */
json_t *plugins_exports(const struct plugins *p, const char *department);

/*
 * Checks the champ keys of `doc` against its department's champs, then runs every validator
 * of the base plugins and of the department's plugins (`old`: the stored document on updates).
 * Appends {path, message[, plugin]} to `details` and returns how many; -1 when a plugin failed
 * (the message naming it in `err`).
 */
long plugins_validate(struct plugins *p, const json_t *doc, const json_t *old, json_t *details,
                      char *err, size_t errlen);

/*
 * [{key, label, unit, value, plugin}] for the document's department; NULL and `err` if one
 * failed. `pure` (unless NULL): every indicator is declared `pure` and none read more than the
 * document (lua_runtime_outside_reads): the answer may be kept for the document's revision.
 */
json_t *plugins_indicators(struct plugins *p, const json_t *doc, bool *pure, char *err,
                           size_t errlen);

struct rendered {
    char *body;              /* malloc'd; the caller frees it */
    size_t len;
    const char *content_type; /* owned by the plugins generation */
    bool pure;               /* declared `pure`, and rendered reading nothing but its argument */
};

enum plugin_result { PLUGIN_OK, PLUGIN_UNKNOWN, PLUGIN_FAILED };

enum plugin_result plugins_render_export(struct plugins *p, const json_t *doc, const char *key,
                                         struct rendered *out, char *err, size_t errlen);
enum plugin_result plugins_render_report(struct plugins *p, const char *department,
                                         const char *key, const struct json_texts *conventions,
                                         struct rendered *out, char *err, size_t errlen);

/* A change event (SPEC §4): its JSON text, and where its "doc" is in it (doc_len 0: none). */
struct plugin_event {
    const char *text;
    size_t len, doc_at, doc_len;
    int type; /* its enum change_type (-1: unknown), which chooses the handlers called: to be
                 set, as 0 is CHANGE_CREATED */
};

/*
 * Runs the on_change handlers of `department` for one change event, given as the JSON text the
 * change log holds; failures are logged and counted.
 */
void plugins_on_change(struct plugins *p, const char *department,
                       const struct plugin_event *event);

#endif
