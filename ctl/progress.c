/*
 * progress.c — the progress bar on stderr (see progress.h).
 *
 *     [##########..........]  52%  5200 docs  2480 docs/s  ETA 2s
 */
#include "progress.h"

#include <sys/ioctl.h>

#include <stdio.h>
#include <time.h>
#include <unistd.h>

#define REDRAW_EVERY 0.1 /* seconds */
#define BAR_WIDTH 24

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void progress_start(struct progress *p, uint64_t total)
{
    *p = (struct progress){.shown = isatty(STDERR_FILENO), .start = now(), .total = total};
    progress_update(p, 0, 0);
}

double progress_elapsed(const struct progress *p)
{
    return now() - p->start;
}

/* "ETA 1m05s" from what remains at the rate so far. */
static void format_eta(const struct progress *p, double elapsed, char *out, size_t size)
{
    if (!p->total || !p->done || p->done >= p->total) {
        snprintf(out, size, "%s", p->total && p->done >= p->total ? "done" : "");
        return;
    }
    double left = elapsed * (double)(p->total - p->done) / (double)p->done;
    long s = (long)(left + 0.5);
    if (s >= 60)
        snprintf(out, size, "ETA %ldm%02lds", s / 60, s % 60);
    else
        snprintf(out, size, "ETA %lds", s);
}

static void draw(struct progress *p)
{
    double elapsed = now() - p->start;
    double rate = elapsed > 0 ? (double)p->docs / elapsed : 0;
    char eta[32];
    format_eta(p, elapsed, eta, sizeof eta);
    fputs("\r", stderr);
    if (p->total) {
        uint64_t done = p->done > p->total ? p->total : p->done;
        int filled = (int)(BAR_WIDTH * done / p->total);
        fputc('[', stderr);
        for (int i = 0; i < BAR_WIDTH; i++)
            fputc(i < filled ? '#' : '.', stderr);
        fprintf(stderr, "] %3d%%  ", (int)(100 * done / p->total));
    }
    fprintf(stderr, "%llu docs  %.0f docs/s  %s\033[K", (unsigned long long)p->docs, rate, eta);
    fflush(stderr);
    p->drawn = true;
    p->last_draw = now();
}

void progress_update(struct progress *p, uint64_t done, uint64_t docs)
{
    p->done = done;
    p->docs = docs;
    if (p->shown && now() - p->last_draw >= REDRAW_EVERY)
        draw(p);
}

void progress_clear(struct progress *p)
{
    if (p->shown && p->drawn) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
        p->drawn = false;
        p->last_draw = 0;
    }
}

void progress_finish(struct progress *p)
{
    if (!p->shown)
        return;
    draw(p);
    fputc('\n', stderr);
    p->drawn = false;
}
