/* auth/auth_threads.h - the auth process's fixed pool of threads that run the
 * blocking directory calls (libldap is synchronous), fed from the event loop
 * and answering through an eventfd the loop watches, so one slow LDAP answer
 * never stalls the loop or the other requests. It owns the threads and the
 * two queues; what a task does is the caller's. */
#ifndef DIRMAIL_AUTH_THREADS_H
#define DIRMAIL_AUTH_THREADS_H

#include <stddef.h>

/* Embed first in the caller's task struct. */
struct auth_task {
    struct auth_task *next;
};

/* Runs on a pool thread: do the blocking work and store the result in the
 * task. It must not touch the event loop or anything the loop owns. */
typedef void auth_task_fn(void *ctx, struct auth_task *task);

struct auth_threads;

/* auth_threads_new - start count threads running fn(ctx, task). NULL on
 * failure (errno set); no thread is left running then. */
struct auth_threads *auth_threads_new(unsigned count, auth_task_fn *fn, void *ctx);

/* auth_threads_fd - readable when finished tasks wait (an eventfd). */
int auth_threads_fd(const struct auth_threads *t);

/* auth_threads_submit - queue task for the next free thread. */
void auth_threads_submit(struct auth_threads *t, struct auth_task *task);

/* auth_threads_take_done - the finished tasks (in finishing order) as a
 * list linked by next, or NULL; resets the eventfd. Loop thread only. */
struct auth_task *auth_threads_take_done(struct auth_threads *t);

/* auth_threads_free - let the threads finish the queued tasks, join them,
 * and free; finished tasks not taken are left to the caller to have taken
 * first (call auth_threads_take_done). NULLs *t. */
void auth_threads_free(struct auth_threads **t);

#endif
