/* merge_patch.c — JSON Merge Patch, as the algorithm of RFC 7396 §2 states it. */
#include "ctg/merge_patch.h"

json_t *merge_patch_apply(json_t *target, const json_t *patch)
{
    if (!json_is_object(patch)) {
        json_decref(target);
        return json_deep_copy(patch);
    }
    if (!json_is_object(target)) {
        json_decref(target);
        target = json_object();
    }
    const char *name;
    json_t *value;
    json_object_foreach((json_t *)patch, name, value) {
        if (json_is_null(value)) {
            json_object_del(target, name);
            continue;
        }
        json_t *current = json_object_get(target, name);
        json_object_set_new(target, name, merge_patch_apply(json_incref(current), value));
    }
    return target;
}
