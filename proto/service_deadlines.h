/* proto/service_deadlines.h - the deadlines one worker gives the sessions of
 * one service (lib/conn.h's struct conn_deadlines from the service's
 * settings), and overload mode: when the connections in use reach
 * overload_threshold % of max_connections, idle_timeout and data_timeout
 * shrink to their overload_ values until the load falls again (Postfix's
 * stress-dependent smtpd_timeout). */
#ifndef DIRMAIL_SERVICE_DEADLINES_H
#define DIRMAIL_SERVICE_DEADLINES_H

#include <stdbool.h>

#include "conf/conf.h"
#include "lib/conn.h"
#include "proto/conn_limit.h"

struct service_deadlines {
    struct conn_deadlines current; /* what the service's connections point at */
    bool overloaded;
};

/* service_deadlines_init - the normal deadlines of svc. */
void service_deadlines_init(struct service_deadlines *d, const struct config_service *svc);

/* service_deadlines_update - judge the load from the shared counts; log the
 * start and the end of overload once for all workers. True when d->current
 * changed: the caller tells every connection pointing at it
 * (conn_deadlines_changed). Overload begins at threshold % and ends below
 * (threshold - 10) %, so that one connection more or less does not flap. */
bool service_deadlines_update(struct service_deadlines *d, const struct config_service *svc,
                              struct conn_limit *limits, unsigned service_slot, uint64_t now_ms);

#endif
