/* tests/unit/test_mda_folders.c - the default folders and their marks
 * (delivery/mda_folders.h): made once at the first delivery with cur/new/tmp
 * and maildirfolder, the marks file naming the SPECIAL-USE ones only and
 * merged with the lines IMAP wrote before, the marker written last, a
 * second call leaving everything alone; Sieve mailbox names as Maildir++
 * folders; whether a folder exists. */
#include "config.h"

#include <check.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "delivery/mda_folders.h"
#include "tap_main.h"
#include "temp_dir.h"

static char root[256];
static int root_fd = -1;

static void setup(void)
{
    temp_dir_make(root, sizeof root, "test_mda_folders");
    root_fd = open(root, O_RDONLY | O_DIRECTORY);
    ck_assert_int_ge(root_fd, 0);
}

static void teardown(void)
{
    close(root_fd);
    temp_dir_remove(root);
}

static bool is_dir(const char *rel)
{
    char path[1024];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", root, rel);
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static void read_root_file(const char *name, char *buf, size_t size)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", root, name);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    size_t n = fread(buf, 1, size - 1, f);
    buf[n] = '\0';
    fclose(f);
}

static void read_marks(char *buf, size_t size)
{
    read_root_file(MDA_SPECIAL_USE_FILE, buf, size);
}

static void write_marks(const char *text)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", root, MDA_SPECIAL_USE_FILE);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fputs(text, f) >= 0, 1);
    ck_assert_int_eq(fclose(f), 0);
}

static void unlink_root_file(const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", root, name);
    unlink(path);
}

START_TEST(first_delivery_makes_folders_and_marks)
{
    char *folders[] = {"Sent", "Drafts", "Trash", "Junk", "Lists.dev", "Sent Messages"};
    char *error = NULL, marks[512];
    ck_assert_int_eq(mda_folders_ensure(root_fd, folders, 6, &error), MAILDIR_DELIVERED);
    for (size_t i = 0; i < 6; i++) {
        char rel[512];
        for (const char *sub = "cur"; sub != NULL; sub = strcmp(sub, "cur") == 0   ? "new"
                                                         : strcmp(sub, "new") == 0 ? "tmp"
                                                                                   : NULL) {
            snprintf(rel, sizeof rel, ".%s/%s", folders[i], sub);
            ck_assert_msg(is_dir(rel), "%s", rel);
        }
        snprintf(rel, sizeof rel, "%s/.%s/maildirfolder", root, folders[i]);
        ck_assert_int_eq(access(rel, F_OK), 0);
    }
    read_marks(marks, sizeof marks);
    ck_assert_str_eq(marks, "Sent \\Sent\nDrafts \\Drafts\nTrash \\Trash\nJunk \\Junk\n"
                            "Sent Messages \\Sent\n");
    read_root_file(MDA_FOLDERS_MADE_FILE, marks, sizeof marks);
    ck_assert_str_eq(marks, "Sent\nDrafts\nTrash\nJunk\nLists.dev\nSent Messages\n");
    /* later deliveries leave a folder the user removed alone */
    char path[1024];
    snprintf(path, sizeof path, "%s/.Junk", root);
    temp_dir_remove(path);
    ck_assert_int_eq(mda_folders_ensure(root_fd, folders, 6, &error), MAILDIR_DELIVERED);
    ck_assert(!is_dir(".Junk"));
}
END_TEST

START_TEST(bad_folder_name_fails)
{
    char *folders[] = {"../x"};
    char *error = NULL;
    ck_assert_int_eq(mda_folders_ensure(root_fd, folders, 1, &error), MAILDIR_PERMFAIL);
    ck_assert_ptr_nonnull(error);
    free(error);
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", root, MDA_FOLDERS_MADE_FILE);
    ck_assert_int_ne(access(path, F_OK), 0); /* tried again next time */
}
END_TEST

/* IMAP's CREATE with USE (RFC 6154 5.2) before the first delivery wrote
 * the marks file: the default folders are made all the same, the user's
 * lines stay, and an attribute the user gave to another folder is not
 * given again. */
START_TEST(imap_marks_before_first_delivery_are_kept)
{
    write_marks("Sent Items \\Sent\nArchive 2020 \\Archive\nJunk \\Junk");
    char *folders[] = {"Sent", "Drafts", "Trash", "Junk"};
    char *error = NULL, text[512];
    ck_assert_int_eq(mda_folders_ensure(root_fd, folders, 4, &error), MAILDIR_DELIVERED);
    for (size_t i = 0; i < 4; i++) {
        char rel[64];
        snprintf(rel, sizeof rel, ".%s/new", folders[i]);
        ck_assert_msg(is_dir(rel), "%s", rel);
    }
    read_marks(text, sizeof text);
    ck_assert_str_eq(text, "Sent Items \\Sent\nArchive 2020 \\Archive\nJunk \\Junk\n"
                           "Drafts \\Drafts\nTrash \\Trash\n");
    read_root_file(MDA_FOLDERS_MADE_FILE, text, sizeof text);
    ck_assert_str_eq(text, "Sent\nDrafts\nTrash\nJunk\n");
    /* IMAP's later changes are IMAP's: the next delivery reads no marks */
    write_marks("Outbox \\Sent\n");
    ck_assert_int_eq(mda_folders_ensure(root_fd, folders, 4, &error), MAILDIR_DELIVERED);
    read_marks(text, sizeof text);
    ck_assert_str_eq(text, "Outbox \\Sent\n");
}
END_TEST

/* A marks file that already says all there is to say is not rewritten. */
START_TEST(complete_marks_not_rewritten)
{
    write_marks("Sent \\Sent\nTrash \\Trash\n");
    struct stat before, after;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", root, MDA_SPECIAL_USE_FILE);
    ck_assert_int_eq(stat(path, &before), 0);
    char *folders[] = {"Sent", "Trash", "Lists"};
    char *error = NULL;
    ck_assert_int_eq(mda_folders_ensure(root_fd, folders, 3, &error), MAILDIR_DELIVERED);
    ck_assert_int_eq(stat(path, &after), 0);
    ck_assert_int_eq(before.st_ino, after.st_ino);
    ck_assert(is_dir(".Lists/cur"));
}
END_TEST

START_TEST(sieve_names_as_folders)
{
    char *f = NULL;
    ck_assert(mda_folder_name("INBOX", &f));
    ck_assert_ptr_null(f);
    ck_assert(mda_folder_name("inbox", &f));
    ck_assert_ptr_null(f);
    ck_assert(mda_folder_name("INBOX.Work", &f));
    ck_assert_str_eq(f, "Work");
    free(f);
    ck_assert(mda_folder_name("Lists/dev", &f));
    ck_assert_str_eq(f, "Lists.dev");
    free(f);
    static const char *const bad[] = {"", ".hidden", "a..b", "trailing.", "a\nb", "/abs"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(!mda_folder_name(bad[i], &f), "%s", bad[i]);
    ck_assert_str_eq(mda_folders_special_use("junk"), "\\Junk");
    ck_assert_ptr_null(mda_folders_special_use("Work"));
}
END_TEST

START_TEST(folder_exists)
{
    char *folders[] = {"Sent"};
    char *error = NULL;
    ck_assert_int_eq(mda_folders_ensure(root_fd, folders, 1, &error), MAILDIR_DELIVERED);
    ck_assert_int_eq(mda_folder_exists(root_fd, NULL), 1);
    ck_assert_int_eq(mda_folder_exists(root_fd, "Sent"), 1);
    ck_assert_int_eq(mda_folder_exists(root_fd, "Work"), 0);
}
END_TEST

static pthread_barrier_t start_line;

static void *ensure_thread(void *arg)
{
    static char *folders[] = {"Sent", "Drafts", "Trash", "Junk"};
    char *error = NULL;
    pthread_barrier_wait(&start_line);
    enum maildir_result r = mda_folders_ensure(root_fd, folders, 4, &error);
    free(error);
    *(enum maildir_result *)arg = r;
    return NULL;
}

/* First deliveries to one Maildir at once (LMTP sessions on the pool): all
 * succeed, each writing the marks under its own temporary name. */
START_TEST(concurrent_first_deliveries)
{
    for (int round = 0; round < 50; round++) {
        unlink_root_file(MDA_FOLDERS_MADE_FILE);
        unlink_root_file(MDA_SPECIAL_USE_FILE);
        pthread_t t[8];
        enum maildir_result r[8];
        ck_assert_int_eq(pthread_barrier_init(&start_line, NULL, 8), 0);
        for (size_t i = 0; i < 8; i++)
            ck_assert_int_eq(pthread_create(&t[i], NULL, ensure_thread, &r[i]), 0);
        for (size_t i = 0; i < 8; i++) {
            pthread_join(t[i], NULL);
            ck_assert_msg(r[i] == MAILDIR_DELIVERED, "round %d thread %zu: %d", round, i, r[i]);
        }
        pthread_barrier_destroy(&start_line);
    }
    char marks[512];
    read_marks(marks, sizeof marks);
    ck_assert_str_eq(marks, "Sent \\Sent\nDrafts \\Drafts\nTrash \\Trash\nJunk \\Junk\n");
}
END_TEST

static Suite *mda_folders_suite(void)
{
    Suite *s = suite_create("mda_folders");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, first_delivery_makes_folders_and_marks);
    tcase_add_test(tc, bad_folder_name_fails);
    tcase_add_test(tc, imap_marks_before_first_delivery_are_kept);
    tcase_add_test(tc, complete_marks_not_rewritten);
    tcase_add_test(tc, sieve_names_as_folders);
    tcase_add_test(tc, folder_exists);
    tcase_add_test(tc, concurrent_first_deliveries);
    suite_add_tcase(s, tc);
    return s;
}

TAP_MAIN(mda_folders_suite)
