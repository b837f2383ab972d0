/* queue/queue_inject.h - the one way a new message enters the spool: the
 * SMTP session streaming DATA, forward and group expansion, bounces, and
 * local delivery's Sieve redirects, vacation replies and quota warnings.
 * A message is begun, filled with bytes and copies of messages already
 * spooled, and committed with its envelope; once the commit returns it is
 * durable and the runner finds it. It never routes or delivers (the
 * runner does).
 *
 * What the commit adds to queue_msg_commit (queue.h), for every caller in
 * one place: an envelope without a sender or without recipients is refused
 * (mail that could never leave the spool; the null sender "" of a bounce is
 * a sender), and a message made here rather than received from a client
 * carries the same client facts wherever it was made (client-address
 * 127.0.0.1, client-helo "dirmail-<origin>").
 *
 * Threads: as queue_msg_* (queue.h): one struct queue_inject belongs to one
 * thread at a time; several may commit on one struct queue at once, and
 * their directory fsyncs are shared. */
#ifndef DIRMAIL_QUEUE_QUEUE_INJECT_H
#define DIRMAIL_QUEUE_QUEUE_INJECT_H

#include <stddef.h>

#include "queue/queue.h"

/* Where a message comes from. */
enum queue_origin {
    QUEUE_ORIGIN_CLIENT,    /* received over SMTP: the caller sets the client's facts */
    QUEUE_ORIGIN_EXPANSION, /* a forward or group expansion of a queued message */
    QUEUE_ORIGIN_BOUNCE,    /* a delivery status notification about a queued message */
    QUEUE_ORIGIN_DELIVERY,  /* made by local delivery: Sieve redirect, vacation, quota warning */
};

struct queue_inject;

/* queue_inject_begin - start a message from origin: a new id and its file in
 * tmp/. NULL and *error_r on failure. The id is known from here on (for a
 * Received or Message-ID field). */
struct queue_inject *queue_inject_begin(struct queue *queue, enum queue_origin origin,
                                        char **error_r);

/* queue_inject_id - the message's id (QUEUE_ID_LEN characters). */
const char *queue_inject_id(const struct queue_inject *inj);

/* queue_inject_write - append len octets (CRLF line endings, unstuffed). 0,
 * or -1 and *error_r; after a failure only queue_inject_abort is allowed. */
int queue_inject_write(struct queue_inject *inj, const void *data, size_t len, char **error_r);

/* queue_inject_copy - append the whole message of the spooled id (as it was
 * received, without its envelope): an expansion, a redirect or a bounce
 * with RET=FULL carries it. 0, or -1 and *error_r as queue_inject_write. */
int queue_inject_copy(struct queue_inject *inj, const char *id, char **error_r);

/* queue_inject_commit - check env, fill in the origin's client facts where
 * unset, and commit (queue_msg_commit): when it returns 0 the message is
 * durable and env->id, env->size and env->arrival are set. Frees the
 * message and NULLs *inj in every case; on -1 (*error_r) nothing of it is
 * left in the spool. */
int queue_inject_commit(struct queue_inject **inj, struct queue_envelope *env, char **error_r);

/* queue_inject_abort - drop an unfinished message and its file; NULL is fine. */
void queue_inject_abort(struct queue_inject **inj);

/* queue_origin_name - "client", "expansion", "bounce", "delivery". */
const char *queue_origin_name(enum queue_origin origin);

#endif
