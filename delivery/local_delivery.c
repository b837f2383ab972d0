/* delivery/local_delivery.c - Maildir delivery for one user, alone or in a
 * batch (see local_delivery.h).
 *
 * A batch holds deliveries written to tmp/ (maildir_deliver_fd_begin) and
 * settles them together. On a journalled file system the first fsync of
 * each round commits the others' changes too, so a batch of 16 costs a few
 * journal commits where one at a time cost three each; every delivery
 * still gets its own fsyncs. Where delivery.sync_method says so (or "auto"
 * finds the file system journalled, fs_sync.h), a syncfs per file system
 * before the links and one after replace those fsyncs. */
#include "config.h"

#include "delivery/local_delivery.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "delivery/fs_sync.h"
#include "lib/log.h"

/* A Maildir delivery written to tmp/ and waiting for the batch's settle
 * (link, fsyncs) before its result is known. */
struct pending {
    struct maildir_delivery *delivery;
    struct maildir_target target;       /* the delivery points into it */
    char key[LOCAL_STABLE_KEY_MAX + 1]; /* target.stable_key */
    dev_t dev;                          /* its file system, for the syncfs rounds */
    bool synced;                        /* this syncfs round covered it */
    char *mailbox;                      /* target.mailbox, owned */
    const char *log_id, *rcpt;          /* for the log; the request's */
    struct local_result *out;           /* where the result goes */
    local_settled_fn *settled;
    void *settled_ctx;
};

struct local_batch {
    struct local_delivery_config conf;
    struct pending pending[LOCAL_BATCH_MAX];
    size_t count;
};

/* delivery.sync_method "auto": what each mailbox file system got, for the
 * whole process (asked and logged once per file system). */
static pthread_mutex_t fs_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fs_choice {
    dev_t dev;
    bool syncfs;
} fs_choices[32];
static size_t fs_choice_count;

void local_result_set(struct local_result *out, enum delivery_status status, const char *arg)
{
    out->state = delivery_status_permanent(status) ? LOCAL_FAILED : LOCAL_DEFERRED;
    out->already = false;
    out->status = status;
    delivery_status_format(out->reply, sizeof out->reply, status, arg);
}

void local_result_from_maildir(struct local_result *out, enum maildir_result res,
                               const struct maildir_target *target, const char *error)
{
    switch (res) {
    case MAILDIR_DELIVERED:
    case MAILDIR_ALREADY_DELIVERED:
        /* already: an attempt before this one delivered it and died before
         * its record; recorded now, not delivered twice */
        *out = (struct local_result){.state = LOCAL_DELIVERED,
                                     .already = res == MAILDIR_ALREADY_DELIVERED};
        break;
    case MAILDIR_QUOTA_EXCEEDED:
        local_result_set(out,
                         maildir_result_permanent(res, target) ? DELIVERY_STATUS_MAILBOX_FULL_PERM
                                                               : DELIVERY_STATUS_MAILBOX_FULL,
                         error != NULL ? error : "quota");
        break;
    case MAILDIR_PERMFAIL:
        local_result_set(out, DELIVERY_STATUS_MAILBOX_UNUSABLE, error != NULL ? error : "?");
        break;
    case MAILDIR_TEMPFAIL:
    default:
        local_result_set(out, DELIVERY_STATUS_DELIVERY_FAILED, error != NULL ? error : "?");
        break;
    }
}

/* safe_component - a local part or domain usable as one path component. */
static bool safe_component(const char *s)
{
    if (s[0] == '\0' || s[0] == '.')
        return false;
    for (const char *p = s; *p != '\0'; p++) {
        if (*p == '/' || (unsigned char)*p < 0x21 || *p == 0x7f)
            return false;
    }
    return true;
}

char *local_default_mailbox(const char *address)
{
    if (address == NULL)
        return NULL;
    const char *at = strrchr(address, '@');
    if (at == NULL)
        return NULL;
    char *local = strndup(address, (size_t)(at - address));
    char *domain = strdup(at + 1);
    char *path = NULL;
    if (local != NULL && domain != NULL && safe_component(local) && safe_component(domain)) {
        for (char *p = local; *p != '\0'; p++)
            *p = (char)tolower((unsigned char)*p);
        for (char *p = domain; *p != '\0'; p++)
            *p = (char)tolower((unsigned char)*p);
        if (asprintf(&path, "%s/%s/Maildir", domain, local) < 0)
            path = NULL;
    }
    free(local);
    free(domain);
    return path;
}

/* report - p's result is final: fill it, log a delivery, tell the caller. */
static void report(struct pending *p, enum maildir_result res, const char *path, const char *error)
{
    local_result_from_maildir(p->out, res, &p->target, error);
    if (p->out->state == LOCAL_DELIVERED && p->log_id != NULL) {
        char quoted[512];
        log_info("id=%s event=%s rcpt=%s mailbox=%s file=%s", p->log_id,
                 res == MAILDIR_DELIVERED ? "delivered" : "already_delivered",
                 log_quote(quoted, sizeof quoted, p->rcpt), p->target.mailbox,
                 path != NULL ? path : "");
    }
    if (p->settled != NULL)
        p->settled(p->settled_ctx, p->out);
}

/* report_status - out final before any Maildir work (no mailbox, no message). */
static void report_status(const struct local_delivery_request *req, struct local_result *out,
                          enum delivery_status status, const char *arg)
{
    local_result_set(out, status, arg);
    if (req->settled != NULL)
        req->settled(req->settled_ctx, out);
}

/* use_syncfs - whether deliveries below fd (device *dev_r) are made
 * durable by syncfs rounds (delivery.sync_method, fs_sync.h). "auto" asks
 * fs_sync_journalled once per file system and logs the answer. */
static bool use_syncfs(enum config_delivery_sync method, int fd, dev_t *dev_r)
{
    struct stat st;
    if (method == DELIVERY_SYNC_FSYNC || fstat(fd, &st) < 0)
        return false;
    *dev_r = st.st_dev;
    if (method == DELIVERY_SYNC_SYNCFS)
        return true;
    pthread_mutex_lock(&fs_lock);
    for (size_t i = 0; i < fs_choice_count; i++) {
        if (fs_choices[i].dev == st.st_dev) {
            bool syncfs = fs_choices[i].syncfs;
            pthread_mutex_unlock(&fs_lock);
            return syncfs;
        }
    }
    const char *what = NULL;
    bool syncfs = fs_sync_journalled(fd, &what);
    if (fs_choice_count < sizeof fs_choices / sizeof fs_choices[0])
        fs_choices[fs_choice_count++] = (struct fs_choice){st.st_dev, syncfs};
    pthread_mutex_unlock(&fs_lock);
    log_info("event=delivery_sync device=%u:%u fs=\"%s\" method=%s", major(st.st_dev),
             minor(st.st_dev), what, syncfs ? "syncfs" : "fsync");
    return syncfs;
}

/* prepare - p for req: the mailbox resolved (owned by p), the target and
 * the stable key. -1 with out final when there is no mailbox. */
static int prepare(const struct local_delivery_config *conf,
                   const struct local_delivery_request *req, struct pending *p,
                   struct local_result *out)
{
    char *mailbox;
    if (req->mailbox != NULL && req->mailbox[0] != '\0') {
        mailbox = strdup(req->mailbox);
        if (mailbox == NULL) {
            report_status(req, out, DELIVERY_STATUS_NO_MEMORY, NULL);
            return -1;
        }
    } else {
        mailbox = local_default_mailbox(req->address);
        if (mailbox == NULL) {
            report_status(req, out, DELIVERY_STATUS_NO_MAILBOX_PATH, NULL);
            return -1;
        }
    }
    *p = (struct pending){
        .target =
            {
                .base = conf->mailbox_base,
                .mailbox = mailbox,
                .folder = req->folder,
                .flags = req->flags,
                .hostname = conf->hostname,
                .quota_bytes = req->quota_bytes,
                .quota_permanent = req->quota_permanent,
                .stable_time = req->stable_time,
                .check_delivered = req->check_delivered,
            },
        .mailbox = mailbox,
        .log_id = req->log_id,
        .rcpt = req->recipient,
        .out = out,
        .settled = req->settled,
        .settled_ctx = req->settled_ctx,
    };
    if (req->stable_key != NULL) {
        snprintf(p->key, sizeof p->key, "%s", req->stable_key);
        p->target.stable_key = p->key;
    }
    return 0;
}

/* open_message - the descriptor of req's message (*close_r: ours to
 * close). -1 with out final when it cannot be opened. */
static int open_message(const struct local_delivery_request *req, struct pending *p, int *fd_r,
                        uint64_t *len_r, bool *close_r)
{
    char *error = NULL;
    *close_r = req->open_message != NULL;
    if (req->open_message == NULL) {
        *fd_r = req->fd;
        *len_r = req->len;
        return 0;
    }
    if (req->open_message(req->open_ctx, fd_r, len_r, &error) == 0)
        return 0;
    free(p->mailbox);
    p->mailbox = NULL;
    report_status(req, p->out, DELIVERY_STATUS_MESSAGE_UNREADABLE,
                  error != NULL ? error : "out of memory");
    free(error);
    return -1;
}

struct local_batch *local_batch_new(const struct local_delivery_config *conf)
{
    struct local_batch *batch = calloc(1, sizeof *batch);
    if (batch != NULL)
        batch->conf = *conf;
    return batch;
}

void local_batch_free(struct local_batch **batch)
{
    if (*batch == NULL)
        return;
    local_batch_settle(*batch);
    free(*batch);
    *batch = NULL;
}

size_t local_batch_count(const struct local_batch *batch)
{
    return batch->count;
}

enum local_state local_batch_add(struct local_batch *batch,
                                 const struct local_delivery_request *req, struct local_result *out)
{
    struct pending next;
    if (prepare(&batch->conf, req, &next, out) < 0)
        return out->state;
    if (batch->count == LOCAL_BATCH_MAX)
        local_batch_settle(batch);
    struct pending *p = &batch->pending[batch->count];
    *p = next;
    p->target.mailbox = p->mailbox; /* p->target moved: nothing points into it yet */
    if (p->target.stable_key != NULL)
        p->target.stable_key = p->key;
    int fd;
    uint64_t len;
    bool close_fd;
    if (open_message(req, p, &fd, &len, &close_fd) < 0)
        return out->state;
    char *error = NULL;
    enum maildir_result res = maildir_deliver_fd_begin(&p->target, req->sender, req->recipient, fd,
                                                       len, &p->delivery, &error);
    if (close_fd)
        close(fd);
    if (res == MAILDIR_DELIVERED) {
        p->target.sync_by_caller =
            use_syncfs(batch->conf.sync_method, maildir_delivery_dir_fd(p->delivery), &p->dev);
        *out = (struct local_result){.state = LOCAL_PENDING};
        batch->count++;
        return LOCAL_PENDING;
    }
    report(p, res, NULL, error);
    free(error);
    free(p->mailbox);
    return out->state;
}

/* sync_round - one syncfs per file system among the pending deliveries
 * that rely on it; a failed syncfs fails the deliveries it was for (abort
 * takes a link into new/ back): deferred, tried again later. */
static void sync_round(struct local_batch *batch)
{
    for (size_t i = 0; i < batch->count; i++)
        batch->pending[i].synced = false;
    for (size_t i = 0; i < batch->count; i++) {
        struct pending *p = &batch->pending[i];
        if (p->delivery == NULL || !p->target.sync_by_caller || p->synced)
            continue;
        char *error = NULL;
        int r = fs_sync(maildir_delivery_dir_fd(p->delivery), &error);
        for (size_t k = i; k < batch->count; k++) {
            struct pending *q = &batch->pending[k];
            if (q->delivery == NULL || !q->target.sync_by_caller || q->dev != p->dev)
                continue;
            q->synced = true;
            if (r < 0) {
                maildir_delivery_abort(&q->delivery);
                report(q, MAILDIR_TEMPFAIL, NULL, error);
            }
        }
        free(error);
    }
}

/* local_batch_settle - all linked first, then all finished
 * (maildir_delivery_finish explains why this order lets them share journal
 * commits), with a syncfs round before the links (their files) and one
 * after (the links and new folders) for those that rely on it. */
void local_batch_settle(struct local_batch *batch)
{
    sync_round(batch);
    for (size_t i = 0; i < batch->count; i++) {
        struct pending *p = &batch->pending[i];
        char *error = NULL;
        if (p->delivery == NULL)
            continue;
        enum maildir_result res = maildir_delivery_link(p->delivery, &error);
        if (res != MAILDIR_DELIVERED && res != MAILDIR_ALREADY_DELIVERED) {
            maildir_delivery_abort(&p->delivery);
            report(p, res, NULL, error);
        }
        free(error);
    }
    sync_round(batch);
    for (size_t i = 0; i < batch->count; i++) {
        struct pending *p = &batch->pending[i];
        char *error = NULL, *path = NULL;
        if (p->delivery != NULL) {
            enum maildir_result res = maildir_delivery_finish(&p->delivery, &path, &error);
            report(p, res, path, error);
        }
        free(path);
        free(error);
        free(p->mailbox);
    }
    batch->count = 0;
}

void local_deliver(const struct local_delivery_config *conf,
                   const struct local_delivery_request *req, struct local_result *out)
{
    struct pending p;
    if (prepare(conf, req, &p, out) < 0)
        return;
    int fd;
    uint64_t len;
    bool close_fd;
    if (open_message(req, &p, &fd, &len, &close_fd) < 0)
        return;
    char *error = NULL, *path = NULL;
    enum maildir_result res =
        maildir_deliver_fd(&p.target, req->sender, req->recipient, fd, len, &path, &error);
    if (close_fd)
        close(fd);
    report(&p, res, path, error);
    free(path);
    free(error);
    free(p.mailbox);
}
