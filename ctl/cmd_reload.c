/*
 * cmd_reload.c — `ctgctl reload`: POST /v1/plugins/reload, the plugins read again from their
 * files. All or nothing on the server's side: a broken file keeps the previous plugins, and
 * the error names the file and the line.
 */
#include "ctl.h"

static const char reload_usage[] =
    "usage: ctgctl reload [--json]\n"
    "Reloads every plugin (an admin token is needed) and prints the new generation. If a\n"
    "plugin file is broken, the server keeps the previous plugins and the error names the\n"
    "file and the line (exit 1). --json: the server's answer (generation and plugins).\n";

int cmd_reload(struct ctl *ctl, int argc, char **argv)
{
    struct args a;
    args_init(&a, ctl, argc, argv, NULL, reload_usage);
    if (args_next(&a) > 0)
        return args_fail(&a, NULL);
    if (!args_operands(&a, 0, 0, NULL))
        return a.rc;
    json_t *answer = NULL;
    int rc = client_json(ctl->client,
                         &(struct request){.method = "POST", .path = "/v1/plugins/reload"}, NULL,
                         &answer, NULL);
    if (rc != EXIT_OK)
        return rc;
    if (ctl->json)
        ctl_print_json_line(answer);
    else
        printf("plugins reloaded: generation %" JSON_INTEGER_FORMAT ", %zu plugins\n",
               json_integer_value(json_object_get(answer, "generation")),
               json_array_size(json_object_get(answer, "plugins")));
    json_decref(answer);
    return EXIT_OK;
}
