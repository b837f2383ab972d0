/* lib/unix_listen.c - see unix_listen.h. */
#include "config.h"

#include "lib/unix_listen.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/error.h"

int unix_listen_open(const char *path, mode_t mode, const struct privdrop_ids *ids, char **error_r)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sun.sun_path) {
        error_set(error_r, "socket %s: path too long", path);
        return -1;
    }
    memcpy(sun.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        error_set(error_r, "socket %s: %s", path, strerror(errno));
        return -1;
    }
    if (unlink(path) < 0 && errno != ENOENT) {
        error_set(error_r, "socket %s: unlink: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    /* The umask closes the window between bind and chmod. */
    mode_t old_umask = umask(0177);
    int r = bind(fd, (struct sockaddr *)&sun, sizeof sun);
    int saved = errno;
    umask(old_umask);
    if (r < 0) {
        error_set(error_r, "socket %s: bind: %s", path, strerror(saved));
        close(fd);
        return -1;
    }
    if (chmod(path, mode) < 0 || (geteuid() == 0 && chown(path, ids->uid, ids->gid) < 0) ||
        listen(fd, SOMAXCONN) < 0) {
        error_set(error_r, "socket %s: %s", path, strerror(errno));
        close(fd);
        unlink(path);
        return -1;
    }
    return fd;
}
