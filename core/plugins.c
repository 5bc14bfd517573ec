/*
 * plugins.c — one generation of plugins: loading the files, answering from what they declared,
 * and calling their functions (see plugins.h).
 *
 * Calls follow one pattern: a protected C function pushes the Lua function and its arguments
 * (documents converted by lua_json), calls it, and reads its single result back on the C side
 * before the stack is unwound; lua_runtime_call() supplies the budgets and the error message.
 */
#include "ctg/plugins.h"
#include "ctg/auth.h"
#include "ctg/log.h"
#include "ctg/lua_json.h"
#include "ctg/utf8.h"

#include <lauxlib.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PLUGIN_FILE_MAX (1024 * 1024)

struct plugins {
    struct plugin_registry reg;
    uint64_t generation;
    /* the entries by kind and key; those of one kind and key in the registry's order */
    const struct plugin_entry **by_key;
    /* where each kind and key starts in by_key, plus one (0: an empty slot), by its hash */
    size_t *starts;
    size_t starts_mask;
};

static const char *const kind_names[ENTRY_KINDS] = {"champ", "indicator", "export", "report"};

/* ---------- loading ---------- */

static int compare_basenames(const void *a, const void *b)
{
    const char *pa = *(char *const *)a, *pb = *(char *const *)b;
    const char *na = strrchr(pa, '/'), *nb = strrchr(pb, '/');
    int rc = strcmp(na ? na + 1 : pa, nb ? nb + 1 : pb);
    return rc ? rc : strcmp(pa, pb);
}

static bool is_plugin_file(const char *name)
{
    size_t n = strlen(name);
    return n > 4 && name[0] != '.' && strcmp(name + n - 4, ".lua") == 0;
}

/* Every *.lua file of the folders, sorted by file name. NULL-terminated; NULL on error. */
static char **list_plugin_files(char *const *dirs, char *err, size_t errlen)
{
    char **files = calloc(1, sizeof *files);
    size_t n = 0;
    for (size_t d = 0; files && dirs && dirs[d]; d++) {
        DIR *dir = opendir(dirs[d]);
        if (!dir) {
            snprintf(err, errlen, "cannot read the plugin folder %s", dirs[d]);
            goto fail;
        }
        for (struct dirent *e; (e = readdir(dir));) {
            if (!is_plugin_file(e->d_name))
                continue;
            char **grown = realloc(files, (n + 2) * sizeof *files);
            size_t len = strlen(dirs[d]) + strlen(e->d_name) + 2;
            char *path = grown ? malloc(len) : NULL;
            if (grown)
                files = grown;
            if (!path) {
                closedir(dir);
                snprintf(err, errlen, "out of memory");
                goto fail;
            }
            snprintf(path, len, "%s/%s", dirs[d], e->d_name);
            files[n++] = path;
            files[n] = NULL;
        }
        closedir(dir);
    }
    if (files)
        qsort(files, n, sizeof *files, compare_basenames);
    return files;
fail:
    for (size_t i = 0; i < n; i++)
        free(files[i]);
    free(files);
    return NULL;
}

static void free_list(char **files)
{
    for (size_t i = 0; files && files[i]; i++)
        free(files[i]);
    free(files);
}

static char *read_file(const char *path, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    char *buf = f ? malloc(PLUGIN_FILE_MAX + 1) : NULL;
    *len = buf ? fread(buf, 1, PLUGIN_FILE_MAX + 1, f) : 0;
    bool ok = buf && !ferror(f) && *len <= PLUGIN_FILE_MAX;
    if (f)
        fclose(f);
    if (!ok) {
        snprintf(err, errlen, "%s: cannot be read (or is over %d bytes)", path, PLUGIN_FILE_MAX);
        free(buf);
        return NULL;
    }
    return buf;
}

static void sha256_hex(const char *data, size_t len, char out[65])
{
    uint8_t digest[32];
    auth_sha256(data, len, digest);
    for (size_t i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", digest[i]);
}

struct chunk {
    struct plugins *p;
    const char *path, *text;
    size_t len;
};

static int run_chunk(lua_State *L, void *arg)
{
    struct chunk *c = arg;
    char name[1024];
    snprintf(name, sizeof name, "@%s", c->path);
    if (luaL_loadbufferx(L, c->text, c->len, name, "t") != LUA_OK)
        lua_error(L);
    lua_runtime_push_env(c->p->reg.rt);
    lua_setupvalue(L, -2, 1);
    lua_call(L, 0, 0);
    return 0;
}

/*
 * "path:line: message". Lua's own messages start with the file and line already, but shorten a
 * long file name ("...ins/29-finistere.lua:4: ..."): the file is then named in full.
 */
static void format_load_error(const char *path, const char *message, char *err, size_t errlen)
{
    size_t len = strlen(path);
    const char *rest = NULL;
    if (strncmp(message, path, len) == 0 && message[len] == ':') {
        rest = message + len;
    } else if (strncmp(message, "...", 3) == 0) {
        const char *colon = strchr(message + 3, ':');
        size_t tail = colon ? (size_t)(colon - (message + 3)) : 0;
        if (colon && tail <= len && memcmp(path + len - tail, message + 3, tail) == 0)
            rest = colon;
    }
    if (rest)
        snprintf(err, errlen, "%s%s", path, rest);
    else
        snprintf(err, errlen, "%s: %s", path, message);
}

static int load_file(struct plugins *p, const char *path, char *err, size_t errlen)
{
    size_t len;
    char *text = read_file(path, &len, err, errlen);
    if (!text)
        return -1;
    char hash[65];
    sha256_hex(text, len, hash);
    size_t before = p->reg.n_plugins;
    struct chunk c = {p, path, text, len};
    p->reg.loading_file = path;
    p->reg.loading_hash = hash;
    char message[512];
    int rc = lua_runtime_call(p->reg.rt, run_chunk, &c, message, sizeof message);
    p->reg.loading_file = p->reg.loading_hash = NULL;
    free(text);
    if (rc < 0) {
        format_load_error(path, message, err, errlen);
        utf8_repair(err);
    } else if (p->reg.n_plugins == before)
        snprintf(err, errlen, "%s: declares no plugin (ctg.plugin{name = ...})", path);
    return rc < 0 || p->reg.n_plugins == before ? -1 : 0;
}

struct api_setup {
    struct plugin_registry *reg;
    size_t memory; /* the state's memory cap, also the bound of the JSON plugins make */
};

static int open_api(lua_State *L, void *arg)
{
    struct api_setup *setup = arg;
    lua_json_set_size_max(L, setup->memory);
    return lua_ctg_open(L, setup->reg);
}

static int compare_kind_key(const struct plugin_entry *a, enum entry_kind kind, const char *key)
{
    return a->kind != kind ? (a->kind < kind ? -1 : 1) : strcmp(a->key, key);
}

static int compare_entries(const void *pa, const void *pb)
{
    const struct plugin_entry *a = *(const struct plugin_entry *const *)pa;
    const struct plugin_entry *b = *(const struct plugin_entry *const *)pb;
    int rc = compare_kind_key(a, b->kind, b->key);
    return rc ? rc : (a > b) - (a < b); /* the registry's order: entries is one array */
}

/* FNV-1a of the key, then of the kind. */
static size_t hash_kind_key(enum entry_kind kind, const char *key)
{
    uint64_t h = 14695981039346656037u;
    for (const unsigned char *c = (const unsigned char *)key; *c; c++)
        h = (h ^ *c) * 1099511628211u;
    return (size_t)((h ^ (uint64_t)kind) * 1099511628211u);
}

/*
 * The index find_entry searches: a champ is looked up for each key of every write (a dozen a
 * convention), where a binary search took some 500 instructions. The table of starts is at
 * most half full, probed linearly.
 */
static int index_entries(struct plugins *p)
{
    size_t n = p->reg.n_entries, slots = 8;
    while (slots < 2 * n)
        slots *= 2;
    p->by_key = malloc((n ? n : 1) * sizeof *p->by_key);
    p->starts = calloc(slots, sizeof *p->starts);
    if (!p->by_key || !p->starts)
        return -1;
    p->starts_mask = slots - 1;
    for (size_t i = 0; i < n; i++)
        p->by_key[i] = &p->reg.entries[i];
    qsort(p->by_key, n, sizeof *p->by_key, compare_entries);
    for (size_t i = 0; i < n; i++) {
        const struct plugin_entry *e = p->by_key[i];
        if (i > 0 && plugin_entry_is(p->by_key[i - 1], e->kind, e->key))
            continue;
        size_t at = hash_kind_key(e->kind, e->key) & p->starts_mask;
        while (p->starts[at])
            at = (at + 1) & p->starts_mask;
        p->starts[at] = i + 1;
    }
    return 0;
}

struct plugins *plugins_load(const struct plugins_options *opt, char *err, size_t errlen)
{
    struct plugins *p = calloc(1, sizeof *p);
    char **files = p ? list_plugin_files(opt->dirs, err, errlen) : NULL;
    if (!files) {
        free(p);
        return NULL;
    }
    p->generation = opt->generation;
    p->reg.store = opt->store;
    p->reg.publisher = opt->publisher;
    p->reg.rt = lua_runtime_new(&opt->limits);
    char message[256];
    struct api_setup setup = {&p->reg, opt->limits.memory};
    int rc = p->reg.rt ? lua_runtime_call(p->reg.rt, open_api, &setup, message, sizeof message) : -1;
    if (rc < 0)
        snprintf(err, errlen, "cannot start the Lua runtime");
    for (size_t i = 0; rc == 0 && files[i]; i++)
        rc = load_file(p, files[i], err, errlen);
    free_list(files);
    if (rc == 0 && index_entries(p) < 0) {
        snprintf(err, errlen, "out of memory");
        rc = -1;
    }
    if (rc < 0) {
        plugins_free(p);
        return NULL;
    }
    lua_gc(lua_runtime_state(p->reg.rt), LUA_GCCOLLECT);
    return p;
}

void plugins_free(struct plugins *p)
{
    if (!p)
        return;
    lua_runtime_free(p->reg.rt);
    plugin_registry_clear(&p->reg);
    free(p->by_key);
    free(p->starts);
    free(p);
}

uint64_t plugins_generation(const struct plugins *p)
{
    return p->generation;
}

uint64_t plugins_error_count(const struct plugins *p)
{
    uint64_t n = 0;
    for (size_t i = 0; i < p->reg.n_plugins; i++)
        n += p->reg.plugins[i].errors;
    return n;
}

/* ---------- what a department sees ---------- */

static const struct plugin_info *owner(const struct plugins *p, const struct plugin_entry *e)
{
    return &p->reg.plugins[e->plugin];
}

static bool applies_to(const struct plugin_info *plugin, const char *department)
{
    return plugin->department[0] == '\0' || strcmp(plugin->department, department) == 0;
}

static bool entry_visible(const struct plugins *p, const struct plugin_entry *e,
                          const char *department)
{
    return plugin_entry_visible(&p->reg, e, department);
}

/*
 * The `kind` entry named `key` that `department` sees: its own plugin's, or else the first
 * base plugin's (plugin_entry_visible's rule, found in the index instead of in every entry).
 */
static const struct plugin_entry *find_entry(const struct plugins *p, enum entry_kind kind,
                                             const char *department, const char *key)
{
    size_t at = hash_kind_key(kind, key) & p->starts_mask, start;
    while ((start = p->starts[at]) && !plugin_entry_is(p->by_key[start - 1], kind, key))
        at = (at + 1) & p->starts_mask;
    if (!start)
        return NULL;
    const struct plugin_entry *base = NULL;
    for (size_t i = start - 1; i < p->reg.n_entries && plugin_entry_is(p->by_key[i], kind, key);
         i++) {
        const char *own = owner(p, p->by_key[i])->department;
        if (own[0] == '\0' && !base)
            base = p->by_key[i];
        else if (own[0] != '\0' && strcmp(own, department) == 0)
            return p->by_key[i];
    }
    return base;
}

static json_t *describe_entry(const struct plugins *p, const struct plugin_entry *e)
{
    static const char *const detail_names[ENTRY_KINDS] = {"group", "unit", "content_type",
                                                          "content_type"};
    json_t *item = json_pack("{s:s, s:s, s:s}", "key", e->key, "label", e->label, "plugin",
                             owner(p, e)->name);
    if (e->detail)
        json_object_set_new(item, detail_names[e->kind], json_string(e->detail));
    if (e->description)
        json_object_set_new(item, "description", json_string(e->description));
    return item;
}

static json_t *visible_entries(const struct plugins *p, enum entry_kind kind, const char *department)
{
    json_t *list = json_array();
    for (size_t i = 0; i < p->reg.n_entries; i++) {
        const struct plugin_entry *e = &p->reg.entries[i];
        if (e->kind == kind && entry_visible(p, e, department))
            json_array_append_new(list, describe_entry(p, e));
    }
    return list;
}

json_t *plugins_describe(const struct plugins *p)
{
    json_t *list = json_array();
    for (size_t i = 0; i < p->reg.n_plugins; i++) {
        const struct plugin_info *plugin = &p->reg.plugins[i];
        json_array_append_new(list, json_pack("{s:s, s:s?, s:s, s:s?, s:s, s:I, s:I, s:s?}",
            "name", plugin->name, "label", plugin->label, "file", plugin->file,
            "department", plugin->department[0] ? plugin->department : NULL,
            "sha256", plugin->sha256, "generation", (json_int_t)p->generation,
            "errors", (json_int_t)plugin->errors, "last_error", plugin->last_error));
    }
    return list;
}

/* The label of the department's first plugin that has one. */
static const char *department_label(const struct plugins *p, const char *code)
{
    for (size_t i = 0; i < p->reg.n_plugins; i++)
        if (strcmp(p->reg.plugins[i].department, code) == 0 && p->reg.plugins[i].label)
            return p->reg.plugins[i].label;
    return NULL;
}

static json_t *plugin_names(const struct plugins *p, const char *department)
{
    json_t *names = json_array();
    for (size_t i = 0; i < p->reg.n_plugins; i++)
        if (applies_to(&p->reg.plugins[i], department))
            json_array_append_new(names, json_string(p->reg.plugins[i].name));
    return names;
}

json_t *plugins_departments(const struct plugins *p)
{
    json_t *list = json_array();
    for (size_t i = 0; i < p->reg.n_plugins; i++) {
        const char *code = p->reg.plugins[i].department;
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = strcmp(p->reg.plugins[j].department, code) == 0;
        if (code[0] && !seen)
            json_array_append_new(list, json_pack("{s:s, s:s?, s:o}", "code", code, "label",
                                                  department_label(p, code), "plugins",
                                                  plugin_names(p, code)));
    }
    return list;
}

json_t *plugins_department(const struct plugins *p, const char *code)
{
    json_t *d = json_pack("{s:s, s:s?, s:o}", "code", code, "label", department_label(p, code),
                          "plugins", plugin_names(p, code));
    static const char *const lists[ENTRY_KINDS] = {"champs", "indicators", "exports", "reports"};
    for (int kind = 0; kind < ENTRY_KINDS; kind++)
        json_object_set_new(d, lists[kind], visible_entries(p, kind, code));
    return d;
}

json_t *plugins_exports(const struct plugins *p, const char *department)
{
    return visible_entries(p, ENTRY_EXPORT, department);
}

/* ---------- calling a plugin's function ---------- */

enum result_kind { RESULT_NONE, RESULT_NUMBER, RESULT_STRING, RESULT_JSON };

/* An argument: a JSON value, one stored JSON text, or stored texts as an array; else nil. */
struct plugin_arg {
    const json_t *json;
    const char *text;
    size_t len;
    size_t doc_at, doc_len; /* a change event's text: where its "doc" is, when it has one */
    const struct json_texts *texts;
};

struct plugin_call {
    int fn;
    struct plugin_arg args[2];
    int nargs;
    enum result_kind want;
    /* what came back */
    json_t *value;       /* RESULT_NUMBER, RESULT_JSON; NULL for nil */
    char *string;        /* RESULT_STRING; NULL for nil */
    size_t len;
    char problem[256];   /* a result of the wrong kind */
};

static void read_result(lua_State *L, struct plugin_call *c)
{
    int type = lua_type(L, -1);
    if (type == LUA_TNIL || c->want == RESULT_NONE)
        return;
    if (c->want == RESULT_NUMBER && type == LUA_TNUMBER) {
        c->value = lua_isinteger(L, -1) ? json_integer(lua_tointeger(L, -1))
                                        : json_real(lua_tonumber(L, -1));
        if (!c->value)
            snprintf(c->problem, sizeof c->problem, "returned a number that is not finite");
    } else if (c->want == RESULT_STRING && type == LUA_TSTRING) {
        const char *s = lua_tolstring(L, -1, &c->len);
        c->string = malloc(c->len + 1);
        if (c->string)
            memcpy(c->string, s, c->len + 1);
        else
            snprintf(c->problem, sizeof c->problem, "out of memory");
    } else if (c->want == RESULT_JSON) {
        c->value = lua_json_to(L, -1, c->problem, sizeof c->problem);
    } else {
        snprintf(c->problem, sizeof c->problem, "returned a %s, not a %s", lua_typename(L, type),
                 c->want == RESULT_NUMBER ? "number (or nil)" : "string");
    }
}

static void push_arg(lua_State *L, const struct plugin_arg *a)
{
    if (a->json)
        lua_json_push_lazy(L, a->json); /* validators and indicators read a few members */
    else if (a->text) /* a change event: most read a few keys */
        lua_json_push_text_lazy_known(L, a->text, a->len, "doc", a->doc_at, a->doc_len);
    else if (a->texts) {
        lua_json_push_texts(L, a->texts);
        lua_runtime_hold_collector(L); /* the documents live as long as the call */
    }
    else
        lua_pushnil(L);
}

static int call_plugin_function(lua_State *L, void *arg)
{
    struct plugin_call *c = arg;
    lua_rawgeti(L, LUA_REGISTRYINDEX, c->fn);
    for (int i = 0; i < c->nargs; i++)
        push_arg(L, &c->args[i]);
    lua_call(L, c->nargs, 1);
    read_result(L, c);
    return 0;
}

static void release_call(struct plugin_call *c)
{
    json_decref(c->value);
    free(c->string);
    c->value = NULL;
    c->string = NULL;
}

/* Writes "plugin 'x' (file): <what>: <why>" into `err` and keeps it as the plugin's last error. */
static int record_failure(struct plugins *p, size_t index, const char *what, const char *why,
                         char *err, size_t errlen)
{
    struct plugin_info *plugin = &p->reg.plugins[index];
    static const char cut[] = "…"; /* ends a message that did not fit */
    if (snprintf(err, errlen, "plugin '%s' (%s): %s: %s", plugin->name, plugin->file, what,
                 why) >= (int)errlen && errlen >= sizeof cut)
        memcpy(err + errlen - sizeof cut, cut, sizeof cut);
    utf8_repair(err);
    plugin->errors++;
    free(plugin->last_error);
    plugin->last_error = strdup(err);
    log_warn("plugins", "%s", err);
    return -1;
}

/* Calls one function of plugin `index` for `department`; -1 (recorded) when it failed. */
static int call_plugin(struct plugins *p, size_t index, const char *what, const char *department,
                       struct plugin_call *c, char *err, size_t errlen)
{
    char message[512];
    p->reg.call_department = department;
    int rc = lua_runtime_call(p->reg.rt, call_plugin_function, c, message, sizeof message);
    lua_json_end_lazy(lua_runtime_state(p->reg.rt)); /* the documents die with the call */
    p->reg.call_department = NULL;
    if (rc == 0 && !c->problem[0])
        return 0;
    release_call(c);
    return record_failure(p, index, what, rc < 0 ? message : c->problem, err, errlen);
}

static const char *department_of(const json_t *doc)
{
    const char *department = json_string_value(json_object_get(doc, "department"));
    return department ? department : "";
}

/* ---------- validation ---------- */

static bool champ_known(const struct plugins *p, const char *department, const char *key)
{
    return find_entry(p, ENTRY_CHAMP, department, key) != NULL;
}

static void append_unknown_champ(const struct plugins *p, const char *department, const char *key,
                                 const char *path, json_t *details)
{
    char known[2048] = "";
    size_t used = 0;
    for (size_t i = 0; i < p->reg.n_entries && used < sizeof known - 1; i++) {
        const struct plugin_entry *e = &p->reg.entries[i];
        if (e->kind == ENTRY_CHAMP && entry_visible(p, e, department))
            used += (size_t)snprintf(known + used, sizeof known - used, "%s%s", used ? ", " : "",
                                     e->key);
    }
    char message[2400];
    snprintf(message, sizeof message, "unknown champ '%s' for department %s; known: %s", key,
             department, *known ? known : "none");
    json_array_append_new(details, json_pack("{s:s, s:s}", "path", path, "message", message));
}

/* Checks every champ key of an array of keys at `path`; returns the number of unknown ones. */
static long check_champ_list(const struct plugins *p, const char *department, const json_t *keys,
                             const char *path, json_t *details)
{
    long unknown = 0;
    size_t i;
    json_t *key;
    json_array_foreach(keys, i, key) {
        if (json_is_string(key) && !champ_known(p, department, json_string_value(key))) {
            char at[128];
            snprintf(at, sizeof at, "%s/%zu", path, i);
            append_unknown_champ(p, department, json_string_value(key), at, details);
            unknown++;
        }
    }
    return unknown;
}

/* champs, actions[].champ and governance.thematic_committees[].champs. */
static long check_champs(const struct plugins *p, const json_t *doc, json_t *details)
{
    const char *department = department_of(doc);
    long unknown = check_champ_list(p, department, json_object_get(doc, "champs"), "/champs", details);
    size_t i;
    json_t *item;
    json_array_foreach(json_object_get(doc, "actions"), i, item) {
        const char *champ = json_string_value(json_object_get(item, "champ"));
        if (champ && !champ_known(p, department, champ)) {
            char at[64];
            snprintf(at, sizeof at, "/actions/%zu/champ", i);
            append_unknown_champ(p, department, champ, at, details);
            unknown++;
        }
    }
    json_t *committees = json_object_get(json_object_get(doc, "governance"), "thematic_committees");
    json_array_foreach(committees, i, item) {
        char at[64];
        snprintf(at, sizeof at, "/governance/thematic_committees/%zu/champs", i);
        unknown += check_champ_list(p, department, json_object_get(item, "champs"), at, details);
    }
    return unknown;
}

/* Turns what a validator returned into details; -1 when it is of no known shape. */
static long append_refusals(const json_t *result, const char *plugin, json_t *details)
{
    if (!result || (json_is_object(result) && json_object_size(result) == 0))
        return 0; /* nil, or an empty table (which reads as {}): nothing refused */
    if (json_is_string(result)) {
        json_array_append_new(details, json_pack("{s:s, s:O, s:s}", "path", "", "message", result,
                                                 "plugin", plugin));
        return 1;
    }
    size_t i;
    json_t *item;
    if (!json_is_array(result))
        return -1;
    json_array_foreach(result, i, item) {
        json_t *path = json_object_get(item, "path"), *message = json_object_get(item, "message");
        if (!json_is_string(message) || (path && !json_is_string(path)))
            return -1;
        json_array_append_new(details, json_pack("{s:s, s:O, s:s}", "path",
                                                 path ? json_string_value(path) : "", "message",
                                                 message, "plugin", plugin));
    }
    return (long)json_array_size(result);
}

long plugins_validate(struct plugins *p, const json_t *doc, const json_t *old, json_t *details,
                      char *err, size_t errlen)
{
    const char *department = department_of(doc);
    long problems = check_champs(p, doc, details);
    for (size_t i = 0; i < p->reg.n_plugins; i++) {
        const struct plugin_info *plugin = &p->reg.plugins[i];
        for (size_t v = 0; v < plugin->n_validators && applies_to(plugin, department); v++) {
            struct plugin_call c = {.fn = plugin->validators[v],
                                    .args = {{.json = doc}, {.json = old}}, .nargs = 2,
                                    .want = RESULT_JSON};
            p->reg.validating = true;
            int rc = call_plugin(p, i, "validate", department, &c, err, errlen);
            p->reg.validating = false;
            if (rc < 0)
                return -1;
            long refused = append_refusals(c.value, plugin->name, details);
            release_call(&c);
            if (refused < 0)
                return record_failure(p, i, "validate",
                                      "returned neither nil, a message, nor a list of "
                                      "{path = ..., message = ...}", err, errlen);
            problems += refused;
        }
    }
    return problems;
}

/* ---------- indicators, exports, reports, changes ---------- */

json_t *plugins_indicators(struct plugins *p, const json_t *doc, bool *pure, char *err,
                           size_t errlen)
{
    const char *department = department_of(doc);
    unsigned long reads = lua_runtime_outside_reads(p->reg.rt);
    bool declared_pure = true;
    json_t *list = json_array();
    for (size_t i = 0; i < p->reg.n_entries; i++) {
        const struct plugin_entry *e = &p->reg.entries[i];
        if (e->kind != ENTRY_INDICATOR || !entry_visible(p, e, department))
            continue;
        struct plugin_call c = {.fn = e->fn, .args = {{.json = doc}}, .nargs = 1,
                                .want = RESULT_NUMBER};
        char what[128];
        snprintf(what, sizeof what, "indicator '%s'", e->key);
        if (call_plugin(p, e->plugin, what, department, &c, err, errlen) < 0) {
            json_decref(list);
            return NULL;
        }
        json_t *item = describe_entry(p, e);
        json_object_set_new(item, "value", c.value ? c.value : json_null());
        json_array_append_new(list, item);
        declared_pure = declared_pure && e->pure;
    }
    if (pure)
        *pure = declared_pure && lua_runtime_outside_reads(p->reg.rt) == reads;
    return list;
}

static enum plugin_result render(struct plugins *p, enum entry_kind kind, const char *department,
                                 const char *key, struct plugin_arg arg, struct rendered *out,
                                 char *err, size_t errlen)
{
    const struct plugin_entry *e = find_entry(p, kind, department, key);
    if (!e)
        return PLUGIN_UNKNOWN;
    struct plugin_call c = {.fn = e->fn, .args = {arg}, .nargs = 1, .want = RESULT_STRING};
    char what[128];
    snprintf(what, sizeof what, "%s '%s'", kind_names[kind], key);
    unsigned long reads = lua_runtime_outside_reads(p->reg.rt);
    if (call_plugin(p, e->plugin, what, department, &c, err, errlen) < 0)
        return PLUGIN_FAILED;
    if (!c.string) {
        record_failure(p, e->plugin, what, "returned nil, not a string", err, errlen);
        return PLUGIN_FAILED;
    }
    out->body = c.string;
    out->len = c.len;
    out->content_type = e->detail;
    out->pure = e->pure && lua_runtime_outside_reads(p->reg.rt) == reads;
    return PLUGIN_OK;
}

enum plugin_result plugins_render_export(struct plugins *p, const json_t *doc, const char *key,
                                         struct rendered *out, char *err, size_t errlen)
{
    struct plugin_arg arg = {.json = doc};
    return render(p, ENTRY_EXPORT, department_of(doc), key, arg, out, err, errlen);
}

enum plugin_result plugins_render_report(struct plugins *p, const char *department,
                                         const char *key, const struct json_texts *conventions,
                                         struct rendered *out, char *err, size_t errlen)
{
    struct plugin_arg arg = {.texts = conventions};
    return render(p, ENTRY_REPORT, department, key, arg, out, err, errlen);
}

/* Whether `h` takes a change of `type`: a handler registered without a list takes every one. */
static bool handler_takes(const struct change_handler *h, int type)
{
    return h->types == CHANGE_TYPES_ANY || (type >= 0 && (h->types & 1u << type) != 0);
}

void plugins_on_change(struct plugins *p, const char *department,
                       const struct plugin_event *event)
{
    for (size_t i = 0; i < p->reg.n_plugins; i++) {
        const struct plugin_info *plugin = &p->reg.plugins[i];
        for (size_t h = 0; h < plugin->n_on_change && applies_to(plugin, department); h++) {
            const struct change_handler *handler = &plugin->on_change[h];
            if (!handler_takes(handler, event->type))
                continue;
            struct plugin_call c = {.fn = handler->fn,
                                    .args = {{.text = event->text, .len = event->len,
                                              .doc_at = event->doc_at,
                                              .doc_len = event->doc_len}},
                                    .nargs = 1,
                                    .want = RESULT_NONE};
            char err[512];
            call_plugin(p, i, "on_change", department, &c, err, sizeof err);
        }
    }
}
