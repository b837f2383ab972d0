/* auth/auth_process.h - the auth process's server: an event loop on the
 * listening UNIX socket the master made (<state_dir>/auth.sock) and passed
 * down. It owns the workers' connections to it. The request protocol (address
 * lookup, password check, user fetch) comes with the directory issue; until
 * then a connection is accepted, logged with the peer's credentials and
 * closed, so a caller sees EOF and treats it as a temporary failure. */
#ifndef DIRMAIL_AUTH_PROCESS_H
#define DIRMAIL_AUTH_PROCESS_H

#include <sys/types.h>

#include "conf/config.h"

/* auth_process_run - serve listen_fd until SIGTERM. Only root and allowed_uid
 * may talk to it (the socket's mode says so; SO_PEERCRED checks it again).
 * Returns the exit status: 0 after SIGTERM, 1 on a failure (logged). */
int auth_process_run(const struct config *conf, int listen_fd, uid_t allowed_uid);

#endif
