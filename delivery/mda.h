/* delivery/mda.h - the delivery agent's step for one message and one
 * recipient, the same for the LMTP service and dirmail-deliver: the check
 * for a delivery loop (Delivered-To), the choice of the folder, and the
 * filing through local_delivery (whose Maildir writer prepends Return-Path
 * and Delivered-To, RFC 5321 4.4). The folder is chosen in one place,
 * mda_choose_folder, which is where the Sieve step slots in: today it is
 * the folder the caller asked for, else INBOX. It never reads the directory
 * and never speaks a protocol. */
#ifndef DIRMAIL_DELIVERY_MDA_H
#define DIRMAIL_DELIVERY_MDA_H

#include <stdbool.h>
#include <stdint.h>

#include "auth/auth_protocol.h"
#include "delivery/local_delivery.h"

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
    /* Delivered-To fields naming this recipient that make the message a
     * loop: 1 for LMTP; dirmail-deliver 2, as the MTA that calls it has
     * just prepended its own (Postfix's local(8) does, after its own check). */
    unsigned loop_after;
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

/* mda_choose_folder - where the message goes for rcpt: the Sieve step's
 * place; today rcpt->folder (NULL: INBOX). */
const char *mda_choose_folder(const struct mda_message *msg, const struct mda_recipient *rcpt);

/* mda_add - msg for rcpt into batch (local_batch_add's contract: PENDING
 * until local_batch_settle fills out, or final at once). A loop fails at
 * once with 5.4.6. quota_permanent: delivery.quota_permanent. */
enum local_state mda_add(struct local_batch *batch, const struct mda_message *msg,
                         const struct mda_recipient *rcpt, bool quota_permanent, const char *log_id,
                         struct local_result *out);

#endif
