/* clock.h — wall-clock time as the store and the API record it (RFC 3339, UTC, milliseconds). */
#ifndef CTG_CLOCK_H
#define CTG_CLOCK_H

#include <stdint.h>

#define CLOCK_RFC3339_LEN 25 /* "2026-11-21T09:00:00.123Z" and its NUL */

/* Milliseconds since the Unix epoch. */
int64_t clock_now_ms(void);
/* Monotonic seconds, for durations. */
double clock_monotonic(void);
/* Writes `ms` as "YYYY-MM-DDTHH:MM:SS.mmmZ" into `out` (CLOCK_RFC3339_LEN bytes). */
void clock_format_rfc3339(int64_t ms, char out[CLOCK_RFC3339_LEN]);

#endif
