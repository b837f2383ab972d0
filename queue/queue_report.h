/* queue/queue_report.h - a delivery status notification about a queued
 * message put into the spool: the original (or its header section) read
 * from the spool, the text built by queue/dsn.h, committed from the null
 * sender to the original sender through queue/queue_inject.h. Whom to
 * report and when is the caller's (the runner's gateway/queue_bounce.h,
 * dirmailctl queue bounce); it records no recipient result. */
#ifndef DIRMAIL_QUEUE_QUEUE_REPORT_H
#define DIRMAIL_QUEUE_QUEUE_REPORT_H

#include <stddef.h>

#include "queue/dsn.h"
#include "queue/queue.h"

/* queue_report_inject - commit one report of kind about the spooled id
 * (envelope env) for the count recipients in drcpts; hostname names us
 * (NULL: "localhost"), size_limit is queue.bounce_size_limit. When 0 is
 * returned the report is durable and its id is in new_id; -1 and *error_r
 * otherwise (nothing of it is left in the spool). */
int queue_report_inject(struct queue *queue, const char *hostname, unsigned size_limit,
                        const char *id, const struct queue_envelope *env, enum dsn_kind kind,
                        const struct dsn_rcpt *drcpts, size_t count, char new_id[QUEUE_ID_SIZE],
                        char **error_r);

#endif
