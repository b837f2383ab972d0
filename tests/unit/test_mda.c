/* tests/unit/test_mda.c - the delivery agent's step (delivery/mda.h): which
 * directory answers are a mailbox it files into, and the Delivered-To count
 * its loop check reads; and the network match LMTP's trust rests on
 * (proto/network_match.h). Filing itself is test_local_delivery's and the
 * integration tests'. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "delivery/mda.h"
#include "proto/network_match.h"
#include "tap_main.h"

/* check - mda_recipient_check of status and an entry of kind (and user
 * status, hold) for "u@example.org"; the refusal's status in *st. */
static bool check(enum auth_status status, enum auth_kind kind, enum auth_user_status ust,
                  bool hold, enum delivery_status *st, const char **arg)
{
    struct auth_recipient r = {.kind = kind,
                               .status = ust,
                               .disabled_hold = hold,
                               .mail_host = (char *)"node2.example.org"};
    return mda_recipient_check(status, &r, "ldap down", "u@example.org", st, arg);
}

START_TEST(recipient_table)
{
    enum delivery_status st;
    const char *arg;
    ck_assert(check(AUTH_FOUND, AUTH_KIND_LOCAL, AUTH_USER_ACTIVE, false, &st, &arg));
    ck_assert(!check(AUTH_FOUND, AUTH_KIND_LOCAL, AUTH_USER_HELD, false, &st, &arg));
    ck_assert_int_eq(st, DELIVERY_STATUS_MAILBOX_HELD);
    ck_assert(!check(AUTH_FOUND, AUTH_KIND_REMOTE_NODE, AUTH_USER_ACTIVE, false, &st, &arg));
    ck_assert_int_eq(st, DELIVERY_STATUS_MAILBOX_ELSEWHERE);
    ck_assert_str_eq(arg, "node2.example.org");
    ck_assert(!delivery_status_permanent(st));
    ck_assert(!check(AUTH_FOUND, AUTH_KIND_DISABLED, AUTH_USER_DISABLED, false, &st, &arg));
    ck_assert_int_eq(st, DELIVERY_STATUS_MAILBOX_DISABLED);
    ck_assert(!check(AUTH_FOUND, AUTH_KIND_DISABLED, AUTH_USER_DISABLED, true, &st, &arg));
    ck_assert_int_eq(st, DELIVERY_STATUS_DISABLED_HELD);
    ck_assert(!check(AUTH_FOUND, AUTH_KIND_FORWARD, AUTH_USER_ACTIVE, false, &st, &arg));
    ck_assert_int_eq(st, DELIVERY_STATUS_NOT_A_MAILBOX);
    ck_assert(!check(AUTH_NOTFOUND, AUTH_KIND_NOT_OURS, AUTH_USER_ACTIVE, false, &st, &arg));
    ck_assert_int_eq(st, DELIVERY_STATUS_DOMAIN_NOT_HERE);
    ck_assert(!check(AUTH_NOTFOUND, AUTH_KIND_UNKNOWN, AUTH_USER_ACTIVE, false, &st, &arg));
    ck_assert_int_eq(st, DELIVERY_STATUS_NO_SUCH_RECIPIENT);
    ck_assert_str_eq(arg, "u@example.org");
    /* the directory's failure is never a 5xx */
    ck_assert(!check(AUTH_TEMPFAIL, AUTH_KIND_LOCAL, AUTH_USER_ACTIVE, false, &st, &arg));
    ck_assert_int_eq(st, DELIVERY_STATUS_DIRECTORY_UNAVAILABLE);
    ck_assert_str_eq(arg, "ldap down");
    ck_assert_int_eq(delivery_status_reply_code(st), 451);
    ck_assert(!mda_recipient_check(AUTH_FOUND, NULL, NULL, "u@example.org", &st, &arg));
    ck_assert_int_eq(st, DELIVERY_STATUS_DIRECTORY_UNAVAILABLE);
    ck_assert(!mda_recipient_check(AUTH_ERROR, NULL, NULL, "u@example.org", &st, &arg));
    ck_assert_int_eq(st, DELIVERY_STATUS_DIRECTORY_UNAVAILABLE);
}
END_TEST

/* count - mda_delivered_to_count over text for address. */
static unsigned count(const char *text, const char *address)
{
    char path[] = "/tmp/test_mda.XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    unlink(path);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    struct mda_message msg = {.fd = fd, .len = strlen(text), .sender = ""};
    unsigned n = mda_delivered_to_count(&msg, address);
    close(fd);
    return n;
}

START_TEST(delivered_to_count)
{
    ck_assert_uint_eq(count("Subject: x\r\n\r\nbody\r\n", "a@example.org"), 0);
    ck_assert_uint_eq(count("Delivered-To: a@example.org\r\ndelivered-to:  <A@Example.org> \r\n"
                            "Delivered-To: b@example.org\r\n\r\n",
                            "a@example.org"),
                      2);
    /* LF line endings (dirmail-deliver's input before it is spooled) too */
    ck_assert_uint_eq(count("Delivered-To: a@example.org\nSubject: x\n\n", "a@example.org"), 1);
    /* only the header section: a quoted field in the body is no loop */
    ck_assert_uint_eq(count("Subject: x\r\n\r\nDelivered-To: a@example.org\r\n", "a@example.org"),
                      0);
    /* a longer address that begins alike is another one */
    ck_assert_uint_eq(count("Delivered-To: a@example.org.evil\r\n\r\n", "a@example.org"), 0);
}
END_TEST

START_TEST(network_match)
{
    char *nets[] = {"127.0.0.1/32", "192.0.2.0/24", "2001:db8::/32"};
    ck_assert(network_list_contains(nets, 3, "127.0.0.1"));
    ck_assert(!network_list_contains(nets, 3, "127.0.0.2"));
    ck_assert(network_list_contains(nets, 3, "192.0.2.77"));
    ck_assert(network_list_contains(nets, 3, "::ffff:192.0.2.1"));
    ck_assert(network_list_contains(nets, 3, "2001:db8::5"));
    ck_assert(!network_list_contains(nets, 3, "::1"));
    ck_assert(!network_list_contains(nets, 3, "unix"));
    ck_assert(!network_list_contains(nets, 0, "127.0.0.1"));
}
END_TEST

static Suite *mda_suite(void)
{
    Suite *s = suite_create("mda");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, recipient_table);
    tcase_add_test(tc, delivered_to_count);
    tcase_add_test(tc, network_match);
    suite_add_tcase(s, tc);
    return s;
}

TAP_MAIN(mda_suite)
