/*
 * conn_limit.c — the cap on client connections (see conn_limit.h).
 */
#define _GNU_SOURCE /* accept4 */
#include "ctg/conn_limit.h"
#include "ctg/clock.h"
#include "ctg/log.h"

#include <event2/util.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define REFUSED_PER_TURN 64  /* waiting connections answered per loop turn */
#define LOG_EVERY_SECONDS 10 /* a flood of connections writes one line per period */

struct conn_limit {
    int spare_fd; /* given up for a moment to accept, answer and close a connection */
    uint64_t refused;
    double logged_at;
};

static const char too_many_body[] =
    "{\"error\":{\"status\":503,\"code\":\"too_many_connections\",\"message\":\"ctgd has as many "
    "clients as limits.connections allows; try again\"}}\n";

/*
 * libevent calls the error callback with the listener's own user data, which is evhttp's: the
 * one cap of the process is found here.
 */
static struct conn_limit *the_limit;

static size_t open_descriptors(void)
{
    size_t n = 0;
    DIR *dir = opendir("/proc/self/fd");
    if (!dir)
        return 64; /* a fair guess for a started ctgd; /proc is there on Linux */
    for (struct dirent *e; (e = readdir(dir));)
        n += e->d_name[0] != '.';
    closedir(dir);
    return n - 1; /* the directory's own descriptor */
}

static int set_descriptor_limit(size_t wanted, char *err, size_t errlen)
{
    struct rlimit lim;
    if (getrlimit(RLIMIT_NOFILE, &lim) < 0) {
        snprintf(err, errlen, "cannot read the file descriptor limit: %s", strerror(errno));
        return -1;
    }
    if (lim.rlim_max != RLIM_INFINITY && lim.rlim_max < wanted) {
        snprintf(err, errlen, "limits.connections needs %zu file descriptors, and the hard limit "
                              "is %llu: lower limits.connections or raise the limit (systemd: "
                              "LimitNOFILE)", wanted, (unsigned long long)lim.rlim_max);
        return -1;
    }
    lim.rlim_cur = wanted;
    if (setrlimit(RLIMIT_NOFILE, &lim) < 0) {
        snprintf(err, errlen, "cannot set the file descriptor limit: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/* Takes what the client has sent already, so that closing does not reset the connection. */
static void answer_and_close(int fd)
{
    char discard[8192];
    while (recv(fd, discard, sizeof discard, MSG_DONTWAIT) > 0)
        ;
    char answer[512];
    int len = snprintf(answer, sizeof answer,
                       "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                       "Retry-After: 1\r\nConnection: close\r\nContent-Length: %zu\r\n\r\n%s",
                       sizeof too_many_body - 1, too_many_body);
    (void)!send(fd, answer, (size_t)len, MSG_NOSIGNAL | MSG_DONTWAIT);
    close(fd);
}

static void refuse_waiting(struct conn_limit *cl, int listen_fd)
{
    close(cl->spare_fd);
    for (int i = 0; i < REFUSED_PER_TURN; i++) {
        int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            break;
        answer_and_close(fd);
        cl->refused++;
    }
    cl->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (clock_monotonic() - cl->logged_at >= LOG_EVERY_SECONDS) {
        cl->logged_at = clock_monotonic();
        log_warn("http", "no file descriptor left: %llu connections refused since start "
                         "(limits.connections)", (unsigned long long)cl->refused);
    }
}

static void on_accept_error(struct evconnlistener *listener, void *unused)
{
    (void)unused;
    int err = EVUTIL_SOCKET_ERROR();
    if ((err == EMFILE || err == ENFILE) && the_limit && the_limit->spare_fd >= 0)
        refuse_waiting(the_limit, evconnlistener_get_fd(listener));
    else
        log_warn("http", "accept: %s", evutil_socket_error_to_string(err));
}

struct conn_limit *conn_limit_start(struct evconnlistener *listener, size_t connections,
                                    char *err, size_t errlen)
{
    struct conn_limit *cl = calloc(1, sizeof *cl);
    if (cl)
        cl->logged_at = -LOG_EVERY_SECONDS;
    if (!cl || (cl->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
        snprintf(err, errlen, "cannot set up the connection limit");
        free(cl);
        return NULL;
    }
    if (set_descriptor_limit(open_descriptors() + connections + CONN_LIMIT_OWN, err, errlen) < 0) {
        conn_limit_free(cl);
        return NULL;
    }
    the_limit = cl;
    evconnlistener_set_error_cb(listener, on_accept_error);
    return cl;
}

uint64_t conn_limit_refused(const struct conn_limit *cl)
{
    return cl ? cl->refused : 0;
}

void conn_limit_free(struct conn_limit *cl)
{
    if (!cl)
        return;
    if (the_limit == cl)
        the_limit = NULL;
    if (cl->spare_fd >= 0)
        close(cl->spare_fd);
    free(cl);
}
