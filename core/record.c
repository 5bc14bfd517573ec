/* record.c — encoding of store values (header, meta JSON, body JSON) and keys (see record.h). */
#include "ctg/record.h"

#include <string.h>

/* The magic of each kind of body: "CTG1" (the first format, a text), "CTG2", "CTG3". */
static const uint32_t record_magic[] = {
    [RECORD_BODY_TEXT] = 0x31475443,
    [RECORD_BODY_REVISION] = 0x32475443,
    [RECORD_BODY_CURRENT] = 0x33475443,
};

size_t record_size(size_t meta_len, size_t body_len)
{
    return RECORD_HEADER_SIZE + meta_len + body_len;
}

void record_encode(void *dst, enum record_body kind, uint64_t rev, const char *meta,
                   size_t meta_len, const char *body, size_t body_len)
{
    unsigned char *p = dst;
    uint32_t meta_len32 = (uint32_t)meta_len;
    memcpy(p, &record_magic[kind], 4);
    memcpy(p + 4, &meta_len32, 4);
    memcpy(p + 8, &rev, 8);
    memcpy(p + RECORD_HEADER_SIZE, meta, meta_len);
    if (body_len)
        memcpy(p + RECORD_HEADER_SIZE + meta_len, body, body_len);
}

int record_decode(const void *data, size_t len, struct record_view *out)
{
    const unsigned char *p = data;
    uint32_t magic, meta_len;
    if (len < RECORD_HEADER_SIZE)
        return -1;
    memcpy(&magic, p, 4);
    memcpy(&meta_len, p + 4, 4);
    size_t kinds = sizeof record_magic / sizeof *record_magic, kind = 0;
    while (kind < kinds && magic != record_magic[kind])
        kind++;
    if (kind == kinds)
        return -1;
    out->kind = (enum record_body)kind;
    if (meta_len > len - RECORD_HEADER_SIZE)
        return -1;
    memcpy(&out->rev, p + 8, 8);
    out->meta = (const char *)p + RECORD_HEADER_SIZE;
    out->meta_len = meta_len;
    out->body = out->meta + meta_len;
    out->body_len = len - RECORD_HEADER_SIZE - meta_len;
    return 0;
}

void record_put_u64_be(uint64_t v, unsigned char out[8])
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        out[i] = (unsigned char)(v & 0xff);
}

uint64_t record_get_u64_be(const unsigned char in[8])
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | in[i];
    return v;
}

size_t record_revision_key(unsigned char *out, const char *id, uint64_t rev)
{
    size_t n = strlen(id);
    memcpy(out, id, n);
    out[n] = '\0';
    record_put_u64_be(rev, out + n + 1);
    return n + RECORD_REVISION_KEY_EXTRA;
}

int record_revision_key_split(const void *key, size_t len, size_t *id_len, uint64_t *rev)
{
    const unsigned char *p = key;
    if (len <= RECORD_REVISION_KEY_EXTRA)
        return -1;
    size_t n = len - RECORD_REVISION_KEY_EXTRA;
    if (p[n] != '\0' || memchr(p, '\0', n))
        return -1;
    *id_len = n;
    *rev = record_get_u64_be(p + n + 1);
    return 0;
}
