/* gateway/queue_runner_control.c - see queue_runner_control.h.
 *
 * A request is one short line, so a client is one struct conn with a line
 * limit and a deadline; a client that sends more than a line, too long a
 * line or nothing within QUEUE_CONTROL_TIMEOUT_MS is answered "error" (or
 * dropped) and closed. At most CONTROL_MAX_CLIENTS at once: dirmailctl is
 * run by hand or by scripts, one request at a time. */
#include "config.h"

#include "gateway/queue_runner_control.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/conn.h"
#include "lib/error.h"
#include "lib/event.h"
#include "lib/log.h"
#include "lib/unix_listen.h"

#define CONTROL_MAX_CLIENTS 8

struct control_client {
    struct queue_runner_control *qc;
    struct conn *conn;
    bool answered; /* closing once the answer is written */
};

struct queue_runner_control {
    struct event_loop *loop;
    int listen_fd;
    struct event_io *io;
    queue_runner_control_fn *fn;
    void *ctx;
    struct control_client *clients[CONTROL_MAX_CLIENTS];
};

static void client_close(struct control_client *c)
{
    struct queue_runner_control *qc = c->qc;
    for (size_t i = 0; i < CONTROL_MAX_CLIENTS; i++) {
        if (qc->clients[i] == c)
            qc->clients[i] = NULL;
    }
    conn_free(&c->conn);
    free(c);
}

/* answer - write the answer line and close once it is out. */
static void answer(struct control_client *c, const char *line)
{
    conn_printf(c->conn, "%s\n", line);
    c->answered = true;
    enum conn_result r = conn_flush(c->conn);
    if (r != CONN_AGAIN)
        client_close(c);
}

/* serve - the request line of c. */
static void serve(struct control_client *c, const struct conn_line *line)
{
    enum queue_control_cmd cmd;
    char id[QUEUE_ID_SIZE], text[64];
    const char *why = NULL;
    if (line->has_nul || !queue_control_parse(line->data, line->len, &cmd, id, &why)) {
        log_warning("event=queue_control_bad_request error=\"%s\"",
                    why != NULL ? why : "NUL in request");
        snprintf(text, sizeof text, "error %s", why != NULL ? why : "bad request");
        answer(c, text);
        return;
    }
    unsigned long count = 0;
    enum queue_control_answer a = c->qc->fn(c->qc->ctx, cmd, id, &count);
    log_info("event=queue_control command=%s id=%s answer=%s count=%lu",
             cmd == QUEUE_CONTROL_FLUSH  ? "flush"
             : cmd == QUEUE_CONTROL_HOLD ? "hold"
                                         : "release",
             id[0] != '\0' ? id : "all",
             a == QUEUE_CONTROL_OK        ? "ok"
             : a == QUEUE_CONTROL_UNKNOWN ? "unknown"
             : a == QUEUE_CONTROL_HELD    ? "held"
                                          : "error",
             count);
    switch (a) {
    case QUEUE_CONTROL_OK:
        snprintf(text, sizeof text, "ok %lu", count);
        break;
    case QUEUE_CONTROL_UNKNOWN:
        snprintf(text, sizeof text, "unknown");
        break;
    case QUEUE_CONTROL_HELD:
        snprintf(text, sizeof text, "held");
        break;
    case QUEUE_CONTROL_ERROR:
        snprintf(text, sizeof text, "error out of memory");
        break;
    }
    answer(c, text);
}

static void client_event(struct conn *conn, enum conn_event event, void *ctx)
{
    struct control_client *c = ctx;
    (void)conn;
    if (event == CONN_EVENT_FLUSHED) {
        if (c->answered)
            client_close(c);
        return;
    }
    if (event == CONN_EVENT_TIMEOUT || c->answered) {
        /* silent client, or bytes after its one request */
        client_close(c);
        return;
    }
    struct conn_line line;
    enum conn_result r = conn_read_line(c->conn, &line);
    if (r == CONN_OK)
        serve(c, &line);
    else if (r == CONN_TOO_LONG)
        answer(c, "error request too long");
    else if (r != CONN_AGAIN)
        client_close(c);
}

/* accept_one - fd, a new connection: root or our own user only. */
static void accept_one(struct queue_runner_control *qc, int fd)
{
    struct ucred cred;
    socklen_t len = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
        (cred.uid != 0 && cred.uid != geteuid())) {
        /* The socket's mode should have stopped this already. */
        log_warning("event=queue_control_refused peer_uid=%ld reason=uid",
                    len == sizeof cred ? (long)cred.uid : -1L);
        close(fd);
        return;
    }
    size_t slot;
    for (slot = 0; slot < CONTROL_MAX_CLIENTS && qc->clients[slot] != NULL; slot++)
        ;
    struct control_client *c = slot < CONTROL_MAX_CLIENTS ? calloc(1, sizeof *c) : NULL;
    struct conn *conn = c != NULL ? conn_new(fd, QUEUE_CONTROL_LINE_MAX + 2) : NULL;
    if (conn == NULL) {
        log_warning("event=queue_control_refused reason=%s",
                    slot < CONTROL_MAX_CLIENTS ? "out-of-memory" : "too-many-connections");
        free(c);
        close(fd);
        return;
    }
    c->qc = qc;
    c->conn = conn;
    if (conn_attach(conn, qc->loop, client_event, c) < 0) {
        conn_free(&c->conn);
        free(c);
        return;
    }
    conn_set_timeouts(conn, QUEUE_CONTROL_TIMEOUT_MS, QUEUE_CONTROL_TIMEOUT_MS);
    qc->clients[slot] = c;
}

static void accept_ready(void *ctx, unsigned events)
{
    struct queue_runner_control *qc = ctx;
    (void)events;
    for (int i = 0; i < CONTROL_MAX_CLIENTS; i++) {
        int fd = accept4(qc->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                log_error("event=queue_control_accept_failed error=\"%s\"", strerror(errno));
            return;
        }
        accept_one(qc, fd);
    }
}

struct queue_runner_control *queue_runner_control_open(struct event_loop *loop, const char *path,
                                                       queue_runner_control_fn *fn, void *ctx,
                                                       char **error_r)
{
    struct queue_runner_control *qc = calloc(1, sizeof *qc);
    if (qc == NULL) {
        error_set(error_r, "out of memory");
        return NULL;
    }
    qc->loop = loop;
    qc->fn = fn;
    qc->ctx = ctx;
    /* Not root here: no owner to set, the runner's user owns it. */
    qc->listen_fd = unix_listen_open(path, 0600, NULL, error_r);
    if (qc->listen_fd < 0) {
        free(qc);
        return NULL;
    }
    qc->io = event_io_add(loop, qc->listen_fd, EVENT_READ, accept_ready, qc);
    if (qc->io == NULL) {
        error_set(error_r, "out of memory");
        close(qc->listen_fd);
        free(qc);
        return NULL;
    }
    return qc;
}

void queue_runner_control_free(struct queue_runner_control **qcp)
{
    struct queue_runner_control *qc = *qcp;
    if (qc == NULL)
        return;
    for (size_t i = 0; i < CONTROL_MAX_CLIENTS; i++) {
        if (qc->clients[i] != NULL)
            client_close(qc->clients[i]);
    }
    event_io_remove(&qc->io);
    close(qc->listen_fd);
    free(qc);
    *qcp = NULL;
}
