/* tests/unit/test_ldap_health.c - auth/ldap_health.c on a clock the test
 * drives: one attempt per backoff interval (0.1 s doubling to 5 s, +-20 %),
 * each URI on its own, and the log lines once per change plus at most one
 * summary every 10 s. */
#include "config.h"

#include "auth/ldap_health.h"
#include "lib/log.h"
#include "tests/unit/tap_main.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *const uris[] = {"ldap://one.example", "ldap://two.example"};

/* first_probe_at - the first time in [from, to) at which URI i is granted
 * its attempt, or 0 when never; every earlier query is asserted SKIP. */
static uint64_t first_probe_at(struct ldap_health *h, size_t i, uint64_t from, uint64_t to)
{
    for (uint64_t t = from; t < to; t++) {
        enum ldap_health_try r = ldap_health_may_connect(h, i, t);
        if (r == LDAP_HEALTH_PROBE)
            return t;
        ck_assert_int_eq(r, LDAP_HEALTH_SKIP);
    }
    return 0;
}

START_TEST(reachable_until_told)
{
    struct ldap_health *h = ldap_health_new(uris, 2);
    ck_assert_ptr_nonnull(h);
    ck_assert(!ldap_health_is_down(h, 0));
    ck_assert_int_eq(ldap_health_may_connect(h, 0, 1000), LDAP_HEALTH_USE);
    ldap_health_answered(h, 0, false, 1000);
    ck_assert_int_eq(ldap_health_may_connect(h, 0, 1001), LDAP_HEALTH_USE);
    ldap_health_free(&h);
    ck_assert_ptr_null(h);
}
END_TEST

START_TEST(backoff_doubles_with_jitter_to_five_seconds)
{
    struct ldap_health *h = ldap_health_new(uris, 2);
    uint64_t now = 1000;
    ldap_health_failed(h, 0, false, "Can't contact LDAP server", now);
    ck_assert(ldap_health_is_down(h, 0));
    unsigned interval = 100;
    for (int round = 0; round < 12; round++) {
        uint64_t t = first_probe_at(h, 0, now, now + 10000);
        ck_assert_uint_ge(t, now + interval * 4 / 5);
        ck_assert_uint_le(t, now + interval * 6 / 5);
        /* One attempt at a time: the others still skip while it runs. */
        ck_assert_int_eq(ldap_health_may_connect(h, 0, t + 1), LDAP_HEALTH_SKIP);
        now = t + 5;
        ldap_health_failed(h, 0, true, "Timed out", now);
        interval = interval * 2 > 5000 ? 5000 : interval * 2;
    }
    ck_assert_uint_eq(interval, 5000);
    ldap_health_free(&h);
}
END_TEST

START_TEST(straggler_failure_keeps_the_attempt_and_interval)
{
    struct ldap_health *h = ldap_health_new(uris, 2);
    ldap_health_failed(h, 0, false, "Can't contact LDAP server", 0);
    uint64_t t = first_probe_at(h, 0, 0, 1000);
    ck_assert_uint_gt(t, 0);
    /* An old connection's timeout arrives while the attempt runs. */
    ldap_health_failed(h, 0, false, "Timed out", t + 1);
    ck_assert_int_eq(ldap_health_may_connect(h, 0, t + 1000), LDAP_HEALTH_SKIP);
    /* The attempt fails: the next one after 200 ms +-20 %. */
    ldap_health_failed(h, 0, true, "Timed out", t + 10);
    uint64_t t2 = first_probe_at(h, 0, t + 10, t + 1000);
    ck_assert_uint_ge(t2, t + 10 + 160);
    ck_assert_uint_le(t2, t + 10 + 240);
    ldap_health_free(&h);
}
END_TEST

START_TEST(each_uri_its_own_state)
{
    struct ldap_health *h = ldap_health_new(uris, 2);
    ldap_health_failed(h, 1, false, "Can't contact LDAP server", 50);
    ck_assert(!ldap_health_is_down(h, 0));
    ck_assert(ldap_health_is_down(h, 1));
    ck_assert_int_eq(ldap_health_may_connect(h, 0, 51), LDAP_HEALTH_USE);
    ck_assert_int_eq(ldap_health_may_connect(h, 1, 51), LDAP_HEALTH_SKIP);
    ldap_health_answered(h, 1, false, 60); /* an old connection got an answer */
    ck_assert(!ldap_health_is_down(h, 1));
    ck_assert_int_eq(ldap_health_may_connect(h, 1, 61), LDAP_HEALTH_USE);
    ldap_health_free(&h);
}
END_TEST

/* captured - run the outage below with stderr in a file; returns its text. */
static char *captured(void (*outage)(struct ldap_health *))
{
    char path[] = "/tmp/dirmail-test-health-log-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    int saved = dup(STDERR_FILENO);
    ck_assert_int_ge(dup2(fd, STDERR_FILENO), 0);
    close(fd);
    log_init(LOG_TARGET_STDERR, "test", LOG_LEVEL_DEBUG);
    struct ldap_health *h = ldap_health_new(uris, 2);
    outage(h);
    ldap_health_free(&h);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    static char text[1 << 16];
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    unlink(path);
    return text;
}

static unsigned count(const char *text, const char *needle)
{
    unsigned n = 0;
    for (const char *p = strstr(text, needle); p != NULL; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* 30 s down, a lookup failing every millisecond and a probe whenever due. */
static void thirty_seconds(struct ldap_health *h)
{
    ldap_health_failed(h, 0, false, "Can't contact LDAP server", 1000);
    for (uint64_t t = 1000; t < 31000; t++) {
        if (ldap_health_may_connect(h, 0, t) == LDAP_HEALTH_PROBE)
            ldap_health_failed(h, 0, true, "Can't contact LDAP server", t);
        ldap_health_lookup_failed(h, t);
    }
    ldap_health_answered(h, 0, true, 31200);
}

START_TEST(logged_once_per_change_and_every_ten_seconds)
{
    const char *log = captured(thirty_seconds);
    ck_assert_uint_eq(count(log, "event=ldap_unreachable uri=ldap://one.example "
                                 "error=\"Can't contact LDAP server\""),
                      1);
    /* At 11 s, 21 s and 31 s after the first line: no more. */
    ck_assert_uint_eq(count(log, "event=ldap_still_unreachable uri=ldap://one.example "), 2);
    ck_assert_uint_eq(count(log, "still_unreachable uri=ldap://one.example down_for=10.0s "), 1);
    ck_assert_uint_eq(count(log, "event=ldap_reachable uri=ldap://one.example down_for=30.2s "
                                 "failed_lookups=30000\n"),
                      1);
    ck_assert_uint_eq(count(log, "two.example"), 0);
    ck_assert_uint_eq(count(log, "\n"), 4);
}
END_TEST

static Suite *health_suite(void)
{
    Suite *s = suite_create("ldap_health");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, reachable_until_told);
    tcase_add_test(tc, backoff_doubles_with_jitter_to_five_seconds);
    tcase_add_test(tc, straggler_failure_keeps_the_attempt_and_interval);
    tcase_add_test(tc, each_uri_its_own_state);
    tcase_add_test(tc, logged_once_per_change_and_every_ten_seconds);
    suite_add_tcase(s, tc);
    return s;
}

TAP_MAIN(health_suite)
