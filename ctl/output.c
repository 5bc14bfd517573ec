/*
 * output.c — how ctgctl prints what it gets: JSON for scripts (one compact document per line),
 * indented JSON and tables for a person, fitted to the terminal's width.
 */
#include "ctl.h"

#include <sys/ioctl.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TABLE_GAP 2       /* spaces between two columns */
#define FLEXIBLE_MIN 10   /* a flexible column never shrinks below this */

bool ctl_is_word(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
            return false;
    return true;
}

void ctl_print_json_line(const json_t *value)
{
    char *text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
    if (text) {
        fputs(text, stdout);
        fputc('\n', stdout);
        fflush(stdout);
    }
    free(text);
}

void ctl_print_document(const struct ctl *ctl, const json_t *value)
{
    if (ctl->json) {
        ctl_print_json_line(value);
        return;
    }
    char *text = json_dumps(value, JSON_INDENT(2) | JSON_ENCODE_ANY);
    if (text)
        printf("%s\n", text);
    free(text);
}

int ctl_terminal_width(void)
{
    struct winsize ws;
    if (!isatty(STDOUT_FILENO))
        return 0;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    return 80;
}

/* ---------- tables ---------- */

/* The text of one cell (into `space` when it is a number); "-" when there is nothing. */
static const char *cell_text(const json_t *row, const char *key, char *space, size_t size)
{
    const json_t *value = json_object_get(row, key);
    if (json_is_string(value))
        return json_string_value(value);
    if (json_is_integer(value)) {
        snprintf(space, size, "%" JSON_INTEGER_FORMAT, json_integer_value(value));
        return space;
    }
    if (json_is_boolean(value))
        return json_is_true(value) ? "true" : "false";
    return "-";
}

/* Columns a string takes: one per UTF-8 character (continuation bytes take none). */
static size_t text_width(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* Prints `s` in `width` columns: padded, or cut with an ellipsis when `cut` allows it. */
static void print_cell(const char *s, size_t width, bool cut, bool last)
{
    size_t w = text_width(s);
    if (cut && w > width) {
        size_t keep = width ? width - 1 : 0;
        const char *p = s;
        for (size_t n = 0; *p; p++) {
            if (((unsigned char)*p & 0xC0) != 0x80 && n++ == keep)
                break;
        }
        fwrite(s, 1, (size_t)(p - s), stdout);
        fputs(width ? "…" : "", stdout);
        w = width;
    } else {
        fputs(s, stdout);
    }
    for (size_t i = w; !last && i < width + TABLE_GAP; i++)
        fputc(' ', stdout);
}

/* The width of each column: its widest cell, the flexible one cut to the terminal. */
static void column_widths(const struct table_column *columns, size_t n, const json_t *rows,
                          size_t *widths)
{
    char space[32];
    size_t total = 0, flexible = n;
    for (size_t c = 0; c < n; c++) {
        widths[c] = text_width(columns[c].header);
        size_t i;
        const json_t *row;
        json_array_foreach(rows, i, row) {
            size_t w = text_width(cell_text(row, columns[c].key, space, sizeof space));
            widths[c] = w > widths[c] ? w : widths[c];
        }
        total += widths[c] + (c + 1 < n ? TABLE_GAP : 0);
        if (columns[c].flexible)
            flexible = c;
    }
    size_t terminal = (size_t)ctl_terminal_width();
    if (flexible < n && terminal && total > terminal) {
        size_t others = total - widths[flexible];
        widths[flexible] = terminal > others + FLEXIBLE_MIN ? terminal - others : FLEXIBLE_MIN;
    }
}

void ctl_print_table(const struct table_column *columns, size_t n_columns, const json_t *rows)
{
    size_t *widths = calloc(n_columns, sizeof *widths);
    char space[32];
    if (!widths)
        return;
    column_widths(columns, n_columns, rows, widths);
    for (size_t c = 0; c < n_columns; c++)
        print_cell(columns[c].header, widths[c], true, c + 1 == n_columns);
    fputc('\n', stdout);
    size_t i;
    const json_t *row;
    json_array_foreach(rows, i, row) {
        for (size_t c = 0; c < n_columns; c++)
            print_cell(cell_text(row, columns[c].key, space, sizeof space), widths[c],
                       columns[c].flexible, c + 1 == n_columns);
        fputc('\n', stdout);
    }
    fflush(stdout);
    free(widths);
}
