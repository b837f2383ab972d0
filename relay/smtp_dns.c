/* relay/smtp_dns.c - see smtp_dns.h.
 *
 * One resolution is a small tree of libunbound queries: an MX query per
 * hop that wants one, then A and AAAA for every host found (or for the
 * hop's own name). They all run at once; when the last answers, the
 * targets are put in order: the hops as listed, within a hop the MX hosts
 * by preference and at random among equal ones (RFC 5321 5.1), within a
 * host its IPv6 addresses before its IPv4 ones. libunbound runs in
 * threaded asynchronous mode (ub_ctx_async(ctx, 1): no forked helper
 * process) and signals answers on ub_fd, which the loop watches. */
#include "config.h"

#include "relay/smtp_dns.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>
#include <unbound.h>

#include "lib/event.h"

#define RR_A 1
#define RR_MX 15
#define RR_AAAA 28
#define RR_CLASS_IN 1
#define RCODE_SERVFAIL 2
/* Addresses kept per host and family. */
#define ADDRS_MAX 8

int smtp_hops_parse(const char *text, unsigned smtp_port, unsigned lmtp_port, bool lmtp, bool no_mx,
                    struct smtp_hop *hops)
{
    int count = 0;
    const char *p = text;
    while (*p != '\0') {
        while (*p == ' ' || *p == ',')
            p++;
        if (*p == '\0')
            break;
        size_t len = strcspn(p, ",");
        char item[300];
        if (len >= sizeof item || count == SMTP_HOPS_MAX)
            return -1;
        memcpy(item, p, len);
        item[len] = '\0';
        p += len;
        while (len > 0 && item[len - 1] == ' ')
            item[--len] = '\0';
        char *s = item;
        struct smtp_hop *h = &hops[count];
        *h = (struct smtp_hop){.port = lmtp ? lmtp_port : smtp_port, .lmtp = lmtp};
        if (strncasecmp(s, "lmtp:", 5) == 0) {
            s += 5;
            *h = (struct smtp_hop){.port = lmtp_port, .lmtp = true};
        } else if (strncasecmp(s, "smtp:", 5) == 0) {
            s += 5;
            *h = (struct smtp_hop){.port = smtp_port};
        }
        if (count > 0 && h->lmtp != hops[0].lmtp)
            return -1; /* one next hop, one protocol: its connections are alike */
        if (h->lmtp && strncasecmp(s, "unix:", 5) == 0) {
            s += 5;
            if (s[0] != '/' || strlen(s) >= sizeof((struct sockaddr_un *)0)->sun_path)
                return -1;
            h->local = true;
            h->port = 0;
            memcpy(h->host, s, strlen(s) + 1);
            count++;
            continue;
        }
        char *host = s, *rest;
        bool bracket = s[0] == '[';
        if (bracket) {
            char *end = strchr(s, ']');
            if (end == NULL)
                return -1;
            *end = '\0';
            host = s + 1;
            rest = end + 1;
        } else {
            rest = host + strcspn(host, ":");
            if (*rest == ':')
                *rest++ = '\0';
            else
                rest = NULL;
        }
        if (bracket && *rest == ':')
            rest++;
        else if (bracket && *rest != '\0')
            return -1;
        else if (bracket)
            rest = NULL;
        if (rest != NULL) {
            char *end = NULL;
            unsigned long port = strtoul(rest, &end, 10);
            if (*rest == '\0' || *end != '\0' || port < 1 || port > 65535)
                return -1;
            h->port = (unsigned)port;
        }
        if (bracket && strncasecmp(host, "ipv6:", 5) == 0)
            host += 5;
        unsigned char bytes[16];
        h->literal = inet_pton(AF_INET, host, bytes) == 1 || inet_pton(AF_INET6, host, bytes) == 1;
        if (host[0] == '\0' || strlen(host) >= sizeof h->host)
            return -1;
        memcpy(h->host, host, strlen(host) + 1);
        /* an LMTP server is a host, never a domain's MX (RFC 2033 is for
         * a site's own hops) */
        h->mx = !bracket && !h->literal && !no_mx && !h->lmtp;
        count++;
    }
    return count > 0 ? count : -1;
}

struct smtp_dns {
    struct ub_ctx *ub;
    struct event_loop *loop;
    struct event_io *io;
};

/* One host whose addresses are asked for. */
struct host {
    char name[256];
    size_t hop;
    int pref;      /* MX preference; 0 for a hop's own name */
    uint32_t rand; /* the order among equal preferences */
    char v6[ADDRS_MAX][INET6_ADDRSTRLEN], v4[ADDRS_MAX][INET6_ADDRSTRLEN];
    size_t v6_count, v4_count;
};

enum req_kind { REQ_MX, REQ_A, REQ_AAAA };

/* One libunbound query in flight. */
struct req {
    struct smtp_dns_query *q;
    enum req_kind kind;
    size_t index; /* MX: the hop; A, AAAA: the host */
    int id;
    bool pending;
};

#define REQS_MAX (SMTP_HOPS_MAX + 2 * SMTP_TARGETS_MAX)

struct smtp_dns_query {
    struct smtp_dns *dns;
    smtp_dns_done_fn *done;
    void *ctx;
    struct smtp_hop hops[SMTP_HOPS_MAX];
    size_t hop_count;
    struct host hosts[SMTP_TARGETS_MAX];
    size_t host_count;
    struct req reqs[REQS_MAX];
    size_t req_count, outstanding;
    bool temp, null_mx; /* what failed, for the status when nothing is found */
    char error[300];
    struct event_timer *later; /* a resolution that needs no query still answers later */
};

static void on_ub_fd(void *ctx, unsigned events)
{
    struct smtp_dns *dns = ctx;
    (void)events;
    ub_process(dns->ub);
}

struct smtp_dns *smtp_dns_new(struct event_loop *loop, char *const *forwarders, size_t count,
                              char **error_r)
{
    struct smtp_dns *dns = calloc(1, sizeof *dns);
    char msg[300];
    int err = 0;
    *error_r = NULL;
    if (dns == NULL)
        return NULL;
    dns->loop = loop;
    dns->ub = ub_ctx_create();
    if (dns->ub == NULL) {
        snprintf(msg, sizeof msg, "ub_ctx_create failed");
        goto fail;
    }
    if ((err = ub_ctx_async(dns->ub, 1)) != 0)
        goto ub_fail;
    if (count > 0) {
        /* A private forwarder on loopback (the tests' dnsmasq): unbound
         * refuses to query localhost unless told. */
        if ((err = ub_ctx_set_option(dns->ub, "do-not-query-localhost:", "no")) != 0)
            goto ub_fail;
        for (size_t i = 0; i < count; i++) {
            if ((err = ub_ctx_set_fwd(dns->ub, forwarders[i])) != 0)
                goto ub_fail;
        }
    } else {
        if ((err = ub_ctx_resolvconf(dns->ub, NULL)) != 0 ||
            (err = ub_ctx_hosts(dns->ub, NULL)) != 0)
            goto ub_fail;
    }
    dns->io = event_io_add(loop, ub_fd(dns->ub), EVENT_READ, on_ub_fd, dns);
    if (dns->io == NULL) {
        snprintf(msg, sizeof msg, "out of memory");
        goto fail;
    }
    return dns;
ub_fail:
    snprintf(msg, sizeof msg, "libunbound: %s", ub_strerror(err));
fail:
    *error_r = strdup(msg);
    smtp_dns_free(&dns);
    return NULL;
}

void smtp_dns_free(struct smtp_dns **dnsp)
{
    struct smtp_dns *dns = *dnsp;
    if (dns == NULL)
        return;
    event_io_remove(&dns->io);
    if (dns->ub != NULL)
        ub_ctx_delete(dns->ub); /* outstanding queries end without callbacks */
    free(dns);
    *dnsp = NULL;
}

static void finish(struct smtp_dns_query *q);
static void on_answer(void *arg, int err, struct ub_result *result);

/* ask - one more query of q; on failure q is marked temporary. */
static void ask(struct smtp_dns_query *q, const char *name, enum req_kind kind, size_t index)
{
    static const int types[] = {[REQ_MX] = RR_MX, [REQ_A] = RR_A, [REQ_AAAA] = RR_AAAA};
    if (q->req_count == REQS_MAX) {
        q->temp = true;
        return;
    }
    struct req *r = &q->reqs[q->req_count++];
    *r = (struct req){.q = q, .kind = kind, .index = index, .pending = true};
    q->outstanding++;
    int err = ub_resolve_async(q->dns->ub, name, types[kind], RR_CLASS_IN, r, on_answer, &r->id);
    if (err != 0) {
        r->pending = false;
        q->outstanding--;
        q->temp = true;
        snprintf(q->error, sizeof q->error, "%s: %s", name, ub_strerror(err));
    }
}

/* add_host - look up name's addresses for hop, at MX preference pref. */
static void add_host(struct smtp_dns_query *q, const char *name, size_t hop, int pref)
{
    if (q->host_count == SMTP_TARGETS_MAX)
        return;
    struct host *h = &q->hosts[q->host_count];
    *h = (struct host){.hop = hop, .pref = pref, .rand = arc4random()};
    snprintf(h->name, sizeof h->name, "%s", name);
    size_t index = q->host_count++;
    ask(q, name, REQ_AAAA, index);
    ask(q, name, REQ_A, index);
}

/* mx_name - the exchange of an MX rdata (preference, uncompressed name)
 * as text; "" for the root ("."); -1 when malformed. */
static int mx_name(const unsigned char *data, size_t len, int *pref_r, char *out, size_t size)
{
    if (len < 3)
        return -1;
    *pref_r = data[0] << 8 | data[1];
    size_t i = 2, o = 0;
    while (i < len && data[i] != 0) {
        size_t label = data[i++];
        if (label > 63 || i + label > len || o + label + 2 > size)
            return -1;
        if (o > 0)
            out[o++] = '.';
        memcpy(out + o, data + i, label);
        o += label;
        i += label;
    }
    if (i >= len)
        return -1;
    out[o] = '\0';
    return 0;
}

static void on_mx(struct smtp_dns_query *q, size_t hop, int err, struct ub_result *res)
{
    const char *domain = q->hops[hop].host;
    if (err != 0 || res->rcode == RCODE_SERVFAIL || (res->rcode != 0 && !res->nxdomain)) {
        q->temp = true;
        snprintf(q->error, sizeof q->error, "MX lookup of %s: %s", domain,
                 err != 0 ? ub_strerror(err) : "server failure");
        return;
    }
    if (res->nxdomain) {
        snprintf(q->error, sizeof q->error, "%s does not exist", domain);
        return;
    }
    if (!res->havedata) {
        /* RFC 5321 5.1: no MX, the domain itself is the host */
        add_host(q, domain, hop, 0);
        return;
    }
    size_t count = 0, nulls = 0;
    for (size_t i = 0; res->data[i] != NULL; i++) {
        char name[256];
        int pref;
        if (mx_name((const unsigned char *)res->data[i], (size_t)res->len[i], &pref, name,
                    sizeof name) < 0)
            continue;
        count++;
        if (name[0] == '\0') {
            nulls++;
            continue;
        }
        add_host(q, name, hop, pref);
    }
    /* RFC 7505 3: a single MX of preference 0 and exchange "." */
    if (count > 0 && nulls == count) {
        q->null_mx = true;
        snprintf(q->error, sizeof q->error, "%s", domain);
    }
}

static void on_address(struct smtp_dns_query *q, struct host *h, bool v6, int err,
                       struct ub_result *res)
{
    if (err != 0 || res->rcode == RCODE_SERVFAIL || (res->rcode != 0 && !res->nxdomain)) {
        q->temp = true;
        snprintf(q->error, sizeof q->error, "%s lookup of %s: %s", v6 ? "AAAA" : "A", h->name,
                 err != 0 ? ub_strerror(err) : "server failure");
        return;
    }
    for (size_t i = 0; res->havedata && res->data[i] != NULL; i++) {
        if ((v6 ? h->v6_count : h->v4_count) == ADDRS_MAX)
            break;
        if (res->len[i] != (v6 ? 16 : 4))
            continue;
        char *out = v6 ? h->v6[h->v6_count++] : h->v4[h->v4_count++];
        inet_ntop(v6 ? AF_INET6 : AF_INET, res->data[i], out, INET6_ADDRSTRLEN);
    }
    if (q->error[0] == '\0' && h->v6_count + h->v4_count == 0 && !v6)
        snprintf(q->error, sizeof q->error, "no address for %s", h->name);
}

static void on_answer(void *arg, int err, struct ub_result *res)
{
    struct req *r = arg;
    struct smtp_dns_query *q = r->q;
    r->pending = false;
    switch (r->kind) {
    case REQ_MX:
        on_mx(q, r->index, err, res);
        break;
    case REQ_A:
    case REQ_AAAA:
        on_address(q, &q->hosts[r->index], r->kind == REQ_AAAA, err, res);
        break;
    }
    if (res != NULL)
        ub_resolve_free(res);
    if (--q->outstanding == 0)
        finish(q);
}

static int host_cmp(const void *a, const void *b)
{
    const struct host *x = a, *y = b;
    if (x->hop != y->hop)
        return x->hop < y->hop ? -1 : 1;
    if (x->pref != y->pref)
        return x->pref < y->pref ? -1 : 1;
    return x->rand < y->rand ? -1 : x->rand > y->rand;
}

static void add_target(struct smtp_target *targets, size_t *count, const char *host,
                       const char *addr, unsigned port)
{
    if (*count == SMTP_TARGETS_MAX)
        return;
    struct smtp_target *t = &targets[(*count)++];
    *t = (struct smtp_target){0};
    snprintf(t->host, sizeof t->host, "%s", host);
    snprintf(t->addr, sizeof t->addr, "%s", addr);
    t->port = port;
}

/* finish - every answer is in: the targets in order, or why none. */
static void finish(struct smtp_dns_query *q)
{
    struct smtp_target targets[SMTP_TARGETS_MAX];
    size_t count = 0;
    qsort(q->hosts, q->host_count, sizeof *q->hosts, host_cmp);
    size_t next = 0;
    for (size_t hop = 0; hop < q->hop_count; hop++) {
        const struct smtp_hop *hp = &q->hops[hop];
        if (hp->literal)
            add_target(targets, &count, hp->host, hp->host, hp->port);
        if (hp->local && count < SMTP_TARGETS_MAX) {
            targets[count] = (struct smtp_target){.local = true};
            memcpy(targets[count++].host, hp->host, sizeof hp->host);
        }
        for (; next < q->host_count && q->hosts[next].hop == hop; next++) {
            const struct host *h = &q->hosts[next];
            for (size_t i = 0; i < h->v6_count; i++)
                add_target(targets, &count, h->name, h->v6[i], hp->port);
            for (size_t i = 0; i < h->v4_count; i++)
                add_target(targets, &count, h->name, h->v4[i], hp->port);
        }
    }
    enum smtp_dns_status status = count > 0    ? SMTP_DNS_OK
                                  : q->temp    ? SMTP_DNS_TEMPFAIL
                                  : q->null_mx ? SMTP_DNS_NULL_MX
                                               : SMTP_DNS_NO_HOST;
    if (q->error[0] == '\0')
        snprintf(q->error, sizeof q->error, "no address for %s", q->hops[0].host);
    smtp_dns_done_fn *done = q->done;
    void *ctx = q->ctx;
    char error[sizeof q->error];
    memcpy(error, q->error, sizeof error);
    event_timer_remove(&q->later);
    free(q);
    done(ctx, status, targets, count, error);
}

static void finish_later(void *ctx)
{
    finish(ctx);
}

socklen_t smtp_target_sockaddr(const struct smtp_target *t, struct sockaddr_storage *ss)
{
    *ss = (struct sockaddr_storage){0};
    if (t->local) {
        /* "lmtp:unix:/path": the path's length was checked when parsed */
        struct sockaddr_un *sun = (struct sockaddr_un *)ss;
        sun->sun_family = AF_UNIX;
        size_t len = strnlen(t->host, sizeof sun->sun_path - 1);
        memcpy(sun->sun_path, t->host, len);
        return sizeof *sun;
    }
    if (strchr(t->addr, ':') != NULL) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)t->port);
        inet_pton(AF_INET6, t->addr, &sin6->sin6_addr);
        return sizeof *sin6;
    }
    struct sockaddr_in *sin = (struct sockaddr_in *)ss;
    sin->sin_family = AF_INET;
    sin->sin_port = htons((uint16_t)t->port);
    inet_pton(AF_INET, t->addr, &sin->sin_addr);
    return sizeof *sin;
}

struct smtp_dns_query *smtp_dns_resolve(struct smtp_dns *dns, const struct smtp_hop *hops,
                                        size_t count, smtp_dns_done_fn *done, void *ctx)
{
    struct smtp_dns_query *q = calloc(1, sizeof *q);
    if (q == NULL)
        return NULL;
    *q = (struct smtp_dns_query){.dns = dns, .done = done, .ctx = ctx};
    q->hop_count = count < SMTP_HOPS_MAX ? count : SMTP_HOPS_MAX;
    memcpy(q->hops, hops, q->hop_count * sizeof *hops);
    /* Every query may be answered from the cache inside ub_process only,
     * never here: done always comes from the loop. */
    for (size_t i = 0; i < q->hop_count; i++) {
        if (q->hops[i].literal || q->hops[i].local)
            continue;
        if (q->hops[i].mx)
            ask(q, q->hops[i].host, REQ_MX, i);
        else
            add_host(q, q->hops[i].host, i, 0);
    }
    if (q->outstanding == 0) {
        q->later = event_timer_add(dns->loop, 0, finish_later, q);
        if (q->later == NULL) {
            free(q);
            return NULL;
        }
    }
    return q;
}

void smtp_dns_cancel(struct smtp_dns *dns, struct smtp_dns_query *q)
{
    for (size_t i = 0; i < q->req_count; i++) {
        if (q->reqs[i].pending)
            ub_cancel(dns->ub, q->reqs[i].id);
    }
    event_timer_remove(&q->later);
    free(q);
}

void smtp_destination_of(const struct config_smtp_client *sc, const struct queue_route *route,
                         struct smtp_destination *out)
{
    const char *hop;
    bool no_mx = false, lmtp = false;
    *out = (struct smtp_destination){0};
    if (route->kind == QUEUE_ROUTE_NODE) {
        hop = route->next_hop != NULL ? route->next_hop : "";
        no_mx = true; /* a node's mail host is the host itself */
        lmtp = sc->node_protocol_lmtp;
        snprintf(out->key, sizeof out->key, "node:%s", hop);
    } else if (route->next_hop != NULL) {
        hop = route->next_hop;
        snprintf(out->key, sizeof out->key, "relay:%s", hop);
    } else if (route->foreign && sc->relayhost != NULL) {
        hop = sc->relayhost;
        snprintf(out->key, sizeof out->key, "relay:%s", hop);
    } else {
        hop = route->domain != NULL ? route->domain : "";
        out->own_domain = true;
        snprintf(out->key, sizeof out->key, "mx:%s", hop);
    }
    out->name = hop;
    if (!out->own_domain) {
        out->hop_count = smtp_hops_parse(hop, sc->port, sc->lmtp_port, lmtp, no_mx, out->hops);
        out->lmtp = out->hop_count > 0 && out->hops[0].lmtp;
        return;
    }
    /* the recipient's domain: its MX (RFC 5321 5.1) */
    out->hop_count = -1;
    if (strlen(hop) > 0 && strlen(hop) < sizeof out->hops[0].host) {
        out->hops[0] = (struct smtp_hop){.port = sc->port, .mx = true};
        memcpy(out->hops[0].host, hop, strlen(hop) + 1);
        out->hop_count = 1;
    }
}
