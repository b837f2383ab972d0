/* gateway/transport_local.h - the local transport: a job's recipients into
 * their Maildirs on this node through the delivery agent's step
 * (delivery/mda.h: loop check, Sieve, folders) and local_delivery, written at
 * once and made durable together at the next flush, so that the deliveries
 * of a runner thread's turn (up to LOCAL_BATCH_MAX) share their journal
 * commits. One per runner thread: it is not thread-safe. It never reads the
 * directory (the route carries the entry) and never records anything. */
#ifndef DIRMAIL_GATEWAY_TRANSPORT_LOCAL_H
#define DIRMAIL_GATEWAY_TRANSPORT_LOCAL_H

#include "conf/conf.h"
#include "gateway/transport.h"
#include "queue/queue.h"

/* transport_local_new - a local transport for conf and queue (borrowed:
 * they must outlive it; the queue takes Sieve's redirects and replies);
 * NULL when out of memory. Free with transport_free. */
struct transport *transport_local_new(const struct config *conf, struct queue *queue);

#endif
