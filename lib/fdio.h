/* lib/fdio.h - blocking writes (and positioned reads) on a file descriptor
 * that finish the job: short transfers and EINTR are retried here, so a
 * caller sees only "all done" (or the end of the file) or a real error. Network connections use
 * lib/conn instead. */
#ifndef DIRMAIL_FDIO_H
#define DIRMAIL_FDIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* fd_write_all - write all len bytes of data to fd: 0, or -1 with errno. */
int fd_write_all(int fd, const void *data, size_t len);

/* fd_pread_all - len bytes of fd from offset off into buf: how many were
 * read (fewer only at the end of the file), or -1 with errno. */
ssize_t fd_pread_all(int fd, void *buf, size_t len, uint64_t off);

#endif
