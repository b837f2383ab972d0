/* tests/unit/test_smtp_policy.c - gateway/smtp_policy.c: every row of the RCPT
 * table (directory answer x kind x client rights), the replies it maps to,
 * trusted networks in CIDR (IPv4, IPv6, bare addresses, junk) and the
 * envelope sender check of authenticated users. */
#include "config.h"

#include <string.h>

#include "gateway/smtp_policy.h"
#include "tests/unit/tap_main.h"

static enum smtp_rcpt_decision rcpt(enum auth_status st, enum auth_kind kind, bool hold,
                                    bool may_relay)
{
    struct auth_recipient r;
    memset(&r, 0, sizeof r);
    r.kind = kind;
    r.disabled_hold = hold;
    return smtp_policy_rcpt(st, &r, may_relay);
}

START_TEST(ours_accepted_whoever_asks)
{
    static const enum auth_kind ours[] = {AUTH_KIND_LOCAL, AUTH_KIND_REMOTE_NODE, AUTH_KIND_FORWARD,
                                          AUTH_KIND_GROUP, AUTH_KIND_RELAY};
    for (size_t i = 0; i < sizeof ours / sizeof ours[0]; i++) {
        ck_assert_int_eq(rcpt(AUTH_FOUND, ours[i], false, false), SMTP_RCPT_ACCEPT);
        ck_assert_int_eq(rcpt(AUTH_FOUND, ours[i], false, true), SMTP_RCPT_ACCEPT);
        /* a kind the directory says it did not find is not accepted */
        ck_assert_int_eq(rcpt(AUTH_NOTFOUND, ours[i], false, true), SMTP_RCPT_UNKNOWN);
    }
}
END_TEST

START_TEST(unknown_and_invalid_never_widened)
{
    /* the percent hack and friends come back UNKNOWN/INVALID: refused even
     * for authenticated or trusted clients */
    for (int relay = 0; relay < 2; relay++) {
        ck_assert_int_eq(rcpt(AUTH_NOTFOUND, AUTH_KIND_UNKNOWN, false, relay), SMTP_RCPT_UNKNOWN);
        ck_assert_int_eq(rcpt(AUTH_FOUND, AUTH_KIND_UNKNOWN, false, relay), SMTP_RCPT_UNKNOWN);
        ck_assert_int_eq(rcpt(AUTH_NOTFOUND, AUTH_KIND_INVALID, false, relay), SMTP_RCPT_UNKNOWN);
        ck_assert_int_eq(smtp_policy_rcpt(AUTH_NOTFOUND, NULL, relay), SMTP_RCPT_UNKNOWN);
    }
}
END_TEST

START_TEST(not_ours_only_for_authenticated_or_trusted)
{
    ck_assert_int_eq(rcpt(AUTH_FOUND, AUTH_KIND_NOT_OURS, false, false), SMTP_RCPT_RELAY_DENIED);
    ck_assert_int_eq(rcpt(AUTH_NOTFOUND, AUTH_KIND_NOT_OURS, false, false), SMTP_RCPT_RELAY_DENIED);
    ck_assert_int_eq(rcpt(AUTH_FOUND, AUTH_KIND_NOT_OURS, false, true), SMTP_RCPT_ACCEPT);
}
END_TEST

START_TEST(disabled_rejected_or_held)
{
    ck_assert_int_eq(rcpt(AUTH_FOUND, AUTH_KIND_DISABLED, false, true), SMTP_RCPT_DISABLED);
    ck_assert_int_eq(rcpt(AUTH_FOUND, AUTH_KIND_DISABLED, true, false), SMTP_RCPT_ACCEPT);
}
END_TEST

START_TEST(tempfail_is_never_5xx)
{
    static const enum auth_status st[] = {AUTH_TEMPFAIL, AUTH_ERROR, AUTH_OK, AUTH_FAILED};
    for (size_t i = 0; i < sizeof st / sizeof st[0]; i++) {
        ck_assert_int_eq(rcpt(st[i], AUTH_KIND_LOCAL, false, true), SMTP_RCPT_TEMPFAIL);
        ck_assert_int_eq(rcpt(st[i], AUTH_KIND_NOT_OURS, false, false), SMTP_RCPT_TEMPFAIL);
    }
    /* FOUND without a recipient is a broken answer: ours to retry */
    ck_assert_int_eq(smtp_policy_rcpt(AUTH_FOUND, NULL, false), SMTP_RCPT_TEMPFAIL);
}
END_TEST

START_TEST(rcpt_replies)
{
    ck_assert_int_eq(smtp_policy_rcpt_reply(SMTP_RCPT_ACCEPT)->code, 250);
    ck_assert_int_eq(smtp_policy_rcpt_reply(SMTP_RCPT_UNKNOWN)->code, 550);
    ck_assert_int_eq(smtp_policy_rcpt_reply(SMTP_RCPT_UNKNOWN)->esc, SMTP_ESC_BAD_DEST_MAILBOX);
    ck_assert_int_eq(smtp_policy_rcpt_reply(SMTP_RCPT_DISABLED)->esc, SMTP_ESC_MAILBOX_DISABLED);
    ck_assert_int_eq(smtp_policy_rcpt_reply(SMTP_RCPT_RELAY_DENIED)->code, 554);
    ck_assert_int_eq(smtp_policy_rcpt_reply(SMTP_RCPT_RELAY_DENIED)->esc, SMTP_ESC_NOT_AUTHORIZED);
    ck_assert_int_eq(smtp_policy_rcpt_reply(SMTP_RCPT_TEMPFAIL)->code, 451);
    ck_assert_int_eq(smtp_policy_rcpt_reply(SMTP_RCPT_TEMPFAIL)->esc, SMTP_ESC_DIRECTORY_FAILURE);
}
END_TEST

START_TEST(trusted_networks_cidr)
{
    char *nets[] = {"192.0.2.0/24", "10.1.2.3", "2001:db8:1::/48", "::1/128", "junk/99"};
    struct config_relay relay = {.trusted_networks = nets,
                                 .trusted_network_count = sizeof nets / sizeof nets[0]};
    ck_assert(smtp_policy_trusted(&relay, "192.0.2.0"));
    ck_assert(smtp_policy_trusted(&relay, "192.0.2.255"));
    ck_assert(!smtp_policy_trusted(&relay, "192.0.3.0"));
    ck_assert(smtp_policy_trusted(&relay, "10.1.2.3"));
    ck_assert(!smtp_policy_trusted(&relay, "10.1.2.4"));
    ck_assert(smtp_policy_trusted(&relay, "2001:db8:1:ffff::9"));
    ck_assert(!smtp_policy_trusted(&relay, "2001:db8:2::1"));
    ck_assert(smtp_policy_trusted(&relay, "::1"));
    ck_assert(!smtp_policy_trusted(&relay, "::2"));
    ck_assert(!smtp_policy_trusted(&relay, "not an address"));
    struct config_relay none = {.trusted_networks = NULL};
    ck_assert(!smtp_policy_trusted(&none, "127.0.0.1"));
}
END_TEST

START_TEST(sender_check)
{
    char *mine[] = {"alice@example.org", "A.Liddell@Example.org"};
    struct auth_strlist senders = {mine, 2};
    ck_assert_int_eq(smtp_policy_sender(AUTH_FOUND, &senders, "alice@example.org"), SMTP_SENDER_OK);
    ck_assert_int_eq(smtp_policy_sender(AUTH_FOUND, &senders, "a.liddell@EXAMPLE.ORG"),
                     SMTP_SENDER_OK);
    ck_assert_int_eq(smtp_policy_sender(AUTH_FOUND, &senders, ""), SMTP_SENDER_OK);
    ck_assert_int_eq(smtp_policy_sender(AUTH_FOUND, &senders, "bob@example.org"),
                     SMTP_SENDER_NOT_OWNED);
    ck_assert_int_eq(smtp_policy_sender(AUTH_TEMPFAIL, &senders, "alice@example.org"),
                     SMTP_SENDER_TEMPFAIL);
    ck_assert_int_eq(smtp_policy_sender_reply(SMTP_SENDER_NOT_OWNED)->code, 553);
    ck_assert_int_eq(smtp_policy_sender_reply(SMTP_SENDER_TEMPFAIL)->code, 451);
}
END_TEST

static Suite *smtp_policy_suite(void)
{
    Suite *s = suite_create("smtp_policy");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, ours_accepted_whoever_asks);
    tcase_add_test(tc, unknown_and_invalid_never_widened);
    tcase_add_test(tc, not_ours_only_for_authenticated_or_trusted);
    tcase_add_test(tc, disabled_rejected_or_held);
    tcase_add_test(tc, tempfail_is_never_5xx);
    tcase_add_test(tc, rcpt_replies);
    tcase_add_test(tc, trusted_networks_cidr);
    tcase_add_test(tc, sender_check);
    suite_add_tcase(s, tc);
    return s;
}

TAP_MAIN(smtp_policy_suite)
