/*
 * cmd_changes.c — `ctgctl health` and `ctgctl changes`: one look at the server and its log.
 */
#include "ctl.h"

#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>

static const char health_usage[] =
    "usage: ctgctl health [--json]\n"
    "Prints the server's health: version, conventions, last seq (--json: the whole answer).\n";

int cmd_health(struct ctl *ctl, int argc, char **argv)
{
    struct args a;
    args_init(&a, ctl, argc, argv, NULL, health_usage);
    if (args_next(&a) > 0)
        return args_fail(&a, NULL);
    if (!args_operands(&a, 0, 0, NULL))
        return a.rc;
    json_t *health = NULL;
    int rc = client_get_json(ctl->client, "/v1/health", &health);
    if (rc != EXIT_OK)
        return rc;
    if (ctl->json)
        ctl_print_json_line(health);
    else
        printf("%s: ctgd %s, %" JSON_INTEGER_FORMAT " conventions, last seq %" JSON_INTEGER_FORMAT
               ", plugin generation %" JSON_INTEGER_FORMAT "\n",
               json_string_value(json_object_get(health, "status")),
               json_string_value(json_object_get(health, "version")),
               json_integer_value(json_object_get(health, "conventions")),
               json_integer_value(json_object_get(health, "last_seq")),
               json_integer_value(json_object_get(health, "plugin_generation")));
    json_decref(health);
    return EXIT_OK;
}

static const char changes_usage[] =
    "usage: ctgctl changes [--since SEQ] [--department CODE] [--limit N]\n"
    "Prints the changes after SEQ (default 0), one JSON event per line, at most N (1..1000,\n"
    "default 1000).\n";

int cmd_changes(struct ctl *ctl, int argc, char **argv)
{
    static const struct option options[] = {
        {"since", required_argument, NULL, 's'}, {"department", required_argument, NULL, 'd'},
        {"limit", required_argument, NULL, 'l'}, {NULL, 0, NULL, 0},
    };
    const char *since = "0", *department = NULL, *limit = "1000";
    long number;
    struct args a;
    args_init(&a, ctl, argc, argv, options, changes_usage);
    for (int opt; (opt = args_next(&a)) > 0;) {
        switch (opt) {
        case 's': since = optarg; break;
        case 'd': department = optarg; break;
        case 'l': limit = optarg; break;
        default: return args_fail(&a, NULL);
        }
    }
    if (!args_operands(&a, 0, 0, NULL))
        return a.rc;
    if (!args_number(since, 0, LONG_MAX, &number) || !args_number(limit, 1, 1000, &number))
        return args_fail(&a, "changes: --since wants a seq, --limit a number from 1 to 1000");
    struct buf path = {0};
    bool built = buf_puts(&path, "/v1/changes") && buf_add_query(&path, "since", since) &&
                 buf_add_query(&path, "limit", limit) &&
                 (!department || buf_add_query(&path, "department", department));
    json_t *page = NULL;
    int rc = built ? client_get_json(ctl->client, path.data, &page) : EXIT_UNREACHABLE;
    buf_free(&path);
    if (rc != EXIT_OK)
        return rc;
    size_t i;
    json_t *change;
    json_array_foreach(json_object_get(page, "changes"), i, change)
        ctl_print_json_line(change);
    json_decref(page);
    return EXIT_OK;
}
