/* proto/session_sasl.h - the SASL exchange (proto/sasl_exchange.h) as a line
 * session runs it: the command that begins it, the challenge and the
 * client's response lines (their own limit, RFC 4954 4 / RFC 5034 4 / RFC
 * 3501 6.2.2), the wait for a step or a failure delay, and the outcome made
 * into one of a few refusals that the protocol answers from its reply
 * table, and the end of the session when a failure limit is reached. The protocol frames its own
 * replies; what follows a good login (a reply, or a wait for the directory)
 * is its own. */
#ifndef DIRMAIL_PROTO_SESSION_SASL_H
#define DIRMAIL_PROTO_SESSION_SASL_H

#include <stdbool.h>
#include <stddef.h>

#include "proto/line_session.h"
#include "proto/sasl_exchange.h"

struct threadpool;

/* Every way an exchange can end short of a login. */
enum session_sasl_refusal {
    SESSION_SASL_FAILED,               /* bad credentials, after the delay */
    SESSION_SASL_FAILED_ADDRESS_LIMIT, /* ... and the address's limit is reached */
    SESSION_SASL_FAILED_SESSION_LIMIT, /* ... and the session's limit is reached */
    SESSION_SASL_TEMPFAIL,             /* directory or auth process: never "bad credentials" */
    SESSION_SASL_BAD_PROTOCOL,         /* the mechanism refused the response */
    SESSION_SASL_BAD_BASE64,           /* the response was no base64 */
    SESSION_SASL_CANCELLED,            /* the client sent "*" */
    SESSION_SASL_NO_MECHANISM,         /* unknown or not offered here */
    SESSION_SASL_ENCRYPTION_REQUIRED,  /* a plaintext mechanism without TLS */
    SESSION_SASL_ADDRESS_BLOCKED,      /* the address was over its limit already */
    SESSION_SASL_LINE_TOO_LONG,        /* a response line over SASL_EXCHANGE_LINE_LIMIT */
    SESSION_SASL_REFUSAL_COUNT,
};

/* The bit of a refusal in session_sasl_proto.ends. */
#define SESSION_SASL_BIT(why) (1u << (why))

struct session_sasl_proto {
    /* Frame the challenge (base64, may be "") as a continuation line. */
    void (*challenge)(void *ctx, const char *b64);
    /* The credentials are good (sasl_exchange_user): true when the
     * protocol waits now (line_session_wait_begin), false when it has
     * answered and input goes on. */
    bool (*success)(void *ctx);
    /* Queue the protocol's reply to why, and its last words too when why
     * is one of ends. */
    void (*refuse)(void *ctx, enum session_sasl_refusal why);
    /* The refusals after which the session ends (the failure limits). */
    unsigned ends;
};

/* One session's exchange, embedded in the protocol's session. */
struct session_sasl {
    struct line_session *ls;
    const struct session_sasl_proto *proto;
    struct sasl_exchange *sx;
    size_t line_limit;     /* the command lines' limit, restored after a response */
    bool reading_response; /* the next line is the client's response */
};

/* session_sasl_init - the exchange for ls's session (Cyrus steps on pool;
 * line_limit: the command lines'); ls->sx is set so that a busy exchange
 * holds the session. -1 when out of memory. */
int session_sasl_init(struct session_sasl *sa, struct line_session *ls,
                      const struct session_sasl_proto *proto, struct threadpool *pool,
                      size_t line_limit);
/* session_sasl_renew - replace *sasl with a Cyrus session for the
 * connection as it is now (service "smtp", "pop3", "imap"...; the TLS layer
 * and its strength, RFC 4422 3.7): after STARTTLS everything learnt before
 * is forgotten (RFC 3207 4.2, RFC 2595 4, RFC 3501 6.2.1). *sasl is NULL
 * (logged) when Cyrus refuses. */
void session_sasl_renew(const struct session_sasl *sa, struct sasl_session **sasl,
                        const char *service);
/* session_sasl_free - only once the session is not held (line_session). */
void session_sasl_free(struct session_sasl *sa);

/* session_sasl_begin - the command named mech with the initial response in
 * base64 (NULL: none, "=": empty); its outcome is answered. */
void session_sasl_begin(struct session_sasl *sa, struct sasl_session *sasl, const char *mech,
                        const char *initial_b64);

/* session_sasl_line - the client's response line (r CONN_OK or
 * CONN_TOO_LONG) while reading_response. */
void session_sasl_line(struct session_sasl *sa, enum conn_result r, const struct conn_line *line);

#endif
