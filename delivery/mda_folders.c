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

/* Temporary names of the marks file: one per writer, as two first
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

/* write_marks - the marks file, made durable before it is renamed in. */
static enum maildir_result write_marks(int root_fd, char *const *folders, size_t count,
                                       char **error_r)
{
    struct buf text = BUF_INIT;
    for (size_t i = 0; i < count; i++) {
        const char *attr = mda_folders_special_use(folders[i]);
        if (attr != NULL && buf_printf(&text, "%s %s\n", folders[i], attr) < 0) {
            buf_release(&text);
            error_set(error_r, "out of memory");
            return MAILDIR_TEMPFAIL;
        }
    }
    char tmp[64];
    snprintf(tmp, sizeof tmp, "%s.%ld.%u.tmp", MDA_SPECIAL_USE_FILE, (long)getpid(),
             atomic_fetch_add(&tmp_counter, 1));
    int fd = openat(root_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        buf_release(&text);
        error_set(error_r, "create %s: %s", tmp, strerror(errno));
        return MAILDIR_TEMPFAIL;
    }
    bool ok = fd_write_all(fd, buf_ptr(&text), buf_len(&text)) == 0 && fsync(fd) == 0;
    int err = errno;
    close(fd);
    buf_release(&text);
    if (!ok || renameat(root_fd, tmp, root_fd, MDA_SPECIAL_USE_FILE) < 0) {
        error_set(error_r, "write %s: %s", MDA_SPECIAL_USE_FILE, strerror(ok ? errno : err));
        unlinkat(root_fd, tmp, 0);
        return MAILDIR_TEMPFAIL;
    }
    return maildir_dir_sync(root_fd, "maildir", error_r);
}

enum maildir_result mda_folders_ensure(int root_fd, char *const *folders, size_t count,
                                       char **error_r)
{
    if (faccessat(root_fd, MDA_SPECIAL_USE_FILE, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
        return MAILDIR_DELIVERED;
    if (errno != ENOENT) {
        error_set(error_r, "%s: %s", MDA_SPECIAL_USE_FILE, strerror(errno));
        return MAILDIR_TEMPFAIL;
    }
    for (size_t i = 0; i < count; i++) {
        int box_fd = -1;
        struct maildir_dir_syncs syncs = {0};
        enum maildir_result res = maildir_dir_open_folder(root_fd, folders[i], &box_fd, error_r);
        if (res == MAILDIR_DELIVERED)
            res = maildir_dir_open_subdirs(box_fd, NULL, NULL, &syncs, error_r);
        if (res == MAILDIR_DELIVERED)
            res = maildir_dir_run_syncs(&syncs, error_r);
        else
            maildir_dir_close_syncs(&syncs);
        maildir_fd_close(&box_fd);
        if (res != MAILDIR_DELIVERED)
            return res;
    }
    return write_marks(root_fd, folders, count, error_r);
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
