/* gateway/queue_runner.c - see queue_runner.h: the scheduler.
 *
 * Threads: the main thread owns the event loop (SIGTERM as a signalfd, the
 * inotify watch, the scan timer) and the work list; queue.delivery_threads
 * delivery threads share the runner's struct queue (thread-safe, queue.h;
 * sharing it lets their removals share each fsync of active/), each own an
 * auth client connection and a local transport, and make one attempt at a
 * time (gateway/queue_attempt.h: route, expand, group by route, hand each
 * group to its transport, record). The main thread hands a message to an
 * idle thread only after claiming it in the work list (job.busy), and
 * clears the claim when the thread reports back through an eventfd, so one
 * message is never in two threads. On SIGTERM nothing new is handed out;
 * the loop stops once every thread has finished the messages in hand.
 *
 * Work list: every spool id the runner knows, with the wall-clock time its
 * next recipient is due (0: now), kept sorted by id. It is filled by a full
 * queue_scan at start and every queue.scan_interval seconds, and by an
 * inotify watch on active/ (a spool file renamed in is a new message, from
 * the SMTP session or an expansion: both inject through queue_inject).
 * The list itself is queue_worklist.h.
 *
 * Attempts: a thread takes up to QUEUE_ATTEMPT_MAX due messages at once
 * (they pile up only under load: one that arrives while a thread is idle
 * goes alone), so that their local deliveries share the local transport's
 * fsyncs.
 *
 * Exactly once after a crash: a message found by the runner's first scan
 * may follow an attempt that delivered without recording (a runner that
 * died), and so may one whose mark failed (job.check): its attempt looks
 * for each recipient's stable-named Maildir file before writing
 * (transport_local.c). The cost stays off the normal path. */
#include "config.h"

#include "gateway/queue_runner.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "auth/auth_client.h"
#include "delivery/local_delivery.h"
#include "gateway/queue_attempt.h"
#include "gateway/queue_runner_control.h"
#include "gateway/queue_worklist.h"
#include "gateway/transport_local.h"
#include "gateway/transport_smtp.h"
#include "gateway/worker.h"
#include "lib/event.h"
#include "lib/log.h"
#include "queue/queue.h"

/* How long to wait between attempts to take the spool lock. */
#define LOCK_RETRY_MS 200
/* The process name (prctl) tests and ps show for the runner. */
#define RUNNER_PROC_NAME "dirmail-queue"
/* Spool debris older than this was never acknowledged: the DATA timeouts
 * (RFC 5321 4.5.3.2, 10 minutes at most) are long over. */
#define CLEANUP_GRACE 3600
#define CLEANUP_INTERVAL 3600
/* Messages handed to a delivery thread at once. */
#define BATCH_MAX QUEUE_ATTEMPT_MAX
/* Messages in flight on the network at once (parked, queue_attempt.h): past
 * it the runner hands out nothing new until some finish, so what the
 * network transports hold, and what a crash leaves unrecorded, is bounded. */
#define PARKED_MAX 4096

struct runner;

/* One delivery thread. task_count, done, ids and the hand-over of res are
 * under runner.mutex; during a task ids and res belong to the thread alone. */
struct deliverer {
    struct runner *r;
    pthread_t thread;
    bool thread_started;
    bool assigned; /* main thread only: handed messages, report not yet applied */
    pthread_cond_t cond;
    bool done;
    size_t task_count;
    /* parked turns whose jobs all finished: to record before the ids */
    struct queue_attempt_turn *finish[BATCH_MAX];
    size_t finish_count;
    size_t finished_count; /* of them recorded, reported with done */
    char ids[BATCH_MAX][QUEUE_ID_SIZE];
    bool check[BATCH_MAX]; /* job.check of each */
    bool force[BATCH_MAX]; /* job.force of each */
    struct queue_attempt_result res[BATCH_MAX];
    struct queue_attempt_ctx attempt; /* the thread's auth client and transports */
    struct local_delivery_config local;
};

struct runner {
    const struct config *conf;
    struct event_loop *loop;
    struct event_signal *sigterm;
    struct event_timer *lock_timer, *scan_timer, *work_timer;
    struct event_io *inotify_io, *wake_io;
    int inotify_fd;
    int wake_fd; /* eventfd: a delivery thread finished a message */
    int lock_fd;
    char *spool;
    char *auth_path;
    unsigned auth_timeout_ms;
    struct queue *queue; /* cleanup and scans here, and every delivery thread's */
    struct queue_worklist work;
    struct queue_runner_control *control; /* dirmailctl's socket */
    struct deliverer *workers;
    size_t worker_count, in_flight;
    /* The one transport for other nodes and relays, shared by every thread
     * (asynchronous: its jobs park their turns); NULL: none configured. */
    struct transport *network;
    size_t parked_count; /* jobs with a turn */
    pthread_mutex_t mutex;
    /* under mutex: parked turns whose jobs all finished, told on the
     * transport's thread (room for PARKED_MAX: never full) */
    struct queue_attempt_turn **done_turns;
    size_t done_count;
    bool quit; /* under mutex: delivery threads exit */
    bool stopping;
    bool started;
    bool scanned; /* a full scan succeeded: what scans find now is new */
    time_t last_cleanup;
};

char *queue_runner_spool_path(const struct config *conf)
{
    return config_state_path(conf, CONFIG_STATE_QUEUE);
}

/* attempt - one attempt on the thread's first count messages. */
static void attempt(struct deliverer *w, size_t count)
{
    struct queue_attempt_msg msgs[BATCH_MAX];
    for (size_t k = 0; k < count; k++)
        msgs[k] = (struct queue_attempt_msg){
            .id = w->ids[k], .check = w->check[k], .force = w->force[k], .res = &w->res[k]};
    queue_attempt_run(&w->attempt, msgs, count);
}

/* deliverer_main - a delivery thread: wait for messages, attempt them,
 * report through the eventfd; until quit. SIGTERM stays blocked here
 * (inherited mask): the main thread's signalfd takes it. */
static void *deliverer_main(void *arg)
{
    struct deliverer *w = arg;
    struct runner *r = w->r;
    pthread_mutex_lock(&r->mutex);
    for (;;) {
        while (w->task_count == 0 && w->finish_count == 0 && !r->quit)
            pthread_cond_wait(&w->cond, &r->mutex);
        if (w->task_count == 0 && w->finish_count == 0)
            break;
        size_t count = w->task_count, finish = w->finish_count;
        pthread_mutex_unlock(&r->mutex);

        if (finish > 0)
            queue_attempt_finish(&w->attempt, w->finish, finish);
        if (count > 0)
            attempt(w, count);

        pthread_mutex_lock(&r->mutex);
        w->task_count = 0;
        w->finished_count = finish;
        w->finish_count = 0;
        w->done = true;
        uint64_t one = 1;
        while (write(r->wake_fd, &one, sizeof one) < 0 && errno == EINTR)
            ;
    }
    pthread_mutex_unlock(&r->mutex);
    return NULL;
}

/* ---- dispatching (main thread) ---- */

static void dispatch(struct runner *r);

static void work(void *ctx)
{
    dispatch(ctx);
}

/* arm - wake up at the wall-clock time due (0: no timer needed). */
static void arm(struct runner *r, time_t due)
{
    if (due == 0) {
        event_timer_remove(&r->work_timer);
        return;
    }
    time_t now = time(NULL);
    uint64_t ms = due <= now ? 0 : (uint64_t)(due - now) * 1000;
    if (r->work_timer != NULL) {
        event_timer_reset(r->work_timer, ms);
        return;
    }
    r->work_timer = event_timer_add(r->loop, ms, work, r);
    if (r->work_timer == NULL)
        log_error("event=runner_timer_failed error=\"out of memory\"");
}

/* hand_over - wake wk on its first count ids. */
static void hand_over(struct runner *r, struct deliverer *wk, size_t count)
{
    pthread_mutex_lock(&r->mutex);
    wk->task_count = count;
    pthread_cond_signal(&wk->cond);
    pthread_mutex_unlock(&r->mutex);
}

/* dispatch - hand due, unclaimed messages to idle threads, up to
 * BATCH_MAX each (one pass over the list from where the last pass stopped,
 * so every message gets its turn); then arm the timer for the next due one
 * if a thread stays idle. Batches form only under load: a message that
 * arrives while a thread is idle goes out alone at once. */
/* idle_worker - a thread with nothing in hand, now assigned; NULL: none. */
static struct deliverer *idle_worker(struct runner *r)
{
    if (r->in_flight == r->worker_count)
        return NULL;
    size_t w = 0;
    while (r->workers[w].assigned)
        w++; /* in_flight < worker_count: an idle one exists */
    r->workers[w].assigned = true;
    r->in_flight++;
    return &r->workers[w];
}

/* dispatch_finishes - hand parked turns whose jobs all finished to idle
 * threads to record; also while stopping, so what the network did is not
 * done again after the restart. */
static void dispatch_finishes(struct runner *r)
{
    for (;;) {
        pthread_mutex_lock(&r->mutex);
        /* Only turns whose parking the work list has seen (job.turn): the
         * thread that parked one may not have reported yet when its jobs
         * finish. */
        struct deliverer *wk = NULL;
        size_t n = 0, kept = 0;
        for (size_t i = 0; i < r->done_count; i++) {
            struct queue_attempt_turn *turn = r->done_turns[i];
            struct queue_worklist_job *job =
                queue_worklist_find(&r->work, queue_attempt_turn_id(turn));
            bool ready = job != NULL && job->turn == turn;
            if (ready && n < BATCH_MAX && (wk != NULL || (wk = idle_worker(r)) != NULL))
                wk->finish[n++] = turn;
            else
                r->done_turns[kept++] = turn;
        }
        r->done_count = kept;
        if (wk == NULL) {
            pthread_mutex_unlock(&r->mutex);
            return;
        }
        wk->finish_count = n;
        pthread_cond_signal(&wk->cond);
        pthread_mutex_unlock(&r->mutex);
        if (n < BATCH_MAX)
            return;
    }
}

static void dispatch(struct runner *r)
{
    if (!r->started)
        return;
    dispatch_finishes(r);
    if (r->stopping)
        return;
    time_t now = time(NULL), earliest = 0;
    size_t seen = 0;
    struct deliverer *wk = NULL;
    size_t batch = 0;
    /* Every thread's next attempt may park a whole batch. */
    if (r->parked_count + r->worker_count * BATCH_MAX >= PARKED_MAX) {
        arm(r, 0); /* the network's completions call dispatch again */
        return;
    }
    while (seen < r->work.count && (wk != NULL || r->in_flight < r->worker_count)) {
        if (r->work.cursor >= r->work.count)
            r->work.cursor = 0;
        struct queue_worklist_job *job = &r->work.jobs[r->work.cursor++];
        seen++;
        if (job->busy || job->gone)
            continue;
        if (job->due > now) {
            if (earliest == 0 || job->due < earliest)
                earliest = job->due;
            continue;
        }
        if (wk == NULL) {
            wk = idle_worker(r);
            batch = 0;
        }
        job->busy = true;
        wk->check[batch] = job->check;
        wk->force[batch] = job->force;
        job->force = false;
        memcpy(wk->ids[batch++], job->id, QUEUE_ID_SIZE);
        if (batch == BATCH_MAX) {
            hand_over(r, wk, batch);
            wk = NULL;
        }
    }
    if (wk != NULL)
        hand_over(r, wk, batch);
    /* All threads busy: their reports call dispatch again. Otherwise the
     * pass saw every job, so earliest is the next due time. */
    arm(r, r->in_flight < r->worker_count ? earliest : 0);
}

/* apply - an attempt's result res for job (NULL: no longer known), cleared
 * afterwards. A parked message stays claimed, its turn kept. */
static void apply(struct runner *r, struct queue_worklist_job *job,
                  struct queue_attempt_result *res)
{
    if (job != NULL && res->parked != NULL) {
        job->turn = res->parked;
        r->parked_count++;
    } else if (job != NULL) {
        job->busy = false;
        job->check = res->uncertain;
        job->held = res->held;
        if (res->gone)
            queue_worklist_drop(&r->work, job);
        else
            job->due = job->force && !job->held ? 0 : res->due; /* flushed meanwhile */
    }
    for (size_t n = 0; n < res->new_count; n++) {
        if (queue_worklist_add(&r->work, res->new_ids[n], false) < 0)
            log_warning("id=%s event=job_add_failed error=\"out of memory\"", res->new_ids[n]);
    }
    queue_attempt_result_clear(res);
}

/* on_turn_done - queue_attempt_parked_fn, on the transport's thread: queue
 * the turn for a delivery thread to record, wake the main thread. */
static void on_turn_done(void *arg, struct queue_attempt_turn *turn)
{
    struct runner *r = arg;
    pthread_mutex_lock(&r->mutex);
    r->done_turns[r->done_count++] = turn;
    pthread_mutex_unlock(&r->mutex);
    uint64_t one = 1;
    while (write(r->wake_fd, &one, sizeof one) < 0 && errno == EINTR)
        ;
}

/* on_wake - apply what the delivery threads finished. */
static void on_wake(void *ctx, unsigned events)
{
    struct runner *r = ctx;
    uint64_t count;
    (void)events;
    if (read(r->wake_fd, &count, sizeof count) < 0)
        return; /* EAGAIN: already seen */
    for (size_t i = 0; i < r->worker_count; i++) {
        struct deliverer *wk = &r->workers[i];
        pthread_mutex_lock(&r->mutex);
        bool done = wk->done;
        wk->done = false;
        pthread_mutex_unlock(&r->mutex);
        if (!done)
            continue;
        /* ids, res and finish are the thread's own until it reports
         * done, and stay untouched until it is handed new ones */
        wk->assigned = false;
        r->in_flight--;
        for (size_t k = 0; k < wk->finished_count; k++) {
            struct queue_attempt_turn *turn = wk->finish[k];
            struct queue_worklist_job *job =
                queue_worklist_find(&r->work, queue_attempt_turn_id(turn));
            if (job != NULL && job->turn == turn) {
                job->turn = NULL;
                r->parked_count--;
                apply(r, job, queue_attempt_turn_result(turn));
            }
            queue_attempt_turn_free(&turn);
        }
        wk->finished_count = 0;
        for (size_t k = 0; k < BATCH_MAX && wk->ids[k][0] != '\0'; k++) {
            struct queue_attempt_result *res = &wk->res[k];
            apply(r, queue_worklist_find(&r->work, wk->ids[k]), res);
            wk->ids[k][0] = '\0';
        }
    }
    dispatch(r);
    if (r->stopping && r->in_flight == 0)
        event_loop_stop(r->loop);
}

/* scan - add every spool id not yet known (start and backstop). */
static void scan(struct runner *r)
{
    char **ids = NULL, *error = NULL;
    size_t count = 0, added = 0;
    if (queue_scan(r->queue, &ids, &count, &error) < 0) {
        char quoted[512];
        log_error("event=queue_scan_failed error=%s",
                  log_quote(quoted, sizeof quoted, error != NULL ? error : "out of memory"));
        free(error);
        return;
    }
    /* Until a full scan has worked, a message may be one a runner before
     * this one was delivering when it died. */
    size_t i;
    for (i = 0; i < count; i++) {
        size_t before = queue_worklist_pending(&r->work);
        if (queue_worklist_add(&r->work, ids[i], !r->scanned) < 0) {
            log_error("event=queue_scan_failed error=\"out of memory\"");
            break;
        }
        added += queue_worklist_pending(&r->work) - before;
    }
    queue_ids_free(&ids, count);
    if (i == count)
        r->scanned = true;
    log_debug("event=queue_scan messages=%zu new=%zu", count, added);
    dispatch(r);
}

/* cleanup - delete what receivers that died left in the spool (tmp/ files,
 * status files without their message) once it is older than
 * CLEANUP_GRACE; at start and every CLEANUP_INTERVAL, so a worker killed
 * mid-DATA does not leave its file until the next restart. */
static unsigned cleanup(struct runner *r)
{
    char quoted[600], *error = NULL;
    unsigned removed = 0;
    r->last_cleanup = time(NULL);
    if (queue_cleanup(r->queue, CLEANUP_GRACE, &removed, &error) < 0) {
        log_error("event=queue_cleanup_failed error=%s",
                  log_quote(quoted, sizeof quoted, error != NULL ? error : "out of memory"));
        free(error);
    } else if (removed > 0) {
        log_info("event=queue_cleanup removed=%u", removed);
    }
    return removed;
}

static void scan_tick(void *ctx)
{
    struct runner *r = ctx;
    scan(r);
    if (time(NULL) - r->last_cleanup >= CLEANUP_INTERVAL)
        cleanup(r);
    event_timer_reset(r->scan_timer, r->conf->queue.scan_interval * 1000ull);
}

/* on_inotify - a spool file renamed into active/ is a new message. */
static void on_inotify(void *ctx, unsigned events)
{
    struct runner *r = ctx;
    char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
    bool rescan = false;
    (void)events;
    for (;;) {
        ssize_t n = read(r->inotify_fd, buf, sizeof buf);
        if (n <= 0)
            break;
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *ev = (const struct inotify_event *)p;
            p += sizeof *ev + ev->len;
            if (ev->mask & IN_Q_OVERFLOW) {
                rescan = true;
                continue;
            }
            /* A spool file renamed in is a new message; .st files are not. */
            if (ev->len == 0 || !queue_id_valid(ev->name))
                continue;
            if (queue_worklist_add(&r->work, ev->name, !r->scanned) < 0)
                rescan = true; /* out of memory: the scan timer finds it later */
        }
    }
    if (rescan)
        scan(r);
    else
        dispatch(r);
}

/* on_control - queue_runner_control_fn: a request from dirmailctl, on the
 * main thread, which owns the work list. */
static enum queue_control_answer on_control(void *ctx, enum queue_control_cmd cmd, const char *id,
                                            unsigned long *count_r)
{
    struct runner *r = ctx;
    enum queue_control_answer a = queue_worklist_control(&r->work, cmd, id, !r->scanned, count_r);
    if (cmd != QUEUE_CONTROL_HOLD)
        transport_retry_now(r->network); /* a destination backed off is tried too */
    dispatch(r);
    return a;
}

/* ---- the process ---- */

static void on_sigterm(void *ctx, int signo)
{
    struct runner *r = ctx;
    (void)signo;
    log_info("event=queue_runner_stopping pending=%zu in_flight=%zu",
             queue_worklist_pending(&r->work), r->in_flight);
    r->stopping = true;
    event_timer_remove(&r->work_timer);
    /* Done turns still to record keep threads busy a little longer; jobs in
     * flight on the network are abandoned (stop_workers). */
    dispatch_finishes(r);
    if (r->in_flight == 0)
        event_loop_stop(r->loop);
}

/* start_workers - the delivery threads, sharing the runner's spool handle,
 * each with its own auth connection. 0, or -1 (logged). */
static int start_workers(struct runner *r)
{
    r->worker_count = r->conf->queue.delivery_threads > 0 ? r->conf->queue.delivery_threads : 1;
    r->workers = calloc(r->worker_count, sizeof *r->workers);
    if (r->workers == NULL) {
        log_error("event=queue_runner_failed error=\"out of memory\"");
        return -1;
    }
    for (size_t i = 0; i < r->worker_count; i++) {
        struct deliverer *w = &r->workers[i];
        w->r = r;
        if (pthread_cond_init(&w->cond, NULL) != 0) {
            log_error("event=queue_runner_failed error=\"pthread_cond_init\"");
            return -1;
        }
        w->local = (struct local_delivery_config){
            .mailbox_base = r->conf->delivery.mailbox_base,
            .hostname = r->conf->server.hostname,
            .sync_method = r->conf->delivery.sync_method,
        };
        /* One struct queue for all: their removals share each fsync of
         * active/ (queue_remove's group commit); one network transport
         * for all. Without one, recipients on other nodes and relays
         * wait, deferred. */
        w->attempt = (struct queue_attempt_ctx){
            .conf = r->conf,
            .spool = r->spool,
            .queue = r->queue,
            .auth = auth_client_new(r->auth_path, r->auth_timeout_ms),
            .transports = {[QUEUE_ROUTE_LOCAL] = transport_local_new(r->conf, r->queue),
                           [QUEUE_ROUTE_NODE] = r->network,
                           [QUEUE_ROUTE_RELAY] = r->network},
            .parked_done = on_turn_done,
            .parked_arg = r,
        };
        if (w->attempt.auth == NULL || w->attempt.transports[QUEUE_ROUTE_LOCAL] == NULL) {
            log_error("event=queue_runner_failed error=\"out of memory\"");
            return -1;
        }
        int err = pthread_create(&w->thread, NULL, deliverer_main, w);
        if (err != 0) {
            log_error("event=queue_runner_failed error=\"pthread_create: %s\"", strerror(err));
            return -1;
        }
        w->thread_started = true;
    }
    return 0;
}

/* stop_workers - let every delivery thread finish and join it; then
 * abandon what is in flight on the network. A message whose results are
 * not recorded is attempted again after the restart: a peer that had
 * accepted it before we closed the connection gets it twice (RFC 5321
 * 6.1's duplicate, which Postfix accepts in the same case), never lost. */
static void stop_workers(struct runner *r)
{
    if (r->workers == NULL)
        return;
    pthread_mutex_lock(&r->mutex);
    r->quit = true;
    for (size_t i = 0; i < r->worker_count; i++)
        pthread_cond_signal(&r->workers[i].cond);
    pthread_mutex_unlock(&r->mutex);
    for (size_t i = 0; i < r->worker_count; i++) {
        if (r->workers[i].thread_started)
            pthread_join(r->workers[i].thread, NULL);
    }
    /* No finished is called once it is freed: then the turns are ours. */
    transport_free(&r->network);
    size_t abandoned = 0;
    for (size_t i = 0; i < r->work.count; i++) {
        if (r->work.jobs[i].turn != NULL) {
            queue_attempt_turn_free(&r->work.jobs[i].turn);
            abandoned++;
        }
    }
    if (abandoned > 0)
        log_info("event=queue_runner_abandoned messages=%zu", abandoned);
    r->done_count = 0;
    for (size_t i = 0; i < r->worker_count; i++) {
        struct deliverer *w = &r->workers[i];
        for (size_t k = 0; k < BATCH_MAX; k++)
            queue_attempt_result_clear(&w->res[k]);
        auth_client_free(&w->attempt.auth);
        transport_free(&w->attempt.transports[QUEUE_ROUTE_LOCAL]);
        w->attempt.queue = NULL; /* the runner's, closed by its owner */
        pthread_cond_destroy(&w->cond);
    }
    free(r->workers);
    r->workers = NULL;
    r->worker_count = 0;
}

/* begin - with the spool lock held: cleanup, threads, watch, first scan. */
static int begin(struct runner *r)
{
    unsigned removed = cleanup(r);
    r->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (r->wake_fd < 0) {
        log_error("event=queue_runner_failed error=\"eventfd: %s\"", strerror(errno));
        return -1;
    }
    r->wake_io = event_io_add(r->loop, r->wake_fd, EVENT_READ, on_wake, r);
    if (r->wake_io == NULL) {
        log_error("event=queue_runner_failed error=\"out of memory\"");
        return -1;
    }
    r->done_turns = calloc(PARKED_MAX, sizeof *r->done_turns);
    if (r->done_turns == NULL) {
        log_error("event=queue_runner_failed error=\"out of memory\"");
        return -1;
    }
    char *terror = NULL, quoted[600];
    r->network = transport_smtp_new(r->conf, &terror);
    if (r->network == NULL) {
        /* Recipients on other nodes and relays wait, deferred; local
         * delivery goes on. */
        log_error("event=smtp_transport_failed error=%s",
                  log_quote(quoted, sizeof quoted, terror != NULL ? terror : "out of memory"));
        free(terror);
    }
    if (start_workers(r) < 0)
        return -1;
    char active[PATH_MAX];
    int n = snprintf(active, sizeof active, "%s/active", r->spool);
    if (n < 0 || (size_t)n >= sizeof active)
        return -1;
    r->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (r->inotify_fd < 0 || inotify_add_watch(r->inotify_fd, active, IN_MOVED_TO) < 0) {
        log_error("event=queue_runner_failed error=\"inotify %s: %s\"", active, strerror(errno));
        return -1;
    }
    r->inotify_io = event_io_add(r->loop, r->inotify_fd, EVENT_READ, on_inotify, r);
    r->scan_timer = event_timer_add(r->loop, r->conf->queue.scan_interval * 1000ull, scan_tick, r);
    if (r->inotify_io == NULL || r->scan_timer == NULL) {
        log_error("event=queue_runner_failed error=\"out of memory\"");
        return -1;
    }
    /* After the lock: the runner that holds the spool answers, never one
     * of an older generation still finishing. */
    char *control_path = config_state_path(r->conf, CONFIG_STATE_QUEUE_CONTROL), *cerror = NULL;
    r->control = control_path != NULL
                     ? queue_runner_control_open(r->loop, control_path, on_control, r, &cerror)
                     : NULL;
    if (r->control == NULL) {
        /* dirmailctl's hold and release records still count; flush waits */
        log_error("event=queue_control_failed error=%s",
                  log_quote(quoted, sizeof quoted, cerror != NULL ? cerror : "out of memory"));
    }
    free(cerror);
    free(control_path);
    r->started = true;
    scan(r);
    log_info("event=queue_runner_started spool=%s messages=%zu cleaned=%u threads=%zu "
             "delivery_sync=%s",
             r->spool, queue_worklist_pending(&r->work), removed, r->worker_count,
             config_delivery_sync_name(r->conf->delivery.sync_method));
    return 0;
}

/* try_lock - take the spool lock, or try again shortly (a runner of the
 * previous generation is finishing its messages). */
static void try_lock(void *ctx)
{
    struct runner *r = ctx;
    event_timer_remove(&r->lock_timer);
    if (flock(r->lock_fd, LOCK_EX | LOCK_NB) == 0) {
        if (begin(r) < 0)
            exit(1);
        return;
    }
    if (errno != EWOULDBLOCK && errno != EINTR) {
        log_error("event=queue_runner_failed error=\"lock: %s\"", strerror(errno));
        exit(1);
    }
    r->lock_timer = event_timer_add(r->loop, LOCK_RETRY_MS, try_lock, r);
    if (r->lock_timer == NULL)
        exit(1);
}

static void runner_free(struct runner *r)
{
    queue_runner_control_free(&r->control);
    stop_workers(r);
    event_timer_remove(&r->lock_timer);
    event_timer_remove(&r->scan_timer);
    event_timer_remove(&r->work_timer);
    event_io_remove(&r->inotify_io);
    event_io_remove(&r->wake_io);
    event_signal_remove(&r->sigterm);
    if (r->inotify_fd >= 0)
        close(r->inotify_fd);
    if (r->wake_fd >= 0)
        close(r->wake_fd);
    if (r->lock_fd >= 0)
        close(r->lock_fd);
    queue_close(&r->queue);
    queue_worklist_free(&r->work);
    free(r->done_turns);
    free(r->spool);
    free(r->auth_path);
    pthread_mutex_destroy(&r->mutex);
    event_loop_free(&r->loop);
}

void queue_runner_main(const struct queue_runner_params *params)
{
    pid_t master = getppid();
    worker_close_fds_except(NULL, 0);
    /* closing the fds took syslog's socket too: open it again */
    log_set_ident("dirmaild/queue");
    prctl(PR_SET_NAME, RUNNER_PROC_NAME);

    if (privdrop_child_begin(params->ids, master) < 0)
        _exit(1);
    signal(SIGINT, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    signal(SIGCHLD, SIG_DFL);
    signal(SIGPIPE, SIG_IGN); /* the SMTP client's TLS writes (lib/conn.h) */

    struct runner r = {.conf = params->config, .inotify_fd = -1, .wake_fd = -1, .lock_fd = -1};
    char *error = NULL, quoted[600];
    if (pthread_mutex_init(&r.mutex, NULL) != 0)
        _exit(1);
    r.loop = event_loop_new();
    r.spool = queue_runner_spool_path(params->config);
    if (r.loop == NULL || r.spool == NULL) {
        log_error("event=queue_runner_failed error=\"out of memory\"");
        _exit(1);
    }
    r.sigterm = event_signal_add(r.loop, SIGTERM, on_sigterm, &r);
    if (r.sigterm == NULL) {
        log_error("event=queue_runner_failed error=\"signal: %s\"", strerror(errno));
        _exit(1);
    }
    /* Blocked before any delivery thread exists, so they inherit it and
     * only the signalfd sees SIGTERM. */
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigprocmask(SIG_SETMASK, &mask, NULL);

    if (queue_open(r.spool, &r.queue, &error) < 0) {
        log_error("event=queue_runner_failed error=%s",
                  log_quote(quoted, sizeof quoted, error != NULL ? error : "out of memory"));
        _exit(1);
    }
    /* The auth process's own LDAP timeouts come first; this is the bound
     * on a lost or stuck auth process. */
    const struct config_ldap *ldap = &params->config->ldap;
    r.auth_timeout_ms = (ldap->connect_timeout + ldap->timeout + 1) * 1000;
    if ((r.auth_path = config_state_path(params->config, CONFIG_STATE_AUTH_SOCKET)) == NULL) {
        log_error("event=queue_runner_failed error=\"auth client: out of memory\"");
        _exit(1);
    }
    char lock_path[PATH_MAX];
    int n = snprintf(lock_path, sizeof lock_path, "%s/runner.lock", r.spool);
    if (n < 0 || (size_t)n >= sizeof lock_path ||
        (r.lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600)) < 0) {
        log_error("event=queue_runner_failed error=\"%s: %s\"", lock_path, strerror(errno));
        _exit(1);
    }
    try_lock(&r);

    int status = event_loop_run(r.loop) == 0 ? 0 : 1;
    runner_free(&r);
    log_info("event=queue_runner_exit status=%d", status);
    exit(status);
}
