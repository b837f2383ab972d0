/* delivery/maildir_dirs.c - see maildir_dirs.h. */
#include "config.h"

#include "delivery/maildir_dirs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "delivery/maildir_name.h"
#include "delivery/maildir_path.h"
#include "lib/error.h"

#define MAX_UNSYNCED_FOLDERS 1024

/* The Maildir convention (cr.yp.to/proto/maildir.html): a file in tmp/
 * untouched for 36 hours is a crashed writer's. Each tmp/ is looked at
 * no more than once per TMP_SWEEP_INTERVAL by this process; the table
 * remembering when is a fixed hash of TMP_SWEEP_SLOTS folders (a collision
 * only costs an early look). */
#define TMP_STALE_SECONDS (36 * 3600)
#define TMP_SWEEP_INTERVAL 3600
#define TMP_SWEEP_SLOTS 4096

/* Folders created by a delivery of this process whose parent is not yet
 * fsync'd. Another delivery (another thread) that walks through one of them
 * must not count its message delivered before that parent is durable, so it
 * fsyncs the parent too. Creating a folder and publishing it here happen
 * under the lock, and a walker looks only after it opened the folder: it
 * cannot see the folder without seeing it here. Full: the creator fsyncs at
 * once, as if there were no table. */
static pthread_mutex_t unsynced_lock = PTHREAD_MUTEX_INITIALIZER;
static struct folder_key unsynced[MAX_UNSYNCED_FOLDERS];
static atomic_size_t unsynced_count;
static pthread_mutex_t tmp_sweep_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tmp_sweep_slot {
    dev_t dev;
    ino_t ino;
    time_t at;
} tmp_sweeps[TMP_SWEEP_SLOTS];
/* unsynced_has - whether the folder open at fd is in unsynced[]. */
static bool unsynced_has(int fd)
{
    struct stat st;
    bool found = false;

    if (fstat(fd, &st) < 0)
        return true; /* cannot tell: treat it as not durable */
    pthread_mutex_lock(&unsynced_lock);
    for (size_t i = 0; i < unsynced_count && !found; i++)
        found = unsynced[i].dev == st.st_dev && unsynced[i].ino == st.st_ino;
    pthread_mutex_unlock(&unsynced_lock);
    return found;
}

/* unsynced_drop - remove the folders syncs created from unsynced[]: their
 * parents are durable now. */
static void unsynced_drop(struct maildir_dir_syncs *syncs)
{
    if (syncs->created_count == 0)
        return; /* the common case: no lock per delivery */
    pthread_mutex_lock(&unsynced_lock);
    for (size_t k = 0; k < syncs->created_count; k++) {
        for (size_t i = 0; i < unsynced_count; i++) {
            if (unsynced[i].dev == syncs->created[k].dev &&
                unsynced[i].ino == syncs->created[k].ino) {
                unsynced[i] = unsynced[--unsynced_count];
                break;
            }
        }
    }
    pthread_mutex_unlock(&unsynced_lock);
    syncs->created_count = 0;
}

/* open_dir - open (creating with mode 0700 when missing) the folder name below
 * dir_fd, never through a symlink. *parent_sync_r tells the caller that
 * dir_fd must be fsync'd before the delivery counts: this call created the
 * folder (published in unsynced[] and syncs->created when syncs is given),
 * or another delivery did and has not fsync'd dir_fd yet. */
enum maildir_result maildir_dir_open(int dir_fd, const char *name, int *fd_r, bool *parent_sync_r,
                                     struct maildir_dir_syncs *syncs, char **error_r)
{
    for (int tries = 0; tries < 3; tries++) {
        int fd;
        switch (maildir_path_open_at(dir_fd, name, &fd, error_r)) {
        case MAILDIR_PATH_OK:
            if (syncs != NULL && unsynced_count > 0 && unsynced_has(fd))
                *parent_sync_r = true;
            *fd_r = fd;
            return MAILDIR_DELIVERED;
        case MAILDIR_PATH_UNSAFE:
            return MAILDIR_PERMFAIL;
        case MAILDIR_PATH_TEMPFAIL:
            return MAILDIR_TEMPFAIL;
        case MAILDIR_PATH_MISSING:
            break;
        }
        pthread_mutex_lock(&unsynced_lock);
        if (mkdirat(dir_fd, name, 0700) < 0) {
            int err = errno;
            pthread_mutex_unlock(&unsynced_lock);
            if (err != EEXIST) {
                error_set(error_r, "mkdir %s: %s", name, strerror(err));
                return MAILDIR_TEMPFAIL;
            }
            continue;
        }
        *parent_sync_r = true;
        fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;
        if (fd >= 0 && syncs != NULL &&
            syncs->created_count < sizeof(syncs->created) / sizeof(syncs->created[0]) &&
            unsynced_count < MAX_UNSYNCED_FOLDERS && fstat(fd, &st) == 0) {
            unsynced[unsynced_count++] = (struct folder_key){st.st_dev, st.st_ino};
            syncs->created[syncs->created_count++] = (struct folder_key){st.st_dev, st.st_ino};
        }
        pthread_mutex_unlock(&unsynced_lock);
        if (fd >= 0) {
            *fd_r = fd;
            return MAILDIR_DELIVERED;
        }
        if (errno != ENOENT) {
            error_set(error_r, "open %s: %s", name, strerror(errno));
            return MAILDIR_TEMPFAIL;
        }
    }
    error_set(error_r, "open %s: keeps disappearing", name);
    return MAILDIR_TEMPFAIL;
}

/* sync_dir - fsync a directory after creating entries in it. */
enum maildir_result maildir_dir_sync(int fd, const char *what, char **error_r)
{
    if (fsync(fd) < 0) {
        error_set(error_r, "fsync %s: %s", what, strerror(errno));
        return MAILDIR_TEMPFAIL;
    }
    return MAILDIR_DELIVERED;
}

/* defer_sync - dir_fd must be fsync'd before the delivery counts: done by
 * run_syncs in maildir_delivery_finish. Past MAX_DEFERRED_SYNCS (a very deep
 * new path) it is fsync'd at once. */
enum maildir_result maildir_dir_defer_sync(struct maildir_dir_syncs *syncs, int dir_fd,
                                           const char *what, char **error_r)
{
    int fd;

    if (syncs->count == MAX_DEFERRED_SYNCS)
        return maildir_dir_sync(dir_fd, what, error_r);
    fd = fcntl(dir_fd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) {
        error_set(error_r, "dup %s: %s", what, strerror(errno));
        return MAILDIR_TEMPFAIL;
    }
    syncs->fds[syncs->count++] = fd;
    return MAILDIR_DELIVERED;
}

static void close_sync_fds(struct maildir_dir_syncs *syncs)
{
    for (size_t i = 0; i < syncs->count; i++)
        close(syncs->fds[i]);
    syncs->count = 0;
}

/* syncs_done - the deferred folders are durable (fsync'd by run_syncs, or
 * by the caller's syncfs with sync_by_caller): the folders this delivery
 * created leave unsynced[]. */
void maildir_dir_syncs_done(struct maildir_dir_syncs *syncs)
{
    close_sync_fds(syncs);
    unsynced_drop(syncs);
}

/* run_syncs - fsync every deferred folder, innermost first, then
 * syncs_done. */
enum maildir_result maildir_dir_run_syncs(struct maildir_dir_syncs *syncs, char **error_r)
{
    for (size_t i = syncs->count; i > 0; i--) {
        enum maildir_result res =
            maildir_dir_sync(syncs->fds[i - 1], "new mailbox folder", error_r);
        if (res != MAILDIR_DELIVERED)
            return res;
    }
    maildir_dir_syncs_done(syncs);
    return MAILDIR_DELIVERED;
}

/* close_syncs - a delivery that ends without run_syncs (failure, abort):
 * its folders exist and others may deliver below them, so their parents are
 * still fsync'd; only when that works do they leave unsynced[]. */
void maildir_dir_close_syncs(struct maildir_dir_syncs *syncs)
{
    char *error = NULL;

    if (maildir_dir_run_syncs(syncs, &error) != MAILDIR_DELIVERED) {
        free(error);
        close_sync_fds(syncs);
    }
}

/* The writer's walk to the mailbox (maildir_path_walk): its folders are
 * created as needed, their parents' fsyncs deferred (defer_sync). */
struct mailbox_walk {
    struct maildir_dir_syncs *syncs;
    enum maildir_result res; /* the step's own failure */
};

static enum maildir_path_result mailbox_step(void *ctx, int dir_fd, const char *name, int *fd_r,
                                             char **error_r)
{
    struct mailbox_walk *walk = ctx;
    bool created = false;
    int next = -1;
    enum maildir_result res = maildir_dir_open(dir_fd, name, &next, &created, walk->syncs, error_r);

    if (res == MAILDIR_DELIVERED && created)
        res = maildir_dir_defer_sync(walk->syncs, dir_fd, name, error_r);
    if (res != MAILDIR_DELIVERED) {
        if (next >= 0)
            close(next);
        walk->res = res;
        return res == MAILDIR_PERMFAIL ? MAILDIR_PATH_UNSAFE : MAILDIR_PATH_TEMPFAIL;
    }
    *fd_r = next;
    return MAILDIR_PATH_OK;
}

/* open_mailbox - walk the untrusted mailbox path below base, creating what
 * is missing (maildir_path.h: nothing the directory says can make us open
 * or create anything outside base). */
enum maildir_result maildir_dir_open_mailbox(const char *base, const char *mailbox, int *fd_r,
                                             struct maildir_dir_syncs *syncs, char **error_r)
{
    struct mailbox_walk walk = {syncs, MAILDIR_DELIVERED};

    switch (maildir_path_walk(base, mailbox, mailbox_step, &walk, fd_r, error_r)) {
    case MAILDIR_PATH_OK:
        return MAILDIR_DELIVERED;
    case MAILDIR_PATH_UNSAFE:
        return walk.res != MAILDIR_DELIVERED ? walk.res : MAILDIR_PERMFAIL;
    default:
        return walk.res != MAILDIR_DELIVERED ? walk.res : MAILDIR_TEMPFAIL;
    }
}

bool maildir_folder_valid(const char *folder)
{
    size_t len = strlen(folder);

    if (len == 0 || len > NAME_MAX - 1 || folder[0] == '.' || folder[len - 1] == '.' ||
        strstr(folder, "..") != NULL)
        return false;
    for (const char *p = folder; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20 || c == 0x7f || c == '/')
            return false;
    }
    return true;
}

enum maildir_result maildir_dir_open_folder(int root_fd, const char *folder, int *box_fd_r,
                                            char **error_r)
{
    char name[NAME_MAX + 1];
    bool created = false;
    enum maildir_result res;
    int fd;

    if (!maildir_folder_valid(folder)) {
        error_set(error_r, "invalid Maildir++ folder name");
        return MAILDIR_PERMFAIL;
    }
    if (snprintf(name, sizeof(name), ".%s", folder) >= (int)sizeof(name))
        return error_set(error_r, "folder name too long"), MAILDIR_PERMFAIL;
    res = maildir_dir_open(root_fd, name, box_fd_r, &created, NULL, error_r);
    if (res != MAILDIR_DELIVERED)
        return res;
    fd = openat(*box_fd_r, "maildirfolder",
                O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | (created ? 0 : O_EXCL), 0600);
    if (fd >= 0)
        close(fd);
    else if (errno != EEXIST) {
        error_set(error_r, "create maildirfolder: %s", strerror(errno));
        return MAILDIR_TEMPFAIL;
    }
    if (created)
        return maildir_dir_sync(root_fd, "maildir", error_r);
    return MAILDIR_DELIVERED;
}

/* open_subdirs - open new/ and tmp/ of the Maildir at box_fd (either output
 * may be NULL), creating cur, new and tmp (mode 0700) the first time. */
enum maildir_result maildir_dir_open_subdirs(int box_fd, int *new_fd_r, int *tmp_fd_r,
                                             struct maildir_dir_syncs *syncs, char **error_r)
{
    static const char *const subs[] = {"cur", "new", "tmp"};
    int fds[3] = {-1, -1, -1};
    bool created = false;
    enum maildir_result res = MAILDIR_DELIVERED;

    fds[1] = openat(box_fd, "new", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    fds[2] = openat(box_fd, "tmp", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fds[1] < 0 || fds[2] < 0) {
        maildir_fd_close(&fds[1]);
        maildir_fd_close(&fds[2]);
        for (size_t i = 0; i < 3 && res == MAILDIR_DELIVERED; i++)
            res = maildir_dir_open(box_fd, subs[i], &fds[i], &created, syncs, error_r);
        maildir_fd_close(&fds[0]);
    } else if (unsynced_count > 0 && (unsynced_has(fds[1]) || unsynced_has(fds[2]))) {
        created = true; /* another delivery's new folders, box not fsync'd yet */
    }
    if (res == MAILDIR_DELIVERED && created)
        res = maildir_dir_defer_sync(syncs, box_fd, "maildir", error_r);
    if (res != MAILDIR_DELIVERED) {
        maildir_fd_close(&fds[1]);
        maildir_fd_close(&fds[2]);
        return res;
    }
    if (new_fd_r != NULL)
        *new_fd_r = fds[1];
    else
        maildir_fd_close(&fds[1]);
    if (tmp_fd_r != NULL)
        *tmp_fd_r = fds[2];
    else
        maildir_fd_close(&fds[2]);
    return MAILDIR_DELIVERED;
}
/* sweep_due - whether tmp/ (open at tmp_fd) was not looked at by this
 * process within TMP_SWEEP_INTERVAL; if so it counts as looked at now. */
static bool sweep_due(int tmp_fd, time_t now)
{
    struct stat st;
    bool due;

    if (fstat(tmp_fd, &st) < 0)
        return false;
    struct tmp_sweep_slot *slot = &tmp_sweeps[(st.st_ino ^ st.st_dev) % TMP_SWEEP_SLOTS];
    pthread_mutex_lock(&tmp_sweep_lock);
    due = slot->dev != st.st_dev || slot->ino != st.st_ino || now - slot->at >= TMP_SWEEP_INTERVAL;
    if (due)
        *slot = (struct tmp_sweep_slot){st.st_dev, st.st_ino, now};
    pthread_mutex_unlock(&tmp_sweep_lock);
    return due;
}

/* sweep_tmp - remove the files in tmp/ that nobody read or wrote for
 * TMP_STALE_SECONDS, when this tmp/ is due (sweep_due). Best effort:
 * a failure here must not hold up a delivery. */
void maildir_dir_sweep_tmp(int tmp_fd)
{
    time_t now = time(NULL);
    int fd;
    DIR *dir;
    struct dirent *de;

    if (!sweep_due(tmp_fd, now))
        return;
    fd = openat(tmp_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    dir = fd >= 0 ? fdopendir(fd) : NULL;
    if (dir == NULL) {
        if (fd >= 0)
            close(fd);
        return;
    }
    while ((de = readdir(dir)) != NULL) {
        struct stat st;

        if (de->d_name[0] == '.' &&
            (de->d_name[1] == '\0' || (de->d_name[1] == '.' && de->d_name[2] == '\0')))
            continue;
        if (fstatat(tmp_fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
            continue;
        /* "not accessed": read or written (a writer still at work keeps
         * its mtime fresh even where relatime lets atime lag) */
        time_t touched = st.st_mtime > st.st_atime ? st.st_mtime : st.st_atime;
        if (now - touched > TMP_STALE_SECONDS)
            unlinkat(tmp_fd, de->d_name, 0);
    }
    closedir(dir);
}

/* find_in - whether sub/ ("new" or "cur") of the folder box_fd holds the
 * message named base (any flags). 1 with *name_r (malloc'd "sub/<name>")
 * after fsyncing sub/, so that the earlier delivery is durable before it is
 * counted; 0 when not there; -1 on an error (*error_r). */
int maildir_dir_find_base(int box_fd, const char *sub, const char *base, char **name_r,
                          char **error_r)
{
    int fd = openat(box_fd, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int dup_fd, found = 0;
    DIR *dir;
    struct dirent *de;

    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        error_set(error_r, "open %s/: %s", sub, strerror(errno));
        return -1;
    }
    dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    dir = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
    if (dir == NULL) {
        error_set(error_r, "read %s/: %s", sub, strerror(errno));
        if (dup_fd >= 0)
            close(dup_fd);
        close(fd);
        return -1;
    }
    errno = 0;
    while (found == 0 && (de = readdir(dir)) != NULL) {
        if (maildir_name_has_base(de->d_name, base)) {
            found = 1;
            if (asprintf(name_r, "%s/%s", sub, de->d_name) < 0) {
                *name_r = NULL;
                error_set(error_r, "out of memory");
                found = -1;
            }
        }
    }
    if (found == 0 && errno != 0) {
        error_set(error_r, "read %s/: %s", sub, strerror(errno));
        found = -1;
    }
    closedir(dir);
    if (found == 1 && fsync(fd) < 0) {
        error_set(error_r, "fsync %s/: %s", sub, strerror(errno));
        free(*name_r);
        *name_r = NULL;
        found = -1;
    }
    close(fd);
    return found;
}