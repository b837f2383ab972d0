/* lib/tls.h - OpenSSL contexts for dirmail's servers and clients: TLS 1.2 at
 * the least, certificate/key/CA from files. The key is read here, by the
 * master while still root; the context is then shared with the children. */
#ifndef DIRMAIL_TLS_H
#define DIRMAIL_TLS_H

#include <stdbool.h>

#include <openssl/ssl.h>

/* tls_server_ctx_new - a server context; min_protocol "TLSv1.2" or "TLSv1.3"
 * (NULL: TLSv1.2); ciphers NULL for OpenSSL's default; ca_file may be NULL.
 * NULL on failure with *error_r set to a malloc'd message. */
SSL_CTX *tls_server_ctx_new(const char *cert_file, const char *key_file, const char *ca_file,
                            const char *min_protocol, const char *ciphers, char **error_r);

/* tls_client_ctx_new - a client context verifying peers against ca_file (NULL:
 * the system store) when verify is true. */
SSL_CTX *tls_client_ctx_new(const char *ca_file, bool verify, char **error_r);

#endif
