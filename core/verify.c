/*
 * verify.c — the invariants of a store, checked from the outside (see verify.h).
 *
 * The environment is opened read-only and every database is walked once, in key order, inside
 * one read transaction. The walks read the layout that store.h and record.h describe rather
 * than going through store.c's code paths, so that a bug of the writing side shows up here as a
 * violation instead of being repeated. Two maps from id to rev tie the walks together: the last
 * revision of each id (from `revs`), and the last change-log entry seen for it.
 */
#include "ctg/verify.h"
#include "ctg/model.h"
#include "ctg/record.h"
#include "ctg/store.h"

#include <jansson.h>
#include <lmdb.h>

#include <stdarg.h>
#include <stdbool.h>
#include <string.h>

#define TEXT_MAX 128 /* bytes of a key read as text (an id, an index value); longer is corrupt */
#define WHERE_MAX 320

struct verify {
    MDB_txn *txn;
    MDB_dbi docs, revs, changes, index[STORE_INDEX_COUNT];
    FILE *out;
    struct verify_counts *counts;
    json_t *last_rev;   /* id -> the rev of its last revision */
    json_t *logged_rev; /* id -> the rev of its last change-log entry read so far */
};

static void violation(struct verify *v, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void violation(struct verify *v, const char *where, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(v->out, "%s: ", where);
    vfprintf(v->out, fmt, ap);
    fputc('\n', v->out);
    va_end(ap);
    v->counts->violations++;
}

/* ---------- reading values ---------- */

/* Copies bytes of a key as a C string; false when they cannot be text (too long, control bytes). */
static bool key_text(const void *data, size_t len, char out[TEXT_MAX])
{
    if (len >= TEXT_MAX)
        return false;
    memcpy(out, data, len);
    out[len] = '\0';
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f)
            return false;
    return true;
}

static json_t *parse_object(const char *text, size_t len)
{
    json_t *v = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(v)) {
        json_decref(v);
        return NULL;
    }
    return v;
}

static unsigned long long ull(uint64_t n)
{
    return (unsigned long long)n;
}

static bool get_value(struct verify *v, MDB_dbi dbi, MDB_val key, MDB_val *val)
{
    return mdb_get(v->txn, dbi, &key, val) == 0;
}

static bool get_doc(struct verify *v, const char *id, MDB_val *val)
{
    return get_value(v, v->docs, (MDB_val){.mv_size = strlen(id), .mv_data = (void *)id}, val);
}

/*
 * Puts the text of docs[id] in the view of a revision of `id` written RECORD_BODY_CURRENT (its
 * document is the current version); false, with why in `why`, when docs has no text at its rev.
 */
static bool resolve_current(struct verify *v, struct record_view *view, const char *id,
                            char why[WHERE_MAX])
{
    MDB_val val = {0};
    struct record_view doc;
    if (view->body_len)
        snprintf(why, WHERE_MAX, "says it is the current version, and holds %zu bytes",
                 view->body_len);
    else if (!get_doc(v, id, &val))
        snprintf(why, WHERE_MAX, "its document is the current version of %s, which is absent", id);
    else if (record_decode(val.mv_data, val.mv_size, &doc) < 0 || doc.kind != RECORD_BODY_TEXT ||
             doc.body_len == 0)
        snprintf(why, WHERE_MAX, "its document is the current version of %s, which holds no text",
                 id);
    else if (doc.rev != view->rev)
        snprintf(why, WHERE_MAX, "its document is the current version of %s, which is at rev %llu",
                 id, ull(doc.rev));
    else {
        record_take_text(view, &doc);
        return true;
    }
    return false;
}

/*
 * Puts the document of a record that is not its own text in place of what it holds: a
 * RECORD_BODY_REVISION record of `owner` (any id when NULL) points at a revision, which holds
 * the document or is the current version; a RECORD_BODY_CURRENT revision of `owner` is the
 * current version. False, with why in `why`, when there is no document.
 */
static bool resolve_body(struct verify *v, struct record_view *view, const char *owner,
                         char why[WHERE_MAX])
{
    MDB_val key = {.mv_size = view->body_len, .mv_data = (void *)view->body}, val;
    struct record_view revision;
    size_t id_len;
    uint64_t rev;
    char id[TEXT_MAX];
    if (view->kind == RECORD_BODY_CURRENT)
        return resolve_current(v, view, owner, why);
    if (view->kind != RECORD_BODY_REVISION)
        return true;
    if (record_revision_key_split(key.mv_data, key.mv_size, &id_len, &rev) < 0 ||
        !key_text(key.mv_data, id_len, id))
        snprintf(why, WHERE_MAX, "its document is in revs under a key that is not <id> NUL <rev>");
    else if (owner && strcmp(id, owner) != 0)
        snprintf(why, WHERE_MAX, "its document is rev %llu of %s, another id", ull(rev), id);
    else if (rev != view->rev)
        snprintf(why, WHERE_MAX, "its document is rev %llu of %s, its header says rev %llu",
                 ull(rev), id, ull(view->rev));
    else if (mdb_get(v->txn, v->revs, &key, &val) != 0)
        snprintf(why, WHERE_MAX, "its document is rev %llu of %s, which is not among its "
                                  "revisions", ull(rev), id);
    else if (record_decode(val.mv_data, val.mv_size, &revision) < 0 ||
             revision.kind == RECORD_BODY_REVISION ||
             (revision.kind == RECORD_BODY_TEXT && revision.body_len == 0))
        snprintf(why, WHERE_MAX, "its document is rev %llu of %s, which holds no document",
                 ull(rev), id);
    else if (revision.kind == RECORD_BODY_CURRENT && !resolve_current(v, &revision, id, why))
        ; /* why says what the current version lacks */
    else {
        record_take_text(view, &revision);
        return true;
    }
    return false;
}

/* record_decode, then resolve_body; false when either fails (the walk of docs says why). */
static bool decode_resolved(struct verify *v, const MDB_val *val, const char *owner,
                            struct record_view *view)
{
    char why[WHERE_MAX];
    return record_decode(val->mv_data, val->mv_size, view) == 0 &&
           resolve_body(v, view, owner, why);
}

/* A stored value: its header, its meta object and its document (NULL when empty). */
struct entry {
    struct record_view view;
    json_t *meta, *doc;
};

static void entry_free(struct entry *e)
{
    json_decref(e->meta);
    json_decref(e->doc);
}

/* What read_entry made of a stored value. */
enum entry_read {
    ENTRY_UNREADABLE,  /* not a record of its place, or its texts are not JSON objects */
    ENTRY_READ,        /* its meta, and its document when it has one */
    ENTRY_NO_DOCUMENT, /* its meta; the document it names elsewhere is not there */
};

/*
 * Reads a stored value of `owner` (any id when NULL), whose document may be elsewhere as
 * `elsewhere` says: in a revision (RECORD_BODY_REVISION: docs, changes) or, for a revision, the
 * current version (RECORD_BODY_CURRENT). Says what is wrong with it.
 */
static enum entry_read read_entry(struct verify *v, const char *where, const MDB_val *val,
                                  enum record_body elsewhere, const char *owner, struct entry *e)
{
    e->meta = e->doc = NULL;
    if (record_decode(val->mv_data, val->mv_size, &e->view) < 0) {
        violation(v, where, "the value is not a record (bad header)");
        return ENTRY_UNREADABLE;
    }
    if (e->view.kind != RECORD_BODY_TEXT && e->view.kind != elsewhere) {
        violation(v, where, "%s", e->view.kind == RECORD_BODY_REVISION
                                      ? "points at a revision: a revision holds its own document"
                                      : "says it is the current version: only a revision may");
        return ENTRY_UNREADABLE;
    }
    char why[WHERE_MAX];
    bool resolved = resolve_body(v, &e->view, owner, why);
    if (!resolved) {
        violation(v, where, "%s", why);
        e->view.body_len = 0;
    }
    e->meta = parse_object(e->view.meta, e->view.meta_len);
    if (e->view.body_len)
        e->doc = parse_object(e->view.body, e->view.body_len);
    if (!e->meta || (e->view.body_len && !e->doc)) {
        violation(v, where, "its %s is not a JSON object", e->meta ? "document" : "meta");
        entry_free(e);
        return ENTRY_UNREADABLE;
    }
    return resolved ? ENTRY_READ : ENTRY_NO_DOCUMENT;
}

static const char *str_of(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

static bool str_is(const json_t *obj, const char *key, const char *want)
{
    const char *s = str_of(obj, key);
    return s && want && strcmp(s, want) == 0;
}

static bool rev_is(const json_t *obj, const char *key, uint64_t want)
{
    json_t *x = json_object_get(obj, key);
    return json_is_integer(x) && json_integer_value(x) >= 0 &&
           (uint64_t)json_integer_value(x) == want;
}

static bool same_bytes(const char *a, size_t a_len, const char *b, size_t b_len)
{
    return a_len == b_len && (a_len == 0 || memcmp(a, b, a_len) == 0);
}

/* Calls `fn` on every key and value of `dbi` (every pair of a DUPSORT one), in order. */
static int walk(struct verify *v, MDB_dbi dbi,
                void (*fn)(struct verify *v, const MDB_val *key, const MDB_val *val, void *arg),
                void *arg)
{
    MDB_cursor *cur;
    MDB_val key, val;
    int rc = mdb_cursor_open(v->txn, dbi, &cur);
    if (rc)
        return rc;
    for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT))
        fn(v, &key, &val, arg);
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* ---------- revs: the history of each id ---------- */

/* What the walk of `revs` knows of the id whose revisions it is reading. */
struct history {
    char id[TEXT_MAX];
    uint64_t rev;          /* the last revision read, 0 before the first */
    int type;              /* its change type, -1 when unreadable */
    const char *body;      /* its document, in the map (empty after a deletion) */
    size_t body_len;
};

/* created starts an id, or starts it again after a deletion; the others follow a live rev. */
static bool type_may_follow(int type, const struct history *h)
{
    bool live = h->rev > 0 && h->type != CHANGE_DELETED;
    return type == CHANGE_CREATED ? !live : live;
}

static void check_revision_fields(struct verify *v, const char *where, const struct history *h,
                                  uint64_t rev, int type, const struct entry *e)
{
    const char *department = str_of(e->meta, "department");
    if (e->view.rev != rev || !rev_is(e->meta, "rev", rev))
        violation(v, where, "its header or meta names another rev");
    if (type < 0)
        violation(v, where, "unknown type '%s'", str_of(e->meta, "type"));
    else if (!type_may_follow(type, h))
        violation(v, where, "a revision '%s' cannot follow %s", change_type_name(type),
                  h->rev == 0                  ? "nothing"
                  : h->type == CHANGE_DELETED ? "a deletion"
                                              : "a live revision");
    if (!department || !model_department_valid(department))
        violation(v, where, "no valid department");
    if (!str_of(e->meta, "at") || !str_of(e->meta, "actor"))
        violation(v, where, "its meta lacks 'at' or 'actor'");
    if (type == CHANGE_DELETED && e->doc)
        violation(v, where, "a deletion holds a document");
    if (type != CHANGE_DELETED && !e->doc)
        violation(v, where, "holds no document");
    if (e->doc && (!str_is(e->doc, "id", h->id) || !rev_is(e->doc, "rev", rev) ||
                   !str_is(e->doc, "department", department)))
        violation(v, where, "its document has another id, rev or department");
}

static void check_revision(struct verify *v, struct history *h, uint64_t rev, const MDB_val *val)
{
    char where[WHERE_MAX];
    snprintf(where, sizeof where, "revs[%s rev %llu]", h->id, ull(rev));
    if (rev != h->rev + 1)
        violation(v, where, "follows rev %llu: the revisions of an id go 1, 2, 3…", ull(h->rev));
    struct entry e;
    int type = -1;
    h->body_len = 0;
    enum entry_read got = read_entry(v, where, val, RECORD_BODY_CURRENT, h->id, &e);
    if (got != ENTRY_UNREADABLE) {
        type = change_type_of(str_of(e.meta, "type"));
        if (got == ENTRY_READ)
            check_revision_fields(v, where, h, rev, type, &e);
        h->body = e.view.body;
        h->body_len = e.view.body_len;
        entry_free(&e);
    }
    h->rev = rev;
    h->type = type;
}

/* After the last revision of an id: the live document is that revision, or there is none. */
static void finish_history(struct verify *v, const struct history *h)
{
    char where[WHERE_MAX];
    MDB_val val;
    struct record_view doc;
    if (h->rev == 0)
        return;
    v->counts->ids++;
    json_object_set_new(v->last_rev, h->id, json_integer((json_int_t)h->rev));
    snprintf(where, sizeof where, "docs[%s]", h->id);
    bool live = get_doc(v, h->id, &val);
    if (h->type == CHANGE_DELETED || !live) {
        if (live || h->type != CHANGE_DELETED)
            violation(v, where, "%s, but its last revision (%llu) is %sa deletion",
                      live ? "is live" : "is absent", ull(h->rev), live ? "" : "not ");
        return;
    }
    if (!decode_resolved(v, &val, h->id, &doc))
        return; /* the walk of docs says so */
    if (doc.rev != h->rev)
        violation(v, where, "is at rev %llu, its last revision is %llu", ull(doc.rev), ull(h->rev));
    else if (!same_bytes(doc.body, doc.body_len, h->body, h->body_len))
        violation(v, where, "differs from its last revision (%llu)", ull(h->rev));
}

static void visit_revision(struct verify *v, const MDB_val *key, const MDB_val *val, void *arg)
{
    struct history *h = arg;
    char id[TEXT_MAX];
    size_t id_len;
    uint64_t rev;
    v->counts->revisions++;
    if (record_revision_key_split(key->mv_data, key->mv_size, &id_len, &rev) < 0 ||
        !key_text(key->mv_data, id_len, id)) {
        violation(v, "revs", "a key of %zu bytes is not <id> NUL <rev>", key->mv_size);
        return;
    }
    if (strcmp(id, h->id) != 0) {
        finish_history(v, h);
        *h = (struct history){.type = -1};
        memcpy(h->id, id, id_len + 1);
        if (!model_id_valid(id))
            violation(v, "revs", "'%s' is not a valid id", id);
    }
    check_revision(v, h, rev, val);
}

static int walk_revisions(struct verify *v)
{
    struct history h = {.type = -1};
    int rc = walk(v, v->revs, visit_revision, &h);
    finish_history(v, &h);
    return rc;
}

/* ---------- docs: the live documents ---------- */

static bool index_holds(struct verify *v, enum store_index index, const char *value,
                        const char *id)
{
    MDB_cursor *cur;
    if (mdb_cursor_open(v->txn, v->index[index], &cur))
        return false;
    MDB_val key = {.mv_size = strlen(value), .mv_data = (void *)value};
    MDB_val data = {.mv_size = strlen(id), .mv_data = (void *)id};
    bool found = mdb_cursor_get(cur, &key, &data, MDB_GET_BOTH) == 0;
    mdb_cursor_close(cur);
    return found;
}

static void check_indexed(struct verify *v, const char *where, const char *id, const json_t *doc)
{
    const char *values[MODEL_ARRAY_MAX];
    for (int i = 0; i < STORE_INDEX_COUNT; i++) {
        size_t n = store_index_values(doc, i, values, MODEL_ARRAY_MAX);
        for (size_t j = 0; j < n; j++)
            if (!index_holds(v, i, values[j], id))
                violation(v, where, "%s lacks it under '%s'", store_index_name(i), values[j]);
    }
}

/* The list summary repeats these fields of the document. */
static void check_summary(struct verify *v, const char *where, const json_t *summary,
                          const json_t *doc)
{
    static const char *const copied[] = {"id", "department", "title", "status", "rev", NULL};
    for (const char *const *key = copied; *key; key++) {
        json_t *want = json_object_get(doc, *key);
        if (want && !json_equal(want, json_object_get(summary, *key)))
            violation(v, where, "its list summary has another '%s'", *key);
    }
}

static void check_model(struct verify *v, const char *where, const json_t *doc)
{
    json_t *details = json_array();
    if (model_validate(doc, details) > 0) {
        json_t *first = json_array_get(details, 0);
        violation(v, where, "breaks the model: %s %s", str_of(first, "path"),
                  str_of(first, "message"));
    }
    json_decref(details);
}

static void visit_document(struct verify *v, const MDB_val *key, const MDB_val *val, void *arg)
{
    (void)arg;
    char id[TEXT_MAX], where[WHERE_MAX];
    struct entry e;
    v->counts->documents++;
    if (!key_text(key->mv_data, key->mv_size, id)) {
        violation(v, "docs", "a key of %zu bytes is not an id", key->mv_size);
        return;
    }
    snprintf(where, sizeof where, "docs[%s]", id);
    enum entry_read got = read_entry(v, where, val, RECORD_BODY_REVISION, id, &e);
    if (got != ENTRY_READ) {
        entry_free(&e);
        return;
    }
    if (!e.doc) {
        violation(v, where, "holds no document");
    } else {
        if (!str_is(e.doc, "id", id) || !rev_is(e.doc, "rev", e.view.rev))
            violation(v, where, "its document has another id, or another rev than its header");
        check_summary(v, where, e.meta, e.doc);
        check_model(v, where, e.doc);
        check_indexed(v, where, id, e.doc);
    }
    if (!json_object_get(v->last_rev, id))
        violation(v, where, "has no revision");
    entry_free(&e);
}

/* ---------- idx_*: every entry names a live document with that value ---------- */

static bool contains(const char **values, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(values[i], s) == 0)
            return true;
    return false;
}

static void visit_index_entry(struct verify *v, const MDB_val *key, const MDB_val *val, void *arg)
{
    enum store_index index = *(const enum store_index *)arg;
    char value[TEXT_MAX], id[TEXT_MAX], where[WHERE_MAX];
    MDB_val doc_val;
    struct record_view doc;
    v->counts->index_entries++;
    if (!key_text(key->mv_data, key->mv_size, value) || !key_text(val->mv_data, val->mv_size, id)) {
        violation(v, store_index_name(index), "an entry is not text");
        return;
    }
    snprintf(where, sizeof where, "%s[%s -> %s]", store_index_name(index), value, id);
    if (!get_doc(v, id, &doc_val)) {
        violation(v, where, "names no live document");
        return;
    }
    json_t *parsed;
    if (!decode_resolved(v, &doc_val, id, &doc) || !(parsed = parse_object(doc.body, doc.body_len)))
        return; /* the walk of docs says so */
    const char *values[MODEL_ARRAY_MAX];
    if (!contains(values, store_index_values(parsed, index, values, MODEL_ARRAY_MAX), value))
        violation(v, where, "the document does not have this value");
    json_decref(parsed);
}

/* ---------- changes: the log, against the revisions ---------- */

/* The entry must be the revision it names: same type, department and document. */
static void check_change_is_revision(struct verify *v, const char *where, const char *id,
                                     int type, const struct entry *e)
{
    unsigned char buf[TEXT_MAX + RECORD_REVISION_KEY_EXTRA];
    MDB_val val;
    struct record_view rev;
    uint64_t n = e->view.rev;
    if (!model_id_valid(id)) {
        violation(v, where, "names the invalid id '%s'", id);
        return;
    }
    MDB_val key = {.mv_size = record_revision_key(buf, id, n), .mv_data = buf};
    if (!get_value(v, v->revs, key, &val)) {
        violation(v, where, "names rev %llu of %s, which is not among its revisions", ull(n), id);
        return;
    }
    char why[WHERE_MAX];
    if (record_decode(val.mv_data, val.mv_size, &rev) < 0 || !resolve_body(v, &rev, id, why))
        return; /* the walk of revs says so */
    json_t *meta = parse_object(rev.meta, rev.meta_len);
    if (!str_is(meta, "type", change_type_name(type)) ||
        !str_is(meta, "department", str_of(e->meta, "department")))
        violation(v, where, "its type or department is not that of rev %llu of %s", ull(n), id);
    json_decref(meta);
    if (!same_bytes(rev.body, rev.body_len, e->view.body, e->view.body_len))
        violation(v, where, "its document differs from rev %llu of %s", ull(n), id);
}

/* The entries of an id go up one rev at a time. */
static void check_change_order(struct verify *v, const char *where, const char *id, uint64_t rev)
{
    uint64_t before = (uint64_t)json_integer_value(json_object_get(v->logged_rev, id));
    if (rev != before + 1)
        violation(v, where, "rev %llu of %s comes after its rev %llu in the log", ull(rev), id,
                  ull(before));
    json_object_set_new(v->logged_rev, id, json_integer((json_int_t)rev));
}

static void check_change(struct verify *v, const char *where, uint64_t seq, const MDB_val *val)
{
    struct entry e;
    enum entry_read got = read_entry(v, where, val, RECORD_BODY_REVISION, NULL, &e);
    if (got == ENTRY_UNREADABLE)
        return;
    int type = change_type_of_event(str_of(e.meta, "type"));
    const char *id = str_of(e.meta, "id");
    if (!rev_is(e.meta, "seq", seq) || !rev_is(e.meta, "rev", e.view.rev))
        violation(v, where, "its event names another seq, or another rev than its header");
    if (type < 0 || !id || !str_of(e.meta, "department") || !str_of(e.meta, "at") ||
        !str_of(e.meta, "actor") || !json_is_array(json_object_get(e.meta, "changed"))) {
        violation(v, where, "its event lacks a field of SPEC §4 (type, id, department, at, "
                            "actor, changed)");
    } else {
        if (got == ENTRY_READ) /* else the revision it names says why it has no document */
            check_change_is_revision(v, where, id, type, &e);
        check_change_order(v, where, id, e.view.rev);
    }
    entry_free(&e);
}

static void visit_change(struct verify *v, const MDB_val *key, const MDB_val *val, void *arg)
{
    (void)arg;
    char where[WHERE_MAX];
    v->counts->changes++;
    if (key->mv_size != 8) {
        violation(v, "changes", "a key of %zu bytes is not a seq", key->mv_size);
        return;
    }
    uint64_t seq = record_get_u64_be(key->mv_data);
    snprintf(where, sizeof where, "changes[seq %llu]", ull(seq));
    if (seq != v->counts->last_seq + 1)
        violation(v, where, "follows seq %llu: the change log has a gap", ull(v->counts->last_seq));
    v->counts->last_seq = seq;
    check_change(v, where, seq, val);
}

/* Every revision has its entry: the log of each id reaches its last revision. */
static void check_every_revision_logged(struct verify *v)
{
    const char *id;
    json_t *rev;
    json_object_foreach(v->last_rev, id, rev) {
        json_int_t logged = json_integer_value(json_object_get(v->logged_rev, id));
        if (logged != json_integer_value(rev))
            violation(v, "changes", "the log of %s ends at rev %lld, its revisions at %lld", id,
                      (long long)logged, (long long)json_integer_value(rev));
    }
}

/* ---------- the whole store ---------- */

static int walk_store(struct verify *v)
{
    int rc = walk_revisions(v);
    if (!rc)
        rc = walk(v, v->docs, visit_document, NULL);
    for (enum store_index i = 0; i < STORE_INDEX_COUNT && !rc; i++)
        rc = walk(v, v->index[i], visit_index_entry, &i);
    if (!rc)
        rc = walk(v, v->changes, visit_change, NULL);
    if (!rc)
        check_every_revision_logged(v);
    return rc;
}

/* A read-only environment and one read transaction over it: the snapshot that is checked. */
static int open_snapshot(const char *dir, MDB_env **env, MDB_txn **txn)
{
    int rc = mdb_env_create(env);
    if (!rc)
        rc = mdb_env_set_maxdbs(*env, 8);
    if (!rc)
        rc = mdb_env_open(*env, dir, MDB_RDONLY, 0600);
    if (!rc)
        rc = mdb_txn_begin(*env, NULL, MDB_RDONLY, txn);
    if (rc == MDB_MAP_RESIZED) { /* a serving ctgd grew the map since we opened it */
        rc = mdb_env_set_mapsize(*env, 0);
        if (!rc)
            rc = mdb_txn_begin(*env, NULL, MDB_RDONLY, txn);
    }
    return rc;
}

static int open_database(struct verify *v, const char *name, unsigned flags, MDB_dbi *dbi,
                         char *err, size_t errlen)
{
    int rc = mdb_dbi_open(v->txn, name, flags, dbi);
    if (rc)
        snprintf(err, errlen, "no database '%s': %s", name, mdb_strerror(rc));
    return rc ? -1 : 0;
}

static int open_databases(struct verify *v, char *err, size_t errlen)
{
    if (open_database(v, "docs", 0, &v->docs, err, errlen) < 0 ||
        open_database(v, "revs", 0, &v->revs, err, errlen) < 0 ||
        open_database(v, "changes", 0, &v->changes, err, errlen) < 0)
        return -1;
    for (int i = 0; i < STORE_INDEX_COUNT; i++)
        if (open_database(v, store_index_name(i), MDB_DUPSORT, &v->index[i], err, errlen) < 0)
            return -1;
    return 0;
}

int verify_store(const char *dir, FILE *out, struct verify_counts *counts, char *err,
                 size_t errlen)
{
    struct verify v = {.out = out, .counts = counts};
    MDB_env *env = NULL;
    memset(counts, 0, sizeof *counts);
    char why[256];
    int rc = open_snapshot(dir, &env, &v.txn);
    if (rc) {
        snprintf(err, errlen, "cannot open the store in %s: %s", dir, mdb_strerror(rc));
    } else if (open_databases(&v, why, sizeof why) < 0) {
        snprintf(err, errlen, "the store in %s is not whole: %s", dir, why);
        rc = -1;
    } else {
        v.last_rev = json_object();
        v.logged_rev = json_object();
        rc = walk_store(&v);
        if (rc)
            snprintf(err, errlen, "cannot read the store in %s: %s", dir, mdb_strerror(rc));
    }
    json_decref(v.last_rev);
    json_decref(v.logged_rev);
    if (v.txn)
        mdb_txn_abort(v.txn);
    mdb_env_close(env);
    return rc ? -1 : 0;
}
