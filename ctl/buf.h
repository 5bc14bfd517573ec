/*
 * buf.h — a growable byte buffer, always NUL-terminated, and the URL pieces ctgctl builds with
 * it (path segments and query parameters, percent-encoded).
 */
#ifndef CTGCTL_BUF_H
#define CTGCTL_BUF_H

#include <stdbool.h>
#include <stddef.h>

struct buf {
    char *data; /* NULL until something is appended; owned by the buffer */
    size_t len;
    size_t cap;
};

/* Each returns false when memory runs out (the buffer keeps what it had). */
bool buf_append(struct buf *b, const void *data, size_t len);
bool buf_puts(struct buf *b, const char *s);
bool buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* `s` percent-encoded: everything but the RFC 3986 unreserved characters. */
bool buf_append_escaped(struct buf *b, const char *s);

/* Appends "?name=value" for the first parameter of the URL in `b`, "&name=value" after. */
bool buf_add_query(struct buf *b, const char *name, const char *value);

/* Empties the buffer, keeping its memory. */
void buf_clear(struct buf *b);
void buf_free(struct buf *b);

#endif
