/*
 * cmd_export.c — `ctgctl export`: what leaves ctgd as files.
 *
 *   export --department D                every convention of D, one JSON document per line
 *   export ID KEY                        a plugin's export of one convention, as rendered
 *   export --department D --report KEY   a plugin's report over a department, as rendered
 *
 * The output goes to stdout, or with --output FILE to FILE.part renamed to FILE once complete,
 * so that FILE is never half-written.
 */
#include "ctl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define LIST_PAGE "1000"

static const char export_usage[] =
    "usage: ctgctl export --department CODE [--output FILE]\n"
    "       ctgctl export ID KEY [--output FILE]\n"
    "       ctgctl export --department CODE --report KEY [--output FILE]\n"
    "       ctgctl export ID\n"
    "The first form writes every convention of the department as JSON lines, in id order. The\n"
    "next two write the export KEY of the convention ID, or the report KEY of the department,\n"
    "byte for byte as the plugin renders it. 'export ID' lists the exports of ID.\n"
    "  --output FILE  write to FILE (complete or not at all) instead of stdout\n";

/* Where the bytes go: stdout, or a temporary file renamed at the end. */
struct output {
    FILE *f;
    const char *path;  /* NULL: stdout */
    struct buf part;   /* path + ".part" */
};

static int output_open(struct output *out, const char *path)
{
    *out = (struct output){.f = stdout, .path = path};
    if (!path || strcmp(path, "-") == 0) {
        out->path = NULL;
        return EXIT_OK;
    }
    if (!buf_printf(&out->part, "%s.part", path) || !(out->f = fopen(out->part.data, "wb"))) {
        fprintf(stderr, "ctgctl: cannot write %s: %s\n", out->part.data ? out->part.data : path,
                strerror(errno));
        buf_free(&out->part);
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

/* Completes the output when rc is EXIT_OK (else removes it); returns rc or a write error. */
static int output_close(struct output *out, int rc)
{
    bool written = fflush(out->f) == 0 && !ferror(out->f);
    if (out->path) {
        written = fclose(out->f) == 0 && written;
        if (rc == EXIT_OK && written && rename(out->part.data, out->path) != 0)
            written = false;
        if (rc != EXIT_OK || !written)
            remove(out->part.data);
    }
    if (rc == EXIT_OK && !written) {
        fprintf(stderr, "ctgctl: cannot write %s: %s\n", out->path ? out->path : "stdout",
                strerror(errno));
        rc = EXIT_USAGE;
    }
    buf_free(&out->part);
    return rc;
}

/* GET `path` and copy the answer's bytes to `out`, with a '\n' after a document when `line`. */
static int copy_answer(struct ctl *ctl, const char *path, struct output *out, bool line)
{
    struct response resp;
    int rc = client_request(ctl->client, &(struct request){.method = "GET", .path = path}, &resp);
    if (rc == EXIT_OK) {
        size_t len = resp.body.len;
        while (line && len && (resp.body.data[len - 1] == '\n' || resp.body.data[len - 1] == ' '))
            len--;
        fwrite(resp.body.data, 1, len, out->f);
        if (line)
            fputc('\n', out->f);
    }
    response_free(&resp);
    return rc;
}

/* Every convention of one page of the list, GET one after the other on the same connection. */
static int copy_page(struct ctl *ctl, const json_t *items, struct output *out)
{
    size_t i;
    json_t *item;
    int rc = EXIT_OK;
    json_array_foreach(items, i, item) {
        struct buf path = {0};
        const char *id = json_string_value(json_object_get(item, "id"));
        rc = id && args_convention_path(&path, id, "") ? copy_answer(ctl, path.data, out, true)
                                                       : EXIT_UNREACHABLE;
        buf_free(&path);
        if (rc != EXIT_OK)
            break;
    }
    return rc;
}

/* The department's conventions as JSON lines: the list, page by page, then each document. */
static int export_department(struct ctl *ctl, const char *department, struct output *out)
{
    char *cursor = NULL;
    int rc;
    do {
        struct buf path = {0};
        json_t *page = NULL;
        bool built = buf_puts(&path, "/v1/conventions") &&
                     buf_add_query(&path, "department", department) &&
                     buf_add_query(&path, "limit", LIST_PAGE) &&
                     (!cursor || buf_add_query(&path, "cursor", cursor));
        rc = built ? client_get_json(ctl->client, path.data, &page) : EXIT_UNREACHABLE;
        buf_free(&path);
        free(cursor);
        cursor = NULL;
        if (rc == EXIT_OK)
            rc = copy_page(ctl, json_object_get(page, "items"), out);
        const char *next = json_string_value(json_object_get(page, "next"));
        cursor = rc == EXIT_OK && next ? strdup(next) : NULL;
        json_decref(page);
    } while (cursor);
    return rc;
}

/* The exports a convention has: a table of key, label, content type (--json: one per line). */
static int list_exports(struct ctl *ctl, const char *id)
{
    static const struct table_column columns[] = {
        {"KEY", "key", false}, {"LABEL", "label", true}, {"CONTENT_TYPE", "content_type", false},
        {"PLUGIN", "plugin", false},
    };
    struct buf path = {0};
    json_t *answer = NULL;
    int rc = args_convention_path(&path, id, "/exports")
                 ? client_get_json(ctl->client, path.data, &answer)
                 : EXIT_UNREACHABLE;
    buf_free(&path);
    json_t *exports = json_object_get(answer, "exports"), *entry;
    size_t i;
    if (rc == EXIT_OK && ctl->json)
        json_array_foreach(exports, i, entry)
            ctl_print_json_line(entry);
    else if (rc == EXIT_OK)
        ctl_print_table(columns, sizeof columns / sizeof columns[0], exports);
    json_decref(answer);
    return rc;
}

/* A rendered export (id, key) or report (department, key). */
static int export_rendered(struct ctl *ctl, const char *id, const char *department,
                           const char *key, struct output *out)
{
    struct buf path = {0};
    bool built = id ? args_convention_path(&path, id, "/exports/") && buf_append_escaped(&path, key)
                    : buf_puts(&path, "/v1/departments/") &&
                          buf_append_escaped(&path, department) &&
                          buf_puts(&path, "/reports/") && buf_append_escaped(&path, key);
    int rc = built ? copy_answer(ctl, path.data, out, false) : EXIT_UNREACHABLE;
    buf_free(&path);
    return rc;
}

int cmd_export(struct ctl *ctl, int argc, char **argv)
{
    static const struct option options[] = {
        {"department", required_argument, NULL, 'd'}, {"report", required_argument, NULL, 'r'},
        {"output", required_argument, NULL, 'o'},     {NULL, 0, NULL, 0},
    };
    const char *department = NULL, *report = NULL, *output = NULL;
    struct args a;
    args_init(&a, ctl, argc, argv, options, export_usage);
    for (int opt; (opt = args_next(&a)) > 0;) {
        switch (opt) {
        case 'd': department = optarg; break;
        case 'r': report = optarg; break;
        case 'o': output = optarg; break;
        default: return args_fail(&a, NULL);
        }
    }
    int n;
    char **rest = args_operands(&a, department ? 0 : 1, department ? 0 : 2, &n);
    if (!rest)
        return a.rc;
    if (report && !department)
        return args_fail(&a, "export: --report needs --department");
    if (n == 1)
        return output ? args_fail(&a, "export: ID alone lists the exports; name a KEY")
                      : list_exports(ctl, rest[0]);
    struct output out;
    int rc = output_open(&out, output);
    if (rc != EXIT_OK)
        return rc;
    if (!department)
        rc = export_rendered(ctl, rest[0], NULL, rest[1], &out);
    else if (report)
        rc = export_rendered(ctl, NULL, department, report, &out);
    else
        rc = export_department(ctl, department, &out);
    return output_close(&out, rc);
}
