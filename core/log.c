/*
 * log.c — the server's log: one line per event on stderr, with a UTC timestamp, a level and
 * the module that speaks. Lines are written with a single write so that they never interleave.
 */
#include "ctg/log.h"
#include "ctg/clock.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static enum log_level min_level = LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

int log_level_parse(const char *name, enum log_level *out)
{
    for (size_t i = 0; i < sizeof level_names / sizeof level_names[0]; i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    return -1;
}

void log_set_level(enum log_level level)
{
    min_level = level;
}

void log_msg(enum log_level level, const char *module, const char *fmt, ...)
{
    if (level < min_level)
        return;
    char line[2048], stamp[CLOCK_RFC3339_LEN];
    clock_format_rfc3339(clock_now_ms(), stamp);
    int n = snprintf(line, sizeof line, "%s %s %s: ", stamp, level_names[level], module);
    va_list ap;
    va_start(ap, fmt);
    n += vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    if (n >= (int)sizeof line - 1)
        n = (int)sizeof line - 2;
    line[n++] = '\n';
    ssize_t ignored = write(STDERR_FILENO, line, (size_t)n);
    (void)ignored;
}
