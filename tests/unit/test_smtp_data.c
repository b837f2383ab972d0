/* tests/unit/test_smtp_data.c - the DATA/BDAT reader (proto/smtp_data.c):
 * the exact end, dot-unstuffing, the smuggling rule, the limits and the
 * submission fixups, driven through a line splitter that flags endings the
 * way lib/conn does. */
#include "config.h"

#include "proto/smtp_data.h"
#include "tests/unit/tap_main.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sink {
    char buf[8192];
    size_t len;
    bool fail;
};

static int sink_write(void *ctx, const void *data, size_t len)
{
    struct sink *s = ctx;
    if (s->fail || s->len + len > sizeof s->buf)
        return -1;
    memcpy(s->buf + s->len, data, len);
    s->len += len;
    return 0;
}

/* feed - split wire into lines at LF as lib/conn does; returns the octets
 * consumed up to and including the end of data, or -1 when no end was seen. */
static long feed(struct smtp_data *d, const char *wire)
{
    size_t n = strlen(wire), start = 0;
    for (size_t i = 0; i < n; i++) {
        if (wire[i] != '\n')
            continue;
        size_t end = i;
        bool bare_lf = !(end > start && wire[end - 1] == '\r');
        if (!bare_lf)
            end--;
        bool bare_cr = memchr(wire + start, '\r', end - start) != NULL;
        if (smtp_data_line(d, wire + start, end - start, bare_lf, bare_cr))
            return (long)(i + 1);
        start = i + 1;
    }
    return -1;
}

static struct sink sink;
static struct smtp_data d;

static void setup(uint64_t max, const struct smtp_data_fixups *f)
{
    memset(&sink, 0, sizeof sink);
    smtp_data_init(&d, max, 1000, f, sink_write, &sink);
}

START_TEST(exact_end_and_unstuffing)
{
    setup(1 << 20, NULL);
    const char *wire = "Subject: x\r\n\r\n..leading\r\n.\r\nMAIL FROM:<a@b>\r\n";
    ck_assert_int_eq(feed(&d, wire), (long)(strlen(wire) - strlen("MAIL FROM:<a@b>\r\n")));
    ck_assert_int_eq(smtp_data_finish(&d), SMTP_DATA_OK);
    ck_assert_uint_eq(sink.len, strlen("Subject: x\r\n\r\n.leading\r\n"));
    ck_assert(memcmp(sink.buf, "Subject: x\r\n\r\n.leading\r\n", sink.len) == 0);
    ck_assert_uint_eq(d.size, sink.len);
}
END_TEST

START_TEST(empty_message)
{
    setup(100, NULL);
    ck_assert_int_eq(feed(&d, ".\r\n"), 3);
    ck_assert_int_eq(smtp_data_finish(&d), SMTP_DATA_OK);
    ck_assert_uint_eq(sink.len, 0);
}
END_TEST

/* The 2023 smuggling bodies: none of them ends the message. */
START_TEST(smuggling_never_ends)
{
    static const char *const bodies[] = {
        "a\r\n\n.\nMAIL FROM:<x@y>\r\n",   "a\r\n\n.\r\nMAIL FROM:<x@y>\r\n",
        "a\r\n\r.\r\nMAIL FROM:<x@y>\r\n", "a\n.\r\nMAIL FROM:<x@y>\r\n",
        "a\r\n.\nMAIL FROM:<x@y>\r\n",
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        setup(1 << 20, NULL);
        ck_assert_int_eq(feed(&d, bodies[i]), -1);
        /* the real end afterwards is honoured, and the message refused whole */
        ck_assert_int_eq(feed(&d, "\r\n.\r\n"), 5);
        ck_assert_int_eq(smtp_data_finish(&d), SMTP_DATA_BARE_EOL);
    }
}
END_TEST

START_TEST(bare_cr_inside_line_still_ends_on_next_dot)
{
    setup(1 << 20, NULL);
    ck_assert_int_eq(feed(&d, "a\rb\r\n.\r\n"), 8);
    ck_assert_int_eq(smtp_data_finish(&d), SMTP_DATA_BARE_EOL);
}
END_TEST

START_TEST(size_limit_counts_unstuffed_octets)
{
    setup(10, NULL);
    ck_assert_int_eq(feed(&d, "12345678\r\n.\r\n"), 13);
    ck_assert_int_eq(smtp_data_finish(&d), SMTP_DATA_OK);
    setup(10, NULL);
    ck_assert_int_eq(feed(&d, "123456789\r\nmore\r\n.\r\n"), 20);
    ck_assert_int_eq(smtp_data_finish(&d), SMTP_DATA_TOO_BIG);
    /* the caller aborts the queue file; it never got more than the limit */
    ck_assert_uint_le(sink.len, 10);
}
END_TEST

START_TEST(text_line_limit)
{
    setup(1 << 20, NULL);
    char wire[1200];
    memset(wire, 'x', 999);
    memcpy(wire + 999, "\r\n.\r\n", 6);
    ck_assert_int_gt(feed(&d, wire), 0);
    ck_assert_int_eq(smtp_data_finish(&d), SMTP_DATA_LINE_TOO_LONG);
    setup(1 << 20, NULL);
    memset(wire, 'x', 998);
    memcpy(wire + 998, "\r\n.\r\n", 6);
    ck_assert_int_gt(feed(&d, wire), 0);
    ck_assert_int_eq(smtp_data_finish(&d), SMTP_DATA_OK);
}
END_TEST

START_TEST(dropped_line_blocks_the_next_dot)
{
    setup(1 << 20, NULL);
    smtp_data_line_too_long(&d);
    ck_assert_int_eq(feed(&d, ".\r\n"), -1);
    ck_assert_int_eq(feed(&d, ".\r\n"), 3);
    ck_assert_int_eq(smtp_data_finish(&d), SMTP_DATA_LINE_TOO_LONG);
}
END_TEST

START_TEST(write_failure)
{
    setup(1 << 20, NULL);
    sink.fail = true;
    ck_assert_int_eq(feed(&d, "a\r\n.\r\n"), 6);
    ck_assert_int_eq(smtp_data_finish(&d), SMTP_DATA_WRITE_FAILED);
}
END_TEST

static const struct smtp_data_fixups fix = {"Date: D\r\n", "Message-ID: <m@x>\r\n"};

START_TEST(fixups_added_before_body)
{
    setup(1 << 20, &fix);
    feed(&d, "Subject: s\r\n\r\nbody\r\n.\r\n");
    smtp_data_finish(&d);
    const char *want = "Subject: s\r\nDate: D\r\nMessage-ID: <m@x>\r\n\r\nbody\r\n";
    ck_assert_uint_eq(sink.len, strlen(want));
    ck_assert(memcmp(sink.buf, want, sink.len) == 0);
}
END_TEST

START_TEST(fixups_only_when_missing)
{
    setup(1 << 20, &fix);
    feed(&d, "date : x\r\n y\r\nMESSAGE-ID: <a@b>\r\n\r\nb\r\n.\r\n");
    smtp_data_finish(&d);
    const char *want = "date : x\r\n y\r\nMESSAGE-ID: <a@b>\r\n\r\nb\r\n";
    ck_assert_uint_eq(sink.len, strlen(want));
    ck_assert(memcmp(sink.buf, want, sink.len) == 0);
}
END_TEST

START_TEST(fixups_header_only_message)
{
    setup(1 << 20, &fix);
    feed(&d, "Subject: s\r\n.\r\n");
    smtp_data_finish(&d);
    const char *want = "Subject: s\r\nDate: D\r\nMessage-ID: <m@x>\r\n";
    ck_assert_uint_eq(sink.len, strlen(want));
    ck_assert(memcmp(sink.buf, want, sink.len) == 0);
}
END_TEST

START_TEST(bdat_chunks_raw)
{
    /* no dot-unstuffing; a CRLF cut between chunks is a CRLF */
    setup(20, NULL);
    smtp_data_chunk(&d, ".a\r", 3, false);
    ck_assert(!d.done);
    smtp_data_chunk(&d, "\nb", 2, true);
    ck_assert(d.done);
    ck_assert_int_eq(smtp_data_finish(&d), SMTP_DATA_OK);
    ck_assert_uint_eq(sink.len, 5);
    ck_assert(memcmp(sink.buf, ".a\r\nb", 5) == 0);
    setup(3, NULL);
    smtp_data_chunk(&d, "abcd", 4, true);
    ck_assert_int_eq(smtp_data_finish(&d), SMTP_DATA_TOO_BIG);
}
END_TEST

/* bdat_at_every_split - the message in two chunks cut at every offset gives
 * want each time: the fixups never depend on where the client cut. */
static void bdat_at_every_split(const char *msg, const char *want)
{
    size_t n = strlen(msg);
    for (size_t cut = 0; cut <= n; cut++) {
        setup(1 << 20, &fix);
        smtp_data_chunk(&d, msg, cut, false);
        smtp_data_chunk(&d, msg + cut, n - cut, true);
        ck_assert_int_eq(smtp_data_finish(&d), SMTP_DATA_OK);
        ck_assert_uint_eq(d.size, n); /* added fields are not the client's octets */
        ck_assert_msg(sink.len == strlen(want) && memcmp(sink.buf, want, sink.len) == 0,
                      "cut at %zu: got \"%.*s\"", cut, (int)sink.len, sink.buf);
    }
}

START_TEST(bdat_fixups_before_body)
{
    bdat_at_every_split("Subject: s\r\n x\r\n\r\nbody\r\n",
                        "Subject: s\r\n x\r\nDate: D\r\nMessage-ID: <m@x>\r\n\r\nbody\r\n");
}
END_TEST

START_TEST(bdat_fixups_only_when_missing)
{
    bdat_at_every_split("date : x\r\nMESSAGE-ID: <a@b>\r\n\r\nDate: not a header\r\n",
                        "date : x\r\nMESSAGE-ID: <a@b>\r\n\r\nDate: not a header\r\n");
    bdat_at_every_split("Message-Id: <a@b>\r\n\r\nb", "Message-Id: <a@b>\r\nDate: D\r\n\r\nb");
}
END_TEST

START_TEST(bdat_fixups_header_only_and_no_empty_line)
{
    bdat_at_every_split("Subject: s\r\n", "Subject: s\r\nDate: D\r\nMessage-ID: <m@x>\r\n");
    /* the last header line lacks its CRLF: the fields go before it */
    bdat_at_every_split("Subject: s", "Date: D\r\nMessage-ID: <m@x>\r\nSubject: s");
    /* a body without the empty line: fields and that line before it */
    bdat_at_every_split("From: a\r\nno colon here\r\n",
                        "From: a\r\nDate: D\r\nMessage-ID: <m@x>\r\n\r\nno colon here\r\n");
}
END_TEST

/* BDAT octets go through the same content policy as DATA lines: bare CR
 * and LF, NULs and the header limits refuse a BDAT message as they refuse
 * the DATA one (proto/content_policy.h). */
START_TEST(bdat_bare_eol_refused_like_data)
{
    static const char *const bodies[] = {"a\r\n\n.\nMAIL FROM:<x@y>\r\n", "a\r\n\r.\r\n",
                                         "a\n.\r\n", "a\r\nb\r"};
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        size_t n = strlen(bodies[i]);
        for (size_t cut = 0; cut <= n; cut++) {
            setup(1 << 20, NULL);
            smtp_data_chunk(&d, bodies[i], cut, false);
            smtp_data_chunk(&d, bodies[i] + cut, n - cut, true);
            ck_assert_int_eq(smtp_data_finish(&d), SMTP_DATA_BARE_EOL);
        }
    }
}
END_TEST

START_TEST(nul_refused_by_default_in_data_and_bdat)
{
    setup(1 << 20, NULL);
    ck_assert(!smtp_data_line(&d, "Subject: s", 10, false, false));
    ck_assert(!smtp_data_line(&d, "", 0, false, false));
    ck_assert(!smtp_data_line(&d, "a\0b", 3, false, false));
    ck_assert(smtp_data_line(&d, ".", 1, false, false));
    ck_assert_int_eq(smtp_data_finish(&d), SMTP_DATA_NUL);
    setup(1 << 20, NULL);
    smtp_data_chunk(&d, "Subject: s\r\n\r\na\0b\r\n", 19, true);
    ck_assert_int_eq(smtp_data_finish(&d), SMTP_DATA_NUL);
    /* strip, as configured */
    setup(1 << 20, NULL);
    struct content_limits strip = {CONTENT_NUL_STRIP, 102400, 1000};
    smtp_data_content_limits(&d, &strip);
    smtp_data_chunk(&d, "Subject: s\0\r\n\r\na\0b\r\n", 20, true);
    ck_assert_int_eq(smtp_data_finish(&d), SMTP_DATA_OK);
    ck_assert_uint_eq(d.size, 20); /* the size limit counts what the client sent */
    ck_assert_uint_eq(sink.len, 18);
    ck_assert(memcmp(sink.buf, "Subject: s\r\n\r\nab\r\n", 18) == 0);
}
END_TEST

START_TEST(header_limits_in_data_and_bdat)
{
    struct content_limits lim = {CONTENT_NUL_REJECT, 1024, 2};
    setup(1 << 20, NULL);
    smtp_data_content_limits(&d, &lim);
    ck_assert(!smtp_data_line(&d, "A: 1", 4, false, false));
    ck_assert(!smtp_data_line(&d, "B: 2", 4, false, false));
    ck_assert(!smtp_data_line(&d, "C: 3", 4, false, false));
    ck_assert(smtp_data_line(&d, ".", 1, false, false));
    ck_assert_int_eq(smtp_data_finish(&d), SMTP_DATA_TOO_MANY_HEADERS);
    setup(1 << 20, NULL);
    smtp_data_content_limits(&d, &lim);
    static char big[1100];
    memset(big, 'a', sizeof big);
    memcpy(big, "X: ", 3);
    smtp_data_chunk(&d, big, sizeof big, false);
    smtp_data_chunk(&d, "\r\n\r\n", 4, true);
    ck_assert_int_eq(smtp_data_finish(&d), SMTP_DATA_HEADER_TOO_BIG);
}
END_TEST

START_TEST(bdat_fixups_long_header_line)
{
    /* a line longer than the hold is decided on its start and written through */
    static char msg[3000], want[3100];
    memset(msg, 0, sizeof msg);
    memcpy(msg, "X-Long: ", 8);
    memset(msg + 8, 'a', 2000);
    memcpy(msg + 2008, "\r\n\r\nb", 5);
    snprintf(want, sizeof want, "%.*sDate: D\r\nMessage-ID: <m@x>\r\n\r\nb", 2010, msg);
    setup(1 << 20, &fix);
    size_t n = strlen(msg);
    for (size_t off = 0; off < n; off += 7) /* in small chunks */
        smtp_data_chunk(&d, msg + off, n - off < 7 ? n - off : 7, false);
    smtp_data_chunk(&d, "", 0, true);
    ck_assert_int_eq(smtp_data_finish(&d), SMTP_DATA_OK);
    ck_assert_uint_eq(sink.len, strlen(want));
    ck_assert(memcmp(sink.buf, want, sink.len) == 0);
}
END_TEST

/* ---- the fields themselves (issue 10 section 9) ---- */

START_TEST(date_field_complete)
{
    setenv("TZ", "UTC", 1);
    char *f = smtp_data_date_field(0);
    ck_assert_ptr_nonnull(f);
    ck_assert_str_eq(f, "Date: Thu, 01 Jan 1970 00:00:00 +0000\r\n");
    free(f);
}
END_TEST

/* A 250-octet host name: the Message-ID is whole and ends in CRLF (the old
 * 128-octet buffer cut it at 127 and lost the CRLF). Its one line passes
 * 78 (a msg-id is never folded inside) but stays within 998. */
START_TEST(message_id_long_hostname)
{
    char host[251];
    memset(host, 'a', 250);
    host[250] = '\0';
    for (size_t i = 63; i < 250; i += 64)
        host[i] = '.';
    char *f = smtp_data_message_id_field("0123456789abcdef0123456", host);
    ck_assert_ptr_nonnull(f);
    char want[400];
    snprintf(want, sizeof want, "Message-ID: <0123456789abcdef0123456@%s>\r\n", host);
    ck_assert_str_eq(f, want);
    ck_assert_uint_le(strlen(f) - 2, 998);
    ck_assert_ptr_eq(strstr(f, "\r\n"), f + strlen(f) - 2);
    free(f);

    /* nothing that could end the field early gets in */
    ck_assert_ptr_null(smtp_data_message_id_field("x", "mx.example\r\nBcc: a@b"));
    /* too long for any line: refused whole, never truncated */
    char big[1001];
    memset(big, 'h', 1000);
    big[1000] = '\0';
    ck_assert_ptr_null(smtp_data_message_id_field("x", big));
}
END_TEST

/* The long field goes into the message whole, before the empty line. */
START_TEST(long_message_id_fixup_keeps_the_body)
{
    char host[251];
    memset(host, 'b', 250);
    host[250] = '\0';
    struct smtp_data_fixups f = {NULL, smtp_data_message_id_field("q", host)};
    ck_assert_ptr_nonnull(f.message_id);
    setup(1000000, &f);
    ck_assert_int_ge(feed(&d, "Subject: s\r\n\r\nbody\r\n.\r\n"), 0);
    ck_assert_int_eq(smtp_data_finish(&d), SMTP_DATA_OK);
    char want[400];
    snprintf(want, sizeof want, "Subject: s\r\n%s\r\nbody\r\n", f.message_id);
    ck_assert_uint_eq(sink.len, strlen(want));
    ck_assert_mem_eq(sink.buf, want, sink.len);
    free((char *)f.message_id);
}
END_TEST

static Suite *smtp_data_suite(void)
{
    Suite *s = suite_create("smtp_data");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, exact_end_and_unstuffing);
    tcase_add_test(tc, empty_message);
    tcase_add_test(tc, smuggling_never_ends);
    tcase_add_test(tc, bare_cr_inside_line_still_ends_on_next_dot);
    tcase_add_test(tc, size_limit_counts_unstuffed_octets);
    tcase_add_test(tc, text_line_limit);
    tcase_add_test(tc, dropped_line_blocks_the_next_dot);
    tcase_add_test(tc, write_failure);
    tcase_add_test(tc, fixups_added_before_body);
    tcase_add_test(tc, fixups_only_when_missing);
    tcase_add_test(tc, fixups_header_only_message);
    tcase_add_test(tc, bdat_chunks_raw);
    tcase_add_test(tc, bdat_fixups_before_body);
    tcase_add_test(tc, bdat_fixups_only_when_missing);
    tcase_add_test(tc, bdat_fixups_header_only_and_no_empty_line);
    tcase_add_test(tc, bdat_fixups_long_header_line);
    tcase_add_test(tc, date_field_complete);
    tcase_add_test(tc, message_id_long_hostname);
    tcase_add_test(tc, long_message_id_fixup_keeps_the_body);
    tcase_add_test(tc, bdat_bare_eol_refused_like_data);
    tcase_add_test(tc, nul_refused_by_default_in_data_and_bdat);
    tcase_add_test(tc, header_limits_in_data_and_bdat);
    suite_add_tcase(s, tc);
    return s;
}

TAP_MAIN(smtp_data_suite)
