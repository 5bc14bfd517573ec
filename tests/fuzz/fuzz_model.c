/*
 * fuzz_model.c — document validation (core/model.c) as the write path runs it: the body read as
 * http_json_body() reads it (duplicate keys refused), model_validate(), and for a valid document
 * model_normalize() into the form the store keeps.
 *
 * Properties:
 *   - the count returned is the number of details; each detail is {"path", "message"}, with a
 *     message made (not the fallback) and a path that is a JSON pointer into the document: to
 *     the offending value, or, for a missing key, to that key of an existing object;
 *   - validating again, details or not, counts the same;
 *   - a valid document normalizes to a valid document that keeps every client field, drops the
 *     server fields, and reads back equal from the text the store writes.
 */
#include "ctg/model.h"

#include "fuzz_common.h"

#include <stdbool.h>

/* The next segment of `*pointer` (RFC 6901, ~1 and ~0 undone) into `out`; false at the end. */
static bool next_segment(const char **pointer, char *out, size_t cap)
{
    if (**pointer != '/')
        return false;
    const char *s = *pointer + 1;
    size_t n = 0;
    for (; *s && *s != '/'; s++) {
        char ch = *s;
        if (ch == '~') {
            FUZZ_ASSERT(s[1] == '0' || s[1] == '1', "a lone ~ in a path segment at '%s'", s);
            ch = *++s == '0' ? '~' : '/';
        }
        FUZZ_ASSERT(n + 1 < cap, "a path segment longer than any key: %s", *pointer);
        out[n++] = ch;
    }
    out[n] = '\0';
    *pointer = s;
    return true;
}

/* The member `segment` of `parent`: a key of an object, a decimal index of an array. */
static const json_t *child(const json_t *parent, const char *segment)
{
    if (json_is_object(parent))
        return json_object_get(parent, segment);
    char *end;
    unsigned long index = strtoul(segment, &end, 10);
    FUZZ_ASSERT(json_is_array(parent) && *segment && !*end, "segment '%s' under a %s", segment,
                json_is_array(parent) ? "array" : "scalar");
    return json_array_get(parent, index);
}

/* Checks that `path` leads through `doc` to a value, or to the missing key a "required" names. */
static void check_path(const json_t *doc, const char *path, const char *message)
{
    FUZZ_ASSERT(*path == '\0' || *path == '/', "not a JSON pointer: '%s'", path);
    char *segment = malloc(strlen(path) + 1);
    const json_t *at = doc, *parent = NULL;
    const char *rest = path;
    while (next_segment(&rest, segment, strlen(path) + 1)) {
        FUZZ_ASSERT(at, "'%s' goes through a missing value", path);
        parent = at;
        at = child(parent, segment);
    }
    bool required = strstr(message, "is required") == message;
    FUZZ_ASSERT(required ? !at && json_is_object(parent) : at != NULL,
                "'%s' (%s) does not point at what it reports", path, message);
    free(segment);
}

static void check_details(const json_t *doc, const json_t *details, size_t problems)
{
    FUZZ_ASSERT(json_array_size(details) == problems, "%zu problems, %zu details", problems,
                json_array_size(details));
    size_t i;
    const json_t *item;
    json_array_foreach(details, i, item) {
        const char *path = json_string_value(json_object_get(item, "path"));
        const char *message = json_string_value(json_object_get(item, "message"));
        FUZZ_ASSERT(json_object_size(item) == 2 && path && message, "detail %zu is not "
                    "{path, message}", i);
        FUZZ_ASSERT(*message && strcmp(message, "invalid value") != 0,
                    "detail %zu at '%s' has no real message", i, path);
        check_path(doc, path, message);
    }
}

static bool is_server_field(const char *key)
{
    for (const char *const *f = model_server_fields; *f; f++)
        if (strcmp(key, *f) == 0)
            return true;
    return false;
}

/* The stored form of a valid document: valid, the same client fields, nothing else. */
static void check_normal_form(const json_t *doc)
{
    json_t *normal = model_normalize(doc);
    FUZZ_ASSERT(json_is_object(normal), "a valid document does not normalize");
    FUZZ_ASSERT(model_validate(normal, NULL) == 0, "the normal form is not valid");
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)doc, key, value) {
        json_t *kept = json_object_get(normal, key);
        FUZZ_ASSERT(is_server_field(key) ? !kept : json_equal(kept, value),
                    "key '%s' is not as it should be in the normal form", key);
    }
    FUZZ_ASSERT(json_object_size(normal) <= json_object_size(doc), "the normal form grew");
    char *text = json_dumps(normal, JSON_COMPACT);
    json_t *read_back = text ? json_loads(text, JSON_REJECT_DUPLICATES, NULL) : NULL;
    FUZZ_ASSERT(json_equal(read_back, normal), "the stored text does not read back: %s", text);
    json_decref(read_back);
    free(text);
    json_decref(normal);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *doc = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
                             NULL);
    if (!doc)
        return 0;
    json_t *details = json_array();
    size_t problems = model_validate(doc, details);
    check_details(doc, details, problems);
    FUZZ_ASSERT(model_validate(doc, NULL) == problems, "a second validation counts otherwise");
    if (problems == 0)
        check_normal_form(doc);
    json_decref(details);
    json_decref(doc);
    return 0;
}
