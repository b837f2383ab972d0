/* relay/queue_route.c - see queue_route.h.
 *
 * Every case is a row of one table, first match wins: adding a kind of
 * entry or a condition is adding a row, and the unit test reads like it
 * (tests/unit/test_queue_route.c). The directory decides and its errors are
 * temporary: only a NOTFOUND answer or an entry the directory marks unknown,
 * invalid or disabled (without a hold) fails permanently. */
#include "config.h"

#include "relay/queue_route.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* When a row applies, beyond the entry's kind. */
enum route_when {
    WHEN_ALWAYS,
    WHEN_HELD,          /* the user's mail is held (AUTH_USER_HELD) */
    WHEN_DISABLED_HOLD, /* a disabled entry whose mail is held, not refused */
    WHEN_COPY_ON_NODE,  /* a forward keeping a copy, the mailbox on another node */
    WHEN_COPY_HERE,     /* a forward keeping a copy in a mailbox here */
};

/* Which string a row's status or hop takes. */
enum route_arg {
    ARG_NONE,
    ARG_RCPT,      /* the recipient address */
    ARG_MAIL_HOST, /* the entry's mail host ("?" when it has none) */
    ARG_NEXT_HOP,  /* the entry's next hop (NULL: the MX) */
};

struct route_case {
    enum auth_kind kind;
    enum route_when when;
    enum queue_route_kind route;
    enum delivery_status status; /* DEFER, FAIL */
    enum route_arg arg;          /* DEFER, FAIL: the status's; NODE, RELAY: the hop */
    enum queue_route_kind copy;  /* EXPAND */
};

#define NO_STATUS DELIVERY_STATUS_COUNT
#define NO_COPY QUEUE_ROUTE_KIND_COUNT

static const struct route_case cases[] = {
    {AUTH_KIND_LOCAL, WHEN_HELD, QUEUE_ROUTE_DEFER, DELIVERY_STATUS_MAILBOX_HELD, ARG_NONE,
     NO_COPY},
    {AUTH_KIND_LOCAL, WHEN_ALWAYS, QUEUE_ROUTE_LOCAL, NO_STATUS, ARG_NONE, NO_COPY},
    {AUTH_KIND_REMOTE_NODE, WHEN_ALWAYS, QUEUE_ROUTE_NODE, NO_STATUS, ARG_MAIL_HOST, NO_COPY},
    {AUTH_KIND_RELAY, WHEN_ALWAYS, QUEUE_ROUTE_RELAY, NO_STATUS, ARG_NEXT_HOP, NO_COPY},
    {AUTH_KIND_FORWARD, WHEN_COPY_ON_NODE, QUEUE_ROUTE_EXPAND, NO_STATUS, ARG_MAIL_HOST,
     QUEUE_ROUTE_NODE},
    {AUTH_KIND_FORWARD, WHEN_COPY_HERE, QUEUE_ROUTE_EXPAND, NO_STATUS, ARG_NONE, QUEUE_ROUTE_LOCAL},
    {AUTH_KIND_FORWARD, WHEN_ALWAYS, QUEUE_ROUTE_EXPAND, NO_STATUS, ARG_NONE, NO_COPY},
    {AUTH_KIND_GROUP, WHEN_ALWAYS, QUEUE_ROUTE_EXPAND, NO_STATUS, ARG_NONE, NO_COPY},
    {AUTH_KIND_DISABLED, WHEN_DISABLED_HOLD, QUEUE_ROUTE_DEFER, DELIVERY_STATUS_DISABLED_HELD,
     ARG_NONE, NO_COPY},
    {AUTH_KIND_DISABLED, WHEN_ALWAYS, QUEUE_ROUTE_FAIL, DELIVERY_STATUS_MAILBOX_DISABLED, ARG_RCPT,
     NO_COPY},
    /* Accepted for a domain not handled here (relaying was allowed): out
     * through the domain's MX. */
    {AUTH_KIND_NOT_OURS, WHEN_ALWAYS, QUEUE_ROUTE_RELAY, NO_STATUS, ARG_NONE, NO_COPY},
    {AUTH_KIND_UNKNOWN, WHEN_ALWAYS, QUEUE_ROUTE_FAIL, DELIVERY_STATUS_NO_SUCH_RECIPIENT, ARG_RCPT,
     NO_COPY},
    {AUTH_KIND_INVALID, WHEN_ALWAYS, QUEUE_ROUTE_FAIL, DELIVERY_STATUS_NO_SUCH_RECIPIENT, ARG_RCPT,
     NO_COPY},
};

/* case_applies - whether row c is the case of entry. */
static bool case_applies(const struct route_case *c, const struct auth_recipient *entry)
{
    if (c->kind != entry->kind)
        return false;
    switch (c->when) {
    case WHEN_ALWAYS:
        return true;
    case WHEN_HELD:
        return entry->status == AUTH_USER_HELD;
    case WHEN_DISABLED_HOLD:
        return entry->disabled_hold;
    case WHEN_COPY_ON_NODE:
        return entry->keep_copy && entry->mail_host != NULL;
    case WHEN_COPY_HERE:
        return entry->keep_copy;
    }
    return false;
}

static const char *case_arg(enum route_arg arg, const struct auth_recipient *entry,
                            const char *rcpt)
{
    switch (arg) {
    case ARG_NONE:
        return NULL;
    case ARG_RCPT:
        return rcpt;
    case ARG_MAIL_HOST:
        return entry->mail_host != NULL ? entry->mail_host : "?";
    case ARG_NEXT_HOP:
        return entry->next_hop;
    }
    return NULL;
}

/* result - out as a route without delivery. */
static void result(struct queue_route *out, enum queue_route_kind kind, enum delivery_status status,
                   const char *arg)
{
    *out = (struct queue_route){.kind = kind, .copy = NO_COPY, .status = status, .status_arg = arg};
}

void queue_route_recipient(enum auth_status status, const struct auth_recipient *entry,
                           const char *rcpt, const char *error, struct queue_route *out)
{
    if ((status != AUTH_FOUND && status != AUTH_NOTFOUND) || entry == NULL) {
        /* an answer without its entry is no "no" either */
        if (entry == NULL && (status == AUTH_FOUND || status == AUTH_NOTFOUND))
            status = AUTH_TEMPFAIL;
        result(out, QUEUE_ROUTE_DEFER, DELIVERY_STATUS_DIRECTORY_UNAVAILABLE,
               error != NULL ? error : auth_status_name(status));
        return;
    }
    /* NOTFOUND names a kind only to say the domain is not ours. */
    if (status == AUTH_NOTFOUND && entry->kind != AUTH_KIND_NOT_OURS) {
        result(out, QUEUE_ROUTE_FAIL, DELIVERY_STATUS_NO_SUCH_RECIPIENT, rcpt);
        return;
    }
    const struct route_case *c = NULL;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0] && c == NULL; i++) {
        if (case_applies(&cases[i], entry))
            c = &cases[i];
    }
    if (c == NULL) {
        result(out, QUEUE_ROUTE_FAIL, DELIVERY_STATUS_NO_SUCH_RECIPIENT, rcpt);
        return;
    }
    *out = (struct queue_route){
        .kind = c->route, .entry = entry, .copy = c->copy, .status = c->status};
    const char *arg = case_arg(c->arg, entry, rcpt);
    const char *at = strrchr(rcpt, '@');
    switch (c->route) {
    case QUEUE_ROUTE_DEFER:
    case QUEUE_ROUTE_FAIL:
        out->status_arg = arg;
        break;
    case QUEUE_ROUTE_NODE:
        out->next_hop = arg;
        break;
    case QUEUE_ROUTE_RELAY:
        out->next_hop = arg;
        out->domain = at != NULL ? at + 1 : "";
        out->foreign = entry->kind == AUTH_KIND_NOT_OURS;
        break;
    case QUEUE_ROUTE_EXPAND:
        out->targets = entry->kind == AUTH_KIND_GROUP ? &entry->members : &entry->forwards;
        out->next_hop = arg; /* the copy's node */
        break;
    default:
        break;
    }
}

/* same_name - both NULL, or equal ignoring case (host names, RFC 5321 2.4). */
static bool same_name(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return strcasecmp(a, b) == 0;
}

bool queue_route_same_hop(const struct queue_route *a, const struct queue_route *b)
{
    if (a->kind != b->kind)
        return false;
    switch (a->kind) {
    case QUEUE_ROUTE_LOCAL:
        return true;
    case QUEUE_ROUTE_NODE:
        return same_name(a->next_hop, b->next_hop);
    case QUEUE_ROUTE_RELAY:
        if (a->next_hop != NULL || b->next_hop != NULL)
            return same_name(a->next_hop, b->next_hop);
        return same_name(a->domain, b->domain);
    default:
        return false;
    }
}

void queue_route_hop_name(const struct queue_route *route, char *out, size_t size)
{
    switch (route->kind) {
    case QUEUE_ROUTE_LOCAL:
        snprintf(out, size, "local");
        break;
    case QUEUE_ROUTE_NODE:
        snprintf(out, size, "node %s", route->next_hop != NULL ? route->next_hop : "?");
        break;
    case QUEUE_ROUTE_RELAY:
        if (route->foreign)
            snprintf(out, size, "domain not handled here");
        else
            snprintf(out, size, "relay %s", route->next_hop != NULL ? route->next_hop : "MX");
        break;
    case QUEUE_ROUTE_EXPAND:
        if (route->copy == QUEUE_ROUTE_NODE)
            snprintf(out, size, "forward with copy on node %s",
                     route->next_hop != NULL ? route->next_hop : "?");
        else
            snprintf(out, size, "expansion");
        break;
    default:
        snprintf(out, size, "%s", queue_route_kind_name(route->kind));
        break;
    }
}

const char *queue_route_kind_name(enum queue_route_kind kind)
{
    static const char *const names[QUEUE_ROUTE_KIND_COUNT] = {
        [QUEUE_ROUTE_LOCAL] = "local", [QUEUE_ROUTE_NODE] = "node",
        [QUEUE_ROUTE_RELAY] = "relay", [QUEUE_ROUTE_EXPAND] = "expand",
        [QUEUE_ROUTE_DEFER] = "defer", [QUEUE_ROUTE_FAIL] = "fail",
    };
    return (unsigned)kind < QUEUE_ROUTE_KIND_COUNT ? names[kind] : "?";
}
