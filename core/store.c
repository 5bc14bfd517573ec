/*
 * store.c — the LMDB document store (see store.h for the layout).
 *
 * One write transaction per write covers the document, its revision, its index entries and
 * its change-log entry: all or nothing. LMDB commits it without a sync; its puts and deletes go
 * to the write-ahead log (wal.h), whose one sequential sync makes it durable, and checkpoints
 * sync the data file in the background. Reads reuse one read-only transaction, reset between
 * requests so that no snapshot outlives a turn of the event loop. A full map is grown (doubled,
 * up to map_size_max) and the write run again.
 */
#define _GNU_SOURCE /* sync_file_range */
#include "ctg/store.h"
#include "ctg/json_parse.h"
#include "ctg/json_write.h"
#include "ctg/log.h"
#include "ctg/model.h"
#include "ctg/wal.h"

#include <lmdb.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define ID_MAX 64 /* bytes of an id: SPEC §2 allows 64; longer ones are never stored */
#define REV_KEY_MAX (ID_MAX + RECORD_REVISION_KEY_EXTRA)
#define DISK_FULL_MARGIN (16u << 20) /* free bytes below which an I/O error means "disk full" */

struct store {
    MDB_env *env;
    MDB_dbi docs, revs, changes, index[STORE_INDEX_COUNT];
    MDB_txn *read_txn; /* reset between reads; NULL until first needed */
    bool reading;
    bool writing;      /* inside store_write(): this thread's one transaction is the write */
    size_t map_size, map_size_max;
    uint64_t last_seq;
    uint64_t commits;  /* write transactions committed (each one sync) */

    struct wal *wal;
    int data_fd;       /* data.mdb, for checkpoints: its first pages are read, it is synced */
    size_t page_size;
    uint64_t last_txnid;
    MDB_txn *pin;      /* a read on the last checkpoint's snapshot: no write reuses its pages */
    MDB_txn *next_pin; /* …and on the running checkpoint's */
    bool opened;
};

/* The databases and operations as the write-ahead log names them. */
enum { DB_DOCS, DB_REVS, DB_CHANGES, DB_INDEX, DB_COUNT = DB_INDEX + STORE_INDEX_COUNT };
enum { OP_PUT = 1, OP_DEL, OP_DEL_DUP };

struct store_txn {
    struct store *st;
    MDB_txn *txn;
    int failure; /* the LMDB error that stopped the write, 0 if none */
    uint64_t seq;
};

const char *change_type_name(enum change_type type)
{
    static const char *const names[] = {"created", "updated", "deleted"};
    return names[type];
}

int change_type_of(const char *name)
{
    for (int t = CHANGE_CREATED; name && t <= CHANGE_DELETED; t++)
        if (strcmp(name, change_type_name(t)) == 0)
            return t;
    return -1;
}

int change_type_of_event(const char *event_type)
{
    static const char prefix[] = "convention.";
    if (!event_type || strncmp(event_type, prefix, sizeof prefix - 1) != 0)
        return -1;
    return change_type_of(event_type + sizeof prefix - 1);
}

static MDB_val string_val(const char *s)
{
    return (MDB_val){.mv_size = strlen(s), .mv_data = (void *)s};
}

static bool id_fits(const char *id)
{
    return strnlen(id, ID_MAX + 1) <= ID_MAX;
}

/* The revs key of `id` at `rev`; the id must fit (id_fits), which every caller checks first. */
static MDB_val rev_key(unsigned char buf[REV_KEY_MAX], const char *id, uint64_t rev)
{
    return (MDB_val){.mv_size = record_revision_key(buf, id, rev), .mv_data = buf};
}

static enum store_status decode_value(const MDB_val *val, struct record_view *out)
{
    if (record_decode(val->mv_data, val->mv_size, out) < 0) {
        log_error("store", "a stored value is not a record: the data folder is damaged");
        return STORE_ERROR;
    }
    return STORE_OK;
}

/*
 * Puts the current version's text in the view of a revision written RECORD_BODY_CURRENT under
 * `key`; false when docs has no text of that id at the revision's rev.
 */
static bool current_text(const struct store *st, MDB_txn *txn, const MDB_val *key,
                         struct record_view *out)
{
    size_t id_len;
    uint64_t rev;
    if (record_revision_key_split(key->mv_data, key->mv_size, &id_len, &rev) < 0)
        return false;
    MDB_val doc_key = {.mv_size = id_len, .mv_data = key->mv_data}, doc_val;
    struct record_view doc;
    if (mdb_get(txn, st->docs, &doc_key, &doc_val) != 0 ||
        record_decode(doc_val.mv_data, doc_val.mv_size, &doc) < 0 ||
        doc.kind != RECORD_BODY_TEXT || doc.rev != out->rev || doc.body_len == 0)
        return false;
    record_take_text(out, &doc);
    return true;
}

/*
 * A value of revs, under `key`: a revision holds its document, or, while it is the last one
 * (RECORD_BODY_CURRENT), it is the current version's.
 */
static enum store_status read_revision(const struct store *st, MDB_txn *txn, const MDB_val *key,
                                       const MDB_val *val, struct record_view *out)
{
    enum store_status status = decode_value(val, out);
    if (status != STORE_OK || out->kind == RECORD_BODY_TEXT)
        return status;
    if (out->kind == RECORD_BODY_CURRENT && current_text(st, txn, key, out))
        return STORE_OK;
    log_error("store", "a revision points at another for its document, or its document is the "
                       "current version, which is not there, at another rev or not a text: the "
                       "data folder is damaged");
    return STORE_ERROR;
}

/* True when the revs key `key` names a revision of `id` (any id when NULL) at `rev`. */
static bool key_names(const MDB_val *key, const char *id, uint64_t rev)
{
    size_t id_len;
    uint64_t key_rev;
    if (record_revision_key_split(key->mv_data, key->mv_size, &id_len, &key_rev) < 0)
        return false;
    return key_rev == rev && (!id || (strlen(id) == id_len && !memcmp(key->mv_data, id, id_len)));
}

/*
 * Puts the document of a record that points at its revision (RECORD_BODY_REVISION: a current
 * version, a change-log entry) in place of the pointer. The revision must be of the record's
 * rev, of `id` when given, and hold a document.
 */
static enum store_status resolve_body(const struct store *st, MDB_txn *txn, const char *id,
                                      struct record_view *out)
{
    if (out->kind != RECORD_BODY_REVISION)
        return STORE_OK;
    MDB_val key = {.mv_size = out->body_len, .mv_data = (void *)out->body}, val;
    struct record_view revision;
    if (!key_names(&key, id, out->rev) || mdb_get(txn, st->revs, &key, &val) != 0 ||
        read_revision(st, txn, &key, &val, &revision) != STORE_OK || revision.body_len == 0) {
        log_error("store", "a record points at a revision of another id or rev, or at one that "
                           "is not there or holds no document: the data folder is damaged");
        return STORE_ERROR;
    }
    record_take_text(out, &revision);
    return STORE_OK;
}

/*
 * decode_value, then, when `with_body`, resolve_body (`id`: the id the record is of, when
 * known); without, the view has no body.
 */
static enum store_status read_value(const struct store *st, MDB_txn *txn, const MDB_val *val,
                                    const char *id, bool with_body, struct record_view *out)
{
    enum store_status status = decode_value(val, out);
    if (status != STORE_OK)
        return status;
    if (with_body)
        return resolve_body(st, txn, id, out);
    out->body = NULL;
    out->body_len = 0;
    return STORE_OK;
}

/* ---------- opening ---------- */

static int make_dir(const char *dir)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path)
        return -1;
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0700) < 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(path, 0700) < 0 && errno != EEXIST ? -1 : 0;
}

static int sync_folder(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/*
 * fsync(2) of a file does not make its name durable, nor the name of a folder just made: the
 * folders must be synced too, or a crash could take away a store created just before it (and
 * the writes it acknowledged). Syncs the data folder (data.mdb, lock.mdb) and its parent; a
 * file system that cannot is only warned about.
 */
static void sync_data_folder(const char *dir)
{
    char parent[4096];
    snprintf(parent, sizeof parent, "%s", dir);
    size_t n = strlen(parent);
    while (n > 1 && parent[n - 1] == '/')
        parent[--n] = '\0';
    char *slash = strrchr(parent, '/');
    if (!slash)
        snprintf(parent, sizeof parent, ".");
    else if (slash == parent)
        parent[1] = '\0'; /* "/data": the root */
    else
        *slash = '\0';
    if (sync_folder(dir) < 0 || sync_folder(parent) < 0)
        log_warn("store", "cannot sync the data folder %s or its parent: %s", dir, strerror(errno));
}

/* `create`: MDB_CREATE in a write transaction, 0 in a read. */
static int open_databases(struct store *st, MDB_txn *txn, unsigned create)
{
    int rc = mdb_dbi_open(txn, "docs", create, &st->docs);
    if (!rc)
        rc = mdb_dbi_open(txn, "revs", create, &st->revs);
    if (!rc)
        rc = mdb_dbi_open(txn, "changes", create, &st->changes);
    for (int i = 0; i < STORE_INDEX_COUNT && !rc; i++)
        rc = mdb_dbi_open(txn, store_index_name(i), create | MDB_DUPSORT, &st->index[i]);
    return rc;
}

static MDB_dbi dbi_of(const struct store *st, unsigned code)
{
    return code == DB_DOCS ? st->docs : code == DB_REVS ? st->revs
         : code == DB_CHANGES ? st->changes : st->index[code - DB_INDEX];
}

static unsigned code_of(const struct store *st, MDB_dbi dbi)
{
    unsigned code = 0;
    while (code < DB_COUNT - 1 && dbi_of(st, code) != dbi)
        code++;
    return code;
}

static int read_last_seq(struct store *st, MDB_txn *txn)
{
    MDB_cursor *cur;
    MDB_val key, val;
    int rc = mdb_cursor_open(txn, st->changes, &cur);
    if (rc)
        return rc;
    rc = mdb_cursor_get(cur, &key, &val, MDB_LAST);
    st->last_seq = rc == 0 && key.mv_size == 8 ? record_get_u64_be(key.mv_data) : 0;
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

static int open_environment(struct store *st, const struct store_options *opt)
{
    int rc = mdb_env_create(&st->env);
    if (!rc)
        rc = mdb_env_set_maxdbs(st->env, 8);
    if (!rc)
        rc = mdb_env_set_mapsize(st->env, opt->map_size);
    /* NOSYNC: the write-ahead log makes commits durable. NOTLS: the checkpoints' pins are read
       transactions of the loop's thread, beside its reads. */
    if (!rc)
        rc = mdb_env_open(st->env, opt->dir, MDB_NOSYNC | MDB_NOTLS, 0600);
    if (rc)
        return rc;
    MDB_envinfo info;
    MDB_stat stat;
    mdb_env_info(st->env, &info);
    mdb_env_stat(st->env, &stat);
    st->map_size = info.me_mapsize; /* LMDB may have enlarged it to hold the existing data */
    st->last_txnid = info.me_last_txnid;
    st->page_size = stat.ms_psize;
    return 0;
}

static void close_environment(struct store *st)
{
    mdb_env_close(st->env);
    st->env = NULL;
}

/* Opens the databases: creates them when the log has no checkpoint yet (a new store). */
static int open_all_databases(struct store *st)
{
    uint64_t checkpoint;
    bool create = !wal_checkpoint_txnid(st->wal, &checkpoint);
    MDB_txn *txn;
    int rc = mdb_txn_begin(st->env, NULL, create ? 0 : MDB_RDONLY, &txn);
    if (rc)
        return rc;
    rc = open_databases(st, txn, create ? MDB_CREATE : 0);
    if (rc) {
        mdb_txn_abort(txn);
        return rc;
    }
    rc = mdb_txn_commit(txn);
    MDB_envinfo info;
    if (!rc && mdb_env_info(st->env, &info) == 0)
        st->last_txnid = info.me_last_txnid;
    return rc;
}

static int read_last_seq_now(struct store *st)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn);
    if (rc)
        return rc;
    rc = read_last_seq(st, txn);
    mdb_txn_abort(txn);
    return rc;
}

/*
 * After a crash, the data file may hold pages written after the last checkpoint, some of them
 * and not others: its first pages are written back as the checkpoint kept them, which makes it
 * the checkpoint's again (the log's records after it are applied next). After a clean stop it
 * is whole, and is left as it is, with whatever another LMDB program did to it since. A data
 * file older than the checkpoint was put there by hand, and is not touched.
 */
static int roll_back_to_checkpoint(struct store *st, const struct store_options *opt, char *err,
                                   size_t errlen)
{
    uint64_t checkpoint;
    if (!wal_checkpoint_txnid(st->wal, &checkpoint))
        return 0;
    if (st->last_txnid < checkpoint) {
        snprintf(err, errlen, "the data file of %s is at transaction %llu, before the write-ahead "
                              "log's checkpoint (%llu): was it copied back from a backup? Move "
                              "ctgd.wal out of the folder to open the data file as it is", opt->dir,
                 (unsigned long long)st->last_txnid, (unsigned long long)checkpoint);
        return -1;
    }
    if (wal_closed_cleanly(st->wal))
        return 0;
    int restored = wal_restore_pages(st->wal, st->data_fd);
    if (restored < 0) {
        snprintf(err, errlen, "cannot roll the data file of %s back to its checkpoint", opt->dir);
        return -1;
    }
    if (restored == 0)
        return 0;
    log_warn("store", "ctgd did not stop cleanly: the store goes back to its checkpoint "
                      "(transaction %llu) and the write-ahead log is applied again",
             (unsigned long long)checkpoint);
    close_environment(st); /* LMDB reads the meta pages when it opens */
    int rc = open_environment(st, opt);
    if (rc)
        snprintf(err, errlen, "cannot open the store in %s: %s", opt->dir, mdb_strerror(rc));
    return rc ? -1 : 0;
}

static int apply_op(struct store *st, MDB_txn *txn, const struct wal_op *op)
{
    if (op->db >= DB_COUNT)
        return MDB_CORRUPTED;
    MDB_dbi dbi = dbi_of(st, op->db);
    MDB_val key = {op->key_len, (void *)op->key}, val = {op->val_len, (void *)op->val};
    switch (op->kind) {
    case OP_PUT:
        return mdb_put(txn, dbi, &key, &val, op->flags);
    case OP_DEL:
        return mdb_del(txn, dbi, &key, NULL);
    case OP_DEL_DUP:
        return mdb_del(txn, dbi, &key, &val);
    }
    return MDB_CORRUPTED;
}

static int grow_map(struct store *st);

/* Applies one record of the log again, as the transaction `txnid` it was. */
static int apply_record(uint64_t txnid, struct wal_record *rec, void *arg)
{
    struct store *st = arg;
    for (;;) {
        MDB_txn *txn = NULL;
        int rc = mdb_txn_begin(st->env, NULL, 0, &txn);
        if (!rc && mdb_txn_id(txn) != txnid) {
            log_error("store", "the write-ahead log's transaction %llu does not follow the "
                               "store's %zu", (unsigned long long)txnid, mdb_txn_id(txn) - 1);
            mdb_txn_abort(txn);
            return -1;
        }
        struct wal_record ops = *rec;
        struct wal_op op;
        while (!rc && wal_record_next(&ops, &op))
            rc = apply_op(st, txn, &op);
        if (!rc && ops.next != ops.end)
            rc = MDB_CORRUPTED;
        if (!rc)
            rc = mdb_txn_commit(txn);
        else if (txn)
            mdb_txn_abort(txn);
        if (rc == MDB_MAP_FULL && grow_map(st) == 0)
            continue;
        if (rc) {
            log_error("store", "cannot apply the write-ahead log's transaction %llu again: %s",
                      (unsigned long long)txnid, mdb_strerror(rc));
            return -1;
        }
        st->last_txnid = txnid;
        return 0;
    }
}

static int checkpoint_now(struct store *st, bool closing);
static MDB_txn *pin_last_commit(struct store *st);

/* The environment, the log applied again after a crash, and a checkpoint of all that. */
static int open_store_files(struct store *st, const struct store_options *opt, char *err,
                            size_t errlen)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/ctgd.wal", opt->dir);
    st->wal = wal_open(path, opt->wal_size ? opt->wal_size : WAL_SIZE_DEFAULT, err, errlen);
    if (!st->wal)
        return -1;
    int rc = open_environment(st, opt);
    snprintf(path, sizeof path, "%s/data.mdb", opt->dir);
    if (!rc && (st->data_fd = open(path, O_RDWR | O_CLOEXEC)) < 0)
        rc = errno;
    if (rc) {
        snprintf(err, errlen, "cannot open the store in %s: %s", opt->dir, mdb_strerror(rc));
        return -1;
    }
    if (roll_back_to_checkpoint(st, opt, err, errlen) < 0)
        return -1;
    rc = open_all_databases(st);
    /* Pinned first: the transactions applied again must not reuse the checkpoint's pages, which
       a crash during this start would go back to. */
    if (!rc && !(st->pin = pin_last_commit(st)))
        rc = MDB_READERS_FULL;
    long replayed = rc ? 0 : wal_replay(st->wal, apply_record, st);
    if (!rc && replayed < 0)
        rc = MDB_CORRUPTED;
    if (!rc)
        rc = read_last_seq_now(st);
    if (rc) {
        snprintf(err, errlen, "cannot open the store in %s: %s", opt->dir, mdb_strerror(rc));
        return -1;
    }
    if (replayed > 0)
        log_warn("store", "%ld transaction(s) of the write-ahead log applied again", replayed);
    if (checkpoint_now(st, false) < 0) {
        snprintf(err, errlen, "cannot sync the store in %s", opt->dir);
        return -1;
    }
    return 0;
}

struct store *store_open(const struct store_options *opt, char *err, size_t errlen)
{
    struct store *st = calloc(1, sizeof *st);
    if (!st) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    st->data_fd = -1;
    st->map_size_max = opt->map_size_max;
    if (make_dir(opt->dir) < 0) {
        snprintf(err, errlen, "cannot create data folder %s: %s", opt->dir, strerror(errno));
        free(st);
        return NULL;
    }
    if (open_store_files(st, opt, err, errlen) < 0) {
        store_close(st);
        return NULL;
    }
    st->opened = true;
    sync_data_folder(opt->dir);
    return st;
}

static void release_pins(struct store *st)
{
    if (st->pin)
        mdb_txn_abort(st->pin);
    if (st->next_pin)
        mdb_txn_abort(st->next_pin);
    st->pin = st->next_pin = NULL;
}

void store_close(struct store *st)
{
    if (!st)
        return;
    if (st->opened && checkpoint_now(st, true) < 0) /* nothing to apply again at the next start */
        log_error("store", "the last checkpoint failed: the next start applies the log again");
    release_pins(st);
    if (st->read_txn)
        mdb_txn_abort(st->read_txn);
    if (st->env)
        mdb_env_close(st->env);
    if (st->data_fd >= 0)
        close(st->data_fd);
    wal_close(st->wal);
    free(st);
}

uint64_t store_commits(const struct store *st)
{
    return st->commits;
}

uint64_t store_last_seq(const struct store *st)
{
    return st->last_seq;
}

size_t store_map_size(const struct store *st)
{
    return st->map_size;
}

/* Takes the map size another process set (after MDB_MAP_RESIZED). */
static int adopt_map_size(struct store *st)
{
    MDB_envinfo info;
    int rc = mdb_env_set_mapsize(st->env, 0);
    if (rc == 0 && mdb_env_info(st->env, &info) == 0)
        st->map_size = info.me_mapsize;
    return rc;
}

/* ---------- reading ---------- */

enum store_status store_read_begin(struct store *st)
{
    if (st->reading || st->writing) { /* LMDB: one transaction per thread at a time */
        log_error("store", "a read began inside another %s", st->reading ? "read" : "write");
        return STORE_ERROR;
    }
    int rc = st->read_txn ? mdb_txn_renew(st->read_txn)
                          : mdb_txn_begin(st->env, NULL, MDB_RDONLY, &st->read_txn);
    if (rc == MDB_MAP_RESIZED) { /* another process grew the map */
        mdb_txn_abort(st->read_txn);
        st->read_txn = NULL;
        rc = adopt_map_size(st);
        if (!rc)
            rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &st->read_txn);
    }
    if (rc) {
        log_error("store", "cannot begin a read: %s", mdb_strerror(rc));
        return STORE_ERROR;
    }
    st->reading = true;
    return STORE_OK;
}

void store_read_end(struct store *st)
{
    if (st->reading)
        mdb_txn_reset(st->read_txn);
    st->reading = false;
}

size_t store_count(struct store *st)
{
    MDB_stat stat;
    return mdb_stat(st->read_txn, st->docs, &stat) == 0 ? stat.ms_entries : 0;
}

static enum store_status get_doc_in(const struct store *st, MDB_txn *txn, const char *id,
                                    bool with_body, struct record_view *out)
{
    if (!id_fits(id))
        return STORE_NOT_FOUND;
    MDB_val key = string_val(id), val;
    int rc = mdb_get(txn, st->docs, &key, &val);
    if (rc == MDB_NOTFOUND)
        return STORE_NOT_FOUND;
    if (rc) {
        log_error("store", "cannot read %s: %s", id, mdb_strerror(rc));
        return STORE_ERROR;
    }
    return read_value(st, txn, &val, id, with_body, out);
}

enum store_status store_get_doc(struct store *st, const char *id, struct record_view *out)
{
    return get_doc_in(st, st->read_txn, id, true, out);
}

enum store_status store_get_revision(struct store *st, const char *id, uint64_t rev,
                                     struct record_view *out)
{
    if (!id_fits(id))
        return STORE_NOT_FOUND;
    unsigned char buf[REV_KEY_MAX];
    MDB_val key = rev_key(buf, id, rev), val;
    int rc = mdb_get(st->read_txn, st->revs, &key, &val);
    if (rc == MDB_NOTFOUND)
        return STORE_NOT_FOUND;
    return rc ? STORE_ERROR : read_revision(st, st->read_txn, &key, &val, out);
}

/* Positions `cur` on the first revision of `id`; 0 when there is one. */
static int first_revision(MDB_cursor *cur, const char *id, MDB_val *key, MDB_val *val)
{
    unsigned char buf[REV_KEY_MAX];
    *key = rev_key(buf, id, 0);
    return mdb_cursor_get(cur, key, val, MDB_SET_RANGE);
}

static bool is_revision_of(const MDB_val *key, const char *id)
{
    size_t n = strlen(id);
    return key->mv_size == n + 9 && memcmp(key->mv_data, id, n) == 0 &&
           ((const char *)key->mv_data)[n] == '\0';
}

enum store_status store_each_revision(struct store *st, const char *id,
                                      void (*fn)(const struct record_view *rev, void *arg),
                                      void *arg)
{
    MDB_cursor *cur;
    MDB_val key, val;
    if (!id_fits(id))
        return STORE_NOT_FOUND;
    if (mdb_cursor_open(st->read_txn, st->revs, &cur))
        return STORE_ERROR;
    enum store_status status = STORE_NOT_FOUND;
    int rc = first_revision(cur, id, &key, &val);
    for (; rc == 0 && is_revision_of(&key, id); rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
        struct record_view view;
        /* a history: the documents are read one by one, by rev */
        if (read_value(st, st->read_txn, &val, id, false, &view) != STORE_OK) {
            status = STORE_ERROR;
            break;
        }
        fn(&view, arg);
        status = STORE_OK;
    }
    mdb_cursor_close(cur);
    return status;
}

/* ---------- the change log ---------- */

enum store_status store_each_change(struct store *st, uint64_t since,
                                    int (*fn)(uint64_t seq, const struct record_view *change,
                                              void *arg),
                                    void *arg)
{
    MDB_cursor *cur;
    unsigned char start[8];
    if (since == UINT64_MAX || mdb_cursor_open(st->read_txn, st->changes, &cur))
        return since == UINT64_MAX ? STORE_OK : STORE_ERROR;
    record_put_u64_be(since + 1, start);
    MDB_val key = {.mv_size = 8, .mv_data = start}, val;
    enum store_status status = STORE_OK;
    int rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
    for (; rc == 0; rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
        struct record_view view;
        if (key.mv_size != 8 || read_value(st, st->read_txn, &val, NULL, true, &view) != STORE_OK) {
            status = STORE_ERROR;
            break;
        }
        if (fn(record_get_u64_be(key.mv_data), &view, arg))
            break;
    }
    mdb_cursor_close(cur);
    return rc == 0 || rc == MDB_NOTFOUND ? status : STORE_ERROR;
}

/* ---------- listing ---------- */

/* True when the DUPSORT index `dbi` holds (value, id); a NULL value matches anything. */
static bool index_holds(MDB_txn *txn, MDB_dbi dbi, const char *value, const char *id)
{
    if (!value)
        return true;
    MDB_cursor *cur;
    if (mdb_cursor_open(txn, dbi, &cur))
        return false;
    MDB_val key = string_val(value), val = string_val(id);
    bool found = mdb_cursor_get(cur, &key, &val, MDB_GET_BOTH) == 0;
    mdb_cursor_close(cur);
    return found;
}

struct list_walk {
    struct store *st;
    const struct store_query *q;
    size_t accepted;
};

/* Offers one candidate id to the query; returns 1 when the walk should stop. */
static int offer_candidate(struct list_walk *w, const char *id, size_t id_len)
{
    char buf[128];
    if (id_len >= sizeof buf)
        return 0;
    memcpy(buf, id, id_len);
    buf[id_len] = '\0';
    MDB_txn *txn = w->st->read_txn;
    if (!index_holds(txn, w->st->index[STORE_INDEX_DEPARTMENT], w->q->department, buf) ||
        !index_holds(txn, w->st->index[STORE_INDEX_STATUS], w->q->status, buf) ||
        !index_holds(txn, w->st->index[STORE_INDEX_CHAMP], w->q->champ, buf))
        return 0;
    struct record_view doc;
    if (get_doc_in(w->st, txn, buf, w->q->with_bodies, &doc) != STORE_OK)
        return 0;
    if (w->q->accept(buf, &doc, w->q->arg) == 1)
        w->accepted++;
    return w->accepted >= w->q->limit;
}

static bool val_is(const MDB_val *v, const char *s)
{
    return v->mv_size == strlen(s) && memcmp(v->mv_data, s, v->mv_size) == 0;
}

/*
 * Walks ids in id order after q->after: the ids under `value` in the DUPSORT index `dbi`, or,
 * with a NULL value, the keys of `docs`.
 */
static enum store_status walk(struct list_walk *w, MDB_dbi dbi, const char *value)
{
    MDB_cursor *cur;
    if (mdb_cursor_open(w->st->read_txn, dbi, &cur))
        return STORE_ERROR;
    const char *after = w->q->after;
    MDB_val key = string_val(value ? value : after ? after : ""), val = string_val(after ? after : "");
    MDB_val *id = value ? &val : &key;
    MDB_cursor_op first = value ? (after ? MDB_GET_BOTH_RANGE : MDB_SET_KEY)
                                : (after ? MDB_SET_RANGE : MDB_FIRST);
    MDB_cursor_op next = value ? MDB_NEXT_DUP : MDB_NEXT;
    int rc = mdb_cursor_get(cur, &key, &val, first);
    if (rc == 0 && after && val_is(id, after))
        rc = mdb_cursor_get(cur, &key, &val, next);
    for (; rc == 0; rc = mdb_cursor_get(cur, &key, &val, next))
        if (offer_candidate(w, id->mv_data, id->mv_size))
            break;
    mdb_cursor_close(cur);
    return rc == 0 || rc == MDB_NOTFOUND ? STORE_OK : STORE_ERROR;
}

enum store_status store_list(struct store *st, const struct store_query *q)
{
    struct list_walk w = {st, q, 0};
    if (q->limit == 0)
        return STORE_OK;
    /* Drive the walk from the most selective index given; the others are checked per id. */
    if (q->champ)
        return walk(&w, st->index[STORE_INDEX_CHAMP], q->champ);
    if (q->department)
        return walk(&w, st->index[STORE_INDEX_DEPARTMENT], q->department);
    if (q->status)
        return walk(&w, st->index[STORE_INDEX_STATUS], q->status);
    return walk(&w, st->docs, NULL);
}

static int append_doc_text(const char *id, const struct record_view *doc, void *arg)
{
    (void)id;
    return json_texts_add(arg, doc->body, doc->body_len) == 0;
}

enum store_status store_list_texts(struct store *st, struct store_query *q,
                                   struct json_texts *docs)
{
    q->accept = append_doc_text;
    q->arg = docs;
    q->with_bodies = true;
    enum store_status status = store_read_begin(st);
    if (status == STORE_OK) {
        status = store_list(st, q);
        store_read_end(st);
    }
    return status;
}

/* ---------- writing ---------- */

/* The body of a record: a text, or the key of the revision that holds the text. */
struct body {
    enum record_body kind;
    const void *bytes;
    size_t len;
};

static struct body text_body(const char *text)
{
    return (struct body){RECORD_BODY_TEXT, text, text ? strlen(text) : 0};
}

static char *copy_text(const char *bytes, size_t len)
{
    char *text = malloc(len + 1);
    if (text) {
        memcpy(text, bytes, len);
        text[len] = '\0';
    }
    return text;
}

/* Keeps, for the write-ahead log, a put or delete that changed the store. */
static int logged(struct store_txn *t, unsigned kind, MDB_dbi dbi, unsigned flags,
                  const MDB_val *key, const MDB_val *val)
{
    struct wal_op op = {kind, code_of(t->st, dbi), flags, key->mv_data, val ? val->mv_data : NULL,
                        key->mv_size, val ? val->mv_size : 0};
    return wal_add(t->st->wal, &op) < 0 ? ENOMEM : 0;
}

static int put_record(struct store_txn *t, MDB_dbi dbi, MDB_val *key, uint64_t rev,
                      const char *meta, struct body body, unsigned flags)
{
    size_t meta_len = strlen(meta);
    MDB_val val = {.mv_size = record_size(meta_len, body.len)};
    int rc = mdb_put(t->txn, dbi, key, &val, flags | MDB_RESERVE);
    if (rc == 0) {
        record_encode(val.mv_data, body.kind, rev, meta, meta_len, body.bytes, body.len);
        rc = logged(t, OP_PUT, dbi, flags, key, &val);
    }
    return rc;
}

enum store_status store_txn_get_doc(struct store_txn *t, const char *id, struct record_view *out)
{
    return get_doc_in(t->st, t->txn, id, true, out);
}

enum store_status store_txn_last_revision(struct store_txn *t, const char *id,
                                          struct store_revision *out)
{
    MDB_cursor *cur;
    MDB_val key, val;
    unsigned char buf[REV_KEY_MAX];
    if (!id_fits(id))
        return STORE_NOT_FOUND;
    if (mdb_cursor_open(t->txn, t->st->revs, &cur))
        return STORE_ERROR;
    key = rev_key(buf, id, UINT64_MAX);
    /* The key after id's last revision, then one step back. */
    int rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
    rc = rc == 0 ? mdb_cursor_get(cur, &key, &val, MDB_PREV) : mdb_cursor_get(cur, &key, &val, MDB_LAST);
    enum store_status status = STORE_NOT_FOUND;
    struct record_view view;
    if (rc == 0 && is_revision_of(&key, id) && (status = decode_value(&val, &view)) == STORE_OK) {
        json_t *meta = json_parse_body(view.meta, view.meta_len, NULL);
        const char *department = json_string_value(json_object_get(meta, "department"));
        out->rev = view.rev;
        snprintf(out->department, sizeof out->department, "%s", department ? department : "");
        json_decref(meta);
    }
    mdb_cursor_close(cur);
    return status;
}

const char *store_index_name(enum store_index index)
{
    static const char *const names[STORE_INDEX_COUNT] = {"idx_department", "idx_status",
                                                         "idx_champ"};
    return names[index];
}

size_t store_index_values(const json_t *doc, enum store_index index, const char **values,
                          size_t max)
{
    static const char *const keys[STORE_INDEX_COUNT] = {"department", "status", "champs"};
    json_t *v = doc ? json_object_get(doc, keys[index]) : NULL;
    size_t n = 0;
    if (json_is_string(v)) {
        values[n++] = json_string_value(v);
        return n;
    }
    size_t i;
    json_t *item;
    json_array_foreach(v, i, item) {
        if (json_is_string(item) && n < max)
            values[n++] = json_string_value(item);
    }
    return n;
}

static bool contains(const char **values, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(values[i], s) == 0)
            return true;
    return false;
}

/* Removes the entries of the old document that the new one lacks, adds the new ones. */
static int update_index(struct store_txn *t, enum store_index field, const char *id,
                        const json_t *old_doc, const json_t *new_doc)
{
    const char *old_vals[MODEL_ARRAY_MAX], *new_vals[MODEL_ARRAY_MAX];
    size_t n_old = store_index_values(old_doc, field, old_vals, MODEL_ARRAY_MAX);
    size_t n_new = store_index_values(new_doc, field, new_vals, MODEL_ARRAY_MAX);
    MDB_val data = string_val(id);
    for (size_t i = 0; i < n_old; i++) {
        if (contains(new_vals, n_new, old_vals[i]))
            continue;
        MDB_val key = string_val(old_vals[i]);
        int rc = mdb_del(t->txn, t->st->index[field], &key, &data);
        if (rc == 0)
            rc = logged(t, OP_DEL_DUP, t->st->index[field], 0, &key, &data);
        if (rc && rc != MDB_NOTFOUND)
            return rc;
    }
    for (size_t i = 0; i < n_new; i++) {
        if (contains(old_vals, n_old, new_vals[i]))
            continue;
        MDB_val key = string_val(new_vals[i]);
        int rc = mdb_put(t->txn, t->st->index[field], &key, &data, MDB_NODUPDATA);
        if (rc == 0)
            rc = logged(t, OP_PUT, t->st->index[field], MDB_NODUPDATA, &key, &data);
        if (rc && rc != MDB_KEYEXIST)
            return rc;
    }
    return 0;
}

/* The list summary kept beside each document. */
static char *summary_json(const json_t *doc)
{
    struct json_text s;
    json_text_object_start(&s);
    static const char *const copied[] = {"id", "department", "title", "status", NULL};
    for (const char *const *key = copied; *key; key++)
        json_text_member_value(&s, *key, json_object_get(doc, *key));
    json_text_member_value(&s, "territory",
                           json_object_get(json_object_get(doc, "territory"), "name"));
    json_text_member_value(&s, "period", json_object_get(doc, "period"));
    json_text_member_value(&s, "rev", json_object_get(doc, "rev"));
    json_text_member_value(&s, "updated_at", json_object_get(doc, "updated_at"));
    return json_text_object_end(&s, NULL);
}

/*
 * Writes "changed": the top-level keys that differ between the two documents, server-set ones
 * left out (on create, every key of the new one). A deletion changes no key: its event says so
 * by its type.
 */
static void put_changed_keys(struct json_text *meta, const json_t *old_doc, const json_t *new_doc)
{
    json_text_member_array_start(meta, "changed");
    const json_t *docs[2] = {new_doc, old_doc};
    for (int d = 0; d < 2 && new_doc; d++) {
        const char *key;
        size_t key_len;
        json_t *value;
        json_object_keylen_foreach((json_t *)docs[d], key, key_len, value) {
            json_t *other = json_object_getn(docs[1 - d], key, key_len);
            if (model_is_server_field(key, key_len) || (d == 1 && other))
                continue; /* keys in both were compared in the first pass */
            if (!other || !json_equal(value, other))
                json_text_item_string(meta, key, key_len);
        }
    }
    json_text_array_end(meta);
}

static const char *event_type_name(enum change_type type)
{
    static const char *const names[] = {"convention.created", "convention.updated",
                                        "convention.deleted"};
    return names[type];
}

static int append_change(struct store_txn *t, const struct store_change *c, const char *department,
                         struct body body)
{
    MDB_cursor *cur;
    MDB_val key, val;
    unsigned char seq_key[8];
    int rc = mdb_cursor_open(t->txn, t->st->changes, &cur);
    if (rc)
        return rc;
    rc = mdb_cursor_get(cur, &key, &val, MDB_LAST);
    uint64_t last = rc == 0 && key.mv_size == 8 ? record_get_u64_be(key.mv_data) : 0;
    mdb_cursor_close(cur);
    if (rc && rc != MDB_NOTFOUND)
        return rc;
    t->seq = last + 1;
    struct json_text meta;
    json_text_object_start(&meta);
    json_text_member_integer(&meta, "seq", (long long)t->seq);
    json_text_member_string(&meta, "type", event_type_name(c->type));
    json_text_member_string(&meta, "id", c->id);
    json_text_member_string(&meta, "department", department);
    json_text_member_integer(&meta, "rev", (long long)c->rev);
    json_text_member_string(&meta, "at", c->at);
    json_text_member_string(&meta, "actor", c->actor);
    put_changed_keys(&meta, c->old_doc, c->new_doc);
    char *meta_text = json_text_object_end(&meta, NULL);
    if (!meta_text)
        return ENOMEM;
    record_put_u64_be(t->seq, seq_key);
    key = (MDB_val){.mv_size = 8, .mv_data = seq_key};
    rc = put_record(t, t->st->changes, &key, c->rev, meta_text, body, MDB_APPEND);
    free(meta_text);
    return rc;
}

/* Writes the revision c makes under `key`, its revs key. */
static int put_revision(struct store_txn *t, const struct store_change *c, MDB_val *key,
                        const char *department, struct body body)
{
    struct json_text meta;
    json_text_object_start(&meta);
    json_text_member_integer(&meta, "rev", (long long)c->rev);
    json_text_member_string(&meta, "at", c->at);
    json_text_member_string(&meta, "actor", c->actor);
    json_text_member_string(&meta, "type", change_type_name(c->type));
    json_text_member_string(&meta, "department", department);
    char *meta_text = json_text_object_end(&meta, NULL);
    if (!meta_text)
        return ENOMEM;
    int rc = put_record(t, t->st->revs, key, c->rev, meta_text, body, MDB_NOOVERWRITE);
    free(meta_text);
    return rc;
}

/*
 * Before a write supersedes the current version of `id`: its revision, written while it was the
 * last one with no document of its own (RECORD_BODY_CURRENT), is given the current text.
 */
static int keep_superseded_text(struct store_txn *t, const char *id)
{
    MDB_val key = string_val(id), val;
    struct record_view doc, revision;
    int rc = mdb_get(t->txn, t->st->docs, &key, &val);
    if (rc || record_decode(val.mv_data, val.mv_size, &doc) < 0 || doc.kind != RECORD_BODY_TEXT)
        return rc == MDB_NOTFOUND ? 0 : rc; /* a pointer at a revision: that one holds the text */
    unsigned char buf[REV_KEY_MAX];
    MDB_val rev_key_val = rev_key(buf, id, doc.rev);
    rc = mdb_get(t->txn, t->st->revs, &rev_key_val, &val);
    if (rc || record_decode(val.mv_data, val.mv_size, &revision) < 0 ||
        revision.kind != RECORD_BODY_CURRENT)
        return rc == MDB_NOTFOUND ? 0 : rc;
    /* copies: the put below replaces the very value they are read from */
    char *meta = copy_text(revision.meta, revision.meta_len);
    char *text = copy_text(doc.body, doc.body_len);
    rc = meta && text ? put_record(t, t->st->revs, &rev_key_val, revision.rev, meta,
                                   (struct body){RECORD_BODY_TEXT, text, doc.body_len}, 0)
                      : ENOMEM;
    free(meta);
    free(text);
    return rc;
}

static int put_current(struct store_txn *t, const struct store_change *c, struct body body)
{
    MDB_val key = string_val(c->id);
    if (!c->new_doc) {
        int rc = mdb_del(t->txn, t->st->docs, &key, NULL);
        if (rc == 0)
            rc = logged(t, OP_DEL, t->st->docs, 0, &key, NULL);
        return rc == MDB_NOTFOUND ? 0 : rc;
    }
    char *summary = summary_json(c->new_doc);
    int rc = summary ? put_record(t, t->st->docs, &key, c->rev, summary, body, 0) : ENOMEM;
    free(summary);
    return rc;
}

bool store_txn_failed(const struct store_txn *t)
{
    return t->failure != 0;
}

enum store_status store_txn_save(struct store_txn *t, const struct store_change *c)
{
    if (!id_fits(c->id)) {
        log_error("store", "refused to save an id of more than %d bytes", ID_MAX);
        return STORE_ERROR;
    }
    const json_t *doc = c->new_doc ? c->new_doc : c->old_doc;
    const char *department = json_string_value(json_object_get(doc, "department"));
    char *body = c->new_doc ? json_write_verbatim(c->new_doc, c->verbatim, NULL) : NULL;
    if (!department || (c->new_doc && !body)) {
        free(body);
        log_error("store", "cannot encode the change of %s", c->id);
        return STORE_ERROR;
    }
    /* The document is written once, as the current version, which a GET serves with one
       lookup; its revision says so, and is given the text when a later write supersedes it.
       The change log points at the revision. */
    unsigned char ref[REV_KEY_MAX];
    MDB_val ref_key = rev_key(ref, c->id, c->rev);
    struct body in_revision = {RECORD_BODY_REVISION, ref_key.mv_data, ref_key.mv_size};
    struct body is_current = {RECORD_BODY_CURRENT, NULL, 0};
    int rc = keep_superseded_text(t, c->id);
    if (!rc)
        rc = put_current(t, c, text_body(body));
    for (int i = 0; i < STORE_INDEX_COUNT && !rc; i++)
        rc = update_index(t, i, c->id, c->old_doc, c->new_doc);
    if (!rc)
        rc = put_revision(t, c, &ref_key, department, c->new_doc ? is_current : text_body(NULL));
    if (!rc)
        rc = append_change(t, c, department, c->new_doc ? in_revision : text_body(NULL));
    if (!rc && c->stored_text) {
        *c->stored_text = body; /* the answer sends these bytes: no second encoding */
        body = NULL;
    }
    free(body);
    if (rc) {
        t->failure = rc;
        return rc == MDB_MAP_FULL ? STORE_FULL : STORE_ERROR;
    }
    return STORE_OK;
}

/* ---------- durability ---------- */

/* `pin`, on the checkpoint that just landed, takes the place of the one before. */
static void keep_pin(struct store *st, MDB_txn *pin)
{
    if (st->pin)
        mdb_txn_abort(st->pin);
    st->pin = pin;
}

/* Takes the outcome of a checkpoint that ended: its pin becomes the one kept, or goes. */
static void settle_checkpoint(struct store *st, enum wal_checkpoint_status status)
{
    if (status == WAL_CHECKPOINT_DONE) {
        keep_pin(st, st->next_pin);
        st->next_pin = NULL;
    } else if (status == WAL_CHECKPOINT_FAILED) {
        /* A failed sync may have dropped pages that a retry would report synced. */
        log_error("store", "a checkpoint could not sync the data file: stopping");
        _exit(70);
    }
}

/* A read on the snapshot of the last commit. */
static MDB_txn *pin_last_commit(struct store *st)
{
    MDB_txn *pin;
    int rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &pin);
    if (rc) {
        log_error("store", "cannot begin the read that keeps a checkpoint: %s", mdb_strerror(rc));
        return NULL;
    }
    return pin;
}

/* A checkpoint of the last commit, in this thread: 0 once it landed. */
static int checkpoint_now(struct store *st, bool closing)
{
    settle_checkpoint(st, wal_checkpoint_wait(st->wal));
    MDB_txn *pin = pin_last_commit(st);
    if (!pin ||
        wal_checkpoint_now(st->wal, st->data_fd, st->page_size, st->last_txnid, closing) < 0) {
        if (pin)
            mdb_txn_abort(pin);
        return -1;
    }
    keep_pin(st, pin);
    return 0;
}

/* Settles a checkpoint that ended, and starts the next one when it is due. */
static void checkpoint_in_background(struct store *st)
{
    settle_checkpoint(st, wal_checkpoint_poll(st->wal));
    if (!wal_checkpoint_due(st->wal))
        return;
    MDB_txn *pin = pin_last_commit(st);
    if (pin && wal_checkpoint_start(st->wal, st->data_fd, st->page_size, st->last_txnid) == 0)
        st->next_pin = pin;
    else if (pin)
        mdb_txn_abort(pin);
}

void store_checkpoint_if_due(struct store *st)
{
    if (!st->writing)
        checkpoint_in_background(st);
}

/*
 * The transaction just committed, without a sync, is on disk once its record in the log is;
 * when the log has no room for it (or cannot be written), a checkpoint syncs it into the data
 * file instead. When that fails too, the store holds a write that is not on disk, which must
 * be neither answered nor built upon: ctgd stops, and its next start goes back to what is on
 * disk (PostgreSQL does the same when a sync fails: retrying one is not safe).
 */
static void make_durable(struct store *st, bool syncing, void (*meanwhile)(void *), void *arg)
{
    enum wal_append_status status = syncing ? wal_append_end(st->wal, meanwhile, arg)
                                            : wal_append(st->wal, st->last_txnid);
    if (status != WAL_APPENDED && checkpoint_now(st, false) < 0) {
        log_error("store", "a committed write cannot be synced to disk: stopping");
        _exit(70);
    }
}

/*
 * The record of a transaction that did not commit must not be applied after a crash: the
 * client hears that nothing was written. When it cannot be taken back, ctgd stops, as when a
 * sync fails.
 */
static void withdraw_record(struct store *st)
{
    if (wal_append_withdraw(st->wal) < 0) {
        log_error("store", "the log holds a write that did not commit: stopping");
        _exit(70);
    }
}

void store_after_answers(struct store *st)
{
    /* The checkpoint's sync then finds the pages written, and does not hold the disk, and the
       log's syncs behind it, for long. */
    sync_file_range(st->data_fd, 0, 0, SYNC_FILE_RANGE_WRITE);
    store_checkpoint_if_due(st);
}

/* Doubles the map, up to map_size_max; -1 when it is already there. */
static int grow_map(struct store *st)
{
    if (st->map_size >= st->map_size_max)
        return -1;
    size_t size = st->map_size * 2 < st->map_size_max ? st->map_size * 2 : st->map_size_max;
    if (st->read_txn) { /* no transaction may be open while the map is resized */
        mdb_txn_abort(st->read_txn);
        st->read_txn = NULL;
        st->reading = false;
    }
    /* The checkpoints' pins stay: they read nothing through the map, and LMDB (0.9.24) refuses
       a new size only during a write transaction. Dropping them would let the writes after
       reuse the pages of the checkpoint a crash goes back to. */
    int rc = mdb_env_set_mapsize(st->env, size);
    if (rc) {
        log_error("store", "cannot grow the map to %zu bytes: %s", size, mdb_strerror(rc));
        return -1;
    }
    log_info("store", "map grown from %zu to %zu bytes", st->map_size, size);
    st->map_size = size;
    return 0;
}

/*
 * A failed write is "full" when the disk is: LMDB reports ENOSPC, or EIO for a short write,
 * which is what a full file system gives too.
 */
static bool disk_is_full(struct store *st, int rc)
{
    struct statvfs fs;
    if (rc == ENOSPC || rc == EDQUOT)
        return true;
    const char *path;
    return rc == EIO && mdb_env_get_path(st->env, &path) == 0 && statvfs(path, &fs) == 0 &&
           (uint64_t)fs.f_bavail * fs.f_frsize < DISK_FULL_MARGIN;
}

/* One attempt: 0 on commit, else the LMDB error or -1 when `fn` refused. */
static int write_once(struct store *st, int (*fn)(struct store_txn *, void *),
                      void (*meanwhile)(void *), void *arg)
{
    struct store_txn t = {.st = st};
    wal_begin(st->wal);
    int rc = mdb_txn_begin(st->env, NULL, 0, &t.txn);
    if (rc == MDB_MAP_RESIZED) {
        adopt_map_size(st);
        rc = mdb_txn_begin(st->env, NULL, 0, &t.txn);
    }
    if (rc)
        return rc;
    if (fn(&t, arg) != 0) {
        mdb_txn_abort(t.txn);
        return t.failure ? t.failure : -1;
    }
    uint64_t txnid = mdb_txn_id(t.txn);
    /* The disk writes the log's record while LMDB commits: a lone write then waits for the
       longer of the two, not for both (about 0.1 ms of 0.9). */
    bool syncing = wal_has_operations(st->wal) &&
                   wal_append_start(st->wal, txnid) == WAL_SYNCING;
    rc = mdb_txn_commit(t.txn);
    if (rc) {
        if (syncing)
            withdraw_record(st);
        return rc;
    }
    MDB_envinfo info;
    mdb_env_info(st->env, &info);
    if (info.me_last_txnid == txnid) { /* LMDB commits nothing for a transaction that changed nothing */
        st->last_txnid = txnid;
        make_durable(st, syncing, meanwhile, arg);
    } else if (syncing) {
        withdraw_record(st);
    }
    st->commits++;
    if (t.seq)
        st->last_seq = t.seq;
    return 0;
}

enum store_status store_write(struct store *st, int (*fn)(struct store_txn *, void *), void *arg)
{
    return store_write_meanwhile(st, fn, NULL, arg);
}

enum store_status store_write_meanwhile(struct store *st, int (*fn)(struct store_txn *, void *),
                                        void (*meanwhile)(void *), void *arg)
{
    if (st->reading) { /* growing the map would end that read under its views */
        log_error("store", "a write began inside a read");
        return STORE_ERROR;
    }
    for (;;) {
        st->writing = true;
        int rc = write_once(st, fn, meanwhile, arg);
        st->writing = false;
        if (rc == 0)
            return STORE_OK;
        if (rc == -1)
            return STORE_REFUSED;
        if (rc != MDB_MAP_FULL) {
            log_error("store", "write failed: %s", mdb_strerror(rc));
            return disk_is_full(st, rc) ? STORE_FULL : STORE_ERROR;
        }
        if (grow_map(st) < 0) {
            log_warn("store", "the map is full at %zu bytes (map_size_max)", st->map_size);
            return STORE_FULL;
        }
    }
}
