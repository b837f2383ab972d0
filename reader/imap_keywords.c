/* reader/imap_keywords.c - message flags as IMAP names them: the system
 * flags of the mailbox layer's DFRST letters (P has no IMAP name yet), and the keywords of one
 * folder (RFC 3501 2.3.2: flags without a backslash) as Dovecot keeps them in a Maildir, so that a
 * mailbox moves between the two: the letters a-z of a file name's info part name the keywords on
 * the lines "<index> <keyword>" of the folder's "dovecot-keywords" (index 0 is 'a'). A name gets a
 * letter the first time it is stored in the folder, under a flock of the folder directory so that
 * two sessions never give one letter two names; letters are never reused,
 * so at most 26 keywords per folder (then PERMANENTFLAGS drops \*). */
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

#define KEYWORDS_FILE "dovecot-keywords"
/* 26 lines of "NN " and a keyword, with room to spare. */
#define KEYWORDS_FILE_MAX (MAILBOX_KEYWORDS_MAX * (IMAP_KEYWORD_MAX + 8) + 1)

bool imap_keyword_valid(const char *s, size_t len)
{
    if (len == 0 || len > IMAP_KEYWORD_MAX || s[0] == '\\')
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        /* RFC 3501 9: an atom, without the atom-specials */
        if (c <= 0x20 || c >= 0x7f || strchr("(){%*\"\\]", c) != NULL)
            return false;
    }
    return true;
}

void imap_keywords_clear(struct imap_keywords *kw)
{
    for (size_t i = 0; i < MAILBOX_KEYWORDS_MAX; i++) {
        free(kw->name[i]);
        kw->name[i] = NULL;
    }
    kw->count = 0;
    kw->ino = 0;
    kw->size = -1;
    kw->mtime = (struct timespec){0, 0};
}

/* parse - the file's lines into kw; lines that are not "<index> <keyword>"
 * with a free index below 26 are skipped, as Dovecot skips them. */
static void parse(struct imap_keywords *kw, const char *text)
{
    for (const char *line = text; *line != '\0';) {
        size_t len = strcspn(line, "\n");
        char *end;
        unsigned long i = strtoul(line, &end, 10);
        const char *name = end + 1;
        size_t name_len = len - (size_t)(name - line);
        if (end != line && *end == ' ' && end < line + len && i < MAILBOX_KEYWORDS_MAX &&
            kw->name[i] == NULL && imap_keyword_valid(name, name_len)) {
            kw->name[i] = malloc(name_len + 1);
            if (kw->name[i] != NULL) {
                memcpy(kw->name[i], name, name_len);
                kw->name[i][name_len] = '\0';
                if (i + 1 > kw->count)
                    kw->count = i + 1;
            }
        }
        line += len + (line[len] == '\n');
    }
}

int imap_keywords_load(int folder_fd, struct imap_keywords *kw, bool *changed_r)
{
    *changed_r = false;
    struct stat st;
    if (fstatat(folder_fd, KEYWORDS_FILE, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        if (errno != ENOENT)
            return -1;
        st = (struct stat){0};
    }
    if (st.st_ino == kw->ino && st.st_size == kw->size && st.st_mtim.tv_sec == kw->mtime.tv_sec &&
        st.st_mtim.tv_nsec == kw->mtime.tv_nsec)
        return 0;
    char *text = imap_dir_file_read(folder_fd, KEYWORDS_FILE);
    if (text == NULL)
        return -1;
    char *before[MAILBOX_KEYWORDS_MAX];
    for (size_t i = 0; i < MAILBOX_KEYWORDS_MAX; i++) {
        before[i] = kw->name[i];
        kw->name[i] = NULL;
    }
    kw->count = 0;
    parse(kw, text);
    free(text);
    for (size_t i = 0; i < MAILBOX_KEYWORDS_MAX; i++) {
        if ((before[i] == NULL) != (kw->name[i] == NULL) ||
            (before[i] != NULL && strcmp(before[i], kw->name[i]) != 0))
            *changed_r = true;
        free(before[i]);
    }
    kw->ino = st.st_ino;
    kw->size = st.st_size;
    kw->mtime = st.st_mtim;
    return 0;
}

int imap_keywords_find(const struct imap_keywords *kw, const char *name, size_t len)
{
    for (size_t i = 0; i < MAILBOX_KEYWORDS_MAX; i++) {
        /* RFC 9051 2.3.2: keywords compare case-insensitively */
        if (kw->name[i] != NULL && strlen(kw->name[i]) == len &&
            strncasecmp(kw->name[i], name, len) == 0)
            return (int)i;
    }
    return -1;
}

/* save - kw as the file's new text (temporary file, fsync, rename). */
static int save(int folder_fd, const struct imap_keywords *kw)
{
    char text[KEYWORDS_FILE_MAX];
    size_t n = 0;
    for (size_t i = 0; i < MAILBOX_KEYWORDS_MAX; i++)
        if (kw->name[i] != NULL)
            n += (size_t)snprintf(text + n, sizeof text - n, "%zu %s\n", i, kw->name[i]);
    return imap_dir_file_write(folder_fd, KEYWORDS_FILE, text, n);
}

int imap_keywords_assign(int folder_fd, struct imap_keywords *kw, const char *name, size_t len)
{
    int i = imap_keywords_find(kw, name, len);
    if (i >= 0)
        return i;
    if (!imap_keyword_valid(name, len)) {
        errno = EINVAL;
        return -1;
    }
    /* another session may have given letters since we read the file: read
     * it again under the lock, and give the next free letter only then */
    int lock = openat(folder_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (lock < 0 || flock(lock, LOCK_EX) < 0) {
        if (lock >= 0)
            close(lock);
        return -1;
    }
    bool changed;
    int rc = imap_keywords_load(folder_fd, kw, &changed);
    if (rc == 0 && (i = imap_keywords_find(kw, name, len)) < 0) {
        for (size_t k = 0; k < MAILBOX_KEYWORDS_MAX && i < 0; k++)
            if (kw->name[k] == NULL && k >= kw->count)
                i = (int)k;
        if (i < 0) {
            errno = ENOSPC;
            rc = -1;
        } else if ((kw->name[i] = bytes_dup(name, len)) == NULL) {
            rc = -1;
        } else {
            kw->count = (size_t)i + 1;
            rc = save(folder_fd, kw);
            if (rc < 0) {
                free(kw->name[i]);
                kw->name[i] = NULL;
            }
        }
    }
    int saved = errno;
    flock(lock, LOCK_UN);
    close(lock);
    errno = saved;
    /* our own write is what the next load sees: read it again then */
    kw->ino = 0;
    return rc < 0 ? -1 : i;
}

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
    if (p == NULL || p->keywords == NULL || !imap_keyword_valid(a->str, a->len))
        return 0;
    /* a read-only session gives no new letters */
    size_t given = p->keywords->count;
    int k = p->read_only ? imap_keywords_find(p->keywords, a->str, a->len)
                         : imap_keywords_assign(p->keywords->dir_fd, p->keywords, a->str, a->len);
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
    int k = p->keywords != NULL ? imap_keywords_find(p->keywords, name, len) : -1;
    return k >= 0 && (flags & MAILBOX_FLAG_KEYWORD(k)) != 0;
}

void imap_flags_tell(struct imap *p)
{
    char text[IMAP_FLAGS_TEXT_MAX];
    const struct imap_keywords *kw = p->keywords;
    imap_flags_text(p, ~0u & ~MAILBOX_FLAG_PASSED, 0, text, sizeof text);
    bool more = kw != NULL && kw->count < MAILBOX_KEYWORDS_MAX;
    imap_untagged(p, "FLAGS (%s)", text);
    imap_untagged(p, "OK [PERMANENTFLAGS (%s%s)] Flags permitted", p->read_only ? "" : text,
                  p->read_only || !more ? "" : " \\*");
}
