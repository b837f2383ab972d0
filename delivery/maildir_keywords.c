/* delivery/maildir_keywords.c - see maildir_keywords.h. */
#include "config.h"

#include "delivery/maildir_keywords.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "delivery/maildir_file.h"
#include "lib/buf.h"

/* 26 lines of "NN " and a keyword, with room to spare. */
#define FILE_MAX (MAILBOX_KEYWORDS_MAX * (MAILDIR_KEYWORD_MAX + 8) + 1)

bool maildir_keyword_valid(const char *s, size_t len)
{
    if (len == 0 || len > MAILDIR_KEYWORD_MAX || s[0] == '\\')
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        /* RFC 3501 9: an atom, without the atom-specials */
        if (c <= 0x20 || c >= 0x7f || strchr("(){%*\"\\]", c) != NULL)
            return false;
    }
    return true;
}

void maildir_keywords_clear(struct maildir_keywords *kw)
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
static void parse(struct maildir_keywords *kw, const char *text)
{
    for (const char *line = text; *line != '\0';) {
        size_t len = strcspn(line, "\n");
        char *end;
        unsigned long i = strtoul(line, &end, 10);
        const char *name = end + 1;
        size_t name_len = len - (size_t)(name - line);
        if (end != line && *end == ' ' && end < line + len && i < MAILBOX_KEYWORDS_MAX &&
            kw->name[i] == NULL && maildir_keyword_valid(name, name_len)) {
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

int maildir_keywords_load(int folder_fd, struct maildir_keywords *kw, bool *changed_r)
{
    *changed_r = false;
    struct stat st;
    if (fstatat(folder_fd, MAILDIR_KEYWORDS_FILE, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        if (errno != ENOENT)
            return -1;
        st = (struct stat){0};
    }
    if (st.st_ino == kw->ino && st.st_size == kw->size && st.st_mtim.tv_sec == kw->mtime.tv_sec &&
        st.st_mtim.tv_nsec == kw->mtime.tv_nsec)
        return 0;
    char *text = maildir_file_read(folder_fd, MAILDIR_KEYWORDS_FILE);
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

int maildir_keywords_find(const struct maildir_keywords *kw, const char *name, size_t len)
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
static int save(int folder_fd, const struct maildir_keywords *kw)
{
    char text[FILE_MAX];
    size_t n = 0;
    for (size_t i = 0; i < MAILBOX_KEYWORDS_MAX; i++)
        if (kw->name[i] != NULL)
            n += (size_t)snprintf(text + n, sizeof text - n, "%zu %s\n", i, kw->name[i]);
    return maildir_file_replace(folder_fd, MAILDIR_KEYWORDS_FILE, text, n);
}

int maildir_keywords_assign(int folder_fd, struct maildir_keywords *kw, const char *name,
                            size_t len)
{
    int i = maildir_keywords_find(kw, name, len);
    if (i >= 0)
        return i;
    if (!maildir_keyword_valid(name, len)) {
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
    int rc = maildir_keywords_load(folder_fd, kw, &changed);
    if (rc == 0 && (i = maildir_keywords_find(kw, name, len)) < 0) {
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
