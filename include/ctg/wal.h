/*
 * wal.h — the write-ahead log that makes a store write durable with one sequential sync.
 *
 * The store writes the puts and deletes that made a write transaction here, as one record, and
 * starts the record's way to the disk; it commits the transaction to its data file, without
 * syncing that, while the disk writes the record; then it syncs the log. A write is on disk
 * once wal_append_end() (or wal_append()) returns WAL_APPENDED.
 *
 * A checkpoint syncs the data file, then writes into the log's header the transaction it
 * covers, where the records after it begin, and the data file's first pages (LMDB's two meta
 * pages) as they were right after that transaction. Until the next checkpoint has landed the
 * store keeps a read transaction on the checkpoint's snapshot, so that no later write reuses a
 * page of it. After a crash, whatever reached the disk after the checkpoint, writing those
 * pages back makes the data file the checkpoint's again, and the records after it are applied
 * again: nothing acknowledged is lost, and a page written out of order cannot damage the store.
 *
 * The file is made to its full size, filled with zeros, when it is created: the records of a
 * ring then overwrite blocks the file system has already allocated, and a sync flushes data
 * only. Two header slots: a header torn by a crash leaves the other one. The log is locked
 * (flock) while open: one process at a time writes to a data folder.
 *
 * Used from one thread, except that a checkpoint started with wal_checkpoint_start() runs in a
 * thread of its own until wal_checkpoint_poll() or wal_checkpoint_wait() reports its end.
 */
#ifndef CTG_WAL_H
#define CTG_WAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WAL_SIZE_MIN ((size_t)1 << 20)
#define WAL_SIZE_DEFAULT ((size_t)64 << 20)
#define WAL_PAGE_MAX 16384 /* largest data-file page a checkpoint can keep */

/* One put or delete of a record: what it is means something to the store only. */
struct wal_op {
    unsigned kind, db, flags;
    const void *key, *val;
    size_t key_len, val_len;
};

/* A record being applied again: its operations, read with wal_record_next(). */
struct wal_record {
    const unsigned char *next, *end;
};

enum wal_append_status {
    WAL_APPENDED,  /* written and synced */
    WAL_SYNCING,   /* written, on its way: wal_append_end() or wal_append_withdraw() next */
    WAL_NO_ROOM,   /* the ring holds no room for it before a checkpoint (or it is larger) */
    WAL_IO_ERROR,  /* logged; the record may be partly written, and is not synced */
};

enum wal_checkpoint_status { WAL_CHECKPOINT_NONE, WAL_CHECKPOINT_RUNNING, WAL_CHECKPOINT_DONE,
                             WAL_CHECKPOINT_FAILED };

struct wal;

/*
 * Opens the log at `path`, making it `size` bytes long if it does not exist, and locks it.
 * On failure writes why into `err`.
 */
struct wal *wal_open(const char *path, size_t size, char *err, size_t errlen);
void wal_close(struct wal *w); /* waits for a running checkpoint */

/* The transaction of the last checkpoint; false when the log has none (a new log). */
bool wal_checkpoint_txnid(const struct wal *w, uint64_t *txnid);
/*
 * True when the last checkpoint was made as the log was closed: the data file was whole then,
 * and what changed it since (another LMDB program) did so on its own.
 */
bool wal_closed_cleanly(const struct wal *w);
/*
 * Writes the pages the last checkpoint kept back into the data file `data_fd` where they
 * differ, and syncs it. 1 when some differed, 0 when none did, -1 on an I/O error (logged).
 */
int wal_restore_pages(struct wal *w, int data_fd);
/*
 * Calls `apply` on each record after the last checkpoint, in order, with the transaction
 * number it had: the checkpoint's + 1, + 2… The first record that is torn, or does not follow,
 * ends the log; a log closed cleanly has none. Returns how many were applied, or -1 when
 * `apply` failed (it logs why).
 */
long wal_replay(struct wal *w, int (*apply)(uint64_t txnid, struct wal_record *rec, void *arg),
                void *arg);
bool wal_record_next(struct wal_record *rec, struct wal_op *op);

/*
 * --- writing: wal_begin(), wal_add() for each operation, then wal_append(), or
 * wal_append_start() and, once the transaction is committed or not, wal_append_end() or
 * wal_append_withdraw() ---
 */
void wal_begin(struct wal *w);
/* 0, or -1 when out of memory. A transaction larger than the ring is not kept (WAL_NO_ROOM). */
int wal_add(struct wal *w, const struct wal_op *op);
/* Whether anything was added since wal_begin(). */
bool wal_has_operations(const struct wal *w);
/* wal_append_start() then wal_append_end(): WAL_APPENDED, WAL_NO_ROOM or WAL_IO_ERROR. */
enum wal_append_status wal_append(struct wal *w, uint64_t txnid);
/* Writes the record of transaction `txnid` and starts its write-out without waiting for it:
 * WAL_SYNCING, or WAL_NO_ROOM (nothing written) or WAL_IO_ERROR. */
enum wal_append_status wal_append_start(struct wal *w, uint64_t txnid);
/*
 * Syncs the log: WAL_APPENDED once the record is on disk, else WAL_IO_ERROR (logged). When
 * `meanwhile` is not NULL, it runs with `arg` on the caller's thread while another thread syncs
 * (syncer.h); the sync does not wait for it, and it is over when this returns.
 */
enum wal_append_status wal_append_end(struct wal *w, void (*meanwhile)(void *), void *arg);
/*
 * For a transaction that did not commit after all: makes the record unreadable on disk, and
 * syncs that, so that no replay applies it; the next record takes its place. 0, or -1 on an
 * I/O error (logged), after which a crash could apply it.
 */
int wal_append_withdraw(struct wal *w);

/* --- checkpoints of the data file `data_fd`, whose pages are `page_size` bytes --- */
/* True when enough was appended since the last checkpoint began that another should. */
bool wal_checkpoint_due(const struct wal *w);
/* Starts one, in a thread, covering transaction `txnid`: the last one committed. -1 on error. */
int wal_checkpoint_start(struct wal *w, int data_fd, size_t page_size, uint64_t txnid);
/* Whether the running one ended, and how; DONE and FAILED are reported once. */
enum wal_checkpoint_status wal_checkpoint_poll(struct wal *w);
enum wal_checkpoint_status wal_checkpoint_wait(struct wal *w);
/*
 * One in this thread: 0 once it landed, -1 on an I/O error (logged). None may be running.
 * `closing`: the last one before the log is closed, nothing written after it.
 */
int wal_checkpoint_now(struct wal *w, int data_fd, size_t page_size, uint64_t txnid,
                       bool closing);

#endif
