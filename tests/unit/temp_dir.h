/* tests/unit/temp_dir.h - a fresh folder for each test case (below $TMPDIR,
 * else /tmp), its removal with all it holds, and a count of a folder's
 * entries: what the unit tests that work on files share. */
#ifndef DIRMAIL_TESTS_TEMP_DIR_H
#define DIRMAIL_TESTS_TEMP_DIR_H

#include <check.h>
#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* temp_dir_make - create "<tmp>/<name>.XXXXXX" into buf. */
static inline void temp_dir_make(char *buf, size_t size, const char *name)
{
    const char *tmp = getenv("TMPDIR");

    snprintf(buf, size, "%s/%s.XXXXXX", tmp != NULL ? tmp : "/tmp", name);
    ck_assert_ptr_nonnull(mkdtemp(buf));
}

static inline int temp_dir_rm_entry(const char *path, const struct stat *st, int flag,
                                    struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* temp_dir_remove - path and everything below it, never through a link. */
static inline void temp_dir_remove(const char *path)
{
    nftw(path, temp_dir_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* temp_dir_count - entries of a folder (not . and ..), -1 when it does not
 * exist. */
static inline int temp_dir_count(const char *path)
{
    DIR *dir = opendir(path);
    struct dirent *de;
    int n = 0;

    if (dir == NULL)
        return -1;
    while ((de = readdir(dir)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            n++;
    closedir(dir);
    return n;
}

#endif
