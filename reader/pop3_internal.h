/* reader/pop3_internal.h - what the two halves of one POP3 session share,
 * and nothing else includes: pop3_session.c owns the session core (input,
 * ending, the command table) and the AUTHORIZATION state; pop3_transaction.c
 * the maildrop (opened on the worker's thread pool), TRANSACTION and UPDATE. */
#ifndef DIRMAIL_READER_POP3_INTERNAL_H
#define DIRMAIL_READER_POP3_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/line_session.h"
#include "proto/service.h"
#include "proto/session_sasl.h"
#include "reader/login_lookup.h"
#include "reader/pop3_maildrop.h"
#include "reader/pop3_parse.h"
#include "reader/pop3_reply.h"
#include "reader/pop3_stream.h"

struct proxy_login;
struct sasl_session;
struct sasl_exchange;
struct threadpool;

enum pop3_state {
    ST_AUTHORIZATION, /* RFC 1939 4 */
    ST_TRANSACTION,   /* RFC 1939 5: the maildrop is locked */
    ST_UPDATE,        /* RFC 1939 6: QUIT in TRANSACTION, deleting */
    ST_SENDING,       /* streaming a RETR/TOP response */
};

/* What a pool job of the session reads and writes (one at a time): the
 * maildrop's opening, or UPDATE's deletions. The loop thread leaves it
 * alone while job_running. */
struct pop3_job {
    char *mailbox; /* open: the directory's path (owned) */
    struct pop3_maildrop *md;
    enum pop3_maildrop_result result;
    char *error;
    size_t removed, failed; /* UPDATE */
};

struct pop3 {
    struct line_session ls;   /* the connection's plumbing (proto/line_session.h) */
    struct session_sasl auth; /* AUTH, and USER/PASS as PLAIN */
    struct service_session *ss;
    struct conn *conn;
    enum pop3_state state;
    struct sasl_session *sasl;
    char user[POP3_LINE_MAX + 1]; /* USER's name, "" when none */
    char *login;                  /* after a login */
    char *counted_as;             /* the DN counted in user_sessions, or NULL */
    struct login_lookup lookup;   /* the USER answer after the credentials */
    struct proxy_login *proxy;    /* logging in on the user's node (reader/proxy.h) */
    struct pop3_maildrop *md;
    struct pop3_job job;
    int msg_fd; /* RETR/TOP in progress, else -1 */
    struct pop3_stream stream;
    struct pop3_command cmd;
};

/* ---- pop3_session.c, for pop3_transaction.c ---- */

/* The worker's pool for the session's blocking work. */
struct threadpool *pop3_session_pool(void);
/* Queue a fixed reply; counts the client's errors. */
void pop3_session_reply(struct pop3 *p, enum pop3_reply id);
/* Last words, then close once they are out. */
void pop3_session_close_with(struct pop3 *p, enum pop3_reply id);
/* A wait is over: state next, input resumed and what was pipelined read. */
void pop3_session_wait_end(struct pop3 *p, enum pop3_state next);

/* pop3_session_hand_over - p freed but its connection (still attached,
 * input paused) and service session left to the caller: the proxy's. */
struct service_session *pop3_session_hand_over(struct pop3 *p);

/* ---- proxy_session.c ---- */
/* pop3_proxy_begin - the logged-in user's maildrop is on host: continue
 * there (the session is in ST_WAIT; the answer follows). false when this
 * node does not proxy. */
bool pop3_proxy_begin(struct pop3 *p, const char *host);

/* ---- pop3_transaction.c ---- */

/* pop3_transaction_open - lock and list mailbox (the directory's path; the
 * session waits) on the pool; the answer to the login and the
 * TRANSACTION state follow on the loop. */
void pop3_transaction_open(struct pop3 *p, const char *mailbox);

/* pop3_transaction_stream - queue more of the RETR/TOP being sent while the
 * socket takes it; true when it is all queued (back in TRANSACTION). */
bool pop3_transaction_stream(struct pop3 *p);

/* The TRANSACTION commands, as the command table calls them; QUIT in
 * TRANSACTION enters UPDATE (RFC 1939 6). */
void pop3_transaction_stat(struct pop3 *p, struct pop3_command *cmd);
void pop3_transaction_list(struct pop3 *p, struct pop3_command *cmd);
void pop3_transaction_uidl(struct pop3 *p, struct pop3_command *cmd);
void pop3_transaction_dele(struct pop3 *p, struct pop3_command *cmd);
void pop3_transaction_rset(struct pop3 *p, struct pop3_command *cmd);
void pop3_transaction_retr(struct pop3 *p, struct pop3_command *cmd);
void pop3_transaction_top(struct pop3 *p, struct pop3_command *cmd);
void pop3_transaction_quit(struct pop3 *p);

#endif
