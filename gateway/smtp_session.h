/* gateway/smtp_session.h - the SMTP server conversation (RFC 5321) for the
 * smtp (MX), submission (RFC 6409: STARTTLS then AUTH before MAIL) and
 * submissions (RFC 8314 implicit TLS) services: an explicit state machine
 * over a lib/conn connection, with PIPELINING, SIZE, 8BITMIME,
 * ENHANCEDSTATUSCODES, STARTTLS, AUTH, SMTPUTF8, DSN and CHUNKING. It asks the
 * auth process for recipients and senders (never LDAP itself), runs SASL and
 * the queue's fsync in the worker's thread pool, and answers 250 to a message
 * only after the queue made it durable. It never delivers anything. */
#ifndef DIRMAIL_SMTP_SESSION_H
#define DIRMAIL_SMTP_SESSION_H

#include "proto/service.h"

/* smtp_session_start - the service_start_fn of the smtp, submission and
 * submissions rows. The first call in a process sets up what sessions share
 * there (thread pool, queue, auth client, SASL); when that fails the client
 * gets 421 4.3.0 and later sessions try again. */
void smtp_session_start(struct service_session *session);

/* smtp_session_shutdown - free what the sessions of this process shared
 * (every session must have ended; the loop must still exist), so that a
 * worker leaves nothing behind on SIGTERM. A later session sets it up again. */
void smtp_session_shutdown(void);

#endif
