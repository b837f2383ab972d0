/* tests/unit/test_pregreet_cache.c - the shared memory of clients that
 * passed the pregreet test: a pass counts for ttl seconds and no longer
 * (looking does not extend it), IPv4 and IPv6 apart and v4-mapped as IPv4,
 * a failure forgets, a full table gives up the address recorded longest
 * ago, the table is shared across fork, and concurrent writers never make
 * a reader see an address that was not recorded. */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gateway/pregreet_cache.h"
#include "tests/unit/tap_main.h"

#define TTL 60 /* seconds */
#define T0 1000000ull

static struct pregreet_cache *cache_new(unsigned slots)
{
    char *error = NULL;
    struct pregreet_cache *c = pregreet_cache_new(slots, &error);
    ck_assert_msg(c != NULL, "%s", error);
    return c;
}

START_TEST(pass_counts_for_ttl_and_no_longer)
{
    struct pregreet_cache *c = cache_new(PREGREET_CACHE_SLOTS);
    ck_assert(!pregreet_cache_passed(c, "192.0.2.1", TTL, T0));
    pregreet_cache_record(c, "192.0.2.1", T0);
    ck_assert(pregreet_cache_passed(c, "192.0.2.1", TTL, T0));
    ck_assert(pregreet_cache_passed(c, "192.0.2.1", TTL, T0 + TTL * 1000 - 1));
    ck_assert(!pregreet_cache_passed(c, "192.0.2.1", TTL, T0 + TTL * 1000));
    /* another address, and the memory off */
    ck_assert(!pregreet_cache_passed(c, "192.0.2.2", TTL, T0));
    ck_assert(!pregreet_cache_passed(c, "192.0.2.1", 0, T0));
    pregreet_cache_free(&c);
    ck_assert_ptr_null(c);
    pregreet_cache_free(&c); /* NULL is fine */
}
END_TEST

START_TEST(looking_does_not_extend_a_pass_recording_does)
{
    struct pregreet_cache *c = cache_new(PREGREET_CACHE_SLOTS);
    pregreet_cache_record(c, "192.0.2.1", T0);
    for (unsigned s = 0; s < TTL; s += 10)
        ck_assert(pregreet_cache_passed(c, "192.0.2.1", TTL, T0 + s * 1000ull));
    ck_assert(!pregreet_cache_passed(c, "192.0.2.1", TTL, T0 + TTL * 1000));
    /* it waited again and passed again */
    pregreet_cache_record(c, "192.0.2.1", T0 + TTL * 1000);
    ck_assert(pregreet_cache_passed(c, "192.0.2.1", TTL, T0 + 2 * TTL * 1000 - 1));
    pregreet_cache_free(&c);
}
END_TEST

START_TEST(ipv6_apart_and_v4_mapped_is_ipv4)
{
    struct pregreet_cache *c = cache_new(PREGREET_CACHE_SLOTS);
    pregreet_cache_record(c, "2001:db8::1", T0);
    ck_assert(pregreet_cache_passed(c, "2001:db8::1", TTL, T0));
    ck_assert(pregreet_cache_passed(c, "2001:DB8:0::1", TTL, T0));
    ck_assert(!pregreet_cache_passed(c, "2001:db8::2", TTL, T0));
    ck_assert(!pregreet_cache_passed(c, "::1", TTL, T0));
    pregreet_cache_record(c, "198.51.100.7", T0);
    ck_assert(pregreet_cache_passed(c, "::ffff:198.51.100.7", TTL, T0));
    pregreet_cache_record(c, "::ffff:203.0.113.5", T0);
    ck_assert(pregreet_cache_passed(c, "203.0.113.5", TTL, T0));
    /* an address that does not parse is never remembered */
    pregreet_cache_record(c, "unknown", T0);
    ck_assert(!pregreet_cache_passed(c, "unknown", TTL, T0));
    pregreet_cache_free(&c);
}
END_TEST

START_TEST(failure_forgets)
{
    struct pregreet_cache *c = cache_new(PREGREET_CACHE_SLOTS);
    pregreet_cache_record(c, "192.0.2.1", T0);
    pregreet_cache_record(c, "192.0.2.2", T0);
    pregreet_cache_forget(c, "192.0.2.1");
    ck_assert(!pregreet_cache_passed(c, "192.0.2.1", TTL, T0));
    ck_assert(pregreet_cache_passed(c, "192.0.2.2", TTL, T0));
    pregreet_cache_forget(c, "192.0.2.3"); /* never recorded: nothing happens */
    ck_assert(pregreet_cache_passed(c, "192.0.2.2", TTL, T0));
    pregreet_cache_free(&c);
}
END_TEST

/* A table of one window: every address competes for the same slots, so
 * which one gives way does not depend on the hash. */
START_TEST(full_window_gives_up_the_oldest)
{
    struct pregreet_cache *c = cache_new(PREGREET_CACHE_PROBE);
    char ip[32];
    for (unsigned i = 1; i <= PREGREET_CACHE_PROBE; i++) {
        snprintf(ip, sizeof ip, "10.0.0.%u", i);
        pregreet_cache_record(c, ip, T0 + i);
    }
    for (unsigned i = 1; i <= PREGREET_CACHE_PROBE; i++) {
        snprintf(ip, sizeof ip, "10.0.0.%u", i);
        ck_assert_msg(pregreet_cache_passed(c, ip, TTL, T0 + 100), "%s", ip);
    }
    /* one more: 10.0.0.1, recorded first, gives way */
    pregreet_cache_record(c, "10.0.0.100", T0 + 100);
    ck_assert(pregreet_cache_passed(c, "10.0.0.100", TTL, T0 + 100));
    ck_assert(!pregreet_cache_passed(c, "10.0.0.1", TTL, T0 + 100));
    for (unsigned i = 2; i <= PREGREET_CACHE_PROBE; i++) {
        snprintf(ip, sizeof ip, "10.0.0.%u", i);
        ck_assert_msg(pregreet_cache_passed(c, ip, TTL, T0 + 100), "%s", ip);
    }
    /* recording a known address again takes its own slot, not another's */
    pregreet_cache_record(c, "10.0.0.2", T0 + 200);
    for (unsigned i = 3; i <= PREGREET_CACHE_PROBE; i++) {
        snprintf(ip, sizeof ip, "10.0.0.%u", i);
        ck_assert_msg(pregreet_cache_passed(c, ip, TTL, T0 + 200), "%s", ip);
    }
    /* now 10.0.0.3 is the oldest */
    pregreet_cache_record(c, "10.0.0.101", T0 + 201);
    ck_assert(!pregreet_cache_passed(c, "10.0.0.3", TTL, T0 + 201));
    ck_assert(pregreet_cache_passed(c, "10.0.0.2", TTL, T0 + 201));
    ck_assert(pregreet_cache_passed(c, "10.0.0.100", TTL, T0 + 201));
    /* a slot that was forgotten is taken before any recorded one */
    pregreet_cache_forget(c, "10.0.0.9");
    pregreet_cache_record(c, "10.0.0.102", T0 + 202);
    ck_assert(pregreet_cache_passed(c, "10.0.0.4", TTL, T0 + 202));
    ck_assert(pregreet_cache_passed(c, "10.0.0.102", TTL, T0 + 202));
    pregreet_cache_free(&c);
}
END_TEST

START_TEST(table_stays_bounded)
{
    struct pregreet_cache *c = cache_new(PREGREET_CACHE_SLOTS);
    char ip[64];
    const unsigned n = PREGREET_CACHE_SLOTS * 3;
    for (unsigned i = 0; i < n; i++) {
        snprintf(ip, sizeof ip, "2001:db8::%x:%x", i >> 16, i & 0xffff);
        pregreet_cache_record(c, ip, T0 + i);
    }
    /* the newest is always there; never more than the slots */
    ck_assert(pregreet_cache_passed(c, ip, TTL, T0 + n));
    unsigned known = 0;
    for (unsigned i = 0; i < n; i++) {
        snprintf(ip, sizeof ip, "2001:db8::%x:%x", i >> 16, i & 0xffff);
        known += pregreet_cache_passed(c, ip, TTL, T0 + n);
    }
    ck_assert_uint_le(known, PREGREET_CACHE_SLOTS);
    ck_assert_uint_ge(known, PREGREET_CACHE_SLOTS / 2);
    pregreet_cache_free(&c);
}
END_TEST

START_TEST(shared_across_fork)
{
    struct pregreet_cache *c = cache_new(PREGREET_CACHE_SLOTS);
    pregreet_cache_record(c, "192.0.2.9", T0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        pregreet_cache_record(c, "2001:db8::7", T0);
        pregreet_cache_forget(c, "192.0.2.9");
        _exit(0);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ck_assert(pregreet_cache_passed(c, "2001:db8::7", TTL, T0));
    ck_assert(!pregreet_cache_passed(c, "192.0.2.9", TTL, T0));
    pregreet_cache_free(&c);
}
END_TEST

/* Two writers take turns with two addresses in a one-slot table; a torn
 * read would show the first half of one with the second half of the other.
 * The reader must never see either mix. */
START_TEST(concurrent_writers_never_show_a_torn_address)
{
    struct pregreet_cache *c = cache_new(1);
    pid_t writers[2];
    pid_t parent = getpid();
    static const char *const mine[2] = {"2001:db8:1::1", "2001:db8:2::2"};
    for (unsigned w = 0; w < 2; w++) {
        writers[w] = fork();
        ck_assert_int_ge(writers[w], 0);
        if (writers[w] == 0) {
            /* until killed, or orphaned by a failed assertion */
            for (unsigned long long i = 1; i % 4096 != 0 || getppid() == parent; i++) {
                pregreet_cache_record(c, mine[i & 1], T0 + i);
                if (i % 7 == 0)
                    pregreet_cache_forget(c, mine[(i + w) & 1]);
            }
            _exit(0);
        }
    }
    unsigned hits = 0;
    for (unsigned i = 0; i < 500000; i++) {
        ck_assert(!pregreet_cache_passed(c, "2001:db8:1::2", 1000000, T0));
        ck_assert(!pregreet_cache_passed(c, "2001:db8:2::1", 1000000, T0));
        hits += pregreet_cache_passed(c, mine[i & 1], 1000000, T0);
    }
    for (unsigned w = 0; w < 2; w++) {
        kill(writers[w], SIGKILL);
        waitpid(writers[w], NULL, 0);
    }
    ck_assert_uint_gt(hits, 0);
    pregreet_cache_free(&c);
}
END_TEST

START_TEST(no_slots_is_an_error)
{
    char *error = NULL;
    ck_assert_ptr_null(pregreet_cache_new(0, &error));
    ck_assert_ptr_nonnull(strstr(error, "slots"));
    free(error);
}
END_TEST

static Suite *pregreet_cache_suite(void)
{
    Suite *s = suite_create("pregreet_cache");
    TCase *tc = tcase_create("pregreet_cache");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, pass_counts_for_ttl_and_no_longer);
    tcase_add_test(tc, looking_does_not_extend_a_pass_recording_does);
    tcase_add_test(tc, ipv6_apart_and_v4_mapped_is_ipv4);
    tcase_add_test(tc, failure_forgets);
    tcase_add_test(tc, full_window_gives_up_the_oldest);
    tcase_add_test(tc, table_stays_bounded);
    tcase_add_test(tc, shared_across_fork);
    tcase_add_test(tc, concurrent_writers_never_show_a_torn_address);
    tcase_add_test(tc, no_slots_is_an_error);
    suite_add_tcase(s, tc);
    return s;
}

TAP_MAIN(pregreet_cache_suite)
