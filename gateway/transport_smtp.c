/* gateway/transport_smtp.c - see transport_smtp.h.
 *
 * Threads: runner threads call deliver(), which puts the job on the
 * incoming list under the lock and wakes the transport's thread through an
 * eventfd; everything else (destinations, connections, DNS) belongs to the
 * transport's thread alone, and every result is finished there.
 *
 * A destination is where a job goes, by its route: "node:<mail host>"
 * (the host itself, no MX lookup), "relay:<next hop>" (a configured next
 * hop, or smtp_client.relayhost for a domain not ours), or "mx:<domain>".
 * Each keeps its queued jobs in order, its addresses (resolved when it
 * needs a connection and has none from the last 30 seconds; libunbound's
 * cache keeps the answers for their TTL anyway), and its connections: an
 * idle one takes the next job at once (connection reuse), and new ones
 * are opened while jobs wait, up to destination_connections for it and
 * max_connections for all. A connection that reaches no address backs the
 * destination off for destination_backoff seconds: every job queued for it
 * and every one arriving meanwhile is deferred at once with the error, so
 * one dead host does not hold connection slots or wait out timeouts again.
 *
 * A failed DNS lookup defers (4.4.3) except for the recipient's own domain
 * when the answer is authoritative: no such domain, no address (5.1.2), or
 * a null MX (5.1.10). A configured next hop or node that does not resolve
 * is a configuration error: deferred (4.3.5), never bounced. */
#include "config.h"

#include "gateway/transport_smtp.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "gateway/transport_smtp_auth.h"
#include "gateway/transport_smtp_conn.h"
#include "relay/smtp_dns.h"
#include "lib/clock.h"
#include "lib/event.h"
#include "lib/log.h"
#include "lib/tls.h"

/* Recipients per job: RFC 5321 4.5.3.1.8 has every server take 100. */
#define SMTP_RCPTS_MAX 100
/* Addresses are resolved again after this long (ms). */
#define RESOLVE_FRESH_MS 30000

struct pending {
    struct transport_job *job;
    struct pending *next;
};

struct dest;

/* The transport's record of one connection. */
struct conn_rec {
    struct conn_rec *next;
    struct dest *dest;
    struct smtp_conn *c;
    bool idle;
};

struct dest {
    struct dest *next;
    char key[600];
    struct smtp_hop hops[SMTP_HOPS_MAX];
    int hop_count;   /* -1: the next hop cannot be parsed */
    bool own_domain; /* mx: an authoritative "no" is the recipient's problem */
    bool lmtp;       /* its hosts speak LMTP (RFC 2033) */
    struct pending *head, *tail;
    size_t conns;
    struct smtp_target targets[SMTP_TARGETS_MAX];
    size_t target_count;
    uint64_t resolved_ms;
    struct smtp_dns_query *query;
    uint64_t backoff_until_ms;
    char last_error[DELIVERY_STATUS_TEXT_MAX];
    const struct smtp_conn_policy *policy; /* the transport's */
};

struct transport_smtp {
    struct transport base;
    const struct config *conf;
    struct smtp_conn_settings settings;
    struct smtp_conn_policy default_policy;
    SSL_CTX *tls_verify; /* against smtp_client.tls_ca_file */
    /* parallel to smtp_client.destinations */
    struct smtp_conn_policy *policies;
    size_t policy_count;
    struct smtp_conn_events events;
    pthread_t thread;
    bool thread_started;
    struct event_loop *loop;
    int wake_fd;
    struct event_io *wake_io;
    struct smtp_dns *dns;
    struct event_timer *reaper;
    /* under lock: */
    pthread_mutex_t lock;
    struct pending *in_head, *in_tail;
    bool stop;
    bool retry_now; /* transport_retry_now: forget every backoff */
    /* the thread's: */
    struct dest *dests;
    struct conn_rec *conns, *dead;
    size_t conn_count;
};

static void pump(struct transport_smtp *ts, struct dest *d);

/* ---- results ---- */

/* job_finish - every recipient of job without a result gets status with
 * arg; then each is finished. The job is the runner's again afterwards. */
static void job_finish(struct transport_job *job, enum delivery_status status, const char *arg)
{
    size_t count = job->count;
    for (size_t k = 0; k < count; k++) {
        if (job->rcpts[k].state == QUEUE_RCPT_PENDING)
            transport_result_set(&job->rcpts[k], status, arg);
    }
    transport_finished_fn *finished = job->finished;
    for (size_t k = 0; k < count; k++)
        finished(job, k);
}

/* dest_fail_queued - every job waiting for d ends with status and arg. */
static void dest_fail_queued(struct dest *d, enum delivery_status status, const char *arg)
{
    while (d->head != NULL) {
        struct pending *p = d->head;
        d->head = p->next;
        job_finish(p->job, status, arg);
        free(p);
    }
    d->tail = NULL;
}

/* ---- destinations ---- */

/* dest_for - the destination of job (created when new); NULL out of memory. */
static struct dest *dest_for(struct transport_smtp *ts, const struct transport_job *job)
{
    const struct config_smtp_client *sc = &ts->conf->smtp_client;
    struct smtp_destination where;
    smtp_destination_of(sc, job->rcpts[0].route, &where);
    for (struct dest *d = ts->dests; d != NULL; d = d->next) {
        if (strcasecmp(d->key, where.key) == 0)
            return d;
    }
    struct dest *d = calloc(1, sizeof *d);
    if (d == NULL)
        return NULL;
    memcpy(d->key, where.key, sizeof d->key);
    d->own_domain = where.own_domain;
    d->lmtp = where.lmtp;
    d->hop_count = where.hop_count;
    memcpy(d->hops, where.hops, sizeof d->hops);
    /* smtp_client.destinations names the recipient's domain for MX
     * routes, the next hop (or mail host) as written for the others */
    const struct config_smtp_destination *row = config_smtp_destination_find(sc, where.name);
    d->policy = row != NULL ? &ts->policies[row - sc->destinations] : &ts->default_policy;
    d->next = ts->dests;
    ts->dests = d;
    return d;
}

static void on_resolved(void *ctx, enum smtp_dns_status status, const struct smtp_target *targets,
                        size_t count, const char *error);

/* open_conn - one more connection for d, with its first job. */
static bool open_conn(struct transport_smtp *ts, struct dest *d)
{
    struct conn_rec *rec = calloc(1, sizeof *rec);
    if (rec == NULL)
        return false;
    struct pending *p = d->head;
    rec->dest = d;
    rec->c = smtp_conn_new(ts->loop, &ts->settings, d->policy,
                           d->lmtp ? SMTP_CLIENT_LMTP : SMTP_CLIENT_SMTP, d->targets,
                           d->target_count, &ts->events, rec, p->job);
    if (rec->c == NULL) {
        free(rec);
        return false;
    }
    d->head = p->next;
    if (d->head == NULL)
        d->tail = NULL;
    free(p);
    rec->next = ts->conns;
    ts->conns = rec;
    ts->conn_count++;
    d->conns++;
    return true;
}

/* pump - move d's queued jobs on: to idle connections, new connections,
 * or a lookup first; or end them when d cannot be used. */
static void pump(struct transport_smtp *ts, struct dest *d)
{
    const struct config_smtp_client *sc = &ts->conf->smtp_client;
    if (d->head == NULL)
        return;
    if (d->hop_count < 0) {
        dest_fail_queued(d, DELIVERY_STATUS_BAD_NEXT_HOP, d->key);
        return;
    }
    uint64_t now = clock_monotonic_ms();
    if (d->backoff_until_ms > now && d->conns == 0) {
        dest_fail_queued(d, DELIVERY_STATUS_CONNECT_FAILED, d->last_error);
        return;
    }
    for (struct conn_rec *rec = ts->conns; rec != NULL && d->head != NULL; rec = rec->next) {
        if (rec->dest == d && rec->idle && smtp_conn_idle(rec->c)) {
            struct pending *p = d->head;
            d->head = p->next;
            if (d->head == NULL)
                d->tail = NULL;
            rec->idle = false;
            struct transport_job *job = p->job;
            free(p);
            smtp_conn_send(rec->c, job);
        }
    }
    if (d->head == NULL || d->query != NULL)
        return;
    if (d->target_count == 0 || now - d->resolved_ms > RESOLVE_FRESH_MS) {
        d->query = smtp_dns_resolve(ts->dns, d->hops, (size_t)d->hop_count, on_resolved, d);
        if (d->query == NULL)
            dest_fail_queued(d, DELIVERY_STATUS_NO_MEMORY, NULL);
        return;
    }
    while (d->head != NULL && d->conns < sc->destination_connections &&
           ts->conn_count < sc->max_connections) {
        if (!open_conn(ts, d)) {
            dest_fail_queued(d, DELIVERY_STATUS_NO_MEMORY, NULL);
            return;
        }
    }
    /* the rest waits for a connection of d to become idle or a slot */
}

/* pump_all - a connection slot came free: whoever waits may use it. */
static void pump_all(struct transport_smtp *ts)
{
    for (struct dest *d = ts->dests; d != NULL; d = d->next)
        pump(ts, d);
}

/* The dns callback's ctx is the destination; the transport is found from
 * it through this (one transport per thread). */
static __thread struct transport_smtp *thread_transport;

static void on_resolved(void *ctx, enum smtp_dns_status status, const struct smtp_target *targets,
                        size_t count, const char *error)
{
    struct dest *d = ctx;
    struct transport_smtp *ts = thread_transport;
    d->query = NULL;
    switch (status) {
    case SMTP_DNS_OK:
        memcpy(d->targets, targets, count * sizeof *targets);
        d->target_count = count;
        d->resolved_ms = clock_monotonic_ms();
        pump(ts, d);
        return;
    case SMTP_DNS_TEMPFAIL:
        dest_fail_queued(d, DELIVERY_STATUS_DNS_TEMPFAIL, error);
        return;
    case SMTP_DNS_NO_HOST:
        dest_fail_queued(
            d, d->own_domain ? DELIVERY_STATUS_DNS_NO_HOST : DELIVERY_STATUS_BAD_NEXT_HOP, error);
        return;
    case SMTP_DNS_NULL_MX:
        dest_fail_queued(d, d->own_domain ? DELIVERY_STATUS_NULL_MX : DELIVERY_STATUS_BAD_NEXT_HOP,
                         error);
        return;
    }
}

/* ---- connection events ---- */

static void on_conn_idle(void *ctx, struct smtp_conn *c)
{
    struct conn_rec *rec = ctx;
    struct dest *d = rec->dest;
    (void)c;
    rec->idle = true;
    if (d->head != NULL)
        pump(thread_transport, d);
}

static void on_job_done(void *ctx, struct smtp_conn *c, struct transport_job *job)
{
    (void)ctx;
    (void)c;
    job_finish(job, DELIVERY_STATUS_DELIVERY_FAILED, "no result");
}

static void reap(void *ctx)
{
    struct transport_smtp *ts = ctx;
    while (ts->dead != NULL) {
        struct conn_rec *rec = ts->dead;
        ts->dead = rec->next;
        smtp_conn_free(&rec->c);
        free(rec);
    }
}

static void on_conn_closed(void *ctx, struct smtp_conn *c, bool reached, const char *error)
{
    struct conn_rec *rec = ctx;
    struct transport_smtp *ts = thread_transport;
    struct dest *d = rec->dest;
    (void)c;
    for (struct conn_rec **pp = &ts->conns; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == rec) {
            *pp = rec->next;
            break;
        }
    }
    ts->conn_count--;
    d->conns--;
    /* freed from the loop: the connection is still on the stack */
    rec->next = ts->dead;
    ts->dead = rec;
    if (ts->reaper == NULL)
        ts->reaper = event_timer_add(ts->loop, 0, reap, ts);
    else
        event_timer_reset(ts->reaper, 0);
    if (!reached) {
        char quoted[600];
        snprintf(d->last_error, sizeof d->last_error, "%s",
                 error != NULL ? error : "no address answered");
        d->backoff_until_ms =
            clock_monotonic_ms() + (uint64_t)ts->conf->smtp_client.destination_backoff * 1000;
        d->target_count = 0; /* look the addresses up again next time */
        log_warning("event=smtp_destination_backoff destination=%s seconds=%u error=%s", d->key,
                    ts->conf->smtp_client.destination_backoff,
                    log_quote(quoted, sizeof quoted, d->last_error));
        if (d->conns == 0)
            dest_fail_queued(d, DELIVERY_STATUS_CONNECT_FAILED, d->last_error);
    }
    pump_all(ts);
}

/* ---- the thread ---- */

static void on_wake(void *ctx, unsigned events)
{
    struct transport_smtp *ts = ctx;
    uint64_t n;
    (void)events;
    if (read(ts->wake_fd, &n, sizeof n) < 0 && errno != EAGAIN)
        return;
    pthread_mutex_lock(&ts->lock);
    struct pending *list = ts->in_head;
    ts->in_head = ts->in_tail = NULL;
    bool stop = ts->stop, retry_now = ts->retry_now;
    ts->retry_now = false;
    pthread_mutex_unlock(&ts->lock);
    /* Before the jobs that came with it: a flush's jobs are tried for real. */
    for (struct dest *d = ts->dests; retry_now && d != NULL; d = d->next) {
        if (d->backoff_until_ms != 0)
            log_info("event=smtp_destination_retry_now destination=%s", d->key);
        d->backoff_until_ms = 0;
    }
    if (stop) {
        /* abandoned (transport.h): never finished */
        while (list != NULL) {
            struct pending *p = list;
            list = p->next;
            free(p);
        }
        event_loop_stop(ts->loop);
        return;
    }
    while (list != NULL) {
        struct pending *p = list;
        list = p->next;
        p->next = NULL;
        struct dest *d = dest_for(ts, p->job);
        if (d == NULL) {
            job_finish(p->job, DELIVERY_STATUS_NO_MEMORY, NULL);
            free(p);
            continue;
        }
        if (d->tail != NULL)
            d->tail->next = p;
        else
            d->head = p;
        d->tail = p;
        pump(ts, d);
    }
}

static void *thread_main(void *arg)
{
    struct transport_smtp *ts = arg;
    thread_transport = ts;
    event_loop_run(ts->loop);
    /* Shutdown: every connection closed at once, every job abandoned. */
    for (struct conn_rec *rec = ts->conns; rec != NULL;) {
        struct conn_rec *next = rec->next;
        smtp_conn_free(&rec->c);
        free(rec);
        rec = next;
    }
    ts->conns = NULL;
    reap(ts);
    event_timer_remove(&ts->reaper);
    for (struct dest *d = ts->dests; d != NULL;) {
        struct dest *next = d->next;
        if (d->query != NULL)
            smtp_dns_cancel(ts->dns, d->query);
        while (d->head != NULL) {
            struct pending *p = d->head;
            d->head = p->next;
            free(p);
        }
        free(d);
        d = next;
    }
    ts->dests = NULL;
    smtp_dns_free(&ts->dns);
    event_io_remove(&ts->wake_io);
    return NULL;
}

/* policies_new - the TLS contexts and every destination's policy: the
 * section's own for the rest, one per smtp_client.destinations row (its
 * own verifying context when it names its own CA file). 0, or -1 and
 * *error_r. */
static int policies_new(struct transport_smtp *ts, char **error_r)
{
    const struct config_smtp_client *sc = &ts->conf->smtp_client;
    bool tls = sc->tls_security != TLS_SECURITY_NONE;
    for (size_t i = 0; i < sc->destination_count; i++)
        tls = tls || sc->destinations[i].tls_security != TLS_SECURITY_NONE;
    if (tls) {
        ts->settings.tls_plain = tls_client_ctx_new(sc->tls_ca_file, false, error_r);
        if (ts->settings.tls_plain == NULL ||
            (ts->tls_verify = tls_client_ctx_new(sc->tls_ca_file, true, error_r)) == NULL)
            return -1;
    }
    ts->default_policy = (struct smtp_conn_policy){.tls_security = sc->tls_security,
                                                   .tls_verify = ts->tls_verify,
                                                   .tls_verify_name = sc->tls_verify_name};
    if (sc->destination_count == 0)
        return 0;
    ts->policies = calloc(sc->destination_count, sizeof *ts->policies);
    if (ts->policies == NULL) {
        *error_r = strdup("out of memory");
        return -1;
    }
    ts->policy_count = sc->destination_count;
    for (size_t i = 0; i < sc->destination_count; i++) {
        const struct config_smtp_destination *row = &sc->destinations[i];
        struct smtp_conn_policy *p = &ts->policies[i];
        *p = (struct smtp_conn_policy){
            .tls_security = row->tls_security,
            .tls_verify = ts->tls_verify,
            .tls_verify_name =
                row->tls_verify_name != NULL ? row->tls_verify_name : sc->tls_verify_name,
            .auth_user = row->auth_user,
            .auth_password = row->auth_password,
        };
        if (row->tls_ca_file != NULL &&
            (p->tls_verify = tls_client_ctx_new(row->tls_ca_file, true, error_r)) == NULL)
            return -1;
    }
    const char *why = NULL;
    for (size_t i = 0; i < sc->destination_count; i++) {
        if (sc->destinations[i].auth_user != NULL) {
            if (smtp_auth_init(&why) < 0) {
                *error_r = strdup(why);
                return -1;
            }
            break;
        }
    }
    return 0;
}

/* policies_free - what policies_new made, so that a failed start keeps
 * nothing and the next job may try again. */
static void policies_free(struct transport_smtp *ts)
{
    SSL_CTX_free(ts->settings.tls_plain);
    for (size_t i = 0; i < ts->policy_count; i++) {
        if (ts->policies[i].tls_verify != ts->tls_verify)
            SSL_CTX_free(ts->policies[i].tls_verify);
    }
    SSL_CTX_free(ts->tls_verify);
    free(ts->policies);
    ts->settings.tls_plain = ts->tls_verify = NULL;
    ts->policies = NULL;
    ts->policy_count = 0;
}

int transport_smtp_check(const struct config *conf, char **error_r)
{
    struct transport_smtp ts = {.conf = conf};
    *error_r = NULL;
    int r = policies_new(&ts, error_r);
    policies_free(&ts);
    if (r < 0 && *error_r == NULL)
        *error_r = strdup("out of memory");
    return r;
}

/* start - what the transport's thread needs, and the thread, at the first
 * job: a runner that never relays does not pay for the CA store, the
 * libunbound context and the thread's arena (bench/README.md). Under
 * ts->lock. 0, or -1 with *error_r and nothing kept (the next job tries
 * again). */
static int start(struct transport_smtp *ts, char **error_r)
{
    const struct config_smtp_client *sc = &ts->conf->smtp_client;
    char *error = NULL;
    if (policies_new(ts, &error) < 0)
        goto fail;
    ts->loop = event_loop_new();
    ts->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (ts->loop == NULL || ts->wake_fd < 0) {
        error = strdup("out of memory");
        goto fail;
    }
    ts->wake_io = event_io_add(ts->loop, ts->wake_fd, EVENT_READ, on_wake, ts);
    ts->dns = smtp_dns_new(ts->loop, sc->dns_forwarders, sc->dns_forwarder_count, &error);
    if (ts->wake_io == NULL || ts->dns == NULL)
        goto fail;
    if (pthread_create(&ts->thread, NULL, thread_main, ts) != 0) {
        error = strdup("pthread_create failed");
        goto fail;
    }
    ts->thread_started = true;
    return 0;
fail:
    *error_r = error != NULL ? error : strdup("out of memory");
    smtp_dns_free(&ts->dns);
    event_io_remove(&ts->wake_io);
    if (ts->wake_fd >= 0)
        close(ts->wake_fd);
    ts->wake_fd = -1;
    event_loop_free(&ts->loop);
    policies_free(ts);
    return -1;
}

/* ---- the transport interface ---- */

/* wake - have the transport's thread look at what came under the lock. */
static void wake(struct transport_smtp *ts)
{
    uint64_t one = 1;
    while (write(ts->wake_fd, &one, sizeof one) < 0 && errno == EINTR)
        ;
}

static void smtp_deliver(struct transport *t, struct transport_job *job)
{
    struct transport_smtp *ts = (struct transport_smtp *)t;
    struct pending *p = calloc(1, sizeof *p);
    if (p == NULL) {
        job_finish(job, DELIVERY_STATUS_NO_MEMORY, NULL);
        return;
    }
    p->job = job;
    pthread_mutex_lock(&ts->lock);
    char *error = NULL;
    if (!ts->thread_started && start(ts, &error) < 0) {
        pthread_mutex_unlock(&ts->lock);
        char quoted[600];
        log_error("event=smtp_transport_failed error=%s", log_quote(quoted, sizeof quoted, error));
        free(error);
        free(p);
        job_finish(job, DELIVERY_STATUS_AWAITING_TRANSPORT, "SMTP client unavailable");
        return;
    }
    if (ts->in_tail != NULL)
        ts->in_tail->next = p;
    else
        ts->in_head = p;
    ts->in_tail = p;
    pthread_mutex_unlock(&ts->lock);
    wake(ts);
}

static void smtp_retry_now(struct transport *t)
{
    struct transport_smtp *ts = (struct transport_smtp *)t;
    pthread_mutex_lock(&ts->lock);
    ts->retry_now = true;
    pthread_mutex_unlock(&ts->lock);
    wake(ts);
}

static void smtp_flush(struct transport *t)
{
    (void)t; /* asynchronous: results come from the transport's thread */
}

static bool smtp_full(const struct transport *t)
{
    (void)t; /* the runner bounds the messages in flight */
    return false;
}

static void smtp_free(struct transport *t)
{
    struct transport_smtp *ts = (struct transport_smtp *)t;
    if (ts->thread_started) {
        pthread_mutex_lock(&ts->lock);
        ts->stop = true;
        pthread_mutex_unlock(&ts->lock);
        wake(ts);
        pthread_join(ts->thread, NULL);
    } else {
        smtp_dns_free(&ts->dns);
        event_io_remove(&ts->wake_io);
    }
    while (ts->in_head != NULL) {
        struct pending *p = ts->in_head;
        ts->in_head = p->next;
        free(p);
    }
    if (ts->wake_fd >= 0)
        close(ts->wake_fd);
    event_loop_free(&ts->loop);
    policies_free(ts);
    pthread_mutex_destroy(&ts->lock);
    free(ts);
}

static const struct transport_ops smtp_ops = {
    .name = "smtp",
    .deliver = smtp_deliver,
    .flush = smtp_flush,
    .full = smtp_full,
    .free = smtp_free,
    .retry_now = smtp_retry_now,
};

struct transport *transport_smtp_new(const struct config *conf, char **error_r)
{
    const struct config_smtp_client *sc = &conf->smtp_client;
    struct transport_smtp *ts = calloc(1, sizeof *ts);
    *error_r = NULL;
    if (ts == NULL || pthread_mutex_init(&ts->lock, NULL) != 0) {
        free(ts);
        *error_r = strdup("out of memory");
        return NULL;
    }
    ts->base = (struct transport){.ops = &smtp_ops, .max_rcpts = SMTP_RCPTS_MAX};
    ts->conf = conf;
    ts->wake_fd = -1;
    ts->settings = (struct smtp_conn_settings){
        .conf = sc,
        .helo_name = sc->helo_name != NULL ? sc->helo_name : conf->server.hostname,
    };
    ts->events = (struct smtp_conn_events){
        .idle = on_conn_idle, .job_done = on_job_done, .closed = on_conn_closed};
    return &ts->base; /* the rest at the first job (start) */
}
