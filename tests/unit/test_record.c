/* test_record.c — store values survive encoding, and foreign bytes are recognised. */
#include "check.h"
#include "ctg/record.h"

#include <stdlib.h>

static void test_round_trip(void)
{
    const char *meta = "{\"rev\":3}", *body = "{\"id\":\"abc\"}";
    size_t size = record_size(strlen(meta), strlen(body));
    unsigned char *buf = malloc(size);
    record_encode(buf, 3, meta, strlen(meta), body, strlen(body));
    struct record_view view;
    CHECK_INT(record_decode(buf, size, &view), 0);
    CHECK_INT(view.rev, 3);
    CHECK_INT(view.meta_len, strlen(meta));
    CHECK(memcmp(view.meta, meta, view.meta_len) == 0);
    CHECK_INT(view.body_len, strlen(body));
    CHECK(memcmp(view.body, body, view.body_len) == 0);
    free(buf);
}

static void test_empty_body(void)
{
    unsigned char buf[RECORD_HEADER_SIZE + 2];
    record_encode(buf, 7, "{}", 2, NULL, 0);
    struct record_view view;
    CHECK_INT(record_decode(buf, sizeof buf, &view), 0);
    CHECK_INT(view.body_len, 0);
    CHECK_INT(view.rev, 7);
}

static void test_rejects_foreign_bytes(void)
{
    struct record_view view;
    unsigned char buf[RECORD_HEADER_SIZE + 4] = "not a record at all";
    CHECK_INT(record_decode(buf, sizeof buf, &view), -1);
    CHECK_INT(record_decode(buf, 3, &view), -1);
    record_encode(buf, 1, "{}", 2, "{}", 2);
    CHECK_INT(record_decode(buf, RECORD_HEADER_SIZE + 1, &view), -1); /* meta cut short */
}

int main(void)
{
    test_round_trip();
    test_empty_body();
    test_rejects_foreign_bytes();
    return check_summary("test_record");
}
