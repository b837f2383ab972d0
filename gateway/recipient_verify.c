/* gateway/recipient_verify.c - see recipient_verify.h.
 *
 * A probe: the next hop's addresses (relay/smtp_dns: the configured next
 * hop, or the domain's MX), then one SMTP conversation per address until
 * one answers: greeting, EHLO (HELO when EHLO is refused), MAIL FROM:<>,
 * RCPT TO, QUIT. The RCPT reply is the answer; trouble before it moves to
 * the next address, and with none left the answer is "cannot verify now"
 * (450 at the gateway: RFC 5321 4.2.5, never a 5xx for a hop we could not
 * reach). The probe is sent in clear: only the address goes out, never a
 * message, and the configuration check refuses verification for a next hop
 * whose smtp_client.destinations policy demands TLS.
 *
 * The cache keeps answers by address: a yes for relay.verify_positive_ttl,
 * a no for relay.verify_negative_ttl, never a failure to verify (the next
 * probe tries again). At most CACHE_MAX entries; the oldest goes first. */
#include "config.h"

#include "gateway/recipient_verify.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conf/conf.h"
#include "lib/clock.h"
#include "lib/conn.h"
#include "lib/event.h"
#include "lib/log.h"
#include "proto/smtp_client.h"
#include "relay/smtp_dns.h"

#define CACHE_MAX 20000
#define CACHE_BUCKETS 4096
/* A reply line longer than this is a broken server (RFC 5321 4.5.3.1.5: 512). */
#define REPLY_LINE_LIMIT 2048
#define ADDRESS_MAX 512

struct cache_entry {
    struct cache_entry *next;  /* in its bucket */
    struct cache_entry *newer; /* insertion order, for eviction */
    uint64_t expires_ms;
    enum recipient_verify_result result;
    char text[RECIPIENT_VERIFY_TEXT_MAX];
    char address[];
};

struct recipient_verify {
    struct event_loop *loop;
    const struct config *conf;
    struct smtp_dns *dns;
    struct cache_entry *buckets[CACHE_BUCKETS];
    struct cache_entry *oldest, *newest;
    size_t count;
};

enum step { STEP_RESOLVE, STEP_CONNECT, STEP_GREETING, STEP_EHLO, STEP_HELO, STEP_MAIL, STEP_RCPT };

struct recipient_probe {
    struct recipient_verify *rv;
    char address[ADDRESS_MAX];
    struct smtp_hop hops[SMTP_HOPS_MAX];
    int hop_count;
    struct smtp_dns_query *query;
    struct smtp_target targets[SMTP_TARGETS_MAX];
    size_t target_count, at;
    char peer[320];
    int fd;
    struct event_io *connect_io;
    struct conn *conn;
    struct event_timer *timer; /* the step's deadline; 0 ms once ended */
    uint64_t deadline_ms;      /* the whole probe's */
    enum step step;
    struct smtp_client_reply reply;
    struct smtp_client_caps caps;
    bool ehlo_first_line;
    bool ended;
    enum recipient_verify_result result;
    char text[RECIPIENT_VERIFY_TEXT_MAX];
    recipient_verify_done_fn *done;
    void *ctx;
};

/* copy_text - src into dst[0..size), cut to fit (replies are quoted, not
 * needed whole). */
static void copy_text(char *dst, size_t size, const char *src)
{
    size_t len = strnlen(src, size - 1);
    memcpy(dst, src, len);
    dst[len] = '\0';
}

/* ---- the cache ---- */

static size_t bucket_of(const char *address)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)address; *p != '\0'; p++)
        h = (h ^ *p) * 1099511628211ull;
    return (size_t)(h % CACHE_BUCKETS);
}

static void cache_unlink(struct recipient_verify *rv, struct cache_entry *e)
{
    for (struct cache_entry **pp = &rv->buckets[bucket_of(e->address)]; *pp != NULL;
         pp = &(*pp)->next) {
        if (*pp == e) {
            *pp = e->next;
            break;
        }
    }
    /* entries leave the insertion list from its old end only (below) */
    rv->count--;
}

/* cache_evict_oldest - drop the entry inserted first. */
static void cache_evict_oldest(struct recipient_verify *rv)
{
    struct cache_entry *e = rv->oldest;
    if (e == NULL)
        return;
    rv->oldest = e->newer;
    if (rv->oldest == NULL)
        rv->newest = NULL;
    if (e->expires_ms != 0) /* 0: already unlinked when it expired */
        cache_unlink(rv, e);
    free(e);
}

static const struct cache_entry *cache_find(struct recipient_verify *rv, const char *address)
{
    uint64_t now = clock_monotonic_ms();
    for (struct cache_entry *e = rv->buckets[bucket_of(address)]; e != NULL; e = e->next) {
        if (strcmp(e->address, address) != 0)
            continue;
        if (e->expires_ms > now)
            return e;
        /* expired: out of the bucket now, freed when the insertion list
         * reaches it */
        cache_unlink(rv, e);
        e->expires_ms = 0;
        return NULL;
    }
    return NULL;
}

static void cache_put(struct recipient_verify *rv, const char *address,
                      enum recipient_verify_result result, const char *text)
{
    const struct config_relay *cr = &rv->conf->relay;
    if (result == RECIPIENT_VERIFY_FAILED)
        return;
    (void)cache_find(rv, address); /* an expired one of the same address leaves */
    size_t len = strlen(address);
    struct cache_entry *e = calloc(1, sizeof *e + len + 1);
    if (e == NULL)
        return; /* not kept: the next RCPT probes again */
    memcpy(e->address, address, len + 1);
    e->result = result;
    copy_text(e->text, sizeof e->text, text);
    unsigned ttl = result == RECIPIENT_VERIFIED ? cr->verify_positive_ttl : cr->verify_negative_ttl;
    e->expires_ms = clock_monotonic_ms() + (uint64_t)ttl * 1000;
    size_t b = bucket_of(address);
    e->next = rv->buckets[b];
    rv->buckets[b] = e;
    if (rv->newest != NULL)
        rv->newest->newer = e;
    else
        rv->oldest = e;
    rv->newest = e;
    rv->count++;
    while (rv->count > CACHE_MAX)
        cache_evict_oldest(rv);
}

/* ---- the verifier ---- */

struct recipient_verify *recipient_verify_new(struct event_loop *loop, const struct config *conf)
{
    struct recipient_verify *rv = calloc(1, sizeof *rv);
    if (rv == NULL)
        return NULL;
    rv->loop = loop;
    rv->conf = conf;
    return rv;
}

void recipient_verify_free(struct recipient_verify **rvp)
{
    struct recipient_verify *rv = *rvp;
    if (rv == NULL)
        return;
    while (rv->oldest != NULL)
        cache_evict_oldest(rv);
    smtp_dns_free(&rv->dns);
    free(rv);
    *rvp = NULL;
}

int recipient_verify_domain(const struct config *conf, const char *domain, const char **next_hop_r)
{
    const struct config_domains *d = &conf->domains;
    *next_hop_r = NULL;
    for (size_t i = 0; d->relay_verify != NULL && i < d->relay_count; i++) {
        if (strcasecmp(d->relay[i], domain) == 0) {
            if (!d->relay_verify[i])
                return 0;
            *next_hop_r = d->relay_next_hop[i];
            return 1;
        }
    }
    return 0;
}

/* ---- one probe ---- */

static void try_target(struct recipient_probe *p);

static void close_transport(struct recipient_probe *p)
{
    event_io_remove(&p->connect_io);
    if (p->fd >= 0) {
        close(p->fd);
        p->fd = -1;
    }
    conn_free(&p->conn);
}

/* end - the answer is known: the callback comes from the loop, not from
 * inside the connection's handler. */
static void end(struct recipient_probe *p, enum recipient_verify_result result, const char *text)
{
    if (p->ended)
        return;
    p->ended = true;
    p->result = result;
    copy_text(p->text, sizeof p->text, text);
    if (p->conn != NULL)
        conn_set_input_paused(p->conn, true);
    event_timer_reset(p->timer, 0);
}

static void probe_free(struct recipient_probe *p)
{
    if (p->query != NULL)
        smtp_dns_cancel(p->rv->dns, p->query);
    close_transport(p);
    event_timer_remove(&p->timer);
    free(p);
}

/* finish - on the loop after end: the answer is cached and told. */
static void finish(struct recipient_probe *p)
{
    char quoted[600], qtext[600];
    if (p->conn != NULL) {
        /* QUIT and go, without waiting for its reply (RFC 5321 4.1.1.10
         * asks the client to wait; a probe's result no longer depends on it) */
        conn_write(p->conn, "QUIT\r\n", 6);
        (void)conn_flush(p->conn);
    }
    log_info("event=recipient_verified rcpt=%s result=%s peer=%s reply=%s",
             log_quote(quoted, sizeof quoted, p->address),
             p->result == RECIPIENT_VERIFIED   ? "yes"
             : p->result == RECIPIENT_REJECTED ? "no"
                                               : "failed",
             p->peer[0] != '\0' ? p->peer : "-", log_quote(qtext, sizeof qtext, p->text));
    cache_put(p->rv, p->address, p->result, p->text);
    recipient_verify_done_fn *done = p->done;
    void *ctx = p->ctx;
    enum recipient_verify_result result = p->result;
    char text[RECIPIENT_VERIFY_TEXT_MAX];
    memcpy(text, p->text, sizeof text);
    probe_free(p);
    done(ctx, result, text);
}

/* arm - the current step's deadline: seconds, within the whole probe's. */
static void arm(struct recipient_probe *p, unsigned seconds)
{
    uint64_t now = clock_monotonic_ms(), ms = (uint64_t)seconds * 1000;
    if (now + ms > p->deadline_ms)
        ms = p->deadline_ms > now ? p->deadline_ms - now : 0;
    event_timer_reset(p->timer, ms);
}

/* fail_target - this address is of no use: the next, or give up. */
static void fail_target(struct recipient_probe *p, const char *why)
{
    close_transport(p);
    p->at++;
    if (p->at < p->target_count && clock_monotonic_ms() < p->deadline_ms) {
        try_target(p);
        return;
    }
    end(p, RECIPIENT_VERIFY_FAILED, why);
}

static void on_timer(void *ctx)
{
    struct recipient_probe *p = ctx;
    if (p->ended) {
        finish(p);
        return;
    }
    char why[400];
    snprintf(why, sizeof why, "%s: timed out", p->peer[0] != '\0' ? p->peer : "next hop");
    if (clock_monotonic_ms() >= p->deadline_ms) {
        close_transport(p);
        end(p, RECIPIENT_VERIFY_FAILED, why);
        return;
    }
    fail_target(p, why);
}

static void send_line(struct recipient_probe *p, enum step step, const char *line, size_t len)
{
    const struct config_smtp_client *sc = &p->rv->conf->smtp_client;
    p->step = step;
    smtp_client_reply_reset(&p->reply);
    conn_write(p->conn, line, len);
    if (conn_flush(p->conn) == CONN_ERROR) {
        fail_target(p, "write failed");
        return;
    }
    arm(p, step == STEP_RCPT   ? sc->rcpt_timeout
           : step == STEP_MAIL ? sc->mail_timeout
                               : sc->helo_timeout);
}

static void send_greeting_reply(struct recipient_probe *p, bool ehlo)
{
    const struct config *conf = p->rv->conf;
    const char *name =
        conf->smtp_client.helo_name != NULL ? conf->smtp_client.helo_name : conf->server.hostname;
    char line[320];
    int n = snprintf(line, sizeof line, "%s %s\r\n", ehlo ? "EHLO" : "HELO", name);
    p->caps = (struct smtp_client_caps){0};
    p->ehlo_first_line = true;
    send_line(p, ehlo ? STEP_EHLO : STEP_HELO, line, (size_t)n);
}

static void send_mail(struct recipient_probe *p)
{
    bool utf8 = smtp_client_has_8bit(p->address, strlen(p->address));
    if (utf8 && !p->caps.smtputf8) {
        /* RFC 6531 3.4: such an address needs SMTPUTF8, which this hop lacks */
        char why[400];
        snprintf(why, sizeof why, "%s does not offer SMTPUTF8", p->peer);
        end(p, RECIPIENT_VERIFY_FAILED, why);
        return;
    }
    char line[600];
    int n = smtp_client_mail_command(line, sizeof line, "", 0, false, utf8, NULL, NULL);
    if (n < 0) {
        end(p, RECIPIENT_VERIFY_FAILED, "MAIL command too long");
        return;
    }
    send_line(p, STEP_MAIL, line, (size_t)n);
}

static void send_rcpt(struct recipient_probe *p)
{
    char line[ADDRESS_MAX + 32];
    int n = smtp_client_rcpt_command(line, sizeof line, p->address, NULL, NULL);
    if (n < 0) {
        end(p, RECIPIENT_VERIFY_FAILED, "RCPT command too long");
        return;
    }
    send_line(p, STEP_RCPT, line, (size_t)n);
}

/* on_reply - a complete reply to the step's command. */
static void on_reply(struct recipient_probe *p)
{
    char said[RECIPIENT_VERIFY_TEXT_MAX];
    smtp_client_reply_describe(&p->reply, said, sizeof said);
    char why[RECIPIENT_VERIFY_TEXT_MAX + 340];
    snprintf(why, sizeof why, "%s said: %s", p->peer, said);
    int code = p->reply.code;
    switch (p->step) {
    case STEP_GREETING:
        if (code / 100 == 2)
            send_greeting_reply(p, true);
        else
            fail_target(p, why);
        return;
    case STEP_EHLO:
        if (code / 100 == 2)
            send_mail(p);
        else if (code / 100 == 5)
            send_greeting_reply(p, false); /* RFC 5321 3.2: a server without EHLO */
        else
            fail_target(p, why);
        return;
    case STEP_HELO:
        if (code / 100 == 2)
            send_mail(p);
        else
            fail_target(p, why);
        return;
    case STEP_MAIL:
        /* a hop that refuses the null sender cannot be asked: never a 5xx
         * to our client for it (RFC 5321 4.5.5 requires it to take <>) */
        if (code / 100 == 2)
            send_rcpt(p);
        else
            end(p, RECIPIENT_VERIFY_FAILED, why);
        return;
    case STEP_RCPT:
        end(p,
            code / 100 == 2   ? RECIPIENT_VERIFIED
            : code / 100 == 5 ? RECIPIENT_REJECTED
                              : RECIPIENT_VERIFY_FAILED,
            why);
        return;
    case STEP_RESOLVE:
    case STEP_CONNECT:
        return;
    }
}

static void conn_event(struct conn *conn, enum conn_event event, void *ctx)
{
    struct recipient_probe *p = ctx;
    if (p->ended)
        return;
    if (event == CONN_EVENT_TIMEOUT) {
        fail_target(p, "timed out");
        return;
    }
    if (event != CONN_EVENT_INPUT)
        return;
    for (;;) {
        struct conn_line line;
        enum conn_result r = conn_read_line(conn, &line);
        if (r == CONN_AGAIN)
            return;
        if (r != CONN_OK) {
            char why[400];
            snprintf(why, sizeof why, "%s: %s", p->peer,
                     r == CONN_TOO_LONG ? "reply line too long" : "connection closed");
            fail_target(p, why);
            return;
        }
        const char *text = NULL;
        enum smtp_client_feed f = smtp_client_reply_feed(&p->reply, line.data, line.len, &text);
        if (f == SMTP_CLIENT_BAD) {
            char why[400];
            snprintf(why, sizeof why, "%s: not an SMTP reply", p->peer);
            fail_target(p, why);
            return;
        }
        if (p->step == STEP_EHLO && text != NULL) {
            smtp_client_caps_line(&p->caps, text, p->ehlo_first_line);
            p->ehlo_first_line = false;
        }
        if (f == SMTP_CLIENT_DONE) {
            on_reply(p);
            if (p->ended || p->conn != conn)
                return; /* ended, or moved on to another address */
        }
    }
}

static void on_connected(void *ctx, unsigned events)
{
    struct recipient_probe *p = ctx;
    int err = 0;
    socklen_t len = sizeof err;
    (void)events;
    event_io_remove(&p->connect_io);
    if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    char why[400];
    if (err != 0) {
        snprintf(why, sizeof why, "connect to %s: %s", p->peer, strerror(err));
        fail_target(p, why);
        return;
    }
    p->conn = conn_new(p->fd, REPLY_LINE_LIMIT);
    if (p->conn == NULL || conn_attach(p->conn, p->rv->loop, conn_event, p) < 0) {
        snprintf(why, sizeof why, "connect to %s: out of memory", p->peer);
        fail_target(p, why);
        return;
    }
    p->fd = -1; /* the conn's now */
    conn_set_timeouts(p->conn, 0, 0);
    p->step = STEP_GREETING;
    smtp_client_reply_reset(&p->reply);
    arm(p, p->rv->conf->smtp_client.helo_timeout);
}

static void try_target(struct recipient_probe *p)
{
    const struct smtp_target *t = &p->targets[p->at];
    snprintf(p->peer, sizeof p->peer, "%s[%s]:%u", t->host, t->addr, t->port);
    struct sockaddr_storage ss;
    socklen_t sl = smtp_target_sockaddr(t, &ss);
    bool v6 = ss.ss_family == AF_INET6;
    char why[400];
    p->step = STEP_CONNECT;
    p->fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (p->fd < 0) {
        snprintf(why, sizeof why, "socket: %s", strerror(errno));
        fail_target(p, why);
        return;
    }
    arm(p, p->rv->conf->smtp_client.connect_timeout);
    if (connect(p->fd, (struct sockaddr *)&ss, sl) < 0 && errno != EINPROGRESS) {
        snprintf(why, sizeof why, "connect to %s: %s", p->peer, strerror(errno));
        fail_target(p, why);
        return;
    }
    p->connect_io = event_io_add(p->rv->loop, p->fd, EVENT_WRITE, on_connected, p);
    if (p->connect_io == NULL) {
        snprintf(why, sizeof why, "connect to %s: out of memory", p->peer);
        fail_target(p, why);
    }
}

static void on_resolved(void *ctx, enum smtp_dns_status status, const struct smtp_target *targets,
                        size_t count, const char *error)
{
    struct recipient_probe *p = ctx;
    p->query = NULL;
    if (status != SMTP_DNS_OK || count == 0) {
        /* even an authoritative "no such host" is a configuration problem
         * of ours here, not the client's: 4xx */
        end(p, RECIPIENT_VERIFY_FAILED, error);
        return;
    }
    p->target_count = count < SMTP_TARGETS_MAX ? count : SMTP_TARGETS_MAX;
    memcpy(p->targets, targets, p->target_count * sizeof *targets);
    p->at = 0;
    try_target(p);
}

struct recipient_probe *recipient_verify_start(struct recipient_verify *rv, const char *address,
                                               const char *domain, const char *next_hop,
                                               recipient_verify_done_fn *done, void *ctx)
{
    const struct cache_entry *hit = cache_find(rv, address);
    if (hit != NULL) {
        done(ctx, hit->result, hit->text);
        return NULL;
    }
    if (strlen(address) >= ADDRESS_MAX) {
        done(ctx, RECIPIENT_VERIFY_FAILED, "address too long");
        return NULL;
    }
    struct recipient_probe *p = calloc(1, sizeof *p);
    if (p == NULL) {
        done(ctx, RECIPIENT_VERIFY_FAILED, "out of memory");
        return NULL;
    }
    char *error = NULL;
    if (rv->dns == NULL) {
        const struct config_smtp_client *sc = &rv->conf->smtp_client;
        rv->dns = smtp_dns_new(rv->loop, sc->dns_forwarders, sc->dns_forwarder_count, &error);
        if (rv->dns == NULL) {
            char text[RECIPIENT_VERIFY_TEXT_MAX];
            snprintf(text, sizeof text, "resolver: %s", error != NULL ? error : "out of memory");
            free(error);
            free(p);
            done(ctx, RECIPIENT_VERIFY_FAILED, text);
            return NULL;
        }
    }
    p->rv = rv;
    p->fd = -1;
    p->done = done;
    p->ctx = ctx;
    snprintf(p->address, sizeof p->address, "%s", address);
    p->deadline_ms = clock_monotonic_ms() + (uint64_t)rv->conf->relay.verify_timeout * 1000;
    if (next_hop != NULL) {
        p->hop_count = smtp_hops_parse(next_hop, 25, 24, false, false, p->hops);
    } else {
        /* no next hop: the domain's MX, as the relay would send it */
        p->hop_count = 1;
        snprintf(p->hops[0].host, sizeof p->hops[0].host, "%s", domain);
        p->hops[0].port = 25;
        p->hops[0].mx = true;
    }
    p->timer =
        event_timer_add(rv->loop, (uint64_t)rv->conf->relay.verify_timeout * 1000, on_timer, p);
    if (p->hop_count <= 0 || p->timer == NULL ||
        (p->query = smtp_dns_resolve(rv->dns, p->hops, (size_t)p->hop_count, on_resolved, p)) ==
            NULL) {
        const char *why = p->hop_count <= 0 ? "the next hop cannot be parsed" : "out of memory";
        probe_free(p);
        done(ctx, RECIPIENT_VERIFY_FAILED, why);
        return NULL;
    }
    p->step = STEP_RESOLVE;
    return p;
}

void recipient_verify_cancel(struct recipient_probe **probe)
{
    if (*probe == NULL)
        return;
    probe_free(*probe);
    *probe = NULL;
}
