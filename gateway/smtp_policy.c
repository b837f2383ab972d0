/* gateway/smtp_policy.c - see smtp_policy.h. */
#include "config.h"

#include "gateway/smtp_policy.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

/* cidr_match - ip (binary, family) inside "addr/len" (or a bare address). */
static bool cidr_match(const char *cidr, int family, const unsigned char *ip)
{
    char text[INET6_ADDRSTRLEN + 8];
    size_t n = strlen(cidr);
    if (n >= sizeof text)
        return false;
    memcpy(text, cidr, n + 1);
    int bits = family == AF_INET ? 32 : 128;
    char *slash = strchr(text, '/');
    if (slash != NULL) {
        *slash = '\0';
        char *end;
        long v = strtol(slash + 1, &end, 10);
        if (*end != '\0' || v < 0 || v > bits)
            return false;
        bits = (int)v;
    }
    unsigned char net[16];
    if (inet_pton(family, text, net) != 1)
        return false;
    int full = bits / 8, rest = bits % 8;
    if (memcmp(net, ip, (size_t)full) != 0)
        return false;
    if (rest == 0)
        return true;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (net[full] & mask) == (ip[full] & mask);
}

bool smtp_policy_trusted(const struct config_relay *relay, const char *ip)
{
    unsigned char bin[16];
    int family = AF_INET;
    if (inet_pton(AF_INET, ip, bin) != 1) {
        family = AF_INET6;
        if (inet_pton(AF_INET6, ip, bin) != 1)
            return false;
        /* an IPv4 client on a dual-stack socket: match it as IPv4 */
        static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (memcmp(bin, mapped, 12) == 0) {
            memmove(bin, bin + 12, 4);
            family = AF_INET;
        }
    }
    for (size_t i = 0; i < relay->trusted_network_count; i++) {
        if (cidr_match(relay->trusted_networks[i], family, bin))
            return true;
    }
    return false;
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
