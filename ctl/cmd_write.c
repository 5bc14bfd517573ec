/*
 * cmd_write.c — `ctgctl put`, `patch` and `delete`: the writes of one convention, each under
 * the rev rule of docs/api.md (the rev the writer read, or the write is refused).
 */
#include "ctl.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* Reads a JSON document from `name` ("-": stdin); prints why not and returns NULL. */
static json_t *load_document(const char *name)
{
    json_error_t error;
    json_t *doc = strcmp(name, "-") == 0 ? json_loadf(stdin, JSON_REJECT_DUPLICATES, &error)
                                         : json_load_file(name, JSON_REJECT_DUPLICATES, &error);
    if (!doc)
        fprintf(stderr, "ctgctl: %s:%d:%d: %s\n", strcmp(name, "-") == 0 ? "stdin" : name,
                error.line, error.column, error.text);
    return doc;
}

/* What a write answered: the stored document (--json) or one line for a person. */
static void print_written(const struct ctl *ctl, const json_t *answer, const char *what)
{
    if (ctl->json) {
        ctl_print_json_line(answer);
        return;
    }
    printf("%s %s: rev %" JSON_INTEGER_FORMAT "\n",
           json_string_value(json_object_get(answer, "id")), what,
           json_integer_value(json_object_get(answer, "rev")));
}

/* The request `shape` (method, If-Match, content type) on /v1/conventions/<id>, `body` JSON. */
static int write_convention(struct ctl *ctl, const struct request *shape, const char *id,
                            const json_t *body, json_t **answer, long *status)
{
    struct buf path = {0};
    struct request req = *shape;
    int rc = EXIT_UNREACHABLE;
    long answered = 0;
    if (args_convention_path(&path, id, "")) {
        req.path = path.data;
        rc = client_json(ctl->client, &req, body, answer, &answered);
    }
    buf_free(&path);
    if (answered == 409 || answered == 412)
        fprintf(stderr, "ctgctl: %s changed since that rev was read: 'ctgctl get %s' shows it "
                        "now; make the change again on it\n", id, id);
    if (status)
        *status = answered;
    return rc;
}

/* The rev to send in If-Match: --rev as given, or the current one, read from the server. */
static int rev_to_send(struct ctl *ctl, const char *id, const char *given, char rev[32])
{
    if (given) {
        snprintf(rev, 32, "%s", given);
        return EXIT_OK;
    }
    json_t *doc = NULL;
    int rc = write_convention(ctl, &(struct request){.method = "GET"}, id, NULL, &doc, NULL);
    if (rc == EXIT_OK)
        snprintf(rev, 32, "%" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(doc, "rev")));
    json_decref(doc);
    return rc;
}

static const struct option rev_options[] = {{"rev", required_argument, NULL, 'r'},
                                            {NULL, 0, NULL, 0}};

/*
 * The options of patch and delete: --rev N into *given (left NULL without it). False when the
 * command must stop (a->rc says how).
 */
static bool parse_rev_option(struct args *a, const char **given)
{
    long number;
    for (int opt; (opt = args_next(a)) > 0;) {
        if (opt != 'r' || !args_number(optarg, 1, LONG_MAX, &number)) {
            args_fail(a, opt == 'r' ? "%s: --rev wants a rev (1, 2, ...)" : NULL, a->argv[0]);
            return false;
        }
        *given = optarg;
    }
    return a->rc < 0;
}

/* ---------- put ---------- */

static const char put_usage[] =
    "usage: ctgctl put FILE|- [--json]\n"
    "Replaces the convention FILE (or stdin) holds, at its id. The file's rev is the rev you\n"
    "read: if the convention changed since, the server refuses (rev conflict) and nothing is\n"
    "written. So 'ctgctl get X > f; edit f; ctgctl put f' never overwrites another's change.\n"
    "A file without rev creates the convention when its id is free.\n";

int cmd_put(struct ctl *ctl, int argc, char **argv)
{
    struct args a;
    args_init(&a, ctl, argc, argv, NULL, put_usage);
    if (args_next(&a) > 0)
        return args_fail(&a, NULL);
    char **rest = args_operands(&a, 1, 1, NULL);
    if (!rest)
        return a.rc;
    json_t *doc = load_document(rest[0]), *answer = NULL;
    const char *id = json_string_value(json_object_get(doc, "id"));
    if (!doc || !id) {
        if (doc)
            fprintf(stderr, "ctgctl: %s has no id (import creates conventions without one)\n",
                    rest[0]);
        json_decref(doc);
        return EXIT_USAGE;
    }
    long status = 0;
    int rc = write_convention(ctl, &(struct request){.method = "PUT"}, id, doc, &answer, &status);
    if (rc == EXIT_OK)
        print_written(ctl, answer, status == 201 ? "created" : "replaced");
    json_decref(answer);
    json_decref(doc);
    return rc;
}

/* ---------- patch ---------- */

static const char patch_usage[] =
    "usage: ctgctl patch ID [--rev N] JSON|@FILE|@- [--json]\n"
    "Applies a JSON merge patch (RFC 7396) to the convention ID: members given replace those\n"
    "of the document, members set to null are removed. --rev N names the rev you read (the\n"
    "server refuses the patch if the convention changed since); without it, the current rev\n"
    "is read first. Example: ctgctl patch 29-brest '{\"status\": \"monitoring\"}'\n";

/* The patch operand: JSON text, or @FILE / @- for a file or stdin. */
static json_t *load_patch(const char *operand)
{
    if (operand[0] == '@')
        return load_document(operand + 1);
    json_error_t error;
    json_t *patch = json_loads(operand, JSON_REJECT_DUPLICATES, &error);
    if (!patch)
        fprintf(stderr, "ctgctl: the patch is not JSON: %s (column %d)\n", error.text,
                error.column);
    return patch;
}

int cmd_patch(struct ctl *ctl, int argc, char **argv)
{
    const char *given = NULL;
    struct args a;
    args_init(&a, ctl, argc, argv, rev_options, patch_usage);
    if (!parse_rev_option(&a, &given))
        return a.rc;
    char **rest = args_operands(&a, 2, 2, NULL);
    if (!rest)
        return a.rc;
    json_t *patch = load_patch(rest[1]), *answer = NULL;
    if (!patch)
        return EXIT_USAGE;
    char rev[32];
    int rc = rev_to_send(ctl, rest[0], given, rev);
    if (rc == EXIT_OK)
        rc = write_convention(ctl,
                              &(struct request){.method = "PATCH", .if_match = rev,
                                                .content_type = "application/merge-patch+json"},
                              rest[0], patch, &answer, NULL);
    if (rc == EXIT_OK)
        print_written(ctl, answer, "patched");
    json_decref(answer);
    json_decref(patch);
    return rc;
}

/* ---------- delete ---------- */

static const char delete_usage[] =
    "usage: ctgctl delete ID [--rev N] [--json]\n"
    "Deletes the convention ID (its history stays). --rev N names the rev you read (the server\n"
    "refuses if the convention changed since); without it, the current rev is read first.\n";

int cmd_delete(struct ctl *ctl, int argc, char **argv)
{
    const char *given = NULL;
    struct args a;
    args_init(&a, ctl, argc, argv, rev_options, delete_usage);
    if (!parse_rev_option(&a, &given))
        return a.rc;
    char **rest = args_operands(&a, 1, 1, NULL);
    if (!rest)
        return a.rc;
    char rev[32];
    json_t *answer = NULL;
    int rc = rev_to_send(ctl, rest[0], given, rev);
    if (rc == EXIT_OK)
        rc = write_convention(ctl, &(struct request){.method = "DELETE", .if_match = rev},
                              rest[0], NULL, &answer, NULL);
    if (rc == EXIT_OK)
        print_written(ctl, answer, "deleted");
    json_decref(answer);
    return rc;
}
