/* proto/smtp_reply.h - SMTP replies: the one table of enhanced status codes
 * (RFC 3463 and the IANA registry of RFC 5248), the formatter of (multi-line)
 * replies, and the reply for every smtp_parse_result. Nobody types "5.1.1" by
 * hand: they name a constant here. It never writes to the network itself. */
#ifndef DIRMAIL_SMTP_REPLY_H
#define DIRMAIL_SMTP_REPLY_H

#include <stddef.h>

#include "proto/smtp_data.h"
#include "proto/session_sasl.h"
#include "proto/smtp_parse.h"

/* Enhanced status code subject.detail (the class comes from the reply code:
 * 2xx -> 2, 4xx -> 4, 5xx -> 5). Names follow the registry's titles. */
enum smtp_esc {
    SMTP_ESC_NONE = 0, /* no code: 220 greeting, EHLO/HELO replies (RFC 2034 3), 354 */
    SMTP_ESC_OTHER,    /* X.0.0 Other undefined status (RFC 3463) */
    /* address status */
    SMTP_ESC_ADDRESS_OTHER,     /* X.1.0 Other address status; 250 2.1.0 sender ok */
    SMTP_ESC_BAD_DEST_MAILBOX,  /* X.1.1 Bad destination mailbox address */
    SMTP_ESC_BAD_DEST_SYSTEM,   /* X.1.2 Bad destination system address */
    SMTP_ESC_BAD_DEST_SYNTAX,   /* X.1.3 Bad destination mailbox address syntax */
    SMTP_ESC_DEST_VALID,        /* X.1.5 Destination address valid (250 2.1.5) */
    SMTP_ESC_MAILBOX_MOVED,     /* X.1.6 Destination mailbox has moved */
    SMTP_ESC_BAD_SENDER_SYNTAX, /* X.1.7 Bad sender's mailbox address syntax */
    SMTP_ESC_BAD_SENDER_SYSTEM, /* X.1.8 Bad sender's system address */
    SMTP_ESC_NULL_MX,           /* X.1.10 Recipient address has null MX (RFC 7505) */
    /* mailbox status */
    SMTP_ESC_MAILBOX_OTHER,    /* X.2.0 Other or undefined mailbox status */
    SMTP_ESC_MAILBOX_DISABLED, /* X.2.1 Mailbox disabled, not accepting messages */
    SMTP_ESC_MAILBOX_FULL,     /* X.2.2 Mailbox full */
    SMTP_ESC_MESSAGE_TOO_LONG, /* X.2.3 Message length exceeds administrative limit */
    /* mail system status */
    SMTP_ESC_SYSTEM_OTHER,    /* X.3.0 Other or undefined mail system status (4.3.0 no memory) */
    SMTP_ESC_SYSTEM_FULL,     /* X.3.1 Mail system full (disk) */
    SMTP_ESC_NOT_ACCEPTING,   /* X.3.2 System not accepting network messages (shutdown) */
    SMTP_ESC_MESSAGE_TOO_BIG, /* X.3.4 Message too big for system (552 5.3.4) */
    SMTP_ESC_SYSTEM_MISCONFIGURED, /* X.3.5 System incorrectly configured */
    /* network and routing status */
    SMTP_ESC_NETWORK_OTHER,     /* X.4.0 Other or undefined network or routing status */
    SMTP_ESC_NO_ANSWER,         /* X.4.1 No answer from host (connection refused, timed out) */
    SMTP_ESC_BAD_CONNECTION,    /* X.4.2 Bad connection (timeouts) */
    SMTP_ESC_ROUTING_FAILURE,   /* X.4.4 Unable to route (DNS) */
    SMTP_ESC_DIRECTORY_FAILURE, /* X.4.3 Directory server failure (LDAP down: 451 4.4.3) */
    SMTP_ESC_CONGESTION,        /* X.4.5 Mail system congestion */
    SMTP_ESC_ROUTING_LOOP,      /* X.4.6 Routing loop detected */
    SMTP_ESC_DELIVERY_EXPIRED,  /* X.4.7 Delivery time expired */
    /* mail delivery protocol status */
    SMTP_ESC_PROTOCOL_OTHER,      /* X.5.0 Other or undefined protocol status */
    SMTP_ESC_INVALID_COMMAND,     /* X.5.1 Invalid command (bad sequence: 503 5.5.1) */
    SMTP_ESC_SYNTAX_ERROR,        /* X.5.2 Syntax error (500 5.5.2) */
    SMTP_ESC_TOO_MANY_RECIPIENTS, /* X.5.3 Too many recipients (452 4.5.3) */
    SMTP_ESC_INVALID_ARGUMENTS,   /* X.5.4 Invalid command arguments (501/555 5.5.4) */
    SMTP_ESC_WRONG_PROTOCOL,      /* X.5.5 Wrong protocol version */
    SMTP_ESC_AUTH_LINE_TOO_LONG,  /* X.5.6 Authentication exchange line too long (RFC 4954) */
    /* message content or media status */
    SMTP_ESC_MEDIA_OTHER,         /* X.6.0 Other or undefined media error: bare CR/LF in DATA */
    SMTP_ESC_MEDIA_NOT_SUPPORTED, /* X.6.1 Media not supported */
    SMTP_ESC_CONVERSION_REQUIRED, /* X.6.3 Conversion required and prohibited */
    SMTP_ESC_NON_ASCII_ADDRESS,   /* X.6.7 Non-ASCII addresses not permitted (RFC 6531) */
    /* security or policy status */
    SMTP_ESC_SECURITY_OTHER,      /* X.7.0 Other security status (530 5.7.0 auth required,
                                     454 4.7.0 temporary auth failure, RFC 4954 6) */
    SMTP_ESC_NOT_AUTHORIZED,      /* X.7.1 Delivery not authorized (relay denied) */
    SMTP_ESC_AUTH_SUCCEEDED,      /* X.7.0 spelled for 235 2.7.0 (RFC 4954 6) */
    SMTP_ESC_AUTH_INVALID,        /* X.7.8 Authentication credentials invalid (RFC 4954) */
    SMTP_ESC_AUTH_TOO_WEAK,       /* X.7.9 Authentication mechanism is too weak (RFC 4954) */
    SMTP_ESC_ENCRYPTION_NEEDED,   /* X.7.10 Encryption needed (RFC 5248) */
    SMTP_ESC_ENCRYPTION_FOR_MECH, /* X.7.11 Encryption required for requested mechanism */
    SMTP_ESC_PASSWORD_TRANSITION, /* X.7.12 A password transition is needed (RFC 4954) */
    SMTP_ESC_ACCOUNT_DISABLED,    /* X.7.13 User account disabled (RFC 5248) */
    SMTP_ESC_COUNT
};

/* The room one enhanced status code takes in text: "5.1.10" and a NUL. */
#define SMTP_ESC_TEXT_MAX 12
/* RFC 5321 4.5.3.1.5: a reply line is at most 512 octets with its CRLF. */
#define SMTP_REPLY_LINE_MAX 512

/* smtp_esc_text - write "C.S.D" for a reply code's class into out[0..size)
 * (with a NUL). Returns its length, 0 when the code carries none (esc NONE,
 * or a 1xx/3xx reply), -1 when it does not fit or code is not 200..599. */
int smtp_esc_text(enum smtp_esc esc, int code, char *out, size_t size);

/* smtp_reply_format - format a complete reply into out[0..size) with a NUL:
 * text holds one or more lines separated by '\n'; each becomes
 * "CODE-ESC line\r\n", the last "CODE ESC line\r\n" (RFC 5321 4.2.1). An empty
 * text gives "CODE ESC\r\n"-style lines without text. Returns the length, or
 * -1 when code is not 200..599, text holds CR or another control octet, a
 * line would exceed SMTP_REPLY_LINE_MAX, or out is too small. */
int smtp_reply_format(char *out, size_t size, int code, enum smtp_esc esc, const char *text);

/* A fixed reply. */
struct smtp_reply {
    int code;
    enum smtp_esc esc;
    const char *text;
};

/* smtp_reply_parse_error - the reply for a failed parse (SMTP_PARSE_OK gives
 * NULL). The constant struct lives forever. */
const struct smtp_reply *smtp_reply_parse_error(enum smtp_parse_result result);

/* smtp_reply_data_error - the reply that refuses a message for its DATA/BDAT
 * reader's verdict (SMTP_DATA_OK gives NULL); the same for both commands.
 * The constant struct lives forever. */
const struct smtp_reply *smtp_reply_data_error(enum smtp_data_verdict verdict);

/* Temporary failures of the mail transaction on our side (RFC 5321 4.2.2:
 * 451 "local error in processing"). */
enum smtp_tempfail {
    SMTP_TEMPFAIL_QUEUE,  /* the spool refused to begin or commit the message */
    SMTP_TEMPFAIL_MEMORY, /* out of memory */
};

/* smtp_reply_tempfail - the 451 4.3.0 for a local failure; the constant
 * struct lives forever. */
const struct smtp_reply *smtp_reply_tempfail(enum smtp_tempfail failure);

/* The replies of the message's transfer that SMTP and LMTP share. */
enum smtp_transfer_reply {
    SMTP_TRANSFER_NO_RECIPIENTS, /* DATA or BDAT before any accepted RCPT: 554 5.5.1 */
    SMTP_TRANSFER_BAD_SEQUENCE,  /* BDAT outside a transaction: 503 5.5.1 */
    SMTP_TRANSFER_START_DATA,    /* DATA's go-ahead: 354 */
};

/* smtp_reply_transfer - the reply; the constant struct lives forever. */
const struct smtp_reply *smtp_reply_transfer(enum smtp_transfer_reply which);

/* What the spool's file system allows (queue.min_free, issue 10 section 7). */
enum smtp_storage {
    SMTP_STORAGE_FULL,    /* free space below the reserve: 452 4.3.1 */
    SMTP_STORAGE_UNKNOWN, /* the free space could not be read: 451 4.3.0 */
};

/* smtp_reply_storage - the reply that refuses MAIL FROM or a BDAT chunk for
 * the spool's free space; always a 4xx (RFC 5321 4.2.2 and 4.5.3.1.10, RFC
 * 1870 6.1: 452 for a temporary lack of storage), never a 5xx. The constant
 * struct lives forever. */
const struct smtp_reply *smtp_reply_storage(enum smtp_storage storage);

/* smtp_reply_sasl_refusal - the AUTH reply to an exchange that ended
 * short of a login (proto/session_sasl.h). */
const struct smtp_reply *smtp_reply_sasl_refusal(enum session_sasl_refusal why);

#endif
