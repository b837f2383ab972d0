/* tests/unit/test_maildir_keywords.c - a folder's keywords as Dovecot keeps
 * them (delivery/maildir_keywords.h), the one implementation IMAP and
 * Sieve's imap4flags share: letters given in order and written to
 * dovecot-keywords, found again case-insensitively, seen by a second
 * reader, never reused; 26 at most; names that are no IMAP atom refused;
 * a file with junk lines read as Dovecot reads it. Also lib/unicode_nfc,
 * which ManageSieve's names go through. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "delivery/maildir_keywords.h"
#include "lib/unicode_nfc.h"
#include "tap_main.h"
#include "temp_dir.h"

static char root[256];
static int root_fd = -1;

static void setup(void)
{
    temp_dir_make(root, sizeof root, "test_maildir_keywords");
    root_fd = open(root, O_RDONLY | O_DIRECTORY);
    ck_assert_int_ge(root_fd, 0);
}

static void teardown(void)
{
    close(root_fd);
    temp_dir_remove(root);
}

static char *file_text(void)
{
    char path[512], *text = calloc(1, 4096);
    snprintf(path, sizeof path, "%s/" MAILDIR_KEYWORDS_FILE, root);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    size_t n = fread(text, 1, 4095, f);
    fclose(f);
    text[n] = '\0';
    return text;
}

static int assign(struct maildir_keywords *kw, const char *name)
{
    return maildir_keywords_assign(root_fd, kw, name, strlen(name));
}

START_TEST(letters_given_in_order_and_shared)
{
    struct maildir_keywords a = {.dir_fd = -1}, b = {.dir_fd = -1};
    maildir_keywords_clear(&a);
    maildir_keywords_clear(&b);
    bool changed;
    ck_assert_int_eq(maildir_keywords_load(root_fd, &a, &changed), 0);
    ck_assert(!changed);
    ck_assert_int_eq(assign(&a, "$Label1"), 0);
    ck_assert_int_eq(assign(&a, "Work"), 1);
    ck_assert_int_eq(assign(&a, "work"), 1); /* RFC 9051 2.3.2: no case */
    char *text = file_text();
    ck_assert_str_eq(text, "0 $Label1\n1 Work\n");
    free(text);
    /* a second writer reads what the first gave, and gives the next letter */
    ck_assert_int_eq(maildir_keywords_load(root_fd, &b, &changed), 0);
    ck_assert(changed);
    ck_assert_int_eq(maildir_keywords_find(&b, "WORK", 4), 1);
    ck_assert_int_eq(assign(&b, "Later"), 2);
    ck_assert_int_eq(assign(&a, "Later"), 2); /* found under the lock */
    ck_assert_int_eq(assign(&a, "Other"), 3);
    ck_assert_int_eq(maildir_keywords_find(&a, "nope", 4), -1);
    maildir_keywords_clear(&a);
    maildir_keywords_clear(&b);
}
END_TEST

START_TEST(at_most_26_and_only_atoms)
{
    struct maildir_keywords kw = {.dir_fd = -1};
    maildir_keywords_clear(&kw);
    char name[8];
    for (int i = 0; i < MAILBOX_KEYWORDS_MAX; i++) {
        snprintf(name, sizeof name, "k%d", i);
        ck_assert_int_eq(assign(&kw, name), i);
    }
    errno = 0;
    ck_assert_int_eq(assign(&kw, "k26"), -1);
    ck_assert_int_eq(errno, ENOSPC);
    ck_assert_int_eq(assign(&kw, "k3"), 3); /* a known one still */
    maildir_keywords_clear(&kw);
    const char *bad[] = {"\\Seen", "a b", "par(en", "quo\"te", "star*", "", "br]acket"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(!maildir_keyword_valid(bad[i], strlen(bad[i])), "%s", bad[i]);
    char longest[MAILDIR_KEYWORD_MAX + 2];
    memset(longest, 'x', sizeof longest - 1);
    longest[sizeof longest - 1] = '\0';
    ck_assert(maildir_keyword_valid(longest, MAILDIR_KEYWORD_MAX));
    ck_assert(!maildir_keyword_valid(longest, MAILDIR_KEYWORD_MAX + 1));
}
END_TEST

START_TEST(junk_lines_are_skipped_and_letters_not_reused)
{
    char path[512];
    snprintf(path, sizeof path, "%s/" MAILDIR_KEYWORDS_FILE, root);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("2 Third\nnot a line\n0 First\n0 Again\n99 Far\n1 bad name\n", f);
    fclose(f);
    struct maildir_keywords kw = {.dir_fd = -1};
    maildir_keywords_clear(&kw);
    bool changed;
    ck_assert_int_eq(maildir_keywords_load(root_fd, &kw, &changed), 0);
    ck_assert_int_eq(maildir_keywords_find(&kw, "first", 5), 0);
    ck_assert_int_eq(maildir_keywords_find(&kw, "Third", 5), 2);
    ck_assert_int_eq(maildir_keywords_find(&kw, "Again", 5), -1);
    /* 'b' is free but below the highest given: new names go after 'c' */
    ck_assert_int_eq(assign(&kw, "Fourth"), 3);
    maildir_keywords_clear(&kw);
}
END_TEST

START_TEST(nfc_composes_and_refuses_bad_utf8)
{
    size_t len = 0;
    char *s = unicode_nfc("Re\xcc\x81gles", 8, &len); /* e + U+0301 */
    ck_assert_ptr_nonnull(s);
    ck_assert_uint_eq(len, 7);
    ck_assert_str_eq(s, "R\xc3\xa9gles");
    free(s);
    s = unicode_nfc("plain-ascii!", 5, &len); /* not NUL-terminated at 5 */
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(s, "plain");
    free(s);
    ck_assert_ptr_null(unicode_nfc("\xff\xfe", 2, &len));
    ck_assert_ptr_null(unicode_nfc("nul\0x", 5, &len));
    ck_assert_ptr_null(unicode_nfc("\xc3", 1, &len)); /* cut short */
}
END_TEST

static Suite *maildir_keywords_suite(void)
{
    Suite *s = suite_create("maildir_keywords");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, letters_given_in_order_and_shared);
    tcase_add_test(tc, at_most_26_and_only_atoms);
    tcase_add_test(tc, junk_lines_are_skipped_and_letters_not_reused);
    tcase_add_test(tc, nfc_composes_and_refuses_bad_utf8);
    suite_add_tcase(s, tc);
    return s;
}

TAP_MAIN(maildir_keywords_suite)
