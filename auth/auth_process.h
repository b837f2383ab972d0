/* auth/auth_process.h - the auth process's server: an event loop on the
 * listening UNIX socket the master made (<state_dir>/auth.sock) and passed
 * down. It owns the callers' connections, answers requests in the protocol of
 * doc/auth-protocol.md from the shared cache or through a fixed pool of
 * threads that ask the directory, and never blocks on LDAP itself. */
#ifndef DIRMAIL_AUTH_PROCESS_H
#define DIRMAIL_AUTH_PROCESS_H

#include <sys/types.h>

#include "auth/directory.h"
#include "conf/conf.h"

/* Bounds on what one caller can make the auth process hold. */
#define AUTH_MAX_CONNECTIONS 4096 /* callers at once; more are closed at accept */
#define AUTH_MAX_PENDING                                                                           \
    128                            /* requests in the threads per connection; then                 \
                                      reading stops until answers go out */
#define AUTH_MAX_OUTPUT (4u << 20) /* queued answer bytes per connection; likewise */

/* auth_process_run - serve listen_fd until SIGTERM, asking dir (owned by the
 * caller, made before the privilege drop) with conf->ldap.pool_size threads.
 * Only root and allowed_uid may talk to it (the socket's mode says so;
 * SO_PEERCRED checks it again). On SIGTERM it stops accepting and reading,
 * finishes the requests in flight, and returns. Returns the exit status: 0
 * after SIGTERM, 1 on a failure (logged). */
int auth_process_run(const struct config *conf, struct directory *dir, int listen_fd,
                     uid_t allowed_uid);

#endif
