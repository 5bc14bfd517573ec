/*
 * log.h — one line per event on stderr, journald-friendly:
 *   2026-11-21T09:00:00.123Z info store: opened data (12 conventions, last seq 40)
 * Never pass a token or an Authorization header to these functions.
 */
#ifndef CTG_LOG_H
#define CTG_LOG_H

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Reads "debug", "info", "warn" or "error"; returns -1 for anything else. */
int log_level_parse(const char *name, enum log_level *out);
/* Sets the lowest level written. */
void log_set_level(enum log_level level);

void log_msg(enum log_level level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_debug(module, ...) log_msg(LOG_DEBUG, module, __VA_ARGS__)
#define log_info(module, ...)  log_msg(LOG_INFO, module, __VA_ARGS__)
#define log_warn(module, ...)  log_msg(LOG_WARN, module, __VA_ARGS__)
#define log_error(module, ...) log_msg(LOG_ERROR, module, __VA_ARGS__)

#endif
