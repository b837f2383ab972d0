/* auth/sasl_server.h - the Cyrus SASL server glue shared by SMTP AUTH, POP3
 * AUTH and IMAP AUTHENTICATE: one process-wide setup fed from dirmail.conf
 * (no /etc/sasl2 file, no saslauthd, no sasldb) and a per-connection session
 * with raw bytes in and out. It never does base64, never talks LDAP itself
 * (the password check is the caller's function) and never logs a password.
 *
 * Blocking: sasl_session_start and sasl_session_step may call the password
 * check, which in production is a round trip to the auth process
 * (auth/auth_client.h). Call them from a worker's thread pool, never from
 * the event loop thread (doc/concurrency.md). Different sessions may be used
 * from different threads at once; one session from one thread at a time. */
#ifndef DIRMAIL_AUTH_SASL_SERVER_H
#define DIRMAIL_AUTH_SASL_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "conf/conf.h"

/* The caller's verdict on a login and password. */
enum sasl_check_result {
    SASL_CHECK_OK,
    SASL_CHECK_FAILED,   /* unknown user, wrong password, disabled, service refused */
    SASL_CHECK_TEMPFAIL, /* the directory or the auth process could not answer */
};

/* sasl_check_fn - check login and password for service (the service name
 * given to sasl_session_new: "smtp", "submission", "imap", "pop3", ...).
 * Both strings are NUL-terminated, without NUL inside; the password is never
 * empty (the glue refuses empty passwords before asking) and must not be kept
 * or logged. Called from the thread that called start/step. */
typedef enum sasl_check_result sasl_check_fn(void *context, const char *login, const char *password,
                                             const char *service);

/* sasl_glue_init - set up Cyrus SASL for this process, once, before any
 * session (and before the process starts threads): plugins are loaded here.
 * conf is copied. check/context are kept for every session. Mechanisms in
 * conf->mechanisms that Cyrus cannot serve with a password check alone are
 * dropped with a warning. 0, or -1 with a static *error_r. */
int sasl_glue_init(const struct config_sasl *conf, sasl_check_fn *check, void *context,
                   const char **error_r);

/* sasl_proxy_trust_fn - whether ip (text) is a front node trusted with the
 * proxy login (proxy.trusted_networks). */
typedef bool sasl_proxy_trust_fn(void *context, const char *ip);

/* sasl_glue_set_proxy - after sasl_glue_init: the login identity with
 * password "secret ip=ADDR port=N" (auth/sasl_proxy.h) authenticates a
 * session from an address trusted() accepts, for the PLAIN authzid it
 * names (never for itself), without asking the check, in the "pop3" and
 * "imap" services only; anywhere else it fails like a wrong password.
 * Both strings are copied; NULL: off. */
void sasl_glue_set_proxy(const char *identity, const char *secret, sasl_proxy_trust_fn *trusted,
                         void *context);

/* sasl_glue_done - release Cyrus SASL (every session must be freed first);
 * sasl_glue_init may be called again afterwards. */
void sasl_glue_done(void);

enum sasl_session_result {
    SASL_SESSION_CONTINUE, /* send the challenge (out, out_len; may be empty) and read one more
                              response */
    SASL_SESSION_OK,       /* authenticated: sasl_session_user() is the login */
    SASL_SESSION_FAILED,   /* bad credentials or authzid refused: 535 5.7.8 / -ERR [AUTH] / NO
                              [AUTHENTICATIONFAILED] */
    SASL_SESSION_TEMPFAIL, /* check could not answer: 454 4.7.0 / -ERR [SYS/TEMP] / NO [UNAVAILABLE]
                            */
    SASL_SESSION_BAD_PROTOCOL,        /* malformed client response: 501 5.5.2 / -ERR / BAD */
    SASL_SESSION_NO_MECHANISM,        /* mechanism unknown or not offered: 504 5.5.4 */
    SASL_SESSION_ENCRYPTION_REQUIRED, /* plaintext mechanism without TLS: 538 5.7.11 (RFC 4954) */
};

/* sasl_session_result_name - "continue", "ok", "failed", ... for logs. */
const char *sasl_session_result_name(enum sasl_session_result result);

struct sasl_session;

/* sasl_session_new - one client connection. service names the protocol for
 * Cyrus and for the check ("smtp", "submission", "imap", "pop3", ...);
 * server_fqdn is our host name; local_ipport/remote_ipport are "a.b.c.d;port"
 * or "ipv6;port" (Cyrus's syntax) or NULL; tls says a TLS layer is active
 * with tls_ssf bits of strength (OpenSSL's SSL_get_cipher_bits). After
 * STARTTLS, free the session and make a new one (RFC 3207 4.2: forget what
 * was said before). NULL with a static *error_r on failure. */
struct sasl_session *sasl_session_new(const char *service, const char *server_fqdn,
                                      const char *local_ipport, const char *remote_ipport, bool tls,
                                      unsigned tls_ssf, const char **error_r);

/* sasl_session_free - free *s and set it to NULL; NULL is fine. */
void sasl_session_free(struct sasl_session **s);

/* sasl_session_mechanisms - the mechanisms to advertise, space-separated in
 * the configured order ("PLAIN LOGIN"), or "" when none may be used on this
 * connection (then do not advertise AUTH at all). Only mechanisms Cyrus has,
 * that work with the password check alone, that are configured, and (unless
 * sasl.plaintext_without_tls) only under TLS. Owned by the session. */
const char *sasl_session_mechanisms(struct sasl_session *s);

/* sasl_session_start - begin mech (case-insensitive) with the client's
 * initial response: initial == NULL when the client sent none, a zero-length
 * non-NULL buffer when it sent an empty one (SMTP "=", RFC 4954 4). On
 * CONTINUE, *out and *out_len are the challenge, owned by the session until the
 * next call. Calling start again abandons the exchange in progress (the
 * protocol layer's answer to a client's "*"). May block (see above). */
enum sasl_session_result sasl_session_start(struct sasl_session *s, const char *mech,
                                            const unsigned char *initial, size_t initial_len,
                                            const unsigned char **out, size_t *out_len);

/* sasl_session_step - the client's next response (decoded bytes). Same
 * results and ownership as start. May block (see above). */
enum sasl_session_result sasl_session_step(struct sasl_session *s, const unsigned char *in,
                                           size_t in_len, const unsigned char **out,
                                           size_t *out_len);

/* sasl_session_user - after OK: the identity the client acts as (the login,
 * or its authzid when sasl.allow_authzid allowed one); NULL before. */
const char *sasl_session_user(const struct sasl_session *s);

/* sasl_session_authid - after OK: the login whose password was checked. */
const char *sasl_session_authid(const struct sasl_session *s);

/* sasl_session_mechanism - the mechanism of the last start, or NULL. */
const char *sasl_session_mechanism(const struct sasl_session *s);

/* The most octets one client response may have; longer is BAD_PROTOCOL.
 * RFC 4616 2 caps each PLAIN field at 255 octets; this leaves room. */
#define SASL_SESSION_INPUT_MAX 4096

#endif
