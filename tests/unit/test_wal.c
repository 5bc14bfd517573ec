/*
 * test_wal.c — the write-ahead log (core/wal.c) under the store: what a crash leaves behind.
 *
 * A child process opens a store, writes, and ends without closing it (_exit), as a crash
 * stops ctgd. The parent may then make the data file what a power cut could have left: the
 * file as it was at the checkpoint the store made when it opened (none of the later pages on
 * disk, and none of the later checkpoints' headers), or that file with the later meta pages
 * (LMDB's pointers to pages that never got there). Every write the child saw succeed must be
 * there when the store opens again. The log itself is driven directly for a replay across the
 * end of its ring. The torn-record test knows the log's layout: two header slots of 64 KiB,
 * then records, each after a 24-byte head.
 */
#define _GNU_SOURCE /* fork, waitpid with -std=c11 */
#include "ctg/store.h"
#include "ctg/wal.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "tmpdir.h"

#define MiB ((size_t)1024 * 1024)
#define RING_START (128 * 1024)
#define RECORD_HEAD 24

static char tmp_root[3000];

static void path_in(char *out, size_t len, const char *name, const char *file)
{
    snprintf(out, len, "%s/%s%s%s", tmp_root, name, file ? "/" : "", file ? file : "");
}

static struct store *open_named(const char *name, char *err, size_t errlen)
{
    char dir[3100];
    path_in(dir, sizeof dir, name, NULL);
    struct store_options opt = {dir, 4 * MiB, 256 * MiB, WAL_SIZE_MIN};
    return store_open(&opt, err, errlen);
}

static struct store *open_store(const char *name)
{
    char err[512] = "";
    struct store *st = open_named(name, err, sizeof err);
    if (!st)
        fprintf(stderr, "store_open(%s): %s\n", name, err);
    CHECK(st != NULL);
    return st;
}

/* Copies the first `limit` bytes of `from` (all when 0) over the start of `to`. */
static int copy_bytes(const char *from, const char *to, size_t limit, int flags)
{
    int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | flags, 0600);
    char buf[1 << 16];
    ssize_t n = 0;
    size_t done = 0;
    while (in >= 0 && out >= 0 && (!limit || done < limit) &&
           (n = read(in, buf, limit && limit - done < sizeof buf ? limit - done : sizeof buf)) > 0) {
        if (write(out, buf, (size_t)n) != n)
            n = -1;
        done += (size_t)n;
    }
    if (limit && done == limit)
        n = 0;
    int rc = in >= 0 && out >= 0 && n == 0 ? 0 : -1;
    if (in >= 0)
        close(in);
    if (out >= 0)
        close(out);
    return rc;
}

static int copy_file(const char *from, const char *to)
{
    return copy_bytes(from, to, 0, O_TRUNC);
}

/* ---------- documents ---------- */

/* Document number `n` at `rev`, with `size` bytes of notes that change with the rev. */
static json_t *make_doc(int n, uint64_t rev, size_t size)
{
    char id[32], *notes = malloc(size + 1);
    snprintf(id, sizeof id, "ctg-%05d", n);
    memset(notes, 'a' + (int)(rev % 26), size);
    notes[size] = '\0';
    json_t *doc = json_pack("{s:s, s:s, s:s, s:s, s:[s], s:I, s:s, s:s, s:s, s:s, s:s}", "id", id,
                            "department", n % 2 ? "29" : "49", "title",
                            "Convention territoriale globale", "status", "signed", "champs",
                            "petite-enfance", "rev", (json_int_t)rev, "created_at",
                            "2026-11-21T10:00:00.000Z", "updated_at", "2026-11-21T10:00:00.000Z",
                            "created_by", "caf29", "updated_by", "caf29", "notes", notes);
    free(notes);
    return doc;
}

struct batch {
    int first, count;
    uint64_t rev;
    size_t size;
};

static int save_batch(struct store_txn *txn, void *arg)
{
    const struct batch *b = arg;
    for (int n = b->first; n < b->first + b->count; n++) {
        json_t *old = b->rev > 1 ? make_doc(n, b->rev - 1, b->size) : NULL;
        json_t *doc = make_doc(n, b->rev, b->size);
        struct store_change c = {.id = json_string_value(json_object_get(doc, "id")),
                                 .type = old ? CHANGE_UPDATED : CHANGE_CREATED, .old_doc = old,
                                 .new_doc = doc, .rev = b->rev, .actor = "caf29",
                                 .at = "2026-11-21T10:00:00.000Z"};
        enum store_status status = store_txn_save(txn, &c);
        json_decref(old);
        json_decref(doc);
        if (status != STORE_OK)
            return 1;
    }
    return 0;
}

/* Documents first … first + count - 1 at `rev`, in one transaction. */
static void write_batch(struct store *st, int first, int count, uint64_t rev, size_t size)
{
    struct batch b = {first, count, rev, size};
    CHECK_INT(store_write(st, save_batch, &b), STORE_OK);
}

/* Each of documents first … first + count - 1 is there, at `rev`, byte for byte. */
static void expect_docs(struct store *st, int first, int count, uint64_t rev, size_t size)
{
    int wrong = 0;
    store_read_begin(st);
    for (int n = first; n < first + count; n++) {
        json_t *doc = make_doc(n, rev, size);
        char *text = json_dumps(doc, JSON_COMPACT);
        struct record_view view;
        bool same = store_get_doc(st, json_string_value(json_object_get(doc, "id")), &view) ==
                        STORE_OK &&
                    view.rev == rev && view.body_len == strlen(text) &&
                    memcmp(view.body, text, view.body_len) == 0;
        if (!same && wrong++ == 0)
            fprintf(stderr, "document %d is missing or not at rev %llu\n", n,
                    (unsigned long long)rev);
        free(text);
        json_decref(doc);
    }
    store_read_end(st);
    CHECK_INT(wrong, 0);
}

static bool doc_present(struct store *st, int n)
{
    char id[32];
    snprintf(id, sizeof id, "ctg-%05d", n);
    struct record_view view;
    store_read_begin(st);
    bool present = store_get_doc(st, id, &view) == STORE_OK;
    store_read_end(st);
    return present;
}

/* ---------- crashes ---------- */

enum crash {
    PROCESS_DIES,       /* the data file as the process left it (all in the page cache) */
    DATA_AT_CHECKPOINT, /* no page written after the opening checkpoint reached the disk */
    METAS_AHEAD,        /* …except the two meta pages, which point at pages that did not */
};

/*
 * In a child: opens store `name`, keeps a copy of its data file as the opening checkpoint left
 * it, runs `work`, and ends without closing the store. Then makes the data file what `crash`
 * says.
 */
static void crash_after(const char *name, void (*work)(struct store *), enum crash crash)
{
    char data[3200], kept[3200], wal[3200], kept_headers[3200];
    path_in(data, sizeof data, name, "data.mdb");
    path_in(kept, sizeof kept, name, "data.mdb.at-checkpoint");
    path_in(wal, sizeof wal, name, "ctgd.wal");
    path_in(kept_headers, sizeof kept_headers, name, "ctgd.wal.headers");
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        char err[512];
        struct store *st = open_named(name, err, sizeof err);
        if (!st || copy_file(data, kept) < 0 || copy_bytes(wal, kept_headers, RING_START, O_TRUNC) < 0)
            _exit(3);
        work(st);
        _exit(check_failed ? 4 : 0);
    }
    int status = 0;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    if (crash == PROCESS_DIES)
        return;
    if (crash == METAS_AHEAD) {
        size_t len = 2 * (size_t)sysconf(_SC_PAGESIZE);
        char *metas = malloc(len);
        int from = open(data, O_RDONLY), to = open(kept, O_WRONLY);
        CHECK(pread(from, metas, len, 0) == (ssize_t)len && pwrite(to, metas, len, 0) == (ssize_t)len);
        close(from);
        close(to);
        free(metas);
    }
    CHECK_INT(rename(kept, data), 0);
    CHECK_INT(copy_bytes(kept_headers, wal, 0, 0), 0); /* later checkpoints never landed */
}

/*
 * 20 documents in 20 writes, then 10 of them updated in one: 30 changes. Halfway, a write that
 * changes nothing, which LMDB does not count as a transaction: the log must not either.
 */
static void write_a_few(struct store *st)
{
    for (int n = 0; n < 20; n++) {
        write_batch(st, n, 1, 1, 300);
        if (n == 9)
            write_batch(st, n, 0, 1, 300);
    }
    write_batch(st, 0, 10, 2, 300);
}

static void test_acknowledged_writes_survive_each_crash(void)
{
    static const char *const names[] = {"process-dies", "data-at-checkpoint", "metas-ahead"};
    for (int crash = PROCESS_DIES; crash <= METAS_AHEAD; crash++) {
        crash_after(names[crash], write_a_few, crash);
        struct store *st = open_store(names[crash]);
        if (!st)
            continue;
        expect_docs(st, 0, 10, 2, 300);
        expect_docs(st, 10, 10, 1, 300);
        CHECK_INT(store_last_seq(st), 30);
        write_batch(st, 20, 1, 1, 300); /* the store goes on from there */
        store_close(st);
        st = open_store(names[crash]);
        if (!st)
            continue;
        expect_docs(st, 0, 10, 2, 300);
        expect_docs(st, 10, 11, 1, 300);
        CHECK_INT(store_last_seq(st), 31);
        store_close(st);
    }
}

static void write_three(struct store *st)
{
    for (int n = 0; n < 3; n++)
        write_batch(st, n, 1, 1, 300);
}

/* gzip's CRC-32 (reflected, polynomial 0xEDB88320), a bit at a time. */
static uint32_t gzip_crc32(const unsigned char *p, size_t len)
{
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < len; i++) {
        crc ^= p[i];
        for (int bit = 0; bit < 8; bit++)
            crc = crc >> 1 ^ (0xEDB88320u & (0u - (crc & 1)));
    }
    return ~crc;
}

/*
 * A record's CRC is gzip's CRC-32 of what follows it, as zlib's crc32 gave it when the log was
 * first written: a log of an earlier ctgd is read the same.
 */
static void test_record_crc_is_gzip_crc32(void)
{
    static const unsigned char check[] = "123456789";
    CHECK_INT(gzip_crc32(check, 9), 0xCBF43926u); /* the CRC-32 check value */
    char wal[3200];
    path_in(wal, sizeof wal, "crc", "ctgd.wal");
    crash_after("crc", write_three, PROCESS_DIES);
    int fd = open(wal, O_RDONLY);
    unsigned char head[RECORD_HEAD];
    CHECK(pread(fd, head, RECORD_HEAD, RING_START) == RECORD_HEAD);
    uint32_t crc, len;
    memcpy(&crc, head + 4, 4);
    memcpy(&len, head + 16, 4);
    unsigned char *record = malloc(RECORD_HEAD + len);
    CHECK(record && pread(fd, record, RECORD_HEAD + len, RING_START) == (ssize_t)(RECORD_HEAD + len));
    if (record)
        CHECK_INT(crc, gzip_crc32(record + 8, RECORD_HEAD - 8 + len));
    free(record);
    close(fd);
}

/* A record whose bytes are not all there ends the log: what follows is not applied. */
static void test_torn_record_ends_the_log(void)
{
    char wal[3200];
    path_in(wal, sizeof wal, "torn", "ctgd.wal");
    crash_after("torn", write_three, PROCESS_DIES);
    int fd = open(wal, O_RDWR);
    uint32_t first_len = 0;
    CHECK(pread(fd, &first_len, 4, RING_START + 16) == 4);
    off_t second = RING_START + RECORD_HEAD + first_len;
    char byte = 0;
    CHECK(pread(fd, &byte, 1, second + RECORD_HEAD + 40) == 1);
    byte ^= 0x20;
    CHECK(pwrite(fd, &byte, 1, second + RECORD_HEAD + 40) == 1);
    close(fd);

    struct store *st = open_store("torn");
    if (!st)
        return;
    CHECK(doc_present(st, 0));
    CHECK(!doc_present(st, 1));
    CHECK(!doc_present(st, 2)); /* whole, but after the torn one */
    CHECK_INT(store_last_seq(st), 1);
    write_batch(st, 1, 1, 1, 300); /* written over the torn record */
    store_close(st);
    st = open_store("torn");
    if (!st)
        return;
    expect_docs(st, 0, 2, 1, 300);
    CHECK_INT(store_last_seq(st), 2);
    store_close(st);
}

/* ---------- the log alone ---------- */

struct replayed {
    uint64_t txnids[16];
    int n, wrong;
};

/* Each record holds one put whose value is 100 000 bytes of its txnid's low byte. */
static int check_record(uint64_t txnid, struct wal_record *rec, void *arg)
{
    struct replayed *r = arg;
    struct wal_op op;
    bool whole = wal_record_next(rec, &op) && op.val_len == 100000 && !wal_record_next(rec, &op);
    for (size_t i = 0; whole && i < op.val_len; i++)
        whole = ((const unsigned char *)op.val)[i] == (unsigned char)txnid;
    r->wrong += !whole;
    if (r->n < 16)
        r->txnids[r->n++] = txnid;
    return 0;
}

/* Writes the record of `txnid` and starts its write-out, as the store does before it commits. */
static void start_record(struct wal *w, uint64_t txnid)
{
    static unsigned char value[100000];
    memset(value, (unsigned char)txnid, sizeof value);
    struct wal_op op = {1, 0, 0, "k", value, 1, sizeof value};
    wal_begin(w);
    CHECK_INT(wal_add(w, &op), 0);
    CHECK(wal_has_operations(w));
    CHECK_INT(wal_append_start(w, txnid), WAL_SYNCING);
}

static void count_call(void *arg)
{
    (*(int *)arg)++;
}

/* Records of odd txnids are synced on the log's syncer thread while their writer counts a call
 * (wal_append_end's `meanwhile`), the others on the writer's: replays must not tell them apart. */
static void append_record(struct wal *w, uint64_t txnid)
{
    int calls = 0;
    start_record(w, txnid);
    CHECK_INT(wal_append_end(w, txnid % 2 ? count_call : NULL, &calls), WAL_APPENDED);
    CHECK_INT(calls, txnid % 2 ? 1 : 0);
}

/* Opens a log of 1 MiB "<name>.wal" beside a data file of two zero pages, and checkpoints
 * transaction 0: the log driven alone. Its path goes into `path`, the data file into *data. */
static struct wal *open_alone(const char *name, char *path, size_t path_len, int *data)
{
    char file[64], data_path[3200], err[512] = "";
    snprintf(file, sizeof file, "%s.wal", name);
    path_in(path, path_len, file, NULL);
    snprintf(file, sizeof file, "%s.data", name);
    path_in(data_path, sizeof data_path, file, NULL);
    *data = open(data_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    static const unsigned char pages[8192];
    CHECK(write(*data, pages, sizeof pages) == (ssize_t)sizeof pages);
    struct wal *w = wal_open(path, WAL_SIZE_MIN, err, sizeof err);
    CHECK(w != NULL);
    if (w)
        CHECK_INT(wal_checkpoint_now(w, *data, 4096, 0, false), 0);
    return w;
}

/* Opens the log at `path` again, as after a crash, and replays it into *r; the log stays open. */
static struct wal *reopen_and_replay(const char *path, struct replayed *r, long expected)
{
    char err[512] = "";
    struct wal *w = wal_open(path, WAL_SIZE_MIN, err, sizeof err);
    CHECK(w != NULL);
    if (!w)
        return NULL;
    *r = (struct replayed){.n = 0};
    CHECK_INT(wal_replay(w, check_record, r), expected);
    CHECK_INT(r->wrong, 0);
    return w;
}

/*
 * Records of 100 KB in a ring of 896 KiB: after eight and a checkpoint, the ninth fits before
 * the end, the tenth does not and starts the next lap. Reopened, the log gives the three after
 * the checkpoint, whole and in order.
 */
static void test_replay_crosses_the_end_of_the_ring(void)
{
    char path[3200];
    int data;
    struct wal *w = open_alone("ring-alone", path, sizeof path, &data);
    if (!w)
        return;
    for (uint64_t txnid = 1; txnid <= 8; txnid++)
        append_record(w, txnid);
    CHECK_INT(wal_checkpoint_now(w, data, 4096, 8, false), 0);
    for (uint64_t txnid = 9; txnid <= 11; txnid++)
        append_record(w, txnid);
    wal_close(w); /* no checkpoint: as after a crash */

    struct replayed r;
    if (!(w = reopen_and_replay(path, &r, 3)))
        return;
    uint64_t checkpoint = 0;
    CHECK(wal_checkpoint_txnid(w, &checkpoint) && checkpoint == 8);
    CHECK(r.n == 3 && r.txnids[0] == 9 && r.txnids[1] == 10 && r.txnids[2] == 11);
    wal_close(w);
    close(data);
}

/*
 * A record whose transaction did not commit (LMDB failed after the log was written) is taken
 * back: a crash then replays the records before it only, and the next record of that txnid
 * takes its place. The second time, the record taken back is the one that started the
 * ring's next lap.
 */
static void test_withdrawn_record_is_not_replayed(void)
{
    char path[3200];
    int data;
    struct wal *w = open_alone("withdrawn", path, sizeof path, &data);
    if (!w)
        return;
    append_record(w, 1);
    start_record(w, 2);
    CHECK_INT(wal_append_withdraw(w), 0);
    wal_close(w); /* no checkpoint: as after a crash */

    struct replayed r;
    if (!(w = reopen_and_replay(path, &r, 1)))
        return;
    CHECK(r.n == 1 && r.txnids[0] == 1);
    append_record(w, 2);
    wal_close(w);
    if (!(w = reopen_and_replay(path, &r, 2)))
        return;
    CHECK(r.n == 2 && r.txnids[0] == 1 && r.txnids[1] == 2);

    /* 100 KB records in a ring of 896 KiB: the tenth does not fit before the end. */
    CHECK_INT(wal_checkpoint_now(w, data, 4096, 2, false), 0);
    for (uint64_t txnid = 3; txnid <= 9; txnid++)
        append_record(w, txnid);
    start_record(w, 10);
    CHECK_INT(wal_append_withdraw(w), 0);
    wal_close(w);
    if (!(w = reopen_and_replay(path, &r, 7)))
        return;
    CHECK(r.n == 7 && r.txnids[0] == 3 && r.txnids[6] == 9);
    wal_close(w);
    close(data);
}

/* 400 writes of ~4 KB: the 1 MiB log goes round several times, with checkpoints between. */
static void write_round_the_ring(struct store *st)
{
    for (int n = 0; n < 400; n++)
        write_batch(st, n, 1, 1, 4000);
}

static void test_log_goes_round_its_ring(void)
{
    char wal[3200];
    struct stat sb;
    path_in(wal, sizeof wal, "ring", "ctgd.wal");
    crash_after("ring", write_round_the_ring, PROCESS_DIES);
    CHECK(stat(wal, &sb) == 0 && (size_t)sb.st_size == WAL_SIZE_MIN); /* no record went past its end */
    struct store *st = open_store("ring");
    if (!st)
        return;
    expect_docs(st, 0, 400, 1, 4000);
    CHECK_INT(store_last_seq(st), 400);
    store_close(st);
}

/* One transaction of ~1.2 MB, more than the whole log: a checkpoint syncs it instead. */
static void write_more_than_the_log(struct store *st)
{
    write_batch(st, 0, 300, 1, 4000);
    write_batch(st, 300, 1, 1, 300);
}

static void test_transaction_larger_than_the_log(void)
{
    crash_after("large", write_more_than_the_log, PROCESS_DIES);
    struct store *st = open_store("large");
    if (!st)
        return;
    expect_docs(st, 0, 300, 1, 4000);
    expect_docs(st, 300, 1, 1, 300);
    CHECK_INT(store_last_seq(st), 301);
    store_close(st);
}

static void test_one_process_per_data_folder(void)
{
    struct store *st = open_store("locked");
    char err[512] = "";
    struct store *second = open_named("locked", err, sizeof err);
    CHECK(second == NULL);
    CHECK(strstr(err, "another process has this data folder open") != NULL);
    store_close(second);
    store_close(st);
    st = open_store("locked"); /* closing let go of the lock */
    store_close(st);
}

/* A data file copied back from an older backup is not rolled "back" to a later checkpoint. */
static void test_data_file_older_than_the_log_is_refused(void)
{
    char data[3200], old[3200], err[512] = "";
    path_in(data, sizeof data, "restored", "data.mdb");
    path_in(old, sizeof old, "restored", "data.mdb.old");
    struct store *st = open_store("restored");
    if (!st)
        return;
    write_batch(st, 0, 1, 1, 300);
    store_close(st);
    CHECK_INT(copy_file(data, old), 0);
    st = open_store("restored");
    if (!st)
        return;
    write_batch(st, 1, 1, 1, 300);
    store_close(st);
    CHECK_INT(rename(old, data), 0);
    st = open_named("restored", err, sizeof err);
    CHECK(st == NULL);
    CHECK(strstr(err, "before the write-ahead log's checkpoint") != NULL);
    store_close(st);
}

int main(void)
{
    tmpdir_make(tmp_root, sizeof tmp_root, "test_wal");
    test_acknowledged_writes_survive_each_crash();
    test_record_crc_is_gzip_crc32();
    test_torn_record_ends_the_log();
    test_replay_crosses_the_end_of_the_ring();
    test_withdrawn_record_is_not_replayed();
    test_log_goes_round_its_ring();
    test_transaction_larger_than_the_log();
    test_one_process_per_data_folder();
    test_data_file_older_than_the_log_is_refused();
    tmpdir_remove(tmp_root);
    return check_summary("test_wal");
}
