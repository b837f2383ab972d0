/* gateway/transport_local.h - the local transport: a job's recipients into
 * their Maildirs on this node through delivery/local_delivery, written at
 * once and made durable together at the next flush, so that the deliveries
 * of a runner thread's turn (up to LOCAL_BATCH_MAX) share their journal
 * commits. One per runner thread: it is not thread-safe. It never reads the
 * directory (the route carries the entry) and never records anything. */
#ifndef DIRMAIL_GATEWAY_TRANSPORT_LOCAL_H
#define DIRMAIL_GATEWAY_TRANSPORT_LOCAL_H

#include "delivery/local_delivery.h"
#include "gateway/transport.h"

/* transport_local_new - a local transport with conf (copied, not its
 * strings, which must outlive it); NULL when out of memory. Free with
 * transport_free. */
struct transport *transport_local_new(const struct local_delivery_config *conf);

#endif
