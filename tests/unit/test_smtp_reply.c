/* tests/unit/test_smtp_reply.c - gateway/smtp_reply: the enhanced status code
 * table gives the registered codes, replies are formatted per RFC 5321 4.2
 * (multi-line included) and refuse to carry CR/LF, and each parse failure
 * maps to its reply. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "proto/smtp_reply.h"
#include "tests/unit/tap_main.h"

static const char *esc(enum smtp_esc e, int code)
{
    static char out[SMTP_ESC_TEXT_MAX];
    ck_assert_int_ge(smtp_esc_text(e, code, out, sizeof(out)), 0);
    return out;
}

START_TEST(codes_take_their_class_from_the_reply)
{
    ck_assert_str_eq(esc(SMTP_ESC_OTHER, 250), "2.0.0");
    ck_assert_str_eq(esc(SMTP_ESC_ADDRESS_OTHER, 250), "2.1.0");
    ck_assert_str_eq(esc(SMTP_ESC_DEST_VALID, 250), "2.1.5");
    ck_assert_str_eq(esc(SMTP_ESC_SECURITY_OTHER, 220), "2.7.0");
    ck_assert_str_eq(esc(SMTP_ESC_AUTH_SUCCEEDED, 235), "2.7.0");
    ck_assert_str_eq(esc(SMTP_ESC_SYSTEM_OTHER, 421), "4.3.0");
    ck_assert_str_eq(esc(SMTP_ESC_DIRECTORY_FAILURE, 451), "4.4.3");
    ck_assert_str_eq(esc(SMTP_ESC_TOO_MANY_RECIPIENTS, 452), "4.5.3");
    ck_assert_str_eq(esc(SMTP_ESC_SECURITY_OTHER, 454), "4.7.0");
    ck_assert_str_eq(esc(SMTP_ESC_BAD_DEST_MAILBOX, 550), "5.1.1");
    ck_assert_str_eq(esc(SMTP_ESC_BAD_DEST_SYNTAX, 501), "5.1.3");
    ck_assert_str_eq(esc(SMTP_ESC_BAD_SENDER_SYNTAX, 501), "5.1.7");
    ck_assert_str_eq(esc(SMTP_ESC_NULL_MX, 556), "5.1.10");
    ck_assert_str_eq(esc(SMTP_ESC_MESSAGE_TOO_BIG, 552), "5.3.4");
    ck_assert_str_eq(esc(SMTP_ESC_INVALID_COMMAND, 503), "5.5.1");
    ck_assert_str_eq(esc(SMTP_ESC_SYNTAX_ERROR, 500), "5.5.2");
    ck_assert_str_eq(esc(SMTP_ESC_INVALID_ARGUMENTS, 555), "5.5.4");
    ck_assert_str_eq(esc(SMTP_ESC_MEDIA_OTHER, 550), "5.6.0");
    ck_assert_str_eq(esc(SMTP_ESC_NON_ASCII_ADDRESS, 553), "5.6.7");
    ck_assert_str_eq(esc(SMTP_ESC_SECURITY_OTHER, 530), "5.7.0");
    ck_assert_str_eq(esc(SMTP_ESC_NOT_AUTHORIZED, 554), "5.7.1");
    ck_assert_str_eq(esc(SMTP_ESC_AUTH_INVALID, 535), "5.7.8");
    ck_assert_str_eq(esc(SMTP_ESC_AUTH_TOO_WEAK, 534), "5.7.9");
    ck_assert_str_eq(esc(SMTP_ESC_ENCRYPTION_FOR_MECH, 538), "5.7.11");
}
END_TEST

START_TEST(no_code_for_greeting_354_or_none)
{
    char out[SMTP_ESC_TEXT_MAX];
    ck_assert_int_eq(smtp_esc_text(SMTP_ESC_NONE, 220, out, sizeof(out)), 0);
    ck_assert_str_eq(out, "");
    ck_assert_int_eq(smtp_esc_text(SMTP_ESC_OTHER, 354, out, sizeof(out)), 0);
    ck_assert_int_eq(smtp_esc_text(SMTP_ESC_OTHER, 199, out, sizeof(out)), -1);
    ck_assert_int_eq(smtp_esc_text(SMTP_ESC_OTHER, 600, out, sizeof(out)), -1);
    ck_assert_int_eq(smtp_esc_text(SMTP_ESC_COUNT, 250, out, sizeof(out)), -1);
    ck_assert_int_eq(smtp_esc_text(SMTP_ESC_NULL_MX, 556, out, 6), -1);
}
END_TEST

START_TEST(every_code_in_the_table_is_well_formed)
{
    for (int e = SMTP_ESC_OTHER; e < SMTP_ESC_COUNT; e++) {
        char out[SMTP_ESC_TEXT_MAX];
        unsigned c, s, d;
        ck_assert_int_gt(smtp_esc_text((enum smtp_esc)e, 550, out, sizeof(out)), 0);
        ck_assert_int_eq(sscanf(out, "%u.%u.%u", &c, &s, &d), 3);
        ck_assert_uint_eq(c, 5);
        ck_assert_uint_le(s, 7); /* RFC 3463 subjects 0..7 */
    }
}
END_TEST

START_TEST(single_line_reply)
{
    char out[256];
    int n = smtp_reply_format(out, sizeof(out), 250, SMTP_ESC_DEST_VALID, "Recipient ok");
    ck_assert_str_eq(out, "250 2.1.5 Recipient ok\r\n");
    ck_assert_int_eq(n, (int)strlen(out));
    n = smtp_reply_format(out, sizeof(out), 220, SMTP_ESC_NONE, "mx.example ESMTP dirmail");
    ck_assert_str_eq(out, "220 mx.example ESMTP dirmail\r\n");
    n = smtp_reply_format(out, sizeof(out), 354, SMTP_ESC_OTHER, "End data with <CR><LF>.<CR><LF>");
    ck_assert_str_eq(out, "354 End data with <CR><LF>.<CR><LF>\r\n");
    n = smtp_reply_format(out, sizeof(out), 250, SMTP_ESC_OTHER, "");
    ck_assert_str_eq(out, "250 2.0.0\r\n");
}
END_TEST

START_TEST(multi_line_reply)
{
    char out[256];
    int n = smtp_reply_format(out, sizeof(out), 250, SMTP_ESC_NONE,
                              "mx.example\nPIPELINING\nSIZE 10240000\nENHANCEDSTATUSCODES");
    ck_assert_str_eq(out, "250-mx.example\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n"
                          "250 ENHANCEDSTATUSCODES\r\n");
    ck_assert_int_eq(n, (int)strlen(out));
    smtp_reply_format(out, sizeof(out), 550, SMTP_ESC_NOT_AUTHORIZED, "Relay denied\nSee policy");
    ck_assert_str_eq(out, "550-5.7.1 Relay denied\r\n550 5.7.1 See policy\r\n");
}
END_TEST

START_TEST(reply_refuses_injection_and_overflow)
{
    char out[64];
    ck_assert_int_eq(smtp_reply_format(out, sizeof(out), 250, SMTP_ESC_OTHER, "ok\r\n250 forged"),
                     -1);
    ck_assert_int_eq(smtp_reply_format(out, sizeof(out), 250, SMTP_ESC_OTHER, "nul\x01"), -1);
    ck_assert_int_eq(smtp_reply_format(out, sizeof(out), 99, SMTP_ESC_OTHER, "x"), -1);
    ck_assert_int_eq(smtp_reply_format(out, 10, 250, SMTP_ESC_OTHER, "too long for ten"), -1);
    ck_assert_str_eq(out, "");
    char big[2048], text[600];
    memset(text, 'x', 520);
    text[520] = '\0';
    ck_assert_int_eq(smtp_reply_format(big, sizeof(big), 250, SMTP_ESC_OTHER, text), -1);
    text[500] = '\0'; /* "250 2.0.0 " + 500 + CRLF = 512 */
    ck_assert_int_eq(smtp_reply_format(big, sizeof(big), 250, SMTP_ESC_OTHER, text), 512);
    text[500] = 'x';
    text[501] = '\0';
    ck_assert_int_eq(smtp_reply_format(big, sizeof(big), 250, SMTP_ESC_OTHER, text), -1);
}
END_TEST

START_TEST(parse_failures_map_to_their_replies)
{
    static const struct {
        enum smtp_parse_result r;
        int code;
        const char *esc;
    } cases[] = {
        {SMTP_PARSE_UNKNOWN_COMMAND, 500, "5.5.2"}, {SMTP_PARSE_BAD_LINE, 500, "5.5.2"},
        {SMTP_PARSE_TOO_LONG, 500, "5.5.2"},        {SMTP_PARSE_SYNTAX, 501, "5.5.4"},
        {SMTP_PARSE_BAD_SENDER, 501, "5.1.7"},      {SMTP_PARSE_BAD_RECIPIENT, 501, "5.1.3"},
        {SMTP_PARSE_SENDER_TOO_LONG, 501, "5.1.7"}, {SMTP_PARSE_RECIPIENT_TOO_LONG, 501, "5.1.3"},
        {SMTP_PARSE_UTF8_ADDRESS, 553, "5.6.7"},    {SMTP_PARSE_UNKNOWN_PARAM, 555, "5.5.4"},
        {SMTP_PARSE_BAD_PARAM, 501, "5.5.4"},       {SMTP_PARSE_DUPLICATE_PARAM, 501, "5.5.4"},
    };
    ck_assert_ptr_null(smtp_reply_parse_error(SMTP_PARSE_OK));
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct smtp_reply *r = smtp_reply_parse_error(cases[i].r);
        char line[256];
        ck_assert_ptr_nonnull(r);
        ck_assert_int_eq(r->code, cases[i].code);
        ck_assert_str_eq(esc(r->esc, r->code), cases[i].esc);
        ck_assert_int_gt(smtp_reply_format(line, sizeof(line), r->code, r->esc, r->text), 0);
    }
    ck_assert_ptr_null(smtp_reply_parse_error((enum smtp_parse_result)1000));
}
END_TEST

/* The refusal of a message comes from one table for DATA and BDAT alike. */
START_TEST(data_verdicts_map_to_their_replies)
{
    static const struct {
        enum smtp_data_verdict v;
        const char *line;
    } cases[] = {
        {SMTP_DATA_BARE_EOL, "550 5.6.0 Bare CR or LF in message text not allowed\r\n"},
        {SMTP_DATA_TOO_BIG, "552 5.3.4 Message size exceeds fixed maximum\r\n"},
        {SMTP_DATA_LINE_TOO_LONG, "500 5.5.2 Line too long in message text\r\n"},
        {SMTP_DATA_WRITE_FAILED, "451 4.3.0 Cannot queue the message now, try again later\r\n"},
        {SMTP_DATA_NUL, "550 5.6.0 message contains NUL characters\r\n"},
        {SMTP_DATA_HEADER_TOO_BIG,
         "552 5.3.4 Message header section exceeds fixed maximum size\r\n"},
        {SMTP_DATA_TOO_MANY_HEADERS, "550 5.6.0 Too many header fields\r\n"},
    };
    ck_assert_ptr_null(smtp_reply_data_error(SMTP_DATA_OK));
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct smtp_reply *r = smtp_reply_data_error(cases[i].v);
        char line[256];
        ck_assert_ptr_nonnull(r);
        ck_assert_int_gt(smtp_reply_format(line, sizeof line, r->code, r->esc, r->text), 0);
        ck_assert_str_eq(line, cases[i].line);
    }
}
END_TEST

/* A spool short of room is a temporary failure of ours: 4xx, never 5xx. */
START_TEST(storage_replies_are_temporary)
{
    char line[256];
    const struct smtp_reply *r = smtp_reply_storage(SMTP_STORAGE_FULL);
    ck_assert_int_gt(smtp_reply_format(line, sizeof line, r->code, r->esc, r->text), 0);
    ck_assert_str_eq(line, "452 4.3.1 Insufficient system storage\r\n");
    r = smtp_reply_storage(SMTP_STORAGE_UNKNOWN);
    ck_assert_int_gt(smtp_reply_format(line, sizeof line, r->code, r->esc, r->text), 0);
    ck_assert_str_eq(line, "451 4.3.0 Cannot check the system storage now, try again later\r\n");
}
END_TEST

/* The local failures of a transaction are 451 4.3.0, and a failed DATA
 * write says the same as a failed begin or commit. */
START_TEST(tempfail_replies)
{
    char line[256], same[256];
    const struct smtp_reply *r = smtp_reply_tempfail(SMTP_TEMPFAIL_QUEUE);
    ck_assert_int_gt(smtp_reply_format(line, sizeof line, r->code, r->esc, r->text), 0);
    ck_assert_str_eq(line, "451 4.3.0 Cannot queue the message now, try again later\r\n");
    r = smtp_reply_data_error(SMTP_DATA_WRITE_FAILED);
    ck_assert_int_gt(smtp_reply_format(same, sizeof same, r->code, r->esc, r->text), 0);
    ck_assert_str_eq(line, same);
    r = smtp_reply_tempfail(SMTP_TEMPFAIL_MEMORY);
    ck_assert_int_gt(smtp_reply_format(line, sizeof line, r->code, r->esc, r->text), 0);
    ck_assert_str_eq(line, "451 4.3.0 Out of memory\r\n");
}
END_TEST

static Suite *smtp_reply_suite(void)
{
    Suite *s = suite_create("smtp_reply");
    TCase *tc = tcase_create("esc");
    tcase_add_test(tc, codes_take_their_class_from_the_reply);
    tcase_add_test(tc, no_code_for_greeting_354_or_none);
    tcase_add_test(tc, every_code_in_the_table_is_well_formed);
    suite_add_tcase(s, tc);
    tc = tcase_create("format");
    tcase_add_test(tc, single_line_reply);
    tcase_add_test(tc, multi_line_reply);
    tcase_add_test(tc, reply_refuses_injection_and_overflow);
    tcase_add_test(tc, parse_failures_map_to_their_replies);
    tcase_add_test(tc, data_verdicts_map_to_their_replies);
    tcase_add_test(tc, storage_replies_are_temporary);
    tcase_add_test(tc, tempfail_replies);
    suite_add_tcase(s, tc);
    return s;
}

TAP_MAIN(smtp_reply_suite)
