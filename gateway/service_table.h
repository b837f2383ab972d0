/* gateway/service_table.h - the one table from a service type to the protocol
 * that serves it (proto/service.h's struct service_proto). A protocol plugs in
 * by filling its row; the worker looks rows up here and, when its sessions
 * have ended, asks every protocol to release what it shares. */
#ifndef DIRMAIL_SERVICE_TABLE_H
#define DIRMAIL_SERVICE_TABLE_H

#include "proto/service.h"

/* service_table_lookup - the row for type (never NULL for a valid type). */
const struct service_proto *service_table_lookup(enum service_type type);

/* service_table_shutdown - call every row's shutdown hook once (rows share
 * hooks); the worker calls it once every session has ended, before it frees
 * its loop. */
void service_table_shutdown(void);

#endif
