/* clock.c — the time stamps of the log, the store and the API. */
#include "ctg/clock.h"

#include <string.h>
#include <time.h>

int64_t clock_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double clock_monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Every write stamps its change with the time: the date and time of a second are formatted once
 * (gmtime_r and strftime took 2k instructions, a tenth of the save of a document), by each
 * thread for itself (the log's lines come from others too), and only the milliseconds after.
 */
void clock_format_rfc3339(int64_t ms, char out[CLOCK_RFC3339_LEN])
{
    static _Thread_local int64_t second = INT64_MIN;
    static _Thread_local char date_time[CLOCK_RFC3339_LEN - 5];
    static _Thread_local size_t date_time_len;
    int64_t secs = ms / 1000, milli = ms % 1000;
    if (milli < 0) { /* the second before, as gmtime_r counts: no overflow at INT64_MIN */
        milli += 1000;
        secs--;
    }
    if (secs != second) {
        time_t t = (time_t)secs;
        struct tm tm;
        /* room for ".mmmZ" and the NUL after it: a year past 9999 leaves the date out */
        date_time_len = gmtime_r(&t, &tm) ? strftime(date_time, CLOCK_RFC3339_LEN - 5,
                                                      "%Y-%m-%dT%H:%M:%S", &tm)
                                          : 0;
        second = secs;
    }
    memcpy(out, date_time, date_time_len);
    char *p = out + date_time_len;
    *p++ = '.';
    *p++ = (char)('0' + milli / 100);
    *p++ = (char)('0' + milli / 10 % 10);
    *p++ = (char)('0' + milli % 10);
    *p++ = 'Z';
    *p = '\0';
}
