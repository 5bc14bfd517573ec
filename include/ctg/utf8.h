/*
 * utf8.h — well-formed UTF-8: sequences told apart, and messages made fit for JSON answers.
 */
#ifndef CTG_UTF8_H
#define CTG_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/*
 * The length of the well-formed UTF-8 sequence at `s`, which has `n` bytes left (1 for an ASCII
 * byte), or 0: a byte that starts none, an overlong form, a surrogate, a code point past
 * U+10FFFF, or a sequence cut by the end.
 */
size_t utf8_sequence(const unsigned char *s, size_t n);

/* True when the `n` bytes at `text` are well-formed UTF-8 (a NUL is, as in JSON's \u0000). */
bool utf8_valid(const char *text, size_t n);

/*
 * Makes `s` valid UTF-8 in place: each byte that starts no well-formed sequence becomes '?'.
 * A plugin's error or a decoded path segment may carry any bytes, and a message cut to its
 * buffer may end in the middle of a character.
 */
void utf8_repair(char *s);

#endif
