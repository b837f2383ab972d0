/* proto/sasl_exchange.h - the SASL exchange every protocol calls (SMTP AUTH,
 * POP3 AUTH, IMAP AUTHENTICATE, ManageSieve AUTHENTICATE): base64 both ways,
 * the Cyrus step on the thread pool, the growing delay after a failure and
 * the per-client-address block. It never writes a reply: the protocol frames
 * the challenge ("334 ", "+ ") and maps each outcome to its own reply text.
 *
 * One struct sasl_exchange per protocol session, made when the session
 * starts and kept across AUTH attempts (it counts the session's failures).
 * All of it runs on the event loop thread, except the Cyrus step, which runs
 * on a pool thread (auth/sasl_server.h: it blocks). */
#ifndef DIRMAIL_PROTO_SASL_EXCHANGE_H
#define DIRMAIL_PROTO_SASL_EXCHANGE_H

#include <stdbool.h>
#include <stddef.h>

#include "auth/sasl_server.h"

struct conn_limit;
struct event_loop;
struct threadpool;
struct sasl_exchange;

/* The longest client response line a protocol must accept while an exchange
 * waits for one: base64 of the largest SASL input, and CRLF. */
#define SASL_EXCHANGE_LINE_LIMIT (((SASL_SESSION_INPUT_MAX + 2) / 3) * 4 + 3)
/* RFC 4422 3.1: a mechanism name is at most 20 characters. */
#define SASL_EXCHANGE_MECH_MAX 20

enum sasl_exchange_outcome {
    SASL_EXCHANGE_PENDING,   /* the outcome comes later, through the callback */
    SASL_EXCHANGE_CHALLENGE, /* send sasl_exchange_challenge() and read one response line */
    SASL_EXCHANGE_OK,        /* authenticated as sasl_exchange_user() */
    SASL_EXCHANGE_FAILED,   /* bad credentials, reported after the delay; see sasl_exchange_limit */
    SASL_EXCHANGE_TEMPFAIL, /* directory, auth process or memory: never a credentials failure */
    SASL_EXCHANGE_BAD_PROTOCOL,        /* the mechanism refused the client's response */
    SASL_EXCHANGE_BAD_BASE64,          /* the client's response was not base64 */
    SASL_EXCHANGE_CANCELLED,           /* the client sent "*" */
    SASL_EXCHANGE_NO_MECHANISM,        /* unknown or not offered on this connection */
    SASL_EXCHANGE_ENCRYPTION_REQUIRED, /* plaintext mechanism without TLS */
    SASL_EXCHANGE_IP_BLOCKED,          /* the client's address is over its limit (answered late) */
};

/* After FAILED: the limit that failure reached, if any. On either limit
 * the protocol ends the session. */
enum sasl_exchange_limit {
    SASL_EXCHANGE_LIMIT_NONE,
    SASL_EXCHANGE_LIMIT_SESSION, /* failures_max in this session */
    SASL_EXCHANGE_LIMIT_IP,      /* ip_failures_max from this address, over every session */
};

/* sasl_exchange_done_fn - a PENDING outcome has arrived (never PENDING
 * itself). Called from the event loop as the last thing the exchange does,
 * so the callee may free the exchange (and its whole session) inside. */
typedef void sasl_exchange_done_fn(void *context, enum sasl_exchange_outcome outcome);

struct sasl_exchange_setup {
    struct event_loop *loop;
    struct threadpool *pool; /* runs the Cyrus steps */
    /* The failed logins per client address shared by every worker
     * (proto/conn_limit.h); NULL: no per-address block. */
    struct conn_limit *limits;
    unsigned ip_failures_max;     /* limits.auth_failures; 0: off */
    unsigned ip_failure_window_s; /* limits.auth_failure_window */
    const char *client_ip;        /* copied; the client= field of every log line */
    unsigned failures_max;        /* failures in one session before LIMIT_SESSION */
    unsigned delay_step_ms;       /* the n-th failure is reported n * this late */
    sasl_exchange_done_fn *done;
    void *context;
};

/* sasl_exchange_new - NULL when out of memory. */
struct sasl_exchange *sasl_exchange_new(const struct sasl_exchange_setup *setup);

/* What every protocol's sessions allow: failures in one session before it
 * is cut, and the step of the delay before the n-th failure is answered. */
#define SASL_EXCHANGE_SESSION_FAILURES 3
#define SASL_EXCHANGE_DELAY_STEP_MS 1000

struct service_session;

/* sasl_exchange_new_for_session - sasl_exchange_new with the setup every
 * protocol uses: ss's loop, client address and per-address limits
 * (limits.auth_failures in auth_failure_window), the session constants
 * above, Cyrus steps on pool. NULL when out of memory. */
struct sasl_exchange *sasl_exchange_new_for_session(const struct service_session *ss,
                                                    struct threadpool *pool,
                                                    sasl_exchange_done_fn *done, void *context);

/* sasl_exchange_free - free *sx and NULL it; NULL is fine. Only when
 * sasl_exchange_busy is false: a pool thread may still be using it. */
void sasl_exchange_free(struct sasl_exchange **sx);

/* sasl_exchange_busy - a Cyrus step or a delay is outstanding: the callback
 * is still to come, and the session must not free the exchange (nor the
 * sasl_session given to begin) until it has come. */
bool sasl_exchange_busy(const struct sasl_exchange *sx);

/* sasl_exchange_stepping - busy with a Cyrus step on the pool (not merely
 * a delay): the answer to what the client sent is not known yet. */
bool sasl_exchange_stepping(const struct sasl_exchange *sx);

/* sasl_exchange_begin - start mech (as the client named it) on sasl, with the
 * client's initial response in base64, or NULL when it sent none. "=" is an
 * empty initial response (RFC 4954 4, RFC 4959, RFC 5034). sasl must stay
 * alive until the exchange ends. An address over its limit is refused before
 * anything is decoded or checked. Returns an outcome or PENDING. */
enum sasl_exchange_outcome sasl_exchange_begin(struct sasl_exchange *sx, struct sasl_session *sasl,
                                               const char *mech, const char *initial_b64);

/* sasl_exchange_response - the client's line (without CRLF) after a
 * CHALLENGE: base64, or "*" to cancel (RFC 4954 4). Returns an outcome or
 * PENDING. */
enum sasl_exchange_outcome sasl_exchange_response(struct sasl_exchange *sx, const char *line,
                                                  size_t len);

/* sasl_exchange_challenge - after CHALLENGE: the base64 text (may be "")
 * for the protocol to frame; owned by the exchange until the next call. */
const char *sasl_exchange_challenge(const struct sasl_exchange *sx);

/* sasl_exchange_user - after OK: who the client is now; owned by the
 * exchange until the next begin. */
const char *sasl_exchange_user(const struct sasl_exchange *sx);

/* sasl_exchange_limit - after FAILED: which limit that failure reached. */
enum sasl_exchange_limit sasl_exchange_limit(const struct sasl_exchange *sx);

/* sasl_exchange_outcome_name - "ok", "failed", ... for logs and tests. */
const char *sasl_exchange_outcome_name(enum sasl_exchange_outcome outcome);

#endif
