/* gateway/queue_bounce.h - what the sender of a queued message is told
 * after an attempt, and when: the recipients that failed in it (one DSN),
 * those still deferred past queue.max_age (failed, 4.4.7, in that DSN),
 * the one delay warning after queue.delay_warning, success reports that
 * NOTIFY=SUCCESS asks for; never a report to the null sender. The report's
 * text is queue/dsn.h's; it enters the spool through queue/queue_inject.h.
 * It decides no delivery and writes no result but the "warned" record: the
 * runner (queue_attempt.c) records the results it hands back.
 *
 * Ordering, so that a crash loses no bounce: the runner calls this after
 * its transports are flushed and before it marks the results, and a DSN is
 * committed (durable) before its recipients are marked FAILED. Should the
 * DSN not be queued, its recipients come back DEFERRED (retried soon; the
 * bounce is tried again after the next failure). A crash between the DSN's
 * commit and the mark retries those recipients after the restart, which
 * can send the DSN a second time: at most twice, never lost. */
#ifndef DIRMAIL_GATEWAY_QUEUE_BOUNCE_H
#define DIRMAIL_GATEWAY_QUEUE_BOUNCE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "conf/conf.h"
#include "queue/queue.h"

/* One recipient of the message as the attempt leaves it; the caller fills
 * one per envelope recipient, in order. */
struct queue_bounce_rcpt {
    bool tried;                  /* in/out: has a result from this attempt */
    enum queue_rcpt_state state; /* in/out: that result (tried) */
    time_t when;                 /* in/out: DEFERRED: the next retry */
    char *reply;                 /* in/out: its reply, a DELIVERY_STATUS_TEXT_MAX buffer */
    bool local;                  /* DELIVERED into a mailbox here */
    bool expanded;               /* DELIVERED by a forward or group expansion */
    bool relayed;                /* DELIVERED to a next hop that will not report (no DSN) */
    const char *remote_mta;      /* the peer whose reply it is, or NULL */
};

/* queue_bounce_attempt - after an attempt on the message id (envelope env,
 * as loaded before it): expire what is past queue.max_age, queue the DSNs
 * due, record delay warnings sent. rcpts has env->rcpt_count entries; a
 * recipient whose state it changes comes back tried, for the caller to
 * record. */
void queue_bounce_attempt(const struct config *conf, struct queue *queue, const char *id,
                          const struct queue_envelope *env, struct queue_bounce_rcpt *rcpts,
                          time_t now);

#endif
