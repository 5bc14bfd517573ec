/*
 * cmd_list.c — `ctgctl list`: summaries of conventions through GET /v1/conventions, filtered,
 * one page or (--all) every page by following the `next` cursors.
 */
#include "ctl.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ALL_PAGE_TEXT "1000" /* the page size of --all when --limit does not say */

static const char list_usage[] =
    "usage: ctgctl list [--department CODE] [--status S] [--champ KEY] [--q TEXT] [--limit N]\n"
    "                   [--all] [--json]\n"
    "Lists conventions in id order: a table of id, department, status, title and updated_at\n"
    "(the title cut to the terminal's width), or one JSON summary per line with --json.\n"
    "  --department, --status, --champ  keep those that have this value\n"
    "  --q TEXT    keep those whose id, title or territory name contains TEXT\n"
    "  --limit N   at most N (1..1000, default 50); with --all, the size of each page\n"
    "  --all       every convention that matches, page after page\n";

struct listing {
    const char *filters[4][2]; /* query name and value; value NULL when not given */
    const char *limit;
    bool all;
    bool more;                 /* a page was left unread */
    json_t *rows;              /* for the table: every summary received */
};

/* The query of one page: the filters, the limit, and the cursor after the first page. */
static bool page_path(const struct listing *l, const char *cursor, struct buf *path)
{
    bool ok = buf_puts(path, "/v1/conventions") && buf_add_query(path, "limit", l->limit);
    for (size_t i = 0; ok && i < sizeof l->filters / sizeof l->filters[0]; i++)
        if (l->filters[i][1])
            ok = buf_add_query(path, l->filters[i][0], l->filters[i][1]);
    return ok && (!cursor || buf_add_query(path, "cursor", cursor));
}

/* Prints (--json) or keeps (table) the items of one page. */
static void take_page(struct ctl *ctl, struct listing *l, const json_t *items)
{
    size_t i;
    json_t *item;
    json_array_foreach(items, i, item) {
        if (ctl->json)
            ctl_print_json_line(item);
        else
            json_array_append(l->rows, item);
    }
}

/* Reads one page, or every page with --all. */
static int read_pages(struct ctl *ctl, struct listing *l)
{
    char *cursor = NULL;
    int rc = EXIT_OK;
    do {
        struct buf path = {0};
        json_t *page = NULL;
        rc = page_path(l, cursor, &path) ? client_get_json(ctl->client, path.data, &page)
                                         : EXIT_UNREACHABLE;
        buf_free(&path);
        free(cursor);
        cursor = NULL;
        if (rc != EXIT_OK)
            break;
        take_page(ctl, l, json_object_get(page, "items"));
        const char *next = json_string_value(json_object_get(page, "next"));
        cursor = next ? strdup(next) : NULL;
        json_decref(page);
    } while (l->all && cursor);
    l->more = cursor != NULL;
    free(cursor);
    return rc;
}

int cmd_list(struct ctl *ctl, int argc, char **argv)
{
    static const struct option options[] = {
        {"department", required_argument, NULL, 'd'}, {"status", required_argument, NULL, 's'},
        {"champ", required_argument, NULL, 'c'},      {"q", required_argument, NULL, 'q'},
        {"limit", required_argument, NULL, 'l'},      {"all", no_argument, NULL, 'a'},
        {NULL, 0, NULL, 0},
    };
    static const struct table_column columns[] = {
        {"ID", "id", false},      {"DEPT", "department", false},
        {"STATUS", "status", false}, {"TITLE", "title", true},
        {"UPDATED_AT", "updated_at", false},
    };
    struct listing l = {.filters = {{"department", NULL}, {"status", NULL}, {"champ", NULL},
                                    {"q", NULL}}};
    long number;
    struct args a;
    args_init(&a, ctl, argc, argv, options, list_usage);
    for (int opt; (opt = args_next(&a)) > 0;) {
        switch (opt) {
        case 'd': l.filters[0][1] = optarg; break;
        case 's': l.filters[1][1] = optarg; break;
        case 'c': l.filters[2][1] = optarg; break;
        case 'q': l.filters[3][1] = optarg; break;
        case 'l': l.limit = optarg; break;
        case 'a': l.all = true; break;
        default: return args_fail(&a, NULL);
        }
    }
    if (!args_operands(&a, 0, 0, NULL))
        return a.rc;
    if (l.limit && !args_number(l.limit, 1, 1000, &number))
        return args_fail(&a, "list: --limit wants a number from 1 to 1000");
    if (!l.limit)
        l.limit = l.all ? ALL_PAGE_TEXT : "50";
    l.rows = json_array();
    int rc = l.rows ? read_pages(ctl, &l) : EXIT_UNREACHABLE;
    if (rc == EXIT_OK && !ctl->json)
        ctl_print_table(columns, sizeof columns / sizeof columns[0], l.rows);
    if (rc == EXIT_OK && l.more && !ctl->json && isatty(STDERR_FILENO))
        fprintf(stderr, "(more follow: --all lists them all)\n");
    json_decref(l.rows);
    return rc;
}
