/* gateway/queue_attempt.h - one runner thread's attempt on a few messages the
 * scheduler (queue_runner.c) has claimed for it: every due recipient routed
 * (the directory's answer through the auth process, relay/queue_route.h),
 * forwards and groups expanded (queue_expand.h), the other recipients
 * grouped by route and each group handed to its transport in one call
 * (transport.h), and then every result recorded in the spool and finished
 * messages removed. It decides nothing about which messages or when, except
 * each deferred recipient's next retry.
 *
 * What is fsync'd when, per recipient delivered locally:
 *   1. the Maildir file in tmp/, then new/ after the link (maildir.h), at
 *      the local transport's flush;
 *   2. only then the result: queue_mark_recipients (the status file), or,
 *      when every recipient of the message is final, queue_remove_stage and
 *      one queue_sync for the whole attempt (the removal is the record).
 * A kill -9 between 1 and 2 leaves deliveries made and unrecorded: their
 * Maildir files carry a stable name (queue id and recipient index), so the
 * attempt after the restart finds them instead of delivering again. */
#ifndef DIRMAIL_GATEWAY_QUEUE_ATTEMPT_H
#define DIRMAIL_GATEWAY_QUEUE_ATTEMPT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "auth/auth_client.h"
#include "conf/conf.h"
#include "relay/queue_route.h"
#include "gateway/transport.h"
#include "queue/queue.h"

/* Messages in one attempt: under load they queue up while the threads
 * work, and one attempt on several shares its fsyncs. */
#define QUEUE_ATTEMPT_MAX 16
/* How long a held message waits before the runner reads its status again
 * (a release through the control socket makes it due at once; this is the
 * backstop for a release written while the socket was not answering). */
#define QUEUE_ATTEMPT_HOLD_RECHECK (24 * 3600)

/* A message whose turn waits on network jobs (queue_attempt_run parked it):
 * the attempt's thread went on, the results arrive later on the transport's
 * thread, and queue_attempt_finish records them. */
struct queue_attempt_turn;

/* What an attempt tells the work list about one message. */
struct queue_attempt_result {
    /* Not NULL: the message is still in flight on the network and nothing
     * else here applies but new_ids; its own result comes from
     * queue_attempt_finish (queue_attempt_turn_result). The work list keeps
     * it claimed until then: it is never attempted twice at once. */
    struct queue_attempt_turn *parked;
    bool gone;                      /* it no longer exists (removed, or never complete) */
    bool held;                      /* on hold (queue_mark_hold): not attempted */
    time_t due;                     /* otherwise: when to look at it again */
    bool uncertain;                 /* results of this attempt may be unrecorded */
    char (*new_ids)[QUEUE_ID_SIZE]; /* expansions committed on the way */
    size_t new_count, new_alloc;
};

/* queue_attempt_result_clear - free what res holds and zero it. */
void queue_attempt_result_clear(struct queue_attempt_result *res);

/* queue_attempt_parked_fn - the last job of parked turn has finished; called
 * once, on the thread of the transport that finished it, which must not
 * record it (the runner hands it to one of its threads:
 * queue_attempt_finish). */
typedef void queue_attempt_parked_fn(void *arg, struct queue_attempt_turn *turn);

/* What every attempt of one thread uses; all of it the thread's own but
 * queue (thread-safe, shared by the runner's threads so that their removals
 * share each fsync of active/) and the network transports (thread-safe,
 * one for all the runner's threads, transport.h). */
struct queue_attempt_ctx {
    const struct config *conf;
    const char *spool; /* the spool's folder, to tell a vanished message */
    struct queue *queue;
    struct auth_client *auth;
    /* The transport of each route kind that has one: LOCAL, NODE, RELAY;
     * NULL where none is configured (the recipient waits, deferred). */
    struct transport *transports[QUEUE_ROUTE_KIND_COUNT];
    /* Told when a parked turn's results are all in (NULL: no transport of
     * this ctx is asynchronous, nothing is ever parked). */
    queue_attempt_parked_fn *parked_done;
    void *parked_arg;
};

/* One message of an attempt. */
struct queue_attempt_msg {
    const char *id;
    /* An earlier attempt may have delivered without recording it (found by
     * the runner's first scan, or after a failed mark). */
    bool check;
    /* dirmailctl queue flush/retry: every deferred recipient is tried now,
     * whatever its next retry time says. */
    bool force;
    struct queue_attempt_result *res; /* filled in */
};

/* queue_attempt_run - attempt count (at most QUEUE_ATTEMPT_MAX) messages:
 * route, expand, deliver, record, remove; each one's res says what the work
 * list should do with it. */
void queue_attempt_run(struct queue_attempt_ctx *ctx, const struct queue_attempt_msg *msgs,
                       size_t count);

/* queue_attempt_finish - record the results of count parked turns whose
 * jobs have all finished (ctx->parked_done told of each), as
 * queue_attempt_run records a turn that was not parked: marks, removals
 * sharing one queue_sync. Afterwards each turn's result
 * (queue_attempt_turn_result) says what the work list should do; the
 * caller frees the turns. On a runner thread, never the transport's. */
void queue_attempt_finish(struct queue_attempt_ctx *ctx, struct queue_attempt_turn *const *turns,
                          size_t count);

/* queue_attempt_turn_id - the parked message's id. */
const char *queue_attempt_turn_id(const struct queue_attempt_turn *turn);

/* queue_attempt_turn_result - after queue_attempt_finish: what the work list
 * does with the message (new_ids stay in the first, parking result). */
struct queue_attempt_result *queue_attempt_turn_result(struct queue_attempt_turn *turn);

/* queue_attempt_turn_free - free *turn and NULL it; NULL is fine. A turn
 * whose jobs have not all finished may be freed only once every transport
 * that has one of them is freed (transport_free abandons them): its results
 * are then never recorded and the message is attempted again after the
 * restart. */
void queue_attempt_turn_free(struct queue_attempt_turn **turn);

#endif
