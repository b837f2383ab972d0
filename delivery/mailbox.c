/* delivery/mailbox.c - one Maildir folder for the readers: new/ and cur/
 * listed and merged into the UID index, and the sync that decides whether
 * they must be listed at all. The index file and its lock are
 * mailbox_file.c's; one message's file (open, flags in its name, expunge)
 * and change batches are mailbox_msg.c's. See mailbox.h and doc/mailbox.md. */
#include "config.h"

#include "delivery/mailbox_internal.h"
#include "delivery/mailbox_index.h"
#include "delivery/maildir_name.h"
#include "delivery/maildir_quota.h"
#include "lib/error.h"
#include "lib/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define INDEX_NAME "dirmail-uidlist"
#define LOCK_NAME "dirmail-uidlist.lock"
#define ACCOUNT_UIDVALIDITY_NAME "dirmail-uidvalidity"
/* The index file is refused beyond this (a million messages fit). */
#define INDEX_MAX_BYTES (256u << 20)

void mailbox_listing_clear(struct listing *l)
{
    for (size_t i = 0; i < l->count; i++)
        free(l->items[i].name);
    free(l->items);
    memset(l, 0, sizeof(*l));
}

/* base_len - the length of name's base: up to the first "," or ":". */
static size_t base_len(const char *name)
{
    return strcspn(name, ",:");
}

/* flags_of - the DFPRST flags and the keyword letters a-z in a ":2," info part. */
unsigned mailbox_flags_of(const char *name)
{
    static const char letters[] = "DFPRST";
    const char *info = strstr(name, ":2,");
    unsigned flags = 0;

    if (info == NULL)
        return 0;
    for (const char *p = info + 3; *p != '\0'; p++) {
        const char *l = strchr(letters, *p);
        if (l != NULL && *p != '\0')
            flags |= 1u << (l - letters);
        else if (*p >= 'a' && *p <= 'z')
            flags |= MAILBOX_FLAG_KEYWORD(*p - 'a');
    }
    return flags;
}

/* list_dir - append sub's message files to l. A missing sub is empty. */
enum mailbox_result mailbox_list_dir(struct mailbox *mb, bool in_cur, struct listing *l,
                                     char **error_r)
{
    const char *sub = in_cur ? "cur" : "new";
    int dfd = openat(mb->fd, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR *dir;
    struct dirent *de;

    if (dfd < 0) {
        if (errno == ENOENT)
            return MAILBOX_OK;
        error_set(error_r, "open %s/: %s", sub, strerror(errno));
        return MAILBOX_TEMPFAIL;
    }
    dir = fdopendir(dfd);
    if (dir == NULL) {
        error_set(error_r, "open %s/: %s", sub, strerror(errno));
        close(dfd);
        return MAILBOX_TEMPFAIL;
    }
    while ((errno = 0, de = readdir(dir)) != NULL) {
        size_t len = strlen(de->d_name), blen = base_len(de->d_name);
        if (de->d_type != DT_REG && de->d_type != DT_UNKNOWN)
            continue;
        if (!mailbox_index_field_valid(de->d_name, len) || blen == 0)
            continue; /* ".", "..", dot files, names the index cannot hold */
        if (l->count == l->alloc) {
            size_t alloc = l->alloc == 0 ? 64 : l->alloc * 2;
            struct listed *items = realloc(l->items, alloc * sizeof(*items));
            if (items == NULL)
                goto nomem;
            l->items = items;
            l->alloc = alloc;
        }
        l->items[l->count].name = strdup(de->d_name);
        if (l->items[l->count].name == NULL)
            goto nomem;
        l->items[l->count].base_len = blen;
        l->items[l->count].in_cur = in_cur;
        l->items[l->count].used = false;
        l->count++;
    }
    if (errno != 0) {
        error_set(error_r, "readdir %s/: %s", sub, strerror(errno));
        closedir(dir);
        return MAILBOX_TEMPFAIL;
    }
    closedir(dir);
    return MAILBOX_OK;
nomem:
    closedir(dir);
    error_set(error_r, "out of memory");
    return MAILBOX_TEMPFAIL;
}

/* move_new_files - rename every file in new/ to cur/ with ":2," as a
 * reader that has seen it. ENOENT: another session moved it first. */
static void move_new_files(struct mailbox *mb)
{
    struct listing l = {0};
    char *err = NULL;

    if (mailbox_list_dir(mb, false, &l, &err) != MAILBOX_OK) {
        free(err);
        return; /* the listing that follows reports it */
    }
    for (size_t i = 0; i < l.count; i++) {
        char from[300], to[300];
        snprintf(from, sizeof(from), "new/%s", l.items[i].name);
        snprintf(to, sizeof(to), "cur/%s%s", l.items[i].name,
                 strchr(l.items[i].name, ':') != NULL ? "" : ":2,");
        if (renameat(mb->fd, from, mb->fd, to) < 0 && errno != ENOENT) {
            char qbuf[300];
            log_warning("event=mailbox_move_new_failed file=%s error=%s",
                        log_quote(qbuf, sizeof(qbuf), from), strerror(errno));
        }
    }
    mailbox_listing_clear(&l);
}

/* dir_mtimes - the mtimes of new/ and cur/ ({0,0} for a missing one). */
enum mailbox_result mailbox_dir_mtimes(struct mailbox *mb, struct timespec ts[2], bool *any_r,
                                       char **error_r)
{
    static const char *const subs[] = {"new", "cur"};

    *any_r = false;
    for (int i = 0; i < 2; i++) {
        struct stat st;
        if (fstatat(mb->fd, subs[i], &st, AT_SYMLINK_NOFOLLOW) < 0) {
            if (errno != ENOENT) {
                error_set(error_r, "stat %s/: %s", subs[i], strerror(errno));
                return MAILBOX_TEMPFAIL;
            }
            ts[i] = (struct timespec){0, 0};
            continue;
        }
        *any_r = true;
        ts[i] = st.st_mtim;
    }
    return MAILBOX_OK;
}

static bool same_time(struct timespec a, struct timespec b)
{
    return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

/* How long after a directory's mtime a listing must begin for that mtime to
 * vouch for the listing: a change later in the same clock tick leaves the
 * mtime as it was and would be missed (Dovecot's rule; a tick is a few
 * milliseconds, some file systems' a second or two). */
#define MTIME_SETTLE_SEC 2

static bool ts_before(struct timespec a, struct timespec b)
{
    return a.tv_sec < b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec < b.tv_nsec);
}

/* settled - whether a listing begun at when can vouch for changes up to
 * the mtimes ts (both known). */
static bool settled(const struct timespec ts[2], struct timespec when)
{
    struct timespec last = ts_before(ts[0], ts[1]) ? ts[1] : ts[0];
    if (ts[0].tv_sec == 0 || ts[1].tv_sec == 0)
        return false;
    last.tv_sec += MTIME_SETTLE_SEC;
    return !ts_before(when, last);
}

/* index_vouches - whether the index's recorded mtimes may be trusted by a
 * handle that has not listed the folder itself: the index was written at
 * least MTIME_SETTLE_SEC after them. A listing writes it at once, and a
 * change batch records the mtimes its own change just gave, so only a
 * listing begun that late writes an index that vouches (a listing that
 * took longer records them as unknown). */
static bool index_vouches(const struct mailbox *mb)
{
    const struct timespec rec[2] = {mb->index.new_mtime, mb->index.cur_mtime};
    return mb->index_st_valid && settled(rec, mb->index_st.st_mtim);
}

/* listed_lately - whether this handle listed the folder less than
 * MTIME_SETTLE_SEC ago: a change hidden in the clock tick of the mtime
 * recorded last is then found by its next listing, at most that late. */
static bool listed_lately(const struct mailbox *mb, const struct timespec *now)
{
    struct timespec until = mb->last_scan;
    if (until.tv_sec == 0)
        return false;
    until.tv_sec += MTIME_SETTLE_SEC;
    return ts_before(*now, until);
}

/* crlf_size - the size of sub/name with every LF not after a CR counted as
 * CRLF, and a last line without a line end counted with the CRLF a reader
 * must send to end it (RFC 1939 3: POP3's terminating "." stands on a line
 * of its own), so that LIST's size is what RETR sends; -1 with errno
 * (ENOENT: gone meanwhile). */
static int64_t crlf_size(struct mailbox *mb, const char *name, bool in_cur)
{
    char path[300], buf[65536];
    int fd;
    int64_t size = 0;
    bool last_cr = false;
    char last = '\n';

    snprintf(path, sizeof(path), "%s/%s", in_cur ? "cur" : "new", name);
    fd = openat(mb->fd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -1;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            close(fd);
            errno = e;
            return -1;
        }
        if (n == 0)
            break;
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] == '\n' && !last_cr)
                size++;
            last_cr = buf[i] == '\r';
        }
        size += n;
        last = buf[n - 1];
    }
    close(fd);
    if (last != '\n')
        size += last_cr ? 1 : 2; /* a last CR gets its LF, else CRLF */
    return size;
}

static int compare_base(const struct listed *x, const struct listed *y);

/* compare_listed - by base, the cur/ one of a base first. */
static int compare_listed(const void *a, const void *b)
{
    const struct listed *x = a, *y = b;
    int c = compare_base(x, y);

    if (c != 0)
        return c;
    return (int)y->in_cur - (int)x->in_cur; /* cur/ first: the one kept */
}

/* compare_base - listed items by base alone. */
static int compare_base(const struct listed *x, const struct listed *y)
{
    size_t n = x->base_len < y->base_len ? x->base_len : y->base_len;
    int c = memcmp(x->name, y->name, n);

    if (c != 0)
        return c;
    return x->base_len == y->base_len ? 0 : x->base_len < y->base_len ? -1 : 1;
}

/* find_listed - the first of the sorted listing's items whose base is base,
 * or NULL. */
static struct listed *find_listed(struct listing *l, const char *base)
{
    struct listed key = {(char *)base, strlen(base), false, false};
    size_t lo = 0, hi = l->count;

    while (lo < hi) { /* the first item not below key */
        size_t mid = lo + (hi - lo) / 2;
        if (compare_base(&l->items[mid], &key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < l->count && compare_base(&l->items[lo], &key) == 0 ? &l->items[lo] : NULL;
}

/* compare_arrival - new messages by the time their base begins with, then
 * by base. */
static int compare_arrival(const void *a, const void *b)
{
    const struct listed *const *x = a, *const *y = b;
    unsigned long long tx = strtoull((*x)->name, NULL, 10), ty = strtoull((*y)->name, NULL, 10);

    if (tx != ty)
        return tx < ty ? -1 : 1;
    return compare_listed(*x, *y);
}

/* merge - the index from the listing l: entries whose base is gone leave,
 * renamed ones take their new name, the rest get new UIDs. *dirty_r and
 * *new_uids_r say what changed. */
static enum mailbox_result merge(struct mailbox *mb, struct listing *l, bool *dirty_r,
                                 bool *new_uids_r, char **error_r)
{
    struct mailbox_index next = mb->index;
    struct listed **added = NULL;
    size_t added_count = 0;

    if (l->count > 1)
        qsort(l->items, l->count, sizeof(*l->items), compare_listed);
    /* duplicates of one base (a move seen twice): the first, in cur/, counts */
    for (size_t i = 1; i < l->count; i++) {
        if (l->items[i].base_len == l->items[i - 1].base_len &&
            memcmp(l->items[i].name, l->items[i - 1].name, l->items[i].base_len) == 0)
            l->items[i].used = true;
    }
    next.entries = NULL;
    next.count = next.alloc = 0;
    for (size_t i = 0; i < mb->index.count; i++) {
        struct mailbox_index_entry *e = &mb->index.entries[i];
        struct listed *it = find_listed(l, e->base);
        if (it == NULL || it->used) {
            *dirty_r = true;
            continue;
        }
        it->used = true;
        if (strcmp(it->name, e->name) != 0 || it->in_cur != e->in_cur)
            *dirty_r = true;
        if (mailbox_index_append(&next, e->uid, e->base, it->name, it->in_cur, e->size) < 0)
            goto nomem;
    }
    added = malloc((l->count + 1) * sizeof(*added));
    if (added == NULL)
        goto nomem;
    for (size_t i = 0; i < l->count; i++)
        if (!l->items[i].used)
            added[added_count++] = &l->items[i];
    qsort(added, added_count, sizeof(*added), compare_arrival);
    for (size_t i = 0; i < added_count; i++) {
        struct listed *it = added[i];
        int64_t size = maildir_name_crlf_size(it->name);
        char base[256];
        if (size < 0)
            size = crlf_size(mb, it->name, it->in_cur);
        if (size < 0)
            continue; /* gone meanwhile (or unreadable): the next sync sees */
        if (next.uidnext == UINT32_MAX) {
            error_set(error_r, "UIDs exhausted");
            goto fail;
        }
        memcpy(base, it->name, it->base_len);
        base[it->base_len] = '\0';
        if (mailbox_index_append(&next, next.uidnext, base, it->name, it->in_cur, (uint64_t)size) <
            0)
            goto nomem;
        next.uidnext++;
        *dirty_r = true;
        *new_uids_r = true;
    }
    free(added);
    mailbox_index_clear(&mb->index);
    mb->index = next;
    return MAILBOX_OK;
nomem:
    error_set(error_r, "out of memory");
fail:
    free(added);
    mailbox_index_clear(&next);
    return MAILBOX_TEMPFAIL;
}

/* scan - list new/ (first: a file moved to cur/ meanwhile is then seen in
 * cur/) and cur/ until their mtimes hold still over the listing, and merge. */
static enum mailbox_result scan(struct mailbox *mb, struct timespec ts[2], bool *dirty_r,
                                bool *new_uids_r, char **error_r)
{
    struct listing l = {0};
    enum mailbox_result res = MAILBOX_OK;
    bool any;

    for (int tries = 0; tries < SCAN_TRIES; tries++) {
        struct timespec after[2];
        mailbox_listing_clear(&l);
        if (mb->move_new)
            move_new_files(mb);
        res = mailbox_dir_mtimes(mb, ts, &any, error_r);
        if (res == MAILBOX_OK)
            res = mailbox_list_dir(mb, false, &l, error_r);
        if (res == MAILBOX_OK)
            res = mailbox_list_dir(mb, true, &l, error_r);
        if (res == MAILBOX_OK)
            res = mailbox_dir_mtimes(mb, after, &any, error_r);
        if (res != MAILBOX_OK) {
            mailbox_listing_clear(&l);
            return res;
        }
        if (same_time(ts[0], after[0]) && same_time(ts[1], after[1]))
            break;
        ts[0] = ts[1] = (struct timespec){0, 0}; /* changed under us: do not trust */
    }
    res = merge(mb, &l, dirty_r, new_uids_r, error_r);
    mailbox_listing_clear(&l);
    return res;
}

/* compact - drop the entries this process expunged (they were kept until
 * this sync so that the message numbers held still). */
static void compact(struct mailbox *mb)
{
    size_t kept = 0;
    for (size_t i = 0; i < mb->index.count; i++) {
        struct mailbox_index_entry *e = &mb->index.entries[i];
        if (e->gone) {
            free(e->base);
            free(e->name);
            mb->msgs_stale = true;
            continue;
        }
        mb->index.entries[kept++] = *e;
    }
    mb->index.count = kept;
}

/* rebuild_msgs - the API's view of the index. */
static enum mailbox_result rebuild_msgs(struct mailbox *mb, char **error_r)
{
    for (size_t i = 0; i < mb->old_count; i++)
        free(mb->old_names[i]);
    mb->old_count = 0;
    if (!mb->msgs_stale && mb->msgs != NULL)
        return MAILBOX_OK;
    free(mb->msgs);
    mb->msgs = calloc(mb->index.count + 1, sizeof(*mb->msgs));
    if (mb->msgs == NULL) {
        error_set(error_r, "out of memory");
        return MAILBOX_TEMPFAIL;
    }
    for (size_t i = 0; i < mb->index.count; i++) {
        const struct mailbox_index_entry *e = &mb->index.entries[i];
        mb->msgs[i] = (struct mailbox_msg){e->uid,  e->base,
                                           e->name, e->in_cur ? "cur" : "new",
                                           e->size, mailbox_flags_of(e->name)};
    }
    mb->msgs_stale = false;
    return MAILBOX_OK;
}

/* need_scan - whether the folder must be listed: its mtimes moved from
 * those the index recorded, or nothing vouches for them. */
static bool need_scan(const struct mailbox *mb, const struct timespec ts[2],
                      const struct timespec *now)
{
    return mb->force_scan || mb->index.new_mtime.tv_sec == 0 || mb->index.cur_mtime.tv_sec == 0 ||
           !same_time(ts[0], mb->index.new_mtime) || !same_time(ts[1], mb->index.cur_mtime) ||
           !(index_vouches(mb) || listed_lately(mb, now));
}

/* sync_unlocked - the common case without the lock: the index is the file
 * we know and the mtimes say nothing happened. true when that is so. */
static bool sync_unlocked(struct mailbox *mb)
{
    struct timespec ts[2], now;
    bool any, missing;
    char *err = NULL;

    if (mb->force_scan || !mailbox_index_unchanged(mb, &missing))
        return false;
    if (mailbox_dir_mtimes(mb, ts, &any, &err) != MAILBOX_OK) {
        free(err);
        return false; /* the locked path reports it */
    }
    clock_gettime(CLOCK_REALTIME, &now);
    return any && !need_scan(mb, ts, &now);
}

enum mailbox_result mailbox_sync(struct mailbox *mb, char **error_r)
{
    bool dirty = false, new_uids = false, any;
    struct timespec ts[2], now, began;
    enum mailbox_result res;

    if (mb->lock_fd >= 0) {
        error_set(error_r, "sync inside a change batch");
        return MAILBOX_TEMPFAIL;
    }
    compact(mb);
    if (sync_unlocked(mb))
        return rebuild_msgs(mb, error_r);
    int lock_fd = mailbox_lock_index(mb, error_r);
    if (lock_fd < 0)
        return MAILBOX_TEMPFAIL;
    res = mailbox_load_index(mb, lock_fd, &dirty, error_r);
    if (res == MAILBOX_OK)
        res = mailbox_dir_mtimes(mb, ts, &any, error_r);
    if (res == MAILBOX_OK && !any && mb->index.count == 0) {
        error_set(error_r, "no new/ or cur/");
        res = MAILBOX_MISSING;
    }
    clock_gettime(CLOCK_REALTIME, &began);
    if (res == MAILBOX_OK && (dirty || need_scan(mb, ts, &began))) {
        bool vouched = index_vouches(mb);
        res = scan(mb, ts, &dirty, &new_uids, error_r);
        if (res == MAILBOX_OK) {
            mb->last_scan = began;
            mb->force_scan = false;
            mb->msgs_stale = true;
            clock_gettime(CLOCK_REALTIME, &now);
            /* the index is written now: when that is late enough to make it
             * vouch for mtimes this listing began too early to see settle,
             * they are recorded as unknown */
            if (!settled(ts, began) && settled(ts, now))
                ts[0] = ts[1] = (struct timespec){0, 0};
            if (!same_time(ts[0], mb->index.new_mtime) || !same_time(ts[1], mb->index.cur_mtime) ||
                (settled(ts, began) && !vouched))
                dirty = true;
            mb->index.new_mtime = ts[0];
            mb->index.cur_mtime = ts[1];
        }
    }
    if (res == MAILBOX_OK && dirty)
        res = mailbox_write_index(mb, new_uids || !mb->index_st_valid, error_r);
    close(lock_fd); /* drops the OFD lock */
    if (res == MAILBOX_OK)
        res = rebuild_msgs(mb, error_r);
    return res;
}

void mailbox_want_scan(struct mailbox *mb)
{
    mb->force_scan = true;
}

enum mailbox_result mailbox_open(int maildir_fd, bool move_new, const char *hostname,
                                 struct mailbox **mailbox_r, char **error_r)
{
    struct mailbox *mb = calloc(1, sizeof(*mb));
    enum mailbox_result res;

    if (mb == NULL || (mb->hostname = strdup(hostname != NULL ? hostname : "localhost")) == NULL) {
        free(mb);
        error_set(error_r, "out of memory");
        return MAILBOX_TEMPFAIL;
    }
    /* the hostname goes into a file name: nothing that could leave the folder */
    for (char *p = mb->hostname; *p != '\0'; p++)
        if (*p == '/' || (unsigned char)*p < 0x21 || *p == 0x7f)
            *p = '_';
    mb->move_new = move_new;
    mb->root_fd = -1;
    mb->index_fd = -1;
    mb->lock_fd = -1;
    mb->fd = fcntl(maildir_fd, F_DUPFD_CLOEXEC, 0);
    if (mb->fd < 0) {
        error_set(error_r, "dup: %s", strerror(errno));
        mailbox_close(&mb);
        return MAILBOX_TEMPFAIL;
    }
    /* a Maildir++ folder (it has "maildirfolder") keeps its quota in the parent */
    if (faccessat(mb->fd, "maildirfolder", F_OK, AT_SYMLINK_NOFOLLOW) == 0)
        mb->root_fd = openat(mb->fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    else
        mb->root_fd = fcntl(mb->fd, F_DUPFD_CLOEXEC, 0);
    res = mailbox_sync(mb, error_r);
    if (res != MAILBOX_OK) {
        mailbox_close(&mb);
        return res;
    }
    *mailbox_r = mb;
    return MAILBOX_OK;
}

void mailbox_close(struct mailbox **mailbox)
{
    struct mailbox *mb = *mailbox;

    if (mb == NULL)
        return;
    *mailbox = NULL;
    if (mb->fd >= 0)
        close(mb->fd);
    if (mb->root_fd >= 0)
        close(mb->root_fd);
    if (mb->index_fd >= 0)
        close(mb->index_fd);
    if (mb->lock_fd >= 0)
        close(mb->lock_fd);
    mailbox_index_clear(&mb->index);
    for (size_t i = 0; i < mb->old_count; i++)
        free(mb->old_names[i]);
    free(mb->old_names);
    free(mb->msgs);
    free(mb->hostname);
    free(mb);
}

uint32_t mailbox_uidvalidity(const struct mailbox *mb)
{
    return mb->index.uidvalidity;
}

uint32_t mailbox_uidnext(const struct mailbox *mb)
{
    return mb->index.uidnext;
}

int mailbox_folder_fd(const struct mailbox *mb)
{
    return mb->fd;
}

size_t mailbox_count(const struct mailbox *mb)
{
    return mb->index.count;
}

const struct mailbox_msg *mailbox_msg(const struct mailbox *mb, size_t index)
{
    return index < mb->index.count ? &mb->msgs[index] : NULL;
}
