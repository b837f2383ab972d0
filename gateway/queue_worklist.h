/* gateway/queue_worklist.h - the scheduler's work list: every spool id the
 * queue runner knows, sorted by id, with when its next recipient is due,
 * whether a delivery thread has it (busy) and, while its network jobs are
 * in flight, its parked turn. Removed messages are only flagged (gone) and
 * compacted away in bulk, so finishing a message costs no memmove of the
 * whole list. The runner's main thread's alone: not thread-safe. */
#ifndef DIRMAIL_GATEWAY_QUEUE_WORKLIST_H
#define DIRMAIL_GATEWAY_QUEUE_WORKLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "gateway/queue_attempt.h"
#include "queue/queue.h"
#include "queue/queue_control.h"

struct queue_worklist_job {
    char id[QUEUE_ID_SIZE];
    time_t due; /* wall clock; 0 = now */
    bool busy;  /* claimed: a delivery thread has it */
    bool gone;  /* removed or vanished; dropped at the next compaction */
    /* an attempt before may have delivered without recording it (a runner
     * that died, a failed mark): look for its Maildir files first */
    bool check;
    bool held;  /* its last look found it on hold (queue_mark_hold) */
    bool force; /* a flush asked for it: its next attempt ignores retry times */
    /* busy and parked: its network jobs are in flight; the work list's
     * (freed at exit when they never finish) */
    struct queue_attempt_turn *turn;
};

struct queue_worklist {
    struct queue_worklist_job *jobs; /* sorted by id */
    size_t count, alloc;
    size_t gone;   /* entries flagged gone */
    size_t cursor; /* where the next dispatch pass starts */
};

/* queue_worklist_find - the entry of id, or NULL. */
struct queue_worklist_job *queue_worklist_find(struct queue_worklist *wl, const char *id);

/* queue_worklist_add - know id (due now) unless already known (a gone one
 * comes back); check: job.check. 0, or -1 out of memory. */
int queue_worklist_add(struct queue_worklist *wl, const char *id, bool check);

/* queue_worklist_drop - flag job gone; the list is compacted once gone
 * entries are half of it (pointers into it are then stale). */
void queue_worklist_drop(struct queue_worklist *wl, struct queue_worklist_job *job);

/* queue_worklist_pending - messages known and not gone. */
size_t queue_worklist_pending(const struct queue_worklist *wl);

/* queue_worklist_control - a control request (dirmailctl queue flush,
 * retry, hold, release; queue/queue_control.h) applied to the jobs: id ""
 * is every job not known to be held (FLUSH only). A flushed or released
 * job is due now and forced; a busy one when its attempt reports. An id
 * not known yet is added (check: job.check). *count_r the jobs it applied
 * to. */
enum queue_control_answer queue_worklist_control(struct queue_worklist *wl,
                                                 enum queue_control_cmd cmd, const char *id,
                                                 bool check, unsigned long *count_r);

/* queue_worklist_free - free the entries (not their parked turns). */
void queue_worklist_free(struct queue_worklist *wl);

#endif
