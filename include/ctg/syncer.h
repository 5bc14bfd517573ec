/*
 * syncer.h — fdatasync(2) on a thread of its own, so that its caller works while the disk
 * answers.
 *
 * A commit's sync is mostly waiting: the log's record is already on its way to the disk, and
 * what fdatasync() waits for is the disk's flush (about 150 µs here). Work that does not need
 * the commit to be on disk (freeing the requests it wrote) runs meanwhile on the loop's thread.
 * One sync at a time: syncer_wait() before the next syncer_start().
 */
#ifndef CTG_SYNCER_H
#define CTG_SYNCER_H

struct syncer;

/* NULL when no thread can be started: the caller then syncs by itself. */
struct syncer *syncer_new(void);
void syncer_free(struct syncer *s); /* NULL does nothing; no sync may be running */

/* Starts fdatasync(fd) on the syncer's thread. */
void syncer_start(struct syncer *s, int fd);

/* Waits for the sync syncer_start() started: 0, or the errno of its failure. */
int syncer_wait(struct syncer *s);

#endif
