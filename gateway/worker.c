/* gateway/worker.c - see worker.h. */
#include "config.h"

#include "gateway/worker.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gateway/service_table.h"
#include "lib/clock.h"
#include "proto/service_deadlines.h"
#include "lib/conn.h"
#include "lib/event.h"
#include "lib/log.h"

/* Accept at most this many connections per wakeup, so that one busy
 * listener cannot starve the others or the sessions already running. */
#define ACCEPT_BATCH 32
/* After EMFILE/ENFILE, stop accepting for a moment instead of spinning. */
#define ACCEPT_PAUSE_MS 200
/* How often the load is judged besides at this worker's own accepts and
 * ends, to see the other workers' connections come and go. */
#define LOAD_CHECK_MS 1000

struct worker;

struct wlistener {
    struct worker *worker;
    const struct listener *listener;
    struct event_io *io;
    struct event_timer *pause;
};

struct wsession {
    struct service_session session; /* first: the protocol sees only this */
    struct conn_limit_token token;
    struct wsession *prev, *next;
};

struct worker {
    const struct worker_params *params;
    struct event_loop *loop;
    struct event_signal *sigterm;
    struct wlistener *listeners;
    size_t listener_count;
    struct wsession *sessions;
    unsigned session_count;
    bool stopping;
    struct service_deadlines *deadlines; /* one per configured service */
    struct event_timer *load_check;
};

void worker_close_fds_except(const int *keep, size_t count)
{
    int next = 3;
    for (;;) {
        /* the smallest kept descriptor at or above next */
        int low = -1;
        for (size_t i = 0; i < count; i++) {
            if (keep[i] >= next && (low < 0 || keep[i] < low))
                low = keep[i];
        }
        if (low < 0) {
            close_range((unsigned)next, ~0u, 0);
            return;
        }
        if (low > next)
            close_range((unsigned)next, (unsigned)low - 1, 0);
        next = low + 1;
    }
}

static void listeners_close(struct worker *w)
{
    for (size_t i = 0; i < w->listener_count; i++) {
        struct wlistener *l = &w->listeners[i];
        event_io_remove(&l->io);
        event_timer_remove(&l->pause);
        close(l->listener->fd);
    }
    w->listener_count = 0;
}

static void maybe_done(struct worker *w)
{
    if (w->stopping && w->session_count == 0)
        event_loop_stop(w->loop);
}

/* load_update - judge the load of service index svc; when its deadlines
 * changed, every session of it here measures its running deadline again. */
static void load_update(struct worker *w, size_t svc)
{
    const struct worker_params *p = w->params;
    if (!service_deadlines_update(&w->deadlines[svc], &p->config->services[svc], p->limits,
                                  p->service_slots[svc], clock_monotonic_ms()))
        return;
    for (struct wsession *ws = w->sessions; ws != NULL; ws = ws->next) {
        if (ws->session.service == &p->config->services[svc] && ws->session.conn != NULL)
            conn_deadlines_changed(ws->session.conn);
    }
}

static void load_check(void *ctx)
{
    struct worker *w = ctx;
    for (size_t i = 0; i < w->params->config->service_count; i++)
        load_update(w, i);
    event_timer_reset(w->load_check, LOAD_CHECK_MS);
}

/* session_finished - the protocol ended a session: give its place back. */
static void session_finished(struct service_session *session)
{
    struct wsession *ws = (struct wsession *)session;
    struct worker *w = session->owner;
    conn_limit_release(w->params->limits, w->params->proc_slot, &ws->token);
    size_t svc = (size_t)(session->service - w->params->config->services);
    if (ws->prev != NULL)
        ws->prev->next = ws->next;
    else
        w->sessions = ws->next;
    if (ws->next != NULL)
        ws->next->prev = ws->prev;
    w->session_count--;
    free(ws);
    load_update(w, svc);
    maybe_done(w);
}

static void peer_text(const struct sockaddr_storage *ss, char *buf, size_t size, unsigned *port_r)
{
    const void *addr = NULL;
    *port_r = 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const void *)ss;
        addr = &in->sin_addr;
        *port_r = ntohs(in->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const void *)ss;
        addr = &in6->sin6_addr;
        *port_r = ntohs(in6->sin6_port);
    } else if (ss->ss_family == AF_UNIX) {
        snprintf(buf, size, "unix"); /* as lib/conn.c names it */
        return;
    }
    if (addr == NULL || inet_ntop(ss->ss_family, addr, buf, (socklen_t)size) == NULL)
        snprintf(buf, size, "unknown");
}

/* session_start - one accepted socket: count it, then hand it to the
 * protocol, or to the refusal when a limit says no. */
static void session_start(struct wlistener *l, int fd, const struct sockaddr_storage *peer)
{
    struct worker *w = l->worker;
    const struct worker_params *p = w->params;
    const struct config_service *service = &p->config->services[l->listener->service];

    struct wsession *ws = calloc(1, sizeof *ws);
    struct conn *conn = ws != NULL ? conn_new(fd, p->config->limits.line_length) : NULL;
    if (conn == NULL) {
        log_error("event=accept_failed service=%s error=\"out of memory\"", service->name);
        free(ws);
        close(fd);
        return;
    }
    struct service_session *s = &ws->session;
    s->loop = w->loop;
    s->conn = conn;
    s->config = p->config;
    s->service = service;
    s->tls_ctx = p->tls_ctx;
    s->hostname = p->config->server.hostname != NULL ? p->config->server.hostname : "localhost";
    peer_text(peer, s->client_ip, sizeof s->client_ip, &s->client_port);
    s->local_socket = peer->ss_family == AF_UNIX;
    s->finished = session_finished;
    s->owner = w;
    s->limits = p->limits;
    s->pregreet = p->pregreet;
    s->proto = service_table_lookup(service->type);
    s->deadlines = &w->deadlines[l->listener->service].current;

    ws->next = w->sessions;
    if (w->sessions != NULL)
        w->sessions->prev = ws;
    w->sessions = ws;
    w->session_count++;

    enum conn_limit_result r =
        conn_limit_acquire(p->limits, p->proc_slot, p->service_slots[l->listener->service],
                           (const struct sockaddr *)peer, p->config->limits.max_connections,
                           service->max_connections, service->max_connections_per_ip, &ws->token);
    log_info("event=connect service=%s client=%s port=%u local=%s local_port=%u", service->name,
             s->client_ip, s->client_port, l->listener->host, l->listener->port);
    if (r != CONN_LIMIT_OK) {
        log_warning("event=refuse service=%s client=%s reason=%s", service->name, s->client_ip,
                    conn_limit_result_name(r));
        service_refuse(s);
        return;
    }
    load_update(w, l->listener->service);
    s->proto->start(s);
}

static void accept_resume(void *ctx)
{
    struct wlistener *l = ctx;
    event_timer_remove(&l->pause);
    if (event_io_modify(l->io, EVENT_READ) < 0)
        log_error("event=accept_resume_failed fd=%d", l->listener->fd);
}

static void accept_ready(void *ctx, unsigned events)
{
    struct wlistener *l = ctx;
    for (unsigned n = 0; n < ACCEPT_BATCH && !l->worker->stopping; n++) {
        struct sockaddr_storage peer;
        socklen_t len = sizeof peer;
        int fd =
            accept4(l->listener->fd, (struct sockaddr *)&peer, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            /* EAGAIN: another worker took it (the sockets are shared). */
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED)
                return;
            log_error("event=accept_failed address=%s port=%u error=\"%s\"", l->listener->host,
                      l->listener->port, strerror(errno));
            if ((errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) &&
                l->pause == NULL) {
                l->pause = event_timer_add(l->worker->loop, ACCEPT_PAUSE_MS, accept_resume, l);
                if (l->pause != NULL)
                    event_io_modify(l->io, 0);
            }
            return;
        }
        session_start(l, fd, &peer);
    }
}

/* worker_stop - SIGTERM from the master: accept nothing more; exit once the
 * running sessions have ended (the master SIGKILLs after shutdown_grace). */
static void worker_stop(void *ctx, int signo)
{
    struct worker *w = ctx;
    if (w->stopping)
        return;
    w->stopping = true;
    log_info("event=worker_stopping sessions=%u", w->session_count);
    listeners_close(w);
    maybe_done(w);
}

void worker_main(const struct worker_params *params)
{
    pid_t master = getppid();
    log_set_ident("dirmaild/worker");

    int *keep = calloc(params->listeners->count + 1, sizeof *keep);
    if (keep == NULL)
        _exit(1);
    for (size_t i = 0; i < params->listeners->count; i++)
        keep[i] = params->listeners->items[i].fd;
    worker_close_fds_except(keep, params->listeners->count);
    free(keep);
    /* closing the fds took syslog's socket too: open it again */
    log_set_ident("dirmaild/worker");

    /* A worker must not outlive its master (it would hold ports forever). */
    if (privdrop_child_begin(params->ids, master) < 0)
        _exit(1);

    /* The master's signals are delivered to it through its own signalfd and
     * blocked; here SIGINT (a terminal's ^C reaches the whole group) and
     * SIGHUP are the master's business alone. */
    signal(SIGINT, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    signal(SIGCHLD, SIG_DFL);

    struct worker w = {.params = params};
    w.loop = event_loop_new();
    if (w.loop == NULL) {
        log_error("event=worker_failed error=\"event loop: %s\"", strerror(errno));
        _exit(1);
    }
    w.sigterm = event_signal_add(w.loop, SIGTERM, worker_stop, &w);
    w.listeners = calloc(params->listeners->count, sizeof *w.listeners);
    w.deadlines = calloc(params->config->service_count + 1, sizeof *w.deadlines);
    w.load_check = event_timer_add(w.loop, LOAD_CHECK_MS, load_check, &w);
    if (w.sigterm == NULL || (w.listeners == NULL && params->listeners->count > 0) ||
        w.deadlines == NULL || w.load_check == NULL) {
        log_error("event=worker_failed error=\"out of memory\"");
        _exit(1);
    }
    for (size_t i = 0; i < params->config->service_count; i++)
        service_deadlines_init(&w.deadlines[i], &params->config->services[i]);
    /* Everything else the master had blocked is ours to receive again. */
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigprocmask(SIG_SETMASK, &mask, NULL);

    for (size_t i = 0; i < params->listeners->count; i++) {
        struct wlistener *l = &w.listeners[i];
        l->worker = &w;
        l->listener = &params->listeners->items[i];
        l->io = event_io_add(w.loop, l->listener->fd, EVENT_READ, accept_ready, l);
        if (l->io == NULL) {
            log_error("event=worker_failed error=\"watch listener fd %d\"", l->listener->fd);
            _exit(1);
        }
        w.listener_count++;
    }
    log_info("event=worker_started slot=%u listeners=%zu", params->proc_slot, w.listener_count);

    int r = event_loop_run(w.loop);
    listeners_close(&w);
    /* Stopped only when no session is left; an epoll failure leaves some,
     * whose sockets the exit closes. */
    event_signal_remove(&w.sigterm);
    event_timer_remove(&w.load_check);
    free(w.listeners);
    if (r == 0) {
        free(w.deadlines);
        service_table_shutdown();
        event_loop_free(&w.loop);
    }
    log_info("event=worker_exit");
    exit(r == 0 ? 0 : 1);
}
