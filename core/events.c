/*
 * events.c — the nanomsg PUB socket and its place in the event loop (see events.h).
 *
 * Entries are read from the change log, not handed over in memory, so that what is published is
 * exactly what was committed, in seq order, whichever process wrote it. A batch is bounded so
 * that a long backlog never holds a read transaction or the loop for long: the rest is sent on
 * the next turn.
 */
#include "ctg/events.h"
#include "ctg/changes.h"
#include "ctg/log.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <nanomsg/nn.h>
#include <nanomsg/pubsub.h>
#include <nanomsg/tcp.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PUBLISH_BATCH 1000
#define SOCKET_SEND_BUFFER (1024 * 1024) /* per subscriber: room for bursts of writes */

struct events {
    struct store *store;
    int sock;
    struct event *writable;  /* NN_SNDFD: the socket can take messages again */
    struct event *more;      /* the backlog goes on in the next loop turn */
    struct evbuffer *message;
    bool blocked;            /* waiting for `writable` */
    events_sent_fn sent;     /* told of each change event that leaves */
    void *sent_arg;
    uint64_t published_seq;
    struct events_stats stats;
};

struct publish_batch {
    struct events *ev;
    size_t sent;
    bool stop;
};

/* Sends one message; 0 when sent, 1 when the socket is full, -1 when refused. */
static int send_message(struct events *ev, struct evbuffer *message)
{
    size_t len = evbuffer_get_length(message);
    int rc = nn_send(ev->sock, evbuffer_pullup(message, -1), len, NN_DONTWAIT);
    if (rc >= 0)
        return 0;
    if (errno == EAGAIN)
        return 1;
    log_warn("events", "a message was not sent: %s", nn_strerror(errno));
    return -1;
}

static int publish_entry(uint64_t seq, const struct record_view *entry, void *arg)
{
    struct publish_batch *b = arg;
    struct events *ev = b->ev;
    struct change_event event;
    if (b->sent == PUBLISH_BATCH)
        return 1;
    evbuffer_drain(ev->message, evbuffer_get_length(ev->message));
    if (change_event_read(seq, entry, &event) == 0) {
        change_event_append_topic(&event, ev->message);
        evbuffer_add(ev->message, " ", 1);
        size_t json_at = evbuffer_get_length(ev->message);
        size_t doc_at = change_event_append_json(entry, ev->message);
        int rc = send_message(ev, ev->message);
        if (rc == 1) {
            b->stop = true;
            return 1;
        }
        if (rc == 0)
            ev->stats.published++;
        else
            ev->stats.failed++;
        if (ev->sent) { /* send_message made the message one block */
            const char *message = (const char *)evbuffer_pullup(ev->message, -1);
            ev->sent(ev->sent_arg, &event, message + json_at,
                     evbuffer_get_length(ev->message) - json_at, doc_at);
        }
    } else {
        log_error("events", "change %llu cannot be read; it is skipped", (unsigned long long)seq);
        ev->stats.failed++;
    }
    ev->published_seq = seq;
    b->sent++;
    return 0;
}

void events_on_sent(struct events *ev, events_sent_fn fn, void *arg)
{
    ev->sent = fn;
    ev->sent_arg = arg;
}

void events_publish_pending(struct events *ev)
{
    if (ev->blocked || ev->published_seq >= store_last_seq(ev->store))
        return;
    if (store_read_begin(ev->store) != STORE_OK)
        return;
    struct publish_batch b = {.ev = ev};
    store_each_change(ev->store, ev->published_seq, publish_entry, &b);
    store_read_end(ev->store);
    if (b.stop) {
        ev->blocked = true;
        event_add(ev->writable, NULL);
    } else if (ev->published_seq < store_last_seq(ev->store)) {
        event_active(ev->more, 0, 0);
    }
}

static void on_writable(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct events *ev = arg;
    ev->blocked = false;
    events_publish_pending(ev);
}

static void on_more(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    events_publish_pending(arg);
}

void events_publish_plugin(struct events *ev, const char *department, const char *name,
                           const char *json)
{
    /* put together in the change events' buffer, which no change event holds between calls */
    struct evbuffer *message = ev->message;
    evbuffer_drain(message, evbuffer_get_length(message));
    evbuffer_add(message, "ctg.", 4);
    evbuffer_add(message, department, strlen(department));
    evbuffer_add(message, ".plugin.", 8);
    evbuffer_add(message, name, strlen(name));
    evbuffer_add(message, " ", 1);
    evbuffer_add(message, json, strlen(json));
    if (send_message(ev, message) == 0)
        ev->stats.plugin_published++;
    else
        ev->stats.failed++;
}

void events_send_heartbeat(struct events *ev)
{
    struct evbuffer *message = evbuffer_new();
    evbuffer_add_printf(message, "ctg._heartbeat {\"seq\":%llu}",
                        (unsigned long long)ev->published_seq);
    if (send_message(ev, message) == 0)
        ev->stats.heartbeats++;
    evbuffer_free(message);
}

static int socket_fd(int sock, int option, int *fd)
{
    size_t size = sizeof *fd;
    return nn_getsockopt(sock, NN_SOL_SOCKET, option, fd, &size);
}

/*
 * TCP subscribers get each event at once: with Nagle's algorithm, an event sent while the last
 * one waits for its (delayed) acknowledgement would wait too, up to 40 ms on Linux.
 */
static int bind_socket(struct events *ev, const char *bind, char *err, size_t errlen)
{
    int buffer = SOCKET_SEND_BUFFER, nodelay = 1;
    ev->sock = nn_socket(AF_SP, NN_PUB);
    if (ev->sock < 0 ||
        nn_setsockopt(ev->sock, NN_SOL_SOCKET, NN_SNDBUF, &buffer, sizeof buffer) < 0 ||
        nn_setsockopt(ev->sock, NN_TCP, NN_TCP_NODELAY, &nodelay, sizeof nodelay) < 0 ||
        nn_bind(ev->sock, bind) < 0) {
        snprintf(err, errlen, "cannot publish events on %s: %s", bind, nn_strerror(errno));
        return -1;
    }
    return 0;
}

static int add_loop_events(struct events *ev, struct event_base *base)
{
    int fd;
    if (socket_fd(ev->sock, NN_SNDFD, &fd) < 0)
        return -1;
    ev->writable = event_new(base, fd, EV_READ, on_writable, ev);
    ev->more = event_new(base, -1, 0, on_more, ev);
    return ev->writable && ev->more ? 0 : -1;
}

struct events *events_open(struct event_base *base, struct store *st, const char *bind,
                           char *err, size_t errlen)
{
    struct events *ev = calloc(1, sizeof *ev);
    if (!ev) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    ev->store = st;
    ev->sock = -1;
    ev->published_seq = store_last_seq(st);
    ev->message = evbuffer_new();
    if (bind_socket(ev, bind, err, errlen) < 0) {
        events_close(ev);
        return NULL;
    }
    if (!ev->message || add_loop_events(ev, base) < 0) {
        snprintf(err, errlen, "cannot add the event socket to the loop");
        events_close(ev);
        return NULL;
    }
    log_info("events", "publishing on %s from seq %llu", bind,
             (unsigned long long)ev->published_seq);
    return ev;
}

void events_close(struct events *ev)
{
    if (!ev)
        return;
    if (ev->writable)
        event_free(ev->writable);
    if (ev->more)
        event_free(ev->more);
    if (ev->message)
        evbuffer_free(ev->message);
    if (ev->sock >= 0)
        nn_close(ev->sock);
    free(ev);
}

void events_get_stats(const struct events *ev, struct events_stats *out)
{
    *out = ev->stats;
    out->published_seq = ev->published_seq;
    out->subscribers = nn_get_statistic(ev->sock, NN_STAT_CURRENT_CONNECTIONS);
}
