/*
 * record.h — the layout of a value in the store.
 *
 * Each value is a fixed header (magic, meta length, rev) followed by two JSON texts: a small
 * "meta" part (a summary, or who/when/what of a revision or change) and the "body" (the
 * document, empty after a deletion). Keeping the document as the bytes it is served in lets a
 * GET answer without parsing it again.
 */
#ifndef CTG_RECORD_H
#define CTG_RECORD_H

#include <stddef.h>
#include <stdint.h>

#define RECORD_HEADER_SIZE 16

struct record_view {
    uint64_t rev;
    const char *meta;
    size_t meta_len;
    const char *body; /* not NUL-terminated */
    size_t body_len;
};

size_t record_size(size_t meta_len, size_t body_len);
/* Writes a record into `dst`, which holds record_size(meta_len, body_len) bytes. */
void record_encode(void *dst, uint64_t rev, const char *meta, size_t meta_len, const char *body,
                   size_t body_len);
/* Reads a record in place; -1 when `data` is not a record (a corrupt or foreign value). */
int record_decode(const void *data, size_t len, struct record_view *out);

#endif
