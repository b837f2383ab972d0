/* tests/tls_test_server.c - a tiny line service built on lib's event loop,
 * conn and tls, to prove that layer with real clients (openssl s_client,
 * Python's ssl). Test-only: never installed.
 *
 *   tls_test_server --port N --cert F --key F [--implicit] [--host A] [--line-limit N]
 *
 * Greets "220 test ready"; STARTTLS -> "220 ready to start TLS" then TLS;
 * "ECHO text" -> "250 text"; INFO -> "250 tls=<version|none> cipher=<c>
 * discarded=<n>"; QUIT -> "221 bye"; too long -> "500 line too long". */
#include "config.h"

#include "lib/conn.h"
#include "lib/event.h"
#include "lib/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct session {
    struct conn *conn;
    size_t discarded;
    bool starttls_pending; /* STARTTLS reply still being flushed */
    bool closing;          /* QUIT reply still being flushed */
    struct session *prev, *next;
};

static struct event_loop *loop;
static SSL_CTX *ssl_ctx;
static struct session *sessions;
static size_t line_limit = 256;
static bool implicit_tls;

static void session_free(struct session *s)
{
    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        sessions = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    conn_free(&s->conn);
    free(s);
}

static void start_tls(struct session *s)
{
    s->starttls_pending = false;
    if (conn_tls_server_start(s->conn, ssl_ctx, &s->discarded) < 0) {
        fprintf(stderr, "tls_test_server: STARTTLS: %s\n", conn_error(s->conn));
        session_free(s);
        return;
    }
    fprintf(stderr, "tls_test_server: starttls discarded=%zu\n", s->discarded);
}

/* command - one line; false when the session was freed or must stop reading. */
static bool command(struct session *s, const struct conn_line *line)
{
    struct conn *c = s->conn;
    if (strcmp(line->data, "STARTTLS") == 0 && line->len == 8) {
        if (conn_tls_active(c)) {
            conn_printf(c, "454 TLS already active\r\n");
            return true;
        }
        conn_printf(c, "220 ready to start TLS\r\n");
        enum conn_result r = conn_flush(c);
        if (r == CONN_OK) {
            start_tls(s);
            return false; /* read again only when the next event comes */
        }
        if (r == CONN_AGAIN) {
            s->starttls_pending = true;
            conn_set_input_paused(c, true);
            return false;
        }
        session_free(s);
        return false;
    }
    if (strncmp(line->data, "EHLO ", 5) == 0) {
        /* Enough of RFC 5321 for openssl s_client -starttls smtp. */
        conn_printf(c, "250-test\r\n250 STARTTLS\r\n");
    } else if (strncmp(line->data, "ECHO ", 5) == 0) {
        conn_printf(c, "250 %s\r\n", line->data + 5);
    } else if (strcmp(line->data, "INFO") == 0) {
        const char *version = conn_tls_version(c);
        const char *cipher = conn_tls_cipher(c);
        conn_printf(c, "250 tls=%s cipher=%s discarded=%zu\r\n", version ? version : "none",
                    cipher ? cipher : "none", s->discarded);
    } else if (strcmp(line->data, "QUIT") == 0) {
        conn_printf(c, "221 bye\r\n");
        enum conn_result r = conn_flush(c);
        if (r == CONN_AGAIN) {
            s->closing = true;
            conn_set_input_paused(c, true);
        } else {
            session_free(s);
        }
        return false;
    } else {
        conn_printf(c, "500 unknown command\r\n");
    }
    return true;
}

static void handler(struct conn *c, enum conn_event event, void *ctx)
{
    struct session *s = ctx;
    if (event == CONN_EVENT_TIMEOUT) {
        session_free(s);
        return;
    }
    if (event == CONN_EVENT_FLUSHED) {
        if (s->closing) {
            session_free(s);
        } else if (s->starttls_pending) {
            conn_set_input_paused(c, false);
            start_tls(s);
        }
        return;
    }
    if (s->starttls_pending || s->closing)
        return;
    for (;;) {
        struct conn_line line;
        enum conn_result r = conn_read_line(c, &line);
        if (r == CONN_OK) {
            if (!command(s, &line))
                return;
        } else if (r == CONN_TOO_LONG) {
            conn_printf(c, "500 line too long\r\n");
        } else if (r == CONN_AGAIN) {
            break;
        } else {
            if (r == CONN_ERROR)
                fprintf(stderr, "tls_test_server: %s\n", conn_error(c));
            session_free(s);
            return;
        }
    }
    if (conn_flush(c) == CONN_ERROR) {
        fprintf(stderr, "tls_test_server: %s\n", conn_error(c));
        session_free(s);
    }
}

static void on_accept(void *ctx, unsigned events)
{
    int lfd = *(int *)ctx;
    int fd = accept(lfd, NULL, NULL);
    if (fd < 0)
        return;
    struct session *s = calloc(1, sizeof *s);
    if (s == NULL || (s->conn = conn_new(fd, line_limit)) == NULL) {
        free(s);
        close(fd);
        return;
    }
    s->next = sessions;
    if (sessions != NULL)
        sessions->prev = s;
    sessions = s;
    conn_set_timeouts(s->conn, 30000, 120000);
    if (conn_attach(s->conn, loop, handler, s) < 0) {
        session_free(s);
        return;
    }
    if (implicit_tls) {
        if (conn_tls_server_start(s->conn, ssl_ctx, &s->discarded) < 0) {
            session_free(s);
            return;
        }
    }
    conn_printf(s->conn, "220 test ready\r\n");
    if (conn_flush(s->conn) == CONN_ERROR) {
        /* Under implicit TLS the greeting drives the handshake, which can
         * fail right here when the client's bytes are already in. */
        fprintf(stderr, "tls_test_server: %s\n", conn_error(s->conn));
        session_free(s);
    }
}

static void on_signal(void *ctx, int signo)
{
    event_loop_stop(loop);
}

static void usage(void)
{
    fprintf(stderr, "usage: tls_test_server --port N --cert F --key F [--implicit] [--host A] "
                    "[--line-limit N]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *cert = NULL, *key = NULL, *host = "127.0.0.1";
    long port = -1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--implicit") == 0)
            implicit_tls = true;
        else if (i + 1 >= argc)
            usage();
        else if (strcmp(argv[i], "--port") == 0)
            port = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--cert") == 0)
            cert = argv[++i];
        else if (strcmp(argv[i], "--key") == 0)
            key = argv[++i];
        else if (strcmp(argv[i], "--host") == 0)
            host = argv[++i];
        else if (strcmp(argv[i], "--line-limit") == 0)
            line_limit = (size_t)strtoul(argv[++i], NULL, 10);
        else
            usage();
    }
    if (port <= 0 || port > 65535 || cert == NULL || key == NULL)
        usage();
    signal(SIGPIPE, SIG_IGN);

    char *error = NULL;
    ssl_ctx = tls_server_ctx_new(cert, key, NULL, NULL, NULL, &error);
    if (ssl_ctx == NULL) {
        fprintf(stderr, "tls_test_server: %s\n", error ? error : "out of memory");
        free(error);
        return 1;
    }

    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t len;
    int family = strchr(host, ':') != NULL ? AF_INET6 : AF_INET;
    if (family == AF_INET6) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)port);
        len = sizeof *sin6;
        if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
            usage();
    } else {
        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)port);
        len = sizeof *sin;
        if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
            usage();
    }
    int lfd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(lfd, (struct sockaddr *)&ss, len) < 0 || listen(lfd, 16) < 0) {
        fprintf(stderr, "tls_test_server: listen %s:%ld: %s\n", host, port, strerror(errno));
        return 1;
    }

    loop = event_loop_new();
    if (loop == NULL)
        return 1;
    struct event_io *lio = event_io_add(loop, lfd, EVENT_READ, on_accept, &lfd);
    struct event_signal *term = event_signal_add(loop, SIGTERM, on_signal, NULL);
    struct event_signal *intr = event_signal_add(loop, SIGINT, on_signal, NULL);
    if (lio == NULL || term == NULL || intr == NULL)
        return 1;
    int rc = event_loop_run(loop);

    while (sessions != NULL)
        session_free(sessions);
    event_io_remove(&lio);
    event_signal_remove(&term);
    event_signal_remove(&intr);
    event_loop_free(&loop);
    close(lfd);
    SSL_CTX_free(ssl_ctx);
    return rc == 0 ? 0 : 1;
}
