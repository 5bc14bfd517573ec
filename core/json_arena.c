/*
 * json_arena.c — the jansson values of one parse, allocated together (see json_arena.h).
 *
 * An arena is a list of chunks, each aligned on its size, so that a block's chunk is its
 * address with the low bits cleared. The chunks are cut from one range of address space,
 * reserved at the first arena and given memory a chunk at a time: jansson frees arena blocks
 * and heap blocks through the same function, and a block is the arena's when its address is in
 * that range (a set of the chunks' addresses took a hash lookup at every free). A heap block is
 * handed to free() as it came from malloc() (a text of json_dumps can still be given to free()).
 * A few chunks are kept spare; the memory of the others goes back to the system, their address
 * to the next chunks. Once the range is used up, jansson allocates from the heap.
 *
 * Each arena block follows an 8-byte header with its size: a block freed twice aborts, and
 * under AddressSanitizer a freed block, and the room of a chunk not cut yet, are poisoned, so
 * that reading a freed value is reported as it is for the heap's.
 */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS, MAP_NORESERVE and madvise with -std=c11 */
#include "ctg/json_arena.h"

#include <jansson.h>
#include <sanitizer/asan_interface.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#define CHUNK_SIZE ((size_t)64 * 1024) /* a parsed convention takes about 40 KiB */
#define BLOCK_MAX (CHUNK_SIZE / 8)     /* a larger one is the heap's: no chunk half empty */
#define SPARE_MAX 64                   /* chunks kept for the next arenas: 4 MiB */
#define PAGE_KEPT 4096                 /* a returned chunk keeps its header's page: the link */
#define FREED UINT32_MAX
/* Address space only: memory comes with each chunk. Halved until the system grants it. */
#define RANGE_MAX ((size_t)1 << (sizeof(void *) >= 8 ? 36 : 28)) /* 64 GiB; 256 MiB on 32 bits */
#define RANGE_MIN ((size_t)16 << 20)

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

static unsigned char *range;  /* the chunks' addresses; NULL until reserved, or if refused */
static size_t range_size;
static size_t range_cut;      /* bytes of it made chunks so far */
static bool range_tried;
static struct chunk *spare;    /* a stack of chunks no arena uses, their memory in place */
static size_t spare_count;
static struct chunk *returned; /* a stack of chunks whose memory went back to the system */
static size_t chunks_in_use;
static struct json_arena *current; /* the open arena; jansson runs on one thread */

/* Reserves the address space of the chunks, aligned on a chunk, without memory; false if none. */
static bool reserve_range(void)
{
    range_tried = true;
    for (size_t size = RANGE_MAX; size >= RANGE_MIN; size /= 2) {
        void *p = mmap(NULL, size + CHUNK_SIZE, PROT_NONE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED)
            continue;
        uintptr_t start = ((uintptr_t)p + CHUNK_SIZE - 1) & ~(uintptr_t)(CHUNK_SIZE - 1);
        range = (unsigned char *)start;
        range_size = size;
        return true;
    }
    return false;
}

static bool in_range(const void *p)
{
    return (uintptr_t)p - (uintptr_t)range < range_size; /* range NULL: size 0, never */
}

/* A chunk never used before, given memory; NULL when the range is used up or refused. */
static struct chunk *chunk_cut(void)
{
    if (!range && (range_tried || !reserve_range()))
        return NULL;
    if (range_size - range_cut < CHUNK_SIZE)
        return NULL;
    struct chunk *c = (struct chunk *)(range + range_cut);
    if (mprotect(c, CHUNK_SIZE, PROT_READ | PROT_WRITE) < 0)
        return NULL;
    range_cut += CHUNK_SIZE;
    return c;
}

static struct chunk *chunk_new(void)
{
    struct chunk *c;
    if (spare) {
        c = spare;
        spare = c->next;
        spare_count--;
    } else if (returned) {
        c = returned;
        returned = c->next;
    } else if (!(c = chunk_cut())) {
        return NULL;
    }
    ASAN_POISON_MEMORY_REGION(c + 1, CHUNK_SIZE - sizeof *c);
    *c = (struct chunk){.used = sizeof *c};
    chunks_in_use++;
    return c;
}

static void chunk_drop(struct chunk *c)
{
    chunks_in_use--;
    if (spare_count < SPARE_MAX) {
        c->next = spare;
        spare = c;
        spare_count++;
        return;
    }
    madvise((unsigned char *)c + PAGE_KEPT, CHUNK_SIZE - PAGE_KEPT, MADV_DONTNEED);
    c->next = returned;
    returned = c;
}

static size_t round8(size_t n)
{
    return (n + 7) & ~(size_t)7;
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
    if (!in_range(block)) {
        free(block);
        return;
    }
    struct chunk *c = (struct chunk *)((uintptr_t)block & ~(uintptr_t)(CHUNK_SIZE - 1));
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
    return chunks_in_use;
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
