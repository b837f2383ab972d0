/* delivery/maildir_path.c - the safe walk from the mailbox base to a Maildir
 * (see maildir_path.h). */
#include "config.h"

#include "delivery/maildir_path.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/error.h"

const char *maildir_path_relative(const char *base, const char *mailbox)
{
    size_t base_len = strlen(base);

    if (mailbox[0] != '/')
        return mailbox;
    while (base_len > 1 && base[base_len - 1] == '/')
        base_len--;
    if (strncmp(mailbox, base, base_len) != 0 || mailbox[base_len] != '/')
        return NULL;
    return mailbox + base_len + 1;
}

bool maildir_path_component_valid(const char *s, size_t len)
{
    if (len == 0 || len > NAME_MAX)
        return false;
    if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f || c == '/')
            return false;
    }
    return true;
}

enum maildir_path_result maildir_path_walk(const char *base, const char *mailbox,
                                           maildir_path_step_fn *step, void *ctx, int *fd_r,
                                           char **error_r)
{
    const char *rel = maildir_path_relative(base, mailbox);
    if (rel == NULL || *rel == '\0' || *rel == '/') {
        error_set(error_r, "mailbox path is not below the mailbox base");
        return MAILDIR_PATH_UNSAFE;
    }
    int fd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        error_set(error_r, "open mailbox base %s: %s", base, strerror(errno));
        return MAILDIR_PATH_TEMPFAIL; /* a configuration or mount problem, not the recipient's */
    }
    for (const char *p = rel; *p != '\0';) {
        const char *slash = strchr(p, '/');
        size_t len = slash != NULL ? (size_t)(slash - p) : strlen(p);
        char comp[NAME_MAX + 1];
        int next = -1;

        if (!maildir_path_component_valid(p, len)) {
            close(fd);
            error_set(error_r, "mailbox path has an invalid component");
            return MAILDIR_PATH_UNSAFE;
        }
        memcpy(comp, p, len);
        comp[len] = '\0';
        enum maildir_path_result res = step(ctx, fd, comp, &next, error_r);
        close(fd);
        if (res != MAILDIR_PATH_OK)
            return res;
        fd = next;
        p += len;
        if (*p == '/') {
            p++;
            if (*p == '\0')
                break; /* one trailing slash */
        }
    }
    *fd_r = fd;
    return MAILDIR_PATH_OK;
}

enum maildir_path_result maildir_path_open_at(int dir_fd, const char *name, int *fd_r,
                                              char **error_r)
{
    int fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) {
        *fd_r = fd;
        return MAILDIR_PATH_OK;
    }
    if (errno == ELOOP || errno == ENOTDIR) {
        error_set(error_r, "mailbox path component \"%s\" is a symlink or not a folder", name);
        return MAILDIR_PATH_UNSAFE;
    }
    if (errno != ENOENT) {
        int err = errno;
        error_set(error_r, "open %s: %s", name, strerror(err));
        errno = err;
        return MAILDIR_PATH_TEMPFAIL;
    }
    return MAILDIR_PATH_MISSING;
}

/* open_step - maildir_path_open's step; ctx points to its create flag. */
static enum maildir_path_result open_step(void *ctx, int dir_fd, const char *name, int *fd_r,
                                          char **error_r)
{
    const bool *create = ctx;
    for (int tries = 0; tries < 3; tries++) {
        enum maildir_path_result res = maildir_path_open_at(dir_fd, name, fd_r, error_r);
        if (res != MAILDIR_PATH_MISSING)
            return res;
        if (!*create) {
            error_set(error_r, "mailbox path component \"%s\" does not exist", name);
            return MAILDIR_PATH_MISSING;
        }
        if (mkdirat(dir_fd, name, 0700) < 0 && errno != EEXIST) {
            error_set(error_r, "mkdir %s: %s", name, strerror(errno));
            return MAILDIR_PATH_TEMPFAIL;
        }
        if (fsync(dir_fd) < 0) {
            error_set(error_r, "fsync %s: %s", name, strerror(errno));
            return MAILDIR_PATH_TEMPFAIL;
        }
    }
    error_set(error_r, "open %s: keeps disappearing", name);
    return MAILDIR_PATH_TEMPFAIL;
}

enum maildir_path_result maildir_path_open(const char *base, const char *mailbox, bool create,
                                           int *fd_r, char **error_r)
{
    return maildir_path_walk(base, mailbox, open_step, &create, fd_r, error_r);
}
