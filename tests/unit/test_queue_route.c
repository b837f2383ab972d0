/* tests/unit/test_queue_route.c - relay/queue_route.c: every case of the
 * routing table, read as a specification (this answer from the directory
 * gives that route), that a directory failure never fails a recipient, how
 * routes group by hop, and how a deferral names the hop. */
#include "config.h"

#include "relay/queue_route.h"
#include "tap_main.h"

#include <string.h>

static char *forwards[] = {"x@example.com"};
static char *members[] = {"a@example.org", "b@example.org"};

/* entry - a directory entry of kind with the rest empty. */
static struct auth_recipient entry(enum auth_kind kind)
{
    return (struct auth_recipient){
        .kind = kind, .forwards = {forwards, 1}, .members = {members, 2}};
}

static struct queue_route route_of(enum auth_status status, const struct auth_recipient *e,
                                   const char *rcpt)
{
    struct queue_route r;
    memset(&r, 0xa5, sizeof r); /* every field must be set */
    queue_route_recipient(status, e, rcpt, NULL, &r);
    return r;
}

static void hop(const struct queue_route *r, const char *expected)
{
    char text[256];
    queue_route_hop_name(r, text, sizeof text);
    ck_assert_str_eq(text, expected);
}

START_TEST(local_user_is_local_with_its_entry)
{
    struct auth_recipient e = entry(AUTH_KIND_LOCAL);
    struct queue_route r = route_of(AUTH_FOUND, &e, "alice@example.org");
    ck_assert_int_eq(r.kind, QUEUE_ROUTE_LOCAL);
    ck_assert_ptr_eq(r.entry, &e);
}
END_TEST

START_TEST(held_user_defers_mailbox_held)
{
    struct auth_recipient e = entry(AUTH_KIND_LOCAL);
    e.status = AUTH_USER_HELD;
    struct queue_route r = route_of(AUTH_FOUND, &e, "alice@example.org");
    ck_assert_int_eq(r.kind, QUEUE_ROUTE_DEFER);
    ck_assert_int_eq(r.status, DELIVERY_STATUS_MAILBOX_HELD);
}
END_TEST

START_TEST(other_node_goes_to_its_mail_host)
{
    struct auth_recipient e = entry(AUTH_KIND_REMOTE_NODE);
    e.mail_host = "mx2.example.org";
    struct queue_route r = route_of(AUTH_FOUND, &e, "frank@example.org");
    ck_assert_int_eq(r.kind, QUEUE_ROUTE_NODE);
    ck_assert_str_eq(r.next_hop, "mx2.example.org");
    hop(&r, "node mx2.example.org");
    e.mail_host = NULL;
    r = route_of(AUTH_FOUND, &e, "frank@example.org");
    hop(&r, "node ?");
}
END_TEST

START_TEST(relay_goes_to_next_hop_or_mx)
{
    struct auth_recipient e = entry(AUTH_KIND_RELAY);
    e.next_hop = "smtp.example.net";
    struct queue_route r = route_of(AUTH_FOUND, &e, "someone@relay.example");
    ck_assert_int_eq(r.kind, QUEUE_ROUTE_RELAY);
    ck_assert_str_eq(r.next_hop, "smtp.example.net");
    ck_assert_str_eq(r.domain, "relay.example");
    ck_assert(!r.foreign);
    hop(&r, "relay smtp.example.net");
    e.next_hop = NULL;
    r = route_of(AUTH_FOUND, &e, "someone@relay.example");
    ck_assert_ptr_null(r.next_hop);
    hop(&r, "relay MX");
}
END_TEST

START_TEST(foreign_domain_relays_by_mx_found_or_notfound)
{
    struct auth_recipient e = entry(AUTH_KIND_NOT_OURS);
    for (int i = 0; i < 2; i++) {
        struct queue_route r =
            route_of(i == 0 ? AUTH_FOUND : AUTH_NOTFOUND, &e, "someone@elsewhere.example");
        ck_assert_int_eq(r.kind, QUEUE_ROUTE_RELAY);
        ck_assert_ptr_null(r.next_hop);
        ck_assert_str_eq(r.domain, "elsewhere.example");
        ck_assert(r.foreign);
        hop(&r, "domain not handled here");
    }
}
END_TEST

START_TEST(group_and_forward_expand_to_their_targets)
{
    struct auth_recipient g = entry(AUTH_KIND_GROUP);
    struct queue_route r = route_of(AUTH_FOUND, &g, "staff@example.org");
    ck_assert_int_eq(r.kind, QUEUE_ROUTE_EXPAND);
    ck_assert_ptr_eq(r.targets, &g.members);
    ck_assert_int_eq(r.copy, QUEUE_ROUTE_KIND_COUNT);
    struct auth_recipient f = entry(AUTH_KIND_FORWARD);
    r = route_of(AUTH_FOUND, &f, "dave@example.org");
    ck_assert_int_eq(r.kind, QUEUE_ROUTE_EXPAND);
    ck_assert_ptr_eq(r.targets, &f.forwards);
    ck_assert_int_eq(r.copy, QUEUE_ROUTE_KIND_COUNT);
}
END_TEST

START_TEST(forward_keeping_a_copy_names_where_the_copy_goes)
{
    struct auth_recipient f = entry(AUTH_KIND_FORWARD);
    f.keep_copy = true;
    struct queue_route r = route_of(AUTH_FOUND, &f, "dave@example.org");
    ck_assert_int_eq(r.kind, QUEUE_ROUTE_EXPAND);
    ck_assert_int_eq(r.copy, QUEUE_ROUTE_LOCAL);
    ck_assert_ptr_eq(r.entry, &f);
    f.mail_host = "mx2.example.org";
    r = route_of(AUTH_FOUND, &f, "dave@example.org");
    ck_assert_int_eq(r.copy, QUEUE_ROUTE_NODE);
    ck_assert_str_eq(r.next_hop, "mx2.example.org");
    hop(&r, "forward with copy on node mx2.example.org");
}
END_TEST

START_TEST(disabled_fails_unless_held)
{
    struct auth_recipient e = entry(AUTH_KIND_DISABLED);
    struct queue_route r = route_of(AUTH_FOUND, &e, "erin@example.org");
    ck_assert_int_eq(r.kind, QUEUE_ROUTE_FAIL);
    ck_assert_int_eq(r.status, DELIVERY_STATUS_MAILBOX_DISABLED);
    ck_assert_str_eq(r.status_arg, "erin@example.org");
    e.disabled_hold = true;
    r = route_of(AUTH_FOUND, &e, "erin@example.org");
    ck_assert_int_eq(r.kind, QUEUE_ROUTE_DEFER);
    ck_assert_int_eq(r.status, DELIVERY_STATUS_DISABLED_HELD);
}
END_TEST

START_TEST(unknown_invalid_and_notfound_fail_no_such_recipient)
{
    static const enum auth_kind kinds[] = {AUTH_KIND_UNKNOWN, AUTH_KIND_INVALID};
    for (size_t i = 0; i < 2; i++) {
        struct auth_recipient e = entry(kinds[i]);
        struct queue_route r = route_of(AUTH_FOUND, &e, "nobody@example.org");
        ck_assert_int_eq(r.kind, QUEUE_ROUTE_FAIL);
        ck_assert_int_eq(r.status, DELIVERY_STATUS_NO_SUCH_RECIPIENT);
        ck_assert_str_eq(r.status_arg, "nobody@example.org");
    }
    /* NOTFOUND is "no" whatever kind the answer carries, but NOT_OURS */
    struct auth_recipient e = entry(AUTH_KIND_LOCAL);
    struct queue_route r = route_of(AUTH_NOTFOUND, &e, "nobody@example.org");
    ck_assert_int_eq(r.kind, QUEUE_ROUTE_FAIL);
    ck_assert_int_eq(r.status, DELIVERY_STATUS_NO_SUCH_RECIPIENT);
}
END_TEST

START_TEST(directory_failure_defers_never_fails)
{
    static const enum auth_status statuses[] = {AUTH_TEMPFAIL, AUTH_ERROR, AUTH_FAILED, AUTH_OK};
    struct auth_recipient e = entry(AUTH_KIND_UNKNOWN);
    for (size_t i = 0; i < 4; i++) {
        struct queue_route r;
        queue_route_recipient(statuses[i], &e, "bob@example.org", "ldap down", &r);
        ck_assert_int_eq(r.kind, QUEUE_ROUTE_DEFER);
        ck_assert_int_eq(r.status, DELIVERY_STATUS_DIRECTORY_UNAVAILABLE);
        ck_assert_str_eq(r.status_arg, "ldap down");
    }
    /* an answer without its entry is no "no" either */
    struct queue_route r = route_of(AUTH_NOTFOUND, NULL, "bob@example.org");
    ck_assert_int_eq(r.kind, QUEUE_ROUTE_DEFER);
    ck_assert_int_eq(r.status, DELIVERY_STATUS_DIRECTORY_UNAVAILABLE);
    ck_assert_str_eq(r.status_arg, auth_status_name(AUTH_TEMPFAIL));
    r = route_of(AUTH_FOUND, NULL, "bob@example.org");
    ck_assert_int_eq(r.kind, QUEUE_ROUTE_DEFER);
}
END_TEST

START_TEST(routes_group_by_kind_and_hop)
{
    struct auth_recipient l1 = entry(AUTH_KIND_LOCAL), l2 = entry(AUTH_KIND_LOCAL);
    struct auth_recipient n1 = entry(AUTH_KIND_REMOTE_NODE), n2 = entry(AUTH_KIND_REMOTE_NODE);
    struct auth_recipient n3 = entry(AUTH_KIND_REMOTE_NODE);
    n1.mail_host = "MX2.example.org";
    n2.mail_host = "mx2.EXAMPLE.org";
    n3.mail_host = "mx3.example.org";
    struct auth_recipient f1 = entry(AUTH_KIND_NOT_OURS), f2 = entry(AUTH_KIND_NOT_OURS);
    struct auth_recipient f3 = entry(AUTH_KIND_NOT_OURS);
    struct queue_route a = route_of(AUTH_FOUND, &l1, "a@example.org");
    struct queue_route b = route_of(AUTH_FOUND, &l2, "b@example.net");
    ck_assert(queue_route_same_hop(&a, &b)); /* every local mailbox: one transport call */
    struct queue_route c = route_of(AUTH_FOUND, &n1, "c@example.org");
    struct queue_route d = route_of(AUTH_FOUND, &n2, "d@example.org");
    struct queue_route e = route_of(AUTH_FOUND, &n3, "e@example.org");
    ck_assert(!queue_route_same_hop(&a, &c));
    ck_assert(queue_route_same_hop(&c, &d));
    ck_assert(!queue_route_same_hop(&c, &e));
    struct queue_route x = route_of(AUTH_FOUND, &f1, "x@Elsewhere.example");
    struct queue_route y = route_of(AUTH_FOUND, &f2, "y@elsewhere.EXAMPLE");
    struct queue_route z = route_of(AUTH_FOUND, &f3, "z@other.example");
    ck_assert(queue_route_same_hop(&x, &y)); /* by MX: one group per domain */
    ck_assert(!queue_route_same_hop(&x, &z));
    struct auth_recipient g = entry(AUTH_KIND_GROUP);
    struct queue_route gr = route_of(AUTH_FOUND, &g, "staff@example.org");
    ck_assert(!queue_route_same_hop(&gr, &gr)); /* expansions go to no transport */
}
END_TEST

START_TEST(kind_names)
{
    ck_assert_str_eq(queue_route_kind_name(QUEUE_ROUTE_LOCAL), "local");
    ck_assert_str_eq(queue_route_kind_name(QUEUE_ROUTE_RELAY), "relay");
    ck_assert_str_eq(queue_route_kind_name(QUEUE_ROUTE_FAIL), "fail");
    ck_assert_str_eq(queue_route_kind_name(QUEUE_ROUTE_KIND_COUNT), "?");
}
END_TEST

static Suite *queue_route_suite(void)
{
    Suite *s = suite_create("queue_route");
    TCase *tc = tcase_create("route");
    tcase_add_test(tc, local_user_is_local_with_its_entry);
    tcase_add_test(tc, held_user_defers_mailbox_held);
    tcase_add_test(tc, other_node_goes_to_its_mail_host);
    tcase_add_test(tc, relay_goes_to_next_hop_or_mx);
    tcase_add_test(tc, foreign_domain_relays_by_mx_found_or_notfound);
    tcase_add_test(tc, group_and_forward_expand_to_their_targets);
    tcase_add_test(tc, forward_keeping_a_copy_names_where_the_copy_goes);
    tcase_add_test(tc, disabled_fails_unless_held);
    tcase_add_test(tc, unknown_invalid_and_notfound_fail_no_such_recipient);
    tcase_add_test(tc, directory_failure_defers_never_fails);
    tcase_add_test(tc, routes_group_by_kind_and_hop);
    tcase_add_test(tc, kind_names);
    suite_add_tcase(s, tc);
    return s;
}

TAP_MAIN(queue_route_suite)
