/* gateway/transport_local.c - see transport_local.h.
 *
 * A recipient's file gets a stable name, "Q<queue id>R<recipient index>"
 * with the message's arrival as its time (maildir_stable_name), so that an
 * attempt made and not recorded is recognised the next time: the link into
 * new/ meets the name, or, for a job with check set, the file is found in
 * cur/ or new/ before anything is written, and the result is "already
 * delivered" (local_delivery.h). */
#include "config.h"

#include "gateway/transport_local.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "delivery/mda.h"

/* One delivery waiting in the batch: where its result goes. */
struct slot {
    struct transport_job *job;
    size_t k;
    struct local_result result;
};

struct transport_local {
    struct transport base;
    struct mda *mda;
    struct local_batch *batch;
    /* The batch's pending deliveries in the order they were added: the
     * batch fills up from the front and is settled whole, so the next
     * delivery's slot is the number pending. */
    struct slot slots[LOCAL_BATCH_MAX];
};

/* settled - a delivery's result is final: its recipient takes it. */
static void settled(void *ctx, const struct local_result *res)
{
    struct slot *s = ctx;
    struct transport_rcpt *rcpt = &s->job->rcpts[s->k];
    switch (res->state) {
    case LOCAL_PENDING:
        return; /* not final: told again */
    case LOCAL_DELIVERED:
        rcpt->state = QUEUE_RCPT_DELIVERED;
        rcpt->reply[0] = '\0';
        break;
    case LOCAL_DEFERRED:
    case LOCAL_FAILED:
        rcpt->state = res->state == LOCAL_FAILED ? QUEUE_RCPT_FAILED : QUEUE_RCPT_DEFERRED;
        memcpy(rcpt->reply, res->reply, sizeof rcpt->reply);
        break;
    }
    s->job->finished(s->job, s->k);
}

/* deliver - write every recipient's file into its Maildir's tmp/ and add it
 * to the batch (settled first when full). */
static void deliver(struct transport *t, struct transport_job *job)
{
    struct transport_local *tl = (struct transport_local *)t;
    for (size_t k = 0; k < job->count; k++) {
        struct transport_rcpt *rcpt = &job->rcpts[k];
        const struct auth_recipient *entry = rcpt->route->entry;
        if (local_batch_count(tl->batch) == LOCAL_BATCH_MAX)
            local_batch_settle(tl->batch);
        struct slot *s = &tl->slots[local_batch_count(tl->batch)];
        *s = (struct slot){.job = job, .k = k};
        rcpt->state = QUEUE_RCPT_PENDING;
        char key[LOCAL_STABLE_KEY_MAX + 1];
        snprintf(key, sizeof key, "Q%sR%zu", job->id, rcpt->index);
        int fd = -1;
        uint64_t len = 0;
        char *error = NULL;
        if (queue_open_message(job->queue, job->id, &fd, &len, &error) < 0) {
            local_result_set(&s->result, DELIVERY_STATUS_MESSAGE_UNREADABLE,
                             error != NULL ? error : "out of memory");
            free(error);
            settled(s, &s->result);
            continue;
        }
        const struct mda_message msg = {.fd = fd, .len = len, .sender = job->env->sender};
        const struct mda_recipient mrcpt = {
            .address = job->env->rcpts[rcpt->index].address,
            .mailbox = entry->mailbox,
            .primary = entry->primary != NULL ? entry->primary : entry->matched,
            .quota_bytes = entry->quota,
            .sieve = entry->sieve,
            .loop_after = 1,
            .stable_key = key,
            .stable_time = (long long)job->env->arrival,
            .check_delivered = job->check,
            .settled = settled,
            .settled_ctx = s,
        };
        /* A result final at once (settled was called) leaves the slot
         * free for the next one; the file was read during the add. */
        mda_add(tl->mda, tl->batch, &msg, &mrcpt, job->id, &s->result);
        close(fd);
    }
}

static void flush(struct transport *t)
{
    struct transport_local *tl = (struct transport_local *)t;
    local_batch_settle(tl->batch);
}

static bool full(const struct transport *t)
{
    const struct transport_local *tl = (const struct transport_local *)t;
    return local_batch_count(tl->batch) == LOCAL_BATCH_MAX;
}

static void transport_local_free(struct transport *t)
{
    struct transport_local *tl = (struct transport_local *)t;
    local_batch_free(&tl->batch); /* settles what is pending */
    mda_free(&tl->mda);
    free(tl);
}

static const struct transport_ops local_ops = {
    .name = "local",
    .deliver = deliver,
    .flush = flush,
    .full = full,
    .free = transport_local_free,
};

struct transport *transport_local_new(const struct config *conf, struct queue *queue)
{
    struct transport_local *tl = calloc(1, sizeof *tl);
    if (tl == NULL)
        return NULL;
    tl->base = (struct transport){.ops = &local_ops, .max_rcpts = LOCAL_BATCH_MAX};
    tl->mda = mda_new(conf, NULL, queue);
    tl->batch = tl->mda != NULL ? local_batch_new(mda_local_config(tl->mda)) : NULL;
    if (tl->batch == NULL) {
        mda_free(&tl->mda);
        free(tl);
        return NULL;
    }
    return &tl->base;
}
