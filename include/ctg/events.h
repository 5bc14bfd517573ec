/*
 * events.h — the publisher of change events on a nanomsg PUB socket (SPEC §4).
 *
 * The publisher follows the store's change log: events_publish_pending() sends, in seq order,
 * every entry committed since the last one it sent, as "<topic> <json>". It never blocks the
 * loop: when the socket cannot take more, it waits for NN_SNDFD and goes on from where it was.
 * A heartbeat "ctg._heartbeat {"seq": N}" every few seconds says that everything up to N was
 * sent. nanomsg drops messages for a subscriber that does not keep up; the seq lets it notice
 * and fill the gap from GET /v1/changes.
 */
#ifndef CTG_EVENTS_H
#define CTG_EVENTS_H

#include "ctg/changes.h"
#include "ctg/store.h"

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct events;

struct events_stats {
    uint64_t published;   /* change events sent */
    uint64_t failed;      /* events nanomsg refused (other than "try again") and never sent */
    uint64_t heartbeats;
    uint64_t plugin_published; /* events of plugins (ctg.publish) sent */
    uint64_t subscribers; /* connections on the socket now */
    uint64_t published_seq;
};

/* Binds the socket; starts after the store's last seq (events are not replayed at start). */
struct events *events_open(struct event_base *base, struct store *st, const char *bind,
                           char *err, size_t errlen);
void events_close(struct events *ev);

/*
 * Told of each change event as it leaves (sent, or refused by nanomsg and skipped): its route,
 * its JSON text and where its "doc" starts in it (0: none), valid during the call. An entry
 * that waits for the socket is told when it leaves; one that cannot be read is not told (the
 * seq it leaves out shows the gap).
 */
typedef void (*events_sent_fn)(void *arg, const struct change_event *route, const char *json,
                               size_t len, size_t doc_at);
void events_on_sent(struct events *ev, events_sent_fn fn, void *arg);

/* Sends the entries committed since the last call; safe to call at any time. */
void events_publish_pending(struct events *ev);
/*
 * Sends a plugin's event "ctg.<department>.plugin.<name> <json>" at once. It is not a change
 * and has no seq: when the socket cannot take it now, it is dropped and counted as failed.
 */
void events_publish_plugin(struct events *ev, const char *department, const char *name,
                           const char *json);
/* Sends "ctg._heartbeat {"seq": N}", N the last seq published. */
void events_send_heartbeat(struct events *ev);

void events_get_stats(const struct events *ev, struct events_stats *out);

#endif
