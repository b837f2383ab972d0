/* auth/auth_threads.c - see auth_threads.h. One mutex guards both queues;
 * the work itself runs outside it. */
#include "config.h"

#include "auth/auth_threads.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct auth_threads {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    struct auth_task *todo_head, *todo_tail;
    struct auth_task *done_head, *done_tail;
    bool stopping;
    int efd;
    auth_task_fn *fn;
    void *ctx;
    pthread_t *threads;
    unsigned count;
};

static void *thread_main(void *arg)
{
    struct auth_threads *t = arg;
    pthread_mutex_lock(&t->lock);
    for (;;) {
        while (t->todo_head == NULL && !t->stopping)
            pthread_cond_wait(&t->wake, &t->lock);
        struct auth_task *task = t->todo_head;
        if (task == NULL)
            break; /* stopping and nothing left */
        t->todo_head = task->next;
        if (t->todo_head == NULL)
            t->todo_tail = NULL;
        pthread_mutex_unlock(&t->lock);

        t->fn(t->ctx, task);

        pthread_mutex_lock(&t->lock);
        task->next = NULL;
        bool was_empty = t->done_head == NULL;
        if (t->done_tail != NULL)
            t->done_tail->next = task;
        else
            t->done_head = task;
        t->done_tail = task;
        if (was_empty) {
            /* One wake-up per batch: the loop takes the whole list. */
            uint64_t one = 1;
            ssize_t n = write(t->efd, &one, sizeof one);
            (void)n; /* an eventfd counter cannot overflow at our rate */
        }
    }
    pthread_mutex_unlock(&t->lock);
    return NULL;
}

struct auth_threads *auth_threads_new(unsigned count, auth_task_fn *fn, void *ctx)
{
    struct auth_threads *t = calloc(1, sizeof *t);
    if (t == NULL)
        return NULL;
    t->fn = fn;
    t->ctx = ctx;
    t->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    t->threads = calloc(count, sizeof *t->threads);
    if (t->efd < 0 || t->threads == NULL || pthread_mutex_init(&t->lock, NULL) != 0) {
        int saved = errno;
        if (t->efd >= 0)
            close(t->efd);
        free(t->threads);
        free(t);
        errno = saved;
        return NULL;
    }
    pthread_cond_init(&t->wake, NULL);
    /* Signals belong to the loop (signalfd): the threads block them all. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    for (; t->count < count; t->count++) {
        int err = pthread_create(&t->threads[t->count], NULL, thread_main, t);
        if (err != 0) {
            pthread_sigmask(SIG_SETMASK, &old, NULL);
            auth_threads_free(&t);
            errno = err;
            return NULL;
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return t;
}

int auth_threads_fd(const struct auth_threads *t)
{
    return t->efd;
}

void auth_threads_submit(struct auth_threads *t, struct auth_task *task)
{
    task->next = NULL;
    pthread_mutex_lock(&t->lock);
    if (t->todo_tail != NULL)
        t->todo_tail->next = task;
    else
        t->todo_head = task;
    t->todo_tail = task;
    pthread_cond_signal(&t->wake);
    pthread_mutex_unlock(&t->lock);
}

struct auth_task *auth_threads_take_done(struct auth_threads *t)
{
    uint64_t v;
    ssize_t n = read(t->efd, &v, sizeof v); /* EAGAIN: nothing signalled */
    (void)n;
    pthread_mutex_lock(&t->lock);
    struct auth_task *list = t->done_head;
    t->done_head = t->done_tail = NULL;
    pthread_mutex_unlock(&t->lock);
    return list;
}

void auth_threads_free(struct auth_threads **tp)
{
    struct auth_threads *t = *tp;
    if (t == NULL)
        return;
    pthread_mutex_lock(&t->lock);
    t->stopping = true;
    pthread_cond_broadcast(&t->wake);
    pthread_mutex_unlock(&t->lock);
    for (unsigned i = 0; i < t->count; i++)
        pthread_join(t->threads[i], NULL);
    pthread_cond_destroy(&t->wake);
    pthread_mutex_destroy(&t->lock);
    close(t->efd);
    free(t->threads);
    free(t);
    *tp = NULL;
}
