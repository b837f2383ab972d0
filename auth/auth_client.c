/* auth/auth_client.c - see auth_client.h. */
#include "config.h"

#include "auth/auth_client.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/conn.h"
#include "lib/event.h"
#include "lib/clock.h"

/* build_request - the request struct for type and args (borrowed). */
static int build_request(struct auth_request *req, uint32_t id, enum auth_request_type type,
                         const char *const *args, size_t argc)
{
    memset(req, 0, sizeof *req);
    if (argc > AUTH_REQUEST_ARGS)
        return -1;
    req->id = id;
    req->type = type;
    req->argc = argc;
    for (size_t i = 0; i < argc; i++)
        req->args[i] = (char *)args[i];
    return 0;
}

/* fail_response - resp as a failure on the way. */
static enum auth_status fail_response(struct auth_response *resp, enum auth_status status,
                                      const char *why)
{
    auth_response_clear(resp);
    resp->status = status;
    resp->error = strdup(why);
    return status;
}

/* connect_socket - a non-blocking connected UNIX socket, or -1. A UNIX
 * stream connect completes at once or fails (EAGAIN: backlog full). */
static int connect_socket(const char *path)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    size_t len = strlen(path);
    if (len >= sizeof sun.sun_path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(sun.sun_path, path, len + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sun, sizeof sun) < 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

/* ---- blocking ---- */

struct auth_client {
    pthread_mutex_t lock;
    char *path;
    unsigned timeout_ms;
    int fd;
    uint32_t next_id;
    struct buf in;
};

struct auth_client *auth_client_new(const char *socket_path, unsigned timeout_ms)
{
    struct auth_client *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->path = strdup(socket_path);
    if (c->path == NULL || pthread_mutex_init(&c->lock, NULL) != 0) {
        free(c->path);
        free(c);
        return NULL;
    }
    c->fd = -1;
    c->timeout_ms = timeout_ms;
    return c;
}

static void client_disconnect(struct auth_client *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    buf_clear(&c->in);
}

void auth_client_free(struct auth_client **client)
{
    struct auth_client *c = *client;
    if (c == NULL)
        return;
    client_disconnect(c);
    buf_release(&c->in);
    pthread_mutex_destroy(&c->lock);
    free(c->path);
    free(c);
    *client = NULL;
}

/* wait_fd - poll fd for events until deadline: 1 ready, 0 timeout, -1 error. */
static int wait_fd(int fd, short events, uint64_t deadline)
{
    for (;;) {
        uint64_t now = clock_monotonic_ms();
        if (now >= deadline)
            return 0;
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, (int)(deadline - now));
        if (n > 0)
            return 1;
        if (n < 0 && errno != EINTR)
            return -1;
    }
}

/* send_all - write len bytes before deadline. 0 or -1 (why in *why_r). */
static int send_all(int fd, const char *data, size_t len, uint64_t deadline, const char **why_r)
{
    while (len > 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n > 0) {
            data += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int w = wait_fd(fd, POLLOUT, deadline);
            if (w > 0)
                continue;
            *why_r = w == 0 ? "timeout" : "poll failed";
            return -1;
        }
        *why_r = "write failed";
        return -1;
    }
    return 0;
}

/* read_answer - the line answering id (lines for other ids, late answers to
 * requests that timed out, are skipped). 0 with the line at the front of
 * c->in (*len_r bytes, LF not included), or -1 with *why_r. */
static int read_answer(struct auth_client *c, uint32_t id, uint64_t deadline, size_t *len_r,
                       const char **why_r)
{
    for (;;) {
        const char *data = buf_ptr(&c->in);
        const char *lf = buf_len(&c->in) > 0 ? memchr(data, '\n', buf_len(&c->in)) : NULL;
        if (lf != NULL) {
            size_t len = (size_t)(lf - data);
            if (auth_response_id(data, len) == id) {
                *len_r = len;
                return 0;
            }
            buf_consume(&c->in, len + 1);
            continue;
        }
        if (buf_len(&c->in) >= AUTH_RESPONSE_MAX) {
            *why_r = "answer too long";
            return -1;
        }
        if (buf_reserve(&c->in, 65536) < 0) {
            *why_r = "out of memory";
            return -1;
        }
        ssize_t n = recv(c->fd, buf_tail(&c->in), buf_room(&c->in), 0);
        if (n > 0) {
            buf_commit(&c->in, (size_t)n);
            continue;
        }
        if (n == 0) {
            *why_r = "connection closed";
            return -1;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            *why_r = "read failed";
            return -1;
        }
        int w = wait_fd(c->fd, POLLIN, deadline);
        if (w <= 0) {
            *why_r = w == 0 ? "timeout" : "poll failed";
            return -1;
        }
    }
}

enum auth_status auth_client_request(struct auth_client *c, enum auth_request_type type,
                                     const char *const *args, size_t argc,
                                     struct auth_response *resp)
{
    memset(resp, 0, sizeof *resp);
    pthread_mutex_lock(&c->lock);
    uint64_t deadline = clock_monotonic_ms() + c->timeout_ms;
    enum auth_status status;
    const char *why = NULL;
    struct auth_request req;
    struct buf out = BUF_INIT;
    if (++c->next_id == 0)
        c->next_id = 1;
    uint32_t id = c->next_id;
    if (build_request(&req, id, type, args, argc) < 0 || auth_request_encode(&out, &req) < 0) {
        status = fail_response(resp, AUTH_ERROR, "request cannot be encoded");
        goto out;
    }
    if (c->fd < 0 && (c->fd = connect_socket(c->path)) < 0) {
        status = fail_response(resp, AUTH_TEMPFAIL, "auth socket: cannot connect");
        goto out;
    }
    size_t len;
    if (send_all(c->fd, buf_ptr(&out), buf_len(&out), deadline, &why) < 0 ||
        read_answer(c, id, deadline, &len, &why) < 0) {
        /* Whatever was half sent or half read is unusable: start over. */
        client_disconnect(c);
        status = fail_response(resp, AUTH_TEMPFAIL, why);
        goto out;
    }
    const char *error = NULL;
    enum auth_decode_result d = auth_response_decode(buf_ptr(&c->in), len, type, resp, &error);
    buf_consume(&c->in, len + 1);
    if (d != AUTH_DECODE_OK) {
        client_disconnect(c);
        status = fail_response(resp, AUTH_TEMPFAIL,
                               d == AUTH_DECODE_NOMEM ? "out of memory" : "malformed answer");
        goto out;
    }
    status = resp->status;
out:
    buf_release(&out);
    pthread_mutex_unlock(&c->lock);
    return status;
}

enum auth_status auth_client_resolve(struct auth_client *c, const char *address,
                                     struct auth_recipient **r)
{
    struct auth_response resp;
    const char *args[] = {address};
    enum auth_status s = auth_client_request(c, AUTH_REQ_RESOLVE, args, 1, &resp);
    *r = resp.recipient;
    resp.recipient = NULL;
    auth_response_clear(&resp);
    return s;
}

enum auth_status auth_client_authenticate(struct auth_client *c, const char *login,
                                          const char *password, const char *service,
                                          struct auth_user **u)
{
    struct auth_response resp;
    const char *args[] = {login, password, service != NULL ? service : ""};
    enum auth_status s = auth_client_request(c, AUTH_REQ_AUTH, args, 3, &resp);
    *u = resp.user;
    resp.user = NULL;
    auth_response_clear(&resp);
    return s;
}

enum auth_status auth_client_user(struct auth_client *c, const char *key, struct auth_user **u)
{
    struct auth_response resp;
    const char *args[] = {key};
    enum auth_status s = auth_client_request(c, AUTH_REQ_USER, args, 1, &resp);
    *u = resp.user;
    resp.user = NULL;
    auth_response_clear(&resp);
    return s;
}

enum auth_status auth_client_senders(struct auth_client *c, const char *login,
                                     struct auth_strlist *senders)
{
    struct auth_response resp;
    const char *args[] = {login};
    enum auth_status s = auth_client_request(c, AUTH_REQ_SENDERS, args, 1, &resp);
    *senders = resp.senders;
    memset(&resp.senders, 0, sizeof resp.senders);
    auth_response_clear(&resp);
    return s;
}

/* ---- non-blocking ---- */

struct pending {
    struct pending *next;
    struct auth_async *async;
    uint32_t id;
    enum auth_request_type type;
    auth_async_cb *cb;
    void *ctx;
    struct event_timer *timer;
    const char *fail; /* set: answer TEMPFAIL with this when the timer fires */
};

struct auth_async {
    struct event_loop *loop;
    char *path;
    unsigned timeout_ms;
    struct conn *conn;
    struct pending *pending;
    unsigned count;
    uint32_t next_id;
};

struct auth_async *auth_async_new(struct event_loop *loop, const char *socket_path,
                                  unsigned timeout_ms)
{
    struct auth_async *a = calloc(1, sizeof *a);
    if (a == NULL)
        return NULL;
    a->path = strdup(socket_path);
    if (a->path == NULL) {
        free(a);
        return NULL;
    }
    a->loop = loop;
    a->timeout_ms = timeout_ms;
    return a;
}

static bool find_pending(const struct auth_async *a, uint32_t id)
{
    for (const struct pending *p = a->pending; p != NULL; p = p->next) {
        if (p->id == id)
            return true;
    }
    return false;
}

/* unlink_pending - take id's entry out of the list; NULL if none. */
static struct pending *unlink_pending(struct auth_async *a, uint32_t id)
{
    for (struct pending **pp = &a->pending; *pp != NULL; pp = &(*pp)->next) {
        struct pending *p = *pp;
        if (p->id == id) {
            *pp = p->next;
            a->count--;
            return p;
        }
    }
    return NULL;
}

static void pending_free(struct pending **pp)
{
    event_timer_remove(&(*pp)->timer);
    free(*pp);
    *pp = NULL;
}

/* complete_failed - call p's callback with a failure, then free p (unlinked). */
static void complete_failed(struct pending *p, const char *why)
{
    struct auth_response resp = {.id = p->id, .status = AUTH_TEMPFAIL, .error = (char *)why};
    auth_async_cb *cb = p->cb;
    void *ctx = p->ctx;
    pending_free(&p);
    cb(ctx, &resp);
}

/* drop_connection - the connection is unusable: every request on it fails.
 * The list is detached first, so callbacks may send new requests (which
 * open a new connection). */
static void drop_connection(struct auth_async *a, const char *why)
{
    conn_free(&a->conn);
    struct pending *list = a->pending;
    a->pending = NULL;
    a->count = 0;
    while (list != NULL) {
        struct pending *p = list;
        list = p->next;
        complete_failed(p, why);
    }
}

static void request_timeout(void *ctx)
{
    struct pending *p = ctx;
    struct auth_async *a = p->async;
    const char *why = p->fail != NULL ? p->fail : "timeout";
    unlink_pending(a, p->id);
    complete_failed(p, why); /* frees p and its fired timer */
}

static void async_input(struct auth_async *a)
{
    while (a->conn != NULL) {
        struct conn_line line;
        enum conn_result r = conn_read_line(a->conn, &line);
        if (r == CONN_AGAIN)
            return;
        if (r != CONN_OK) {
            drop_connection(a, r == CONN_EOF        ? "connection closed"
                               : r == CONN_TOO_LONG ? "answer too long"
                                                    : "read failed");
            return;
        }
        uint32_t id = auth_response_id(line.data, line.len);
        struct pending *p = id != 0 ? unlink_pending(a, id) : NULL;
        if (p == NULL)
            continue; /* cancelled, or answered TEMPFAIL on timeout already */
        struct auth_response resp;
        const char *error = NULL;
        enum auth_decode_result d =
            auth_response_decode(line.data, line.len, p->type, &resp, &error);
        if (d != AUTH_DECODE_OK) {
            complete_failed(p, d == AUTH_DECODE_NOMEM ? "out of memory" : "malformed answer");
            continue;
        }
        auth_async_cb *cb = p->cb;
        void *ctx = p->ctx;
        pending_free(&p);
        cb(ctx, &resp);
        auth_response_clear(&resp);
    }
}

static void async_event(struct conn *conn, enum conn_event event, void *ctx)
{
    (void)conn;
    struct auth_async *a = ctx;
    if (event == CONN_EVENT_INPUT)
        async_input(a);
}

/* async_connect - open the connection if there is none. 0 or -1. */
static int async_connect(struct auth_async *a)
{
    if (a->conn != NULL)
        return 0;
    int fd = connect_socket(a->path);
    if (fd < 0)
        return -1;
    /* The line limit is the longest answer; LF included. */
    a->conn = conn_new(fd, AUTH_RESPONSE_MAX);
    if (a->conn == NULL) {
        close(fd);
        return -1;
    }
    if (conn_attach(a->conn, a->loop, async_event, a) < 0) {
        conn_free(&a->conn);
        return -1;
    }
    return 0;
}

uint32_t auth_async_request(struct auth_async *a, enum auth_request_type type,
                            const char *const *args, size_t argc, auth_async_cb *cb, void *ctx)
{
    struct auth_request req;
    struct buf out = BUF_INIT;
    struct pending *p = calloc(1, sizeof *p);
    if (p == NULL)
        return 0;
    /* Ids wrap after 2^32 requests; skip 0 and any still waiting. */
    do {
        if (++a->next_id == 0)
            a->next_id = 1;
    } while (find_pending(a, a->next_id));
    uint32_t id = a->next_id;
    if (build_request(&req, id, type, args, argc) < 0 || auth_request_encode(&out, &req) < 0) {
        buf_release(&out);
        free(p);
        return 0;
    }
    p->async = a;
    p->id = id;
    p->type = type;
    p->cb = cb;
    p->ctx = ctx;
    unsigned delay = a->timeout_ms;
    if (async_connect(a) < 0) {
        /* Answered from the loop, never from inside this call. */
        p->fail = "auth socket: cannot connect";
        delay = 0;
    } else {
        conn_write(a->conn, buf_ptr(&out), buf_len(&out));
        if (conn_flush(a->conn) == CONN_ERROR) {
            p->fail = "write failed";
            delay = 0;
        }
    }
    buf_release(&out);
    p->timer = event_timer_add(a->loop, delay, request_timeout, p);
    if (p->timer == NULL) {
        free(p);
        return 0;
    }
    p->next = a->pending;
    a->pending = p;
    a->count++;
    return id;
}

void auth_async_cancel(struct auth_async *a, uint32_t id)
{
    struct pending *p = unlink_pending(a, id);
    if (p != NULL)
        pending_free(&p);
}

unsigned auth_async_pending(const struct auth_async *a)
{
    return a->count;
}

void auth_async_free(struct auth_async **async)
{
    struct auth_async *a = *async;
    if (a == NULL)
        return;
    while (a->pending != NULL) {
        struct pending *p = a->pending;
        a->pending = p->next;
        pending_free(&p);
    }
    conn_free(&a->conn);
    free(a->path);
    free(a);
    *async = NULL;
}
