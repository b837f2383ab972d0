/* gateway/smtp_policy.c - see smtp_policy.h. */
#include "config.h"

#include "gateway/smtp_policy.h"

#include <string.h>
#include <strings.h>

#include "proto/network_match.h"

enum smtp_rcpt_decision smtp_policy_rcpt(enum auth_status status, const struct auth_recipient *r,
                                         bool may_relay)
{
    if (status != AUTH_FOUND && status != AUTH_NOTFOUND)
        return SMTP_RCPT_TEMPFAIL; /* TEMPFAIL, and ERROR: never a 5xx for our own trouble */
    if (r == NULL)
        return status == AUTH_FOUND ? SMTP_RCPT_TEMPFAIL : SMTP_RCPT_UNKNOWN;
    switch (r->kind) {
    case AUTH_KIND_LOCAL:
    case AUTH_KIND_REMOTE_NODE:
    case AUTH_KIND_FORWARD:
    case AUTH_KIND_GROUP:
    case AUTH_KIND_RELAY:
        return status == AUTH_FOUND ? SMTP_RCPT_ACCEPT : SMTP_RCPT_UNKNOWN;
    case AUTH_KIND_DISABLED:
        /* a held mailbox keeps its mail (queued until it is enabled again) */
        return r->disabled_hold ? SMTP_RCPT_ACCEPT : SMTP_RCPT_DISABLED;
    case AUTH_KIND_NOT_OURS:
        return may_relay ? SMTP_RCPT_ACCEPT : SMTP_RCPT_RELAY_DENIED;
    case AUTH_KIND_UNKNOWN:
    case AUTH_KIND_INVALID:
        return SMTP_RCPT_UNKNOWN;
    }
    return SMTP_RCPT_UNKNOWN;
}

const struct smtp_reply *smtp_policy_rcpt_reply(enum smtp_rcpt_decision d)
{
    static const struct smtp_reply replies[] = {
        [SMTP_RCPT_ACCEPT] = {250, SMTP_ESC_DEST_VALID, "Recipient ok"},
        [SMTP_RCPT_UNKNOWN] = {550, SMTP_ESC_BAD_DEST_MAILBOX, "No such user here"},
        [SMTP_RCPT_DISABLED] = {550, SMTP_ESC_MAILBOX_DISABLED, "Mailbox disabled"},
        [SMTP_RCPT_RELAY_DENIED] = {554, SMTP_ESC_NOT_AUTHORIZED, "Relay access denied"},
        [SMTP_RCPT_TEMPFAIL] = {451, SMTP_ESC_DIRECTORY_FAILURE,
                                "Directory temporarily unavailable, try again later"},
    };
    return &replies[d];
}

bool smtp_policy_trusted(const struct config_relay *relay, const char *ip)
{
    return network_list_contains(relay->trusted_networks, relay->trusted_network_count, ip);
}

enum smtp_sender_decision
smtp_policy_sender(enum auth_status status, const struct auth_strlist *senders, const char *address)
{
    if (address[0] == '\0')
        return SMTP_SENDER_OK;
    if (status == AUTH_NOTFOUND)
        return SMTP_SENDER_NOT_OWNED;
    if (status != AUTH_FOUND)
        return SMTP_SENDER_TEMPFAIL;
    for (size_t i = 0; i < senders->count; i++) {
        if (strcasecmp(senders->items[i], address) == 0)
            return SMTP_SENDER_OK;
    }
    return SMTP_SENDER_NOT_OWNED;
}

const struct smtp_reply *smtp_policy_sender_reply(enum smtp_sender_decision d)
{
    static const struct smtp_reply replies[] = {
        [SMTP_SENDER_OK] = {250, SMTP_ESC_ADDRESS_OTHER, "Sender ok"},
        [SMTP_SENDER_NOT_OWNED] = {553, SMTP_ESC_NOT_AUTHORIZED,
                                   "Sender address not owned by the authenticated user"},
        [SMTP_SENDER_TEMPFAIL] = {451, SMTP_ESC_DIRECTORY_FAILURE,
                                  "Directory temporarily unavailable, try again later"},
    };
    return &replies[d];
}
