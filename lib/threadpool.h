/* lib/threadpool.h - a small fixed set of threads per process for the blocking
 * calls that must not run on the event loop (Cyrus SASL steps, fsync of queue
 * files: doc/concurrency.md). A job's work runs on a pool thread; its done
 * callback then runs on the loop thread, woken through an eventfd. The pool
 * never touches what a job points at except by calling its two functions. */
#ifndef DIRMAIL_THREADPOOL_H
#define DIRMAIL_THREADPOOL_H

struct event_loop;
struct threadpool;

/* threadpool_work_fn - runs on a pool thread; must not touch loop state. */
typedef void threadpool_work_fn(void *arg);
/* threadpool_done_fn - runs on the loop thread after work returned. */
typedef void threadpool_done_fn(void *arg);

/* threadpool_new - threads (at least 1) started now, with every signal
 * blocked (signals belong to the loop's signalfd). NULL on failure with a
 * static *error_r. */
struct threadpool *threadpool_new(struct event_loop *loop, unsigned threads, const char **error_r);

/* threadpool_submit - queue a job (no bound: callers bound what they queue,
 * one job per session at most). 0, or -1 out of memory (nothing queued). */
int threadpool_submit(struct threadpool *pool, threadpool_work_fn *work, threadpool_done_fn *done,
                      void *arg);

/* threadpool_pending - jobs submitted whose done has not run yet. */
unsigned threadpool_pending(const struct threadpool *pool);

/* threadpool_free - finish every queued job (work, then done on the calling
 * thread), stop the threads, free; NULLs *pool. Call from the loop thread. */
void threadpool_free(struct threadpool **pool);

#endif
