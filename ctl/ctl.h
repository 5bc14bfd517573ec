/*
 * ctl.h — what every ctgctl command receives and shares: the connection to ctgd, the options
 * common to all commands, the parsing of a command's own arguments (args.c) and the ways to
 * print results (output.c).
 */
#ifndef CTGCTL_CTL_H
#define CTGCTL_CTL_H

#include "client.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

struct ctl {
    struct client *client;
    const char *url;    /* --url, CTG_URL */
    const char *events; /* --events, CTG_EVENTS: the PUB socket of ctgd */
    bool json;          /* --json: machine-readable output */
};

/* ---------- a command's arguments (args.c) ---------- */

#define ARGS_OPTIONS_MAX 16

/*
 * The parsing of one command's arguments. Every command takes --help and --json besides its
 * own options (whose `val` must not be 'h' or 'j'); options and operands may come in any order.
 *
 *     struct args a;
 *     args_init(&a, ctl, argc, argv, options, usage);
 *     for (int opt; (opt = args_next(&a)) > 0;)
 *         switch (opt) { ... default: return args_fail(&a, NULL); }
 *     char **rest = args_operands(&a, 1, 1);
 *     if (!rest) return a.rc;
 */
struct args {
    struct ctl *ctl;
    int argc;
    char **argv;           /* argv[0] is the command's name */
    const char *usage;     /* the command's usage text: printed by --help and on misuse */
    struct option table[ARGS_OPTIONS_MAX + 3];
    int rc;                /* -1 while all is well, else the exit code the command returns */
};

void args_init(struct args *a, struct ctl *ctl, int argc, char **argv,
               const struct option *options, const char *usage);

/* The next option of the command (its `val`, optarg set); 0 when there are no more or when
 * the command must stop (--help, a misuse: then a.rc is the exit code). */
int args_next(struct args *a);

/* The operands, between `min` and `max` of them (count in *n if n is not NULL); NULL with
 * a.rc set when there are too few or too many, or when args_next() stopped early. */
char **args_operands(struct args *a, int min, int max, int *n);

/* Prints "ctgctl: <why>" (when why is not NULL) and the usage on stderr; returns EXIT_USAGE. */
int args_fail(struct args *a, const char *why, ...) __attribute__((format(printf, 2, 3)));

/* `text` as a whole number from min to max. */
bool args_number(const char *text, long min, long max, long *out);

/* Appends "/v1/conventions/<id>" (the id percent-encoded) and `suffix` to `path`. */
bool args_convention_path(struct buf *path, const char *id, const char *suffix);

/* ---------- output (output.c) ---------- */

/* Prints `value` as one compact JSON line on stdout and flushes. */
void ctl_print_json_line(const json_t *value);

/* A document: compact with --json, indented for a person otherwise. */
void ctl_print_document(const struct ctl *ctl, const json_t *value);

/* The width of stdout's terminal in columns; 0 when stdout is not a terminal. */
int ctl_terminal_width(void);

struct table_column {
    const char *header;
    const char *key;  /* the member of each row shown in this column */
    bool flexible;    /* cut to what the terminal leaves (one column at most) */
};

/* `rows` (an array of objects) as a table on stdout, headers first; absent values show '-'. */
void ctl_print_table(const struct table_column *columns, size_t n_columns, const json_t *rows);

/* True for a non-empty run of ASCII letters and digits: safe in a URL as it is. */
bool ctl_is_word(const char *s);

/* ---------- commands ---------- */

int cmd_health(struct ctl *ctl, int argc, char **argv);
int cmd_changes(struct ctl *ctl, int argc, char **argv);
int cmd_watch(struct ctl *ctl, int argc, char **argv);
int cmd_get(struct ctl *ctl, int argc, char **argv);
int cmd_history(struct ctl *ctl, int argc, char **argv);
int cmd_list(struct ctl *ctl, int argc, char **argv);
int cmd_put(struct ctl *ctl, int argc, char **argv);
int cmd_patch(struct ctl *ctl, int argc, char **argv);
int cmd_delete(struct ctl *ctl, int argc, char **argv);
int cmd_import(struct ctl *ctl, int argc, char **argv);
int cmd_export(struct ctl *ctl, int argc, char **argv);
int cmd_reload(struct ctl *ctl, int argc, char **argv);

#endif
