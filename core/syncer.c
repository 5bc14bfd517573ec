/*
 * syncer.c — fdatasync(2) on a thread of its own (see syncer.h).
 *
 * The thread lives as long as the syncer and sleeps between syncs: starting a thread for each
 * commit would cost a good part of what the overlap saves.
 */
#include "ctg/syncer.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

struct syncer {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t changed; /* a sync asked for, a sync done, or the end */
    int fd;                 /* the file to sync; -1 when none is asked for */
    bool done;
    int result;
    bool quit;
};

static void *sync_loop(void *arg)
{
    struct syncer *s = arg;
    pthread_mutex_lock(&s->lock);
    for (;;) {
        while (s->fd < 0 && !s->quit)
            pthread_cond_wait(&s->changed, &s->lock);
        if (s->quit)
            break;
        int fd = s->fd;
        pthread_mutex_unlock(&s->lock);
        int result = fdatasync(fd) < 0 ? errno : 0;
        pthread_mutex_lock(&s->lock);
        s->fd = -1;
        s->result = result;
        s->done = true;
        pthread_cond_broadcast(&s->changed);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

struct syncer *syncer_new(void)
{
    struct syncer *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->fd = -1;
    bool locked = pthread_mutex_init(&s->lock, NULL) == 0;
    bool waited = locked && pthread_cond_init(&s->changed, NULL) == 0;
    if (waited && pthread_create(&s->thread, NULL, sync_loop, s) == 0)
        return s;
    if (waited)
        pthread_cond_destroy(&s->changed);
    if (locked)
        pthread_mutex_destroy(&s->lock);
    free(s);
    return NULL;
}

void syncer_free(struct syncer *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    s->quit = true;
    pthread_cond_broadcast(&s->changed);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);
    pthread_cond_destroy(&s->changed);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

void syncer_start(struct syncer *s, int fd)
{
    pthread_mutex_lock(&s->lock);
    s->fd = fd;
    s->done = false;
    pthread_cond_broadcast(&s->changed);
    pthread_mutex_unlock(&s->lock);
}

int syncer_wait(struct syncer *s)
{
    pthread_mutex_lock(&s->lock);
    while (!s->done)
        pthread_cond_wait(&s->changed, &s->lock);
    int result = s->result;
    pthread_mutex_unlock(&s->lock);
    return result;
}
