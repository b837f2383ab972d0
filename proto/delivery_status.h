/* proto/delivery_status.h - the one table of what a recipient's delivery
 * attempt can end with when it does not end delivered: its class
 * (temporary 4.x.x or permanent 5.x.x), reply code, enhanced status code
 * (smtp_reply.h) and text. The queue runner records these for a recipient
 * and LMTP answers with them; nobody types "4.2.2" by hand. It never decides which
 * one applies, and never writes anywhere. */
#ifndef DIRMAIL_PROTO_DELIVERY_STATUS_H
#define DIRMAIL_PROTO_DELIVERY_STATUS_H

#include <stdbool.h>
#include <stddef.h>

/* One row each; the comment is the text written ("%s": the argument). */
enum delivery_status {
    DELIVERY_STATUS_MAILBOX_FULL,       /* 4.2.2 mailbox full: %s */
    DELIVERY_STATUS_MAILBOX_FULL_PERM,  /* 5.2.2 mailbox full: %s */
    DELIVERY_STATUS_MAILBOX_UNUSABLE,   /* 5.3.5 mailbox unusable: %s */
    DELIVERY_STATUS_DELIVERY_FAILED,    /* 4.3.0 delivery failed: %s */
    DELIVERY_STATUS_NO_MEMORY,          /* 4.3.0 out of memory */
    DELIVERY_STATUS_NO_MAILBOX_PATH,    /* 4.3.5 no mailbox path can be derived from ... */
    DELIVERY_STATUS_MESSAGE_UNREADABLE, /* 4.3.0 cannot read the queued message: %s */
    DELIVERY_STATUS_MESSAGE_UNREADABLE_NO_REASON, /* 4.3.0 cannot read the queued message */
    DELIVERY_STATUS_EXPANSION_FAILED,             /* 4.3.0 cannot queue the expansion: %s */
    DELIVERY_STATUS_FORWARDING_LOOP,              /* 5.4.6 mail forwarding loop for %s */
    DELIVERY_STATUS_AWAITING_TRANSPORT,           /* 4.4.0 awaiting outbound transport (%s) */
    DELIVERY_STATUS_NO_SUCH_RECIPIENT,            /* 5.1.1 <%s>: no such recipient here */
    DELIVERY_STATUS_DIRECTORY_UNAVAILABLE,        /* 4.4.3 directory unavailable: %s */
    DELIVERY_STATUS_MAILBOX_HELD,                 /* 4.2.1 mailbox held */
    DELIVERY_STATUS_DISABLED_HELD,                /* 4.2.1 mailbox disabled, mail held */
    DELIVERY_STATUS_MAILBOX_DISABLED,             /* 5.2.1 <%s>: mailbox disabled */
    /* the SMTP client (gateway/transport_smtp.c); a peer's own reply is
     * recorded with its code by delivery_status_format_remote */
    DELIVERY_STATUS_BAD_NEXT_HOP,     /* 4.3.5 next hop unusable: %s */
    DELIVERY_STATUS_CONNECT_FAILED,   /* 4.4.1 %s */
    DELIVERY_STATUS_CONNECTION_LOST,  /* 4.4.2 %s */
    DELIVERY_STATUS_DNS_TEMPFAIL,     /* 4.4.3 DNS lookup failed: %s */
    DELIVERY_STATUS_DNS_NO_HOST,      /* 5.1.2 no such domain or host: %s */
    DELIVERY_STATUS_NULL_MX,          /* 5.1.10 domain accepts no mail (null MX, RFC 7505): %s */
    DELIVERY_STATUS_TLS_UNAVAILABLE,  /* 4.7.10 TLS required, but %s */
    DELIVERY_STATUS_NEXT_HOP_AUTH,    /* 4.7.8 AUTH to the next hop failed: %s */
    DELIVERY_STATUS_TOO_BIG_FOR_PEER, /* 5.3.4 message too big for the next hop: %s */
    DELIVERY_STATUS_8BIT_TO_7BIT,     /* 5.6.3 8-bit message, 8BITMIME not offered by %s */
    DELIVERY_STATUS_7BIT_FAILED,      /* 4.3.0 cannot convert the message to 7-bit: %s */
    DELIVERY_STATUS_TOO_MANY_HOPS,    /* 5.4.6 too many Received header fields (%s): mail loop */
    DELIVERY_STATUS_UTF8_TO_ASCII,    /* 5.6.7 non-ASCII address, SMTPUTF8 not offered by %s */
    DELIVERY_STATUS_SHUTDOWN,         /* 4.3.2 shutting down */
    /* the bounce policy (gateway/queue_bounce.c) and dirmailctl queue */
    DELIVERY_STATUS_EXPIRED,        /* 4.4.7 delivery time expired: %s */
    DELIVERY_STATUS_ADMIN_DELETED,  /* 5.0.0 deleted by the administrator */
    DELIVERY_STATUS_ADMIN_RETURNED, /* 5.0.0 returned to the sender by the administrator */
    /* LMTP's RCPT: it delivers to mailboxes of this node only */
    DELIVERY_STATUS_MAILBOX_ELSEWHERE, /* 4.4.0 mailbox on node %s, not here */
    DELIVERY_STATUS_NOT_A_MAILBOX,     /* 5.1.1 <%s>: not a mailbox (forward, group, relay) */
    DELIVERY_STATUS_DOMAIN_NOT_HERE,   /* 5.1.2 <%s>: domain not handled here */
    /* the recipient's Sieve script (delivery/mda_sieve.c) */
    DELIVERY_STATUS_SIEVE_REJECTED, /* 5.7.1 rejected by the recipient's filter: %s */
    DELIVERY_STATUS_SIEVE_TEMPFAIL, /* 4.3.0 filter could not be run now: %s */
    DELIVERY_STATUS_COUNT
};

/* Room for any status text: a reply line (RFC 5321 4.5.3.1.5). */
#define DELIVERY_STATUS_TEXT_MAX 512

/* delivery_status_reply_code - the SMTP/LMTP reply code that carries
 * status (452, 552, 451, 550, ...); 451 for a status outside the table. */
int delivery_status_reply_code(enum delivery_status status);

/* delivery_status_permanent - true for a 5.x.x status (never retried). */
bool delivery_status_permanent(enum delivery_status status);

/* delivery_status_format - "C.S.D text" into out[0..size) with a NUL, the
 * row's "%s" replaced by arg (NULL: ""; rows without one ignore it); a
 * text too long is cut. Returns the length written, or -1 for a status
 * outside the table (out is then ""). arg is copied as it is: it is never
 * read as a format. */
int delivery_status_format(char *out, size_t size, enum delivery_status status, const char *arg);

/* delivery_status_format_remote - a peer's reply as a result: "C.S.D
 * text" with the peer's enhanced code esc when it has one of its reply's
 * class ("5.1.1"), else the class's X.0.0 (RFC 3463 3.1, what a reply
 * without one means). permanent: the class 5 (else 4). Cut to fit; returns
 * the length. */
int delivery_status_format_remote(char *out, size_t size, bool permanent, const char *esc,
                                  const char *text);

/* delivery_status_format_peer - a peer's reply to one of our commands as a
 * result, in the one form delivery_status_peer_parts reads back: "C.S.D
 * host PEER said: REPLY (in reply to COMMAND)" (C.S.D as in
 * delivery_status_format_remote). Cut to fit; returns the length. */
int delivery_status_format_peer(char *out, size_t size, bool permanent, const char *esc,
                                const char *peer, const char *said, const char *command);

/* delivery_status_peer_parts - what a result made by
 * delivery_status_format_peer (and kept in the spool since) says: the
 * peer's host name (PEER before its "[address]:port"; "" for a UNIX
 * socket, which has no DNS name) into mta, and its reply as it said it
 * ("552 5.2.2 text") into said: RFC 3464 2.3.5's Remote-MTA and 2.3.6's
 * Diagnostic-Code. false when result is not a peer's. */
bool delivery_status_peer_parts(const char *result, char *mta, size_t mta_size, char *said,
                                size_t said_size);

#endif
