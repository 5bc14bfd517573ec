/*
 * json_write.h — jansson values to compact JSON text.
 *
 * json_dumps walks a value through a callback per piece and checks the UTF-8 of every string
 * again: the stored text of each write took a tenth of the server's time, and yajl's generator,
 * which called back for every piece too, still 15% of a bulk import. json_write gives the
 * very text json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY) gives (keys in their order, reals
 * as jansson writes them), faster; tests/fuzz/fuzz_json_parse checks that the two agree.
 */
#ifndef CTG_JSON_WRITE_H
#define CTG_JSON_WRITE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY): a new NUL-terminated text (free() it), or
 * NULL (also for a NULL value); its length in *len when len is not NULL. */
char *json_write(const json_t *value, size_t *len);

struct json_verbatim;
/* json_write, copying the members of an object that `v` (json_verbatim.h) has as they are. */
char *json_write_verbatim(const json_t *value, const struct json_verbatim *v, size_t *len);

/*
 * An object written member by member, in the order of the calls, straight into its text: what
 * json_pack then json_write would give, without building the object (the metas the store
 * keeps beside each write). A string that is not UTF-8 fails the object, as json_pack does.
 */
struct json_text {
    char *buf;
    size_t len, cap;
    bool failed; /* out of memory, or a string that is not UTF-8 */
};

void json_text_object_start(struct json_text *t);
void json_text_member_string(struct json_text *t, const char *key, const char *value);
void json_text_member_integer(struct json_text *t, const char *key, long long value);
/* A NULL value is left out, as json_object_set leaves it out. */
void json_text_member_value(struct json_text *t, const char *key, const json_t *value);
/* A member that is an array of strings: its items follow, then json_text_array_end. */
void json_text_member_array_start(struct json_text *t, const char *key);
void json_text_item_string(struct json_text *t, const char *value, size_t len);
void json_text_array_end(struct json_text *t);
/* The object's NUL-terminated text (free() it), its length in *len when len is not NULL; NULL
 * when it failed. */
char *json_text_object_end(struct json_text *t, size_t *len);

#endif
