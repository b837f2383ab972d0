/* tests/unit/test_queue_attempt.c - gateway/queue_attempt.c with an
 * asynchronous transport (transport.h's contract): a fake that keeps every
 * job and finishes it later on a thread of its own, and a fake auth server
 * that routes every recipient to the relay named by its domain. What is
 * proved: an attempt whose jobs are in flight returns at once with the
 * message parked and nothing recorded; the runner is told once, on the
 * transport's thread, only after the last job of the message finished;
 * queue_attempt_finish then records every result (removal when all are
 * delivered, DEFERRED with a retry time and FAILED kept otherwise); a
 * parked turn that is abandoned (transport freed first) leaves the spool as
 * it was, so the message is attempted again. */
#include "config.h"

#include "gateway/queue_attempt.h"
#include "queue/queue_inject.h"
#include "tap_main.h"
#include "temp_dir.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* ---- a fake auth server: RESOLVE x@host -> relay to host ---- */

static int listen_fd = -1;
static pthread_t server_thread;

static int read_line(int fd, char *buf, size_t size)
{
    size_t n = 0;
    for (;;) {
        char c;
        ssize_t r = read(fd, &c, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        if (c == '\n')
            break;
        if (n + 1 < size)
            buf[n++] = c;
    }
    buf[n] = '\0';
    return 0;
}

static void *server_main(void *arg)
{
    (void)arg;
    int fd = accept(listen_fd, NULL, NULL); /* one client: the attempt's */
    if (fd < 0)
        return NULL;
    char line[1024], reply[1100];
    while (read_line(fd, line, sizeof line) == 0) {
        unsigned long id = 0;
        char addr[256] = "";
        if (sscanf(line, "%lu RESOLVE %255s", &id, addr) != 2)
            break;
        const char *at = strchr(addr, '@');
        int n = snprintf(reply, sizeof reply, "%lu FOUND kind=relay address=%s next_hop=%s\n", id,
                         addr, at != NULL ? at + 1 : "none");
        if (n > 0 && write(fd, reply, (size_t)n) != n)
            break;
    }
    close(fd);
    return NULL;
}

/* ---- a fake asynchronous transport ---- */

#define FAKE_JOBS 8

struct fake {
    struct transport base;
    pthread_mutex_t lock;
    struct transport_job *jobs[FAKE_JOBS];
    size_t count;
};

static void fake_deliver(struct transport *t, struct transport_job *job)
{
    struct fake *f = (struct fake *)t;
    pthread_mutex_lock(&f->lock);
    ck_assert_uint_lt(f->count, FAKE_JOBS);
    f->jobs[f->count++] = job;
    pthread_mutex_unlock(&f->lock);
}

static void fake_flush(struct transport *t)
{
    (void)t; /* asynchronous: nothing finishes here */
}

static bool fake_full(const struct transport *t)
{
    (void)t;
    return false;
}

static void fake_free(struct transport *t)
{
    struct fake *f = (struct fake *)t;
    pthread_mutex_destroy(&f->lock);
    free(f);
}

static const struct transport_ops fake_ops = {.name = "fake",
                                              .deliver = fake_deliver,
                                              .flush = fake_flush,
                                              .full = fake_full,
                                              .free = fake_free};

/* What the finishing thread does to one job. */
struct finishing {
    struct transport_job *job;
    const enum delivery_status *statuses; /* per recipient; NULL: all delivered */
};

static void *finisher_main(void *arg)
{
    struct finishing *fin = arg;
    struct transport_job *job = fin->job;
    size_t count = job->count; /* the job is not ours after the last finished */
    for (size_t k = 0; k < count; k++) {
        if (fin->statuses == NULL) {
            job->rcpts[k].state = QUEUE_RCPT_DELIVERED;
            job->rcpts[k].reply[0] = '\0';
        } else {
            transport_result_set(&job->rcpts[k], fin->statuses[job->rcpts[k].index],
                                 "peer said no");
        }
        job->finished(job, k);
    }
    return NULL;
}

/* finish - finish fake job j on a thread of its own, and wait for it. */
static void finish(struct fake *f, size_t j, const enum delivery_status *statuses)
{
    pthread_mutex_lock(&f->lock);
    ck_assert_uint_lt(j, f->count);
    struct finishing fin = {f->jobs[j], statuses};
    pthread_mutex_unlock(&f->lock);
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, finisher_main, &fin), 0);
    ck_assert_int_eq(pthread_join(th, NULL), 0);
}

/* ---- the fixture ---- */

static char base[256], spool[300], sock_path[320];
static struct queue *q;
static struct config conf;
static struct queue_attempt_ctx ctx;
static struct fake *fake;

/* What the parked_done callback saw. */
static pthread_mutex_t told_lock = PTHREAD_MUTEX_INITIALIZER;
static int told_count;
static struct queue_attempt_turn *told_turn;
static pthread_t told_thread;

static void on_parked_done(void *arg, struct queue_attempt_turn *turn)
{
    ck_assert_ptr_eq(arg, &told_count);
    pthread_mutex_lock(&told_lock);
    told_count++;
    told_turn = turn;
    told_thread = pthread_self();
    pthread_mutex_unlock(&told_lock);
}

static void setup(void)
{
    char *error = NULL;
    signal(SIGPIPE, SIG_IGN);
    temp_dir_make(base, sizeof base, "test_queue_attempt");
    snprintf(spool, sizeof spool, "%s/queue", base);
    ck_assert_msg(queue_open(spool, &q, &error) == 0, "queue_open: %s", error);
    snprintf(sock_path, sizeof sock_path, "%s/auth.sock", base);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    ck_assert_uint_lt(strlen(sock_path), sizeof sun.sun_path);
    memcpy(sun.sun_path, sock_path, strlen(sock_path) + 1);
    listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(listen_fd, 0);
    ck_assert_int_eq(bind(listen_fd, (struct sockaddr *)&sun, sizeof sun), 0);
    ck_assert_int_eq(listen(listen_fd, 4), 0);
    ck_assert_int_eq(pthread_create(&server_thread, NULL, server_main, NULL), 0);

    conf = (struct config){0};
    conf.queue.retry_min = 60;
    conf.queue.retry_max = 3600;
    conf.queue.max_age = 5 * 86400;
    fake = calloc(1, sizeof *fake);
    ck_assert_ptr_nonnull(fake);
    fake->base = (struct transport){.ops = &fake_ops, .max_rcpts = 100};
    ck_assert_int_eq(pthread_mutex_init(&fake->lock, NULL), 0);
    ctx = (struct queue_attempt_ctx){
        .conf = &conf,
        .spool = spool,
        .queue = q,
        .auth = auth_client_new(sock_path, 5000),
        .transports = {[QUEUE_ROUTE_RELAY] = &fake->base},
        .parked_done = on_parked_done,
        .parked_arg = &told_count,
    };
    ck_assert_ptr_nonnull(ctx.auth);
    told_count = 0;
    told_turn = NULL;
}

static void teardown(void)
{
    auth_client_free(&ctx.auth); /* the server's read sees EOF */
    pthread_join(server_thread, NULL);
    close(listen_fd);
    if (fake != NULL)
        fake_free(&fake->base);
    fake = NULL;
    queue_close(&q);
    temp_dir_remove(base);
}

/* spooled - a message to the given recipients; its id into id. */
static void spooled(const char *const *rcpts, size_t count, char id[QUEUE_ID_SIZE])
{
    static const char message[] = "Subject: hi\r\n\r\nbody\r\n";
    char *error = NULL;
    struct queue_envelope *env = queue_envelope_new();
    ck_assert_ptr_nonnull(env);
    for (size_t k = 0; k < count; k++)
        ck_assert_int_eq(queue_envelope_add_recipient(env, rcpts[k], 0, NULL, &error), 0);
    struct queue_inject *inj = queue_inject_begin(q, QUEUE_ORIGIN_CLIENT, &error);
    ck_assert_ptr_nonnull(inj);
    ck_assert_int_eq(queue_inject_write(inj, message, sizeof message - 1, &error), 0);
    ck_assert_msg(queue_inject_commit(&inj, env, &error) == 0, "commit: %s", error);
    memcpy(id, env->id, QUEUE_ID_SIZE);
    queue_envelope_free(&env);
}

/* state_of - recipient k's state in the spool now (-1: the message is gone). */
static int state_of(const char *id, size_t k)
{
    struct queue_envelope *env = NULL;
    char *error = NULL;
    if (queue_load_envelope(q, id, &env, &error) < 0) {
        free(error);
        return -1;
    }
    ck_assert_uint_lt(k, env->rcpt_count);
    int state = (int)env->rcpts[k].state;
    queue_envelope_free(&env);
    return state;
}

static int told(void)
{
    pthread_mutex_lock(&told_lock);
    int n = told_count;
    pthread_mutex_unlock(&told_lock);
    return n;
}

/* attempt_parked - one attempt on id, which must come back parked. */
static struct queue_attempt_turn *attempt_parked(const char *id, struct queue_attempt_result *res)
{
    struct queue_attempt_msg msg = {.id = id, .res = res};
    queue_attempt_run(&ctx, &msg, 1);
    ck_assert_ptr_nonnull(res->parked);
    ck_assert_str_eq(queue_attempt_turn_id(res->parked), id);
    return res->parked;
}

START_TEST(test_parked_until_finished_then_removed)
{
    const char *rcpts[] = {"a@hop1.example", "b@hop1.example"};
    char id[QUEUE_ID_SIZE];
    spooled(rcpts, 2, id);
    struct queue_attempt_result res = {0};
    struct queue_attempt_turn *turn = attempt_parked(id, &res);
    /* one hop: one job with both; nothing recorded, nobody told yet */
    ck_assert_uint_eq(fake->count, 1);
    ck_assert_uint_eq(fake->jobs[0]->count, 2);
    ck_assert_int_eq(state_of(id, 0), QUEUE_RCPT_PENDING);
    ck_assert_int_eq(told(), 0);

    finish(fake, 0, NULL);
    ck_assert_int_eq(told(), 1);
    ck_assert_ptr_eq(told_turn, turn);
    ck_assert_msg(!pthread_equal(told_thread, pthread_self()), "told on the runner's thread");
    /* told is not recorded: the runner records */
    ck_assert_int_eq(state_of(id, 0), QUEUE_RCPT_PENDING);

    queue_attempt_finish(&ctx, &turn, 1);
    struct queue_attempt_result *done = queue_attempt_turn_result(turn);
    ck_assert(done->gone);
    ck_assert_ptr_null(done->parked);
    ck_assert_int_eq(state_of(id, 0), -1);
    queue_attempt_turn_free(&turn);
    ck_assert_ptr_null(turn);
    queue_attempt_result_clear(&res);
}
END_TEST

START_TEST(test_told_only_after_the_last_job)
{
    /* two hops: two jobs of the one message, finished one after the other */
    const char *rcpts[] = {"a@hop1.example", "b@hop2.example"};
    char id[QUEUE_ID_SIZE];
    spooled(rcpts, 2, id);
    struct queue_attempt_result res = {0};
    struct queue_attempt_turn *turn = attempt_parked(id, &res);
    ck_assert_uint_eq(fake->count, 2);
    static const enum delivery_status statuses[] = {DELIVERY_STATUS_DELIVERY_FAILED,
                                                    DELIVERY_STATUS_NO_SUCH_RECIPIENT};
    finish(fake, 0, statuses);
    ck_assert_int_eq(told(), 0);
    finish(fake, 1, statuses);
    ck_assert_int_eq(told(), 1);

    time_t before = time(NULL);
    queue_attempt_finish(&ctx, &turn, 1);
    struct queue_attempt_result *done = queue_attempt_turn_result(turn);
    ck_assert(!done->gone);
    ck_assert_int_ge(done->due, before + (time_t)conf.queue.retry_min);
    /* a@ deferred with its retry time, b@ failed: both in the status file */
    struct queue_envelope *env = NULL;
    char *error = NULL;
    ck_assert_int_eq(queue_load_envelope(q, id, &env, &error), 0);
    ck_assert_int_eq(env->rcpts[0].state, QUEUE_RCPT_DEFERRED);
    ck_assert_int_ge(env->rcpts[0].when, before + (time_t)conf.queue.retry_min);
    ck_assert_ptr_nonnull(strstr(env->rcpts[0].reply, "4.3.0 delivery failed: peer said no"));
    ck_assert_int_eq(env->rcpts[1].state, QUEUE_RCPT_FAILED);
    ck_assert_ptr_nonnull(strstr(env->rcpts[1].reply, "5.1.1"));
    queue_envelope_free(&env);
    queue_attempt_turn_free(&turn);
    queue_attempt_result_clear(&res);
}
END_TEST

START_TEST(test_abandoned_turn_leaves_spool_as_it_was)
{
    const char *rcpts[] = {"a@hop1.example"};
    char id[QUEUE_ID_SIZE];
    spooled(rcpts, 1, id);
    struct queue_attempt_result res = {0};
    struct queue_attempt_turn *turn = attempt_parked(id, &res);
    /* shutdown: the transport goes first (abandoning its job), then the turn */
    fake_free(&fake->base);
    fake = NULL;
    queue_attempt_turn_free(&turn);
    ck_assert_int_eq(told(), 0);
    ck_assert_int_eq(state_of(id, 0), QUEUE_RCPT_PENDING);
    queue_attempt_result_clear(&res);
}
END_TEST

START_TEST(test_no_job_no_park)
{
    /* without a transport for the route the attempt records at once, as
     * before: deferred, awaiting a transport */
    ctx.transports[QUEUE_ROUTE_RELAY] = NULL;
    const char *rcpts[] = {"a@hop1.example"};
    char id[QUEUE_ID_SIZE];
    spooled(rcpts, 1, id);
    struct queue_attempt_result res = {0};
    struct queue_attempt_msg msg = {.id = id, .res = &res};
    queue_attempt_run(&ctx, &msg, 1);
    ck_assert_ptr_null(res.parked);
    ck_assert(!res.gone);
    ck_assert_int_eq(state_of(id, 0), QUEUE_RCPT_DEFERRED);
    queue_attempt_result_clear(&res);
}
END_TEST

static Suite *queue_attempt_suite(void)
{
    Suite *s = suite_create("queue_attempt");
    TCase *tc = tcase_create("async");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_parked_until_finished_then_removed);
    tcase_add_test(tc, test_told_only_after_the_last_job);
    tcase_add_test(tc, test_abandoned_turn_leaves_spool_as_it_was);
    tcase_add_test(tc, test_no_job_no_park);
    suite_add_tcase(s, tc);
    return s;
}

TAP_MAIN(queue_attempt_suite)
