/* proto/sasl_shared.h - what the authenticating protocols of one worker
 * process share: Cyrus SASL set up once (auth/sasl_server.h allows one setup
 * per process) with the password check through the auth socket, the thread
 * pool its blocking steps run on, and the auth socket's clients. SMTP, POP3
 * and IMAP each take a reference at their first session and drop it in their
 * shutdown hook; the last one frees it. It never speaks a protocol. */
#ifndef DIRMAIL_PROTO_SASL_SHARED_H
#define DIRMAIL_PROTO_SASL_SHARED_H

#include <stdbool.h>

#include "conf/conf.h"

struct auth_async;
struct auth_client;
struct event_loop;
struct threadpool;

/* Pool threads: Cyrus steps wait on the auth socket and SMTP's commits on
 * fsync, not on the CPU, so more of them merge more waits into one. */
#define SASL_SHARED_THREADS 16

struct sasl_shared {
    struct threadpool *pool;    /* the blocking work of every protocol's sessions */
    struct auth_async *async;   /* lookups from the event loop */
    struct auth_client *client; /* blocking: SASL's password check on pool threads */
    bool sasl_ready;            /* sasl_glue_init succeeded: AUTH may be offered */
    unsigned refs;
};

/* sasl_shared_acquire - the process's shared parts, set up on the first call
 * (SASL before any thread is started) from conf on loop; one more reference.
 * NULL (logged) when they cannot be set up. A SASL setup failure is not one:
 * sasl_ready is false then and AUTH is not offered. */
struct sasl_shared *sasl_shared_acquire(struct event_loop *loop, const struct config *conf);

struct service_session;
struct sasl_session;

/* sasl_shared_session_new - a Cyrus session for ss's connection as it is now
 * (tls: under TLS; after STARTTLS the caller drops the old one and makes a
 * new one) as service (the type name the directory's dirmailService lists).
 * NULL when SASL is not set up here, or (logged) when Cyrus refuses. */
struct sasl_session *sasl_shared_session_new(const struct sasl_shared *shared,
                                             const struct service_session *ss, const char *service,
                                             bool tls);

/* sasl_shared_release - drop the reference *shared holds and NULL it (NULL
 * is fine); the last one frees everything, the pool first (its threads call
 * the password check, which uses client). Only when every session that used
 * it has ended. */
void sasl_shared_release(struct sasl_shared **shared);

#endif
