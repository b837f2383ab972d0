/* tests/unit/test_user_sessions.c - the per-user session count
 * (reader/user_sessions.c) behind limits.max_sessions_per_user: the cap,
 * DNs compared without regard to case, release, 0 as no cap, and many users
 * at once (the table grows and empties). */
#include "config.h"

#include <stdio.h>

#include "reader/user_sessions.h"
#include "tests/unit/tap_main.h"

START_TEST(cap_and_release)
{
    bool full = true;
    const char *dn = "uid=alice,ou=people,dc=example,dc=org";
    ck_assert(user_sessions_acquire(dn, 2, &full));
    ck_assert(!full);
    ck_assert(user_sessions_acquire("UID=Alice,ou=People,dc=example,dc=org", 2, &full));
    ck_assert_uint_eq(user_sessions_count(dn), 2);
    ck_assert(!user_sessions_acquire(dn, 2, &full));
    ck_assert(full);
    ck_assert_uint_eq(user_sessions_count(dn), 2);
    /* another user is not affected */
    ck_assert(user_sessions_acquire("uid=bob,dc=example,dc=org", 2, &full));
    user_sessions_release(dn);
    ck_assert(user_sessions_acquire(dn, 2, &full));
    user_sessions_release(dn);
    user_sessions_release(dn);
    ck_assert_uint_eq(user_sessions_count(dn), 0);
    user_sessions_release(dn); /* one too many: ignored */
    ck_assert_uint_eq(user_sessions_count(dn), 0);
    user_sessions_release("uid=bob,dc=example,dc=org");
}
END_TEST

START_TEST(zero_is_no_cap)
{
    bool full;
    for (int i = 0; i < 1000; i++)
        ck_assert(user_sessions_acquire("uid=carol", 0, &full));
    ck_assert_uint_eq(user_sessions_count("uid=carol"), 1000);
    for (int i = 0; i < 1000; i++)
        user_sessions_release("uid=carol");
    ck_assert_uint_eq(user_sessions_count("uid=carol"), 0);
}
END_TEST

START_TEST(many_users)
{
    char dn[64];
    bool full;
    for (int i = 0; i < 5000; i++) {
        snprintf(dn, sizeof dn, "uid=u%d,dc=example,dc=org", i);
        ck_assert(user_sessions_acquire(dn, 1, &full));
        ck_assert(!user_sessions_acquire(dn, 1, &full));
        ck_assert(full);
    }
    for (int i = 0; i < 5000; i++) {
        snprintf(dn, sizeof dn, "uid=u%d,dc=example,dc=org", i);
        ck_assert_uint_eq(user_sessions_count(dn), 1);
        user_sessions_release(dn);
        ck_assert_uint_eq(user_sessions_count(dn), 0);
    }
}
END_TEST

static Suite *user_sessions_suite(void)
{
    Suite *s = suite_create("user_sessions");
    TCase *tc = tcase_create("user_sessions");
    tcase_add_test(tc, cap_and_release);
    tcase_add_test(tc, zero_is_no_cap);
    tcase_add_test(tc, many_users);
    suite_add_tcase(s, tc);
    return s;
}

TAP_MAIN(user_sessions_suite)
