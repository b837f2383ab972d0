/* reader/pop3_session.h - the POP3 server conversation (RFC 1939, RFC 2449
 * CAPA, RFC 2595 STLS, RFC 5034 AUTH) for the pop3 and pop3s services: an
 * explicit state machine (AUTHORIZATION, TRANSACTION, UPDATE) over a lib/conn
 * connection. It logs in through proto/sasl_exchange and the auth process and
 * reads the maildrop through reader/pop3_maildrop.h; it never talks LDAP. */
#ifndef DIRMAIL_READER_POP3_SESSION_H
#define DIRMAIL_READER_POP3_SESSION_H

#include "proto/service.h"

/* pop3_session_start - the service_start_fn of the pop3 and pop3s rows. */
void pop3_session_start(struct service_session *session);

/* pop3_session_shutdown - drop this process's reference to the shared SASL
 * parts once every session has ended. */
void pop3_session_shutdown(void);

#endif
