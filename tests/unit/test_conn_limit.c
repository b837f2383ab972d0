/* tests/unit/test_conn_limit.c - the shared connection table: each limit
 * refuses at its number, releases give places back, a dead worker's places
 * are reclaimed, the counts are shared across fork, and a full table
 * refuses instead of letting connections go uncounted. */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proto/conn_limit.h"
#include "tests/unit/tap_main.h"

static struct sockaddr_storage addr_of(const char *text)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, text, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
    } else {
        ck_assert_int_eq(inet_pton(AF_INET6, text, &in6->sin6_addr), 1);
        in6->sin6_family = AF_INET6;
    }
    return ss;
}

static struct conn_limit *limits_new(void)
{
    char *error = NULL;
    struct conn_limit *limits = conn_limit_new(&error);
    ck_assert_msg(limits != NULL, "%s", error);
    return limits;
}

#define ACQ(l, proc, slot, text, total, svc, ip, tok)                                              \
    ({                                                                                             \
        struct sockaddr_storage a_ = addr_of(text);                                                \
        conn_limit_acquire(l, proc, slot, (struct sockaddr *)&a_, total, svc, ip, tok);            \
    })

START_TEST(per_ip_limit_counts_each_address_and_service_apart)
{
    struct conn_limit *l = limits_new();
    int smtp = conn_limit_service_slot(l, "smtp");
    int imap = conn_limit_service_slot(l, "imap");
    ck_assert_int_ge(smtp, 0);
    ck_assert_int_ne(smtp, imap);
    ck_assert_int_eq(conn_limit_service_slot(l, "smtp"), smtp);
    struct conn_limit_token t[6];
    ck_assert_int_eq(ACQ(l, 0, smtp, "192.0.2.1", 0, 0, 2, &t[0]), CONN_LIMIT_OK);
    ck_assert_int_eq(ACQ(l, 1, smtp, "192.0.2.1", 0, 0, 2, &t[1]), CONN_LIMIT_OK);
    ck_assert_int_eq(ACQ(l, 0, smtp, "192.0.2.1", 0, 0, 2, &t[2]), CONN_LIMIT_IP_FULL);
    ck_assert(!t[2].held);
    ck_assert_int_eq(ACQ(l, 0, smtp, "192.0.2.2", 0, 0, 2, &t[3]), CONN_LIMIT_OK);
    ck_assert_int_eq(ACQ(l, 0, imap, "192.0.2.1", 0, 0, 2, &t[4]), CONN_LIMIT_OK);
    ck_assert_int_eq(ACQ(l, 0, smtp, "2001:db8::1", 0, 0, 1, &t[5]), CONN_LIMIT_OK);
    ck_assert_uint_eq(conn_limit_service_count(l, (unsigned)smtp), 4);
    ck_assert_uint_eq(conn_limit_total_count(l), 5);
    conn_limit_release(l, 1, &t[1]);
    ck_assert(!t[1].held);
    ck_assert_int_eq(ACQ(l, 0, smtp, "192.0.2.1", 0, 0, 2, &t[1]), CONN_LIMIT_OK);
    conn_limit_free(&l);
    ck_assert_ptr_null(l);
}
END_TEST

START_TEST(service_and_total_limits)
{
    struct conn_limit *l = limits_new();
    int a = conn_limit_service_slot(l, "a");
    int b = conn_limit_service_slot(l, "b");
    struct conn_limit_token t[5];
    ck_assert_int_eq(ACQ(l, 0, a, "192.0.2.1", 3, 2, 0, &t[0]), CONN_LIMIT_OK);
    ck_assert_int_eq(ACQ(l, 0, a, "192.0.2.2", 3, 2, 0, &t[1]), CONN_LIMIT_OK);
    ck_assert_int_eq(ACQ(l, 0, a, "192.0.2.3", 3, 2, 0, &t[2]), CONN_LIMIT_SERVICE_FULL);
    ck_assert_int_eq(ACQ(l, 0, b, "192.0.2.3", 3, 2, 0, &t[3]), CONN_LIMIT_OK);
    ck_assert_int_eq(ACQ(l, 0, b, "192.0.2.4", 3, 2, 0, &t[4]), CONN_LIMIT_TOTAL_FULL);
    conn_limit_release(l, 0, &t[0]);
    ck_assert_int_eq(ACQ(l, 0, b, "192.0.2.4", 3, 2, 0, &t[4]), CONN_LIMIT_OK);
    conn_limit_free(&l);
}
END_TEST

START_TEST(reclaim_gives_back_what_a_dead_worker_held)
{
    struct conn_limit *l = limits_new();
    int s = conn_limit_service_slot(l, "smtp");
    int dead = conn_limit_proc_claim(l);
    int alive = conn_limit_proc_claim(l);
    ck_assert_int_ne(dead, alive);
    struct conn_limit_token t[4];
    ck_assert_int_eq(ACQ(l, (unsigned)dead, s, "192.0.2.1", 0, 3, 1, &t[0]), CONN_LIMIT_OK);
    ck_assert_int_eq(ACQ(l, (unsigned)dead, s, "192.0.2.2", 0, 3, 1, &t[1]), CONN_LIMIT_OK);
    ck_assert_int_eq(ACQ(l, (unsigned)alive, s, "192.0.2.3", 0, 3, 1, &t[2]), CONN_LIMIT_OK);
    ck_assert_int_eq(ACQ(l, (unsigned)alive, s, "192.0.2.4", 0, 3, 1, &t[3]),
                     CONN_LIMIT_SERVICE_FULL);
    ck_assert(conn_limit_proc_reclaim(l, (unsigned)dead));
    ck_assert_uint_eq(conn_limit_service_count(l, (unsigned)s), 1);
    ck_assert_uint_eq(conn_limit_total_count(l), 1);
    ck_assert_int_eq(ACQ(l, (unsigned)alive, s, "192.0.2.1", 0, 3, 1, &t[0]), CONN_LIMIT_OK);
    /* the slot is free for the next worker */
    ck_assert_int_eq(conn_limit_proc_claim(l), dead);
    conn_limit_free(&l);
}
END_TEST

START_TEST(counts_are_shared_across_fork)
{
    struct conn_limit *l = limits_new();
    int s = conn_limit_service_slot(l, "pop3");
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct conn_limit_token t;
        _exit(ACQ(l, 1, s, "::1", 0, 0, 1, &t) == CONN_LIMIT_OK ? 0 : 1);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    struct conn_limit_token t;
    ck_assert_int_eq(ACQ(l, 0, s, "::1", 0, 0, 1, &t), CONN_LIMIT_IP_FULL);
    ck_assert(conn_limit_proc_reclaim(l, 1));
    ck_assert_int_eq(ACQ(l, 0, s, "::1", 0, 0, 1, &t), CONN_LIMIT_OK);
    conn_limit_free(&l);
}
END_TEST

START_TEST(full_table_refuses_and_recovers)
{
    struct conn_limit *l = limits_new();
    int s = conn_limit_service_slot(l, "smtp");
    static struct conn_limit_token t[CONN_LIMIT_ADDRESSES + 1];
    unsigned ok = 0, full = 0;
    for (unsigned i = 0; i <= CONN_LIMIT_ADDRESSES; i++) {
        struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};
        in6.sin6_addr.s6_addr[0] = 0x20;
        in6.sin6_addr.s6_addr[14] = (uint8_t)(i >> 8);
        in6.sin6_addr.s6_addr[15] = (uint8_t)i;
        enum conn_limit_result r =
            conn_limit_acquire(l, 0, (unsigned)s, (struct sockaddr *)&in6, 0, 0, 5, &t[i]);
        if (r == CONN_LIMIT_OK)
            ok++;
        else if (r == CONN_LIMIT_TABLE_FULL)
            full++;
    }
    ck_assert_uint_le(ok, CONN_LIMIT_ADDRESSES);
    ck_assert_uint_ge(full, 1);
    ck_assert_uint_eq(ok + full, CONN_LIMIT_ADDRESSES + 1);
    ck_assert_uint_eq(conn_limit_total_count(l), ok);
    for (unsigned i = 0; i <= CONN_LIMIT_ADDRESSES; i++)
        conn_limit_release(l, 0, &t[i]);
    ck_assert_uint_eq(conn_limit_total_count(l), 0);
    struct conn_limit_token one;
    ck_assert_int_eq(ACQ(l, 0, s, "192.0.2.9", 0, 0, 5, &one), CONN_LIMIT_OK);
    conn_limit_free(&l);
}
END_TEST

START_TEST(auth_failures_block_per_address_and_drain)
{
    struct conn_limit *l = limits_new();
    /* 3 failures per 60 s: the 3rd in a burst blocks the address */
    ck_assert_uint_eq(conn_limit_auth_failure(l, "192.0.2.1", 3, 60, 1000), 1);
    ck_assert(!conn_limit_auth_blocked(l, "192.0.2.1", 3, 60, 1000));
    ck_assert_uint_eq(conn_limit_auth_failure(l, "192.0.2.1", 3, 60, 2000), 2);
    ck_assert_uint_eq(conn_limit_auth_failure(l, "192.0.2.1", 3, 60, 3000), 3);
    ck_assert(conn_limit_auth_blocked(l, "192.0.2.1", 3, 60, 3000));
    /* other addresses, and the same one written another way, apart */
    ck_assert(!conn_limit_auth_blocked(l, "192.0.2.2", 3, 60, 3000));
    ck_assert(conn_limit_auth_blocked(l, "::ffff:192.0.2.1", 3, 60, 3000));
    ck_assert(!conn_limit_auth_blocked(l, "2001:db8::1", 3, 60, 3000));
    /* a part-drained failure still counts whole; a whole one drains in 20 s */
    ck_assert(conn_limit_auth_blocked(l, "192.0.2.1", 3, 60, 20000));  /* 2900 - 850 */
    ck_assert(!conn_limit_auth_blocked(l, "192.0.2.1", 3, 60, 21001)); /* 2900 - 900 */
    ck_assert(!conn_limit_auth_blocked(l, "192.0.2.1", 3, 60, 3000 + 60000));
    /* off, and unparsable addresses, are never counted */
    ck_assert_uint_eq(conn_limit_auth_failure(l, "192.0.2.3", 0, 60, 1000), 0);
    ck_assert_uint_eq(conn_limit_auth_failure(l, "not-an-ip", 3, 60, 1000), 0);
    conn_limit_free(&l);
}
END_TEST

START_TEST(auth_table_stays_bounded)
{
    struct conn_limit *l = limits_new();
    char ip[64];
    /* far more addresses than slots: the least recently touched give way */
    for (unsigned i = 0; i < CONN_LIMIT_AUTH_ADDRESSES * 4; i++) {
        snprintf(ip, sizeof ip, "2001:db8::%x:%x", i >> 16, i & 0xffff);
        ck_assert_uint_eq(conn_limit_auth_failure(l, ip, 2, 600, 1000 + i), 1);
    }
    /* the newest address is still there and counts on */
    ck_assert_uint_eq(conn_limit_auth_failure(l, ip, 2, 600, 1000 + CONN_LIMIT_AUTH_ADDRESSES * 4),
                      2);
    ck_assert(conn_limit_auth_blocked(l, ip, 2, 600, 1000 + CONN_LIMIT_AUTH_ADDRESSES * 4));
    conn_limit_free(&l);
}
END_TEST

START_TEST(auth_failures_shared_across_fork)
{
    struct conn_limit *l = limits_new();
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        conn_limit_auth_failure(l, "198.51.100.7", 2, 60, 5000);
        conn_limit_auth_failure(l, "198.51.100.7", 2, 60, 5000);
        _exit(0);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(conn_limit_auth_blocked(l, "198.51.100.7", 2, 60, 5000));
    conn_limit_free(&l);
}
END_TEST

static Suite *conn_limit_suite(void)
{
    Suite *s = suite_create("conn_limit");
    TCase *tc = tcase_create("conn_limit");
    tcase_add_test(tc, per_ip_limit_counts_each_address_and_service_apart);
    tcase_add_test(tc, service_and_total_limits);
    tcase_add_test(tc, reclaim_gives_back_what_a_dead_worker_held);
    tcase_add_test(tc, counts_are_shared_across_fork);
    tcase_add_test(tc, full_table_refuses_and_recovers);
    tcase_add_test(tc, auth_failures_block_per_address_and_drain);
    tcase_add_test(tc, auth_table_stays_bounded);
    tcase_add_test(tc, auth_failures_shared_across_fork);
    suite_add_tcase(s, tc);
    return s;
}

TAP_MAIN(conn_limit_suite)
