/* gateway/queue_runner.c - see queue_runner.h.
 *
 * Threads: the main thread owns the event loop (SIGTERM as a signalfd, the
 * inotify watch, the scan timer) and the work list; queue.delivery_threads
 * delivery threads share the runner's struct queue (thread-safe, queue.h;
 * sharing it lets their removals share each fsync of active/), each own an
 * auth client connection, and handle one message at a time. The main
 * thread hands a message to an idle thread only after claiming it in the
 * work list (job.busy), and clears the claim when the thread reports back
 * through an eventfd, so one message is never in two threads. On SIGTERM
 * nothing new is handed out; the loop stops once every thread has finished
 * the message in hand.
 *
 * Work list: every spool id the runner knows, with the wall-clock time its
 * next recipient is due (0: now), kept sorted by id. It is filled by a full
 * queue_scan at start and every queue.scan_interval seconds, and by an
 * inotify watch on active/ (a spool file renamed in is a new message).
 * Removed messages are only flagged (job.gone) and compacted away in bulk,
 * so finishing a message costs no memmove of the whole list.
 *
 * Turns: a thread takes up to BATCH_MAX due messages at once (they pile up
 * only under load: one that arrives while a thread is idle goes alone). It
 * routes every due recipient of each; a local delivery is only written to
 * its Maildir's tmp/ and waits in the thread's batch (w->batch,
 * delivery/local_delivery.h, which owns the Maildir side: mailbox choice,
 * the syncfs rounds, the result). Then the whole batch is settled at once:
 * every file fsync'd and linked into new/, then every new/ fsync'd, so a
 * turn of 16 messages costs a few journal commits where one message at a
 * time cost three each. Every delivery still gets its own fsyncs. The
 * runner copies what delivery needs out of the directory's answer
 * (mailbox, quota, address) and turns each result into its record; every
 * reply it records is a row of proto/delivery_status.h.
 *
 * Durability: results are recorded only after the deliveries they name are
 * durable. A message whose recipients are all final is removed (its spool
 * file unlinked: queue_remove_stage), and one queue_sync makes every
 * removal of the turn durable: the removal is the record. Other results
 * are appended to the message's status file in one write and fsync
 * (queue_mark_recipients). Should LOCAL_BATCH_MAX deliveries of one message
 * be in flight, they are settled and marked before its next recipient.
 *
 * Exactly once: a kill between a Maildir delivery and its record leaves a
 * delivered recipient unrecorded. Its file has a stable name (the queue id
 * and the recipient's index, maildir_stable_name), so the attempt after
 * the restart finds it instead of delivering again (the local delivery
 * request's stable_key "Q<id>R<index>" and stable_time, the arrival): a
 * link into new/ that meets the name answers "already delivered", and for
 * a message that may follow such an attempt (job.check: found by the
 * runner's first scan, or after a failed mark) cur/ and new/ are looked
 * through before writing (check_delivered: a reader may have moved the
 * file). The cost stays off the normal path: one readdir of two folders
 * per recipient, only after a crash.
 *
 * Expansion (FORWARD, GROUP): the target addresses become the recipients of
 * a new spool message (same sender, "Delivered-To: <the expanded address>"
 * in front of the same bytes) committed with queue_msg_commit; only after
 * that commit returns is the original recipient marked DELIVERED. A kill in
 * between expands again after the restart (duplicates, never a loss). The
 * Delivered-To line is also the loop check, as in Postfix's local(8): an
 * address already named in a Delivered-To header of the message is not
 * expanded again (FAILED, 5.4.6 mail forwarding loop).
 *
 * Retries: a deferred recipient is retried after the message's age bounded
 * by queue.retry_min and queue.retry_max, so the delay roughly doubles with
 * every attempt without keeping an attempt count. */
#include "config.h"

#include "gateway/queue_runner.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "auth/auth_client.h"
#include "delivery/local_delivery.h"
#include "proto/delivery_status.h"
#include "queue/queue.h"
#include "gateway/worker.h"
#include "lib/event.h"
#include "lib/header.h"
#include "lib/log.h"

/* Longest header section read for the forwarding loop check. */
#define HEADER_SCAN_MAX (256 * 1024)
/* How long to wait between attempts to take the spool lock. */
#define LOCK_RETRY_MS 200
/* The process name (prctl) tests and ps show for the runner. */
#define RUNNER_PROC_NAME "dirmail-queue"
/* Spool debris older than this was never acknowledged: the DATA timeouts
 * (RFC 5321 4.5.3.2, 10 minutes at most) are long over. */
#define CLEANUP_GRACE 3600
#define CLEANUP_INTERVAL 3600
/* Flagged-gone entries tolerated before the work list is compacted. */
#define COMPACT_MIN 64
/* Messages handed to a delivery thread at once: under load they queue up
 * while the threads work, and one turn on several shares its fsyncs. */
#define BATCH_MAX 16

struct job {
    char id[QUEUE_ID_SIZE];
    time_t due; /* wall clock; 0 = now */
    bool busy;  /* claimed: a delivery thread has it */
    bool gone;  /* removed or vanished; dropped at the next compaction */
    /* an attempt before may have delivered without recording it (a runner
     * that died, a failed mark): look for its Maildir files first */
    bool check;
};

/* What a delivery thread reports about one message. */
struct result {
    bool gone;                      /* the message no longer exists (removed, or never complete) */
    time_t due;                     /* otherwise: when to look at it again */
    bool uncertain;                 /* results of this attempt may be unrecorded */
    char (*new_ids)[QUEUE_ID_SIZE]; /* expansions committed on the way */
    size_t new_count, new_alloc;
};

struct runner;

/* The outcome of routing one recipient: what to mark and why. */
struct outcome {
    enum queue_rcpt_state state; /* PENDING while its Maildir delivery is in flight */
    time_t when;                 /* DEFERRED: the next retry */
    char reply[DELIVERY_STATUS_TEXT_MAX]; /* DEFERRED/FAILED: enhanced status code and text */
    struct local_result local;            /* a local delivery's, until copied above */
};

/* One message in a thread's turn. */
struct turn {
    const char *id;
    bool check; /* job.check */
    struct result *res;
    struct queue_envelope *env; /* NULL: nothing more to do (res says why) */
    struct outcome *out;        /* per recipient */
    bool *tried, *recorded;     /* routed in this turn; result durable in .st */
    bool mark_failed, removing;
    time_t now;
};

/* One delivery thread. task_count, done, ids and the hand-over of res are
 * under runner.mutex; during a task ids and res belong to the thread alone. */
struct deliverer {
    struct runner *r;
    const struct config *conf;
    struct queue *queue;
    struct auth_client *auth;
    pthread_t thread;
    bool thread_started;
    bool assigned; /* main thread only: handed messages, report not yet applied */
    pthread_cond_t cond;
    bool done;
    size_t task_count;
    char ids[BATCH_MAX][QUEUE_ID_SIZE];
    bool check[BATCH_MAX]; /* job.check of each */
    struct result res[BATCH_MAX];
    struct result *cur; /* thread only: the result of the message being routed */
    struct local_delivery_config local;
    struct local_batch *batch; /* the local deliveries of the turn */
};

struct runner {
    const struct config *conf;
    struct event_loop *loop;
    struct event_signal *sigterm;
    struct event_timer *lock_timer, *scan_timer, *work_timer;
    struct event_io *inotify_io, *wake_io;
    int inotify_fd;
    int wake_fd; /* eventfd: a delivery thread finished a message */
    int lock_fd;
    char *spool;
    char *auth_path;
    unsigned auth_timeout_ms;
    struct queue *queue; /* cleanup and scans here, and every delivery thread's */
    struct job *jobs;    /* sorted by id */
    size_t job_count, job_alloc, gone_count, cursor;
    struct deliverer *workers;
    size_t worker_count, in_flight;
    pthread_mutex_t mutex;
    bool quit; /* under mutex: delivery threads exit */
    bool stopping;
    bool started;
    bool scanned; /* a full scan succeeded: what scans find now is new */
    time_t last_cleanup;
};

/* outcome_status - o DEFERRED or FAILED (the status's class) with status
 * and arg (proto/delivery_status.h). */
static void outcome_status(struct outcome *o, enum delivery_status status, const char *arg)
{
    o->state = delivery_status_permanent(status) ? QUEUE_RCPT_FAILED : QUEUE_RCPT_DEFERRED;
    delivery_status_format(o->reply, sizeof o->reply, status, arg);
}

/* awaiting_transport - o deferred for the outbound client: "(<what><name>)". */
static void awaiting_transport(struct outcome *o, const char *what, const char *name)
{
    char text[DELIVERY_STATUS_TEXT_MAX];
    snprintf(text, sizeof text, "%s%s", what, name);
    outcome_status(o, DELIVERY_STATUS_AWAITING_TRANSPORT, text);
}

char *queue_runner_spool_path(const struct config *conf)
{
    return config_state_path(conf, CONFIG_STATE_QUEUE);
}

/* result_add_new - remember an expansion's new id for the work list. */
static int result_add_new(struct result *res, const char *id)
{
    if (res->new_count == res->new_alloc) {
        size_t alloc = res->new_alloc == 0 ? 4 : res->new_alloc * 2;
        char(*ids)[QUEUE_ID_SIZE] = realloc(res->new_ids, alloc * sizeof *ids);
        if (ids == NULL)
            return -1;
        res->new_ids = ids;
        res->new_alloc = alloc;
    }
    memcpy(res->new_ids[res->new_count++], id, QUEUE_ID_SIZE);
    return 0;
}

static void result_clear(struct result *res)
{
    free(res->new_ids);
    *res = (struct result){0};
}

/* ---- the work list (main thread only) ---- */

static int job_cmp(const void *key, const void *elem)
{
    return strcmp(key, ((const struct job *)elem)->id);
}

static struct job *job_find(struct runner *r, const char *id)
{
    if (r->job_count == 0)
        return NULL; /* bsearch's base must not be NULL, even for no elements */
    return bsearch(id, r->jobs, r->job_count, sizeof *r->jobs, job_cmp);
}

/* job_add - know id (due now) unless already known; check: job.check.
 * 0, or -1 out of memory. */
static int job_add(struct runner *r, const char *id, bool check)
{
    if (!queue_id_valid(id))
        return 0;
    struct job *known = job_find(r, id);
    if (known != NULL) {
        if (known->gone) {
            /* listed again by a scan that raced its removal: an attempt
             * finds out whether it still exists */
            known->gone = false;
            known->due = 0;
            r->gone_count--;
        }
        return 0;
    }
    if (r->job_count == r->job_alloc) {
        size_t alloc = r->job_alloc == 0 ? 64 : r->job_alloc * 2;
        struct job *jobs = realloc(r->jobs, alloc * sizeof *jobs);
        if (jobs == NULL)
            return -1;
        r->jobs = jobs;
        r->job_alloc = alloc;
    }
    /* New ids are usually the newest: search from the end. */
    size_t at = r->job_count;
    while (at > 0 && strcmp(r->jobs[at - 1].id, id) > 0)
        at--;
    if (at < r->job_count)
        memmove(&r->jobs[at + 1], &r->jobs[at], (r->job_count - at) * sizeof *r->jobs);
    r->jobs[at] = (struct job){.due = 0, .check = check};
    memcpy(r->jobs[at].id, id, QUEUE_ID_SIZE);
    r->job_count++;
    return 0;
}

/* job_drop - flag job gone; compact once gone entries are half the list. */
static void job_drop(struct runner *r, struct job *job)
{
    if (job->gone)
        return;
    job->gone = true;
    r->gone_count++;
    if (r->gone_count < COMPACT_MIN || r->gone_count * 2 < r->job_count)
        return;
    size_t out = 0;
    for (size_t i = 0; i < r->job_count; i++) {
        if (!r->jobs[i].gone)
            r->jobs[out++] = r->jobs[i];
    }
    r->job_count = out;
    r->gone_count = 0;
    r->cursor = 0;
}

/* pending - messages known and not gone. */
static size_t pending(const struct runner *r)
{
    return r->job_count - r->gone_count;
}
/* ---- routing and delivery ---- */

/* retry_at - when a deferred recipient of env is tried again. */
static time_t retry_at(const struct config *conf, const struct queue_envelope *env, time_t now)
{
    time_t age = now > env->arrival ? now - env->arrival : 0;
    time_t delay = age;
    if (delay < (time_t)conf->queue.retry_min)
        delay = conf->queue.retry_min;
    if (delay > (time_t)conf->queue.retry_max)
        delay = conf->queue.retry_max;
    return now + delay;
}

/* local_settled - a local delivery's result is final: o takes it. */
static void local_settled(void *ctx, const struct local_result *res)
{
    struct outcome *o = ctx;
    switch (res->state) {
    case LOCAL_DELIVERED:
        o->state = QUEUE_RCPT_DELIVERED;
        o->reply[0] = '\0';
        break;
    case LOCAL_FAILED:
    case LOCAL_DEFERRED:
        o->state = res->state == LOCAL_FAILED ? QUEUE_RCPT_FAILED : QUEUE_RCPT_DEFERRED;
        memcpy(o->reply, res->reply, sizeof o->reply);
        break;
    case LOCAL_PENDING:
        o->state = QUEUE_RCPT_PENDING;
        break;
    }
}

/* The message a local delivery reads, from the spool. */
struct spool_message {
    struct queue *queue;
    const char *id;
};

static int open_spool_message(void *ctx, int *fd_r, uint64_t *len_r, char **error_r)
{
    const struct spool_message *m = ctx;
    return queue_open_message(m->queue, m->id, fd_r, len_r, error_r);
}

/* deliver_local - recipient index's message into the Maildir of the entry
 * rc. With later, the file is only written and the delivery joins
 * w->batch (o stays PENDING until local_batch_settle); otherwise it is
 * finished here. The file's name is stable (queue id and index:
 * maildir_stable_name), so that an attempt made and not recorded is
 * recognised; check: look for it in cur/ and new/ before writing
 * (turn.check). */
static void deliver_local(struct deliverer *w, const char *id, const struct queue_envelope *env,
                          size_t index, const struct auth_recipient *rc, struct outcome *o,
                          bool later, bool check)
{
    struct spool_message message = {w->queue, id};
    char key[LOCAL_STABLE_KEY_MAX + 1];
    snprintf(key, sizeof key, "Q%sR%zu", id, index);
    const struct local_delivery_request req = {
        .open_message = open_spool_message,
        .open_ctx = &message,
        .sender = env->sender,
        .recipient = env->rcpts[index].address,
        .mailbox = rc->mailbox,
        .address = rc->primary != NULL ? rc->primary : rc->matched,
        .quota_bytes = rc->quota,
        .quota_permanent = false,
        .stable_key = key,
        .stable_time = (long long)env->arrival,
        .check_delivered = check,
        .log_id = id,
        .settled = local_settled,
        .settled_ctx = o,
    };
    if (!later)
        local_deliver(&w->local, &req, &o->local);
    else if (local_batch_add(w->batch, &req, &o->local) == LOCAL_PENDING)
        o->state = QUEUE_RCPT_PENDING;
}

/* header_names_delivered_to - whether the message's header section has a
 * "Delivered-To: <addr>" line (case-insensitive). -1 on a read error. */
static int header_names_delivered_to(struct deliverer *w, const char *id, const char *addr)
{
    int fd;
    uint64_t msg_len;
    char *error = NULL;
    if (queue_open_message(w->queue, id, &fd, &msg_len, &error) < 0) {
        free(error);
        return -1;
    }
    size_t scan_max = msg_len < HEADER_SCAN_MAX ? (size_t)msg_len : HEADER_SCAN_MAX;
    char *head = malloc(HEADER_SCAN_MAX + 1);
    size_t len = 0;
    int found = head == NULL ? -1 : 0;
    while (head != NULL && len < scan_max) {
        ssize_t n = read(fd, head + len, scan_max - len);
        if (n < 0) {
            found = -1;
            break;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    if (found < 0) {
        free(head);
        return -1;
    }
    head[len] = '\0';
    size_t alen = strlen(addr);
    for (char *line = head; line < head + len;) {
        char *eol = memchr(line, '\n', (size_t)(head + len - line));
        size_t llen = eol != NULL ? (size_t)(eol - line) : (size_t)(head + len - line);
        if (llen > 0 && line[llen - 1] == '\r')
            llen--;
        if (llen == 0)
            break; /* end of the header section */
        if (llen > 13 && strncasecmp(line, "Delivered-To:", 13) == 0) {
            const char *v = line + 13;
            size_t vlen = llen - 13;
            while (vlen > 0 && (*v == ' ' || *v == '\t')) {
                v++;
                vlen--;
            }
            while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
                vlen--;
            if (vlen == alen && strncasecmp(v, addr, alen) == 0) {
                found = 1;
                break;
            }
        }
        if (eol == NULL)
            break;
        line = eol + 1;
    }
    free(head);
    return found;
}

/* expand - commit a new message for targets, carrying rcpt in a
 * Delivered-To line. 0 and new_id, or -1 with o set (deferred). */
static int expand(struct deliverer *w, const char *id, const struct queue_envelope *env,
                  size_t index, const struct auth_strlist *targets, char new_id[QUEUE_ID_SIZE],
                  struct outcome *o)
{
    const struct queue_recipient *orig = &env->rcpts[index];
    struct queue_envelope *nenv = queue_envelope_new();
    struct queue_msg *msg = NULL;
    char *error = NULL, *header = NULL, *orcpt = NULL;
    int fd = -1;
    if (nenv == NULL || queue_envelope_set(&nenv->sender, env->sender) < 0 ||
        queue_envelope_set(&nenv->envid, env->envid) < 0 ||
        queue_envelope_set(&nenv->client_address, "127.0.0.1") < 0 ||
        queue_envelope_set(&nenv->client_helo, "dirmail-expansion") < 0)
        goto nomem;
    nenv->ret = env->ret;
    /* RFC 3461 4.2: the original recipient stays what the client named. */
    if (orig->orcpt == NULL && asprintf(&orcpt, "rfc822;%s", orig->address) < 0)
        goto nomem;
    for (size_t i = 0; i < targets->count; i++) {
        if (queue_envelope_add_recipient(nenv, targets->items[i], orig->notify,
                                         orig->orcpt != NULL ? orig->orcpt : orcpt, &error) < 0)
            goto fail;
    }
    /* One word on one line (lib/header): header_names_delivered_to reads it
     * back as such. An envelope address (at most 64 + 1 + 255 octets, RFC
     * 5321 4.5.3.1) always fits the 998-octet line, so a NULL here is memory
     * (or a corrupt envelope) and the expansion is deferred. */
    struct header_field dt;
    size_t header_len = 0;
    header_field_begin(&dt, "Delivered-To");
    header_field_word(&dt, orig->address);
    header = header_field_end(&dt, &header_len);
    if (header == NULL)
        goto nomem;
    uint64_t left;
    msg = queue_msg_begin(w->queue, &error);
    if (msg == NULL || queue_msg_write(msg, header, header_len, &error) < 0 ||
        queue_open_message(w->queue, id, &fd, &left, &error) < 0)
        goto fail;
    char buf[65536];
    while (left > 0) {
        ssize_t n = read(fd, buf, left < sizeof buf ? (size_t)left : sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (asprintf(&error, "read %s: %s", id, n == 0 ? "short file" : strerror(errno)) < 0)
                error = NULL;
            goto fail;
        }
        left -= (uint64_t)n;
        if (queue_msg_write(msg, buf, (size_t)n, &error) < 0)
            goto fail;
    }
    close(fd);
    fd = -1;
    if (queue_msg_commit(&msg, nenv, &error) < 0)
        goto fail;
    memcpy(new_id, nenv->id, QUEUE_ID_SIZE);
    queue_envelope_free(&nenv);
    free(header);
    free(orcpt);
    return 0;
nomem:
    free(error);
    error = NULL;
fail:
    outcome_status(o, DELIVERY_STATUS_EXPANSION_FAILED, error != NULL ? error : "out of memory");
    free(error);
    if (fd >= 0)
        close(fd);
    queue_msg_abort(&msg);
    queue_envelope_free(&nenv);
    free(header);
    free(orcpt);
    return -1;
}

/* deliver_expansion - FORWARD (with its optional local copy) and GROUP. */
static void deliver_expansion(struct deliverer *w, const char *id, const struct queue_envelope *env,
                              size_t index, const struct auth_recipient *rc, struct outcome *o,
                              bool check)
{
    const char *rcpt = env->rcpts[index].address;
    char quoted[512];
    const struct auth_strlist *targets = rc->kind == AUTH_KIND_GROUP ? &rc->members : &rc->forwards;
    int loop = header_names_delivered_to(w, id, rcpt);
    if (loop < 0) {
        outcome_status(o, DELIVERY_STATUS_MESSAGE_UNREADABLE_NO_REASON, NULL);
        return;
    }
    if (loop > 0) {
        outcome_status(o, DELIVERY_STATUS_FORWARDING_LOOP, rcpt);
        return;
    }
    if (rc->kind == AUTH_KIND_FORWARD && rc->keep_copy) {
        if (rc->mail_host != NULL) {
            /* The copy belongs on another node: wait for the outbound
             * client rather than expand now and lose track of the copy. */
            awaiting_transport(o, "forward with copy on node ", rc->mail_host);
            return;
        }
        /* Finished here: the copy must be durable before the expansion
         * commits (a failed copy must not be expanded twice). */
        deliver_local(w, id, env, index, rc, o, false, check);
        if (o->state != QUEUE_RCPT_DELIVERED)
            return;
    }
    if (targets->count > 0) {
        char new_id[QUEUE_ID_SIZE];
        if (expand(w, id, env, index, targets, new_id, o) < 0)
            return;
        log_info("id=%s event=expanded rcpt=%s kind=%s targets=%zu new_id=%s", id,
                 log_quote(quoted, sizeof quoted, rcpt), auth_kind_name(rc->kind), targets->count,
                 new_id);
        if (result_add_new(w->cur, new_id) < 0)
            log_warning("id=%s event=job_add_failed error=\"out of memory\"", new_id);
    } else {
        log_info("id=%s event=expanded rcpt=%s kind=%s targets=0", id,
                 log_quote(quoted, sizeof quoted, rcpt), auth_kind_name(rc->kind));
    }
    o->state = QUEUE_RCPT_DELIVERED;
    o->reply[0] = '\0';
}

/* route - decide and do what recipient index of message id needs (check:
 * turn.check). */
static void route(struct deliverer *w, const char *id, const struct queue_envelope *env,
                  size_t index, struct outcome *o, bool check)
{
    const char *rcpt = env->rcpts[index].address;
    struct auth_response resp = {0};
    const char *args[1] = {rcpt};
    enum auth_status st = auth_client_request(w->auth, AUTH_REQ_RESOLVE, args, 1, &resp);
    const struct auth_recipient *rc = resp.recipient;
    if ((st == AUTH_FOUND || st == AUTH_NOTFOUND) && rc == NULL)
        st = AUTH_TEMPFAIL; /* an answer without its recipient: not a "no" */
    switch (st) {
    case AUTH_FOUND:
        break;
    case AUTH_NOTFOUND:
        if (rc != NULL && rc->kind == AUTH_KIND_NOT_OURS)
            outcome_status(o, DELIVERY_STATUS_AWAITING_TRANSPORT, "domain not handled here");
        else
            outcome_status(o, DELIVERY_STATUS_NO_SUCH_RECIPIENT, rcpt);
        goto done;
    default:
        outcome_status(o, DELIVERY_STATUS_DIRECTORY_UNAVAILABLE,
                       resp.error != NULL ? resp.error : auth_status_name(st));
        goto done;
    }
    switch (rc->kind) {
    case AUTH_KIND_LOCAL:
        if (rc->status == AUTH_USER_HELD)
            outcome_status(o, DELIVERY_STATUS_MAILBOX_HELD, NULL);
        else
            deliver_local(w, id, env, index, rc, o, true, check);
        break;
    case AUTH_KIND_REMOTE_NODE:
        awaiting_transport(o, "node ", rc->mail_host != NULL ? rc->mail_host : "?");
        break;
    case AUTH_KIND_RELAY:
        awaiting_transport(o, "relay ", rc->next_hop != NULL ? rc->next_hop : "MX");
        break;
    case AUTH_KIND_FORWARD:
    case AUTH_KIND_GROUP:
        deliver_expansion(w, id, env, index, rc, o, check);
        break;
    case AUTH_KIND_DISABLED:
        if (rc->disabled_hold)
            outcome_status(o, DELIVERY_STATUS_DISABLED_HELD, NULL);
        else
            outcome_status(o, DELIVERY_STATUS_MAILBOX_DISABLED, rcpt);
        break;
    case AUTH_KIND_NOT_OURS:
        outcome_status(o, DELIVERY_STATUS_AWAITING_TRANSPORT, "domain not handled here");
        break;
    default:
        outcome_status(o, DELIVERY_STATUS_NO_SUCH_RECIPIENT, rcpt);
        break;
    }
done:
    auth_response_clear(&resp);
}

/* log_outcome - the log line of a recorded DEFERRED or FAILED result. */
static void log_outcome(const char *id, const struct queue_recipient *rc, const struct outcome *o)
{
    char quoted[600], qreply[600];
    if (o->state == QUEUE_RCPT_DEFERRED) {
        log_info("id=%s event=deferred rcpt=%s retry_at=%lld reply=%s", id,
                 log_quote(quoted, sizeof quoted, rc->address), (long long)rc->when,
                 log_quote(qreply, sizeof qreply, o->reply));
    } else if (o->state == QUEUE_RCPT_FAILED) {
        /* Bounces are a later issue: the result is recorded for it. */
        log_warning("id=%s event=failed rcpt=%s reply=%s bounce=not-implemented", id,
                    log_quote(quoted, sizeof quoted, rc->address),
                    log_quote(qreply, sizeof qreply, o->reply));
    }
}

/* turn_load - the envelope of t->id; when it cannot be had, t->res says
 * what the work list should do and t->env stays NULL. */
static void turn_load(struct deliverer *w, struct turn *t)
{
    char quoted[600], *error = NULL;
    if (queue_load_envelope(w->queue, t->id, &t->env, &error) < 0) {
        char path[PATH_MAX];
        int n = snprintf(path, sizeof path, "%s/active/%s", w->r->spool, t->id);
        if (n > 0 && (size_t)n < sizeof path && access(path, F_OK) < 0 && errno == ENOENT) {
            t->res->gone = true; /* removed, or never complete */
        } else {
            log_error("id=%s event=envelope_unreadable error=%s", t->id,
                      log_quote(quoted, sizeof quoted, error != NULL ? error : "out of memory"));
            t->res->due = t->now + w->conf->queue.retry_max;
        }
        free(error);
        return;
    }
    size_t n = t->env->rcpt_count;
    t->out = calloc(n, sizeof *t->out);
    t->tried = calloc(n, sizeof *t->tried);
    t->recorded = calloc(n, sizeof *t->recorded);
    if (t->out == NULL || t->tried == NULL || t->recorded == NULL) {
        log_error("id=%s event=attempt_failed error=\"out of memory\"", t->id);
        queue_envelope_free(&t->env);
        t->res->due = t->now + w->conf->queue.retry_min;
    }
}

static void turn_free(struct turn *t)
{
    queue_envelope_free(&t->env);
    free(t->out);
    free(t->tried);
    free(t->recorded);
}

/* final_state - DELIVERED and FAILED are final. */
static bool final_state(enum queue_rcpt_state state)
{
    return state == QUEUE_RCPT_DELIVERED || state == QUEUE_RCPT_FAILED;
}

/* outcome_when - a DEFERRED result learnt in settle (a Maildir or syncfs
 * failure) has no retry time yet: it gets one now, like those set in
 * turn_route, so a failing mailbox is not retried in a loop. */
static void outcome_when(const struct config *conf, const struct turn *t, size_t i)
{
    struct outcome *o = &t->out[i];
    if (t->tried[i] && o->state == QUEUE_RCPT_DEFERRED && o->when == 0)
        o->when = retry_at(conf, t->env, time(NULL));
}

/* turn_mark - append every result of t that is known and not yet recorded
 * to its status file (one write, one fsync) and apply them to the
 * envelope. On failure t->mark_failed: they were not recorded. */
static void turn_mark(struct deliverer *w, struct turn *t)
{
    struct queue_envelope *env = t->env;
    struct queue_mark *marks = calloc(env->rcpt_count, sizeof *marks);
    size_t count = 0;
    char qreply[600], *error = NULL;
    if (marks == NULL) {
        t->mark_failed = true;
        return;
    }
    for (size_t i = 0; i < env->rcpt_count; i++) {
        const struct outcome *o = &t->out[i];
        if (!t->tried[i] || t->recorded[i] || o->state == QUEUE_RCPT_PENDING)
            continue;
        outcome_when(w->conf, t, i);
        marks[count++] = (struct queue_mark){
            .index = i,
            .state = o->state,
            .when = o->state == QUEUE_RCPT_DEFERRED ? o->when : 0,
            .reply = o->state == QUEUE_RCPT_DELIVERED ? NULL : o->reply,
        };
    }
    if (count > 0 && queue_mark_recipients(w->queue, t->id, marks, count, &error) < 0) {
        /* Not recorded: retry soon; a delivered recipient may be delivered
         * again, never lost. */
        log_error("id=%s event=mark_failed recipients=%zu error=%s", t->id, count,
                  log_quote(qreply, sizeof qreply, error != NULL ? error : "out of memory"));
        free(error);
        t->mark_failed = true;
        free(marks);
        return;
    }
    for (size_t k = 0; k < count; k++) {
        size_t i = marks[k].index;
        struct queue_recipient *rc = &env->rcpts[i];
        rc->state = t->out[i].state;
        rc->when = marks[k].when;
        t->recorded[i] = true;
        log_outcome(t->id, rc, &t->out[i]);
    }
    free(marks);
}

/* turn_route - route every due recipient of t. Local deliveries only get
 * written (w->batch); should the batch fill up in the middle of this
 * message, what is settled so far is marked so that a crash does not redo
 * more than LOCAL_BATCH_MAX recipients of one message. */
static void turn_route(struct deliverer *w, struct turn *t)
{
    struct queue_envelope *env = t->env;
    w->cur = t->res;
    for (size_t i = 0; i < env->rcpt_count; i++) {
        struct queue_recipient *rc = &env->rcpts[i];
        if (final_state(rc->state) || (rc->state == QUEUE_RCPT_DEFERRED && rc->when > t->now))
            continue;
        if (local_batch_count(w->batch) == LOCAL_BATCH_MAX) {
            local_batch_settle(w->batch);
            turn_mark(w, t);
            if (t->mark_failed)
                return;
        }
        struct outcome *o = &t->out[i];
        *o = (struct outcome){.state = QUEUE_RCPT_DEFERRED};
        t->tried[i] = true;
        route(w, t->id, env, i, o, t->check);
        if (o->state == QUEUE_RCPT_DEFERRED)
            o->when = retry_at(w->conf, env, time(NULL));
    }
}

/* turn_record - after settle: remove the message when every recipient is
 * final (the removal records the results: staged here, made durable by
 * the caller's queue_sync), else mark the results. Fills t->res. */
static void turn_record(struct deliverer *w, struct turn *t)
{
    const struct config *conf = w->conf;
    struct queue_envelope *env = t->env;
    char quoted[600], *error = NULL;
    bool all_final = !t->mark_failed;
    for (size_t i = 0; i < env->rcpt_count && all_final; i++)
        all_final = final_state(t->tried[i] ? t->out[i].state : env->rcpts[i].state);
    if (all_final) {
        if (queue_remove_stage(w->queue, t->id, &error) == 0) {
            t->removing = true;
            for (size_t i = 0; i < env->rcpt_count; i++) {
                if (t->tried[i] && !t->recorded[i]) {
                    env->rcpts[i].state = t->out[i].state;
                    env->rcpts[i].when = 0;
                    log_outcome(t->id, &env->rcpts[i], &t->out[i]);
                }
            }
            return;
        }
        log_error("id=%s event=remove_failed error=%s", t->id,
                  log_quote(quoted, sizeof quoted, error != NULL ? error : "out of memory"));
        free(error);
    }
    if (!t->mark_failed)
        turn_mark(w, t);
    if (t->mark_failed) {
        t->res->due = t->now + conf->queue.retry_min;
        t->res->uncertain = true;
        return;
    }
    time_t next = 0;
    for (size_t i = 0; i < env->rcpt_count; i++) {
        const struct queue_recipient *rc = &env->rcpts[i];
        if (rc->state == QUEUE_RCPT_DEFERRED && (next == 0 || rc->when < next))
            next = rc->when;
    }
    if (queue_envelope_all_final(env)) {
        /* final, but the removal failed: try it again soon */
        t->res->due = t->now + conf->queue.retry_min;
        return;
    }
    if (env->arrival + (time_t)conf->queue.max_age < t->now)
        log_warning("id=%s event=max_age_exceeded action=kept bounce=not-implemented", t->id);
    t->res->due = next != 0 ? next : t->now + conf->queue.retry_min;
}

/* attempt_batch - one turn on the thread's messages: route every due
 * recipient of each, settle the Maildir deliveries together, record the
 * results, and make the removals durable with one queue_sync. What the
 * work list needs to know goes into w->res[]. */
static void attempt_batch(struct deliverer *w, size_t count)
{
    struct turn turns[BATCH_MAX];
    char quoted[600], *error = NULL;
    bool removing = false;
    for (size_t j = 0; j < count; j++) {
        turns[j] = (struct turn){
            .id = w->ids[j], .check = w->check[j], .res = &w->res[j], .now = time(NULL)};
        turn_load(w, &turns[j]);
        if (turns[j].env != NULL)
            turn_route(w, &turns[j]);
    }
    local_batch_settle(w->batch);
    for (size_t j = 0; j < count; j++) {
        if (turns[j].env != NULL) {
            turn_record(w, &turns[j]);
            removing = removing || turns[j].removing;
        }
    }
    int synced = removing ? queue_sync(w->queue, &error) : 0;
    if (synced < 0) {
        /* The messages are unlinked but maybe not durably: after a crash
         * one may come back and be delivered again (never lost). */
        log_error("event=remove_sync_failed error=%s",
                  log_quote(quoted, sizeof quoted, error != NULL ? error : "out of memory"));
        free(error);
    }
    for (size_t j = 0; j < count; j++) {
        struct turn *t = &turns[j];
        if (t->removing) {
            queue_remove_status(w->queue, t->id);
            log_info("id=%s event=removed recipients=%zu", t->id, t->env->rcpt_count);
            t->res->gone = true;
        }
        turn_free(t);
    }
}

/* deliverer_main - a delivery thread: wait for messages, attempt them,
 * report through the eventfd; until quit. SIGTERM stays blocked here
 * (inherited mask): the main thread's signalfd takes it. */
static void *deliverer_main(void *arg)
{
    struct deliverer *w = arg;
    struct runner *r = w->r;
    pthread_mutex_lock(&r->mutex);
    for (;;) {
        while (w->task_count == 0 && !r->quit)
            pthread_cond_wait(&w->cond, &r->mutex);
        if (w->task_count == 0)
            break;
        size_t count = w->task_count;
        pthread_mutex_unlock(&r->mutex);

        attempt_batch(w, count);

        pthread_mutex_lock(&r->mutex);
        w->task_count = 0;
        w->done = true;
        uint64_t one = 1;
        while (write(r->wake_fd, &one, sizeof one) < 0 && errno == EINTR)
            ;
    }
    pthread_mutex_unlock(&r->mutex);
    return NULL;
}

/* ---- dispatching (main thread) ---- */

static void dispatch(struct runner *r);

static void work(void *ctx)
{
    dispatch(ctx);
}

/* arm - wake up at the wall-clock time due (0: no timer needed). */
static void arm(struct runner *r, time_t due)
{
    if (due == 0) {
        event_timer_remove(&r->work_timer);
        return;
    }
    time_t now = time(NULL);
    uint64_t ms = due <= now ? 0 : (uint64_t)(due - now) * 1000;
    if (r->work_timer != NULL) {
        event_timer_reset(r->work_timer, ms);
        return;
    }
    r->work_timer = event_timer_add(r->loop, ms, work, r);
    if (r->work_timer == NULL)
        log_error("event=runner_timer_failed error=\"out of memory\"");
}

/* hand_over - wake wk on its first count ids. */
static void hand_over(struct runner *r, struct deliverer *wk, size_t count)
{
    pthread_mutex_lock(&r->mutex);
    wk->task_count = count;
    pthread_cond_signal(&wk->cond);
    pthread_mutex_unlock(&r->mutex);
}

/* dispatch - hand due, unclaimed messages to idle threads, up to
 * BATCH_MAX each (one pass over the list from where the last pass stopped,
 * so every message gets its turn); then arm the timer for the next due one
 * if a thread stays idle. Batches form only under load: a message that
 * arrives while a thread is idle goes out alone at once. */
static void dispatch(struct runner *r)
{
    if (r->stopping || !r->started)
        return;
    time_t now = time(NULL), earliest = 0;
    size_t seen = 0;
    struct deliverer *wk = NULL;
    size_t batch = 0;
    while (seen < r->job_count && (wk != NULL || r->in_flight < r->worker_count)) {
        if (r->cursor >= r->job_count)
            r->cursor = 0;
        struct job *job = &r->jobs[r->cursor++];
        seen++;
        if (job->busy || job->gone)
            continue;
        if (job->due > now) {
            if (earliest == 0 || job->due < earliest)
                earliest = job->due;
            continue;
        }
        if (wk == NULL) {
            size_t w = 0;
            while (r->workers[w].assigned)
                w++; /* in_flight < worker_count: an idle one exists */
            wk = &r->workers[w];
            wk->assigned = true;
            r->in_flight++;
            batch = 0;
        }
        job->busy = true;
        wk->check[batch] = job->check;
        memcpy(wk->ids[batch++], job->id, QUEUE_ID_SIZE);
        if (batch == BATCH_MAX) {
            hand_over(r, wk, batch);
            wk = NULL;
        }
    }
    if (wk != NULL)
        hand_over(r, wk, batch);
    /* All threads busy: their reports call dispatch again. Otherwise the
     * pass saw every job, so earliest is the next due time. */
    arm(r, r->in_flight < r->worker_count ? earliest : 0);
}

/* on_wake - apply what the delivery threads finished. */
static void on_wake(void *ctx, unsigned events)
{
    struct runner *r = ctx;
    uint64_t count;
    (void)events;
    if (read(r->wake_fd, &count, sizeof count) < 0)
        return; /* EAGAIN: already seen */
    for (size_t i = 0; i < r->worker_count; i++) {
        struct deliverer *wk = &r->workers[i];
        pthread_mutex_lock(&r->mutex);
        bool done = wk->done;
        wk->done = false;
        pthread_mutex_unlock(&r->mutex);
        if (!done)
            continue;
        /* ids and res are the thread's own until it reports done, and
         * stay untouched until it is handed new ones */
        wk->assigned = false;
        r->in_flight--;
        for (size_t k = 0; k < BATCH_MAX && wk->ids[k][0] != '\0'; k++) {
            struct result *res = &wk->res[k];
            struct job *job = job_find(r, wk->ids[k]);
            if (job != NULL) {
                job->busy = false;
                job->check = res->uncertain;
                if (res->gone)
                    job_drop(r, job);
                else
                    job->due = res->due;
            }
            for (size_t n = 0; n < res->new_count; n++) {
                if (job_add(r, res->new_ids[n], false) < 0)
                    log_warning("id=%s event=job_add_failed error=\"out of memory\"",
                                res->new_ids[n]);
            }
            result_clear(res);
            wk->ids[k][0] = '\0';
        }
    }
    if (r->stopping) {
        if (r->in_flight == 0)
            event_loop_stop(r->loop);
        return;
    }
    dispatch(r);
}

/* scan - add every spool id not yet known (start and backstop). */
static void scan(struct runner *r)
{
    char **ids = NULL, *error = NULL;
    size_t count = 0, added = 0;
    if (queue_scan(r->queue, &ids, &count, &error) < 0) {
        char quoted[512];
        log_error("event=queue_scan_failed error=%s",
                  log_quote(quoted, sizeof quoted, error != NULL ? error : "out of memory"));
        free(error);
        return;
    }
    /* Until a full scan has worked, a message may be one a runner before
     * this one was delivering when it died. */
    size_t i;
    for (i = 0; i < count; i++) {
        size_t before = pending(r);
        if (job_add(r, ids[i], !r->scanned) < 0) {
            log_error("event=queue_scan_failed error=\"out of memory\"");
            break;
        }
        added += pending(r) - before;
    }
    queue_ids_free(&ids, count);
    if (i == count)
        r->scanned = true;
    log_debug("event=queue_scan messages=%zu new=%zu", count, added);
    dispatch(r);
}

/* cleanup - delete what receivers that died left in the spool (tmp/ files,
 * status files without their message) once it is older than
 * CLEANUP_GRACE; at start and every CLEANUP_INTERVAL, so a worker killed
 * mid-DATA does not leave its file until the next restart. */
static unsigned cleanup(struct runner *r)
{
    char quoted[600], *error = NULL;
    unsigned removed = 0;
    r->last_cleanup = time(NULL);
    if (queue_cleanup(r->queue, CLEANUP_GRACE, &removed, &error) < 0) {
        log_error("event=queue_cleanup_failed error=%s",
                  log_quote(quoted, sizeof quoted, error != NULL ? error : "out of memory"));
        free(error);
    } else if (removed > 0) {
        log_info("event=queue_cleanup removed=%u", removed);
    }
    return removed;
}

static void scan_tick(void *ctx)
{
    struct runner *r = ctx;
    scan(r);
    if (time(NULL) - r->last_cleanup >= CLEANUP_INTERVAL)
        cleanup(r);
    event_timer_reset(r->scan_timer, r->conf->queue.scan_interval * 1000ull);
}

/* on_inotify - a spool file renamed into active/ is a new message. */
static void on_inotify(void *ctx, unsigned events)
{
    struct runner *r = ctx;
    char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
    bool rescan = false;
    (void)events;
    for (;;) {
        ssize_t n = read(r->inotify_fd, buf, sizeof buf);
        if (n <= 0)
            break;
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *ev = (const struct inotify_event *)p;
            p += sizeof *ev + ev->len;
            if (ev->mask & IN_Q_OVERFLOW) {
                rescan = true;
                continue;
            }
            /* A spool file renamed in is a new message; .st files are not. */
            if (ev->len == 0 || !queue_id_valid(ev->name))
                continue;
            if (job_add(r, ev->name, !r->scanned) < 0)
                rescan = true; /* out of memory: the scan timer finds it later */
        }
    }
    if (rescan)
        scan(r);
    else
        dispatch(r);
}

/* ---- the process ---- */

static void on_sigterm(void *ctx, int signo)
{
    struct runner *r = ctx;
    (void)signo;
    log_info("event=queue_runner_stopping pending=%zu in_flight=%zu", pending(r), r->in_flight);
    r->stopping = true;
    event_timer_remove(&r->work_timer);
    if (r->in_flight == 0)
        event_loop_stop(r->loop);
}

/* start_workers - the delivery threads, sharing the runner's spool handle,
 * each with its own auth connection. 0, or -1 (logged). */
static int start_workers(struct runner *r)
{
    r->worker_count = r->conf->queue.delivery_threads > 0 ? r->conf->queue.delivery_threads : 1;
    r->workers = calloc(r->worker_count, sizeof *r->workers);
    if (r->workers == NULL) {
        log_error("event=queue_runner_failed error=\"out of memory\"");
        return -1;
    }
    for (size_t i = 0; i < r->worker_count; i++) {
        struct deliverer *w = &r->workers[i];
        w->r = r;
        w->conf = r->conf;
        if (pthread_cond_init(&w->cond, NULL) != 0) {
            log_error("event=queue_runner_failed error=\"pthread_cond_init\"");
            return -1;
        }
        /* One struct queue for all: their removals share each fsync of
         * active/ (queue_remove's group commit). */
        w->queue = r->queue;
        w->auth = auth_client_new(r->auth_path, r->auth_timeout_ms);
        if (w->auth == NULL) {
            log_error("event=queue_runner_failed error=\"auth client: out of memory\"");
            return -1;
        }
        w->local = (struct local_delivery_config){
            .mailbox_base = r->conf->delivery.mailbox_base,
            .hostname = r->conf->server.hostname,
            .sync_method = r->conf->delivery.sync_method,
        };
        w->batch = local_batch_new(&w->local);
        if (w->batch == NULL) {
            log_error("event=queue_runner_failed error=\"out of memory\"");
            return -1;
        }
        int err = pthread_create(&w->thread, NULL, deliverer_main, w);
        if (err != 0) {
            log_error("event=queue_runner_failed error=\"pthread_create: %s\"", strerror(err));
            return -1;
        }
        w->thread_started = true;
    }
    return 0;
}

/* stop_workers - let every delivery thread finish and join it. */
static void stop_workers(struct runner *r)
{
    if (r->workers == NULL)
        return;
    pthread_mutex_lock(&r->mutex);
    r->quit = true;
    for (size_t i = 0; i < r->worker_count; i++)
        pthread_cond_signal(&r->workers[i].cond);
    pthread_mutex_unlock(&r->mutex);
    for (size_t i = 0; i < r->worker_count; i++) {
        struct deliverer *w = &r->workers[i];
        if (w->thread_started)
            pthread_join(w->thread, NULL);
        for (size_t k = 0; k < BATCH_MAX; k++)
            result_clear(&w->res[k]);
        auth_client_free(&w->auth);
        local_batch_free(&w->batch);
        w->queue = NULL; /* the runner's, closed by its owner */
        pthread_cond_destroy(&w->cond);
    }
    free(r->workers);
    r->workers = NULL;
    r->worker_count = 0;
}

/* begin - with the spool lock held: cleanup, threads, watch, first scan. */
static int begin(struct runner *r)
{
    unsigned removed = cleanup(r);
    r->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (r->wake_fd < 0) {
        log_error("event=queue_runner_failed error=\"eventfd: %s\"", strerror(errno));
        return -1;
    }
    r->wake_io = event_io_add(r->loop, r->wake_fd, EVENT_READ, on_wake, r);
    if (r->wake_io == NULL) {
        log_error("event=queue_runner_failed error=\"out of memory\"");
        return -1;
    }
    if (start_workers(r) < 0)
        return -1;
    char active[PATH_MAX];
    int n = snprintf(active, sizeof active, "%s/active", r->spool);
    if (n < 0 || (size_t)n >= sizeof active)
        return -1;
    r->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (r->inotify_fd < 0 || inotify_add_watch(r->inotify_fd, active, IN_MOVED_TO) < 0) {
        log_error("event=queue_runner_failed error=\"inotify %s: %s\"", active, strerror(errno));
        return -1;
    }
    r->inotify_io = event_io_add(r->loop, r->inotify_fd, EVENT_READ, on_inotify, r);
    r->scan_timer = event_timer_add(r->loop, r->conf->queue.scan_interval * 1000ull, scan_tick, r);
    if (r->inotify_io == NULL || r->scan_timer == NULL) {
        log_error("event=queue_runner_failed error=\"out of memory\"");
        return -1;
    }
    r->started = true;
    scan(r);
    log_info("event=queue_runner_started spool=%s messages=%zu cleaned=%u threads=%zu "
             "delivery_sync=%s",
             r->spool, pending(r), removed, r->worker_count,
             config_delivery_sync_name(r->conf->delivery.sync_method));
    return 0;
}

/* try_lock - take the spool lock, or try again shortly (a runner of the
 * previous generation is finishing its messages). */
static void try_lock(void *ctx)
{
    struct runner *r = ctx;
    event_timer_remove(&r->lock_timer);
    if (flock(r->lock_fd, LOCK_EX | LOCK_NB) == 0) {
        if (begin(r) < 0)
            exit(1);
        return;
    }
    if (errno != EWOULDBLOCK && errno != EINTR) {
        log_error("event=queue_runner_failed error=\"lock: %s\"", strerror(errno));
        exit(1);
    }
    r->lock_timer = event_timer_add(r->loop, LOCK_RETRY_MS, try_lock, r);
    if (r->lock_timer == NULL)
        exit(1);
}

static void runner_free(struct runner *r)
{
    stop_workers(r);
    event_timer_remove(&r->lock_timer);
    event_timer_remove(&r->scan_timer);
    event_timer_remove(&r->work_timer);
    event_io_remove(&r->inotify_io);
    event_io_remove(&r->wake_io);
    event_signal_remove(&r->sigterm);
    if (r->inotify_fd >= 0)
        close(r->inotify_fd);
    if (r->wake_fd >= 0)
        close(r->wake_fd);
    if (r->lock_fd >= 0)
        close(r->lock_fd);
    queue_close(&r->queue);
    free(r->jobs);
    free(r->spool);
    free(r->auth_path);
    pthread_mutex_destroy(&r->mutex);
    event_loop_free(&r->loop);
}

void queue_runner_main(const struct queue_runner_params *params)
{
    pid_t master = getppid();
    worker_close_fds_except(NULL, 0);
    /* closing the fds took syslog's socket too: open it again */
    log_set_ident("dirmaild/queue");
    prctl(PR_SET_NAME, RUNNER_PROC_NAME);

    if (privdrop_child_begin(params->ids, master) < 0)
        _exit(1);
    signal(SIGINT, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    signal(SIGCHLD, SIG_DFL);

    struct runner r = {.conf = params->config, .inotify_fd = -1, .wake_fd = -1, .lock_fd = -1};
    char *error = NULL, quoted[600];
    if (pthread_mutex_init(&r.mutex, NULL) != 0)
        _exit(1);
    r.loop = event_loop_new();
    r.spool = queue_runner_spool_path(params->config);
    if (r.loop == NULL || r.spool == NULL) {
        log_error("event=queue_runner_failed error=\"out of memory\"");
        _exit(1);
    }
    r.sigterm = event_signal_add(r.loop, SIGTERM, on_sigterm, &r);
    if (r.sigterm == NULL) {
        log_error("event=queue_runner_failed error=\"signal: %s\"", strerror(errno));
        _exit(1);
    }
    /* Blocked before any delivery thread exists, so they inherit it and
     * only the signalfd sees SIGTERM. */
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigprocmask(SIG_SETMASK, &mask, NULL);

    if (queue_open(r.spool, &r.queue, &error) < 0) {
        log_error("event=queue_runner_failed error=%s",
                  log_quote(quoted, sizeof quoted, error != NULL ? error : "out of memory"));
        _exit(1);
    }
    /* The auth process's own LDAP timeouts come first; this is the bound
     * on a lost or stuck auth process. */
    const struct config_ldap *ldap = &params->config->ldap;
    r.auth_timeout_ms = (ldap->connect_timeout + ldap->timeout + 1) * 1000;
    if ((r.auth_path = config_state_path(params->config, CONFIG_STATE_AUTH_SOCKET)) == NULL) {
        log_error("event=queue_runner_failed error=\"auth client: out of memory\"");
        _exit(1);
    }
    char lock_path[PATH_MAX];
    int n = snprintf(lock_path, sizeof lock_path, "%s/runner.lock", r.spool);
    if (n < 0 || (size_t)n >= sizeof lock_path ||
        (r.lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600)) < 0) {
        log_error("event=queue_runner_failed error=\"%s: %s\"", lock_path, strerror(errno));
        _exit(1);
    }
    try_lock(&r);

    int status = event_loop_run(r.loop) == 0 ? 0 : 1;
    runner_free(&r);
    log_info("event=queue_runner_exit status=%d", status);
    exit(status);
}
