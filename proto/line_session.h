/* proto/line_session.h - the connection plumbing every line protocol's
 * session runs on (SMTP, LMTP, POP3, IMAP; ManageSieve next): the events of
 * its conn (input, flushed, deadline), lines read under the limit and handed
 * to the protocol, input paused while a command waits (a pool job, an auth
 * answer, a SASL step), STARTTLS with the pre-TLS bytes discarded, the
 * error limit, last words and the end of the session once nothing holds it.
 * The protocol keeps its own states, command table and replies; it never
 * sees a conn event. */
#ifndef DIRMAIL_PROTO_LINE_SESSION_H
#define DIRMAIL_PROTO_LINE_SESSION_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/conn.h"
#include "proto/service.h"

struct sasl_exchange;

/* What the protocol's state reads now. */
enum line_input {
    LINE_INPUT_NONE,  /* nothing (streaming a reply, SMTP's pregreet wait...) */
    LINE_INPUT_LINES, /* command lines, DATA lines: hooks->line */
    LINE_INPUT_BYTES, /* an exact count of octets (BDAT chunk, IMAP literal): hooks->bytes */
};

/* A protocol's part; ctx is the protocol's session. Every hook may end the
 * session (line_session_end): the driver touches nothing of it after. */
struct line_session_hooks {
    enum line_input (*input)(void *ctx);
    /* Read octets with conn_read_bytes; false: wait for more, or ended. */
    bool (*bytes)(void *ctx);
    /* One line (r CONN_OK) or an overlong one (r CONN_TOO_LONG, dropped). */
    void (*line)(void *ctx, enum conn_result r, const struct conn_line *line);
    /* limits.errors reached: last words (line_session_close). */
    void (*too_many_errors)(void *ctx);
    /* A deadline passed (conn_error says which). */
    void (*timeout)(void *ctx);
    /* Input arrived before the protocol reads any (SMTP's pregreet test);
     * true when taken. NULL: none. */
    bool (*early_input)(void *ctx);
    /* Output drained while the session is not closing (a stream's next
     * part). NULL: nothing to do. */
    void (*flushed)(void *ctx);
    /* Free the protocol's session (and with it this struct); conn is the
     * driver's. */
    void (*free)(void *ctx);
};

/* One session's driver state, embedded in the protocol's session. The
 * protocol reads the fields; it changes errors and job_running only. */
struct line_session {
    struct service_session *ss;
    struct conn *conn;
    const struct line_session_hooks *hooks;
    void *ctx;
    struct sasl_exchange *sx; /* a busy exchange holds the session; NULL: none */
    char log_id[48];          /* "id=... " first in every log line, or "" */
    unsigned errors;          /* replies that blamed the client (limits.errors) */
    unsigned depth;           /* callbacks of the session on the stack */
    bool job_running;         /* a pool job uses the session: it is freed after */
    bool waiting;             /* a command waits: input paused */
    bool closing;             /* last words queued: close once they are out */
    bool ending;              /* line_session_end was called */
    bool tls;                 /* TLS active (implicit, or after STARTTLS) */
};

/* line_session_start - take over ss for ctx: implicit TLS where the service
 * has it, the conn's events, line_limit (0: keep the conn's), the service's
 * deadlines. -1 when the session has ended already (ctx freed through
 * hooks->free): the caller returns. log_id may be NULL. */
int line_session_start(struct line_session *ls, struct service_session *ss,
                       const struct line_session_hooks *hooks, void *ctx, const char *log_id,
                       size_t line_limit);

/* line_session_enter / line_session_leave - around every callback into the
 * session from elsewhere (a pool job's completion, an auth answer): an end
 * inside only marks the session; leave frees it once the stack is clear. */
void line_session_enter(struct line_session *ls);
void line_session_leave(struct line_session *ls);

/* line_session_end - end the session as soon as no callback of it is on the
 * stack, no pool job runs and no SASL step or delay holds it. */
void line_session_end(struct line_session *ls);

/* line_session_hand_over - free the protocol's session but give its
 * service session back with the conn still attached and input paused: for
 * a caller that takes the connection over (the proxy's splice, which sets
 * its own handler). Only when nothing holds the session (no callback of it
 * on the stack, no pool job, no SASL step). */
struct service_session *line_session_hand_over(struct line_session *ls);

/* line_session_close - the last words are queued: no more input, close
 * once they are out. */
void line_session_close(struct line_session *ls);

/* line_session_flush - write what is queued; a write error ends the session. */
void line_session_flush(struct line_session *ls);

/* line_session_wait_begin - a command waits for an answer from elsewhere:
 * input paused, the replies so far flushed. line_session_wait_end - it was
 * answered (its reply queued): read on from what the client pipelined (RFC
 * 2920 and RFC 2449 6.6: replies keep the commands' order, since one
 * command waits at a time). */
void line_session_wait_begin(struct line_session *ls);
void line_session_wait_end(struct line_session *ls);

/* line_session_read - read and hand over input until the state takes none,
 * the session waits, closes or input runs out (then flush). */
void line_session_read(struct line_session *ls);

/* line_session_starttls - the go-ahead reply is queued: flush it and start
 * TLS. Plaintext the client sent after the command is discarded and logged
 * (event=<event>_discarded: RFC 3207 4.2, RFC 2595 4, RFC 3501 6.2.1; CVE-
 * 2011-0411). -1 when it failed and the session is ending. */
int line_session_starttls(struct line_session *ls, const char *event);

#endif
