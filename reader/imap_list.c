/* reader/imap_list.c - what the folder list stands on: the name patterns
 * (RFC 3501 6.3.8, the reference and the wildcards * and %, delimiter "."),
 * the small files in the Maildir root that the folder commands keep (read
 * whole, replaced through a temporary file), the subscriptions (SUBSCRIBE,
 * UNSUBSCRIBE, LSUB: 6.3.6, 6.3.7, 6.3.9) kept as Courier and Dovecot 1 keep
 * them, one name a line in "subscriptions", and STATUS (6.3.10, with SIZE of
 * RFC 8438), whose line LIST-STATUS shares. LIST itself is imap_list_ext.c's. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/fdio.h"
#include "lib/log.h"
#include "reader/imap_session_internal.h"

/* wildcard_match - RFC 3501 6.3.8: "*" matches anything, "%" anything but
 * the hierarchy delimiter. */
static bool wildcard_match(const char *pat, const char *name)
{
    for (; *pat != '\0'; pat++, name++) {
        if (*pat == '*' || *pat == '%') {
            for (const char *n = name;; n++) {
                if (wildcard_match(pat + 1, n))
                    return true;
                if (*n == '\0' || (*pat == '%' && *n == '.'))
                    return false;
            }
        }
        if (*name == '\0' || *pat != *name)
            return false;
    }
    return *name == '\0';
}

bool imap_list_matches(const char *pattern, const char *name)
{
    if (imap_folder_is_inbox(name)) {
        char upper[IMAP_FOLDER_NAME_MAX * 2 + 8];
        size_t n = strlen(pattern);
        if (n >= sizeof upper)
            return false;
        /* INBOX is case-insensitive: compare an upper-cased pattern */
        for (size_t i = 0; i <= n; i++)
            upper[i] =
                (char)(pattern[i] >= 'a' && pattern[i] <= 'z' ? pattern[i] - 32 : pattern[i]);
        return wildcard_match(upper, "INBOX");
    }
    return wildcard_match(pattern, name);
}

const char *imap_quoted(const char *name, char *buf, size_t size)
{
    size_t n = 0;
    buf[n++] = '"';
    for (; *name != '\0' && n + 3 < size; name++) {
        if (*name == '"' || *name == '\\')
            buf[n++] = '\\';
        buf[n++] = *name;
    }
    buf[n++] = '"';
    buf[n] = '\0';
    return buf;
}

static const char *const status_items[] = {"MESSAGES",    "RECENT", "UIDNEXT",
                                           "UIDVALIDITY", "UNSEEN", "SIZE"};

bool imap_status_items_valid(const struct imap_command *cmd, const struct imap_arg *items)
{
    if (items == NULL || items->type != IMAP_ARG_LIST || items->count == 0)
        return false;
    for (size_t i = 0; i < items->count; i++) {
        const struct imap_arg *it = imap_list_elem(cmd, items, i);
        bool known = false;
        for (size_t k = 0; k < sizeof status_items / sizeof status_items[0]; k++)
            known = known || imap_arg_is(it, status_items[k]);
        if (!known)
            return false;
    }
    return true;
}

enum mailbox_result imap_status_write(struct imap *p, const char *name,
                                      const struct imap_command *cmd, const struct imap_arg *items)
{
    struct mailbox *mb = NULL;
    enum mailbox_result r = imap_folder_mailbox(p, name, strlen(name), false, &mb);
    if (r != MAILBOX_OK)
        return r;
    unsigned long long unseen = 0, size = 0, recent = 0;
    int dir_fd = -1;
    uint32_t first_recent = UINT32_MAX;
    if (imap_folder_open_dir(p, name, strlen(name), &dir_fd) == 0) {
        first_recent = imap_recent_first_unclaimed(dir_fd);
        close(dir_fd);
    }
    for (size_t i = 0; i < mailbox_count(mb); i++) {
        const struct mailbox_msg *m = mailbox_msg(mb, i);
        unseen += (m->flags & MAILBOX_FLAG_SEEN) == 0;
        size += m->size;                  /* RFC 8438: the sum of RFC822.SIZE */
        recent += m->uid >= first_recent; /* RFC 3501 6.3.10: what a SELECT would claim */
    }
    char out[256];
    size_t n = 0;
    for (size_t i = 0; i < items->count && n < sizeof out; i++) {
        const struct imap_arg *it = imap_list_elem(cmd, items, i);
        unsigned long long v = imap_arg_is(it, "MESSAGES")      ? mailbox_count(mb)
                               : imap_arg_is(it, "UIDNEXT")     ? mailbox_uidnext(mb)
                               : imap_arg_is(it, "UIDVALIDITY") ? mailbox_uidvalidity(mb)
                               : imap_arg_is(it, "UNSEEN")      ? unseen
                               : imap_arg_is(it, "SIZE")        ? size
                               : imap_arg_is(it, "RECENT")      ? recent
                                                                : 0;
        char upper[16];
        size_t k = 0;
        for (; k + 1 < sizeof upper && it->str[k] != '\0'; k++)
            upper[k] =
                (char)(it->str[k] >= 'a' && it->str[k] <= 'z' ? it->str[k] - 32 : it->str[k]);
        upper[k] = '\0';
        int w = snprintf(out + n, sizeof out - n, "%s%s %llu", n > 0 ? " " : "", upper, v);
        if (w > 0)
            n += (size_t)w;
    }
    mailbox_close(&mb);
    char q[IMAP_FOLDER_NAME_MAX * 2 + 8];
    imap_untagged(p, "STATUS %s (%s)",
                  imap_quoted(imap_folder_is_inbox(name) ? "INBOX" : name, q, sizeof q), out);
    return MAILBOX_OK;
}

/* cmd_status - RFC 3501 6.3.10, read without moving new/ to cur/. */
void imap_cmd_status(struct imap *p, const struct imap_command *cmd)
{
    const struct imap_arg *name = imap_mailbox_arg(cmd, 0);
    const struct imap_arg *items = imap_command_arg(cmd, 1);
    if (name == NULL || cmd->argc != 2 || !imap_status_items_valid(cmd, items)) {
        imap_bad(p, "Usage: STATUS mailbox (items)");
        return;
    }
    enum mailbox_result r = imap_status_write(p, name->str, cmd, items);
    if (r == MAILBOX_OK)
        imap_tagged(p, "OK", "Status completed");
    else
        imap_folder_refusal(p, r);
}

bool imap_file_line(const char *text, size_t *pos, char *name, size_t size)
{
    while (text[*pos] != '\0') {
        const char *start = text + *pos;
        size_t len = strcspn(start, "\n");
        *pos += len + (start[len] == '\n');
        if (len > 0 && len < size) {
            memcpy(name, start, len);
            name[len] = '\0';
            return true;
        }
    }
    return false;
}

/* subscribed - the subscriptions' text has a line that is name. */
static bool subscribed(const char *text, const char *name)
{
    char line[IMAP_FOLDER_NAME_MAX + 1];
    for (size_t pos = 0; imap_file_line(text, &pos, line, sizeof line);)
        if (strcmp(line, name) == 0)
            return true;
    return false;
}

/* parent_of_earlier_line - a line of the text before offset end is below
 * the folder name, so LSUB has listed name as its parent already. */
static bool parent_of_earlier_line(const char *text, size_t end, const char *name)
{
    size_t len = strlen(name);
    for (size_t pos = 0; pos < end;) {
        const char *line = text + pos;
        if (strncmp(line, name, len) == 0 && line[len] == '.')
            return true;
        pos += strcspn(line, "\n");
        pos += text[pos] == '\n';
    }
    return false;
}

void imap_cmd_lsub(struct imap *p, const struct imap_command *cmd)
{
    const struct imap_arg *ref = imap_command_arg(cmd, 0);
    const struct imap_arg *pat = imap_command_arg(cmd, 1);
    if (cmd->argc != 2 || !imap_arg_astring(ref) || !imap_arg_list_mailbox(pat)) {
        imap_bad(p, "Usage: LSUB reference mailbox");
        return;
    }
    char pattern[IMAP_FOLDER_NAME_MAX * 2 + 8];
    if (ref->len + pat->len >= sizeof pattern) {
        imap_tagged(p, "NO", "Pattern too long");
        return;
    }
    snprintf(pattern, sizeof pattern, "%s%s", ref->str, pat->str);
    imap_folder_root(p, false);
    char *text = maildir_file_read(p->root_fd, SUBSCRIPTIONS);
    if (text == NULL) {
        imap_tagged(p, "NO", "[UNAVAILABLE] The subscriptions cannot be read now");
        return;
    }
    char name[IMAP_FOLDER_NAME_MAX + 1], q[IMAP_FOLDER_NAME_MAX * 2 + 8];
    for (size_t pos = 0, line = 0; imap_file_line(text, &pos, name, sizeof name);) {
        size_t start = line;
        line = pos;
        if (imap_list_matches(pattern, name)) {
            imap_untagged(p, "LSUB () \".\" %s", imap_quoted(name, q, sizeof q));
            continue;
        }
        /* RFC 3501 6.3.9: "%" must list a subscribed folder's parent that
         * is not subscribed itself, as \Noselect, once */
        if (strchr(pattern, '%') == NULL)
            continue;
        for (char *dot = strrchr(name, '.'); dot != NULL; dot = strrchr(name, '.')) {
            *dot = '\0';
            if (imap_list_matches(pattern, name) && !subscribed(text, name) &&
                !parent_of_earlier_line(text, start, name))
                imap_untagged(p, "LSUB (\\Noselect) \".\" %s", imap_quoted(name, q, sizeof q));
        }
    }
    free(text);
    imap_tagged(p, "OK", "LSUB completed");
}

/* cmd_subscribe - SUBSCRIBE and UNSUBSCRIBE. A name may be subscribed
 * whether or not its folder exists (RFC 3501 6.3.6). */
void imap_cmd_subscribe(struct imap *p, const struct imap_command *cmd)
{
    bool subscribe = strcmp(cmd->name, "SUBSCRIBE") == 0;
    const struct imap_arg *arg = imap_mailbox_arg(cmd, 0);
    char dir[IMAP_FOLDER_NAME_MAX + 2];
    if (arg == NULL || cmd->argc != 1) {
        imap_bad(p, subscribe ? "Usage: SUBSCRIBE mailbox" : "Usage: UNSUBSCRIBE mailbox");
        return;
    }
    const char *name = imap_folder_is_inbox(arg->str) ? "INBOX" : arg->str;
    if (strcmp(name, "INBOX") != 0 && !imap_folder_dir(name, strlen(name), dir, sizeof dir)) {
        imap_tagged(p, "NO", "[CANNOT] Invalid mailbox name");
        return;
    }
    char *text = imap_folder_root(p, true) ? maildir_file_read(p->root_fd, SUBSCRIPTIONS) : NULL;
    if (text == NULL) {
        imap_tagged(p, "NO", "[UNAVAILABLE] The subscriptions cannot be changed now");
        return;
    }
    size_t len = strlen(text), out_len = 0;
    char *out = malloc(len + strlen(name) + 2);
    if (out == NULL) {
        free(text);
        imap_tagged(p, "NO", "[UNAVAILABLE] Out of memory");
        return;
    }
    bool found = false;
    char line[IMAP_FOLDER_NAME_MAX + 1];
    for (size_t pos = 0; imap_file_line(text, &pos, line, sizeof line);) {
        if (strcmp(line, name) == 0) {
            found = true;
            if (!subscribe)
                continue;
        }
        out_len += (size_t)snprintf(out + out_len, len + strlen(name) + 2 - out_len, "%s\n", line);
    }
    if (subscribe && !found)
        out_len += (size_t)snprintf(out + out_len, len + strlen(name) + 2 - out_len, "%s\n", name);
    free(text);
    int rc = found == subscribe ? 0 : maildir_file_replace(p->root_fd, SUBSCRIPTIONS, out, out_len);
    free(out);
    if (rc < 0)
        imap_tagged(p, "NO", "[UNAVAILABLE] The subscriptions cannot be changed now: %s",
                    strerror(errno));
    else
        imap_tagged(p, "OK", "%s completed", cmd->name);
}
