/*
 * cmd_changes.c — `ctgctl health` and `ctgctl changes`: one look at the server and its log.
 */
#include "ctl.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

int cmd_health(struct ctl *ctl, int argc, char **argv)
{
    if (argc > 1) {
        fprintf(stderr, "usage: ctgctl health\n");
        return EXIT_USAGE;
    }
    (void)argv;
    json_t *health;
    int rc = client_get_json(ctl->client, "/v1/health", &health);
    if (rc != EXIT_OK)
        return rc;
    if (ctl->json)
        ctl_print_json_line(health);
    else
        printf("%s: ctgd %s, %" JSON_INTEGER_FORMAT " conventions, last seq %" JSON_INTEGER_FORMAT "\n",
               json_string_value(json_object_get(health, "status")),
               json_string_value(json_object_get(health, "version")),
               json_integer_value(json_object_get(health, "conventions")),
               json_integer_value(json_object_get(health, "last_seq")));
    json_decref(health);
    return EXIT_OK;
}

static void changes_usage(FILE *out)
{
    fprintf(out, "usage: ctgctl changes [--since SEQ] [--department CODE] [--limit N]\n"
                 "Prints the changes after SEQ (default 0), one JSON event per line.\n");
}

int cmd_changes(struct ctl *ctl, int argc, char **argv)
{
    static const struct option options[] = {
        {"since", required_argument, NULL, 's'}, {"department", required_argument, NULL, 'd'},
        {"limit", required_argument, NULL, 'l'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *since = "0", *department = NULL, *limit = "1000";
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (opt) {
        case 's': since = optarg; break;
        case 'd': department = optarg; break;
        case 'l': limit = optarg; break;
        case 'h': changes_usage(stdout); return EXIT_OK;
        default: changes_usage(stderr); return EXIT_USAGE;
        }
    }
    if (!ctl_is_word(since) || !ctl_is_word(limit) || (department && !ctl_is_word(department))) {
        changes_usage(stderr);
        return EXIT_USAGE;
    }
    char path[256];
    snprintf(path, sizeof path, "/v1/changes?since=%s&limit=%s%s%s", since, limit,
             department ? "&department=" : "", department ? department : "");
    json_t *page;
    int rc = client_get_json(ctl->client, path, &page);
    if (rc != EXIT_OK)
        return rc;
    size_t i;
    json_t *change;
    json_array_foreach(json_object_get(page, "changes"), i, change)
        ctl_print_json_line(change);
    json_decref(page);
    return EXIT_OK;
}
