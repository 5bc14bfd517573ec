/*
 * test_syncer.c — core/syncer.c: a sync started on the syncer's thread is waited for and
 * reports fdatasync's result; one thread serves sync after sync, failures included.
 */
#include "ctg/syncer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "check.h"
#include "tmpdir.h"

static int open_file(void)
{
    char dir[3000], path[3100];
    tmpdir_make(dir, sizeof dir, "test_syncer");
    snprintf(path, sizeof path, "%s/file", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    return fd;
}

static void test_syncs_one_file_after_another(struct syncer *s, int fd)
{
    for (int i = 0; i < 3; i++) {
        CHECK(write(fd, "record\n", 7) == 7);
        syncer_start(s, fd);
        CHECK_INT(syncer_wait(s), 0);
    }
}

static void test_reports_the_failure_and_goes_on(struct syncer *s, int fd)
{
    int pipe_fds[2];
    CHECK_INT(pipe(pipe_fds), 0);
    syncer_start(s, pipe_fds[0]); /* a pipe cannot be synced */
    CHECK_INT(syncer_wait(s), EINVAL);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    syncer_start(s, pipe_fds[0]); /* closed now */
    CHECK_INT(syncer_wait(s), EBADF);
    syncer_start(s, fd);
    CHECK_INT(syncer_wait(s), 0);
}

int main(void)
{
    int fd = open_file();
    struct syncer *s = syncer_new();
    CHECK(s != NULL);
    if (s) {
        test_syncs_one_file_after_another(s, fd);
        test_reports_the_failure_and_goes_on(s, fd);
    }
    syncer_free(s);
    syncer_free(NULL);
    close(fd);
    return check_summary("test_syncer");
}
