/* merge_patch.h — JSON Merge Patch (RFC 7396), the body of PATCH requests. */
#ifndef CTG_MERGE_PATCH_H
#define CTG_MERGE_PATCH_H

#include <jansson.h>

/*
 * Applies `patch` to `target` and returns the result. `target` (may be NULL) is consumed: the
 * caller gives up its reference and owns the returned one. `patch` is only read.
 */
json_t *merge_patch_apply(json_t *target, const json_t *patch);

#endif
