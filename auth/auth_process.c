/* auth/auth_process.c - see auth_process.h. Only the loop thread touches the
 * connections and the cache; pool threads see nothing but their job (the
 * decoded request in, an encoded body out), so there is one lock, inside
 * auth_threads.c. */
#include "config.h"

#include "auth/auth_process.h"
#include "auth/dir_view.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "auth/auth_cache.h"
#include "auth/auth_protocol.h"
#include "auth/auth_threads.h"
#include "lib/buf.h"
#include "lib/conn.h"
#include "lib/event.h"
#include "lib/log.h"

#define ACCEPT_BATCH 32

struct auth_server;

struct client {
    struct client *prev, *next;
    struct auth_server *srv;
    struct conn *conn; /* NULL once closed; the struct lives on while jobs run */
    unsigned long id;
    unsigned pending; /* jobs in the threads */
    bool closing;     /* no more reads: close when answered and flushed */
    bool paused;
};

struct job {
    struct auth_task task; /* first: the threads link it */
    struct client *client;
    struct auth_request req;
    struct buf key;
    /* Filled by the thread. */
    enum auth_status status;
    enum dir_auth_reason reason;
    struct buf body;
    bool nomem;
};

struct auth_server {
    struct event_loop *loop;
    struct directory *dir;
    struct auth_cache *cache;
    struct auth_threads *threads;
    int listen_fd;
    uid_t allowed_uid;
    struct event_io *io;
    struct event_io *done_io;
    struct event_signal *sigterm;
    struct event_timer *grace;
    struct client *clients;
    unsigned client_count;
    unsigned long next_client_id;
    unsigned long pending; /* jobs in the threads, all clients */
    bool stopping;
    uint64_t grace_ms; /* SIGTERM waits this long for directory calls in flight */
    struct buf out;    /* scratch for one answer */
};

/* ---- directory results to protocol structs: auth/dir_view.h ---- */

static enum auth_status found_status(enum dir_result r)
{
    return r == DIR_FOUND ? AUTH_FOUND : r == DIR_NOTFOUND ? AUTH_NOTFOUND : AUTH_TEMPFAIL;
}

/* job_run - on a pool thread: ask the directory and encode the body. */
static void job_run(void *ctx, struct auth_task *task)
{
    struct directory *dir = ctx;
    struct job *job = (struct job *)task;
    const struct auth_request *req = &job->req;
    int ret = 0;
    switch (req->type) {
    case AUTH_REQ_RESOLVE: {
        struct dir_recipient *d = NULL;
        job->status = found_status(dir_resolve(dir, req->args[0], &d));
        struct auth_recipient r;
        if (d != NULL)
            dir_view_recipient(d, &r);
        ret = auth_body_recipient(&job->body, job->status, d != NULL ? &r : NULL);
        dir_recipient_free(&d);
        break;
    }
    case AUTH_REQ_AUTH: {
        struct dir_user *d = NULL;
        const char *service = req->args[2][0] != '\0' ? req->args[2] : NULL;
        enum dir_auth_result a =
            dir_authenticate(dir, req->args[0], req->args[1], service, &d, &job->reason);
        job->status = a == DIR_AUTH_OK       ? AUTH_OK
                      : a == DIR_AUTH_FAILED ? AUTH_FAILED
                                             : AUTH_TEMPFAIL;
        struct auth_user u;
        if (d != NULL && job->status == AUTH_OK)
            dir_view_user(d, &u);
        ret = auth_body_user(&job->body, job->status,
                             d != NULL && job->status == AUTH_OK ? &u : NULL);
        dir_user_free(&d);
        break;
    }
    case AUTH_REQ_USER: {
        struct dir_user *d = NULL;
        job->status = found_status(dir_user_fetch(dir, req->args[0], &d));
        struct auth_user u;
        if (d != NULL && job->status == AUTH_FOUND)
            dir_view_user(d, &u);
        ret = auth_body_user(&job->body, job->status,
                             d != NULL && job->status == AUTH_FOUND ? &u : NULL);
        dir_user_free(&d);
        break;
    }
    case AUTH_REQ_SENDERS: {
        struct dir_strlist *l = NULL;
        job->status = found_status(dir_sender_addresses(dir, req->args[0], &l));
        if (job->status == AUTH_FOUND && l != NULL) {
            struct auth_strlist v = dir_view_strlist(l);
            ret = auth_body_senders(&job->body, &v);
        } else {
            ret = auth_body_status(&job->body, job->status, NULL);
        }
        dir_strlist_free(&l);
        break;
    }
    }
    if (ret < 0)
        job->nomem = true;
}

static void job_free(struct job **jobp)
{
    struct job *job = *jobp;
    if (job == NULL)
        return;
    if (job->req.type == AUTH_REQ_AUTH && job->req.args[1] != NULL)
        OPENSSL_cleanse(job->req.args[1], strlen(job->req.args[1]));
    auth_request_clear(&job->req);
    buf_release(&job->key);
    buf_release(&job->body);
    free(job);
    *jobp = NULL;
}

/* ---- clients ---- */

static void client_input(struct client *c);

/* client_free_if_done - free the struct once closed and no job refers to it. */
static void client_free_if_done(struct client *c)
{
    if (c->conn != NULL || c->pending > 0)
        return;
    struct auth_server *srv = c->srv;
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        srv->clients = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    srv->client_count--;
    free(c);
}

static void client_close(struct client *c, const char *reason)
{
    if (c->conn == NULL)
        return;
    log_debug("event=auth_disconnect client=%lu reason=%s pending=%u", c->id, reason, c->pending);
    conn_free(&c->conn);
    client_free_if_done(c);
}

/* client_flush - send what is queued; afterwards decide whether reading may
 * go on (back-pressure: too many jobs or too much unread output). */
static void client_flush(struct client *c)
{
    if (c->conn == NULL)
        return;
    if (conn_flush(c->conn) == CONN_ERROR) {
        client_close(c, "write-error");
        return;
    }
    if (c->closing) {
        if (c->pending == 0 && conn_output_pending(c->conn) == 0) {
            client_close(c, "closing");
        } else if (!c->paused) {
            /* Nothing more is read: stop the level-triggered input events. */
            c->paused = true;
            conn_set_input_paused(c->conn, true);
        }
        return;
    }
    bool full = c->pending >= AUTH_MAX_PENDING || conn_output_pending(c->conn) > AUTH_MAX_OUTPUT ||
                c->srv->stopping;
    if (full != c->paused) {
        c->paused = full;
        conn_set_input_paused(c->conn, full);
        /* Input buffered while paused raises no event: read it now. */
        if (!full && conn_input_pending(c->conn) > 0)
            client_input(c);
    }
}

/* send_answer - queue "ID BODY\n", or TEMPFAIL error=too-large when the
 * answer would pass AUTH_RESPONSE_MAX (a caller never gets half an answer). */
static void send_answer(struct client *c, uint32_t id, const char *body, size_t len)
{
    if (c->conn == NULL)
        return;
    char head[16];
    int n = snprintf(head, sizeof head, "%lu ", (unsigned long)id);
    if (n < 0 || (size_t)n >= sizeof head)
        return;
    if ((size_t)n + len + 1 > AUTH_RESPONSE_MAX) {
        log_warning("event=auth_answer_too_large client=%lu id=%lu octets=%zu", c->id,
                    (unsigned long)id, (size_t)n + len + 1);
        conn_printf(c->conn, "%lu TEMPFAIL error=too-large\n", (unsigned long)id);
        return;
    }
    conn_write(c->conn, head, (size_t)n);
    conn_write(c->conn, body, len);
    conn_write(c->conn, "\n", 1);
}

static void send_status(struct client *c, uint32_t id, enum auth_status status, const char *error)
{
    struct buf *out = &c->srv->out;
    buf_clear(out);
    if (auth_body_status(out, status, error) == 0)
        send_answer(c, id, buf_ptr(out), buf_len(out));
}

/* serve_request - answer a decoded request from the cache or hand it to the
 * threads. Takes the request's memory. */
static void serve_request(struct client *c, struct auth_request *req)
{
    struct auth_server *srv = c->srv;
    struct job *job = calloc(1, sizeof *job);
    if (job == NULL) {
        send_status(c, req->id, AUTH_TEMPFAIL, "out-of-memory");
        auth_request_clear(req);
        return;
    }
    job->req = *req;
    memset(req, 0, sizeof *req);
    job->client = c;
    if (auth_cache_key(srv->cache, &job->req, &job->key) < 0) {
        send_status(c, job->req.id, AUTH_TEMPFAIL, "out-of-memory");
        job_free(&job);
        return;
    }
    const char *body;
    size_t len;
    if (auth_cache_get(srv->cache, buf_ptr(&job->key), buf_len(&job->key), event_now_ms(srv->loop),
                       false, &body, &len) == AUTH_CACHE_FRESH) {
        log_debug("event=auth_cached client=%lu id=%lu request=%s", c->id,
                  (unsigned long)job->req.id, auth_request_type_name(job->req.type));
        send_answer(c, job->req.id, body, len);
        job_free(&job);
        return;
    }
    c->pending++;
    srv->pending++;
    auth_threads_submit(srv->threads, &job->task);
}

/* handle_line - one request line from c. */
static void handle_line(struct client *c, const struct conn_line *line)
{
    struct auth_request req;
    const char *error = "malformed";
    switch (auth_request_decode(line->data, line->len, &req, &error)) {
    case AUTH_DECODE_OK:
        serve_request(c, &req);
        break;
    case AUTH_DECODE_BAD:
        log_warning("event=auth_bad_request client=%lu id=%lu error=\"%s\"", c->id,
                    (unsigned long)req.id, error);
        send_status(c, req.id, AUTH_ERROR, error);
        break;
    case AUTH_DECODE_NOMEM:
        send_status(c, req.id, AUTH_TEMPFAIL, "out-of-memory");
        break;
    }
}

static void client_input(struct client *c)
{
    while (c->conn != NULL && !c->closing && c->pending < AUTH_MAX_PENDING &&
           conn_output_pending(c->conn) <= AUTH_MAX_OUTPUT) {
        struct conn_line line;
        enum conn_result r = conn_read_line(c->conn, &line);
        if (r == CONN_OK) {
            handle_line(c, &line);
        } else if (r == CONN_AGAIN) {
            break;
        } else if (r == CONN_TOO_LONG) {
            /* A caller that sends this much is broken or hostile: say why
             * and hang up rather than resynchronise. */
            log_warning("event=auth_bad_request client=%lu error=\"request too long\"", c->id);
            send_status(c, 0, AUTH_ERROR, "too-long");
            c->closing = true;
        } else {
            client_close(c, r == CONN_EOF ? "eof" : "error");
            return;
        }
    }
    client_flush(c);
}

static void client_event(struct conn *conn, enum conn_event event, void *ctx)
{
    (void)conn;
    struct client *c = ctx;
    switch (event) {
    case CONN_EVENT_INPUT:
        client_input(c);
        break;
    case CONN_EVENT_FLUSHED:
        client_flush(c);
        break;
    case CONN_EVENT_TIMEOUT:
        break; /* no timeouts are set: workers keep their connection */
    }
}

/* client_accepted - check the peer's credentials, then serve it. */
static void client_accepted(struct auth_server *srv, int fd)
{
    struct ucred cred;
    socklen_t len = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
        log_error("event=auth_connect error=\"SO_PEERCRED: %s\"", strerror(errno));
        close(fd);
        return;
    }
    if (cred.uid != 0 && cred.uid != srv->allowed_uid) {
        /* The socket's mode should have stopped this already. */
        log_warning("event=auth_refused peer_pid=%ld peer_uid=%lu reason=uid", (long)cred.pid,
                    (unsigned long)cred.uid);
        close(fd);
        return;
    }
    if (srv->client_count >= AUTH_MAX_CONNECTIONS || srv->stopping) {
        log_warning("event=auth_refused peer_pid=%ld reason=%s", (long)cred.pid,
                    srv->stopping ? "stopping" : "too-many-connections");
        close(fd);
        return;
    }
    struct client *c = calloc(1, sizeof *c);
    struct conn *conn = c != NULL ? conn_new(fd, AUTH_REQUEST_MAX) : NULL;
    if (conn == NULL) {
        log_error("event=auth_connect error=\"out of memory\"");
        free(c);
        close(fd);
        return;
    }
    c->srv = srv;
    c->conn = conn;
    c->id = ++srv->next_client_id;
    if (conn_attach(conn, srv->loop, client_event, c) < 0) {
        log_error("event=auth_connect error=\"%s\"", strerror(errno));
        conn_free(&conn);
        free(c);
        return;
    }
    c->next = srv->clients;
    if (srv->clients != NULL)
        srv->clients->prev = c;
    srv->clients = c;
    srv->client_count++;
    log_debug("event=auth_connect client=%lu peer_pid=%ld peer_uid=%lu", c->id, (long)cred.pid,
              (unsigned long)cred.uid);
}

static void accept_ready(void *ctx, unsigned events)
{
    (void)events;
    struct auth_server *srv = ctx;
    for (unsigned n = 0; n < ACCEPT_BATCH; n++) {
        int fd = accept4(srv->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            /* EAGAIN: drained, or a process of the other generation took it. */
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
                log_error("event=auth_accept_failed error=\"%s\"", strerror(errno));
            return;
        }
        client_accepted(srv, fd);
    }
}

/* ---- answers from the threads ---- */

/* job_done - cache what the directory said and answer the client. A
 * TEMPFAIL is replaced by a positive answer younger than stale_ttl: a short
 * directory outage then defers nothing that was known to be good. */
static void job_done(struct auth_server *srv, struct job *job)
{
    uint64_t now = event_now_ms(srv->loop);
    const char *key = buf_ptr(&job->key);
    size_t key_len = buf_len(&job->key);
    const char *body = buf_ptr(&job->body);
    size_t len = buf_len(&job->body);
    char qbuf[128];

    if (job->nomem) {
        buf_clear(&srv->out);
        if (auth_body_status(&srv->out, AUTH_TEMPFAIL, "out-of-memory") == 0) {
            body = buf_ptr(&srv->out);
            len = buf_len(&srv->out);
        }
    } else if (job->status == AUTH_TEMPFAIL) {
        const char *stale;
        size_t stale_len;
        if (auth_cache_get(srv->cache, key, key_len, now, true, &stale, &stale_len) !=
            AUTH_CACHE_MISS) {
            log_info("event=stale_served request=%s key=%s", auth_request_type_name(job->req.type),
                     log_quote(qbuf, sizeof qbuf, job->req.args[0]));
            body = stale;
            len = stale_len;
        }
    } else if (job->status == AUTH_FAILED) {
        /* A password that no longer works must not be served stale later. */
        auth_cache_remove(srv->cache, key, key_len);
        log_info("event=auth_login_failed login=%s reason=%s",
                 log_quote(qbuf, sizeof qbuf, job->req.args[0]), dir_auth_reason_name(job->reason));
    } else {
        enum auth_cache_class cls = job->status == AUTH_OK         ? AUTH_CACHE_LOGIN
                                    : job->status == AUTH_NOTFOUND ? AUTH_CACHE_NEGATIVE
                                                                   : AUTH_CACHE_POSITIVE;
        if (auth_cache_put(srv->cache, key, key_len, cls, body, len, now) < 0)
            log_warning("event=auth_cache_failed error=\"out of memory\"");
        /* The put may have moved nothing we still read: body is the job's. */
    }
    struct client *c = job->client;
    c->pending--;
    srv->pending--;
    if (body != NULL)
        send_answer(c, job->req.id, body, len);
    if (c->conn != NULL)
        client_flush(c);
    else
        client_free_if_done(c);
}

static void done_ready(void *ctx, unsigned events)
{
    (void)events;
    struct auth_server *srv = ctx;
    struct auth_task *list = auth_threads_take_done(srv->threads);
    while (list != NULL) {
        struct job *job = (struct job *)list;
        list = list->next;
        job_done(srv, job);
        job_free(&job);
    }
    if (srv->stopping && srv->pending == 0)
        event_loop_stop(srv->loop);
}

/* ---- stopping ---- */

static void grace_expired(void *ctx)
{
    struct auth_server *srv = ctx;
    log_warning("event=auth_stop_timeout pending=%lu", srv->pending);
    event_loop_stop(srv->loop);
}

static void on_sigterm(void *ctx, int signo)
{
    (void)signo;
    struct auth_server *srv = ctx;
    if (srv->stopping)
        return;
    srv->stopping = true;
    log_info("event=auth_stopping connections=%u pending=%lu", srv->client_count, srv->pending);
    event_io_remove(&srv->io);
    srv->grace = event_timer_add(srv->loop, srv->grace_ms, grace_expired, srv);
    for (struct client *c = srv->clients; c != NULL; c = c->next)
        client_flush(c); /* pauses reading */
    if (srv->pending == 0)
        event_loop_stop(srv->loop);
}

int auth_process_run(const struct config *conf, struct directory *dir, int listen_fd,
                     uid_t allowed_uid)
{
    struct auth_server srv = {.listen_fd = listen_fd, .allowed_uid = allowed_uid, .dir = dir};
    int status = 1;
    const struct auth_cache_settings cs = {
        .positive_ttl = conf->cache.positive_ttl,
        .negative_ttl = conf->cache.negative_ttl,
        .auth_ttl = conf->cache.auth_ttl,
        .stale_ttl = conf->cache.stale_ttl,
        .size = conf->cache.size,
    };
    /* Every call in flight ends within its LDAP timeouts (a search, and for
     * a login a second bind); a margin on top. */
    srv.grace_ms = ((uint64_t)conf->ldap.connect_timeout + conf->ldap.timeout) * 2000 + 2000;
    signal(SIGPIPE, SIG_IGN);
    srv.loop = event_loop_new();
    srv.cache = auth_cache_new(&cs);
    if (srv.loop == NULL || srv.cache == NULL) {
        log_error("event=auth_failed error=\"event loop or cache: %s\"", strerror(errno));
        goto out;
    }
    srv.threads = auth_threads_new(conf->ldap.pool_size, job_run, dir);
    if (srv.threads == NULL) {
        log_error("event=auth_failed error=\"threads: %s\"", strerror(errno));
        goto out;
    }
    srv.sigterm = event_signal_add(srv.loop, SIGTERM, on_sigterm, &srv);
    srv.io = event_io_add(srv.loop, listen_fd, EVENT_READ, accept_ready, &srv);
    srv.done_io =
        event_io_add(srv.loop, auth_threads_fd(srv.threads), EVENT_READ, done_ready, &srv);
    if (srv.sigterm == NULL || srv.io == NULL || srv.done_io == NULL) {
        log_error("event=auth_failed error=\"%s\"", strerror(errno));
        goto out;
    }
    log_info("event=auth_started fd=%d threads=%u cache_size=%u", listen_fd, conf->ldap.pool_size,
             conf->cache.size);
    status = event_loop_run(srv.loop) == 0 ? 0 : 1;
    if (srv.pending > 0) {
        /* The grace timer fired on a stuck directory call: the threads
         * cannot be joined, so the process ends here. */
        log_warning("event=auth_stopped pending=%lu", srv.pending);
        _exit(status);
    }
    log_info("event=auth_stopped");
out:
    event_io_remove(&srv.done_io);
    auth_threads_free(&srv.threads);
    /* Answers already queued get one last chance to go out. */
    while (srv.clients != NULL) {
        struct client *c = srv.clients;
        if (c->conn != NULL)
            (void)conn_flush(c->conn);
        c->pending = 0; /* the threads are gone or never ran */
        if (c->conn != NULL)
            client_close(c, "stopping");
        else
            client_free_if_done(c);
    }
    event_timer_remove(&srv.grace);
    event_io_remove(&srv.io);
    event_signal_remove(&srv.sigterm);
    auth_cache_free(&srv.cache);
    buf_release(&srv.out);
    event_loop_free(&srv.loop);
    return status;
}
