/* gateway/transport_smtp_conn.c - see transport_smtp_conn.h.
 *
 * One state per step, one timer for the step's deadline (the smtp_client
 * timeouts). A failure before the connection is usable (no connection,
 * no 220, EHLO and HELO refused, TLS required and not had) moves to the
 * next address; with none left the connection is closed unreached and a
 * job it held is deferred with the last error. Classification (RFC 5321
 * 4.2.1, RFC 3463): 2xx is success, 4xx and every timeout or lost
 * connection defer, 5xx fails: a RCPT reply for its recipient, a MAIL,
 * DATA or final reply for every recipient still open.
 *
 * STARTTLS (RFC 3207): none never; may when offered, without verifying,
 * and if the handshake fails the same address is tried again in clear,
 * as Postfix does for "may"; encrypt and verify never send a byte of the
 * message in clear: not offered, refused, or a failed handshake (for
 * verify: a certificate not valid for the expected name) is a failure of
 * that address. After TLS the EHLO is asked again: what came before is
 * forgotten (RFC 3207 4.2).
 *
 * A transaction that did not end with the reply to the final dot is
 * ended with RSET before the connection takes the next message. The
 * message itself (MAIL, RCPT, DATA, the text) is transport_smtp_mail.c's. */
#include "config.h"

#include "gateway/transport_smtp_conn_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/conn.h"
#include "lib/event.h"
#include "lib/log.h"
#include "proto/delivery_status.h"
#include "proto/smtp_client.h"
#include "gateway/transport_smtp_auth.h"

/* The longest reply line taken (RFC 5321 4.5.3.1.5: 512), with room for
 * servers that exceed it a little. */
#define REPLY_LINE_LIMIT 2048
/* What each step is called in a result ("while sending RCPT TO"). */
static const char *const step_names[] = {
    [STEP_START] = "starting",
    [STEP_CONNECT] = "connecting",
    [STEP_GREETING] = "greeting",
    [STEP_EHLO] = "EHLO",
    [STEP_HELO] = "HELO",
    [STEP_STARTTLS] = "STARTTLS",
    [STEP_HANDSHAKE] = "TLS handshake",
    [STEP_AUTH] = "AUTH",
    [STEP_IDLE] = "idle",
    [STEP_RSET] = "RSET",
    [STEP_MAIL] = "MAIL/RCPT/DATA",
    [STEP_BODY] = "message text",
    [STEP_DOT] = "end of data",
    [STEP_QUIT] = "QUIT",
    [STEP_CLOSED] = "closed",
};

static void conn_event(struct conn *conn, enum conn_event event, void *ctx);
static void try_target(struct smtp_conn *c);

const char *smtp_conn_peer(const struct smtp_conn *c)
{
    return c->peer;
}

bool smtp_conn_idle(const struct smtp_conn *c)
{
    return c->step == STEP_IDLE;
}

/* wait_for - the step now, its deadline in seconds. */

static void on_timeout(void *ctx);

void smtp_conn_arm(struct smtp_conn *c, unsigned seconds)
{
    uint64_t ms = (uint64_t)seconds * 1000;
    if (c->timer != NULL)
        event_timer_reset(c->timer, ms);
    else
        c->timer = event_timer_add(c->loop, ms, on_timeout, c);
}

void smtp_conn_wait_for(struct smtp_conn *c, enum step step, unsigned seconds)
{
    c->step = step;
    smtp_client_reply_reset(&c->reply);
    smtp_conn_arm(c, seconds);
}

/* close_transport - drop the socket of the address in use. */
static void close_transport(struct smtp_conn *c)
{
    event_io_remove(&c->connect_io);
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    conn_free(&c->conn);
    smtp_auth_free(&c->auth);
    c->authed = false;
    if (c->body_fd >= 0) {
        close(c->body_fd);
        c->body_fd = -1;
    }
}

/* job_end - the job is done: every recipient without a result gets status
 * with arg, then the owner hears of it. */
void smtp_conn_job_end(struct smtp_conn *c, enum delivery_status status, const char *arg)
{
    struct transport_job *job = c->job;
    if (job == NULL)
        return;
    for (size_t k = 0; k < job->count; k++) {
        if (job->rcpts[k].state == QUEUE_RCPT_PENDING)
            transport_result_set(&job->rcpts[k], status, arg);
    }
    if (c->body_fd >= 0) {
        close(c->body_fd);
        c->body_fd = -1;
    }
    c->job = NULL;
    c->ev->job_done(c->ctx, c, job);
}

/* finish - c is done for good; the owner hears it (and may free c). */
void smtp_conn_finish(struct smtp_conn *c, const char *error)
{
    close_transport(c);
    event_timer_remove(&c->timer);
    c->step = STEP_CLOSED;
    if (c->job != NULL) {
        enum delivery_status status =
            c->reached ? DELIVERY_STATUS_CONNECTION_LOST : DELIVERY_STATUS_CONNECT_FAILED;
        if (!c->reached && c->tls_problem)
            status = DELIVERY_STATUS_TLS_UNAVAILABLE;
        if (!c->reached && c->auth_problem)
            status = DELIVERY_STATUS_NEXT_HOP_AUTH;
        smtp_conn_job_end(c, status, error);
    }
    c->ev->closed(c->ctx, c, c->reached, error);
}

/* fail_target - the address in use failed before it was usable: the next. */
static void fail_target(struct smtp_conn *c, bool tls, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail_target(struct smtp_conn *c, bool tls, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->error, sizeof c->error, fmt, ap);
    va_end(ap);
    c->tls_problem = tls;
    c->auth_problem = c->step == STEP_AUTH;
    log_info("event=smtp_connect_failed peer=%s error=\"%s\"", c->peer, c->error);
    close_transport(c);
    if (!c->plain_retry)
        c->at++;
    if (c->at >= c->target_count) {
        smtp_conn_finish(c, c->error);
        return;
    }
    try_target(c);
}

/* lost - the usable connection failed (timeout, EOF, error, garbage). */
void smtp_conn_lost(struct smtp_conn *c, const char *what)
{
    char text[DELIVERY_STATUS_TEXT_MAX];
    snprintf(text, sizeof text, "%s with %s while %s", what, c->peer, step_names[c->step]);
    if (!c->reached && c->step != STEP_QUIT) {
        fail_target(c, false, "%s", text);
        return;
    }
    if (c->step == STEP_QUIT || c->step == STEP_IDLE) {
        smtp_conn_finish(c, NULL);
        return;
    }
    smtp_conn_finish(c, text);
}

static void on_timeout(void *ctx)
{
    struct smtp_conn *c = ctx;
    if (c->step == STEP_START) {
        try_target(c);
        return;
    }
    if (c->step == STEP_IDLE) {
        /* nothing more for this destination: say goodbye (RFC 5321 4.1.1.10) */
        smtp_conn_wait_for(c, STEP_QUIT, c->s->conf->quit_timeout);
        smtp_conn_send_line(c, "QUIT\r\n");
        return;
    }
    event_timer_remove(&c->timer);
    smtp_conn_lost(c, "timeout");
}

void smtp_conn_send_line(struct smtp_conn *c, const char *line)
{
    conn_write(c->conn, line, strlen(line));
    if (conn_flush(c->conn) == CONN_ERROR)
        smtp_conn_lost(c, "lost connection");
}

static void send_ehlo(struct smtp_conn *c, bool helo)
{
    char line[300];
    if (smtp_client_hello_command(line, sizeof line, c->protocol, helo, c->s->helo_name) < 0)
        snprintf(line, sizeof line, "%s localhost\r\n",
                 c->protocol == SMTP_CLIENT_LMTP ? "LHLO" : "EHLO");
    c->caps = (struct smtp_client_caps){0};
    c->ehlo_first_line = true;
    smtp_conn_wait_for(c, helo ? STEP_HELO : STEP_EHLO, c->s->conf->helo_timeout);
    smtp_conn_send_line(c, line);
}

static void on_connected(void *ctx, unsigned events)
{
    struct smtp_conn *c = ctx;
    int err = 0;
    socklen_t len = sizeof err;
    (void)events;
    event_io_remove(&c->connect_io);
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    if (err != 0) {
        fail_target(c, false, "connect to %s: %s", c->peer, strerror(err));
        return;
    }
    c->conn = conn_new(c->fd, REPLY_LINE_LIMIT);
    if (c->conn == NULL) {
        fail_target(c, false, "connect to %s: out of memory", c->peer);
        return;
    }
    c->fd = -1; /* the conn's now */
    conn_set_timeouts(c->conn, 0, 0);
    if (conn_attach(c->conn, c->loop, conn_event, c) < 0) {
        fail_target(c, false, "connect to %s: out of memory", c->peer);
        return;
    }
    smtp_conn_wait_for(c, STEP_GREETING, c->s->conf->helo_timeout);
}

/* try_target - connect to targets[at]. */
static void try_target(struct smtp_conn *c)
{
    const struct smtp_target *t = &c->targets[c->at];
    if (t->local)
        snprintf(c->peer, sizeof c->peer, "unix:%s", t->host);
    else
        snprintf(c->peer, sizeof c->peer, "%s[%s]:%u", t->host, t->addr, t->port);
    c->reached = false;
    struct sockaddr_storage ss;
    socklen_t sl = smtp_target_sockaddr(t, &ss);
    c->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        fail_target(c, false, "socket: %s", strerror(errno));
        return;
    }
    c->step = STEP_CONNECT;
    smtp_conn_arm(c, c->s->conf->connect_timeout);
    if (connect(c->fd, (struct sockaddr *)&ss, sl) < 0 && errno != EINPROGRESS && errno != EAGAIN) {
        fail_target(c, false, "connect to %s: %s", c->peer, strerror(errno));
        return;
    }
    c->connect_io = event_io_add(c->loop, c->fd, EVENT_WRITE, on_connected, c);
    if (c->connect_io == NULL)
        fail_target(c, false, "connect to %s: out of memory", c->peer);
}

struct smtp_conn *smtp_conn_new(struct event_loop *loop, const struct smtp_conn_settings *settings,
                                const struct smtp_conn_policy *policy,
                                enum smtp_client_protocol protocol,
                                const struct smtp_target *targets, size_t count,
                                const struct smtp_conn_events *events, void *ctx,
                                struct transport_job *job)
{
    struct smtp_conn *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->loop = loop;
    c->s = settings;
    c->policy = policy;
    c->protocol = protocol;
    c->ev = events;
    c->ctx = ctx;
    c->fd = -1;
    c->body_fd = -1;
    c->target_count = count < SMTP_TARGETS_MAX ? count : SMTP_TARGETS_MAX;
    memcpy(c->targets, targets, c->target_count * sizeof *targets);
    c->job = job;
    c->step = STEP_START;
    smtp_conn_arm(c, 0);
    if (c->target_count == 0 || c->timer == NULL) {
        free(c);
        return NULL;
    }
    return c;
}

void smtp_conn_free(struct smtp_conn **cp)
{
    struct smtp_conn *c = *cp;
    if (c == NULL)
        return;
    close_transport(c);
    event_timer_remove(&c->timer);
    free(c);
    *cp = NULL;
}

/* ---- the session before a message ---- */

static void start_tls(struct smtp_conn *c)
{
    enum config_tls_security level = c->policy->tls_security;
    SSL_CTX *ctx = level == TLS_SECURITY_VERIFY ? c->policy->tls_verify : c->s->tls_plain;
    const char *name =
        c->policy->tls_verify_name != NULL ? c->policy->tls_verify_name : c->targets[c->at].host;
    if (ctx == NULL || conn_tls_client_start(c->conn, ctx, name) < 0) {
        fail_target(c, true, "TLS setup for %s failed", c->peer);
        return;
    }
    smtp_conn_wait_for(c, STEP_HANDSHAKE, c->s->conf->helo_timeout);
    enum conn_result r = conn_tls_handshake(c->conn);
    if (r == CONN_OK) {
        send_ehlo(c, false);
    } else if (r == CONN_ERROR) {
        /* handled as the INPUT event would */
        conn_event(c->conn, CONN_EVENT_INPUT, c);
    }
}

/* tls_failed - the handshake failed: may goes on in clear on a new
 * connection to the same address, the others fail the address. */
static void tls_failed(struct smtp_conn *c, const char *why)
{
    if (c->policy->tls_security == TLS_SECURITY_MAY && !c->plain_retry) {
        log_info("event=smtp_tls_failed peer=%s error=\"%s\" action=retry_in_clear", c->peer, why);
        c->plain_retry = true;
        close_transport(c);
        try_target(c);
        return;
    }
    fail_target(c, true, "the TLS handshake with %s failed: %s", c->peer, why);
}

/* start_auth - AUTH with the destination's credentials (RFC 4954), only
 * ever under TLS. A peer that offers no AUTH gets the mail without it, as
 * from Postfix: it may not need it, and if it does its refusal is its reply
 * to MAIL. */
static bool start_auth(struct smtp_conn *c)
{
    const char *why = NULL, *mech = NULL;
    char line[SMTP_AUTH_LINE_MAX];
    if (!c->caps.auth_plain && !c->caps.auth_login) {
        log_info("event=smtp_auth_skipped peer=%s reason=\"AUTH PLAIN/LOGIN not offered\"",
                 c->peer);
        return false;
    }
    c->auth =
        smtp_auth_start(c->policy->auth_user, c->policy->auth_password, c->targets[c->at].host,
                        c->caps.auth_plain, c->caps.auth_login, line, &mech, &why);
    c->step = STEP_AUTH; /* so that a failure counts as AUTH's */
    if (c->auth == NULL) {
        fail_target(c, false, "AUTH to %s: %s", c->peer, why);
        return true;
    }
    log_debug("event=smtp_auth_start peer=%s mechanism=%s", c->peer, mech);
    smtp_conn_wait_for(c, STEP_AUTH, c->s->conf->helo_timeout);
    smtp_conn_send_line(c, line);
    explicit_bzero(line, sizeof line);
    return true;
}

/* auth_reply - a reply while STEP_AUTH: 334 goes on, 235 is done. */
static void auth_reply(struct smtp_conn *c)
{
    const struct smtp_client_reply *r = &c->reply;
    char said[DELIVERY_STATUS_TEXT_MAX], line[SMTP_AUTH_LINE_MAX];
    const char *why = NULL;
    if (r->code == 334) {
        if (smtp_auth_step(c->auth, r->text, line, &why) < 0) {
            /* RFC 4954 4: "*" cancels; the peer's 501 ends it */
            log_info("event=smtp_auth_cancelled peer=%s error=\"%s\"", c->peer, why);
            smtp_conn_send_line(c, "*\r\n");
        } else {
            smtp_conn_send_line(c, line);
        }
        explicit_bzero(line, sizeof line);
        smtp_conn_wait_for(c, STEP_AUTH, c->s->conf->helo_timeout);
        return;
    }
    smtp_auth_free(&c->auth);
    if (r->code != 235) {
        smtp_client_reply_describe(r, said, sizeof said);
        fail_target(c, false, "host %s refused AUTH as %s: %s", c->peer, c->policy->auth_user,
                    said);
        return;
    }
    c->authed = true;
    log_info("event=smtp_auth peer=%s user=%s", c->peer, c->policy->auth_user);
    c->plain_retry = false;
    c->reached = true;
    smtp_conn_go_idle(c);
}

/* after_ehlo - the EHLO (or HELO) reply was 250. */
static void after_ehlo(struct smtp_conn *c)
{
    enum config_tls_security level = c->policy->tls_security;
    /* a UNIX socket never leaves the host: nothing to encrypt against */
    if (c->targets[c->at].local)
        level = TLS_SECURITY_NONE;
    bool tls = c->conn != NULL && conn_tls_active(c->conn);
    if (!tls && level != TLS_SECURITY_NONE && !(level == TLS_SECURITY_MAY && c->plain_retry)) {
        if (c->caps.starttls) {
            smtp_conn_wait_for(c, STEP_STARTTLS, c->s->conf->helo_timeout);
            smtp_conn_send_line(c, "STARTTLS\r\n");
            return;
        }
        if (level != TLS_SECURITY_MAY) {
            fail_target(c, true, "%s did not offer STARTTLS", c->peer);
            return;
        }
    }
    if (tls)
        log_info("event=smtp_tls peer=%s version=%s cipher=%s verified=%s", c->peer,
                 conn_tls_version(c->conn), conn_tls_cipher(c->conn),
                 level == TLS_SECURITY_VERIFY ? "yes" : "no");
    /* never in clear: the configuration allows credentials only with
     * encrypt or verify, and this checks it again */
    if (tls && !c->authed && c->policy->auth_user != NULL && c->policy->auth_password != NULL &&
        start_auth(c))
        return;
    c->plain_retry = false;
    c->reached = true;
    smtp_conn_go_idle(c);
}

/* go_idle - between messages: RSET first if the last one was cut short. */
void smtp_conn_go_idle(struct smtp_conn *c)
{
    if (c->step == STEP_CLOSED)
        return;
    if (c->need_rset) {
        c->need_rset = false;
        smtp_conn_wait_for(c, STEP_RSET, c->s->conf->helo_timeout);
        smtp_conn_send_line(c, "RSET\r\n");
        return;
    }
    if (c->job != NULL && c->sent == 0) {
        /* the job the connection was opened for */
        smtp_conn_send(c, c->job);
        return;
    }
    c->step = STEP_IDLE;
    smtp_client_reply_reset(&c->reply);
    smtp_conn_arm(c, c->s->conf->idle_time);
    c->ev->idle(c->ctx, c);
}

/* ---- replies ---- */

static void on_reply(struct smtp_conn *c)
{
    const struct smtp_client_reply *r = &c->reply;
    char said[DELIVERY_STATUS_TEXT_MAX];
    int cls = r->code / 100;
    switch (c->step) {
    case STEP_GREETING:
        if (r->code != 220) {
            smtp_client_reply_describe(r, said, sizeof said);
            fail_target(c, false, "host %s refused to talk: %s", c->peer, said);
            return;
        }
        send_ehlo(c, false);
        return;
    case STEP_EHLO:
        if (cls == 5 && c->protocol == SMTP_CLIENT_SMTP) {
            /* RFC 5321 3.2: an old server, HELO; LMTP has none (RFC 2033 4.1) */
            send_ehlo(c, true);
            return;
        }
        /* fall through */
    case STEP_HELO:
        if (cls != 2) {
            smtp_client_reply_describe(r, said, sizeof said);
            fail_target(c, false, "host %s refused %s: %s", c->peer, step_names[c->step], said);
            return;
        }
        after_ehlo(c);
        return;
    case STEP_STARTTLS:
        if (r->code != 220) {
            smtp_client_reply_describe(r, said, sizeof said);
            if (c->policy->tls_security == TLS_SECURITY_MAY) {
                c->reached = true;
                c->plain_retry = false;
                smtp_conn_go_idle(c); /* may: in clear */
                return;
            }
            fail_target(c, true, "%s refused STARTTLS: %s", c->peer, said);
            return;
        }
        start_tls(c);
        return;
    case STEP_AUTH:
        auth_reply(c);
        return;
    case STEP_RSET:
        if (cls != 2) {
            smtp_conn_wait_for(c, STEP_QUIT, c->s->conf->quit_timeout);
            smtp_conn_send_line(c, "QUIT\r\n");
            return;
        }
        smtp_conn_go_idle(c);
        return;
    case STEP_MAIL:
        smtp_conn_transaction_reply(c);
        return;
    case STEP_DOT:
        if (c->accepted_count == 0) {
            smtp_conn_job_end(c, DELIVERY_STATUS_DELIVERY_FAILED, "no reply");
            smtp_conn_go_idle(c);
            return;
        }
        smtp_conn_final_reply(c);
        return;
    case STEP_QUIT:
        smtp_conn_finish(c, NULL);
        return;
    default:
        smtp_conn_lost(c, "unexpected reply");
        return;
    }
}

static void read_replies(struct smtp_conn *c)
{
    for (;;) {
        if (c->step == STEP_HANDSHAKE) {
            enum conn_result r = conn_tls_handshake(c->conn);
            if (r == CONN_AGAIN)
                return;
            if (r == CONN_ERROR) {
                tls_failed(c, conn_error(c->conn));
                return;
            }
            send_ehlo(c, false);
            return;
        }
        struct conn_line line;
        enum conn_result r = conn_read_line(c->conn, &line);
        if (r == CONN_AGAIN)
            return;
        if (r == CONN_EOF || r == CONN_ERROR) {
            smtp_conn_lost(c, "lost connection");
            return;
        }
        if (r == CONN_TOO_LONG || c->step == STEP_BODY || c->step == STEP_IDLE ||
            c->step == STEP_CONNECT) {
            /* a reply nobody asked for, or too long: a broken peer */
            smtp_conn_lost(c, "protocol error");
            return;
        }
        struct conn *cur = c->conn;
        const char *text = NULL;
        enum smtp_client_feed f = smtp_client_reply_feed(&c->reply, line.data, line.len, &text);
        if (f == SMTP_CLIENT_BAD) {
            smtp_conn_lost(c, "malformed reply");
            return;
        }
        if (c->step == STEP_EHLO && c->reply.code == 250) {
            smtp_client_caps_line(&c->caps, text, c->ehlo_first_line);
            c->ehlo_first_line = false;
        }
        if (f == SMTP_CLIENT_DONE) {
            on_reply(c);
            /* closed, or another connection now (a retry in clear, the
             * next address): this one is gone */
            if (c->step == STEP_CLOSED || c->conn != cur)
                return;
        }
    }
}

static void conn_event(struct conn *conn, enum conn_event event, void *ctx)
{
    struct smtp_conn *c = ctx;
    (void)conn;
    switch (event) {
    case CONN_EVENT_INPUT:
        read_replies(c);
        break;
    case CONN_EVENT_FLUSHED:
        if (c->step == STEP_BODY)
            smtp_conn_send_body(c);
        break;
    case CONN_EVENT_TIMEOUT:
        smtp_conn_lost(c, "timeout");
        break;
    }
}
