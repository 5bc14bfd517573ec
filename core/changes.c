/*
 * changes.c — change-log entries as the events of SPEC §4 (see changes.h).
 *
 * An entry is stored as two JSON texts: the event without its document, then the document. The
 * event is rebuilt by splicing them — `{…meta…,"doc":<document>}` — so that the document, which
 * may be large, is copied once and never parsed again.
 */
#include "ctg/changes.h"

#include "ctg/json_parse.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

int change_event_read(uint64_t seq, const struct record_view *entry, struct change_event *out)
{
    json_t *meta = json_parse_body(entry->meta, entry->meta_len, NULL);
    const char *type = json_string_value(json_object_get(meta, "type"));
    const char *department = json_string_value(json_object_get(meta, "department"));
    int rc = -1;
    if (type && department && strlen(type) < CHANGES_TYPE_MAX &&
        strlen(department) < CHANGES_DEPARTMENT_MAX) {
        out->seq = seq;
        snprintf(out->type, sizeof out->type, "%s", type);
        snprintf(out->department, sizeof out->department, "%s", department);
        rc = 0;
    }
    json_decref(meta);
    return rc;
}

void change_event_append_json(const struct record_view *entry, struct evbuffer *out)
{
    if (entry->body_len == 0) { /* a deletion: the event has no "doc" */
        evbuffer_add(out, entry->meta, entry->meta_len);
        return;
    }
    evbuffer_add(out, entry->meta, entry->meta_len - 1); /* without its closing brace */
    evbuffer_add(out, ",\"doc\":", 7);
    evbuffer_add(out, entry->body, entry->body_len);
    evbuffer_add(out, "}", 1);
}

void change_event_append_topic(const struct change_event *ev, struct evbuffer *out)
{
    evbuffer_add_printf(out, "ctg.%s.%s", ev->department, ev->type);
}
