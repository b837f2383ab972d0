/* lib/conn.c - non-blocking buffered connection with hard line limits,
 * timeouts and TLS (see conn.h).
 *
 * TLS runs directly on the socket (SSL_set_fd): SSL_read may need to write
 * (handshake, TLS 1.3 key update) and SSL_write may need to read, so the
 * connection remembers which direction each is waiting for and asks the
 * event loop for that readiness, retrying the stalled call when it comes.
 * The deadlines and their timers are conn_deadline.c's. */
#include "config.h"

#include "lib/conn_internal.h"
#include "lib/buf.h"
#include "lib/event.h"
#include "lib/clock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

/* Bytes asked of the kernel (or OpenSSL) per read. */
#define CONN_READ_CHUNK 4096
/* Largest SSL_write: one TLS record. */
#define CONN_TLS_WRITE_MAX 16384
/* An idle connection keeps at most this much buffer memory. */
#define CONN_KEEP_BUF 16384

void conn_set_error(struct conn *conn, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(conn->error, sizeof conn->error, fmt, ap);
    va_end(ap);
    if (n < 0)
        conn->error[0] = '\0';
}

/* set_tls_error - what OpenSSL queued, or errno for a syscall failure. */
static void set_tls_error(struct conn *conn, const char *op, int ssl_error)
{
    unsigned long code = ERR_peek_last_error();
    if (code != 0) {
        char text[200];
        ERR_error_string_n(code, text, sizeof text);
        const char *extra = "";
        if (ERR_GET_REASON(code) == SSL_R_CERTIFICATE_VERIFY_FAILED && conn->ssl != NULL)
            extra = X509_verify_cert_error_string(SSL_get_verify_result(conn->ssl));
        conn_set_error(conn, "TLS %s failed: %s%s%s", op, text, extra[0] != '\0' ? ": " : "",
                       extra);
    } else if (ssl_error == SSL_ERROR_SYSCALL && errno != 0) {
        conn_set_error(conn, "TLS %s failed: %s", op, strerror(errno));
    } else {
        conn_set_error(conn, "TLS %s failed (SSL error %d)", op, ssl_error);
    }
    ERR_clear_error();
}

/* format_addr - numeric text of addr; an IPv4-mapped IPv6 address is shown
 * as plain IPv4, as the peer itself would write it. */
static void format_addr(const struct sockaddr_storage *ss, socklen_t len, char *ip, size_t ipsize,
                        unsigned *port_r)
{
    ip[0] = '\0';
    *port_r = 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &sin->sin_addr, ip, (socklen_t)ipsize);
        *port_r = ntohs(sin->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
        if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
            inet_ntop(AF_INET, &sin6->sin6_addr.s6_addr[12], ip, (socklen_t)ipsize);
        else
            inet_ntop(AF_INET6, &sin6->sin6_addr, ip, (socklen_t)ipsize);
        *port_r = ntohs(sin6->sin6_port);
    } else if (ss->ss_family == AF_UNIX) {
        snprintf(ip, ipsize, "unix");
    }
    (void)len;
}

struct conn *conn_new(int fd, size_t line_limit)
{
    if (fd < 0) {
        errno = EBADF;
        return NULL;
    }
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
        return NULL;
    struct conn *conn = calloc(1, sizeof *conn);
    if (conn == NULL)
        return NULL;
    conn->fd = fd;
    conn->line_limit = line_limit;
    conn->limits = &conn->own;

    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0)
        format_addr(&ss, len, conn->peer_ip, sizeof conn->peer_ip, &conn->peer_port);
    len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0) {
        format_addr(&ss, len, conn->local_ip, sizeof conn->local_ip, &conn->local_port);
        /* Replies are already gathered in the output buffer and written as a
         * whole when the input is used up (RFC 2920 pipelining), so Nagle's
         * algorithm only adds a delayed-ACK wait (about 40 ms) between a
         * pipelining client's replies. */
        if (ss.ss_family == AF_INET || ss.ss_family == AF_INET6)
            (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
    }
    return conn;
}

void conn_free(struct conn **connp)
{
    struct conn *conn = *connp;
    if (conn == NULL)
        return;
    *connp = NULL;
    if (conn->destroyed_r != NULL)
        *conn->destroyed_r = true;
    event_io_remove(&conn->io);
    event_timer_remove(&conn->deadline_timer);
    event_timer_remove(&conn->session_timer);
    if (conn->ssl != NULL) {
        /* One non-blocking attempt at close_notify; the peer may be gone. */
        if (SSL_is_init_finished(conn->ssl) && !conn->failed)
            (void)SSL_shutdown(conn->ssl);
        SSL_free(conn->ssl);
        ERR_clear_error();
    }
    close(conn->fd);
    buf_release(&conn->in);
    buf_release(&conn->out);
    free(conn);
}

int conn_fd(const struct conn *conn)
{
    return conn->fd;
}

void conn_set_line_limit(struct conn *conn, size_t line_limit)
{
    conn->line_limit = line_limit;
}

const char *conn_peer_ip(const struct conn *conn)
{
    return conn->peer_ip;
}

unsigned conn_peer_port(const struct conn *conn)
{
    return conn->peer_port;
}

const char *conn_local_ip(const struct conn *conn)
{
    return conn->local_ip;
}

unsigned conn_local_port(const struct conn *conn)
{
    return conn->local_port;
}

const char *conn_error(const struct conn *conn)
{
    return conn->error;
}

/* ---- event-loop integration ---- */

/* update_interest - ask the loop for exactly the readiness conn waits for. */
static void update_interest(struct conn *conn)
{
    if (conn->io == NULL)
        return;
    unsigned events = 0;
    if (!conn->input_paused || conn->write_wants_read)
        events |= EVENT_READ;
    if ((conn->want_write && buf_len(&conn->out) > 0) || conn->read_wants_write)
        events |= EVENT_WRITE;
    if (event_io_modify(conn->io, events) < 0 && !conn->failed) {
        conn_set_error(conn, "epoll_ctl: %s", strerror(errno));
        conn->failed = true;
    }
}

/* conn_io - readiness from the loop: finish a stalled flush first (reporting
 * FLUSHED), then let the handler read. conn may be freed by the handler. */
static void conn_io(void *ctx, unsigned events)
{
    struct conn *conn = ctx;
    bool destroyed = false;
    conn->destroyed_r = &destroyed;

    bool stalled_write = buf_len(&conn->out) > 0 && (conn->want_write || conn->write_wants_read);
    if (stalled_write && ((events & (EVENT_WRITE | EVENT_ERROR)) ||
                          ((events & EVENT_READ) && conn->write_wants_read))) {
        enum conn_result r = conn_flush(conn);
        if (r == CONN_OK) {
            conn->handler(conn, CONN_EVENT_FLUSHED, conn->ctx);
            if (destroyed)
                return;
        }
    }
    bool input = ((events & (EVENT_READ | EVENT_ERROR)) && !conn->input_paused) ||
                 ((events & EVENT_WRITE) && conn->read_wants_write) || conn->failed;
    if (input) {
        conn->handler(conn, CONN_EVENT_INPUT, conn->ctx);
        if (destroyed)
            return;
    }
    conn->destroyed_r = NULL;
}

int conn_attach(struct conn *conn, struct event_loop *loop, conn_handler *handler, void *ctx)
{
    if (conn->loop != NULL) {
        conn_set_error(conn, "connection already attached");
        return -1;
    }
    conn->io = event_io_add(loop, conn->fd, EVENT_READ, conn_io, conn);
    if (conn->io == NULL) {
        conn_set_error(conn, "epoll_ctl: %s", strerror(errno));
        return -1;
    }
    conn->loop = loop;
    conn->handler = handler;
    conn->ctx = ctx;
    if (conn_deadlines_apply(conn) < 0) {
        event_io_remove(&conn->io);
        event_timer_remove(&conn->deadline_timer);
        event_timer_remove(&conn->session_timer);
        conn->loop = NULL;
        return -1;
    }
    update_interest(conn);
    return 0;
}

void conn_set_handler(struct conn *conn, conn_handler *handler, void *ctx)
{
    conn->handler = handler;
    conn->ctx = ctx;
}

void conn_set_input_paused(struct conn *conn, bool paused)
{
    bool resumed = conn->input_paused && !paused;
    conn->input_paused = paused;
    update_interest(conn);
    /* The server waits for the client again: what it spent answering
     * (a directory lookup, a queue commit) is not the client's time. */
    if (resumed)
        conn_deadline_start(conn);
}

/* ---- reading ---- */

/* fill - read once from the socket (or TLS) into conn->in: CONN_OK when bytes
 * arrived, else CONN_AGAIN, CONN_EOF or CONN_ERROR. */
static enum conn_result fill(struct conn *conn)
{
    if (conn->failed)
        return CONN_ERROR;
    if (conn->eof)
        return CONN_EOF;
    if (buf_reserve(&conn->in, CONN_READ_CHUNK) < 0) {
        conn_set_error(conn, "out of memory");
        conn->failed = true;
        return CONN_ERROR;
    }
    size_t room = buf_room(&conn->in);
    ssize_t n;
    if (conn->ssl != NULL) {
        ERR_clear_error();
        int r = SSL_read(conn->ssl, buf_tail(&conn->in), room > INT_MAX ? INT_MAX : (int)room);
        bool was_waiting = conn->read_wants_write;
        conn->read_wants_write = false;
        if (r > 0) {
            n = r;
        } else {
            int err = SSL_get_error(conn->ssl, r);
            switch (err) {
            case SSL_ERROR_WANT_READ:
                if (was_waiting)
                    update_interest(conn);
                return CONN_AGAIN;
            case SSL_ERROR_WANT_WRITE:
                conn->read_wants_write = true;
                update_interest(conn);
                return CONN_AGAIN;
            case SSL_ERROR_ZERO_RETURN:
                conn->eof = true;
                return CONN_EOF;
            default:
                set_tls_error(conn, SSL_is_init_finished(conn->ssl) ? "read" : "handshake", err);
                conn->failed = true;
                return CONN_ERROR;
            }
        }
        if (was_waiting)
            update_interest(conn);
    } else {
        do {
            n = read(conn->fd, buf_tail(&conn->in), room);
        } while (n < 0 && errno == EINTR);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return CONN_AGAIN;
            conn_set_error(conn, "read: %s", strerror(errno));
            conn->failed = true;
            return CONN_ERROR;
        }
        if (n == 0) {
            conn->eof = true;
            return CONN_EOF;
        }
    }
    buf_commit(&conn->in, (size_t)n);
    /* Partial input never extends the line deadline (a client sending one
     * byte at a time must not hold its slot for the whole session); inside a
     * transfer the bytes count towards the minimum rate. */
    if (conn->in_transfer)
        conn->window_bytes += (uint64_t)n;
    /* A stalled SSL_write waiting for the peer's bytes can go on now. */
    if (conn->write_wants_read && conn->io != NULL)
        update_interest(conn);
    return CONN_OK;
}

/* trim_idle_memory - before a read call, when nothing is buffered, drop a
 * buffer that grew large, so that idle sessions stay small. */
static void trim_idle_memory(struct conn *conn)
{
    if (buf_len(&conn->in) == 0 && conn->in.cap > CONN_KEEP_BUF)
        buf_release(&conn->in);
}

/* line_done - a whole line arrived: outside a transfer, the next line gets
 * the full line deadline from now (Postfix's smtpd_per_record_deadline). */
static void line_done(struct conn *conn)
{
    if (!conn->in_transfer && conn->limits->line_ms != 0)
        conn_deadline_start(conn);
}

enum conn_result conn_read_line(struct conn *conn, struct conn_line *line_r)
{
    trim_idle_memory(conn);
    for (;;) {
        struct buf *in = &conn->in;
        char *base = in->data == NULL ? NULL : in->data + in->head;
        size_t len = buf_len(in);
        if (conn->discarding) {
            char *lf = len > 0 ? memchr(base, '\n', len) : NULL;
            if (lf != NULL) {
                buf_consume(in, (size_t)(lf - base) + 1);
                conn->discarding = false;
                conn->scanned = 0;
                continue;
            }
            buf_clear(in);
            conn->scanned = 0;
        } else {
            char *lf = len > conn->scanned ? memchr(base + conn->scanned, '\n', len - conn->scanned)
                                           : NULL;
            if (lf != NULL) {
                size_t total = (size_t)(lf - base) + 1;
                conn->scanned = 0;
                if (total > conn->line_limit) {
                    buf_consume(in, total);
                    line_done(conn);
                    return CONN_TOO_LONG;
                }
                size_t dlen = total - 1;
                bool crlf = dlen > 0 && base[dlen - 1] == '\r';
                if (crlf)
                    dlen--;
                base[dlen] = '\0'; /* over the CR or LF: the data stays intact */
                line_r->data = base;
                line_r->len = dlen;
                line_r->bare_lf = !crlf;
                line_r->bare_cr = memchr(base, '\r', dlen) != NULL;
                line_r->has_nul = memchr(base, '\0', dlen) != NULL;
                buf_consume(in, total);
                line_done(conn);
                return CONN_OK;
            }
            conn->scanned = len;
            /* No LF within limit bytes: with its LF the line is longer than
             * the limit. Report it now and drop the rest as it arrives. */
            if (len >= conn->line_limit) {
                buf_clear(in);
                conn->scanned = 0;
                conn->discarding = true;
                return CONN_TOO_LONG;
            }
        }
        enum conn_result r = fill(conn);
        if (r != CONN_OK)
            return r;
    }
}

enum conn_result conn_read_bytes(struct conn *conn, size_t max, const char **data_r, size_t *len_r)
{
    trim_idle_memory(conn);
    *data_r = NULL;
    *len_r = 0;
    if (max == 0)
        return CONN_OK;
    if (buf_len(&conn->in) == 0) {
        enum conn_result r = fill(conn);
        if (r != CONN_OK)
            return r;
    }
    size_t n = buf_len(&conn->in) < max ? buf_len(&conn->in) : max;
    *data_r = buf_ptr(&conn->in);
    *len_r = n;
    buf_consume(&conn->in, n);
    conn->scanned = 0;
    return CONN_OK;
}

size_t conn_input_peek(struct conn *conn, char *out, size_t max)
{
    if (buf_len(&conn->in) == 0 && !conn->discarding)
        (void)fill(conn);
    size_t have = buf_len(&conn->in);
    if (out != NULL) {
        size_t n = have < max ? have : max;
        if (n > 0)
            memcpy(out, buf_ptr(&conn->in), n);
        out[n] = '\0';
    }
    return have;
}

size_t conn_input_pending(const struct conn *conn)
{
    return buf_len(&conn->in);
}

/* ---- writing ---- */

void conn_write(struct conn *conn, const void *data, size_t len)
{
    if (conn->failed)
        return;
    if (buf_append(&conn->out, data, len) < 0) {
        conn_set_error(conn, "out of memory");
        conn->failed = true;
    }
}

void conn_printf(struct conn *conn, const char *fmt, ...)
{
    if (conn->failed)
        return;
    va_list ap;
    va_start(ap, fmt);
    int r = buf_vprintf(&conn->out, fmt, ap);
    va_end(ap);
    if (r < 0) {
        conn_set_error(conn, "out of memory or bad format");
        conn->failed = true;
    }
}

size_t conn_output_pending(const struct conn *conn)
{
    return buf_len(&conn->out);
}

/* write_tls - one SSL_write; a stalled write is repeated with the same length
 * (OpenSSL requires it; the buffer may move: ACCEPT_MOVING_WRITE_BUFFER). */
static enum conn_result write_tls(struct conn *conn)
{
    size_t len = buf_len(&conn->out);
    size_t n = conn->retry_len != 0 ? conn->retry_len
                                    : (len < CONN_TLS_WRITE_MAX ? len : CONN_TLS_WRITE_MAX);
    ERR_clear_error();
    int w = SSL_write(conn->ssl, buf_ptr(&conn->out), (int)n);
    if (w > 0) {
        buf_consume(&conn->out, (size_t)w);
        conn->retry_len = 0;
        conn->write_wants_read = false;
        return CONN_OK;
    }
    int err = SSL_get_error(conn->ssl, w);
    conn->retry_len = n;
    if (err == SSL_ERROR_WANT_WRITE) {
        conn->want_write = true;
        conn->write_wants_read = false;
        return CONN_AGAIN;
    }
    if (err == SSL_ERROR_WANT_READ) {
        conn->want_write = false;
        conn->write_wants_read = true;
        return CONN_AGAIN;
    }
    set_tls_error(conn, SSL_is_init_finished(conn->ssl) ? "write" : "handshake", err);
    conn->failed = true;
    return CONN_ERROR;
}

static enum conn_result write_plain(struct conn *conn)
{
    ssize_t w;
    do {
        w = send(conn->fd, buf_ptr(&conn->out), buf_len(&conn->out), MSG_NOSIGNAL);
    } while (w < 0 && errno == EINTR);
    if (w >= 0) {
        buf_consume(&conn->out, (size_t)w);
        return CONN_OK;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
        conn->want_write = true;
        return CONN_AGAIN;
    }
    conn_set_error(conn, "write: %s", strerror(errno));
    conn->failed = true;
    return CONN_ERROR;
}

enum conn_result conn_flush(struct conn *conn)
{
    if (conn->failed)
        return CONN_ERROR;
    while (buf_len(&conn->out) > 0) {
        enum conn_result r = conn->ssl != NULL ? write_tls(conn) : write_plain(conn);
        if (r != CONN_OK) {
            update_interest(conn);
            return r;
        }
    }
    bool was_waiting = conn->want_write || conn->write_wants_read;
    conn->want_write = false;
    conn->write_wants_read = false;
    if (conn->out.cap > CONN_KEEP_BUF)
        buf_release(&conn->out);
    if (was_waiting)
        update_interest(conn);
    return CONN_OK;
}

/* ---- blocking use ---- */

enum conn_result conn_wait(struct conn *conn, int timeout_ms)
{
    if (conn->failed)
        return CONN_ERROR;
    if (conn->ssl != NULL && SSL_pending(conn->ssl) > 0)
        return CONN_OK;
    short events = 0;
    if (buf_len(&conn->out) > 0) {
        enum conn_result r = conn_flush(conn);
        if (r != CONN_AGAIN)
            return r;
        events |= conn->write_wants_read ? POLLIN : POLLOUT;
    } else {
        events |= POLLIN;
    }
    if (conn->read_wants_write)
        events |= POLLOUT;

    uint64_t deadline = clock_monotonic_ms() + (uint64_t)(timeout_ms < 0 ? 0 : timeout_ms);
    for (;;) {
        int wait =
            timeout_ms < 0
                ? -1
                : (int)(deadline > clock_monotonic_ms() ? deadline - clock_monotonic_ms() : 0);
        struct pollfd pfd = {.fd = conn->fd, .events = events};
        int n = poll(&pfd, 1, wait);
        if (n > 0)
            return CONN_OK;
        if (n == 0) {
            conn_set_error(conn, "timeout after %d ms", timeout_ms);
            errno = ETIMEDOUT;
            return CONN_ERROR;
        }
        if (errno != EINTR) {
            conn_set_error(conn, "poll: %s", strerror(errno));
            return CONN_ERROR;
        }
    }
}

/* ---- TLS ---- */

static int tls_setup(struct conn *conn, SSL_CTX *ctx)
{
    if (conn->ssl != NULL) {
        conn_set_error(conn, "TLS already active");
        return -1;
    }
    /* Anything queued now would go out after the handshake, encrypted, as if
     * said under TLS: the caller flushes (the STARTTLS reply) first. */
    if (buf_len(&conn->out) > 0) {
        conn_set_error(conn, "output not flushed before starting TLS");
        return -1;
    }
    ERR_clear_error();
    conn->ssl = SSL_new(ctx);
    if (conn->ssl == NULL || SSL_set_fd(conn->ssl, conn->fd) != 1) {
        set_tls_error(conn, "setup", SSL_ERROR_SSL);
        SSL_free(conn->ssl);
        conn->ssl = NULL;
        return -1;
    }
    SSL_set_mode(conn->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    conn->eof = false;
    conn->retry_len = 0;
    return 0;
}

int conn_tls_server_start(struct conn *conn, SSL_CTX *ctx, size_t *discarded_r)
{
    /* RFC 3207 section 4.2: whatever the client sent after STARTTLS before
     * the handshake is not part of the TLS session (CVE-2011-0411). Bytes
     * still in the kernel are left there: they are not a ClientHello, so the
     * handshake fails on them, which is the right outcome. */
    size_t discarded = buf_len(&conn->in);
    if (tls_setup(conn, ctx) < 0)
        return -1;
    buf_clear(&conn->in);
    conn->discarding = false;
    conn->scanned = 0;
    if (discarded_r != NULL)
        *discarded_r = discarded;
    SSL_set_accept_state(conn->ssl);
    update_interest(conn);
    return 0;
}

int conn_tls_client_start(struct conn *conn, SSL_CTX *ctx, const char *server_name)
{
    if (tls_setup(conn, ctx) < 0)
        return -1;
    /* The server's reply to STARTTLS was the last plaintext; a server that
     * sent more is attacking the client the same way (CVE-2011-0411). */
    buf_clear(&conn->in);
    conn->discarding = false;
    conn->scanned = 0;
    if (server_name != NULL && server_name[0] != '\0') {
        unsigned char addr[sizeof(struct in6_addr)];
        bool is_ip = inet_pton(AF_INET, server_name, addr) == 1 ||
                     inet_pton(AF_INET6, server_name, addr) == 1;
        /* RFC 6066 section 3: SNI carries host names, never IP literals. */
        int ok = is_ip ? 1 : SSL_set_tlsext_host_name(conn->ssl, server_name);
        if (ok == 1 && (SSL_CTX_get_verify_mode(ctx) & SSL_VERIFY_PEER)) {
            ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(conn->ssl), server_name)
                       : SSL_set1_host(conn->ssl, server_name);
        }
        if (ok != 1) {
            set_tls_error(conn, "setup", SSL_ERROR_SSL);
            SSL_free(conn->ssl);
            conn->ssl = NULL;
            return -1;
        }
    }
    SSL_set_connect_state(conn->ssl);
    update_interest(conn);
    return 0;
}

enum conn_result conn_tls_handshake(struct conn *conn)
{
    if (conn->failed)
        return CONN_ERROR;
    if (conn->ssl == NULL) {
        conn_set_error(conn, "TLS not started");
        return CONN_ERROR;
    }
    if (SSL_is_init_finished(conn->ssl))
        return CONN_OK;
    ERR_clear_error();
    int r = SSL_do_handshake(conn->ssl);
    if (r == 1) {
        conn->read_wants_write = false;
        update_interest(conn);
        return CONN_OK;
    }
    int err = SSL_get_error(conn->ssl, r);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
        /* Recorded as a read waiting for writability, so that the loop (or
         * conn_wait) waits for the direction the handshake needs. */
        conn->read_wants_write = err == SSL_ERROR_WANT_WRITE;
        update_interest(conn);
        return CONN_AGAIN;
    }
    set_tls_error(conn, "handshake", err);
    conn->failed = true;
    return CONN_ERROR;
}

bool conn_tls_active(const struct conn *conn)
{
    return conn->ssl != NULL;
}

bool conn_tls_handshake_done(const struct conn *conn)
{
    return conn->ssl != NULL && SSL_is_init_finished(conn->ssl);
}

const char *conn_tls_version(const struct conn *conn)
{
    return conn_tls_handshake_done(conn) ? SSL_get_version(conn->ssl) : NULL;
}

const char *conn_tls_cipher(const struct conn *conn)
{
    return conn_tls_handshake_done(conn) ? SSL_get_cipher_name(conn->ssl) : NULL;
}

int conn_tls_bits(const struct conn *conn)
{
    if (!conn_tls_handshake_done(conn))
        return 0;
    const SSL_CIPHER *cipher = SSL_get_current_cipher(conn->ssl);
    return cipher != NULL ? SSL_CIPHER_get_bits(cipher, NULL) : 0;
}
