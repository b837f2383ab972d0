/* delivery/sieve_active.c - see sieve_active.h. */
#include "config.h"

#include "delivery/sieve_active.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/error.h"
#include "lib/fdio.h"
#include <stdint.h>

/* script_name_ok - the link's target is one visible file name "NAME.sieve":
 * what the store writes, and nothing that could leave sieve/. */
static bool script_name_ok(const char *target, size_t len)
{
    static const char suffix[] = ".sieve";
    if (len <= sizeof suffix - 1 || target[0] == '.' ||
        memcmp(target + len - (sizeof suffix - 1), suffix, sizeof suffix - 1) != 0)
        return false;
    for (size_t i = 0; i < len; i++)
        if (target[i] == '/' || (unsigned char)target[i] < 0x20 || target[i] == 0x7f)
            return false;
    return true;
}

enum sieve_active_result sieve_active_load(int root_fd, size_t max, char **text_r, size_t *len_r,
                                           char **name_r, char **error_r)
{
    *text_r = *name_r = NULL;
    *len_r = 0;
    int dir_fd = openat(root_fd, SIEVE_ACTIVE_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dir_fd < 0) {
        if (errno == ENOENT)
            return SIEVE_ACTIVE_NONE;
        error_set(error_r, "open sieve/: %s", strerror(errno));
        return errno == ENOTDIR || errno == ELOOP ? SIEVE_ACTIVE_REFUSED : SIEVE_ACTIVE_TEMPFAIL;
    }
    char target[NAME_MAX + 1];
    ssize_t n = readlinkat(dir_fd, SIEVE_ACTIVE_LINK, target, sizeof target - 1);
    if (n < 0) {
        int err = errno;
        close(dir_fd);
        if (err == ENOENT)
            return SIEVE_ACTIVE_NONE;
        error_set(error_r, "sieve/.active: %s", strerror(err));
        /* EINVAL: .active is not a symlink, which the store never writes */
        return err == EINVAL ? SIEVE_ACTIVE_REFUSED : SIEVE_ACTIVE_TEMPFAIL;
    }
    target[n] = '\0';
    if (!script_name_ok(target, (size_t)n)) {
        close(dir_fd);
        error_set(error_r, "sieve/.active points outside sieve/ or not at a .sieve file");
        return SIEVE_ACTIVE_REFUSED;
    }
    int fd = openat(dir_fd, target, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    close(dir_fd);
    if (fd < 0) {
        int err = errno;
        if (err == ENOENT)
            return SIEVE_ACTIVE_NONE; /* a dangling link: as good as none */
        error_set(error_r, "sieve/%s: %s", target, strerror(err));
        return err == ELOOP ? SIEVE_ACTIVE_REFUSED : SIEVE_ACTIVE_TEMPFAIL;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        error_set(error_r, "sieve/%s: %s", target, strerror(errno));
        close(fd);
        return SIEVE_ACTIVE_TEMPFAIL;
    }
    if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > max) {
        close(fd);
        error_set(error_r, "sieve/%s: %s", target,
                  S_ISREG(st.st_mode) ? "larger than the script size limit" : "not a file");
        return SIEVE_ACTIVE_REFUSED;
    }
    char *text = malloc((size_t)st.st_size + 1);
    if (text == NULL) {
        close(fd);
        error_set(error_r, "out of memory");
        return SIEVE_ACTIVE_TEMPFAIL;
    }
    long long have = fd_read_full(fd, text, (size_t)st.st_size);
    close(fd);
    if (have != (long long)st.st_size) {
        free(text);
        error_set(error_r, "sieve/%s: short read", target);
        return SIEVE_ACTIVE_TEMPFAIL;
    }
    text[have] = '\0';
    *name_r = strndup(target, (size_t)n - (sizeof ".sieve" - 1));
    if (*name_r == NULL) {
        free(text);
        error_set(error_r, "out of memory");
        return SIEVE_ACTIVE_TEMPFAIL;
    }
    *text_r = text;
    *len_r = have;
    return SIEVE_ACTIVE_FOUND;
}
