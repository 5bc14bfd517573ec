/*
 * json_arena.c — the jansson values of one parse, allocated together (see json_arena.h).
 *
 * An arena is a list of chunks, each aligned on its size, so that a block's chunk is its
 * address with the low bits cleared. jansson frees arena blocks and heap blocks through the
 * same function: the set of the chunks' addresses (ptr_set) tells them apart, and a heap
 * block is handed to free() as it came from malloc() (a text of json_dumps can still be given
 * to free()). Chunks come from the heap too; a few are kept spare, the others go back.
 *
 * Each arena block follows an 8-byte header with its size: a block freed twice aborts, and
 * under AddressSanitizer a freed block, and the room of a chunk not cut yet, are poisoned, so
 * that reading a freed value is reported as it is for the heap's.
 */
#include "ctg/json_arena.h"
#include "ctg/ptr_set.h"

#include <jansson.h>
#include <sanitizer/asan_interface.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#define CHUNK_SIZE ((size_t)64 * 1024) /* a parsed convention takes about 40 KiB */
#define BLOCK_MAX (CHUNK_SIZE / 8)     /* a larger one is the heap's: no chunk half empty */
#define SPARE_MAX 64                   /* chunks kept for the next arenas: 4 MiB */
#define FREED UINT32_MAX

/* Before each arena block; 8 bytes keep blocks as aligned as jansson's values need. */
struct header {
    uint32_t size; /* as asked for; FREED once freed */
    uint32_t pad;
};

struct chunk {
    struct json_arena *arena;
    struct chunk *next; /* the arena's chunk before this one, or the next spare chunk */
    size_t used;        /* bytes from the chunk's start, this header included */
};

struct json_arena {
    struct chunk *chunks;     /* the newest first; the arena lives in the oldest */
    size_t live;              /* blocks cut and not freed yet */
    struct json_arena *outer; /* the arena open when this one was opened */
    bool open;
};

static struct ptr_set chunks = PTR_SET_INIT; /* the chunks that exist, in use or spare */
static struct chunk *spare;                 /* a stack of chunks no arena uses */
static size_t spare_count;
static struct json_arena *current; /* the open arena; jansson runs on one thread */

static size_t round8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

static struct chunk *chunk_new(void)
{
    struct chunk *c;
    if (spare) {
        c = spare;
        spare = c->next;
        spare_count--;
    } else {
        if (!(c = aligned_alloc(CHUNK_SIZE, CHUNK_SIZE)))
            return NULL;
        if (!ptr_set_add(&chunks, c)) {
            free(c);
            return NULL;
        }
    }
    ASAN_POISON_MEMORY_REGION(c + 1, CHUNK_SIZE - sizeof *c);
    *c = (struct chunk){.used = sizeof *c};
    return c;
}

static void chunk_drop(struct chunk *c)
{
    if (spare_count < SPARE_MAX) {
        c->next = spare;
        spare = c;
        spare_count++;
        return;
    }
    ptr_set_remove(&chunks, c);
    ASAN_UNPOISON_MEMORY_REGION(c, CHUNK_SIZE); /* the heap's own poisoning takes over */
    free(c);
}

static void *cut(struct chunk *c, size_t need)
{
    unsigned char *at = (unsigned char *)c + c->used;
    c->used += need;
    ASAN_UNPOISON_MEMORY_REGION(at, need);
    return at;
}

/* A block of `need` bytes in the arena (a new chunk if the newest is full), or NULL. */
static struct header *arena_cut(struct json_arena *a, size_t need)
{
    struct chunk *c = a->chunks;
    if (CHUNK_SIZE - c->used < need) {
        if (!(c = chunk_new()))
            return NULL;
        c->arena = a;
        c->next = a->chunks;
        a->chunks = c;
    }
    return cut(c, need);
}

static void release(struct json_arena *a)
{
    for (struct chunk *c = a->chunks, *next; c; c = next) {
        next = c->next;
        chunk_drop(c);
    }
}

static void *arena_malloc(size_t size)
{
    struct json_arena *a = current;
    struct header *h;
    if (!a || size > BLOCK_MAX || !(h = arena_cut(a, sizeof *h + round8(size))))
        return malloc(size);
    a->live++;
    h->size = (uint32_t)size;
    return h + 1;
}

static void arena_free(void *block)
{
    struct chunk *c = (struct chunk *)((uintptr_t)block & ~(uintptr_t)(CHUNK_SIZE - 1));
    if (!block || !ptr_set_has(&chunks, c)) {
        free(block);
        return;
    }
    struct header *h = (struct header *)block - 1;
    if (h->size == FREED)
        abort(); /* freed twice: the heap's free would abort too */
    ASAN_POISON_MEMORY_REGION(block, round8(h->size));
    h->size = FREED;
    struct json_arena *a = c->arena;
    if (--a->live == 0 && !a->open)
        release(a);
}

/* Before main(), so before any jansson value: whatever jansson frees, it got from here. */
__attribute__((constructor)) static void install_allocator(void)
{
    json_set_alloc_funcs(arena_malloc, arena_free);
}

struct json_arena *json_arena_open(void)
{
    struct chunk *c = chunk_new();
    if (!c)
        return NULL;
    struct json_arena *a = cut(c, round8(sizeof *a));
    *a = (struct json_arena){.chunks = c, .outer = current, .open = true};
    c->arena = a;
    current = a;
    return a;
}

size_t json_arena_chunks_in_use(void)
{
    return chunks.count - spare_count;
}

void json_arena_close(struct json_arena *a)
{
    if (!a)
        return;
    current = a->outer;
    a->open = false;
    if (a->live == 0)
        release(a);
}
