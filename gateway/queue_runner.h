/* gateway/queue_runner.h - the queue runner process and its scheduler:
 * takes committed messages from the spool (<state_dir>/queue), keeps the
 * work list with each message's next retry (inotify on the spool, a scan as
 * backstop), and hands due messages to its delivery threads, never one
 * message to two at once. It never talks to the network and never reads the
 * directory itself (the auth process does).
 *
 * The runner in four parts, each its own module:
 *   scheduler   this file's queue_runner.c: work list, retries, inotify,
 *               threads, the spool lock
 *   attempt     queue_attempt.h: one thread's turn on a few messages: route,
 *               expand, group by next hop, hand to transports, record
 *   routing     queue_route.h: one table of cases from the directory's
 *               answer to a route (local mailbox, other node, relay next
 *               hop, expansion, deferred, failed); expansion: queue_expand.h
 *   transports  transport.h: local (transport_local.h), one per thread;
 *               the SMTP client (transport_smtp.h) for other nodes and
 *               relays, one for all threads and asynchronous: a message
 *               whose network jobs are in flight is parked (claimed, not
 *               holding a thread) until they finish, then a thread
 *               records it. Without it (it could not start), recipients
 *               there stay DEFERRED "4.4.0 awaiting outbound transport"
 *               (the LMTP client is to come)
 * Results: a failed recipient is logged (bounces are a later issue); a
 * directory error, a disk error or a full mailbox defers with a retry time.
 * A lock file makes sure two runners (old and new generation during a
 * reload) never work on the spool at once. */
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
