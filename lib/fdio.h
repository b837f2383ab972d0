/* lib/fdio.h - blocking reads and writes of a file descriptor that finish
 * the job: short transfers and EINTR are retried here, so a caller sees only
 * "all done" (or, reading, the end of the file) or a real error. Network
 * connections use lib/conn instead. */
#ifndef DIRMAIL_FDIO_H
#define DIRMAIL_FDIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* fd_write_all - write all len bytes of data to fd: 0, or -1 with errno. */
int fd_write_all(int fd, const void *data, size_t len);

/* fd_read_full - read into buf from fd's position until len bytes or the
 * end of the file: the count read (less than len only at the end), or -1
 * with errno. */
long long fd_read_full(int fd, void *buf, size_t len);

/* fd_pread_all - len bytes of fd from offset off into buf: how many were
 * read (fewer only at the end of the file), or -1 with errno. */
ssize_t fd_pread_all(int fd, void *buf, size_t len, uint64_t off);

#endif
