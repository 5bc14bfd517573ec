/*
 * lua_ctg.c — the `ctg` table, the whole API a plugin sees (SPEC §5).
 *
 *   ctg.plugin{name, department, label}          -> a plugin object, while its file loads
 *   p:champ{key, label, group}
 *   p:indicator{key, label, unit, description, compute}
 *   p:export{key, label, content_type, render}
 *   p:report{key, label, content_type, render}
 *   p:validate(fn)   p:on_change(fn [, {"convention.updated", …}])
 *   ctg.json (lua_json.h)   ctg.csv(rows)   ctg.html.escape(s)   ctg.log(...)
 *   ctg.publish(name, table)   ctg.store.get(id)   ctg.store.list{department, status, champ, limit}
 *   ctg.champs(department)   -> the champs that department knows, with their labels
 *
 * Registrations are checked field by field; an unknown or mistyped field is an error naming
 * the plugin, so a typo in a plugin fails its load instead of being ignored.
 */
#include "ctg/json_parse.h"
#include "ctg/json_write.h"
#include "ctg/log.h"
#include "ctg/lua_json.h"
#include "ctg/lua_runtime.h"
#include "ctg/model.h"
#include "ctg/plugin_registry.h"

#include <lauxlib.h>

#include <stdlib.h>
#include <string.h>

#define PLUGIN_MT "ctg.plugin"
#define STORE_LIST_DEFAULT 100
#define STORE_LIST_MAX 10000

static struct plugin_registry *registry_of(lua_State *L)
{
    return lua_touserdata(L, lua_upvalueindex(1));
}

static char *dup_or_die(lua_State *L, const char *s)
{
    char *copy = s ? strdup(s) : NULL;
    if (s && !copy)
        luaL_error(L, "not enough memory");
    return copy;
}

/* Grows an array of `size`-byte items by one; returns the new item, zeroed. */
static void *grow(lua_State *L, void **items, size_t *n, size_t size)
{
    void *grown = realloc(*items, (*n + 1) * size);
    if (!grown)
        luaL_error(L, "not enough memory");
    *items = grown;
    memset((char *)grown + *n * size, 0, size);
    return (char *)grown + (*n)++ * size;
}

static bool key_valid(const char *key, const char *extra_chars)
{
    size_t n = strlen(key);
    if (n == 0 || n > MODEL_KEY_MAX || !((key[0] >= 'a' && key[0] <= 'z') || (key[0] >= '0' && key[0] <= '9')))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((key[i] >= 'a' && key[i] <= 'z') || (key[i] >= '0' && key[i] <= '9') ||
              key[i] == '-' || strchr(extra_chars, key[i])))
            return false;
    return true;
}

/* ---------- fields of a registration table ---------- */

/* True when `s` is text that may be written as a JSON string (jansson checks the UTF-8). */
static bool utf8_valid(const char *s, size_t len)
{
    json_t *text = json_stringn(s, len);
    json_decref(text);
    return text != NULL;
}

/* True when every byte of `s` is printable ASCII: what an HTTP header value may hold. */
static bool header_valid(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7E)
            return false;
    return true;
}

/*
 * The text of a registration ends up in JSON answers, and a content type in a header: the
 * string field `name` of the plain table at `index` must be UTF-8, a content type printable
 * ASCII (no CR or LF that would end the header).
 */
static bool text_field_valid(lua_State *L, int index, const char *name)
{
    size_t len;
    lua_pushstring(L, name);
    lua_rawget(L, index);
    const char *s = lua_tolstring(L, -1, &len);
    bool valid = strcmp(name, "content_type") == 0 ? header_valid(s, len) : utf8_valid(s, len);
    lua_pop(L, 1);
    return valid;
}

struct field_spec {
    const char *name;
    int type;
    bool required;
};

/*
 * Checks the table at `index` against `specs`; raises an error naming the plugin otherwise.
 * The table must be plain (no metatable): an __index could answer the check and the copy
 * differently.
 */
static void check_fields(lua_State *L, int index, const struct field_spec specs[],
                         const char *plugin, const char *what)
{
    luaL_checktype(L, index, LUA_TTABLE);
    if (lua_getmetatable(L, index))
        luaL_error(L, "plugin '%s': %s: give a plain table (without a metatable)", plugin, what);
    lua_pushnil(L);
    while (lua_next(L, index)) {
        lua_pop(L, 1);
        const char *name = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
        bool known = false;
        for (size_t i = 0; name && specs[i].name && !known; i++)
            known = strcmp(name, specs[i].name) == 0;
        if (!known)
            luaL_error(L, "plugin '%s': %s: unknown field '%s'", plugin, what,
                       name ? name : luaL_typename(L, -1));
    }
    for (size_t i = 0; specs[i].name; i++) {
        lua_pushstring(L, specs[i].name);
        int type = lua_rawget(L, index);
        lua_pop(L, 1);
        if (type == LUA_TNIL && specs[i].required)
            luaL_error(L, "plugin '%s': %s: field '%s' is required", plugin, what, specs[i].name);
        if (type != LUA_TNIL && type != specs[i].type)
            luaL_error(L, "plugin '%s': %s: field '%s' must be a %s", plugin, what, specs[i].name,
                       lua_typename(L, specs[i].type));
        if (type == LUA_TSTRING && !text_field_valid(L, index, specs[i].name))
            luaL_error(L, "plugin '%s': %s: field '%s' must be %s", plugin, what, specs[i].name,
                       strcmp(specs[i].name, "content_type") == 0
                           ? "printable ASCII (a header value)" : "UTF-8 text");
    }
}

/*
 * The string field `name` of the plain table at `index`, or NULL when it is not a string. The
 * string stays anchored in the table, which stays on the stack.
 */
static const char *string_field(lua_State *L, int index, const char *name)
{
    lua_pushstring(L, name);
    const char *value = lua_rawget(L, index) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
    lua_pop(L, 1);
    return value;
}

/* ---------- ctg.plugin ---------- */

static size_t plugin_index(lua_State *L)
{
    return *(size_t *)luaL_checkudata(L, 1, PLUGIN_MT);
}

static int ctg_plugin(lua_State *L)
{
    static const struct field_spec specs[] = {
        {"name", LUA_TSTRING, true}, {"department", LUA_TSTRING, false},
        {"label", LUA_TSTRING, false}, {NULL, 0, false},
    };
    struct plugin_registry *reg = registry_of(L);
    luaL_checktype(L, 1, LUA_TTABLE);
    if (!reg->loading_file)
        return luaL_error(L, "ctg.plugin: plugins are declared when their file loads");
    check_fields(L, 1, specs, "?", "ctg.plugin");
    const char *name = string_field(L, 1, "name");
    const char *department = string_field(L, 1, "department");
    if (!key_valid(name, ""))
        return luaL_error(L, "ctg.plugin: name '%s' must match ^[a-z0-9][a-z0-9-]*$", name);
    if (department && !model_department_valid(department))
        return luaL_error(L, "plugin '%s': department '%s' is not an INSEE department code", name,
                          department);
    for (size_t i = 0; i < reg->n_plugins; i++)
        if (strcmp(reg->plugins[i].name, name) == 0)
            return luaL_error(L, "plugin '%s': the name is taken by %s", name, reg->plugins[i].file);
    struct plugin_info *p = grow(L, (void **)&reg->plugins, &reg->n_plugins, sizeof *p);
    p->name = dup_or_die(L, name);
    p->label = dup_or_die(L, string_field(L, 1, "label"));
    p->file = dup_or_die(L, reg->loading_file);
    snprintf(p->department, sizeof p->department, "%s", department ? department : "");
    snprintf(p->sha256, sizeof p->sha256, "%s", reg->loading_hash);
    size_t *handle = lua_newuserdatauv(L, sizeof *handle, 0);
    *handle = reg->n_plugins - 1;
    luaL_setmetatable(L, PLUGIN_MT);
    return 1;
}

/* ---------- registrations ---------- */

/* The entry of the same kind and key declared by a plugin of the same scope, if any. */
static const struct plugin_entry *same_scope_entry(const struct plugin_registry *reg,
                                                   enum entry_kind kind, const char *key,
                                                   const char *department)
{
    for (size_t i = 0; i < reg->n_entries; i++) {
        const struct plugin_entry *e = &reg->entries[i];
        if (plugin_entry_is(e, kind, key) &&
            strcmp(reg->plugins[e->plugin].department, department) == 0)
            return e;
    }
    return NULL;
}

static int register_entry(lua_State *L, enum entry_kind kind, const struct field_spec specs[],
                          const char *detail_field, const char *fn_field)
{
    static const char *const kinds[] = {"champ", "indicator", "export", "report"};
    struct plugin_registry *reg = registry_of(L);
    size_t plugin = plugin_index(L);
    const char *name = reg->plugins[plugin].name;
    if (!reg->loading_file)
        return luaL_error(L, "plugin '%s': %s: declarations are made when the file loads", name,
                          kinds[kind]);
    check_fields(L, 2, specs, name, kinds[kind]);
    const char *key = string_field(L, 2, "key");
    if (!key_valid(key, kind >= ENTRY_EXPORT ? "._" : ""))
        return luaL_error(L, "plugin '%s': %s key '%s' must match ^[a-z0-9][a-z0-9-%s]*$", name,
                          kinds[kind], key, kind >= ENTRY_EXPORT ? "._" : "");
    const struct plugin_entry *twin = same_scope_entry(reg, kind, key, reg->plugins[plugin].department);
    if (twin)
        return luaL_error(L, "plugin '%s': %s '%s' is declared by plugin '%s' too", name,
                          kinds[kind], key, reg->plugins[twin->plugin].name);
    struct plugin_entry *e = grow(L, (void **)&reg->entries, &reg->n_entries, sizeof *e);
    e->kind = kind;
    e->plugin = plugin;
    e->fn = LUA_NOREF;
    e->key = dup_or_die(L, key);
    e->label = dup_or_die(L, string_field(L, 2, "label"));
    const char *detail = detail_field ? string_field(L, 2, detail_field) : NULL;
    if (!detail && kind >= ENTRY_EXPORT)
        detail = "text/plain; charset=utf-8"; /* the content type when the plugin names none */
    e->detail = dup_or_die(L, detail);
    e->description = dup_or_die(L, kind == ENTRY_INDICATOR ? string_field(L, 2, "description") : NULL);
    lua_pushliteral(L, "pure");
    e->pure = lua_rawget(L, 2) == LUA_TBOOLEAN && lua_toboolean(L, -1);
    lua_pop(L, 1);
    if (fn_field) {
        lua_pushstring(L, fn_field);
        lua_rawget(L, 2);
        e->fn = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    return 0;
}

static int plugin_champ(lua_State *L)
{
    static const struct field_spec specs[] = {
        {"key", LUA_TSTRING, true}, {"label", LUA_TSTRING, true}, {"group", LUA_TSTRING, false},
        {NULL, 0, false},
    };
    return register_entry(L, ENTRY_CHAMP, specs, "group", NULL);
}

static int plugin_indicator(lua_State *L)
{
    static const struct field_spec specs[] = {
        {"key", LUA_TSTRING, true},          {"label", LUA_TSTRING, true},
        {"unit", LUA_TSTRING, false},        {"description", LUA_TSTRING, false},
        {"compute", LUA_TFUNCTION, true},    {"pure", LUA_TBOOLEAN, false},
        {NULL, 0, false},
    };
    return register_entry(L, ENTRY_INDICATOR, specs, "unit", "compute");
}

static int plugin_export(lua_State *L)
{
    static const struct field_spec specs[] = {
        {"key", LUA_TSTRING, true},          {"label", LUA_TSTRING, true},
        {"content_type", LUA_TSTRING, false}, {"render", LUA_TFUNCTION, true},
        {"pure", LUA_TBOOLEAN, false},       {NULL, 0, false},
    };
    return register_entry(L, ENTRY_EXPORT, specs, "content_type", "render");
}

/* A report reads every convention of its department: there is no one revision to keep it for. */
static int plugin_report(lua_State *L)
{
    static const struct field_spec specs[] = {
        {"key", LUA_TSTRING, true},          {"label", LUA_TSTRING, true},
        {"content_type", LUA_TSTRING, false}, {"render", LUA_TFUNCTION, true},
        {NULL, 0, false},
    };
    return register_entry(L, ENTRY_REPORT, specs, "content_type", "render");
}

/* The plugin whose method is running, refused once the files are loaded. */
static struct plugin_info *registering_plugin(lua_State *L)
{
    struct plugin_registry *reg = registry_of(L);
    struct plugin_info *p = &reg->plugins[plugin_index(L)];
    luaL_checktype(L, 2, LUA_TFUNCTION);
    if (!reg->loading_file)
        luaL_error(L, "plugin '%s': handlers are registered when the file loads", p->name);
    return p;
}

static int plugin_validate(lua_State *L)
{
    struct plugin_info *p = registering_plugin(L);
    int *slot = grow(L, (void **)&p->validators, &p->n_validators, sizeof *p->validators);
    lua_pushvalue(L, 2);
    *slot = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

/* The change type named by the string at the top of the stack, or -1. */
static int change_type_at_top(lua_State *L)
{
    size_t len;
    const char *name = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;
    return name && strlen(name) == len ? change_type_of_event(name) : -1;
}

/*
 * The change types listed at `index` ({"convention.updated", …}) as bits; CHANGE_TYPES_ANY
 * when there is no list. The list must be plain and is read raw: a metamethod is plugin code,
 * which could register another plugin (and move the plugins' array) in the middle.
 */
static unsigned change_types_arg(lua_State *L, int index, const char *plugin)
{
    if (lua_isnoneornil(L, index))
        return CHANGE_TYPES_ANY;
    size_t n = lua_istable(L, index) ? lua_rawlen(L, index) : 0;
    if (n == 0 || lua_getmetatable(L, index))
        luaL_error(L, "plugin '%s': on_change: the change types must be a non-empty plain list "
                      "such as {\"convention.updated\"}", plugin);
    unsigned types = 0;
    for (size_t i = 1; i <= n; i++) {
        lua_rawgeti(L, index, (lua_Integer)i);
        int type = change_type_at_top(L);
        if (type < 0) {
            luaL_error(L, "plugin '%s': on_change: item %d of the change types is not one of "
                          "convention.created, convention.updated, convention.deleted",
                       plugin, (int)i);
            return 0;
        }
        types |= 1u << type;
        lua_pop(L, 1);
    }
    return types;
}

/* p:on_change(fn [, types]): fn takes the changes of the types listed, of all when none is. */
static int plugin_on_change(lua_State *L)
{
    struct plugin_info *p = registering_plugin(L);
    unsigned types = change_types_arg(L, 3, p->name);
    struct change_handler *slot = grow(L, (void **)&p->on_change, &p->n_on_change,
                                       sizeof *p->on_change);
    lua_pushvalue(L, 2);
    *slot = (struct change_handler){luaL_ref(L, LUA_REGISTRYINDEX), types};
    return 0;
}

/* ---------- helpers written in Lua ---------- */

/*
 * ctg.csv and ctg.html.escape are string work that Lua does well: they are loaded as a text
 * chunk in the sandbox and run under the caller's budget like any plugin code.
 */
static const char helpers_lua[] =
    "local null = ...\n"
    "local ipairs, pairs, tostring, mtype = ipairs, pairs, tostring, math.type\n"
    "local concat, find, gsub = table.concat, string.find, string.gsub\n"
    "local function field(v)\n"
    "  if v == nil or v == null then return '' end\n"
    "  local s = tostring(v)\n"
    "  if find(s, '[,\"\\r\\n]') then return '\"' .. gsub(s, '\"', '\"\"') .. '\"' end\n"
    "  return s\n"
    "end\n"
    "local function csv(rows)\n"
    "  local lines = {}\n"
    "  for i, row in ipairs(rows) do\n"
    "    local n = 0\n"
    "    for k in pairs(row) do\n"
    "      if mtype(k) == 'integer' and k > n then n = k end\n"
    "    end\n"
    "    local cells = {}\n"
    "    for j = 1, n do cells[j] = field(row[j]) end\n"
    "    lines[i] = concat(cells, ',')\n"
    "  end\n"
    "  return #lines > 0 and concat(lines, '\\r\\n') .. '\\r\\n' or ''\n"
    "end\n"
    "local entities = { ['&'] = '&amp;', ['<'] = '&lt;', ['>'] = '&gt;', ['\"'] = '&quot;',\n"
    "                   [\"'\"] = '&#39;' }\n"
    "local function escape(s)\n"
    "  return (gsub(tostring(s), '[&<>\"\\']', entities))\n"
    "end\n"
    "return csv, escape\n";

/* Pushes ctg.csv and ctg.html.escape. */
static void push_lua_helpers(lua_State *L, int json_module)
{
    if (luaL_loadbufferx(L, helpers_lua, sizeof helpers_lua - 1, "=ctg", "t") != LUA_OK)
        lua_error(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
    lua_setupvalue(L, -2, 1);
    lua_getfield(L, json_module, "null");
    lua_call(L, 1, 2);
}

/* ---------- log, publish, store ---------- */

static int ctg_log(lua_State *L)
{
    luaL_Buffer b;
    int n = lua_gettop(L);
    luaL_checkstack(L, n + LUA_MINSTACK, "ctg.log: too many arguments");
    for (int i = 1; i <= n; i++)
        luaL_tolstring(L, i, NULL); /* every piece first: the buffer wants a balanced stack */
    luaL_buffinit(L, &b);
    for (int i = 1; i <= n; i++) {
        lua_pushvalue(L, n + i);
        luaL_addvalue(&b);
        if (i < n)
            luaL_addchar(&b, ' ');
    }
    luaL_pushresult(&b);
    struct plugin_registry *reg = registry_of(L);
    log_info("plugin", "%s%s%s", reg->call_department ? reg->call_department : "",
             reg->call_department ? ": " : "", lua_tostring(L, -1));
    return 0;
}

/* ctg.publish(name, table): a plugin event, sent as ctg.<department>.plugin.<name>. */
static int ctg_publish(lua_State *L)
{
    struct plugin_registry *reg = registry_of(L);
    lua_runtime_note_outside_read(L); /* an effect that a kept result would not repeat */
    const char *name = luaL_checkstring(L, 1);
    char err[256];
    if (!key_valid(name, "_"))
        return luaL_error(L, "ctg.publish: name '%s' must match ^[a-z0-9][a-z0-9_-]*$", name);
    if (!reg->call_department || reg->validating)
        return luaL_error(L, "ctg.publish: only while handling a convention or a change (not "
                             "from validate: the write may still be refused)");
    json_t *value = lua_json_to(L, 2, err, sizeof err);
    if (!value)
        return luaL_error(L, "ctg.publish: %s", err);
    char *text = json_write(value, NULL);
    json_decref(value);
    if (!text)
        return luaL_error(L, "not enough memory");
    if (reg->publisher.publish)
        reg->publisher.publish(reg->publisher.arg, reg->call_department, name, text);
    free(text);
    return 0;
}

static int push_json_unprotected(lua_State *L)
{
    lua_json_push(L, lua_touserdata(L, 1));
    return 1;
}

static int push_texts_unprotected(lua_State *L)
{
    lua_json_push_texts(L, lua_touserdata(L, 1));
    return 1;
}

static void release_json(void *value)
{
    json_decref(value);
}

static void release_texts(void *texts)
{
    json_texts_clear(texts);
}

/*
 * Pushes what `push` makes of `owned` (its light userdata argument), then releases `owned`,
 * even when pushing runs out of memory.
 */
static void push_owned(lua_State *L, lua_CFunction push, void *owned, void (*release)(void *))
{
    lua_pushcfunction(L, push);
    lua_pushlightuserdata(L, owned);
    int rc = lua_pcall(L, 1, 1, 0);
    release(owned);
    if (rc != LUA_OK)
        lua_error(L);
}

/* The store, or an error when there is none (ctgd --check loads plugins without one). */
static struct store *require_store(lua_State *L, const char *what)
{
    lua_runtime_note_outside_read(L);
    struct plugin_registry *reg = registry_of(L);
    if (!reg->store)
        luaL_error(L, "%s: no store here (ctgd --check)", what);
    return reg->store;
}

static int ctg_store_get(lua_State *L)
{
    struct store *st = require_store(L, "ctg.store.get");
    const char *id = luaL_checkstring(L, 1);
    struct record_view view;
    if (store_read_begin(st) != STORE_OK)
        return luaL_error(L, "ctg.store.get: the store cannot be read now");
    enum store_status status = store_get_doc(st, id, &view);
    json_t *doc = status == STORE_OK ? json_parse_body(view.body, view.body_len, NULL) : NULL;
    store_read_end(st);
    if (status != STORE_OK && status != STORE_NOT_FOUND)
        return luaL_error(L, "ctg.store.get: the store cannot be read");
    if (!doc) {
        lua_pushnil(L);
        return 1;
    }
    push_owned(L, push_json_unprotected, doc, release_json);
    return 1;
}

/* ctg.store.list{department, status, champ, limit}: documents in id order. */
static int ctg_store_list(lua_State *L)
{
    static const struct field_spec specs[] = {
        {"department", LUA_TSTRING, false}, {"status", LUA_TSTRING, false},
        {"champ", LUA_TSTRING, false},      {"limit", LUA_TNUMBER, false},
        {NULL, 0, false},
    };
    struct store *st = require_store(L, "ctg.store.list");
    if (lua_isnone(L, 1))
        lua_newtable(L);
    check_fields(L, 1, specs, "?", "ctg.store.list");
    lua_pushliteral(L, "limit");
    lua_rawget(L, 1);
    lua_Integer limit = luaL_optinteger(L, -1, STORE_LIST_DEFAULT);
    lua_pop(L, 1);
    if (limit < 1 || limit > STORE_LIST_MAX)
        return luaL_error(L, "ctg.store.list: limit must be from 1 to %d", STORE_LIST_MAX);
    struct store_query q = {
        .department = string_field(L, 1, "department"), .status = string_field(L, 1, "status"),
        .champ = string_field(L, 1, "champ"), .limit = (size_t)limit,
    };
    struct json_texts docs = {0}; /* from here on, nothing raises before it is handed over */
    if (store_list_texts(st, &q, &docs) != STORE_OK) {
        json_texts_clear(&docs);
        return luaL_error(L, "ctg.store.list: the store cannot be read");
    }
    push_owned(L, push_texts_unprotected, &docs, release_texts);
    return 1;
}

/* ctg.champs(department): [{key, label, group, plugin}], the champs that department knows. */
static int ctg_champs(lua_State *L)
{
    struct plugin_registry *reg = registry_of(L);
    const char *department = luaL_checkstring(L, 1);
    lua_newtable(L);
    lua_Integer n = 0;
    for (size_t i = 0; i < reg->n_entries; i++) {
        const struct plugin_entry *e = &reg->entries[i];
        if (e->kind != ENTRY_CHAMP || !plugin_entry_visible(reg, e, department))
            continue;
        lua_createtable(L, 0, 4);
        lua_pushstring(L, e->key);
        lua_setfield(L, -2, "key");
        lua_pushstring(L, e->label);
        lua_setfield(L, -2, "label");
        lua_pushstring(L, e->detail); /* nil without a group */
        lua_setfield(L, -2, "group");
        lua_pushstring(L, reg->plugins[e->plugin].name);
        lua_setfield(L, -2, "plugin");
        lua_rawseti(L, -2, ++n);
    }
    return 1;
}

/* ---------- the ctg table ---------- */

/* Sets the functions of `fns` as closures over the registry in the table on top. */
static void set_functions(lua_State *L, struct plugin_registry *reg, const luaL_Reg fns[])
{
    for (const luaL_Reg *f = fns; f->name; f++) {
        lua_pushlightuserdata(L, reg);
        lua_pushcclosure(L, f->func, 1);
        lua_setfield(L, -2, f->name);
    }
}

static void make_plugin_metatable(lua_State *L, struct plugin_registry *reg)
{
    static const luaL_Reg methods[] = {
        {"champ", plugin_champ},   {"indicator", plugin_indicator},
        {"export", plugin_export}, {"report", plugin_report},
        {"validate", plugin_validate}, {"on_change", plugin_on_change},
        {NULL, NULL},
    };
    luaL_newmetatable(L, PLUGIN_MT);
    lua_newtable(L);
    set_functions(L, reg, methods);
    lua_runtime_make_read_only(L);
    lua_setfield(L, -2, "__index");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);
}

int lua_ctg_open(lua_State *L, struct plugin_registry *reg)
{
    static const luaL_Reg top[] = {
        {"plugin", ctg_plugin},   {"log", ctg_log}, {"publish", ctg_publish},
        {"champs", ctg_champs},   {NULL, NULL},
    };
    static const luaL_Reg store_fns[] = {
        {"get", ctg_store_get}, {"list", ctg_store_list}, {NULL, NULL},
    };
    make_plugin_metatable(L, reg);
    lua_json_init(L);
    lua_newtable(L);                       /* ctg */
    set_functions(L, reg, top);
    lua_json_push_module(L);
    int json_module = lua_gettop(L);
    push_lua_helpers(L, json_module);      /* csv, escape */
    lua_newtable(L);                       /* ctg.html */
    lua_insert(L, -2);
    lua_setfield(L, -2, "escape");
    lua_runtime_make_read_only(L);
    lua_setfield(L, -4, "html");
    lua_setfield(L, -3, "csv");
    lua_runtime_make_read_only(L);         /* ctg.json */
    lua_setfield(L, -2, "json");
    lua_newtable(L);                       /* ctg.store */
    set_functions(L, reg, store_fns);
    lua_runtime_make_read_only(L);
    lua_setfield(L, -2, "store");
    lua_runtime_make_read_only(L);
    lua_runtime_set_global(reg->rt, "ctg");
    return 0;
}
