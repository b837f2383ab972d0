/* gateway/master.h - the supervisor (root): binds the listeners, reads the
 * TLS key, owns the auth socket, the pid file and the shared connection
 * table, starts the auth process and the workers, restarts any that dies,
 * and handles SIGHUP (reload) and SIGTERM (graceful stop). It never reads a
 * byte from the network. */
#ifndef DIRMAIL_MASTER_H
#define DIRMAIL_MASTER_H

#include <stdbool.h>

#include "conf/conf.h"

/* master_run - supervise until SIGTERM/SIGINT. conf is taken over (freed by
 * the master). config_path must be absolute (children and reloads read it
 * after chdir("/")). foreground keeps logging on stderr whatever the
 * configuration says. Returns the process exit status: 0 after a clean stop,
 * 1 when starting failed (logged). */
int master_run(struct config *conf, const char *config_path, bool foreground);

#endif
