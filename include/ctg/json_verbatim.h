/*
 * json_verbatim.h — the members of a parsed JSON object whose text is already what json_write
 * writes for their value: the text a write stores is then copied from the body, member by
 * member, instead of written again from the jansson values (a fifth of the instructions of a
 * bulk import went to that).
 *
 * json_parse_body_verbatim (json_parse.h) notes the members of the top-level object whose
 * value's text is compact and has nothing json_write would write otherwise: no white space, no
 * escape in a string, no real number, no "-0". json_write_verbatim (json_write.h) then copies
 * a member's text when the object to write has, under the same key, the very json_t the parse
 * made: that value must not have been changed since (the writes share the body's values, they
 * never change them). The struct holds a reference to each value it notes, so that no other
 * value can take its address while it is kept (the body's `rev`, say, taken out of it and freed,
 * and the stored document's new `rev` made in its place).
 */
#ifndef CTG_JSON_VERBATIM_H
#define CTG_JSON_VERBATIM_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define JSON_VERBATIM_MAX 32 /* members noted; a convention has some twenty */

struct json_verbatim_member {
    const json_t *value;
    uint32_t key, key_len; /* the key's offset and length in the text (a key without escapes) */
    uint32_t start, len;   /* the value's */
};

/* Zeroed before its first use; json_verbatim_clear() when done. */
struct json_verbatim {
    const char *text; /* the parsed text: the members are spans of it */
    size_t text_len;
    char *owned;      /* text, when it is a copy of this struct's own (json_verbatim_copy) */
    size_t count;
    struct json_verbatim_member members[JSON_VERBATIM_MAX];
};

/* Notes a member (the parser's), with a reference to its value; when there is room. */
void json_verbatim_note(struct json_verbatim *v, const json_t *value, size_t key, size_t key_len,
                        size_t start, size_t len);

/* The text of the member `key` when its value is `value`, its length in *len; NULL if none. */
const char *json_verbatim_find(const struct json_verbatim *v, const char *key, size_t key_len,
                               const json_t *value, size_t *len);

/* Makes `to` (cleared) the same as `from` with a copy of its text, for after the text goes;
 * when out of memory, `to` has no members. */
void json_verbatim_copy(struct json_verbatim *to, const struct json_verbatim *from);

/* Drops the references and the copy: `v` has no members. */
void json_verbatim_clear(struct json_verbatim *v);

#endif
