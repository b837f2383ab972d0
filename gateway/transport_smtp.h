/* gateway/transport_smtp.h - the SMTP client transport: one thread with its
 * own event loop that carries the runner's jobs for other nodes and relay
 * next hops (a configured next hop, the smtp_client.relayhost, or the
 * recipient domain's MX) over SMTP, with connections reused per
 * destination, limits per destination and in all, and a destination that
 * cannot be reached backed off as a whole. Asynchronous (transport.h):
 * deliver() only queues, results arrive on the transport's thread. It never
 * records anything and never reads the directory. */
#ifndef DIRMAIL_GATEWAY_TRANSPORT_SMTP_H
#define DIRMAIL_GATEWAY_TRANSPORT_SMTP_H

#include "conf/conf.h"
#include "gateway/transport.h"

/* transport_smtp_new - start the transport's thread with conf (which must
 * outlive it). NULL with *error_r (malloc'd) when it cannot (TLS contexts,
 * the resolver, the thread). Free with transport_free, which abandons what
 * is in flight. */
struct transport *transport_smtp_new(const struct config *conf, char **error_r);

/* transport_smtp_check - make and drop the TLS client contexts the
 * transport would make at its first job (smtp_client.tls_ca_file and every
 * smtp_client.destinations row's), so that dirmaild -n reports a CA file
 * that cannot be loaded instead of the first relayed message. 0, or -1
 * with *error_r (malloc'd). */
int transport_smtp_check(const struct config *conf, char **error_r);

#endif
