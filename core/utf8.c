/* utf8.c — well-formed UTF-8 sequences, and messages made valid UTF-8 (see utf8.h). */
#include "ctg/utf8.h"

#include <stdint.h>
#include <string.h>

size_t utf8_sequence(const unsigned char *s, size_t n)
{
    unsigned char lo = 0x80, hi = 0xBF;
    size_t len;
    if (n == 0)
        return 0;
    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xC2 && s[0] <= 0xDF)
        len = 2;
    else if (s[0] >= 0xE0 && s[0] <= 0xEF)
        len = 3, lo = s[0] == 0xE0 ? 0xA0 : 0x80, hi = s[0] == 0xED ? 0x9F : 0xBF;
    else if (s[0] >= 0xF0 && s[0] <= 0xF4)
        len = 4, lo = s[0] == 0xF0 ? 0x90 : 0x80, hi = s[0] == 0xF4 ? 0x8F : 0xBF;
    else
        return 0;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    return len;
}

bool utf8_valid(const char *text, size_t n)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;
    while (i < n) {
        uint64_t eight;
        if (n - i >= 8 && (memcpy(&eight, s + i, 8), !(eight & 0x8080808080808080u))) {
            i += 8; /* eight ASCII bytes */
            continue;
        }
        size_t len = s[i] < 0x80 ? 1 : utf8_sequence(s + i, n - i);
        if (len == 0)
            return false;
        i += len;
    }
    return true;
}

void utf8_repair(char *s)
{
    unsigned char *end = (unsigned char *)s + strlen(s);
    for (unsigned char *p = (unsigned char *)s; *p;) {
        size_t n = utf8_sequence(p, (size_t)(end - p));
        if (n == 0)
            *p = '?';
        p += n ? n : 1;
    }
}
