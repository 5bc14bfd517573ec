/*
 * json_verbatim.c — members of a parsed object to copy as they came (see json_verbatim.h).
 */
#include "ctg/json_verbatim.h"

#include <stdlib.h>
#include <string.h>

void json_verbatim_note(struct json_verbatim *v, const json_t *value, size_t key, size_t key_len,
                        size_t start, size_t len)
{
    if (v->count == JSON_VERBATIM_MAX)
        return;
    v->members[v->count++] = (struct json_verbatim_member){
        .value = json_incref((json_t *)value), .key = (uint32_t)key,
        .key_len = (uint32_t)key_len, .start = (uint32_t)start, .len = (uint32_t)len};
}

const char *json_verbatim_find(const struct json_verbatim *v, const char *key, size_t key_len,
                               const json_t *value, size_t *len)
{
    for (size_t i = 0; i < v->count; i++) {
        const struct json_verbatim_member *m = &v->members[i];
        if (m->value == value && m->key_len == key_len &&
            memcmp(v->text + m->key, key, key_len) == 0) {
            *len = m->len;
            return v->text + m->start;
        }
    }
    return NULL;
}

void json_verbatim_copy(struct json_verbatim *to, const struct json_verbatim *from)
{
    *to = (struct json_verbatim){0};
    if (from->count == 0 || !(to->owned = malloc(from->text_len)))
        return;
    to->text = memcpy(to->owned, from->text, from->text_len);
    to->text_len = from->text_len;
    for (size_t i = 0; i < from->count; i++)
        json_incref((json_t *)from->members[i].value);
    to->count = from->count;
    memcpy(to->members, from->members, from->count * sizeof *from->members);
}

void json_verbatim_clear(struct json_verbatim *v)
{
    for (size_t i = 0; i < v->count; i++)
        json_decref((json_t *)v->members[i].value);
    free(v->owned);
    *v = (struct json_verbatim){0};
}
