/* queue/dsn.h - the text of an RFC 3464 delivery status notification about
 * a queued message: multipart/report (RFC 6522) with a plain-words part, the
 * message/delivery-status fields and the original (whole or its header
 * section), ready to inject from the null sender. Which recipients are
 * reported and when is the caller's (gateway/queue_bounce.h); this module
 * only builds text, it never reads the spool nor writes anywhere. */
#ifndef DIRMAIL_QUEUE_DSN_H
#define DIRMAIL_QUEUE_DSN_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "queue/queue_envelope.h"

/* RFC 3464 2.3.3 Action. */
enum dsn_action {
    DSN_ACTION_FAILED,
    DSN_ACTION_DELAYED,
    DSN_ACTION_DELIVERED,
    DSN_ACTION_RELAYED,
    DSN_ACTION_EXPANDED,
};

/* What the notification as a whole is about: its Subject and opening
 * words. */
enum dsn_kind {
    DSN_KIND_FAILURE, /* "Undelivered Mail Returned to Sender" */
    DSN_KIND_DELAY,   /* "Delayed Mail (still being retried)" */
    DSN_KIND_SUCCESS, /* "Successful Mail Delivery Report" */
};

/* One recipient's block. */
struct dsn_rcpt {
    size_t index; /* into the original envelope's rcpts */
    enum dsn_action action;
    const char *reply;      /* "C.S.D text": Status and Diagnostic-Code; NULL: 2.0.0, none */
    const char *remote_mta; /* the peer that gave the reply; NULL: we did */
    const char *diagnostic; /* the peer's reply as it said it ("552 5.2.2 text"); NULL: reply's */
    time_t last_attempt;    /* Last-Attempt-Date; 0: none */
    time_t retry_until;     /* DELAYED: Will-Retry-Until; 0: none */
};

/* The original as the report carries it (RFC 3461 4.3 RET, RFC 3462 /
 * RFC 6522 section 3). */
struct dsn_original {
    const char *text; /* the message as spooled (CRLF), or its header section */
    size_t len;
    bool headers_only; /* text/rfc822-headers rather than message/rfc822 */
};

struct dsn_report {
    enum dsn_kind kind;
    const char *hostname;             /* Reporting-MTA, From: MAILER-DAEMON@hostname */
    const char *message_id;           /* the local part of the new Message-ID (its queue id) */
    const struct queue_envelope *env; /* the original's: sender, ENVID, arrival, ORCPTs */
    const struct dsn_rcpt *rcpts;
    size_t count;
    struct dsn_original original;
    time_t now; /* Date */
};

/* Octets of a DSN's text lines (the original aside): well within the 998 of
 * RFC 5322 2.1.1, since no value written is longer than a reply line. */
#define DSN_LINE_MAX 998

/* dsn_notify_wants - whether a recipient whose NOTIFY is notify (enum
 * queue_notify bits, 0: none given) asks for a report of kind. RFC 3461
 * 4.1: NEVER excludes all; without NOTIFY a failure is reported and a
 * delay is the MTA's choice (reported: the caller only asks when delay
 * warnings are configured, as Postfix does); success only when asked. */
bool dsn_notify_wants(unsigned notify, enum dsn_kind kind);

/* dsn_header_section_len - the length of text[0..len)'s header section,
 * the empty line that ends it included, or len when it has none. */
size_t dsn_header_section_len(const char *text, size_t len);

/* dsn_build - the whole notification (header and body, CRLF line ends) as
 * a malloc'd *text_r of *len_r octets, with a boundary found nowhere in the
 * parts. 0, or -1 and *error_r (out of memory, a recipient index outside
 * the envelope, no recipients). */
int dsn_build(const struct dsn_report *report, char **text_r, size_t *len_r, char **error_r);

/* dsn_action_name - "failed", "delayed", "delivered", "relayed", "expanded". */
const char *dsn_action_name(enum dsn_action action);

#endif
