/* gateway/transport_smtp_auth.h - the SMTP client's side of AUTH (RFC 4954)
 * to a next hop that asks for it, through Cyrus SASL's client API: PLAIN or
 * LOGIN (what Exchange and Microsoft 365 connectors take), with the
 * destination's credentials (smtp_client.destinations). It only turns
 * challenges into responses; the connection decides when (only under TLS)
 * and what a reply means. */
#ifndef DIRMAIL_GATEWAY_TRANSPORT_SMTP_AUTH_H
#define DIRMAIL_GATEWAY_TRANSPORT_SMTP_AUTH_H

#include <stdbool.h>
#include <stddef.h>

struct smtp_auth;

/* The longest AUTH command or response line the client sends. */
#define SMTP_AUTH_LINE_MAX 2048

/* smtp_auth_init - Cyrus SASL's client side, once per process before any
 * smtp_auth_start. 0, or -1 and *error_r (static text). */
int smtp_auth_init(const char **error_r);

/* smtp_auth_start - begin AUTH for user/password (borrowed until
 * smtp_auth_free) to host with whichever of PLAIN and LOGIN the peer
 * offers (PLAIN first). On success a new exchange and line, the AUTH
 * command with its CRLF (with the initial response when the mechanism has
 * one, RFC 4954 4); *mech_r its name. NULL and *error_r (static) when no
 * offered mechanism can be used or SASL fails. */
struct smtp_auth *smtp_auth_start(const char *user, const char *password, const char *host,
                                  bool plain, bool login, char line[SMTP_AUTH_LINE_MAX],
                                  const char **mech_r, const char **error_r);

/* smtp_auth_step - the response line (with CRLF) to the 334 challenge
 * text (base64, as the peer sent it after "334 "). 0, or -1 and *error_r;
 * then the caller sends "*" (RFC 4954 4: cancels the exchange). */
int smtp_auth_step(struct smtp_auth *a, const char *challenge, char line[SMTP_AUTH_LINE_MAX],
                   const char **error_r);

/* smtp_auth_free - end the exchange; NULLs *a; NULL is fine. */
void smtp_auth_free(struct smtp_auth **a);

#endif
