/* tests/unit/test_content_policy.c - proto/content_policy.c, the one content
 * check of DATA and BDAT: the verdict and the octets kept never depend on
 * where the message was cut (a CR ending one chunk and its LF starting the
 * next is a CRLF), bare CR and LF are refused, NUL octets are refused,
 * stripped or kept, and the header section's size and field count are
 * limited exactly at their settings. */
#include "config.h"

#include "proto/content_policy.h"
#include "tests/unit/tap_main.h"

#include <stdio.h>
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

static struct sink sink;
static struct content_policy p;

static void setup(enum content_nul nul, uint64_t max_size, unsigned max_count)
{
    memset(&sink, 0, sizeof sink);
    struct content_limits lim = {nul, max_size, max_count};
    content_policy_init(&p, &lim);
}

/* check_cuts - msg[0..n) cut into three pieces at every pair of offsets
 * (empty pieces included; two pieces for a long msg, to stay quick) gives
 * want each time, and keeps keep (when OK). */
static void check_cuts(enum content_nul nul, uint64_t max_size, unsigned max_count, const char *msg,
                       size_t n, enum content_verdict want, const char *keep, size_t keep_len)
{
    for (size_t a = 0; a <= n; a++) {
        for (size_t b = a; b <= n; b += n > 100 ? n + 1 : 1) {
            setup(nul, max_size, max_count);
            content_policy_feed(&p, msg, a, sink_write, &sink);
            content_policy_feed(&p, msg + a, b - a, sink_write, &sink);
            content_policy_feed(&p, msg + b, n - b, sink_write, &sink);
            enum content_verdict got = content_policy_end(&p);
            ck_assert_msg(got == want, "cuts %zu,%zu: %s, want %s", a, b, content_verdict_name(got),
                          content_verdict_name(want));
            if (want == CONTENT_OK)
                ck_assert_msg(sink.len == keep_len && memcmp(sink.buf, keep, keep_len) == 0,
                              "cuts %zu,%zu: kept \"%.*s\"", a, b, (int)sink.len, sink.buf);
        }
    }
}

#define CUTS(nul, msg, want, keep)                                                                 \
    check_cuts(nul, 102400, 1000, msg, sizeof(msg) - 1, want, keep, sizeof(keep) - 1)

START_TEST(crlf_split_across_chunks_is_a_crlf)
{
    static const char msg[] = "Subject: a\r\nX-Folded: b\r\n c\r\n\r\nbody\r\n\r\n.\r\nend";
    CUTS(CONTENT_NUL_REJECT, msg, CONTENT_OK, msg);
    /* one octet at a time, too */
    setup(CONTENT_NUL_REJECT, 102400, 1000);
    for (size_t i = 0; i + 1 < sizeof msg; i++)
        ck_assert_int_eq(content_policy_feed(&p, msg + i, 1, sink_write, &sink), CONTENT_OK);
    ck_assert_int_eq(content_policy_end(&p), CONTENT_OK);
    ck_assert_uint_eq(sink.len, sizeof msg - 1);
}
END_TEST

START_TEST(bare_lf_and_bare_cr_refused_wherever_cut)
{
    CUTS(CONTENT_NUL_REJECT, "Subject: a\r\n\r\nfirst\n.\nMAIL FROM:<x@y>\r\n", CONTENT_BARE_EOL,
         "");
    CUTS(CONTENT_NUL_REJECT, "Subject: a\r\n\r\nfirst\r.\r\n", CONTENT_BARE_EOL, "");
    CUTS(CONTENT_NUL_REJECT, "Subject: a\n\r\nbody\r\n", CONTENT_BARE_EOL, "");
    CUTS(CONTENT_NUL_REJECT, "\n", CONTENT_BARE_EOL, "");
    CUTS(CONTENT_NUL_REJECT, "a\r\r\n", CONTENT_BARE_EOL, "");
    /* a CR as the very last octet has no LF to come */
    CUTS(CONTENT_NUL_REJECT, "Subject: a\r\n\r\nbody\r", CONTENT_BARE_EOL, "");
}
END_TEST

START_TEST(nothing_written_after_a_refusal)
{
    setup(CONTENT_NUL_REJECT, 102400, 1000);
    ck_assert_int_eq(content_policy_feed(&p, "ab\r", 3, sink_write, &sink), CONTENT_OK);
    ck_assert_int_eq(content_policy_feed(&p, "x\r\n", 3, sink_write, &sink), CONTENT_BARE_EOL);
    ck_assert_int_eq(content_policy_feed(&p, "ok\r\n", 4, sink_write, &sink), CONTENT_BARE_EOL);
    ck_assert_int_eq(content_policy_end(&p), CONTENT_BARE_EOL);
    ck_assert_uint_eq(sink.len, 3);
}
END_TEST

START_TEST(nul_rejected_by_default)
{
    content_policy_init(&p, NULL);
    ck_assert_int_eq(p.limits.nul, CONTENT_NUL_REJECT);
    ck_assert_uint_eq(p.limits.header_max_size, CONTENT_HEADER_MAX_SIZE_DEFAULT);
    ck_assert_uint_eq(p.limits.header_max_count, CONTENT_HEADER_MAX_COUNT_DEFAULT);
    CUTS(CONTENT_NUL_REJECT, "Subject: a\r\n\r\nbe\0fore\r\n", CONTENT_NUL, "");
    CUTS(CONTENT_NUL_REJECT, "Subj\0ect: a\r\n\r\nb\r\n", CONTENT_NUL, "");
    CUTS(CONTENT_NUL_REJECT, "\0", CONTENT_NUL, "");
}
END_TEST

START_TEST(nul_stripped)
{
    CUTS(CONTENT_NUL_STRIP, "Sub\0ject: a\r\n\r\n\0be\0\0fore\r\nend\0", CONTENT_OK,
         "Subject: a\r\n\r\nbefore\r\nend");
    /* line endings are judged as sent: a NUL between CR and LF leaves both
     * bare (as DATA's line reader sees them), stripping makes no CRLF */
    CUTS(CONTENT_NUL_STRIP, "a\r\0\nb\r\n", CONTENT_BARE_EOL, "");
    CUTS(CONTENT_NUL_STRIP, "a\0\r\nb\r\n", CONTENT_OK, "a\r\nb\r\n");
    CUTS(CONTENT_NUL_STRIP, "a\0\nb\r\n", CONTENT_BARE_EOL, "");
    /* stripped octets are not header octets either */
    check_cuts(CONTENT_NUL_STRIP, 8, 1000, "A: b\0\0\0\r\n\r\nxyz", 14, CONTENT_OK,
               "A: b\r\n\r\nxyz", 11);
}
END_TEST

START_TEST(nul_accepted)
{
    CUTS(CONTENT_NUL_ACCEPT, "Subject: a\0b\r\n\r\n\0body\0\r\n", CONTENT_OK,
         "Subject: a\0b\r\n\r\n\0body\0\r\n");
    /* accepted, a NUL still may not stand for a line ending */
    CUTS(CONTENT_NUL_ACCEPT, "a\r\0\nb", CONTENT_BARE_EOL, "");
}
END_TEST

/* header_of - n octets of header section: fields "X: aaa...\r\n" then the
 * empty line, then a body; *len_r is the whole message, *header_r the
 * section with its empty line. */
static char big[4096];
static size_t header_of(size_t header, size_t *header_r)
{
    ck_assert_uint_ge(header, 7);
    size_t field = header - 2; /* "X: " + value + CRLF */
    memcpy(big, "X: ", 3);
    memset(big + 3, 'a', field - 5);
    memcpy(big + field - 2, "\r\n\r\n", 4);
    memcpy(big + header, "body with: colon\r\n", 18);
    *header_r = header;
    return header + 18;
}

START_TEST(header_size_limit_exact)
{
    size_t header;
    size_t n = header_of(1000, &header);
    check_cuts(CONTENT_NUL_REJECT, 1000, 1000, big, n, CONTENT_OK, big, n);
    check_cuts(CONTENT_NUL_REJECT, 999, 1000, big, n, CONTENT_HEADER_TOO_BIG, "", 0);
    /* the body never counts, however long */
    setup(CONTENT_NUL_REJECT, 1024, 1000);
    ck_assert_int_eq(content_policy_feed(&p, "A: b\r\n\r\n", 8, sink_write, &sink), CONTENT_OK);
    for (int i = 0; i < 100; i++)
        ck_assert_int_eq(content_policy_feed(&p, big, 40, sink_write, &sink), CONTENT_OK);
    ck_assert_uint_eq(p.header_size, 8);
    /* a header line that never ends is refused as it grows, unbuffered */
    setup(CONTENT_NUL_REJECT, 1024, 1000);
    ck_assert_int_eq(content_policy_feed(&p, "X-Long: ", 8, sink_write, &sink), CONTENT_OK);
    memset(big, 'a', 2000);
    ck_assert_int_eq(content_policy_feed(&p, big, 2000, sink_write, &sink), CONTENT_HEADER_TOO_BIG);
}
END_TEST

START_TEST(header_count_limit_exact)
{
    static const char msg[] =
        "A: 1\r\nB : 2\r\n folded\r\n\tagain\r\nC:3\r\n\r\nD: in the body\r\nE: also\r\n";
    check_cuts(CONTENT_NUL_REJECT, 102400, 3, msg, sizeof msg - 1, CONTENT_OK, msg, sizeof msg - 1);
    check_cuts(CONTENT_NUL_REJECT, 102400, 2, msg, sizeof msg - 1, CONTENT_TOO_MANY_HEADERS, "", 0);
    setup(CONTENT_NUL_REJECT, 102400, 3);
    content_policy_feed(&p, msg, sizeof msg - 1, sink_write, &sink);
    ck_assert_uint_eq(p.header_count, 3);
}
END_TEST

START_TEST(header_ends_at_a_line_that_is_no_field)
{
    /* a body without the empty line (RFC 5322 2.1 wants one): what
     * follows the first non-field line is body, whatever it looks like */
    static const char msg[] = "A: 1\r\nnot a field\r\nB: 2\r\nC: 3\r\n";
    check_cuts(CONTENT_NUL_REJECT, 102400, 1, msg, sizeof msg - 1, CONTENT_OK, msg, sizeof msg - 1);
    static const char colon_first[] = "A: 1\r\n: x\r\nB: 2\r\n";
    check_cuts(CONTENT_NUL_REJECT, 102400, 1, colon_first, sizeof colon_first - 1, CONTENT_OK,
               colon_first, sizeof colon_first - 1);
}
END_TEST

START_TEST(write_failure)
{
    setup(CONTENT_NUL_STRIP, 102400, 1000);
    sink.fail = true;
    ck_assert_int_eq(content_policy_feed(&p, "a\0b", 3, sink_write, &sink), CONTENT_WRITE_FAILED);
    ck_assert_int_eq(content_policy_end(&p), CONTENT_WRITE_FAILED);
}
END_TEST

START_TEST(names)
{
    ck_assert_str_eq(content_nul_name(CONTENT_NUL_REJECT), "reject");
    ck_assert_str_eq(content_nul_name(CONTENT_NUL_STRIP), "strip");
    ck_assert_str_eq(content_nul_name(CONTENT_NUL_ACCEPT), "accept");
    ck_assert_str_eq(content_verdict_name(CONTENT_TOO_MANY_HEADERS), "too-many-headers");
}
END_TEST

static Suite *content_policy_suite(void)
{
    Suite *s = suite_create("content_policy");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, crlf_split_across_chunks_is_a_crlf);
    tcase_add_test(tc, bare_lf_and_bare_cr_refused_wherever_cut);
    tcase_add_test(tc, nothing_written_after_a_refusal);
    tcase_add_test(tc, nul_rejected_by_default);
    tcase_add_test(tc, nul_stripped);
    tcase_add_test(tc, nul_accepted);
    tcase_add_test(tc, header_size_limit_exact);
    tcase_add_test(tc, header_count_limit_exact);
    tcase_add_test(tc, header_ends_at_a_line_that_is_no_field);
    tcase_add_test(tc, write_failure);
    tcase_add_test(tc, names);
    suite_add_tcase(s, tc);
    return s;
}

TAP_MAIN(content_policy_suite)
