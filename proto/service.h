/* proto/service.h - the one table from a service type to the protocol that
 * serves it and the words it uses to refuse a connection (RFC 5321 421 at the
 * greeting, RFC 3206 [SYS/TEMP], RFC 5530 [UNAVAILABLE]). A protocol issue
 * plugs in by replacing its row's start function; nothing else changes. */
#ifndef DIRMAIL_SERVICE_H
#define DIRMAIL_SERVICE_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

#include "conf/conf.h"

struct conn;
struct conn_deadlines;
struct conn_limit;
struct service_proto;
struct pregreet_cache;
struct event_loop;

/* One accepted connection handed to a protocol. The worker allocates it and
 * fills every field; the protocol owns conn from start on, frees it when the
 * session ends (conn_free, which also does the TLS close) and then calls
 * finished(session) exactly once, after which session is gone. */
struct service_session {
    struct event_loop *loop;
    struct conn *conn;
    const struct config *config;
    const struct config_service *service;
    SSL_CTX *tls_ctx; /* NULL when [tls] names no certificate */
    const char *hostname;
    char client_ip[64]; /* "unix" for a client of a UNIX socket */
    unsigned client_port;
    bool local_socket; /* accepted on a UNIX socket: its owner and mode let the client in */
    void (*finished)(struct service_session *session);
    void *owner;                       /* the worker's own data; protocols leave it alone */
    struct conn_limit *limits;         /* the shared counts (failed logins per address) */
    struct pregreet_cache *pregreet;   /* addresses that passed the pregreet test */
    void *protocol;                    /* the protocol's own per-session state */
    const struct service_proto *proto; /* the row serving this session's service */
    /* The service's deadlines in this worker (lib/conn.h), kept alive and
     * updated in place by the worker while the service is overloaded. */
    const struct conn_deadlines *deadlines;
};

/* service_start_fn - take over session (first reply, TLS for implicit-TLS
 * services: see service_tls_begin). Never fails: a protocol that cannot
 * proceed replies as it should and ends the session. */
typedef void service_start_fn(struct service_session *session);

struct service_proto {
    enum service_type type;
    const char *protocol; /* "smtp", "lmtp", "pop3", "imap" */
    service_start_fn *start;
    /* Free what this protocol's sessions share within the process (pools,
     * auth sockets, SASL) once every session has ended; NULL when nothing. */
    void (*shutdown)(void);
    /* One line each, without CRLF; "%h" stands for the hostname. */
    const char *busy;        /* refused by a connection limit */
    const char *unavailable; /* no protocol serves this type yet */
};

/* service_refuse - tell the client the connection limit was reached (after
 * the TLS handshake on implicit-TLS services) and end the session. */
void service_refuse(struct service_session *session);

/* service_say_and_close - send line (already expanded, no CRLF) and end the
 * session: after the TLS handshake on implicit-TLS services, then a lingering
 * close so that the line is not lost to a TCP reset if the client had sent
 * something. Any protocol may use it for its last words. */
void service_say_and_close(struct service_session *session, const char *line);

/* service_expand - write text with "%h" replaced by hostname into buf; buf. */
const char *service_expand(char *buf, size_t size, const char *text, const char *hostname);

/* service_unavailable_start - the start function of a row whose protocol
 * is not built yet: its unavailable line, then close, so that a client
 * retries later instead of talking to a fake server. */
void service_unavailable_start(struct service_session *session);

/* service_tls_begin - start implicit TLS on session's conn; -1 (logged) when
 * no TLS context is configured or OpenSSL refuses. */
int service_tls_begin(struct service_session *session);

/* service_starttls - the STARTTLS of a line protocol, once its go-ahead
 * reply is queued: flush it, then begin TLS as the server. What the client
 * sent in plaintext after the command is discarded (RFC 3207 4.2, RFC 2595
 * 4, RFC 3501 6.2.1, RFC 5804 2.2) and the count logged. 0; -1 (logged)
 * when the connection is gone or TLS cannot start: end the session. The
 * caller then forgets what it learnt before (its SASL session, parser). */
int service_starttls(struct service_session *session);

#endif
