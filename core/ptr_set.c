/*
 * ptr_set.c — a set of addresses (see ptr_set.h). At most half the slots are taken, so a
 * probe stops soon at an empty one.
 */
#include "ctg/ptr_set.h"

#include <stdlib.h>

#define BITS_MIN 8

static bool grow(struct ptr_set *set)
{
    unsigned bits = set->slots ? set->bits + 1 : BITS_MIN;
    struct ptr_set bigger = {calloc((size_t)1 << bits, sizeof *bigger.slots), set->count, bits};
    if (!bigger.slots)
        return false;
    for (size_t i = 0; set->slots && i <= ptr_set_mask(set); i++)
        if (set->slots[i])
            bigger.slots[ptr_set_slot(&bigger, set->slots[i])] = set->slots[i];
    free(set->slots);
    *set = bigger;
    return true;
}

bool ptr_set_add(struct ptr_set *set, const void *p)
{
    if ((!set->slots || set->count + 1 > ((size_t)1 << set->bits) / 2) && !grow(set))
        return false;
    set->slots[ptr_set_slot(set, p)] = p;
    set->count++;
    return true;
}

/*
 * Deletion without tombstones: each address after the hole, up to the next empty slot, moves
 * back into the hole when the hole lies between its home and where it is now.
 */
void ptr_set_remove(struct ptr_set *set, const void *p)
{
    if (!set->slots)
        return;
    size_t mask = ptr_set_mask(set), hole = ptr_set_slot(set, p);
    if (set->slots[hole] != p)
        return;
    set->slots[hole] = NULL;
    set->count--;
    for (size_t i = (hole + 1) & mask; set->slots[i]; i = (i + 1) & mask) {
        size_t home = ptr_set_home(set, set->slots[i]);
        if (((i - home) & mask) >= ((i - hole) & mask)) {
            set->slots[hole] = set->slots[i];
            set->slots[i] = NULL;
            hole = i;
        }
    }
}

void ptr_set_free(struct ptr_set *set)
{
    free(set->slots);
    *set = (struct ptr_set)PTR_SET_INIT;
}
