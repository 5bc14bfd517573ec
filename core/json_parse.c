/*
 * json_parse.c — JSON bodies into jansson values, by a reader of our own (see json_parse.h).
 *
 * The reader takes only what json_loadb takes, and builds what json_loadb builds: strings and
 * keys must be well-formed UTF-8 without NUL, numbers are told apart and read as jansson does,
 * objects keep their keys in the order of the text. Anything else (an error of any kind, a
 * duplicate key, \u0000, an escaped surrogate, a number out of range, deep nesting) stops it,
 * and json_loadb reads the text again: it then gives its own value or its own error, whose
 * message the client sees.
 */
#include "ctg/json_parse.h"
#include "ctg/json_arena.h"
#include "ctg/json_bytes.h"
#include "ctg/json_verbatim.h"
#include "ctg/utf8.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define LOADB_FLAGS JSON_REJECT_DUPLICATES
#define DEPTH_MAX 2048 /* json_loadb's own limit (JSON_PARSER_MAX_DEPTH), scalars counted */
#define HIGH_BITS JSON_EVERY_BYTE(0x80)

struct reader {
    const char *p, *end;
    char *scratch; /* the string last read that had escapes, unescaped */
    size_t scratch_cap;
    const char *text;              /* where the text starts */
    struct json_verbatim *verbatim; /* where to note the top-level members; NULL: nowhere */
    bool irregular; /* since the last member's value began: something json_write writes
                       otherwise (white space, an escape, a real, -0) */
};

static json_t *read_value(struct reader *r, unsigned depth);

static inline bool is_space(char c)
{
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

static inline void skip_space(struct reader *r)
{
    if (r->p == r->end || !is_space(*r->p))
        return; /* most often: a compact text */
    r->irregular = true;
    do
        r->p++;
    while (r->p < r->end && is_space(*r->p));
}

/* Steps over white space, then over `c`; false when something else comes. */
static bool take(struct reader *r, char c)
{
    skip_space(r);
    if (r->p == r->end || *r->p != c)
        return false;
    r->p++;
    return true;
}

/*
 * The first special byte (json_bytes.h) from `s` on, or `end`; the bytes passed are OR-ed into
 * *seen (with a few after them, at times: only their high bits are asked for, to know whether
 * a string is all ASCII).
 */
static const char *scan_plain(const char *s, const char *end, uint64_t *seen)
{
    for (uint64_t w, special; end - s >= 8; s += 8) {
        memcpy(&w, s, 8);
        *seen |= w;
        if ((special = json_word_special(w)))
            return s + json_first_special(s, special);
    }
    for (; s < end && !json_byte_special((unsigned char)*s); s++)
        *seen |= (unsigned char)*s;
    return s;
}

/* Room for `n` bytes in the scratch buffer. */
static bool reserve_scratch(struct reader *r, size_t n)
{
    if (n <= r->scratch_cap)
        return true;
    size_t cap = n > 2 * r->scratch_cap ? n : 2 * r->scratch_cap;
    char *grown = realloc(r->scratch, cap);
    if (!grown)
        return false;
    r->scratch = grown;
    r->scratch_cap = cap;
    return true;
}

/*
 * The rest of a string from its first backslash `s` on, unescaped into the scratch buffer after
 * its plain start (from `start`): the length in *len.
 */
static bool read_escaped(struct reader *r, const char *start, const char *s, uint64_t *seen,
                         size_t *len)
{
    size_t used = (size_t)(s - start);
    r->irregular = true;
    if (!reserve_scratch(r, used + 3))
        return false;
    memcpy(r->scratch, start, used);
    while (s < r->end && *s == '\\') {
        char letter = r->end - s >= 2 ? json_escaped_letter(s[1]) : 0;
        if (letter) {
            r->scratch[used++] = letter;
            s += 2;
        } else if (r->end - s >= 2 && s[1] == 'u') {
            long cp = json_escaped_code_point(s + 2, r->end);
            if (cp < 0)
                return false;
            used += json_utf8_put(r->scratch + used, cp);
            *seen |= cp >= 0x80 ? 0x80 : 0;
            s += 6;
        } else {
            return false;
        }
        const char *plain = s;
        s = scan_plain(s, r->end, seen);
        if (!reserve_scratch(r, used + (size_t)(s - plain) + 3))
            return false;
        memcpy(r->scratch + used, plain, (size_t)(s - plain));
        used += (size_t)(s - plain);
    }
    if (s == r->end || *s != '"')
        return false; /* a control character, or no end */
    r->p = s + 1;
    *len = used;
    return true;
}

/*
 * The string after the opening quote: its bytes in the text itself, or in the scratch buffer
 * when it has escapes (until the next string read). False for what json_loadb would refuse.
 */
static bool read_string(struct reader *r, const char **text, size_t *len)
{
    const char *start = r->p;
    uint64_t seen = 0;
    const char *s = scan_plain(start, r->end, &seen);
    if (s == r->end)
        return false;
    if (*s == '"') {
        *text = start;
        *len = (size_t)(s - start);
        r->p = s + 1;
    } else if (*s == '\\' && read_escaped(r, start, s, &seen, len)) {
        *text = r->scratch;
    } else {
        return false;
    }
    return !(seen & HIGH_BITS) || utf8_valid(*text, *len);
}

/* A number, as JSON writes it, read as jansson reads it. */
static json_t *read_number(struct reader *r)
{
    const char *start = r->p, *stop = json_number_end(start, r->end);
    if (!stop)
        return NULL;
    r->p = stop;
    long long integer;
    double real;
    switch (json_number_read(start, (size_t)(r->p - start), &integer, &real)) {
    case JSON_NUMBER_INTEGER:
        r->irregular |= integer == 0 && *start == '-'; /* written "0" */
        return json_integer((json_int_t)integer);
    case JSON_NUMBER_REAL:
        r->irregular = true; /* written with 17 digits */
        return json_real(real);
    default:
        return NULL; /* out of range: json_loadb's error */
    }
}

/* `word` (true, false, null) at the reader: `value`, else NULL. */
static json_t *read_word(struct reader *r, const char *word, size_t len, json_t *value)
{
    if ((size_t)(r->end - r->p) < len || memcmp(r->p, word, len) != 0)
        return NULL;
    r->p += len;
    return value;
}

/* One item of an array. */
static bool read_item(struct reader *r, json_t *array, unsigned depth)
{
    return json_array_append_new(array, read_value(r, depth + 1)) == 0;
}

/* Notes the member of the top-level object just read, if its text can be copied as it is. */
static void note_verbatim(struct reader *r, const char *key, size_t key_len, const json_t *value,
                          const char *start)
{
    if (r->irregular || !value || key < r->text || key >= r->end) /* an escaped key: scratch */
        return;
    json_verbatim_note(r->verbatim, value, (size_t)(key - r->text), key_len,
                       (size_t)(start - r->text), (size_t)(r->p - start));
}

/* The value of a member; a member of the top-level object is noted when asked for. */
static json_t *read_member_value(struct reader *r, const char *key, size_t key_len,
                                 unsigned depth)
{
    if (depth != 1 || !r->verbatim)
        return read_value(r, depth + 1);
    skip_space(r);
    const char *start = r->p;
    r->irregular = false;
    json_t *value = read_value(r, depth + 1);
    note_verbatim(r, key, key_len, value, start);
    return value;
}

/* Reads the value of the member `key` and sets it; false for a duplicate key (json_loadb's). */
static bool set_member(struct reader *r, json_t *object, const char *key, size_t key_len,
                       unsigned depth)
{
    size_t members = json_object_size(object);
    return json_object_setn_new_nocheck(object, key, key_len,
                                        read_member_value(r, key, key_len, depth)) == 0 &&
           json_object_size(object) > members;
}

/* The same for a key that had escapes: a copy, since its value may reuse the scratch buffer. */
static bool read_member_escaped_key(struct reader *r, json_t *object, const char *key,
                                    size_t key_len, unsigned depth)
{
    char *copy = malloc(key_len);
    bool set = copy && set_member(r, object, memcpy(copy, key, key_len), key_len, depth);
    free(copy);
    return set;
}

static bool read_member(struct reader *r, json_t *object, unsigned depth)
{
    const char *key;
    size_t key_len;
    if (!take(r, '"') || !read_string(r, &key, &key_len) || !take(r, ':'))
        return false;
    if (key == r->scratch)
        return read_member_escaped_key(r, object, key, key_len, depth);
    return set_member(r, object, key, key_len, depth);
}

/* The members of an object or the items of an array, after its opening bracket. */
static json_t *read_container(struct reader *r, unsigned depth, bool object)
{
    json_t *container = object ? json_object() : json_array();
    char close = object ? '}' : ']';
    if (!container || take(r, close))
        return container;
    do {
        if (!(object ? read_member(r, container, depth) : read_item(r, container, depth)))
            goto refused;
    } while (take(r, ','));
    if (take(r, close))
        return container;
refused:
    json_decref(container);
    return NULL;
}

/* The value at the reader (after white space), or NULL for anything left to json_loadb. */
static json_t *read_value(struct reader *r, unsigned depth)
{
    skip_space(r);
    if (r->p == r->end || depth > DEPTH_MAX)
        return NULL;
    const char *text;
    size_t len;
    switch (*r->p++) {
    case '{':
        return read_container(r, depth, true);
    case '[':
        return read_container(r, depth, false);
    case '"':
        return read_string(r, &text, &len) ? json_stringn_nocheck(text, len) : NULL;
    case 't':
        return read_word(r, "rue", 3, json_true());
    case 'f':
        return read_word(r, "alse", 4, json_false());
    case 'n':
        return read_word(r, "ull", 3, json_null());
    default:
        r->p--;
        return read_number(r);
    }
}

/* json_read_certain, noting the top-level members in `verbatim` when not NULL. */
static json_t *read_certain(const char *text, size_t len, struct json_verbatim *verbatim)
{
    struct reader r = {.p = text, .end = text + len, .text = text, .verbatim = verbatim};
    skip_space(&r);
    json_t *value = NULL;
    if (r.p < r.end && (*r.p == '{' || *r.p == '[')) /* json_loadb wants one object or array */
        value = read_value(&r, 1);
    skip_space(&r);
    free(r.scratch);
    if (value && r.p == r.end)
        return value;
    json_decref(value);
    if (verbatim)
        json_verbatim_clear(verbatim);
    return NULL;
}

json_t *json_read_certain(const char *text, size_t len)
{
    return read_certain(text, len, NULL);
}

static bool skip_digits(const char **p, const char *end)
{
    const char *first = *p;
    while (*p < end && **p >= '0' && **p <= '9')
        (*p)++;
    return *p > first;
}

const char *json_number_end(const char *p, const char *end)
{
    if (p < end && *p == '-')
        p++;
    if (p < end && *p == '0')
        p++;
    else if (p == end || *p < '1' || *p > '9' || !skip_digits(&p, end))
        return NULL;
    if (p < end && *p == '.' && (p++, !skip_digits(&p, end)))
        return NULL;
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (!skip_digits(&p, end))
            return NULL;
    }
    return p;
}

char json_escaped_letter(char c)
{
    switch (c) {
    case '"': return '"';
    case '\\': return '\\';
    case '/': return '/';
    case 'b': return '\b';
    case 'f': return '\f';
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    default: return 0;
    }
}

static int hex_value(char c)
{
    return c >= '0' && c <= '9' ? c - '0'
         : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10
         : -1;
}

long json_escaped_code_point(const char *s, const char *end)
{
    if (end - s < 4)
        return -1;
    long cp = 0;
    for (int i = 0; i < 4; i++) {
        int digit = hex_value(s[i]);
        if (digit < 0)
            return -1;
        cp = cp << 4 | digit;
    }
    return cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF) ? -1 : cp;
}

size_t json_utf8_put(char out[3], long cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    out[0] = (char)(0xE0 | cp >> 12);
    out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
    out[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
}

/* The integer of at most 18 digits (no overflow possible) that `text` is, into *out. */
static bool small_integer(const char *text, size_t len, long long *out)
{
    bool negative = len > 0 && text[0] == '-';
    size_t i = negative;
    if (len == i || len - i > 18)
        return false;
    long long value = 0;
    for (; i < len; i++) {
        if (text[i] < '0' || text[i] > '9')
            return false;
        value = value * 10 + (text[i] - '0');
    }
    *out = negative ? -value : value;
    return true;
}

/* Most numbers of a convention are small integers: read without a copy or strtoll. */
enum json_number_kind json_number_read(const char *text, size_t len, long long *integer,
                                       double *real)
{
    if (small_integer(text, len, integer))
        return JSON_NUMBER_INTEGER;
    char digits[64];
    if (len >= sizeof digits)
        return JSON_NUMBER_UNREAD; /* no number jansson writes is that long */
    memcpy(digits, text, len);
    digits[len] = '\0';
    char *end;
    errno = 0;
    if (strpbrk(digits, ".eE")) {
        *real = strtod(digits, &end);
        /* an underflow is read as jansson reads it, to a tiny number or 0 */
        bool overflow = errno == ERANGE && (*real == HUGE_VAL || *real == -HUGE_VAL);
        return *end || overflow ? JSON_NUMBER_UNREAD : JSON_NUMBER_REAL;
    }
    *integer = strtoll(digits, &end, 10);
    return *end || errno == ERANGE ? JSON_NUMBER_UNREAD : JSON_NUMBER_INTEGER;
}

bool json_space_only(const char *text, size_t len)
{
    struct reader r = {.p = text, .end = text + len};
    skip_space(&r);
    return r.p == r.end;
}

json_t *json_parse_body_verbatim(const char *text, size_t len, json_error_t *err,
                                 struct json_verbatim *verbatim)
{
    if (verbatim) {
        json_verbatim_clear(verbatim);
        if (len > UINT32_MAX) /* beyond the members' offsets */
            verbatim = NULL;
        else
            *verbatim = (struct json_verbatim){.text = text, .text_len = len};
    }
    struct json_arena *arena = json_arena_open();
    json_t *value = read_certain(text, len, verbatim);
    if (!value)
        value = json_loadb(text, len, LOADB_FLAGS, err);
    json_arena_close(arena);
    return value;
}

json_t *json_parse_body(const char *text, size_t len, json_error_t *err)
{
    return json_parse_body_verbatim(text, len, err, NULL);
}
