/*
 * json_parse.h — JSON texts (the bodies clients send, the texts the store keeps) parsed into
 * jansson values.
 *
 * json_loadb reads a text a byte at a time through callbacks, which made it a fifth of the
 * server's time on writes; yajl's lexer, which read them next, was still half of a parse.
 * json_parse_body reads the text with a reader of its own and builds the same jansson values;
 * on whatever it does not take for certain (an error of any kind, a duplicate key, a NUL, an
 * escaped surrogate, a form feed, a number out of range, deep nesting) it hands the text to
 * json_loadb, so that the result and every error are exactly json_loadb's
 * (tests/fuzz/fuzz_json_parse.c checks this).
 */
#ifndef CTG_JSON_PARSE_H
#define CTG_JSON_PARSE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* json_loadb(text, len, JSON_REJECT_DUPLICATES, err), the same value or the same error; `err`
 * may be NULL. */
json_t *json_parse_body(const char *text, size_t len, json_error_t *err);

struct json_verbatim;
/*
 * json_parse_body, noting in `verbatim` (json_verbatim.h; zeroed or cleared before) the members
 * of the top-level object whose text json_write would write as it is. It then points into
 * `text`.
 */
json_t *json_parse_body_verbatim(const char *text, size_t len, json_error_t *err,
                                 struct json_verbatim *verbatim);

/*
 * The value json_loadb would read from the text, when the reader of json_parse_body reads it for
 * certain; NULL when json_loadb has to read it (a text it refuses, or one the reader leaves to it).
 */
json_t *json_read_certain(const char *text, size_t len);

/* Whether the text is only JSON's white space (space, tab, line feed, carriage return). */
bool json_space_only(const char *text, size_t len);

enum json_number_kind { JSON_NUMBER_UNREAD, JSON_NUMBER_INTEGER, JSON_NUMBER_REAL };

/*
 * A JSON number's text read as jansson reads it: an integer unless it has '.', 'e' or 'E';
 * UNREAD out of range (an integer beyond 64 bits, a real overflowing) or
 * longer than any number jansson writes.
 */
enum json_number_kind json_number_read(const char *text, size_t len, long long *integer,
                                       double *real);

/*
 * The lexical pieces both readers of JSON text share (json_parse.c's and the compact reader of
 * lua_json.c):
 */

/* The end of the number at `p` by JSON's grammar, -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?,
 * or NULL when none starts there. */
const char *json_number_end(const char *p, const char *end);

/* The byte a one-letter escape (\n, \", \/…) stands for, given its letter; 0 for another. */
char json_escaped_letter(char c);

/* The code point of the four hex digits of \uXXXX at `s`; -1 for bad digits, for \u0000 and
 * for a surrogate (json_loadb's to read: refused, or paired). */
long json_escaped_code_point(const char *s, const char *end);

/* Writes the UTF-8 of a code point below U+10000 into `out`; its length (1 to 3). */
size_t json_utf8_put(char out[3], long cp);

#endif
