/* tests/unit/test_mime_fields.c - address lists and dates as a reader
 * reads them (lib/mime_fields.c): comments out, a comment after a bare
 * address as its name, groups, RFC 2047 names; the first address for
 * SORT; dates with their zone, and what is no date. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "lib/mime_fields.h"
#include "tests/unit/tap_main.h"

static void expect_text(const char *value, const char *text)
{
    char *got = mime_address_text(value);
    if (text == NULL) {
        ck_assert_msg(got == NULL, "\"%s\": \"%s\"", value, got);
        return;
    }
    ck_assert_ptr_nonnull(got);
    ck_assert_str_eq(got, text);
    free(got);
}

START_TEST(address_text)
{
    expect_text("<user-from (comment)@ (comment) domain.org>", "user-from@domain.org");
    expect_text("user@domain.org (Real Name)", "Real Name <user@domain.org>");
    expect_text("=?utf-8?q?J=C3=B6rg?= <j@example.org>", "Jörg <j@example.org>");
    expect_text("team: a@x.org, b@x.org;", "team: a@x.org, b@x.org;");
    expect_text("a@b, c (x) <d@e>", "a@b, c <d@e>");
    expect_text("", NULL);
}
END_TEST

START_TEST(first_mailbox)
{
    struct mime_mailbox mb;
    ck_assert(mime_first_mailbox("Alice <alice@example.org>, bob@example.org", &mb));
    ck_assert_str_eq(mb.name, "Alice");
    ck_assert_str_eq(mb.local, "alice");
    ck_assert_str_eq(mb.domain, "example.org");
    mime_mailbox_clear(&mb);
    /* a group is its name, as RFC 3501 7.4.2 writes it */
    ck_assert(mime_first_mailbox("user2: blah@domain1.org;", &mb));
    ck_assert_str_eq(mb.local, "user2");
    ck_assert_str_eq(mb.name, "");
    ck_assert_str_eq(mb.domain, "");
    mime_mailbox_clear(&mb);
    ck_assert(mime_first_mailbox("d", &mb));
    ck_assert_str_eq(mb.local, "d");
    ck_assert_str_eq(mb.domain, "");
    mime_mailbox_clear(&mb);
    ck_assert(!mime_first_mailbox("", &mb));
}
END_TEST

START_TEST(dates)
{
    int64_t t;
    int off;
    ck_assert(mime_date_parse("Sun, 25 Mar 2007 00:00:00 +0200", &t, &off));
    ck_assert_int_eq(t, 1174773600);
    ck_assert_int_eq(off, 7200);
    ck_assert(mime_date_parse("25 Mar 2007 00:00 GMT", &t, &off));
    ck_assert_int_eq(t, 1174780800);
    ck_assert_int_eq(off, 0);
    ck_assert(mime_date_parse("Mon, 26 Mar 2007 00:00:00 -0330", &t, &off));
    ck_assert_int_eq(off, -(3 * 3600 + 1800));
    ck_assert(!mime_date_parse("not a date at all", &t, &off));
}
END_TEST

static Suite *mime_fields_suite(void)
{
    Suite *s = suite_create("mime_fields");
    TCase *tc = tcase_create("fields");
    tcase_add_test(tc, address_text);
    tcase_add_test(tc, first_mailbox);
    tcase_add_test(tc, dates);
    suite_add_tcase(s, tc);
    return s;
}

TAP_MAIN(mime_fields_suite)
