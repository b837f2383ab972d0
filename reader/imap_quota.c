/* reader/imap_quota.c - QUOTA (RFC 9208) with the one resource we keep,
 * STORAGE: the limit is the directory's (dirmailQuota, read at login with
 * the rest of the user), the usage the Maildir++ "maildirsize" of the whole
 * Maildir, so there is one quota root, "", for every folder. A user without
 * a quota has no quota root. SETQUOTA is refused: the directory decides.
 * APPEND and COPY are held to the limit by the Maildir writer
 * (imap_copy.c: NO [OVERQUOTA]). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "delivery/maildir_quota.h"
#include "lib/log.h"
#include "reader/imap_session_internal.h"

/* quota_line - "* QUOTA "" (STORAGE used limit)" in KiB (RFC 9208 5.1:
 * units of 1024 octets, rounded up). false when the usage cannot be read. */
static bool quota_line(struct imap *p)
{
    struct maildir_quota_usage usage = {0};
    const struct maildir_quota_limit limit = {.bytes = p->quota_bytes};
    char *err = NULL;
    if (imap_folder_root(p, false) &&
        maildir_quota_read(p->root_fd, &limit, p->ss->hostname, false, &usage, &err) < 0) {
        log_error("event=imap_quota_failed client=%s user=%s error=\"%s\"", p->ss->client_ip,
                  p->login, err != NULL ? err : "?");
        free(err);
        return false;
    }
    unsigned long long used = usage.bytes > 0 ? ((unsigned long long)usage.bytes + 1023) / 1024 : 0;
    imap_untagged(p, "QUOTA \"\" (STORAGE %llu %llu)", used,
                  (unsigned long long)(p->quota_bytes / 1024));
    return true;
}

void imap_cmd_getquota(struct imap *p, const struct imap_command *cmd)
{
    const struct imap_arg *root = imap_command_arg(cmd, 0);
    if (cmd->argc != 1 || !imap_arg_astring(root)) {
        imap_bad(p, "Usage: GETQUOTA root");
        return;
    }
    if (root->len != 0 || p->quota_bytes == 0) {
        imap_tagged(p, "NO", "[NONEXISTENT] No such quota root");
        return;
    }
    if (quota_line(p))
        imap_tagged(p, "OK", "Getquota completed");
    else
        imap_tagged(p, "NO", "[UNAVAILABLE] The usage cannot be read now, try again later");
}

void imap_cmd_getquotaroot(struct imap *p, const struct imap_command *cmd)
{
    const struct imap_arg *name = imap_mailbox_arg(cmd, 0);
    if (cmd->argc != 1 || name == NULL) {
        imap_bad(p, "Usage: GETQUOTAROOT mailbox");
        return;
    }
    struct mailbox *mb = NULL;
    enum mailbox_result r = imap_folder_mailbox(p, name->str, name->len, false, &mb);
    mailbox_close(&mb);
    if (r != MAILBOX_OK) {
        imap_folder_refusal(p, r);
        return;
    }
    char q[IMAP_FOLDER_NAME_MAX * 2 + 8];
    imap_quoted(imap_folder_is_inbox(name->str) ? "INBOX" : name->str, q, sizeof q);
    if (p->quota_bytes == 0) {
        imap_untagged(p, "QUOTAROOT %s", q); /* RFC 9208 5.2: no root */
    } else {
        imap_untagged(p, "QUOTAROOT %s \"\"", q);
        if (!quota_line(p)) {
            imap_tagged(p, "NO", "[UNAVAILABLE] The usage cannot be read now, try again later");
            return;
        }
    }
    imap_tagged(p, "OK", "Getquotaroot completed");
}

void imap_cmd_setquota(struct imap *p, const struct imap_command *cmd)
{
    (void)cmd;
    /* RFC 9208 4.1.3: a server may refuse; the limit is the directory's */
    imap_tagged(p, "NO", "[NOPERM] Quotas are set in the directory");
}
