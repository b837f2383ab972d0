/* delivery/maildir.c - one message into one Maildir: tmp/ write with CRLF->LF,
 * fsync, quota check, link into new/, fsync new/. See maildir.h. */
#include "config.h"

#include "delivery/maildir.h"
#include "delivery/maildir_name.h"
#include "delivery/maildir_path.h"
#include "delivery/maildir_quota.h"
#include "lib/error.h"
#include "lib/header.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define OUT_BUFFER_SIZE 65536
#define MAX_CREATE_TRIES 16
#define MAX_DEFERRED_SYNCS 8
#define MAX_UNSYNCED_FOLDERS 1024
/* The Maildir convention (cr.yp.to/proto/maildir.html): a file in tmp/
 * untouched for 36 hours is a crashed writer's. Each tmp/ is looked at
 * no more than once per TMP_SWEEP_INTERVAL by this process; the table
 * remembering when is a fixed hash of TMP_SWEEP_SLOTS folders (a collision
 * only costs an early look). */
#define TMP_STALE_SECONDS (36 * 3600)
#define TMP_SWEEP_INTERVAL 3600
#define TMP_SWEEP_SLOTS 4096

/* Folders whose new entries still need an fsync: done in
 * maildir_delivery_finish after the message's own fsyncs rather than right
 * after each mkdir. On a journalled file system the message's fsync then
 * commits the mkdirs too, and these fsyncs find nothing left to write,
 * where an fsync right after each mkdir cost a journal commit apiece (and
 * a first delivery creates two or three folders). */
struct dir_syncs {
    int fds[MAX_DEFERRED_SYNCS];
    size_t count;
    /* the folders this delivery created and published in unsynced[] */
    struct folder_key {
        dev_t dev;
        ino_t ino;
    } created[MAX_DEFERRED_SYNCS * 3];
    size_t created_count;
};

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

struct maildir_delivery {
    const struct maildir_target *target;
    int root_fd; /* the Maildir (quota file lives here) */
    int box_fd;  /* the Maildir or its .Folder */
    int tmp_fd, new_fd;
    int fd;        /* the file in tmp/ */
    char *rel_box; /* path of box_fd below base, for path_r */
    char host[256];
    char name[512];
    uint64_t size;      /* bytes on disk */
    uint64_t crlf_size; /* with every LF as CRLF: the ",W=" readers report */
    bool last_out_cr;   /* the last byte emitted was a CR */
    struct dir_syncs syncs;
    enum { STAGE_WRITING, STAGE_WRITTEN, STAGE_LINKED } stage;
    bool linked_not_renamed; /* STAGE_LINKED: the tmp/ name is still there */
    /* stable_key: this delivery's earlier file ("new/<name>" or
     * "cur/<name>"), found and fsync'd; nothing of ours is in tmp/ */
    char *earlier;
    char new_name[512 + 32];
    bool pending_cr;
    size_t out_len;
    char out[OUT_BUFFER_SIZE];
};

/* io_result - the class of an errno from a write-side system call. Every I/O
 * error is temporary (the queue retries); ENOSPC and EDQUOT are named here
 * because a full disk must never bounce mail. */
static enum maildir_result io_result(int err)
{
    (void)err;
    return MAILDIR_TEMPFAIL;
}

static void close_fd(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

const char *maildir_result_name(enum maildir_result result)
{
    switch (result) {
    case MAILDIR_DELIVERED:
        return "delivered";
    case MAILDIR_TEMPFAIL:
        return "tempfail";
    case MAILDIR_QUOTA_EXCEEDED:
        return "quota-exceeded";
    case MAILDIR_PERMFAIL:
        return "permfail";
    case MAILDIR_ALREADY_DELIVERED:
        return "already-delivered";
    }
    return "unknown";
}

bool maildir_result_permanent(enum maildir_result result, const struct maildir_target *target)
{
    return result == MAILDIR_PERMFAIL ||
           (result == MAILDIR_QUOTA_EXCEEDED && target != NULL && target->quota_permanent);
}

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
static void unsynced_drop(struct dir_syncs *syncs)
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
static enum maildir_result open_dir(int dir_fd, const char *name, int *fd_r, bool *parent_sync_r,
                                    struct dir_syncs *syncs, char **error_r)
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
            return io_result(errno);
        case MAILDIR_PATH_MISSING:
            break;
        }
        pthread_mutex_lock(&unsynced_lock);
        if (mkdirat(dir_fd, name, 0700) < 0) {
            int err = errno;
            pthread_mutex_unlock(&unsynced_lock);
            if (err != EEXIST) {
                error_set(error_r, "mkdir %s: %s", name, strerror(err));
                return io_result(err);
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
            return io_result(errno);
        }
    }
    error_set(error_r, "open %s: keeps disappearing", name);
    return MAILDIR_TEMPFAIL;
}

/* sync_dir - fsync a directory after creating entries in it. */
static enum maildir_result sync_dir(int fd, const char *what, char **error_r)
{
    if (fsync(fd) < 0) {
        error_set(error_r, "fsync %s: %s", what, strerror(errno));
        return io_result(errno);
    }
    return MAILDIR_DELIVERED;
}

/* defer_sync - dir_fd must be fsync'd before the delivery counts: done by
 * run_syncs in maildir_delivery_finish. Past MAX_DEFERRED_SYNCS (a very deep
 * new path) it is fsync'd at once. */
static enum maildir_result defer_sync(struct dir_syncs *syncs, int dir_fd, const char *what,
                                      char **error_r)
{
    int fd;

    if (syncs->count == MAX_DEFERRED_SYNCS)
        return sync_dir(dir_fd, what, error_r);
    fd = fcntl(dir_fd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) {
        error_set(error_r, "dup %s: %s", what, strerror(errno));
        return io_result(errno);
    }
    syncs->fds[syncs->count++] = fd;
    return MAILDIR_DELIVERED;
}

static void close_sync_fds(struct dir_syncs *syncs)
{
    for (size_t i = 0; i < syncs->count; i++)
        close(syncs->fds[i]);
    syncs->count = 0;
}

/* syncs_done - the deferred folders are durable (fsync'd by run_syncs, or
 * by the caller's syncfs with sync_by_caller): the folders this delivery
 * created leave unsynced[]. */
static void syncs_done(struct dir_syncs *syncs)
{
    close_sync_fds(syncs);
    unsynced_drop(syncs);
}

/* run_syncs - fsync every deferred folder, innermost first, then
 * syncs_done. */
static enum maildir_result run_syncs(struct dir_syncs *syncs, char **error_r)
{
    for (size_t i = syncs->count; i > 0; i--) {
        enum maildir_result res = sync_dir(syncs->fds[i - 1], "new mailbox folder", error_r);
        if (res != MAILDIR_DELIVERED)
            return res;
    }
    syncs_done(syncs);
    return MAILDIR_DELIVERED;
}

/* close_syncs - a delivery that ends without run_syncs (failure, abort):
 * its folders exist and others may deliver below them, so their parents are
 * still fsync'd; only when that works do they leave unsynced[]. */
static void close_syncs(struct dir_syncs *syncs)
{
    char *error = NULL;

    if (run_syncs(syncs, &error) != MAILDIR_DELIVERED) {
        free(error);
        close_sync_fds(syncs);
    }
}

/* The writer's walk to the mailbox (maildir_path_walk): its folders are
 * created as needed, their parents' fsyncs deferred (defer_sync). */
struct mailbox_walk {
    struct dir_syncs *syncs;
    enum maildir_result res; /* the step's own failure */
};

static enum maildir_path_result mailbox_step(void *ctx, int dir_fd, const char *name, int *fd_r,
                                             char **error_r)
{
    struct mailbox_walk *walk = ctx;
    bool created = false;
    int next = -1;
    enum maildir_result res = open_dir(dir_fd, name, &next, &created, walk->syncs, error_r);

    if (res == MAILDIR_DELIVERED && created)
        res = defer_sync(walk->syncs, dir_fd, name, error_r);
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
static enum maildir_result open_mailbox(const char *base, const char *mailbox, int *fd_r,
                                        struct dir_syncs *syncs, char **error_r)
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

/* open_subdirs - open new/ and tmp/ of the Maildir at box_fd (either output
 * may be NULL), creating cur, new and tmp (mode 0700) the first time. */
static enum maildir_result open_subdirs(int box_fd, int *new_fd_r, int *tmp_fd_r,
                                        struct dir_syncs *syncs, char **error_r)
{
    static const char *const subs[] = {"cur", "new", "tmp"};
    int fds[3] = {-1, -1, -1};
    bool created = false;
    enum maildir_result res = MAILDIR_DELIVERED;

    fds[1] = openat(box_fd, "new", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    fds[2] = openat(box_fd, "tmp", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fds[1] < 0 || fds[2] < 0) {
        close_fd(&fds[1]);
        close_fd(&fds[2]);
        for (size_t i = 0; i < 3 && res == MAILDIR_DELIVERED; i++)
            res = open_dir(box_fd, subs[i], &fds[i], &created, syncs, error_r);
        close_fd(&fds[0]);
    } else if (unsynced_count > 0 && (unsynced_has(fds[1]) || unsynced_has(fds[2]))) {
        created = true; /* another delivery's new folders, box not fsync'd yet */
    }
    if (res == MAILDIR_DELIVERED && created)
        res = defer_sync(syncs, box_fd, "maildir", error_r);
    if (res != MAILDIR_DELIVERED) {
        close_fd(&fds[1]);
        close_fd(&fds[2]);
        return res;
    }
    if (new_fd_r != NULL)
        *new_fd_r = fds[1];
    else
        close_fd(&fds[1]);
    if (tmp_fd_r != NULL)
        *tmp_fd_r = fds[2];
    else
        close_fd(&fds[2]);
    return MAILDIR_DELIVERED;
}

/* valid_folder - a Maildir++ folder name: dot-separated non-empty parts,
 * no "/", no control bytes. */
static bool valid_folder(const char *folder)
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

/* open_folder - the Maildir++ folder ".<folder>" in the Maildir, created with
 * its "maildirfolder" marker file on first use. */
static enum maildir_result open_folder(struct maildir_delivery *d, const char *folder,
                                       char **error_r)
{
    char name[NAME_MAX + 1];
    bool created = false;
    enum maildir_result res;
    int fd;

    if (!valid_folder(folder)) {
        error_set(error_r, "invalid Maildir++ folder name");
        return MAILDIR_PERMFAIL;
    }
    if (snprintf(name, sizeof(name), ".%s", folder) >= (int)sizeof(name))
        return error_set(error_r, "folder name too long"), MAILDIR_PERMFAIL;
    res = open_dir(d->root_fd, name, &d->box_fd, &created, NULL, error_r);
    if (res != MAILDIR_DELIVERED)
        return res;
    fd = openat(d->box_fd, "maildirfolder",
                O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | (created ? 0 : O_EXCL), 0600);
    if (fd >= 0)
        close(fd);
    else if (errno != EEXIST) {
        error_set(error_r, "create maildirfolder: %s", strerror(errno));
        return io_result(errno);
    }
    if (created)
        return sync_dir(d->root_fd, "maildir", error_r);
    return MAILDIR_DELIVERED;
}

/* valid_trace_value - a sender or recipient with no control octet (its
 * length is trace_fields' to judge). */
static bool valid_trace_value(const char *s)
{
    size_t len = strlen(s);

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return false;
    }
    return true;
}

/* The longest sender and recipient whose trace field fits on one line of
 * RFC 5322's 998 octets (2.1.1): "Return-Path: <" + sender + ">" and
 * "Delivered-To: " + recipient. An RFC 5321 path (4.5.3.1.3) is far
 * shorter; these bound what dirmail-deliver or LMTP could be handed. */
#define TRACE_SENDER_MAX (HEADER_LINE_MAX - sizeof("Return-Path: <>") + 1)
#define TRACE_RECIPIENT_MAX (HEADER_LINE_MAX - sizeof("Delivered-To: ") + 1)

/* trace_fields - "Return-Path: <sender>" and "Delivered-To: recipient" as
 * stored (LF line ends, as the message itself), malloc'd into *text_r.
 * Each value is one word on its field's one line, never folded or cut (the
 * queue runner's loop check reads Delivered-To as one line). */
static enum maildir_result trace_fields(const char *sender, const char *recipient, char **text_r,
                                        size_t *len_r, char **error_r)
{
    struct header_field f;
    size_t rp_len = 0, dt_len = 0, n = 0;
    char *rp, *dt, *out = NULL;

    *text_r = NULL;
    if (recipient[0] == '\0') {
        error_set(error_r, "empty recipient");
        return MAILDIR_PERMFAIL;
    }
    if (strlen(sender) > TRACE_SENDER_MAX || strlen(recipient) > TRACE_RECIPIENT_MAX) {
        error_set(error_r, "sender or recipient too long for a header line (RFC 5322 2.1.1)");
        return MAILDIR_PERMFAIL;
    }
    header_field_begin(&f, "Return-Path");
    header_field_wordf(&f, "<%s>", sender);
    rp = header_field_end(&f, &rp_len);
    header_field_begin(&f, "Delivered-To");
    header_field_word(&f, recipient);
    dt = header_field_end(&f, &dt_len);
    if (rp != NULL && dt != NULL)
        out = malloc(rp_len + dt_len + 1);
    if (out != NULL) {
        /* CRLF -> LF, as maildir_delivery_write does for the message; the
         * builder puts a CR only before an LF. */
        for (int k = 0; k < 2; k++) {
            for (const char *s = k == 0 ? rp : dt; *s != '\0'; s++) {
                if (*s != '\r')
                    out[n++] = *s;
            }
        }
        out[n] = '\0';
    }
    free(rp);
    free(dt);
    if (out == NULL) {
        /* the values were checked above: only memory can be missing */
        error_set(error_r, "out of memory");
        return MAILDIR_TEMPFAIL;
    }
    *text_r = out;
    *len_r = n;
    return MAILDIR_DELIVERED;
}

/* flush_out - write the buffered bytes to the tmp file. */
static enum maildir_result flush_out(struct maildir_delivery *d, char **error_r)
{
    size_t done = 0;

    while (done < d->out_len) {
        ssize_t n = write(d->fd, d->out + done, d->out_len - done);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            error_set(error_r, "write tmp/%s: %s", d->name, strerror(errno));
            return io_result(errno);
        }
        done += (size_t)n;
    }
    d->out_len = 0;
    return MAILDIR_DELIVERED;
}

static enum maildir_result emit(struct maildir_delivery *d, const char *data, size_t len,
                                char **error_r)
{
    while (len > 0) {
        size_t n = sizeof(d->out) - d->out_len;

        if (n == 0) {
            enum maildir_result res = flush_out(d, error_r);
            if (res != MAILDIR_DELIVERED)
                return res;
            continue;
        }
        if (n > len)
            n = len;
        memcpy(d->out + d->out_len, data, n);
        /* an LF not after a CR is a CRLF to POP3 and IMAP (the file never
         * holds CR LF: write() turns it into LF) */
        for (size_t i = 0; i < n; i++) {
            if (data[i] == '\n' && !d->last_out_cr)
                d->crlf_size++;
            d->last_out_cr = data[i] == '\r';
        }
        d->crlf_size += n;
        d->out_len += n;
        d->size += n;
        data += n;
        len -= n;
    }
    return MAILDIR_DELIVERED;
}

static void delivery_free(struct maildir_delivery **delivery, bool unlink_tmp)
{
    struct maildir_delivery *d = *delivery;

    if (d == NULL)
        return;
    if (d->fd >= 0) {
        close_fd(&d->fd);
        if (unlink_tmp)
            unlinkat(d->tmp_fd, d->name, 0);
    }
    close_fd(&d->tmp_fd);
    close_fd(&d->new_fd);
    close_syncs(&d->syncs);
    if (d->box_fd != d->root_fd)
        close_fd(&d->box_fd);
    close_fd(&d->root_fd);
    free(d->rel_box);
    free(d->earlier);
    free(d);
    *delivery = NULL;
}

/* quota_check - MAILDIR_QUOTA_EXCEEDED when adding bytes and messages goes
 * over the target's quota. An over-quota answer from a file older than 15
 * minutes is checked again after a recalculation (Maildir++ spec). */
static enum maildir_result quota_check(struct maildir_delivery *d, uint64_t bytes,
                                       uint64_t messages, char **error_r)
{
    struct maildir_quota_limit limit = {d->target->quota_bytes, d->target->quota_messages};
    struct maildir_quota_usage usage;

    if (limit.bytes == 0 && limit.messages == 0)
        return MAILDIR_DELIVERED;
    if (maildir_quota_read(d->root_fd, &limit, d->host, false, &usage, error_r) < 0)
        return MAILDIR_TEMPFAIL;
    if (!maildir_quota_exceeded(&limit, &usage, bytes, messages))
        return MAILDIR_DELIVERED;
    if (usage.stale) {
        if (maildir_quota_read(d->root_fd, &limit, d->host, true, &usage, error_r) < 0)
            return MAILDIR_TEMPFAIL;
        if (!maildir_quota_exceeded(&limit, &usage, bytes, messages))
            return MAILDIR_DELIVERED;
    }
    error_set(error_r, "mailbox over quota (%" PRId64 " bytes, %" PRId64 " messages used)",
              usage.bytes, usage.messages);
    return MAILDIR_QUOTA_EXCEEDED;
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
static void sweep_tmp(int tmp_fd)
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
static int find_in(int box_fd, const char *sub, const char *base, char **name_r, char **error_r)
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

/* find_earlier - check_delivered: the earlier file of this delivery in new/
 * or cur/ into d->earlier, if there is one. */
static enum maildir_result find_earlier(struct maildir_delivery *d, char **error_r)
{
    static const char *const subs[] = {"new", "cur"};

    for (size_t i = 0; i < 2; i++) {
        int r = find_in(d->box_fd, subs[i], d->name, &d->earlier, error_r);
        if (r < 0)
            return MAILDIR_TEMPFAIL;
        if (r > 0)
            break;
    }
    return MAILDIR_DELIVERED;
}

/* create_tmp - the file d->name in tmp/. A stable name already there is
 * this delivery's own leftover from an attempt that never linked it:
 * replaced. A unique name there is someone else's: a new name is tried. */
static enum maildir_result create_tmp(struct maildir_delivery *d, char **error_r)
{
    const struct maildir_target *target = d->target;

    for (int tries = 0;; tries++) {
        d->fd =
            openat(d->tmp_fd, d->name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (d->fd >= 0)
            return MAILDIR_DELIVERED;
        if (errno != EEXIST || tries >= MAX_CREATE_TRIES) {
            error_set(error_r, "create tmp/%s: %s", d->name, strerror(errno));
            return io_result(errno);
        }
        if (target->stable_key != NULL) {
            if (unlinkat(d->tmp_fd, d->name, 0) < 0 && errno != ENOENT) {
                error_set(error_r, "remove stale tmp/%s: %s", d->name, strerror(errno));
                return io_result(errno);
            }
        } else if (maildir_unique_name(d->name, sizeof(d->name), d->host) < 0) {
            error_set(error_r, "host name too long");
            return MAILDIR_PERMFAIL;
        }
    }
}

enum maildir_result maildir_delivery_begin(const struct maildir_target *target, const char *sender,
                                           const char *recipient,
                                           struct maildir_delivery **delivery_r, char **error_r)
{
    struct maildir_delivery *d;
    enum maildir_result res;
    const char *rel;
    char *header;
    size_t header_len = 0;
    int n;

    *delivery_r = NULL;
    if (sender == NULL)
        sender = "";
    if (target->base == NULL || target->mailbox == NULL || recipient == NULL) {
        error_set(error_r, "no mailbox base, mailbox or recipient");
        return MAILDIR_PERMFAIL;
    }
    if (!valid_trace_value(sender) || !valid_trace_value(recipient)) {
        error_set(error_r, "sender or recipient has control characters");
        return MAILDIR_PERMFAIL;
    }
    /* Built before anything is created: a value too long for a header line
     * is refused whole (never truncated), and leaves no Maildir behind. */
    res = trace_fields(sender, recipient, &header, &header_len, error_r);
    if (res != MAILDIR_DELIVERED)
        return res;
    d = calloc(1, sizeof(*d));
    if (d == NULL) {
        free(header);
        error_set(error_r, "out of memory");
        return MAILDIR_TEMPFAIL;
    }
    d->target = target;
    d->root_fd = d->box_fd = d->tmp_fd = d->new_fd = d->fd = -1;
    if (target->hostname != NULL) {
        if (snprintf(d->host, sizeof(d->host), "%s", target->hostname) >= (int)sizeof(d->host)) {
            error_set(error_r, "host name too long");
            res = MAILDIR_PERMFAIL;
            goto fail;
        }
    } else if (gethostname(d->host, sizeof(d->host) - 1) < 0) {
        snprintf(d->host, sizeof(d->host), "localhost");
    }

    res = open_mailbox(target->base, target->mailbox, &d->root_fd, &d->syncs, error_r);
    if (res != MAILDIR_DELIVERED)
        goto fail;
    rel = maildir_path_relative(target->base, target->mailbox);
    if (target->folder != NULL && target->folder[0] != '\0') {
        res = open_folder(d, target->folder, error_r);
        n = asprintf(&d->rel_box, "%s%s.%s", rel, rel[strlen(rel) - 1] == '/' ? "" : "/",
                     target->folder);
    } else {
        d->box_fd = d->root_fd;
        n = asprintf(&d->rel_box, "%s", rel);
        if (rel[strlen(rel) - 1] == '/' && n > 0)
            d->rel_box[n - 1] = '\0';
    }
    if (n < 0) {
        d->rel_box = NULL;
        if (res == MAILDIR_DELIVERED) {
            error_set(error_r, "out of memory");
            res = MAILDIR_TEMPFAIL;
        }
    }
    if (res != MAILDIR_DELIVERED)
        goto fail;
    /* The quota's cur/new/tmp live in the root even when delivering to a folder. */
    if (d->box_fd != d->root_fd) {
        res = open_subdirs(d->root_fd, NULL, NULL, &d->syncs, error_r);
        if (res != MAILDIR_DELIVERED)
            goto fail;
    }
    res = open_subdirs(d->box_fd, &d->new_fd, &d->tmp_fd, &d->syncs, error_r);
    if (res != MAILDIR_DELIVERED)
        goto fail;
    sweep_tmp(d->tmp_fd);
    if (target->stable_key != NULL)
        n = maildir_stable_name(d->name, sizeof(d->name), target->stable_time, target->stable_key,
                                d->host);
    else
        n = maildir_unique_name(d->name, sizeof(d->name), d->host);
    if (n < 0) {
        error_set(error_r, "host name too long or bad stable key");
        res = MAILDIR_PERMFAIL;
        goto fail;
    }
    if (target->stable_key != NULL && target->check_delivered) {
        res = find_earlier(d, error_r);
        if (res != MAILDIR_DELIVERED)
            goto fail;
        if (d->earlier != NULL) {
            /* Before the quota check: a Maildir that filled up since must
             * not turn a delivered message into a retried one. */
            free(header);
            d->stage = STAGE_WRITTEN;
            *delivery_r = d;
            return MAILDIR_DELIVERED;
        }
    }
    res = quota_check(d, 0, 1, error_r);
    if (res != MAILDIR_DELIVERED)
        goto fail;
    res = create_tmp(d, error_r);
    if (res != MAILDIR_DELIVERED)
        goto fail;

    /* RFC 5321 4.4: the final delivery adds Return-Path with the envelope
     * sender ("<>" for the null sender). */
    res = emit(d, header, header_len, error_r);
    if (res != MAILDIR_DELIVERED)
        goto fail;
    free(header);
    *delivery_r = d;
    return MAILDIR_DELIVERED;

fail:
    free(header);
    delivery_free(&d, true);
    return res;
}

enum maildir_result maildir_delivery_write(struct maildir_delivery *d, const void *data, size_t len,
                                           char **error_r)
{
    const char *p = data;
    enum maildir_result res;

    if (d->earlier != NULL)
        return MAILDIR_DELIVERED; /* nothing to write: it is there already */
    while (len > 0) {
        const char *cr;
        size_t n;

        if (d->pending_cr) {
            d->pending_cr = false;
            if (*p == '\n') {
                res = emit(d, "\n", 1, error_r);
                p++;
                len--;
            } else {
                res = emit(d, "\r", 1, error_r);
            }
            if (res != MAILDIR_DELIVERED)
                return res;
            continue;
        }
        cr = memchr(p, '\r', len);
        n = cr != NULL ? (size_t)(cr - p) : len;
        res = emit(d, p, n, error_r);
        if (res != MAILDIR_DELIVERED)
            return res;
        p += n;
        len -= n;
        if (cr != NULL) {
            d->pending_cr = true;
            p++;
            len--;
        }
    }
    return MAILDIR_DELIVERED;
}

enum maildir_result maildir_delivery_written(struct maildir_delivery *d, char **error_r)
{
    enum maildir_result res;

    if (d->stage != STAGE_WRITING)
        return MAILDIR_DELIVERED;
    if (d->pending_cr) {
        d->pending_cr = false;
        res = emit(d, "\r", 1, error_r);
        if (res != MAILDIR_DELIVERED)
            return res;
    }
    res = flush_out(d, error_r);
    if (res != MAILDIR_DELIVERED)
        return res;
    /* Start the write-back now, so that it runs while the caller finishes
     * its other deliveries and the fsync in maildir_delivery_link finds it
     * done. Only a hint: the fsync is what counts. */
    (void)sync_file_range(d->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
    d->stage = STAGE_WRITTEN;
    return MAILDIR_DELIVERED;
}

/* found_in_new - link found this delivery's stable name in new/ already:
 * an earlier attempt made it and its result was lost. new/ is fsync'd so
 * that it counts only once durable, and our tmp/ copy goes. */
static enum maildir_result found_in_new(struct maildir_delivery *d, char **error_r)
{
    if (fsync(d->new_fd) < 0) {
        error_set(error_r, "fsync new/: %s", strerror(errno));
        return io_result(errno);
    }
    if (asprintf(&d->earlier, "new/%s", d->new_name) < 0) {
        d->earlier = NULL;
        error_set(error_r, "out of memory");
        return MAILDIR_TEMPFAIL;
    }
    close_fd(&d->fd);
    unlinkat(d->tmp_fd, d->name, 0);
    return MAILDIR_ALREADY_DELIVERED;
}

enum maildir_result maildir_delivery_link(struct maildir_delivery *d, char **error_r)
{
    enum maildir_result res;
    int n;

    if (d->earlier != NULL)
        return MAILDIR_ALREADY_DELIVERED;
    if (d->stage == STAGE_LINKED)
        return MAILDIR_DELIVERED;
    res = maildir_delivery_written(d, error_r);
    if (res != MAILDIR_DELIVERED)
        return res;
    if (!d->target->sync_by_caller && fsync(d->fd) < 0) {
        error_set(error_r, "fsync tmp/%s: %s", d->name, strerror(errno));
        return io_result(errno);
    }
    res = quota_check(d, d->size, 1, error_r);
    if (res != MAILDIR_DELIVERED)
        return res;
    /* ",W=" only while the name keeps room for ":2," and 26 flag letters
     * within NAME_MAX (a very long host part): without it, readers count
     * the LFs themselves. */
    n = snprintf(d->new_name, sizeof(d->new_name), "%s,S=%" PRIu64 ",W=%" PRIu64, d->name, d->size,
                 d->crlf_size);
    if (n < 0 || n > NAME_MAX - 29)
        n = snprintf(d->new_name, sizeof(d->new_name), "%s,S=%" PRIu64, d->name, d->size);
    if (n < 0 || n >= (int)sizeof(d->new_name)) {
        error_set(error_r, "file name too long");
        return MAILDIR_PERMFAIL;
    }
    /* link() rather than rename(): it fails instead of replacing should the
     * name exist, as the Maildir spec asks. rename() only where the file
     * system has no hard links, after looking for the name (a stable name
     * there is this delivery's earlier file). */
    if (linkat(d->tmp_fd, d->name, d->new_fd, d->new_name, 0) == 0) {
        d->linked_not_renamed = true;
    } else if (errno == EEXIST && d->target->stable_key != NULL) {
        return found_in_new(d, error_r);
    } else if (errno == EPERM || errno == ENOTSUP || errno == ENOSYS || errno == EMLINK) {
        if (d->target->stable_key != NULL &&
            faccessat(d->new_fd, d->new_name, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
            return found_in_new(d, error_r);
        if (renameat(d->tmp_fd, d->name, d->new_fd, d->new_name) < 0) {
            error_set(error_r, "rename into new/: %s", strerror(errno));
            return io_result(errno);
        }
    } else {
        error_set(error_r, "link into new/: %s", strerror(errno));
        return io_result(errno);
    }
    d->stage = STAGE_LINKED;
    return MAILDIR_DELIVERED;
}

enum maildir_result maildir_delivery_finish(struct maildir_delivery **delivery, char **path_r,
                                            char **error_r)
{
    struct maildir_delivery *d = *delivery;
    enum maildir_result res;

    if (path_r != NULL)
        *path_r = NULL;
    res = maildir_delivery_link(d, error_r);
    if (res == MAILDIR_ALREADY_DELIVERED) {
        if (path_r != NULL && asprintf(path_r, "%s/%s", d->rel_box, d->earlier) < 0)
            *path_r = NULL;
        delivery_free(delivery, true);
        return MAILDIR_ALREADY_DELIVERED;
    }
    if (res != MAILDIR_DELIVERED)
        goto fail;
    if (!d->target->sync_by_caller && fsync(d->new_fd) < 0) {
        /* The message may or may not survive a crash: take it back so the
         * retry does not deliver it twice. */
        int err = errno;
        unlinkat(d->new_fd, d->new_name, 0);
        error_set(error_r, "fsync new/: %s", strerror(err));
        res = io_result(err);
        goto fail;
    }
    /* The folders on the way, when new: durable before the message counts
     * (with sync_by_caller, its syncfs after the link made them so). */
    if (d->target->sync_by_caller) {
        syncs_done(&d->syncs);
    } else {
        res = run_syncs(&d->syncs, error_r);
        if (res != MAILDIR_DELIVERED)
            goto fail;
    }
    close_fd(&d->fd);
    if (d->linked_not_renamed)
        unlinkat(d->tmp_fd, d->name, 0);
    /* The quota file is an estimate that recalculation repairs: a failed
     * append does not undo a delivered message. */
    {
        char *quota_error = NULL;
        if (maildir_quota_add(d->root_fd, (int64_t)d->size, 1, &quota_error) < 0)
            free(quota_error);
    }
    if (path_r != NULL && asprintf(path_r, "%s/new/%s", d->rel_box, d->new_name) < 0)
        *path_r = NULL;
    delivery_free(delivery, false);
    return MAILDIR_DELIVERED;

fail:
    /* A link into new/ that is not durable is taken back (its tmp/ name
     * goes with delivery_free); after a rename the tmp/ name is gone. */
    if (d->stage == STAGE_LINKED) {
        unlinkat(d->new_fd, d->new_name, 0);
        if (!d->linked_not_renamed)
            close_fd(&d->fd);
    }
    delivery_free(delivery, true);
    return res;
}

int maildir_delivery_dir_fd(const struct maildir_delivery *delivery)
{
    return delivery->new_fd;
}

void maildir_delivery_abort(struct maildir_delivery **delivery)
{
    struct maildir_delivery *d = *delivery;

    if (d != NULL && d->stage == STAGE_LINKED) {
        unlinkat(d->new_fd, d->new_name, 0);
        if (!d->linked_not_renamed)
            close_fd(&d->fd);
    }
    delivery_free(delivery, true);
}

enum maildir_result maildir_deliver_fd_begin(const struct maildir_target *target,
                                             const char *sender, const char *recipient, int fd,
                                             uint64_t len, struct maildir_delivery **delivery_r,
                                             char **error_r)
{
    struct maildir_delivery *d;
    enum maildir_result res;
    char buf[65536];

    *delivery_r = NULL;
    res = maildir_delivery_begin(target, sender, recipient, &d, error_r);
    if (res != MAILDIR_DELIVERED)
        return res;
    while (len > 0) {
        ssize_t n = read(fd, buf, len < sizeof(buf) ? (size_t)len : sizeof(buf));
        if (n == 0) {
            if (len == MAILDIR_TO_EOF)
                break;
            error_set(error_r, "read message: %" PRIu64 " octets missing", len);
            maildir_delivery_abort(&d);
            return MAILDIR_TEMPFAIL;
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            error_set(error_r, "read message: %s", strerror(errno));
            maildir_delivery_abort(&d);
            return MAILDIR_TEMPFAIL;
        }
        if (len != MAILDIR_TO_EOF)
            len -= (uint64_t)n;
        res = maildir_delivery_write(d, buf, (size_t)n, error_r);
        if (res != MAILDIR_DELIVERED) {
            maildir_delivery_abort(&d);
            return res;
        }
    }
    res = maildir_delivery_written(d, error_r);
    if (res != MAILDIR_DELIVERED) {
        maildir_delivery_abort(&d);
        return res;
    }
    *delivery_r = d;
    return MAILDIR_DELIVERED;
}

enum maildir_result maildir_deliver_fd(const struct maildir_target *target, const char *sender,
                                       const char *recipient, int fd, uint64_t len, char **path_r,
                                       char **error_r)
{
    struct maildir_delivery *d;
    enum maildir_result res;

    if (path_r != NULL)
        *path_r = NULL;
    res = maildir_deliver_fd_begin(target, sender, recipient, fd, len, &d, error_r);
    if (res != MAILDIR_DELIVERED)
        return res;
    return maildir_delivery_finish(&d, path_r, error_r);
}
