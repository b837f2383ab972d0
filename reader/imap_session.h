/* reader/imap_session.h - the IMAP server conversation (RFC 3501 with
 * LITERAL+, SASL-IR, ID, ENABLE, NAMESPACE, UNSELECT, UIDPLUS) for the imap
 * and imaps services: an explicit state machine (not authenticated,
 * authenticated, selected, logout) over a lib/conn connection. It logs in
 * through proto/sasl_exchange and the auth process and reads folders
 * through delivery/mailbox.h; it never talks LDAP. doc/imap.md says what is
 * implemented and what is not yet. */
#ifndef DIRMAIL_READER_IMAP_SESSION_H
#define DIRMAIL_READER_IMAP_SESSION_H

#include "proto/service.h"

/* imap_session_start - the service_start_fn of the imap and imaps rows. */
void imap_session_start(struct service_session *session);

/* imap_session_shutdown - drop this process's reference to the shared SASL
 * parts once every session has ended. */
void imap_session_shutdown(void);

#endif
