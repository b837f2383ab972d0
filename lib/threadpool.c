/* lib/threadpool.c - see threadpool.h. One mutex guards two FIFO lists: jobs
 * waiting for a thread and jobs finished waiting for the loop. A finished
 * job writes the eventfd; the loop drains the counter and runs every finished
 * job's done in submission order of completion. */
#include "config.h"

#include "lib/threadpool.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "lib/event.h"

struct job {
    threadpool_work_fn *work;
    threadpool_done_fn *done;
    void *arg;
    struct job *next;
};

struct job_list {
    struct job *head, *tail;
};

struct threadpool {
    struct event_loop *loop;
    struct event_io *io;
    int efd;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    struct job_list waiting, finished;
    bool stopping;
    unsigned pending;
    pthread_t *threads;
    unsigned thread_count;
};

static void list_push(struct job_list *l, struct job *j)
{
    j->next = NULL;
    if (l->tail != NULL)
        l->tail->next = j;
    else
        l->head = j;
    l->tail = j;
}

static struct job *list_pop(struct job_list *l)
{
    struct job *j = l->head;
    if (j != NULL) {
        l->head = j->next;
        if (l->head == NULL)
            l->tail = NULL;
    }
    return j;
}

/* pool_thread - take waiting jobs until stopping and none is left. */
static void *pool_thread(void *ctx)
{
    struct threadpool *pool = ctx;
    pthread_mutex_lock(&pool->lock);
    for (;;) {
        struct job *j = list_pop(&pool->waiting);
        if (j == NULL) {
            if (pool->stopping)
                break;
            pthread_cond_wait(&pool->wake, &pool->lock);
            continue;
        }
        pthread_mutex_unlock(&pool->lock);
        j->work(j->arg);
        pthread_mutex_lock(&pool->lock);
        list_push(&pool->finished, j);
        uint64_t one = 1;
        /* The counter cannot overflow in practice; EAGAIN would only mean
         * the loop is already due to wake. */
        while (write(pool->efd, &one, sizeof one) < 0 && errno == EINTR)
            ;
    }
    pthread_mutex_unlock(&pool->lock);
    return NULL;
}

/* run_finished - on the loop thread: call done for every finished job. */
static void run_finished(struct threadpool *pool)
{
    for (;;) {
        pthread_mutex_lock(&pool->lock);
        struct job *j = list_pop(&pool->finished);
        pthread_mutex_unlock(&pool->lock);
        if (j == NULL)
            return;
        pool->pending--;
        j->done(j->arg);
        free(j);
    }
}

static void eventfd_ready(void *ctx, unsigned events)
{
    struct threadpool *pool = ctx;
    uint64_t count;
    (void)events;
    while (read(pool->efd, &count, sizeof count) < 0 && errno == EINTR)
        ;
    run_finished(pool);
}

static void stop_threads(struct threadpool *pool)
{
    pthread_mutex_lock(&pool->lock);
    pool->stopping = true;
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->lock);
    for (unsigned i = 0; i < pool->thread_count; i++)
        pthread_join(pool->threads[i], NULL);
    pool->thread_count = 0;
}

struct threadpool *threadpool_new(struct event_loop *loop, unsigned threads, const char **error_r)
{
    if (threads == 0)
        threads = 1;
    struct threadpool *pool = calloc(1, sizeof *pool);
    if (pool == NULL || (pool->threads = calloc(threads, sizeof *pool->threads)) == NULL) {
        free(pool);
        *error_r = "out of memory";
        return NULL;
    }
    pool->loop = loop;
    pool->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (pool->efd < 0) {
        free(pool->threads);
        free(pool);
        *error_r = "eventfd failed";
        return NULL;
    }
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->wake, NULL);
    pool->io = event_io_add(loop, pool->efd, EVENT_READ, eventfd_ready, pool);
    if (pool->io == NULL) {
        *error_r = "cannot watch the eventfd";
        goto fail;
    }
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    for (unsigned i = 0; i < threads; i++) {
        if (pthread_create(&pool->threads[i], NULL, pool_thread, pool) != 0) {
            pthread_sigmask(SIG_SETMASK, &old, NULL);
            *error_r = "cannot start a thread";
            goto fail;
        }
        pool->thread_count++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return pool;
fail:
    stop_threads(pool);
    event_io_remove(&pool->io);
    close(pool->efd);
    pthread_mutex_destroy(&pool->lock);
    pthread_cond_destroy(&pool->wake);
    free(pool->threads);
    free(pool);
    return NULL;
}

int threadpool_submit(struct threadpool *pool, threadpool_work_fn *work, threadpool_done_fn *done,
                      void *arg)
{
    struct job *j = malloc(sizeof *j);
    if (j == NULL)
        return -1;
    j->work = work;
    j->done = done;
    j->arg = arg;
    pthread_mutex_lock(&pool->lock);
    list_push(&pool->waiting, j);
    pool->pending++;
    pthread_cond_signal(&pool->wake);
    pthread_mutex_unlock(&pool->lock);
    return 0;
}

unsigned threadpool_pending(const struct threadpool *pool)
{
    return pool->pending;
}

void threadpool_free(struct threadpool **poolp)
{
    struct threadpool *pool = *poolp;
    if (pool == NULL)
        return;
    /* The threads drain the waiting list before they see stopping. */
    stop_threads(pool);
    run_finished(pool);
    event_io_remove(&pool->io);
    close(pool->efd);
    pthread_mutex_destroy(&pool->lock);
    pthread_cond_destroy(&pool->wake);
    free(pool->threads);
    free(pool);
    *poolp = NULL;
}
