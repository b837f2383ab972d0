/* gateway/worker.h - one worker process: forked by the master (no exec), it
 * gives up root, then runs a single-threaded event loop that accepts on
 * every inherited listener, counts the connection against the shared limits
 * and hands it to its service's protocol (doc/concurrency.md). */
#ifndef DIRMAIL_WORKER_H
#define DIRMAIL_WORKER_H

#include <openssl/ssl.h>

#include "conf/conf.h"
#include "proto/conn_limit.h"
#include "gateway/listener.h"
#include "gateway/pregreet_cache.h"
#include "lib/privdrop.h"

struct worker_params {
    const struct config *config;
    const struct listener_set *listeners;
    const unsigned *service_slots; /* conn_limit slot of each configured service */
    struct conn_limit *limits;
    unsigned proc_slot;              /* this worker's slot in limits */
    struct pregreet_cache *pregreet; /* shared: who passed the pregreet test */
    SSL_CTX *tls_ctx;                /* NULL: no [tls] certificate */
    const struct privdrop_ids *ids;
};

/* worker_main - become a worker; called in the child right after fork. On
 * SIGTERM it stops accepting, lets its sessions finish and exits 0; it exits
 * 1 if it cannot drop privileges or start. Never returns. */
void worker_main(const struct worker_params *params) __attribute__((noreturn));

/* worker_close_fds_except - close every descriptor above 2 but keep[]
 * (what a freshly forked child must not hold of its parent's). */
void worker_close_fds_except(const int *keep, size_t count);

#endif
