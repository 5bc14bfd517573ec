/*
 * changes.h — the change log as subscribers see it (SPEC §4).
 *
 * Each committed write left one entry in the store's change log. This module turns entries into
 * the events of SPEC §4 — the JSON {"seq", "type", "id", "department", "rev", "at", "actor",
 * "changed", "doc"} and its topic ctg.<department>.<type> — for every reader of the log: the
 * nanomsg publisher, GET /v1/changes and the SSE stream of GET /v1/events.
 */
#ifndef CTG_CHANGES_H
#define CTG_CHANGES_H

#include "ctg/store.h"

#include <event2/buffer.h>
#include <stdbool.h>
#include <stdint.h>

#define CHANGES_TYPE_MAX 32
#define CHANGES_DEPARTMENT_MAX 4

struct change_event {
    uint64_t seq;
    char type[CHANGES_TYPE_MAX];             /* "convention.created", … */
    char department[CHANGES_DEPARTMENT_MAX]; /* "29", "2A", "974" */
};

/* Reads the routing fields (seq, type, department) of a change-log entry; -1 if unreadable. */
int change_event_read(uint64_t seq, const struct record_view *entry, struct change_event *out);

/*
 * Appends the event's JSON text (the entry's meta with "doc" added) to `out`; returns where the
 * document starts in the text appended (its length is the entry's body_len), 0 when the event
 * has none (a deletion).
 */
size_t change_event_append_json(const struct record_view *entry, struct evbuffer *out);

/* Appends "ctg.<department>.<type>" to `out`. */
void change_event_append_topic(const struct change_event *ev, struct evbuffer *out);

#endif
