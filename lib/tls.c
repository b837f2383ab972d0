/* lib/tls.c - OpenSSL server and client contexts (see tls.h). */
#include "config.h"

#include "lib/tls.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

/* set_error - *error_r = "<what>: <OpenSSL's first queued error>" (malloc'd).
 * When allocation fails the message is lost but *error_r is still NULL-safe. */
static void set_error(char **error_r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_error(char **error_r, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (n < 0)
        what[0] = '\0';

    char ssl[256] = "";
    unsigned long code = ERR_peek_last_error();
    if (code != 0)
        ERR_error_string_n(code, ssl, sizeof ssl);
    ERR_clear_error();

    char msg[800];
    n = snprintf(msg, sizeof msg, "%s%s%s", what, ssl[0] != '\0' ? ": " : "", ssl);
    if (n < 0)
        msg[0] = '\0';
    if (error_r != NULL)
        *error_r = strdup(msg);
}

/* parse_min_protocol - TLS 1.2 is the floor whatever the configuration says
 * (RFC 8996 deprecates 1.0 and 1.1); "TLSv1.3" raises it. */
static int parse_min_protocol(const char *name, int *version_r)
{
    if (name == NULL || strcasecmp(name, "TLSv1.2") == 0 || strcasecmp(name, "TLSv1") == 0 ||
        strcasecmp(name, "TLSv1.0") == 0 || strcasecmp(name, "TLSv1.1") == 0) {
        *version_r = TLS1_2_VERSION;
        return 0;
    }
    if (strcasecmp(name, "TLSv1.3") == 0) {
        *version_r = TLS1_3_VERSION;
        return 0;
    }
    return -1;
}

/* common_options - what both sides want: no compression (CRIME), no
 * renegotiation, and a peer that closes without close_notify seen as a plain
 * EOF (mail protocols end at their own QUIT, so truncation is detectable
 * above TLS, and many clients skip close_notify). Buffers are released while
 * idle so that thousands of idle sessions stay small. */
static void common_options(SSL_CTX *ctx)
{
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                 SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
}

SSL_CTX *tls_server_ctx_new(const char *cert_file, const char *key_file, const char *ca_file,
                            const char *min_protocol, const char *ciphers, char **error_r)
{
    int min_version;
    if (error_r != NULL)
        *error_r = NULL;
    if (parse_min_protocol(min_protocol, &min_version) < 0) {
        set_error(error_r, "unknown TLS minimum protocol '%s' (TLSv1.2 or TLSv1.3)", min_protocol);
        return NULL;
    }
    if (cert_file == NULL || key_file == NULL) {
        set_error(error_r, "a TLS server needs a certificate and a key file");
        return NULL;
    }
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL) {
        set_error(error_r, "cannot create TLS server context");
        return NULL;
    }
    common_options(ctx);
    SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
    if (SSL_CTX_set_min_proto_version(ctx, min_version) != 1) {
        set_error(error_r, "cannot set TLS minimum protocol");
        goto fail;
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
        set_error(error_r, "cannot load certificate chain %s", cert_file);
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1) {
        set_error(error_r, "cannot load private key %s", key_file);
        goto fail;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        set_error(error_r, "private key %s does not match certificate %s", key_file, cert_file);
        goto fail;
    }
    if (ca_file != NULL && SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
        set_error(error_r, "cannot load CA file %s", ca_file);
        goto fail;
    }
    if (ciphers != NULL && SSL_CTX_set_cipher_list(ctx, ciphers) != 1) {
        set_error(error_r, "no usable cipher in '%s'", ciphers);
        goto fail;
    }
    /* Sessions resumed across the worker processes that share this context. */
    static const unsigned char sid_ctx[] = "dirmail";
    SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof sid_ctx - 1);
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

SSL_CTX *tls_client_ctx_new(const char *ca_file, bool verify, char **error_r)
{
    if (error_r != NULL)
        *error_r = NULL;
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL) {
        set_error(error_r, "cannot create TLS client context");
        return NULL;
    }
    common_options(ctx);
    if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
        set_error(error_r, "cannot set TLS minimum protocol");
        goto fail;
    }
    if (verify) {
        int ok = ca_file != NULL ? SSL_CTX_load_verify_locations(ctx, ca_file, NULL)
                                 : SSL_CTX_set_default_verify_paths(ctx);
        if (ok != 1) {
            set_error(error_r, "cannot load CA %s", ca_file != NULL ? ca_file : "system store");
            goto fail;
        }
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    }
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}
