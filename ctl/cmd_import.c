/*
 * cmd_import.c — `ctgctl import PATH`: conventions written in bulk through
 * POST /v1/conventions/_bulk.
 *
 * PATH is a folder of *.json files (one convention each, in name order), one .json file, or a
 * JSON-lines file (any other name; "-" for stdin). Lines are gathered into requests of at most
 * CHUNK_LINES lines or CHUNK_BYTES bytes; every line sent remembers where it came from, so that
 * the server's verdict on it (results[].line) is reported with its file and line. A request the
 * server finds too large (413) is sent again in halves. The progress bar (progress.c) counts
 * what the server has answered.
 */
#include "ctl.h"
#include "progress.h"

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK_LINES 1000               /* the server's transaction batch */
#define CHUNK_BYTES ((size_t)8 << 20)  /* well under the server's bulk_max (64 MiB) */

/* Where a line of the current chunk came from, and where it is in the chunk. */
struct origin {
    const char *file;
    long line;      /* 0: the whole file (a folder's document) */
    size_t offset;  /* in import.chunk */
    size_t len;     /* without its '\n' */
};

struct import {
    struct ctl *ctl;
    struct buf chunk;         /* the JSON lines of the next request */
    struct origin *origins;   /* one per line of chunk */
    size_t n_lines;
    uint64_t chunk_units;     /* progress units done once the chunk is answered */
    struct progress progress;
    long created, updated, refused;
    int fatal;                /* EXIT_OK, or why the import stopped */
};

/* ---------- the verdicts ---------- */

/* Reports one refused line on stderr with its origin. */
static void report_refused(struct import *imp, const struct origin *o, const json_t *result,
                           long status, const json_t *error)
{
    char where[4200];
    const char *id = json_string_value(json_object_get(result, "id"));
    int n = o->line ? snprintf(where, sizeof where, "%s:%ld", o->file, o->line)
                    : snprintf(where, sizeof where, "%s", o->file);
    if (n >= 0 && (size_t)n < sizeof where)
        snprintf(where + n, sizeof where - (size_t)n, "%s%s%s: refused", id ? " (" : "",
                 id ? id : "", id ? ")" : "");
    progress_clear(&imp->progress);
    client_print_error(where, status, error);
    imp->refused++;
}

/* Tallies the results of the lines [from, from + n) of the chunk. */
static void take_results(struct import *imp, size_t from, size_t n, const json_t *results)
{
    bool *answered = calloc(n ? n : 1, sizeof *answered);
    size_t i;
    json_t *r;
    json_array_foreach(results, i, r) {
        json_int_t line = json_integer_value(json_object_get(r, "line"));
        const char *verdict = json_string_value(json_object_get(r, "result"));
        if (line < 1 || (size_t)line > n || !verdict || (answered && answered[line - 1]))
            continue;
        if (answered)
            answered[line - 1] = true;
        if (strcmp(verdict, "created") == 0)
            imp->created++;
        else if (strcmp(verdict, "updated") == 0)
            imp->updated++;
        else
            report_refused(imp, &imp->origins[from + (size_t)line - 1], r,
                           (long)json_integer_value(json_object_get(r, "status")),
                           json_object_get(r, "error"));
    }
    json_t *missing = json_pack("{s:s}", "message", "the server gave no result for it");
    for (i = 0; answered && i < n; i++)
        if (!answered[i])
            report_refused(imp, &imp->origins[from + i], NULL, 0, missing);
    json_decref(missing);
    free(answered);
}

/* ---------- the requests ---------- */

/* Sends the lines [from, from + n) of the chunk; halves a request found too large. */
static int send_lines(struct import *imp, size_t from, size_t n)
{
    const struct origin *first = &imp->origins[from], *last = &imp->origins[from + n - 1];
    struct request req = {.method = "POST", .path = "/v1/conventions/_bulk",
                          .content_type = "application/x-ndjson",
                          .body = imp->chunk.data + first->offset,
                          .body_len = last->offset + last->len + 1 - first->offset, .quiet = true};
    struct response resp;
    int rc = client_request(imp->ctl->client, &req, &resp);
    if (rc == EXIT_REFUSED && resp.status == 413 && n > 1) {
        response_free(&resp);
        rc = send_lines(imp, from, n / 2);
        return rc == EXIT_OK ? send_lines(imp, from + n / 2, n - n / 2) : rc;
    }
    if (rc == EXIT_OK && !json_is_array(json_object_get(resp.json, "results"))) {
        fprintf(stderr, "ctgctl: the answer of POST %s has no results\n", req.path);
        rc = EXIT_REFUSED;
    } else if (rc == EXIT_REFUSED && resp.status == 413) {
        report_refused(imp, first, NULL, resp.status, resp.json); /* one line, too large */
        rc = EXIT_OK;
    } else if (rc == EXIT_REFUSED) {
        progress_clear(&imp->progress);
        client_print_error("import stopped: the server answered", resp.status, resp.json);
    } else if (rc == EXIT_OK) {
        take_results(imp, from, n, json_object_get(resp.json, "results"));
    }
    response_free(&resp);
    return rc;
}

/* Sends the chunk gathered so far, if any. */
static void flush_chunk(struct import *imp)
{
    if (imp->fatal != EXIT_OK || imp->n_lines == 0)
        return;
    imp->fatal = send_lines(imp, 0, imp->n_lines);
    progress_update(&imp->progress, imp->chunk_units,
                    (uint64_t)(imp->created + imp->updated + imp->refused));
    buf_clear(&imp->chunk);
    imp->n_lines = 0;
}

/* Adds one JSON line (without its '\n') to the chunk, sending the chunk first when full. */
static void add_line(struct import *imp, const char *text, size_t len, const char *file,
                     long line)
{
    if (imp->n_lines == CHUNK_LINES || (imp->n_lines && imp->chunk.len + len + 1 > CHUNK_BYTES))
        flush_chunk(imp);
    if (imp->fatal != EXIT_OK)
        return;
    size_t offset = imp->chunk.len;
    if (!buf_append(&imp->chunk, text, len) || !buf_append(&imp->chunk, "\n", 1)) {
        fprintf(stderr, "ctgctl: out of memory\n");
        imp->fatal = EXIT_UNREACHABLE;
        return;
    }
    imp->origins[imp->n_lines++] = (struct origin){file, line, offset, len};
}

/* ---------- the sources ---------- */

static bool is_blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return false;
    return true;
}

/* A JSON-lines file ("-": stdin), line by line as it is. */
static int import_lines(struct import *imp, const char *path)
{
    bool is_stdin = strcmp(path, "-") == 0;
    FILE *f = is_stdin ? stdin : fopen(path, "r");
    struct stat st;
    if (!f) {
        fprintf(stderr, "ctgctl: cannot read %s: %s\n", path, strerror(errno));
        return EXIT_USAGE;
    }
    progress_start(&imp->progress,
                   fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0);
    const char *name = is_stdin ? "stdin" : path;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long number = 0;
    uint64_t read_bytes = 0;
    while (imp->fatal == EXIT_OK && (len = getline(&line, &cap, f)) >= 0) {
        number++;
        read_bytes += (uint64_t)len;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        if (!is_blank(line, (size_t)len))
            add_line(imp, line, (size_t)len, name, number);
        imp->chunk_units = read_bytes;
    }
    free(line);
    int rc = ferror(f) ? EXIT_USAGE : EXIT_OK;
    if (rc != EXIT_OK)
        fprintf(stderr, "ctgctl: cannot read %s after line %ld: %s\n", name, number,
                strerror(errno));
    if (!is_stdin)
        fclose(f);
    return rc;
}

/* One convention of a folder: parsed here (a file may be indented), sent as one line. */
static void import_file(struct import *imp, const char *file)
{
    json_error_t error;
    json_t *doc = json_load_file(file, JSON_REJECT_DUPLICATES, &error);
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    if (text) {
        add_line(imp, text, strlen(text), file, 0);
    } else {
        char message[400];
        snprintf(message, sizeof message, "not JSON: %s (line %d, column %d)", error.text,
                 error.line, error.column);
        json_t *err = json_pack("{s:s}", "message", message);
        report_refused(imp, &(struct origin){.file = file}, NULL, 0, err);
        json_decref(err);
    }
    free(text);
    json_decref(doc);
}

static int select_json(const struct dirent *entry)
{
    size_t len = strlen(entry->d_name);
    return entry->d_name[0] != '.' && len > 5 && strcmp(entry->d_name + len - 5, ".json") == 0;
}

/* The *.json files of a folder (or one .json file), in name order. */
static int import_files(struct import *imp, const char *path, bool folder)
{
    struct dirent **entries = NULL;
    int n = folder ? scandir(path, &entries, select_json, alphasort) : 1;
    if (n < 0) {
        fprintf(stderr, "ctgctl: cannot read %s: %s\n", path, strerror(errno));
        return EXIT_USAGE;
    }
    char **files = calloc((size_t)n + 1, sizeof *files);
    progress_start(&imp->progress, (uint64_t)n);
    for (int i = 0; files && i < n; i++) {
        struct buf file = {0};
        if (folder ? buf_printf(&file, "%s/%s", path, entries[i]->d_name) : buf_puts(&file, path))
            import_file(imp, files[i] = file.data);
        imp->chunk_units = (uint64_t)i + 1;
    }
    flush_chunk(imp); /* the origins point at the names: send before they go */
    for (int i = 0; folder && i < n; i++)
        free(entries[i]);
    for (int i = 0; files && i < n; i++)
        free(files[i]);
    free(entries);
    free(files);
    return EXIT_OK;
}

/* ---------- the command ---------- */

static const char import_usage[] =
    "usage: ctgctl import PATH [--json]\n"
    "Writes conventions in bulk (POST /v1/conventions/_bulk). PATH is a folder of *.json files\n"
    "(one convention each), a .json file, or a JSON-lines file (.jsonl, .ndjson; '-' for\n"
    "stdin). A document with an id replaces the convention of that id (its rev must then be\n"
    "the current one) or creates it; one without an id is created with a new id.\n"
    "On a terminal, a progress bar shows the count, the rate and the time left. At the end: how\n"
    "many were created, updated and refused; each refusal on stderr with its file and line.\n"
    "Exit 1 if any document was refused.\n";

static bool is_json_file(const char *path)
{
    size_t len = strlen(path);
    return len > 5 && strcmp(path + len - 5, ".json") == 0;
}

static void print_summary(const struct import *imp)
{
    double seconds = progress_elapsed(&imp->progress);
    if (imp->ctl->json) {
        json_t *summary = json_pack("{s:i, s:i, s:i, s:f}", "created", (int)imp->created,
                                    "updated", (int)imp->updated, "refused", (int)imp->refused,
                                    "seconds", seconds);
        ctl_print_json_line(summary);
        json_decref(summary);
        return;
    }
    printf("%ld created, %ld updated, %ld refused in %.1f s\n", imp->created, imp->updated,
           imp->refused, seconds);
}

int cmd_import(struct ctl *ctl, int argc, char **argv)
{
    struct args a;
    args_init(&a, ctl, argc, argv, NULL, import_usage);
    if (args_next(&a) > 0)
        return args_fail(&a, NULL);
    char **rest = args_operands(&a, 1, 1, NULL);
    if (!rest)
        return a.rc;
    struct stat st;
    bool is_stdin = strcmp(rest[0], "-") == 0;
    if (!is_stdin && stat(rest[0], &st) != 0) {
        fprintf(stderr, "ctgctl: cannot read %s: %s\n", rest[0], strerror(errno));
        return EXIT_USAGE;
    }
    bool folder = !is_stdin && S_ISDIR(st.st_mode);
    struct import imp = {.ctl = ctl, .origins = calloc(CHUNK_LINES, sizeof *imp.origins)};
    if (!imp.origins)
        return EXIT_UNREACHABLE;
    int rc = folder || is_json_file(rest[0]) ? import_files(&imp, rest[0], folder)
                                              : import_lines(&imp, rest[0]);
    flush_chunk(&imp);
    bool answered = imp.created || imp.updated || imp.refused;
    if (rc == EXIT_OK) {
        progress_finish(&imp.progress);
        if (answered || imp.fatal == EXIT_OK)
            print_summary(&imp); /* what was done before it stopped, if anything */
        rc = imp.fatal != EXIT_OK ? imp.fatal : imp.refused ? EXIT_REFUSED : EXIT_OK;
    }
    buf_free(&imp.chunk);
    free(imp.origins);
    return rc;
}
