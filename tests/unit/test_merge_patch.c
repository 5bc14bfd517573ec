/* test_merge_patch.c — every example of RFC 7396 Appendix A, and ownership of the target. */
#include "check.h"
#include "ctg/merge_patch.h"

static void check_example(const char *original, const char *patch, const char *expected)
{
    json_t *target = json_loads(original, JSON_DECODE_ANY, NULL);
    json_t *p = json_loads(patch, JSON_DECODE_ANY, NULL);
    json_t *want = json_loads(expected, JSON_DECODE_ANY, NULL);
    json_t *got = merge_patch_apply(target, p);
    if (!json_equal(got, want)) {
        char *text = json_dumps(got, JSON_ENCODE_ANY | JSON_COMPACT);
        fprintf(stderr, "merge %s with %s gave %s, expected %s\n", original, patch, text, expected);
        free(text);
    }
    CHECK(json_equal(got, want));
    json_decref(got);
    json_decref(p);
    json_decref(want);
}

static void test_rfc7396_appendix_a(void)
{
    check_example("{\"a\":\"b\"}", "{\"a\":\"c\"}", "{\"a\":\"c\"}");
    check_example("{\"a\":\"b\"}", "{\"b\":\"c\"}", "{\"a\":\"b\",\"b\":\"c\"}");
    check_example("{\"a\":\"b\"}", "{\"a\":null}", "{}");
    check_example("{\"a\":\"b\",\"b\":\"c\"}", "{\"a\":null}", "{\"b\":\"c\"}");
    check_example("{\"a\":[\"b\"]}", "{\"a\":\"c\"}", "{\"a\":\"c\"}");
    check_example("{\"a\":\"c\"}", "{\"a\":[\"b\"]}", "{\"a\":[\"b\"]}");
    check_example("{\"a\":{\"b\":\"c\"}}", "{\"a\":{\"b\":\"d\",\"c\":null}}", "{\"a\":{\"b\":\"d\"}}");
    check_example("{\"a\":[{\"b\":\"c\"}]}", "{\"a\":[1]}", "{\"a\":[1]}");
    check_example("[\"a\",\"b\"]", "[\"c\",\"d\"]", "[\"c\",\"d\"]");
    check_example("{\"a\":\"b\"}", "[\"c\"]", "[\"c\"]");
    check_example("{\"a\":\"foo\"}", "null", "null");
    check_example("{\"a\":\"foo\"}", "\"bar\"", "\"bar\"");
    check_example("{\"e\":null}", "{\"a\":1}", "{\"e\":null,\"a\":1}");
    check_example("[1,2]", "{\"a\":\"b\",\"c\":null}", "{\"a\":\"b\"}");
    check_example("{}", "{\"a\":{\"bb\":{\"ccc\":null}}}", "{\"a\":{\"bb\":{}}}");
}

static void test_patch_is_not_modified(void)
{
    json_t *patch = json_pack("{s:{s:i}}", "a", "b", 1);
    json_t *result = merge_patch_apply(json_object(), patch);
    json_object_set_new(json_object_get(result, "a"), "b", json_integer(2));
    CHECK_INT(json_integer_value(json_object_get(json_object_get(patch, "a"), "b")), 1);
    json_decref(result);
    json_decref(patch);
}

static void test_null_target(void)
{
    json_t *patch = json_pack("{s:s}", "a", "b");
    json_t *result = merge_patch_apply(NULL, patch);
    CHECK_STR(json_string_value(json_object_get(result, "a")), "b");
    json_decref(result);
    json_decref(patch);
}

int main(void)
{
    test_rfc7396_appendix_a();
    test_patch_is_not_modified();
    test_null_target();
    return check_summary("test_merge_patch");
}
