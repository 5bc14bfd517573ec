/*
 * utf8.h — messages made fit for JSON answers, which must be UTF-8.
 */
#ifndef CTG_UTF8_H
#define CTG_UTF8_H

/*
 * Makes `s` valid UTF-8 in place: each byte that starts no well-formed sequence becomes '?'.
 * A plugin's error or a decoded path segment may carry any bytes, and a message cut to its
 * buffer may end in the middle of a character.
 */
void utf8_repair(char *s);

#endif
