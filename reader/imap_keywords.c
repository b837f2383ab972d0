/* reader/imap_keywords.c - message flags as IMAP names them: the system
 * flags of the mailbox layer's DFRST letters (P has no IMAP name yet), and
 * the selected folder's keywords (delivery/maildir_keywords.h keeps them the
 * way Dovecot does, for delivery and the reader alike): at most 26 per
 * folder, then PERMANENTFLAGS drops \*. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "reader/imap_session_internal.h"

/* ---- flags as text and back ---- */

static const struct {
    unsigned bit;
    const char *name;
} flag_names[] = {
    {MAILBOX_FLAG_REPLIED, "\\Answered"}, {MAILBOX_FLAG_FLAGGED, "\\Flagged"},
    {MAILBOX_FLAG_TRASHED, "\\Deleted"},  {MAILBOX_FLAG_SEEN, "\\Seen"},
    {MAILBOX_FLAG_DRAFT, "\\Draft"},
};

static void text_add(char *buf, size_t size, size_t *n, const char *word)
{
    int w = snprintf(buf + *n, size - *n, "%s%s", *n > 0 ? " " : "", word);
    if (w > 0 && (size_t)w < size - *n)
        *n += (size_t)w;
}

const char *imap_flags_text(const struct imap *p, unsigned flags, uint32_t uid, char *buf,
                            size_t size)
{
    size_t n = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof flag_names / sizeof flag_names[0]; i++)
        if (flags & flag_names[i].bit)
            text_add(buf, size, &n, flag_names[i].name);
    if (uid != 0 && imap_recent_has(p, uid))
        text_add(buf, size, &n, "\\Recent");
    /* a letter the folder's file does not name is no keyword we can tell */
    for (size_t i = 0; p->keywords != NULL && i < MAILBOX_KEYWORDS_MAX; i++)
        if ((flags & MAILBOX_FLAG_KEYWORD(i)) && p->keywords->name[i] != NULL)
            text_add(buf, size, &n, p->keywords->name[i]);
    return buf;
}

unsigned imap_flag_parse(struct imap *p, const struct imap_arg *a, bool *known_r)
{
    *known_r = false;
    if (!imap_arg_flag(a))
        return 0;
    for (size_t i = 0; i < sizeof flag_names / sizeof flag_names[0]; i++) {
        if (strcasecmp(a->str, flag_names[i].name) == 0) {
            *known_r = true;
            return flag_names[i].bit;
        }
    }
    if (p == NULL || p->keywords == NULL || !maildir_keyword_valid(a->str, a->len))
        return 0;
    /* a read-only session gives no new letters */
    size_t given = p->keywords->count;
    int k = p->read_only
                ? maildir_keywords_find(p->keywords, a->str, a->len)
                : maildir_keywords_assign(p->keywords->dir_fd, p->keywords, a->str, a->len);
    if (k < 0) {
        if (!p->read_only)
            log_warning("event=imap_keyword_failed client=%s user=%s keyword=\"%s\" error=\"%s\"",
                        p->ss->client_ip, p->login, a->str, strerror(errno));
        return 0;
    }
    *known_r = true;
    if (p->keywords->count != given)
        imap_flags_tell(p); /* RFC 3501 7.2.6: the list of flags changed */
    return MAILBOX_FLAG_KEYWORD(k);
}

bool imap_flags_have_keyword(const struct imap *p, unsigned flags, const char *name, size_t len)
{
    int k = p->keywords != NULL ? maildir_keywords_find(p->keywords, name, len) : -1;
    return k >= 0 && (flags & MAILBOX_FLAG_KEYWORD(k)) != 0;
}

void imap_flags_tell(struct imap *p)
{
    char text[IMAP_FLAGS_TEXT_MAX];
    const struct maildir_keywords *kw = p->keywords;
    imap_flags_text(p, ~0u & ~MAILBOX_FLAG_PASSED, 0, text, sizeof text);
    bool more = kw != NULL && kw->count < MAILBOX_KEYWORDS_MAX;
    imap_untagged(p, "FLAGS (%s)", text);
    imap_untagged(p, "OK [PERMANENTFLAGS (%s%s)] Flags permitted", p->read_only ? "" : text,
                  p->read_only || !more ? "" : " \\*");
}
