/* relay/queue_route.h - routing: what the directory's answer about one
 * recipient means for its delivery, decided from one table of cases: a
 * mailbox on this node, a mailbox on another node, a relay next hop, an
 * expansion (forward, group), or a result without delivery (deferred,
 * failed). Pure: it reads the answer it is given, never the directory, the
 * spool or the network, and it does not know which transports exist. */
#ifndef DIRMAIL_RELAY_QUEUE_ROUTE_H
#define DIRMAIL_RELAY_QUEUE_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

#include "auth/auth_protocol.h"
#include "proto/delivery_status.h"

enum queue_route_kind {
    QUEUE_ROUTE_LOCAL,  /* a Maildir on this node: entry's mailbox, address, quota */
    QUEUE_ROUTE_NODE,   /* the mailbox is on the node next_hop (LMTP or SMTP client) */
    QUEUE_ROUTE_RELAY,  /* outside: to next_hop, or to the MX of domain when NULL */
    QUEUE_ROUTE_EXPAND, /* forward or group: a new message for targets */
    QUEUE_ROUTE_DEFER,  /* no delivery now: status, retried later */
    QUEUE_ROUTE_FAIL,   /* no delivery ever: status */
    QUEUE_ROUTE_KIND_COUNT
};

/* A route borrows every string from the answer (and the recipient address)
 * it was made from: it is valid as long as they are. */
struct queue_route {
    enum queue_route_kind kind;
    const struct auth_recipient *entry; /* LOCAL, EXPAND: the directory's entry */
    /* NODE: the node; RELAY: the configured next hop, NULL for the MX of domain */
    const char *next_hop;
    const char *domain; /* RELAY: the recipient's domain (what an MX lookup asks) */
    bool foreign;       /* RELAY: a domain this system does not handle at all */
    /* EXPAND */
    const struct auth_strlist *targets; /* the forward addresses or the group's members */
    /* EXPAND: LOCAL when a forward keeps a copy here, NODE when on the node
     * next_hop; QUEUE_ROUTE_KIND_COUNT without a copy */
    enum queue_route_kind copy;
    /* DEFER, FAIL */
    enum delivery_status status;
    const char *status_arg; /* for delivery_status_format; may be NULL */
};

/* queue_route_recipient - the route of rcpt from the directory's answer to
 * RESOLVE rcpt: status and entry (NULL when the answer had none), error
 * (the answer's reason on TEMPFAIL; may be NULL). Anything but FOUND or
 * NOTFOUND with an entry is a directory failure, which defers (4.4.3):
 * never a permanent failure. Fills *out; never fails. */
void queue_route_recipient(enum auth_status status, const struct auth_recipient *entry,
                           const char *rcpt, const char *error, struct queue_route *out);

/* queue_route_same_hop - whether a and b (both LOCAL, NODE or RELAY) go the
 * same way, so that one transport call can carry the message to both: the
 * same kind and (case-insensitively) the same node, next hop, or MX domain. */
bool queue_route_same_hop(const struct queue_route *a, const struct queue_route *b);

/* queue_route_hop_name - how a log or a deferral names where route goes
 * ("node mx2.example.org", "relay smtp.example.net", "relay MX",
 * "domain not handled here", "forward with copy on node X") into
 * out[0..size), cut to fit. */
void queue_route_hop_name(const struct queue_route *route, char *out, size_t size);

/* queue_route_kind_name - "local", "node", "relay", "expand", "defer", "fail". */
const char *queue_route_kind_name(enum queue_route_kind kind);

#endif
