/* gateway/queue_expand.h - forward and group expansion: a queued message
 * sent on to the targets the directory names for one of its recipients, as
 * a new message injected into the spool (queue/queue_inject.h) with the same
 * sender and a "Delivered-To: <recipient>" line in front of the same bytes.
 * The Delivered-To line is also the loop check, as in Postfix's local(8).
 * It never delivers and never records the original recipient's result (the
 * runner does, after the commit returned). */
#ifndef DIRMAIL_GATEWAY_QUEUE_EXPAND_H
#define DIRMAIL_GATEWAY_QUEUE_EXPAND_H

#include "auth/auth_protocol.h"
#include "queue/queue.h"

enum queue_expand_loop {
    QUEUE_EXPAND_FIRST,      /* the message never went through the address */
    QUEUE_EXPAND_LOOP,       /* it did: a Delivered-To names it (5.4.6) */
    QUEUE_EXPAND_UNREADABLE, /* the message could not be read (temporary) */
};

/* queue_expand_loop_check - whether the header section of the spooled id
 * has a "Delivered-To: <address>" line (case-insensitive). */
enum queue_expand_loop queue_expand_loop_check(struct queue *queue, const char *id,
                                               const char *address);

/* queue_expand_commit - inject a new message for targets made from
 * recipient index of the spooled id (envelope env): same sender, ENVID and
 * RET; each target with the recipient's NOTIFY and ORCPT (RFC 3461 4.2: the
 * original recipient stays what the client named); "Delivered-To:
 * <recipient>" in front of the message. 0 once it is durable, with new_id;
 * -1 and *error_r (may stay NULL: out of memory) when nothing was queued. */
int queue_expand_commit(struct queue *queue, const char *id, const struct queue_envelope *env,
                        size_t index, const struct auth_strlist *targets,
                        char new_id[QUEUE_ID_SIZE], char **error_r);

#endif
