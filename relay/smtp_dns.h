/* relay/smtp_dns.h - from a next hop to the addresses the SMTP
 * client tries, in order: the next hop's text parsed ("host", "host:port",
 * "[host]:port", "[192.0.2.1]", "[ipv6:2001:db8::1]:25", comma-separated
 * for failover), MX lookups per RFC 5321 section 5 (preference order,
 * random among equal preferences, the domain's own A/AAAA when it has no
 * MX, RFC 7505's null MX), and A/AAAA lookups, all through libunbound
 * asynchronously on the client thread's event loop (its cache keeps
 * answers, positive and negative, for their TTL). Never connects. */
#ifndef DIRMAIL_RELAY_SMTP_DNS_H
#define DIRMAIL_RELAY_SMTP_DNS_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>

#include "conf/conf.h"
#include "relay/queue_route.h"

struct event_loop;

/* Hosts one next hop may list (failover). */
#define SMTP_HOPS_MAX 8
/* Addresses a destination is tried at, all hosts together. */
#define SMTP_TARGETS_MAX 32

/* An LMTP host without a port: Postfix's lmtp(8) default
 * (smtp_client.lmtp_port's). */
#define SMTP_LMTP_PORT 24

/* One host of a next hop. */
struct smtp_hop {
    char host[256]; /* a name, an address for a literal, a path for a UNIX socket */
    unsigned port;
    bool mx;      /* host is a domain whose MX records say where */
    bool literal; /* host is an IP address: no lookup */
    bool lmtp;    /* spoken to in LMTP (RFC 2033), not SMTP */
    bool local;   /* host is the path of a UNIX socket ("lmtp:unix:/path") */
};

/* smtp_hops_parse - text into at most SMTP_HOPS_MAX hops; bracketed names
 * and literals get no MX lookup, a plain name does unless no_mx (a node's
 * mail host is the host itself). "lmtp:host[:port]" and "lmtp:unix:/path"
 * are LMTP hosts (no MX lookup, lmtp_port when none is given); "smtp:" or
 * no prefix is SMTP unless lmtp (a node spoken to in LMTP), smtp_port
 * where none is given. The hosts of one next hop share their protocol.
 * The count, or -1 when text is not a next hop. */
int smtp_hops_parse(const char *text, unsigned smtp_port, unsigned lmtp_port, bool lmtp, bool no_mx,
                    struct smtp_hop *hops);

/* Where a NODE or RELAY route goes (doc/relay.md's table): the transport's
 * destinations, and what dirmailctl route prints. */
struct smtp_destination {
    char key[600];    /* "node:<host>", "relay:<next hop>", "mx:<domain>" */
    const char *name; /* what smtp_client.destinations matches: the part after the colon */
    struct smtp_hop hops[SMTP_HOPS_MAX];
    int hop_count;   /* -1: the next hop cannot be parsed */
    bool own_domain; /* mx: an authoritative "no" is the recipient's problem */
    bool lmtp;       /* its hosts speak LMTP (an lmtp: next hop, a node with node_protocol lmtp) */
};

/* smtp_destination_of - the destination of route (NODE or RELAY; the
 * relayhost for a foreign domain when set). name borrows from route or
 * sc. */
void smtp_destination_of(const struct config_smtp_client *sc, const struct queue_route *route,
                         struct smtp_destination *out);

/* One address to connect to. */
struct smtp_target {
    char host[256]; /* the name it was found under (TLS verification, logs); local: the path */
    bool local;     /* a UNIX socket at host: no addr, no port */
    char addr[INET6_ADDRSTRLEN]; /* numeric */
    unsigned port;
};

enum smtp_dns_status {
    SMTP_DNS_OK,       /* targets found */
    SMTP_DNS_TEMPFAIL, /* a server failure or timeout: try again later */
    SMTP_DNS_NO_HOST,  /* the names do not exist or have no address: permanent */
    SMTP_DNS_NULL_MX,  /* the domain says it takes no mail (RFC 7505): permanent */
};

/* smtp_dns_done_fn - a resolution ended: count targets in the order to try
 * them (OK), or why not with a text for the result (error). */
typedef void smtp_dns_done_fn(void *ctx, enum smtp_dns_status status,
                              const struct smtp_target *targets, size_t count, const char *error);

/* smtp_target_sockaddr - t as a socket address (a UNIX path for an
 * "lmtp:unix:" target, IPv6 when the address holds a colon); its length.
 * The one place both the SMTP client and recipient verification use. */
socklen_t smtp_target_sockaddr(const struct smtp_target *t, struct sockaddr_storage *ss);

struct smtp_dns;
struct smtp_dns_query;

/* smtp_dns_new - a resolver on loop: forwarders ("127.0.0.1@5353") or,
 * with none, the system's (resolv.conf, hosts). NULL with *error_r
 * (malloc'd) on failure. */
struct smtp_dns *smtp_dns_new(struct event_loop *loop, char *const *forwarders, size_t count,
                              char **error_r);

/* smtp_dns_free - cancel every query (no callback) and free; NULLs *dns. */
void smtp_dns_free(struct smtp_dns **dns);

/* smtp_dns_resolve - find the targets of hops[0..count); done is called
 * later from the loop, never inside this call. The query handle may be
 * given to smtp_dns_cancel until then. NULL when out of memory. */
struct smtp_dns_query *smtp_dns_resolve(struct smtp_dns *dns, const struct smtp_hop *hops,
                                        size_t count, smtp_dns_done_fn *done, void *ctx);

/* smtp_dns_cancel - done is never called for q. */
void smtp_dns_cancel(struct smtp_dns *dns, struct smtp_dns_query *q);

#endif
