/*
 * test_clock.c — core/clock.c: RFC 3339 time stamps, the date and time of a second formatted
 * once and kept: each stamp must be its own instant's, whatever was formatted before it.
 */
#include "ctg/clock.h"

#include <string.h>

#include "check.h"

static void check_stamp(int64_t ms, const char *want)
{
    char out[CLOCK_RFC3339_LEN];
    memset(out, 'x', sizeof out);
    clock_format_rfc3339(ms, out);
    if (strcmp(out, want) != 0)
        fprintf(stderr, "%lld ms: got %s, want %s\n", (long long)ms, out, want);
    CHECK(strcmp(out, want) == 0);
}

int main(void)
{
    check_stamp(0, "1970-01-01T00:00:00.000Z");
    check_stamp(999, "1970-01-01T00:00:00.999Z");                 /* the same second */
    check_stamp(1000, "1970-01-01T00:00:01.000Z");                /* the next one */
    check_stamp(1795771800123, "2026-11-27T09:30:00.123Z");
    check_stamp(1795771800007, "2026-11-27T09:30:00.007Z");
    check_stamp(1795771859950, "2026-11-27T09:30:59.950Z");
    check_stamp(1795771860050, "2026-11-27T09:31:00.050Z");
    check_stamp(1795771800456, "2026-11-27T09:30:00.456Z");       /* back to a second before */
    check_stamp(1709164800000, "2024-02-29T00:00:00.000Z");
    check_stamp(-1, "1969-12-31T23:59:59.999Z");
    check_stamp(-1000, "1969-12-31T23:59:59.000Z");
    char out[CLOCK_RFC3339_LEN]; /* the extremes stay in the buffer (UBSan: no overflow) */
    clock_format_rfc3339(INT64_MIN, out);
    CHECK(strlen(out) < CLOCK_RFC3339_LEN && strcmp(out + strlen(out) - 5, ".192Z") == 0);
    clock_format_rfc3339(INT64_MAX, out);
    CHECK(strlen(out) < CLOCK_RFC3339_LEN && strcmp(out + strlen(out) - 5, ".807Z") == 0);
    return check_summary("test_clock");
}
