/* queue/queue_control.h - the queue runner's control protocol: one request
 * line from dirmailctl, one answer line from the runner, over the UNIX
 * socket <state_dir>/queue-control.sock. Its parser and the client side;
 * the runner's server is gateway/queue_runner_control.c. It changes no
 * message itself: a hold or release is a status record the client appends
 * first (queue_mark_hold), and the request only tells the runner.
 *
 * Request (at most QUEUE_CONTROL_LINE_MAX octets, LF-terminated):
 *     flush              every message not held: each deferred recipient now
 *     flush <id>         that message now (dirmailctl queue retry ID too)
 *     hold <id>          the message was put on hold: do not schedule it
 *     release <id>       the message was released: attempt it now
 * Answer: "ok <count>" (the messages the request applied to), "unknown"
 * (no such message in the runner's work list), "held" (flush of a held
 * message: release it first) or "error <text>". */
#ifndef DIRMAIL_QUEUE_QUEUE_CONTROL_H
#define DIRMAIL_QUEUE_QUEUE_CONTROL_H

#include <stdbool.h>
#include <stddef.h>

#include "queue/queue_envelope.h"

#define QUEUE_CONTROL_LINE_MAX 128
/* How long either side waits for the other's line. */
#define QUEUE_CONTROL_TIMEOUT_MS 5000

enum queue_control_cmd {
    QUEUE_CONTROL_FLUSH,
    QUEUE_CONTROL_HOLD,
    QUEUE_CONTROL_RELEASE,
};

/* What the runner says to one request. */
enum queue_control_answer {
    QUEUE_CONTROL_OK,
    QUEUE_CONTROL_UNKNOWN,
    QUEUE_CONTROL_HELD,
    QUEUE_CONTROL_ERROR,
};

/* queue_control_parse - one request line of len octets (without its LF).
 * true and *cmd_r and id_r ("" for a flush of everything), or false with
 * *why_r when the line is not a request. */
bool queue_control_parse(const char *line, size_t len, enum queue_control_cmd *cmd_r,
                         char id_r[QUEUE_ID_SIZE], const char **why_r);

/* queue_control_request - connect to the runner's socket at path, send
 * cmd for id (NULL or "": every message; FLUSH only) and read the answer:
 * 0 and *answer_r (with *count_r for OK); 1 when no runner listens (no
 * socket, connection refused: dirmaild is stopped); -1 and *error_r
 * (malloc'd) otherwise. Blocking, at most QUEUE_CONTROL_TIMEOUT_MS per step. */
int queue_control_request(const char *path, enum queue_control_cmd cmd, const char *id,
                          enum queue_control_answer *answer_r, unsigned long *count_r,
                          char **error_r);

#endif
