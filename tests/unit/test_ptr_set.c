/*
 * test_ptr_set.c — core/ptr_set.c: after any sequence of adds and removes, the set holds
 * exactly what a plain array of flags says it holds. Keys are random (they collide, so probes
 * run long and removals move addresses back) and aligned like json_arena's chunks.
 */
#include "ctg/ptr_set.h"

#include <stdint.h>
#include <stdlib.h>

#include "check.h"

enum { KEYS = 3000 };

static uint64_t lcg_state = 42;

static uint64_t next_random(void)
{
    lcg_state = lcg_state * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
    return lcg_state >> 17;
}

/* How many of the keys the set and the flags disagree on. */
static int disagreements(const struct ptr_set *set, const void *const *keys, const bool *in)
{
    int wrong = 0;
    for (int k = 0; k < KEYS; k++)
        wrong += ptr_set_has(set, keys[k]) != in[k];
    return wrong;
}

static void test_against_flags(uintptr_t align)
{
    static const void *keys[KEYS];
    static bool in[KEYS];
    struct ptr_set set = PTR_SET_INIT;
    size_t count = 0;
    for (int k = 0; k < KEYS; k++) {
        keys[k] = (const void *)(uintptr_t)((next_random() | 1) * align);
        in[k] = false;
    }
    CHECK(!ptr_set_has(&set, keys[0]));
    ptr_set_remove(&set, keys[0]); /* on an empty set: nothing */
    int wrong = 0;
    for (int round = 0; round < 20000; round++) {
        int k = (int)(next_random() % KEYS);
        /* Two adds for one remove at first, then the other way round: it grows, then empties. */
        bool add = next_random() % 3 < (round < 10000 ? 2u : 1u);
        if (add && !in[k]) {
            CHECK(ptr_set_add(&set, keys[k]));
            in[k] = true;
            count++;
        } else if (!add) {
            ptr_set_remove(&set, keys[k]);
            count -= in[k];
            in[k] = false;
        }
        if (round % 1000 == 999) {
            wrong += disagreements(&set, keys, in);
            CHECK_INT(set.count, count);
        }
    }
    CHECK_INT(wrong, 0);
    for (int k = 0; k < KEYS; k++)
        ptr_set_remove(&set, keys[k]);
    CHECK_INT(set.count, 0);
    memset(in, 0, sizeof in);
    CHECK_INT(disagreements(&set, keys, in), 0);
    ptr_set_free(&set);
}

int main(void)
{
    test_against_flags(1);
    test_against_flags(64 * 1024);
    return check_summary("test_ptr_set");
}
