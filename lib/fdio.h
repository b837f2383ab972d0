/* lib/fdio.h - blocking writes to a file descriptor that finish the job:
 * short writes and EINTR are retried here, so a caller sees only "all
 * written" or a real error. Network connections use lib/conn instead. */
#ifndef DIRMAIL_FDIO_H
#define DIRMAIL_FDIO_H

#include <stddef.h>

/* fd_write_all - write all len bytes of data to fd: 0, or -1 with errno. */
int fd_write_all(int fd, const void *data, size_t len);

#endif
