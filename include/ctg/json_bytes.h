/*
 * json_bytes.h — the bytes of a JSON string that are not plain text: what a writer escapes and
 * what a reader stops at (a control character, '"' and '\\'), tested eight bytes at a time.
 */
#ifndef CTG_JSON_BYTES_H
#define CTG_JSON_BYTES_H

#include <stdbool.h>
#include <stdint.h>

#define JSON_EVERY_BYTE(b) (0x0101010101010101u * (b))

/* Whether a string's byte is a control character, '"' or '\\'. */
static inline bool json_byte_special(unsigned char c)
{
    return c < 0x20 || c == '"' || c == '\\';
}

/*
 * The special bytes of the eight bytes of `w` (as loaded from memory), each as its high bit. A
 * special byte is never missed; a byte after one (a borrow past it) may be flagged without
 * being special, but the first one flagged in memory order is special (json_first_special).
 */
static inline uint64_t json_word_special(uint64_t w)
{
    uint64_t quote = w ^ JSON_EVERY_BYTE('"'), backslash = w ^ JSON_EVERY_BYTE('\\');
    uint64_t below_space = (w - JSON_EVERY_BYTE(0x20)) & ~w;
    uint64_t is_quote = (quote - JSON_EVERY_BYTE(1)) & ~quote;
    uint64_t is_backslash = (backslash - JSON_EVERY_BYTE(1)) & ~backslash;
    return (below_space | is_quote | is_backslash) & JSON_EVERY_BYTE(0x80);
}

/* Where the first special byte of the eight at `s` is, given their json_word_special (not 0). */
static inline unsigned json_first_special(const char *s, uint64_t special)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    (void)s; /* a borrow runs towards the later bytes: the lowest flag is a true one */
    return (unsigned)__builtin_ctzll(special) / 8;
#else
    (void)special;
    unsigned at = 0;
    while (!json_byte_special((unsigned char)s[at]))
        at++;
    return at;
#endif
}

#endif
