/* tests/unit/test_smtp_client.c - proto/smtp_client.c: replies read line by
 * line (multi-line, enhanced codes only of the reply's class, malformed and
 * changing codes refused), the EHLO keywords, MAIL and RCPT with their
 * parameters, the status a peer's reply is recorded with, and the text
 * made safe for DATA (bare LF and bare CR become CRLF, leading dots
 * doubled, across chunk boundaries, the end always CRLF.CRLF). */
#include "config.h"

#include "proto/delivery_status.h"
#include "proto/smtp_client.h"
#include "tap_main.h"

#include <string.h>

static enum smtp_client_feed feed(struct smtp_client_reply *r, const char *line)
{
    return smtp_client_reply_feed(r, line, strlen(line), NULL);
}

START_TEST(test_multiline_reply_with_code)
{
    struct smtp_client_reply r;
    smtp_client_reply_reset(&r);
    ck_assert_int_eq(feed(&r, "550-5.1.1 no such"), SMTP_CLIENT_MORE);
    ck_assert_int_eq(feed(&r, "550 5.1.1 user here"), SMTP_CLIENT_DONE);
    ck_assert_int_eq(r.code, 550);
    ck_assert_str_eq(r.esc, "5.1.1");
    ck_assert_str_eq(r.text, "no such; user here");
    char out[200];
    smtp_client_reply_describe(&r, out, sizeof out);
    ck_assert_str_eq(out, "550 5.1.1 no such; user here");
}
END_TEST

START_TEST(test_bad_replies)
{
    struct smtp_client_reply r;
    smtp_client_reply_reset(&r);
    ck_assert_int_eq(feed(&r, "25"), SMTP_CLIENT_BAD);
    ck_assert_int_eq(feed(&r, "250x"), SMTP_CLIENT_BAD);
    ck_assert_int_eq(feed(&r, "999 nine"), SMTP_CLIENT_BAD);
    ck_assert_int_eq(feed(&r, "250-first"), SMTP_CLIENT_MORE);
    ck_assert_int_eq(feed(&r, "251 changed"), SMTP_CLIENT_BAD);
    /* a code of another class is text, not an enhanced code */
    smtp_client_reply_reset(&r);
    ck_assert_int_eq(feed(&r, "250 5.0.0 odd"), SMTP_CLIENT_DONE);
    ck_assert_str_eq(r.esc, "");
    ck_assert_str_eq(r.text, "5.0.0 odd");
    smtp_client_reply_reset(&r);
    ck_assert_int_eq(feed(&r, "354"), SMTP_CLIENT_DONE);
    ck_assert_int_eq(r.code, 354);
    smtp_client_reply_reset(&r);
    for (int i = 0; i < SMTP_CLIENT_REPLY_LINES_MAX; i++)
        ck_assert_int_eq(feed(&r, "250-x"), SMTP_CLIENT_MORE);
    ck_assert_int_eq(feed(&r, "250 x"), SMTP_CLIENT_BAD);
}
END_TEST

START_TEST(test_ehlo_keywords)
{
    struct smtp_client_caps caps = {0};
    smtp_client_caps_line(&caps, "mx.example says PIPELINING", true);
    ck_assert(!caps.pipelining);
    smtp_client_caps_line(&caps, "pipelining", false);
    smtp_client_caps_line(&caps, "SIZE 1000000", false);
    smtp_client_caps_line(&caps, "8BITMIME", false);
    smtp_client_caps_line(&caps, "STARTTLS", false);
    smtp_client_caps_line(&caps, "DSN", false);
    smtp_client_caps_line(&caps, "AUTH LOGIN PLAIN", false);
    smtp_client_caps_line(&caps, "STARTTLSX", false);
    ck_assert(caps.pipelining && caps.eightbit && caps.starttls && caps.dsn);
    ck_assert(caps.size);
    ck_assert_uint_eq(caps.size_max, 1000000);
    ck_assert(caps.auth_plain && caps.auth_login);
    ck_assert(!caps.smtputf8 && !caps.chunking);
    smtp_client_caps_line(&caps, "CHUNKING", false);
    ck_assert(caps.chunking);
    struct smtp_client_caps none = {0};
    smtp_client_caps_line(&none, "SIZE", false);
    ck_assert(none.size);
    ck_assert_uint_eq(none.size_max, 0);
}
END_TEST

/* LMTP is a mode of the client: LHLO, never HELO, and one final reply
 * per accepted recipient (RFC 2033 4.1, 4.2). */
START_TEST(test_lmtp_mode)
{
    char out[64];
    ck_assert_int_gt(
        smtp_client_hello_command(out, sizeof out, SMTP_CLIENT_SMTP, false, "a.example"), 0);
    ck_assert_str_eq(out, "EHLO a.example\r\n");
    smtp_client_hello_command(out, sizeof out, SMTP_CLIENT_SMTP, true, "a.example");
    ck_assert_str_eq(out, "HELO a.example\r\n");
    smtp_client_hello_command(out, sizeof out, SMTP_CLIENT_LMTP, true, "a.example");
    ck_assert_str_eq(out, "LHLO a.example\r\n");
    ck_assert_int_eq(smtp_client_hello_command(out, 8, SMTP_CLIENT_LMTP, false, "a.example"), -1);
    ck_assert_uint_eq(smtp_client_final_replies(SMTP_CLIENT_SMTP, 3), 1);
    ck_assert_uint_eq(smtp_client_final_replies(SMTP_CLIENT_LMTP, 3), 3);
    ck_assert_uint_eq(smtp_client_final_replies(SMTP_CLIENT_LMTP, 0), 1);
    ck_assert_str_eq(smtp_client_protocol_name(SMTP_CLIENT_LMTP), "lmtp");
}
END_TEST

START_TEST(test_mail_and_rcpt_commands)
{
    char out[600];
    ck_assert_int_gt(smtp_client_mail_command(out, sizeof out, "", 0, false, false, NULL, NULL), 0);
    ck_assert_str_eq(out, "MAIL FROM:<>\r\n");
    ck_assert_int_gt(
        smtp_client_mail_command(out, sizeof out, "a@b", 1234, true, false, "HDRS", "x+id=\x01"),
        0);
    ck_assert_str_eq(out,
                     "MAIL FROM:<a@b> SIZE=1234 BODY=8BITMIME RET=HDRS ENVID=x+2Bid+3D+01\r\n");
    ck_assert_int_gt(
        smtp_client_mail_command(out, sizeof out, "j\xc3\xb6rg@b", 0, true, true, NULL, NULL), 0);
    ck_assert_str_eq(out, "MAIL FROM:<j\xc3\xb6rg@b> BODY=8BITMIME SMTPUTF8\r\n");
    ck_assert_int_gt(
        smtp_client_rcpt_command(out, sizeof out, "c@d", "SUCCESS,FAILURE", "rfc822;c@d"), 0);
    ck_assert_str_eq(out, "RCPT TO:<c@d> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;c@d\r\n");
    ck_assert_int_eq(smtp_client_rcpt_command(out, 10, "c@d", NULL, NULL), -1);
}
END_TEST

START_TEST(test_remote_status)
{
    char out[DELIVERY_STATUS_TEXT_MAX];
    delivery_status_format_remote(out, sizeof out, true, "5.1.1", "host x said: 550 no");
    ck_assert_str_eq(out, "5.1.1 host x said: 550 no");
    /* none, or one of the wrong class: the class's X.0.0 */
    delivery_status_format_remote(out, sizeof out, false, "", "later");
    ck_assert_str_eq(out, "4.0.0 later");
    delivery_status_format_remote(out, sizeof out, false, "5.1.1", "odd");
    ck_assert_str_eq(out, "4.0.0 odd");
    delivery_status_format_remote(out, sizeof out, true, "5.1.1234", "odd");
    ck_assert_str_eq(out, "5.0.0 odd");
}
END_TEST

/* A peer's reply in a result, and read back for a DSN's Remote-MTA and
 * Diagnostic-Code (RFC 3464 2.3.5, 2.3.6). */
START_TEST(test_peer_result_read_back)
{
    char out[DELIVERY_STATUS_TEXT_MAX], mta[256], said[DELIVERY_STATUS_TEXT_MAX];
    delivery_status_format_peer(out, sizeof out, true, "5.2.2", "mx.example[192.0.2.1]:25",
                                "552 5.2.2 over quota (in reply to you)", "end of data");
    ck_assert_str_eq(out, "5.2.2 host mx.example[192.0.2.1]:25 said: 552 5.2.2 over quota (in "
                          "reply to you) (in reply to end of data)");
    ck_assert(delivery_status_peer_parts(out, mta, sizeof mta, said, sizeof said));
    ck_assert_str_eq(mta, "mx.example");
    ck_assert_str_eq(said, "552 5.2.2 over quota (in reply to you)");
    delivery_status_format_peer(out, sizeof out, false, "", "unix:/run/lmtp", "451 later",
                                "RCPT TO");
    ck_assert(delivery_status_peer_parts(out, mta, sizeof mta, said, sizeof said));
    ck_assert_str_eq(mta, ""); /* no DNS name */
    ck_assert_str_eq(said, "451 later");
    /* cut before the command: the reply runs to the end */
    ck_assert(delivery_status_peer_parts("5.1.1 host a[1.2.3.4]:25 said: 550 no such", mta,
                                         sizeof mta, said, sizeof said));
    ck_assert_str_eq(said, "550 no such");
    /* our own results are not a peer's */
    ck_assert(!delivery_status_peer_parts("4.4.1 connect to x: refused", mta, sizeof mta, said,
                                          sizeof said));
    ck_assert(!delivery_status_peer_parts("", mta, sizeof mta, said, sizeof said));
}
END_TEST

/* encode - in as chunks of at most step octets, then the end. */
static size_t encode(const char *in, size_t len, size_t step, char *out)
{
    struct smtp_client_dot d;
    smtp_client_dot_init(&d);
    size_t o = 0;
    for (size_t i = 0; i < len; i += step)
        o += smtp_client_dot_encode(&d, in + i, len - i < step ? len - i : step, out + o);
    o += smtp_client_dot_end(&d, out + o);
    out[o] = '\0';
    return o;
}

START_TEST(test_dot_stuffing_and_line_ends)
{
    static const char in[] = ".first\nbare lf\n.\r\nbare\rcr\r\r\nlast";
    static const char want[] = "..first\r\nbare lf\r\n..\r\nbare\r\ncr\r\n\r\nlast\r\n.\r\n";
    char out[256];
    /* the same whatever the chunks: the CR before LF may end one */
    for (size_t step = 1; step <= sizeof in; step++) {
        ck_assert_uint_eq(encode(in, sizeof in - 1, step, out), sizeof want - 1);
        ck_assert_str_eq(out, want);
    }
    ck_assert_uint_eq(encode("a\r\n", 3, 3, out), 6);
    ck_assert_str_eq(out, "a\r\n.\r\n");
    ck_assert_uint_eq(encode("", 0, 1, out), 3);
    ck_assert_str_eq(out, ".\r\n");
    ck_assert(smtp_client_has_8bit("caf\xc3\xa9", 5));
    ck_assert(!smtp_client_has_8bit("cafe", 4));
}
END_TEST

/* BDAT (RFC 3030): line ends made CRLF all the same, nothing stuffed, no
 * dot; what the chunk's length counts is exactly what is written. */
START_TEST(test_bdat_text)
{
    static const char in[] = ".first\nbare\rcr\r\n.\r\nlast";
    static const char want[] = ".first\r\nbare\r\ncr\r\n.\r\nlast\r\n";
    char out[256], line[64];
    for (size_t step = 1; step <= sizeof in; step++) {
        struct smtp_client_dot d;
        smtp_client_bdat_init(&d);
        size_t o = 0;
        for (size_t i = 0; i < sizeof in - 1; i += step)
            o += smtp_client_dot_encode(
                &d, in + i, sizeof in - 1 - i < step ? sizeof in - 1 - i : step, out + o);
        o += smtp_client_dot_end(&d, out + o);
        out[o] = '\0';
        ck_assert_str_eq(out, want);
    }
    ck_assert_int_gt(smtp_client_bdat_command(line, sizeof line, 1234, true), 0);
    ck_assert_str_eq(line, "BDAT 1234 LAST\r\n");
    smtp_client_bdat_command(line, sizeof line, 0, false);
    ck_assert_str_eq(line, "BDAT 0\r\n");
}
END_TEST

/* hops - the Received: count of text fed in chunks of step octets. */
static unsigned hops(const char *text, size_t step)
{
    struct smtp_client_hops h = {0};
    size_t len = strlen(text);
    for (size_t off = 0; off < len; off += step)
        smtp_client_hops_feed(&h, text + off, len - off < step ? len - off : step);
    return h.count;
}

START_TEST(test_received_count)
{
    static const char msg[] = "Received: from a\r\n\tby b\r\nRECEIVED:x\r\nX-Received: no\r\n"
                              "Subject: Received: no\r\n received: folded, no\r\n"
                              "received:\r\n\r\nReceived: in the body\r\n";
    for (size_t step = 1; step <= sizeof msg; step++)
        ck_assert_uint_eq(hops(msg, step), 3);
    /* bare LF line ends, and a header with no body */
    ck_assert_uint_eq(hops("Received: a\nReceived: b\n\nReceived: c\n", 1), 2);
    ck_assert_uint_eq(hops("Received: a\r\n", 4), 1);
    ck_assert_uint_eq(hops("Receive: a\r\nReceived :b\r\n", 3), 0);
}
END_TEST

static Suite *smtp_client_suite(void)
{
    Suite *s = suite_create("smtp_client");
    TCase *tc = tcase_create("protocol");
    tcase_add_test(tc, test_multiline_reply_with_code);
    tcase_add_test(tc, test_bad_replies);
    tcase_add_test(tc, test_ehlo_keywords);
    tcase_add_test(tc, test_mail_and_rcpt_commands);
    tcase_add_test(tc, test_lmtp_mode);
    tcase_add_test(tc, test_received_count);
    tcase_add_test(tc, test_remote_status);
    tcase_add_test(tc, test_peer_result_read_back);
    tcase_add_test(tc, test_dot_stuffing_and_line_ends);
    tcase_add_test(tc, test_bdat_text);
    suite_add_tcase(s, tc);
    return s;
}

TAP_MAIN(smtp_client_suite)
