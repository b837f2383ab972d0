/* delivery/mda.c - see mda.h. */
#include "config.h"

#include "delivery/mda.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* How much of the header section the loop check reads. */
#define HEADER_SCAN_MAX (256 * 1024)

/* trim - s[0..*len) without the white space around it. */
static const char *trim(const char *s, size_t *len)
{
    while (*len > 0 && (s[0] == ' ' || s[0] == '\t')) {
        s++;
        (*len)--;
    }
    while (*len > 0 && (s[*len - 1] == ' ' || s[*len - 1] == '\t' || s[*len - 1] == '\r'))
        (*len)--;
    return s;
}

/* field_names - line (one unfolded header line without its LF) is a
 * Delivered-To field whose value, without <>, is address. */
static bool field_names(const char *line, size_t len, const char *address)
{
    static const char name[] = "Delivered-To:";
    if (len < sizeof name - 1 || strncasecmp(line, name, sizeof name - 1) != 0)
        return false;
    size_t vlen = len - (sizeof name - 1);
    const char *v = trim(line + sizeof name - 1, &vlen);
    if (vlen >= 2 && v[0] == '<' && v[vlen - 1] == '>') {
        v++;
        vlen -= 2;
    }
    return vlen == strlen(address) && strncasecmp(v, address, vlen) == 0;
}

unsigned mda_delivered_to_count(const struct mda_message *msg, const char *address)
{
    size_t want = msg->len < HEADER_SCAN_MAX ? (size_t)msg->len : HEADER_SCAN_MAX;
    char *text = malloc(want + 1);
    if (text == NULL)
        return 0;
    size_t have = 0;
    while (have < want) {
        ssize_t n = pread(msg->fd, text + have, want - have, (off_t)have);
        if (n <= 0)
            break;
        have += (size_t)n;
    }
    unsigned count = 0;
    size_t pos = 0;
    while (pos < have) {
        const char *nl = memchr(text + pos, '\n', have - pos);
        size_t end = nl != NULL ? (size_t)(nl - text) : have;
        size_t len = end - pos;
        if (len > 0 && text[pos + len - 1] == '\r')
            len--;
        if (len == 0)
            break; /* the empty line: the header section is over (RFC 5322 2.1) */
        if (field_names(text + pos, len, address))
            count++;
        pos = end + 1;
    }
    free(text);
    return count;
}

bool mda_recipient_check(enum auth_status status, const struct auth_recipient *r, const char *error,
                         const char *address, enum delivery_status *status_r, const char **arg_r)
{
    *arg_r = address;
    if ((status != AUTH_FOUND && status != AUTH_NOTFOUND) || (status == AUTH_FOUND && r == NULL)) {
        *status_r = DELIVERY_STATUS_DIRECTORY_UNAVAILABLE;
        *arg_r = error != NULL ? error : auth_status_name(status);
        return false;
    }
    *status_r = DELIVERY_STATUS_NO_SUCH_RECIPIENT;
    if (r == NULL)
        return false;
    /* NOTFOUND carries the kind of address it was: a domain not ours is
     * said so; anything else the directory does not know is 5.1.1 */
    if (status == AUTH_NOTFOUND) {
        if (r->kind == AUTH_KIND_NOT_OURS)
            *status_r = DELIVERY_STATUS_DOMAIN_NOT_HERE;
        return false;
    }
    switch (r->kind) {
    case AUTH_KIND_LOCAL:
        if (r->status != AUTH_USER_HELD)
            return true;
        *status_r = DELIVERY_STATUS_MAILBOX_HELD;
        return false;
    case AUTH_KIND_REMOTE_NODE:
        *status_r = DELIVERY_STATUS_MAILBOX_ELSEWHERE;
        *arg_r = r->mail_host != NULL ? r->mail_host : "?";
        return false;
    case AUTH_KIND_DISABLED:
        *status_r =
            r->disabled_hold ? DELIVERY_STATUS_DISABLED_HELD : DELIVERY_STATUS_MAILBOX_DISABLED;
        return false;
    case AUTH_KIND_FORWARD:
    case AUTH_KIND_GROUP:
    case AUTH_KIND_RELAY:
        *status_r = DELIVERY_STATUS_NOT_A_MAILBOX;
        return false;
    case AUTH_KIND_NOT_OURS:
        *status_r = DELIVERY_STATUS_DOMAIN_NOT_HERE;
        return false;
    case AUTH_KIND_UNKNOWN:
    case AUTH_KIND_INVALID:
        break;
    }
    return false;
}

const char *mda_choose_folder(const struct mda_message *msg, const struct mda_recipient *rcpt)
{
    (void)msg; /* the Sieve step will read it */
    return rcpt->folder;
}

enum local_state mda_add(struct local_batch *batch, const struct mda_message *msg,
                         const struct mda_recipient *rcpt, bool quota_permanent, const char *log_id,
                         struct local_result *out)
{
    if (rcpt->loop_after > 0 && mda_delivered_to_count(msg, rcpt->address) >= rcpt->loop_after) {
        local_result_set(out, DELIVERY_STATUS_FORWARDING_LOOP, rcpt->address);
        return out->state;
    }
    /* local_batch_add reads the descriptor from its offset: the start */
    if (lseek(msg->fd, 0, SEEK_SET) != 0) {
        local_result_set(out, DELIVERY_STATUS_MESSAGE_UNREADABLE_NO_REASON, NULL);
        return out->state;
    }
    const struct local_delivery_request req = {
        .fd = msg->fd,
        .len = msg->len,
        .sender = msg->sender,
        .recipient = rcpt->address,
        .mailbox = rcpt->mailbox,
        .address = rcpt->primary != NULL ? rcpt->primary : rcpt->address,
        .folder = mda_choose_folder(msg, rcpt),
        .quota_bytes = rcpt->quota_bytes,
        .quota_permanent = quota_permanent,
        .log_id = log_id,
    };
    return local_batch_add(batch, &req, out);
}
