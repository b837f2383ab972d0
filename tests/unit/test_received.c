/* tests/unit/test_received.c - proto/received.c: the Received field of RFC
 * 5321 4.4 with the RFC 3848 with-protocols, TLS facts, the authenticated
 * user only when given, folding with CRLF + TAB, and no way for the client's
 * EHLO word or login to end the field early. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "proto/received.h"
#include "tests/unit/tap_main.h"

static char field[2048];

static const char *fmt(struct received_info *i)
{
    setenv("TZ", "UTC", 1);
    int n = received_format(field, sizeof field, i);
    ck_assert_int_gt(n, 0);
    ck_assert_uint_eq((size_t)n, strlen(field));
    return field;
}

static struct received_info base(void)
{
    struct received_info i = {
        .helo = "client.test",
        .client_ip = "192.0.2.1",
        .hostname = "mx.example.org",
        .esmtp = true,
        .queue_id = "0123456789abcdef0123456",
        .when = 0,
    };
    return i;
}

/* folded_ok - every line ends in CRLF and each after the first starts with a
 * TAB: one field, however long (RFC 5322 2.2.3). */
static void folded_ok(const char *f)
{
    const char *p = f;
    bool first = true;
    while (*p != '\0') {
        const char *crlf = strstr(p, "\r\n");
        ck_assert_ptr_nonnull(crlf);
        ck_assert(memchr(p, '\n', (size_t)(crlf - p)) == NULL);
        ck_assert(memchr(p, '\r', (size_t)(crlf - p)) == NULL);
        if (!first)
            ck_assert_int_eq(p[0], '\t');
        first = false;
        p = crlf + 2;
    }
}

START_TEST(plain_esmtp)
{
    struct received_info i = base();
    i.for_rcpt = "alice@example.org";
    const char *f = fmt(&i);
    ck_assert_str_eq(f, "Received: from client.test ([192.0.2.1])\r\n"
                        "\tby mx.example.org (dirmail) with ESMTP id 0123456789abcdef0123456\r\n"
                        "\tfor <alice@example.org>;\r\n"
                        "\tThu, 01 Jan 1970 00:00:00 +0000\r\n");
}
END_TEST

START_TEST(helo_smtp_and_ipv6)
{
    struct received_info i = base();
    i.esmtp = false;
    i.client_ip = "2001:db8::1";
    const char *f = fmt(&i);
    ck_assert_ptr_nonnull(strstr(f, "from client.test ([IPv6:2001:db8::1])\r\n"));
    ck_assert_ptr_nonnull(strstr(f, " with SMTP id "));
    ck_assert_ptr_null(strstr(f, "for <"));
    folded_ok(f);
}
END_TEST

START_TEST(tls_and_auth)
{
    struct received_info i = base();
    i.tls_version = "TLSv1.3";
    i.tls_cipher = "TLS_AES_256_GCM_SHA384";
    const char *f = fmt(&i);
    ck_assert_ptr_nonnull(strstr(f, " with ESMTPS id "));
    ck_assert_ptr_nonnull(strstr(f, "\r\n\t(version=TLSv1.3 cipher=TLS_AES_256_GCM_SHA384)"));
    i.authenticated = true;
    f = fmt(&i);
    ck_assert_ptr_nonnull(strstr(f, " with ESMTPSA id "));
    /* the login is shown only when the admin chose to (auth_user set) */
    ck_assert_ptr_null(strstr(f, "authenticated as"));
    i.auth_user = "alice";
    f = fmt(&i);
    ck_assert_ptr_nonnull(strstr(f, "\r\n\t(authenticated as alice)"));
    folded_ok(f);
    i.tls_version = NULL;
    f = fmt(&i);
    ck_assert_ptr_nonnull(strstr(f, " with ESMTPA id "));
    ck_assert_ptr_null(strstr(f, "version="));
}
END_TEST

START_TEST(no_injection)
{
    struct received_info i = base();
    static const char *const bad[] = {
        "evil\r\nX-Injected: 1", "a b", "a)b", "a(b", "a\\b", "a\tb", "", "\x7f"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        i.helo = bad[k];
        i.auth_user = bad[k];
        const char *f = fmt(&i);
        ck_assert_msg(strncmp(f, "Received: from unknown ([192.0.2.1])\r\n", 38) == 0, "%s", f);
        ck_assert_ptr_null(strstr(f, "Injected"));
        ck_assert_ptr_null(strstr(f, "authenticated as"));
        folded_ok(f);
    }
    i.helo = NULL;
    ck_assert_int_eq(strncmp(fmt(&i), "Received: from unknown ", 23), 0);
}
END_TEST

START_TEST(too_small_fails)
{
    struct received_info i = base();
    char small[40];
    ck_assert_int_eq(received_format(small, sizeof small, &i), -1);
    ck_assert_int_eq(received_format(small, 0, &i), -1);
}
END_TEST

static Suite *received_suite(void)
{
    Suite *s = suite_create("received");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, plain_esmtp);
    tcase_add_test(tc, helo_smtp_and_ipv6);
    tcase_add_test(tc, tls_and_auth);
    tcase_add_test(tc, no_injection);
    tcase_add_test(tc, too_small_fails);
    suite_add_tcase(s, tc);
    return s;
}

TAP_MAIN(received_suite)
