/* lib/fdio.c - see fdio.h. */
#include "config.h"

#include "lib/fdio.h"

#include <errno.h>
#include <unistd.h>

int fd_write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

long long fd_read_full(int fd, void *buf, size_t len)
{
    char *p = buf;
    size_t have = 0;
    while (have < len) {
        ssize_t n = read(fd, p + have, len - have);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (n == 0)
            break;
        have += (size_t)n;
    }
    return (long long)have;
}
