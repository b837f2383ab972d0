/* tests/unit/test_mime.c - lib/mime: the part tree of nested multiparts and
 * attached messages with each entity's header and body as exact byte
 * ranges (raw and with CRLF), line counts, a missing close delimiter and
 * an absent one, multipart/digest's default type, RFC 2231 parameters
 * through GMime; and lib/mime_text: base64/QP removal, charsets to UTF-8
 * (unknown ones as Latin-1), RFC 2047 words, case folding. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/mime.h"
#include "tests/unit/tap_main.h"

/* text_of - the octets of [a, b) of data, NUL-terminated (malloc'd). */
static char *text_of(const char *data, struct mime_pos a, struct mime_pos b)
{
    return bytes_dup(data + a.raw, (size_t)(b.raw - a.raw));
}

static const char nested[] = "Subject: n\n"
                             "Content-Type: multipart/mixed; boundary=o\n"
                             "\n"
                             "pre\n"
                             "--o\n"
                             "Content-Type: multipart/alternative; boundary=i\n"
                             "\n"
                             "--i\n"
                             "\n"
                             "a\n"
                             "--i--\n"
                             "--o\n"
                             "Content-Type: message/rfc822\n"
                             "\n"
                             "Subject: inner\n"
                             "\n"
                             "b1\n"
                             "b2\n"
                             "--o--\n"
                             "epilogue\n";

START_TEST(nested_tree_and_offsets)
{
    struct mime_message *m = mime_parse(nested, strlen(nested));
    ck_assert_ptr_nonnull(m);
    /* 0 mixed, 1 alternative, 2 its text, 3 the rfc822 part, 4 the message inside */
    ck_assert_uint_eq(m->count, 5);
    ck_assert_int_eq(m->parts[0].kind, MIME_MULTIPART);
    ck_assert_uint_eq(m->parts[0].child_count, 2);
    ck_assert_int_eq(m->parts[1].kind, MIME_MULTIPART);
    ck_assert_int_eq(m->parts[2].parent, 1);
    ck_assert_int_eq(m->parts[3].kind, MIME_MESSAGE);
    ck_assert_int_eq(m->parts[4].parent, 3);
    char *t = text_of(nested, m->parts[2].body, m->parts[2].end);
    ck_assert_str_eq(t, "a"); /* the LF before the delimiter is the delimiter's */
    free(t);
    t = text_of(nested, m->parts[2].header, m->parts[2].body);
    ck_assert_str_eq(t, "\n"); /* an empty MIME header: only its blank line */
    free(t);
    t = text_of(nested, m->parts[4].header, m->parts[4].body);
    ck_assert_str_eq(t, "Subject: inner\n\n");
    free(t);
    t = text_of(nested, m->parts[4].body, m->parts[4].end);
    ck_assert_str_eq(t, "b1\nb2");
    free(t);
    ck_assert_uint_eq(m->parts[4].body_lines, 1);
    ck_assert_str_eq(m->parts[4].fields[MIME_F_SUBJECT], "inner");
    ck_assert(mime_part_is(&m->parts[2], "text", "plain"));
    /* every LF before a position counts twice with CRLF */
    for (size_t i = 0; i < m->count; i++) {
        uint64_t lf = 0;
        for (uint64_t k = 0; k < m->parts[i].end.raw; k++)
            lf += nested[k] == '\n';
        ck_assert_uint_eq(m->parts[i].end.crlf, m->parts[i].end.raw + lf);
    }
    mime_message_free(&m);
    ck_assert_ptr_null(m);
}
END_TEST

START_TEST(broken_boundaries)
{
    static const char open_end[] = "Content-Type: multipart/mixed; boundary=\"x\"\n\n"
                                   "--x\n\none\n--x\n\ntwo\nno close";
    struct mime_message *m = mime_parse(open_end, strlen(open_end));
    ck_assert_uint_eq(m->count, 3);
    char *t = text_of(open_end, m->parts[2].body, m->parts[2].end);
    ck_assert_str_eq(t, "two\nno close"); /* runs to the end */
    free(t);
    mime_message_free(&m);

    static const char none[] = "Content-Type: multipart/mixed; boundary=gone\n\nno delimiter\n";
    m = mime_parse(none, strlen(none));
    ck_assert_uint_eq(m->count, 1);
    ck_assert_int_eq(m->parts[0].kind, MIME_MULTIPART);
    ck_assert_int_eq(m->parts[0].first_child, -1);
    mime_message_free(&m);

    /* no boundary parameter: not a multipart we can split */
    static const char nob[] = "Content-Type: multipart/mixed\n\nbody\n";
    m = mime_parse(nob, strlen(nob));
    ck_assert_int_eq(m->parts[0].kind, MIME_LEAF);
    mime_message_free(&m);

    /* header only, without a blank line; and nothing at all */
    static const char hdr[] = "Subject: x\n";
    m = mime_parse(hdr, strlen(hdr));
    ck_assert_uint_eq(m->parts[0].body.raw, strlen(hdr));
    ck_assert_uint_eq(m->parts[0].end.raw, strlen(hdr));
    mime_message_free(&m);
    m = mime_parse("", 0);
    ck_assert_uint_eq(m->count, 1);
    ck_assert_str_eq(m->parts[0].type, "text");
    mime_message_free(&m);
}
END_TEST

START_TEST(digest_and_parameters)
{
    static const char digest[] = "Content-Type: multipart/digest; boundary=d\n\n"
                                 "--d\n\nSubject: one\n\nx\n--d--\n";
    struct mime_message *m = mime_parse(digest, strlen(digest));
    ck_assert(mime_part_is(&m->parts[1], "message", "rfc822"));
    ck_assert_int_eq(m->parts[1].kind, MIME_MESSAGE);
    ck_assert_str_eq(m->parts[2].fields[MIME_F_SUBJECT], "one");
    mime_message_free(&m);

    static const char params[] = "Content-Type: Text/PLAIN;\n"
                                 " title*0*=us-ascii'en'a%20b;\n"
                                 " title*1=\" c\"; charset=ISO-8859-1\n"
                                 "Content-Disposition: attachment; filename*=utf-8''%E2%82%AC\n"
                                 "\nx\n";
    m = mime_parse(params, strlen(params));
    ck_assert_str_eq(m->parts[0].type, "text");
    ck_assert_str_eq(m->parts[0].subtype, "plain");
    ck_assert_str_eq(mime_part_param(&m->parts[0], "title"), "a b c");
    ck_assert_str_eq(mime_part_param(&m->parts[0], "charset"), "ISO-8859-1");
    ck_assert_str_eq(m->parts[0].disposition, "attachment");
    ck_assert_uint_eq(m->parts[0].disposition_params.count, 1);
    ck_assert_str_eq(m->parts[0].disposition_params.list[0].value, "\xe2\x82\xac");
    mime_message_free(&m);
}
END_TEST

START_TEST(decoding)
{
    struct buf out = BUF_INIT;
    ck_assert_int_eq(mime_decode_transfer("aGVsbG8=\n", 9, "BASE64", &out), MIME_DECODED);
    ck_assert_uint_eq(out.len, 5);
    ck_assert_mem_eq(buf_ptr(&out), "hello", 5);
    buf_clear(&out);
    ck_assert_int_eq(mime_decode_transfer("caf=E9 soft=\n break", 19, "quoted-printable", &out),
                     MIME_DECODED);
    ck_assert_mem_eq(buf_ptr(&out), "caf\xe9 soft break", 15);
    buf_clear(&out);
    ck_assert_int_eq(mime_decode_transfer("x", 1, "x-made-up", &out), MIME_UNKNOWN_ENCODING);
    ck_assert_int_eq(mime_to_utf8("caf\xe9", 4, "iso-8859-1", &out), 0);
    ck_assert_mem_eq(buf_ptr(&out), "caf\xc3\xa9", 5);
    buf_clear(&out);
    /* an unknown charset and no UTF-8: read as Latin-1 */
    ck_assert_int_eq(mime_to_utf8("K\xf6ln", 4, "x-unknown", &out), 0);
    ck_assert_mem_eq(buf_ptr(&out), "K\xc3\xb6ln", 5);
    buf_release(&out);

    char *d = mime_header_decode("=?ISO-8859-1?Q?Caf=E9?= =?UTF-8?B?w6k=?= x");
    ck_assert_str_eq(d, "Caf\xc3\xa9\xc3\xa9 x");
    free(d);
    size_t n;
    char *f = mime_casefold("CAF\xc3\x89", 5, &n);
    ck_assert_str_eq(f, "caf\xc3\xa9");
    ck_assert_uint_eq(n, 5);
    free(f);
}
END_TEST

START_TEST(header_find)
{
    static const char h[] = "X-A: 1\nSubject: one\n two\nsubject: second\n\nSubject: body\n";
    size_t end = mime_header_end(h, 0, strlen(h));
    ck_assert_uint_eq(end, strlen("X-A: 1\nSubject: one\n two\nsubject: second\n\n"));
    char *v = mime_header_find(h, 0, end, "SUBJECT");
    ck_assert_str_eq(v, "one two");
    free(v);
    ck_assert_ptr_null(mime_header_find(h, 0, end, "X-B"));
}
END_TEST

static Suite *mime_suite(void)
{
    Suite *s = suite_create("mime");
    TCase *tc = tcase_create("mime");
    tcase_add_test(tc, nested_tree_and_offsets);
    tcase_add_test(tc, broken_boundaries);
    tcase_add_test(tc, digest_and_parameters);
    tcase_add_test(tc, decoding);
    tcase_add_test(tc, header_find);
    suite_add_tcase(s, tc);
    return s;
}

TAP_MAIN(mime_suite)
