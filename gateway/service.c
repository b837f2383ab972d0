/* gateway/service.c - see service.h. Until the protocol issues land, every
 * row's start function says honestly that the service is not available yet
 * and closes: a client retries later instead of talking to a fake server. */
#include "config.h"

#include "gateway/service.h"

#include "gateway/smtp_session.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "lib/conn.h"
#include "lib/event.h"
#include "lib/log.h"

static service_start_fn service_unavailable_start;

/* Refusals: SMTP and LMTP may answer 421 instead of the greeting (RFC 5321
 * section 3.1 and 4.2.5; RFC 2033 section 4.1 keeps SMTP's replies); POP3
 * gets -ERR with the [SYS/TEMP] response code (RFC 3206 section 4); IMAP an
 * untagged BYE with [UNAVAILABLE] (RFC 5530 section 3) instead of OK. */
#define SMTP_BUSY "421 4.7.0 %h Too many connections, try again later"
#define SMTP_UNAVAILABLE "421 4.3.2 %h Service not available yet"
#define POP3_BUSY "-ERR [SYS/TEMP] Too many connections"
#define POP3_UNAVAILABLE "-ERR [SYS/TEMP] Service not available yet"
#define IMAP_BUSY "* BYE [UNAVAILABLE] Too many connections"
#define IMAP_UNAVAILABLE "* BYE [UNAVAILABLE] Service not available yet"

static const struct service_proto protos[] = {
    {SERVICE_SMTP, "smtp", smtp_session_start, SMTP_BUSY, SMTP_UNAVAILABLE},
    {SERVICE_SUBMISSION, "smtp", smtp_session_start, SMTP_BUSY, SMTP_UNAVAILABLE},
    {SERVICE_SUBMISSIONS, "smtp", smtp_session_start, SMTP_BUSY, SMTP_UNAVAILABLE},
    {SERVICE_LMTP, "lmtp", service_unavailable_start, SMTP_BUSY, SMTP_UNAVAILABLE},
    {SERVICE_POP3, "pop3", service_unavailable_start, POP3_BUSY, POP3_UNAVAILABLE},
    {SERVICE_POP3S, "pop3", service_unavailable_start, POP3_BUSY, POP3_UNAVAILABLE},
    {SERVICE_IMAP, "imap", service_unavailable_start, IMAP_BUSY, IMAP_UNAVAILABLE},
    {SERVICE_IMAPS, "imap", service_unavailable_start, IMAP_BUSY, IMAP_UNAVAILABLE},
};

/* A last line to send and then close, for refusals and for service types
 * without a protocol yet; a client that does not even complete the TLS
 * handshake or read the line gets this long. */
#define SAY_SESSION_MS 30000

enum say_state { SAY_WRITING, SAY_LINGERING };

struct say {
    enum say_state state;
};

void service_shutdown(void)
{
    smtp_session_shutdown();
}

const struct service_proto *service_proto(enum service_type type)
{
    for (size_t i = 0; i < sizeof protos / sizeof protos[0]; i++) {
        if (protos[i].type == type)
            return &protos[i];
    }
    return NULL;
}

const char *service_expand(char *buf, size_t size, const char *text, const char *hostname)
{
    size_t out = 0;
    if (size == 0)
        return buf;
    for (const char *p = text; *p != '\0' && out + 1 < size; p++) {
        if (p[0] == '%' && p[1] == 'h') {
            size_t len = strlen(hostname);
            if (len > size - 1 - out)
                len = size - 1 - out;
            memcpy(buf + out, hostname, len);
            out += len;
            p++;
        } else {
            buf[out++] = *p;
        }
    }
    buf[out] = '\0';
    return buf;
}

int service_tls_begin(struct service_session *session)
{
    if (session->tls_ctx == NULL) {
        log_error("event=tls_unavailable service=%s client=%s reason=\"no [tls] certificate\"",
                  session->service->name, session->client_ip);
        return -1;
    }
    if (conn_tls_server_start(session->conn, session->tls_ctx, NULL) < 0) {
        log_error("event=tls_failed service=%s client=%s error=\"%s\"", session->service->name,
                  session->client_ip, conn_error(session->conn));
        return -1;
    }
    return 0;
}

/* say_end - free the connection and hand the session back to the worker. */
static void say_end(struct service_session *session)
{
    free(session->protocol);
    session->protocol = NULL;
    conn_free(&session->conn);
    session->finished(session);
}

/* say_linger - the line is out: read (and drop) until the client closes,
 * for at most the service's idle timeout. Closing with unread input would
 * send a TCP reset that can destroy the line before the client reads it; and
 * a refused or not-yet-served client keeps counting against the connection
 * limits until it has gone, so that a client cannot open more connections by
 * simply not reading its answer. Plain TCP also gets a FIN right away
 * (shutdown SHUT_WR); under TLS, conn_free sends close_notify at the end. */
static void say_linger(struct service_session *session)
{
    struct say *say = session->protocol;
    if (!conn_tls_active(session->conn) && shutdown(conn_fd(session->conn), SHUT_WR) < 0) {
        say_end(session);
        return;
    }
    say->state = SAY_LINGERING;
    conn_set_timeouts(session->conn, 0, session->service->idle_timeout * 1000ull);
}

static void say_handler(struct conn *conn, enum conn_event event, void *ctx)
{
    struct service_session *session = ctx;
    struct say *say = session->protocol;

    if (event == CONN_EVENT_TIMEOUT) {
        say_end(session);
        return;
    }
    if (say->state == SAY_WRITING) {
        /* Input while writing is a TLS handshake in progress or a client
         * talking before the greeting: either way, push the line out. */
        enum conn_result r = conn_flush(conn);
        if (r == CONN_OK)
            say_linger(session);
        else if (r != CONN_AGAIN)
            say_end(session);
        return;
    }
    for (;;) {
        const char *data;
        size_t len;
        enum conn_result r = conn_read_bytes(conn, 4096, &data, &len);
        if (r == CONN_AGAIN)
            return;
        if (r != CONN_OK) {
            say_end(session);
            return;
        }
    }
}

void service_say_and_close(struct service_session *session, const char *line)
{
    struct say *say = calloc(1, sizeof *say);
    if (say == NULL) {
        conn_free(&session->conn);
        session->finished(session);
        return;
    }
    session->protocol = say;
    say->state = SAY_WRITING;
    if (config_service_implicit_tls(session->service->type) && !conn_tls_active(session->conn) &&
        service_tls_begin(session) < 0) {
        say_end(session);
        return;
    }
    if (conn_attach(session->conn, session->loop, say_handler, session) < 0) {
        say_end(session);
        return;
    }
    conn_set_timeouts(session->conn, 0, SAY_SESSION_MS);
    conn_printf(session->conn, "%s\r\n", line);
    enum conn_result r = conn_flush(session->conn);
    if (r == CONN_OK)
        say_linger(session);
    else if (r != CONN_AGAIN)
        say_end(session);
}

void service_refuse(struct service_session *session)
{
    char line[512];
    const struct service_proto *proto = service_proto(session->service->type);
    service_say_and_close(session,
                          service_expand(line, sizeof line, proto->busy, session->hostname));
}

/* service_unavailable_start - the start function of every row until its
 * protocol issue replaces it. */
static void service_unavailable_start(struct service_session *session)
{
    char line[512];
    const struct service_proto *proto = service_proto(session->service->type);
    service_say_and_close(session,
                          service_expand(line, sizeof line, proto->unavailable, session->hostname));
}
