/* tools/dirmailctl_queue.h - "dirmailctl queue list|show|delete|bounce", and
 * flush|retry|hold|release through the runner's control socket:
 * what the spool holds, read straight from <state_dir>/queue while dirmaild
 * runs (safe without a lock: a committed spool file never changes and
 * status records are only appended, a torn last one ignored, queue.h), and
 * a message's recipients made final by appending records (bounce: its DSN
 * committed first). It never removes nor rewrites a spool file. */
#ifndef DIRMAIL_TOOLS_DIRMAILCTL_QUEUE_H
#define DIRMAIL_TOOLS_DIRMAILCTL_QUEUE_H

#include <stddef.h>

#include "conf/conf.h"

/* dirmailctl_queue - run "queue ARGS..." on conf's spool, printing to
 * stdout; the exit status (0, 1 no such message, 64 usage, 75 the spool
 * cannot be read). */
int dirmailctl_queue(const struct config *conf, char **args, size_t argc);

#endif
