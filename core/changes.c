/*
 * changes.c — change-log entries as the events of SPEC §4 (see changes.h).
 *
 * An entry is stored as two JSON texts: the event without its document, then the document. The
 * event is rebuilt by splicing them — `{…meta…,"doc":<document>}` — so that the document, which
 * may be large, is copied once and never parsed again.
 */
#include "ctg/changes.h"

#include "ctg/json_compact.h"
#include "ctg/json_parse.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/*
 * Copies the plain string member `key` of a compact meta text into `out`: 1 when copied, 0 when
 * the member is absent, not a string or too long, -1 when only a whole decoding can tell (the
 * text is not compact, or the string holds an escape).
 */
static int compact_string(const struct record_view *entry, const char *key, char *out,
                          size_t size)
{
    const char *value;
    size_t len;
    switch (json_compact_member(entry->meta, entry->meta_len, key, strlen(key), &value, &len)) {
    case JSON_MEMBER_ABSENT:
        return 0;
    case JSON_MEMBER_UNKNOWN:
        return -1;
    case JSON_MEMBER_FOUND:
        break;
    }
    if (len < 2 || value[0] != '"')
        return 0;
    for (size_t i = 1; i < len - 1; i++)
        if (value[i] == '\\' || (unsigned char)value[i] < 0x20)
            return -1; /* an escape, or a control character JSON refuses there */
    if (len - 2 >= size)
        return 0;
    memcpy(out, value + 1, len - 2);
    out[len - 2] = '\0';
    return 1;
}

/* The routing fields from the decoded meta text, for texts the compact reading cannot take. */
static bool read_decoded(const struct record_view *entry, struct change_event *out)
{
    json_t *meta = json_parse_body(entry->meta, entry->meta_len, NULL);
    const char *type = json_string_value(json_object_get(meta, "type"));
    const char *department = json_string_value(json_object_get(meta, "department"));
    bool read = type && department && strlen(type) < CHANGES_TYPE_MAX &&
                strlen(department) < CHANGES_DEPARTMENT_MAX;
    if (read) {
        snprintf(out->type, sizeof out->type, "%s", type);
        snprintf(out->department, sizeof out->department, "%s", department);
    }
    json_decref(meta);
    return read;
}

/*
 * The log's meta texts are written compact: their two routing fields are found in the text, as
 * every reader of the log does it for every entry, once its brackets and strings are seen to
 * close where it ends. What the other members hold is not read here (a damaged store is
 * ctgd --verify's to find).
 */
int change_event_read(uint64_t seq, const struct record_view *entry, struct change_event *out)
{
    int found = json_compact_is_object(entry->meta, entry->meta_len)
                    ? compact_string(entry, "type", out->type, sizeof out->type)
                    : -1;
    if (found == 1)
        found = compact_string(entry, "department", out->department, sizeof out->department);
    if (found < 0)
        found = read_decoded(entry, out);
    if (found != 1)
        return -1;
    out->seq = seq;
    return 0;
}

size_t change_event_append_json(const struct record_view *entry, struct evbuffer *out)
{
    static const char doc_member[] = ",\"doc\":";
    if (entry->body_len == 0) { /* a deletion: the event has no "doc" */
        evbuffer_add(out, entry->meta, entry->meta_len);
        return 0;
    }
    evbuffer_add(out, entry->meta, entry->meta_len - 1); /* without its closing brace */
    evbuffer_add(out, doc_member, sizeof doc_member - 1);
    evbuffer_add(out, entry->body, entry->body_len);
    evbuffer_add(out, "}", 1);
    return entry->meta_len - 1 + sizeof doc_member - 1;
}

void change_event_append_topic(const struct change_event *ev, struct evbuffer *out)
{
    evbuffer_add_printf(out, "ctg.%s.%s", ev->department, ev->type);
}
