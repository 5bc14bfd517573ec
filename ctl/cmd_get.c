/*
 * cmd_get.c — `ctgctl get` and `ctgctl history`: what the server holds of one convention, now
 * and through its revisions.
 */
#include "ctl.h"

#include <stdlib.h>

/* GET /v1/conventions/<id><suffix> into *out. */
static int get_convention_part(struct ctl *ctl, const char *id, const char *suffix, json_t **out)
{
    struct buf path = {0};
    int rc = args_convention_path(&path, id, suffix)
                 ? client_get_json(ctl->client, path.data, out)
                 : EXIT_UNREACHABLE;
    buf_free(&path);
    return rc;
}

/* The one operand, ID, of a command that takes nothing else; NULL with a->rc set otherwise. */
static const char *only_id(struct args *a)
{
    if (args_next(a) > 0) {
        args_fail(a, NULL);
        return NULL;
    }
    char **rest = args_operands(a, 1, 1, NULL);
    return rest ? rest[0] : NULL;
}

static const char get_usage[] =
    "usage: ctgctl get ID [--json]\n"
    "Prints the convention ID: indented JSON, or one compact line with --json. The output can\n"
    "be edited and sent back with 'ctgctl put FILE': it carries the rev it was read at.\n";

int cmd_get(struct ctl *ctl, int argc, char **argv)
{
    struct args a;
    args_init(&a, ctl, argc, argv, NULL, get_usage);
    const char *id = only_id(&a);
    if (!id)
        return a.rc;
    json_t *doc = NULL;
    int rc = get_convention_part(ctl, id, "", &doc);
    if (rc != EXIT_OK)
        return rc;
    ctl_print_document(ctl, doc);
    json_decref(doc);
    return EXIT_OK;
}

static const char history_usage[] =
    "usage: ctgctl history ID [--json]\n"
    "Prints every revision of the convention ID, oldest first: rev, at, actor, type (created,\n"
    "updated, deleted) and the department it had then. --json: one JSON object per line.\n";

int cmd_history(struct ctl *ctl, int argc, char **argv)
{
    static const struct table_column columns[] = {
        {"REV", "rev", false},     {"AT", "at", false},
        {"ACTOR", "actor", true},  {"TYPE", "type", false},
        {"DEPARTMENT", "department", false},
    };
    struct args a;
    args_init(&a, ctl, argc, argv, NULL, history_usage);
    const char *id = only_id(&a);
    if (!id)
        return a.rc;
    json_t *answer = NULL;
    int rc = get_convention_part(ctl, id, "/history", &answer);
    if (rc != EXIT_OK)
        return rc;
    json_t *history = json_object_get(answer, "history"), *entry;
    size_t i;
    if (ctl->json)
        json_array_foreach(history, i, entry)
            ctl_print_json_line(entry);
    else
        ctl_print_table(columns, sizeof columns / sizeof columns[0], history);
    json_decref(answer);
    return EXIT_OK;
}
