/*
 * file_room.c — zeros written ahead of the end of the store's data file (see file_room.h).
 */
#include "ctg/file_room.h"
#include "ctg/log.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define ZERO_CHUNK ((size_t)64 << 10)
#define DISK_SPARE ((uint64_t)64 << 20) /* free bytes the room never eats into */

int file_room_init(struct file_room *room, const char *path)
{
    struct stat sb;
    if (stat(path, &sb) < 0)
        return -1;
    snprintf(room->path, sizeof room->path, "%s", path);
    room->written_end = (uint64_t)sb.st_size;
    return 0;
}

static bool disk_has_spare(int fd, uint64_t bytes)
{
    struct statvfs fs;
    return fstatvfs(fd, &fs) == 0 && (uint64_t)fs.f_bavail * fs.f_frsize >= bytes + DISK_SPARE;
}

/* Writes zeros over [from, to) of fd; false on the first failure. */
static bool write_zeros(int fd, uint64_t from, uint64_t to)
{
    static const char zeros[ZERO_CHUNK];
    while (from < to) {
        size_t n = to - from < ZERO_CHUNK ? (size_t)(to - from) : ZERO_CHUNK;
        ssize_t done = pwrite(fd, zeros, n, (off_t)from);
        if (done <= 0)
            return false;
        from += (uint64_t)done;
    }
    return true;
}

uint64_t file_room_keep(struct file_room *room, uint64_t used, uint64_t limit)
{
    if (room->written_end < used)
        room->written_end = used; /* LMDB went past the room: its own writes are the end */
    if (room->written_end - used >= FILE_ROOM_LOW || room->written_end >= limit)
        return 0;
    uint64_t target = used + FILE_ROOM_HIGH < limit ? used + FILE_ROOM_HIGH : limit;
    int fd = open(room->path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    uint64_t from = room->written_end;
    bool spare = disk_has_spare(fd, target - from);
    bool ok = spare && write_zeros(fd, from, target) && fdatasync(fd) == 0;
    int saved = errno;
    close(fd);
    room->written_end = target; /* on failure: not tried again before LMDB has grown as much */
    if (!ok) {
        log_warn("store", "no room written ahead of %s (%s): its growth is slower to sync",
                 room->path, spare ? strerror(saved) : "less than 64 MiB free on its disk");
        return 0;
    }
    return target - from;
}
