/* gateway/queue_attempt.c - see queue_attempt.h.
 *
 * One attempt: for each message (a turn), load its envelope, then route
 * every due recipient. A route that needs no delivery (deferred, failed)
 * is its result; an expansion is done at once (its new message committed
 * before the original recipient can be marked); the rest are grouped by
 * route (queue_route_same_hop) and each group goes to the transport of its
 * kind in jobs of at most the transport's max_rcpts. A route whose kind has
 * no transport waits deferred, "4.4.0 awaiting outbound transport (<hop>)":
 * never lost, never bounced. After every turn's jobs are handed out, each
 * transport is flushed (the local one makes all its Maildir files durable
 * together: the turn of up to 16 messages costs a few journal commits where
 * one message at a time cost three each), then every result is recorded,
 * and the removals of the attempt share one queue_sync.
 *
 * Asynchronous transports (the SMTP client): a turn that still has jobs in
 * flight after the flush is parked instead (turn_park): what is final is
 * marked, the caller's result says parked, and the attempt goes on. The
 * transport's last finished call (on its own thread) tells the runner
 * (ctx->parked_done), which has one of its threads record the turn with
 * queue_attempt_finish, through the same turn_record as any other.
 *
 * Should a transport fill up in the middle of a message (transport_full),
 * it is flushed and what is final is marked before it takes more, so that
 * a crash leaves at most about two batches of one message unrecorded.
 *
 * Expansion (FORWARD, GROUP): queue_expand_commit injects the new message;
 * only after it returns is the original recipient DELIVERED. The
 * Delivered-To loop check comes first (FAILED, 5.4.6 mail forwarding
 * loop). A forward that keeps a copy here delivers the copy first and
 * durably (a failed copy must not be expanded twice); one whose copy
 * belongs on another node waits, deferred, like a recipient there.
 *
 * Retries: a deferred recipient is retried after the message's age bounded
 * by queue.retry_min and queue.retry_max, so the delay roughly doubles with
 * every attempt without keeping an attempt count. */
#include "config.h"

#include "gateway/queue_attempt.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gateway/queue_bounce.h"
#include "gateway/queue_expand.h"
#include "lib/log.h"
#include "proto/delivery_status.h"

/* What a turn knows about one recipient of its message. */
struct rcpt_work {
    enum queue_rcpt_state state;          /* PENDING while a transport has it */
    time_t when;                          /* DEFERRED: the next retry */
    char reply[DELIVERY_STATUS_TEXT_MAX]; /* DEFERRED/FAILED: enhanced status code and text */
    bool tried;                           /* routed in this turn */
    bool recorded;                        /* its result is durable in the status file */
    struct auth_response resp;            /* the directory's answer: the route borrows from it */
    struct queue_route route;
    struct transport *transport; /* routed to a transport: which */
    size_t group;                /* ... and in which of the turn's groups */
    size_t lead;                 /* (as group number g) the first recipient of group g */
};

/* One message in an attempt. While it is parked (queue_attempt.h) it is the
 * runner's until its last job finishes, then queue_attempt_finish's. */
struct queue_attempt_turn {
    struct queue_attempt_ctx *ctx; /* the attempt's; queue_attempt_finish's once parked */
    const char *id;                /* id_buf */
    char id_buf[QUEUE_ID_SIZE];
    bool check;
    bool force;                       /* retry times do not count (queue_attempt_msg) */
    struct queue_attempt_result *res; /* the caller's; own_res once parked */
    struct queue_attempt_result own_res;
    /* A transport finishes recipients on its own thread (transport.h):
     * outstanding, parked and the state and reply job_finished writes into
     * work are under lock. */
    pthread_mutex_t lock;
    size_t outstanding;            /* recipients handed to transports, not yet finished */
    bool parked;                   /* the attempt went on: the last job_finished tells the runner */
    struct queue_envelope *env;    /* NULL: nothing more to do (res says why) */
    struct rcpt_work *work;        /* per recipient */
    struct transport_rcpt *trcpts; /* the jobs' recipients, group by group */
    struct transport_job *jobs;
    size_t job_count;
    bool mark_failed, removing;
    time_t now;
};

void queue_attempt_result_clear(struct queue_attempt_result *res)
{
    free(res->new_ids);
    *res = (struct queue_attempt_result){0};
}

/* result_add_new - remember an expansion's new id for the work list. */
static int result_add_new(struct queue_attempt_result *res, const char *id)
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

/* work_status - w DEFERRED or FAILED (the status's class) with status and
 * arg (proto/delivery_status.h). */
static void work_status(struct rcpt_work *w, enum delivery_status status, const char *arg)
{
    w->state = delivery_status_permanent(status) ? QUEUE_RCPT_FAILED : QUEUE_RCPT_DEFERRED;
    delivery_status_format(w->reply, sizeof w->reply, status, arg);
}

/* awaiting_transport - w deferred: no transport goes where route does. */
static void awaiting_transport(struct rcpt_work *w, const struct queue_route *route)
{
    char hop[DELIVERY_STATUS_TEXT_MAX];
    queue_route_hop_name(route, hop, sizeof hop);
    work_status(w, DELIVERY_STATUS_AWAITING_TRANSPORT, hop);
}

/* transport_for - the transport of route's kind, or NULL. */
static struct transport *transport_for(const struct queue_attempt_ctx *ctx,
                                       enum queue_route_kind kind)
{
    return (unsigned)kind < QUEUE_ROUTE_KIND_COUNT ? ctx->transports[kind] : NULL;
}

/* job_finished - a transport's result for job->rcpts[k]: its recipient's.
 * On any thread; the last one of a parked turn hands it to the runner, and
 * after that this thread touches the turn no more. */
static void job_finished(struct transport_job *job, size_t k)
{
    struct queue_attempt_turn *t = job->ctx;
    const struct transport_rcpt *rcpt = &job->rcpts[k];
    struct rcpt_work *w = &t->work[rcpt->index];
    pthread_mutex_lock(&t->lock);
    w->state = rcpt->state;
    if (rcpt->state == QUEUE_RCPT_DELIVERED)
        w->reply[0] = '\0';
    else
        memcpy(w->reply, rcpt->reply, sizeof w->reply);
    bool last = --t->outstanding == 0 && t->parked;
    queue_attempt_parked_fn *done = t->ctx->parked_done;
    void *arg = t->ctx->parked_arg;
    pthread_mutex_unlock(&t->lock);
    if (last)
        done(arg, t);
}

/* turn_hand - job goes to tr; its recipients are outstanding from before
 * the call, since a transport may finish them inside it. */
static void turn_hand(struct queue_attempt_turn *t, struct transport *tr, struct transport_job *job)
{
    pthread_mutex_lock(&t->lock);
    t->outstanding += job->count;
    pthread_mutex_unlock(&t->lock);
    transport_deliver(tr, job);
}

/* log_result - the log line of a recorded DEFERRED or FAILED result. */
static void log_result(const char *id, const struct queue_recipient *rc, const struct rcpt_work *w)
{
    char quoted[600], qreply[600];
    if (w->state == QUEUE_RCPT_DEFERRED) {
        log_info("id=%s event=deferred rcpt=%s retry_at=%lld reply=%s", id,
                 log_quote(quoted, sizeof quoted, rc->address), (long long)rc->when,
                 log_quote(qreply, sizeof qreply, w->reply));
    } else if (w->state == QUEUE_RCPT_FAILED) {
        log_warning("id=%s event=failed rcpt=%s reply=%s", id,
                    log_quote(quoted, sizeof quoted, rc->address),
                    log_quote(qreply, sizeof qreply, w->reply));
    }
}

/* final_state - DELIVERED and FAILED are final. */
static bool final_state(enum queue_rcpt_state state)
{
    return state == QUEUE_RCPT_DELIVERED || state == QUEUE_RCPT_FAILED;
}

/* turn_load - the envelope of t->id; when it cannot be had, t->res says
 * what the work list should do and t->env stays NULL. */
static void turn_load(struct queue_attempt_turn *t)
{
    const struct config *conf = t->ctx->conf;
    char quoted[600], *error = NULL;
    if (queue_load_envelope(t->ctx->queue, t->id, &t->env, &error) < 0) {
        char path[PATH_MAX];
        int n = snprintf(path, sizeof path, "%s/active/%s", t->ctx->spool, t->id);
        if (n > 0 && (size_t)n < sizeof path && access(path, F_OK) < 0 && errno == ENOENT) {
            t->res->gone = true; /* removed, or never complete */
        } else {
            log_error("id=%s event=envelope_unreadable error=%s", t->id,
                      log_quote(quoted, sizeof quoted, error != NULL ? error : "out of memory"));
            t->res->due = t->now + conf->queue.retry_max;
        }
        free(error);
        return;
    }
    if (t->env->held) {
        /* Not an attempt: nothing is routed, expired or bounced while the
         * message is held. The runner looks again after a day or at a
         * release (queue_control.h), whichever comes first. */
        log_info("id=%s event=held since=%lld", t->id, (long long)t->env->held_since);
        queue_envelope_free(&t->env);
        t->res->held = true;
        t->res->due = t->now + QUEUE_ATTEMPT_HOLD_RECHECK;
        return;
    }
    t->work = calloc(t->env->rcpt_count, sizeof *t->work);
    if (t->work == NULL) {
        log_error("id=%s event=attempt_failed error=\"out of memory\"", t->id);
        queue_envelope_free(&t->env);
        t->res->due = t->now + conf->queue.retry_min;
    }
}

/* set_when - a DEFERRED result learnt from a transport (a Maildir or
 * syncfs failure) has no retry time yet: it gets one now, like those set
 * while routing, so a failing mailbox is not retried in a loop. */
static void set_when(const struct queue_attempt_turn *t, struct rcpt_work *w)
{
    if (w->tried && w->state == QUEUE_RCPT_DEFERRED && w->when == 0)
        w->when = retry_at(t->ctx->conf, t->env, time(NULL));
}

/* turn_mark - append every result of t that is known and not yet recorded
 * to its status file (one write, one fsync) and apply them to the
 * envelope. On failure t->mark_failed: they were not recorded. */
static void turn_mark(struct queue_attempt_turn *t)
{
    struct queue_envelope *env = t->env;
    struct queue_mark *marks = calloc(env->rcpt_count, sizeof *marks);
    size_t count = 0;
    char qreply[600], *error = NULL;
    if (marks == NULL) {
        t->mark_failed = true;
        return;
    }
    /* Other recipients may still be finishing on a transport's thread. */
    pthread_mutex_lock(&t->lock);
    for (size_t i = 0; i < env->rcpt_count; i++) {
        struct rcpt_work *w = &t->work[i];
        if (!w->tried || w->recorded || w->state == QUEUE_RCPT_PENDING)
            continue;
        set_when(t, w);
        marks[count++] = (struct queue_mark){
            .index = i,
            .state = w->state,
            .when = w->state == QUEUE_RCPT_DEFERRED ? w->when : 0,
            .reply = w->state == QUEUE_RCPT_DELIVERED ? NULL : w->reply,
        };
    }
    pthread_mutex_unlock(&t->lock);
    if (count > 0 && queue_mark_recipients(t->ctx->queue, t->id, marks, count, &error) < 0) {
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
        rc->state = t->work[i].state;
        rc->when = marks[k].when;
        t->work[i].recorded = true;
        log_result(t->id, rc, &t->work[i]);
    }
    free(marks);
}

/* deliver_copy - a forward's local copy of recipient i, finished (durable)
 * before it returns. */
static void deliver_copy(struct queue_attempt_turn *t, size_t i)
{
    struct rcpt_work *w = &t->work[i];
    struct transport *local = transport_for(t->ctx, QUEUE_ROUTE_LOCAL);
    if (local == NULL) {
        awaiting_transport(w, &w->route);
        return;
    }
    struct transport_rcpt rcpt = {.index = i, .route = &w->route};
    struct transport_job job = {
        .queue = t->ctx->queue,
        .id = t->id,
        .env = t->env,
        .check = t->check,
        .rcpts = &rcpt,
        .count = 1,
        .finished = job_finished,
        .ctx = t,
    };
    w->state = QUEUE_RCPT_PENDING;
    turn_hand(t, local, &job);
    transport_flush(local);
}

/* expand - FORWARD (with its optional copy) and GROUP for recipient i. */
static void expand(struct queue_attempt_turn *t, size_t i)
{
    struct rcpt_work *w = &t->work[i];
    const struct queue_route *route = &w->route;
    const char *rcpt = t->env->rcpts[i].address;
    char quoted[512], *error = NULL;
    switch (queue_expand_loop_check(t->ctx->queue, t->id, rcpt)) {
    case QUEUE_EXPAND_UNREADABLE:
        work_status(w, DELIVERY_STATUS_MESSAGE_UNREADABLE_NO_REASON, NULL);
        return;
    case QUEUE_EXPAND_LOOP:
        work_status(w, DELIVERY_STATUS_FORWARDING_LOOP, rcpt);
        return;
    case QUEUE_EXPAND_FIRST:
        break;
    }
    if (route->copy == QUEUE_ROUTE_NODE) {
        /* The copy belongs on another node. Even with a transport there,
         * expanding now would lose track of the copy (its result comes
         * later, the expansion must follow it): wait like a recipient
         * there. */
        awaiting_transport(w, route);
        return;
    }
    if (route->copy == QUEUE_ROUTE_LOCAL) {
        deliver_copy(t, i);
        if (w->state != QUEUE_RCPT_DELIVERED)
            return;
    }
    const char *kind = auth_kind_name(route->entry->kind);
    if (route->targets->count > 0) {
        char new_id[QUEUE_ID_SIZE];
        if (queue_expand_commit(t->ctx->queue, t->id, t->env, i, route->targets, new_id, &error) <
            0) {
            work_status(w, DELIVERY_STATUS_EXPANSION_FAILED,
                        error != NULL ? error : "out of memory");
            free(error);
            return;
        }
        log_info("id=%s event=expanded rcpt=%s kind=%s targets=%zu new_id=%s", t->id,
                 log_quote(quoted, sizeof quoted, rcpt), kind, route->targets->count, new_id);
        if (result_add_new(t->res, new_id) < 0)
            log_warning("id=%s event=job_add_failed error=\"out of memory\"", new_id);
    } else {
        log_info("id=%s event=expanded rcpt=%s kind=%s targets=0", t->id,
                 log_quote(quoted, sizeof quoted, rcpt), kind);
    }
    w->state = QUEUE_RCPT_DELIVERED;
    w->reply[0] = '\0';
}

/* route - ask the directory about recipient i and act on its route: a
 * result, an expansion, or (w->transport set, PENDING) a transport's. */
static void route(struct queue_attempt_turn *t, size_t i)
{
    struct rcpt_work *w = &t->work[i];
    const char *rcpt = t->env->rcpts[i].address;
    const char *args[1] = {rcpt};
    auth_client_request(t->ctx->auth, AUTH_REQ_RESOLVE, args, 1, &w->resp);
    queue_route_recipient(w->resp.status, w->resp.recipient, rcpt, w->resp.error, &w->route);
    switch (w->route.kind) {
    case QUEUE_ROUTE_DEFER:
    case QUEUE_ROUTE_FAIL:
        work_status(w, w->route.status, w->route.status_arg);
        break;
    case QUEUE_ROUTE_EXPAND:
        expand(t, i);
        break;
    default:
        w->transport = transport_for(t->ctx, w->route.kind);
        if (w->transport == NULL)
            awaiting_transport(w, &w->route);
        else
            w->state = QUEUE_RCPT_PENDING;
        break;
    }
}

/* turn_group - put the recipients routed to a transport into groups (one
 * per transport and hop) and the groups into jobs of at most the
 * transport's max_rcpts, in t->trcpts and t->jobs. -1 out of memory. */
static int turn_group(struct queue_attempt_turn *t)
{
    size_t n = t->env->rcpt_count, groups = 0, members = 0;
    for (size_t i = 0; i < n; i++) {
        struct rcpt_work *w = &t->work[i];
        if (!w->tried || w->transport == NULL)
            continue;
        size_t g = 0;
        while (g < groups && !(t->work[t->work[g].lead].transport == w->transport &&
                               queue_route_same_hop(&t->work[t->work[g].lead].route, &w->route)))
            g++;
        if (g == groups)
            t->work[groups++].lead = i;
        w->group = g;
        members++;
    }
    if (members == 0)
        return 0;
    /* Jobs: a group of c recipients on a transport taking m at once is
     * ceil(c / m) of them. */
    size_t job_max = 0;
    for (size_t g = 0; g < groups; g++) {
        size_t count = 0, m = t->work[t->work[g].lead].transport->max_rcpts;
        for (size_t i = 0; i < n; i++)
            count += t->work[i].tried && t->work[i].transport != NULL && t->work[i].group == g;
        job_max += (count + (m > 0 ? m : count) - 1) / (m > 0 ? m : count);
    }
    t->trcpts = calloc(members, sizeof *t->trcpts);
    t->jobs = calloc(job_max, sizeof *t->jobs);
    if (t->trcpts == NULL || t->jobs == NULL)
        return -1;
    size_t at = 0;
    for (size_t g = 0; g < groups; g++) {
        struct transport *tr = t->work[t->work[g].lead].transport;
        struct transport_job *job = NULL;
        for (size_t i = 0; i < n; i++) {
            struct rcpt_work *w = &t->work[i];
            if (!w->tried || w->transport == NULL || w->group != g)
                continue;
            if (job == NULL || (tr->max_rcpts > 0 && job->count == tr->max_rcpts)) {
                job = &t->jobs[t->job_count++];
                *job = (struct transport_job){
                    .queue = t->ctx->queue,
                    .id = t->id,
                    .env = t->env,
                    .check = t->check,
                    .rcpts = &t->trcpts[at],
                    .finished = job_finished,
                    .ctx = t,
                };
            }
            t->trcpts[at++] = (struct transport_rcpt){.index = i, .route = &w->route};
            job->count++;
        }
    }
    return 0;
}

/* turn_route - route every due recipient of t, then hand each group to its
 * transport. Should a transport be full, what is final so far is marked
 * before it takes more (see the file's comment). */
static void turn_route(struct queue_attempt_turn *t)
{
    struct queue_envelope *env = t->env;
    for (size_t i = 0; i < env->rcpt_count; i++) {
        struct queue_recipient *rc = &env->rcpts[i];
        if (final_state(rc->state) ||
            (!t->force && rc->state == QUEUE_RCPT_DEFERRED && rc->when > t->now))
            continue;
        struct rcpt_work *w = &t->work[i];
        w->state = QUEUE_RCPT_DEFERRED;
        w->tried = true;
        route(t, i);
        if (w->state == QUEUE_RCPT_DEFERRED)
            w->when = retry_at(t->ctx->conf, env, time(NULL));
    }
    if (turn_group(t) < 0) {
        for (size_t i = 0; i < env->rcpt_count; i++) {
            struct rcpt_work *w = &t->work[i];
            if (w->tried && w->transport != NULL) {
                work_status(w, DELIVERY_STATUS_NO_MEMORY, NULL);
                w->transport = NULL;
                w->when = retry_at(t->ctx->conf, env, time(NULL));
            }
        }
        t->job_count = 0;
        return;
    }
    for (size_t j = 0; j < t->job_count; j++) {
        struct transport_job *job = &t->jobs[j];
        struct transport *tr = t->work[job->rcpts[0].index].transport;
        if (transport_full(tr)) {
            transport_flush(tr);
            turn_mark(t);
            if (t->mark_failed) {
                /* not handed out: left for the next attempt */
                for (size_t k = j; k < t->job_count; k++) {
                    for (size_t r = 0; r < t->jobs[k].count; r++)
                        t->work[t->jobs[k].rcpts[r].index].tried = false;
                }
                t->job_count = j;
                return;
            }
        }
        turn_hand(t, tr, job);
    }
}

/* turn_bounce - the hook of queue_bounce.h, after the flush and before
 * turn_record: it may turn results FAILED (expired) or back to DEFERRED
 * (their bounce could not be queued), and queues the reports due. */
static void turn_bounce(struct queue_attempt_turn *t)
{
    size_t n = t->env->rcpt_count;
    struct queue_bounce_rcpt *br = calloc(n, sizeof *br);
    if (br == NULL) {
        /* Nothing may become final unreported: this attempt's failures wait. */
        for (size_t i = 0; i < n; i++) {
            struct rcpt_work *w = &t->work[i];
            if (w->tried && w->state == QUEUE_RCPT_FAILED) {
                w->state = QUEUE_RCPT_DEFERRED;
                w->when = t->now + t->ctx->conf->queue.retry_min;
            }
        }
        return;
    }
    for (size_t i = 0; i < n; i++) {
        struct rcpt_work *w = &t->work[i];
        br[i] = (struct queue_bounce_rcpt){
            /* recorded: marked before a full transport took more (see the
             * file's comment); reported like the rest, but final already */
            .tried = w->tried && w->state != QUEUE_RCPT_PENDING,
            .state = w->state,
            .when = w->when,
            .reply = w->reply,
            .local = w->route.kind == QUEUE_ROUTE_LOCAL,
            .expanded = w->route.kind == QUEUE_ROUTE_EXPAND,
        };
    }
    queue_bounce_attempt(t->ctx->conf, t->ctx->queue, t->id, t->env, br, t->now);
    for (size_t i = 0; i < n; i++) {
        if (br[i].tried && !t->work[i].recorded) {
            t->work[i].tried = true;
            t->work[i].state = br[i].state;
            t->work[i].when = br[i].when;
        }
    }
    free(br);
}

/* turn_record - after the flush: remove the message when every recipient
 * is final (the removal records the results: staged here, made durable by
 * the caller's queue_sync), else mark the results. Fills t->res. */
static void turn_record(struct queue_attempt_turn *t)
{
    const struct config *conf = t->ctx->conf;
    struct queue_envelope *env = t->env;
    char quoted[600], *error = NULL;
    bool all_final = !t->mark_failed;
    for (size_t i = 0; i < env->rcpt_count && all_final; i++)
        all_final = final_state(t->work[i].tried ? t->work[i].state : env->rcpts[i].state);
    if (all_final) {
        if (queue_remove_stage(t->ctx->queue, t->id, &error) == 0) {
            t->removing = true;
            for (size_t i = 0; i < env->rcpt_count; i++) {
                struct rcpt_work *w = &t->work[i];
                if (w->tried && !w->recorded) {
                    env->rcpts[i].state = w->state;
                    env->rcpts[i].when = 0;
                    log_result(t->id, &env->rcpts[i], w);
                }
            }
            return;
        }
        log_error("id=%s event=remove_failed error=%s", t->id,
                  log_quote(quoted, sizeof quoted, error != NULL ? error : "out of memory"));
        free(error);
    }
    if (!t->mark_failed)
        turn_mark(t);
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
    t->res->due = next != 0 ? next : t->now + conf->queue.retry_min;
}

/* turn_new - the turn of msg in ctx, its envelope not yet loaded; NULL
 * out of memory. */
static struct queue_attempt_turn *turn_new(struct queue_attempt_ctx *ctx,
                                           const struct queue_attempt_msg *msg)
{
    struct queue_attempt_turn *t = calloc(1, sizeof *t);
    if (t == NULL)
        return NULL;
    if (pthread_mutex_init(&t->lock, NULL) != 0) {
        free(t);
        return NULL;
    }
    t->ctx = ctx;
    snprintf(t->id_buf, sizeof t->id_buf, "%s", msg->id);
    t->id = t->id_buf;
    t->check = msg->check;
    t->force = msg->force;
    t->res = msg->res;
    t->now = time(NULL);
    return t;
}

void queue_attempt_turn_free(struct queue_attempt_turn **turn)
{
    struct queue_attempt_turn *t = *turn;
    if (t == NULL)
        return;
    if (t->work != NULL) {
        for (size_t i = 0; i < t->env->rcpt_count; i++)
            auth_response_clear(&t->work[i].resp);
    }
    queue_envelope_free(&t->env);
    free(t->work);
    free(t->trcpts);
    free(t->jobs);
    queue_attempt_result_clear(&t->own_res);
    pthread_mutex_destroy(&t->lock);
    free(t);
    *turn = NULL;
}

const char *queue_attempt_turn_id(const struct queue_attempt_turn *turn)
{
    return turn->id;
}

struct queue_attempt_result *queue_attempt_turn_result(struct queue_attempt_turn *turn)
{
    return &turn->own_res;
}

/* turn_park - after the flush: whether t still waits on a transport's
 * jobs; if so it is parked (its caller's result says so) and the attempt
 * goes on without it. What is final already (the local recipients just
 * flushed) is marked first, so that little is left unrecorded while the
 * network takes its time. */
static bool turn_park(struct queue_attempt_turn *t)
{
    pthread_mutex_lock(&t->lock);
    bool waiting = t->outstanding > 0;
    pthread_mutex_unlock(&t->lock);
    if (!waiting)
        return false;
    turn_mark(t);
    pthread_mutex_lock(&t->lock);
    waiting = t->outstanding > 0; /* the last may have finished meanwhile */
    if (waiting) {
        t->res->parked = t;
        t->res = &t->own_res;
        t->parked = true;
    }
    pthread_mutex_unlock(&t->lock);
    return waiting;
}

/* turns_record - record count turns whose jobs are all finished; the
 * removals share one queue_sync. */
static void turns_record(struct queue_attempt_ctx *ctx, struct queue_attempt_turn *const *turns,
                         size_t count)
{
    char quoted[600], *error = NULL;
    bool removing = false;
    for (size_t j = 0; j < count; j++) {
        if (turns[j]->env != NULL) {
            turn_bounce(turns[j]);
            turn_record(turns[j]);
            removing = removing || turns[j]->removing;
        }
    }
    int synced = removing ? queue_sync(ctx->queue, &error) : 0;
    if (synced < 0) {
        /* The messages are unlinked but maybe not durably: after a crash
         * one may come back and be delivered again (never lost). */
        log_error("event=remove_sync_failed error=%s",
                  log_quote(quoted, sizeof quoted, error != NULL ? error : "out of memory"));
        free(error);
    }
    for (size_t j = 0; j < count; j++) {
        struct queue_attempt_turn *t = turns[j];
        if (t->removing) {
            queue_remove_status(ctx->queue, t->id);
            log_info("id=%s event=removed recipients=%zu", t->id, t->env->rcpt_count);
            t->res->gone = true;
        }
    }
}

void queue_attempt_run(struct queue_attempt_ctx *ctx, const struct queue_attempt_msg *msgs,
                       size_t count)
{
    struct queue_attempt_turn *turns[QUEUE_ATTEMPT_MAX];
    size_t n = 0;
    if (count > QUEUE_ATTEMPT_MAX)
        count = QUEUE_ATTEMPT_MAX;
    for (size_t j = 0; j < count; j++) {
        struct queue_attempt_turn *t = turn_new(ctx, &msgs[j]);
        if (t == NULL) {
            log_error("id=%s event=attempt_failed error=\"out of memory\"", msgs[j].id);
            msgs[j].res->due = time(NULL) + ctx->conf->queue.retry_min;
            continue;
        }
        turns[n++] = t;
        turn_load(t);
        if (t->env != NULL)
            turn_route(t);
    }
    for (size_t k = 0; k < QUEUE_ROUTE_KIND_COUNT; k++) {
        if (ctx->transports[k] != NULL)
            transport_flush(ctx->transports[k]);
    }
    size_t kept = 0;
    for (size_t j = 0; j < n; j++) {
        if (turns[j]->env == NULL || !turn_park(turns[j]))
            turns[kept++] = turns[j];
    }
    turns_record(ctx, turns, kept);
    for (size_t j = 0; j < kept; j++)
        queue_attempt_turn_free(&turns[j]);
}

void queue_attempt_finish(struct queue_attempt_ctx *ctx, struct queue_attempt_turn *const *turns,
                          size_t count)
{
    for (size_t j = 0; j < count; j++) {
        turns[j]->ctx = ctx;
        turns[j]->now = time(NULL);
    }
    turns_record(ctx, turns, count);
}
