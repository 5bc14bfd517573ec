/*
 * test_json_write.c — core/json_write.c: the text json_write gives is json_dumps's (JSON_COMPACT,
 * JSON_ENCODE_ANY), byte for byte: reals at the edges of their format, every control character,
 * NULs in keys and strings, key order, scalars alone, nesting 300 levels deep.
 * (tests/fuzz/fuzz_json_parse checks the same on every value it reads.) An object written member
 * by member (json_text_*) is the text of the object json_pack would build.
 */
#include "ctg/json_write.h"

#include <float.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* `got` (of length `len`) is `want`, byte for byte; frees both. */
static void check_same_text(char *got, size_t len, char *want)
{
    CHECK(want != NULL && got != NULL);
    if (want && got) {
        CHECK_STR(got, want);
        CHECK_INT(len, strlen(want));
    }
    free(want);
    free(got);
}

static void check_as_dumps(json_t *value)
{
    size_t len = 0;
    char *got = json_write(value, &len);
    check_same_text(got, len, json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY));
    json_decref(value);
}

static void test_reals(void)
{
    const double reals[] = {0.0, -0.0, 1.0, -1.0, 0.1, 1.5, 100.0, 1e15, 1e16, 1e17, 1e21, 1e22,
                            1e100, 1e300, -1e-300, 1e-5, 1e-7, 123456789012345678.0,
                            0.30000000000000004, DBL_MAX, DBL_MIN, 5e-324, 2.5e-308};
    json_t *array = json_array();
    for (size_t i = 0; i < sizeof reals / sizeof *reals; i++) {
        json_array_append_new(array, json_real(reals[i]));
        check_as_dumps(json_pack("{s:f}", "r", reals[i]));
    }
    check_as_dumps(array);
}

static void test_integers_and_atoms(void)
{
    check_as_dumps(json_pack("[I,I,I,I,I,I,I,b,b,n]", (json_int_t)0, (json_int_t)-1,
                             (json_int_t)INT64_MAX, (json_int_t)INT64_MIN, (json_int_t)10,
                             (json_int_t)-1234567890, (json_int_t)9007199254740993, 1, 0));
    check_as_dumps(json_array());
    check_as_dumps(json_object());
    check_as_dumps(json_pack("{s:[],s:{},s:[[]],s:{s:{}}}", "a", "b", "c", "d", "e"));
}

static void test_strings(void)
{
    char all[160];
    size_t n = 0;
    for (int c = 0; c < 0x20; c++)
        all[n++] = (char)c;
    static const char rest[] = "\"\\/\x7f é € 😀 end";
    memcpy(all + n, rest, sizeof rest - 1);
    n += sizeof rest - 1;
    check_as_dumps(json_pack("{s:s%}", "all", all, n));
    json_t *nul = json_object();
    json_object_setn_new(nul, "k\0ey", 4, json_stringn("a\0b", 3));
    check_as_dumps(nul);
    /* keys stay in the order they were set in */
    check_as_dumps(json_pack("{s:i,s:i,s:i,s:i}", "z", 1, "a", 2, "m", 3, "", 4));
}

/*
 * Strings are scanned eight bytes at a time: each byte that needs an escape, and a few that do
 * not (DEL, '/', UTF-8, the bytes next to the space, the quote and the backslash), at every place
 * of a string longer than three words, alone and next to another.
 */
static void test_escapes_at_every_place(void)
{
    static const char *const specials[] = {"\x01", "\x1f", "\"", "\\", "\n", "\x7f", "/",  " ",
                                           "!",    "#",    "[",  "]",  "é",  "\x1f\"", "😀"};
    for (size_t k = 0; k < sizeof specials / sizeof *specials; k++) {
        for (size_t at = 0; at <= 33; at++) {
            char text[64];
            memset(text, 'a', 34);
            size_t len = strlen(specials[k]);
            memcpy(text + at, specials[k], len);
            size_t n = at + len > 34 ? at + len : 34;
            check_as_dumps(json_stringn(text, n));
            json_t *keyed = json_object();
            json_object_setn_new(keyed, text, n, json_true());
            check_as_dumps(keyed);
        }
    }
}

/* Nesting far deeper than the documents have is written as json_dumps writes it. */
static void test_deep(void)
{
    json_t *deep = json_integer(7);
    for (int i = 0; i < 300; i++)
        deep = i % 2 ? json_pack("[o]", deep) : json_pack("{so}", "k", deep);
    check_as_dumps(deep);
}

/* What json_pack then json_dumps give for the same members, with escapes, nesting, a key skipped. */
static void test_object_text(void)
{
    json_t *changed = json_pack("[s,s]", "status", "title");
    json_t *period = json_pack("{s:s,s:s}", "start", "2022-01-01", "end", "2025-12-31");
    struct json_text t;
    json_text_object_start(&t);
    json_text_member_integer(&t, "seq", 9007199254740993LL);
    json_text_member_string(&t, "actor", "Caf \"29\"\tété");
    json_text_member_value(&t, "absent", NULL);
    json_text_member_integer(&t, "rev", -3);
    json_text_member_value(&t, "changed", changed);
    json_text_member_value(&t, "period", period);
    size_t len = 0;
    char *got = json_text_object_end(&t, &len);
    json_t *want_value = json_pack("{s:I,s:s,s:i,s:O,s:O}", "seq", (json_int_t)9007199254740993LL,
                                   "actor", "Caf \"29\"\tété", "rev", -3, "changed", changed,
                                   "period", period);
    check_same_text(got, len, json_dumps(want_value, JSON_COMPACT));
    json_decref(want_value);
    json_decref(changed);
    json_decref(period);

    json_text_object_start(&t); /* no member */
    got = json_text_object_end(&t, NULL);
    CHECK(got != NULL && strcmp(got, "{}") == 0);
    free(got);

    /* an array of strings written item by item: none, one, several with escapes */
    json_t *items = json_pack("{s:[],s:[s],s:[s,s,s]}", "none", "one", "status", "several",
                              "a\"b", "é", "c\n");
    json_text_object_start(&t);
    json_text_member_array_start(&t, "none");
    json_text_array_end(&t);
    json_text_member_array_start(&t, "one");
    json_text_item_string(&t, "status", 6);
    json_text_array_end(&t);
    json_text_member_array_start(&t, "several");
    json_text_item_string(&t, "a\"b", 3);
    json_text_item_string(&t, "é", strlen("é"));
    json_text_item_string(&t, "c\nd", 2); /* the length given, not the NUL, ends it */
    json_text_array_end(&t);
    got = json_text_object_end(&t, &len);
    check_same_text(got, len, json_dumps(items, JSON_COMPACT));
    json_decref(items);
    json_text_object_start(&t); /* an item that is not UTF-8 fails the object */
    json_text_member_array_start(&t, "changed");
    json_text_item_string(&t, "\xC3\x28", 2);
    json_text_array_end(&t);
    CHECK(json_text_object_end(&t, NULL) == NULL);

    json_text_object_start(&t); /* a string that is not UTF-8 fails the object, as with json_pack */
    json_text_member_string(&t, "id", "ok");
    json_text_member_string(&t, "actor", "\xC3\x28");
    json_text_member_integer(&t, "rev", 1);
    CHECK(json_text_object_end(&t, NULL) == NULL);
    CHECK(t.buf == NULL);
}

int main(void)
{
    test_reals();
    test_integers_and_atoms();
    test_strings();
    test_escapes_at_every_place();
    test_deep();
    test_object_text();
    /* a scalar alone, as with JSON_ENCODE_ANY */
    check_as_dumps(json_integer(-42));
    check_as_dumps(json_real(0.5));
    check_as_dumps(json_string("tab\there"));
    check_as_dumps(json_null());
    /* no value (a json_pack that failed): no text, as json_dumps */
    CHECK(json_write(NULL, NULL) == NULL);
    return check_summary("test_json_write");
}
