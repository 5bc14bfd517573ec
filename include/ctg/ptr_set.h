/*
 * ptr_set.h — a set of addresses (open addressing, linear probing), for a lookup on every free:
 * json_arena tells its chunks from the heap's blocks with it.
 */
#ifndef CTG_PTR_SET_H
#define CTG_PTR_SET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ptr_set {
    const void **slots; /* NULL: an empty slot */
    size_t count;
    unsigned bits; /* 1 << bits slots */
};

#define PTR_SET_INIT {NULL, 0, 0}

/* Adds a (not NULL, not there yet); false when out of memory. */
bool ptr_set_add(struct ptr_set *set, const void *p);

/*
 * The home slot of an address: the top bits of its product with 2^64 / φ (Fibonacci hashing),
 * so that addresses that differ only in their high bits, like chunks aligned on their size,
 * still spread. Inline, as the lookup: json_arena asks on every free of a JSON value.
 */
static inline size_t ptr_set_home(const struct ptr_set *set, const void *p)
{
    return (size_t)(((uint64_t)(uintptr_t)p * UINT64_C(0x9E3779B97F4A7C15)) >> (64 - set->bits));
}

static inline size_t ptr_set_mask(const struct ptr_set *set)
{
    return ((size_t)1 << set->bits) - 1;
}

/* The slot of p, or the empty slot where it would go (the set has slots). */
static inline size_t ptr_set_slot(const struct ptr_set *set, const void *p)
{
    size_t mask = ptr_set_mask(set);
    size_t i = ptr_set_home(set, p);
    while (set->slots[i] && set->slots[i] != p)
        i = (i + 1) & mask;
    return i;
}

/* Whether p is in the set. */
static inline bool ptr_set_has(const struct ptr_set *set, const void *p)
{
    return set->slots && set->slots[ptr_set_slot(set, p)] == p;
}

/* Takes p out of the set, if it is there. */
void ptr_set_remove(struct ptr_set *set, const void *p);

void ptr_set_free(struct ptr_set *set);

#endif
