/*
 * floor.c — the physical floor under the figures of scripts/bench: what one durable write and
 * one loopback round trip cost on this machine, whatever the server.
 *
 *     floor fsync DIR N        N times: 2 KB written, then fdatasync, in a file of DIR, twice:
 *                              appended at the end of a growing file (as a log is), and
 *                              rewritten in place in a file already written and synced; then
 *                              N/2 times rewritten in place one every 5 ms, as the writes of
 *                              the 200/s latency test come (each then changes the file's mtime,
 *                              which an ext4 without a journal writes back at every sync)
 *     floor rtt N              N round trips of 64 bytes over TCP on 127.0.0.1 (TCP_NODELAY),
 *                              the echo side on CPU 0, the pinging side on CPU 1
 *
 * Prints one line per measure: "<name> p50_us=<> p99_us=<> p999_us=<> max_us=<>" (nearest
 * rank). Built by scripts/bench with cc.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The nearest-rank percentile p (0..100] of n sorted samples. */
static double rank(const double *t, int n, double p)
{
    int i = (int)((p * n + 99.999) / 100) - 1;
    return t[i < 0 ? 0 : i >= n ? n - 1 : i];
}

/* Sorts the samples and prints p50, p99, p99.9 and the maximum. */
static void report(const char *name, double *t, int n)
{
    qsort(t, n, sizeof *t, by_value);
    printf("%s p50_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f\n", name, rank(t, n, 50),
           rank(t, n, 99), rank(t, n, 99.9), t[n - 1]);
}

static void pin(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    sched_setaffinity(0, sizeof set, &set); /* one CPU only: then nothing to pin, no error */
}

/*
 * Times n rounds of a 2 KB write and fdatasync: at the end of the file (growing), or over its
 * first 64 blocks; `gap_us` of sleep before each round.
 */
static int time_syncs(int fd, double *t, int n, int growing, int gap_us)
{
    char block[2048];
    memset(block, 'x', sizeof block);
    for (int i = 0; i < n; i++) {
        if (gap_us)
            usleep((useconds_t)gap_us);
        off_t at = (off_t)(growing ? i : i % 64) * (off_t)sizeof block;
        double start = now_us();
        if (pwrite(fd, block, sizeof block, at) != sizeof block || fdatasync(fd) != 0) {
            perror("write and sync");
            return -1;
        }
        t[i] = now_us() - start;
    }
    return 0;
}

static int fsync_floor(const char *dir, int n)
{
    char path[4096];
    double *t = calloc(n, sizeof *t);
    snprintf(path, sizeof path, "%s/floor-fsync.dat", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || !t) {
        perror(path);
        return 1;
    }
    int rc = time_syncs(fd, t, n, 1, 0);
    if (rc == 0)
        report("fdatasync_append_2k", t, n);
    if (rc == 0 && (rc = time_syncs(fd, t, n, 0, 0)) == 0)
        report("fdatasync_overwrite_2k", t, n);
    if (rc == 0 && (rc = time_syncs(fd, t, n / 2, 0, 5000)) == 0)
        report("fdatasync_overwrite_2k_every_5ms", t, n / 2);
    close(fd);
    unlink(path);
    free(t);
    return rc ? 1 : 0;
}

static int full_io(int fd, char *buf, size_t len, int writing)
{
    size_t done = 0;
    while (done < len) {
        ssize_t r = writing ? write(fd, buf + done, len - done) : read(fd, buf + done, len - done);
        if (r <= 0)
            return -1;
        done += (size_t)r;
    }
    return 0;
}

static int rtt_floor(int n)
{
    int listener = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    char buf[64] = {0};
    if (bind(listener, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(listener, 1) != 0 ||
        getsockname(listener, (struct sockaddr *)&addr, &len) != 0) {
        perror("listen");
        return 1;
    }
    pid_t child = fork();
    if (child == 0) {
        pin(0);
        int c = accept(listener, NULL, NULL);
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        while (full_io(c, buf, sizeof buf, 0) == 0 && full_io(c, buf, sizeof buf, 1) == 0) {
        }
        _exit(0);
    }
    pin(1);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(s, (struct sockaddr *)&addr, sizeof addr) != 0) {
        perror("connect");
        return 1;
    }
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    double *t = calloc(n, sizeof *t);
    for (int i = -100; i < n; i++) { /* 100 round trips to warm up */
        double start = now_us();
        if (full_io(s, buf, sizeof buf, 1) != 0 || full_io(s, buf, sizeof buf, 0) != 0) {
            perror("ping");
            return 1;
        }
        if (i >= 0)
            t[i] = now_us() - start;
    }
    close(s);
    waitpid(child, NULL, 0);
    report("loopback_rtt_64b", t, n);
    free(t);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "fsync") == 0 && atoi(argv[3]) >= 2)
        return fsync_floor(argv[2], atoi(argv[3]));
    if (argc == 3 && strcmp(argv[1], "rtt") == 0)
        return rtt_floor(atoi(argv[2]));
    fprintf(stderr, "usage: floor fsync DIR N (N >= 2) | floor rtt N\n");
    return 2;
}
