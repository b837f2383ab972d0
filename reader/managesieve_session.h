/* reader/managesieve_session.h - the ManageSieve server conversation (RFC
 * 5804) for the managesieve service: STARTTLS, AUTHENTICATE through
 * proto/sasl_exchange and the auth process, then the script commands over
 * delivery/sieve_store.h, with scripts compiled by delivery/sieve before
 * they are stored. It never talks LDAP. */
#ifndef DIRMAIL_READER_MANAGESIEVE_SESSION_H
#define DIRMAIL_READER_MANAGESIEVE_SESSION_H

#include "proto/service.h"

/* managesieve_session_start - the service_start_fn of the managesieve row. */
void managesieve_session_start(struct service_session *session);

/* managesieve_session_shutdown - drop this process's reference to the
 * shared SASL parts once every session has ended. */
void managesieve_session_shutdown(void);

#endif
