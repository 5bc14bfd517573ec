/*
 * event_texts.c — change events for the on_change handlers (see event_texts.h).
 */
#include "ctg/event_texts.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Room in routes and doc_at for `need` events. */
static int reserve(struct event_texts *e, size_t need)
{
    if (need <= e->cap)
        return 0;
    size_t grown = e->cap ? e->cap : 64;
    while (grown < need)
        grown *= 2;
    if (grown > SIZE_MAX / sizeof *e->routes)
        return -1;
    struct change_event *routes = realloc(e->routes, grown * sizeof *routes);
    if (!routes)
        return -1;
    e->routes = routes;
    size_t *doc_at = realloc(e->doc_at, grown * sizeof *doc_at);
    if (!doc_at)
        return -1;
    e->doc_at = doc_at;
    e->cap = grown;
    return 0;
}

int event_texts_add(struct event_texts *e, const struct change_event *route, const char *text,
                    size_t len, size_t doc_at)
{
    size_t n = e->texts.n;
    if (reserve(e, n + 1) < 0 || json_texts_add(&e->texts, text, len) < 0)
        return -1;
    e->routes[n] = *route;
    e->doc_at[n] = doc_at;
    return 0;
}

struct plugin_event event_texts_get(const struct event_texts *e, size_t i)
{
    struct plugin_event event = {.doc_at = e->doc_at[i],
                                 .type = change_type_of_event(e->routes[i].type)};
    event.text = json_texts_get(&e->texts, i, &event.len);
    /* the text ends with the document, then the event's closing brace */
    event.doc_len = event.doc_at ? event.len - event.doc_at - 1 : 0;
    return event;
}

void event_texts_clear(struct event_texts *e)
{
    json_texts_clear(&e->texts);
    free(e->routes);
    free(e->doc_at);
    memset(e, 0, sizeof *e);
}
