/*
 * ctg_sub.c — a raw nanomsg SUB subscriber of ctgd's change events, for the event tests.
 *
 *     ctg_sub ENDPOINT [--topic PREFIX]... [--count N] [--timeout SECONDS] [--stall]
 *
 * It connects an NN_SUB socket to ENDPOINT (tcp:// or ipc://), subscribes to every PREFIX
 * (default "ctg.", which includes the heartbeats), prints "ready" once subscribed, then one line
 * per message received:
 *
 *     <CLOCK_MONOTONIC in ns> <message>          (the message is "<topic> <json>")
 *
 * flushing each line, so that a test reading the pipe sees it at once. It exits 0 after N
 * messages (--count; default: no end), after SECONDS without any message (--timeout; default:
 * wait for ever), or on SIGINT/SIGTERM. nanomsg connects asynchronously and reconnects by itself
 * when the publisher goes away and comes back: "ready" does not mean that the subscription has
 * reached ctgd yet — wait for a first message (a heartbeat) for that.
 *
 * With --stall it is the subscriber that never reads: connected and subscribed, it receives
 * nothing until SIGINT or SIGTERM, then prints what its socket holds (without waiting for
 * more) and exits 0. Meanwhile the buffers between ctgd and it fill up.
 *
 * It deliberately knows nothing of ctgd (no JSON parsing, no seq checks): the tests judge what
 * it prints. Exit codes: 0 as above, 1 a nanomsg error, 2 bad usage.
 */
#include <nanomsg/nn.h>
#include <nanomsg/pubsub.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TOPICS_MAX 32

static volatile sig_atomic_t stopping;

static void on_stop(int sig)
{
    (void)sig;
    stopping = 1;
}

/* Sleeps until SIGINT or SIGTERM (blocked but in sigsuspend, so that none is missed). */
static void wait_for_stop(void)
{
    sigset_t stop_signals, others;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    sigprocmask(SIG_BLOCK, &stop_signals, &others);
    while (!stopping)
        sigsuspend(&others);
    sigprocmask(SIG_SETMASK, &others, NULL);
}

static void usage(void)
{
    fprintf(stderr, "usage: ctg_sub ENDPOINT [--topic PREFIX]... [--count N] [--timeout SECONDS] "
                    "[--stall]\n");
}

static long long monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Parses a whole decimal number >= 0 (an integer when `integer`); -1 when it is not one. */
static double parse_number(const char *text, int integer)
{
    char *end;
    errno = 0;
    double v = integer ? (double)strtol(text, &end, 10) : strtod(text, &end);
    if (!*text || *end || errno || !(v >= 0))
        return -1;
    return v;
}

int main(int argc, char **argv)
{
    const char *endpoint = NULL;
    const char *topics[TOPICS_MAX];
    int n_topics = 0;
    long count = 0;          /* 0: no end */
    double timeout = -1;     /* seconds; < 0: wait for ever */
    int stall = 0;

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        int has_value = i + 1 < argc;
        if (strcmp(arg, "--topic") == 0 && has_value && n_topics < TOPICS_MAX) {
            topics[n_topics++] = argv[++i];
        } else if (strcmp(arg, "--count") == 0 && has_value) {
            double v = parse_number(argv[++i], 1);
            if (v < 1 || v > 1e15) { /* a count, not a size: any sane one fits a long */
                usage();
                return 2;
            }
            count = (long)v;
        } else if (strcmp(arg, "--timeout") == 0 && has_value) {
            timeout = parse_number(argv[++i], 0);
            if (timeout <= 0 || timeout > INT_MAX / 1000) {
                usage();
                return 2;
            }
        } else if (strcmp(arg, "--stall") == 0) {
            stall = 1;
        } else if (arg[0] != '-' && !endpoint) {
            endpoint = arg;
        } else {
            usage();
            return 2;
        }
    }
    if (!endpoint) {
        usage();
        return 2;
    }
    if (n_topics == 0)
        topics[n_topics++] = "ctg.";

    /* No SA_RESTART: a signal interrupts nn_recv (EINTR), and the loop ends cleanly. */
    struct sigaction stop = {.sa_handler = on_stop};
    sigemptyset(&stop.sa_mask);
    sigaction(SIGINT, &stop, NULL);
    sigaction(SIGTERM, &stop, NULL);

    int sock = nn_socket(AF_SP, NN_SUB);
    if (sock < 0) {
        fprintf(stderr, "ctg_sub: nn_socket: %s\n", nn_strerror(errno));
        return 1;
    }
    for (int i = 0; i < n_topics; i++) {
        if (nn_setsockopt(sock, NN_SUB, NN_SUB_SUBSCRIBE, topics[i], strlen(topics[i])) < 0) {
            fprintf(stderr, "ctg_sub: subscribe to '%s': %s\n", topics[i], nn_strerror(errno));
            nn_close(sock);
            return 1;
        }
    }
    if (timeout > 0) {
        int ms = (int)(timeout * 1000);
        if (ms < 1)
            ms = 1;
        if (nn_setsockopt(sock, NN_SOL_SOCKET, NN_RCVTIMEO, &ms, sizeof ms) < 0) {
            fprintf(stderr, "ctg_sub: receive timeout: %s\n", nn_strerror(errno));
            nn_close(sock);
            return 1;
        }
    }
    if (nn_connect(sock, endpoint) < 0) {
        fprintf(stderr, "ctg_sub: connect to %s: %s\n", endpoint, nn_strerror(errno));
        nn_close(sock);
        return 1;
    }
    printf("ready\n");
    fflush(stdout);
    if (stall)
        wait_for_stop();

    int rc = 0;
    long received = 0;
    while ((stall || !stopping) && (count == 0 || received < count)) {
        char *msg = NULL;
        int len = nn_recv(sock, &msg, NN_MSG, stall ? NN_DONTWAIT : 0);
        if (len < 0) {
            if (errno == EINTR)
                continue;          /* `stopping` says whether to go on */
            if (errno == ETIMEDOUT || errno == EAGAIN)
                break;             /* silence for --timeout seconds, or stalled and drained */
            fprintf(stderr, "ctg_sub: receive: %s\n", nn_strerror(errno));
            rc = 1;
            break;
        }
        printf("%lld ", monotonic_ns());
        fwrite(msg, 1, (size_t)len, stdout);
        putchar('\n');
        fflush(stdout);
        nn_freemsg(msg);
        received++;
    }
    nn_close(sock);
    return rc;
}
