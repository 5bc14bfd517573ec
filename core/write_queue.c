/*
 * write_queue.c — group commit (see write_queue.h).
 */
#include "ctg/write_queue.h"
#include "ctg/server.h"

#include <stdlib.h>
#include <string.h>

#define BATCH_MAX 256 /* writes in one transaction; more wait for the next one */
/*
 * From this many writes, their bodies are freed and their answers put together while the commit
 * syncs, on a thread of its own (syncer.h): freeing a body and putting an answer together take
 * some 10 µs, and handing the sync over and back costs four context switches, some 30 µs on the
 * machine of docs/benchmarks.md.
 */
#define WHILE_SYNCING_MIN 8

struct queued_write {
    struct http_request *r; /* deferred: answered by the flush */
    struct write_request w;
    char *id, *action_id;   /* the copies w points at */
    json_t *body;
    struct json_verbatim verbatim;
    struct queued_write *next;
};

struct write_queue {
    struct server *srv;
    write_reply_fn reply;
    struct event *flush_timer;
    struct queued_write *head, **tail;
};

static void queued_free(struct queued_write *q)
{
    free(q->id);
    free(q->action_id);
    json_decref(q->body);
    json_verbatim_clear(&q->verbatim);
    free(q);
}

/* Takes up to BATCH_MAX writes off the queue, in arrival order. */
static size_t take_batch(struct write_queue *q, struct queued_write **batch)
{
    size_t n = 0;
    while (q->head && n < BATCH_MAX) {
        batch[n++] = q->head;
        q->head = q->head->next;
    }
    if (!q->head)
        q->tail = &q->head;
    return n;
}

/* The writes of one flush, as the pipeline takes them. */
struct flushing {
    struct write_queue *q;
    struct queued_write **batch;
    struct write_outcome *out;
    size_t n;
    struct plugins *plugins; /* the rules of now: a reload may have come since they arrived */
    bool answers_ready;      /* put together while the commit synced */
};

static struct write_request request_of(const struct flushing *f, size_t i)
{
    struct write_request w = f->batch[i]->w;
    w.plugins = f->plugins;
    return w;
}

static int prepare_queued(void *arg, size_t i, struct write_request *w, struct write_outcome *out)
{
    (void)out;
    *w = request_of(arg, i);
    return 0;
}

/* Each answer handed to evhttp, which writes none of them before the loop runs again. */
static void prepare_answers(struct flushing *f)
{
    for (size_t i = 0; i < f->n; i++)
        f->q->reply(f->batch[i]->r, &f->out[i]);
    f->answers_ready = true;
}

/*
 * Once the batch is committed, its outcomes are final and its bodies of no more use: the bodies
 * go and the answers are put together while the commit syncs. No answer leaves before the
 * commit is on disk: only the loop writes to the sockets (and http_finish_deferred, after), and
 * it runs again once the sync, or the checkpoint that stands in for a failed one, has ended;
 * when neither can, ctgd stops (store.h).
 */
static void while_syncing(void *arg)
{
    struct flushing *f = arg;
    for (size_t i = 0; i < f->n; i++) {
        json_decref(f->batch[i]->body);
        f->batch[i]->body = NULL;
        f->batch[i]->w.body = NULL;
        json_verbatim_clear(&f->batch[i]->verbatim);
    }
    prepare_answers(f);
}

/*
 * A full store refuses the whole transaction: each write is then tried alone, so that small
 * writes that fit are not refused for a big one that does not. Nothing was committed, so the
 * bodies are all there.
 */
static void retry_alone_when_full(struct server *srv, const struct flushing *f)
{
    if (f->n < 2 || f->out[0].status != 507)
        return;
    for (size_t i = 0; i < f->n; i++) {
        struct write_request w = request_of(f, i);
        write_outcome_clear(&f->out[i]);
        write_convention(srv->store, &w, &f->out[i]);
    }
}

/* Every answer goes out before any of the batch is freed: the clients do not wait for that. */
static void answer_all(struct flushing *f)
{
    if (!f->answers_ready)
        prepare_answers(f);
    for (size_t i = 0; i < f->n; i++)
        http_finish_deferred(f->batch[i]->r);
}

static void free_all(struct queued_write **batch, struct write_outcome *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        write_outcome_clear(&out[i]);
        queued_free(batch[i]);
    }
}

static void write_batch(struct write_queue *q, struct queued_write **batch, size_t n)
{
    struct write_outcome *out = calloc(n, sizeof *out);
    if (!out) {
        for (size_t i = 0; i < n; i++) {
            http_error(batch[i]->r, 500, "internal", "out of memory; nothing was written");
            http_finish_deferred(batch[i]->r);
            queued_free(batch[i]);
        }
        return;
    }
    struct flushing f = {q, batch, out, n, q->srv->plugins, false};
    struct write_source src = {.prepare = prepare_queued, .arg = &f,
                               .meanwhile = n >= WHILE_SYNCING_MIN ? while_syncing : NULL};
    write_conventions_from(q->srv->store, &src, out, n);
    retry_alone_when_full(q->srv, &f); /* a full store committed nothing: the answers wait */
    server_changes_committed(q->srv);
    answer_all(&f);
    server_writers_answered(q->srv);
    free_all(batch, out, n);
    free(out);
}

void write_queue_flush(struct write_queue *q)
{
    struct queued_write *batch[BATCH_MAX];
    size_t n;
    while ((n = take_batch(q, batch)) > 0)
        write_batch(q, batch, n);
}

static void on_flush(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    write_queue_flush(arg);
}

struct write_queue *write_queue_new(struct server *srv, write_reply_fn reply)
{
    struct write_queue *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    q->srv = srv;
    q->reply = reply;
    q->tail = &q->head;
    q->flush_timer = evtimer_new(srv->base, on_flush, q);
    if (!q->flush_timer) {
        free(q);
        return NULL;
    }
    return q;
}

static char *copy_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

void write_queue_submit(struct write_queue *q, struct http_request *r,
                        const struct write_request *w)
{
    struct queued_write *item = calloc(1, sizeof *item);
    struct http_request *deferred = item ? http_defer(r) : NULL;
    if (!deferred) {
        free(item);
        http_error(r, 500, "internal", "out of memory");
        return;
    }
    item->r = deferred;
    http_keep_reading(deferred);
    item->w = *w;
    item->w.id = item->id = copy_or_null(w->id);
    item->w.action_id = item->action_id = copy_or_null(w->action_id);
    item->body = w->body ? json_incref((json_t *)w->body) : NULL;
    item->w.body = item->body;
    if (w->verbatim)
        json_verbatim_copy(&item->verbatim, w->verbatim); /* w's text is the request's */
    item->w.verbatim = &item->verbatim;
    *q->tail = item;
    q->tail = &item->next;
    /* A timer of 0 s runs after the loop has read every request that is there now. */
    static const struct timeval now = {0, 0};
    event_add(q->flush_timer, &now);
}

void write_queue_free(struct write_queue *q)
{
    if (!q)
        return;
    write_queue_flush(q);
    event_free(q->flush_timer);
    free(q);
}
