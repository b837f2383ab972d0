/* tools/dirmailctl_route.c - see dirmailctl_route.h.
 *
 * The decision is the runner's own code, in relay/ so that a tool may link
 * it: relay/queue_route.c over the directory's answer, smtp_destination_of
 * for where a node or relay route goes, and relay/smtp_dns.c (libunbound)
 * for the addresses, on an event loop of our own that runs until the answer
 * or a deadline. */
#include "config.h"

#include "tools/dirmailctl_route.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay/queue_route.h"
#include "relay/smtp_dns.h"
#include "lib/event.h"
#include "proto/delivery_status.h"

/* How long the lookups may take, all together. */
#define ROUTE_DNS_TIMEOUT_MS 30000

struct resolution {
    struct event_loop *loop;
    bool done;
    int status; /* the exit status */
};

static void on_resolved(void *ctx, enum smtp_dns_status status, const struct smtp_target *targets,
                        size_t count, const char *error)
{
    struct resolution *res = ctx;
    res->done = true;
    event_loop_stop(res->loop);
    if (status != SMTP_DNS_OK) {
        printf("addresses: none: %s (%s)\n", error != NULL ? error : "?",
               status == SMTP_DNS_TEMPFAIL ? "temporary: deferred" : "permanent");
        res->status = status == SMTP_DNS_TEMPFAIL ? 75 : 0;
        return;
    }
    for (size_t i = 0; i < count; i++) {
        if (targets[i].local)
            printf("address: %zu unix:%s\n", i + 1, targets[i].host);
        else
            printf("address: %zu %s[%s]:%u\n", i + 1, targets[i].host, targets[i].addr,
                   targets[i].port);
    }
}

static void on_deadline(void *ctx)
{
    struct resolution *res = ctx;
    event_loop_stop(res->loop);
}

/* print_addresses - resolve where's hops as the transport would, printing
 * them in the order they would be tried. The exit status. */
static int print_addresses(const struct config *conf, const struct smtp_destination *where)
{
    char *error = NULL;
    struct resolution res = {.loop = event_loop_new()};
    const struct config_smtp_client *sc = &conf->smtp_client;
    struct smtp_dns *dns = res.loop != NULL ? smtp_dns_new(res.loop, sc->dns_forwarders,
                                                           sc->dns_forwarder_count, &error)
                                            : NULL;
    struct event_timer *deadline =
        dns != NULL ? event_timer_add(res.loop, ROUTE_DNS_TIMEOUT_MS, on_deadline, &res) : NULL;
    struct smtp_dns_query *q =
        deadline != NULL
            ? smtp_dns_resolve(dns, where->hops, (size_t)where->hop_count, on_resolved, &res)
            : NULL;
    if (q != NULL)
        event_loop_run(res.loop);
    if (q == NULL) {
        fprintf(stderr, "dirmailctl: route: DNS: %s\n", error != NULL ? error : "out of memory");
        res.status = 75;
    } else if (!res.done) {
        printf("addresses: none: no DNS answer within %u seconds (temporary: deferred)\n",
               ROUTE_DNS_TIMEOUT_MS / 1000);
        res.status = 75;
    }
    free(error);
    event_timer_remove(&deadline);
    smtp_dns_free(&dns);
    event_loop_free(&res.loop);
    return res.status;
}

/* print_destination - a NODE or RELAY route's destination and policy. */
static int print_destination(const struct config *conf, const struct queue_route *route)
{
    const struct config_smtp_client *sc = &conf->smtp_client;
    struct smtp_destination where;
    smtp_destination_of(sc, route, &where);
    printf("destination: %s\n", where.key);
    printf("protocol: %s\n", where.lmtp ? "lmtp" : "smtp");
    const struct config_smtp_destination *row = config_smtp_destination_find(sc, where.name);
    printf("tls_security: %s%s\n",
           config_tls_security_name(row != NULL ? row->tls_security : sc->tls_security),
           row != NULL ? " (smtp_client.destinations)" : "");
    if (row != NULL && row->auth_user != NULL)
        printf("auth_user: %s\n", row->auth_user);
    if (where.hop_count <= 0) {
        char text[DELIVERY_STATUS_TEXT_MAX];
        delivery_status_format(text, sizeof text,
                               where.own_domain ? DELIVERY_STATUS_DNS_NO_HOST
                                                : DELIVERY_STATUS_BAD_NEXT_HOP,
                               where.name);
        printf("result: %s\n", text);
        return 0;
    }
    for (int i = 0; i < where.hop_count; i++) {
        if (where.hops[i].local)
            printf("hop: %d unix:%s\n", i + 1, where.hops[i].host);
        else
            printf("hop: %d %s%s:%u\n", i + 1, where.hops[i].host,
                   where.hops[i].mx ? " (MX lookup)" : "", where.hops[i].port);
    }
    return print_addresses(conf, &where);
}

int dirmailctl_route(const struct config *conf, struct auth_client *client, const char *address)
{
    const char *const args[] = {address};
    struct auth_response resp = {0};
    struct queue_route route;
    char text[DELIVERY_STATUS_TEXT_MAX];
    auth_client_request(client, AUTH_REQ_RESOLVE, args, 1, &resp);
    queue_route_recipient(resp.status, resp.recipient, address, resp.error, &route);
    queue_route_hop_name(&route, text, sizeof text);
    printf("route: %s\n", queue_route_kind_name(route.kind));
    printf("why: %s\n", text);
    int status = 0;
    switch (route.kind) {
    case QUEUE_ROUTE_LOCAL:
        printf("mailbox: %s\n", route.entry != NULL && route.entry->mailbox != NULL
                                    ? route.entry->mailbox
                                    : "(the default from the address)");
        break;
    case QUEUE_ROUTE_NODE:
    case QUEUE_ROUTE_RELAY:
        status = print_destination(conf, &route);
        break;
    case QUEUE_ROUTE_EXPAND:
        for (size_t i = 0; route.targets != NULL && i < route.targets->count; i++)
            printf("target: %s\n", route.targets->items[i]);
        break;
    case QUEUE_ROUTE_DEFER:
    case QUEUE_ROUTE_FAIL:
        delivery_status_format(text, sizeof text, route.status, route.status_arg);
        printf("result: %s\n", text);
        status = route.kind == QUEUE_ROUTE_DEFER ? 75 : 0;
        break;
    case QUEUE_ROUTE_KIND_COUNT:
        break;
    }
    auth_response_clear(&resp);
    return status;
}
