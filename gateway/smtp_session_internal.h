/* gateway/smtp_session_internal.h - what the two halves of the SMTP session
 * share: the session's state and struct, and the calls between the session
 * core (smtp_session.c: replies, the command table, input, AUTH, the end of
 * a session) and the mail transaction (smtp_transaction.c: MAIL, RCPT,
 * DATA, BDAT and the commit). Only those two files include it. */
#ifndef DIRMAIL_SMTP_SESSION_INTERNAL_H
#define DIRMAIL_SMTP_SESSION_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "proto/command_table.h"
#include "proto/line_session.h"
#include "proto/service.h"
#include "proto/session_sasl.h"
#include "proto/smtp_data.h"
#include "proto/smtp_parse.h"
#include "proto/smtp_reply.h"
#include "lib/address.h"

struct auth_async;
struct auth_client;
struct conn;
struct event_timer;
struct queue;
struct queue_envelope;
struct queue_inject;
struct sasl_exchange;
struct sasl_session;
struct sasl_shared;
struct threadpool;

/* What every session of a process shares. */
struct smtp_server {
    struct sasl_shared *shared; /* the process's: pool, auth clients, SASL */
    struct threadpool *pool;
    struct queue *queue;
    struct auth_async *async;
    struct auth_client *client; /* blocking: SASL's password check on pool threads */
    bool sasl_ready;
    struct recipient_verify *verify; /* probes of relay domains' next hops, made at the first */
};

/* Where a session stands; the command table (smtp_session.c) says which
 * commands each state takes. */
enum smtp_state {
    ST_PREGREET,  /* connected, banner not sent yet */
    ST_GREETED,   /* banner sent, no EHLO/HELO */
    ST_READY,     /* after EHLO/HELO, no transaction */
    ST_MAIL,      /* MAIL accepted, no recipient yet */
    ST_RCPT,      /* at least one recipient */
    ST_DATA,      /* reading DATA lines */
    ST_BDAT,      /* reading a BDAT chunk (s->msg: the message it adds to, if any) */
    ST_BDAT_OPEN, /* a BDAT chunk (not LAST) was taken: only BDAT, RSET, NOOP, QUIT */
};
/* A directory answer, a SASL step or the commit outstanding, the SASL
 * response line and the last words are the driver's (proto/line_session.h,
 * proto/session_sasl.h): the state stays where the command left it. */

#define S(st) COMMAND_STATE(st)

struct smtp {
    struct line_session ls;   /* the connection's plumbing; ls.tls: STARTTLS done or implicit */
    struct session_sasl auth; /* AUTH: base64, the SASL job, failure delays and limits */
    struct service_session *ss;
    struct smtp_server *srv;
    struct conn *conn;
    enum smtp_state state;
    struct event_timer *timer; /* pregreet */
    bool esmtp;
    bool trusted;
    char helo[SMTP_PARSE_LINE_MAX + 1];
    char *auth_user;
    struct sasl_session *sasl;
    uint32_t auth_request;         /* outstanding auth_async request id, 0 = none */
    struct recipient_probe *probe; /* the RCPT's next hop being asked, or NULL */

    /* the transaction */
    struct queue_envelope *env;
    bool tx_smtputf8;
    uint64_t tx_declared_size;
    unsigned rcpt_rejected;
    struct queue_inject *msg;
    struct smtp_data data;
    char *date_field; /* the submission fixups (malloc'd), for s->data */
    char *msgid_field;
    uint64_t bdat_left;
    bool bdat_last;
    const struct smtp_reply *bdat_refusal; /* chunk read only to be discarded */

    /* the command that waits */
    struct smtp_command cmd;
    char pending_addr[ADDRESS_RENDER_MAX + 1];

    /* pool job results */
    int commit_result;
    char *commit_error;
};

/* ---- the session core (smtp_session.c) ---- */

/* session_reply - queue one reply; counts errors for limits.errors. */
void session_reply(struct smtp *s, int code, enum smtp_esc esc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void session_reply_fixed(struct smtp *s, const struct smtp_reply *r);
/* session_wait_end - a waiting command was answered: go on in state next
 * with what the client pipelined (line_session_wait_end). */
void session_wait_end(struct smtp *s, enum smtp_state next);
/* session_is_submission - a submission service (not the MX). */
bool session_is_submission(const struct smtp *s);
/* session_out_of_sync - RFC 2920: true when the client sent more after a
 * command whose reply it must await, and the session is closing for it. */
bool session_out_of_sync(struct smtp *s, const char *what);

/* ---- the mail transaction (smtp_transaction.c) ---- */

void transaction_mail(struct smtp *s, struct smtp_command *cmd);
void transaction_rcpt(struct smtp *s, struct smtp_command *cmd);
void transaction_data(struct smtp *s, struct smtp_command *cmd);
void transaction_bdat(struct smtp *s, struct smtp_command *cmd);
/* transaction_bdat_read - read the chunk's octets; false when waiting. */
bool transaction_bdat_read(struct smtp *s);
/* transaction_message_end - the message is complete: refuse or commit it. */
void transaction_message_end(struct smtp *s);
/* transaction_reset - drop the transaction (RSET, EHLO, the end). */
void transaction_reset(struct smtp *s);

#endif
