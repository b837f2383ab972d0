/* gateway/transport_smtp_conn_internal.h - what the two halves of an SMTP
 * client connection share: its state (struct smtp_conn, one step at a time)
 * and the helpers both call. transport_smtp_conn.c owns the connection
 * (addresses, greeting, EHLO, STARTTLS, idle, QUIT, replies);
 * transport_smtp_mail.c owns one message on it. Nothing else includes it. */
#ifndef DIRMAIL_GATEWAY_TRANSPORT_SMTP_CONN_INTERNAL_H
#define DIRMAIL_GATEWAY_TRANSPORT_SMTP_CONN_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gateway/transport_smtp_conn.h"
#include "proto/delivery_status.h"
#include "proto/smtp_client.h"

/* Message text read from the spool at once. */
#define BODY_CHUNK 65536
/* Recipients a job may have (the transport's max_rcpts). */
#define CONN_RCPTS_MAX 100

enum step {
    STEP_START, /* the first address is tried from the loop, never inside smtp_conn_new */
    STEP_CONNECT,
    STEP_GREETING,
    STEP_EHLO,
    STEP_HELO,
    STEP_STARTTLS,
    STEP_HANDSHAKE,
    STEP_AUTH, /* AUTH sent, or a response to a 334 */
    STEP_IDLE,
    STEP_RSET,
    STEP_MAIL, /* MAIL, RCPTs, DATA sent as the caps allow; replies read in order */
    STEP_BODY, /* the text going out */
    STEP_DOT,  /* waiting for the final reply */
    STEP_QUIT,
    STEP_CLOSED,
};

struct smtp_conn {
    struct event_loop *loop;
    const struct smtp_conn_settings *s;
    const struct smtp_conn_policy *policy;
    struct smtp_auth *auth; /* while STEP_AUTH */
    bool authed;            /* AUTH succeeded on this connection */
    const struct smtp_conn_events *ev;
    void *ctx;
    enum smtp_client_protocol protocol; /* SMTP, or LMTP (RFC 2033): the destination's */
    struct smtp_target targets[SMTP_TARGETS_MAX];
    size_t target_count, at; /* at: the address in use */
    bool plain_retry;        /* may: this address again without TLS */
    char peer[300];
    int fd; /* while connecting */
    struct event_io *connect_io;
    struct conn *conn;
    struct event_timer *timer;
    enum step step;
    bool reached;      /* an address greeted and took EHLO/HELO */
    bool tls_problem;  /* the last address failed for want of TLS */
    bool auth_problem; /* ... or because it refused our AUTH */
    struct smtp_client_reply reply;
    struct smtp_client_caps caps;
    bool ehlo_first_line;
    char error[DELIVERY_STATUS_TEXT_MAX];
    /* the transaction */
    struct transport_job *job;
    bool accepted[CONN_RCPTS_MAX];
    size_t accepted_count;
    size_t sent, answered; /* commands of MAIL (0), RCPTs (1..n), DATA (n+1) */
    size_t final_answered; /* replies to the final dot so far (LMTP: one per accepted RCPT) */
    bool mail_ok, data_ok, need_rset;
    int body_fd;
    uint64_t body_len, body_off; /* the message is the file's first body_len octets */
    bool eightbit;
    bool chunking;                /* the text goes as one BDAT LAST chunk (RFC 3030), not DATA */
    uint64_t bdat_len;            /* chunking: its octets once made CRLF */
    bool utf8;                    /* a non-ASCII address: SMTPUTF8 needed (RFC 6531) */
    struct smtp_client_hops hops; /* the message's Received: fields */
    struct smtp_client_dot dot;
    bool freeing;
};

/* smtp_conn_arm - the step's deadline: seconds from now. */
void smtp_conn_arm(struct smtp_conn *c, unsigned seconds);
/* smtp_conn_wait_for - the step now (a new reply expected), its deadline. */
void smtp_conn_wait_for(struct smtp_conn *c, enum step step, unsigned seconds);
/* smtp_conn_send_line - queue and flush a command line. */
void smtp_conn_send_line(struct smtp_conn *c, const char *line);
/* smtp_conn_lost - the connection failed (what: "timeout", "lost connection"). */
void smtp_conn_lost(struct smtp_conn *c, const char *what);
/* smtp_conn_finish - c is done for good (error NULL: a clean end). */
void smtp_conn_finish(struct smtp_conn *c, const char *error);
/* smtp_conn_job_end - every open recipient of the job gets status, the
 * owner gets the job. */
void smtp_conn_job_end(struct smtp_conn *c, enum delivery_status status, const char *arg);
/* smtp_conn_go_idle - between messages (RSET first after a cut one). */
void smtp_conn_go_idle(struct smtp_conn *c);

/* transport_smtp_mail.c: */
/* smtp_conn_transaction_reply - the reply to the next of MAIL, RCPTs, DATA. */
void smtp_conn_transaction_reply(struct smtp_conn *c);
/* smtp_conn_send_body - as much text as the connection takes now. */
void smtp_conn_send_body(struct smtp_conn *c);
/* smtp_conn_final_reply - the reply to the final dot. */
void smtp_conn_final_reply(struct smtp_conn *c);

#endif
