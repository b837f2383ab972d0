/* gateway/queue_worklist.c - see queue_worklist.h. */
#include "config.h"

#include "gateway/queue_worklist.h"

#include <stdlib.h>
#include <string.h>

/* Flagged-gone entries tolerated before the work list is compacted. */
#define COMPACT_MIN 64

static int job_cmp(const void *key, const void *elem)
{
    return strcmp(key, ((const struct queue_worklist_job *)elem)->id);
}

struct queue_worklist_job *queue_worklist_find(struct queue_worklist *wl, const char *id)
{
    if (wl->count == 0)
        return NULL; /* bsearch's base must not be NULL, even for no elements */
    return bsearch(id, wl->jobs, wl->count, sizeof *wl->jobs, job_cmp);
}

/* queue_worklist_add - know id (due now) unless already known; check: job.check.
 * 0, or -1 out of memory. */
int queue_worklist_add(struct queue_worklist *wl, const char *id, bool check)
{
    if (!queue_id_valid(id))
        return 0;
    struct queue_worklist_job *known = queue_worklist_find(wl, id);
    if (known != NULL) {
        if (known->gone) {
            /* listed again by a scan that raced its removal: an attempt
             * finds out whether it still exists */
            known->gone = false;
            known->due = 0;
            wl->gone--;
        }
        return 0;
    }
    if (wl->count == wl->alloc) {
        size_t alloc = wl->alloc == 0 ? 64 : wl->alloc * 2;
        struct queue_worklist_job *jobs = realloc(wl->jobs, alloc * sizeof *jobs);
        if (jobs == NULL)
            return -1;
        wl->jobs = jobs;
        wl->alloc = alloc;
    }
    /* New ids are usually the newest: search from the end. */
    size_t at = wl->count;
    while (at > 0 && strcmp(wl->jobs[at - 1].id, id) > 0)
        at--;
    if (at < wl->count)
        memmove(&wl->jobs[at + 1], &wl->jobs[at], (wl->count - at) * sizeof *wl->jobs);
    wl->jobs[at] = (struct queue_worklist_job){.due = 0, .check = check};
    memcpy(wl->jobs[at].id, id, QUEUE_ID_SIZE);
    wl->count++;
    return 0;
}

/* queue_worklist_drop - flag job gone; compact once gone entries are half the list. */
void queue_worklist_drop(struct queue_worklist *wl, struct queue_worklist_job *job)
{
    if (job->gone)
        return;
    job->gone = true;
    wl->gone++;
    if (wl->gone < COMPACT_MIN || wl->gone * 2 < wl->count)
        return;
    size_t out = 0;
    for (size_t i = 0; i < wl->count; i++) {
        if (!wl->jobs[i].gone)
            wl->jobs[out++] = wl->jobs[i];
    }
    wl->count = out;
    wl->gone = 0;
    wl->cursor = 0;
}

/* queue_worklist_pending - messages known and not gone. */
size_t queue_worklist_pending(const struct queue_worklist *wl)
{
    return wl->count - wl->gone;
}

void queue_worklist_free(struct queue_worklist *wl)
{
    free(wl->jobs);
    *wl = (struct queue_worklist){0};
}

/* control_job - what a control request does to one job. */
static enum queue_control_answer control_job(struct queue_worklist_job *job,
                                             enum queue_control_cmd cmd)
{
    switch (cmd) {
    case QUEUE_CONTROL_HOLD:
        /* The record is written: its next look finds it held. One in a
         * thread's hands now may still be attempted (doc/relay.md). */
        job->held = true;
        job->force = false;
        if (!job->busy)
            job->due = time(NULL) + QUEUE_ATTEMPT_HOLD_RECHECK;
        return QUEUE_CONTROL_OK;
    case QUEUE_CONTROL_RELEASE:
        job->held = false;
        __attribute__((fallthrough)); /* a released message is tried at once */
    case QUEUE_CONTROL_FLUSH:
        if (job->held)
            return QUEUE_CONTROL_HELD;
        /* busy: apply() makes it due again when the attempt reports */
        job->force = true;
        if (!job->busy)
            job->due = 0;
        return QUEUE_CONTROL_OK;
    }
    return QUEUE_CONTROL_ERROR;
}

enum queue_control_answer queue_worklist_control(struct queue_worklist *wl,
                                                 enum queue_control_cmd cmd, const char *id,
                                                 bool check, unsigned long *count_r)
{
    *count_r = 0;
    if (id[0] == '\0') {
        for (size_t i = 0; i < wl->count; i++) {
            struct queue_worklist_job *job = &wl->jobs[i];
            if (!job->gone && !job->held && control_job(job, cmd) == QUEUE_CONTROL_OK)
                (*count_r)++;
        }
        return QUEUE_CONTROL_OK;
    }
    struct queue_worklist_job *job = queue_worklist_find(wl, id);
    if (job == NULL || job->gone) {
        /* Not seen yet (renamed in a moment ago; the caller checked that
         * it exists): known from now on. */
        if (cmd == QUEUE_CONTROL_HOLD)
            return QUEUE_CONTROL_OK; /* its first look finds the record */
        if (queue_worklist_add(wl, id, check) < 0 || (job = queue_worklist_find(wl, id)) == NULL)
            return QUEUE_CONTROL_ERROR;
    }
    enum queue_control_answer a = control_job(job, cmd);
    *count_r = a == QUEUE_CONTROL_OK;
    return a;
}
