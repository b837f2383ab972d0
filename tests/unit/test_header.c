/* tests/unit/test_header.c - lib/header.c: a header field built from words
 * is folded between words (CRLF TAB) where a line would pass 78, never
 * inside a word, never passes 998 octets on a line (or fails whole), always
 * ends in CRLF, and a word with a line break in it fails the field. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/header.h"
#include "tests/unit/tap_main.h"

/* lines_ok - every line ends in CRLF, holds no other CR or LF, is at most
 * max octets, and each after the first starts with white space (so the
 * whole is one field, RFC 5322 2.2.3). Returns the number of lines. */
static int lines_ok(const char *f, size_t max)
{
    int lines = 0;
    const char *p = f;
    ck_assert_int_ne(*p, '\0');
    while (*p != '\0') {
        const char *crlf = strstr(p, "\r\n");
        ck_assert_ptr_nonnull(crlf);
        size_t len = (size_t)(crlf - p);
        ck_assert(memchr(p, '\n', len) == NULL);
        ck_assert(memchr(p, '\r', len) == NULL);
        ck_assert_uint_le(len, max);
        if (lines > 0)
            ck_assert(p[0] == '\t' || p[0] == ' ');
        lines++;
        p = crlf + 2;
    }
    return lines;
}

static char *repeat(char c, size_t n)
{
    char *s = malloc(n + 1);
    ck_assert_ptr_nonnull(s);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

START_TEST(short_field_one_line)
{
    struct header_field f;
    size_t len = 0;
    header_field_begin(&f, "Subject");
    header_field_word(&f, "hello");
    header_field_word(&f, "world");
    char *s = header_field_end(&f, &len);
    ck_assert_str_eq(s, "Subject: hello world\r\n");
    ck_assert_uint_eq(len, strlen(s));
    free(s);
}
END_TEST

START_TEST(folds_before_the_word_that_passes_78)
{
    struct header_field f;
    header_field_begin(&f, "X-Test");
    for (int i = 0; i < 40; i++)
        header_field_word(&f, "word");
    char *s = header_field_end(&f, NULL);
    ck_assert_int_gt(lines_ok(s, HEADER_LINE_SOFT), 1);
    /* only white space was added: unfolding gives the words back */
    ck_assert_uint_eq(strlen(s),
                      strlen("X-Test:") + 40 * 5 + 2 * (size_t)(lines_ok(s, 78) - 1) + 2);
    free(s);
}
END_TEST

START_TEST(break_and_glue)
{
    struct header_field f;
    header_field_begin(&f, "Received");
    header_field_word(&f, "from");
    header_field_word(&f, "a");
    header_field_break(&f);
    header_field_word(&f, "by");
    header_field_word(&f, "b");
    header_field_glue(&f, ";");
    header_field_break(&f);
    header_field_word(&f, "Thu, 01 Jan 1970 00:00:00 +0000");
    char *s = header_field_end(&f, NULL);
    ck_assert_str_eq(s, "Received: from a\r\n\tby b;\r\n\tThu, 01 Jan 1970 00:00:00 +0000\r\n");
    free(s);
}
END_TEST

/* A 250-octet word (a host name, a msg-id) cannot be brought within 78: it
 * stays whole on its line, which then passes 78 but not 998, and the next
 * short word goes to a new line. */
START_TEST(long_word_stays_whole)
{
    char *host = repeat('h', 250);
    struct header_field f;
    header_field_begin(&f, "Received");
    header_field_word(&f, "by");
    header_field_word(&f, host);
    header_field_word(&f, "(dirmail)");
    char *s = header_field_end(&f, NULL);
    ck_assert_int_eq(lines_ok(s, HEADER_LINE_MAX), 2);
    ck_assert_ptr_nonnull(strstr(s, host));
    ck_assert_ptr_nonnull(strstr(s, "\r\n\t(dirmail)\r\n"));
    free(s);

    /* the first word stays on the name's line even when long */
    char *id = NULL;
    ck_assert_int_gt(asprintf(&id, "<0123456789abcdef0123456@%s>", host), 0);
    header_field_begin(&f, "Message-ID");
    header_field_word(&f, id);
    s = header_field_end(&f, NULL);
    ck_assert_int_eq(lines_ok(s, HEADER_LINE_MAX), 1);
    ck_assert_uint_eq(strlen(s), strlen("Message-ID: ") + strlen(id) + 2);
    ck_assert_int_eq(strncmp(s, "Message-ID: <", 13), 0);
    free(s);
    free(id);
    free(host);
}
END_TEST

START_TEST(the_998_limit)
{
    /* "X: " + 995 = 998 fits exactly on the name's line */
    char *w = repeat('w', 995);
    struct header_field f;
    header_field_begin(&f, "X");
    header_field_word(&f, w);
    char *s = header_field_end(&f, NULL);
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(lines_ok(s, HEADER_LINE_MAX), 1);
    ck_assert_uint_eq(strlen(s), 998 + 2);
    free(s);
    free(w);

    /* one more and it goes to a line of its own (TAB + 996) */
    w = repeat('w', 996);
    header_field_begin(&f, "X");
    header_field_word(&f, w);
    s = header_field_end(&f, NULL);
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(lines_ok(s, HEADER_LINE_MAX), 2);
    free(s);
    free(w);

    /* TAB + 998 fits no line: the field fails whole, nothing truncated */
    w = repeat('w', 998);
    header_field_begin(&f, "X");
    header_field_word(&f, "a");
    header_field_word(&f, w);
    ck_assert_ptr_null(header_field_end(&f, NULL));
    free(w);

    /* glue past 998 fails too */
    w = repeat('w', 990);
    header_field_begin(&f, "X");
    header_field_word(&f, w);
    header_field_glue(&f, "0123456789");
    ck_assert_ptr_null(header_field_end(&f, NULL));
    free(w);
}
END_TEST

START_TEST(no_line_break_in_a_word)
{
    static const char *const bad[] = {"a\r\nX-Injected: 1", "a\nb", "a\rb", "a\tb", "\x7f", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct header_field f;
        header_field_begin(&f, "Delivered-To");
        header_field_word(&f, bad[i]);
        ck_assert_ptr_null(header_field_end(&f, NULL));
        header_field_begin(&f, "Delivered-To");
        header_field_word(&f, "x");
        header_field_glue(&f, bad[i][0] != '\0' ? bad[i] : "\n");
        ck_assert_ptr_null(header_field_end(&f, NULL));
    }
    static const char *const names[] = {"", "A:B", "A B", "A\r\nB"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        struct header_field f;
        header_field_begin(&f, names[i]);
        header_field_word(&f, "x");
        ck_assert_ptr_null(header_field_end(&f, NULL));
    }
}
END_TEST

START_TEST(wordf_any_length)
{
    char *host = repeat('h', 253);
    struct header_field f;
    header_field_begin(&f, "Message-ID");
    header_field_wordf(&f, "<%s@%s>", "0123456789abcdef0123456", host);
    char *s = header_field_end(&f, NULL);
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(lines_ok(s, HEADER_LINE_MAX), 1);
    ck_assert_uint_eq(strlen(s), strlen("Message-ID: <0123456789abcdef0123456@>\r\n") + 253);
    free(s);
    free(host);
}
END_TEST

static Suite *header_suite(void)
{
    Suite *s = suite_create("header");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, short_field_one_line);
    tcase_add_test(tc, folds_before_the_word_that_passes_78);
    tcase_add_test(tc, break_and_glue);
    tcase_add_test(tc, long_word_stays_whole);
    tcase_add_test(tc, the_998_limit);
    tcase_add_test(tc, no_line_break_in_a_word);
    tcase_add_test(tc, wordf_any_length);
    suite_add_tcase(s, tc);
    return s;
}

TAP_MAIN(header_suite)
