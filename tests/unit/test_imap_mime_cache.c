/* tests/unit/test_imap_mime_cache.c - reader/imap_mime_cache: an entry
 * encodes and decodes to the same structure, a damaged or foreign one
 * (other size or inode, numbers out of range, not a tree, cut short) is
 * refused; part numbers resolve as RFC 3501 6.4.5 counts them; and
 * imap_mime_get parses a message once, then answers from its entry until
 * the file it describes changes. */
#include "config.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/mime.h"
#include "reader/imap_mime_cache.h"
#include "tests/unit/tap_main.h"
#include "tests/unit/temp_dir.h"

static const char message[] = "Subject: s\n"
                              "Content-Type: multipart/mixed; boundary=b\n"
                              "\n"
                              "--b\n"
                              "\n"
                              "one\n"
                              "--b\n"
                              "Content-Type: message/rfc822\n"
                              "\n"
                              "Subject: inner\n"
                              "Content-Type: multipart/alternative; boundary=c\n"
                              "\n"
                              "--c\n"
                              "\n"
                              "x\n"
                              "--c\n"
                              "\n"
                              "y\n"
                              "--c--\n"
                              "--b--\n";

static struct imap_mime *parsed(void)
{
    struct mime_message *msg = mime_parse(message, strlen(message));
    struct imap_mime *m = imap_mime_from_parse(msg);
    mime_message_free(&msg);
    ck_assert_ptr_nonnull(m);
    return m;
}

START_TEST(round_trip_and_refusals)
{
    struct imap_mime *m = parsed();
    size_t len;
    char *enc = imap_mime_encode(m, strlen(message), 42, &len);
    ck_assert_ptr_nonnull(enc);
    struct imap_mime *d = imap_mime_decode(enc, len, strlen(message), 42);
    ck_assert_ptr_nonnull(d);
    ck_assert_uint_eq(d->count, m->count);
    for (size_t i = 0; i < m->count; i++) {
        /* field by field: the structs' padding is no part of the entry */
        ck_assert_int_eq(d->parts[i].kind, m->parts[i].kind);
        ck_assert_int_eq(d->parts[i].encoding, m->parts[i].encoding);
        ck_assert_int_eq(d->parts[i].parent, m->parts[i].parent);
        ck_assert_int_eq(d->parts[i].first_child, m->parts[i].first_child);
        ck_assert_int_eq(d->parts[i].next_sibling, m->parts[i].next_sibling);
        ck_assert_uint_eq(d->parts[i].header.crlf, m->parts[i].header.crlf);
        ck_assert_uint_eq(d->parts[i].body.raw, m->parts[i].body.raw);
        ck_assert_uint_eq(d->parts[i].end.crlf, m->parts[i].end.crlf);
    }
    ck_assert_str_eq(d->bodystructure, m->bodystructure);
    ck_assert_str_eq(d->envelope, m->envelope);
    ck_assert_str_eq(d->body, m->body);
    imap_mime_free(&d);
    /* another file (size or inode) */
    ck_assert_ptr_null(imap_mime_decode(enc, len, strlen(message) + 1, 42));
    ck_assert_ptr_null(imap_mime_decode(enc, len, strlen(message), 43));
    /* cut short anywhere */
    for (size_t cut = 0; cut < len; cut++)
        ck_assert_ptr_null(imap_mime_decode(enc, cut, strlen(message), 42));
    /* a part pointing at itself as its parent: no tree */
    char *bad = strdup(enc);
    char *second = strchr(strchr(bad, '\n') + 1, '\n') + 1; /* part 1's line */
    second[4] = '1';                                        /* "0 0 0 ..." -> parent 1 */
    ck_assert_ptr_null(imap_mime_decode(bad, len, strlen(message), 42));
    free(bad);
    free(enc);
    imap_mime_free(&m);
}
END_TEST

START_TEST(part_numbers)
{
    struct imap_mime *m = parsed();
    /* 0 mixed, 1 text, 2 rfc822, 3 message inside (alternative), 4 x, 5 y */
    ck_assert_uint_eq(m->count, 6);
    unsigned p1[] = {1}, p2[] = {2}, p21[] = {2, 1}, p22[] = {2, 2}, p23[] = {2, 3};
    unsigned p3[] = {3}, p11[] = {1, 1}, p111[] = {1, 1, 1};
    ck_assert_int_eq(imap_mime_section(m, p1, 1), 1);
    ck_assert_int_eq(imap_mime_section(m, p2, 1), 2);
    ck_assert_int_eq(imap_mime_section(m, p21, 2), 4);
    ck_assert_int_eq(imap_mime_section(m, p22, 2), 5);
    ck_assert_int_eq(imap_mime_section(m, p23, 2), -1);
    ck_assert_int_eq(imap_mime_section(m, p3, 1), -1);
    ck_assert_int_eq(imap_mime_section(m, p11, 2), 1); /* a single part's 1 is itself */
    ck_assert_int_eq(imap_mime_section(m, p111, 3), 1);
    imap_mime_free(&m);

    /* a message that is no multipart: only part 1, its body */
    static const char plain[] = "Subject: p\n\nbody\n";
    struct mime_message *msg = mime_parse(plain, strlen(plain));
    m = imap_mime_from_parse(msg);
    mime_message_free(&msg);
    ck_assert_int_eq(imap_mime_section(m, p1, 1), 0);
    ck_assert_int_eq(imap_mime_section(m, p11, 2), -1);
    ck_assert_int_eq(imap_mime_section(m, p2, 1), -1);
    imap_mime_free(&m);
}
END_TEST

START_TEST(get_parses_once)
{
    char dir[PATH_MAX], path[PATH_MAX + 64];
    temp_dir_make(dir, sizeof dir, "imap_mime_cache");
    int folder = open(dir, O_RDONLY | O_DIRECTORY);
    snprintf(path, sizeof path, "%s/msg", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_eq(write(fd, message, strlen(message)), (ssize_t)strlen(message));
    struct imap_mime *m;
    ck_assert_int_eq(imap_mime_get(folder, "1700000000.M1P2.host", fd, &m), 0);
    char *first = strdup(m->bodystructure);
    imap_mime_free(&m);
    /* the entry is there; put a marker in it to see it is what is read */
    snprintf(path, sizeof path, "%s/" IMAP_MIME_CACHE_DIR "/1700000000.M1P2.host", dir);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    struct stat mst;
    ck_assert_int_eq(fstat(fd, &mst), 0);
    struct imap_mime *marked = parsed();
    free(marked->bodystructure);
    marked->bodystructure = strdup("(MARKER)");
    marked->bodystructure_len = 8;
    size_t len;
    char *enc = imap_mime_encode(marked, (uint64_t)mst.st_size, (uint64_t)mst.st_ino, &len);
    int cfd = open(path, O_WRONLY | O_TRUNC);
    ck_assert_int_eq(write(cfd, enc, len), (ssize_t)len);
    close(cfd);
    free(enc);
    imap_mime_free(&marked);
    ck_assert_int_eq(imap_mime_get(folder, "1700000000.M1P2.host", fd, &m), 0);
    ck_assert_str_eq(m->bodystructure, "(MARKER)");
    imap_mime_free(&m);
    /* the file changes (another size): parsed again, the entry replaced */
    ck_assert_int_eq(write(fd, "\n", 1), 1);
    ck_assert_int_eq(imap_mime_get(folder, "1700000000.M1P2.host", fd, &m), 0);
    ck_assert_str_eq(m->bodystructure, first);
    imap_mime_free(&m);
    /* a garbage entry is no answer either */
    cfd = open(path, O_WRONLY | O_TRUNC);
    ck_assert_int_eq(write(cfd, "dirmail-mime 1 x", 16), 16);
    close(cfd);
    ck_assert_int_eq(imap_mime_get(folder, "1700000000.M1P2.host", fd, &m), 0);
    ck_assert_str_eq(m->bodystructure, first);
    imap_mime_free(&m);
    free(first);
    close(fd);
    close(folder);
    temp_dir_remove(dir);
}
END_TEST

static Suite *imap_mime_cache_suite(void)
{
    Suite *s = suite_create("imap_mime_cache");
    TCase *tc = tcase_create("cache");
    tcase_add_test(tc, round_trip_and_refusals);
    tcase_add_test(tc, part_numbers);
    tcase_add_test(tc, get_parses_once);
    suite_add_tcase(s, tc);
    return s;
}

TAP_MAIN(imap_mime_cache_suite)
