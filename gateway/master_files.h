/* gateway/master_files.h - the master's own files: the pid file whose lock
 * says a dirmaild runs, and the state directory its sockets live in. */
#ifndef DIRMAIL_GATEWAY_MASTER_FILES_H
#define DIRMAIL_GATEWAY_MASTER_FILES_H

#include "conf/conf.h"
#include "lib/privdrop.h"

/* master_pid_file_write - lock path for the master's life and write our pid
 * into it; *fd_r keeps the lock. -1 and *error_r when another dirmaild holds
 * it or the file cannot be written. */
int master_pid_file_write(const char *path, int *fd_r, char **error_r);

/* master_pid_file_remove - unlink path under its lock, then release it. */
void master_pid_file_remove(const char *path, int *fd);

/* master_state_dir_prepare - conf's state directory exists, owned by ids. */
int master_state_dir_prepare(const struct config *conf, const struct privdrop_ids *ids,
                             char **error_r);

#endif
