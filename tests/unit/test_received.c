/* tests/unit/test_received.c - proto/received.c: the Received field of RFC
 * 5321 4.4 with the RFC 3848 with-protocols, TLS facts, the authenticated
 * user only when given, folding with CRLF + TAB, and no way for the client's
 * EHLO word or login to end the field early. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/received.h"
#include "tests/unit/tap_main.h"

static char *field;

/* fmt - the field for i; it stays valid until the next call (the last one
 * is left to the test process's exit). */
static const char *fmt(struct received_info *i)
{
    setenv("TZ", "UTC", 1);
    free(field);
    size_t len = 0;
    field = received_format(i, &len);
    ck_assert_ptr_nonnull(field);
    ck_assert_uint_eq(len, strlen(field));
    return field;
}

static char *repeat(char c, size_t n)
{
    char *s = malloc(n + 1);
    ck_assert_ptr_nonnull(s);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

/* host250 - a 250-octet host name of labels of at most 63 (RFC 1035 2.3.4). */
static char *host250(void)
{
    char *h = repeat('a', 250);
    for (size_t i = 63; i < 250; i += 64)
        h[i] = '.';
    return h;
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

/* folded_ok - every line ends in CRLF, is at most 998 octets (RFC 5322
 * 2.1.1) and each after the first starts with a TAB: one field, however long
 * (RFC 5322 2.2.3). A line passes 78 only by a word that would not fit in
 * 78 on a line of its own either (a fold would not have helped). */
static void folded_ok(const char *f)
{
    const char *p = f;
    bool first = true;
    while (*p != '\0') {
        const char *crlf = strstr(p, "\r\n");
        ck_assert_ptr_nonnull(crlf);
        size_t len = (size_t)(crlf - p);
        ck_assert(memchr(p, '\n', len) == NULL);
        ck_assert(memchr(p, '\r', len) == NULL);
        ck_assert_uint_le(len, 998);
        if (!first)
            ck_assert_int_eq(p[0], '\t');
        const char *w = p + (first ? 0 : 1);
        bool first_word = true;
        while (w < crlf) {
            const char *sp = memchr(w, ' ', (size_t)(crlf - w));
            const char *end = sp != NULL ? sp : crlf;
            if (!first_word && (size_t)(end - p) > 78)
                ck_assert_msg(1 + (end - w) > 78, "could have folded before \"%.*s\" in %.*s",
                              (int)(end - w), w, (int)len, p);
            first_word = false;
            w = sp != NULL ? sp + 1 : crlf;
        }
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

/* LMTP (RFC 3848 LMTP, LMTPS), and a client of a UNIX socket, which has no
 * address to show */
START_TEST(lmtp_and_local_socket)
{
    struct received_info i = base();
    i.lmtp = true;
    i.client_ip = NULL;
    const char *f = fmt(&i);
    ck_assert_ptr_nonnull(strstr(f, "from client.test (local socket)\r\n"));
    ck_assert_ptr_nonnull(strstr(f, " with LMTP id "));
    i.client_ip = "192.0.2.1";
    i.tls_version = "TLSv1.3";
    f = fmt(&i);
    ck_assert_ptr_nonnull(strstr(f, "([192.0.2.1])"));
    ck_assert_ptr_nonnull(strstr(f, " with LMTPS id "));
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

/* Issue 10 section 9: a 250-octet host name (and the longest addresses
 * RCPT takes, ADDRESS_RENDER_MAX) must give a complete field: folded where
 * a line would pass 78, no line past 998, every line ended by CRLF. */
START_TEST(long_hostname_folded_and_complete)
{
    char *host = host250();
    struct received_info i = base();
    i.hostname = host;
    i.tls_version = "TLSv1.3";
    i.tls_cipher = "TLS_AES_256_GCM_SHA384";
    i.authenticated = true;
    i.auth_user = "alice";
    i.for_rcpt = "alice@example.org";
    const char *f = fmt(&i);
    folded_ok(f);
    char *by = NULL;
    ck_assert_int_gt(
        asprintf(&by, "\r\n\tby %s\r\n\t(dirmail) with ESMTPSA id %s\r\n", host, i.queue_id), 0);
    ck_assert_msg(strstr(f, by) != NULL, "%s", f);
    ck_assert_ptr_nonnull(strstr(f, "\tfor <alice@example.org>;\r\n\tThu, 01 Jan 1970"));
    ck_assert_int_eq(strcmp(f + strlen(f) - 2, "\r\n"), 0);
    free(by);

    /* a 64-octet local part at a 255-octet domain, the longest RCPT path */
    char *local = repeat('l', 64), *domain = repeat('d', 255), *rcpt = NULL;
    ck_assert_int_gt(asprintf(&rcpt, "%s@%s", local, domain), 0);
    i.for_rcpt = rcpt;
    f = fmt(&i);
    folded_ok(f);
    ck_assert_ptr_nonnull(strstr(f, rcpt));
    free(rcpt);
    free(local);
    free(domain);
    free(host);
}
END_TEST

/* A HELO word too long for any line (the command line limit can be set far
 * above 998) fails the field whole: nothing truncated, and the session then
 * writes it without the HELO. */
START_TEST(too_long_fails_whole)
{
    char *helo = repeat('h', 1000);
    struct received_info i = base();
    i.helo = helo;
    ck_assert_ptr_null(received_format(&i, NULL));
    i.helo = NULL;
    const char *f = fmt(&i);
    folded_ok(f);
    /* a control octet in what the session gave for our side fails too */
    i.hostname = "mx.example.org\r\nX-Injected: 1";
    ck_assert_ptr_null(received_format(&i, NULL));
    free(helo);
}
END_TEST

static Suite *received_suite(void)
{
    Suite *s = suite_create("received");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, plain_esmtp);
    tcase_add_test(tc, helo_smtp_and_ipv6);
    tcase_add_test(tc, tls_and_auth);
    tcase_add_test(tc, lmtp_and_local_socket);
    tcase_add_test(tc, no_injection);
    tcase_add_test(tc, long_hostname_folded_and_complete);
    tcase_add_test(tc, too_long_fails_whole);
    suite_add_tcase(s, tc);
    return s;
}

TAP_MAIN(received_suite)
