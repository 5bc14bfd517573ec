/*
 * ctl.h — what every ctgctl command receives: the connection to ctgd, the options common to
 * all commands, and the helpers to print results.
 */
#ifndef CTGCTL_CTL_H
#define CTGCTL_CTL_H

#include "client.h"

#include <stdbool.h>

struct ctl {
    struct client *client;
    const char *url;    /* --url, CTG_URL */
    const char *events; /* --events, CTG_EVENTS: the PUB socket of ctgd */
    bool json;          /* --json: machine-readable output */
};

/* True for a non-empty run of ASCII letters and digits: safe in a URL as it is. */
bool ctl_is_word(const char *s);

/* Prints `value` as one compact JSON line on stdout and flushes. */
void ctl_print_json_line(const json_t *value);

int cmd_health(struct ctl *ctl, int argc, char **argv);
int cmd_changes(struct ctl *ctl, int argc, char **argv);
int cmd_watch(struct ctl *ctl, int argc, char **argv);

#endif
