/* record.c — encoding of store values: header, meta JSON, body JSON (see record.h). */
#include "ctg/record.h"

#include <string.h>

static const uint32_t record_magic = 0x31475443; /* "CTG1" */

size_t record_size(size_t meta_len, size_t body_len)
{
    return RECORD_HEADER_SIZE + meta_len + body_len;
}

void record_encode(void *dst, uint64_t rev, const char *meta, size_t meta_len, const char *body,
                   size_t body_len)
{
    unsigned char *p = dst;
    uint32_t meta_len32 = (uint32_t)meta_len;
    memcpy(p, &record_magic, 4);
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
    if (magic != record_magic || meta_len > len - RECORD_HEADER_SIZE)
        return -1;
    memcpy(&out->rev, p + 8, 8);
    out->meta = (const char *)p + RECORD_HEADER_SIZE;
    out->meta_len = meta_len;
    out->body = out->meta + meta_len;
    out->body_len = len - RECORD_HEADER_SIZE - meta_len;
    return 0;
}
