/* lib/conn.h - one network connection as every protocol sees it: non-blocking
 * buffered reads of lines with a hard length limit and of exact byte counts,
 * buffered writes with flush, deadlines (a whole line, a transfer with a
 * minimum rate, the session) that partial input cannot stretch, the peer's address,
 * and TLS through OpenSSL (implicit, server STARTTLS that discards plaintext
 * already buffered, client). It never interprets what it carries. */
#ifndef DIRMAIL_CONN_H
#define DIRMAIL_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

struct event_loop;
struct conn;

enum conn_result {
    CONN_OK,       /* a line / bytes are returned, or everything was written */
    CONN_AGAIN,    /* nothing complete yet: wait for the next event */
    CONN_TOO_LONG, /* the line exceeded the limit; its bytes up to the next LF were discarded */
    CONN_EOF,      /* the peer closed cleanly */
    CONN_ERROR,    /* I/O or TLS error; the connection is unusable */
};

/* How a line ended and what it held, so that each protocol applies its own
 * rule (SMTP rejects bare CR/LF in DATA: the 2023 smuggling class). */
struct conn_line {
    const char *data; /* without the line ending; NUL-terminated for convenience */
    size_t len;       /* data may hold NUL bytes: len, not strlen */
    bool bare_lf;     /* ended by LF without CR */
    bool bare_cr;     /* a CR not followed by LF occurs inside data */
    bool has_nul;     /* a NUL byte occurs inside data */
};

enum conn_event {
    CONN_EVENT_INPUT,   /* bytes (or EOF/error) to read: call conn_read_* until CONN_AGAIN */
    CONN_EVENT_FLUSHED, /* all queued output has been written */
    CONN_EVENT_TIMEOUT, /* a deadline passed; conn_error says which ("idle timeout", "data timeout",
                           "session timeout") */
};

/* The deadlines a protocol gives a connection (issue 10: what Postfix's
 * smtpd_per_record_deadline and Exim's smtp_receive_timeout do). Outside a
 * transfer, a whole line must arrive within line_ms of the moment the server
 * starts waiting for it: when the previous line was read, when input is
 * resumed after a pause, when a transfer ends, or on conn_deadline_restart.
 * Bytes of a partial line never extend it. Inside a transfer (a message, a
 * chunk, a literal: conn_transfer_begin .. conn_transfer_end), the whole
 * transfer must end within transfer_ms, except that each window_ms in which
 * the client sent at least min_rate bytes a second pushes the end to
 * transfer_ms from then: an honest sender at a modest rate is never cut, a
 * trickle is. 0 means none (for min_rate: no extension). */
struct conn_deadlines {
    uint64_t line_ms;
    uint64_t transfer_ms;
    uint64_t min_rate;  /* bytes per second */
    uint64_t window_ms; /* over which min_rate is averaged */
};

typedef void conn_handler(struct conn *conn, enum conn_event event, void *ctx);

/* conn_new - take ownership of a connected socket fd (made non-blocking).
 * line_limit is the longest accepted line including its CRLF. NULL on failure.
 * Under TLS, OpenSSL writes to the socket with write(2): a process using
 * conn ignores SIGPIPE (signal(SIGPIPE, SIG_IGN)); plaintext writes use
 * MSG_NOSIGNAL. */
struct conn *conn_new(int fd, size_t line_limit);
/* conn_free - close the socket (TLS close_notify attempted) and free; NULLs *conn. */
void conn_free(struct conn **conn);

int conn_fd(const struct conn *conn);
void conn_set_line_limit(struct conn *conn, size_t line_limit);
/* conn_peer_ip - the peer's address as text ("192.0.2.1", "2001:db8::1"); port likewise. */
const char *conn_peer_ip(const struct conn *conn);
unsigned conn_peer_port(const struct conn *conn);
const char *conn_local_ip(const struct conn *conn);
unsigned conn_local_port(const struct conn *conn);

/* conn_attach - drive conn from loop: handler is called for input, flush and
 * timeouts. The deadlines set before or after attaching start from now. */
int conn_attach(struct conn *conn, struct event_loop *loop, conn_handler *handler, void *ctx);
/* conn_set_handler - the attached conn's events go to handler from now on
 * (a session that continues as something else: the reader's proxy). Safe
 * from inside the old handler. (Added to the contract.) */
void conn_set_handler(struct conn *conn, conn_handler *handler, void *ctx);
/* conn_set_timeouts - a line deadline of idle_ms and no transfer deadline;
 * session_ms (0 = none) counts from now. */
void conn_set_timeouts(struct conn *conn, uint64_t idle_ms, uint64_t session_ms);
/* conn_set_deadlines - use *deadlines (kept by pointer: the caller keeps it
 * alive and may change it, then calls conn_deadlines_changed) and a session
 * deadline of session_ms from now. */
void conn_set_deadlines(struct conn *conn, const struct conn_deadlines *deadlines,
                        uint64_t session_ms);
/* conn_deadlines_changed - *deadlines changed: the running deadline is
 * measured again from when it started (a shorter one may fire at once). */
void conn_deadlines_changed(struct conn *conn);
/* conn_deadline_restart - the server starts waiting for a line now (e.g. it
 * just sent its greeting). */
void conn_deadline_restart(struct conn *conn);
/* conn_transfer_begin / conn_transfer_end - a transfer starts / ended: the
 * transfer deadline replaces the line deadline in between. */
void conn_transfer_begin(struct conn *conn);
void conn_transfer_end(struct conn *conn);
/* conn_set_input_paused - stop (true) or resume reporting CONN_EVENT_INPUT,
 * e.g. while a command waits for an answer from elsewhere. The loop is level
 * triggered: a handler that returns without reading to CONN_AGAIN is called
 * again, so pause instead of leaving input unread. Input already buffered
 * raises no new event on resume: read it then. (Added to the contract.) */
void conn_set_input_paused(struct conn *conn, bool paused);

/* conn_read_line - the next complete line, valid until the next read call.
 * A line of exactly line_limit bytes (ending included) is returned; a longer
 * one gives CONN_TOO_LONG once and its bytes up to the next LF are dropped.
 * Bytes after the last LF when the peer closes are not a line: CONN_EOF. */
enum conn_result conn_read_line(struct conn *conn, struct conn_line *line_r);
/* conn_read_bytes - up to max bytes of what is buffered or readable now
 * (IMAP literals, BDAT chunks: the caller counts down). */
enum conn_result conn_read_bytes(struct conn *conn, size_t max, const char **data_r, size_t *len_r);
/* conn_input_pending - bytes already buffered and not yet read. */
size_t conn_input_pending(const struct conn *conn);
/* conn_input_peek - whether the client has sent bytes not yet read: what is
 * buffered, after one non-blocking read when nothing is (RFC 2920 checks:
 * input that arrived before the reply it should have waited for). Up to max
 * of them are copied into out (NUL-terminated, max + 1 bytes; out may be
 * NULL); returns how many are buffered. Nothing is consumed. */
size_t conn_input_peek(struct conn *conn, char *out, size_t max);

/* conn_write / conn_printf - queue output (no limit: the protocol bounds what
 * it queues). conn_flush - write what is queued: CONN_OK when all is out,
 * CONN_AGAIN when the rest goes out on writability (then CONN_EVENT_FLUSHED). */
void conn_write(struct conn *conn, const void *data, size_t len);
void conn_printf(struct conn *conn, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
enum conn_result conn_flush(struct conn *conn);
size_t conn_output_pending(const struct conn *conn);

/* conn_wait - for blocking use (clients, tools, tests): wait up to timeout_ms
 * for the input or output conn needs now; CONN_OK, or CONN_ERROR on timeout
 * (errno ETIMEDOUT) or failure. */
enum conn_result conn_wait(struct conn *conn, int timeout_ms);

/* conn_tls_server_start - begin TLS as a server (implicit TLS, or after the
 * STARTTLS reply has been flushed: -1 if output is still queued). Every
 * plaintext byte conn has buffered is discarded first (RFC 3207 section 4.2,
 * CVE-2011-0411); the count discarded is returned in *discarded_r (may be
 * NULL). Bytes the kernel still holds are left to the handshake, which fails
 * on them unless they are a ClientHello (a conforming client sends nothing
 * else after STARTTLS). The handshake proceeds inside the following reads and
 * writes. 0 or -1. */
int conn_tls_server_start(struct conn *conn, SSL_CTX *ctx, size_t *discarded_r);
/* conn_tls_client_start - begin TLS as a client, verifying server_name when
 * the context verifies (host name, or IP address against IP SANs); SNI is
 * sent for host names. Buffered plaintext is discarded. 0 or -1. */
int conn_tls_client_start(struct conn *conn, SSL_CTX *ctx, const char *server_name);
/* conn_tls_handshake - drive the handshake now (a client that wants the
 * verification result before it sends anything): CONN_OK when done,
 * CONN_AGAIN (wait with conn_wait or the loop), CONN_ERROR with conn_error
 * saying why (e.g. certificate verify failed). (Added to the contract.) */
enum conn_result conn_tls_handshake(struct conn *conn);
bool conn_tls_active(const struct conn *conn);
/* conn_tls_handshake_done - true once the handshake completed. */
bool conn_tls_handshake_done(const struct conn *conn);
/* Negotiated protocol ("TLSv1.3") and cipher, NULL before the handshake. */
const char *conn_tls_version(const struct conn *conn);
const char *conn_tls_cipher(const struct conn *conn);
/* conn_tls_bits - the negotiated cipher's secret bits (the strength SASL's
 * security layer is told, RFC 4422 3.7), 0 before the handshake. (Added to
 * the contract.) */
int conn_tls_bits(const struct conn *conn);
/* conn_error - the last error as text (for logs). */
const char *conn_error(const struct conn *conn);

#endif
