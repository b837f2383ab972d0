/* tests/unit/test_fs_sync.c - delivery/fs_sync.c: which file systems one
 * syncfs(2) makes durable, told against what the kernel says elsewhere
 * (mountinfo and /proc/fs/jbd2) and, as root, on ext4 images with and
 * without a journal and on a tmpfs mounted for the test; fs_sync on folder
 * and file descriptors, and its error. */
#include "config.h"

#include "delivery/fs_sync.h"
#include "tap_main.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[256];

static void setup(void)
{
    const char *tmp = getenv("TMPDIR");

    snprintf(dir, sizeof(dir), "%s/test_fs_sync.XXXXXX", tmp != NULL ? tmp : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
    char cmd[600];

    snprintf(cmd, sizeof(cmd), "umount -q '%s/mnt' 2>/dev/null; rm -rf '%s'", dir, dir);
    (void)!system(cmd);
}

/* mount_of - the file system type and source of the mount holding path,
 * from /proc/self/mountinfo (the longest mount point that is a prefix of
 * path's real path). 0, or -1. */
static int mount_of(const char *path, char *type, size_t tsize, char *source, size_t ssize)
{
    char real[4096], line[8192], best[4096] = "";
    FILE *f;

    ck_assert_ptr_nonnull(realpath(path, real));
    f = fopen("/proc/self/mountinfo", "re");
    ck_assert_ptr_nonnull(f);
    while (fgets(line, sizeof(line), f) != NULL) {
        char mnt[4096], fstype[256], src[4096];
        const char *sep = strstr(line, " - ");
        size_t n;

        if (sep == NULL || sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1 ||
            sscanf(sep + 3, "%255s %4095s", fstype, src) != 2)
            continue;
        n = strlen(mnt);
        if (strncmp(real, mnt, n) != 0 || (real[n] != '/' && real[n] != '\0' && n > 1))
            continue;
        if (n >= strlen(best)) {
            snprintf(best, sizeof(best), "%s", mnt);
            snprintf(type, tsize, "%s", fstype);
            snprintf(source, ssize, "%s", src);
        }
    }
    fclose(f);
    return best[0] != '\0' ? 0 : -1;
}

/* jbd2_runs - /proc/fs/jbd2 has a journal "<devname>-<inode>" for devname. */
static bool jbd2_runs(const char *devname)
{
    DIR *d = opendir("/proc/fs/jbd2");
    struct dirent *de;
    size_t len = strlen(devname);
    bool found = false;

    if (d == NULL)
        return false;
    while ((de = readdir(d)) != NULL)
        if (strncmp(de->d_name, devname, len) == 0 && de->d_name[len] == '-')
            found = true;
    closedir(d);
    return found;
}

static bool journalled_path(const char *path, const char **what_r)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    bool j;

    ck_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
    j = fs_sync_journalled(fd, what_r);
    close(fd);
    return j;
}

/* tmpfs journals nothing: never trusted. */
START_TEST(test_tmpfs_not_journalled)
{
    const char *what = NULL;

    ck_assert(!journalled_path("/dev/shm", &what));
    ck_assert_str_eq(what, "other");
    ck_assert(!journalled_path("/dev/shm", NULL)); /* what_r may be NULL */
}
END_TEST

/* The test folder's own file system, told from mountinfo and jbd2 rather
 * than from statfs and sysfs as fs_sync.c does. */
START_TEST(test_own_file_system)
{
    char type[256], source[4096];
    const char *what = NULL, *base;
    bool j = journalled_path(dir, &what);

    if (mount_of(dir, type, sizeof(type), source, sizeof(source)) < 0) {
        /* In a chroot whose root is no mount point, mountinfo shows no
         * mount holding dir: the oracle cannot tell, so only check that the
         * answer and its name agree. */
        fprintf(stderr, "# no mount of %s in /proc/self/mountinfo (a chroot?)\n", dir);
        ck_assert(what != NULL);
        ck_assert_int_eq(j, strcmp(what, "ext2/3/4 without a journal") != 0 &&
                                strcmp(what, "other") != 0);
        return;
    }
    base = strrchr(source, '/') != NULL ? strrchr(source, '/') + 1 : source;
    if (strcmp(type, "xfs") == 0 || strcmp(type, "btrfs") == 0) {
        ck_assert(j);
        ck_assert_str_eq(what, type);
    } else if (strcmp(type, "ext4") == 0 || strcmp(type, "ext3") == 0 ||
               strcmp(type, "ext2") == 0) {
        /* a device-mapper source (/dev/mapper/x) is named dm-N in jbd2:
         * then only check that the answer and its name agree */
        if (strncmp(source, "/dev/mapper/", 12) != 0)
            ck_assert_msg(j == jbd2_runs(base), "%s on %s: journalled %d", type, source, j);
        ck_assert_str_eq(what, j ? "ext4 with a journal" : "ext2/3/4 without a journal");
    } else {
        ck_assert_msg(!j, "%s (%s) taken for journalled", type, what);
        ck_assert_str_eq(what, "other");
    }
}
END_TEST

/* A descriptor that is not open: nothing can be told, so not journalled. */
START_TEST(test_bad_fd)
{
    const char *what = NULL;
    char *error = NULL;

    ck_assert(!fs_sync_journalled(-1, &what));
    ck_assert_str_eq(what, "unknown");
    ck_assert_int_eq(fs_sync(-1, &error), -1);
    ck_assert_ptr_nonnull(error);
    ck_assert_str_eq(error, "syncfs: Bad file descriptor");
    free(error);
}
END_TEST

/* fs_sync on a folder (as the queue runner does, on a Maildir's) and on a
 * file written through another descriptor. */
START_TEST(test_fs_sync_dir_and_file)
{
    char path[400], *error = NULL;
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), fd;

    ck_assert_int_ge(dfd, 0);
    snprintf(path, sizeof(path), "%s/f", dir);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "mail\n", 5), 5);
    ck_assert_msg(fs_sync(dfd, &error) == 0, "fs_sync dir: %s", error);
    ck_assert_msg(fs_sync(fd, &error) == 0, "fs_sync file: %s", error);
    ck_assert_ptr_null(error);
    close(fd);
    close(dfd);
}
END_TEST

/* ext4_image - a fresh 8 MiB ext4 image (mkfs options opts) mounted on
 * dir/mnt. false when this host cannot (not root, no mkfs.ext4 or loop). */
static bool ext4_image(const char *opts)
{
    char img[300], mnt[300], cmd[1600];

    if (geteuid() != 0)
        return false;
    snprintf(img, sizeof(img), "%s/fs.img", dir);
    snprintf(mnt, sizeof(mnt), "%s/mnt", dir);
    if (mkdir(mnt, 0700) < 0 && errno != EEXIST)
        return false;
    snprintf(cmd, sizeof(cmd),
             "rm -f '%s' && truncate -s 8M '%s' && mkfs.ext4 -q -F %s '%s' >/dev/null 2>&1 && "
             "mount -o loop '%s' '%s' 2>/dev/null",
             img, img, opts, img, img, mnt);
    return system(cmd) == 0;
}

/* As root: ext4 with a journal is trusted, ext4 without one is not, and a
 * tmpfs mounted for the test is not. Elsewhere this says so and checks
 * nothing more. */
START_TEST(test_ext4_with_and_without_journal)
{
    char mnt[300];
    const char *what = NULL;

    snprintf(mnt, sizeof(mnt), "%s/mnt", dir);
    if (!ext4_image("")) {
        fprintf(stderr, "# test_ext4_with_and_without_journal: cannot mount an ext4 image here "
                        "(not root, or no loop devices): not tested\n");
        return;
    }
    ck_assert(journalled_path(mnt, &what));
    ck_assert_str_eq(what, "ext4 with a journal");
    ck_assert_int_eq(umount(mnt), 0);

    ck_assert(ext4_image("-O ^has_journal"));
    ck_assert(!journalled_path(mnt, &what));
    ck_assert_str_eq(what, "ext2/3/4 without a journal");
    ck_assert_int_eq(umount(mnt), 0);

    ck_assert_int_eq(mount("tmpfs", mnt, "tmpfs", 0, "size=1m"), 0);
    ck_assert(!journalled_path(mnt, &what));
    ck_assert_str_eq(what, "other");
    ck_assert_int_eq(umount(mnt), 0);
}
END_TEST

static Suite *fs_sync_suite(void)
{
    Suite *s = suite_create("fs_sync");
    TCase *tc = tcase_create("fs_sync");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_tmpfs_not_journalled);
    tcase_add_test(tc, test_own_file_system);
    tcase_add_test(tc, test_bad_fd);
    tcase_add_test(tc, test_fs_sync_dir_and_file);
    tcase_add_test(tc, test_ext4_with_and_without_journal);
    suite_add_tcase(s, tc);
    return s;
}

TAP_MAIN(fs_sync_suite)
