/* tests/unit/test_mailbox.c - delivery/mailbox.c and mailbox_index.c: UIDs
 * that never change and are never reused, across reopen, renames, deletes,
 * a corrupt index and two processes; flags in names; CRLF sizes. */
#include "config.h"

#include "delivery/mailbox.h"
#include "delivery/mailbox_index.h"
#include "delivery/maildir_name.h"
#include "tap_main.h"
#include "temp_dir.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char dir[256];
static int dir_fd = -1;

static void setup(void)
{
    char sub[300];

    temp_dir_make(dir, sizeof(dir), "test_mailbox");
    for (int i = 0; i < 3; i++) {
        snprintf(sub, sizeof(sub), "%s/%s", dir, (const char *[]){"new", "cur", "tmp"}[i]);
        ck_assert_int_eq(mkdir(sub, 0700), 0);
    }
    dir_fd = open(dir, O_RDONLY | O_DIRECTORY);
    ck_assert_int_ge(dir_fd, 0);
}

static void teardown(void)
{
    close(dir_fd);
    temp_dir_remove(dir);
}

/* put - a file sub/name holding body. */
static void put(const char *sub, const char *name, const char *body)
{
    char path[600];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, name);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(body, f);
    ck_assert_int_eq(fclose(f), 0);
}

static bool exists(const char *sub, const char *name)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, name);
    return access(path, F_OK) == 0;
}

static struct mailbox *open_box(bool move_new)
{
    struct mailbox *mb = NULL;
    char *err = NULL;

    ck_assert_msg(mailbox_open(dir_fd, move_new, "testhost", &mb, &err) == MAILBOX_OK, "%s",
                  err != NULL ? err : "");
    return mb;
}

static void sync_box(struct mailbox *mb)
{
    char *err = NULL;
    ck_assert_msg(mailbox_sync(mb, &err) == MAILBOX_OK, "%s", err != NULL ? err : "");
}

/* uid_of - the UID of the message with base, 0 when not listed. */
static uint32_t uid_of(const struct mailbox *mb, const char *base)
{
    for (size_t i = 0; i < mailbox_count(mb); i++)
        if (strcmp(mailbox_msg(mb, i)->base, base) == 0)
            return mailbox_msg(mb, i)->uid;
    return 0;
}

static size_t index_of(const struct mailbox *mb, const char *base)
{
    for (size_t i = 0; i < mailbox_count(mb); i++)
        if (strcmp(mailbox_msg(mb, i)->base, base) == 0)
            return i;
    ck_abort_msg("%s not listed", base);
    return 0;
}

START_TEST(uids_stable_across_reopen)
{
    put("new", "100.a.host,S=2", "a\n");
    put("cur", "101.b.host,S=2:2,S", "b\n");
    struct mailbox *mb = open_box(false);
    ck_assert_uint_eq(mailbox_count(mb), 2);
    uint32_t a = uid_of(mb, "100.a.host"), b = uid_of(mb, "101.b.host");
    uint32_t validity = mailbox_uidvalidity(mb);
    ck_assert_uint_eq(a, 1);
    ck_assert_uint_eq(b, 2);
    mailbox_close(&mb);
    ck_assert_ptr_null(mb);
    mb = open_box(false);
    ck_assert_uint_eq(uid_of(mb, "100.a.host"), a);
    ck_assert_uint_eq(uid_of(mb, "101.b.host"), b);
    ck_assert_uint_eq(mailbox_uidvalidity(mb), validity);
    ck_assert_uint_eq(mailbox_uidnext(mb), 3);
    mailbox_close(&mb);
}
END_TEST

START_TEST(new_files_get_increasing_uids_never_reused)
{
    put("new", "100.a.host", "a\n");
    struct mailbox *mb = open_box(false);
    char *err = NULL;
    put("new", "300.c.host", "c\n");
    put("new", "200.b.host", "b\n");
    sync_box(mb);
    ck_assert_uint_eq(mailbox_count(mb), 3);
    ck_assert_uint_eq(uid_of(mb, "100.a.host"), 1);
    ck_assert_uint_eq(uid_of(mb, "200.b.host"), 2); /* arrival order, not readdir's */
    ck_assert_uint_eq(uid_of(mb, "300.c.host"), 3);
    ck_assert_int_eq(mailbox_msg_expunge(mb, index_of(mb, "300.c.host"), &err), MAILBOX_OK);
    ck_assert(!exists("new", "300.c.host"));
    sync_box(mb);
    ck_assert_uint_eq(mailbox_count(mb), 2);
    mailbox_close(&mb);
    put("new", "400.d.host", "d\n");
    mb = open_box(false);
    ck_assert_uint_eq(uid_of(mb, "400.d.host"), 4);
    ck_assert_uint_eq(mailbox_uidnext(mb), 5);
    mailbox_close(&mb);
}
END_TEST

START_TEST(rename_by_another_keeps_uid)
{
    char from[600], to[600];
    put("cur", "100.a.host,S=2:2,", "a\n");
    put("cur", "101.b.host,S=2:2,", "b\n");
    struct mailbox *mb = open_box(false);
    struct mailbox *other = open_box(false);
    int fd = -1;
    char *err = NULL;
    uint32_t b = uid_of(mb, "101.b.host");
    /* another session sets a flag on b; ours still opens it */
    ck_assert_int_eq(
        mailbox_msg_set_flags(other, index_of(other, "101.b.host"), MAILBOX_FLAG_SEEN, &err),
        MAILBOX_OK);
    ck_assert(exists("cur", "101.b.host,S=2:2,S"));
    ck_assert_int_eq(mailbox_msg_open(mb, index_of(mb, "101.b.host"), &fd, &err), MAILBOX_OK);
    close(fd);
    ck_assert_uint_eq(mailbox_msg(mb, index_of(mb, "101.b.host"))->flags, MAILBOX_FLAG_SEEN);
    /* and a third party renames a by hand */
    snprintf(from, sizeof(from), "%s/cur/100.a.host,S=2:2,", dir);
    snprintf(to, sizeof(to), "%s/cur/100.a.host,S=2:2,FS", dir);
    ck_assert_int_eq(rename(from, to), 0);
    sync_box(mb);
    ck_assert_uint_eq(uid_of(mb, "101.b.host"), b);
    ck_assert_uint_eq(uid_of(mb, "100.a.host"), 1);
    ck_assert_uint_eq(mailbox_msg(mb, index_of(mb, "100.a.host"))->flags,
                      MAILBOX_FLAG_FLAGGED | MAILBOX_FLAG_SEEN);
    ck_assert_uint_eq(mailbox_uidnext(mb), 3);
    mailbox_close(&mb);
    mailbox_close(&other);
}
END_TEST

START_TEST(deleted_under_it_is_gone)
{
    char path[600];
    put("cur", "100.a.host:2,", "a\n");
    struct mailbox *mb = open_box(false);
    int fd = -1;
    char *err = NULL;
    snprintf(path, sizeof(path), "%s/cur/100.a.host:2,", dir);
    ck_assert_int_eq(unlink(path), 0);
    ck_assert_int_eq(mailbox_msg_open(mb, 0, &fd, &err), MAILBOX_GONE);
    free(err);
    err = NULL;
    ck_assert_int_eq(mailbox_msg_set_flags(mb, 0, MAILBOX_FLAG_SEEN, &err), MAILBOX_GONE);
    free(err);
    err = NULL;
    ck_assert_int_eq(mailbox_msg_expunge(mb, 0, &err), MAILBOX_OK); /* someone else did */
    sync_box(mb);
    ck_assert_uint_eq(mailbox_count(mb), 0);
    mailbox_close(&mb);
}
END_TEST

START_TEST(corrupt_index_gives_larger_uidvalidity)
{
    char path[600];
    put("cur", "100.a.host:2,", "a\n");
    struct mailbox *mb = open_box(false);
    uint32_t validity = mailbox_uidvalidity(mb);
    mailbox_close(&mb);
    /* a torn message line after a good header */
    snprintf(path, sizeof(path), "%s/dirmail-uidlist", dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "dirmail-uidlist 1 %u 2 0.0 0.0\n1 100.a.host 3 cur 100.a", (unsigned)validity);
    fclose(f);
    mb = open_box(false);
    ck_assert_uint_gt(mailbox_uidvalidity(mb), validity);
    ck_assert_uint_eq(mailbox_count(mb), 1);
    validity = mailbox_uidvalidity(mb);
    mailbox_close(&mb);
    /* pure garbage: still readable afterwards */
    f = fopen(path, "w");
    fputs("\x01\x02 garbage\n\n\n", f);
    fclose(f);
    mb = open_box(false);
    /* nothing in the file says what it was: still larger (the lock file
     * keeps it), although the rebuild above was in this same second */
    ck_assert_uint_gt(mailbox_uidvalidity(mb), validity);
    ck_assert_uint_eq(mailbox_count(mb), 1);
    validity = mailbox_uidvalidity(mb);
    mailbox_close(&mb);
    /* the index removed: larger again */
    ck_assert_int_eq(unlink(path), 0);
    mb = open_box(false);
    ck_assert_uint_gt(mailbox_uidvalidity(mb), validity);
    mailbox_close(&mb);
}
END_TEST

/* sync_in_child - a process that adds its own files and syncs, each sync
 * in a new session. */
static void sync_in_child(const char *tag)
{
    for (int i = 0; i < 30; i++) {
        char name[64];
        struct mailbox *mb = NULL;
        char *err = NULL;
        snprintf(name, sizeof(name), "%d.%s%d.host", 1000 + i, tag, i);
        put("new", name, "x\n");
        if (mailbox_open(dir_fd, i % 2 == 0, "testhost", &mb, &err) != MAILBOX_OK)
            _exit(1);
        mailbox_close(&mb);
    }
    _exit(0);
}

START_TEST(two_processes_never_collide)
{
    pid_t pids[2];
    int status;
    for (int p = 0; p < 2; p++) {
        pids[p] = fork();
        ck_assert_int_ge(pids[p], 0);
        if (pids[p] == 0)
            sync_in_child(p == 0 ? "x" : "y");
    }
    for (int p = 0; p < 2; p++) {
        ck_assert_int_eq(waitpid(pids[p], &status, 0), pids[p]);
        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    struct mailbox *mb = open_box(false);
    ck_assert_uint_eq(mailbox_count(mb), 60);
    for (size_t i = 1; i < mailbox_count(mb); i++)
        ck_assert_uint_lt(mailbox_msg(mb, i - 1)->uid, mailbox_msg(mb, i)->uid);
    ck_assert_uint_eq(mailbox_uidnext(mb), 61);
    mailbox_close(&mb);
}
END_TEST

START_TEST(move_new_appends_info)
{
    put("new", "100.a.host,S=2", "a\n");
    struct mailbox *mb = open_box(true);
    ck_assert(!exists("new", "100.a.host,S=2"));
    ck_assert(exists("cur", "100.a.host,S=2:2,"));
    ck_assert_str_eq(mailbox_msg(mb, 0)->subdir, "cur");
    ck_assert_str_eq(mailbox_msg(mb, 0)->name, "100.a.host,S=2:2,");
    ck_assert_uint_eq(mailbox_msg(mb, 0)->uid, 1);
    mailbox_close(&mb);
}
END_TEST

START_TEST(flags_round_trip_in_order)
{
    char *err = NULL;
    put("cur", "100.a.host,S=2:2,a", "a\n");
    struct mailbox *mb = open_box(false);
    /* a keyword letter is a flag like the others (Dovecot's 'a' + i) */
    ck_assert_uint_eq(mailbox_msg(mb, 0)->flags, MAILBOX_FLAG_KEYWORD(0));
    unsigned all = MAILBOX_FLAG_TRASHED | MAILBOX_FLAG_DRAFT | MAILBOX_FLAG_SEEN |
                   MAILBOX_FLAG_REPLIED | MAILBOX_FLAG_PASSED | MAILBOX_FLAG_FLAGGED |
                   MAILBOX_FLAG_KEYWORD(0) | MAILBOX_FLAG_KEYWORD(25);
    ck_assert_int_eq(mailbox_msg_set_flags(mb, 0, all, &err), MAILBOX_OK);
    ck_assert_str_eq(mailbox_msg(mb, 0)->name, "100.a.host,S=2:2,DFPRSTaz");
    ck_assert(exists("cur", "100.a.host,S=2:2,DFPRSTaz"));
    ck_assert_int_eq(
        mailbox_msg_set_flags(
            mb, 0, MAILBOX_FLAG_SEEN | MAILBOX_FLAG_REPLIED | MAILBOX_FLAG_KEYWORD(25), &err),
        MAILBOX_OK);
    ck_assert(exists("cur", "100.a.host,S=2:2,RSz"));
    mailbox_close(&mb);
    mb = open_box(false);
    ck_assert_uint_eq(mailbox_msg(mb, 0)->flags,
                      MAILBOX_FLAG_SEEN | MAILBOX_FLAG_REPLIED | MAILBOX_FLAG_KEYWORD(25));
    ck_assert_uint_eq(mailbox_msg(mb, 0)->uid, 1);
    mailbox_close(&mb);
}
END_TEST

START_TEST(sizes_from_w_or_computed)
{
    put("cur", "100.a.host,S=6,W=99:2,", "a\nbc\n");  /* W= believed, not recounted */
    put("cur", "101.b.host,S=8:2,", "a\nb\r\nc\n\n"); /* 8 octets, 3 bare LFs */
    /* a last line without its end is counted with the CRLF a reader sends */
    put("cur", "102.c.host:2,", "a\nbc");
    put("cur", "103.d.host:2,", "a\nbc\r");
    put("cur", "104.e.host:2,", "");
    struct mailbox *mb = open_box(false);
    ck_assert_uint_eq(mailbox_msg(mb, index_of(mb, "100.a.host"))->size, 99);
    ck_assert_uint_eq(mailbox_msg(mb, index_of(mb, "101.b.host"))->size, 11);
    ck_assert_uint_eq(mailbox_msg(mb, index_of(mb, "102.c.host"))->size, 7);
    ck_assert_uint_eq(mailbox_msg(mb, index_of(mb, "103.d.host"))->size, 7);
    ck_assert_uint_eq(mailbox_msg(mb, index_of(mb, "104.e.host"))->size, 0);
    mailbox_close(&mb);
    ck_assert_int_eq(maildir_name_crlf_size("1.a,S=5,W=7:2,S"), 7);
    ck_assert_int_eq(maildir_name_crlf_size("1.a,S=5:2,W=7"), -1);
}
END_TEST

START_TEST(expunge_updates_maildirsize)
{
    char *err = NULL, buf[256];
    put("cur", "100.a.host,S=2:2,", "a\n");
    FILE *f;
    char path[600];
    snprintf(path, sizeof(path), "%s/maildirsize", dir);
    f = fopen(path, "w");
    fputs("0S\n2 1\n", f);
    fclose(f);
    struct mailbox *mb = open_box(false);
    ck_assert_int_eq(mailbox_msg_expunge(mb, 0, &err), MAILBOX_OK);
    mailbox_close(&mb);
    f = fopen(path, "r");
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    ck_assert_str_eq(buf, "0S\n2 1\n-2 -1\n");
}
END_TEST

START_TEST(index_parse_refuses_garbage)
{
    struct mailbox_index index;
    uint32_t old;
    char *err = NULL, *text = NULL;
    size_t len;
    static const char good[] = "dirmail-uidlist 1 77 3 5.1 6.2\n1 a 3 cur a:2,S\n2 b 4 new b,S=3\n";
    static const char *const bad[] = {
        "",
        "dirmail-uidlist 1 77 3 5.1 6.2",                                 /* no LF */
        "dirmail-uidlist 1 77 3 5.1 6.2\n3 a 3 cur a\n",                  /* uid >= uidnext */
        "dirmail-uidlist 1 77 3 5.1 6.2\n2 a 3 cur a\n1 b 3 cur b\n",     /* order */
        "dirmail-uidlist 1 77 3 5.1 6.2\n1 a 3 cur a\n2 a 3 cur a,S=1\n", /* twice */
        "dirmail-uidlist 1 77 3 5.1 6.2\n1 a 3 tmp a\n",
        "dirmail-uidlist 1 77 3 5.1 6.2\n1 a 3 cur b\n",
        "dirmail-uidlist 1 077 3 5.1 6.2\n",
        "dirmail-uidlist 1 77 3 5.1 6.2 \n",
        "dirmail-uidlist 1 77 3 5.1 6.2\n1 a 3 cur a \n", /* found by the fuzzer */
    };
    ck_assert_int_eq(mailbox_index_parse(good, strlen(good), &index, &old, &err),
                     MAILBOX_INDEX_PARSED);
    ck_assert_uint_eq(index.count, 2);
    ck_assert_uint_eq(index.uidvalidity, 77);
    ck_assert_int_eq(mailbox_index_format(&index, &text, &len), 0);
    ck_assert_uint_eq(len, strlen(good));
    ck_assert(memcmp(text, good, len) == 0);
    free(text);
    mailbox_index_clear(&index);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(mailbox_index_parse(bad[i], strlen(bad[i]), &index, &old, &err) ==
                          MAILBOX_INDEX_GARBAGE,
                      "bad[%zu] accepted", i);
        ck_assert_ptr_nonnull(err);
        free(err);
        err = NULL;
    }
    ck_assert_int_eq(mailbox_index_parse("dirmail-uidlist 2 1 1\n", 22, &index, &old, &err),
                     MAILBOX_INDEX_NEWER);
    free(err);
}
END_TEST

/* set_dir_mtime - new/ or cur/ to an mtime of sec seconds ago. */
static void set_dir_mtime(const char *sub, time_t sec)
{
    char path[600];
    struct timespec ts[2];
    clock_gettime(CLOCK_REALTIME, &ts[0]);
    ts[0].tv_sec -= sec;
    ts[0].tv_nsec = 0;
    ts[1] = ts[0];
    snprintf(path, sizeof(path), "%s/%s", dir, sub);
    ck_assert_int_eq(utimensat(AT_FDCWD, path, ts, 0), 0);
}

START_TEST(unchanged_mtimes_skip_the_listing)
{
    put("new", "100.a.host", "a\n");
    set_dir_mtime("new", 3600);
    set_dir_mtime("cur", 3600);
    struct mailbox *mb = open_box(false); /* records the old mtimes */
    mailbox_close(&mb);
    /* a file slipped in with new/'s mtime put back: no listing sees it */
    put("new", "200.b.host", "b\n");
    set_dir_mtime("new", 3600);
    mb = open_box(false);
    ck_assert_uint_eq(mailbox_count(mb), 1);
    /* an mtime that moved (even to a recent one) makes it list again */
    set_dir_mtime("new", 0);
    sync_box(mb);
    ck_assert_uint_eq(mailbox_count(mb), 2);
    ck_assert_uint_eq(uid_of(mb, "200.b.host"), 2);
    /* a change hidden in the clock tick of the mtime recorded last: a
     * handle told to look (IDLE after inotify) lists at once */
    put("new", "300.c.host", "c\n");
    set_dir_mtime("new", 0);
    mailbox_want_scan(mb);
    sync_box(mb);
    ck_assert_uint_eq(uid_of(mb, "300.c.host"), 3);
    /* and a handle that has not listed the folder itself does not trust an
     * index written within two seconds of the mtimes it records */
    put("new", "400.d.host", "d\n");
    set_dir_mtime("new", 0);
    struct mailbox *fresh = open_box(false);
    ck_assert_uint_eq(uid_of(fresh, "400.d.host"), 4);
    mailbox_close(&fresh);
    mailbox_close(&mb);
}
END_TEST

/* The case the write-through must get right: between two syncs of A,
 * A stores a flag, B expunges, B stores a flag, the delivery agent links a
 * new file; each session then sees every change exactly once, UIDs are not
 * given twice, and a session's own later change reaches the other through
 * the index. */
START_TEST(own_changes_written_through)
{
    put("cur", "100.a.host,S=2:2,", "a\n");
    put("cur", "101.b.host,S=2:2,", "b\n");
    put("cur", "102.c.host,S=2:2,", "c\n");
    struct mailbox *a = open_box(true);
    struct mailbox *b = open_box(true);
    char *err = NULL;

    ck_assert_int_eq(mailbox_msg_set_flags(a, index_of(a, "100.a.host"), MAILBOX_FLAG_SEEN, &err),
                     MAILBOX_OK);
    ck_assert_int_eq(mailbox_change_begin(b, &err), MAILBOX_OK);
    ck_assert_int_eq(mailbox_msg_expunge(b, index_of(b, "101.b.host"), &err), MAILBOX_OK);
    ck_assert_int_eq(
        mailbox_msg_set_flags(b, index_of(b, "102.c.host"), MAILBOX_FLAG_FLAGGED, &err),
        MAILBOX_OK);
    mailbox_change_end(b);
    ck_assert_uint_eq(mailbox_count(b), 3); /* the list holds still until the sync */
    put("new", "103.d.host,S=2", "d\n");
    sync_box(a);
    sync_box(b);
    for (int i = 0; i < 2; i++) {
        struct mailbox *mb = i == 0 ? a : b;
        ck_assert_uint_eq(mailbox_count(mb), 3);
        ck_assert_uint_eq(uid_of(mb, "101.b.host"), 0);
        ck_assert_uint_eq(uid_of(mb, "103.d.host"), 4);
        ck_assert_uint_eq(mailbox_uidnext(mb), 5);
        ck_assert_uint_eq(mailbox_msg(mb, index_of(mb, "100.a.host"))->flags, MAILBOX_FLAG_SEEN);
        ck_assert_uint_eq(mailbox_msg(mb, index_of(mb, "102.c.host"))->flags, MAILBOX_FLAG_FLAGGED);
    }
    /* a quiet round: B's own changes only, A learns them from the index */
    ck_assert_int_eq(mailbox_msg_set_flags(b, index_of(b, "103.d.host"), MAILBOX_FLAG_SEEN, &err),
                     MAILBOX_OK);
    ck_assert_int_eq(mailbox_msg_expunge(b, index_of(b, "100.a.host"), &err), MAILBOX_OK);
    sync_box(a);
    sync_box(b);
    ck_assert_uint_eq(mailbox_count(a), 2);
    ck_assert_uint_eq(uid_of(a, "100.a.host"), 0);
    ck_assert_uint_eq(mailbox_msg(a, index_of(a, "103.d.host"))->flags, MAILBOX_FLAG_SEEN);
    ck_assert_uint_eq(mailbox_count(b), 2);
    mailbox_close(&a);
    mailbox_close(&b);
    /* and what was written is what a fresh listing finds */
    struct mailbox *fresh = open_box(false);
    ck_assert_uint_eq(mailbox_count(fresh), 2);
    ck_assert_uint_eq(uid_of(fresh, "102.c.host"), 3);
    ck_assert_uint_eq(uid_of(fresh, "103.d.host"), 4);
    ck_assert_uint_eq(mailbox_uidnext(fresh), 5);
    mailbox_close(&fresh);
}
END_TEST

static Suite *mailbox_suite(void)
{
    Suite *s = suite_create("mailbox");
    TCase *tc = tcase_create("mailbox");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, uids_stable_across_reopen);
    tcase_add_test(tc, new_files_get_increasing_uids_never_reused);
    tcase_add_test(tc, rename_by_another_keeps_uid);
    tcase_add_test(tc, deleted_under_it_is_gone);
    tcase_add_test(tc, corrupt_index_gives_larger_uidvalidity);
    tcase_add_test(tc, two_processes_never_collide);
    tcase_add_test(tc, move_new_appends_info);
    tcase_add_test(tc, flags_round_trip_in_order);
    tcase_add_test(tc, sizes_from_w_or_computed);
    tcase_add_test(tc, expunge_updates_maildirsize);
    tcase_add_test(tc, index_parse_refuses_garbage);
    tcase_add_test(tc, unchanged_mtimes_skip_the_listing);
    tcase_add_test(tc, own_changes_written_through);
    suite_add_tcase(s, tc);
    return s;
}

TAP_MAIN(mailbox_suite)
