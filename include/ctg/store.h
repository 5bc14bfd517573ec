/*
 * store.h — conventions on disk (LMDB): current documents, every revision, the change log and
 * the secondary indexes, all changed together in one transaction per write.
 *
 * Databases of the one environment under data_dir:
 *   revs            id NUL rev(8 bytes, big-endian) -> record {rev, at, actor, type, department
 *                                                            | document, or nothing while it
 *                                                              is the current version}
 *   docs            id -> record {summary | document}
 *   changes         seq (8 bytes, big-endian) -> record {event without doc | key of its revision
 *                                                       in revs; nothing after a deletion}
 *   idx_department, idx_status, idx_champ   value -> id (DUPSORT)
 * A document is written once, as the current version: its revision says so (record.h:
 * RECORD_BODY_CURRENT) and is given the text when a write supersedes it, and the change log
 * points at the revision (RECORD_BODY_REVISION). Stores written before hold the text in every
 * revision, the first ones in changes too, and stores of some development versions point from
 * docs as well: every kind is read where it may be. The views that reads return carry the
 * document itself (a list's only when the query asks for bodies).
 * A write is durable when store_write() returns STORE_OK: LMDB commits it without a sync and
 * the write-ahead log (wal.h, data_dir/ctgd.wal) syncs its puts and deletes, one sequential
 * flush; checkpoints sync the data file in a thread of their own. One process at a time opens
 * a data folder (the log is locked).
 *
 * The store is used from one thread (the event loop). Views returned by reads point into the
 * map and stay valid until store_read_end(). No write may run between store_read_begin() and
 * store_read_end(): a write that grows the map ends the open read.
 */
#ifndef CTG_STORE_H
#define CTG_STORE_H

#include "ctg/json_texts.h"
#include "ctg/json_verbatim.h"
#include "ctg/record.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum store_status {
    STORE_OK = 0,
    STORE_NOT_FOUND,
    STORE_REFUSED, /* the write function refused; nothing was written */
    STORE_FULL,    /* the map is at map_size_max; nothing was written */
    STORE_ERROR,   /* an I/O error or a corrupt value; logged; nothing was written */
};

enum change_type { CHANGE_CREATED, CHANGE_UPDATED, CHANGE_DELETED };

struct store_options {
    const char *dir;
    size_t map_size;
    size_t map_size_max;
    size_t wal_size; /* of a new write-ahead log; 0: WAL_SIZE_DEFAULT */
};

struct store;
struct store_txn;

/*
 * Opens (creating the folder and databases if needed). After a crash, goes back to the last
 * checkpoint and applies the write-ahead log again. On failure writes why into `err`.
 */
struct store *store_open(const struct store_options *opt, char *err, size_t errlen);
void store_close(struct store *st); /* with a last checkpoint: the next open applies nothing */
/* Starts a checkpoint if one is due; for a timer while no write comes. */
void store_checkpoint_if_due(struct store *st);
/*
 * What a commit leaves for after its answers (a bulk import: for between its batches). Its
 * writes are on disk without it, and do not wait for it: the data file's new pages start for
 * the disk, so that the next checkpoint's sync is short, and a checkpoint starts if one is due.
 */
void store_after_answers(struct store *st);

/* The secondary indexes: DUPSORT databases from a value of the document to its id. */
enum store_index {
    STORE_INDEX_DEPARTMENT,
    STORE_INDEX_STATUS,
    STORE_INDEX_CHAMP,
    STORE_INDEX_COUNT,
};
const char *store_index_name(enum store_index index); /* its database: "idx_department", … */
/*
 * Puts into `values` (at most `max`) the values under which `doc` is indexed in `index`: its
 * department, its status, each of its champs. They point into `doc`. Returns their count.
 */
size_t store_index_values(const json_t *doc, enum store_index index, const char **values,
                          size_t max);

uint64_t store_last_seq(const struct store *st);
/* Write transactions committed since the store was opened: one sync each. */
uint64_t store_commits(const struct store *st);
size_t store_map_size(const struct store *st);
const char *change_type_name(enum change_type type); /* "created", "updated", "deleted" */
/* The change type named `name` ("created", …), or -1. */
int change_type_of(const char *name);
/* The change type of an event type ("convention.created", …), or -1. */
int change_type_of_event(const char *event_type);

/* --- reading: between store_read_begin() and store_read_end() --- */
enum store_status store_read_begin(struct store *st);
void store_read_end(struct store *st);
size_t store_count(struct store *st);
enum store_status store_get_doc(struct store *st, const char *id, struct record_view *out);
enum store_status store_get_revision(struct store *st, const char *id, uint64_t rev,
                                     struct record_view *out);
/*
 * Calls `fn` for each revision of `id`, oldest first, with its header and meta (the view has no
 * document: store_get_revision reads one); STORE_NOT_FOUND when there is none.
 */
enum store_status store_each_revision(struct store *st, const char *id,
                                      void (*fn)(const struct record_view *rev, void *arg),
                                      void *arg);

/*
 * Calls `fn` for each change-log entry after `since`, in seq order, until `fn` returns non-zero
 * or the log ends. The entry's meta is the event without its document; body is the document
 * after the change (empty after a deletion).
 */
enum store_status store_each_change(struct store *st, uint64_t since,
                                    int (*fn)(uint64_t seq, const struct record_view *change,
                                              void *arg),
                                    void *arg);

struct store_query {
    const char *department, *status, *champ; /* index filters; NULL: any */
    const char *after;                       /* only ids after this one; NULL: from the start */
    size_t limit;                            /* stop after this many accepted */
    /* Decides on each candidate (in id order): 1 accept, 0 skip. */
    int (*accept)(const char *id, const struct record_view *doc, void *arg);
    void *arg;
    bool with_bodies; /* doc->body is the document; else it is empty, and only doc->meta (the
                         summary) is read */
};
enum store_status store_list(struct store *st, const struct store_query *q);
/*
 * In one read of its own: appends to `docs` the stored JSON texts of the documents the query
 * finds (q->accept and q->arg are set here); a text that does not fit in memory is left out.
 * Not inside another read or a write.
 */
enum store_status store_list_texts(struct store *st, struct store_query *q,
                                   struct json_texts *docs);

/* --- writing --- */
struct store_change {
    const char *id;
    enum change_type type;
    const json_t *old_doc; /* NULL on create */
    const json_t *new_doc; /* NULL on delete; else the document as stored, server fields set */
    uint64_t rev;          /* the rev this change makes */
    const char *actor;
    const char *at;        /* RFC 3339 */
    char **stored_text;    /* when not NULL and saved: the document's stored JSON, to free */
    /* When not NULL: members of new_doc whose text is copied as it is (json_verbatim.h) */
    const struct json_verbatim *verbatim;
};

/*
 * Runs `fn` in a write transaction and commits it with a sync. `fn` returns 0 to commit,
 * anything else to abort (store_write then answers STORE_REFUSED). When the map is full, the
 * transaction is aborted, the map grown and `fn` run again: it may run more than once, so it
 * must reset whatever it produces outside the transaction.
 */
enum store_status store_write(struct store *st, int (*fn)(struct store_txn *txn, void *arg),
                              void *arg);
/*
 * store_write(), and while the commit's sync waits for the disk, `meanwhile(arg)` on this
 * thread: work that needs neither the write on disk nor the store, which it must not use. It
 * runs at most once, after `fn` ran for the last time, and not at all when the write fails or
 * the commit is synced otherwise (a checkpoint when the log is full): the caller then does that
 * work after. When the sync it ran beside fails, a checkpoint syncs the commit, or ctgd stops:
 * store_write_meanwhile() never returns before the commit is on disk.
 */
enum store_status store_write_meanwhile(struct store *st,
                                        int (*fn)(struct store_txn *txn, void *arg),
                                        void (*meanwhile)(void *arg), void *arg);
/* The document as the transaction sees it. */
enum store_status store_txn_get_doc(struct store_txn *txn, const char *id,
                                    struct record_view *out);
struct store_revision {
    uint64_t rev;
    char department[4]; /* the department the convention had at that rev */
};
/* The last revision `id` ever had (a deleted id keeps its history); STORE_NOT_FOUND if none. */
enum store_status store_txn_last_revision(struct store_txn *txn, const char *id,
                                          struct store_revision *out);
/* True once a save of this transaction failed (full map, I/O): it must be aborted. */
bool store_txn_failed(const struct store_txn *txn);
/* Writes the document, its revision, its index entries and one change-log entry. */
enum store_status store_txn_save(struct store_txn *txn, const struct store_change *change);

#endif
