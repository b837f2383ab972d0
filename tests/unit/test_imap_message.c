/* tests/unit/test_imap_message.c - a message file as an IMAP client sees it
 * (reader/imap_message.c): LF stored, CRLF sent, so that every range of the
 * CRLF text (RFC 3501 6.4.5 sections and partials) comes out octet for octet
 * with the size announced; the header's extent with its blank line, one
 * without a blank line, HEADER.FIELDS(.NOT) with continuation lines, and a
 * file shorter than announced. */
#include "config.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "reader/imap_fetch_internal.h"
#include "tests/unit/tap_main.h"
#include "tests/unit/temp_dir.h"

static char dir[PATH_MAX];

static int file_with(const char *text)
{
    char path[PATH_MAX + 16];
    temp_dir_make(dir, sizeof dir, "imap_message");
    snprintf(path, sizeof path, "%s/msg", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    return fd;
}

static void done(int fd)
{
    close(fd);
    temp_dir_remove(dir);
}

/* crlf - text with every LF not after a CR as CRLF (malloc'd). */
static char *crlf(const char *text)
{
    char *out = malloc(2 * strlen(text) + 1);
    size_t o = 0;
    for (size_t i = 0; text[i] != '\0'; i++) {
        if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r'))
            out[o++] = '\r';
        out[o++] = text[i];
    }
    out[o] = '\0';
    return out;
}

/* range - the stream's octets of [from, to), read in chunks of in_max. */
static char *range(int fd, uint64_t file_off, uint64_t base, uint64_t from, uint64_t to,
                   size_t in_max, ssize_t *len_r)
{
    struct imap_crlf_stream s;
    ck_assert_int_eq(imap_crlf_stream_begin(&s, fd, file_off, base, from, to), 0);
    char *out = malloc(2 * (to - from) + 2 * in_max + 1);
    size_t o = 0;
    for (;;) {
        ssize_t n = imap_crlf_stream_read(&s, out + o, in_max);
        if (n < 0) {
            *len_r = -1;
            return out;
        }
        if (n == 0)
            break;
        o += (size_t)n;
    }
    *len_r = (ssize_t)o;
    return out;
}

static const char *const message = "From: a@example.org\n"
                                   "Subject: one\n"
                                   "X-Long: first\n"
                                   "\tsecond\n"
                                   "\n"
                                   "body line\r\n" /* an already-CRLF line stays as it is */
                                   "last\n";

START_TEST(header_extent)
{
    int fd = file_with(message);
    struct imap_message_header h;
    ck_assert_int_eq(imap_header_scan(fd, &h), 0);
    const char *body = strstr(message, "\n\n") + 2;
    ck_assert_uint_eq(h.file_len, (uint64_t)(body - message));
    char *header = strndup(message, h.file_len);
    char *header_crlf = crlf(header);
    ck_assert_uint_eq(h.crlf_len, strlen(header_crlf));
    free(header);
    free(header_crlf);
    done(fd);
    /* no blank line: all of it is the header */
    fd = file_with("A: b\nC: d\n");
    ck_assert_int_eq(imap_header_scan(fd, &h), 0);
    ck_assert_uint_eq(h.file_len, 10);
    ck_assert_uint_eq(h.crlf_len, 12);
    done(fd);
}
END_TEST

START_TEST(every_range_is_exact)
{
    int fd = file_with(message);
    char *want = crlf(message);
    uint64_t total = strlen(want);
    for (uint64_t from = 0; from <= total; from++) {
        for (uint64_t to = from; to <= total; to++) {
            for (size_t chunk = 1; chunk <= 7; chunk += 6) {
                ssize_t n;
                char *got = range(fd, 0, 0, from, to, chunk, &n);
                ck_assert_int_eq(n, (ssize_t)(to - from));
                ck_assert(memcmp(got, want + from, (size_t)(to - from)) == 0);
                free(got);
            }
        }
    }
    /* TEXT: starting in the file after the header */
    struct imap_message_header h;
    ck_assert_int_eq(imap_header_scan(fd, &h), 0);
    ssize_t n;
    char *got = range(fd, h.file_len, h.crlf_len, h.crlf_len + 2, total, 4096, &n);
    ck_assert_int_eq(n, (ssize_t)(total - h.crlf_len - 2));
    ck_assert(memcmp(got, want + h.crlf_len + 2, (size_t)n) == 0);
    free(got);
    /* a file shorter than the size announced is an error, never short data */
    got = range(fd, 0, 0, 0, total + 1, 4096, &n);
    ck_assert_int_eq(n, -1);
    free(got);
    free(want);
    done(fd);
}
END_TEST

START_TEST(header_fields)
{
    int fd = file_with(message);
    struct imap_message_header h;
    ck_assert_int_eq(imap_header_scan(fd, &h), 0);
    char *out;
    size_t len;
    const char *const some[] = {"x-long", "FROM"};
    ck_assert_int_eq(imap_header_fields(fd, &h, some, 2, false, &out, &len), 0);
    ck_assert_uint_eq(len, strlen("From: a@example.org\r\nX-Long: first\r\n\tsecond\r\n\r\n"));
    ck_assert(memcmp(out, "From: a@example.org\r\nX-Long: first\r\n\tsecond\r\n\r\n", len) == 0);
    free(out);
    ck_assert_int_eq(imap_header_fields(fd, &h, some, 2, true, &out, &len), 0);
    ck_assert_uint_eq(len, strlen("Subject: one\r\n\r\n"));
    ck_assert(memcmp(out, "Subject: one\r\n\r\n", len) == 0);
    free(out);
    const char *const none[] = {"Received"};
    ck_assert_int_eq(imap_header_fields(fd, &h, none, 1, false, &out, &len), 0);
    ck_assert_uint_eq(len, 2); /* only the blank line */
    free(out);
    done(fd);
}
END_TEST

static Suite *imap_message_suite(void)
{
    Suite *s = suite_create("imap_message");
    TCase *tc = tcase_create("message");
    tcase_add_test(tc, header_extent);
    tcase_add_test(tc, every_range_is_exact);
    tcase_add_test(tc, header_fields);
    suite_add_tcase(s, tc);
    return s;
}

TAP_MAIN(imap_message_suite)
