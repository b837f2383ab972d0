/* delivery/mda_folders.c - see mda_folders.h. */
#include "config.h"

#include "delivery/mda_folders.h"

#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "delivery/maildir_dirs.h"
#include "lib/buf.h"
#include "lib/error.h"
#include "lib/fdio.h"

/* Temporary names of the marks file and the marker: one per writer, as two first
 * deliveries to one Maildir may run at once (both renames then succeed,
 * with the same text). */
static atomic_uint tmp_counter;

const char *mda_folders_special_use(const char *folder)
{
    /* RFC 6154 2; the English names clients (and Dovecot's defaults) use */
    static const struct {
        const char *name, *attr;
    } names[] = {
        {"Sent", "\\Sent"},   {"Sent Messages", "\\Sent"},     {"Drafts", "\\Drafts"},
        {"Trash", "\\Trash"}, {"Deleted Messages", "\\Trash"}, {"Junk", "\\Junk"},
        {"Spam", "\\Junk"},   {"Archive", "\\Archive"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcasecmp(folder, names[i].name) == 0)
            return names[i].attr;
    return NULL;
}

/* replace_file - name in the root replaced by len bytes of data: written
 * under a temporary name of this writer, fsync'd, renamed in (the root's
 * fsync is the caller's). */
static enum maildir_result replace_file(int root_fd, const char *name, const char *data, size_t len,
                                        char **error_r)
{
    char tmp[80];
    snprintf(tmp, sizeof tmp, "%s.%ld.%u.tmp", name, (long)getpid(),
             atomic_fetch_add(&tmp_counter, 1));
    int fd = openat(root_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        error_set(error_r, "create %s: %s", tmp, strerror(errno));
        return MAILDIR_TEMPFAIL;
    }
    bool ok = fd_write_all(fd, data, len) == 0 && fsync(fd) == 0;
    int err = errno;
    close(fd);
    if (!ok || renameat(root_fd, tmp, root_fd, name) < 0) {
        error_set(error_r, "write %s: %s", name, strerror(ok ? errno : err));
        unlinkat(root_fd, tmp, 0);
        return MAILDIR_TEMPFAIL;
    }
    return MAILDIR_DELIVERED;
}

/* read_marks - the marks file's text, NUL-terminated, into *text_r ("" when
 * there is none yet); TEMPFAIL when it cannot be read or is over the cap. */
static enum maildir_result read_marks(int root_fd, char **text_r, char **error_r)
{
    *text_r = NULL;
    int fd = openat(root_fd, MDA_SPECIAL_USE_FILE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno != ENOENT) {
        error_set(error_r, "open %s: %s", MDA_SPECIAL_USE_FILE, strerror(errno));
        return MAILDIR_TEMPFAIL;
    }
    char *text = malloc(MDA_SPECIAL_USE_MAX + 1);
    long long n = 0;
    if (text != NULL && fd >= 0)
        n = fd_read_full(fd, text, MDA_SPECIAL_USE_MAX + 1);
    int err = errno;
    if (fd >= 0)
        close(fd);
    if (text == NULL || n < 0 || n > MDA_SPECIAL_USE_MAX) {
        error_set(error_r, "read %s: %s", MDA_SPECIAL_USE_FILE,
                  text == NULL ? "out of memory"
                  : n < 0      ? strerror(err)
                               : "too large");
        free(text);
        return MAILDIR_TEMPFAIL;
    }
    text[n] = '\0';
    *text_r = text;
    return MAILDIR_DELIVERED;
}

/* marked - whether a line of text names folder, or gives attr to any
 * folder (the user chose another folder for it, say over IMAP's CREATE
 * with USE, RFC 6154 5.2). A line is "<folder> <attribute>", the attribute
 * after the last space. */
static bool marked(const char *text, const char *folder, const char *attr)
{
    size_t folder_len = strlen(folder), attr_len = strlen(attr);
    for (const char *line = text; *line != '\0';) {
        const char *end = strchr(line, '\n');
        size_t len = end != NULL ? (size_t)(end - line) : strlen(line);
        const char *sp = memrchr(line, ' ', len);
        if (sp != NULL) {
            size_t name_len = (size_t)(sp - line), a_len = len - name_len - 1;
            if ((name_len == folder_len && memcmp(line, folder, name_len) == 0) ||
                (a_len == attr_len && strncasecmp(sp + 1, attr, a_len) == 0))
                return true;
        }
        line += len + (end != NULL);
    }
    return false;
}

/* merge_marks - the marks of the default folders added to the file: every
 * line already there kept as it is (IMAP writes them too), a default
 * folder's line added only when no line names the folder or gives its
 * attribute. The file is rewritten only when a line is added. */
static enum maildir_result merge_marks(int root_fd, char *const *folders, size_t count,
                                       char **error_r)
{
    char *old = NULL;
    enum maildir_result res = read_marks(root_fd, &old, error_r);
    if (res != MAILDIR_DELIVERED)
        return res;
    struct buf text = BUF_INIT;
    size_t old_len = strlen(old);
    bool added = false, ok = buf_append(&text, old, old_len) == 0;
    if (ok && old_len > 0 && old[old_len - 1] != '\n')
        ok = buf_append(&text, "\n", 1) == 0;
    for (size_t i = 0; ok && i < count; i++) {
        const char *attr = mda_folders_special_use(folders[i]);
        if (attr == NULL || marked(old, folders[i], attr))
            continue;
        ok = buf_printf(&text, "%s %s\n", folders[i], attr) >= 0;
        added = true;
    }
    free(old);
    if (!ok) {
        error_set(error_r, "out of memory");
        res = MAILDIR_TEMPFAIL;
    } else if (added) {
        res = replace_file(root_fd, MDA_SPECIAL_USE_FILE, buf_ptr(&text), buf_len(&text), error_r);
    }
    buf_release(&text);
    return res;
}

enum maildir_result mda_folders_ensure(int root_fd, char *const *folders, size_t count,
                                       char **error_r)
{
    if (faccessat(root_fd, MDA_FOLDERS_MADE_FILE, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
        return MAILDIR_DELIVERED;
    if (errno != ENOENT) {
        error_set(error_r, "%s: %s", MDA_FOLDERS_MADE_FILE, strerror(errno));
        return MAILDIR_TEMPFAIL;
    }
    struct buf made = BUF_INIT;
    enum maildir_result res = MAILDIR_DELIVERED;
    for (size_t i = 0; i < count && res == MAILDIR_DELIVERED; i++) {
        int box_fd = -1;
        struct maildir_dir_syncs syncs = {0};
        res = maildir_dir_open_folder(root_fd, folders[i], &box_fd, error_r);
        if (res == MAILDIR_DELIVERED)
            res = maildir_dir_open_subdirs(box_fd, NULL, NULL, &syncs, error_r);
        if (res == MAILDIR_DELIVERED)
            res = maildir_dir_run_syncs(&syncs, error_r);
        else
            maildir_dir_close_syncs(&syncs);
        maildir_fd_close(&box_fd);
        if (res == MAILDIR_DELIVERED && buf_printf(&made, "%s\n", folders[i]) < 0) {
            error_set(error_r, "out of memory");
            res = MAILDIR_TEMPFAIL;
        }
    }
    /* The marker last, after the folders and their marks are durable: a
     * crash before it makes them again next time (each step is idempotent). */
    if (res == MAILDIR_DELIVERED)
        res = merge_marks(root_fd, folders, count, error_r);
    if (res == MAILDIR_DELIVERED)
        res = maildir_dir_sync(root_fd, "maildir", error_r);
    if (res == MAILDIR_DELIVERED)
        res = replace_file(root_fd, MDA_FOLDERS_MADE_FILE, buf_ptr(&made), buf_len(&made), error_r);
    if (res == MAILDIR_DELIVERED)
        res = maildir_dir_sync(root_fd, "maildir", error_r);
    buf_release(&made);
    return res;
}

bool mda_folder_name(const char *mailbox, char **folder_r)
{
    *folder_r = NULL;
    if (strcasecmp(mailbox, "INBOX") == 0)
        return true;
    if (strncasecmp(mailbox, "INBOX.", 6) == 0 || strncasecmp(mailbox, "INBOX/", 6) == 0)
        mailbox += 6;
    char *folder = strdup(mailbox);
    if (folder == NULL)
        return false;
    for (char *p = folder; *p != '\0'; p++)
        if (*p == '/')
            *p = '.';
    if (!maildir_folder_valid(folder)) {
        free(folder);
        return false;
    }
    *folder_r = folder;
    return true;
}

int mda_folder_exists(int root_fd, const char *folder)
{
    if (folder == NULL)
        return 1;
    char name[256];
    if ((size_t)snprintf(name, sizeof name, ".%s", folder) >= sizeof name)
        return 0;
    struct stat st;
    if (fstatat(root_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT || errno == ENOTDIR ? 0 : -1;
    return S_ISDIR(st.st_mode) ? 1 : 0;
}
