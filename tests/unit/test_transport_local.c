/* tests/unit/test_transport_local.c - gateway/transport_local.c: a job's
 * recipients are written at once and final at the flush (sharing the
 * batch), each result reaches its recipient through finished, a second
 * attempt that checks finds what the first delivered instead of writing it
 * again, a recipient without a mailbox fails at once, and a job larger
 * than a batch is carried whole. */
#include "config.h"

#include "delivery/local_delivery.h"
#include "gateway/transport_local.h"
#include "queue/queue_inject.h"
#include "tap_main.h"
#include "temp_dir.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char base[256], spool[300], boxes[300];
static struct queue *q;
static struct transport *local;
static int finished_count;

static const char message[] = "Subject: hi\r\n\r\nbody\r\n";

static void setup(void)
{
    char *error = NULL;
    temp_dir_make(base, sizeof base, "test_transport_local");
    snprintf(spool, sizeof spool, "%s/queue", base);
    snprintf(boxes, sizeof boxes, "%s/mail", base);
    ck_assert_int_eq(mkdir(boxes, 0700), 0);
    ck_assert_msg(queue_open(spool, &q, &error) == 0, "queue_open: %s", error);
    static struct config conf;
    conf = (struct config){0};
    conf.delivery.mailbox_base = boxes;
    conf.delivery.sync_method = DELIVERY_SYNC_FSYNC;
    conf.server.hostname = (char *)"mx.example.org";
    local = transport_local_new(&conf, q);
    ck_assert_ptr_nonnull(local);
    finished_count = 0;
}

static void teardown(void)
{
    transport_free(&local);
    ck_assert_ptr_null(local);
    queue_close(&q);
    temp_dir_remove(base);
}

/* spooled - a message for count recipients r<k>@example.org; its envelope. */
static struct queue_envelope *spooled(size_t count)
{
    char *error = NULL, addr[64];
    struct queue_envelope *env = queue_envelope_new();
    ck_assert_ptr_nonnull(env);
    for (size_t k = 0; k < count; k++) {
        snprintf(addr, sizeof addr, "r%zu@example.org", k);
        ck_assert_int_eq(queue_envelope_add_recipient(env, addr, 0, NULL, &error), 0);
    }
    struct queue_inject *inj = queue_inject_begin(q, QUEUE_ORIGIN_CLIENT, &error);
    ck_assert_ptr_nonnull(inj);
    ck_assert_int_eq(queue_inject_write(inj, message, sizeof message - 1, &error), 0);
    ck_assert_msg(queue_inject_commit(&inj, env, &error) == 0, "commit: %s", error);
    return env;
}

static void on_finished(struct transport_job *job, size_t k)
{
    ck_assert_ptr_eq(job->ctx, &finished_count);
    ck_assert_int_ne(job->rcpts[k].state, QUEUE_RCPT_PENDING);
    finished_count++;
}

/* job_for - a job to every recipient of env; routes[k] with entries[k] as
 * LOCAL routes to the default mailbox of r<k>@example.org. */
static struct transport_job job_for(const struct queue_envelope *env, struct transport_rcpt *rcpts,
                                    struct queue_route *routes, struct auth_recipient *entries,
                                    bool check)
{
    for (size_t k = 0; k < env->rcpt_count; k++) {
        entries[k] =
            (struct auth_recipient){.kind = AUTH_KIND_LOCAL, .primary = env->rcpts[k].address};
        routes[k] = (struct queue_route){.kind = QUEUE_ROUTE_LOCAL, .entry = &entries[k]};
        rcpts[k] = (struct transport_rcpt){.index = k, .route = &routes[k]};
    }
    return (struct transport_job){.queue = q,
                                  .id = env->id,
                                  .env = env,
                                  .check = check,
                                  .rcpts = rcpts,
                                  .count = env->rcpt_count,
                                  .finished = on_finished,
                                  .ctx = &finished_count};
}

static int files_in(const char *local_part, const char *sub)
{
    char path[512];
    snprintf(path, sizeof path, "%s/example.org/%s/Maildir/%s", boxes, local_part, sub);
    return temp_dir_count(path);
}

START_TEST(job_is_written_at_once_and_final_at_flush)
{
    struct queue_envelope *env = spooled(3);
    struct transport_rcpt rcpts[3];
    struct queue_route routes[3];
    struct auth_recipient entries[3];
    struct transport_job job = job_for(env, rcpts, routes, entries, false);
    ck_assert_str_eq(transport_name(local), "local");
    transport_deliver(local, &job);
    for (size_t k = 0; k < 3; k++)
        ck_assert_int_eq(rcpts[k].state, QUEUE_RCPT_PENDING);
    ck_assert_int_eq(finished_count, 0);
    ck_assert_int_eq(files_in("r0", "tmp"), 1);
    ck_assert_int_eq(files_in("r0", "new"), 0);
    ck_assert(!transport_full(local));
    transport_flush(local);
    ck_assert_int_eq(finished_count, 3);
    for (size_t k = 0; k < 3; k++) {
        char who[8];
        snprintf(who, sizeof who, "r%zu", k);
        ck_assert_int_eq(rcpts[k].state, QUEUE_RCPT_DELIVERED);
        ck_assert_int_eq(files_in(who, "new"), 1);
        ck_assert_int_eq(files_in(who, "tmp"), 0);
    }
    queue_envelope_free(&env);
}
END_TEST

START_TEST(second_attempt_with_check_finds_the_first)
{
    struct queue_envelope *env = spooled(2);
    struct transport_rcpt rcpts[2];
    struct queue_route routes[2];
    struct auth_recipient entries[2];
    struct transport_job job = job_for(env, rcpts, routes, entries, false);
    transport_deliver(local, &job);
    transport_flush(local);
    /* the results were never recorded (a kill): the next attempt checks */
    job = job_for(env, rcpts, routes, entries, true);
    transport_deliver(local, &job);
    transport_flush(local);
    ck_assert_int_eq(finished_count, 4);
    ck_assert_int_eq(rcpts[0].state, QUEUE_RCPT_DELIVERED);
    ck_assert_int_eq(rcpts[1].state, QUEUE_RCPT_DELIVERED);
    ck_assert_int_eq(files_in("r0", "new"), 1);
    ck_assert_int_eq(files_in("r1", "new"), 1);
    queue_envelope_free(&env);
}
END_TEST

START_TEST(recipient_without_mailbox_is_final_at_once)
{
    struct queue_envelope *env = spooled(2);
    struct transport_rcpt rcpts[2];
    struct queue_route routes[2];
    struct auth_recipient entries[2];
    struct transport_job job = job_for(env, rcpts, routes, entries, false);
    entries[1].primary = "no-domain"; /* no default mailbox can be derived */
    transport_deliver(local, &job);
    ck_assert_int_eq(finished_count, 1);
    ck_assert_int_eq(rcpts[0].state, QUEUE_RCPT_PENDING);
    ck_assert_int_eq(rcpts[1].state, QUEUE_RCPT_DEFERRED);
    ck_assert_str_eq(strtok(rcpts[1].reply, " "), "4.3.5");
    transport_flush(local);
    ck_assert_int_eq(finished_count, 2);
    ck_assert_int_eq(rcpts[0].state, QUEUE_RCPT_DELIVERED);
    queue_envelope_free(&env);
}
END_TEST

START_TEST(job_larger_than_a_batch_is_carried_whole)
{
    enum { N = LOCAL_BATCH_MAX + 4 };
    struct queue_envelope *env = spooled(N);
    struct transport_rcpt rcpts[N];
    struct queue_route routes[N];
    struct auth_recipient entries[N];
    struct transport_job job = job_for(env, rcpts, routes, entries, false);
    ck_assert_int_eq(local->max_rcpts, LOCAL_BATCH_MAX);
    transport_deliver(local, &job);
    /* the first batch was settled to make room */
    ck_assert_int_eq(finished_count, LOCAL_BATCH_MAX);
    ck_assert_int_eq(rcpts[0].state, QUEUE_RCPT_DELIVERED);
    ck_assert_int_eq(rcpts[N - 1].state, QUEUE_RCPT_PENDING);
    transport_flush(local);
    ck_assert_int_eq(finished_count, N);
    for (size_t k = 0; k < N; k++)
        ck_assert_int_eq(rcpts[k].state, QUEUE_RCPT_DELIVERED);
    queue_envelope_free(&env);
}
END_TEST

START_TEST(full_after_a_batch)
{
    struct queue_envelope *env = spooled(LOCAL_BATCH_MAX);
    struct transport_rcpt rcpts[LOCAL_BATCH_MAX];
    struct queue_route routes[LOCAL_BATCH_MAX];
    struct auth_recipient entries[LOCAL_BATCH_MAX];
    struct transport_job job = job_for(env, rcpts, routes, entries, false);
    transport_deliver(local, &job);
    ck_assert(transport_full(local));
    transport_flush(local);
    ck_assert(!transport_full(local));
    ck_assert_int_eq(finished_count, LOCAL_BATCH_MAX);
    queue_envelope_free(&env);
}
END_TEST

static Suite *transport_local_suite(void)
{
    Suite *s = suite_create("transport_local");
    TCase *tc = tcase_create("local");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, job_is_written_at_once_and_final_at_flush);
    tcase_add_test(tc, second_attempt_with_check_finds_the_first);
    tcase_add_test(tc, recipient_without_mailbox_is_final_at_once);
    tcase_add_test(tc, job_larger_than_a_batch_is_carried_whole);
    tcase_add_test(tc, full_after_a_batch);
    suite_add_tcase(s, tc);
    return s;
}

TAP_MAIN(transport_local_suite)
