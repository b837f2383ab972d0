/* tests/unit/test_imap_bodystructure.c - reader/imap_envelope.c and
 * imap_bodystructure.c: ENVELOPE's address lists (names, routes, groups,
 * an empty group, a comment as the name, a mailbox without a domain),
 * Sender and Reply-To defaulting to From, strings that must be literals,
 * and BODYSTRUCTURE's extension data and RFC 2231 values that are no
 * ASCII. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/mime.h"
#include "reader/imap_bodystructure.h"
#include "tests/unit/tap_main.h"

/* described - ENVELOPE (envelope) or BODYSTRUCTURE of message, as a string. */
static char *described(const char *message, bool envelope)
{
    struct mime_message *m = mime_parse(message, strlen(message));
    struct buf out = BUF_INIT;
    int r = envelope ? imap_envelope_write(&out, &m->parts[0])
                     : imap_bodystructure_write(&out, m, 0, true);
    ck_assert_int_eq(r, 0);
    mime_message_free(&m);
    char *s = bytes_dup(buf_ptr(&out), out.len);
    buf_release(&out);
    return s;
}

START_TEST(envelope_addresses)
{
    char *e = described("From: \"Doe, J.\" <j.doe@example.com>\n"
                        "To: <@relay.example:u@example.org>, bare, x@y (Comment Name)\n"
                        "Cc: team: a@b.c, d@e.f;, empty:;\n"
                        "Subject: =?utf-8?q?kept?=\n\n",
                        true);
    ck_assert_str_eq(e, "(NIL \"=?utf-8?q?kept?=\" "
                        "((\"Doe, J.\" NIL \"j.doe\" \"example.com\")) "
                        "((\"Doe, J.\" NIL \"j.doe\" \"example.com\")) "
                        "((\"Doe, J.\" NIL \"j.doe\" \"example.com\")) "
                        "((NIL \"@relay.example\" \"u\" \"example.org\")"
                        "(NIL NIL \"bare\" \"MISSING_DOMAIN\")"
                        "(\"Comment Name\" NIL \"x\" \"y\")) "
                        "((NIL NIL \"team\" NIL)(NIL NIL \"a\" \"b.c\")(NIL NIL \"d\" \"e.f\")"
                        "(NIL NIL NIL NIL)(NIL NIL \"empty\" NIL)(NIL NIL NIL NIL)) "
                        "NIL NIL NIL)");
    free(e);
}
END_TEST

/* A comment that closes, then one that never does: the name is the
 * closed one, not the open one's start with the closed one's length
 * (fuzz_mime found the over-read). */
START_TEST(envelope_unclosed_comment)
{
    char *e = described("From: u@example (One).org (Two and more that never closes\n\n", true);
    ck_assert_str_eq(e, "(NIL NIL ((\"One\" NIL \"u\" \"example.org\")) "
                        "((\"One\" NIL \"u\" \"example.org\")) "
                        "((\"One\" NIL \"u\" \"example.org\")) NIL NIL NIL NIL NIL)");
    free(e);
}
END_TEST

START_TEST(strings_and_literals)
{
    struct buf out = BUF_INIT;
    ck_assert_int_eq(imap_nstring_write(&out, "a \"q\" \\"), 0);
    ck_assert_int_eq(imap_nstring_write(&out, NULL), 0);
    ck_assert_int_eq(imap_nstring_write(&out, "Gr\xc3\xbc\xc3\x9f"), 0);
    ck_assert_uint_eq(out.len, strlen("\"a \\\"q\\\" \\\\\"NIL{6}\r\nGr\xc3\xbc\xc3\x9f"));
    ck_assert_mem_eq(buf_ptr(&out), "\"a \\\"q\\\" \\\\\"NIL{6}\r\nGr\xc3\xbc\xc3\x9f", out.len);
    buf_release(&out);
}
END_TEST

START_TEST(extension_data)
{
    char *b = described("Content-Type: application/x-thing; name*=utf-8''%E2%82%AC\n"
                        "Content-Disposition: attachment\n"
                        "Content-Language: en\n"
                        "Content-Location: here\n"
                        "Content-ID: <i@d>\n"
                        "\nAAAA\n",
                        false);
    ck_assert_str_eq(b, "(\"application\" \"x-thing\" (\"name*\" \"utf-8''%E2%82%AC\") "
                        "\"<i@d>\" NIL \"7bit\" 6 NIL (\"attachment\" NIL) (\"en\") \"here\")");
    free(b);
    b = described("Subject: plain\n\ntwo\nlines\n", false);
    ck_assert_str_eq(b, "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 12 2 "
                        "NIL NIL NIL NIL)");
    free(b);
}
END_TEST

static Suite *imap_bodystructure_suite(void)
{
    Suite *s = suite_create("imap_bodystructure");
    TCase *tc = tcase_create("describe");
    tcase_add_test(tc, envelope_addresses);
    tcase_add_test(tc, envelope_unclosed_comment);
    tcase_add_test(tc, strings_and_literals);
    tcase_add_test(tc, extension_data);
    suite_add_tcase(s, tc);
    return s;
}

TAP_MAIN(imap_bodystructure_suite)
