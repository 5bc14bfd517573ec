/*
 * test_verify.c — the store checker (core/verify.c) behind `ctgd --verify`.
 *
 * A sound store, written through the real write pipeline (creates, a patch, a deletion and a
 * re-creation), must verify with no violation and the right counts. Then each kind of damage
 * is made with raw LMDB writes on a fresh copy of that store, and must be reported: by the line
 * that names it, and by the count. The raw reads and writes also check the layout: the change
 * log points at revisions; and a store of the first format, each document also in changes,
 * still verifies and reads, as does one whose current versions point at their revisions.
 */
#include "ctg/record.h"
#include "ctg/store.h"
#include "ctg/wal.h"
#include "ctg/verify.h"
#include "ctg/writes.h"

#include <lmdb.h>

#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "tmpdir.h"

#define MiB ((size_t)1024 * 1024)

static char tmp_root[3000];

static char name_ops[] = "ops";
static const struct token admin = {.name = name_ops, .role = ROLE_ADMIN, .all_departments = true};

/* ---------- a sound store ---------- */

static void write_ok(struct store *st, enum write_kind kind, const char *id, const char *body,
                     uint64_t rev)
{
    json_t *parsed = json_loads(body, 0, NULL);
    struct write_request w = {
        .kind = kind, .id = id, .body = parsed, .who = &admin,
        .claim = {.given = rev > 0, .rev = rev},
    };
    struct write_outcome out;
    write_convention(st, &w, &out);
    if (out.status != 200 && out.status != 201)
        fprintf(stderr, "write of %s: %d %s\n", id ? id : "(new)", out.status, out.message);
    CHECK(out.status == 200 || out.status == 201);
    write_outcome_clear(&out);
    json_decref(parsed);
}

/*
 * Three ids, six changes: a (created, patched), b (created, deleted, created again at rev 3),
 * c (created). Live: a, b, c; index entries: 3 departments, 3 statuses, 2 champs (c has none).
 */
static void build_sound_store(const char *dir)
{
    char err[512] = "";
    struct store_options opt = {dir, 1 * MiB, 64 * MiB, WAL_SIZE_MIN};
    struct store *st = store_open(&opt, err, sizeof err);
    if (!st) {
        fprintf(stderr, "store_open(%s): %s\n", dir, err);
        exit(2);
    }
    write_ok(st, WRITE_CREATE, NULL,
             "{\"id\": \"a-conv\", \"department\": \"29\", \"title\": \"CTG du Pays Bigouden Sud\","
             " \"status\": \"action_plan\", \"champs\": [\"jeunesse\"],"
             " \"period\": {\"start\": \"2020-01-01\", \"end\": \"2023-12-31\"}}", 0);
    write_ok(st, WRITE_CREATE, NULL,
             "{\"id\": \"b-conv\", \"department\": \"49\", \"title\": \"CTG de Saumur\","
             " \"status\": \"preparation\", \"champs\": [\"logement\"],"
             " \"period\": {\"start\": \"2022-01-01\", \"end\": \"2025-12-31\"}}", 0);
    write_ok(st, WRITE_PATCH, "a-conv", "{\"status\": \"monitoring\", \"champs\": [\"logement\"]}",
             1);
    write_ok(st, WRITE_DELETE, "b-conv", "{}", 1);
    write_ok(st, WRITE_REPLACE, "b-conv",
             "{\"department\": \"49\", \"title\": \"CTG de Saumur Agglo\", \"status\": \"closed\","
             " \"champs\": [\"jeunesse\"],"
             " \"period\": {\"start\": \"2022-01-01\", \"end\": \"2025-12-31\"}}", 0);
    write_ok(st, WRITE_CREATE, NULL,
             "{\"id\": \"c-conv\", \"department\": \"2A\", \"title\": \"CTG du Grand Ajaccio\","
             " \"status\": \"diagnostic\", \"period\": {\"start\": \"2021-01-01\","
             " \"end\": \"2024-12-31\"}}", 0);
    store_close(st);
}

/* ---------- running the checker ---------- */

struct report {
    int rc;
    struct verify_counts counts;
    char *text; /* every violation line */
};

static struct report run_verify(const char *dir)
{
    struct report r = {0};
    size_t len;
    char err[1024] = "";
    FILE *out = open_memstream(&r.text, &len);
    r.rc = verify_store(dir, out, &r.counts, err, sizeof err);
    fclose(out);
    if (r.rc < 0)
        fprintf(stderr, "verify_store(%s): %s\n", dir, err);
    return r;
}

/* The store in `dir` verifies with no violation. */
static void check_sound(const char *dir)
{
    struct report r = run_verify(dir);
    CHECK_INT(r.rc, 0);
    CHECK_INT(r.counts.violations, 0);
    CHECK_STR(r.text, "");
    free(r.text);
}

/* The report has `violations` lines, one of them containing `line`. */
static void check_reported(const struct report *r, uint64_t violations, const char *line)
{
    CHECK_INT(r->rc, 0);
    CHECK_INT(r->counts.violations, violations);
    bool found = r->text && strstr(r->text, line);
    if (!found || r->counts.violations != violations)
        fprintf(stderr, "want %llu violations, with \"%s\"; the report:\n%s",
                (unsigned long long)violations, line, r->text ? r->text : "");
    CHECK(found);
}

static void make_dir_name(char *out, size_t len, const char *name)
{
    snprintf(out, len, "%s/%s", tmp_root, name);
}

static void test_sound_store_verifies(void)
{
    char dir[3100];
    make_dir_name(dir, sizeof dir, "sound");
    build_sound_store(dir);
    struct report r = run_verify(dir);
    CHECK_INT(r.rc, 0);
    CHECK_INT(r.counts.violations, 0);
    CHECK_STR(r.text, "");
    CHECK_INT(r.counts.ids, 3);
    CHECK_INT(r.counts.documents, 3);
    CHECK_INT(r.counts.revisions, 6);
    CHECK_INT(r.counts.changes, 6);
    CHECK_INT(r.counts.last_seq, 6);
    CHECK_INT(r.counts.index_entries, 8);
    free(r.text);
}

static void test_missing_store_is_an_error(void)
{
    char dir[3100], err[512] = "";
    struct verify_counts counts;
    make_dir_name(dir, sizeof dir, "never-made");
    CHECK_INT(verify_store(dir, stdout, &counts, err, sizeof err), -1);
    CHECK(strstr(err, "never-made") != NULL);
}

/* ---------- damage, made with raw LMDB writes ---------- */

struct raw {
    MDB_env *env;
    MDB_txn *txn;
};

static MDB_dbi raw_db(struct raw *r, const char *name)
{
    MDB_dbi dbi = 0;
    unsigned flags = strncmp(name, "idx_", 4) == 0 ? MDB_DUPSORT : 0;
    CHECK_INT(mdb_dbi_open(r->txn, name, flags, &dbi), 0);
    return dbi;
}

static MDB_val text_val(const char *s)
{
    return (MDB_val){.mv_size = strlen(s), .mv_data = (void *)s};
}

static MDB_val seq_key(uint64_t seq, unsigned char buf[8])
{
    record_put_u64_be(seq, buf);
    return (MDB_val){.mv_size = 8, .mv_data = buf};
}

static MDB_val revision_key(const char *id, uint64_t rev, unsigned char *buf)
{
    return (MDB_val){.mv_size = record_revision_key(buf, id, rev), .mv_data = buf};
}

static void raw_del(struct raw *r, const char *db, MDB_val key, const char *dup)
{
    MDB_val data = dup ? text_val(dup) : (MDB_val){0};
    CHECK_INT(mdb_del(r->txn, raw_db(r, db), &key, dup ? &data : NULL), 0);
}

static void raw_put(struct raw *r, const char *db, MDB_val key, MDB_val val)
{
    CHECK_INT(mdb_put(r->txn, raw_db(r, db), &key, &val, 0), 0);
}

static char *copy_bytes(const char *bytes, size_t len)
{
    char *copy = malloc(len + 1);
    memcpy(copy, bytes, len);
    copy[len] = '\0';
    return copy;
}

static void raw_put_record(struct raw *r, const char *db, MDB_val key, enum record_body kind,
                           uint64_t rev, const char *meta, size_t meta_len, const char *body,
                           size_t body_len)
{
    size_t size = record_size(meta_len, body_len);
    unsigned char *buf = malloc(size);
    record_encode(buf, kind, rev, meta, meta_len, body, body_len);
    raw_put(r, db, key, (MDB_val){.mv_size = size, .mv_data = buf});
    free(buf);
}

/*
 * Rewrites the record under `key` with another rev in its header and/or another body (`from`
 * replaced by `to`, of the same length, in a text body).
 */
static void raw_rewrite(struct raw *r, const char *db, MDB_val key, uint64_t rev_delta,
                        const char *from, const char *to)
{
    MDB_val val;
    struct record_view v;
    CHECK_INT(mdb_get(r->txn, raw_db(r, db), &key, &val), 0);
    CHECK_INT(record_decode(val.mv_data, val.mv_size, &v), 0);
    char *body = copy_bytes(v.body, v.body_len), *meta = copy_bytes(v.meta, v.meta_len);
    char *at = from ? strstr(body, from) : NULL;
    if (from) {
        CHECK(at != NULL && strlen(from) == strlen(to));
        if (at)
            memcpy(at, to, strlen(to));
    }
    raw_put_record(r, db, key, v.kind, v.rev + rev_delta, meta, v.meta_len, body, v.body_len);
    free(body);
    free(meta);
}

/* The text of the revision under `rev_key`: its own, or the current version's (docs). */
static struct record_view raw_revision_text(struct raw *r, MDB_val rev_key)
{
    MDB_val val, doc_val;
    struct record_view rev, doc;
    CHECK_INT(mdb_get(r->txn, raw_db(r, "revs"), &rev_key, &val), 0);
    CHECK_INT(record_decode(val.mv_data, val.mv_size, &rev), 0);
    if (rev.kind != RECORD_BODY_CURRENT)
        return rev;
    MDB_val id = {.mv_size = rev_key.mv_size - RECORD_REVISION_KEY_EXTRA,
                  .mv_data = rev_key.mv_data};
    CHECK_INT(mdb_get(r->txn, raw_db(r, "docs"), &id, &doc_val), 0);
    CHECK_INT(record_decode(doc_val.mv_data, doc_val.mv_size, &doc), 0);
    rev.kind = RECORD_BODY_TEXT;
    rev.body = doc.body;
    rev.body_len = doc.body_len;
    return rev;
}

/*
 * Rewrites a record that points elsewhere for its document as the first format did: the
 * document inline, in a record that points at its revision (docs, changes) or a revision that
 * is the current version.
 */
static void raw_inline(struct raw *r, const char *db, MDB_val key)
{
    MDB_val val;
    struct record_view v, rev;
    CHECK_INT(mdb_get(r->txn, raw_db(r, db), &key, &val), 0);
    CHECK_INT(record_decode(val.mv_data, val.mv_size, &v), 0);
    if (v.kind == RECORD_BODY_TEXT)
        return; /* a deletion's change holds nothing; a superseded revision holds its text */
    MDB_val rev_key = {.mv_size = v.body_len, .mv_data = (void *)v.body};
    rev = raw_revision_text(r, v.kind == RECORD_BODY_REVISION ? rev_key : key);
    char *meta = copy_bytes(v.meta, v.meta_len), *body = copy_bytes(rev.body, rev.body_len);
    raw_put_record(r, db, key, RECORD_BODY_TEXT, v.rev, meta, v.meta_len, body, rev.body_len);
    free(meta);
    free(body);
}

/* The store as the version before this one wrote it: each last revision holds its text too. */
static void raw_inline_last_revisions(struct raw *r)
{
    const char *ids[] = {"a-conv", "b-conv", "c-conv"};
    const uint64_t last_rev[] = {2, 3, 1};
    unsigned char buf[64];
    for (size_t i = 0; i < 3; i++)
        raw_inline(r, "revs", revision_key(ids[i], last_rev[i], buf));
}

/* Rewrites every record of docs, changes and revs as the first format did (see raw_inline). */
static void raw_inline_all(struct raw *r)
{
    const char *ids[] = {"a-conv", "b-conv", "c-conv"};
    unsigned char buf[8];
    for (size_t i = 0; i < 3; i++)
        raw_inline(r, "docs", text_val(ids[i]));
    for (uint64_t seq = 1; seq <= 6; seq++)
        raw_inline(r, "changes", seq_key(seq, buf));
    raw_inline_last_revisions(r);
}

/* Builds a sound store in its own folder `dir`, then rewrites it with raw writes (`damage`). */
static void build_damaged_store(char dir[3100], const char *name, void (*damage)(struct raw *r))
{
    struct raw r;
    make_dir_name(dir, 3100, name);
    build_sound_store(dir);
    CHECK_INT(mdb_env_create(&r.env), 0);
    CHECK_INT(mdb_env_set_maxdbs(r.env, 8), 0);
    CHECK_INT(mdb_env_set_mapsize(r.env, 64 * MiB), 0);
    CHECK_INT(mdb_env_open(r.env, dir, 0, 0600), 0);
    CHECK_INT(mdb_txn_begin(r.env, NULL, 0, &r.txn), 0);
    damage(&r);
    CHECK_INT(mdb_txn_commit(r.txn), 0);
    mdb_env_close(r.env);
}

/* Builds a sound store in its own folder, damages it with `damage`, verifies it. */
static struct report verify_damaged(const char *name, void (*damage)(struct raw *r))
{
    char dir[3100];
    build_damaged_store(dir, name, damage);
    return run_verify(dir);
}

static void drop_index_entry(struct raw *r)
{
    raw_del(r, "idx_status", text_val("monitoring"), "a-conv");
}

static void add_stray_index_entries(struct raw *r)
{
    raw_put(r, "idx_champ", text_val("sport"), text_val("a-conv"));
    raw_put(r, "idx_department", text_val("29"), text_val("z-gone"));
}

static void drop_change(struct raw *r)
{
    unsigned char buf[8];
    raw_del(r, "changes", seq_key(3, buf), NULL); /* the patch of a-conv */
}

static void bump_doc_rev(struct raw *r)
{
    raw_rewrite(r, "docs", text_val("a-conv"), 1, NULL, NULL);
}

/* The record under `key` points at rev `rev` of `target`, under a header of that rev. */
static void raw_point(struct raw *r, const char *db, MDB_val key, const char *target, uint64_t rev)
{
    unsigned char ref[64];
    MDB_val val;
    struct record_view v;
    CHECK_INT(mdb_get(r->txn, raw_db(r, db), &key, &val), 0);
    CHECK_INT(record_decode(val.mv_data, val.mv_size, &v), 0);
    char *meta = copy_bytes(v.meta, v.meta_len);
    MDB_val to = revision_key(target, rev, ref);
    raw_put_record(r, db, key, RECORD_BODY_REVISION, rev, meta, v.meta_len, to.mv_data,
                   to.mv_size);
    free(meta);
}

static void point_doc_at(struct raw *r, const char *id, const char *target, uint64_t rev)
{
    raw_point(r, "docs", text_val(id), target, rev);
}

static void point_doc_at_old_revision(struct raw *r)
{
    point_doc_at(r, "a-conv", "a-conv", 1);
}

static void point_doc_at_deletion(struct raw *r)
{
    point_doc_at(r, "b-conv", "b-conv", 2);
}

static void point_doc_at_another_id(struct raw *r)
{
    point_doc_at(r, "c-conv", "a-conv", 1);
}

static void drop_live_revision(struct raw *r)
{
    unsigned char buf[64];
    raw_del(r, "revs", revision_key("c-conv", 1, buf), NULL);
}

/* The current version of a-conv points at its revision, under a header one rev ahead. */
static void bump_doc_pointer_rev(struct raw *r)
{
    point_doc_at(r, "a-conv", "a-conv", 2);
    raw_rewrite(r, "docs", text_val("a-conv"), 1, NULL, NULL);
}

static void point_then_drop_live_revision(struct raw *r)
{
    point_doc_at(r, "c-conv", "c-conv", 1);
    drop_live_revision(r);
}

static void change_doc_body(struct raw *r)
{
    raw_inline(r, "docs", text_val("c-conv"));
    raw_rewrite(r, "docs", text_val("c-conv"), 0, "Grand Ajaccio", "Grand Ajacciu");
}

static void drop_first_revision(struct raw *r)
{
    unsigned char buf[64];
    raw_del(r, "revs", revision_key("a-conv", 1, buf), NULL);
}

static void drop_live_doc(struct raw *r)
{
    raw_del(r, "docs", text_val("c-conv"), NULL);
}

static void garble_doc(struct raw *r)
{
    raw_put(r, "docs", text_val("b-conv"), text_val("not a record at all"));
}

static void garble_first_revision(struct raw *r)
{
    unsigned char buf[64];
    raw_put(r, "revs", revision_key("a-conv", 1, buf), text_val("not a record at all"));
}

static void change_logged_doc(struct raw *r)
{
    unsigned char buf[8];
    raw_inline(r, "changes", seq_key(6, buf));
    raw_rewrite(r, "changes", seq_key(6, buf), 0, "Grand Ajaccio", "Grand Ajacciu");
}

/* The change of c-conv's creation points at b-conv's first revision. */
static void point_change_at_another_id(struct raw *r)
{
    unsigned char buf[8];
    raw_point(r, "changes", seq_key(6, buf), "b-conv", 1);
}

/* A revision that points at another, where it must hold its document. */
static void point_revision_elsewhere(struct raw *r)
{
    unsigned char buf[64];
    raw_point(r, "revs", revision_key("c-conv", 1, buf), "a-conv", 1);
}

/* The record under `key` says its document is the current version (RECORD_BODY_CURRENT). */
static void raw_make_current(struct raw *r, const char *db, MDB_val key)
{
    MDB_val val;
    struct record_view v;
    CHECK_INT(mdb_get(r->txn, raw_db(r, db), &key, &val), 0);
    CHECK_INT(record_decode(val.mv_data, val.mv_size, &v), 0);
    char *meta = copy_bytes(v.meta, v.meta_len);
    raw_put_record(r, db, key, RECORD_BODY_CURRENT, v.rev, meta, v.meta_len, NULL, 0);
    free(meta);
}

/* A superseded revision that says it is the current version: its text is lost. */
static void make_old_revision_current(struct raw *r)
{
    unsigned char buf[64];
    raw_make_current(r, "revs", revision_key("a-conv", 1, buf));
}

/* c-conv's revision says it is the current version, and holds bytes all the same. */
static void make_current_hold_bytes(struct raw *r)
{
    unsigned char buf[64];
    MDB_val key = revision_key("c-conv", 1, buf), val;
    struct record_view v;
    CHECK_INT(mdb_get(r->txn, raw_db(r, "revs"), &key, &val), 0);
    CHECK_INT(record_decode(val.mv_data, val.mv_size, &v), 0);
    char *meta = copy_bytes(v.meta, v.meta_len);
    raw_put_record(r, "revs", key, RECORD_BODY_CURRENT, v.rev, meta, v.meta_len, "{}", 2);
    free(meta);
}

static void make_doc_current(struct raw *r)
{
    raw_make_current(r, "docs", text_val("c-conv"));
}

static void make_change_current(struct raw *r)
{
    unsigned char buf[8];
    raw_make_current(r, "changes", seq_key(6, buf));
}

static void point_then_point_revision_elsewhere(struct raw *r)
{
    point_doc_at(r, "c-conv", "c-conv", 1);
    point_revision_elsewhere(r);
}

static void check_points_at(struct raw *r, const char *db, MDB_val key, const char *id,
                            uint64_t rev)
{
    unsigned char want[64];
    MDB_val val, ref = revision_key(id, rev, want);
    struct record_view v;
    CHECK_INT(mdb_get(r->txn, raw_db(r, db), &key, &val), 0);
    CHECK_INT(record_decode(val.mv_data, val.mv_size, &v), 0);
    CHECK_INT(v.kind, RECORD_BODY_REVISION);
    CHECK(v.body_len == ref.mv_size && memcmp(v.body, ref.mv_data, ref.mv_size) == 0);
}

/* The record under `key` is of kind `kind`, with no body. */
static void check_holds_nothing(struct raw *r, const char *db, MDB_val key, enum record_body kind)
{
    MDB_val val;
    struct record_view v;
    CHECK_INT(mdb_get(r->txn, raw_db(r, db), &key, &val), 0);
    CHECK_INT(record_decode(val.mv_data, val.mv_size, &v), 0);
    CHECK_INT(v.kind, kind);
    CHECK_INT(v.body_len, 0);
}

/* The record under `key` holds a document's text, with `fragment` in it. */
static void check_holds_text(struct raw *r, const char *db, MDB_val key, const char *fragment)
{
    MDB_val val;
    struct record_view v;
    CHECK_INT(mdb_get(r->txn, raw_db(r, db), &key, &val), 0);
    CHECK_INT(record_decode(val.mv_data, val.mv_size, &v), 0);
    CHECK_INT(v.kind, RECORD_BODY_TEXT);
    char *text = copy_bytes(v.body, v.body_len);
    CHECK(strstr(text, fragment) != NULL);
    free(text);
}

/*
 * A document is written once, as the current version, which a GET serves: its revision says so
 * (RECORD_BODY_CURRENT) until a write supersedes it, which gives it the text. The change log
 * holds the key of the revision, and a deletion's change holds nothing.
 */
static void test_change_log_points_at_revisions(void)
{
    char dir[3100];
    struct raw r;
    unsigned char buf[8], rev[64];
    make_dir_name(dir, sizeof dir, "log-points");
    build_sound_store(dir);
    CHECK_INT(mdb_env_create(&r.env), 0);
    CHECK_INT(mdb_env_set_maxdbs(r.env, 8), 0);
    CHECK_INT(mdb_env_open(r.env, dir, MDB_RDONLY, 0600), 0);
    CHECK_INT(mdb_txn_begin(r.env, NULL, MDB_RDONLY, &r.txn), 0);
    check_holds_text(&r, "docs", text_val("a-conv"), "\"status\":\"monitoring\"");
    check_holds_nothing(&r, "revs", revision_key("a-conv", 2, rev), RECORD_BODY_CURRENT);
    check_holds_text(&r, "revs", revision_key("a-conv", 1, rev), "\"status\":\"action_plan\"");
    /* b-conv: created, deleted (which gave rev 1 its text), created again */
    check_holds_text(&r, "revs", revision_key("b-conv", 1, rev), "\"title\":\"CTG de Saumur\"");
    check_holds_nothing(&r, "revs", revision_key("b-conv", 2, rev), RECORD_BODY_TEXT);
    check_holds_nothing(&r, "revs", revision_key("b-conv", 3, rev), RECORD_BODY_CURRENT);
    check_holds_nothing(&r, "revs", revision_key("c-conv", 1, rev), RECORD_BODY_CURRENT);
    check_points_at(&r, "changes", seq_key(3, buf), "a-conv", 2);
    check_points_at(&r, "changes", seq_key(5, buf), "b-conv", 3);
    check_holds_nothing(&r, "changes", seq_key(4, buf), RECORD_BODY_TEXT); /* b-conv's deletion */
    mdb_txn_abort(r.txn);
    mdb_env_close(r.env);
}

static int count_change_with_doc(uint64_t seq, const struct record_view *change, void *arg)
{
    (void)seq;
    size_t *n = arg;
    *n += change->body_len > 0 && memchr(change->body, '{', change->body_len) == change->body;
    return 0;
}

/*
 * Opens the sound store in `dir` (in either layout) and checks what its reads give: `id`'s
 * document holds `want`, every change but the deletion has its document, and the list of
 * department 49 has b-conv's. Returns the store, open.
 */
static struct store *open_and_check_reads(const char *dir, const char *id, const char *want)
{
    char err[512] = "";
    struct store_options opt = {dir, 1 * MiB, 64 * MiB, WAL_SIZE_MIN};
    struct store *st = store_open(&opt, err, sizeof err);
    CHECK(st != NULL);
    if (!st)
        exit(2);
    struct record_view doc;
    size_t with_doc = 0;
    CHECK_INT(store_read_begin(st), STORE_OK);
    CHECK_INT(store_get_doc(st, id, &doc), STORE_OK);
    char *text = copy_bytes(doc.body, doc.body_len);
    CHECK(strstr(text, want) != NULL);
    free(text);
    CHECK_INT(store_each_change(st, 0, count_change_with_doc, &with_doc), STORE_OK);
    store_read_end(st);
    CHECK_INT(with_doc, 5);
    struct store_query q = {.department = "49", .limit = 10};
    struct json_texts texts = {0};
    CHECK_INT(store_list_texts(st, &q, &texts), STORE_OK);
    CHECK_INT(texts.n, 1);
    if (texts.n == 1) {
        char *listed = copy_bytes(texts.buf, texts.ends[0]);
        CHECK(strstr(listed, "Saumur Agglo") != NULL);
        free(listed);
    }
    json_texts_clear(&texts);
    return st;
}

/* store_get_revision gives rev `rev` of `id`, with `fragment` in its document. */
static void check_revision_holds(struct store *st, const char *id, uint64_t rev,
                                 const char *fragment)
{
    struct record_view view;
    CHECK_INT(store_read_begin(st), STORE_OK);
    CHECK_INT(store_get_revision(st, id, rev, &view), STORE_OK);
    char *text = copy_bytes(view.body, view.body_len);
    CHECK(strstr(text, fragment) != NULL);
    free(text);
    store_read_end(st);
}

/* As some versions wrote it: the revision holds the text, the current version points at it. */
static void point_doc_at_its_revision(struct raw *r)
{
    unsigned char buf[64];
    raw_inline(r, "revs", revision_key("a-conv", 2, buf));
    point_doc_at(r, "a-conv", "a-conv", 2);
}

/* What the store reads of a sound store: every document, the log's through its pointers. */
static void test_store_reads_through_pointers(void)
{
    char dir[3100];
    make_dir_name(dir, sizeof dir, "reads-through");
    build_sound_store(dir);
    store_close(open_and_check_reads(dir, "a-conv", "\"status\":\"monitoring\""));
    check_sound(dir);
}

/*
 * Two writes to one id in one transaction (a batch of the write queue): the first one's
 * revision, superseded by the second inside the transaction, keeps its text.
 */
static void test_batch_keeps_superseded_text(void)
{
    char dir[3100], err[512] = "";
    make_dir_name(dir, sizeof dir, "batch-twice");
    struct store_options opt = {dir, 1 * MiB, 64 * MiB, WAL_SIZE_MIN};
    struct store *st = store_open(&opt, err, sizeof err);
    CHECK(st != NULL);
    json_t *first = json_loads("{\"id\": \"d-conv\", \"department\": \"30\", \"title\": \"CTG "
                               "d'Ales\", \"status\": \"preparation\", \"period\": {\"start\": "
                               "\"2023-01-01\", \"end\": \"2026-12-31\"}}", 0, NULL);
    json_t *second = json_loads("{\"status\": \"diagnostic\"}", 0, NULL);
    struct write_request w[2] = {
        {.kind = WRITE_CREATE, .body = first, .who = &admin},
        {.kind = WRITE_PATCH, .id = "d-conv", .body = second, .who = &admin,
         .claim = {.given = true, .rev = 1}},
    };
    struct write_outcome out[2];
    write_conventions(st, w, out, 2);
    CHECK_INT(out[0].status, 201);
    CHECK_INT(out[1].status, 200);
    write_outcome_clear(&out[0]);
    write_outcome_clear(&out[1]);
    json_decref(first);
    json_decref(second);
    check_revision_holds(st, "d-conv", 1, "\"status\":\"preparation\"");
    check_revision_holds(st, "d-conv", 2, "\"status\":\"diagnostic\"");
    store_close(st);
    check_sound(dir);
}

/* A current version that points at a wrong revision is an error to the store, not a document. */
static void test_store_refuses_bad_pointers(void)
{
    struct {
        const char *name, *id;
        void (*damage)(struct raw *r);
    } cases[] = {
        {"refused-deletion", "b-conv", point_doc_at_deletion},
        {"refused-another-id", "c-conv", point_doc_at_another_id},
        {"refused-lost", "c-conv", point_then_drop_live_revision},
        {"refused-revision-points", "c-conv", point_then_point_revision_elsewhere},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char dir[3100], err[512] = "";
        build_damaged_store(dir, cases[i].name, cases[i].damage);
        struct store_options opt = {dir, 1 * MiB, 64 * MiB, WAL_SIZE_MIN};
        struct store *st = store_open(&opt, err, sizeof err);
        CHECK(st != NULL);
        struct record_view doc;
        CHECK_INT(store_read_begin(st), STORE_OK);
        CHECK_INT(store_get_doc(st, cases[i].id, &doc), STORE_ERROR);
        store_read_end(st);
        store_close(st);
    }
}

/* A revision that says it is the current version when it is not is an error to the store. */
static void test_store_refuses_false_current(void)
{
    char dir[3100], err[512] = "";
    build_damaged_store(dir, "refused-old-current", make_old_revision_current);
    struct store_options opt = {dir, 1 * MiB, 64 * MiB, WAL_SIZE_MIN};
    struct store *st = store_open(&opt, err, sizeof err);
    CHECK(st != NULL);
    struct record_view view;
    size_t with_doc = 0;
    CHECK_INT(store_read_begin(st), STORE_OK);
    CHECK_INT(store_get_revision(st, "a-conv", 1, &view), STORE_ERROR);
    CHECK_INT(store_each_change(st, 0, count_change_with_doc, &with_doc), STORE_ERROR);
    store_read_end(st);
    check_revision_holds(st, "a-conv", 2, "\"status\":\"monitoring\"");
    store_close(st);
}

/*
 * Stores of earlier layouts verify as they did, and read the same: their documents and their
 * change log, then a new write on top of them, which leaves the revision it supersedes its
 * text. The first kept each document in docs, revs and changes (raw_inline_all); the one
 * before this one in docs and in every revision; some versions pointed from docs at it.
 */
static void test_earlier_layouts_verify_and_read(void)
{
    struct {
        const char *name;
        void (*rewrite)(struct raw *r);
    } layouts[] = {{"first-format", raw_inline_all},
                   {"texts-in-revisions", raw_inline_last_revisions},
                   {"docs-point", point_doc_at_its_revision}};
    for (size_t i = 0; i < sizeof layouts / sizeof layouts[0]; i++) {
        char dir[3100];
        build_damaged_store(dir, layouts[i].name, layouts[i].rewrite); /* not a damage */
        check_sound(dir);
        struct store *st = open_and_check_reads(dir, "a-conv", "\"status\":\"monitoring\"");
        write_ok(st, WRITE_PATCH, "a-conv", "{\"status\": \"evaluation\"}", 2);
        check_revision_holds(st, "a-conv", 2, "\"status\":\"monitoring\"");
        check_revision_holds(st, "a-conv", 3, "\"status\":\"evaluation\"");
        store_close(st);
        check_sound(dir);
    }
}

static void test_damage_is_reported(void)
{
    struct {
        const char *name;
        void (*damage)(struct raw *r);
        uint64_t violations;
        const char *line;
    } cases[] = {
        {"drop-index-entry", drop_index_entry, 1,
         "docs[a-conv]: idx_status lacks it under 'monitoring'"},
        {"stray-index-entries", add_stray_index_entries, 2,
         "idx_department[29 -> z-gone]: names no live document"},
        {"stray-index-entries", add_stray_index_entries, 2,
         "idx_champ[sport -> a-conv]: the document does not have this value"},
        /* the gap, and the log of a-conv ends below its last revision */
        {"change-log-gap", drop_change, 2,
         "changes[seq 4]: follows seq 2: the change log has a gap"},
        {"change-log-gap", drop_change, 2,
         "changes: the log of a-conv ends at rev 1, its revisions at 2"},
        /* The current version is also the document of its id's last revision (written
           RECORD_BODY_CURRENT): each damage to it below is reported with two more lines, that
           revision and the change that points at it. */
        /* the header disagrees with the document, and with the last revision */
        {"doc-rev-mismatch", bump_doc_rev, 4, "docs[a-conv]: is at rev 3, its last revision is 2"},
        {"doc-rev-mismatch", bump_doc_rev, 4,
         "revs[a-conv rev 2]: its document is the current version of a-conv, which is at rev 3"},
        {"doc-pointer-rev-mismatch", bump_doc_pointer_rev, 3,
         "docs[a-conv]: its document is rev 2 of a-conv, its header says rev 3"},
        /* and its summary (status, rev) and its 4 index entries are those of rev 2 */
        {"doc-at-old-revision", point_doc_at_old_revision, 9,
         "docs[a-conv]: is at rev 1, its last revision is 2"},
        {"doc-at-old-revision", point_doc_at_old_revision, 9,
         "changes[seq 3]: its document is the current version of a-conv, which holds no text"},
        /* the last revision's document is the current version's: only the summary differs */
        {"doc-body-mismatch", change_doc_body, 1,
         "docs[c-conv]: its list summary has another 'title'"},
        /* the gap, an update that follows nothing, and the change of the lost revision */
        {"revision-gap", drop_first_revision, 3,
         "revs[a-conv rev 2]: follows rev 0: the revisions of an id go 1, 2, 3"},
        {"revision-gap", drop_first_revision, 3,
         "revs[a-conv rev 2]: a revision 'updated' cannot follow nothing"},
        {"revision-gap", drop_first_revision, 3,
         "changes[seq 1]: its document is rev 1 of a-conv, which is not among its revisions"},
        /* and its two index entries name it */
        {"live-doc-lost", drop_live_doc, 5,
         "docs[c-conv]: is absent, but its last revision (1) is not a deletion"},
        {"live-doc-lost", drop_live_doc, 5,
         "revs[c-conv rev 1]: its document is the current version of c-conv, which is absent"},
        {"garbled-doc", garble_doc, 3, "docs[b-conv]: the value is not a record (bad header)"},
        /* and the change that points at it finds no document there */
        {"garbled-revision", garble_first_revision, 2,
         "changes[seq 1]: its document is rev 1 of a-conv, which holds no document"},
        {"logged-doc-differs", change_logged_doc, 1,
         "changes[seq 6]: its document differs from rev 1 of c-conv"},
        {"logged-doc-elsewhere", point_change_at_another_id, 1,
         "changes[seq 6]: its document differs from rev 1 of c-conv"},
        /* and docs and changes point at it, and the log of c-conv reaches none of its revs */
        {"doc-at-deletion", point_doc_at_deletion, 3,
         "docs[b-conv]: its document is rev 2 of b-conv, which holds no document"},
        {"doc-at-deletion", point_doc_at_deletion, 3,
         "revs[b-conv rev 3]: its document is the current version of b-conv, which holds no text"},
        {"doc-of-another-id", point_doc_at_another_id, 3,
         "docs[c-conv]: its document is rev 1 of a-conv, another id"},
        {"doc-of-another-id", point_doc_at_another_id, 3,
         "changes[seq 6]: its document is the current version of c-conv, which holds no text"},
        /* and the log's entry points at it too */
        {"live-revision-lost", drop_live_revision, 2,
         "changes[seq 6]: its document is rev 1 of c-conv, which is not among its revisions"},
        {"pointed-revision-lost", point_then_drop_live_revision, 2,
         "docs[c-conv]: its document is rev 1 of c-conv, which is not among its revisions"},
        /* and the change of that revision (seq 1) has no document */
        {"old-revision-current", make_old_revision_current, 2,
         "revs[a-conv rev 1]: its document is the current version of a-conv, which is at rev 2"},
        {"old-revision-current", make_old_revision_current, 2,
         "changes[seq 1]: its document is the current version of a-conv, which is at rev 2"},
        /* and c-conv's revision, whose document it is, and the change that points at it */
        {"doc-says-current", make_doc_current, 3,
         "docs[c-conv]: says it is the current version: only a revision may"},
        /* and the current version, which its last revision does not hold, and the change */
        {"current-holds-bytes", make_current_hold_bytes, 3,
         "revs[c-conv rev 1]: says it is the current version, and holds 2 bytes"},
        /* and the log of c-conv, short of its revision */
        {"change-says-current", make_change_current, 2,
         "changes[seq 6]: says it is the current version: only a revision may"},
        /* and the current version and the change, which find no document in it */
        {"revision-points", point_revision_elsewhere, 3,
         "revs[c-conv rev 1]: points at a revision: a revision holds its own document"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s-%zu", cases[i].name, i);
        struct report r = verify_damaged(name, cases[i].damage);
        check_reported(&r, cases[i].violations, cases[i].line);
        free(r.text);
    }
}

int main(void)
{
    tmpdir_make(tmp_root, sizeof tmp_root, "test_verify");
    test_sound_store_verifies();
    test_missing_store_is_an_error();
    test_damage_is_reported();
    test_change_log_points_at_revisions();
    test_store_reads_through_pointers();
    test_store_refuses_bad_pointers();
    test_store_refuses_false_current();
    test_batch_keeps_superseded_text();
    test_earlier_layouts_verify_and_read();
    tmpdir_remove(tmp_root);
    return check_summary("test_verify");
}
