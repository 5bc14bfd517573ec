/*
 * cmd_watch.c — `ctgctl watch`: the reference subscriber of ctgd's change events.
 *
 * It subscribes to the PUB socket and prints each event once, in seq order. Events come by
 * nanomsg while all goes well; whenever the seq shows a gap — an event beyond the next one, a
 * heartbeat ahead of what was printed, a silence longer than a few heartbeats — the missing
 * part is read from GET /v1/changes, which holds every committed change. With --state FILE the
 * last seq printed is kept in FILE, so a watch started again resumes where it stopped.
 */
#include "ctl.h"

#include <nanomsg/nn.h>
#include <nanomsg/pubsub.h>

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FILL_PAGE 1000
#define RECEIVE_TIMEOUT_MS 1000
#define SILENCE_LIMIT 10 /* seconds without any message (heartbeats come every 5 s) */
#define DEPARTMENTS_MAX 128 /* more than INSEE has */

struct department_right {
    char code[4];
    bool readable;
};

struct watch {
    struct ctl *ctl;
    const char *department; /* NULL: every department the token may read */
    const char *state_path;
    uint64_t last;          /* the last seq printed, or known to concern nobody here */
    long remaining;         /* --count: events still to print; -1 for no end */
    int sock;
    struct department_right rights[DEPARTMENTS_MAX]; /* what the token may read, as learnt */
    size_t n_rights;
};

static volatile sig_atomic_t stopping;

static void on_stop(int sig)
{
    (void)sig;
    stopping = 1;
}

static const char watch_usage[] =
    "usage: ctgctl watch [--department CODE] [--since SEQ] [--state FILE] [--count N]\n"
    "Prints every change after SEQ (default: from now), one JSON event per line.\n"
    "  --state FILE  resume from the seq kept in FILE, and keep it there\n"
    "  --count N     stop after N events\n";

static int load_state(const char *path, uint64_t *last)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return errno == ENOENT ? 0 : -1;
    int rc = fscanf(f, "%" SCNu64, last) == 1 ? 1 : -1;
    fclose(f);
    return rc;
}

/* Replaces the state file in one rename, so a crash never leaves half a number. */
static void save_state(const struct watch *w)
{
    if (!w->state_path)
        return;
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", w->state_path);
    FILE *f = fopen(tmp, "w");
    if (!f || fprintf(f, "%" PRIu64 "\n", w->last) < 0 || fclose(f) != 0 ||
        rename(tmp, w->state_path) != 0)
        fprintf(stderr, "ctgctl: cannot write %s: %s\n", w->state_path, strerror(errno));
}

/* Prints one event; returns 1 when --count is reached. */
static int print_event(struct watch *w, const json_t *event, uint64_t seq)
{
    ctl_print_json_line(event);
    w->last = seq;
    return w->remaining > 0 && --w->remaining == 0;
}

/* Reads the log from w->last on and prints it; returns 1 when --count is reached, -1 on error. */
static int fill_from_log(struct watch *w)
{
    for (;;) {
        char path[256];
        snprintf(path, sizeof path, "/v1/changes?since=%" PRIu64 "&limit=%d%s%s", w->last,
                 FILL_PAGE, w->department ? "&department=" : "", w->department ? w->department : "");
        json_t *page;
        if (client_get_json(w->ctl->client, path, &page) != EXIT_OK)
            return -1;
        json_t *changes = json_object_get(page, "changes"), *change;
        size_t i, n = json_array_size(changes);
        int done = 0;
        json_array_foreach(changes, i, change) {
            uint64_t seq = (uint64_t)json_integer_value(json_object_get(change, "seq"));
            if (seq > w->last && (done = print_event(w, change, seq)))
                break;
        }
        uint64_t last_seq = (uint64_t)json_integer_value(json_object_get(page, "last_seq"));
        if (!done && last_seq > w->last)
            w->last = last_seq; /* changes of other departments: nothing to print */
        json_decref(page);
        save_state(w);
        if (done || n < FILL_PAGE)
            return done;
    }
}

/*
 * Whether the token may read `department`: 1 yes, 0 no, -1 when ctgd cannot tell now. The PUB
 * socket has no notion of tokens, so a watch over every department asks ctgd once per
 * department it meets (a 403 on /v1/changes means no), and skips what is not for it.
 */
static int may_read(struct watch *w, const char *department)
{
    if (w->department)
        return 1; /* subscribed to that department alone; the first fill checked the right */
    for (size_t i = 0; i < w->n_rights; i++)
        if (strcmp(w->rights[i].code, department) == 0)
            return w->rights[i].readable;
    if (!ctl_is_word(department) || strlen(department) >= sizeof w->rights[0].code)
        return 0;
    char path[128];
    snprintf(path, sizeof path, "/v1/changes?department=%s&limit=1&since=%" PRIu64, department,
             w->last);
    json_t *page = NULL;
    long status = 0;
    enum exit_code rc = client_get(w->ctl->client, path, &page, &status);
    json_decref(page);
    if (rc != EXIT_OK && !(rc == EXIT_REFUSED && status == 403))
        return -1;
    if (w->n_rights < DEPARTMENTS_MAX) {
        struct department_right *right = &w->rights[w->n_rights++];
        snprintf(right->code, sizeof right->code, "%s", department);
        right->readable = rc == EXIT_OK;
    }
    return rc == EXIT_OK;
}

/* Takes the next event in seq: printed when the token may read it, else passed over. */
static int take_next_event(struct watch *w, const json_t *event, uint64_t seq)
{
    int readable = may_read(w, json_string_value(json_object_get(event, "department")));
    if (readable < 0)
        return fill_from_log(w);
    int rc = readable ? print_event(w, event, seq) : 0;
    w->last = seq;
    save_state(w);
    return rc;
}

/* Handles "<topic> <json>"; returns what fill_from_log returns. */
static int on_message(struct watch *w, const char *msg, size_t len)
{
    const char *space = memchr(msg, ' ', len);
    json_t *body = space ? json_loadb(space + 1, len - (size_t)(space + 1 - msg), 0, NULL) : NULL;
    uint64_t seq = (uint64_t)json_integer_value(json_object_get(body, "seq"));
    bool heartbeat = space && (size_t)(space - msg) == 14 && memcmp(msg, "ctg._heartbeat", 14) == 0;
    int rc = 0;
    /* Nothing to do for what is unreadable, already printed, or a heartbeat with nothing new. */
    if (body && seq > w->last && !heartbeat && seq == w->last + 1) {
        rc = take_next_event(w, body, seq);
    } else if (body && seq > w->last) {
        rc = fill_from_log(w);
    }
    json_decref(body);
    return rc;
}

static int subscribe(struct watch *w)
{
    char topic[32];
    int timeout = RECEIVE_TIMEOUT_MS;
    snprintf(topic, sizeof topic, "ctg.%s", w->department ? w->department : "");
    if (w->department)
        strcat(topic, ".");
    w->sock = nn_socket(AF_SP, NN_SUB);
    if (w->sock < 0 || nn_setsockopt(w->sock, NN_SUB, NN_SUB_SUBSCRIBE, topic, strlen(topic)) < 0 ||
        nn_setsockopt(w->sock, NN_SUB, NN_SUB_SUBSCRIBE, "ctg._heartbeat", 14) < 0 ||
        nn_setsockopt(w->sock, NN_SOL_SOCKET, NN_RCVTIMEO, &timeout, sizeof timeout) < 0 ||
        nn_connect(w->sock, w->ctl->events) < 0) {
        fprintf(stderr, "ctgctl: cannot subscribe to %s: %s\n", w->ctl->events, nn_strerror(errno));
        return -1;
    }
    return 0;
}

/* Where to start: the state file, --since, or the server's last seq (from now). */
static int find_start(struct watch *w, const char *since)
{
    int loaded = w->state_path ? load_state(w->state_path, &w->last) : 0;
    if (loaded < 0) {
        fprintf(stderr, "ctgctl: %s does not hold a seq\n", w->state_path);
        return EXIT_USAGE;
    }
    if (loaded || since)
        return loaded || sscanf(since, "%" SCNu64, &w->last) == 1 ? EXIT_OK : EXIT_USAGE;
    json_t *health = NULL;
    int rc = client_get_json(w->ctl->client, "/v1/health", &health);
    w->last = (uint64_t)json_integer_value(json_object_get(health, "last_seq"));
    json_decref(health);
    return rc;
}

static int receive_loop(struct watch *w)
{
    int silent = 0, rc = 0;
    while (!stopping && rc != 1) {
        char *msg = NULL;
        int len = nn_recv(w->sock, &msg, NN_MSG, 0);
        if (len < 0) {
            if (errno != ETIMEDOUT && errno != EAGAIN && errno != EINTR)
                fprintf(stderr, "ctgctl: receiving: %s\n", nn_strerror(errno));
            if (++silent * RECEIVE_TIMEOUT_MS >= SILENCE_LIMIT * 1000) {
                silent = 0;
                rc = fill_from_log(w); /* no heartbeat for long: is ctgd there? */
            }
            continue;
        }
        silent = 0;
        rc = on_message(w, msg, (size_t)len);
        nn_freemsg(msg);
        if (rc < 0)
            fprintf(stderr, "ctgctl: the gap will be filled when ctgd answers again\n");
    }
    return EXIT_OK;
}

int cmd_watch(struct ctl *ctl, int argc, char **argv)
{
    static const struct option options[] = {
        {"department", required_argument, NULL, 'd'}, {"since", required_argument, NULL, 's'},
        {"state", required_argument, NULL, 'f'},      {"count", required_argument, NULL, 'n'},
        {NULL, 0, NULL, 0},
    };
    struct watch w = {.ctl = ctl, .remaining = -1, .sock = -1};
    const char *since = NULL;
    struct args a;
    args_init(&a, ctl, argc, argv, options, watch_usage);
    for (int opt; (opt = args_next(&a)) > 0;) {
        switch (opt) {
        case 'd': w.department = optarg; break;
        case 's': since = optarg; break;
        case 'f': w.state_path = optarg; break;
        case 'n':
            if (!args_number(optarg, 1, LONG_MAX, &w.remaining))
                return args_fail(&a, "watch: --count wants a number above 0");
            break;
        default: return args_fail(&a, NULL);
        }
    }
    if (!args_operands(&a, 0, 0, NULL))
        return a.rc;
    if (w.department && !ctl_is_word(w.department))
        return args_fail(&a, "watch: --department wants a department code");
    /*
     * SA_RESTART: a stop signal must not cut a write to stdout short, or stdio drops the line
     * of an event that the state file then counts as printed. The receive loop's timeout (and
     * nn_recv's EINTR) is what notices `stopping`.
     */
    struct sigaction stop = {.sa_handler = on_stop, .sa_flags = SA_RESTART};
    sigaction(SIGINT, &stop, NULL);
    sigaction(SIGTERM, &stop, NULL);
    int rc = find_start(&w, since);
    if (rc == EXIT_OK)
        rc = subscribe(&w) < 0 ? EXIT_UNREACHABLE : EXIT_OK;
    if (rc == EXIT_OK) {
        int filled = fill_from_log(&w);
        rc = filled < 0 ? EXIT_UNREACHABLE : filled == 1 ? EXIT_OK : receive_loop(&w);
    }
    if (w.sock >= 0)
        nn_close(w.sock);
    return rc;
}
