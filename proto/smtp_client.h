/* proto/smtp_client.h - the client side of SMTP and LMTP (RFC 2033, a mode
 * of the same client) at the protocol level: a server's (multi-line) replies read line by line with
 * their enhanced status codes (RFC 5321 4.2, RFC 2034), the EHLO keywords a client acts on, the
 * MAIL FROM and RCPT TO commands with their parameters, and the message text made safe to send
 * (CRLF only, dot-stuffed, RFC 5321 4.5.2). It owns no socket, no timer and no choice of host:
 * gateway/transport_smtp.c drives it. */
#ifndef DIRMAIL_PROTO_SMTP_CLIENT_H
#define DIRMAIL_PROTO_SMTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A reply is kept for logs and results up to this much text. */
#define SMTP_CLIENT_TEXT_MAX 400
/* More lines than this in one reply is a broken server. */
#define SMTP_CLIENT_REPLY_LINES_MAX 100

/* One reply being read, then complete. */
struct smtp_client_reply {
    int code;                        /* 200..599 once the first line is read */
    char esc[16];                    /* the enhanced code of the first line, or "" */
    char text[SMTP_CLIENT_TEXT_MAX]; /* lines' text (codes removed) joined by "; " */
    size_t lines;
    bool complete;
};

enum smtp_client_feed {
    SMTP_CLIENT_MORE, /* a continuation line: feed the next */
    SMTP_CLIENT_DONE, /* the last line: reply complete */
    SMTP_CLIENT_BAD,  /* not a reply line, a code that changed, too many lines */
};

/* smtp_client_reply_reset - empty r for the next reply. */
void smtp_client_reply_reset(struct smtp_client_reply *r);

/* smtp_client_reply_feed - one line (without CRLF) of a reply into r. The
 * line's text (after "250-" or "250 ") is returned in *text_r (may be
 * NULL), for EHLO keywords. */
enum smtp_client_feed smtp_client_reply_feed(struct smtp_client_reply *r, const char *line,
                                             size_t len, const char **text_r);

/* smtp_client_reply_describe - "550 5.1.1 text" as the peer said it, into
 * out[0..size), cut to fit. */
void smtp_client_reply_describe(const struct smtp_client_reply *r, char *out, size_t size);

/* The two dialects. LMTP (RFC 2033) is SMTP with LHLO for EHLO (no HELO
 * to fall back on, 4.1) and, after the final dot, one reply per recipient
 * whose RCPT was accepted, in RCPT order (4.2): each recipient is
 * delivered, deferred or failed by its own reply. */
enum smtp_client_protocol {
    SMTP_CLIENT_SMTP,
    SMTP_CLIENT_LMTP,
};

/* smtp_client_protocol_name - "smtp", "lmtp". */
const char *smtp_client_protocol_name(enum smtp_client_protocol protocol);

/* smtp_client_hello_command - "EHLO name\r\n" ("HELO" when helo, SMTP
 * only; "LHLO" for LMTP) into out; -1 when it does not fit. */
int smtp_client_hello_command(char *out, size_t size, enum smtp_client_protocol protocol, bool helo,
                              const char *name);

/* smtp_client_final_replies - how many replies the final dot gets when
 * accepted recipients were taken: one for SMTP, one each for LMTP (none
 * taken: the one reply to an empty transaction). */
size_t smtp_client_final_replies(enum smtp_client_protocol protocol, size_t accepted);

/* What a server's EHLO reply offers that the client uses. */
struct smtp_client_caps {
    bool pipelining;   /* RFC 2920 */
    bool starttls;     /* RFC 3207 */
    bool eightbit;     /* RFC 6152 8BITMIME */
    bool dsn;          /* RFC 3461 */
    bool smtputf8;     /* RFC 6531 */
    bool chunking;     /* RFC 3030 BDAT */
    bool size;         /* RFC 1870 */
    uint64_t size_max; /* SIZE's limit, 0: none given */
    bool auth_plain, auth_login;
};

/* smtp_client_caps_line - one line's text of an EHLO reply (the first line
 * is the server's name: pass first = true) into caps. */
void smtp_client_caps_line(struct smtp_client_caps *caps, const char *text, bool first);

/* smtp_client_mail_command - "MAIL FROM:<sender>[ SIZE=n][ BODY=8BITMIME]
 * [ SMTPUTF8][ RET=..][ ENVID=..]\r\n" into out (SMTPUTF8, RFC 6531 3.4, when
 * smtputf8: the transaction has a non-ASCII address), envid (as the envelope keeps it,
 * decoded) written as xtext (RFC 3461 4); ret/envid NULL when absent (passed
 * on only when the peer offers DSN). -1 when it does not fit (RFC 5321
 * 4.5.3.1.4: 512 octets plus what the extensions add). */
int smtp_client_mail_command(char *out, size_t size, const char *sender, uint64_t message_size,
                             bool eightbit, bool smtputf8, const char *ret, const char *envid);

/* smtp_client_bdat_command - "BDAT len[ LAST]\r\n" (RFC 3030 2); -1 when
 * it does not fit. */
int smtp_client_bdat_command(char *out, size_t size, uint64_t len, bool last);

/* smtp_client_rcpt_command - "RCPT TO:<rcpt>[ NOTIFY=..][ ORCPT=..]\r\n";
 * notify/orcpt NULL when absent. -1 when it does not fit. */
int smtp_client_rcpt_command(char *out, size_t size, const char *rcpt, const char *notify,
                             const char *orcpt);

/* The message text on its way out: every line ends in CRLF whatever ended
 * it in the spool (a bare LF or a bare CR becomes CRLF, so that a message
 * received by BDAT cannot end the peer's DATA early: the 2023 smuggling
 * class), and a line that begins with "." gets another (RFC 5321 4.5.2). */
struct smtp_client_dot {
    bool line_start; /* the next octet begins a line */
    bool cr;         /* the last octet was a CR not yet known to be a line end */
    bool bdat;       /* for BDAT (RFC 3030): line ends made CRLF, no dot-stuffing, no dot */
};

/* smtp_client_dot_init - before the first octet, for DATA. */
void smtp_client_dot_init(struct smtp_client_dot *d);

/* smtp_client_bdat_init - before the first octet, for one BDAT chunk: the
 * line ends are made CRLF all the same (what the next hop relays on may be
 * DATA), but nothing is dot-stuffed and no dot ends it. */
void smtp_client_bdat_init(struct smtp_client_dot *d);

/* smtp_client_dot_encode - encode in[0..len) into out, which has room for
 * 2 * len + 2 octets; returns the octets written. */
size_t smtp_client_dot_encode(struct smtp_client_dot *d, const char *in, size_t len, char *out);

/* smtp_client_dot_end - what ends the text: a CRLF if the last line lacked
 * one, then ".\r\n" (DATA only); into out (room for 6); returns the octets
 * written. */
size_t smtp_client_dot_end(struct smtp_client_dot *d, char *out);

/* Counting the Received: fields of a message's header section as its text
 * streams by (RFC 5321 6.3: a message that has passed too many hops is in
 * a loop). Zero it, feed every chunk in order; count stops growing at the
 * end of the header section. */
struct smtp_client_hops {
    unsigned count;
    size_t matched; /* octets of "received:" matched at the start of a line */
    bool mid_line;  /* not at the start of a line */
    bool done;      /* the empty line ending the header section was seen */
    bool empty;     /* the line so far is empty ("" or a lone CR) */
};

/* smtp_client_hops_feed - the next len octets of the message. */
void smtp_client_hops_feed(struct smtp_client_hops *h, const char *data, size_t len);

/* smtp_client_has_8bit - whether data[0..len) holds an octet above 127. */
bool smtp_client_has_8bit(const char *data, size_t len);

#endif
