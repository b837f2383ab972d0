/* tests/unit/test_sasl_exchange.c - proto/sasl_exchange.c driving a real
 * Cyrus SASL server session (auth/sasl_server.c, PLAIN, a table of logins as
 * the password check) on a real event loop and thread pool: success with and
 * without an initial response, a bad password answered FAILED only after the
 * growing delay (and busy all through it), "*" cancels, bad base64, a check
 * that cannot answer is TEMPFAIL and not FAILED, the per-session and
 * per-address limits, the callback may free the exchange, and the log lines
 * the integration tests read. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/sasl_server.h"
#include "lib/clock.h"
#include "lib/event.h"
#include "lib/log.h"
#include "lib/threadpool.h"
#include "proto/conn_limit.h"
#include "proto/sasl_exchange.h"
#include "log_capture.h"
#include "tap_main.h"

#define CLIENT "198.51.100.7"
#define STEP_MS 60
/* base64 of "\0alice\0s3cret-Alice", "\0alice\0wrong", "\0down\0whatever" */
#define ALICE_OK "AGFsaWNlAHMzY3JldC1BbGljZQ=="
#define ALICE_BAD "AGFsaWNlAHdyb25n"
#define DOWN "AGRvd24Ad2hhdGV2ZXI="

static enum sasl_check_result table_check(void *context, const char *login, const char *password,
                                          const char *service)
{
    (void)context;
    (void)service;
    if (strcmp(login, "down") == 0)
        return SASL_CHECK_TEMPFAIL;
    return strcmp(login, "alice") == 0 && strcmp(password, "s3cret-Alice") == 0 ? SASL_CHECK_OK
                                                                                : SASL_CHECK_FAILED;
}

/* What one test's callbacks saw. */
static struct {
    struct event_loop *loop;
    struct threadpool *pool;
    struct conn_limit *limits;
    struct sasl_session *sasl;
    int calls;
    enum sasl_exchange_outcome last;
    struct sasl_exchange *free_me; /* freed inside the callback when set */
} t;

static void done(void *context, enum sasl_exchange_outcome outcome)
{
    ck_assert_ptr_eq(context, &t);
    ck_assert_int_ne(outcome, SASL_EXCHANGE_PENDING);
    t.calls++;
    t.last = outcome;
    if (t.free_me != NULL) {
        ck_assert(!sasl_exchange_busy(t.free_me)); /* nothing left to touch it */
        sasl_exchange_free(&t.free_me);
    }
    event_loop_stop(t.loop);
}

static void setup(void)
{
    memset(&t, 0, sizeof t);
    log_init(LOG_TARGET_STDERR, "test_sasl_exchange", LOG_LEVEL_DEBUG);
    static char *mechs[] = {"PLAIN"};
    struct config_sasl conf = {.mechanisms = mechs, .mechanism_count = 1};
    const char *error = NULL;
    ck_assert_msg(sasl_glue_init(&conf, table_check, NULL, &error) == 0, "%s", error);
    t.loop = event_loop_new();
    ck_assert_ptr_nonnull(t.loop);
    t.pool = threadpool_new(t.loop, 2, &error);
    ck_assert_ptr_nonnull(t.pool);
    char *lerr = NULL;
    t.limits = conn_limit_new(&lerr);
    ck_assert_msg(t.limits != NULL, "%s", lerr);
    t.sasl = sasl_session_new("imap", "mx.example.org", "192.0.2.1;993", CLIENT ";40000", true, 256,
                              &error);
    ck_assert_msg(t.sasl != NULL, "%s", error);
}

static void teardown(void)
{
    sasl_session_free(&t.sasl);
    threadpool_free(&t.pool);
    conn_limit_free(&t.limits);
    event_loop_free(&t.loop);
    sasl_glue_done();
}

static struct sasl_exchange *exchange_for(const char *client_ip, unsigned ip_failures_max)
{
    struct sasl_exchange_setup su = {
        .loop = t.loop,
        .pool = t.pool,
        .limits = t.limits,
        .ip_failures_max = ip_failures_max,
        .ip_failure_window_s = 3600,
        .client_ip = client_ip,
        .failures_max = 3,
        .delay_step_ms = STEP_MS,
        .done = done,
        .context = &t,
    };
    struct sasl_exchange *sx = sasl_exchange_new(&su);
    ck_assert_ptr_nonnull(sx);
    return sx;
}

/* settle - the outcome of a begin or response: as returned, or, when
 * PENDING, what the callback reports once the loop has run; exactly one
 * callback for a PENDING and none otherwise. */
static enum sasl_exchange_outcome settle(struct sasl_exchange *sx, enum sasl_exchange_outcome o)
{
    int before = t.calls;
    if (o != SASL_EXCHANGE_PENDING) {
        ck_assert_int_eq(t.calls, before);
        return o;
    }
    ck_assert(sasl_exchange_busy(sx));
    ck_assert_int_eq(event_loop_run(t.loop), 0);
    ck_assert_int_eq(t.calls, before + 1);
    return t.last;
}

static enum sasl_exchange_outcome begin(struct sasl_exchange *sx, const char *ir)
{
    return settle(sx, sasl_exchange_begin(sx, t.sasl, "PLAIN", ir));
}

static enum sasl_exchange_outcome respond(struct sasl_exchange *sx, const char *line)
{
    return settle(sx, sasl_exchange_response(sx, line, strlen(line)));
}

START_TEST(plain_with_initial_response)
{
    struct sasl_exchange *sx = exchange_for(CLIENT, 0);
    ck_assert_int_eq(sasl_exchange_begin(sx, t.sasl, "PLAIN", ALICE_OK), SASL_EXCHANGE_PENDING);
    ck_assert(sasl_exchange_busy(sx)); /* the step is on the pool */
    ck_assert_int_eq(settle(sx, SASL_EXCHANGE_PENDING), SASL_EXCHANGE_OK);
    ck_assert(!sasl_exchange_busy(sx));
    ck_assert_str_eq(sasl_exchange_user(sx), "alice");
    sasl_exchange_free(&sx);
    ck_assert_ptr_null(sx);
}
END_TEST

START_TEST(plain_without_initial_response)
{
    struct sasl_exchange *sx = exchange_for(CLIENT, 0);
    ck_assert_int_eq(begin(sx, NULL), SASL_EXCHANGE_CHALLENGE);
    ck_assert_str_eq(sasl_exchange_challenge(sx), ""); /* "334 " / "+ " */
    ck_assert(!sasl_exchange_busy(sx));
    ck_assert_int_eq(respond(sx, ALICE_OK), SASL_EXCHANGE_OK);
    ck_assert_str_eq(sasl_exchange_user(sx), "alice");
    /* no response is due once the exchange is over */
    ck_assert_int_eq(respond(sx, ALICE_OK), SASL_EXCHANGE_BAD_PROTOCOL);
    sasl_exchange_free(&sx);
}
END_TEST

START_TEST(bad_password_fails_after_growing_delay)
{
    struct sasl_exchange *sx = exchange_for(CLIENT, 0);
    for (unsigned n = 1; n <= 3; n++) {
        uint64_t start = clock_monotonic_ms();
        ck_assert_int_eq(begin(sx, ALICE_BAD), SASL_EXCHANGE_FAILED);
        uint64_t took = clock_monotonic_ms() - start;
        ck_assert_msg(took >= n * STEP_MS, "failure %u answered after %llu ms", n,
                      (unsigned long long)took);
        ck_assert_ptr_null(sasl_exchange_user(sx));
        /* the third failure in one session is the session's limit */
        ck_assert_int_eq(sasl_exchange_limit(sx),
                         n < 3 ? SASL_EXCHANGE_LIMIT_NONE : SASL_EXCHANGE_LIMIT_SESSION);
        ck_assert(!sasl_exchange_busy(sx));
    }
    sasl_exchange_free(&sx);
}
END_TEST

/* What a probe saw of the exchange every few milliseconds while the loop ran. */
static struct probe {
    struct sasl_exchange *sx;
    struct event_timer *timer;
    bool saw_step, saw_delay;
} probe;

static void probe_tick(void *ctx)
{
    (void)ctx;
    if (sasl_exchange_stepping(probe.sx))
        probe.saw_step = true;
    else if (sasl_exchange_busy(probe.sx))
        probe.saw_delay = true;
    event_timer_reset(probe.timer, 5);
}

/* The session must wait while the delay runs too: busy, though no step is. */
START_TEST(busy_through_the_delay)
{
    struct sasl_exchange *sx = exchange_for(CLIENT, 0);
    probe = (struct probe){.sx = sx};
    probe.timer = event_timer_add(t.loop, 5, probe_tick, NULL);
    ck_assert_ptr_nonnull(probe.timer);
    ck_assert_int_eq(sasl_exchange_begin(sx, t.sasl, "PLAIN", ALICE_BAD), SASL_EXCHANGE_PENDING);
    ck_assert(sasl_exchange_stepping(sx));
    ck_assert_int_eq(settle(sx, SASL_EXCHANGE_PENDING), SASL_EXCHANGE_FAILED);
    event_timer_remove(&probe.timer);
    ck_assert(probe.saw_delay);
    ck_assert(!sasl_exchange_busy(sx));
    ck_assert(!sasl_exchange_stepping(sx));
    sasl_exchange_free(&sx);
}
END_TEST

START_TEST(tempfail_is_not_a_failure)
{
    struct sasl_exchange *sx = exchange_for(CLIENT, 1);
    uint64_t start = clock_monotonic_ms();
    ck_assert_int_eq(begin(sx, DOWN), SASL_EXCHANGE_TEMPFAIL);
    ck_assert_uint_lt(clock_monotonic_ms() - start, STEP_MS);
    /* nothing was counted against the address (its limit is 1) */
    ck_assert_int_eq(begin(sx, ALICE_OK), SASL_EXCHANGE_OK);
    sasl_exchange_free(&sx);
}
END_TEST

START_TEST(star_cancels)
{
    struct sasl_exchange *sx = exchange_for(CLIENT, 0);
    ck_assert_int_eq(begin(sx, NULL), SASL_EXCHANGE_CHALLENGE);
    ck_assert_int_eq(respond(sx, "*"), SASL_EXCHANGE_CANCELLED);
    ck_assert(!sasl_exchange_busy(sx));
    /* a new AUTH after the cancel starts afresh */
    ck_assert_int_eq(begin(sx, ALICE_OK), SASL_EXCHANGE_OK);
    sasl_exchange_free(&sx);
}
END_TEST

START_TEST(bad_base64)
{
    struct sasl_exchange *sx = exchange_for(CLIENT, 0);
    ck_assert_int_eq(begin(sx, "AGFsaWNl!"), SASL_EXCHANGE_BAD_BASE64); /* length */
    ck_assert_int_eq(begin(sx, "AG$saWNl"), SASL_EXCHANGE_BAD_BASE64);  /* alphabet */
    ck_assert_int_eq(begin(sx, NULL), SASL_EXCHANGE_CHALLENGE);
    ck_assert_int_eq(respond(sx, "AGFsa WNl"), SASL_EXCHANGE_BAD_BASE64);
    /* "=" is an empty response (RFC 4954 4), valid base64: Cyrus judges it */
    ck_assert_int_ne(begin(sx, "="), SASL_EXCHANGE_BAD_BASE64);
    ck_assert_int_eq(begin(sx, ALICE_OK), SASL_EXCHANGE_OK);
    sasl_exchange_free(&sx);
}
END_TEST

START_TEST(ip_blocked_after_failures_from_address)
{
    /* two sessions from one address, two failures: the address's limit */
    struct sasl_exchange *a = exchange_for(CLIENT, 2);
    ck_assert_int_eq(begin(a, ALICE_BAD), SASL_EXCHANGE_FAILED);
    ck_assert_int_eq(sasl_exchange_limit(a), SASL_EXCHANGE_LIMIT_NONE);
    sasl_exchange_free(&a);
    struct sasl_exchange *b = exchange_for(CLIENT, 2);
    ck_assert_int_eq(begin(b, ALICE_BAD), SASL_EXCHANGE_FAILED);
    ck_assert_int_eq(sasl_exchange_limit(b), SASL_EXCHANGE_LIMIT_IP);
    sasl_exchange_free(&b);
    /* a third session: even the right password is refused, late */
    struct sasl_exchange *c = exchange_for(CLIENT, 2);
    uint64_t start = clock_monotonic_ms();
    ck_assert_int_eq(begin(c, ALICE_OK), SASL_EXCHANGE_IP_BLOCKED);
    ck_assert_uint_ge(clock_monotonic_ms() - start, STEP_MS);
    ck_assert_ptr_null(sasl_exchange_user(c));
    sasl_exchange_free(&c);
    /* another address is not affected */
    struct sasl_exchange *d = exchange_for("198.51.100.8", 2);
    ck_assert_int_eq(begin(d, ALICE_OK), SASL_EXCHANGE_OK);
    sasl_exchange_free(&d);
}
END_TEST

START_TEST(callback_may_free_the_exchange)
{
    struct sasl_exchange *sx = exchange_for(CLIENT, 0);
    t.free_me = sx; /* after the delay timer */
    ck_assert_int_eq(sasl_exchange_begin(sx, t.sasl, "PLAIN", ALICE_BAD), SASL_EXCHANGE_PENDING);
    ck_assert_int_eq(event_loop_run(t.loop), 0);
    ck_assert_int_eq(t.last, SASL_EXCHANGE_FAILED);
    ck_assert_ptr_null(t.free_me);
    sx = exchange_for(CLIENT, 0);
    t.free_me = sx; /* after the pool job */
    ck_assert_int_eq(sasl_exchange_begin(sx, t.sasl, "PLAIN", ALICE_OK), SASL_EXCHANGE_PENDING);
    ck_assert_int_eq(event_loop_run(t.loop), 0);
    ck_assert_int_eq(t.last, SASL_EXCHANGE_OK);
    ck_assert_ptr_null(t.free_me);
    ck_assert_int_eq(t.calls, 2);
}
END_TEST

/* The lines the integration tests and operators grep, byte for byte. */
START_TEST(log_lines)
{
    static struct log_capture cap;
    log_capture_begin(&cap);
    struct sasl_exchange *sx = exchange_for(CLIENT, 1);
    ck_assert_int_eq(begin(sx, ALICE_BAD), SASL_EXCHANGE_FAILED);
    ck_assert_int_eq(begin(sx, ALICE_OK), SASL_EXCHANGE_IP_BLOCKED);
    sasl_exchange_free(&sx);
    sx = exchange_for("198.51.100.8", 1);
    ck_assert_int_eq(begin(sx, ALICE_OK), SASL_EXCHANGE_OK);
    sasl_exchange_free(&sx);
    const char *text = log_capture_end(&cap);
    ck_assert_ptr_nonnull(strstr(text, "event=auth client=198.51.100.8 user=alice mech=PLAIN\n"));
    ck_assert_ptr_nonnull(strstr(text, "event=auth_failed client=" CLIENT
                                       " mech=PLAIN failures=1 ip_limit=reached\n"));
    ck_assert_ptr_nonnull(strstr(text, "event=auth_refused client=" CLIENT " reason=ip-limit\n"));
    ck_assert_ptr_null(strstr(text, "s3cret"));
}
END_TEST

static Suite *sasl_exchange_suite(void)
{
    Suite *s = suite_create("sasl_exchange");
    TCase *tc = tcase_create("sasl_exchange");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, plain_with_initial_response);
    tcase_add_test(tc, plain_without_initial_response);
    tcase_add_test(tc, bad_password_fails_after_growing_delay);
    tcase_add_test(tc, busy_through_the_delay);
    tcase_add_test(tc, tempfail_is_not_a_failure);
    tcase_add_test(tc, star_cancels);
    tcase_add_test(tc, bad_base64);
    tcase_add_test(tc, ip_blocked_after_failures_from_address);
    tcase_add_test(tc, callback_may_free_the_exchange);
    tcase_add_test(tc, log_lines);
    suite_add_tcase(s, tc);
    return s;
}

TAP_MAIN(sasl_exchange_suite)
