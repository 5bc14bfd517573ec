/*
 * wal.c — the write-ahead log (see wal.h for what it promises).
 *
 * Layout: two header slots of HEADER_SLOT bytes, then the ring. Positions in the ring are
 * logical (they only grow); a record sits at RING_START + position % ring size and never
 * straddles the end: one that would is written at the ring's start instead, and a reader that
 * finds no record where the last one ended looks there. Each record carries its transaction
 * number, which must follow the one before, and a CRC-32 of itself: a record torn by a crash,
 * or one left from an earlier lap, ends the log.
 *
 *   header  magic "CTGWAL1\n", version, page size, closed, 0, serial, txnid, position, file
 *           size, the data file's first two pages, CRC-32 of all that
 *   record  magic "CTGR", CRC-32 of what follows it, txnid, length, 0, then operations:
 *           kind, db, 0, flags, key length, value length (1+1+2+4+4+4 bytes), key, value
 * Integers are in the machine's byte order: the log never leaves the machine it was written on.
 */
#define _GNU_SOURCE /* O_CLOEXEC with -std=c11 */
#include "ctg/wal.h"
#include "ctg/log.h"
#include "ctg/syncer.h"

#include <libdeflate.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define HEADER_SLOT ((size_t)64 << 10)
#define RING_START (2 * HEADER_SLOT)
#define HEADER_VERSION 1
#define RECORD_MAGIC 0x52475443u /* "CTGR" */
#define RECORD_HEAD 24
#define OP_HEAD 16
#define BUFFER_KEPT ((size_t)4 << 20) /* a larger record buffer is freed once appended */
/*
 * Checkpoints come often: the pages LMDB writes between two of them are all new ones (the pin
 * keeps the old ones), and a long interval makes a sync long enough to hold the log's syncs
 * behind it (write -> subscriber p99 at 200/s: 12-15 ms every 5 s, 1.5-2 ms every 50-200 ms).
 */
#define CHECKPOINT_EVERY_MS 100

static const char header_magic[8] = {'C', 'T', 'G', 'W', 'A', 'L', '1', '\n'};

struct header_fields {
    char magic[8];
    uint32_t version, page_size;
    uint32_t closed, zero; /* closed: written by the last checkpoint before the log was closed */
    uint64_t serial, txnid, position, size;
};

struct checkpoint_job {
    int wal_fd, data_fd;
    unsigned char *header; /* fields, pages, CRC: written as one */
    size_t header_len;
    off_t header_at;
    int result;
};

struct wal {
    int fd;
    char *path;
    uint64_t size, ring;
    uint64_t head, tail;          /* next record's position; the last checkpoint's */
    bool have_checkpoint;
    struct header_fields last;    /* the last checkpoint's header… */
    unsigned char *last_header;   /* …whole: the pages it kept follow the fields */

    unsigned char *buf;           /* the record being built: RECORD_HEAD, then operations */
    size_t len, alloc;
    bool oversized;

    uint64_t appending;           /* what the record being synced adds to head, or 0 */
    struct syncer *syncer;        /* syncs a record while its writer works; NULL: inline */

    pthread_t thread;
    bool running;
    atomic_bool finished;
    struct checkpoint_job job;
    struct header_fields job_fields;
    uint64_t started_at_position; /* where the newest checkpoint, landed or running, begins */
    struct timespec started_at;
};

/* ---------- file helpers ---------- */

/* pread(2) or pwrite(2), again until all `len` bytes are done; -1 on an error or end of file. */
static int transfer_all(int fd, unsigned char *p, size_t len, off_t at, bool writing)
{
    while (len > 0) {
        ssize_t n = writing ? pwrite(fd, p, len, at) : pread(fd, p, len, at);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n, len -= (size_t)n, at += n;
    }
    return 0;
}

static int pwrite_all(int fd, const void *buf, size_t len, off_t at)
{
    return transfer_all(fd, (unsigned char *)buf, len, at, true);
}

static int pread_all(int fd, void *buf, size_t len, off_t at)
{
    return transfer_all(fd, buf, len, at, false);
}

/* gzip's CRC-32 (zlib's crc32), by libdeflate's carry-less multiplications on 128-bit
 * registers: 0.16 µs for a 4.4 KB record where zlib took 0.96 µs. */
static uint32_t crc_of(const void *p, size_t len)
{
    return libdeflate_crc32(0, p, len);
}

static void sync_parent_folder(const char *path)
{
    char *copy = strdup(path);
    int fd = copy ? open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    if (fd < 0 || fsync(fd) < 0)
        log_warn("wal", "cannot sync the folder of %s: %s", path, strerror(errno));
    if (fd >= 0)
        close(fd);
    free(copy);
}

/*
 * Makes the log: zeros written through a temporary name, synced, then renamed, so that a crash
 * leaves either no log or a whole one.
 */
static int create_log(const char *path, uint64_t size)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.new", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    static const unsigned char zeros[1 << 16];
    int rc = 0;
    for (uint64_t at = 0; at < size && rc == 0; at += sizeof zeros)
        rc = pwrite_all(fd, zeros, size - at < sizeof zeros ? size - at : sizeof zeros, (off_t)at);
    if (rc == 0)
        rc = fsync(fd);
    int saved = errno;
    close(fd);
    if (rc == 0)
        rc = rename(tmp, path);
    else
        unlink(tmp);
    if (rc == 0)
        sync_parent_folder(path);
    errno = rc ? saved : 0;
    return rc;
}

/* ---------- headers ---------- */

static size_t header_len(uint32_t page_size)
{
    return sizeof(struct header_fields) + 2 * (size_t)page_size + sizeof(uint32_t);
}

/* Reads slot `slot`; 0 when it holds a whole header of this log, all of it into *whole. */
static int read_header(struct wal *w, int slot, struct header_fields *out, unsigned char **whole)
{
    off_t at = (off_t)slot * (off_t)HEADER_SLOT;
    if (pread_all(w->fd, out, sizeof *out, at) < 0 || memcmp(out->magic, header_magic, 8) != 0 ||
        out->version != HEADER_VERSION || out->page_size == 0 || out->page_size > WAL_PAGE_MAX ||
        out->size != w->size)
        return -1;
    size_t len = header_len(out->page_size);
    unsigned char *buf = malloc(len);
    uint32_t crc;
    if (!buf || pread_all(w->fd, buf, len, at) < 0) {
        free(buf);
        return -1;
    }
    memcpy(&crc, buf + len - sizeof crc, sizeof crc);
    if (crc != crc_of(buf, len - sizeof crc)) {
        free(buf);
        return -1;
    }
    *whole = buf;
    return 0;
}

static const unsigned char *last_pages(const struct wal *w)
{
    return w->last_header + sizeof w->last;
}

/* The newer of the two slots that hold a whole header, if any. */
static void read_last_checkpoint(struct wal *w)
{
    for (int slot = 0; slot < 2; slot++) {
        struct header_fields h;
        unsigned char *whole = NULL;
        if (read_header(w, slot, &h, &whole) < 0)
            continue;
        if (w->have_checkpoint && h.serial <= w->last.serial) {
            free(whole);
            continue;
        }
        free(w->last_header);
        w->last = h;
        w->last_header = whole;
        w->have_checkpoint = true;
    }
    if (w->have_checkpoint)
        w->head = w->tail = w->started_at_position = w->last.position;
}

/* ---------- opening ---------- */

static struct wal *open_failed(struct wal *w, char *err, size_t errlen, const char *what)
{
    snprintf(err, errlen, "%s %s: %s", what, w->path, strerror(errno));
    wal_close(w);
    return NULL;
}

struct wal *wal_open(const char *path, size_t size, char *err, size_t errlen)
{
    struct wal *w = calloc(1, sizeof *w);
    if (!w || !(w->path = strdup(path))) {
        free(w);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    w->fd = -1;
    atomic_init(&w->finished, false);
    if (access(path, F_OK) < 0 && create_log(path, size < WAL_SIZE_MIN ? WAL_SIZE_MIN : size) < 0)
        return open_failed(w, err, errlen, "cannot create the write-ahead log");
    w->fd = open(path, O_RDWR | O_CLOEXEC);
    if (w->fd < 0)
        return open_failed(w, err, errlen, "cannot open the write-ahead log");
    if (flock(w->fd, LOCK_EX | LOCK_NB) < 0) {
        if (errno != EWOULDBLOCK)
            return open_failed(w, err, errlen, "cannot lock the write-ahead log");
        snprintf(err, errlen, "another process has this data folder open (its write-ahead log "
                              "%s is locked): one ctgd at a time per data_dir", path);
        wal_close(w);
        return NULL;
    }
    struct stat sb;
    if (fstat(w->fd, &sb) < 0)
        return open_failed(w, err, errlen, "cannot read the size of the write-ahead log");
    if ((uint64_t)sb.st_size < RING_START + WAL_SIZE_MIN / 2) {
        snprintf(err, errlen, "the write-ahead log %s is %lld bytes: too short to be one", path,
                 (long long)sb.st_size);
        wal_close(w);
        return NULL;
    }
    w->size = (uint64_t)sb.st_size; /* an existing log keeps its size */
    w->ring = w->size - RING_START;
    read_last_checkpoint(w);
    clock_gettime(CLOCK_MONOTONIC, &w->started_at);
    w->syncer = syncer_new();
    return w;
}

void wal_close(struct wal *w)
{
    if (!w)
        return;
    wal_checkpoint_wait(w);
    syncer_free(w->syncer);
    if (w->fd >= 0)
        close(w->fd); /* releases the lock */
    free(w->last_header);
    free(w->buf);
    free(w->path);
    free(w);
}

/* ---------- recovery ---------- */

bool wal_checkpoint_txnid(const struct wal *w, uint64_t *txnid)
{
    if (w->have_checkpoint)
        *txnid = w->last.txnid;
    return w->have_checkpoint;
}

bool wal_closed_cleanly(const struct wal *w)
{
    return w->have_checkpoint && w->last.closed;
}

int wal_restore_pages(struct wal *w, int data_fd)
{
    if (!w->have_checkpoint)
        return 0;
    size_t len = 2 * (size_t)w->last.page_size;
    unsigned char *now = malloc(len);
    if (!now)
        return -1;
    int rc = pread_all(data_fd, now, len, 0) == 0 && memcmp(now, last_pages(w), len) == 0 ? 0 : 1;
    free(now);
    if (rc == 1 && (pwrite_all(data_fd, last_pages(w), len, 0) < 0 || fdatasync(data_fd) < 0)) {
        log_error("wal", "cannot write the checkpoint's pages back into the data file: %s",
                  strerror(errno));
        return -1;
    }
    return rc;
}

static off_t ring_offset(const struct wal *w, uint64_t position)
{
    return (off_t)(RING_START + position % w->ring);
}

/*
 * Reads the record at `position` if it is a whole one of transaction `txnid`: its operations
 * into *payload (to free) and its length into *len. 0 when it is, -1 when not.
 */
static int read_record(struct wal *w, uint64_t position, uint64_t txnid, unsigned char **payload,
                       uint32_t *len)
{
    unsigned char head[RECORD_HEAD];
    uint64_t room = w->ring - position % w->ring;
    uint32_t magic, crc;
    uint64_t id;
    if (room < RECORD_HEAD || pread_all(w->fd, head, RECORD_HEAD, ring_offset(w, position)) < 0)
        return -1;
    memcpy(&magic, head, 4);
    memcpy(&crc, head + 4, 4);
    memcpy(&id, head + 8, 8);
    memcpy(len, head + 16, 4);
    if (magic != RECORD_MAGIC || id != txnid || *len > room - RECORD_HEAD)
        return -1;
    unsigned char *buf = malloc(RECORD_HEAD + (size_t)*len);
    if (!buf)
        return -1;
    memcpy(buf, head, RECORD_HEAD);
    if ((*len && pread_all(w->fd, buf + RECORD_HEAD, *len, ring_offset(w, position) + RECORD_HEAD) < 0) ||
        crc != crc_of(buf + 8, RECORD_HEAD - 8 + (size_t)*len)) {
        free(buf);
        return -1;
    }
    *payload = buf;
    return 0;
}

long wal_replay(struct wal *w, int (*apply)(uint64_t txnid, struct wal_record *rec, void *arg),
                void *arg)
{
    if (!w->have_checkpoint || w->last.closed) /* after a clean stop, nothing follows */
        return 0;
    uint64_t position = w->last.position, txnid = w->last.txnid + 1;
    long applied = 0;
    for (;; txnid++, applied++) {
        unsigned char *buf;
        uint32_t len;
        if (read_record(w, position, txnid, &buf, &len) < 0) {
            uint64_t next_lap = position + (w->ring - position % w->ring) % w->ring;
            if (next_lap == position || read_record(w, next_lap, txnid, &buf, &len) < 0)
                break;
            position = next_lap; /* it did not fit before the end */
        }
        struct wal_record rec = {buf + RECORD_HEAD, buf + RECORD_HEAD + len};
        int rc = apply(txnid, &rec, arg);
        free(buf);
        if (rc)
            return -1;
        position += RECORD_HEAD + len;
        w->head = position; /* a checkpoint now would begin after it */
    }
    return applied;
}

bool wal_record_next(struct wal_record *rec, struct wal_op *op)
{
    if (rec->end - rec->next < OP_HEAD)
        return false;
    const unsigned char *p = rec->next;
    uint32_t flags, key_len, val_len;
    memcpy(&flags, p + 4, 4);
    memcpy(&key_len, p + 8, 4);
    memcpy(&val_len, p + 12, 4);
    if ((uint64_t)key_len + val_len > (uint64_t)(rec->end - p - OP_HEAD))
        return false;
    *op = (struct wal_op){.kind = p[0], .db = p[1], .flags = flags, .key = p + OP_HEAD,
                          .key_len = key_len, .val = p + OP_HEAD + key_len, .val_len = val_len};
    rec->next = p + OP_HEAD + key_len + val_len;
    return true;
}

/* ---------- writing ---------- */

static int reserve(struct wal *w, size_t more)
{
    if (w->len + more <= w->alloc)
        return 0;
    size_t alloc = w->alloc ? w->alloc : 8192;
    while (alloc < w->len + more)
        alloc *= 2;
    unsigned char *buf = realloc(w->buf, alloc);
    if (!buf)
        return -1;
    w->buf = buf;
    w->alloc = alloc;
    return 0;
}

void wal_begin(struct wal *w)
{
    w->len = 0;
    w->oversized = reserve(w, RECORD_HEAD) < 0; /* out of memory: synced without a record */
    w->len = RECORD_HEAD;
}

int wal_add(struct wal *w, const struct wal_op *op)
{
    size_t more = OP_HEAD + op->key_len + op->val_len;
    if (w->oversized || w->len + more > w->ring) { /* it could never fit: not kept */
        w->oversized = true;
        return 0;
    }
    if (reserve(w, more) < 0)
        return -1;
    unsigned char *p = w->buf + w->len;
    uint32_t fields[3] = {op->flags, (uint32_t)op->key_len, (uint32_t)op->val_len};
    p[0] = (unsigned char)op->kind;
    p[1] = (unsigned char)op->db;
    p[2] = p[3] = 0;
    memcpy(p + 4, fields, sizeof fields);
    memcpy(p + OP_HEAD, op->key, op->key_len);
    if (op->val_len)
        memcpy(p + OP_HEAD + op->key_len, op->val, op->val_len);
    w->len += more;
    return 0;
}

static void seal_record(struct wal *w, uint64_t txnid)
{
    uint32_t magic = RECORD_MAGIC, len = (uint32_t)(w->len - RECORD_HEAD), zero = 0;
    memcpy(w->buf, &magic, 4);
    memcpy(w->buf + 8, &txnid, 8);
    memcpy(w->buf + 16, &len, 4);
    memcpy(w->buf + 20, &zero, 4);
    uint32_t crc = crc_of(w->buf + 8, w->len - 8);
    memcpy(w->buf + 4, &crc, 4);
}

/* ---------- appending ---------- */

bool wal_has_operations(const struct wal *w)
{
    return w->len > RECORD_HEAD || w->oversized;
}

enum wal_append_status wal_append_start(struct wal *w, uint64_t txnid)
{
    if (w->oversized)
        return WAL_NO_ROOM;
    uint64_t room = w->ring - w->head % w->ring;
    uint64_t skip = room < w->len ? room : 0; /* the record starts the next lap instead */
    if (w->head + skip + w->len - w->tail > w->ring)
        return WAL_NO_ROOM;
    seal_record(w, txnid);
    if (pwrite_all(w->fd, w->buf, w->len, ring_offset(w, w->head + skip)) < 0) {
        log_error("wal", "cannot write to the write-ahead log %s: %s", w->path, strerror(errno));
        return WAL_IO_ERROR;
    }
    /* The disk writes the record while the caller goes on; wal_append_end() waits for it. */
    sync_file_range(w->fd, ring_offset(w, w->head + skip), (off_t)w->len, SYNC_FILE_RANGE_WRITE);
    w->appending = skip + w->len;
    return WAL_SYNCING;
}

enum wal_append_status wal_append_end(struct wal *w, void (*meanwhile)(void *), void *arg)
{
    bool aside = w->syncer && meanwhile; /* handing a sync over costs a few µs: not for nothing */
    if (aside)
        syncer_start(w->syncer, w->fd);
    if (meanwhile)
        meanwhile(arg);
    int failure = aside ? syncer_wait(w->syncer) : fdatasync(w->fd) < 0 ? errno : 0;
    if (failure) {
        log_error("wal", "cannot write to the write-ahead log %s: %s", w->path, strerror(failure));
        return WAL_IO_ERROR;
    }
    w->head += w->appending;
    w->appending = 0;
    if (w->alloc > BUFFER_KEPT) {
        free(w->buf);
        w->buf = NULL;
        w->alloc = 0;
    }
    return WAL_APPENDED;
}

int wal_append_withdraw(struct wal *w)
{
    uint64_t at = w->head + w->appending - w->len; /* after a skip to the next lap, if any */
    static const uint32_t no_magic;
    w->appending = 0;
    if (pwrite_all(w->fd, &no_magic, sizeof no_magic, ring_offset(w, at)) < 0 ||
        fdatasync(w->fd) < 0) {
        log_error("wal", "cannot take a record back from the write-ahead log %s: %s", w->path,
                  strerror(errno));
        return -1;
    }
    return 0;
}

enum wal_append_status wal_append(struct wal *w, uint64_t txnid)
{
    enum wal_append_status status = wal_append_start(w, txnid);
    return status == WAL_SYNCING ? wal_append_end(w, NULL, NULL) : status;
}

/* ---------- checkpoints ---------- */

bool wal_checkpoint_due(const struct wal *w)
{
    if (w->running || w->head == w->started_at_position)
        return false;
    if (w->head - w->started_at_position >= w->ring / 4)
        return true;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - w->started_at.tv_sec) * 1000 +
               (now.tv_nsec - w->started_at.tv_nsec) / 1000000 >= CHECKPOINT_EVERY_MS;
}

/* Syncs the data file, then writes the header and syncs the log. */
static void run_job(struct checkpoint_job *job)
{
    errno = 0;
    bool failed = fdatasync(job->data_fd) < 0 ||
                  pwrite_all(job->wal_fd, job->header, job->header_len, job->header_at) < 0 ||
                  fdatasync(job->wal_fd) < 0;
    job->result = failed ? (errno ? errno : EIO) : 0; /* pwrite_all: 0 bytes leaves errno */
}

static void *checkpoint_thread(void *arg)
{
    struct wal *w = arg;
    run_job(&w->job);
    atomic_store(&w->finished, true);
    return NULL;
}

/* The header of a checkpoint of `txnid`, with the data file's first two pages as they are now. */
static int prepare_job(struct wal *w, int data_fd, size_t page_size, uint64_t txnid, bool closing)
{
    if (page_size == 0 || page_size > WAL_PAGE_MAX) {
        log_error("wal", "the data file's pages are %zu bytes: a checkpoint keeps %d at most",
                  page_size, WAL_PAGE_MAX);
        return -1;
    }
    struct header_fields f = {.version = HEADER_VERSION, .page_size = (uint32_t)page_size,
                              .closed = closing, .serial = w->last.serial + 1, .txnid = txnid,
                              .position = w->head, .size = w->size};
    memcpy(f.magic, header_magic, 8);
    size_t len = header_len(f.page_size);
    unsigned char *buf = malloc(len);
    if (!buf || pread_all(data_fd, buf + sizeof f, 2 * page_size, 0) < 0) {
        log_error("wal", "cannot read the data file's first pages: %s",
                  buf ? strerror(errno) : "out of memory");
        free(buf);
        return -1;
    }
    memcpy(buf, &f, sizeof f);
    uint32_t crc = crc_of(buf, len - sizeof crc);
    memcpy(buf + len - sizeof crc, &crc, sizeof crc);
    w->job = (struct checkpoint_job){.wal_fd = w->fd, .data_fd = data_fd, .header = buf,
                                     .header_len = len,
                                     .header_at = (off_t)(f.serial % 2 * HEADER_SLOT)};
    w->job_fields = f;
    w->started_at_position = w->head;
    clock_gettime(CLOCK_MONOTONIC, &w->started_at);
    return 0;
}

/* What a finished job means: on success the records before its position are done with. */
static enum wal_checkpoint_status finish_job(struct wal *w)
{
    enum wal_checkpoint_status status = WAL_CHECKPOINT_DONE;
    if (w->job.result) {
        log_error("wal", "checkpoint failed: %s", strerror(w->job.result));
        status = WAL_CHECKPOINT_FAILED;
        w->started_at_position = w->tail; /* its records are still needed: try again */
        free(w->job.header);
    } else {
        free(w->last_header);
        w->last_header = w->job.header; /* the header written is the last one now */
        w->last = w->job_fields;
        w->have_checkpoint = true;
        w->tail = w->job_fields.position;
    }
    w->job.header = NULL;
    return status;
}

int wal_checkpoint_start(struct wal *w, int data_fd, size_t page_size, uint64_t txnid)
{
    if (w->running || prepare_job(w, data_fd, page_size, txnid, false) < 0)
        return -1;
    atomic_store(&w->finished, false);
    int rc = pthread_create(&w->thread, NULL, checkpoint_thread, w);
    if (rc) {
        log_error("wal", "cannot start a checkpoint thread: %s", strerror(rc));
        w->job.result = rc;
        finish_job(w);
        return -1;
    }
    w->running = true;
    return 0;
}

enum wal_checkpoint_status wal_checkpoint_poll(struct wal *w)
{
    if (!w->running)
        return WAL_CHECKPOINT_NONE;
    if (!atomic_load(&w->finished))
        return WAL_CHECKPOINT_RUNNING;
    return wal_checkpoint_wait(w);
}

enum wal_checkpoint_status wal_checkpoint_wait(struct wal *w)
{
    if (!w->running)
        return WAL_CHECKPOINT_NONE;
    pthread_join(w->thread, NULL);
    w->running = false;
    return finish_job(w);
}

int wal_checkpoint_now(struct wal *w, int data_fd, size_t page_size, uint64_t txnid,
                       bool closing)
{
    if (w->running || prepare_job(w, data_fd, page_size, txnid, closing) < 0)
        return -1;
    run_job(&w->job);
    return finish_job(w) == WAL_CHECKPOINT_DONE ? 0 : -1;
}
