/*
 * record.h — the layout of a value in the store, and of its keys.
 *
 * Each value is a fixed header (magic, meta length, rev) followed by a small "meta" JSON text
 * (a summary, or who/when/what of a revision or change) and a body. The magic says what the
 * body is:
 *   RECORD_BODY_TEXT      the document's JSON text (empty after a deletion). Keeping the
 *                         document as the bytes it is served in lets a GET answer without
 *                         parsing it again.
 *   RECORD_BODY_REVISION  the key (see record_revision_key) of the revision whose body is the
 *                         document: the change log points at the revision instead of keeping
 *                         another copy of it.
 *   RECORD_BODY_CURRENT   nothing: the revision's document is the current version of its id,
 *                         in docs. A revision is written so while it is the last one, and is
 *                         given its document (RECORD_BODY_TEXT) when a write supersedes it.
 */
#ifndef CTG_RECORD_H
#define CTG_RECORD_H

#include <stddef.h>
#include <stdint.h>

#define RECORD_HEADER_SIZE 16

enum record_body { RECORD_BODY_TEXT, RECORD_BODY_REVISION, RECORD_BODY_CURRENT };

struct record_view {
    uint64_t rev;
    enum record_body kind;
    const char *meta;
    size_t meta_len;
    const char *body; /* not NUL-terminated */
    size_t body_len;
};

/* Makes `view` carry the document `holder` holds as text: what a pointer or a revision that is
 * the current version resolves to. */
static inline void record_take_text(struct record_view *view, const struct record_view *holder)
{
    view->kind = RECORD_BODY_TEXT;
    view->body = holder->body;
    view->body_len = holder->body_len;
}

size_t record_size(size_t meta_len, size_t body_len);
/* Writes a record into `dst`, which holds record_size(meta_len, body_len) bytes. */
void record_encode(void *dst, enum record_body kind, uint64_t rev, const char *meta,
                   size_t meta_len, const char *body, size_t body_len);
/* Reads a record in place; -1 when `data` is not a record (a corrupt or foreign value). */
int record_decode(const void *data, size_t len, struct record_view *out);

/* Numbers in keys (a seq, a rev) are 8 bytes big-endian, so that keys sort as the numbers do. */
void record_put_u64_be(uint64_t v, unsigned char out[8]);
uint64_t record_get_u64_be(const unsigned char in[8]);

/*
 * A key of the revisions is the id, a NUL, then the rev: the revisions of an id are contiguous
 * and in order. record_revision_key() writes strlen(id) + RECORD_REVISION_KEY_EXTRA bytes into
 * `out` and returns their count; record_revision_key_split() reads one back (the id is the first
 * `*id_len` bytes of `key`), -1 when `key` is not such a key.
 */
#define RECORD_REVISION_KEY_EXTRA 9
size_t record_revision_key(unsigned char *out, const char *id, uint64_t rev);
int record_revision_key_split(const void *key, size_t len, size_t *id_len, uint64_t *rev);

#endif
