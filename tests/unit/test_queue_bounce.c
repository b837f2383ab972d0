/* tests/unit/test_queue_bounce.c - gateway/queue_bounce.c on a real spool:
 * a failure is reported in one DSN from the null sender to the original
 * sender, committed before the hook returns; NOTIFY=NEVER and the null
 * sender get none (the latter logs bounce_dropped); max_age turns every
 * waiting recipient into a 4.4.7 failure; the delay warning is sent once
 * and recorded so that a reload of the envelope does not send it again;
 * RET=HDRS and a message over bounce_size_limit carry the header only. */
#include "config.h"

#include "gateway/queue_bounce.h"
#include "log_capture.h"
#include "proto/delivery_status.h"
#include "queue/queue_inject.h"
#include "tap_main.h"
#include "temp_dir.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char base[200], dir[256];
static struct queue *q;
static struct config conf;

static const char message[] = "From: s@example.net\r\nSubject: hi\r\n\r\nbody line\r\n.\r\n";

static void setup(void)
{
    char *error = NULL;
    temp_dir_make(base, sizeof base, "test_queue_bounce");
    snprintf(dir, sizeof dir, "%s/queue", base);
    ck_assert_msg(queue_open(dir, &q, &error) == 0, "queue_open: %s", error);
    conf = (struct config){0};
    conf.server.hostname = (char *)"mx.example.org";
    conf.queue.max_age = 3600;
    conf.queue.delay_warning = 600;
    conf.queue.bounce_size_limit = 50000;
    conf.queue.retry_min = 60;
    conf.queue.retry_max = 600;
    log_init(LOG_TARGET_STDERR, "test_queue_bounce", LOG_LEVEL_DEBUG);
}

static void teardown(void)
{
    queue_close(&q);
    temp_dir_remove(base);
}

/* spool - commit message from sender to rcpts (NOTIFY notify each); the id. */
static struct queue_envelope *spool(const char *sender, unsigned notify, enum queue_ret ret,
                                    const char *body, size_t nrcpt)
{
    char *error = NULL;
    struct queue_envelope *env = queue_envelope_new();
    ck_assert_int_eq(queue_envelope_set(&env->sender, sender), 0);
    env->ret = ret;
    for (size_t i = 0; i < nrcpt; i++) {
        char rcpt[64];
        snprintf(rcpt, sizeof rcpt, "r%zu@example.org", i);
        ck_assert_int_eq(queue_envelope_add_recipient(env, rcpt, notify, NULL, &error), 0);
    }
    struct queue_inject *inj = queue_inject_begin(q, QUEUE_ORIGIN_CLIENT, &error);
    ck_assert_ptr_nonnull(inj);
    ck_assert_int_eq(queue_inject_write(inj, body, strlen(body), &error), 0);
    ck_assert_msg(queue_inject_commit(&inj, env, &error) == 0, "commit: %s", error);
    return env;
}

/* others - the ids in the spool other than id; count returned. */
static size_t others(const char *id, char found[][QUEUE_ID_SIZE], size_t max)
{
    char **ids = NULL, *error = NULL;
    size_t count = 0, n = 0;
    ck_assert_int_eq(queue_scan(q, &ids, &count, &error), 0);
    for (size_t i = 0; i < count; i++) {
        if (strcmp(ids[i], id) != 0 && n < max)
            memcpy(found[n++], ids[i], QUEUE_ID_SIZE);
    }
    queue_ids_free(&ids, count);
    return n;
}

static char *message_of(const char *id)
{
    int fd;
    uint64_t len;
    char *error = NULL;
    ck_assert_int_eq(queue_open_message(q, id, &fd, &len, &error), 0);
    char *text = calloc(1, len + 1);
    ck_assert_int_eq(read(fd, text, len), (ssize_t)len);
    close(fd);
    return text;
}

struct rcpts {
    struct queue_bounce_rcpt r[4];
    char replies[4][DELIVERY_STATUS_TEXT_MAX];
};

static void rcpts_init(struct rcpts *rs, size_t n, enum queue_rcpt_state state, const char *reply)
{
    memset(rs, 0, sizeof *rs);
    for (size_t i = 0; i < n; i++) {
        snprintf(rs->replies[i], sizeof rs->replies[i], "%s", reply);
        rs->r[i] = (struct queue_bounce_rcpt){
            .tried = true, .state = state, .reply = rs->replies[i], .local = true};
    }
}

START_TEST(test_failure_one_dsn_to_sender)
{
    struct queue_envelope *env = spool("s@example.net", 0, QUEUE_RET_UNSET, message, 2);
    struct rcpts rs;
    rcpts_init(&rs, 2, QUEUE_RCPT_FAILED, "5.3.5 mailbox unusable: x");
    queue_bounce_attempt(&conf, q, env->id, env, rs.r, time(NULL));
    /* still failed: the DSN was queued */
    ck_assert_int_eq(rs.r[0].state, QUEUE_RCPT_FAILED);
    ck_assert_int_eq(rs.r[1].state, QUEUE_RCPT_FAILED);
    char found[4][QUEUE_ID_SIZE], *error = NULL;
    ck_assert_uint_eq(others(env->id, found, 4), 1);
    struct queue_envelope *denv = NULL;
    ck_assert_int_eq(queue_load_envelope(q, found[0], &denv, &error), 0);
    ck_assert_str_eq(denv->sender, "");
    ck_assert_uint_eq(denv->rcpt_count, 1);
    ck_assert_str_eq(denv->rcpts[0].address, "s@example.net");
    ck_assert_str_eq(denv->client_helo, "dirmail-bounce");
    char *text = message_of(found[0]);
    ck_assert_ptr_nonnull(strstr(text, "Final-Recipient: rfc822; r0@example.org\r\n"));
    ck_assert_ptr_nonnull(strstr(text, "Final-Recipient: rfc822; r1@example.org\r\n"));
    ck_assert_ptr_nonnull(strstr(text, "Content-Type: message/rfc822\r\n\r\n"));
    ck_assert_ptr_nonnull(strstr(text, message)); /* whole, under the size limit */
    free(text);
    queue_envelope_free(&denv);
    queue_envelope_free(&env);
}
END_TEST

START_TEST(test_never_and_null_sender)
{
    struct queue_envelope *env =
        spool("s@example.net", QUEUE_NOTIFY_NEVER, QUEUE_RET_UNSET, message, 1);
    struct rcpts rs;
    char found[4][QUEUE_ID_SIZE];
    rcpts_init(&rs, 1, QUEUE_RCPT_FAILED, "5.1.1 gone");
    queue_bounce_attempt(&conf, q, env->id, env, rs.r, time(NULL));
    ck_assert_int_eq(rs.r[0].state, QUEUE_RCPT_FAILED);
    ck_assert_uint_eq(others(env->id, found, 4), 0);
    queue_envelope_free(&env);

    env = spool("", 0, QUEUE_RET_UNSET, message, 1);
    rcpts_init(&rs, 1, QUEUE_RCPT_FAILED, "5.1.1 gone");
    struct log_capture cap;
    log_capture_begin(&cap);
    queue_bounce_attempt(&conf, q, env->id, env, rs.r, time(NULL));
    const char *log = log_capture_end(&cap);
    ck_assert_int_eq(rs.r[0].state, QUEUE_RCPT_FAILED);
    ck_assert_msg(strstr(log, "event=bounce_dropped rcpt=r0@example.org reason=null_sender") !=
                      NULL,
                  "log: %s", log);
    /* the first message (NEVER) and this one: nothing else */
    char **ids = NULL, *error = NULL;
    size_t count = 0;
    ck_assert_int_eq(queue_scan(q, &ids, &count, &error), 0);
    ck_assert_uint_eq(count, 2);
    queue_ids_free(&ids, count);
    queue_envelope_free(&env);
}
END_TEST

START_TEST(test_max_age_fails_waiting_with_4_4_7)
{
    struct queue_envelope *env = spool("s@example.net", 0, QUEUE_RET_HDRS, message, 3);
    struct rcpts rs;
    rcpts_init(&rs, 3, QUEUE_RCPT_DEFERRED, "4.4.0 awaiting outbound transport (relay.example)");
    rs.r[1].state = QUEUE_RCPT_DELIVERED;
    rs.r[1].reply[0] = '\0';
    rs.r[2].tried = false; /* not due in this attempt: still deferred in the envelope */
    env->rcpts[2].state = QUEUE_RCPT_DEFERRED;
    queue_bounce_attempt(&conf, q, env->id, env, rs.r, env->arrival + 3601);
    ck_assert_int_eq(rs.r[0].state, QUEUE_RCPT_FAILED);
    ck_assert_str_eq(rs.r[0].reply, "4.4.7 delivery time expired: 4.4.0 awaiting outbound "
                                    "transport (relay.example)");
    ck_assert_int_eq(rs.r[1].state, QUEUE_RCPT_DELIVERED);
    ck_assert(rs.r[2].tried);
    ck_assert_int_eq(rs.r[2].state, QUEUE_RCPT_FAILED);
    ck_assert_str_eq(rs.r[2].reply, "4.4.7 delivery time expired: never tried");
    char found[4][QUEUE_ID_SIZE];
    ck_assert_uint_eq(others(env->id, found, 4), 1);
    char *text = message_of(found[0]);
    ck_assert_ptr_nonnull(strstr(text, "Final-Recipient: rfc822; r0@example.org\r\n"
                                       "Action: failed\r\nStatus: 4.4.7\r\n"));
    ck_assert_ptr_nonnull(strstr(text, "Final-Recipient: rfc822; r2@example.org\r\n"));
    ck_assert_ptr_null(strstr(text, "r1@example.org\r\n")); /* delivered: not in it */
    /* RET=HDRS: the header section only */
    ck_assert_ptr_nonnull(strstr(text, "Content-Type: text/rfc822-headers\r\n"));
    ck_assert_ptr_null(strstr(text, "body line"));
    free(text);
    queue_envelope_free(&env);
}
END_TEST

START_TEST(test_delay_warning_once)
{
    struct queue_envelope *env = spool("s@example.net", 0, QUEUE_RET_UNSET, message, 2);
    struct rcpts rs;
    char found[4][QUEUE_ID_SIZE], *error = NULL;
    rcpts_init(&rs, 2, QUEUE_RCPT_DEFERRED, "4.2.2 mailbox full: over quota");
    /* too early: nothing */
    queue_bounce_attempt(&conf, q, env->id, env, rs.r, env->arrival + 599);
    ck_assert_uint_eq(others(env->id, found, 4), 0);
    queue_bounce_attempt(&conf, q, env->id, env, rs.r, env->arrival + 600);
    ck_assert_int_eq(rs.r[0].state, QUEUE_RCPT_DEFERRED);
    ck_assert_uint_eq(others(env->id, found, 4), 1);
    char *text = message_of(found[0]);
    ck_assert_ptr_nonnull(strstr(text, "Subject: Delayed Mail (still being retried)\r\n"));
    ck_assert_ptr_nonnull(strstr(text, "Action: delayed\r\n"));
    ck_assert_ptr_nonnull(strstr(text, "Will-Retry-Until: "));
    free(text);
    /* recorded: the envelope as the next attempt loads it says so */
    struct queue_envelope *again = NULL;
    ck_assert_int_eq(queue_load_envelope(q, env->id, &again, &error), 0);
    ck_assert(again->rcpts[0].delay_warned && again->rcpts[1].delay_warned);
    queue_bounce_attempt(&conf, q, env->id, again, rs.r, env->arrival + 1200);
    ck_assert_uint_eq(others(env->id, found, 4), 1);
    queue_envelope_free(&again);
    queue_envelope_free(&env);
    /* delay_warning = 0: none */
    conf.queue.delay_warning = 0;
    env = spool("s@example.net", 0, QUEUE_RET_UNSET, message, 1);
    queue_bounce_attempt(&conf, q, env->id, env, rs.r, env->arrival + 3000);
    ck_assert_uint_eq(others(env->id, found, 4), 2);
    queue_envelope_free(&env);
}
END_TEST

START_TEST(test_success_and_size_limit)
{
    conf.queue.bounce_size_limit = 10; /* the message is larger: header only */
    struct queue_envelope *env =
        spool("s@example.net", QUEUE_NOTIFY_SUCCESS, QUEUE_RET_FULL, message, 2);
    struct rcpts rs;
    char found[4][QUEUE_ID_SIZE];
    rcpts_init(&rs, 2, QUEUE_RCPT_DELIVERED, "");
    rs.r[1].local = false;
    rs.r[1].expanded = true;
    queue_bounce_attempt(&conf, q, env->id, env, rs.r, time(NULL));
    ck_assert_uint_eq(others(env->id, found, 4), 1);
    char *text = message_of(found[0]);
    ck_assert_ptr_nonnull(strstr(text, "Subject: Successful Mail Delivery Report\r\n"));
    ck_assert_ptr_nonnull(strstr(text, "r0@example.org\r\nAction: delivered\r\nStatus: 2.0.0\r\n"));
    ck_assert_ptr_nonnull(strstr(text, "r1@example.org\r\nAction: expanded\r\nStatus: 2.0.0\r\n"));
    ck_assert_ptr_nonnull(strstr(text, "Content-Type: text/rfc822-headers\r\n"));
    ck_assert_ptr_null(strstr(text, "body line"));
    free(text);
    queue_envelope_free(&env);
}
END_TEST

static Suite *queue_bounce_suite(void)
{
    Suite *s = suite_create("queue_bounce");
    TCase *tc = tcase_create("bounce");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_failure_one_dsn_to_sender);
    tcase_add_test(tc, test_never_and_null_sender);
    tcase_add_test(tc, test_max_age_fails_waiting_with_4_4_7);
    tcase_add_test(tc, test_delay_warning_once);
    tcase_add_test(tc, test_success_and_size_limit);
    suite_add_tcase(s, tc);
    return s;
}

TAP_MAIN(queue_bounce_suite)
