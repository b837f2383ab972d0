/* delivery/lmtp_session.h - the LMTP server (RFC 2033) on the shared
 * protocol layer: LHLO, MAIL, RCPT looked up in the directory through the
 * auth process, DATA and BDAT into a spool file, then one reply per accepted
 * recipient, each the result of its Maildir delivery (delivery/mda.h) on the
 * worker's thread pool. No queue entry: the client keeps the message until
 * it has the replies. It only serves trusted clients: a UNIX socket's, or a
 * TCP client in the service's trusted_networks. */
#ifndef DIRMAIL_DELIVERY_LMTP_SESSION_H
#define DIRMAIL_DELIVERY_LMTP_SESSION_H

#include "proto/service.h"

/* lmtp_session_start - the lmtp row's start function (proto/service.h). */
void lmtp_session_start(struct service_session *ss);

/* lmtp_session_shutdown - drop what the sessions of this process shared,
 * once every session has ended. */
void lmtp_session_shutdown(void);

#endif
