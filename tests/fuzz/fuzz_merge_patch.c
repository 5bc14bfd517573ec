/*
 * fuzz_merge_patch.c — JSON Merge Patch (core/merge_patch.c). The input is two JSON texts one
 * after the other, the target then the patch: `{"a": [1]} {"a": null, "b": {"c": 2}}`.
 *
 * Properties (RFC 7396 §2, restated member by member):
 *   - a patch that is not an object replaces the target;
 *   - otherwise the result is an object: a member the patch sets to null is gone, one it sets to
 *     an object is that object merged into the target's member, one it sets to anything else is
 *     that value, and every other member of the target is kept as it was;
 *   - the patch is not changed, and applying it a second time changes nothing (idempotence).
 */
#include "ctg/merge_patch.h"

#include "fuzz_common.h"

#include <stdbool.h>

/* Checks `result` = merge of `patch` into `target` (NULL: no target) by the RFC's rules. */
static void check_merge(const json_t *target, const json_t *patch, const json_t *result)
{
    if (!json_is_object(patch)) {
        FUZZ_ASSERT(json_equal(result, patch), "a non-object patch does not replace the target");
        return;
    }
    FUZZ_ASSERT(json_is_object(result), "an object patch does not give an object");
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)patch, key, value) {
        const json_t *merged = json_object_get(result, key);
        const json_t *before = json_is_object(target) ? json_object_get(target, key) : NULL;
        if (json_is_null(value))
            FUZZ_ASSERT(!merged, "'%s' is set to null but still there", key);
        else
            check_merge(before, value, merged);
    }
    json_object_foreach((json_t *)result, key, value) {
        if (!json_object_get(patch, key))
            FUZZ_ASSERT(json_equal(value, json_object_get(target, key)),
                        "'%s', untouched by the patch, is not the target's", key);
    }
    if (!json_is_object(target))
        return;
    json_object_foreach((json_t *)target, key, value) {
        if (!json_object_get(patch, key))
            FUZZ_ASSERT(json_object_get(result, key), "'%s' of the target is lost", key);
    }
}

/* The two JSON texts of the input; false when they are not two JSON texts. */
static bool read_input(const uint8_t *data, size_t size, json_t **target, json_t **patch)
{
    json_error_t err;
    *target = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_DISABLE_EOF_CHECK, &err);
    if (!*target)
        return false;
    size_t used = (size_t)err.position;
    *patch = json_loadb((const char *)data + used, size - used, JSON_DECODE_ANY, NULL);
    if (*patch)
        return true;
    json_decref(*target);
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *target, *patch;
    if (!read_input(data, size, &target, &patch))
        return 0;
    json_t *target_before = json_deep_copy(target);
    json_t *patch_before = json_deep_copy(patch);
    json_t *result = merge_patch_apply(target, patch);
    check_merge(target_before, patch, result);
    FUZZ_ASSERT(json_equal(patch, patch_before), "the patch was changed");
    json_t *again = merge_patch_apply(json_deep_copy(result), patch);
    FUZZ_ASSERT(json_equal(again, result), "a second application changed the result");
    json_decref(again);
    json_decref(result);
    json_decref(patch_before);
    json_decref(target_before);
    json_decref(patch);
    return 0;
}
