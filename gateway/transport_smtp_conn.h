/* gateway/transport_smtp_conn.h - one outgoing SMTP or LMTP connection of the SMTP
 * transport (transport_smtp.c) on its event loop: it tries a destination's
 * addresses in turn until one greets and answers EHLO (or HELO), applies
 * the STARTTLS policy, then carries one message at a time (MAIL, RCPT,
 * DATA, pipelined when offered) and says how each recipient ended. It never
 * chooses which message or destination: its owner does. */
#ifndef DIRMAIL_GATEWAY_TRANSPORT_SMTP_CONN_H
#define DIRMAIL_GATEWAY_TRANSPORT_SMTP_CONN_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

#include "conf/conf.h"
#include "gateway/transport.h"
#include "proto/smtp_client.h"
#include "relay/smtp_dns.h"

struct event_loop;
struct smtp_conn;

/* What every connection of the transport shares; the owner's. */
struct smtp_conn_settings {
    const struct config_smtp_client *conf;
    const char *helo_name;
    SSL_CTX *tls_plain; /* encryption without verification (may, encrypt); NULL: no TLS */
};

/* One destination's TLS policy and credentials (smtp_client, or its
 * destinations row); the owner's, shared by the destination's connections. */
struct smtp_conn_policy {
    enum config_tls_security tls_security;
    SSL_CTX *tls_verify;                   /* verify: against the CA file; else NULL */
    const char *tls_verify_name;           /* verify: NULL: the host's name */
    const char *auth_user, *auth_password; /* AUTH after STARTTLS; NULL: none */
};

/* What a connection tells its owner, always from the loop. */
struct smtp_conn_events {
    /* c waits for a message: give it one with smtp_conn_send (now or
     * later), else it says QUIT after idle_time. */
    void (*idle)(void *ctx, struct smtp_conn *c);
    /* every recipient of job has its result in job->rcpts; the owner calls
     * finished. */
    void (*job_done)(void *ctx, struct smtp_conn *c, struct transport_job *job);
    /* c is finished (QUIT, lost, or no address answered: reached false
     * with why in error); the owner frees it (smtp_conn_free), here or
     * later. A job it held is done first. */
    void (*closed)(void *ctx, struct smtp_conn *c, bool reached, const char *error);
};

/* smtp_conn_new - connect to targets[0..count) in turn for job (NULL: for
 * whatever comes), under policy, speaking protocol (SMTP or LMTP). NULL
 * out of memory. */
struct smtp_conn *smtp_conn_new(struct event_loop *loop, const struct smtp_conn_settings *settings,
                                const struct smtp_conn_policy *policy,
                                enum smtp_client_protocol protocol,
                                const struct smtp_target *targets, size_t count,
                                const struct smtp_conn_events *events, void *ctx,
                                struct transport_job *job);

/* smtp_conn_idle - whether c waits for a message (it stops by itself when
 * its idle_time is over and it says QUIT). */
bool smtp_conn_idle(const struct smtp_conn *c);

/* smtp_conn_send - carry job on c, which is idle. */
void smtp_conn_send(struct smtp_conn *c, struct transport_job *job);

/* smtp_conn_free - close at once (a held job is dropped without results:
 * only at shutdown) and free; NULLs *c. */
void smtp_conn_free(struct smtp_conn **c);

/* smtp_conn_peer - "host[address]:port" of the address in use. */
const char *smtp_conn_peer(const struct smtp_conn *c);

#endif
