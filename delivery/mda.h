/* delivery/mda.h - the delivery agent's step for one message and one
 * recipient, the same for the queue runner's local transport, the LMTP
 * service and dirmail-deliver: the check for a delivery loop
 * (Delivered-To), the Maildir's default folders at its first delivery, the
 * user's Sieve scripts (mda_sieve.h) and their actions carried out (stores
 * with flags, discard, reject, redirect and vacation through the queue,
 * mda_notify.h), the quota warning, and the filing through local_delivery
 * (whose Maildir writer prepends Return-Path and Delivered-To, RFC 5321
 * 4.4). It never reads the directory and never speaks a protocol. */
#ifndef DIRMAIL_DELIVERY_MDA_H
#define DIRMAIL_DELIVERY_MDA_H

#include <stdbool.h>
#include <stdint.h>

#include "auth/auth_protocol.h"
#include "conf/conf.h"
#include "delivery/local_delivery.h"
#include "queue/queue.h"

/* What every delivery of a process (or of one queue runner thread) shares:
 * the configuration, the compiled scripts, the queue that redirects,
 * vacation replies and warnings go into. */
struct mda;

/* mda_new - conf and queue are borrowed and must outlive it; queue may be
 * NULL (then a delivery that must send mail is deferred, and warnings are
 * not sent); hostname NULL: conf's. NULL when out of memory. */
struct mda *mda_new(const struct config *conf, const char *hostname, struct queue *queue);
void mda_free(struct mda **mda);

/* mda_local_config - the configuration for local_batch_new. */
const struct local_delivery_config *mda_local_config(const struct mda *mda);

/* One received message: a file (CRLF line endings) that the step reads
 * with pread, so that every recipient reads it from its start. */
struct mda_message {
    int fd;
    uint64_t len;
    const char *sender; /* envelope sender, "" for <> */
};

/* One recipient, from the directory's answer. Strings are borrowed. */
struct mda_recipient {
    const char *address;  /* the envelope recipient (Delivered-To, logs) */
    const char *mailbox;  /* the directory's mailbox path; NULL: the default from primary */
    const char *primary;  /* the entry's primary address */
    uint64_t quota_bytes; /* 0: no limit */
    const char *folder;   /* the folder asked for (dirmail-deliver -m); NULL: INBOX */
    const char *sieve;    /* the directory's dirmailSieve; NULL: none */
    /* Delivered-To fields naming this recipient that make the message a
     * loop: 1 for LMTP; dirmail-deliver 2, as the MTA that calls it has
     * just prepended its own (Postfix's local(8) does, after its own check). */
    unsigned loop_after;
    /* Exactly once across crashes (local_delivery_request): the queue
     * runner's key; a second store of one message gets it with "S<n>". */
    const char *stable_key;
    long long stable_time;
    bool check_delivered;
    /* Told when the result is final (may be NULL). */
    local_settled_fn *settled;
    void *settled_ctx;
};

/* mda_recipient_check - whether the directory's answer to RESOLVE address
 * (status, entry r or NULL, error: the reason of a TEMPFAIL) is a mailbox
 * this node files into: true, or false with *status_r and *arg_r (borrowed,
 * for delivery_status_format) saying why not. The delivery agent files into
 * this node's mailboxes only: a forward, a group or a relay needs the queue
 * and is the SMTP gateway's (5.1.1); a mailbox on another node is 4.4.0
 * (temporary: the directory may be mid-move); held 4.2.1; disabled 5.2.1;
 * anything but FOUND or NOTFOUND is the directory's failure, 4.4.3. */
bool mda_recipient_check(enum auth_status status, const struct auth_recipient *r, const char *error,
                         const char *address, enum delivery_status *status_r, const char **arg_r);

/* mda_delivered_to_count - the Delivered-To fields of msg's header section
 * whose value is address (case-insensitively, RFC 5321 2.4 domains; local
 * parts as the directory compares them). At most the first 256 KiB are read:
 * a header section longer than the content policy allows was refused. */
unsigned mda_delivered_to_count(const struct mda_message *msg, const char *address);

/* mda_add - msg for rcpt into batch (local_batch_add's contract: PENDING
 * until local_batch_settle fills out, or final at once, rcpt->settled
 * told). A loop fails at once with 5.4.6, a Sieve reject with 5.7.1 (the
 * caller's protocol refuses with it, or its bounce is the DSN); what Sieve
 * cannot do now (its store, the queue) defers. When the script keeps the
 * message in several folders, all but the last are made durable here and
 * the last joins the batch. */
enum local_state mda_add(struct mda *mda, struct local_batch *batch, const struct mda_message *msg,
                         const struct mda_recipient *rcpt, const char *log_id,
                         struct local_result *out);

#endif
