/* gateway/transport.h - the one small interface between the queue runner and
 * what carries a message to a group of its recipients that share a route
 * (relay/queue_route.h): the local transport into Maildirs now
 * (transport_local.h), the SMTP and LMTP clients next. The runner owns the
 * spool, the retries and every record; a transport only delivers and says
 * how each recipient of a job ended (a row of proto/delivery_status.h).
 *
 * Contract. deliver() takes a job and returns without waiting on the
 * network: a transport that talks to other hosts hands the job to its own
 * threads or event loop, so that it never holds a runner thread that local
 * deliveries need. Each recipient's result arrives once through
 * job->finished, on whichever thread the transport finishes it on, and the
 * job (with what it points to) must stay valid until the last one has;
 * after the last call the transport touches the job no more. The runner
 * keeps the message's turn alive (parked, queue_attempt.h) until then and
 * records the results on one of its threads, never the transport's.
 * flush() finishes, before it returns, whatever of the jobs handed to it on
 * this thread the transport finishes by itself (the local transport: its
 * batch made durable); an asynchronous transport returns at once. full()
 * says that the transport holds as many unfinished recipients as it takes
 * at once: the runner then flushes and records before it hands it more,
 * which bounds what a crash can leave delivered and unrecorded (an
 * asynchronous transport says false: the runner bounds the messages in
 * flight itself). An asynchronous transport is shared by every runner
 * thread: its deliver() is thread-safe. free() abandons the jobs not yet
 * finished: once it returns, finished is never called again, and their
 * results are never recorded (retried after the restart). */
#ifndef DIRMAIL_GATEWAY_TRANSPORT_H
#define DIRMAIL_GATEWAY_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "relay/queue_route.h"
#include "proto/delivery_status.h"
#include "queue/queue.h"

/* One recipient of a job and, once finished, its result. */
struct transport_rcpt {
    size_t index;                         /* into job->env->rcpts */
    const struct queue_route *route;      /* LOCAL: its entry; NODE, RELAY: its hop */
    enum queue_rcpt_state state;          /* PENDING until finished: DELIVERED, DEFERRED, FAILED */
    char reply[DELIVERY_STATUS_TEXT_MAX]; /* DEFERRED, FAILED: "C.S.D text" */
};

struct transport_job;
/* transport_finished_fn - job->rcpts[k] has its final result. */
typedef void transport_finished_fn(struct transport_job *job, size_t k);

/* One message to the recipients of one route. Everything is the caller's
 * (the runner's) and borrowed by the transport until the last finished. */
struct transport_job {
    struct queue *queue; /* to read the message: queue_open_message */
    const char *id;
    const struct queue_envelope *env;
    /* An earlier attempt may have delivered without recording it (a runner
     * that died, a failed mark): a transport that can tell must look. */
    bool check;
    struct transport_rcpt *rcpts;
    size_t count;
    transport_finished_fn *finished;
    void *ctx; /* the caller's */
};

struct transport;

struct transport_ops {
    const char *name;
    void (*deliver)(struct transport *t, struct transport_job *job);
    void (*flush)(struct transport *t);
    bool (*full)(const struct transport *t);
    void (*free)(struct transport *t);
    /* Optional (NULL: nothing to forget): the administrator asked for a
     * flush (dirmailctl queue flush), so what the transport holds back on
     * its own (a destination's backoff after failed connections) is
     * forgotten and the next jobs are tried for real. Thread-safe. */
    void (*retry_now)(struct transport *t);
};

/* A transport is its ops followed by its own state (the first member of
 * the implementation's struct). */
struct transport {
    const struct transport_ops *ops;
    /* The most recipients one job may carry (a server's RCPT limit, a
     * batch's size); the runner splits a larger group. */
    size_t max_rcpts;
};

/* transport_name - "local", ... */
static inline const char *transport_name(const struct transport *t)
{
    return t->ops->name;
}

/* transport_deliver - start job on t (see the contract above). */
static inline void transport_deliver(struct transport *t, struct transport_job *job)
{
    t->ops->deliver(t, job);
}

/* transport_flush - finish what t finishes by itself. */
static inline void transport_flush(struct transport *t)
{
    t->ops->flush(t);
}

/* transport_full - t takes no more before a flush. */
static inline bool transport_full(const struct transport *t)
{
    return t->ops->full(t);
}

/* transport_retry_now - see transport_ops.retry_now; NULL t is fine. */
static inline void transport_retry_now(struct transport *t)
{
    if (t != NULL && t->ops->retry_now != NULL)
        t->ops->retry_now(t);
}

/* transport_free - flush and free *t, NULL it; NULL is fine. */
static inline void transport_free(struct transport **t)
{
    if (*t == NULL)
        return;
    (*t)->ops->free(*t);
    *t = NULL;
}

/* transport_result_set - rcpt finished DEFERRED or FAILED (the status's
 * class) with status and arg (delivery_status_format). */
static inline void transport_result_set(struct transport_rcpt *rcpt, enum delivery_status status,
                                        const char *arg)
{
    rcpt->state = delivery_status_permanent(status) ? QUEUE_RCPT_FAILED : QUEUE_RCPT_DEFERRED;
    delivery_status_format(rcpt->reply, sizeof rcpt->reply, status, arg);
}

#endif
