/* delivery/mda_quota.h - the quota warning of local delivery: the user is
 * told once, through the queue (mda_notify.h), when a delivery brings the
 * Maildir to delivery.quota_warning_percent of its quota; a marker file in
 * the Maildir root remembers it. It never refuses a delivery (the Maildir
 * writer's quota check does). */
#ifndef DIRMAIL_DELIVERY_MDA_QUOTA_H
#define DIRMAIL_DELIVERY_MDA_QUOTA_H

#include <stdint.h>

#include "conf/conf.h"
#include "queue/queue.h"

/* One recipient's warning. Everything is borrowed. */
struct mda_quota_notice {
    const struct config_delivery *conf; /* quota_warning_percent, _message */
    struct queue *queue;                /* NULL: no warnings */
    const char *hostname;
    int root_fd;          /* the Maildir root */
    uint64_t quota_bytes; /* 0: no quota, no warning */
    const char *to;       /* the user's address */
    const char *log_id;   /* may be NULL */
};

/* mda_quota_warning - the delivery of size octets is about to be stored:
 * warn when it takes the usage to the mark and still fits. The marker is
 * re-armed by a delivery that finds the usage below the mark at least an
 * hour after the warning (the usage read here leaves out deliveries still
 * pending in a batch, the warning's own among them). Best effort: a failure
 * is logged and never holds the delivery. */
void mda_quota_warning(const struct mda_quota_notice *n, uint64_t size);

#endif
