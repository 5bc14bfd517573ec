/*
 * progress.h — the progress bar of long commands (import): a bar, the count, the rate and the
 * time left, redrawn in place on stderr when stderr is a terminal; nothing at all otherwise.
 */
#ifndef CTGCTL_PROGRESS_H
#define CTGCTL_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

struct progress {
    bool shown;        /* stderr is a terminal */
    bool drawn;        /* the bar is on the screen now */
    double start;      /* monotonic seconds */
    double last_draw;
    uint64_t total;    /* units of work (bytes, files) in all; 0 when unknown */
    uint64_t done;     /* units done */
    uint64_t docs;     /* documents done */
};

/* Starts the clock; `total` units to go through (0: unknown). */
void progress_start(struct progress *p, uint64_t total);

/* `done` units and `docs` documents are done; redraws at most ten times a second. */
void progress_update(struct progress *p, uint64_t done, uint64_t docs);

/* Takes the bar off the screen, so that a message can be printed; the next update redraws. */
void progress_clear(struct progress *p);

/* Draws the final state and ends its line. */
void progress_finish(struct progress *p);

/* Seconds since progress_start(). */
double progress_elapsed(const struct progress *p);

#endif
