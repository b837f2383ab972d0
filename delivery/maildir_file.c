/* delivery/maildir_file.c - see maildir_file.h. */
#include "config.h"

#include "delivery/maildir_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "lib/fdio.h"

/* Temporary names are per process and call: a delivery and an IMAP session
 * may replace one file at once (the last rename wins, neither is torn). */
static atomic_uint tmp_counter;

char *maildir_file_read(int dir_fd, const char *name)
{
    char *text = calloc(1, MAILDIR_FILE_MAX + 1);
    if (text == NULL || dir_fd < 0)
        return text;
    int fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return text;
        free(text);
        return NULL;
    }
    long long got = fd_read_full(fd, text, MAILDIR_FILE_MAX);
    int saved = errno;
    close(fd);
    if (got < 0) {
        free(text);
        errno = saved;
        return NULL;
    }
    text[got] = '\0';
    return text;
}

int maildir_file_replace(int dir_fd, const char *name, const char *text, size_t len)
{
    char tmp[96];
    int w = snprintf(tmp, sizeof tmp, "%s.%ld.%u.tmp", name, (long)getpid(),
                     atomic_fetch_add(&tmp_counter, 1));
    if (w < 0 || (size_t)w >= sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    if (fd_write_all(fd, text, len) < 0 || fsync(fd) < 0) {
        int saved = errno;
        close(fd);
        unlinkat(dir_fd, tmp, 0);
        errno = saved;
        return -1;
    }
    if (close(fd) < 0 || renameat(dir_fd, tmp, dir_fd, name) < 0) {
        int saved = errno;
        unlinkat(dir_fd, tmp, 0);
        errno = saved;
        return -1;
    }
    return fsync(dir_fd);
}
