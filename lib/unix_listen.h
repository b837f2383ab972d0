/* lib/unix_listen.h - a listening UNIX stream socket at a path, with its
 * mode and owner set before anyone can connect: the auth socket, and the
 * sockets of services such as LMTP. */
#ifndef DIRMAIL_LIB_UNIX_LISTEN_H
#define DIRMAIL_LIB_UNIX_LISTEN_H

#include <sys/types.h>

#include "lib/privdrop.h"

/* unix_listen_open - bind a non-blocking listening socket at path (a stale
 * one there is replaced), mode as given (created under umask 0177, so no
 * one else can connect before the chmod), owned by ids when running as
 * root. The fd, or -1 and *error_r. */
int unix_listen_open(const char *path, mode_t mode, const struct privdrop_ids *ids, char **error_r);

#endif
