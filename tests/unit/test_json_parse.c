/*
 * test_json_parse.c — core/json_parse.c: request bodies read by its reader give exactly what
 * json_loadb(…, JSON_REJECT_DUPLICATES) gives: the same value with its keys in the same order,
 * or the same error, on the texts where the two part ways; and the reader itself reads the
 * texts clients send, escapes and UTF-8 included, instead of leaving them to json_loadb.
 * (tests/fuzz/fuzz_json_parse checks the first property on generated texts.)
 */
#include "ctg/json_parse.h"
#include "ctg/json_verbatim.h"
#include "ctg/json_write.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* json_parse_body(text) against json_loadb(text); `readable`: whether json_loadb reads it. */
static void check_same(const char *label, const char *text, size_t len, bool readable)
{
    json_error_t want_err, got_err;
    json_t *want = json_loadb(text, len, JSON_REJECT_DUPLICATES, &want_err);
    json_t *got = json_parse_body(text, len, &got_err);
    CHECK(!want == !readable);
    if (!want != !got)
        fprintf(stderr, "%s: json_loadb %s, json_parse_body %s\n", label,
                want ? "reads it" : want_err.text, got ? "reads it" : got_err.text);
    CHECK(!want == !got);
    if (!want && !got) {
        CHECK_STR(got_err.text, want_err.text);
        CHECK_INT(got_err.line, want_err.line);
        CHECK_INT(got_err.column, want_err.column);
        CHECK_INT(got_err.position, want_err.position);
    } else if (want && got) {
        char *a = json_dumps(want, JSON_COMPACT), *b = json_dumps(got, JSON_COMPACT);
        CHECK_STR(b, a);
        free(a);
        free(b);
    }
    json_decref(want);
    json_decref(got);
}

static void check_text(const char *text, bool readable)
{
    check_same(text, text, strlen(text), readable);
}

/* A text the reader reads itself (json_loadb reads it too, to the same value). */
static void check_read_certain(const char *label, const char *text, size_t len)
{
    check_same(label, text, len, true);
    json_t *read = json_read_certain(text, len);
    if (!read)
        fprintf(stderr, "%s: left to json_loadb: %.*s\n", label, (int)len, text);
    CHECK(read != NULL);
    json_decref(read);
}

static void test_values(void)
{
    check_text("{}", true);
    check_text(" [ ] \n", true);
    check_text("{\"b\":1,\"a\":[true,false,null,\"x\"],\"c\":{\"z\":{},\"y\":[]}}", true); /* order */
    check_text("{\"n\":[0,-0,1,-1,9223372036854775807,-9223372036854775808,1.5,-0.0,1e5,1E-5,"
               "2.5e+3,1e-400]}", true);
    /* 18 digits, read without strtoll, and 19, read with it */
    check_text("{\"n\":[999999999999999999,-999999999999999999,1000000000000000000,"
               "-1000000000000000000,007]}", false);
    check_text("{\"n\":[999999999999999999,-999999999999999999,1000000000000000000,"
               "-1000000000000000000,123456789012345678]}", true);
    check_text("{\"s\":\"Finistère \\\"q\\\" \\\\ \\/ \\b\\f\\n\\r\\t \\u00e9 \\u20AC\"}", true);
    check_text("{\"emoji\":\"😀\",\"pair\":\"\\ud83d\\ude00\"}", true);
    check_text("{\"\":\"\",\"k\\u00e9\":1}", true);
}

/* What clients send is read by the reader, not by json_loadb again after it. */
static void test_reader_reads_bodies(void)
{
    static const char *const texts[] = {
        "{}",
        " [ ] \n",
        "{\"id\":\"ctg-29-brest\",\"department\":\"29\",\"period\":{\"start\":\"2022-01-01\","
        "\"end\":\"2025-12-31\"},\"champs\":[\"petite_enfance\",\"jeunesse\"],\"n\":[0,-0,1,-7,"
        "1.5,-2.5e-3,1E5,9223372036854775807],\"ok\":true,\"no\":false,\"none\":null}",
        "{\n  \"title\": \"Finist\u00e8re \\\"Brest\\\" \\\\ \\/ \\b\\f\\n\\r\\t\",\n  \"x\": [ 1 , 2 ]\r\n}",
        "{\"t\":\"\\u00e9\\u20AC\\u0041\\u07ff\\u0800\\uffff\"}",
        "{\"cl\xc3\xa9 \xf0\x9f\x98\x80 abcdefgh\":\"\xe2\x82\xac abcdefghijklmnop \xf4\x8f\xbf\xbf\"}",
        /* keys with escapes, whose values have escapes too (the key is kept apart) */
        "{\"k\\u00e9\":\"a\\nb\",\"x\\ty\":{\"z\\\"\":\"\\u20ac\",\"w\":[\"\\\\\"]},\"\\/\":1}",
    };
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++)
        check_read_certain(texts[i], texts[i], strlen(texts[i]));
}

/*
 * Strings of every length up to 24 with a special byte (an escape, a quote escaped, non-ASCII)
 * at every place: the reader's eight-byte scan stops where it is, wherever it falls in a word.
 */
static void test_specials_at_every_place(void)
{
    static const char *const specials[] = {"\\n", "\\\"", "\\\\", "\\u00e9", "\\/", "\xc3\xa9",
                                           "\xe2\x82\xac"};
    char text[128], inner[64];
    for (size_t len = 0; len <= 24; len++)
        for (size_t at = 0; at <= len; at++)
            for (size_t k = 0; k < sizeof specials / sizeof *specials; k++) {
                memset(inner, 'a', len);
                inner[len] = '\0';
                int n = snprintf(text, sizeof text, "{\"%.*s\":\"%.*s%s%s\",\"%.*s%sz\":[%zu]}",
                                 (int)len, inner, (int)at, inner, specials[k], inner + at,
                                 (int)at, inner, specials[k], len);
                check_read_certain("special at every place", text, (size_t)n);
            }
}

static void test_refusals(void)
{
    check_text("", false);
    check_text("   ", false);
    check_text("\"top\"", false);
    check_text("12", false);
    check_text("{\"a\":1,\"a\":2}", false);
    /* a duplicate is found when its object closes: anywhere, of any value, with the same value */
    check_text("{\"x\":[{\"b\":1,\"c\":{\"d\":[],\"d\":[]}}],\"y\":2}", false);
    check_text("{\"a\":{},\"b\":2,\"a\":{}}", false);
    check_text("{\"a\":1,\"b\":1,\"a\":1,\"a\":1}", false);
    check_text("[{\"k\":true},{\"k\":true,\"k\":false}]", false);
    check_text("{\"a\":1,\"A\":2,\"a \":3,\"\":4}", true);
    check_text("{\"o\":{\"a\":1,\"b\":2,\"a\":3}}", false);
    check_text("{\"a\":1}x", false);
    check_text("{\"a\":1}\"x", false);  /* a string begun after the value, never ended */
    check_text("{\"a\":1} {}", false);
    check_text("{\"a\":1,}", false);
    check_text("{\"a\":\"\\u0000\"}", false);
    check_text("{\"\\u0000\":1}", false);
    check_text("{\"a\":\"\\ud800\"}", false);        /* a lone surrogate */
    check_text("{\"a\":\"\\udc00\"}", false);
    check_text("{\"a\":\"\\ud800\\u0041\"}", false); /* an ill-paired one */
    check_text("{\"a\":9223372036854775808}", false);
    check_text("{\"a\":-9223372036854775809}", false);
    check_text("{\"a\":1e400}", false);
    check_text("{\"a\":01}", false);
    check_text("{\"a\":\"\\x\"}", false);
    check_text("{\"a\":\"tab\there\"}", false);
    check_text("\f{\"a\":1}", false);                /* white space to yajl, not to JSON */
    check_text("{\"a\":\v1}", false);
    check_text("{\"a\":\"\xc0\xaf\"}", false);       /* overlong UTF-8 */
    check_text("{\"\xff\":1}", false);
    check_text("{\"a\":\"\xe2\x82\"}", false);
    /* the same past eight ASCII bytes, which the UTF-8 check takes at once */
    check_text("{\"a\":\"abcdefghij\xc0\xaf\"}", false);
    check_text("{\"abcdefghij\xc0\xafk\":1}", false);
    check_text("{\"a\":\"abcdefgh\xed\xa0\x80\"}", false); /* a surrogate, as bytes */
    check_text("{\"a\":\"abcdefgh\xf4\x90\x80\x80\"}", false); /* past U+10FFFF */
    check_text("{\"abcdefgh\x80\":1}", false);
    check_text("{\"a\":\"abcdefghijklmno\xe2\x82\"}", false);
    check_text("{\"cl\xc3\xa9 \xf0\x9f\x98\x80 abcdefgh\":\"\xe2\x82\xac abcdefghijklmnop \xf4\x8f\xbf\xbf\"}",
               true);
    check_same("raw NUL", "{\"a\":1}\0", 8, false);
    check_same("NUL in a string", "{\"a\":\"x\0y\"}", 11, false);
}

/* `levels` containers, one in the other (`open` then `close` each), around `inner`. */
static void check_nested(size_t levels, const char *open, const char *close, const char *inner,
                         bool readable)
{
    size_t o = strlen(open), c = strlen(close), in = strlen(inner);
    size_t len = levels * (o + c) + in;
    char *text = malloc(len);
    for (size_t i = 0; i < levels; i++) {
        memcpy(text + i * o, open, o);
        memcpy(text + levels * o + in + i * c, close, c);
    }
    memcpy(text + levels * o, inner, in);
    check_same("nesting", text, len, readable);
    free(text);
}

/* json_loadb stops past 2048 levels, counting every value, a scalar too: so does the builder,
 * with json_loadb's error. */
static void test_depth(void)
{
    for (size_t levels = 2046; levels <= 2049; levels++) {
        check_nested(levels, "[", "]", "", levels <= 2048);
        check_nested(levels, "[", "]", "1", levels <= 2047);
        check_nested(levels, "{\"a\":", "}", "\"x\"", levels <= 2047);
        check_nested(levels, "{\"a\":", "}", "null", levels <= 2047);
    }
}

/* The keys of the members `text` has noted as verbatim, in order, comma-separated. */
static void check_noted(const char *text, const char *keys)
{
    struct json_verbatim v = {0};
    json_t *value = json_parse_body_verbatim(text, strlen(text), NULL, &v);
    CHECK(value != NULL);
    char noted[256] = "";
    for (size_t i = 0; i < v.count; i++) {
        const struct json_verbatim_member *m = &v.members[i];
        snprintf(noted + strlen(noted), sizeof noted - strlen(noted), "%s%.*s", i ? "," : "",
                 (int)m->key_len, text + m->key);
        /* the member's value is the json_t the object holds, its text that of the value */
        json_t *held = json_object_getn(value, text + m->key, m->key_len);
        CHECK(m->value == held);
        char *written = json_write(held, NULL);
        CHECK(written && strlen(written) == m->len && !memcmp(written, text + m->start, m->len));
        free(written);
    }
    CHECK_STR(noted, keys);
    char *want = json_write(value, NULL), *got = json_write_verbatim(value, &v, NULL);
    CHECK_STR(got, want);
    free(want);
    free(got);
    json_verbatim_clear(&v);
    CHECK_INT(v.count, 0);
    json_decref(value);
}

/* Members whose text json_write writes as it is are noted; the others are written again. */
static void test_verbatim_members(void)
{
    check_noted("{\"id\":\"a-1\",\"n\":12,\"t\":true,\"z\":null,\"o\":{\"k\":[1,\"é\",{}]}}",
                "id,n,t,z,o");
    check_noted("{\"a\": 1,\"b\":[1, 2],\"c\":{\"k\" :1},\"d\":2 ,\"e\":3}", "a,d,e");
    check_noted("{\"a\":\"x\\ny\",\"b\":\"\\u00e9\",\"c\":\"\\/\",\"d\":[\"\\\"\"],\"e\":\"ok\"}", "e");
    check_noted("{\"a\":1.5,\"b\":1e3,\"c\":-0,\"d\":[0.1],\"e\":-1,\"f\":0}", "e,f");
    check_noted("{\"k\\u0065y\":1,\"kez\":2}", "kez"); /* an escaped key is not noted */
    check_noted("[1,2]", "");
    /* a text json_loadb reads in place of the reader notes nothing */
    check_noted("{\"a\":1,\"b\":\"\\ud83d\\ude00\"}", "");
}

/*
 * A noted value holds a reference: a member taken out of the object and freed cannot give its
 * address to a new value, which would then be written with the old one's text.
 */
static void test_verbatim_outlives_a_removed_member(void)
{
    const char *text = "{\"id\":\"x\",\"rev\":3}";
    struct json_verbatim v = {0};
    json_t *body = json_parse_body_verbatim(text, strlen(text), NULL, &v);
    CHECK_INT(v.count, 2);
    json_t *noted_rev = json_object_get(body, "rev");
    json_object_del(body, "rev");
    CHECK_INT(noted_rev->refcount, 1); /* the verbatim's */
    json_object_set_new(body, "rev", json_integer(4));
    char *written = json_write_verbatim(body, &v, NULL);
    CHECK_STR(written, "{\"id\":\"x\",\"rev\":4}");
    free(written);
    /* a copy outlives the text and the first struct */
    struct json_verbatim copy;
    json_verbatim_copy(&copy, &v);
    json_verbatim_clear(&v);
    CHECK(copy.text != text && copy.count == 2);
    json_object_set_new(body, "id", json_string("y"));
    written = json_write_verbatim(body, &copy, NULL);
    CHECK_STR(written, "{\"id\":\"y\",\"rev\":4}");
    free(written);
    json_verbatim_clear(&copy);
    json_decref(body);
}

int main(void)
{
    test_values();
    test_reader_reads_bodies();
    test_specials_at_every_place();
    test_refusals();
    test_depth();
    test_verbatim_members();
    test_verbatim_outlives_a_removed_member();
    return check_summary("test_json_parse");
}
