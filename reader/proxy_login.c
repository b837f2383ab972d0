/* reader/proxy_login.c - the front node's side of a proxied login (see
 * proxy.h, doc/proxy.md): the user's node is looked up on the worker's
 * pool (getaddrinfo blocks), each of its addresses tried in turn with a
 * non-blocking connect, TLS as proxy.tls says (the certificate verified
 * against proxy.ca_file for the host name), then the protocol's few lines:
 * POP3 STLS and AUTH PLAIN (RFC 2595 4, RFC 5034 4), IMAP STARTTLS and
 * AUTHENTICATE PLAIN with SASL-IR under the client's tag (RFC 3501 6.2.1,
 * RFC 4959). The PLAIN message (RFC 4616) carries the user as authzid, the
 * proxy identity as authcid and the proxy credential (auth/sasl_proxy.h)
 * as password. One deadline, proxy.timeout, covers it all. */
#include "config.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "auth/sasl_proxy.h"
#include "lib/buf.h"
#include "lib/conn.h"
#include "lib/event.h"
#include "lib/log.h"
#include "lib/threadpool.h"
#include "lib/tls.h"
#include "proto/sasl_shared.h"
#include "reader/proxy.h"

/* The longest line the back node may send during the login: IMAP's tagged
 * OK carries the CAPABILITY list. */
#define PROXY_LOGIN_LINE_MAX 8192
/* The tag of the proxy's own IMAP STARTTLS: the client's commands only
 * begin after the login, so it never meets a client's tag. */
#define PROXY_IMAP_TAG "dirmail-proxy"
/* The longest dirmailMailHost the proxy connects to: a DNS name is at most
 * 253 octets (RFC 1035 2.3.4), "[address]:port" fits too. */
#define PROXY_HOST_MAX 255

enum step {
    STEP_RESOLVE,
    STEP_CONNECT,
    STEP_GREETING,
    STEP_STARTTLS,
    STEP_AUTH_CONTINUE, /* POP3: waiting for the "+" of AUTH PLAIN */
    STEP_AUTH_RESULT,
    STEP_DONE,
};

struct proxy_login {
    struct event_loop *loop;
    const struct config_proxy *conf;
    struct sasl_shared *shared; /* the worker's pool, for the name lookup */
    enum proxy_protocol proto;
    char *host, *user, *tag;
    char client_ip[64];
    unsigned client_port;
    enum step step;
    /* the lookup: written by the pool thread while resolving */
    bool resolving, abandoned;
    int gai_error;
    struct addrinfo *addrs, *next;
    int fd;
    struct event_io *connect_io;
    struct conn *conn;
    struct event_timer *timer;
    char *reply; /* the back node's success line, CRLF included */
    proxy_login_done_fn *done;
    void *ctx;
};

/* The client context for every login of this process; each connection's
 * SSL keeps its own reference, so it goes when the last login goes. */
static SSL_CTX *client_tls;
static unsigned client_tls_users;

bool proxy_enabled(const struct config *conf)
{
    return conf->proxy.secret != NULL;
}

static void release_tls(void)
{
    if (client_tls_users > 0 && --client_tls_users == 0) {
        SSL_CTX_free(client_tls);
        client_tls = NULL;
    }
}

static int acquire_tls(const struct config_proxy *conf)
{
    if (conf->tls == PROXY_TLS_NONE)
        return 0;
    if (client_tls == NULL) {
        char *err = NULL;
        client_tls = tls_client_ctx_new(conf->ca_file, true, &err);
        if (client_tls == NULL) {
            log_error("event=proxy_tls_failed error=\"%s\"", err != NULL ? err : "?");
            free(err);
            return -1;
        }
    }
    client_tls_users++;
    return 0;
}

static void close_parts(struct proxy_login *pl)
{
    event_timer_remove(&pl->timer);
    event_io_remove(&pl->connect_io);
    if (pl->fd >= 0)
        close(pl->fd);
    pl->fd = -1;
    conn_free(&pl->conn);
    if (pl->addrs != NULL)
        freeaddrinfo(pl->addrs);
    pl->addrs = pl->next = NULL;
}

static void destroy(struct proxy_login *pl)
{
    close_parts(pl);
    if (pl->conf->tls != PROXY_TLS_NONE)
        release_tls();
    sasl_shared_release(&pl->shared);
    free(pl->host);
    free(pl->user);
    free(pl->tag);
    free(pl->reply);
    free(pl);
}

void proxy_login_free(struct proxy_login **plp)
{
    struct proxy_login *pl = *plp;
    if (pl == NULL)
        return;
    *plp = NULL;
    if (pl->resolving) {
        /* the lookup's completion frees it; until then nothing may call done */
        event_timer_remove(&pl->timer);
        pl->abandoned = true;
        return;
    }
    destroy(pl);
}

/* finish - the login's end: the owner hears of it and may free pl at once,
 * so nothing touches pl after the call; false, for the callers' "pl is
 * gone" answers below. */
static bool finish(struct proxy_login *pl, enum proxy_result r)
{
    event_timer_remove(&pl->timer);
    pl->step = STEP_DONE;
    if (pl->conn != NULL)
        conn_set_input_paused(pl->conn, true);
    pl->done(pl->ctx, r);
    return false;
}

static bool fail(struct proxy_login *pl, const char *what, const char *detail)
{
    char q[600];
    log_info("event=proxy_login_failed host=%s user=%s client=%s step=%s error=%s", pl->host,
             pl->user, pl->client_ip, what, log_quote(q, sizeof q, detail));
    return finish(pl, PROXY_UNAVAILABLE);
}

static void on_timeout(void *ctx)
{
    fail(ctx, "timeout", "the back node did not answer in time");
}

/* ---- the protocol's lines: each step returns false when pl is gone ---- */

static bool flush(struct proxy_login *pl, const char *what)
{
    return conn_flush(pl->conn) == CONN_ERROR ? fail(pl, what, conn_error(pl->conn)) : true;
}

/* plain_message - base64 of the PLAIN message (RFC 4616): authzid NUL
 * authcid NUL password, the password being the proxy credential with the
 * client's address. Freed by the caller (OPENSSL_clear_free). */
static char *plain_message(const struct proxy_login *pl, size_t *len_r)
{
    char password[256];
    if (!sasl_proxy_password(password, sizeof password, pl->conf->secret, pl->client_ip,
                             pl->client_port))
        return NULL;
    size_t ul = strlen(pl->user), il = strlen(pl->conf->identity), pw = strlen(password);
    size_t len = ul + il + pw + 2;
    unsigned char *plain = malloc(len);
    char *b64 = malloc(((len + 2) / 3) * 4 + 1);
    if (plain != NULL && b64 != NULL) {
        memcpy(plain, pl->user, ul);
        plain[ul] = '\0';
        memcpy(plain + ul + 1, pl->conf->identity, il);
        plain[ul + 1 + il] = '\0';
        memcpy(plain + ul + il + 2, password, pw);
        *len_r = (size_t)EVP_EncodeBlock((unsigned char *)b64, plain, (int)len);
    } else {
        free(b64);
        b64 = NULL;
    }
    OPENSSL_cleanse(password, sizeof password);
    if (plain != NULL)
        OPENSSL_clear_free(plain, len);
    return b64;
}

/* send_auth - POP3: "AUTH PLAIN" first and the response on its own line
 * (a long user name would not fit 255 octets of arguments as an initial
 * response); IMAP: the response inline (SASL-IR) under the client's tag. */
static bool send_auth(struct proxy_login *pl)
{
    if (pl->proto == PROXY_POP3 && pl->step != STEP_AUTH_CONTINUE) {
        conn_printf(pl->conn, "AUTH PLAIN\r\n");
        pl->step = STEP_AUTH_CONTINUE;
        return flush(pl, "auth");
    }
    size_t len = 0;
    char *b64 = plain_message(pl, &len);
    if (b64 == NULL)
        return fail(pl, "auth", "the proxy credential does not fit");
    if (pl->proto == PROXY_IMAP)
        conn_printf(pl->conn, "%s AUTHENTICATE PLAIN ", pl->tag);
    conn_write(pl->conn, b64, len);
    conn_write(pl->conn, "\r\n", 2);
    OPENSSL_clear_free(b64, len + 1);
    pl->step = STEP_AUTH_RESULT;
    return flush(pl, "auth");
}

static bool start_tls(struct proxy_login *pl)
{
    if (conn_tls_client_start(pl->conn, client_tls, pl->host) < 0)
        return fail(pl, "tls", conn_error(pl->conn));
    return send_auth(pl);
}

/* after_greeting - STARTTLS when proxy.tls says so, else the login. */
static bool after_greeting(struct proxy_login *pl)
{
    if (pl->conf->tls != PROXY_TLS_STARTTLS)
        return send_auth(pl);
    if (pl->proto == PROXY_POP3)
        conn_printf(pl->conn, "STLS\r\n");
    else
        conn_printf(pl->conn, "%s STARTTLS\r\n", PROXY_IMAP_TAG);
    pl->step = STEP_STARTTLS;
    return flush(pl, "starttls");
}

static bool starts(const char *line, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    return len >= n && memcmp(line, prefix, n) == 0;
}

/* tagged - line is the answer to tag: "TAG STATUS ..."; *ok_r whether OK. */
static bool tagged(const char *line, size_t len, const char *tag, bool *ok_r)
{
    size_t n = strlen(tag);
    if (len <= n || memcmp(line, tag, n) != 0 || line[n] != ' ')
        return false;
    *ok_r = starts(line + n + 1, len - n - 1, "OK ");
    return true;
}

static bool logged_in(struct proxy_login *pl, const char *line, size_t len)
{
    pl->reply = malloc(len + 3);
    if (pl->reply == NULL)
        return fail(pl, "auth", "out of memory");
    memcpy(pl->reply, line, len);
    memcpy(pl->reply + len, "\r\n", 3);
    log_info("event=proxy_login host=%s user=%s client=%s", pl->host, pl->user, pl->client_ip);
    return finish(pl, PROXY_OK);
}

static bool pop3_line(struct proxy_login *pl, const char *line, size_t len)
{
    bool ok = starts(line, len, "+OK");
    switch (pl->step) {
    case STEP_GREETING:
        return ok ? after_greeting(pl) : fail(pl, "greeting", line);
    case STEP_STARTTLS:
        return ok ? start_tls(pl) : fail(pl, "starttls", line);
    case STEP_AUTH_CONTINUE:
        if (starts(line, len, "+ ") || (len == 1 && line[0] == '+'))
            return send_auth(pl);
        return fail(pl, "auth", line);
    case STEP_AUTH_RESULT:
        if (ok)
            return logged_in(pl, line, len);
        if (starts(line, len, "-ERR [IN-USE]")) {
            log_info("event=proxy_login_in_use host=%s user=%s", pl->host, pl->user);
            return finish(pl, PROXY_IN_USE);
        }
        return fail(pl, "auth", line);
    default:
        return fail(pl, "read", "a line out of turn");
    }
}

static bool imap_line(struct proxy_login *pl, const char *line, size_t len)
{
    bool ok = false;
    switch (pl->step) {
    case STEP_GREETING:
        return starts(line, len, "* OK") ? after_greeting(pl) : fail(pl, "greeting", line);
    case STEP_STARTTLS:
        if (starts(line, len, "* "))
            return true; /* an untagged CAPABILITY, say */
        if (!tagged(line, len, PROXY_IMAP_TAG, &ok) || !ok)
            return fail(pl, "starttls", line);
        return start_tls(pl);
    case STEP_AUTH_RESULT:
        if (starts(line, len, "* "))
            return true;
        if (!tagged(line, len, pl->tag, &ok) || !ok)
            return fail(pl, "auth", line);
        return logged_in(pl, line, len);
    default:
        return fail(pl, "read", "a line out of turn");
    }
}

static void handler(struct conn *conn, enum conn_event event, void *ctx)
{
    struct proxy_login *pl = ctx;
    if (event == CONN_EVENT_FLUSHED)
        return;
    if (event == CONN_EVENT_TIMEOUT) {
        fail(pl, "read", conn_error(conn));
        return;
    }
    for (;;) {
        struct conn_line line;
        enum conn_result r = conn_read_line(conn, &line);
        if (r == CONN_AGAIN) {
            flush(pl, "write");
            return;
        }
        if (r == CONN_EOF || r == CONN_ERROR) {
            fail(pl, "read",
                 r == CONN_EOF ? "the back node closed the connection" : conn_error(conn));
            return;
        }
        if (r == CONN_TOO_LONG || line.has_nul) {
            fail(pl, "read", "a malformed line");
            return;
        }
        bool alive = pl->proto == PROXY_POP3 ? pop3_line(pl, line.data, line.len)
                                             : imap_line(pl, line.data, line.len);
        if (!alive)
            return;
    }
}

/* ---- connecting ---- */

static void try_next(struct proxy_login *pl);

static void connected(struct proxy_login *pl)
{
    pl->conn = conn_new(pl->fd, PROXY_LOGIN_LINE_MAX);
    if (pl->conn == NULL) {
        fail(pl, "connect", "out of memory");
        return;
    }
    pl->fd = -1; /* the conn's now */
    if (conn_attach(pl->conn, pl->loop, handler, pl) < 0) {
        fail(pl, "connect", conn_error(pl->conn));
        return;
    }
    conn_set_timeouts(pl->conn, 0, 0); /* the login's one deadline is the timer */
    pl->step = STEP_GREETING;
    if (pl->conf->tls == PROXY_TLS_IMPLICIT &&
        conn_tls_client_start(pl->conn, client_tls, pl->host) < 0)
        fail(pl, "tls", conn_error(pl->conn));
}

static void on_connect(void *ctx, unsigned events)
{
    struct proxy_login *pl = ctx;
    (void)events;
    event_io_remove(&pl->connect_io);
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(pl->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    if (err != 0) {
        log_info("event=proxy_connect_failed host=%s error=\"%s\"", pl->host, strerror(err));
        close(pl->fd);
        pl->fd = -1;
        try_next(pl);
        return;
    }
    connected(pl);
}

/* try_next - connect to the next of the host's addresses. */
static void try_next(struct proxy_login *pl)
{
    while (pl->next != NULL) {
        struct addrinfo *ai = pl->next;
        pl->next = ai->ai_next;
        pl->fd =
            socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (pl->fd < 0)
            continue;
        if (connect(pl->fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            connected(pl);
            return;
        }
        if (errno == EINPROGRESS) {
            pl->connect_io = event_io_add(pl->loop, pl->fd, EVENT_WRITE, on_connect, pl);
            if (pl->connect_io != NULL)
                return;
        }
        log_info("event=proxy_connect_failed host=%s error=\"%s\"", pl->host, strerror(errno));
        close(pl->fd);
        pl->fd = -1;
    }
    fail(pl, "connect", "no address of the back node accepted the connection");
}

static void resolve_work(void *arg)
{
    struct proxy_login *pl = arg;
    char port[8];
    snprintf(port, sizeof port, "%u",
             pl->proto == PROXY_POP3 ? pl->conf->pop3_port : pl->conf->imap_port);
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    pl->gai_error = getaddrinfo(pl->host, port, &hints, &pl->addrs);
}

static void resolve_done(void *arg)
{
    struct proxy_login *pl = arg;
    pl->resolving = false;
    if (pl->abandoned) {
        destroy(pl);
        return;
    }
    if (pl->gai_error != 0) {
        pl->addrs = NULL;
        fail(pl, "resolve", gai_strerror(pl->gai_error));
        return;
    }
    pl->next = pl->addrs;
    pl->step = STEP_CONNECT;
    try_next(pl);
}

char *proxy_host_name(const char *mail_host)
{
    const char *end = strrchr(mail_host, ':');
    if (mail_host[0] == '[') {
        const char *close = strchr(mail_host, ']');
        if (close != NULL)
            return bytes_dup(mail_host + 1, (size_t)(close - mail_host - 1));
    } else if (end != NULL && strchr(mail_host, ':') == end) {
        return bytes_dup(mail_host, (size_t)(end - mail_host));
    }
    return strdup(mail_host); /* a bare name, or an IPv6 address without a port */
}

struct proxy_login *proxy_login_start(struct service_session *ss, enum proxy_protocol proto,
                                      const char *host, const char *user, const char *tag,
                                      proxy_login_done_fn *done, void *ctx)
{
    const struct config_proxy *conf = &ss->config->proxy;
    if (conf->secret == NULL)
        return NULL;
    if (strlen(host) > PROXY_HOST_MAX) {
        log_info("event=proxy_login_failed user=%s client=%s step=resolve error=\"the user's "
                 "mail host is longer than %d octets\"",
                 user, ss->client_ip, PROXY_HOST_MAX);
        return NULL;
    }
    struct proxy_login *pl = calloc(1, sizeof *pl);
    if (pl == NULL)
        return NULL;
    pl->loop = ss->loop;
    pl->conf = conf;
    pl->proto = proto;
    pl->fd = -1;
    pl->done = done;
    pl->ctx = ctx;
    snprintf(pl->client_ip, sizeof pl->client_ip, "%s", ss->client_ip);
    pl->client_port = ss->client_port;
    pl->host = proxy_host_name(host);
    pl->user = strdup(user);
    pl->tag = strdup(tag != NULL ? tag : "");
    if (pl->host == NULL || pl->user == NULL || pl->tag == NULL || acquire_tls(conf) < 0) {
        free(pl->host);
        free(pl->user);
        free(pl->tag);
        free(pl);
        return NULL;
    }
    pl->shared = sasl_shared_acquire(ss->loop, ss->config);
    pl->timer = event_timer_add(ss->loop, (uint64_t)conf->timeout * 1000, on_timeout, pl);
    if (pl->shared == NULL || pl->timer == NULL) {
        destroy(pl);
        return NULL;
    }
    pl->resolving = true;
    if (threadpool_submit(pl->shared->pool, resolve_work, resolve_done, pl) < 0) {
        pl->resolving = false;
        destroy(pl);
        return NULL;
    }
    return pl;
}

struct conn *proxy_login_take(struct proxy_login **plp, char **reply_r, char **host_r)
{
    struct proxy_login *pl = *plp;
    *plp = NULL;
    struct conn *conn = pl->conn;
    pl->conn = NULL;
    *reply_r = pl->reply;
    pl->reply = NULL;
    *host_r = pl->host;
    pl->host = NULL;
    destroy(pl);
    return conn;
}
