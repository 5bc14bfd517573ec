/*
 * test_json_arena.c — core/json_arena.c: jansson values made in an arena read as any other,
 * live exactly as long as their references say (a value kept past its tree stays whole), and
 * the arena's chunks go back when its last value is freed. Heap values (made outside an arena,
 * or too large for a chunk) and json_dumps's texts are freed as before. Under AddressSanitizer
 * a value read after its arena went back is reported.
 */
#include "ctg/json_arena.h"
#include "ctg/json_parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* A convention-like object of `actions` actions, about 200 bytes of text each. */
static char *document_text(int number, int actions)
{
    size_t cap = 256 + (size_t)actions * 256, len = 0;
    char *text = malloc(cap);
    len += (size_t)snprintf(text + len, cap - len,
                            "{\"id\":\"doc-%d\",\"n\":%d,\"name\":\"Convention n\\u00b0 %d\","
                            "\"ratio\":%d.5,\"actions\":[",
                            number, number, number, number);
    for (int i = 0; i < actions; i++)
        len += (size_t)snprintf(text + len, cap - len,
                                "%s{\"id\":\"a%d\",\"title\":\"Action %d de la convention %d\","
                                "\"budget\":%d,\"done\":%s,\"tags\":[\"petite enfance\",null]}",
                                i ? "," : "", i, i, number, i * 1000, i % 2 ? "true" : "false");
    snprintf(text + len, cap - len, "]}");
    return text;
}

static json_t *parse(const char *text)
{
    return json_parse_body(text, strlen(text), NULL);
}

/* The compact text of a value, compared with the text it was parsed from. */
static void check_text_of(const json_t *value, const char *want)
{
    json_t *again = json_loads(want, 0, NULL);
    char *got_text = json_dumps(value, JSON_COMPACT), *want_text = json_dumps(again, JSON_COMPACT);
    CHECK_STR(got_text, want_text);
    free(got_text); /* json_dumps's text is the heap's, an arena open or not */
    free(want_text);
    json_decref(again);
}

static void test_parse_gives_back_its_chunks(void)
{
    size_t before = json_arena_chunks_in_use();
    char *text = document_text(1, 600); /* about 120 KB: several chunks */
    json_t *doc = parse(text);
    CHECK(doc != NULL);
    CHECK(json_arena_chunks_in_use() > before + 1);
    check_text_of(doc, text);
    json_decref(doc);
    CHECK_INT(json_arena_chunks_in_use(), before);
    free(text);
}

static void test_a_member_outlives_its_tree(void)
{
    size_t before = json_arena_chunks_in_use();
    char *text = document_text(2, 10);
    json_t *doc = parse(text);
    json_t *actions = json_incref(json_object_get(doc, "actions"));
    json_t *whole = json_loads(text, 0, NULL);
    json_decref(doc);
    CHECK(json_arena_chunks_in_use() > before); /* `actions` still holds the arena */
    CHECK(json_equal(actions, json_object_get(whole, "actions")));
    CHECK_STR(json_string_value(json_object_get(json_array_get(actions, 9), "title")),
              "Action 9 de la convention 2");
    json_decref(actions);
    CHECK_INT(json_arena_chunks_in_use(), before);
    json_decref(whole);
    free(text);
}

/* A tree may mix values of an arena with heap values set in it later, and the other way. */
static void test_arena_and_heap_values_mix(void)
{
    size_t before = json_arena_chunks_in_use();
    json_t *heap = json_object();
    CHECK_INT(json_arena_chunks_in_use(), before); /* no arena open: the heap's */
    json_t *doc = parse("{\"a\":[1,2,3],\"b\":\"deux\"}");
    json_object_set_new(doc, "c", json_string("trois"));
    json_object_set(heap, "a", json_object_get(doc, "a"));
    json_decref(doc);
    CHECK(json_arena_chunks_in_use() > before);
    char *text = json_dumps(heap, JSON_COMPACT);
    CHECK_STR(text, "{\"a\":[1,2,3]}");
    free(text);
    json_decref(heap);
    CHECK_INT(json_arena_chunks_in_use(), before);
}

static void test_nested_arenas(void)
{
    size_t before = json_arena_chunks_in_use();
    struct json_arena *outer = json_arena_open();
    json_t *a = json_string("dans l'arène extérieure");
    struct json_arena *inner = json_arena_open();
    json_t *b = json_string("dans l'arène intérieure");
    json_arena_close(inner);
    json_t *c = json_integer(3); /* in the outer one again */
    json_arena_close(outer);
    json_t *d = json_integer(4); /* the heap's */
    CHECK_INT(json_arena_chunks_in_use(), before + 2);
    json_decref(b);
    CHECK_INT(json_arena_chunks_in_use(), before + 1);
    json_decref(a);
    CHECK_INT(json_arena_chunks_in_use(), before + 1); /* c is left */
    CHECK_INT(json_integer_value(c), 3);
    json_decref(c);
    CHECK_INT(json_arena_chunks_in_use(), before);
    CHECK_INT(json_integer_value(d), 4);
    json_decref(d);
    CHECK_INT(json_arena_chunks_in_use(), before);
}

/* A string larger than a chunk's share is the heap's; the tree around it is the arena's. */
static void test_large_string(void)
{
    size_t before = json_arena_chunks_in_use(), n = 100000;
    char *text = malloc(n + 16);
    memcpy(text, "[\"", 2);
    memset(text + 2, 'x', n);
    memcpy(text + 2 + n, "\",1]", 5);
    json_t *doc = parse(text);
    CHECK_INT(json_string_length(json_array_get(doc, 0)), n);
    CHECK_INT(json_arena_chunks_in_use(), before + 1);
    json_decref(doc);
    CHECK_INT(json_arena_chunks_in_use(), before);
    free(text);
}

/* More arenas at once than are kept spare, freed in a scrambled order: each value is found. */
static void many_arenas_once(void)
{
    enum { N = 700 };
    size_t before = json_arena_chunks_in_use();
    static json_t *docs[N];
    for (int i = 0; i < N; i++) {
        char *text = document_text(i, 3);
        docs[i] = parse(text);
        free(text);
    }
    CHECK(json_arena_chunks_in_use() >= before + N);
    int wrong = 0;
    for (unsigned step = 0, i = 0; step < N; step++) {
        i = (i + 277) % N; /* 277 and 700 are coprime: every index once */
        wrong += json_integer_value(json_object_get(docs[i], "n")) != (json_int_t)i;
        json_decref(docs[i]);
    }
    CHECK_INT(wrong, 0);
    CHECK_INT(json_arena_chunks_in_use(), before);
}

/* 700 trees at once, twice: the second time, most chunks are ones whose memory went back to
 * the system after the first (all but the spare ones), used again. */
static void test_many_arenas(void)
{
    for (int round = 0; round < 2; round++)
        many_arenas_once();
}

int main(void)
{
    test_parse_gives_back_its_chunks();
    test_a_member_outlives_its_tree();
    test_arena_and_heap_values_mix();
    test_nested_arenas();
    test_large_string();
    test_many_arenas();
    return check_summary("test_json_arena");
}
