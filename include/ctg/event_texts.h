/*
 * event_texts.h — change events as the on_change handlers take them: the JSON text of each
 * (back to back, json_texts.h), its seq and department, and where its "doc" is in the text.
 */
#ifndef CTG_EVENT_TEXTS_H
#define CTG_EVENT_TEXTS_H

#include "ctg/changes.h"
#include "ctg/json_texts.h"
#include "ctg/plugins.h"

#include <stddef.h>

struct event_texts {
    struct json_texts texts;
    struct change_event *routes; /* each text's seq and department */
    size_t *doc_at;              /* where each text's "doc" starts; 0 when it has none */
    size_t cap;                  /* of routes and doc_at */
};

/*
 * Appends a copy of an event's text, as change_event_append_json() writes it (its "doc" last,
 * at `doc_at`); -1 (nothing appended) when out of memory.
 */
int event_texts_add(struct event_texts *e, const struct change_event *route, const char *text,
                    size_t len, size_t doc_at);

/* Event `i` (< e->texts.n), as the plugins take it; it points into `e`. */
struct plugin_event event_texts_get(const struct event_texts *e, size_t i);

/* Frees the buffers and empties `e` for reuse. */
void event_texts_clear(struct event_texts *e);

#endif
