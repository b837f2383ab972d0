/* gateway/master_files.c - see master_files.h. */
#include "config.h"

#include "gateway/master_files.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/error.h"
#include "lib/log.h"

/* pid_file_write - open path and hold an fcntl write lock on it for the
 * master's whole life, then write our pid; *fd_r keeps the lock. Only a
 * held lock refuses the start: a stale file left by kill -9 (whose number
 * may now belong to any other process) is simply taken over. The lock is
 * not inherited by the children (fcntl locks belong to a process). */
int master_pid_file_write(const char *path, int *fd_r, char **error_r)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) {
        error_set(error_r, "pid file %s: %s", path, strerror(errno));
        return -1;
    }
    struct flock lock = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    if (fcntl(fd, F_SETLK, &lock) < 0) {
        int saved = errno;
        struct flock holder = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
        if ((saved == EAGAIN || saved == EACCES) && fcntl(fd, F_GETLK, &holder) == 0 &&
            holder.l_type != F_UNLCK)
            error_set(error_r, "pid file %s: dirmaild is already running as pid %ld", path,
                      (long)holder.l_pid);
        else
            error_set(error_r, "pid file %s: lock: %s", path, strerror(saved));
        close(fd);
        return -1;
    }
    char text[32];
    int n = snprintf(text, sizeof text, "%ld\n", (long)getpid());
    if (n < 0 || ftruncate(fd, 0) < 0 || pwrite(fd, text, (size_t)n, 0) != n) {
        error_set(error_r, "pid file %s: write: %s", path, strerror(errno));
        unlink(path);
        close(fd);
        return -1;
    }
    *fd_r = fd;
    return 0;
}

/* pid_file_remove - unlink path while still holding its lock (so that no
 * other dirmaild can have taken it over in between), then let the lock go. */
void master_pid_file_remove(const char *path, int *fd)
{
    if (*fd < 0)
        return;
    unlink(path);
    close(*fd);
    *fd = -1;
}

/* master_state_dir_prepare - create the state directory (mode 0750, owned
 * by the mail user) when it is missing. */
int master_state_dir_prepare(const struct config *conf, const struct privdrop_ids *ids,
                             char **error_r)
{
    const char *dir = conf->server.state_dir;
    if (mkdir(dir, 0750) == 0) {
        if (geteuid() == 0 && chown(dir, ids->uid, ids->gid) < 0) {
            error_set(error_r, "state_dir %s: chown: %s", dir, strerror(errno));
            return -1;
        }
        log_info("event=state_dir_created path=%s", dir);
    } else if (errno != EEXIST) {
        error_set(error_r, "state_dir %s: %s", dir, strerror(errno));
        return -1;
    }
    return 0;
}
