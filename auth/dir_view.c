/* auth/dir_view.c - see dir_view.h. */
#include "config.h"

#include "auth/dir_view.h"

struct auth_strlist dir_view_strlist(const struct dir_strlist *l)
{
    struct auth_strlist v = {l->items, l->count};
    return v;
}

static enum auth_user_status status_of(enum dir_status s)
{
    switch (s) {
    case DIR_STATUS_ACTIVE:
        return AUTH_USER_ACTIVE;
    case DIR_STATUS_NOACCESS:
        return AUTH_USER_NOACCESS;
    case DIR_STATUS_HELD:
        return AUTH_USER_HELD;
    case DIR_STATUS_DISABLED:
        break;
    }
    return AUTH_USER_DISABLED;
}

static enum auth_kind kind_of(enum dir_kind k)
{
    switch (k) {
    case DIR_KIND_LOCAL:
        return AUTH_KIND_LOCAL;
    case DIR_KIND_REMOTE_NODE:
        return AUTH_KIND_REMOTE_NODE;
    case DIR_KIND_FORWARD:
        return AUTH_KIND_FORWARD;
    case DIR_KIND_GROUP:
        return AUTH_KIND_GROUP;
    case DIR_KIND_RELAY:
        return AUTH_KIND_RELAY;
    case DIR_KIND_DISABLED:
        return AUTH_KIND_DISABLED;
    case DIR_KIND_UNKNOWN:
        return AUTH_KIND_UNKNOWN;
    case DIR_KIND_NOT_OURS:
        return AUTH_KIND_NOT_OURS;
    case DIR_KIND_INVALID:
        break;
    }
    return AUTH_KIND_INVALID;
}

void dir_view_recipient(const struct dir_recipient *d, struct auth_recipient *r)
{
    *r = (struct auth_recipient){
        .kind = kind_of(d->kind),
        .address = d->address,
        .local = d->local,
        .domain = d->domain,
        .tag = d->tag,
        .matched = d->matched,
        .catchall = d->catchall,
        .dn = d->dn,
        .primary = d->primary,
        .mailbox = d->mailbox,
        .quota = d->quota,
        .sieve = d->sieve,
        .mail_host = d->mail_host,
        .forwards = dir_view_strlist(&d->forwards),
        .keep_copy = d->keep_copy,
        .members = dir_view_strlist(&d->members),
        .status = status_of(d->status),
        .disabled_hold = d->disabled_action == DIR_DISABLED_HOLD,
        .next_hop = d->next_hop,
    };
}

void dir_view_user(const struct dir_user *d, struct auth_user *u)
{
    *u = (struct auth_user){
        .dn = d->dn,
        .login = d->login,
        .primary = d->primary,
        .addresses = dir_view_strlist(&d->addresses),
        .senders = dir_view_strlist(&d->senders),
        .services = dir_view_strlist(&d->services),
        .mailbox = d->mailbox,
        .quota = d->quota,
        .sieve = d->sieve,
        .mail_host = d->mail_host,
        .status = status_of(d->status),
    };
}
