/* lib/fdio.c - see fdio.h. */
#include "config.h"

#include "lib/fdio.h"

#include <errno.h>
#include <stdbool.h>
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

/* read_until - read() or, when positioned, pread() from off, until len
 * bytes or the end of the file: the count, or -1 with errno. */
static ssize_t read_until(int fd, void *buf, size_t len, bool positioned, uint64_t off)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = positioned ? pread(fd, (char *)buf + got, len - got, (off_t)(off + got))
                               : read(fd, (char *)buf + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

long long fd_read_full(int fd, void *buf, size_t len)
{
    return read_until(fd, buf, len, false, 0);
}

ssize_t fd_pread_all(int fd, void *buf, size_t len, uint64_t off)
{
    return read_until(fd, buf, len, true, off);
}
