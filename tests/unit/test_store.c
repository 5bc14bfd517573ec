/*
 * test_store.c — the LMDB store (core/store.c) and the write pipeline above it (core/writes.c).
 *
 * The first half drives the store directly: documents, revisions, indexes, the change-log seq,
 * refused and failed writes, paging, reopening, a full map and a growing one. The second half
 * goes through write_convention(), as the HTTP handlers do: the rev rule, ids, patches, rights,
 * validation and deletion. Every store lives in its own folder under a fresh temporary folder.
 */
#include "ctg/model.h"
#include "ctg/store.h"
#include "ctg/wal.h"
#include "ctg/writes.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "tmpdir.h"

#define MiB ((size_t)1024 * 1024)

/* ---------- temporary folders ---------- */

static char tmp_root[3000];

static void tmp_setup(void)
{
    tmpdir_make(tmp_root, sizeof tmp_root, "test_store");
}

static struct store *open_store(const char *name, size_t map_size, size_t map_size_max)
{
    char dir[3100], err[512] = "";
    snprintf(dir, sizeof dir, "%s/%s", tmp_root, name);
    struct store_options opt = {dir, map_size, map_size_max, WAL_SIZE_MIN};
    struct store *st = store_open(&opt, err, sizeof err);
    if (!st)
        fprintf(stderr, "store_open(%s): %s\n", dir, err);
    CHECK(st != NULL);
    return st;
}

/* ---------- documents and direct writes ---------- */

static json_t *make_doc(const char *id, const char *department, const char *status,
                        const char *champ, uint64_t rev)
{
    return json_pack("{s:s, s:s, s:s+, s:{s:s, s:s}, s:s, s:[s], s:I, s:s, s:s, s:s, s:s}",
                     "id", id, "department", department,
                     "title", "Convention territoriale globale ", id,
                     "period", "start", "2022-01-01", "end", "2025-12-31",
                     "status", status, "champs", champ, "rev", (json_int_t)rev,
                     "created_at", "2024-03-01T09:00:00.000Z", "updated_at",
                     "2024-03-01T09:00:00.000Z", "created_by", "caf29", "updated_by", "caf29");
}

struct save_arg {
    const struct store_change *change;
    enum store_status status;
    bool refuse_after; /* save, then refuse the transaction */
};

static int save_fn(struct store_txn *txn, void *arg)
{
    struct save_arg *a = arg;
    a->status = store_txn_save(txn, a->change);
    if (a->status != STORE_OK)
        return 1;
    return a->refuse_after ? 1 : 0;
}

static enum store_status save(struct store *st, const char *id, enum change_type type,
                              const json_t *old_doc, const json_t *new_doc, uint64_t rev)
{
    struct store_change change = {
        .id = id, .type = type, .old_doc = old_doc, .new_doc = new_doc, .rev = rev,
        .actor = "caf29", .at = "2024-03-01T09:00:00.000Z",
    };
    struct save_arg a = {&change, STORE_OK, false};
    return store_write(st, save_fn, &a);
}

/* True when the stored body of `view` is exactly `doc` in compact form. */
static bool body_is(const struct record_view *view, const json_t *doc)
{
    char *text = json_dumps(doc, JSON_COMPACT);
    bool same = text && view->body_len == strlen(text) &&
                memcmp(view->body, text, view->body_len) == 0;
    if (!same)
        fprintf(stderr, "stored body %.*s\nexpected    %s\n", (int)view->body_len, view->body,
                text ? text : "(null)");
    free(text);
    return same;
}

static json_t *parse_meta(const struct record_view *view)
{
    return json_loadb(view->meta, view->meta_len, 0, NULL);
}

/* The document an outcome stored, read from its text (NULL when it has none). The parse of the
 * last text asked for is kept, so that one check may ask for the same document twice. */
static json_t *stored_doc(const struct write_outcome *out)
{
    static json_t *doc;
    static char *text;
    if (text && out->text && strcmp(text, out->text) == 0)
        return doc;
    json_decref(doc);
    free(text);
    doc = out->text ? json_loads(out->text, 0, NULL) : NULL;
    text = out->text ? strdup(out->text) : NULL;
    return doc;
}

static const char *str_field(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

/* Whether `id` is in the store now. */
static bool doc_present(struct store *st, const char *id)
{
    struct record_view view;
    store_read_begin(st);
    bool present = store_get_doc(st, id, &view) == STORE_OK;
    store_read_end(st);
    return present;
}

/* ---------- listing helpers ---------- */

static bool bytes_contain(const char *hay, size_t hay_len, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; n <= hay_len && i <= hay_len - n; i++)
        if (memcmp(hay + i, needle, n) == 0)
            return true;
    return false;
}

struct collected {
    char ids[64][72];
    size_t n;
    bool bad_view; /* a candidate's view did not carry its own id */
    int (*filter)(const char *id);
};

static int collect_fn(const char *id, const struct record_view *doc, void *arg)
{
    struct collected *c = arg;
    if (c->filter && !c->filter(id))
        return 0;
    char needle[96];
    snprintf(needle, sizeof needle, "\"id\":\"%s\"", id);
    /* the view is the current document, its summary naming the same id */
    if (doc->rev == 0 || doc->meta_len == 0 || !bytes_contain(doc->meta, doc->meta_len, needle))
        c->bad_view = true;
    if (c->n < 64)
        snprintf(c->ids[c->n++], sizeof c->ids[0], "%s", id);
    return 1;
}

/* Lists into `c`; department/status/champ may be NULL. */
static enum store_status list_into(struct store *st, const char *department, const char *status,
                                   const char *champ, const char *after, size_t limit,
                                   struct collected *c)
{
    c->n = 0;
    struct store_query q = {.department = department, .status = status, .champ = champ,
                            .after = after, .limit = limit, .accept = collect_fn, .arg = c};
    store_read_begin(st);
    enum store_status s = store_list(st, &q);
    store_read_end(st);
    return s;
}

/* The ids a query finds, comma-separated, in a static buffer. */
static const char *list_ids(struct store *st, const char *department, const char *status,
                            const char *champ)
{
    static char buf[4096];
    struct collected c = {.n = 0};
    buf[0] = '\0';
    if (list_into(st, department, status, champ, NULL, 1000, &c) != STORE_OK)
        return "(error)";
    for (size_t i = 0; i < c.n; i++) {
        if (i)
            strcat(buf, ",");
        strcat(buf, c.ids[i]);
    }
    CHECK(!c.bad_view);
    return buf;
}

/* ---------- revisions helper ---------- */

struct revisions {
    uint64_t rev[16];
    char type[16][16];
    char actor[16][32];
    size_t body_len[16];
    size_t n;
};

static void revision_fn(const struct record_view *view, void *arg)
{
    struct revisions *r = arg;
    if (r->n >= 16)
        return;
    json_t *meta = parse_meta(view);
    r->rev[r->n] = view->rev;
    snprintf(r->type[r->n], sizeof r->type[0], "%s", meta ? str_field(meta, "type") : "?");
    snprintf(r->actor[r->n], sizeof r->actor[0], "%s", meta ? str_field(meta, "actor") : "?");
    r->n++;
    json_decref(meta);
}

/* The history of `id`, and the length of each revision's document (store_get_revision). */
static enum store_status read_revisions(struct store *st, const char *id, struct revisions *r)
{
    memset(r, 0, sizeof *r);
    store_read_begin(st);
    enum store_status s = store_each_revision(st, id, revision_fn, r);
    for (size_t i = 0; i < r->n; i++) {
        struct record_view view;
        CHECK_INT(store_get_revision(st, id, r->rev[i], &view), STORE_OK);
        r->body_len[i] = view.body_len;
    }
    store_read_end(st);
    return s;
}

/* ---------- last rev, read inside a write ---------- */

struct last_rev_arg {
    const char *id;
    uint64_t rev;
};

static int last_rev_fn(struct store_txn *txn, void *arg)
{
    struct last_rev_arg *a = arg;
    struct store_revision last = {.rev = 0};
    enum store_status status = store_txn_last_revision(txn, a->id, &last);
    a->rev = status == STORE_OK ? last.rev : 0;
    return 1; /* a look only: nothing to commit */
}

static uint64_t last_rev(struct store *st, const char *id)
{
    struct last_rev_arg a = {id, 999};
    CHECK_INT(store_write(st, last_rev_fn, &a), STORE_REFUSED);
    return a.rev;
}

/* ================= the store, directly ================= */

static void test_document_life_cycle(void)
{
    struct store *st = open_store("life", 16 * MiB, 64 * MiB);
    if (!st)
        return;
    const char *id = "pays-bigouden-sud-2020";
    CHECK_INT(store_last_seq(st), 0);
    CHECK_STR(change_type_name(CHANGE_CREATED), "created");
    CHECK_STR(change_type_name(CHANGE_UPDATED), "updated");
    CHECK_STR(change_type_name(CHANGE_DELETED), "deleted");

    /* created */
    json_t *v1 = make_doc(id, "29", "preparation", "petite-enfance", 1);
    json_t *other =
        make_doc("quimper-bretagne-occidentale", "49", "preparation", "petite-enfance", 1);
    CHECK_INT(save(st, id, CHANGE_CREATED, NULL, v1, 1), STORE_OK);
    CHECK_INT(store_last_seq(st), 1);
    CHECK_INT(save(st, "quimper-bretagne-occidentale", CHANGE_CREATED, NULL, other, 1), STORE_OK);
    CHECK_INT(store_last_seq(st), 2);

    struct record_view view;
    CHECK_INT(store_read_begin(st), STORE_OK);
    CHECK_INT(store_count(st), 2);
    CHECK_INT(store_get_doc(st, id, &view), STORE_OK);
    CHECK_INT(view.rev, 1);
    CHECK(body_is(&view, v1));
    json_t *summary = parse_meta(&view);
    CHECK(summary != NULL);
    CHECK_STR(str_field(summary, "id"), id);
    CHECK_STR(str_field(summary, "department"), "29");
    CHECK_STR(str_field(summary, "title"),
              "Convention territoriale globale pays-bigouden-sud-2020");
    CHECK_STR(str_field(summary, "status"), "preparation");
    CHECK_INT(json_integer_value(json_object_get(summary, "rev")), 1);
    CHECK(json_equal(json_object_get(summary, "period"), json_object_get(v1, "period")));
    CHECK(json_object_get(summary, "champs") == NULL); /* a summary, not the document */
    json_decref(summary);
    CHECK_INT(store_get_doc(st, "pays-bigouden-nord", &view), STORE_NOT_FOUND);
    store_read_end(st);

    CHECK_STR(list_ids(st, "29", NULL, NULL), id);
    CHECK_STR(list_ids(st, "49", NULL, NULL), "quimper-bretagne-occidentale");
    CHECK_STR(list_ids(st, NULL, "preparation", NULL),
              "pays-bigouden-sud-2020,quimper-bretagne-occidentale");
    CHECK_STR(list_ids(st, NULL, NULL, "petite-enfance"),
              "pays-bigouden-sud-2020,quimper-bretagne-occidentale");
    CHECK_STR(list_ids(st, "29", NULL, "petite-enfance"), id);
    CHECK_STR(list_ids(st, NULL, "monitoring", NULL), "");
    CHECK_STR(list_ids(st, "35", NULL, NULL), "");

    /* updated: new status and champs */
    json_t *v2 = make_doc(id, "29", "monitoring", "parentalite", 2);
    json_array_append_new(json_object_get(v2, "champs"), json_string("acces-aux-droits"));
    CHECK_INT(save(st, id, CHANGE_UPDATED, v1, v2, 2), STORE_OK);
    CHECK_INT(store_last_seq(st), 3);

    CHECK_INT(store_read_begin(st), STORE_OK);
    CHECK_INT(store_get_doc(st, id, &view), STORE_OK);
    CHECK_INT(view.rev, 2);
    CHECK(body_is(&view, v2));
    CHECK_INT(store_get_revision(st, id, 1, &view), STORE_OK);
    CHECK_INT(view.rev, 1);
    CHECK(body_is(&view, v1));
    CHECK_INT(store_get_revision(st, id, 2, &view), STORE_OK);
    CHECK(body_is(&view, v2));
    CHECK_INT(store_get_revision(st, id, 3, &view), STORE_NOT_FOUND);
    store_read_end(st);

    struct revisions revs;
    CHECK_INT(read_revisions(st, id, &revs), STORE_OK);
    CHECK_INT(revs.n, 2);
    CHECK_INT(revs.rev[0], 1);
    CHECK_STR(revs.type[0], "created");
    CHECK_INT(revs.rev[1], 2);
    CHECK_STR(revs.type[1], "updated");
    CHECK_STR(revs.actor[1], "caf29");
    /* one id's revisions do not spill into another's */
    CHECK_INT(read_revisions(st, "quimper-bretagne-occidentale", &revs), STORE_OK);
    CHECK_INT(revs.n, 1);
    CHECK_INT(read_revisions(st, "pays-bigouden", &revs), STORE_NOT_FOUND);
    CHECK_INT(revs.n, 0);

    /* the indexes follow the update: the old status and champ no longer find it */
    CHECK_STR(list_ids(st, NULL, "monitoring", NULL), id);
    CHECK_STR(list_ids(st, NULL, "preparation", NULL), "quimper-bretagne-occidentale");
    CHECK_STR(list_ids(st, NULL, NULL, "petite-enfance"), "quimper-bretagne-occidentale");
    CHECK_STR(list_ids(st, NULL, NULL, "parentalite"), id);
    CHECK_STR(list_ids(st, NULL, NULL, "acces-aux-droits"), id);
    CHECK_STR(list_ids(st, "29", "monitoring", "parentalite"), id);
    CHECK_STR(list_ids(st, "29", "preparation", NULL), "");
    CHECK_INT(last_rev(st, id), 2);

    /* deleted: gone from docs and every index, history kept */
    CHECK_INT(save(st, id, CHANGE_DELETED, v2, NULL, 3), STORE_OK);
    CHECK_INT(store_last_seq(st), 4);
    CHECK(!doc_present(st, id));
    CHECK_STR(list_ids(st, "29", NULL, NULL), "");
    CHECK_STR(list_ids(st, NULL, "monitoring", NULL), "");
    CHECK_STR(list_ids(st, NULL, NULL, "parentalite"), "");
    CHECK_STR(list_ids(st, NULL, NULL, "acces-aux-droits"), "");
    CHECK_STR(list_ids(st, NULL, NULL, NULL), "quimper-bretagne-occidentale");
    CHECK_INT(read_revisions(st, id, &revs), STORE_OK);
    CHECK_INT(revs.n, 3);
    CHECK_STR(revs.type[2], "deleted");
    CHECK_INT(revs.rev[2], 3);
    CHECK_INT(revs.body_len[2], 0);
    CHECK(revs.body_len[0] > 0 && revs.body_len[1] > 0);
    CHECK_INT(last_rev(st, id), 3);
    CHECK_INT(last_rev(st, "quimper-bretagne-occidentale"), 1);
    CHECK_INT(last_rev(st, "pays-bigouden-sud"), 0);     /* a prefix of an id is another id */
    CHECK_INT(last_rev(st, "pays-bigouden-sud-20201"), 0);
    CHECK_INT(last_rev(st, "zz-never-written"), 0);      /* after every key */
    CHECK_INT(store_last_seq(st), 4); /* looks change nothing */
    store_read_begin(st);
    CHECK_INT(store_count(st), 1);
    CHECK_INT(store_get_revision(st, id, 1, &view), STORE_OK); /* the old body survives */
    CHECK(body_is(&view, v1));
    store_read_end(st);

    json_decref(v1);
    json_decref(v2);
    json_decref(other);
    store_close(st);
}

static void test_refused_write_leaves_nothing(void)
{
    struct store *st = open_store("refused", 16 * MiB, 16 * MiB);
    if (!st)
        return;
    json_t *kept = make_doc("caf-29-brest-2022", "29", "diagnostic", "parentalite", 1);
    CHECK_INT(save(st, "caf-29-brest-2022", CHANGE_CREATED, NULL, kept, 1), STORE_OK);

    /* The write function saves a document, then refuses: the whole transaction goes. */
    json_t *doc = make_doc("caf-29-morlaix-2022", "29", "diagnostic", "parentalite", 1);
    struct store_change change = {
        .id = "caf-29-morlaix-2022", .type = CHANGE_CREATED, .new_doc = doc, .rev = 1,
        .actor = "caf29", .at = "2024-03-01T09:00:00.000Z",
    };
    struct save_arg a = {&change, STORE_ERROR, true};
    CHECK_INT(store_write(st, save_fn, &a), STORE_REFUSED);
    CHECK_INT(a.status, STORE_OK); /* the save itself went through */
    CHECK_INT(store_last_seq(st), 1);
    CHECK(!doc_present(st, "caf-29-morlaix-2022"));
    struct revisions revs;
    CHECK_INT(read_revisions(st, "caf-29-morlaix-2022", &revs), STORE_NOT_FOUND);
    CHECK_STR(list_ids(st, "29", NULL, NULL), "caf-29-brest-2022");
    CHECK_STR(list_ids(st, NULL, NULL, "parentalite"), "caf-29-brest-2022");
    CHECK_INT(last_rev(st, "caf-29-morlaix-2022"), 0);

    /* and the next write takes the next seq: no gap was left */
    CHECK_INT(save(st, "caf-29-morlaix-2022", CHANGE_CREATED, NULL, doc, 1), STORE_OK);
    CHECK_INT(store_last_seq(st), 2);
    json_decref(doc);
    json_decref(kept);
    store_close(st);
}

/* store_write_meanwhile's work: how often it ran, and the seq the store had then. */
struct meanwhile_arg {
    struct save_arg save; /* first: save_fn is given the same pointer */
    struct store *st;
    int calls;
    uint64_t seq_then;
};

static void note_meanwhile(void *arg)
{
    struct meanwhile_arg *m = arg;
    m->calls++;
    m->seq_then = store_last_seq(m->st);
}

static void test_work_runs_while_the_commit_syncs(void)
{
    struct store *st = open_store("meanwhile", 16 * MiB, 16 * MiB);
    if (!st)
        return;
    json_t *doc = make_doc("caf-29-brest-2022", "29", "diagnostic", "parentalite", 1);
    struct store_change change = {
        .id = "caf-29-brest-2022", .type = CHANGE_CREATED, .new_doc = doc, .rev = 1,
        .actor = "caf29", .at = "2024-03-01T09:00:00.000Z",
    };
    struct meanwhile_arg m = {{&change, STORE_ERROR, false}, st, 0, 99};
    CHECK_INT(store_write_meanwhile(st, save_fn, note_meanwhile, &m), STORE_OK);
    CHECK_INT(m.calls, 1);
    CHECK_INT(m.seq_then, 0); /* committed, but not counted until its sync is over */
    CHECK_INT(store_last_seq(st), 1);
    CHECK(doc_present(st, "caf-29-brest-2022"));

    /* A refused transaction commits nothing, so there is no sync to fill. */
    json_t *other = make_doc("caf-29-morlaix-2022", "29", "diagnostic", "parentalite", 1);
    change.id = "caf-29-morlaix-2022";
    change.new_doc = other;
    m = (struct meanwhile_arg){{&change, STORE_ERROR, true}, st, 0, 99};
    CHECK_INT(store_write_meanwhile(st, save_fn, note_meanwhile, &m), STORE_REFUSED);
    CHECK_INT(m.calls, 0);
    CHECK(!doc_present(st, "caf-29-morlaix-2022"));
    json_decref(other);
    json_decref(doc);
    store_close(st);
}

static void test_ids_too_long_for_a_key_are_never_found_nor_stored(void)
{
    struct store *st = open_store("long-ids", 16 * MiB, 16 * MiB);
    if (!st)
        return;
    /* Ids longer than SPEC §2 allows (64) must be answered, not overflow a key buffer. */
    char long_id[201];
    memset(long_id, 'a', 200);
    long_id[200] = '\0';
    char id65[66];
    memset(id65, 'b', 65);
    id65[65] = '\0';
    char id64[65];
    memset(id64, 'c', 64);
    id64[64] = '\0';
    struct record_view view;
    store_read_begin(st);
    CHECK_INT(store_get_doc(st, long_id, &view), STORE_NOT_FOUND);
    CHECK_INT(store_get_revision(st, long_id, 1, &view), STORE_NOT_FOUND);
    store_read_end(st);
    struct revisions revs;
    CHECK_INT(read_revisions(st, long_id, &revs), STORE_NOT_FOUND);
    CHECK_INT(last_rev(st, long_id), 0);

    json_t *doc = make_doc(id65, "29", "preparation", "parentalite", 1);
    CHECK(save(st, id65, CHANGE_CREATED, NULL, doc, 1) != STORE_OK);
    CHECK_INT(store_last_seq(st), 0);
    CHECK_STR(list_ids(st, "29", NULL, NULL), "");
    json_decref(doc);

    /* 64 bytes is the longest id, and it is stored */
    doc = make_doc(id64, "29", "preparation", "parentalite", 1);
    CHECK_INT(save(st, id64, CHANGE_CREATED, NULL, doc, 1), STORE_OK);
    CHECK(doc_present(st, id64));
    CHECK_INT(last_rev(st, id64), 1);
    json_decref(doc);
    store_close(st);
}

static const char *const list_departments[3] = {"29", "35", "56"};

static void make_listing_id(int i, char out[32])
{
    snprintf(out, 32, "ctg-bretagne-%02d", i);
}

static int even_number_id(const char *id)
{
    size_t n = strlen(id);
    return n > 0 && (id[n - 1] - '0') % 2 == 0;
}

/* Pages through a query; checks order, no duplicate, nothing missing against `expected`. */
static void check_paging(struct store *st, const char *department, const char *status,
                         const char *champ, size_t limit, const char *const expected[],
                         size_t n_expected)
{
    char seen[64][72];
    size_t n_seen = 0, pages = 0;
    char after[72] = "";
    for (;;) {
        struct collected c = {.n = 0};
        CHECK_INT(list_into(st, department, status, champ, after[0] ? after : NULL, limit, &c),
                  STORE_OK);
        CHECK(c.n <= limit);
        CHECK(!c.bad_view);
        for (size_t i = 0; i < c.n && n_seen < 64; i++)
            memcpy(seen[n_seen++], c.ids[i], sizeof seen[0]);
        pages++;
        if (c.n < limit || pages > 40)
            break;
        memcpy(after, c.ids[c.n - 1], sizeof after);
    }
    CHECK_INT(n_seen, n_expected);
    for (size_t i = 0; i < n_seen && i < n_expected; i++)
        CHECK_STR(seen[i], expected[i]);
    for (size_t i = 1; i < n_seen; i++)
        CHECK(strcmp(seen[i - 1], seen[i]) < 0); /* strictly increasing: id order, no duplicate */
    /* full pages, then one short (possibly empty) page */
    CHECK_INT(pages, n_expected / limit + 1);
}

static void test_listing_pages_in_id_order(void)
{
    struct store *st = open_store("listing", 16 * MiB, 16 * MiB);
    if (!st)
        return;
    /* 30 conventions over 3 departments, written in a scrambled order */
    for (int k = 0; k < 30; k++) {
        int i = (k * 7) % 30;
        char id[32];
        make_listing_id(i, id);
        json_t *doc = make_doc(id, list_departments[i % 3], i % 2 ? "monitoring" : "action_plan",
                               "petite-enfance", 1);
        if (i % 5 == 0)
            json_array_append_new(json_object_get(doc, "champs"), json_string("parentalite"));
        CHECK_INT(save(st, id, CHANGE_CREATED, NULL, doc, 1), STORE_OK);
        json_decref(doc);
    }
    CHECK_INT(store_last_seq(st), 30);

    char all_ids[30][32];
    const char *all[30], *dep35[30], *dep35_monitoring[30], *dep29_parentalite[30],
        *monitoring[30];
    size_t n_dep35 = 0, n_dep35_monitoring = 0, n_dep29_parentalite = 0, n_monitoring = 0;
    for (int i = 0; i < 30; i++) {
        make_listing_id(i, all_ids[i]);
        all[i] = all_ids[i];
        if (i % 3 == 1)
            dep35[n_dep35++] = all_ids[i];
        if (i % 2 == 1)
            monitoring[n_monitoring++] = all_ids[i];
        if (i % 3 == 1 && i % 2 == 1)
            dep35_monitoring[n_dep35_monitoring++] = all_ids[i];
        if (i % 3 == 0 && i % 5 == 0)
            dep29_parentalite[n_dep29_parentalite++] = all_ids[i];
    }
    CHECK_INT(n_dep35, 10);
    CHECK_INT(n_dep35_monitoring, 5);      /* 01, 07, 13, 19, 25 */
    CHECK_INT(n_dep29_parentalite, 2);     /* 00, 15 */

    check_paging(st, NULL, NULL, NULL, 7, all, 30);
    check_paging(st, NULL, NULL, NULL, 30, all, 30);
    check_paging(st, NULL, NULL, NULL, 1000, all, 30);
    check_paging(st, "35", NULL, NULL, 4, dep35, n_dep35);
    check_paging(st, "35", "monitoring", NULL, 2, dep35_monitoring, n_dep35_monitoring);
    check_paging(st, NULL, "monitoring", "petite-enfance", 6, monitoring, n_monitoring);
    check_paging(st, "29", NULL, "parentalite", 1, dep29_parentalite, n_dep29_parentalite);

    /* a cursor that names no stored id starts after where it would be */
    struct collected c = {.n = 0};
    CHECK_INT(list_into(st, NULL, NULL, NULL, "ctg-bretagne-10x", 3, &c), STORE_OK);
    CHECK_INT(c.n, 3);
    CHECK_STR(c.ids[0], "ctg-bretagne-11");
    CHECK_INT(list_into(st, "56", NULL, NULL, "ctg-bretagne-03", 2, &c), STORE_OK);
    CHECK_INT(c.n, 2);
    CHECK_STR(c.ids[0], "ctg-bretagne-05");
    CHECK_STR(c.ids[1], "ctg-bretagne-08");
    CHECK_INT(list_into(st, NULL, NULL, NULL, "ctg-bretagne-29", 5, &c), STORE_OK);
    CHECK_INT(c.n, 0);
    /* limit 0 finds nothing; the limit counts accepted candidates, not offered ones */
    CHECK_INT(list_into(st, NULL, NULL, NULL, NULL, 0, &c), STORE_OK);
    CHECK_INT(c.n, 0);
    c = (struct collected){.n = 0, .filter = even_number_id};
    CHECK_INT(list_into(st, "29", NULL, NULL, NULL, 3, &c), STORE_OK);
    CHECK_INT(c.n, 3);
    CHECK_STR(c.ids[0], "ctg-bretagne-00");
    CHECK_STR(c.ids[1], "ctg-bretagne-06");
    CHECK_STR(c.ids[2], "ctg-bretagne-12");
    store_close(st);
}

static void test_reopen_keeps_everything(void)
{
    const char *id = "ctg-lorient-agglo";
    json_t *v1 = make_doc(id, "56", "diagnostic", "logement", 1);
    json_t *v2 = make_doc(id, "56", "action_plan", "logement", 2);
    struct store *st = open_store("reopen", 16 * MiB, 16 * MiB);
    if (!st)
        return;
    CHECK_INT(save(st, id, CHANGE_CREATED, NULL, v1, 1), STORE_OK);
    CHECK_INT(save(st, id, CHANGE_UPDATED, v1, v2, 2), STORE_OK);
    store_close(st);

    st = open_store("reopen", 16 * MiB, 16 * MiB);
    if (!st)
        return;
    CHECK_INT(store_last_seq(st), 2);
    struct record_view view;
    store_read_begin(st);
    CHECK_INT(store_get_doc(st, id, &view), STORE_OK);
    CHECK_INT(view.rev, 2);
    CHECK(body_is(&view, v2));
    CHECK_INT(store_get_revision(st, id, 1, &view), STORE_OK);
    CHECK(body_is(&view, v1));
    store_read_end(st);
    struct revisions revs;
    CHECK_INT(read_revisions(st, id, &revs), STORE_OK);
    CHECK_INT(revs.n, 2);
    CHECK_STR(list_ids(st, NULL, "action_plan", NULL), id);
    CHECK_STR(list_ids(st, NULL, "diagnostic", NULL), "");
    /* the change log goes on from where it was */
    CHECK_INT(save(st, id, CHANGE_DELETED, v2, NULL, 3), STORE_OK);
    CHECK_INT(store_last_seq(st), 3);
    store_close(st);
    json_decref(v1);
    json_decref(v2);
}

/* A document carrying `size` bytes of filler in `extra`. */
static json_t *make_big_doc(const char *id, size_t size, char fill)
{
    json_t *doc = make_doc(id, "29", "monitoring", "petite-enfance", 1);
    char *filler = malloc(size + 1);
    memset(filler, fill, size);
    filler[size] = '\0';
    json_object_set_new(doc, "extra", json_pack("{s:s}", "notes", filler));
    free(filler);
    return doc;
}

static void test_full_map_refuses_whole_writes(void)
{
    const size_t map = 256 * 1024;
    struct store *st = open_store("full", map, map);
    if (!st)
        return;
    char id[32];
    int acknowledged = 0;
    enum store_status status = STORE_OK;
    for (int i = 0; i < 200; i++) {
        snprintf(id, sizeof id, "ctg-plein-%03d", i);
        json_t *doc = make_big_doc(id, 6000, (char)('a' + i % 26));
        status = save(st, id, CHANGE_CREATED, NULL, doc, 1);
        json_decref(doc);
        if (status != STORE_OK)
            break;
        acknowledged++;
    }
    CHECK_INT(status, STORE_FULL);
    CHECK(acknowledged > 2);
    CHECK_INT(store_last_seq(st), acknowledged);
    CHECK_INT(store_map_size(st), map); /* it could not grow past map_size_max */
    /* the refused write (id = the last one tried) left nothing behind */
    CHECK(!doc_present(st, id));
    struct revisions revs;
    CHECK_INT(read_revisions(st, id, &revs), STORE_NOT_FOUND);
    CHECK_INT(last_rev(st, id), 0);
    /* a second try fails the same way, and reads still work */
    json_t *doc = make_big_doc(id, 6000, 'z');
    CHECK_INT(save(st, id, CHANGE_CREATED, NULL, doc, 1), STORE_FULL);
    json_decref(doc);
    CHECK_INT(store_last_seq(st), acknowledged);
    CHECK(doc_present(st, "ctg-plein-000"));
    store_close(st);

    /* after reopening, every acknowledged write is there, with its body */
    st = open_store("full", map, map);
    if (!st)
        return;
    CHECK_INT(store_last_seq(st), acknowledged);
    int intact = 0;
    store_read_begin(st);
    CHECK_INT(store_count(st), acknowledged);
    for (int i = 0; i < acknowledged; i++) {
        struct record_view view;
        snprintf(id, sizeof id, "ctg-plein-%03d", i);
        json_t *expected = make_big_doc(id, 6000, (char)('a' + i % 26));
        if (store_get_doc(st, id, &view) == STORE_OK && view.rev == 1 && body_is(&view, expected))
            intact++;
        json_decref(expected);
    }
    store_read_end(st);
    CHECK_INT(intact, acknowledged);
    snprintf(id, sizeof id, "ctg-plein-%03d", acknowledged);
    CHECK(!doc_present(st, id));
    store_close(st);
}

static void test_map_grows_up_to_its_maximum(void)
{
    struct store *st = open_store("grow", 1 * MiB, 8 * MiB);
    if (!st)
        return;
    CHECK_INT(store_map_size(st), 1 * MiB);
    int written = 0;
    char id[32];
    for (int i = 0; i < 80; i++) {
        snprintf(id, sizeof id, "ctg-croissance-%03d", i);
        json_t *doc = make_big_doc(id, 16000, (char)('a' + i % 26));
        if (save(st, id, CHANGE_CREATED, NULL, doc, 1) == STORE_OK)
            written++;
        json_decref(doc);
        /* a read between writes: its snapshot must not stand in the way of a resize */
        CHECK(doc_present(st, id));
    }
    CHECK_INT(written, 80);
    CHECK_INT(store_last_seq(st), 80);
    size_t grown = store_map_size(st);
    CHECK(grown > 1 * MiB);
    CHECK(grown <= 8 * MiB);
    CHECK(grown == 2 * MiB || grown == 4 * MiB || grown == 8 * MiB); /* doubled each time */
    store_read_begin(st);
    CHECK_INT(store_count(st), 80);
    struct record_view view;
    json_t *first = make_big_doc("ctg-croissance-000", 16000, 'a');
    CHECK_INT(store_get_doc(st, "ctg-croissance-000", &view), STORE_OK);
    CHECK(body_is(&view, first));
    json_decref(first);
    store_read_end(st);
    store_close(st);
}

/* ================= through write_convention() ================= */

static char dep_29[] = "29";
static char *scope_29[] = {dep_29, NULL};
static char name_ed29[] = "ed29", name_admin[] = "ops", name_reader[] = "lecture";
static const struct token ed29 = {.name = name_ed29, .role = ROLE_EDITOR, .departments = scope_29};
static const struct token admin = {.name = name_admin, .role = ROLE_ADMIN, .all_departments = true};
static const struct token reader29 = {.name = name_reader, .role = ROLE_READER,
                                      .departments = scope_29};

static const char convention_json[] =
    "{\"department\": \"29\","
    " \"title\": \"Convention territoriale globale du Pays Bigouden Sud\","
    " \"territory\": {\"name\": \"Communauté de communes du Pays Bigouden Sud\","
    "   \"kind\": \"epci\","
    "   \"siren\": \"242900645\", \"communes\": [\"Pont-l'Abbé\", \"Le Guilvinec\", \"Loctudy\"]},"
    " \"signed_on\": \"2020-02-14\","
    " \"period\": {\"start\": \"2020-01-01\", \"end\": \"2023-12-31\"},"
    " \"status\": \"monitoring\","
    " \"champs\": [\"petite-enfance\", \"parentalite\"],"
    " \"objectives\": [{\"id\": \"axe-1\", \"title\": \"Développer l'accueil du jeune enfant\","
    "   \"goals\": [\"Couvrir les besoins d'accueil des communes littorales\"]}],"
    " \"actions\": ["
    "   {\"id\": \"fa-1\", \"number\": 1, \"title\": \"Créer un relais petite enfance\","
    "    \"objective\": \"axe-1\", \"champ\": \"petite-enfance\", \"status\": \"done\","
    "    \"progress\": 100, \"budget\": 45000},"
    "   {\"id\": \"fa-2\", \"number\": 2, \"title\": \"Ouvrir un LAEP itinérant\","
    "    \"objective\": \"axe-1\", \"champ\": \"parentalite\", \"status\": \"in_progress\","
    "    \"progress\": 60, \"budget\": 12000}]}";

static json_t *convention(const char *id, const char *department)
{
    json_t *doc = json_loads(convention_json, 0, NULL);
    if (id)
        json_object_set_new(doc, "id", json_string(id));
    if (department)
        json_object_set_new(doc, "department", json_string(department));
    return doc;
}

static struct write_outcome run(struct store *st, enum write_kind kind, const char *id,
                                const json_t *body, const struct token *who)
{
    struct write_request w = {.kind = kind, .id = id, .body = body, .who = who};
    struct write_outcome out;
    write_convention(st, &w, &out);
    return out;
}

static struct write_outcome run_rev(struct store *st, enum write_kind kind, const char *id,
                                    const json_t *body, uint64_t rev, bool if_match)
{
    struct write_request w = {.kind = kind, .id = id, .body = body, .who = &ed29,
                              .claim = {.given = true, .if_match = if_match, .rev = rev}};
    struct write_outcome out;
    write_convention(st, &w, &out);
    return out;
}

static bool is_hex12(const char *s)
{
    return strlen(s) == 12 && strspn(s, "0123456789abcdef") == 12;
}

static bool is_rfc3339_ms(const char *s)
{
    return s && strlen(s) == 24 && s[4] == '-' && s[10] == 'T' && s[19] == '.' && s[23] == 'Z';
}

static json_int_t current_rev_of(const struct write_outcome *out)
{
    return json_integer_value(json_object_get(out->extra, "current_rev"));
}

/* The stored rev of `id`, 0 when absent. */
static uint64_t stored_rev(struct store *st, const char *id)
{
    struct record_view view;
    uint64_t rev = 0;
    store_read_begin(st);
    if (store_get_doc(st, id, &view) == STORE_OK)
        rev = view.rev;
    store_read_end(st);
    return rev;
}

static void test_create_with_generated_id(void)
{
    struct store *st = open_store("w-generated", 16 * MiB, 16 * MiB);
    if (!st)
        return;
    json_t *body = convention(NULL, NULL);
    struct write_outcome out = run(st, WRITE_CREATE, NULL, body, &ed29);
    CHECK_INT(out.status, 201);
    CHECK(model_id_valid(out.id));
    CHECK(strncmp(out.id, "29-", 3) == 0);
    CHECK(is_hex12(out.id + 3));
    CHECK_INT(out.rev, 1);
    CHECK_INT(out.type, CHANGE_CREATED);
    CHECK(stored_doc(&out) != NULL);
    CHECK_STR(str_field(stored_doc(&out), "id"), out.id);
    CHECK_INT(json_integer_value(json_object_get(stored_doc(&out), "rev")), 1);
    CHECK_STR(str_field(stored_doc(&out), "created_by"), "ed29");
    CHECK_STR(str_field(stored_doc(&out), "updated_by"), "ed29");
    CHECK(is_rfc3339_ms(str_field(stored_doc(&out), "created_at")));
    CHECK(json_equal(json_object_get(stored_doc(&out), "created_at"),
                     json_object_get(stored_doc(&out), "updated_at")));
    CHECK_INT(stored_rev(st, out.id), 1);
    CHECK_INT(store_last_seq(st), 1);
    /* the stored bytes are the returned document */
    struct record_view view;
    store_read_begin(st);
    CHECK_INT(store_get_doc(st, out.id, &view), STORE_OK);
    CHECK(body_is(&view, stored_doc(&out)));
    store_read_end(st);
    char first[72];
    snprintf(first, sizeof first, "%s", out.id);
    write_outcome_clear(&out);

    /* another create gets another id */
    out = run(st, WRITE_CREATE, NULL, body, &ed29);
    CHECK_INT(out.status, 201);
    CHECK(strcmp(out.id, first) != 0);
    write_outcome_clear(&out);
    json_decref(body);

    /* 2A: the prefix is lower-cased, as the id syntax wants */
    body = convention(NULL, "2A");
    out = run(st, WRITE_CREATE, NULL, body, &admin);
    CHECK_INT(out.status, 201);
    CHECK(strncmp(out.id, "2a-", 3) == 0);
    CHECK(model_id_valid(out.id));
    write_outcome_clear(&out);
    json_decref(body);
    store_close(st);
}

static void test_create_with_taken_id_is_refused(void)
{
    struct store *st = open_store("w-taken", 16 * MiB, 16 * MiB);
    if (!st)
        return;
    json_t *body = convention("pays-bigouden-sud-2020", NULL);
    json_object_set_new(body, "rev", json_integer(12)); /* a client's rev is ignored on create */
    struct write_outcome out = run(st, WRITE_CREATE, NULL, body, &ed29);
    CHECK_INT(out.status, 201);
    CHECK_STR(out.id, "pays-bigouden-sud-2020");
    CHECK_INT(out.rev, 1);
    write_outcome_clear(&out);

    out = run(st, WRITE_CREATE, NULL, body, &ed29);
    CHECK_INT(out.status, 409);
    CHECK_STR(out.code, "id_taken");
    CHECK(stored_doc(&out) == NULL);
    CHECK(strstr(out.message, "pays-bigouden-sud-2020") != NULL);
    CHECK_INT(store_last_seq(st), 1);
    CHECK_INT(stored_rev(st, "pays-bigouden-sud-2020"), 1);
    write_outcome_clear(&out);
    json_decref(body);
    store_close(st);
}

static void test_rev_rule_on_replace(void)
{
    struct store *st = open_store("w-rev", 16 * MiB, 16 * MiB);
    if (!st)
        return;
    const char *id = "pays-bigouden-sud-2020";
    json_t *body = convention(id, NULL);
    struct write_outcome out = run(st, WRITE_CREATE, NULL, body, &ed29);
    CHECK_INT(out.status, 201);
    json_t *created_at = json_incref(json_object_get(stored_doc(&out), "created_at"));
    write_outcome_clear(&out);

    json_object_set_new(body, "title", json_string("CTG du Pays Bigouden Sud 2020-2024"));
    /* no rev: 428 */
    out = run(st, WRITE_REPLACE, id, body, &ed29);
    CHECK_INT(out.status, 428);
    CHECK_STR(out.code, "precondition_required");
    CHECK_INT(current_rev_of(&out), 1);
    CHECK(stored_doc(&out) == NULL);
    write_outcome_clear(&out);
    /* a stale rev in the body: 409 with the current rev */
    out = run_rev(st, WRITE_REPLACE, id, body, 7, false);
    CHECK_INT(out.status, 409);
    CHECK_STR(out.code, "rev_conflict");
    CHECK_INT(current_rev_of(&out), 1);
    write_outcome_clear(&out);
    /* a stale If-Match: 412 with the current rev */
    out = run_rev(st, WRITE_REPLACE, id, body, 7, true);
    CHECK_INT(out.status, 412);
    CHECK_STR(out.code, "precondition_failed");
    CHECK_INT(current_rev_of(&out), 1);
    write_outcome_clear(&out);
    CHECK_INT(store_last_seq(st), 1);
    CHECK_INT(stored_rev(st, id), 1);

    /* the right rev: 200, rev 2, created_at kept though the client sent another */
    json_object_set_new(body, "created_at", json_string("1999-01-01T00:00:00.000Z"));
    json_object_set_new(body, "created_by", json_string("someone-else"));
    out = run_rev(st, WRITE_REPLACE, id, body, 1, false);
    CHECK_INT(out.status, 200);
    CHECK_INT(out.rev, 2);
    CHECK_INT(out.type, CHANGE_UPDATED);
    CHECK(out.extra == NULL);
    CHECK(json_equal(json_object_get(stored_doc(&out), "created_at"), created_at));
    CHECK_STR(str_field(stored_doc(&out), "created_by"), "ed29");
    CHECK_STR(str_field(stored_doc(&out), "title"), "CTG du Pays Bigouden Sud 2020-2024");
    CHECK_INT(json_integer_value(json_object_get(stored_doc(&out), "rev")), 2);
    CHECK_INT(stored_rev(st, id), 2);
    CHECK_INT(store_last_seq(st), 2);
    write_outcome_clear(&out);

    /* If-Match: * takes whatever rev is current */
    struct write_request w = {.kind = WRITE_REPLACE, .id = id, .body = body, .who = &ed29,
                              .claim = {.given = true, .any = true, .if_match = true}};
    write_convention(st, &w, &out);
    CHECK_INT(out.status, 200);
    CHECK_INT(out.rev, 3);
    write_outcome_clear(&out);

    /* a body naming another id than the path's: 400, nothing written */
    out = run(st, WRITE_REPLACE, "pays-bigouden-nord", body, &ed29);
    CHECK_INT(out.status, 400);
    CHECK_STR(out.code, "bad_parameter");
    write_outcome_clear(&out);
    CHECK_INT(stored_rev(st, "pays-bigouden-nord"), 0);
    CHECK_INT(store_last_seq(st), 3);

    /* PUT on an absent id: creates without a rev, 404 with one */
    json_object_del(body, "id");
    out = run(st, WRITE_REPLACE, "pays-bigouden-nord", body, &ed29);
    CHECK_INT(out.status, 201);
    CHECK_INT(out.type, CHANGE_CREATED);
    CHECK_STR(str_field(stored_doc(&out), "id"), "pays-bigouden-nord");
    write_outcome_clear(&out);
    out = run_rev(st, WRITE_REPLACE, "pays-bigouden-ouest", body, 1, false);
    CHECK_INT(out.status, 404);
    CHECK_STR(out.code, "not_found");
    write_outcome_clear(&out);
    CHECK_INT(stored_rev(st, "pays-bigouden-ouest"), 0);

    json_decref(created_at);
    json_decref(body);
    store_close(st);
}

static const json_t *action_at(const json_t *doc, size_t i)
{
    return json_array_get(json_object_get(doc, "actions"), i);
}

static void test_patches(void)
{
    struct store *st = open_store("w-patch", 16 * MiB, 16 * MiB);
    if (!st)
        return;
    const char *id = "pays-bigouden-sud-2020";
    json_t *body = convention(id, NULL);
    struct write_outcome out = run(st, WRITE_CREATE, NULL, body, &ed29);
    CHECK_INT(out.status, 201);
    write_outcome_clear(&out);

    /* merge patch of the title: the rest stays */
    json_t *patch = json_pack("{s:s, s:n}", "title", "CTG Pays Bigouden Sud", "signed_on");
    out = run_rev(st, WRITE_PATCH, id, patch, 1, true);
    CHECK_INT(out.status, 200);
    CHECK_INT(out.rev, 2);
    CHECK_STR(str_field(stored_doc(&out), "title"), "CTG Pays Bigouden Sud");
    CHECK(json_object_get(stored_doc(&out), "signed_on") == NULL); /* null removes */
    CHECK_STR(str_field(stored_doc(&out), "status"), "monitoring");
    CHECK(json_equal(json_object_get(stored_doc(&out), "actions"), json_object_get(body, "actions")));
    write_outcome_clear(&out);
    json_decref(patch);

    /* a patch of the id is refused */
    patch = json_pack("{s:s}", "id", "pays-bigouden-sud-2021");
    out = run_rev(st, WRITE_PATCH, id, patch, 2, false);
    CHECK_INT(out.status, 400);
    write_outcome_clear(&out);
    json_decref(patch);

    /* action patch: only that action changes, and it keeps its place */
    patch = json_pack("{s:i, s:s}", "progress", 100, "status", "done");
    struct write_request w = {.kind = WRITE_PATCH_ACTION, .id = id, .action_id = "fa-2",
                              .body = patch, .who = &ed29, .claim = {.given = true, .rev = 2}};
    write_convention(st, &w, &out);
    CHECK_INT(out.status, 200);
    CHECK_INT(out.rev, 3);
    CHECK_STR(str_field(action_at(stored_doc(&out), 1), "id"), "fa-2");
    CHECK_INT(json_integer_value(json_object_get(action_at(stored_doc(&out), 1), "progress")), 100);
    CHECK_STR(str_field(action_at(stored_doc(&out), 1), "status"), "done");
    CHECK_STR(str_field(action_at(stored_doc(&out), 1), "title"), "Ouvrir un LAEP itinérant");
    CHECK(json_equal(action_at(stored_doc(&out), 0), action_at(body, 0)));
    CHECK_INT(json_array_size(json_object_get(stored_doc(&out), "actions")), 2);
    write_outcome_clear(&out);

    /* an unknown action: 404, nothing written */
    w.action_id = "fa-9";
    w.claim.rev = 3;
    write_convention(st, &w, &out);
    CHECK_INT(out.status, 404);
    CHECK_STR(out.code, "not_found");
    CHECK(strstr(out.message, "fa-9") != NULL);
    write_outcome_clear(&out);
    CHECK_INT(stored_rev(st, id), 3);
    json_decref(patch);

    /* a patch of an absent convention: 404 */
    patch = json_pack("{s:s}", "title", "x");
    out = run_rev(st, WRITE_PATCH, "pays-de-morlaix", patch, 1, false);
    CHECK_INT(out.status, 404);
    write_outcome_clear(&out);
    json_decref(patch);
    CHECK_INT(store_last_seq(st), 3);
    json_decref(body);
    store_close(st);
}

static void test_invalid_document_is_refused_with_details(void)
{
    struct store *st = open_store("w-invalid", 16 * MiB, 16 * MiB);
    if (!st)
        return;
    const char *id = "pays-bigouden-sud-2020";
    json_t *body = convention(id, NULL);
    struct write_outcome out = run(st, WRITE_CREATE, NULL, body, &ed29);
    CHECK_INT(out.status, 201);
    write_outcome_clear(&out);

    json_t *patch = json_pack("{s:s, s:{s:s}}", "status", "signed", "period", "end", "2019-12-31");
    out = run_rev(st, WRITE_PATCH, id, patch, 1, false);
    CHECK_INT(out.status, 422);
    CHECK_STR(out.code, "validation_failed");
    CHECK(stored_doc(&out) == NULL);
    json_t *details = json_object_get(out.extra, "details");
    CHECK_INT(json_array_size(details), 2);
    bool status_reported = false, period_reported = false;
    size_t i;
    json_t *d;
    json_array_foreach(details, i, d) {
        const char *path = str_field(d, "path");
        status_reported |= path && strcmp(path, "/status") == 0;
        period_reported |= path && strcmp(path, "/period/end") == 0;
        CHECK(str_field(d, "message") && *str_field(d, "message"));
    }
    CHECK(status_reported);
    CHECK(period_reported);
    write_outcome_clear(&out);
    json_decref(patch);
    CHECK_INT(stored_rev(st, id), 1);
    CHECK_INT(store_last_seq(st), 1);

    /* an invalid create leaves no trace either */
    json_t *bad = convention("pays-de-landerneau", NULL);
    json_object_set_new(bad, "titel", json_string("typo"));
    out = run(st, WRITE_CREATE, NULL, bad, &ed29);
    CHECK_INT(out.status, 422);
    write_outcome_clear(&out);
    json_decref(bad);
    CHECK_INT(stored_rev(st, "pays-de-landerneau"), 0);
    CHECK_INT(store_last_seq(st), 1);
    struct revisions revs;
    CHECK_INT(read_revisions(st, "pays-de-landerneau", &revs), STORE_NOT_FOUND);
    json_decref(body);
    store_close(st);
}

static void test_id_of_the_wrong_type_is_refused(void)
{
    struct store *st = open_store("w-id-type", 16 * MiB, 16 * MiB);
    if (!st)
        return;
    /* An id must be a string (SPEC §2): a number is a mistake, not an absent id. */
    json_t *body = convention(NULL, NULL);
    json_object_set_new(body, "id", json_integer(42));
    struct write_outcome out = run(st, WRITE_CREATE, NULL, body, &ed29);
    CHECK_INT(out.status, 422);
    CHECK_INT(store_last_seq(st), 0);
    write_outcome_clear(&out);
    json_decref(body);
    store_close(st);
}

static void test_department_rights(void)
{
    struct store *st = open_store("w-rights", 16 * MiB, 16 * MiB);
    if (!st)
        return;
    /* an editor of 29 cannot create in 49 */
    json_t *doc49 = convention("angers-loire-metropole", "49");
    struct write_outcome out = run(st, WRITE_CREATE, NULL, doc49, &ed29);
    CHECK_INT(out.status, 403);
    CHECK_STR(out.code, "forbidden");
    CHECK(strstr(out.message, "ed29") != NULL);
    write_outcome_clear(&out);
    CHECK_INT(stored_rev(st, "angers-loire-metropole"), 0);
    CHECK_INT(store_last_seq(st), 0);

    /* nor change or delete a 49 convention an admin wrote */
    out = run(st, WRITE_CREATE, NULL, doc49, &admin);
    CHECK_INT(out.status, 201);
    write_outcome_clear(&out);
    json_t *patch = json_pack("{s:s}", "title", "CTG Angers Loire Métropole");
    out = run_rev(st, WRITE_PATCH, "angers-loire-metropole", patch, 1, false);
    CHECK_INT(out.status, 403);
    write_outcome_clear(&out);
    out = run_rev(st, WRITE_DELETE, "angers-loire-metropole", NULL, 1, false);
    CHECK_INT(out.status, 403);
    write_outcome_clear(&out);
    CHECK_INT(stored_rev(st, "angers-loire-metropole"), 1);
    json_decref(patch);

    /* a 29 convention cannot be moved to 49 by the editor of 29 */
    json_t *doc29 = convention("pays-de-brest", "29");
    out = run(st, WRITE_CREATE, NULL, doc29, &ed29);
    CHECK_INT(out.status, 201);
    write_outcome_clear(&out);
    patch = json_pack("{s:s}", "department", "49");
    out = run_rev(st, WRITE_PATCH, "pays-de-brest", patch, 1, false);
    CHECK_INT(out.status, 403);
    CHECK_STR(out.code, "forbidden");
    write_outcome_clear(&out);
    CHECK_STR(list_ids(st, "29", NULL, NULL), "pays-de-brest");
    CHECK_INT(stored_rev(st, "pays-de-brest"), 1);
    /* ...but by an admin it can, and the department index follows */
    struct write_request w = {.kind = WRITE_PATCH, .id = "pays-de-brest", .body = patch,
                              .who = &admin, .claim = {.given = true, .rev = 1}};
    write_convention(st, &w, &out);
    CHECK_INT(out.status, 200);
    write_outcome_clear(&out);
    CHECK_STR(list_ids(st, "29", NULL, NULL), "");
    CHECK_STR(list_ids(st, "49", NULL, NULL), "angers-loire-metropole,pays-de-brest");
    json_decref(patch);

    /* a reader writes nowhere, not even in its department */
    json_t *other29 = convention("pays-de-morlaix", "29");
    out = run(st, WRITE_CREATE, NULL, other29, &reader29);
    CHECK_INT(out.status, 403);
    write_outcome_clear(&out);
    CHECK_INT(stored_rev(st, "pays-de-morlaix"), 0);
    json_decref(other29);
    json_decref(doc29);
    json_decref(doc49);
    store_close(st);
}

static void test_delete_then_recreate_goes_on_with_revs(void)
{
    struct store *st = open_store("w-delete", 16 * MiB, 16 * MiB);
    if (!st)
        return;
    const char *id = "pays-de-quimperle";
    json_t *body = convention(id, NULL);
    struct write_outcome out = run(st, WRITE_CREATE, NULL, body, &ed29);
    CHECK_INT(out.status, 201);
    write_outcome_clear(&out);
    out = run_rev(st, WRITE_REPLACE, id, body, 1, false);
    CHECK_INT(out.status, 200);
    write_outcome_clear(&out);

    out = run(st, WRITE_DELETE, id, NULL, &ed29); /* no rev: 428 */
    CHECK_INT(out.status, 428);
    write_outcome_clear(&out);
    out = run_rev(st, WRITE_DELETE, id, NULL, 1, false); /* stale */
    CHECK_INT(out.status, 409);
    CHECK_INT(current_rev_of(&out), 2);
    write_outcome_clear(&out);
    CHECK_INT(stored_rev(st, id), 2);

    out = run_rev(st, WRITE_DELETE, id, NULL, 2, false);
    CHECK_INT(out.status, 200);
    CHECK_INT(out.type, CHANGE_DELETED);
    CHECK_INT(out.rev, 3);
    CHECK(stored_doc(&out) == NULL);
    CHECK_STR(out.id, id);
    write_outcome_clear(&out);
    CHECK(!doc_present(st, id));
    CHECK_INT(store_last_seq(st), 3);

    /* deleting again: there is nothing to delete */
    out = run_rev(st, WRITE_DELETE, id, NULL, 3, false);
    CHECK_INT(out.status, 404);
    write_outcome_clear(&out);

    /* created again: the rev goes on from the deletion's */
    out = run(st, WRITE_CREATE, NULL, body, &ed29);
    CHECK_INT(out.status, 201);
    CHECK_INT(out.rev, 4);
    CHECK_INT(out.type, CHANGE_CREATED);
    CHECK_INT(json_integer_value(json_object_get(stored_doc(&out), "rev")), 4);
    write_outcome_clear(&out);
    CHECK_INT(stored_rev(st, id), 4);
    struct revisions revs;
    CHECK_INT(read_revisions(st, id, &revs), STORE_OK);
    CHECK_INT(revs.n, 4);
    CHECK_STR(revs.type[0], "created");
    CHECK_STR(revs.type[1], "updated");
    CHECK_STR(revs.type[2], "deleted");
    CHECK_STR(revs.type[3], "created");
    CHECK_STR(revs.actor[3], "ed29");
    CHECK_INT(revs.rev[3], 4);
    CHECK_INT(store_last_seq(st), 4);
    json_decref(body);
    store_close(st);
}

static void test_write_into_full_store_is_507(void)
{
    struct store *st = open_store("w-full", 256 * 1024, 256 * 1024);
    if (!st)
        return;
    int status = 201, written = 0;
    char id[32];
    for (int i = 0; i < 200 && status == 201; i++) {
        snprintf(id, sizeof id, "pays-plein-%03d", i);
        json_t *body = convention(id, NULL);
        char *notes = malloc(4001);
        memset(notes, 'n', 4000);
        notes[4000] = '\0';
        json_t *extra = json_object();
        for (int k = 0; k < 2; k++) {
            char key[16];
            snprintf(key, sizeof key, "notes-%d", k);
            json_object_set_new(extra, key, json_string(notes));
        }
        json_object_set_new(body, "extra", extra);
        free(notes);
        struct write_outcome out = run(st, WRITE_CREATE, NULL, body, &ed29);
        status = out.status;
        if (status == 201)
            written++;
        else {
            CHECK_STR(out.code, "storage_full");
            CHECK(stored_doc(&out) == NULL);
        }
        write_outcome_clear(&out);
        json_decref(body);
    }
    CHECK_INT(status, 507);
    CHECK(written > 0);
    CHECK_INT(store_last_seq(st), written);
    CHECK(!doc_present(st, id));
    store_close(st);
}

int main(void)
{
    tmp_setup();
    test_document_life_cycle();
    test_refused_write_leaves_nothing();
    test_work_runs_while_the_commit_syncs();
    test_ids_too_long_for_a_key_are_never_found_nor_stored();
    test_listing_pages_in_id_order();
    test_reopen_keeps_everything();
    test_full_map_refuses_whole_writes();
    test_map_grows_up_to_its_maximum();
    test_create_with_generated_id();
    test_create_with_taken_id_is_refused();
    test_rev_rule_on_replace();
    test_patches();
    test_invalid_document_is_refused_with_details();
    test_id_of_the_wrong_type_is_refused();
    test_department_rights();
    test_delete_then_recreate_goes_on_with_revs();
    test_write_into_full_store_is_507();
    tmpdir_remove(tmp_root);
    return check_summary("test_store");
}
