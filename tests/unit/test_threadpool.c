/* tests/unit/test_threadpool.c - lib/threadpool.c: work runs off the loop
 * thread, done runs on it (woken through the eventfd), free drains. */
#include "config.h"

#include "lib/event.h"
#include "lib/threadpool.h"
#include "tests/unit/tap_main.h"

#include <pthread.h>
#include <stdbool.h>
#include <unistd.h>

#define JOBS 200

struct job {
    struct event_loop *loop;
    pthread_t loop_thread;
    pthread_t work_thread;
    bool done_on_loop;
    int value;
    int *done_count;
};

static void work(void *arg)
{
    struct job *j = arg;
    j->work_thread = pthread_self();
    usleep(100);
    j->value *= 2;
}

static void done(void *arg)
{
    struct job *j = arg;
    j->done_on_loop = pthread_equal(pthread_self(), j->loop_thread);
    if (++*j->done_count == JOBS)
        event_loop_stop(j->loop);
}

START_TEST(work_off_loop_done_on_loop)
{
    struct event_loop *loop = event_loop_new();
    const char *error = NULL;
    struct threadpool *pool = threadpool_new(loop, 3, &error);
    ck_assert_ptr_nonnull(pool);
    static struct job jobs[JOBS];
    int count = 0;
    for (int i = 0; i < JOBS; i++) {
        jobs[i] = (struct job){loop, pthread_self(), 0, false, i, &count};
        ck_assert_int_eq(threadpool_submit(pool, work, done, &jobs[i]), 0);
    }
    ck_assert_int_eq(event_loop_run(loop), 0);
    ck_assert_int_eq(count, JOBS);
    ck_assert_uint_eq(threadpool_pending(pool), 0);
    for (int i = 0; i < JOBS; i++) {
        ck_assert_int_eq(jobs[i].value, 2 * i);
        ck_assert(jobs[i].done_on_loop);
        ck_assert(!pthread_equal(jobs[i].work_thread, pthread_self()));
    }
    threadpool_free(&pool);
    ck_assert_ptr_null(pool);
    event_loop_free(&loop);
}
END_TEST

START_TEST(free_finishes_queued_jobs)
{
    struct event_loop *loop = event_loop_new();
    const char *error = NULL;
    struct threadpool *pool = threadpool_new(loop, 1, &error);
    ck_assert_ptr_nonnull(pool);
    static struct job jobs[JOBS];
    int count = 0;
    for (int i = 0; i < JOBS; i++) {
        jobs[i] = (struct job){loop, pthread_self(), 0, false, i, &count};
        ck_assert_int_eq(threadpool_submit(pool, work, done, &jobs[i]), 0);
    }
    threadpool_free(&pool);
    ck_assert_int_eq(count, JOBS);
    for (int i = 0; i < JOBS; i++)
        ck_assert(jobs[i].done_on_loop);
    event_loop_free(&loop);
}
END_TEST

static Suite *threadpool_suite(void)
{
    Suite *s = suite_create("threadpool");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, work_off_loop_done_on_loop);
    tcase_add_test(tc, free_finishes_queued_jobs);
    suite_add_tcase(s, tc);
    return s;
}

TAP_MAIN(threadpool_suite)
