/* gateway/queue_runner_control.h - the queue runner's control socket
 * (queue/queue_control.h is its protocol): accepts dirmailctl's
 * connections on the runner's event loop, checks that the peer is root or
 * the runner's own user, reads one request line and answers it with what
 * the runner's callback says. It schedules nothing itself. */
#ifndef DIRMAIL_GATEWAY_QUEUE_RUNNER_CONTROL_H
#define DIRMAIL_GATEWAY_QUEUE_RUNNER_CONTROL_H

#include "queue/queue_control.h"

struct event_loop;
struct queue_runner_control;

/* queue_runner_control_fn - apply cmd to the message id ("" for every
 * message: FLUSH only); *count_r the messages it applied to. */
typedef enum queue_control_answer queue_runner_control_fn(void *ctx, enum queue_control_cmd cmd,
                                                          const char *id, unsigned long *count_r);

/* queue_runner_control_open - listen at path (mode 0600: root and the
 * runner's user; a stale socket there is replaced) on loop. NULL and
 * *error_r (malloc'd) on failure. */
struct queue_runner_control *queue_runner_control_open(struct event_loop *loop, const char *path,
                                                       queue_runner_control_fn *fn, void *ctx,
                                                       char **error_r);

/* queue_runner_control_free - close the socket and every open connection;
 * NULLs *qc. The socket's file stays: a runner of the next generation may
 * have bound the path already. */
void queue_runner_control_free(struct queue_runner_control **qc);

#endif
