/*
 * json_arena.h — the jansson values of one parse, or of one write, allocated together.
 *
 * A parsed convention is some 600 small blocks (objects, their hash tables and keys, strings,
 * numbers), all made at once and, one write later, all freed at once: malloc and free of those
 * blocks were 15% of a write's instructions. While an arena is open, jansson's allocations are
 * cut one after the other from its chunks, and freeing one only counts it: the chunks go back
 * when the last value made in the arena is freed. Reference counting keeps its meaning, so a
 * value kept past the parse, or moved into another tree, lives exactly as long as before.
 *
 * json_parse_body opens one for each text it reads, and writes.c one for each write (the
 * candidate, its stored form, the outcome). The allocator is jansson's (json_set_alloc_funcs),
 * put in place before main() by json_arena.c, before any jansson value exists. jansson is used
 * by one thread only (the event loop's).
 */
#ifndef CTG_JSON_ARENA_H
#define CTG_JSON_ARENA_H

#include <stddef.h>

struct json_arena;

/*
 * Opens an arena for the values about to be made. NULL when there is no memory for it: jansson
 * then allocates as it did before. An arena opened inside another one is closed before it.
 */
struct json_arena *json_arena_open(void);

/* Closes the arena (NULL does nothing): jansson allocates as before it was opened. Its memory
 * goes back now if no value made in it is left, else when the last one is freed. */
void json_arena_close(struct json_arena *arena);

/* How many chunks of 64 KiB the arenas hold now (the few kept spare for the next ones aside). */
size_t json_arena_chunks_in_use(void);

#endif
