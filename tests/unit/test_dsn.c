/* tests/unit/test_dsn.c - queue/dsn.c: the RFC 3464 report's structure
 * (multipart/report with its three parts and a boundary found in none of
 * them), every per-message and per-recipient field, RET (whole message or
 * header section, 8-bit declared), the original copied byte for byte with
 * its "From " and "." lines, CRLF lines within 998 octets, and NOTIFY. */
#include "config.h"

#include "queue/dsn.h"
#include "tap_main.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char original[] = "From: Sender <sender@example.net>\r\n"
                               "To: one@example.org\r\n"
                               "Subject: the original\r\n"
                               "\r\n"
                               "From the start of a line.\r\n"
                               ".\r\n"
                               "..two dots\r\n"
                               "--=_dirmail_0123456789abcdef0123456_\r\n"
                               "last line\r\n";

static struct queue_envelope *sample(void)
{
    struct queue_envelope *env = queue_envelope_new();
    char *error = NULL;
    ck_assert_ptr_nonnull(env);
    ck_assert_int_eq(queue_envelope_set(&env->sender, "sender@example.net"), 0);
    ck_assert_int_eq(queue_envelope_set(&env->envid, "ENV-42"), 0);
    env->arrival = 1700000000;
    ck_assert_int_eq(queue_envelope_add_recipient(env, "one@example.org", QUEUE_NOTIFY_FAILURE,
                                                  "rfc822;alias@example.org", &error),
                     0);
    ck_assert_int_eq(queue_envelope_add_recipient(env, "two@example.org", 0, NULL, &error), 0);
    return env;
}

/* build - a report of kind about rcpts; the text, NUL-terminated. */
static char *build(const struct queue_envelope *env, enum dsn_kind kind,
                   const struct dsn_rcpt *rcpts, size_t count, const char *orig, size_t orig_len,
                   bool headers_only, size_t *len_r)
{
    struct dsn_report r = {
        .kind = kind,
        .hostname = "mx.example.org",
        .message_id = "0123456789abcdef0123456",
        .env = env,
        .rcpts = rcpts,
        .count = count,
        .original = {.text = orig, .len = orig_len, .headers_only = headers_only},
        .now = 1700000100,
    };
    char *text = NULL, *error = NULL;
    ck_assert_msg(dsn_build(&r, &text, len_r, &error) == 0, "dsn_build: %s", error);
    ck_assert_uint_eq(strlen(text), *len_r);
    return text;
}

/* check_lines - every line ends in CRLF (no bare CR or LF) and is within
 * 998 octets (RFC 5322 2.1.1). */
static void check_lines(const char *text, size_t len)
{
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '\r')
            ck_assert_msg(i + 1 < len && text[i + 1] == '\n', "bare CR at %zu", i);
        if (text[i] == '\n') {
            ck_assert_msg(i > 0 && text[i - 1] == '\r', "bare LF at %zu", i);
            ck_assert_msg(i - 1 - start <= DSN_LINE_MAX, "line of %zu octets", i - 1 - start);
            start = i + 1;
        }
    }
    ck_assert_msg(start == len, "last line without CRLF");
}

/* boundary_of - the boundary parameter of the top-level Content-Type. */
static void boundary_of(const char *text, char *out, size_t size)
{
    const char *b = strstr(text, "boundary=\"");
    ck_assert_ptr_nonnull(b);
    b += strlen("boundary=\"");
    const char *e = strchr(b, '"');
    ck_assert_ptr_nonnull(e);
    ck_assert_uint_lt((size_t)(e - b), size);
    ck_assert_uint_le((size_t)(e - b), 70); /* RFC 2046 5.1.1 */
    memcpy(out, b, (size_t)(e - b));
    out[e - b] = '\0';
}

/* part - part n (from 1) of the report: its header and body, malloc'd. */
static char *part(const char *text, int n)
{
    char boundary[80], delim[96];
    boundary_of(text, boundary, sizeof boundary);
    snprintf(delim, sizeof delim, "\r\n--%s", boundary);
    const char *p = strstr(text, delim);
    for (int k = 1; k < n && p != NULL; k++)
        p = strstr(p + 1, delim);
    ck_assert_ptr_nonnull(p);
    p += strlen(delim);
    ck_assert_msg(strncmp(p, "--", 2) != 0, "part %d is the closing delimiter", n);
    p += 2; /* CRLF */
    const char *end = strstr(p, delim);
    ck_assert_ptr_nonnull(end);
    return strndup(p, (size_t)(end - p));
}

/* body_of - what follows a part's header section. */
static const char *body_of(const char *part_text)
{
    const char *b = strstr(part_text, "\r\n\r\n");
    ck_assert_ptr_nonnull(b);
    return b + 4;
}

START_TEST(test_failure_report_every_field)
{
    struct queue_envelope *env = sample();
    struct dsn_rcpt rcpts[] = {
        {.index = 0,
         .action = DSN_ACTION_FAILED,
         .reply = "5.3.5 mailbox unusable: not a folder",
         .last_attempt = 1700000050},
        {.index = 1,
         .action = DSN_ACTION_FAILED,
         .reply = "550 5.1.1 user unknown",
         .remote_mta = "exchange.example.org",
         .last_attempt = 1700000060},
    };
    size_t len;
    char *text = build(env, DSN_KIND_FAILURE, rcpts, 2, original, strlen(original), false, &len);
    check_lines(text, len);
    /* the header section */
    ck_assert_ptr_nonnull(
        strstr(text, "From: Mail Delivery System <MAILER-DAEMON@mx.example.org>\r\n"));
    ck_assert_ptr_nonnull(strstr(text, "To: <sender@example.net>\r\n"));
    ck_assert_ptr_nonnull(strstr(text, "Subject: Undelivered Mail Returned to Sender\r\n"));
    ck_assert_ptr_nonnull(strstr(text, "\r\nDate: "));
    ck_assert_ptr_nonnull(
        strstr(text, "Message-ID: <0123456789abcdef0123456.dsn@mx.example.org>\r\n"));
    ck_assert_ptr_nonnull(strstr(text, "Auto-Submitted: auto-replied\r\n"));
    ck_assert_ptr_nonnull(strstr(text, "MIME-Version: 1.0\r\n"));
    ck_assert_ptr_nonnull(strstr(
        text, "Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary="));
    char boundary[80];
    boundary_of(text, boundary, sizeof boundary);
    /* the boundary is in no part, the original's look-alike included */
    char *orig_part = part(text, 3);
    ck_assert_ptr_null(strstr(orig_part, boundary));
    /* part 1: the plain words */
    char *words = part(text, 1);
    ck_assert_ptr_nonnull(strstr(words, "Content-Type: text/plain; charset=us-ascii\r\n"));
    ck_assert_ptr_nonnull(
        strstr(words, "<one@example.org> (sent to alias@example.org): failed\r\n"));
    ck_assert_ptr_nonnull(strstr(words, "    5.3.5 mailbox unusable: not a folder\r\n"));
    ck_assert_ptr_nonnull(strstr(words, "<two@example.org>: failed\r\n"));
    ck_assert_ptr_nonnull(
        strstr(words, "    5.1.1 user unknown (the answer of exchange.example.org)\r\n"));
    /* part 2: message/delivery-status */
    char *ds = part(text, 2);
    ck_assert_ptr_nonnull(strstr(ds, "Content-Type: message/delivery-status\r\n"));
    const char *f = body_of(ds);
    ck_assert_msg(strncmp(f,
                          "Reporting-MTA: dns; mx.example.org\r\n"
                          "Original-Envelope-Id: ENV-42\r\n"
                          "Arrival-Date: ",
                          strlen("Reporting-MTA: dns; mx.example.org\r\n"
                                 "Original-Envelope-Id: ENV-42\r\nArrival-Date: ")) == 0,
                  "per-message fields: %s", f);
    const char *r1 = strstr(f, "\r\n\r\nOriginal-Recipient: rfc822;alias@example.org\r\n"
                               "Final-Recipient: rfc822; one@example.org\r\n"
                               "Action: failed\r\n"
                               "Status: 5.3.5\r\n"
                               "Diagnostic-Code: smtp; 550 5.3.5 mailbox unusable: not a folder\r\n"
                               "Last-Attempt-Date: ");
    ck_assert_msg(r1 != NULL, "first recipient block: %s", f);
    const char *r2 = strstr(f, "\r\n\r\nFinal-Recipient: rfc822; two@example.org\r\n"
                               "Action: failed\r\n"
                               "Status: 5.1.1\r\n"
                               "Remote-MTA: dns; exchange.example.org\r\n"
                               "Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n"
                               "Last-Attempt-Date: ");
    ck_assert_msg(r2 != NULL && r2 > r1, "second recipient block: %s", f);
    ck_assert_ptr_null(strstr(f, "Will-Retry-Until")); /* delayed only */
    /* part 3: the original, byte for byte ("From " and "." lines kept) */
    ck_assert_ptr_nonnull(strstr(orig_part, "Content-Type: message/rfc822\r\n"));
    ck_assert_ptr_null(strstr(orig_part, "Content-Transfer-Encoding")); /* 7-bit */
    ck_assert_str_eq(body_of(orig_part), original);
    /* closed */
    char closing[100];
    snprintf(closing, sizeof closing, "\r\n--%s--\r\n", boundary);
    ck_assert_uint_ge(len, strlen(closing));
    ck_assert_str_eq(text + len - strlen(closing), closing);
    free(words);
    free(ds);
    free(orig_part);
    free(text);
    queue_envelope_free(&env);
}
END_TEST

START_TEST(test_headers_only_and_delay)
{
    struct queue_envelope *env = sample();
    env->ret = QUEUE_RET_HDRS;
    queue_envelope_set(&env->envid, NULL);
    struct dsn_rcpt rcpt = {.index = 1,
                            .action = DSN_ACTION_DELAYED,
                            .reply = "4.4.0 awaiting outbound transport (relay.example)",
                            .last_attempt = 1700000050,
                            .retry_until = 1700432000};
    size_t head = dsn_header_section_len(original, strlen(original));
    ck_assert_uint_eq(head, strstr(original, "\r\n\r\n") + 4 - original);
    size_t len;
    char *text = build(env, DSN_KIND_DELAY, &rcpt, 1, original, head, true, &len);
    check_lines(text, len);
    ck_assert_ptr_nonnull(strstr(text, "Subject: Delayed Mail (still being retried)\r\n"));
    ck_assert_ptr_null(strstr(text, "Original-Envelope-Id"));
    char *words = part(text, 1);
    ck_assert_ptr_nonnull(strstr(words, "will keep trying until "));
    char *ds = part(text, 2);
    ck_assert_ptr_nonnull(strstr(ds, "Final-Recipient: rfc822; two@example.org\r\n"
                                     "Action: delayed\r\n"
                                     "Status: 4.4.0\r\n"
                                     "Diagnostic-Code: smtp; 451 4.4.0 awaiting outbound "
                                     "transport (relay.example)\r\n"
                                     "Last-Attempt-Date: "));
    ck_assert_ptr_nonnull(strstr(ds, "\r\nWill-Retry-Until: "));
    ck_assert_ptr_null(strstr(ds, "Original-Recipient")); /* no ORCPT for two */
    char *orig_part = part(text, 3);
    ck_assert_ptr_nonnull(strstr(orig_part, "Content-Type: text/rfc822-headers\r\n"));
    ck_assert_ptr_nonnull(strstr(orig_part, "Content-Description: Undelivered message headers"));
    char *want = strndup(original, head);
    ck_assert_str_eq(body_of(orig_part), want);
    free(want);
    free(words);
    free(ds);
    free(orig_part);
    free(text);
    queue_envelope_free(&env);
}
END_TEST

START_TEST(test_success_and_8bit)
{
    struct queue_envelope *env = sample();
    static const char eight[] = "Subject: caf\xc3\xa9\r\n\r\nna\xc3\xafve body\r\n";
    struct dsn_rcpt rcpts[] = {{.index = 0, .action = DSN_ACTION_DELIVERED},
                               {.index = 1, .action = DSN_ACTION_EXPANDED}};
    size_t len;
    char *text = build(env, DSN_KIND_SUCCESS, rcpts, 2, eight, strlen(eight), false, &len);
    check_lines(text, len);
    ck_assert_ptr_nonnull(strstr(text, "Subject: Successful Mail Delivery Report\r\n"));
    ck_assert_ptr_nonnull(strstr(text, "\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"));
    char *ds = part(text, 2);
    ck_assert_ptr_nonnull(strstr(ds, "Action: delivered\r\nStatus: 2.0.0\r\n"));
    ck_assert_ptr_nonnull(strstr(ds, "Action: expanded\r\nStatus: 2.0.0\r\n"));
    ck_assert_ptr_null(strstr(ds, "Diagnostic-Code"));
    char *orig_part = part(text, 3);
    /* RFC 6532 header: message/global (RFC 6533 3), declared 8bit */
    ck_assert_ptr_nonnull(strstr(orig_part, "Content-Type: message/global\r\n"
                                            "Content-Transfer-Encoding: 8bit\r\n"));
    ck_assert_str_eq(body_of(orig_part), eight);
    free(ds);
    free(orig_part);
    free(text);
    /* 8-bit body, ASCII header: message/rfc822, 8bit */
    static const char body8[] = "Subject: plain\r\n\r\nna\xc3\xafve\r\n";
    text = build(env, DSN_KIND_SUCCESS, rcpts, 1, body8, strlen(body8), false, &len);
    orig_part = part(text, 3);
    ck_assert_ptr_nonnull(strstr(orig_part, "Content-Type: message/rfc822\r\n"
                                            "Content-Transfer-Encoding: 8bit\r\n"));
    free(orig_part);
    free(text);
    queue_envelope_free(&env);
}
END_TEST

START_TEST(test_original_without_final_crlf_and_no_original)
{
    struct queue_envelope *env = sample();
    struct dsn_rcpt rcpt = {.index = 0, .action = DSN_ACTION_FAILED, .reply = "5.1.1 gone"};
    static const char cut[] = "Subject: x\r\n\r\nno end";
    size_t len;
    char *text = build(env, DSN_KIND_FAILURE, &rcpt, 1, cut, strlen(cut), false, &len);
    check_lines(text, len);
    free(text);
    text = build(env, DSN_KIND_FAILURE, &rcpt, 1, NULL, 0, false, &len);
    check_lines(text, len);
    ck_assert_ptr_null(strstr(text, "message/rfc822"));
    free(text);
    queue_envelope_free(&env);
}
END_TEST

START_TEST(test_refusals)
{
    struct queue_envelope *env = sample();
    struct dsn_rcpt rcpt = {.index = 2, .action = DSN_ACTION_FAILED, .reply = "5.1.1 x"};
    struct dsn_report r = {.kind = DSN_KIND_FAILURE,
                           .hostname = "h",
                           .message_id = "i",
                           .env = env,
                           .rcpts = &rcpt,
                           .count = 1};
    char *text = NULL, *error = NULL;
    size_t len;
    ck_assert_int_eq(dsn_build(&r, &text, &len, &error), -1);
    ck_assert_ptr_nonnull(strstr(error, "outside"));
    free(error);
    error = NULL;
    r.count = 0;
    ck_assert_int_eq(dsn_build(&r, &text, &len, &error), -1);
    ck_assert_ptr_null(text);
    free(error);
    queue_envelope_free(&env);
}
END_TEST

START_TEST(test_notify)
{
    /* RFC 3461 4.1 */
    ck_assert(dsn_notify_wants(0, DSN_KIND_FAILURE));
    ck_assert(dsn_notify_wants(0, DSN_KIND_DELAY));
    ck_assert(!dsn_notify_wants(0, DSN_KIND_SUCCESS));
    for (int k = DSN_KIND_FAILURE; k <= DSN_KIND_SUCCESS; k++)
        ck_assert(!dsn_notify_wants(QUEUE_NOTIFY_NEVER, (enum dsn_kind)k));
    ck_assert(!dsn_notify_wants(QUEUE_NOTIFY_SUCCESS, DSN_KIND_FAILURE));
    ck_assert(!dsn_notify_wants(QUEUE_NOTIFY_SUCCESS, DSN_KIND_DELAY));
    ck_assert(dsn_notify_wants(QUEUE_NOTIFY_SUCCESS, DSN_KIND_SUCCESS));
    ck_assert(dsn_notify_wants(QUEUE_NOTIFY_FAILURE, DSN_KIND_FAILURE));
    ck_assert(!dsn_notify_wants(QUEUE_NOTIFY_FAILURE, DSN_KIND_DELAY));
    ck_assert(dsn_notify_wants(QUEUE_NOTIFY_DELAY, DSN_KIND_DELAY));
    ck_assert_str_eq(dsn_action_name(DSN_ACTION_RELAYED), "relayed");
}
END_TEST

static Suite *dsn_suite(void)
{
    Suite *s = suite_create("dsn");
    TCase *tc = tcase_create("build");
    tcase_add_test(tc, test_failure_report_every_field);
    tcase_add_test(tc, test_headers_only_and_delay);
    tcase_add_test(tc, test_success_and_8bit);
    tcase_add_test(tc, test_original_without_final_crlf_and_no_original);
    tcase_add_test(tc, test_refusals);
    tcase_add_test(tc, test_notify);
    suite_add_tcase(s, tc);
    return s;
}

TAP_MAIN(dsn_suite)
