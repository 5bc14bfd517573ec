/*
 * main.c — ctgctl, the operator's command line for ctgd: global options, then one command.
 */
#include "ctl.h"

#include <curl/curl.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct command {
    const char *name;
    int (*run)(struct ctl *ctl, int argc, char **argv);
    const char *summary;
};

static const struct command commands[] = {
    {"get", cmd_get, "print a convention"},
    {"list", cmd_list, "list conventions (filters), as a table or JSON lines"},
    {"put", cmd_put, "replace (or create) a convention from a file, at the file's rev"},
    {"patch", cmd_patch, "merge-patch a convention"},
    {"delete", cmd_delete, "delete a convention"},
    {"history", cmd_history, "the revisions of a convention"},
    {"import", cmd_import, "write a folder of JSON files or a JSON-lines file, in bulk"},
    {"export", cmd_export, "a department's conventions as JSON lines, or a plugin's export/report"},
    {"changes", cmd_changes, "print the change log after a seq, one JSON event per line"},
    {"watch", cmd_watch, "follow every change as it happens (nanomsg), filling gaps over HTTP"},
    {"reload", cmd_reload, "reload the plugins (admin)"},
    {"health", cmd_health, "the server's health: version, last seq, conventions"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: ctgctl [--url URL] [--token TOKEN] [--events ENDPOINT] [--json] COMMAND [ARGS]\n\n"
                 "  --url URL          ctgd's address (CTG_URL; default http://127.0.0.1:8080)\n"
                 "  --token TOKEN      bearer token (CTG_TOKEN)\n"
                 "  --events ENDPOINT  ctgd's event socket (CTG_EVENTS; default tcp://127.0.0.1:5560)\n"
                 "  --json             machine-readable output\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-9s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n'ctgctl COMMAND --help' tells more. Exit codes: 0 ok, 1 refused by the server,\n"
                 "2 usage, 3 server unreachable.\n");
}

static const char *env_or(const char *name, const char *fallback)
{
    const char *value = getenv(name);
    return value && *value ? value : fallback;
}

static const struct command *find_command(const char *name)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(name, commands[i].name) == 0)
            return &commands[i];
    return NULL;
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        {"url", required_argument, NULL, 'u'}, {"token", required_argument, NULL, 't'},
        {"events", required_argument, NULL, 'e'}, {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
    };
    struct ctl ctl = {.url = env_or("CTG_URL", "http://127.0.0.1:8080"),
                      .events = env_or("CTG_EVENTS", "tcp://127.0.0.1:5560")};
    const char *token = env_or("CTG_TOKEN", NULL);
    int opt;
    while ((opt = getopt_long(argc, argv, "+h", options, NULL)) != -1) {
        switch (opt) {
        case 'u': ctl.url = optarg; break;
        case 't': token = optarg; break;
        case 'e': ctl.events = optarg; break;
        case 'j': ctl.json = true; break;
        case 'h': usage(stdout); return EXIT_OK;
        default: usage(stderr); return EXIT_USAGE;
        }
    }
    if (optind == argc) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const struct command *command = find_command(argv[optind]);
    if (!command) {
        fprintf(stderr, "ctgctl: unknown command '%s'\n", argv[optind]);
        usage(stderr);
        return EXIT_USAGE;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    ctl.client = client_new(ctl.url, token);
    int rc = ctl.client ? command->run(&ctl, argc - optind, argv + optind) : EXIT_UNREACHABLE;
    client_free(ctl.client);
    curl_global_cleanup();
    return rc;
}
