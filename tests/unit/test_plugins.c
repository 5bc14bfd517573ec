/*
 * test_plugins.c — the Lua plugin runtime (core/plugins.c, core/lua_ctg.c, core/lua_runtime.c,
 * core/lua_json.c) through include/ctg/plugins.h, with the test plugins of tests/plugins/:
 *
 *   full/               every entry of the ctg API (a base plugin, one for 29, one for 30)
 *   hostile/ victim/    sandbox escapes that must be refused, and a plugin that checks it still
 *                       sees the real libraries
 *   hostile-backdoors/  changes to shared tables that go around the read-only proxies
 *   runaway/            instruction, time and memory budgets
 *   errors/             a failure in each kind of callback, late registrations
 *   broken/<case>/      files that must fail the load, each with the message it must give
 *   gc-finalizer/ pattern-bomb/   work that runs outside the instruction count (run in a child
 *                       process with a deadline, since today they hang)
 *
 * The repository is $CTG_SOURCE_DIR, else derived from __FILE__; temporary data (a store, a
 * plugin folder for the reload case) lives under $CTG_TEST_TMP (or /tmp) and is removed at the end.
 */
#include "ctg/auth.h"
#include "ctg/changes.h"
#include "ctg/log.h"
#include "ctg/lua_runtime.h"
#include "ctg/plugins.h"
#include "ctg/store.h"
#include "ctg/wal.h"

#include <lauxlib.h>
#include <lualib.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "tmpdir.h"

#define MiB ((size_t)1024 * 1024)

static char src_root[PATH_MAX];
static char tmp_root[PATH_MAX];

/* ---------- paths and temporary folders ---------- */

static void paths_setup(void)
{
    const char *env = getenv("CTG_SOURCE_DIR");
    char guess[1024];
    if (env && *env) {
        snprintf(guess, sizeof guess, "%s", env);
    } else {
        const char *file = __FILE__, *suffix = "tests/unit/test_plugins.c";
        size_t n = strlen(file), m = strlen(suffix);
        if (n < m || strcmp(file + n - m, suffix) != 0) {
            fprintf(stderr, "cannot find the repository from %s: set CTG_SOURCE_DIR\n", file);
            exit(2);
        }
        snprintf(guess, sizeof guess, "%.*s", (int)(n - m), file);
        if (!guess[0])
            snprintf(guess, sizeof guess, ".");
    }
    /* plugin files are named by their absolute path: make a relative root absolute */
    char cwd[1024] = "";
    if (guess[0] != '/' && !getcwd(cwd, sizeof cwd)) {
        perror("getcwd");
        exit(2);
    }
    if (guess[0] == '/')
        snprintf(src_root, sizeof src_root, "%s", guess);
    else if (strcmp(guess, ".") == 0)
        snprintf(src_root, sizeof src_root, "%s", cwd);
    else
        snprintf(src_root, sizeof src_root, "%s/%s", cwd, guess);
    size_t len = strlen(src_root);
    while (len > 1 && src_root[len - 1] == '/')
        src_root[--len] = '\0';
    struct stat sb;
    char probe[PATH_MAX + 64];
    snprintf(probe, sizeof probe, "%s/tests/plugins/full", src_root);
    if (stat(probe, &sb) != 0) {
        fprintf(stderr, "no %s: set CTG_SOURCE_DIR to the repository\n", probe);
        exit(2);
    }
    tmpdir_make(tmp_root, sizeof tmp_root, "test_plugins");
}

/* tests/plugins/<rel> as an absolute path (one of a few rotating buffers). */
static const char *plugin_dir(const char *rel)
{
    static char bufs[8][PATH_MAX + 64];
    static size_t next;
    char *b = bufs[next++ % 8];
    snprintf(b, sizeof bufs[0], "%s/tests/plugins/%s", src_root, rel);
    return b;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f)
        return;
    fputs(text, f);
    fclose(f);
}

static char *read_whole(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    size_t got = buf ? fread(buf, 1, (size_t)n, f) : 0;
    fclose(f);
    if (!buf)
        return NULL;
    buf[got] = '\0';
    if (len)
        *len = got;
    return buf;
}

static bool contains(const char *haystack, const char *needle)
{
    return haystack && needle && strstr(haystack, needle) != NULL;
}

/* CHECK that `text` contains `needle`, saying what it was otherwise. */
#define CHECK_HAS(text, needle)                                                               \
    do {                                                                                      \
        const char *has_t_ = (text), *has_n_ = (needle);                                      \
        if (contains(has_t_, has_n_)) {                                                       \
            check_passed++;                                                                   \
        } else {                                                                              \
            check_failed++;                                                                   \
            fprintf(stderr, "%s:%d: CHECK_HAS failed: %s does not contain \"%s\"; it is \"%s\"\n", \
                    __FILE__, __LINE__, #text, has_n_, has_t_ ? has_t_ : "(null)");          \
        }                                                                                     \
    } while (0)

/* ---------- JSON helpers ---------- */

static json_t *J(const char *text)
{
    json_error_t error;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &error);
    if (!v) {
        fprintf(stderr, "test JSON does not parse: %s (line %d): %s\n", error.text, error.line, text);
        exit(2);
    }
    return v;
}

/* Expected values, freed at the end (so that they can be written inline in a CHECK). */
static json_t *pool[1024];
static size_t n_pool;

static json_t *W(const char *text)
{
    json_t *v = J(text);
    if (n_pool < sizeof pool / sizeof pool[0])
        pool[n_pool++] = v;
    return v;
}

static void pool_free(void)
{
    for (size_t i = 0; i < n_pool; i++)
        json_decref(pool[i]);
    n_pool = 0;
}

static void print_json(const char *what, const json_t *v)
{
    char *s = v ? json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    fprintf(stderr, "    %s: %s\n", what, s ? s : "(null)");
    free(s);
}

/* CHECK json_equal(got, want), printing both otherwise. */
#define CHECK_JSON(got, want)                                                                 \
    do {                                                                                      \
        const json_t *cj_g_ = (got), *cj_w_ = (want);                                         \
        if (cj_g_ && cj_w_ && json_equal(cj_g_, cj_w_)) {                                     \
            check_passed++;                                                                   \
        } else {                                                                              \
            check_failed++;                                                                   \
            fprintf(stderr, "%s:%d: CHECK_JSON failed: %s\n", __FILE__, __LINE__, #got);      \
            print_json("got ", cj_g_);                                                        \
            print_json("want", cj_w_);                                                        \
        }                                                                                     \
    } while (0)

static const char *str_at(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

/* The array of `key` values of a list of objects, as one comma-separated string. */
static char *keys_of(const json_t *list, const char *key)
{
    static char buf[4096];
    size_t used = 0, i;
    json_t *item;
    buf[0] = '\0';
    json_array_foreach(list, i, item) {
        const char *k = str_at(item, key);
        used += (size_t)snprintf(buf + used, sizeof buf - used, "%s%s", used ? "," : "", k ? k : "?");
        if (used >= sizeof buf)
            break;
    }
    return buf;
}

static json_t *find_by(const json_t *list, const char *key, const char *value)
{
    size_t i;
    json_t *item;
    json_array_foreach(list, i, item)
        if (str_at(item, key) && strcmp(str_at(item, key), value) == 0)
            return item;
    return NULL;
}

/* ---------- plugins ---------- */

struct published {
    char department[8], name[64];
    json_t *value;
};

#define PUBLISHED_MAX 64
static struct published published[PUBLISHED_MAX];
static size_t n_published;

static void record_publish(void *arg, const char *department, const char *name, const char *json)
{
    (void)arg;
    if (n_published == PUBLISHED_MAX)
        return;
    struct published *p = &published[n_published++];
    snprintf(p->department, sizeof p->department, "%s", department);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->value = json_loads(json, JSON_DECODE_ANY, NULL);
    CHECK(p->value != NULL); /* ctg.publish hands out valid JSON */
}

static void published_clear(void)
{
    for (size_t i = 0; i < n_published; i++)
        json_decref(published[i].value);
    n_published = 0;
}

static const struct lua_limits default_limits = {100000000, 5, 512 * MiB};

/* Loads the folders (tests/plugins/<rel>, NULL-terminated), with the given limits and store. */
static struct plugins *load_with(const char *const rels[], struct lua_limits limits,
                                 struct store *st, uint64_t generation, char *err, size_t errlen)
{
    char *dirs[8] = {NULL};
    char paths[8][PATH_MAX + 64];
    for (size_t i = 0; rels[i] && i < 7; i++) {
        if (rels[i][0] == '/')
            snprintf(paths[i], sizeof paths[i], "%s", rels[i]);
        else
            snprintf(paths[i], sizeof paths[i], "%s", plugin_dir(rels[i]));
        dirs[i] = paths[i];
    }
    struct plugins_options opt = {
        .dirs = dirs, .limits = limits, .store = st,
        .publisher = {record_publish, NULL}, .generation = generation,
    };
    err[0] = '\0';
    return plugins_load(&opt, err, errlen);
}

static struct plugins *load_ok(const char *const rels[], struct lua_limits limits, struct store *st)
{
    char err[1024];
    struct plugins *p = load_with(rels, limits, st, 1, err, sizeof err);
    if (!p)
        fprintf(stderr, "plugins_load(%s...) failed: %s\n", rels[0], err);
    CHECK(p != NULL);
    return p;
}

/* The rendered export, NUL-terminated (malloc'd), or NULL with the reason in err. */
static char *export_text(struct plugins *p, const json_t *doc, const char *key,
                         const char **content_type, char *err, size_t errlen)
{
    struct rendered out;
    err[0] = '\0';
    enum plugin_result r = plugins_render_export(p, doc, key, &out, err, errlen);
    if (r == PLUGIN_UNKNOWN)
        snprintf(err, errlen, "(unknown export %s)", key);
    if (r != PLUGIN_OK)
        return NULL;
    if (content_type)
        *content_type = out.content_type;
    CHECK(out.body[out.len] == '\0'); /* what callers print and compare as a C string */
    return out.body;
}

/* An export that must render; its body (malloc'd) or NULL after a failed CHECK. */
static char *export_ok(struct plugins *p, const json_t *doc, const char *key)
{
    char err[1024];
    char *body = export_text(p, doc, key, NULL, err, sizeof err);
    if (!body)
        fprintf(stderr, "    export %s failed: %s\n", key, err);
    CHECK(body != NULL);
    return body;
}

/* An export whose body is JSON: the parsed value (NULL after a failed CHECK). */
static json_t *export_json(struct plugins *p, const json_t *doc, const char *key)
{
    char *body = export_ok(p, doc, key);
    json_t *v = body ? json_loads(body, JSON_DECODE_ANY, NULL) : NULL;
    if (body && !v)
        fprintf(stderr, "    export %s is not JSON: %s\n", key, body);
    CHECK(v != NULL);
    free(body);
    return v;
}

/* The documents of the JSON array `docs` as the stored texts a report is given. */
static struct json_texts texts_of(const json_t *docs)
{
    struct json_texts texts = {0};
    size_t i;
    json_t *doc;
    json_array_foreach(docs, i, doc) {
        char *text = json_dumps(doc, JSON_COMPACT);
        CHECK(text && json_texts_add(&texts, text, strlen(text)) == 0);
        free(text);
    }
    return texts;
}

/*
 * Runs the on_change handlers on `ev` as the server does: its JSON text spliced from its meta
 * and its document (change_event_append_json, which says where the document is), its department.
 */
static void on_change(struct plugins *p, const json_t *ev)
{
    json_t *meta = json_deep_copy(ev);
    json_object_del(meta, "doc");
    const json_t *doc = json_object_get(ev, "doc");
    char *meta_text = json_dumps(meta, JSON_COMPACT);
    char *doc_text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    struct record_view entry = {.meta = meta_text, .meta_len = strlen(meta_text),
                                .body = doc_text, .body_len = doc_text ? strlen(doc_text) : 0};
    struct evbuffer *out = evbuffer_new();
    struct plugin_event event = {
        .doc_at = change_event_append_json(&entry, out), .doc_len = entry.body_len,
        .type = change_type_of_event(json_string_value(json_object_get(ev, "type")))};
    event.len = evbuffer_get_length(out);
    event.text = (const char *)evbuffer_pullup(out, -1);
    plugins_on_change(p, json_string_value(json_object_get(ev, "department")), &event);
    evbuffer_free(out);
    free(meta_text);
    free(doc_text);
    json_decref(meta);
}

static char *report_text(struct plugins *p, const char *department, const char *key,
                         const json_t *docs, const char **content_type, char *err, size_t errlen)
{
    struct rendered out;
    err[0] = '\0';
    struct json_texts texts = texts_of(docs);
    enum plugin_result r = plugins_render_report(p, department, key, &texts, &out, err, errlen);
    json_texts_clear(&texts);
    if (r == PLUGIN_UNKNOWN)
        snprintf(err, errlen, "(unknown report %s)", key);
    if (r != PLUGIN_OK)
        return NULL;
    if (content_type)
        *content_type = out.content_type;
    return out.body;
}

/* plugins_describe()'s entry of plugin `name` (a new reference), or NULL. */
static json_t *described(const struct plugins *p, const char *name)
{
    json_t *all = plugins_describe(p);
    json_t *one = json_incref(find_by(all, "name", name));
    json_decref(all);
    return one;
}

static long long errors_of(const struct plugins *p, const char *name)
{
    json_t *d = described(p, name);
    long long n = d ? (long long)json_integer_value(json_object_get(d, "errors")) : -1;
    json_decref(d);
    return n;
}

/* last_error of plugin `name` (a static copy), or NULL. */
static const char *last_error_of(const struct plugins *p, const char *name)
{
    static char buf[2048];
    json_t *d = described(p, name);
    const char *e = str_at(d, "last_error");
    if (e)
        snprintf(buf, sizeof buf, "%s", e);
    json_decref(d);
    return e ? buf : NULL;
}

static json_t *indicator_value(const json_t *indicators, const char *key)
{
    return json_object_get(find_by(indicators, "key", key), "value");
}

/* ---------- the store ---------- */

struct save_arg {
    const struct store_change *change;
};

static int save_fn(struct store_txn *txn, void *arg)
{
    struct save_arg *a = arg;
    return store_txn_save(txn, a->change) == STORE_OK ? 0 : 1;
}

static void store_put(struct store *st, const json_t *doc)
{
    struct store_change change = {
        .id = str_at(doc, "id"), .type = CHANGE_CREATED, .new_doc = doc,
        .rev = (uint64_t)json_integer_value(json_object_get(doc, "rev")), .actor = "test",
        .at = "2024-03-01T09:00:00.000Z",
    };
    struct save_arg a = {&change};
    CHECK_INT(store_write(st, save_fn, &a), STORE_OK);
}

static struct store *open_store_with_docs(void)
{
    char dir[PATH_MAX + 32], err[512];
    snprintf(dir, sizeof dir, "%s/store", tmp_root);
    struct store_options opt = {dir, 16 * MiB, 64 * MiB, WAL_SIZE_MIN};
    struct store *st = store_open(&opt, err, sizeof err);
    if (!st) {
        fprintf(stderr, "store_open: %s\n", err);
        exit(2);
    }
    const char *docs[] = {
        "{\"id\": \"conv-29-a\", \"department\": \"29\", \"title\": \"Pays Bigouden Sud\","
        " \"status\": \"action_plan\", \"period\": {\"start\": \"2020-01-01\", \"end\": \"2023-12-31\"},"
        " \"champs\": [\"gamma\"], \"rev\": 3, \"created_at\": \"2024-03-01T09:00:00.000Z\","
        " \"updated_at\": \"2024-03-01T09:00:00.000Z\", \"created_by\": \"test\", \"updated_by\": \"test\"}",
        "{\"id\": \"conv-29-b\", \"department\": \"29\", \"title\": \"Haut Pays Bigouden\","
        " \"status\": \"closed\", \"period\": {\"start\": \"2016-01-01\", \"end\": \"2019-12-31\"},"
        " \"champs\": [\"alpha\"], \"rev\": 1, \"created_at\": \"2024-03-01T09:00:00.000Z\","
        " \"updated_at\": \"2024-03-01T09:00:00.000Z\", \"created_by\": \"test\", \"updated_by\": \"test\"}",
        "{\"id\": \"conv-30-a\", \"department\": \"30\", \"title\": \"Pays Viganais\","
        " \"status\": \"diagnostic\", \"period\": {\"start\": \"2020-01-01\", \"end\": \"2023-12-31\"},"
        " \"champs\": [\"delta\"], \"rev\": 1, \"created_at\": \"2024-03-01T09:00:00.000Z\","
        " \"updated_at\": \"2024-03-01T09:00:00.000Z\", \"created_by\": \"test\", \"updated_by\": \"test\"}",
    };
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        json_t *d = J(docs[i]);
        store_put(st, d);
        json_decref(d);
    }
    return st;
}

/* ---------- documents ---------- */

/* A convention of department 29 whose champs are those of tests/plugins/full. */
static json_t *doc_full(const char *department, const char *title)
{
    json_t *d = J("{\"id\": \"conv-29-a\", \"status\": \"action_plan\","
                  " \"period\": {\"start\": \"2020-01-01\", \"end\": \"2023-12-31\"},"
                  " \"champs\": [\"alpha\", \"beta\"],"
                  " \"actions\": ["
                  "   {\"id\": \"a1\", \"title\": \"Un\", \"champ\": \"alpha\", \"budget\": 1000, \"status\": \"done\"},"
                  "   {\"id\": \"a2\", \"title\": \"Deux\", \"champ\": \"beta\", \"budget\": 2500.5},"
                  "   {\"id\": \"a3\", \"title\": \"Trois\"}],"
                  " \"governance\": {\"thematic_committees\": [{\"name\": \"C\", \"champs\": [\"alpha\"]}]}}");
    json_object_set_new(d, "department", json_string(department));
    json_object_set_new(d, "title", json_string(title));
    return d;
}

/* ---------- tests: the full plugin ---------- */

static void test_full_loads_and_describes(struct store *st)
{
    const char *rels[] = {"full", NULL};
    char err[1024];
    struct plugins *p = load_with(rels, default_limits, st, 7, err, sizeof err);
    if (!p)
        fprintf(stderr, "full: %s\n", err);
    CHECK(p != NULL); /* .skipped.lua (which raises) and README.txt are not loaded */
    if (!p)
        return;
    CHECK_INT(plugins_generation(p), 7);
    CHECK_INT(plugins_error_count(p), 0);
    json_t *all = plugins_describe(p);
    CHECK_STR(keys_of(all, "name"), "t-base,t-29,t-30"); /* file-name order */
    const char *files[] = {"00-base.lua", "29-full.lua", "30-other.lua"};
    const char *departments[] = {NULL, "29", "30"};
    for (size_t i = 0; i < 3 && i < json_array_size(all); i++) {
        json_t *d = json_array_get(all, i);
        char path[PATH_MAX + 128];
        snprintf(path, sizeof path, "%s/%s", plugin_dir("full"), files[i]);
        CHECK_STR(str_at(d, "file"), path);
        if (departments[i])
            CHECK_STR(str_at(d, "department"), departments[i]);
        else
            CHECK(json_is_null(json_object_get(d, "department")));
        /* sha256 of the file's bytes, in lower-case hex */
        size_t len;
        char *text = read_whole(path, &len);
        uint8_t digest[32];
        char hex[65];
        auth_sha256(text, len, digest);
        for (size_t k = 0; k < 32; k++)
            snprintf(hex + 2 * k, 3, "%02x", digest[k]);
        CHECK_STR(str_at(d, "sha256"), hex);
        free(text);
        CHECK_INT(json_integer_value(json_object_get(d, "generation")), 7);
        CHECK(json_is_integer(json_object_get(d, "errors")));
        CHECK_INT(json_integer_value(json_object_get(d, "errors")), 0);
        CHECK(json_is_null(json_object_get(d, "last_error")));
    }
    CHECK_STR(str_at(json_array_get(all, 1), "label"), "Caf de test du Finistère");
    json_decref(all);
    plugins_free(p);
}

static void test_departments_merge(void)
{
    const char *rels[] = {"full", NULL};
    struct plugins *p = load_ok(rels, default_limits, NULL);
    if (!p)
        return;
    json_t *deps = plugins_departments(p);
    CHECK_JSON(deps, W("[{\"code\": \"29\", \"label\": \"Caf de test du Finistère\", \"plugins\": [\"t-base\", \"t-29\"]},"
                       " {\"code\": \"30\", \"label\": \"Caf de test du Gard\", \"plugins\": [\"t-base\", \"t-30\"]}]"));
    json_decref(deps);

    json_t *d29 = plugins_department(p, "29");
    CHECK_STR(str_at(d29, "code"), "29");
    CHECK_STR(str_at(d29, "label"), "Caf de test du Finistère");
    /* the department's beta overrides the base one: its label, group and plugin */
    CHECK_JSON(json_object_get(d29, "champs"),
               W("[{\"key\": \"alpha\", \"label\": \"Alpha\", \"group\": \"Groupe base\", \"plugin\": \"t-base\"},"
                 " {\"key\": \"beta\", \"label\": \"Beta 29\", \"group\": \"Groupe 29\", \"plugin\": \"t-29\"},"
                 " {\"key\": \"gamma\", \"label\": \"Gamma\", \"plugin\": \"t-29\"}]"));
    CHECK_STR(keys_of(json_object_get(d29, "indicators"), "key"),
              "count-actions,budget-total,const-int,const-float,nil-value,title-chars");
    json_t *count = find_by(json_object_get(d29, "indicators"), "key", "count-actions");
    CHECK_JSON(count, W("{\"key\": \"count-actions\", \"label\": \"Fiches actions\", \"unit\": \"fiches\","
                        " \"description\": \"Nombre de fiches actions (nil sans fiche).\", \"plugin\": \"t-base\"}"));
    CHECK_STR(keys_of(json_object_get(d29, "exports"), "key"),
              "echo.json,summary.txt,cells.csv,escape.html,json-api.json,store.json,champs.json,publish,log,load");
    CHECK_STR(str_at(find_by(json_object_get(d29, "exports"), "key", "summary.txt"), "plugin"), "t-29");
    CHECK_STR(keys_of(json_object_get(d29, "reports"), "key"), "count.json,ids.csv");
    CHECK_JSON(json_object_get(d29, "plugins"), W("[\"t-base\", \"t-29\"]"));
    json_decref(d29);

    json_t *d30 = plugins_department(p, "30");
    CHECK_JSON(json_object_get(d30, "champs"),
               W("[{\"key\": \"alpha\", \"label\": \"Alpha\", \"group\": \"Groupe base\", \"plugin\": \"t-base\"},"
                 " {\"key\": \"beta\", \"label\": \"Beta base\", \"plugin\": \"t-base\"},"
                 " {\"key\": \"delta\", \"label\": \"Delta\", \"plugin\": \"t-30\"}]"));
    CHECK_STR(keys_of(json_object_get(d30, "indicators"), "key"), "count-actions,budget-total");
    CHECK_STR(keys_of(json_object_get(d30, "exports"), "key"), "summary.txt");
    json_decref(d30);

    /* a department without a plugin of its own: the base plugins only, no label */
    json_t *d01 = plugins_department(p, "01");
    CHECK(json_is_null(json_object_get(d01, "label")));
    CHECK_JSON(json_object_get(d01, "plugins"), W("[\"t-base\"]"));
    CHECK_STR(keys_of(json_object_get(d01, "champs"), "key"), "alpha,beta");
    json_decref(d01);

    /* an export registered without content_type is sent as text/plain; charset=utf-8
     * (plugins/README.md §3): the list of exports should say so too */
    json_t *ex30 = plugins_exports(p, "30");
    json_t *summary = find_by(ex30, "key", "summary.txt");
    CHECK_STR(str_at(summary, "plugin"), "t-base");
    CHECK_STR(str_at(summary, "content_type"), "text/plain; charset=utf-8");
    json_decref(ex30);
    json_t *ex29 = plugins_exports(p, "29");
    CHECK_STR(str_at(find_by(ex29, "key", "cells.csv"), "content_type"), "text/csv; charset=utf-8");
    json_decref(ex29);
    plugins_free(p);
}

static void test_indicators(void)
{
    const char *rels[] = {"full", NULL};
    struct plugins *p = load_ok(rels, default_limits, NULL);
    if (!p)
        return;
    char err[1024];
    json_t *doc = doc_full("29", "Finistère €");
    json_t *ind = plugins_indicators(p, doc, NULL, err, sizeof err);
    CHECK(ind != NULL);
    CHECK_STR(keys_of(ind, "key"), "count-actions,budget-total,const-int,const-float,nil-value,title-chars");
    CHECK(json_is_integer(indicator_value(ind, "count-actions")));
    CHECK_INT(json_integer_value(indicator_value(ind, "count-actions")), 3);
    CHECK(json_is_real(indicator_value(ind, "budget-total")));  /* 1000 + 2500.5 */
    CHECK(json_real_value(indicator_value(ind, "budget-total")) == 3500.5);
    CHECK(json_is_integer(indicator_value(ind, "const-int")));
    CHECK_INT(json_integer_value(indicator_value(ind, "const-int")), 42);
    CHECK(json_is_real(indicator_value(ind, "const-float")));
    CHECK(json_real_value(indicator_value(ind, "const-float")) == 2.5);
    CHECK(json_is_null(indicator_value(ind, "nil-value")));
    CHECK_INT(json_integer_value(indicator_value(ind, "title-chars")), 11); /* characters, not bytes */
    json_t *c = find_by(ind, "key", "const-float");
    CHECK_STR(str_at(c, "plugin"), "t-29");
    CHECK_STR(str_at(c, "unit"), "%");
    CHECK_STR(str_at(c, "label"), "Réel");
    json_decref(ind);
    json_decref(doc);

    /* no fiche action: nil -> null; another department sees the base indicators only */
    doc = J("{\"id\": \"x-30\", \"department\": \"30\", \"title\": \"Sans fiche\"}");
    ind = plugins_indicators(p, doc, NULL, err, sizeof err);
    CHECK_JSON(ind, W("[{\"key\": \"count-actions\", \"label\": \"Fiches actions\", \"unit\": \"fiches\","
                      "  \"description\": \"Nombre de fiches actions (nil sans fiche).\", \"plugin\": \"t-base\", \"value\": null},"
                      " {\"key\": \"budget-total\", \"label\": \"Budget\", \"unit\": \"€\", \"plugin\": \"t-base\", \"value\": null}]"));
    json_decref(ind);
    json_decref(doc);
    CHECK_INT(plugins_error_count(p), 0);

    /* loaded without a store (ctgd --check): ctg.store raises a clear error */
    doc = doc_full("29", "Sans store");
    char *body = export_text(p, doc, "store.json", NULL, err, sizeof err);
    CHECK(body == NULL);
    free(body);
    CHECK_HAS(err, "plugin 't-29' (");
    CHECK_HAS(err, "ctg.store.get: no store here");
    json_decref(doc);
    plugins_free(p);
}

/*
 * Whether an answer may be kept for the document's revision: its entries are declared `pure`,
 * and it read nothing but the document (lua_runtime_outside_reads), for each thing that
 * tests/plugins/counting reads on demand.
 */
static void test_pure_answers(struct store *st)
{
    const char *rels[] = {"counting", NULL};
    struct plugins *p = load_ok(rels, default_limits, st);
    if (!p)
        return;
    static const char *const reads[] = {"", "time", "date", "clock", "random", "store", "publish"};
    char err[1024];
    for (size_t i = 0; i < sizeof reads / sizeof reads[0]; i++) {
        json_t *doc = json_pack("{s:s, s:s, s:s, s:{s:s}}", "id", "conv-29-a", "department",
                                "29", "title", "T", "extra", "reads", reads[i]);
        bool pure = reads[i][0] != '\0'; /* the opposite of what each must find */
        json_t *ind = plugins_indicators(p, doc, &pure, err, sizeof err);
        CHECK(ind != NULL);
        if (pure != !reads[i][0])
            fprintf(stderr, "indicators reading '%s': pure %d\n", reads[i], pure);
        CHECK(pure == !reads[i][0]);
        json_decref(ind);
        struct rendered out = {.pure = reads[i][0] != '\0'};
        CHECK(plugins_render_export(p, doc, "calls.txt", &out, err, sizeof err) == PLUGIN_OK);
        CHECK(out.pure == !reads[i][0]);
        free(out.body);
        json_decref(doc);
    }
    /* in department 30, an indicator and an export not declared pure: never pure */
    json_t *doc = json_pack("{s:s, s:s, s:s}", "id", "conv-30-a", "department", "30", "title", "T");
    bool pure = true;
    json_t *ind = plugins_indicators(p, doc, &pure, err, sizeof err);
    CHECK(ind != NULL && json_array_size(ind) == 2 && !pure);
    json_decref(ind);
    struct rendered out = {.pure = false};
    CHECK(plugins_render_export(p, doc, "calls.txt", &out, err, sizeof err) == PLUGIN_OK);
    CHECK(out.pure);
    free(out.body);
    out.pure = true;
    CHECK(plugins_render_export(p, doc, "undeclared.txt", &out, err, sizeof err) == PLUGIN_OK);
    CHECK(!out.pure);
    free(out.body);
    json_decref(doc);
    CHECK_INT(plugins_error_count(p), 0);
    published_clear();
    plugins_free(p);
}

static void test_json_round_trip(void)
{
    const char *rels[] = {"full", NULL};
    struct plugins *p = load_ok(rels, default_limits, NULL);
    if (!p)
        return;
    const char *text =
        "{\"id\": \"rt-29\", \"department\": \"29\", \"title\": \"Finistère — 10 € «ok» 日本\","
        " \"signed_on\": null, \"status\": \"monitoring\","
        " \"period\": {\"start\": \"2020-01-01\", \"end\": \"2023-12-31\"},"
        " \"champs\": [], \"objectives\": [],"
        " \"actions\": [{\"id\": \"a\", \"progress\": 50, \"budget\": 1000, \"figures\": {}},"
        "               {\"id\": \"b\", \"progress\": 50.5, \"budget\": 1000.0, \"number\": \"2.b\","
        "                \"figures\": {\"x\": -0.25, \"big\": 9007199254740993, \"neg\": -42, \"zero\": 0.0}}],"
        " \"governance\": {\"steering_committee\": [], \"thematic_committees\": []},"
        " \"extra\": {\"empty_object\": {}, \"empty_list\": [], \"nested\": {\"n\": null, \"l\": [null, true, false]},"
        "            \"quote\": \"say \\\"hi\\\"\\n\\ttab \\\\ \\u0001\", \"tilde~slash/\": \"k\"},"
        " \"rev\": 4, \"created_at\": \"2024-03-01T09:00:00.000Z\"}";
    json_t *doc = J(text);
    json_t *back = export_json(p, doc, "echo.json");
    CHECK_JSON(back, doc); /* json_equal tells 1000 from 1000.0 and [] from {} */
    json_decref(back);
    json_decref(doc);
    plugins_free(p);
}

static void test_exports(struct store *st)
{
    const char *rels[] = {"full", NULL};
    struct plugins *p = load_ok(rels, default_limits, st);
    if (!p)
        return;
    char err[1024];
    const char *ctype = NULL;
    json_t *doc = doc_full("29", "Pays Bigouden Sud");

    /* the department's export overrides the base one; the base one keeps its default type */
    char *body = export_text(p, doc, "summary.txt", &ctype, err, sizeof err);
    CHECK_STR(body, "29 summary of conv-29-a");
    CHECK_STR(ctype, "text/plain; charset=utf-8");
    free(body);
    json_t *doc30 = J("{\"id\": \"conv-30-a\", \"department\": \"30\", \"title\": \"Gard\"}");
    body = export_text(p, doc30, "summary.txt", &ctype, err, sizeof err);
    CHECK_STR(body, "base summary of conv-30-a");
    CHECK_STR(ctype, "text/plain; charset=utf-8");
    free(body);
    /* an export of 29 does not exist for 30 */
    struct rendered out;
    CHECK_INT(plugins_render_export(p, doc30, "cells.csv", &out, err, sizeof err), PLUGIN_UNKNOWN);
    CHECK_INT(plugins_render_export(p, doc, "no-such-export", &out, err, sizeof err), PLUGIN_UNKNOWN);

    /* ctg.csv: RFC 4180 quoting of comma, quote, CR, LF; CRLF line ends; nil/null empty */
    body = export_text(p, doc, "cells.csv", &ctype, err, sizeof err);
    CHECK_STR(body, "plain,\"a,b\",\"say \"\"hi\"\"\",\"line1\nline2\",\"cr\rhere\",\"crlf\r\nhere\"\r\n"
                    "12,2.5,,,é€\r\n"
                    "first,,third\r\n"
                    "\r\n");
    CHECK_STR(ctype, "text/csv; charset=utf-8");
    free(body);

    /* ctg.html.escape */
    body = export_ok(p, doc, "escape.html");
    CHECK_STR(body, "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;");
    free(body);

    /* ctg.json */
    json_t *api = export_json(p, doc, "json-api.json");
    CHECK_JSON(json_object_get(api, "empty_array"), W("[]"));
    CHECK_JSON(json_object_get(api, "empty_object"), W("{}"));
    CHECK_JSON(json_object_get(api, "plain_empty"), W("{}"));
    CHECK(json_is_null(json_object_get(api, "null")));
    CHECK_JSON(json_object_get(api, "decoded"),
               W("{\"list\": [1, 2.0, null, \"é\"], \"empty_list\": [], \"empty_object\": {}}"));
    CHECK(json_is_true(json_object_get(api, "null_is_sentinel")));
    CHECK(json_is_true(json_object_get(api, "array_mt")));
    CHECK(json_is_true(json_object_get(api, "object_mt")));
    CHECK_STR(str_at(api, "int_kind"), "integer");
    CHECK_STR(str_at(api, "float_kind"), "float");
    CHECK_INT(json_integer_value(json_object_get(api, "list_len")), 4);
    CHECK_HAS(str_at(api, "mixed"), "mixed keys");
    CHECK_HAS(str_at(api, "bad"), "json.decode");
    CHECK_HAS(str_at(api, "fn"), "/f: a function cannot be written as JSON");
    CHECK_JSON(json_object_get(api, "array_of_plain"), W("[\"x\", \"y\"]"));
    CHECK_JSON(json_object_get(api, "nested"), W("{\"inner\": [{}]}"));
    json_decref(api);

    /* ctg.store.get / ctg.store.list: read-only access to the store */
    json_t *stj = export_json(p, doc, "store.json");
    CHECK_JSON(stj, W("{\"title\": \"Pays Bigouden Sud\", \"rev\": 3, \"missing\": true,"
                      " \"ids\": [\"conv-29-a\", \"conv-29-b\"], \"one\": 1, \"closed\": 1, \"gamma\": 1,"
                      " \"bad_limit\": \"ctg.store.list: limit must be from 1 to 10000\","
                      " \"bad_field\": \"plugin '?': ctg.store.list: unknown field 'departement'\"}"));
    json_decref(stj);

    /* ctg.champs(department): with the department's labels */
    json_t *champs = export_json(p, doc, "champs.json");
    CHECK_JSON(champs, W("[{\"key\": \"alpha\", \"label\": \"Alpha\", \"group\": \"Groupe base\", \"plugin\": \"t-base\"},"
                         " {\"key\": \"beta\", \"label\": \"Beta 29\", \"group\": \"Groupe 29\", \"plugin\": \"t-29\"},"
                         " {\"key\": \"gamma\", \"label\": \"Gamma\", \"plugin\": \"t-29\"}]"));
    json_decref(champs);

    /* ctg.publish: sent through the publisher with the department being handled */
    published_clear();
    body = export_ok(p, doc, "publish");
    CHECK_HAS(body, "ctg.publish: name 'Bad Name' must match");
    free(body);
    CHECK_INT(n_published, 1);
    if (n_published == 1) {
        CHECK_STR(published[0].department, "29");
        CHECK_STR(published[0].name, "ping");
        CHECK_JSON(published[0].value, W("{\"id\": \"conv-29-a\", \"n\": 1, \"list\": [], \"null\": null}"));
    }
    published_clear();

    /* ctg.log and print: info lines on stderr, ctg.log prefixed with the department */
    char logpath[PATH_MAX + 32];
    snprintf(logpath, sizeof logpath, "%s/log.txt", tmp_root);
    fflush(stderr);
    int saved = dup(2), fd = open(logpath, O_CREAT | O_TRUNC | O_WRONLY, 0600);
    log_set_level(LOG_INFO);
    dup2(fd, 2);
    close(fd);
    body = export_ok(p, doc, "log");
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    log_set_level(LOG_ERROR);
    CHECK_STR(body, "logged");
    free(body);
    char *logged = read_whole(logpath, NULL);
    CHECK_HAS(logged, "info plugin: 29: hello from t-29 7 true nil\n");
    CHECK_HAS(logged, "info plugin: print from t-29\n");
    free(logged);

    /* load() of text, with the sandbox's globals or a given environment */
    body = export_ok(p, doc, "load");
    CHECK_STR(body, "2+3=5 42");
    free(body);

    /* reports: the array of conventions, base and department reports */
    json_t *docs = J("[{\"id\": \"r1\", \"department\": \"29\", \"title\": \"Un, deux\"},"
                     " {\"id\": \"r2\", \"department\": \"29\", \"title\": \"Trois\"}]");
    body = report_text(p, "29", "count.json", docs, &ctype, err, sizeof err);
    CHECK_STR(body, "{\"ids\":[\"r1\",\"r2\"],\"n\":2}");
    CHECK_STR(ctype, "application/json");
    free(body);
    body = report_text(p, "29", "ids.csv", docs, &ctype, err, sizeof err);
    CHECK_STR(body, "id,title\r\nr1,\"Un, deux\"\r\nr2,Trois\r\n");
    free(body);
    json_t *none = json_array();
    body = report_text(p, "30", "count.json", none, &ctype, err, sizeof err);
    CHECK_STR(body, "{\"ids\":[],\"n\":0}");
    free(body);
    json_decref(none);
    struct json_texts texts = texts_of(docs);
    CHECK_INT(plugins_render_report(p, "30", "ids.csv", &texts, &out, err, sizeof err), PLUGIN_UNKNOWN);
    json_texts_clear(&texts);
    json_decref(docs);

    CHECK_INT(plugins_error_count(p), 0);
    json_decref(doc30);
    json_decref(doc);
    plugins_free(p);
}

/* ---------- tests: validation ---------- */

/* plugins_validate on `doc`; the details (a new array) in *details. */
static long validate(struct plugins *p, const json_t *doc, const json_t *old, json_t **details,
                     char *err, size_t errlen)
{
    *details = json_array();
    err[0] = '\0';
    return plugins_validate(p, doc, old, *details, err, errlen);
}

static void test_validate_champs(void)
{
    const char *rels[] = {"full", NULL};
    struct plugins *p = load_ok(rels, default_limits, NULL);
    if (!p)
        return;
    char err[1024];
    json_t *details;
    json_t *doc = doc_full("29", "Valide");
    CHECK_INT(validate(p, doc, NULL, &details, err, sizeof err), 0);
    CHECK_INT(json_array_size(details), 0);
    json_decref(details);
    json_decref(doc);

    const char *bad =
        "{\"id\": \"c\", \"department\": \"29\", \"title\": \"Champs\","
        " \"champs\": [\"alpha\", \"delta\", \"zeta\"],"
        " \"actions\": [{\"id\": \"a1\", \"champ\": \"gamma\"}, {\"id\": \"a2\", \"champ\": \"delta\"}, {\"id\": \"a3\"}],"
        " \"governance\": {\"thematic_committees\": [{\"name\": \"A\", \"champs\": [\"gamma\"]},"
        "                                            {\"name\": \"B\", \"champs\": [\"beta\", \"nope\"]}]}}";
    doc = J(bad);
    CHECK_INT(validate(p, doc, NULL, &details, err, sizeof err), 4);
    const char *known29 = "; known: alpha, beta, gamma";
    char want[4096];
    snprintf(want, sizeof want,
             "[{\"path\": \"/champs/1\", \"message\": \"unknown champ 'delta' for department 29%s\"},"
             " {\"path\": \"/champs/2\", \"message\": \"unknown champ 'zeta' for department 29%s\"},"
             " {\"path\": \"/actions/1/champ\", \"message\": \"unknown champ 'delta' for department 29%s\"},"
             " {\"path\": \"/governance/thematic_committees/1/champs/1\","
             "  \"message\": \"unknown champ 'nope' for department 29%s\"}]",
             known29, known29, known29, known29);
    CHECK_JSON(details, W(want));
    json_decref(details);

    /* the same document in department 30: delta is known there, gamma is not, and t-30's
     * validator runs (and t-29's does not) */
    json_object_set_new(doc, "department", json_string("30"));
    long n = validate(p, doc, NULL, &details, err, sizeof err);
    CHECK_INT(n, 5);
    const char *known30 = "; known: alpha, beta, delta";
    snprintf(want, sizeof want,
             "[{\"path\": \"/champs/2\", \"message\": \"unknown champ 'zeta' for department 30%s\"},"
             " {\"path\": \"/actions/0/champ\", \"message\": \"unknown champ 'gamma' for department 30%s\"},"
             " {\"path\": \"/governance/thematic_committees/0/champs/0\","
             "  \"message\": \"unknown champ 'gamma' for department 30%s\"},"
             " {\"path\": \"/governance/thematic_committees/1/champs/1\","
             "  \"message\": \"unknown champ 'nope' for department 30%s\"},"
             " {\"path\": \"\", \"message\": \"t-30 ran\", \"plugin\": \"t-30\"}]",
             known30, known30, known30, known30);
    CHECK_JSON(details, W(want));
    json_decref(details);
    json_decref(doc);
    plugins_free(p);
}

static void test_validators(void)
{
    const char *rels[] = {"full", NULL};
    struct plugins *p = load_ok(rels, default_limits, NULL);
    if (!p)
        return;
    char err[1024];
    json_t *details, *doc;

    /* base and department validators both run, in file order; not another department's */
    doc = doc_full("29", "REFUSE-BASE et REFUSE-29");
    CHECK_INT(validate(p, doc, NULL, &details, err, sizeof err), 2);
    CHECK_JSON(details, W("[{\"path\": \"/title\", \"message\": \"t-base refuse ce titre\", \"plugin\": \"t-base\"},"
                          " {\"path\": \"/title\", \"message\": \"t-29 refuse ce titre\", \"plugin\": \"t-29\"}]"));
    json_decref(details);
    json_decref(doc);

    /* department 01 has no plugin of its own: only t-base's validator */
    doc = J("{\"id\": \"d01\", \"department\": \"01\", \"title\": \"REFUSE-29 V-ERROR\"}");
    CHECK_INT(validate(p, doc, NULL, &details, err, sizeof err), 0);
    json_decref(details);
    json_decref(doc);

    /* a message: one problem at "" */
    doc = doc_full("29", "V-STRING");
    CHECK_INT(validate(p, doc, NULL, &details, err, sizeof err), 1);
    CHECK_JSON(details, W("[{\"path\": \"\", \"message\": \"t-29 refuse tout le document\", \"plugin\": \"t-29\"}]"));
    json_decref(details);
    json_decref(doc);

    /* a list of {path, message}; a missing path is "" */
    doc = doc_full("29", "V-LIST");
    CHECK_INT(validate(p, doc, NULL, &details, err, sizeof err), 2);
    CHECK_JSON(details, W("[{\"path\": \"/title\", \"message\": \"premier problème\", \"plugin\": \"t-29\"},"
                          " {\"path\": \"\", \"message\": \"second problème\", \"plugin\": \"t-29\"}]"));
    json_decref(details);
    json_decref(doc);

    /* an empty list (ctg.json.array{}) refuses nothing */
    doc = doc_full("29", "V-EMPTY-ARRAY");
    CHECK_INT(validate(p, doc, NULL, &details, err, sizeof err), 0);
    CHECK_INT(json_array_size(details), 0);
    json_decref(details);
    json_decref(doc);

    /* an empty plain table {} (which reads as a JSON object): plugins.c takes it as "nothing
     * refused" (plugins/README.md §6 says it is none of the three shapes) */
    doc = doc_full("29", "V-EMPTY");
    CHECK_INT(validate(p, doc, NULL, &details, err, sizeof err), 0);
    CHECK_INT(json_array_size(details), 0);
    CHECK_STR(err, "");
    json_decref(details);
    json_decref(doc);
    CHECK_INT(errors_of(p, "t-29"), 0);

    /* a single {path, message} not in a list: none of the shapes -> the plugin failed */
    doc = doc_full("29", "V-BADSHAPE");
    CHECK_INT(validate(p, doc, NULL, &details, err, sizeof err), -1);
    CHECK_HAS(err, "plugin 't-29' (");
    CHECK_HAS(err, "/full/29-full.lua): validate: returned neither nil, a message, nor a list");
    CHECK_INT(errors_of(p, "t-29"), 1);
    CHECK_STR(last_error_of(p, "t-29"), err);
    json_decref(details);
    json_decref(doc);

    /* a validator that raises: the plugin, its file, the line */
    doc = doc_full("29", "V-ERROR");
    CHECK_INT(validate(p, doc, NULL, &details, err, sizeof err), -1);
    CHECK_HAS(err, "plugin 't-29' (");
    CHECK_HAS(err, "/full/29-full.lua): validate: ");
    CHECK_HAS(err, "/full/29-full.lua:");
    CHECK_HAS(err, ": validator exploded");
    CHECK_INT(errors_of(p, "t-29"), 2);
    json_decref(details);
    json_decref(doc);

    /* `old`: nil on a create, the stored document on an update */
    doc = doc_full("29", "V-OLD");
    CHECK_INT(validate(p, doc, NULL, &details, err, sizeof err), 1);
    CHECK_STR(str_at(json_array_get(details, 0), "message"), "old is nil");
    json_decref(details);
    json_t *old = J("{\"id\": \"conv-29-a\", \"department\": \"29\", \"title\": \"Ancien titre\", \"rev\": 3}");
    CHECK_INT(validate(p, doc, old, &details, err, sizeof err), 1);
    CHECK_STR(str_at(json_array_get(details, 0), "message"), "old title: Ancien titre, old rev: 3");
    json_decref(details);
    json_decref(old);
    json_decref(doc);

    /* after the failures, validation still works */
    doc = doc_full("29", "Valide");
    CHECK_INT(validate(p, doc, NULL, &details, err, sizeof err), 0);
    json_decref(details);
    json_decref(doc);
    plugins_free(p);
}

/* ---------- tests: on_change ---------- */

/* Runs the handlers of `p` on the event `text`, after clearing what was published before;
 * returns how many values they published. */
static size_t publish_on_change(struct plugins *p, const char *text)
{
    published_clear();
    json_t *ev = J(text);
    on_change(p, ev);
    json_decref(ev);
    return n_published;
}

static void test_on_change(void)
{
    const char *rels[] = {"full", NULL};
    struct plugins *p = load_ok(rels, default_limits, NULL);
    if (!p)
        return;
    /* t-base then t-29; not t-30, nor t-29's "not-created" */
    size_t n = publish_on_change(p,
        "{\"seq\": 12, \"type\": \"convention.created\", \"id\": \"conv-29-a\", \"department\": \"29\","
        " \"rev\": 1, \"at\": \"2024-03-01T09:00:00.000Z\", \"actor\": \"test\","
        " \"changed\": [\"title\", \"status\"], \"doc\": {\"id\": \"conv-29-a\", \"department\": \"29\"}}");
    CHECK_INT(n, 2);
    if (n == 2) {
        CHECK_STR(published[0].department, "29");
        CHECK_STR(published[0].name, "seen");
        CHECK_JSON(published[0].value, W("{\"id\": \"conv-29-a\", \"type\": \"convention.created\", \"seq\": 12,"
                                         " \"department\": \"29\", \"has_doc\": true}"));
        CHECK_STR(published[1].name, "changed");
        CHECK_JSON(published[1].value, W("{\"id\": \"conv-29-a\", \"type\": \"convention.created\","
                                         " \"changed\": [\"title\", \"status\"]}"));
    }

    /* an update: t-29's handler of updates and deletions takes it too, after t-29's other one */
    n = publish_on_change(p,
        "{\"seq\": 13, \"type\": \"convention.updated\", \"id\": \"conv-29-a\", \"department\": \"29\","
        " \"rev\": 2, \"at\": \"2024-03-01T09:00:00.000Z\", \"actor\": \"test\","
        " \"changed\": [\"status\"], \"doc\": {\"id\": \"conv-29-a\", \"department\": \"29\"}}");
    CHECK_INT(n, 3);
    if (n == 3) {
        CHECK_STR(published[1].name, "changed");
        CHECK_STR(published[2].name, "not-created");
        CHECK_JSON(published[2].value, W("{\"id\": \"conv-29-a\", \"type\": \"convention.updated\"}"));
    }

    /* a deletion in 29: the same three */
    n = publish_on_change(p,
        "{\"seq\": 14, \"type\": \"convention.deleted\", \"id\": \"conv-29-a\", \"department\": \"29\","
        " \"rev\": 3, \"at\": \"2024-03-01T09:00:00.000Z\", \"actor\": \"test\", \"changed\": []}");
    CHECK_INT(n, 3);
    if (n == 3)
        CHECK_JSON(published[2].value, W("{\"id\": \"conv-29-a\", \"type\": \"convention.deleted\"}"));

    /* t-base then t-30 */
    n = publish_on_change(p,
        "{\"seq\": 15, \"type\": \"convention.deleted\", \"id\": \"conv-30-a\", \"department\": \"30\","
        " \"rev\": 2, \"at\": \"2024-03-01T09:00:00.000Z\", \"actor\": \"test\", \"changed\": []}");
    CHECK_INT(n, 2);
    if (n == 2) {
        CHECK_STR(published[0].department, "30");
        CHECK_JSON(published[0].value, W("{\"id\": \"conv-30-a\", \"type\": \"convention.deleted\", \"seq\": 15,"
                                         " \"department\": \"30\", \"has_doc\": false}"));
        CHECK_STR(published[1].name, "t30");
    }
    published_clear();
    CHECK_INT(plugins_error_count(p), 0);
    plugins_free(p);
}

/* ---------- tests: the sandbox ---------- */

struct bytes {
    char *data;
    size_t len;
};

static int dump_writer(lua_State *L, const void *data, size_t len, void *arg)
{
    (void)L;
    struct bytes *b = arg;
    char *grown = realloc(b->data, b->len + len);
    if (!grown)
        return 1;
    memcpy(grown + b->len, data, len);
    b->data = grown;
    b->len += len;
    return 0;
}

/* Real bytecode of `return 42` (from a plain Lua state), as hex text. */
static char *bytecode_hex(void)
{
    lua_State *L = luaL_newstate();
    CHECK_INT(luaL_loadstring(L, "return 42"), LUA_OK);
    struct bytes b = {NULL, 0};
    CHECK_INT(lua_dump(L, dump_writer, &b, 0), 0);
    lua_close(L);
    CHECK(b.len > 4 && b.data[0] == '\033');
    char *hex = malloc(2 * b.len + 1);
    hex[0] = '\0';
    for (size_t i = 0; i < b.len; i++)
        snprintf(hex + 2 * i, 3, "%02x", (unsigned char)b.data[i]);
    free(b.data);
    return hex;
}

static json_t *victim_doc(void)
{
    json_t *doc = J("{\"id\": \"victim-doc\", \"department\": \"29\", \"title\": \"Témoin\","
                    " \"actions\": [{\"id\": \"a\"}, {\"id\": \"b\"}, {\"id\": \"c\"}], \"extra\": {}}");
    char *hex = bytecode_hex();
    json_object_set_new(json_object_get(doc, "extra"), "bytecode", json_string(hex));
    free(hex);
    return doc;
}

static json_t *victim_expected(void)
{
    return J("{\"method_upper\": \"ABC\", \"string_upper\": \"ABC\", \"format\": \"7-x\", \"concat\": \"a+b\","
             " \"tostring\": \"12\", \"csv\": \"a,\\\"b,c\\\"\\r\\n\", \"escape\": \"&lt;&amp;&gt;\","
             " \"encode\": \"[1,2]\", \"os_time\": \"integer\", \"leaked_global\": \"nil\", \"new_global\": \"nil\","
             " \"missing_key\": \"nil\", \"conv_write\": 5, \"title\": \"Témoin\", \"actions_len\": 3}");
}

/* Every attempt of tests/plugins/hostile must be refused (an error, or nothing found). */
static void test_sandbox_escapes(void)
{
    /* victim's folder first: files still load in file-name order, 10-hostile before 20-victim */
    const char *rels[] = {"victim", "hostile", NULL};
    struct plugins *p = load_ok(rels, default_limits, NULL);
    if (!p)
        return;
    json_t *all = plugins_describe(p);
    CHECK_STR(keys_of(all, "name"), "hostile,victim");
    json_decref(all);

    json_t *doc = victim_doc();
    json_t *expected = victim_expected();
    json_t *seen = export_json(p, doc, "observe");
    CHECK_JSON(seen, expected); /* hostile's load-time attempts changed nothing */
    json_decref(seen);

    json_t *results = export_json(p, doc, "attempts");
    CHECK(json_is_object(results));
    CHECK_INT(json_object_size(results), 63); /* every attempt of 10-hostile.lua answered */
    const char *name;
    json_t *r;
    json_object_foreach(results, name, r) {
        const char *text = json_string_value(r);
        bool refused = text && (strncmp(text, "refused: ", 9) == 0 || strcmp(text, "nil") == 0);
        if (!refused)
            fprintf(stderr, "    sandbox attempt '%s': %s\n", name, text ? text : "(not a string)");
        CHECK(refused);
    }
    /* some refusals say why */
    CHECK_HAS(str_at(results, "string.upper = f"), "read-only");
    CHECK_HAS(str_at(results, "string.upper = f (at load)"), "read-only");
    CHECK_HAS(str_at(results, "ctg.csv = f"), "read-only");
    CHECK_HAS(str_at(results, "ctg.csv = f (at load)"), "read-only");
    CHECK_HAS(str_at(results, "ctg.json.encode = f"), "read-only");
    CHECK_HAS(str_at(results, "os.time = f"), "read-only");
    CHECK_HAS(str_at(results, "globals.string = t"), "read-only");
    CHECK_HAS(str_at(results, "globals.new = x (load)"), "read-only");
    CHECK_HAS(str_at(results, "setmetatable(_ENV, nil)"), "protected metatable");
    CHECK_HAS(str_at(results, "setmetatable(globals, nil)"), "protected metatable");
    CHECK_HAS(str_at(results, "setmetatable(string, nil)"), "protected metatable");
    CHECK_HAS(str_at(results, "setmetatable(ctg, nil)"), "protected metatable");
    CHECK_HAS(str_at(results, "load bytecode run"), "binary chunk");
    CHECK_STR(str_at(results, "load bytecode, mode b"), "nil");
    CHECK_STR(str_at(results, "io"), "nil");
    CHECK_STR(str_at(results, "debug"), "nil");
    CHECK_STR(str_at(results, "string.dump"), "nil");
    CHECK_STR(str_at(results, "getmetatable('')"), "nil");
    json_decref(results);

    /* the other plugin still sees the real libraries, and the server side still works */
    seen = export_json(p, doc, "observe");
    CHECK_JSON(seen, expected);
    json_decref(seen);
    char *own = export_ok(p, doc, "own-globals"); /* a file's own globals stay its own */
    CHECK_STR(own, "PWNED from hostile PWNED");
    free(own);
    char err[512];
    json_t *ind = plugins_indicators(p, doc, NULL, err, sizeof err);
    CHECK(ind != NULL && json_array_size(ind) == 0);
    json_decref(ind);
    CHECK_INT(plugins_error_count(p), 0);
    json_decref(expected);
    json_decref(doc);
    plugins_free(p);
}

/*
 * Changes that go around the read-only proxies (tests/plugins/hostile-backdoors): pairs() on a
 * proxy hands out the table behind it, and the JSON metatables are shared and writable. Another
 * plugin must see nothing of it.
 */
static void test_sandbox_backdoors(void)
{
    const char *rels[] = {"hostile-backdoors", "victim", NULL};
    struct plugins *p = load_ok(rels, default_limits, NULL);
    if (!p)
        return;
    json_t *doc = victim_doc();
    json_t *expected = victim_expected();
    json_t *seen = export_json(p, doc, "observe");
    CHECK_JSON(seen, expected);
    json_decref(seen);
    json_t *tamper = export_json(p, doc, "tamper");
    seen = export_json(p, doc, "observe");
    bool unaffected = seen && json_equal(seen, expected);
    if (!unaffected) {
        fprintf(stderr, "    one plugin changed what another sees; the attempts of 'backdoor':\n");
        const char *name;
        json_t *r;
        json_object_foreach(tamper, name, r)
            fprintf(stderr, "      %-32s %s\n", name, json_string_value(r));
    }
    CHECK_JSON(seen, expected);
    json_decref(seen);
    json_decref(tamper);
    json_decref(expected);
    json_decref(doc);
    plugins_free(p);
}

/* ---------- tests: budgets ---------- */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static json_t *dept_doc(const char *department, const char *title)
{
    json_t *d = J("{\"id\": \"conv-x\", \"status\": \"preparation\"}");
    json_object_set_new(d, "department", json_string(department));
    json_object_set_new(d, "title", json_string(title));
    return d;
}

static void test_instruction_budget(void)
{
    const char *rels[] = {"runaway", NULL};
    struct lua_limits limits = {20000000, 30, 64 * MiB};
    struct plugins *p = load_ok(rels, limits, NULL);
    if (!p)
        return;
    char err[1024], file[PATH_MAX + 64];
    snprintf(file, sizeof file, "(%s/50-runaway.lua): ", plugin_dir("runaway"));
    /* (03, the xpcall case, is test_xpcall_handler_is_bounded: it hangs today) */
    const char *const cases[][3] = {
        {"01", "runaway", "indicator 'loop'"},
        {"02", "runaway-pcall", "indicator 'pcall-loop'"},
    };
    for (size_t i = 0; i < 2; i++) {
        json_t *doc = dept_doc(cases[i][0], "boucle");
        double t0 = now();
        json_t *ind = plugins_indicators(p, doc, NULL, err, sizeof err);
        double took = now() - t0;
        CHECK(ind == NULL);
        json_decref(ind);
        char head[128];
        snprintf(head, sizeof head, "plugin '%s' ", cases[i][1]);
        CHECK_HAS(err, head);
        CHECK_HAS(err, file);
        CHECK_HAS(err, cases[i][2]);
        CHECK_HAS(err, "the instruction budget of this call is spent");
        CHECK(took < 20); /* 2e7 instructions, not the 30 s deadline */
        CHECK_INT(errors_of(p, cases[i][1]), 1);
        CHECK_STR(last_error_of(p, cases[i][1]), err);
        json_decref(doc);
        /* the next call, of another plugin, works */
        doc = dept_doc("04", "ensuite");
        ind = plugins_indicators(p, doc, NULL, err, sizeof err);
        CHECK(ind != NULL);
        CHECK_INT(json_integer_value(indicator_value(ind, "ok")), 1);
        json_decref(ind);
        json_decref(doc);
        /* and so does the next call of the same plugin */
        doc = dept_doc(cases[i][0], "ensuite");
        if (i == 0) {
            char *body = export_ok(p, doc, "ok");
            CHECK_STR(body, "fine");
            free(body);
        }
        json_decref(doc);
    }
    plugins_free(p);
}

static void test_time_budget(void)
{
    const char *rels[] = {"runaway", NULL};
    struct lua_limits limits = {LONG_MAX / 2, 0.3, 64 * MiB};
    struct plugins *p = load_ok(rels, limits, NULL);
    if (!p)
        return;
    char err[1024];
    json_t *doc = dept_doc("02", "boucle");
    double t0 = now();
    json_t *ind = plugins_indicators(p, doc, NULL, err, sizeof err);
    double took = now() - t0;
    CHECK(ind == NULL);
    CHECK_HAS(err, "plugin 'runaway-pcall' (");
    CHECK_HAS(err, "the time budget of this call is spent");
    CHECK(took >= 0.25 && took < 5);
    json_decref(doc);
    doc = dept_doc("04", "ensuite");
    ind = plugins_indicators(p, doc, NULL, err, sizeof err);
    CHECK(ind != NULL);
    json_decref(ind);
    json_decref(doc);
    plugins_free(p);
}

/*
 * Work inside one C call is out of the instruction budget's reach: each attempt of the c-loops
 * plugin must be refused (or, for string.rep of nothing, answered at once), and all of them
 * together take well under a second.
 */
static void test_c_level_loops_are_refused(void)
{
    const char *rels[] = {"c-loops", NULL};
    struct plugins *p = load_ok(rels, default_limits, NULL);
    if (!p)
        return;
    json_t *doc = victim_doc();
    double started = now();
    json_t *attempts = export_json(p, doc, "attempts");
    CHECK(now() - started < 2.0);
    CHECK_INT(json_object_size(attempts), 9);
    const char *name;
    json_t *outcome;
    json_object_foreach(attempts, name, outcome) {
        bool refused = strncmp(json_string_value(outcome), "refused: ", 9) == 0;
        if (!refused)
            fprintf(stderr, "    %s: %s\n", name, json_string_value(outcome));
        CHECK(refused);
    }
    char *sly = export_ok(p, doc, "sly-registration");
    CHECK(sly && contains(sly, "refused: ") && contains(sly, "plain table"));
    free(sly);
    json_decref(attempts);
    json_decref(doc);
    plugins_free(p);
}

static void test_memory_cap(void)
{
    const char *rels[] = {"runaway", NULL};
    struct lua_limits limits = {200000000, 30, 32 * MiB};
    struct plugins *p = load_ok(rels, limits, NULL);
    if (!p)
        return;
    char err[1024];
    json_t *doc = dept_doc("04", "mémoire");
    const char *bombs[] = {"bomb-string", "bomb-table", "bomb-pcall", "bomb-rep"};
    for (size_t i = 0; i < 4; i++) {
        char *body = export_text(p, doc, bombs[i], NULL, err, sizeof err);
        if (body)
            fprintf(stderr, "    export %s rendered: %.80s\n", bombs[i], body);
        CHECK(body == NULL);
        free(body);
        CHECK_HAS(err, "plugin 'memory' (");
        CHECK_HAS(err, bombs[i]);
        CHECK_HAS(err, "the memory cap of 32 MiB is reached");
        /* the next call works: what the failed call held was given back */
        body = export_ok(p, doc, "ok");
        CHECK_STR(body, "fine");
        free(body);
        json_t *ind = plugins_indicators(p, doc, NULL, err, sizeof err);
        CHECK(ind != NULL);
        json_decref(ind);
    }
    CHECK_INT(errors_of(p, "memory"), 4);
    json_decref(doc);
    plugins_free(p);
}

/* What a call saw of the collector (test_collector_hold). */
struct collector_probe {
    bool held, held_under_twice, released_over_twice;
};

static bool collector_running(lua_State *L)
{
    return lua_gc(L, LUA_GCISRUNNING) != 0;
}

/*
 * About 20 MiB of strings alive until the call returns (a report's documents), then the
 * collector held; 1 MiB of garbage, then 30 MiB.
 */
static int hold_and_make_garbage(lua_State *L, void *arg)
{
    struct collector_probe *probe = arg;
    if (luaL_dostring(L, "local t = {} for i = 1, 20000 do t[i] = ('x'):rep(1000) .. i end "
                         "return t") != LUA_OK)
        return lua_error(L);
    lua_runtime_hold_collector(L);
    probe->held = !collector_running(L);
    if (luaL_dostring(L, "for i = 1, 1000 do local s = ('y'):rep(1000) .. i end") != LUA_OK)
        return lua_error(L);
    probe->held_under_twice = !collector_running(L);
    if (luaL_dostring(L, "for i = 1, 30000 do local s = ('z'):rep(1000) .. i end") != LUA_OK)
        return lua_error(L);
    probe->released_over_twice = collector_running(L);
    return 0;
}

static int hold_then_fail(lua_State *L, void *arg)
{
    (void)arg;
    lua_runtime_hold_collector(L);
    return luaL_error(L, "failed while held");
}

/*
 * The collector is held off for the values a call lives on, until the state doubles or the
 * call returns; what a large call leaves is collected right after it; a failed call does not
 * leave the collector off.
 */
static void test_collector_hold(void)
{
    struct lua_limits limits = {1000000000, 30, 256 * MiB};
    struct lua_runtime *rt = lua_runtime_new(&limits);
    CHECK(rt != NULL);
    if (!rt)
        return;
    lua_State *L = lua_runtime_state(rt);
    size_t before = lua_runtime_memory(rt);
    struct collector_probe probe = {0};
    char err[256] = "";
    CHECK_INT(lua_runtime_call(rt, hold_and_make_garbage, &probe, err, sizeof err), 0);
    if (err[0])
        fprintf(stderr, "    %s\n", err);
    CHECK(probe.held && probe.held_under_twice && probe.released_over_twice);
    CHECK(collector_running(L));
    CHECK(lua_runtime_memory(rt) < before + 2 * MiB); /* the 20 MiB went with the call */
    CHECK_INT(lua_runtime_call(rt, hold_then_fail, NULL, err, sizeof err), -1);
    CHECK_HAS(err, "failed while held");
    CHECK(collector_running(L));
    lua_runtime_free(rt);
}

/* ---------- tests: errors in callbacks ---------- */

static void check_failure(const char *err, const char *what, const char *why)
{
    char head[PATH_MAX + 128];
    snprintf(head, sizeof head, "plugin 'faulty' (%s/50-errors.lua): %s: ", plugin_dir("errors"), what);
    CHECK_HAS(err, head);
    CHECK_HAS(err, why);
}

static void test_callback_errors(void)
{
    const char *rels[] = {"errors", NULL};
    struct plugins *p = load_ok(rels, default_limits, NULL);
    if (!p)
        return;
    char err[1024];
    long long expected_errors = 0;
    char file_line[PATH_MAX + 64];
    snprintf(file_line, sizeof file_line, "%s/50-errors.lua:", plugin_dir("errors"));

    /* compute */
    json_t *doc = dept_doc("05", "normal");
    json_t *ind = plugins_indicators(p, doc, NULL, err, sizeof err);
    CHECK_JSON(ind, W("[{\"key\": \"ok\", \"label\": \"OK\", \"plugin\": \"faulty\", \"value\": 1},"
                      " {\"key\": \"touchy\", \"label\": \"Susceptible\", \"plugin\": \"faulty\", \"value\": 2.5}]"));
    json_decref(ind);
    json_decref(doc);
    const char *const computes[][2] = {
        {"boom-indicator", "indicator exploded"},
        {"string-indicator", "returned a string, not a number (or nil)"},
        {"nan-indicator", "returned a number that is not finite"},
        {"inf-indicator", "returned a number that is not finite"},
    };
    for (size_t i = 0; i < 4; i++) {
        doc = dept_doc("05", computes[i][0]);
        ind = plugins_indicators(p, doc, NULL, err, sizeof err);
        CHECK(ind == NULL);
        json_decref(ind);
        check_failure(err, "indicator 'touchy'", computes[i][1]);
        if (i == 0)
            CHECK_HAS(err, file_line); /* the line of the error() */
        CHECK_INT(errors_of(p, "faulty"), ++expected_errors);
        CHECK_STR(last_error_of(p, "faulty"), err);
        json_decref(doc);
    }

    /* render of an export */
    doc = dept_doc("05", "normal");
    const char *const exports[][2] = {
        {"boom", "export exploded"},
        {"nil", "returned nil, not a string"},
        {"number", "returned a number, not a string"},
        {"table-error", "an error that is not a string"},
    };
    for (size_t i = 0; i < 4; i++) {
        char *body = export_text(p, doc, exports[i][0], NULL, err, sizeof err);
        CHECK(body == NULL);
        free(body);
        char what[64];
        snprintf(what, sizeof what, "export '%s'", exports[i][0]);
        check_failure(err, what, exports[i][1]);
        CHECK_INT(errors_of(p, "faulty"), ++expected_errors);
        CHECK_STR(last_error_of(p, "faulty"), err);
        body = export_ok(p, doc, "ok");
        CHECK_STR(body, "fine");
        free(body);
    }

    /* render of a report */
    json_t *docs = json_pack("[O]", doc);
    char *body = report_text(p, "05", "boom", docs, NULL, err, sizeof err);
    CHECK(body == NULL);
    free(body);
    check_failure(err, "report 'boom'", "report exploded");
    CHECK_HAS(err, file_line);
    CHECK_INT(errors_of(p, "faulty"), ++expected_errors);
    body = report_text(p, "05", "ok", docs, NULL, err, sizeof err);
    CHECK_STR(body, "report fine: 1");
    free(body);
    json_decref(docs);
    json_decref(doc);

    /* validate */
    const char *const validations[][2] = {
        {"boom-validate", "validator exploded"},
        {"shape-validate", "returned neither nil, a message, nor a list of {path = ..., message = ...}"},
        {"number-validate", "returned neither nil"},
    };
    for (size_t i = 0; i < 3; i++) {
        json_t *details = json_array();
        doc = dept_doc("05", validations[i][0]);
        CHECK_INT(plugins_validate(p, doc, NULL, details, err, sizeof err), -1);
        check_failure(err, "validate", validations[i][1]);
        CHECK_INT(errors_of(p, "faulty"), ++expected_errors);
        CHECK_STR(last_error_of(p, "faulty"), err);
        json_decref(doc);
        json_decref(details);
    }
    { /* a message longer than the buffer is cut, and says so */
        char small[48];
        json_t *details = json_array();
        doc = dept_doc("05", "boom-validate");
        CHECK_INT(plugins_validate(p, doc, NULL, details, small, sizeof small), -1);
        CHECK_INT(strlen(small), sizeof small - 1);
        CHECK_STR(small + sizeof small - 4, "…");
        CHECK_INT(errors_of(p, "faulty"), ++expected_errors);
        json_decref(doc);
        json_decref(details);
    }
    json_t *details = json_array();
    doc = dept_doc("05", "normal");
    CHECK_INT(plugins_validate(p, doc, NULL, details, err, sizeof err), 0);
    json_decref(details);
    json_decref(doc);

    /* on_change: logged and counted; the next handler (witness) still runs */
    published_clear();
    json_t *ev = J("{\"seq\": 3, \"type\": \"convention.updated\", \"id\": \"conv-x\", \"department\": \"05\","
                   " \"rev\": 2, \"at\": \"2024-03-01T09:00:00.000Z\", \"actor\": \"test\", \"changed\": [\"title\"],"
                   " \"doc\": {\"id\": \"conv-x\", \"department\": \"05\", \"title\": \"boom-change\"}}");
    on_change(p, ev);
    json_decref(ev);
    CHECK_INT(errors_of(p, "faulty"), ++expected_errors);
    check_failure(last_error_of(p, "faulty"), "on_change", "on_change exploded");
    CHECK_INT(errors_of(p, "witness"), 0);
    CHECK_INT(n_published, 1);
    if (n_published == 1) {
        CHECK_STR(published[0].department, "05");
        CHECK_STR(published[0].name, "witness");
        CHECK_JSON(published[0].value, W("{\"id\": \"conv-x\", \"type\": \"convention.updated\"}"));
    }
    published_clear();

    /* registrations after the load are refused */
    doc = dept_doc("05", "normal");
    const char *const late[][2] = {
        {"late-champ", "plugin 'faulty': champ: declarations are made when the file loads"},
        {"late-indicator", "plugin 'faulty': indicator: declarations are made when the file loads"},
        {"late-plugin", "ctg.plugin: plugins are declared when their file loads"},
        {"late-validate", "plugin 'faulty': handlers are registered when the file loads"},
        {"late-on-change", "plugin 'faulty': handlers are registered when the file loads"},
    };
    for (size_t i = 0; i < 5; i++) {
        body = export_text(p, doc, late[i][0], NULL, err, sizeof err);
        CHECK(body == NULL);
        free(body);
        CHECK_HAS(err, late[i][1]);
        CHECK_INT(errors_of(p, "faulty"), ++expected_errors);
    }
    json_t *d05 = plugins_department(p, "05");
    CHECK_INT(json_array_size(json_object_get(d05, "champs")), 0);
    CHECK_STR(keys_of(json_object_get(d05, "indicators"), "key"), "ok,touchy");
    json_decref(d05);
    json_t *all = plugins_describe(p);
    CHECK_STR(keys_of(all, "name"), "faulty,witness");
    json_decref(all);
    details = json_array();
    CHECK_INT(plugins_validate(p, doc, NULL, details, err, sizeof err), 0); /* no late validator */
    json_decref(details);
    json_decref(doc);
    CHECK_INT(plugins_error_count(p), expected_errors);
    plugins_free(p);
}

/* ---------- tests: loading ---------- */

/* The load of tests/plugins/<rel> fails; err names the file (its full path) and says `needles`. */
static void expect_load_failure(const char *rel, const char *file, const char *const needles[])
{
    const char *rels[] = {rel, NULL};
    char err[1024];
    struct plugins *p = load_with(rels, default_limits, NULL, 1, err, sizeof err);
    CHECK(p == NULL);
    plugins_free(p);
    char path[PATH_MAX + 128];
    snprintf(path, sizeof path, "%s/%s", plugin_dir(rel), file);
    CHECK_HAS(err, path);
    for (size_t i = 0; needles[i]; i++)
        CHECK_HAS(err, needles[i]);
}

static void test_load_failures(void)
{
    char at[PATH_MAX + 128];
    snprintf(at, sizeof at, "%s/10-syntax.lua:4:", plugin_dir("broken/syntax"));
    expect_load_failure("broken/syntax", "10-syntax.lua", (const char *[]){at, NULL});
    snprintf(at, sizeof at, "%s/10-runtime.lua:5: attempt to index a nil value", plugin_dir("broken/runtime"));
    expect_load_failure("broken/runtime", "10-runtime.lua", (const char *[]){at, NULL});
    expect_load_failure("broken/unknown-field", "10-unknown-field.lua",
                        (const char *[]){"plugin 'typo': champ: unknown field 'labl'", NULL});
    expect_load_failure("broken/no-plugin", "10-no-plugin.lua",
                        (const char *[]){"declares no plugin", NULL});
    char first[PATH_MAX + 128];
    snprintf(first, sizeof first, "plugin 'twin': the name is taken by %s/10-first.lua",
             plugin_dir("broken/duplicate-name"));
    expect_load_failure("broken/duplicate-name", "20-second.lua", (const char *[]){first, NULL});
    expect_load_failure("broken/duplicate-key", "20-two.lua",
                        (const char *[]){"plugin 'two': champ 'same' is declared by plugin 'one' too", NULL});
    expect_load_failure("broken/bad-key", "10-bad-key.lua",
                        (const char *[]){"plugin 'bad-key': indicator key 'Taux Réalisation' must match", NULL});
    expect_load_failure("broken/missing-field", "10-missing-field.lua",
                        (const char *[]){"plugin 'missing-field': indicator: field 'compute' is required", NULL});
    expect_load_failure("broken/wrong-type", "10-wrong-type.lua",
                        (const char *[]){"plugin 'wrong-type': export: field 'label' must be a string", NULL});
    expect_load_failure("broken/bad-department", "10-bad-department.lua",
                        (const char *[]){"department '20' is not an INSEE department code", NULL});
    expect_load_failure("broken/publish-at-load", "10-publish-at-load.lua",
                        (const char *[]){"ctg.publish: only while handling a convention or a change", NULL});
    expect_load_failure("broken/bad-change-type", "10-bad-change-type.lua",
                        (const char *[]){"plugin 'bad-change-type': on_change: item 2 of the change "
                                         "types is not one of convention.created", NULL});
    expect_load_failure("broken/change-type-nul", "10-change-type-nul.lua",
                        (const char *[]){"on_change: item 1 of the change types is not one of", NULL});
    const char *not_a_list[] = {"on_change: the change types must be a non-empty plain list", NULL};
    expect_load_failure("broken/no-change-type", "10-no-change-type.lua", not_a_list);
    expect_load_failure("broken/change-type-string", "10-change-type-string.lua", not_a_list);
    expect_load_failure("broken/change-types-metatable", "10-change-types-metatable.lua",
                        not_a_list);

    /* a folder that does not exist */
    const char *missing[] = {"no-such-folder", NULL};
    char err[1024];
    struct plugins *p = load_with(missing, default_limits, NULL, 1, err, sizeof err);
    CHECK(p == NULL);
    CHECK_HAS(err, "cannot read the plugin folder");
    CHECK_HAS(err, "no-such-folder");

    /* a file over 1 MiB */
    char dir[PATH_MAX + 32], path[PATH_MAX + 64];
    snprintf(dir, sizeof dir, "%s/big", tmp_root);
    mkdir(dir, 0700);
    snprintf(path, sizeof path, "%s/10-big.lua", dir);
    FILE *f = fopen(path, "wb");
    fputs("local p = ctg.plugin{ name = \"big\" }\n", f);
    const char *pad = "-- a comment line to pad the file past 1 MiB\n";
    for (size_t written = 0; written <= MiB; written += strlen(pad))
        fputs(pad, f);
    fclose(f);
    const char *big[] = {dir, NULL};
    p = load_with(big, default_limits, NULL, 1, err, sizeof err);
    CHECK(p == NULL);
    CHECK_HAS(err, "10-big.lua: cannot be read (or is over 1048576 bytes)");
    plugins_free(p);
}

/* A reload is a new plugins_load: a broken file gives NULL and its file and line, and the
 * generation the caller holds goes on working. */
static void test_reload_keeps_old_generation(void)
{
    char dir[PATH_MAX + 32], path[PATH_MAX + 64];
    snprintf(dir, sizeof dir, "%s/reload", tmp_root);
    mkdir(dir, 0700);
    snprintf(path, sizeof path, "%s/10-good.lua", dir);
    write_file(path, "local p = ctg.plugin{ name = \"good\" }\n"
                     "p:export{ key = \"v\", label = \"V\", render = function() return \"v1\" end }\n");
    const char *rels[] = {dir, NULL};
    char err[1024];
    struct plugins *old = load_with(rels, default_limits, NULL, 1, err, sizeof err);
    CHECK(old != NULL);
    if (!old)
        return;
    snprintf(path, sizeof path, "%s/20-bad.lua", dir);
    write_file(path, "local p = ctg.plugin{ name = \"bad\" }\n"
                     "\n"
                     "p:champ{ key = \"x\", label = \"X\" \n"
                     "local oops = = 1\n");
    struct plugins *next = load_with(rels, default_limits, NULL, 2, err, sizeof err);
    CHECK(next == NULL);
    char want[sizeof path + 16];
    snprintf(want, sizeof want, "%s:4:", path);
    CHECK_HAS(err, want);
    json_t *doc = dept_doc("29", "x");
    char *body = export_ok(old, doc, "v");
    CHECK_STR(body, "v1");
    free(body);
    CHECK_INT(plugins_generation(old), 1);
    /* fixed: the new generation loads and answers the new code */
    write_file(path, "local p = ctg.plugin{ name = \"bad\" }\n"
                     "p:export{ key = \"w\", label = \"W\", render = function() return \"w2\" end }\n");
    next = load_with(rels, default_limits, NULL, 2, err, sizeof err);
    CHECK(next != NULL);
    if (next) {
        CHECK_INT(plugins_generation(next), 2);
        body = export_ok(next, doc, "w");
        CHECK_STR(body, "w2");
        free(body);
    }
    plugins_free(old);
    plugins_free(next);
    json_decref(doc);
}

/* ---------- tests: work outside the instruction count (child process, deadline) ---------- */

/*
 * Runs fn in a child process. Returns its exit code, or -1 (and kills it) if it is still running
 * after `seconds`, or -2 if it died of a signal.
 */
static int run_in_child(int (*fn)(void), double seconds)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        alarm((unsigned)seconds + 30); /* never outlive the parent's wait by much */
        _exit(fn());
    }
    if (pid < 0)
        return -3;
    double deadline = now() + seconds;
    int status;
    while (now() < deadline) {
        pid_t done = waitpid(pid, &status, WNOHANG);
        if (done == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : -2;
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
}

/* A finalizer that never ends, dropped at load and in a call: load, call, free. */
static int child_gc_finalizer(void)
{
    const char *rels[] = {"gc-finalizer", NULL};
    struct lua_limits limits = {1000000, 1, 64 * MiB};
    char err[1024];
    struct plugins *p = load_with(rels, limits, NULL, 1, err, sizeof err);
    if (!p)
        return 0; /* refusing the plugin is fine too */
    json_t *doc = dept_doc("29", "x");
    struct rendered out;
    if (plugins_render_export(p, doc, "drop", &out, err, sizeof err) == PLUGIN_OK)
        free(out.body);
    int rc = plugins_render_export(p, doc, "ok", &out, err, sizeof err) == PLUGIN_OK ? 0 : 3;
    if (rc == 0)
        free(out.body);
    json_decref(doc);
    plugins_free(p);
    return rc;
}

static void test_gc_finalizer_is_bounded(void)
{
    int rc = run_in_child(child_gc_finalizer, 6);
    if (rc == -1)
        fprintf(stderr, "    a __gc metamethod that loops hangs the process: finalizers run with the "
                        "budget hook off (tests/plugins/gc-finalizer)\n");
    CHECK_INT(rc, 0);
}

/*
 * xpcall(loop, handler that loops): once the budget is spent the hook raises its error, and
 * Lua calls the message handler from inside the hook, where hooks are off: the handler's loop
 * is never stopped.
 */
static int child_xpcall_handler(void)
{
    const char *rels[] = {"runaway", NULL};
    struct lua_limits limits = {1000000, 1, 64 * MiB};
    char err[1024];
    struct plugins *p = load_with(rels, limits, NULL, 1, err, sizeof err);
    if (!p)
        return 4;
    json_t *doc = dept_doc("03", "x");
    json_t *ind = plugins_indicators(p, doc, NULL, err, sizeof err);
    int rc = ind == NULL && contains(err, "plugin 'runaway-xpcall'") &&
                     contains(err, "budget of this call is spent")
                 ? 0
                 : 5;
    json_decref(ind);
    json_decref(doc);
    plugins_free(p);
    return rc;
}

static void test_xpcall_handler_is_bounded(void)
{
    int rc = run_in_child(child_xpcall_handler, 6);
    if (rc == -1)
        fprintf(stderr, "    xpcall(function() while true do end end, function() while true do end end) "
                        "runs past both budgets: the message handler runs inside the budget hook, "
                        "with hooks off (tests/plugins/runaway, department 03)\n");
    CHECK_INT(rc, 0);
}

/* string.find with a backtracking pattern: one C call, hours long. */
static int child_pattern_bomb(void)
{
    const char *rels[] = {"pattern-bomb", NULL};
    struct lua_limits limits = {100000000, 1, 64 * MiB};
    char err[1024];
    struct plugins *p = load_with(rels, limits, NULL, 1, err, sizeof err);
    if (!p)
        return 4;
    json_t *doc = dept_doc("29", "x");
    json_t *ind = plugins_indicators(p, doc, NULL, err, sizeof err);
    int rc = ind == NULL && contains(err, "plugin 'pattern'") ? 0 : 5;
    json_decref(ind);
    json_decref(doc);
    plugins_free(p);
    return rc;
}

static void test_pattern_bomb_is_bounded(void)
{
    int rc = run_in_child(child_pattern_bomb, 6);
    if (rc == -1)
        fprintf(stderr, "    string.find(string.rep('a', 20000), '.-.-.-b') runs past the 1 s time budget "
                        "(no Lua instruction is counted inside one C call; tests/plugins/pattern-bomb)\n");
    CHECK_INT(rc, 0);
}

/* Sleeps the whole time, through the deadline signals that cut nanosleep short. */
static void sleep_through_signals(double seconds)
{
    struct timespec left = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
    while (nanosleep(&left, &left) < 0 && errno == EINTR)
        continue;
}

/*
 * The deadline timer stays armed after a call, for the calls that follow (lua_runtime.c,
 * arm_timer): it then expires during a later call, before that call's own deadline. Export
 * "c-calls" of tests/plugins/faults-callbacks (utf8.len of 16 MiB in a loop: few instructions,
 * so only the timer stops it in time), begun 0.3 s after a call that armed the timer, must get
 * its whole 0.5 s: stopped neither at the earlier call's deadline nor seconds later. The wait
 * after loading lets the timer that loading armed expire first.
 */
static int child_c_calls_after_an_earlier_call(void)
{
    const char *rels[] = {"faults-callbacks", NULL};
    struct lua_limits limits = {LONG_MAX / 2, 0.5, 64 * MiB};
    char err[1024];
    struct plugins *p = load_with(rels, limits, NULL, 1, err, sizeof err);
    if (!p)
        return 4;
    sleep_through_signals(0.6);
    json_t *doc = dept_doc("72", "x");
    json_t *ind = plugins_indicators(p, doc, NULL, err, sizeof err);
    int rc = ind ? 0 : 5;
    json_decref(ind);
    sleep_through_signals(0.3);
    double started = now();
    char *body = export_text(p, doc, "c-calls", NULL, err, sizeof err);
    double took = now() - started;
    if (!rc)
        rc = body || !contains(err, "the time budget of this call is spent") ? 6
           : took < 0.45 ? 7 : took > 1.5 ? 8 : 0;
    free(body);
    json_decref(doc);
    plugins_free(p);
    return rc;
}

static void test_deadline_of_a_later_call(void)
{
    int rc = run_in_child(child_c_calls_after_an_earlier_call, 10);
    if (rc == 7)
        fprintf(stderr, "    c-calls was stopped at the deadline of the call before it\n");
    if (rc == 8 || rc == -1)
        fprintf(stderr, "    c-calls ran on: the timer that an earlier call armed was not armed again\n");
    CHECK_INT(rc, 0);
}

int main(void)
{
    paths_setup();
    log_set_level(LOG_ERROR); /* the failures these tests cause are logged as warnings */
    struct store *st = open_store_with_docs();
    test_full_loads_and_describes(st);
    test_departments_merge();
    test_indicators();
    test_json_round_trip();
    test_exports(st);
    test_pure_answers(st);
    test_validate_champs();
    test_validators();
    test_on_change();
    test_sandbox_escapes();
    test_sandbox_backdoors();
    test_c_level_loops_are_refused();
    test_instruction_budget();
    test_time_budget();
    test_memory_cap();
    test_collector_hold();
    test_callback_errors();
    test_load_failures();
    test_reload_keeps_old_generation();
    store_close(st);
    test_xpcall_handler_is_bounded();
    test_gc_finalizer_is_bounded();
    test_pattern_bomb_is_bounded();
    test_deadline_of_a_later_call();
    published_clear();
    pool_free();
    tmpdir_remove(tmp_root);
    return check_summary("test_plugins");
}
