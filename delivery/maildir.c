/* delivery/maildir.c - one message into one Maildir: tmp/ write with CRLF->LF,
 * fsync, quota check, link into new/, fsync new/; the folders on the way
 * are maildir_dirs.c's. See maildir.h. */
#include "config.h"

#include "delivery/maildir.h"
#include "delivery/maildir_dirs.h"
#include "delivery/maildir_name.h"
#include "delivery/maildir_path.h"
#include "delivery/maildir_quota.h"
#include "lib/error.h"
#include "lib/header.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define OUT_BUFFER_SIZE 65536
#define MAX_CREATE_TRIES 16

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
    struct maildir_dir_syncs syncs;
    enum { STAGE_WRITING, STAGE_WRITTEN, STAGE_LINKED } stage;
    bool linked_not_renamed; /* STAGE_LINKED: the tmp/ name is still there */
    /* stable_key: this delivery's earlier file ("new/<name>" or
     * "cur/<name>"), found and fsync'd; nothing of ours is in tmp/ */
    char *earlier;
    char new_name[512 + 32];
    char info_flags[40]; /* target->flags checked: letters of "DFPRST" then a-z, in order */
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

bool maildir_result_permanent(enum maildir_result result, const struct maildir_target *target)
{
    return result == MAILDIR_PERMFAIL ||
           (result == MAILDIR_QUOTA_EXCEEDED && target != NULL && target->quota_permanent);
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
        maildir_fd_close(&d->fd);
        if (unlink_tmp)
            unlinkat(d->tmp_fd, d->name, 0);
    }
    maildir_fd_close(&d->tmp_fd);
    maildir_fd_close(&d->new_fd);
    maildir_dir_close_syncs(&d->syncs);
    if (d->box_fd != d->root_fd)
        maildir_fd_close(&d->box_fd);
    maildir_fd_close(&d->root_fd);
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

/* find_earlier - check_delivered: the earlier file of this delivery in new/
 * or cur/ into d->earlier, if there is one. */
static enum maildir_result find_earlier(struct maildir_delivery *d, char **error_r)
{
    static const char *const subs[] = {"new", "cur"};

    for (size_t i = 0; i < 2; i++) {
        int r = maildir_dir_find_base(d->box_fd, subs[i], d->name, &d->earlier, error_r);
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
    char *header = NULL;
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
    if (!target->no_trace_fields) {
        res = trace_fields(sender, recipient, &header, &header_len, error_r);
        if (res != MAILDIR_DELIVERED)
            return res;
    }
    d = calloc(1, sizeof(*d));
    if (d == NULL) {
        free(header);
        error_set(error_r, "out of memory");
        return MAILDIR_TEMPFAIL;
    }
    d->target = target;
    if (target->flags != NULL) {
        /* only the six flags of the Maildir spec and the keyword letters
         * (Dovecot's, delivery/maildir_keywords.h), each once and in ASCII
         * order, as readers expect them (doc/mailbox.md) */
        size_t k = 0;
        for (const char *f = "DFPRSTabcdefghijklmnopqrstuvwxyz"; *f != '\0'; f++)
            if (strchr(target->flags, *f) != NULL)
                d->info_flags[k++] = *f;
        d->info_flags[k] = '\0';
    }
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

    res = maildir_dir_open_mailbox(target->base, target->mailbox, &d->root_fd, &d->syncs, error_r);
    if (res != MAILDIR_DELIVERED)
        goto fail;
    rel = maildir_path_relative(target->base, target->mailbox);
    if (target->folder != NULL && target->folder[0] != '\0') {
        res = maildir_dir_open_folder(d->root_fd, target->folder, &d->box_fd, error_r);
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
        res = maildir_dir_open_subdirs(d->root_fd, NULL, NULL, &d->syncs, error_r);
        if (res != MAILDIR_DELIVERED)
            goto fail;
    }
    res = maildir_dir_open_subdirs(d->box_fd, &d->new_fd, &d->tmp_fd, &d->syncs, error_r);
    if (res != MAILDIR_DELIVERED)
        goto fail;
    /* A message stored with flags goes to cur/ with its info part (the
     * Maildir spec keeps new/ for messages no reader has seen, without
     * one): "new_fd" is then cur/, and the name ends ":2,<flags>". */
    if (d->info_flags[0] != '\0') {
        int cur_fd = openat(d->box_fd, "cur", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (cur_fd < 0) {
            error_set(error_r, "open cur/: %s", strerror(errno));
            res = io_result(errno);
            goto fail;
        }
        maildir_fd_close(&d->new_fd);
        d->new_fd = cur_fd;
    }
    maildir_dir_sweep_tmp(d->tmp_fd);
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
    res = header_len > 0 ? emit(d, header, header_len, error_r) : MAILDIR_DELIVERED;
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
    maildir_fd_close(&d->fd);
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
    n = snprintf(d->new_name, sizeof(d->new_name), "%s,S=%" PRIu64 ",W=%" PRIu64 "%s%s", d->name,
                 d->size, d->crlf_size, d->info_flags[0] != '\0' ? ":2," : "", d->info_flags);
    if (n < 0 || n > NAME_MAX - 29)
        n = snprintf(d->new_name, sizeof(d->new_name), "%s,S=%" PRIu64 "%s%s", d->name, d->size,
                     d->info_flags[0] != '\0' ? ":2," : "", d->info_flags);
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
        maildir_dir_syncs_done(&d->syncs);
    } else {
        res = maildir_dir_run_syncs(&d->syncs, error_r);
        if (res != MAILDIR_DELIVERED)
            goto fail;
    }
    maildir_fd_close(&d->fd);
    if (d->linked_not_renamed)
        unlinkat(d->tmp_fd, d->name, 0);
    /* The quota file is an estimate that recalculation repairs: a failed
     * append does not undo a delivered message. */
    {
        char *quota_error = NULL;
        if (maildir_quota_add(d->root_fd, (int64_t)d->size, 1, &quota_error) < 0)
            free(quota_error);
    }
    if (path_r != NULL && asprintf(path_r, "%s/%s/%s", d->rel_box,
                                   d->info_flags[0] != '\0' ? "cur" : "new", d->new_name) < 0)
        *path_r = NULL;
    delivery_free(delivery, false);
    return MAILDIR_DELIVERED;

fail:
    /* A link into new/ that is not durable is taken back (its tmp/ name
     * goes with delivery_free); after a rename the tmp/ name is gone. */
    if (d->stage == STAGE_LINKED) {
        unlinkat(d->new_fd, d->new_name, 0);
        if (!d->linked_not_renamed)
            maildir_fd_close(&d->fd);
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
            maildir_fd_close(&d->fd);
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
