/* gateway/queue_bounce.c - see queue_bounce.h.
 *
 * Delay warnings: RFC 3461 4.1 leaves a warning for a recipient without
 * NOTIFY to the MTA; as Postfix (delay_warning_time) one is sent only when
 * queue.delay_warning is set (the default is 4 hours, 0 turns them off),
 * to recipients without NOTIFY or with NOTIFY=DELAY, once per recipient
 * (the "warned" status record, so neither a retry nor a restart repeats
 * it).
 *
 * Success reports (RFC 3461 6.2): NOTIFY=SUCCESS gets "delivered" for a
 * mailbox here, "expanded" for a forward or group, and "relayed" for a
 * next hop that cannot report itself; a next hop that can passes NOTIFY
 * on and reports in our place. */
#include "config.h"

#include "gateway/queue_bounce.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/error.h"
#include "lib/log.h"
#include "proto/delivery_status.h"
#include "queue/dsn.h"
#include "queue/queue_report.h"

/* state_of - recipient i's state after the attempt. */
static enum queue_rcpt_state state_of(const struct queue_envelope *env,
                                      const struct queue_bounce_rcpt *r, size_t i)
{
    return r[i].tried ? r[i].state : env->rcpts[i].state;
}

/* expire - every recipient still waiting past queue.max_age fails, 4.4.7
 * with its last reply. */
static void expire(const struct queue_envelope *env, struct queue_bounce_rcpt *r)
{
    for (size_t i = 0; i < env->rcpt_count; i++) {
        enum queue_rcpt_state st = state_of(env, r, i);
        if (st != QUEUE_RCPT_DEFERRED && st != QUEUE_RCPT_PENDING)
            continue;
        char last[DELIVERY_STATUS_TEXT_MAX], expired[DELIVERY_STATUS_TEXT_MAX];
        const char *prev = r[i].tried ? r[i].reply : env->rcpts[i].reply;
        snprintf(last, sizeof last, "%s", prev != NULL && prev[0] != '\0' ? prev : "never tried");
        /* Expired before, its report not queued (see report()): the reply
         * says so already, and is not wrapped a second time. */
        delivery_status_format(expired, sizeof expired, DELIVERY_STATUS_EXPIRED, "");
        if (strncmp(last, expired, strlen(expired)) == 0)
            snprintf(r[i].reply, DELIVERY_STATUS_TEXT_MAX, "%s", last);
        else
            delivery_status_format(r[i].reply, DELIVERY_STATUS_TEXT_MAX, DELIVERY_STATUS_EXPIRED,
                                   last);
        r[i].tried = true;
        r[i].state = QUEUE_RCPT_FAILED;
        r[i].when = 0;
    }
}

/* report - one report of kind about the recipients in drcpts[0..count):
 * queued, or logged why not. 0 when it is queued (or none was due), -1
 * when it could not be. */
static int report(const struct config *conf, struct queue *queue, const char *id,
                  const struct queue_envelope *env, enum dsn_kind kind,
                  const struct dsn_rcpt *drcpts, size_t count)
{
    static const char *const kinds[] = {"failure", "delay", "success"};
    char new_id[QUEUE_ID_SIZE], quoted[600], *error = NULL;
    if (count == 0)
        return 0;
    if (queue_report_inject(queue, conf->server.hostname, conf->queue.bounce_size_limit, id, env,
                            kind, drcpts, count, new_id, &error) < 0) {
        log_error("id=%s event=dsn_failed kind=%s recipients=%zu error=%s", id, kinds[kind], count,
                  log_quote(quoted, sizeof quoted, error != NULL ? error : "out of memory"));
        free(error);
        return -1;
    }
    log_info("id=%s event=dsn_queued kind=%s recipients=%zu dsn_id=%s to=%s", id, kinds[kind],
             count, new_id, log_quote(quoted, sizeof quoted, env->sender));
    return 0;
}

/* mark_warned - record that recipients drcpts[0..count) were warned. */
static void mark_warned(struct queue *queue, const char *id, const struct dsn_rcpt *drcpts,
                        size_t count)
{
    struct queue_mark *marks = calloc(count, sizeof *marks);
    char quoted[600], *error = NULL;
    for (size_t k = 0; marks != NULL && k < count; k++)
        marks[k] = (struct queue_mark){.index = drcpts[k].index, .warned = true};
    if (marks == NULL || queue_mark_recipients(queue, id, marks, count, &error) < 0) {
        /* The warning is queued; unrecorded, a later attempt sends it again. */
        log_error("id=%s event=mark_failed recipients=%zu error=%s", id, count,
                  log_quote(quoted, sizeof quoted, error != NULL ? error : "out of memory"));
        free(error);
    }
    free(marks);
}

/* What a peer's reply in a result says (RFC 3464 2.3.5 Remote-MTA, 2.3.6
 * Diagnostic-Code), read back from the result by delivery_status_peer_parts. */
struct peer_parts {
    char mta[256];
    char said[DELIVERY_STATUS_TEXT_MAX];
};

void queue_bounce_attempt(const struct config *conf, struct queue *queue, const char *id,
                          const struct queue_envelope *env, struct queue_bounce_rcpt *r, time_t now)
{
    size_t n = env->rcpt_count, failed = 0, delayed = 0, succeeded = 0;
    char quoted[600];
    time_t until = env->arrival + (time_t)conf->queue.max_age;
    if (until < now)
        expire(env, r);
    struct dsn_rcpt *fail = calloc(n, sizeof *fail), *delay = calloc(n, sizeof *delay),
                    *success = calloc(n, sizeof *success);
    struct peer_parts *peer = calloc(n, sizeof *peer);
    if (fail == NULL || delay == NULL || success == NULL || peer == NULL) {
        /* No report can be built: nothing may become final unreported. */
        for (size_t i = 0; i < n; i++) {
            if (r[i].tried && r[i].state == QUEUE_RCPT_FAILED) {
                r[i].state = QUEUE_RCPT_DEFERRED;
                r[i].when = now + conf->queue.retry_min;
            }
        }
        log_error("id=%s event=dsn_failed error=\"out of memory\"", id);
        goto out;
    }
    bool null_sender = env->sender == NULL || env->sender[0] == '\0';
    bool warn_due =
        conf->queue.delay_warning > 0 && env->arrival + (time_t)conf->queue.delay_warning <= now;
    for (size_t i = 0; i < n; i++) {
        const struct queue_recipient *rc = &env->rcpts[i];
        enum queue_rcpt_state st = state_of(env, r, i);
        struct dsn_rcpt d = {.index = i,
                             .reply = r[i].reply,
                             .remote_mta = r[i].remote_mta,
                             .last_attempt = r[i].tried ? now : 0};
        const char *reply = r[i].tried ? r[i].reply : rc->reply;
        if (reply != NULL && delivery_status_peer_parts(reply, peer[i].mta, sizeof peer[i].mta,
                                                        peer[i].said, sizeof peer[i].said)) {
            if (peer[i].mta[0] != '\0')
                d.remote_mta = peer[i].mta;
            d.diagnostic = peer[i].said;
        }
        if (r[i].tried && st == QUEUE_RCPT_FAILED &&
            !dsn_notify_wants(rc->notify, DSN_KIND_FAILURE)) {
            log_info("id=%s event=bounce_not_requested rcpt=%s notify=never_or_no_failure", id,
                     log_quote(quoted, sizeof quoted, rc->address));
        } else if (r[i].tried && st == QUEUE_RCPT_FAILED) {
            if (null_sender) {
                /* Never a bounce for a bounce (RFC 5321 4.5.5, 6.1). */
                log_info("id=%s event=bounce_dropped rcpt=%s reason=null_sender", id,
                         log_quote(quoted, sizeof quoted, rc->address));
                continue;
            }
            d.action = DSN_ACTION_FAILED;
            fail[failed++] = d;
        } else if (r[i].tried && st == QUEUE_RCPT_DELIVERED && !null_sender &&
                   (r[i].local || r[i].expanded || r[i].relayed) &&
                   dsn_notify_wants(rc->notify, DSN_KIND_SUCCESS)) {
            d.action = r[i].local      ? DSN_ACTION_DELIVERED
                       : r[i].expanded ? DSN_ACTION_EXPANDED
                                       : DSN_ACTION_RELAYED;
            d.reply = NULL;
            d.diagnostic = NULL;
            success[succeeded++] = d;
        } else if (st == QUEUE_RCPT_DEFERRED && warn_due && !null_sender && !rc->delay_warned &&
                   dsn_notify_wants(rc->notify, DSN_KIND_DELAY)) {
            d.action = DSN_ACTION_DELAYED;
            d.reply = r[i].tried ? r[i].reply : rc->reply;
            d.retry_until = until;
            delay[delayed++] = d;
        }
    }
    if (report(conf, queue, id, env, DSN_KIND_FAILURE, fail, failed) < 0) {
        /* Not queued: these may not become final unreported. They wait,
         * their reply kept, and are tried again (failing again, most
         * likely, with a bounce then). */
        for (size_t k = 0; k < failed; k++) {
            r[fail[k].index].state = QUEUE_RCPT_DEFERRED;
            r[fail[k].index].when = now + conf->queue.retry_min;
        }
    }
    report(conf, queue, id, env, DSN_KIND_SUCCESS, success, succeeded);
    if (delayed > 0 && report(conf, queue, id, env, DSN_KIND_DELAY, delay, delayed) == 0)
        mark_warned(queue, id, delay, delayed);
out:
    free(peer);
    free(fail);
    free(delay);
    free(success);
}
