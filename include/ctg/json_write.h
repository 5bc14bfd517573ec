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
#include <stddef.h>

/* json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY): a new NUL-terminated text (free() it), or
 * NULL (also for a NULL value); its length in *len when len is not NULL. */
char *json_write(const json_t *value, size_t *len);

#endif
