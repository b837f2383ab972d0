/* delivery/mailbox_msg.c - one message of a mailbox: its file opened, its
 * flags set by renaming it, its expunge; each looks for the file again by
 * its base when another program renamed or removed it. See mailbox.h. */
#include "config.h"

#include "delivery/mailbox_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "delivery/maildir_name.h"
#include "delivery/maildir_quota.h"
#include "lib/error.h"
#include "lib/log.h"

/* ---- change batches ---- */

enum mailbox_result mailbox_change_begin(struct mailbox *mb, char **error_r)
{
    struct timespec ts[2];
    bool any, missing;
    char *err = NULL;

    if (mb->lock_fd >= 0) {
        error_set(error_r, "change batch already open");
        return MAILBOX_TEMPFAIL;
    }
    mb->lock_fd = mailbox_lock_index(mb, error_r);
    if (mb->lock_fd < 0)
        return MAILBOX_TEMPFAIL;
    mb->batch_changed = false;
    /* under the lock nobody else of ours changes the folder: when the index
     * and both mtimes are what we last knew, whatever changes while we hold
     * it is ours, and the mtimes after it are ours to record */
    mb->batch_explained =
        !mb->force_scan && mailbox_index_unchanged(mb, &missing) &&
        mailbox_dir_mtimes(mb, ts, &any, &err) == MAILBOX_OK && ts[0].tv_sec != 0 &&
        ts[1].tv_sec != 0 && ts[0].tv_sec == mb->index.new_mtime.tv_sec &&
        ts[0].tv_nsec == mb->index.new_mtime.tv_nsec &&
        ts[1].tv_sec == mb->index.cur_mtime.tv_sec && ts[1].tv_nsec == mb->index.cur_mtime.tv_nsec;
    free(err);
    return MAILBOX_OK;
}

void mailbox_change_end(struct mailbox *mb)
{
    struct timespec ts[2];
    bool any;
    char *err = NULL;

    if (mb->lock_fd < 0)
        return;
    if (mb->batch_changed) {
        /* our changes are written through, with the mtimes they gave, so
         * that the other sessions read them instead of listing the folder;
         * when someone else's change may be mixed in, the index is marked
         * so that everyone lists it (a change of theirs in the same clock
         * tick as ours leaves the mtimes as ours made them) */
        if (mb->batch_explained && mailbox_dir_mtimes(mb, ts, &any, &err) == MAILBOX_OK) {
            mb->index.new_mtime = ts[0];
            mb->index.cur_mtime = ts[1];
            if (mailbox_write_index(mb, false, &err) != MAILBOX_OK)
                mb->force_scan = true;
        } else if (mailbox_index_distrust(mb, &err) != MAILBOX_OK) {
            mb->force_scan = true;
        }
        if (err != NULL) {
            char qbuf[200];
            log_warning("event=mailbox_index_not_written error=%s",
                        log_quote(qbuf, sizeof(qbuf), err));
            free(err);
        }
    }
    close(mb->lock_fd); /* drops the OFD lock */
    mb->lock_fd = -1;
    mb->batch_changed = false;
}

enum mailbox_result mailbox_batch_enter(struct mailbox *mb, bool *own_r, char **error_r)
{
    *own_r = mb->lock_fd < 0;
    return *own_r ? mailbox_change_begin(mb, error_r) : MAILBOX_OK;
}

void mailbox_batch_leave(struct mailbox *mb, bool own, bool changed)
{
    if (changed)
        mb->batch_changed = true;
    if (own)
        mailbox_change_end(mb);
}

/* set_name - message index is now sub/name: the old name is kept until the
 * next sync, as the API promises its strings. */
static enum mailbox_result set_name(struct mailbox *mb, size_t index, const char *name, bool in_cur,
                                    char **error_r)
{
    struct mailbox_index_entry *e = &mb->index.entries[index];
    char *copy = strdup(name);
    char **old = realloc(mb->old_names, (mb->old_count + 1) * sizeof(*old));

    if (old != NULL)
        mb->old_names = old;
    if (copy == NULL || old == NULL) {
        free(copy);
        error_set(error_r, "out of memory");
        return MAILBOX_TEMPFAIL;
    }
    mb->old_names[mb->old_count++] = e->name;
    e->name = copy;
    e->in_cur = in_cur;
    mb->msgs[index].name = e->name;
    mb->msgs[index].subdir = in_cur ? "cur" : "new";
    mb->msgs[index].flags = mailbox_flags_of(e->name);
    return MAILBOX_OK;
}

/* relocate - message index's file is not where we saw it: look for its base
 * in cur/ and new/ (another session renamed or moved it). OK with the name
 * updated, GONE, or TEMPFAIL. */
static enum mailbox_result relocate(struct mailbox *mb, size_t index, char **error_r)
{
    struct mailbox_index_entry *e = &mb->index.entries[index];
    struct listing l = {0};
    enum mailbox_result res = mailbox_list_dir(mb, false, &l, error_r);

    mb->batch_explained = false; /* someone else moved it: their change is not in our index */

    if (res == MAILBOX_OK)
        res = mailbox_list_dir(mb, true, &l, error_r);
    if (res == MAILBOX_OK) {
        res = MAILBOX_GONE;
        for (size_t i = 0; i < l.count && res == MAILBOX_GONE; i++) {
            if (maildir_name_has_base(l.items[i].name, e->base) &&
                l.items[i].base_len == strlen(e->base))
                res = set_name(mb, index, l.items[i].name, l.items[i].in_cur, error_r);
        }
        if (res == MAILBOX_GONE)
            error_set(error_r, "message %" PRIu32 " was deleted", e->uid);
    }
    mailbox_listing_clear(&l);
    return res;
}

static void msg_path(const struct mailbox *mb, size_t index, char *buf, size_t size)
{
    const struct mailbox_index_entry *e = &mb->index.entries[index];
    snprintf(buf, size, "%s/%s", e->in_cur ? "cur" : "new", e->name);
}

enum mailbox_result mailbox_msg_open(struct mailbox *mb, size_t index, int *fd_r, char **error_r)
{
    char path[300];

    if (index >= mb->index.count) {
        error_set(error_r, "no message %zu", index);
        return MAILBOX_GONE;
    }
    for (int tries = 0; tries < SCAN_TRIES; tries++) {
        int fd;
        enum mailbox_result res;
        msg_path(mb, index, path, sizeof(path));
        fd = openat(mb->fd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0) {
            *fd_r = fd;
            return MAILBOX_OK;
        }
        if (errno != ENOENT) {
            error_set(error_r, "open %s: %s", path, strerror(errno));
            return MAILBOX_TEMPFAIL;
        }
        res = relocate(mb, index, error_r);
        if (res != MAILBOX_OK)
            return res;
    }
    error_set(error_r, "open %s: keeps moving", path);
    return MAILBOX_TEMPFAIL;
}

/* flagged_name - base and fields of name with the info part ":2,<letters>":
 * flags in DFPRST and the keyword letters a-z, the other letters of name's
 * ":2," (none we know) kept, all in ASCII order. */
static int flagged_name(const char *name, unsigned flags, char *buf, size_t size)
{
    static const char std[] = "DFPRST";
    const char *info = strchr(name, ':');
    bool have[128] = {false};
    size_t keep = info != NULL ? (size_t)(info - name) : strlen(name), len;

    if (info != NULL && strncmp(info, ":2,", 3) == 0) {
        for (const char *p = info + 3; *p != '\0'; p++)
            if ((unsigned char)*p < 128 && strchr(std, *p) == NULL && !(*p >= 'a' && *p <= 'z'))
                have[(unsigned char)*p] = true;
    }
    for (int i = 0; std[i] != '\0'; i++)
        if (flags & (1u << i))
            have[(unsigned char)std[i]] = true;
    for (int i = 0; i < MAILBOX_KEYWORDS_MAX; i++)
        if (flags & MAILBOX_FLAG_KEYWORD(i))
            have['a' + i] = true;
    if (keep + 4 > size)
        return -1;
    memcpy(buf, name, keep);
    memcpy(buf + keep, ":2,", 3);
    len = keep + 3;
    for (int c = 0x21; c < 0x7f; c++) {
        if (!have[c] || c == '/' || c == ':' || c == ',')
            continue;
        if (len + 2 > size)
            return -1;
        buf[len++] = (char)c;
    }
    buf[len] = '\0';
    return 0;
}

static enum mailbox_result set_flags(struct mailbox *mb, size_t index, unsigned flags,
                                     bool *changed_r, char **error_r)
{
    if (index >= mb->index.count) {
        error_set(error_r, "no message %zu", index);
        return MAILBOX_GONE;
    }
    for (int tries = 0; tries < SCAN_TRIES; tries++) {
        struct mailbox_index_entry *e = &mb->index.entries[index];
        char from[300], name[256], to[300];
        enum mailbox_result res;

        if (flagged_name(e->name, flags, name, sizeof(name)) < 0) {
            error_set(error_r, "flags make the name of %s too long", e->name);
            return MAILBOX_TEMPFAIL;
        }
        if (e->in_cur && strcmp(name, e->name) == 0)
            return MAILBOX_OK;
        msg_path(mb, index, from, sizeof(from));
        snprintf(to, sizeof(to), "cur/%s", name);
        if (renameat(mb->fd, from, mb->fd, to) == 0) {
            *changed_r = true;
            return set_name(mb, index, name, true, error_r);
        }
        if (errno != ENOENT) {
            error_set(error_r, "rename %s: %s", from, strerror(errno));
            return MAILBOX_TEMPFAIL;
        }
        res = relocate(mb, index, error_r);
        if (res != MAILBOX_OK)
            return res;
    }
    error_set(error_r, "message %" PRIu32 " keeps moving", mb->index.entries[index].uid);
    return MAILBOX_TEMPFAIL;
}

enum mailbox_result mailbox_msg_set_flags(struct mailbox *mb, size_t index, unsigned flags,
                                          char **error_r)
{
    bool own, changed = false;
    enum mailbox_result res = mailbox_batch_enter(mb, &own, error_r);

    if (res != MAILBOX_OK)
        return res;
    res = set_flags(mb, index, flags, &changed, error_r);
    mailbox_batch_leave(mb, own, changed);
    return res;
}

static enum mailbox_result expunge(struct mailbox *mb, size_t index, bool *changed_r,
                                   char **error_r)
{
    if (index >= mb->index.count) {
        error_set(error_r, "no message %zu", index);
        return MAILBOX_GONE;
    }
    for (int tries = 0; tries < SCAN_TRIES; tries++) {
        char path[300];
        struct stat st;
        int64_t bytes;
        enum mailbox_result res;

        msg_path(mb, index, path, sizeof(path));
        bytes = maildir_name_size(mb->index.entries[index].name);
        if (bytes < 0 && fstatat(mb->fd, path, &st, AT_SYMLINK_NOFOLLOW) == 0)
            bytes = st.st_size;
        if (unlinkat(mb->fd, path, 0) == 0) {
            char *qerr = NULL;
            *changed_r = true;
            mb->index.entries[index].gone = true;
            if (mb->root_fd >= 0 && bytes >= 0 &&
                maildir_quota_add(mb->root_fd, -bytes, -1, &qerr) < 0) {
                char qbuf[200];
                log_warning("event=mailbox_quota_update_failed error=%s",
                            log_quote(qbuf, sizeof(qbuf), qerr != NULL ? qerr : "?"));
            }
            free(qerr);
            return MAILBOX_OK;
        }
        if (errno != ENOENT) {
            error_set(error_r, "unlink %s: %s", path, strerror(errno));
            return MAILBOX_TEMPFAIL;
        }
        res = relocate(mb, index, error_r);
        if (res == MAILBOX_GONE) {
            /* someone else's unlink: it is theirs to record, and a listing
             * finds it if they do not */
            *changed_r = true;
            mb->index.entries[index].gone = true;
            if (error_r != NULL) {
                free(*error_r);
                *error_r = NULL;
            }
            return MAILBOX_OK; /* someone else deleted it (and counted it) */
        }
        if (res != MAILBOX_OK)
            return res;
    }
    error_set(error_r, "message %" PRIu32 " keeps moving", mb->index.entries[index].uid);
    return MAILBOX_TEMPFAIL;
}

enum mailbox_result mailbox_msg_expunge(struct mailbox *mb, size_t index, char **error_r)
{
    bool own, changed = false;
    enum mailbox_result res = mailbox_batch_enter(mb, &own, error_r);

    if (res != MAILBOX_OK)
        return res;
    res = expunge(mb, index, &changed, error_r);
    mailbox_batch_leave(mb, own, changed);
    return res;
}
