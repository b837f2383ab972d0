/* gateway/queue_runner.h - the queue runner process: takes committed
 * messages from the spool (<state_dir>/queue), routes every recipient
 * through the auth process and delivers local ones into Maildirs, recording
 * each result in the spool before moving on. It never talks to the network
 * and never reads the directory itself (the auth process does).
 *
 * Routing per recipient (the directory decides, errors are temporary):
 *   LOCAL          Maildir below delivery.mailbox_base: the entry's mailbox,
 *                  or <domain>/<local>/Maildir of its primary address
 *   FORWARD, GROUP expanded into a new spool message (see queue_runner.c)
 *   REMOTE_NODE, RELAY, NOT_OURS
 *                  stay DEFERRED, "awaiting outbound transport" (the SMTP/
 *                  LMTP client is a later issue): never lost, never bounced
 *   UNKNOWN, INVALID, DISABLED (not held)
 *                  FAILED (bounces are a later issue: logged)
 *   TEMPFAIL, disk errors, quota
 *                  DEFERRED with a retry time
 * One process: the main thread watches the spool and hands each message to
 * one of queue.delivery_threads delivery threads (never to two at once);
 * the recipients of one message go in turn. A lock file makes sure two
 * runners (old and new generation during a reload) never work on the spool
 * at once.
 *
 * What is fsync'd when, per recipient delivered locally:
 *   1. the Maildir file in tmp/, then new/ after the link (maildir.h);
 *   2. only then the result: queue_mark_recipient (the status file), or,
 *      when it was the last recipient not yet final, queue_remove (the
 *      envelope unlinked and active/ fsync'd) without a mark first.
 * A kill -9 between 1 and 2 delivers that recipient again after the restart:
 * at most one recipient per delivery thread; a recorded result is never
 * redone. */
#ifndef DIRMAIL_GATEWAY_QUEUE_RUNNER_H
#define DIRMAIL_GATEWAY_QUEUE_RUNNER_H

#include "conf/conf.h"
#include "lib/privdrop.h"

struct queue_runner_params {
    const struct config *config;
    const struct privdrop_ids *ids; /* the mail user to drop to */
};

/* queue_runner_main - become the runner; called in the child right after
 * fork. On SIGTERM it finishes the message it is delivering and exits 0; it
 * exits 1 if it cannot drop privileges or open the spool. Never returns. */
void queue_runner_main(const struct queue_runner_params *params) __attribute__((noreturn));

/* queue_runner_spool_path - "<state_dir>/queue", malloc'd (NULL: no memory). */
char *queue_runner_spool_path(const struct config *conf);

#endif
