/*
 * test_changes.c — core/changes.c: the routing fields of a change-log entry (type, department)
 * read from its meta text: found in the compact text ctgd writes, and from any other text by a
 * whole decoding, with the same answers; the event's text spliced from meta and document.
 */
#include "ctg/changes.h"

#include <string.h>

#include "check.h"

static struct record_view entry_of(const char *meta)
{
    return (struct record_view){.rev = 1, .meta = meta, .meta_len = strlen(meta)};
}

/* change_event_read of `meta`: its fields, or "refused". */
static void check_read(const char *meta, const char *type, const char *department)
{
    struct record_view entry = entry_of(meta);
    struct change_event ev;
    memset(&ev, 'x', sizeof ev);
    int rc = change_event_read(42, &entry, &ev);
    if (!type) {
        CHECK_INT(rc, -1);
        return;
    }
    CHECK_INT(rc, 0);
    if (rc == 0) {
        CHECK_INT(ev.seq, 42);
        CHECK_STR(ev.type, type);
        CHECK_STR(ev.department, department);
    }
}

static void test_compact(void)
{
    check_read("{\"seq\":42,\"type\":\"convention.created\",\"id\":\"29-a\","
               "\"department\":\"29\",\"rev\":1,\"at\":\"2026-11-21T10:00:00Z\",\"actor\":\"a\","
               "\"changed\":[\"status\"]}",
               "convention.created", "29");
    /* the members in another order, and values to skip of every kind */
    check_read("{\"changed\":[[],{\"a\":[1,{\"b\":\"}\"}]},\"x\\\"y\"],\"department\":\"2A\","
               "\"n\":null,\"t\":true,\"r\":-1.5e3,\"type\":\"convention.deleted\"}",
               "convention.deleted", "2A");
    check_read("{\"type\":\"convention.updated\",\"department\":\"974\"}", "convention.updated",
               "974");
}

/* Texts the compact reading does not take are decoded whole: the same answers. */
static void test_decoded(void)
{
    check_read("{ \"type\": \"convention.created\", \"department\": \"29\" }", "convention.created",
               "29");
    check_read("{\"type\":\"convention.created\",\"department\":\"\\u0032\\u0039\"}",
               "convention.created", "29");
    check_read("{\"typ\\u0065\":\"convention.created\",\"department\":\"30\"}",
               "convention.created", "30");
    check_read("{\"type\":\"convention.created\", \"department\":\"30\"}", "convention.created",
               "30");
    check_read("{\"type\":\"convention.created\",\"department\":\"2\\u00399\"}",
               "convention.created", "299");
}

static void test_refused(void)
{
    check_read("{\"type\":\"convention.created\"}", NULL, NULL);              /* no department */
    check_read("{\"department\":\"29\"}", NULL, NULL);                         /* no type */
    check_read("{\"type\":\"convention.created\",\"department\":29}", NULL, NULL);
    check_read("{\"type\":\"convention.created\",\"department\":\"2999\"}", NULL, NULL);
    check_read("{\"type\":\"convention.created\",\"department\":\"2\\u003999\"}", NULL, NULL);
    check_read("{\"type\":\"x234567890123456789012345678901234\",\"department\":\"29\"}", NULL,
               NULL);
    check_read("{}", NULL, NULL);
    check_read("", NULL, NULL);
    check_read("{\"type\":\"convention.created\",\"department\":\"29\"", NULL, NULL); /* cut */
    check_read("[\"type\",\"department\"]", NULL, NULL);
    /* damaged texts, where the fields are found before the damage: as unreadable as decoded */
    check_read("{\"type\":\"convention.created\",\"department\":\"29\",\"rev\":1", NULL, NULL);
    check_read("{\"type\":\"convention.created\",\"department\":\"29\"}xyz", NULL, NULL);
    check_read("{\"type\":\"convention.created\",\"department\":\"29\"}{}", NULL, NULL);
    check_read("{\"type\":\"convention.created\",\"department\":\"2\n\"}", NULL, NULL);
    check_read("{\"type\":\"convention\t.created\",\"department\":\"29\"}", NULL, NULL);
}

static void test_event_text(void)
{
    const char *meta = "{\"seq\":3,\"type\":\"convention.created\",\"department\":\"29\"}";
    const char *doc = "{\"id\":\"29-a\"}";
    struct record_view entry = entry_of(meta);
    struct evbuffer *out = evbuffer_new();
    entry.body = doc;
    entry.body_len = strlen(doc);
    change_event_append_json(&entry, out);
    evbuffer_add(out, "", 1);
    CHECK_STR((const char *)evbuffer_pullup(out, -1),
              "{\"seq\":3,\"type\":\"convention.created\",\"department\":\"29\","
              "\"doc\":{\"id\":\"29-a\"}}");
    evbuffer_drain(out, evbuffer_get_length(out));
    entry.body_len = 0; /* a deletion: no document */
    change_event_append_json(&entry, out);
    evbuffer_add(out, "", 1);
    CHECK_STR((const char *)evbuffer_pullup(out, -1), meta);
    evbuffer_free(out);
}

int main(void)
{
    test_compact();
    test_decoded();
    test_refused();
    test_event_text();
    return check_summary("test_changes");
}
