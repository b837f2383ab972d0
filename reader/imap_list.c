/* reader/imap_list.c - the folder list of the IMAP session: LIST (RFC
 * 3501 6.3.8, the reference and the wildcards * and %, delimiter "."), the
 * subscriptions (SUBSCRIBE, UNSUBSCRIBE, LSUB: 6.3.6, 6.3.7, 6.3.9) kept as
 * Courier and Dovecot 1 keep them, one name a line in "subscriptions" in the
 * Maildir, and STATUS (6.3.10). Folder attributes (\HasChildren, SPECIAL-USE)
 * are not given yet. */
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

#include "lib/log.h"
#include "reader/imap_session_internal.h"

#define SUBSCRIPTIONS "subscriptions"
#define SUBSCRIPTIONS_TMP "subscriptions.tmp"
/* A subscriptions file longer than this is read only this far. */
#define SUBSCRIPTIONS_MAX (256u * 1024u)

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

/* list_matches - name against the pattern; INBOX in any case. */
static bool list_matches(const char *pattern, const char *name)
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

/* quoted - name as an IMAP quoted string into buf (names hold no CR/LF). */
static const char *quoted(const char *name, char *buf, size_t size)
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

void imap_cmd_list(struct imap *p, const struct imap_command *cmd)
{
    const struct imap_arg *ref = imap_command_arg(cmd, 0);
    const struct imap_arg *pat = imap_command_arg(cmd, 1);
    if (cmd->argc != 2 || !imap_arg_astring(ref) || !imap_arg_list_mailbox(pat)) {
        imap_bad(p, "Usage: LIST reference mailbox");
        return;
    }
    const char *verb = "LIST";
    if (pat->len == 0) {
        /* RFC 3501 6.3.8: the delimiter and the root */
        imap_untagged(p, "%s (\\Noselect) \".\" \"\"", verb);
        imap_tagged(p, "OK", "%s completed", verb);
        return;
    }
    char pattern[IMAP_FOLDER_NAME_MAX * 2 + 8];
    if (ref->len + pat->len >= sizeof pattern) {
        imap_tagged(p, "NO", "Pattern too long");
        return;
    }
    snprintf(pattern, sizeof pattern, "%s%s", ref->str, pat->str);
    char q[IMAP_FOLDER_NAME_MAX * 2 + 8];
    if (list_matches(pattern, "INBOX"))
        imap_untagged(p, "%s () \".\" \"INBOX\"", verb);
    if (p->root_fd >= 0) {
        int fd = dup(p->root_fd);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        if (d == NULL) {
            if (fd >= 0)
                close(fd);
            imap_tagged(p, "NO", "[UNAVAILABLE] The folders cannot be listed now");
            return;
        }
        rewinddir(d);
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            const char *n = e->d_name;
            char dir[IMAP_FOLDER_NAME_MAX + 2];
            if (n[0] != '.' || !imap_folder_dir(n + 1, strlen(n + 1), dir, sizeof dir))
                continue;
            struct stat st;
            if (fstatat(dirfd(d), n, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
                continue;
            if (list_matches(pattern, n + 1))
                imap_untagged(p, "%s () \".\" %s", verb, quoted(n + 1, q, sizeof q));
        }
        closedir(d);
    }
    imap_tagged(p, "OK", "%s completed", verb);
}

/* cmd_status - RFC 3501 6.3.10, read without moving new/ to cur/. */
void imap_cmd_status(struct imap *p, const struct imap_command *cmd)
{
    const struct imap_arg *name = imap_mailbox_arg(cmd, 0);
    const struct imap_arg *items = imap_command_arg(cmd, 1);
    if (name == NULL || cmd->argc != 2 || items->type != IMAP_ARG_LIST || items->count == 0) {
        imap_bad(p, "Usage: STATUS mailbox (items)");
        return;
    }
    for (size_t i = 0; i < items->count; i++) {
        const struct imap_arg *it = imap_list_elem(cmd, items, i);
        if (!imap_arg_is(it, "MESSAGES") && !imap_arg_is(it, "RECENT") &&
            !imap_arg_is(it, "UIDNEXT") && !imap_arg_is(it, "UIDVALIDITY") &&
            !imap_arg_is(it, "UNSEEN")) {
            imap_bad(p, "Unknown STATUS item");
            return;
        }
    }
    struct mailbox *mb = NULL;
    switch (imap_folder_mailbox(p, name->str, name->len, false, &mb)) {
    case MAILBOX_OK:
        break;
    case MAILBOX_MISSING:
        imap_tagged(p, "NO", "[NONEXISTENT] No such mailbox");
        return;
    default:
        imap_tagged(p, "NO", "[UNAVAILABLE] The mailbox cannot be opened now, try again later");
        return;
    }
    size_t unseen = 0;
    for (size_t i = 0; i < mailbox_count(mb); i++)
        unseen += (mailbox_msg(mb, i)->flags & MAILBOX_FLAG_SEEN) == 0;
    char out[256];
    size_t n = 0;
    for (size_t i = 0; i < items->count && n < sizeof out; i++) {
        const struct imap_arg *it = imap_list_elem(cmd, items, i);
        unsigned long long v = imap_arg_is(it, "MESSAGES")      ? mailbox_count(mb)
                               : imap_arg_is(it, "UIDNEXT")     ? mailbox_uidnext(mb)
                               : imap_arg_is(it, "UIDVALIDITY") ? mailbox_uidvalidity(mb)
                               : imap_arg_is(it, "UNSEEN")      ? unseen
                                                                : 0;
        int w = snprintf(out + n, sizeof out - n, "%s%s %llu", n > 0 ? " " : "", it->str, v);
        if (w > 0)
            n += (size_t)w;
    }
    mailbox_close(&mb);
    char q[IMAP_FOLDER_NAME_MAX * 2 + 8];
    imap_untagged(p, "STATUS %s (%s)",
                  quoted(imap_folder_is_inbox(name->str) ? "INBOX" : name->str, q, sizeof q), out);
    imap_tagged(p, "OK", "Status completed");
}

/* read_subscriptions - the file's text (malloc'd, NUL-terminated, "" when
 * there is none); NULL on an error. */
static char *read_subscriptions(struct imap *p)
{
    char *text = calloc(1, SUBSCRIPTIONS_MAX + 1);
    if (text == NULL || p->root_fd < 0)
        return text;
    int fd = openat(p->root_fd, SUBSCRIPTIONS, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return text;
        free(text);
        return NULL;
    }
    size_t got = 0;
    while (got < SUBSCRIPTIONS_MAX) {
        ssize_t n = read(fd, text + got, SUBSCRIPTIONS_MAX - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            close(fd);
            free(text);
            return NULL;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    text[got] = '\0';
    return text;
}

/* next_name - the next line of text from *pos into name; false at the end. */
static bool next_name(const char *text, size_t *pos, char *name, size_t size)
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
    char *text = read_subscriptions(p);
    if (text == NULL) {
        imap_tagged(p, "NO", "[UNAVAILABLE] The subscriptions cannot be read now");
        return;
    }
    char name[IMAP_FOLDER_NAME_MAX + 1], q[IMAP_FOLDER_NAME_MAX * 2 + 8];
    for (size_t pos = 0; next_name(text, &pos, name, sizeof name);) {
        if (list_matches(pattern, name))
            imap_untagged(p, "LSUB () \".\" %s", quoted(name, q, sizeof q));
    }
    free(text);
    imap_tagged(p, "OK", "LSUB completed");
}

/* write_subscriptions - text[0..len) as the new file: a temporary file,
 * fsync, rename, fsync of the Maildir. 0 or -1. */
static int write_subscriptions(struct imap *p, const char *text, size_t len)
{
    int fd = openat(p->root_fd, SUBSCRIPTIONS_TMP,
                    O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(fd, text + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            close(fd);
            return -1;
        }
        done += (size_t)n;
    }
    if (fsync(fd) < 0 || close(fd) < 0)
        return -1;
    if (renameat(p->root_fd, SUBSCRIPTIONS_TMP, p->root_fd, SUBSCRIPTIONS) < 0)
        return -1;
    return fsync(p->root_fd);
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
    char *text = p->root_fd >= 0 ? read_subscriptions(p) : NULL;
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
    for (size_t pos = 0; next_name(text, &pos, line, sizeof line);) {
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
    int rc = found == subscribe ? 0 : write_subscriptions(p, out, out_len);
    free(out);
    if (rc < 0)
        imap_tagged(p, "NO", "[UNAVAILABLE] The subscriptions cannot be changed now: %s",
                    strerror(errno));
    else
        imap_tagged(p, "OK", "%s completed", cmd->name);
}
