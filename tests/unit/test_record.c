/* test_record.c — store values and keys survive encoding, and foreign bytes are recognised. */
#include "check.h"
#include "ctg/record.h"

#include <stdlib.h>

static void test_round_trip(void)
{
    const char *meta = "{\"rev\":3}", *body = "{\"id\":\"abc\"}";
    size_t size = record_size(strlen(meta), strlen(body));
    unsigned char *buf = malloc(size);
    record_encode(buf, RECORD_BODY_TEXT, 3, meta, strlen(meta), body, strlen(body));
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
    record_encode(buf, RECORD_BODY_TEXT, 7, "{}", 2, NULL, 0);
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
    record_encode(buf, RECORD_BODY_TEXT, 1, "{}", 2, "{}", 2);
    CHECK_INT(record_decode(buf, RECORD_HEADER_SIZE + 1, &view), -1); /* meta cut short */
}

static void test_revision_keys_sort_by_id_then_rev(void)
{
    unsigned char a[32], b[32];
    size_t id_len;
    uint64_t rev;
    size_t n = record_revision_key(a, "pbs-2020", 258);
    CHECK_INT(n, strlen("pbs-2020") + RECORD_REVISION_KEY_EXTRA);
    CHECK_INT(record_revision_key_split(a, n, &id_len, &rev), 0);
    CHECK_INT(id_len, strlen("pbs-2020"));
    CHECK(memcmp(a, "pbs-2020", id_len) == 0);
    CHECK_INT(rev, 258);
    record_revision_key(b, "pbs-2020", 3);
    CHECK(memcmp(b, a, n) < 0);                           /* rev 3 before rev 258 */
    size_t m = record_revision_key(b, "pbs-2020-bis", 1); /* every rev of an id comes first */
    CHECK(memcmp(a, b, n < m ? n : m) < 0);
    CHECK_INT(record_revision_key_split(a, RECORD_REVISION_KEY_EXTRA, &id_len, &rev), -1);
    CHECK_INT(record_revision_key_split(a, n - 1, &id_len, &rev), -1); /* no NUL before the rev */
    unsigned char seq[8];
    record_put_u64_be(0x0102030405060708u, seq);
    CHECK_INT(seq[0], 1);
    CHECK_INT(seq[7], 8);
    CHECK(record_get_u64_be(seq) == 0x0102030405060708u);
}

int main(void)
{
    test_round_trip();
    test_empty_body();
    test_rejects_foreign_bytes();
    test_revision_keys_sort_by_id_then_rev();
    return check_summary("test_record");
}
