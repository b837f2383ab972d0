/* tests/unit/test_maildir.c - delivery/maildir.c and maildir_quota.c: names,
 * byte-exact content, Maildir creation, path escapes, quota, full disk. */
#include "config.h"

#include "delivery/fs_sync.h"
#include "delivery/maildir.h"
#include "delivery/maildir_name.h"
#include "delivery/maildir_path.h"
#include "delivery/maildir_quota.h"
#include "tap_main.h"
#include "temp_dir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char base[256];

static void setup(void)
{
    temp_dir_make(base, sizeof(base), "test_maildir");
}

/* setup_memory - the name tests make thousands of deliveries: on /dev/shm
 * (tmpfs, where fsync costs nothing) when it exists, as their subject is
 * names, not durability. */
static void setup_memory(void)
{
    struct stat st;

    if (stat("/dev/shm", &st) < 0 || !S_ISDIR(st.st_mode) || access("/dev/shm", W_OK) < 0) {
        setup();
        return;
    }
    snprintf(base, sizeof(base), "/dev/shm/test_maildir.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(base));
}

static void teardown(void)
{
    temp_dir_remove(base);
}

static char *path_of(const char *rel)
{
    static char buf[1024];
    snprintf(buf, sizeof(buf), "%s/%s", base, rel);
    return buf;
}

/* count_dir - entries of base/rel, -1 when it does not exist. */
static int count_dir(const char *rel)
{
    return temp_dir_count(path_of(rel));
}

static char *read_all(const char *rel, size_t *len_r)
{
    FILE *f = fopen(path_of(rel), "rb");
    char *data;
    long len;

    ck_assert_msg(f != NULL, "open %s", rel);
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    fseek(f, 0, SEEK_SET);
    data = malloc((size_t)len + 1);
    ck_assert_ptr_nonnull(data);
    ck_assert_int_eq(fread(data, 1, (size_t)len, f), (size_t)len);
    data[len] = '\0';
    fclose(f);
    *len_r = (size_t)len;
    return data;
}

static struct maildir_target target_for(const char *mailbox)
{
    struct maildir_target t = {0};
    t.base = base;
    t.mailbox = mailbox;
    t.hostname = "mx.example.org";
    return t;
}

/* deliver - one message fed in chunks of chunk bytes. */
static enum maildir_result deliver(const struct maildir_target *t, const char *sender,
                                   const char *msg, size_t chunk, char **path_r)
{
    struct maildir_delivery *d;
    char *error = NULL;
    enum maildir_result res;
    size_t len = strlen(msg);

    res = maildir_delivery_begin(t, sender, "rcpt@example.org", &d, &error);
    if (res != MAILDIR_DELIVERED) {
        free(error);
        return res;
    }
    for (size_t off = 0; off < len; off += chunk) {
        size_t n = len - off < chunk ? len - off : chunk;
        res = maildir_delivery_write(d, msg + off, n, &error);
        if (res != MAILDIR_DELIVERED) {
            free(error);
            maildir_delivery_abort(&d);
            return res;
        }
    }
    res = maildir_delivery_finish(&d, path_r, &error);
    ck_assert_ptr_null(d);
    free(error);
    return res;
}

static const char *const message = "Subject: hi\r\nFrom: a@example.net\r\n\r\nline one\r\n"
                                   "bare\rcr stays\r\n.dot\r\n\r\nend\r\n";
static const char *const expected_body = "Subject: hi\nFrom: a@example.net\n\nline one\n"
                                         "bare\rcr stays\n.dot\n\nend\n";

START_TEST(test_first_delivery_creates_maildir)
{
    struct maildir_target t = target_for("example.org/alice/Maildir/");
    char *path = NULL, *data, expected[1024];
    size_t len;
    struct stat st;
    const char *size_part;

    ck_assert_int_eq(deliver(&t, "bob@example.net", message, 1000, &path), MAILDIR_DELIVERED);
    ck_assert_ptr_nonnull(path);
    ck_assert_msg(strncmp(path, "example.org/alice/Maildir/new/", 30) == 0, "path %s", path);
    for (const char *sub = "cur"; sub != NULL; sub = strcmp(sub, "cur") == 0   ? "new"
                                                     : strcmp(sub, "new") == 0 ? "tmp"
                                                                               : NULL) {
        char rel[128];
        snprintf(rel, sizeof(rel), "example.org/alice/Maildir/%s", sub);
        ck_assert_int_eq(stat(path_of(rel), &st), 0);
        ck_assert(S_ISDIR(st.st_mode));
        ck_assert_int_eq(st.st_mode & 0777, 0700);
    }
    ck_assert_int_eq(stat(path_of("example.org"), &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0700);
    ck_assert_int_eq(count_dir("example.org/alice/Maildir/tmp"), 0);
    ck_assert_int_eq(count_dir("example.org/alice/Maildir/new"), 1);

    data = read_all(path, &len);
    snprintf(expected, sizeof(expected),
             "Return-Path: <bob@example.net>\nDelivered-To: rcpt@example.org\n%s", expected_body);
    ck_assert_uint_eq(len, strlen(expected));
    ck_assert_mem_eq(data, expected, len);
    /* ",S=" is the size on disk, after CRLF -> LF. */
    size_part = strstr(path, ",S=");
    ck_assert_ptr_nonnull(size_part);
    ck_assert_uint_eq(strtoull(size_part + 3, NULL, 10), len);
    /* ",W=" is the size readers report: every LF counted as CRLF. */
    {
        size_t lfs = 0;
        for (size_t i = 0; i < len; i++)
            lfs += data[i] == '\n';
        ck_assert_int_eq(maildir_name_crlf_size(path), (int64_t)(len + lfs));
    }
    /* time.M<usec>P<pid>Q<n>.<host> */
    {
        char pid_part[32];
        snprintf(pid_part, sizeof(pid_part), "P%ldQ", (long)getpid());
        ck_assert_ptr_nonnull(strstr(path, ".M"));
        ck_assert_ptr_nonnull(strstr(path, pid_part));
        ck_assert_ptr_nonnull(strstr(path, ".mx.example.org,S="));
    }
    free(data);
    free(path);
}
END_TEST

START_TEST(test_chunks_split_crlf)
{
    struct maildir_target t = target_for("bytewise");
    char *p1 = NULL, *p2 = NULL, *d1, *d2;
    size_t l1, l2;

    ck_assert_int_eq(deliver(&t, "", message, 1, &p1), MAILDIR_DELIVERED);
    ck_assert_int_eq(deliver(&t, "", message, 3, &p2), MAILDIR_DELIVERED);
    d1 = read_all(p1, &l1);
    d2 = read_all(p2, &l2);
    ck_assert_uint_eq(l1, l2);
    ck_assert_mem_eq(d1, d2, l1);
    /* RFC 5321 4.4: the null sender is Return-Path: <> */
    ck_assert(strncmp(d1, "Return-Path: <>\nDelivered-To: rcpt@example.org\n", 47) == 0);
    ck_assert_str_eq(d1 + 47, expected_body);
    free(d1);
    free(d2);
    free(p1);
    free(p2);
}
END_TEST

START_TEST(test_trailing_cr_kept)
{
    struct maildir_target t = target_for("cr");
    char *p = NULL, *d;
    size_t l;

    ck_assert_int_eq(deliver(&t, "a@b", "x\r", 1, &p), MAILDIR_DELIVERED);
    d = read_all(p, &l);
    ck_assert_uint_eq(l, 50 + 2);
    ck_assert_mem_eq(d + 50, "x\r", 2);
    free(d);
    free(p);
}
END_TEST

START_TEST(test_deliver_fd)
{
    struct maildir_target t = target_for("fd");
    char file[300], *p = NULL, *d, *error = NULL;
    size_t l;
    int fd;

    snprintf(file, sizeof(file), "%s/msg", base);
    fd = open(file, O_RDWR | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, message, strlen(message)), (ssize_t)strlen(message));
    lseek(fd, 0, SEEK_SET);
    ck_assert_int_eq(maildir_deliver_fd(&t, "s@x", "r@y", fd, MAILDIR_TO_EOF, &p, &error),
                     MAILDIR_DELIVERED);
    d = read_all(p, &l);
    ck_assert_str_eq(d,
                     "Return-Path: <s@x>\nDelivered-To: r@y\nSubject: hi\nFrom: a@example.net\n\n"
                     "line one\nbare\rcr stays\n.dot\n\nend\n");
    free(d);
    free(p);

    /* With a length, what follows it (the spool's envelope) stays out. */
    ck_assert_int_eq(write(fd, "envelope\r\n", 10), 10);
    lseek(fd, 0, SEEK_SET);
    ck_assert_int_eq(maildir_deliver_fd(&t, "s@x", "r@y", fd, strlen(message), &p, &error),
                     MAILDIR_DELIVERED);
    d = read_all(p, &l);
    ck_assert_ptr_null(strstr(d, "envelope"));
    ck_assert(l > 10 && strcmp(d + l - 5, "\nend\n") == 0);
    free(d);
    free(p);

    /* A file shorter than the length given is a temporary failure. */
    lseek(fd, 0, SEEK_SET);
    ck_assert_int_eq(maildir_deliver_fd(&t, "s@x", "r@y", fd, strlen(message) + 100, &p, &error),
                     MAILDIR_TEMPFAIL);
    ck_assert_ptr_nonnull(strstr(error, "missing"));
    free(error);
    close(fd);
}
END_TEST

/* The batched order (written, link, finish for several deliveries) leaves
 * each message once in new/, nothing in tmp/; abort after link takes the
 * link back. */
START_TEST(test_batched_finish_and_abort_after_link)
{
    struct maildir_target a = target_for("batch-a"), b = target_for("batch-b");
    struct maildir_delivery *da = NULL, *db = NULL, *dc = NULL;
    char *error = NULL, *pa = NULL, *pb = NULL, *d;
    size_t l;

    ck_assert_int_eq(maildir_delivery_begin(&a, "s@x", "a@y", &da, &error), MAILDIR_DELIVERED);
    ck_assert_int_eq(maildir_delivery_begin(&b, "s@x", "b@y", &db, &error), MAILDIR_DELIVERED);
    ck_assert_int_eq(maildir_delivery_begin(&b, "s@x", "c@y", &dc, &error), MAILDIR_DELIVERED);
    ck_assert_int_eq(maildir_delivery_write(da, message, strlen(message), &error),
                     MAILDIR_DELIVERED);
    ck_assert_int_eq(maildir_delivery_write(db, message, strlen(message), &error),
                     MAILDIR_DELIVERED);
    ck_assert_int_eq(maildir_delivery_write(dc, message, strlen(message), &error),
                     MAILDIR_DELIVERED);
    ck_assert_int_eq(maildir_delivery_written(da, &error), MAILDIR_DELIVERED);
    ck_assert_int_eq(maildir_delivery_written(db, &error), MAILDIR_DELIVERED);
    ck_assert_int_eq(maildir_delivery_written(dc, &error), MAILDIR_DELIVERED);
    ck_assert_int_eq(maildir_delivery_link(da, &error), MAILDIR_DELIVERED);
    ck_assert_int_eq(maildir_delivery_link(db, &error), MAILDIR_DELIVERED);
    ck_assert_int_eq(maildir_delivery_link(dc, &error), MAILDIR_DELIVERED);
    ck_assert_int_eq(count_dir("batch-b/new"), 2);
    maildir_delivery_abort(&dc);
    ck_assert_ptr_null(dc);
    ck_assert_int_eq(maildir_delivery_finish(&da, &pa, &error), MAILDIR_DELIVERED);
    ck_assert_int_eq(maildir_delivery_finish(&db, &pb, &error), MAILDIR_DELIVERED);
    ck_assert_int_eq(count_dir("batch-a/new"), 1);
    ck_assert_int_eq(count_dir("batch-b/new"), 1); /* c's link was taken back */
    ck_assert_int_eq(count_dir("batch-a/tmp"), 0);
    ck_assert_int_eq(count_dir("batch-b/tmp"), 0);
    d = read_all(pb, &l);
    ck_assert_str_eq(d,
                     "Return-Path: <s@x>\nDelivered-To: b@y\nSubject: hi\nFrom: a@example.net\n\n"
                     "line one\nbare\rcr stays\n.dot\n\nend\n");
    free(d);
    free(pa);
    free(pb);
}
END_TEST

/* fs_sync: tmpfs has no journal to trust, and a delivery whose durability
 * the caller takes over (sync_by_caller) still ends once in new/. */
START_TEST(test_fs_sync_and_sync_by_caller)
{
    struct maildir_target t = target_for("by-caller");
    struct maildir_delivery *d = NULL;
    const char *what = NULL;
    char *error = NULL, *p = NULL;
    int fd = open("/dev/shm", O_RDONLY | O_DIRECTORY);

    ck_assert_int_ge(fd, 0);
    ck_assert(!fs_sync_journalled(fd, &what));
    ck_assert_str_eq(what, "other");
    close(fd);

    t.sync_by_caller = true;
    ck_assert_int_eq(maildir_delivery_begin(&t, "s@x", "r@y", &d, &error), MAILDIR_DELIVERED);
    ck_assert_int_eq(maildir_delivery_write(d, message, strlen(message), &error),
                     MAILDIR_DELIVERED);
    ck_assert_int_eq(maildir_delivery_written(d, &error), MAILDIR_DELIVERED);
    ck_assert_int_eq(fs_sync(maildir_delivery_dir_fd(d), &error), 0);
    ck_assert_int_eq(maildir_delivery_link(d, &error), MAILDIR_DELIVERED);
    ck_assert_int_eq(fs_sync(maildir_delivery_dir_fd(d), &error), 0);
    ck_assert_int_eq(maildir_delivery_finish(&d, &p, &error), MAILDIR_DELIVERED);
    ck_assert_int_eq(count_dir("by-caller/new"), 1);
    ck_assert_int_eq(count_dir("by-caller/tmp"), 0);
    free(p);
}
END_TEST

START_TEST(test_unique_names_10000)
{
    struct maildir_target t = target_for("many");
    char **paths = calloc(10000, sizeof(char *));

    ck_assert_ptr_nonnull(paths);
    for (int i = 0; i < 10000; i++)
        ck_assert_int_eq(deliver(&t, "a@b", "x\r\n", 64, &paths[i]), MAILDIR_DELIVERED);
    ck_assert_int_eq(count_dir("many/new"), 10000);
    ck_assert_int_eq(count_dir("many/tmp"), 0);
    for (int i = 0; i < 10000; i++)
        free(paths[i]);
    free(paths);
}
END_TEST

START_TEST(test_unique_names_forked)
{
    struct maildir_target t = target_for("forked");
    enum { CHILDREN = 4, EACH = 300 };
    pid_t pids[CHILDREN];

    /* Create it first so the children race only on names. */
    ck_assert_int_eq(deliver(&t, "a@b", "first\r\n", 64, NULL), MAILDIR_DELIVERED);
    for (int c = 0; c < CHILDREN; c++) {
        pids[c] = fork();
        ck_assert_int_ge(pids[c], 0);
        if (pids[c] == 0) {
            for (int i = 0; i < EACH; i++)
                if (deliver(&t, "a@b", "x\r\n", 64, NULL) != MAILDIR_DELIVERED)
                    _exit(1);
            _exit(0);
        }
    }
    for (int c = 0; c < CHILDREN; c++) {
        int status;
        ck_assert_int_eq(waitpid(pids[c], &status, 0), pids[c]);
        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    ck_assert_int_eq(count_dir("forked/new"), CHILDREN * EACH + 1);
    ck_assert_int_eq(count_dir("forked/tmp"), 0);
}
END_TEST

START_TEST(test_name_size_fields)
{
    ck_assert_int_eq(maildir_name_size("1.M2P3Q4.host,S=1234"), 1234);
    ck_assert_int_eq(maildir_name_size("1.M2P3Q4.host,S=77,W=80:2,S"), 77);
    ck_assert_int_eq(maildir_name_size("1.M2P3Q4.host:2,S"), -1);
    ck_assert_int_eq(maildir_name_size("1.M2P3Q4.host,S=:2,"), -1);
    ck_assert_int_eq(maildir_name_size("x,S=99999999999999999999999"), -1);
}
END_TEST

START_TEST(test_unique_name_escapes_host)
{
    char buf[256];

    ck_assert_int_eq(maildir_unique_name(buf, sizeof(buf), "a/b:c"), 0);
    ck_assert_ptr_nonnull(strstr(buf, ".a\\057b\\072c"));
    ck_assert_ptr_null(strchr(buf, '/'));
    ck_assert_ptr_null(strchr(buf, ':'));
    ck_assert_int_eq(maildir_unique_name(buf, 10, "host"), -1);
}
END_TEST

/* A host name of 253 octets (RFC 1035's most) still gives a name that,
 * with ",S=<size>" and ":2,<flags>" added, a file system takes (NAME_MAX). */
START_TEST(test_unique_name_long_host)
{
    char host[254], buf[512];

    memset(host, 'h', sizeof(host) - 1);
    host[sizeof(host) - 1] = '\0';
    ck_assert_int_eq(maildir_unique_name(buf, sizeof(buf), host), 0);
    ck_assert_uint_le(strlen(buf) + strlen(",S=18446744073709551615:2,abcdefghijklmnopqrstuvwxyz"),
                      NAME_MAX);
    ck_assert_ptr_nonnull(strstr(buf, ".hhhhhhhhhh"));
    /* an escape is never cut in half */
    for (size_t i = 0; i + 1 < sizeof(host); i++)
        host[i] = i % 2 == 0 ? '/' : 'x';
    ck_assert_int_eq(maildir_unique_name(buf, sizeof(buf), host), 0);
    const char *h = strchr(buf, '.') + 1;
    h = strchr(h, '.') + 1;
    ck_assert_uint_le(strlen(h), MAILDIR_UNIQUE_HOST_MAX);
    ck_assert_uint_ge(strlen(strrchr(h, '\\')), 4); /* "\057" whole */
    ck_assert_ptr_null(strchr(buf, '/'));
}
END_TEST

/* Delivery with our 250-octet host name works (it used to fail on the
 * file name, "name too long", and defer every message). */
START_TEST(test_delivery_long_host)
{
    char host[251];
    struct maildir_target t = target_for("longhost");
    char *path = NULL;

    memset(host, 'h', sizeof(host) - 1);
    host[sizeof(host) - 1] = '\0';
    t.hostname = host;
    ck_assert_int_eq(deliver(&t, "bob@example.net", message, 1000, &path), MAILDIR_DELIVERED);
    ck_assert_ptr_nonnull(path);
    ck_assert_uint_le(strlen(strrchr(path, '/') + 1), NAME_MAX);
    free(path);
}
END_TEST

/* deliver_to - like deliver, for any recipient; the result. */
static enum maildir_result deliver_to(const struct maildir_target *t, const char *sender,
                                      const char *rcpt, char **path_r)
{
    struct maildir_delivery *d;
    char *error = NULL;
    enum maildir_result res = maildir_delivery_begin(t, sender, rcpt, &d, &error);

    if (res == MAILDIR_DELIVERED)
        res = maildir_delivery_write(d, "Subject: s\r\n\r\nb\r\n", 18, &error);
    if (res == MAILDIR_DELIVERED)
        res = maildir_delivery_finish(&d, path_r, &error);
    else if (d != NULL)
        maildir_delivery_abort(&d);
    free(error);
    return res;
}

static char *address_of(size_t local, size_t domain)
{
    char *a = malloc(local + 1 + domain + 1);

    ck_assert_ptr_nonnull(a);
    memset(a, 'l', local);
    a[local] = '@';
    memset(a + local + 1, 'd', domain);
    for (size_t i = 63; i < domain; i += 64)
        a[local + 1 + i] = '.';
    a[local + 1 + domain] = '\0';
    return a;
}

/* Issue 10 section 9: Return-Path and Delivered-To for the longest
 * addresses SMTP takes (a 64-octet local part at a 255-octet domain) are
 * whole, one line each, within 998 octets; a value too long for any line
 * is refused whole (permanent, nothing created), never truncated. */
START_TEST(test_trace_fields_long_addresses)
{
    struct maildir_target t = target_for("longaddr");
    char *sender = address_of(64, 255), *rcpt = address_of(64, 255);
    char *path = NULL, *data, want[1024];
    size_t len;

    ck_assert_int_eq(deliver_to(&t, sender, rcpt, &path), MAILDIR_DELIVERED);
    data = read_all(path, &len);
    snprintf(want, sizeof(want), "Return-Path: <%s>\nDelivered-To: %s\nSubject: s\n\nb\n", sender,
             rcpt);
    ck_assert_str_eq(data, want);
    free(data);
    free(path);
    free(sender);
    free(rcpt);

    /* exactly 998 octets on each line still goes in */
    sender = address_of(64, 998 - strlen("Return-Path: <>") - 65);
    rcpt = address_of(64, 998 - strlen("Delivered-To: ") - 65);
    path = NULL;
    ck_assert_int_eq(deliver_to(&t, sender, rcpt, &path), MAILDIR_DELIVERED);
    data = read_all(path, &len);
    ck_assert_ptr_eq(strchr(data, '\n'), data + 998);
    ck_assert_ptr_eq(strchr(data + 999, '\n'), data + 999 + 998);
    free(data);
    free(path);
    free(rcpt);

    /* one more octet: refused, and no Maildir made for it */
    struct maildir_target t2 = target_for("toolong");
    rcpt = address_of(64, 998 - strlen("Delivered-To: ") - 64);
    ck_assert_int_eq(deliver_to(&t2, "", rcpt, NULL), MAILDIR_PERMFAIL);
    ck_assert_int_eq(deliver_to(&t2, rcpt, "a@example.org", NULL), MAILDIR_PERMFAIL);
    ck_assert_int_eq(deliver_to(&t2, "", "", NULL), MAILDIR_PERMFAIL);
    struct stat st;
    ck_assert_int_eq(stat(path_of("toolong"), &st), -1);
    free(rcpt);
    free(sender);
}
END_TEST

START_TEST(test_path_escapes_refused)
{
    static const char *const bad[] = {
        "../outside", "a/../../outside", "a/./b", "a//b", "/etc/passwd", "", ".",
        "..",         "a/\nb",           "/",     "//x",  "a/b//",
    };
    char outside[300], prefix_trick[300];
    struct maildir_target t;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        t = target_for(bad[i]);
        ck_assert_msg(deliver(&t, "a@b", "x\r\n", 64, NULL) == MAILDIR_PERMFAIL, "accepted %s",
                      bad[i]);
    }
    /* "<base>-other/x" starts with the base string but is not below it. */
    snprintf(prefix_trick, sizeof(prefix_trick), "%s-other/x", base);
    t = target_for(prefix_trick);
    ck_assert_int_eq(deliver(&t, "a@b", "x\r\n", 64, NULL), MAILDIR_PERMFAIL);
    ck_assert_int_ne(access(prefix_trick, F_OK), 0);

    /* A symlink below the base, anywhere in the path, is refused. */
    snprintf(outside, sizeof(outside), "%s-outside", base);
    ck_assert_int_eq(mkdir(outside, 0700), 0);
    ck_assert_int_eq(symlink(outside, path_of("link")), 0);
    t = target_for("link/Maildir");
    ck_assert_int_eq(deliver(&t, "a@b", "x\r\n", 64, NULL), MAILDIR_PERMFAIL);
    t = target_for("link");
    ck_assert_int_eq(deliver(&t, "a@b", "x\r\n", 64, NULL), MAILDIR_PERMFAIL);
    ck_assert_int_eq(mkdir(path_of("real"), 0700), 0);
    ck_assert_int_eq(symlink(outside, path_of("real/new")), 0);
    t = target_for("real");
    ck_assert_int_eq(deliver(&t, "a@b", "x\r\n", 64, NULL), MAILDIR_PERMFAIL);
    ck_assert_int_eq(rmdir(outside), 0); /* still empty: nothing was written there */

    /* An absolute path below the base is fine. */
    {
        char abs_ok[300];
        snprintf(abs_ok, sizeof(abs_ok), "%s/abs/Maildir", base);
        t = target_for(abs_ok);
        ck_assert_int_eq(deliver(&t, "a@b", "x\r\n", 64, NULL), MAILDIR_DELIVERED);
        ck_assert_int_eq(count_dir("abs/Maildir/new"), 1);
    }
    /* Control characters in the envelope never reach a header line. */
    t = target_for("ctl");
    ck_assert_int_eq(deliver(&t, "a@b\r\nX-Injected: 1", "x\r\n", 64, NULL), MAILDIR_PERMFAIL);
    ck_assert_int_eq(count_dir("ctl"), -1);
}
END_TEST

START_TEST(test_folders)
{
    static const char *const bad[] = {"../x", ".x", "a/b", "a..b", "x.", "\tx"};
    struct maildir_target t = target_for("u/Maildir");
    char *p = NULL;
    struct stat st;

    t.folder = "Lists.dev";
    ck_assert_int_eq(deliver(&t, "a@b", "x\r\n", 64, &p), MAILDIR_DELIVERED);
    ck_assert_msg(strncmp(p, "u/Maildir/.Lists.dev/new/", 25) == 0, "path %s", p);
    free(p);
    ck_assert_int_eq(stat(path_of("u/Maildir/.Lists.dev/maildirfolder"), &st), 0);
    ck_assert_int_eq(count_dir("u/Maildir/new"), 0); /* the root is a Maildir too */
    ck_assert_int_eq(count_dir("u/Maildir/.Lists.dev/tmp"), 0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        t.folder = bad[i];
        ck_assert_msg(deliver(&t, "a@b", "x\r\n", 64, NULL) == MAILDIR_PERMFAIL, "accepted %s",
                      bad[i]);
    }
}
END_TEST

START_TEST(test_quota)
{
    struct maildir_target t = target_for("q");
    char body[601], *size_file;
    size_t len;

    memset(body, 'a', 598);
    memcpy(body + 598, "\r\n", 3);
    t.quota_bytes = 1000;
    ck_assert_int_eq(deliver(&t, "a@b", body, 4096, NULL), MAILDIR_DELIVERED);
    size_file = read_all("q/maildirsize", &len);
    /* "1000S", the recalculated total (0 0), then the delivery's line. */
    ck_assert_str_eq(size_file, "1000S\n0 0\n649 1\n");
    free(size_file);
    ck_assert_int_eq(deliver(&t, "a@b", body, 4096, NULL), MAILDIR_QUOTA_EXCEEDED);
    ck_assert_int_eq(count_dir("q/new"), 1);
    ck_assert_int_eq(count_dir("q/tmp"), 0);
    ck_assert(!maildir_result_permanent(MAILDIR_QUOTA_EXCEEDED, &t));
    t.quota_permanent = true;
    ck_assert(maildir_result_permanent(MAILDIR_QUOTA_EXCEEDED, &t));
    ck_assert(maildir_result_permanent(MAILDIR_PERMFAIL, &t));
    ck_assert(!maildir_result_permanent(MAILDIR_TEMPFAIL, &t));

    /* A small message still fits; then the message count limit. */
    ck_assert_int_eq(deliver(&t, "a@b", "x\r\n", 64, NULL), MAILDIR_DELIVERED);
    t.quota_bytes = 0;
    t.quota_messages = 2;
    ck_assert_int_eq(deliver(&t, "a@b", "x\r\n", 64, NULL), MAILDIR_QUOTA_EXCEEDED);
    size_file = read_all("q/maildirsize", &len);
    ck_assert_str_eq(size_file, "2C\n701 2\n"); /* quota changed: recalculated */
    free(size_file);
}
END_TEST

START_TEST(test_quota_recalculated)
{
    struct maildir_target t = target_for("r");
    struct maildir_quota_limit limit = {100000, 0};
    struct maildir_quota_usage usage;
    char *size_file, *error = NULL;
    size_t len;
    FILE *f;
    int fd;

    ck_assert_int_eq(deliver(&t, "a@b", "x\r\n", 64, NULL), MAILDIR_DELIVERED);
    ck_assert_int_eq(deliver(&t, "a@b", "y\r\n", 64, NULL), MAILDIR_DELIVERED);
    /* No quota and no file: nothing written. */
    ck_assert_int_ne(access(path_of("r/maildirsize"), F_OK), 0);
    /* A file of 5120 bytes or more is recalculated (Maildir++). */
    f = fopen(path_of("r/maildirsize"), "w");
    ck_assert_ptr_nonnull(f);
    fputs("100000S\n", f);
    for (int i = 0; i < 600; i++)
        fputs("999999 1\n", f);
    fclose(f);
    fd = open(path_of("r"), O_RDONLY | O_DIRECTORY);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(maildir_quota_read(fd, &limit, "h", false, &usage, &error), 0);
    ck_assert_int_eq(usage.bytes, 2 * 52);
    ck_assert_int_eq(usage.messages, 2);
    size_file = read_all("r/maildirsize", &len);
    ck_assert_str_eq(size_file, "100000S\n104 2\n");
    free(size_file);
    /* Garbage is recalculated too; a torn last line is ignored. */
    f = fopen(path_of("r/maildirsize"), "w");
    fputs("100000S\n104 2\n10 1\n5", f);
    fclose(f);
    ck_assert_int_eq(maildir_quota_read(fd, &limit, "h", false, &usage, &error), 0);
    ck_assert_int_eq(usage.bytes, 114);
    f = fopen(path_of("r/maildirsize"), "w");
    fputs("100000S\nnot numbers\n", f);
    fclose(f);
    ck_assert_int_eq(maildir_quota_read(fd, &limit, "h", false, &usage, &error), 0);
    ck_assert_int_eq(usage.bytes, 104);
    ck_assert_int_eq(count_dir("r/tmp"), 0);
    close(fd);
}
END_TEST

/* ENOSPC must be a temporary failure that leaves nothing behind. Needs root
 * for the small tmpfs; passes without checking anything otherwise (said on
 * stderr). */
START_TEST(test_disk_full_is_tempfail)
{
    struct maildir_target t;
    struct maildir_delivery *d = NULL;
    char mnt[300], *error = NULL, chunk[4096];
    enum maildir_result res;
    int tmp_count, new_count;

    if (geteuid() != 0) {
        fprintf(stderr, "# SKIP disk full test: needs root for a tmpfs\n");
        return;
    }
    snprintf(mnt, sizeof(mnt), "%s/small", base);
    ck_assert_int_eq(mkdir(mnt, 0700), 0);
    if (mount("tmpfs", mnt, "tmpfs", 0, "size=64k") < 0) {
        fprintf(stderr, "# SKIP disk full test: mount tmpfs: %s\n", strerror(errno));
        return;
    }
    t = target_for("m");
    t.base = mnt;
    memset(chunk, 'z', sizeof(chunk));
    chunk[sizeof(chunk) - 2] = '\r';
    chunk[sizeof(chunk) - 1] = '\n';
    res = maildir_delivery_begin(&t, "a@b", "r@c", &d, &error);
    for (int i = 0; i < 64 && res == MAILDIR_DELIVERED; i++)
        res = maildir_delivery_write(d, chunk, sizeof(chunk), &error);
    if (res == MAILDIR_DELIVERED)
        res = maildir_delivery_finish(&d, NULL, &error);
    else
        maildir_delivery_abort(&d);
    free(error);
    {
        char rel[320];
        snprintf(rel, sizeof(rel), "small/m/tmp");
        tmp_count = count_dir(rel);
        snprintf(rel, sizeof(rel), "small/m/new");
        new_count = count_dir(rel);
    }
    umount(mnt);
    ck_assert_int_eq(res, MAILDIR_TEMPFAIL);
    ck_assert_int_eq(tmp_count, 0);
    ck_assert_int_eq(new_count, 0);
}
END_TEST

/* first_name - the one entry of the folder rel into buf ("" when empty). */
static void first_name(const char *rel, char *buf, size_t size)
{
    DIR *dir = opendir(path_of(rel));
    struct dirent *de;

    buf[0] = '\0';
    ck_assert_ptr_nonnull(dir);
    while ((de = readdir(dir)) != NULL) {
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
            snprintf(buf, size, "%s", de->d_name);
            break;
        }
    }
    closedir(dir);
}

START_TEST(test_stable_name)
{
    char a[256], b[256];

    ck_assert_int_eq(maildir_stable_name(a, sizeof a, 1700000000, "Q0123abcR2", "mx/a:b"), 0);
    ck_assert_str_eq(a, "1700000000.Q0123abcR2.mx\\057a\\072b");
    ck_assert_int_eq(maildir_stable_name(b, sizeof b, 1700000000, "Q0123abcR2", "mx/a:b"), 0);
    ck_assert_str_eq(a, b);
    /* a key that could break the name is refused */
    ck_assert_int_eq(maildir_stable_name(a, sizeof a, 1, "a.b", "h"), -1);
    ck_assert_int_eq(maildir_stable_name(a, sizeof a, 1, "a:b", "h"), -1);
    ck_assert_int_eq(maildir_stable_name(a, sizeof a, 1, "", "h"), -1);
    ck_assert_int_eq(
        maildir_stable_name(a, sizeof a, 1, "x1234567890123456789012345678901234567890", "h"), -1);

    ck_assert(maildir_name_has_base("1.Q1R0.h,S=12", "1.Q1R0.h"));
    ck_assert(maildir_name_has_base("1.Q1R0.h,S=12:2,S", "1.Q1R0.h"));
    ck_assert(maildir_name_has_base("1.Q1R0.h:2,", "1.Q1R0.h"));
    ck_assert(maildir_name_has_base("1.Q1R0.h", "1.Q1R0.h"));
    ck_assert(!maildir_name_has_base("1.Q1R0.h2,S=12", "1.Q1R0.h"));
    ck_assert(!maildir_name_has_base("1.Q1R01.h,S=12", "1.Q1R0.h"));
}
END_TEST

/* The same stable key twice: the second attempt meets the first one's name
 * in new/ at its link and answers ALREADY_DELIVERED, leaving one file and
 * an empty tmp/. Without a stable key the second is a second copy. */
START_TEST(test_stable_key_delivers_once)
{
    struct maildir_target t = target_for("once");
    char *p1 = NULL, *p2 = NULL;

    t.stable_key = "Q0005f1c2a3b4c0012340001R0";
    t.stable_time = 1700000000;
    ck_assert_int_eq(deliver(&t, "a@b", message, 7, &p1), MAILDIR_DELIVERED);
    ck_assert_ptr_nonnull(p1);
    ck_assert_msg(strstr(p1, "new/1700000000.Q0005f1c2a3b4c0012340001R0.mx.example.org,S=") != NULL,
                  "path %s", p1);
    ck_assert_int_eq(deliver(&t, "a@b", message, 7, &p2), MAILDIR_ALREADY_DELIVERED);
    ck_assert_ptr_nonnull(p2);
    ck_assert_str_eq(p1, p2);
    ck_assert_int_eq(count_dir("once/new"), 1);
    ck_assert_int_eq(count_dir("once/tmp"), 0);

    /* another recipient index of the same message is another delivery */
    t.stable_key = "Q0005f1c2a3b4c0012340001R1";
    free(p2);
    ck_assert_int_eq(deliver(&t, "a@b", message, 7, &p2), MAILDIR_DELIVERED);
    ck_assert_int_eq(count_dir("once/new"), 2);

    t.stable_key = NULL;
    free(p2);
    ck_assert_int_eq(deliver(&t, "a@b", message, 7, &p2), MAILDIR_DELIVERED);
    ck_assert_int_eq(count_dir("once/new"), 3);
    free(p1);
    free(p2);
}
END_TEST

/* check_delivered finds the earlier file after a reader moved it to cur/
 * with flags, before anything is written (not even over quota). */
START_TEST(test_check_delivered_finds_cur)
{
    struct maildir_target t = target_for("moved");
    char *p1 = NULL, *p2 = NULL, name[512], from[2048], to[2048];

    t.stable_key = "Q1R3";
    t.stable_time = 1700000001;
    ck_assert_int_eq(deliver(&t, "a@b", message, 100, &p1), MAILDIR_DELIVERED);
    first_name("moved/new", name, sizeof name);
    snprintf(from, sizeof from, "%s", path_of("moved/new"));
    snprintf(from + strlen(from), sizeof from - strlen(from), "/%s", name);
    snprintf(to, sizeof to, "%s/%s:2,S", path_of("moved/cur"), name);
    ck_assert_int_eq(rename(from, to), 0);

    /* without the check, the link cannot see cur/: a second copy */
    t.quota_messages = 1; /* over quota now: the check must come first */
    t.check_delivered = true;
    ck_assert_int_eq(deliver(&t, "a@b", message, 100, &p2), MAILDIR_ALREADY_DELIVERED);
    ck_assert_ptr_nonnull(p2);
    ck_assert_msg(strstr(p2, "moved/cur/1700000001.Q1R3.mx.example.org,S=") != NULL, "path %s", p2);
    ck_assert_int_eq(count_dir("moved/new"), 0);
    ck_assert_int_eq(count_dir("moved/cur"), 1);
    ck_assert_int_eq(count_dir("moved/tmp"), 0);
    free(p1);
    free(p2);
}
END_TEST

/* A crash between the tmp/ write and the link leaves the stable name in
 * tmp/: the next attempt replaces it and delivers. */
START_TEST(test_stable_key_replaces_own_tmp_leftover)
{
    struct maildir_target t = target_for("left");
    char *p1 = NULL, *p2 = NULL, stale[2048];
    int fd;

    t.stable_key = "Q2R0";
    t.stable_time = 1700000002;
    ck_assert_int_eq(deliver(&t, "a@b", message, 100, &p1), MAILDIR_DELIVERED);
    /* start again from nothing in new/, with a half-written tmp/ file */
    ck_assert_int_eq(unlink(path_of(p1)), 0);
    snprintf(stale, sizeof stale, "%s/1700000002.Q2R0.mx.example.org", path_of("left/tmp"));
    fd = open(stale, O_WRONLY | O_CREAT | O_EXCL, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "Return-Pa", 9), 9);
    close(fd);
    ck_assert_int_eq(deliver(&t, "a@b", message, 100, &p2), MAILDIR_DELIVERED);
    ck_assert_str_eq(p1, p2);
    ck_assert_int_eq(count_dir("left/tmp"), 0);
    ck_assert_int_eq(count_dir("left/new"), 1);
    free(p1);
    free(p2);
}
END_TEST

/* Files in tmp/ untouched for more than 36 hours go when a delivery writes
 * to that Maildir; younger ones (another writer's, in progress) stay. */
START_TEST(test_stale_tmp_files_removed)
{
    struct maildir_target t = target_for("sweep");
    char *path = NULL, old[2048], young[2048];
    struct timespec times[2];
    int fd;

    ck_assert_int_eq(mkdir(path_of("sweep"), 0700), 0);
    ck_assert_int_eq(mkdir(path_of("sweep/tmp"), 0700), 0);
    ck_assert_int_eq(mkdir(path_of("sweep/new"), 0700), 0);
    ck_assert_int_eq(mkdir(path_of("sweep/cur"), 0700), 0);
    snprintf(old, sizeof old, "%s/1.crashed.writer", path_of("sweep/tmp"));
    snprintf(young, sizeof young, "%s/2.busy.writer", path_of("sweep/tmp"));
    fd = open(old, O_WRONLY | O_CREAT, 0600);
    ck_assert_int_ge(fd, 0);
    close(fd);
    fd = open(young, O_WRONLY | O_CREAT, 0600);
    ck_assert_int_ge(fd, 0);
    close(fd);
    /* read and written 37 hours ago */
    times[0].tv_sec = times[1].tv_sec = time(NULL) - 37 * 3600;
    times[0].tv_nsec = times[1].tv_nsec = 0;
    ck_assert_int_eq(utimensat(AT_FDCWD, old, times, 0), 0);
    ck_assert_int_eq(deliver(&t, "a@b", message, 100, &path), MAILDIR_DELIVERED);
    ck_assert_int_eq(access(young, F_OK), 0);
    ck_assert_int_eq(access(old, F_OK), -1);
    ck_assert_int_eq(count_dir("sweep/tmp"), 1);
    free(path);
}
END_TEST

/* maildir_path_open is the walk the writer uses, for readers: the same
 * refusals, MISSING instead of creating unless asked. */
START_TEST(test_path_open)
{
    char *error = NULL, outside[300], abs_ok[300];
    int fd = -1;

    ck_assert_int_eq(maildir_path_open(base, "d/u/Maildir", false, &fd, &error),
                     MAILDIR_PATH_MISSING);
    ck_assert_ptr_nonnull(error);
    free(error);
    error = NULL;
    ck_assert_int_eq(count_dir("d"), -1);
    ck_assert_int_eq(maildir_path_open(base, "d/u/Maildir/", true, &fd, &error), MAILDIR_PATH_OK);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(mkdirat(fd, "new", 0700), 0); /* fd is the Maildir itself */
    close(fd);
    ck_assert_int_eq(count_dir("d/u/Maildir/new"), 0);
    snprintf(abs_ok, sizeof abs_ok, "%s/d/u/Maildir", base);
    ck_assert_int_eq(maildir_path_open(base, abs_ok, false, &fd, &error), MAILDIR_PATH_OK);
    close(fd);

    snprintf(outside, sizeof outside, "%s-outside", base);
    ck_assert_int_eq(mkdir(outside, 0700), 0);
    ck_assert_int_eq(symlink(outside, path_of("link")), 0);
    static const char *const bad[] = {"link/x", "link", "../x", "a/./b",
                                      "a//b",   "/etc", "",     "d/\nx"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(maildir_path_open(base, bad[i], true, &fd, &error) == MAILDIR_PATH_UNSAFE,
                      "accepted %s", bad[i]);
        free(error);
        error = NULL;
    }
    ck_assert_int_eq(rmdir(outside), 0); /* still empty */
    ck_assert_str_eq(maildir_path_relative("/srv/mail/", "/srv/mail/a/b"), "a/b");
    ck_assert_str_eq(maildir_path_relative("/srv/mail", "a/b"), "a/b");
    ck_assert_ptr_null(maildir_path_relative("/srv/mail", "/srv/mailx/a"));
    ck_assert(maildir_path_component_valid("Maildir", 7));
    ck_assert(!maildir_path_component_valid("..", 2));
    ck_assert(!maildir_path_component_valid("a\x7f", 2));
}
END_TEST

static int scan_collect(void *ctx, const char *name, int64_t size)
{
    char *out = ctx;
    size_t len = strlen(out);

    snprintf(out + len, 1024 - len, "%s=%lld;", name, (long long)size);
    return strncmp(name, "stop", 4) == 0 ? 7 : 0;
}

/* maildir_quota_scan gives every message of a folder with its size from
 * ",S=" or the file itself, skipping dot files and what is not a file. */
START_TEST(test_quota_scan)
{
    char out[1024] = "", *error = NULL;
    int fd;

    ck_assert_int_eq(mkdir(path_of("m"), 0700), 0);
    ck_assert_int_eq(mkdir(path_of("m/cur"), 0700), 0);
    fd = open(path_of("m"), O_RDONLY | O_DIRECTORY);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(maildir_quota_scan(fd, "new", scan_collect, out, &error), 0); /* missing */
    ck_assert_str_eq(out, "");
    int f = open(path_of("m/cur/1.a.host,S=1234:2,S"), O_WRONLY | O_CREAT, 0600);
    close(f);
    f = open(path_of("m/cur/2.b.host"), O_WRONLY | O_CREAT, 0600);
    ck_assert_int_eq(write(f, "12345", 5), 5);
    close(f);
    f = open(path_of("m/cur/.hidden,S=9"), O_WRONLY | O_CREAT, 0600);
    close(f);
    ck_assert_int_eq(mkdir(path_of("m/cur/3.dir"), 0700), 0);
    ck_assert_int_eq(maildir_quota_scan(fd, "cur", scan_collect, out, &error), 0);
    ck_assert_msg(strstr(out, "1.a.host,S=1234:2,S=1234;") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "2.b.host=5;") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "hidden") == NULL && strstr(out, "3.dir") == NULL, "%s", out);
    ck_assert_int_eq(strlen(out), strlen("1.a.host,S=1234:2,S=1234;2.b.host=5;"));
    /* the callback's nonzero answer stops the scan and is returned */
    f = open(path_of("m/cur/stop,S=1"), O_WRONLY | O_CREAT, 0600);
    close(f);
    out[0] = '\0';
    ck_assert_int_eq(maildir_quota_scan(fd, "cur", scan_collect, out, &error), 7);
    close(fd);
    ck_assert_ptr_null(error);
}
END_TEST

static Suite *maildir_suite(void)
{
    Suite *s = suite_create("maildir");
    TCase *tc = tcase_create("maildir");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_first_delivery_creates_maildir);
    tcase_add_test(tc, test_chunks_split_crlf);
    tcase_add_test(tc, test_trailing_cr_kept);
    tcase_add_test(tc, test_deliver_fd);
    tcase_add_test(tc, test_batched_finish_and_abort_after_link);
    tcase_add_test(tc, test_fs_sync_and_sync_by_caller);
    tcase_add_test(tc, test_unique_name_escapes_host);
    tcase_add_test(tc, test_unique_name_long_host);
    tcase_add_test(tc, test_delivery_long_host);
    tcase_add_test(tc, test_trace_fields_long_addresses);
    tcase_add_test(tc, test_name_size_fields);
    tcase_add_test(tc, test_path_escapes_refused);
    tcase_add_test(tc, test_path_open);
    tcase_add_test(tc, test_quota_scan);
    tcase_add_test(tc, test_folders);
    tcase_add_test(tc, test_quota);
    tcase_add_test(tc, test_quota_recalculated);
    tcase_add_test(tc, test_disk_full_is_tempfail);
    tcase_add_test(tc, test_stable_name);
    tcase_add_test(tc, test_stable_key_delivers_once);
    tcase_add_test(tc, test_check_delivered_finds_cur);
    tcase_add_test(tc, test_stable_key_replaces_own_tmp_leftover);
    tcase_add_test(tc, test_stale_tmp_files_removed);
    suite_add_tcase(s, tc);
    tc = tcase_create("names");
    tcase_add_checked_fixture(tc, setup_memory, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_unique_names_10000);
    tcase_add_test(tc, test_unique_names_forked);
    suite_add_tcase(s, tc);
    return s;
}

TAP_MAIN(maildir_suite)
