/*
 * file_room.h — zeros written ahead of the end of the store's data file.
 *
 * LMDB grows data.mdb by writing past its end, and the sync of such a commit must also
 * journal the file's new size and blocks: here, fdatasync after an append has a p99 of about
 * 1 ms against 0.2 ms after an overwrite (the floor of scripts/bench). So the store keeps
 * between FILE_ROOM_LOW and FILE_ROOM_HIGH bytes of zeros, written and synced, past the last
 * page LMDB uses: its growth lands in blocks that exist, and its syncs are those of overwrites.
 * LMDB reads nothing past its last page (its meta page says which), so the zeros are not data.
 */
#ifndef CTG_FILE_ROOM_H
#define CTG_FILE_ROOM_H

#include <stdint.h>

#define FILE_ROOM_LOW ((uint64_t)4 << 20)
#define FILE_ROOM_HIGH ((uint64_t)16 << 20)

struct file_room {
    char path[4096];      /* the data file */
    uint64_t written_end; /* its size, as last seen or made */
};

/* Starts from the file's size now; -1 (errno) when it cannot be read. */
int file_room_init(struct file_room *room, const char *path);
/*
 * With `used` the bytes LMDB uses and `limit` the most the file may hold (the map size): when
 * less than FILE_ROOM_LOW is left past `used`, writes zeros up to FILE_ROOM_HIGH past it (never
 * past `limit`) and syncs them. Only an optimisation: a failure (a nearly full disk) is logged,
 * not tried again before LMDB has grown as much, and changes nothing else. Returns the bytes
 * added.
 */
uint64_t file_room_keep(struct file_room *room, uint64_t used, uint64_t limit);

#endif
