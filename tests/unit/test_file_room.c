/*
 * test_file_room.c — core/file_room.c: zeros are written past the bytes in use, up to
 * FILE_ROOM_HIGH past them and never past the limit, only once less than FILE_ROOM_LOW is left;
 * what the file held stays as it was; growth by someone else (LMDB) is taken into account.
 */
#include "ctg/file_room.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "tmpdir.h"

#define MiB ((uint64_t)1 << 20)

static char dir[3000], path[3100];

static uint64_t file_size(void)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (uint64_t)sb.st_size : 0;
}

/* Appends `n` bytes of `c`, as LMDB appends pages. */
static void append(size_t n, char c)
{
    char *buf = malloc(n);
    memset(buf, c, n);
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0600);
    CHECK(fd >= 0 && write(fd, buf, n) == (ssize_t)n);
    close(fd);
    free(buf);
}

/* True when the file holds `c` over [from, to). */
static bool holds(uint64_t from, uint64_t to, char c)
{
    int fd = open(path, O_RDONLY);
    char buf[4096];
    bool same = fd >= 0;
    while (same && from < to) {
        size_t n = to - from < sizeof buf ? (size_t)(to - from) : sizeof buf;
        same = pread(fd, buf, n, (off_t)from) == (ssize_t)n;
        for (size_t i = 0; same && i < n; i++)
            same = buf[i] == c;
        from += n;
    }
    if (fd >= 0)
        close(fd);
    return same;
}

static void test_room_is_made_kept_and_bounded(void)
{
    struct file_room room;
    append(8192, 'x');
    CHECK_INT(file_room_init(&room, path), 0);
    CHECK_INT(room.written_end, 8192);

    /* nothing ahead: zeros up to FILE_ROOM_HIGH past what is used */
    CHECK_INT(file_room_keep(&room, 8192, 1024 * MiB), FILE_ROOM_HIGH);
    CHECK_INT(file_size(), 8192 + FILE_ROOM_HIGH);
    CHECK(holds(0, 8192, 'x'));
    CHECK(holds(8192, 8192 + FILE_ROOM_HIGH, '\0'));

    /* enough left: nothing written */
    CHECK_INT(file_room_keep(&room, 8192 + FILE_ROOM_HIGH - FILE_ROOM_LOW, 1024 * MiB), 0);
    CHECK_INT(file_size(), 8192 + FILE_ROOM_HIGH);

    /* less than FILE_ROOM_LOW left: topped up to FILE_ROOM_HIGH past the use */
    uint64_t used = 8192 + FILE_ROOM_HIGH - FILE_ROOM_LOW + 4096;
    uint64_t before = file_size();
    CHECK_INT(file_room_keep(&room, used, 1024 * MiB), used + FILE_ROOM_HIGH - before);
    CHECK_INT(file_size(), used + FILE_ROOM_HIGH);

    /* never past the limit (the map size), and nothing more once there */
    uint64_t limit = file_size() + MiB;
    CHECK_INT(file_room_keep(&room, file_size() - MiB, limit), MiB);
    CHECK_INT(file_size(), limit);
    CHECK_INT(file_room_keep(&room, limit - 4096, limit), 0);
    CHECK_INT(file_size(), limit);
}

static void test_growth_by_others_counts(void)
{
    struct file_room room;
    CHECK_INT(file_room_init(&room, path), 0);
    uint64_t end = file_size();
    append(MiB, 'p'); /* LMDB wrote past the room */
    CHECK_INT(file_room_keep(&room, end + MiB, 1024 * MiB), FILE_ROOM_HIGH);
    CHECK(holds(end, end + MiB, 'p'));
    CHECK(holds(end + MiB, end + MiB + FILE_ROOM_HIGH, '\0'));
}

static void test_missing_file(void)
{
    struct file_room room = {.path = ""};
    char missing[3200];
    snprintf(missing, sizeof missing, "%s/none/data.mdb", dir);
    CHECK_INT(file_room_init(&room, missing), -1);
    CHECK_STR(room.path, "");
}

int main(void)
{
    tmpdir_make(dir, sizeof dir, "test_file_room");
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    test_room_is_made_kept_and_bounded();
    test_growth_by_others_counts();
    test_missing_file();
    tmpdir_remove(dir);
    return check_summary("file_room");
}
