/*
 * args.c — the arguments of one command: its options (with --help and --json, which every
 * command takes), its operands, numbers, and the convention path an id operand names.
 */
#include "ctl.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void args_init(struct args *a, struct ctl *ctl, int argc, char **argv,
               const struct option *options, const char *usage)
{
    *a = (struct args){.ctl = ctl, .argc = argc, .argv = argv, .usage = usage, .rc = -1};
    size_t n = 0;
    for (; options && options[n].name && n < ARGS_OPTIONS_MAX; n++)
        a->table[n] = options[n];
    a->table[n++] = (struct option){"help", no_argument, NULL, 'h'};
    a->table[n++] = (struct option){"json", no_argument, NULL, 'j'};
    a->table[n] = (struct option){NULL, 0, NULL, 0};
    optind = 0; /* glibc: start afresh, whatever parsed before */
    opterr = 0; /* the messages below name the command */
}

int args_fail(struct args *a, const char *why, ...)
{
    if (why) {
        va_list ap;
        va_start(ap, why);
        fputs("ctgctl: ", stderr);
        vfprintf(stderr, why, ap);
        fputc('\n', stderr);
        va_end(ap);
    }
    fputs(a->usage, stderr);
    a->rc = EXIT_USAGE;
    return EXIT_USAGE;
}

int args_next(struct args *a)
{
    if (a->rc >= 0)
        return 0;
    int opt = getopt_long(a->argc, a->argv, ":h", a->table, NULL);
    switch (opt) {
    case -1:
        return 0;
    case 'j':
        a->ctl->json = true;
        return args_next(a);
    case 'h':
        fputs(a->usage, stdout);
        a->rc = EXIT_OK;
        return 0;
    case ':':
        args_fail(a, "%s %s needs a value", a->argv[0], a->argv[optind - 1]);
        return 0;
    case '?':
        args_fail(a, "%s: unknown option '%s'", a->argv[0], a->argv[optind - 1]);
        return 0;
    default:
        return opt;
    }
}

char **args_operands(struct args *a, int min, int max, int *n)
{
    if (a->rc >= 0)
        return NULL;
    int count = a->argc - optind;
    if (count < min || count > max) {
        args_fail(a, count < min ? "%s: missing operand" : "%s: too many operands", a->argv[0]);
        return NULL;
    }
    if (n)
        *n = count;
    return a->argv + optind;
}

bool args_number(const char *text, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long value = strtol(text, &end, 10);
    if (errno || end == text || *end || value < min || value > max)
        return false;
    *out = value;
    return true;
}

bool args_convention_path(struct buf *path, const char *id, const char *suffix)
{
    return buf_puts(path, "/v1/conventions/") && buf_append_escaped(path, id) &&
           buf_puts(path, suffix);
}
