/* delivery/lmtp_internal.h - what the two halves of the LMTP session share:
 * the session struct and state, and the calls between the session core
 * (lmtp_session.c: replies, command table, input, LHLO, MAIL, RCPT) and the
 * message (lmtp_message.c: DATA and BDAT into the spool file, the delivery
 * job, the replies per recipient). Only those two files include it. */
#ifndef DIRMAIL_DELIVERY_LMTP_INTERNAL_H
#define DIRMAIL_DELIVERY_LMTP_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "auth/auth_protocol.h"
#include "delivery/local_delivery.h"
#include "lib/address.h"
#include "lib/conn.h"
#include "proto/command_table.h"
#include "proto/line_session.h"
#include "proto/service.h"
#include "proto/smtp_data.h"
#include "proto/smtp_parse.h"
#include "proto/smtp_reply.h"

struct sasl_shared;

/* Where a session stands; the command table says what each state takes. */
enum lmtp_state {
    ST_GREETED,   /* greeting sent, no LHLO yet */
    ST_READY,     /* after LHLO, no transaction */
    ST_MAIL,      /* MAIL accepted, no recipient yet */
    ST_RCPT,      /* at least one recipient accepted */
    ST_DATA,      /* reading DATA lines */
    ST_BDAT,      /* reading a BDAT chunk */
    ST_BDAT_OPEN, /* a chunk (not LAST) was taken: BDAT, RSET, NOOP, QUIT only */
};
/* A directory answer or the deliveries outstanding, and the last words,
 * are the driver's (proto/line_session.h). */

#define S(st) COMMAND_STATE(st)

/* One accepted recipient: its address and what delivery needs of the
 * directory's entry (copied: the answer lives during its callback only). */
struct lmtp_rcpt {
    char address[ADDRESS_RENDER_MAX + 1];
    char *mailbox; /* owned; NULL: the default from primary */
    char *primary; /* owned; NULL: the address */
    char *sieve;   /* owned; the directory's script, NULL: none */
    unsigned long long quota;
    struct local_result result; /* filled by the delivery job */
};

struct lmtp {
    struct line_session ls; /* the connection's plumbing */
    struct service_session *ss;
    struct sasl_shared *shared; /* the process's pool and auth client */
    struct conn *conn;
    enum lmtp_state state;
    char id[32]; /* session id: logs, Received id */
    unsigned messages;
    char helo[SMTP_PARSE_LINE_MAX + 1];
    uint32_t auth_request; /* outstanding RESOLVE, 0 = none */

    /* the transaction */
    bool has_sender;
    char sender[ADDRESS_RENDER_MAX + 1]; /* "" for <> */
    struct lmtp_rcpt *rcpts;
    size_t rcpt_count;
    char tx_id[40]; /* this message's id: session id and its number */
    int spool_fd;   /* the message while it is received; -1 none */
    struct smtp_data data;
    uint64_t bdat_left;
    bool bdat_last;
    const struct smtp_reply *bdat_refusal; /* a chunk read only to be dropped */

    struct smtp_command cmd;
    char pending_addr[ADDRESS_RENDER_MAX + 1];
};

/* ---- the session core (lmtp_session.c) ---- */

void lmtp_reply(struct lmtp *s, int code, enum smtp_esc esc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void lmtp_reply_fixed(struct lmtp *s, const struct smtp_reply *r);
/* lmtp_wait_end - a waiting command's replies are queued: state next and
 * what the client pipelined (line_session_wait_end). */
void lmtp_wait_end(struct lmtp *s, enum lmtp_state next);

/* ---- the message (lmtp_message.c) ---- */

void lmtp_cmd_data(struct lmtp *s, struct smtp_command *cmd);
void lmtp_cmd_bdat(struct lmtp *s, struct smtp_command *cmd);
/* lmtp_bdat_read - read the chunk's octets; false when waiting. */
bool lmtp_bdat_read(struct lmtp *s);
/* lmtp_data_line - one line of DATA (conn_read_line's result r). */
void lmtp_data_line(struct lmtp *s, enum conn_result r, const struct conn_line *line);
/* lmtp_transaction_reset - drop the transaction (RSET, LHLO, the end). */
void lmtp_transaction_reset(struct lmtp *s);

#endif
