/*
 * fuzz_common.h — what the libFuzzer harnesses of tests/fuzz share: the entry point's
 * prototype, an assertion that libFuzzer reports as a crash (and saves the input of), and the
 * input as JSON or as text.
 *
 * A harness asserts the properties its module promises, not only that nothing crashes: a
 * broken property aborts, and libFuzzer keeps the input that broke it.
 */
#ifndef CTG_FUZZ_COMMON_H
#define CTG_FUZZ_COMMON_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* libFuzzer's entry points: one call per input, and (optional) one call at start. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Aborts with the failed property and a message; libFuzzer saves the input as a crash. */
#define FUZZ_ASSERT(cond, ...)                                                            \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            fprintf(stderr, "%s:%d: property broken: %s\n  ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                                 \
            fputc('\n', stderr);                                                          \
            abort();                                                                      \
        }                                                                                 \
    } while (0)

/* The input as a C string (a copy with a NUL after it); the caller frees it. */
static inline char *fuzz_text(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        abort();
    memcpy(text, data, size);
    text[size] = '\0';
    return text;
}

/* `value` as compact JSON with sorted keys, for comparing texts and for messages; "(null)"
 * for NULL. The caller frees it. */
static inline char *fuzz_dump(const json_t *value)
{
    char *text = value ? json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS)
                       : NULL;
    return text ? text : strdup("(null)");
}

/* Whether two values have the same sorted compact text: stricter than json_equal, which
 * takes -0.0 for 0.0. */
static inline bool fuzz_same_text(const json_t *a, const json_t *b)
{
    char *ta = fuzz_dump(a), *tb = fuzz_dump(b);
    bool same = strcmp(ta, tb) == 0;
    free(ta);
    free(tb);
    return same;
}

#endif
