/* proto/service.c - see service.h. Until the protocol issues land, every
 * row's start function says honestly that the service is not available yet
 * and closes: a client retries later instead of talking to a fake server. */
#include "config.h"

#include "proto/service.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "lib/conn.h"
#include "lib/event.h"
#include "lib/log.h"

/* A last line to send and then close, for refusals and for service types
 * without a protocol yet; a client that does not even complete the TLS
 * handshake or read the line gets this long. */
#define SAY_SESSION_MS 30000

enum say_state { SAY_WRITING, SAY_LINGERING };

struct say {
    enum say_state state;
};

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

int service_starttls(struct service_session *session)
{
    if (conn_flush(session->conn) != CONN_OK)
        return -1;
    size_t discarded = 0;
    if (conn_tls_server_start(session->conn, session->tls_ctx, &discarded) < 0) {
        log_error("event=starttls_failed client=%s error=\"%s\"", session->client_ip,
                  conn_error(session->conn));
        return -1;
    }
    if (discarded > 0)
        log_info("event=starttls_discarded client=%s bytes=%zu", session->client_ip, discarded);
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
    const struct service_proto *proto = session->proto;
    service_say_and_close(session,
                          service_expand(line, sizeof line, proto->busy, session->hostname));
}

void service_unavailable_start(struct service_session *session)
{
    char line[512];
    const struct service_proto *proto = session->proto;
    service_say_and_close(session,
                          service_expand(line, sizeof line, proto->unavailable, session->hostname));
}
