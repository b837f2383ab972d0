/* gateway/transport_smtp_auth.c - see transport_smtp_auth.h.
 *
 * PLAIN and LOGIN are computed by Cyrus SASL's plugins (libsasl2-modules),
 * not here: the callbacks hand it the user and the password. Neither
 * mechanism has a security layer, so max_ssf is 0: the connection's TLS
 * is what protects the password (the configuration refuses AUTH on a
 * destination whose policy could end in clear). */
#include "config.h"

#include "gateway/transport_smtp_auth.h"

#include <sasl/sasl.h>
#include <sasl/saslutil.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Cyrus SASL's callbacks have one generic type; the double cast is the
 * one GCC accepts (auth/sasl_server.c does the same). */
#define CB(fn) ((int (*)(void))(void (*)(void))(fn))

struct smtp_auth {
    sasl_conn_t *conn;
    const char *user;
    sasl_secret_t *secret;
    sasl_callback_t callbacks[4];
};

/* get_user - SASL_CB_USER and SASL_CB_AUTHNAME: the same name (no authzid
 * other than the login itself). */
static int get_user(void *ctx, int id, const char **result, unsigned *len)
{
    struct smtp_auth *a = ctx;
    if (id != SASL_CB_USER && id != SASL_CB_AUTHNAME)
        return SASL_BADPARAM;
    *result = a->user;
    if (len != NULL)
        *len = (unsigned)strlen(a->user);
    return SASL_OK;
}

static int get_secret(sasl_conn_t *conn, void *ctx, int id, sasl_secret_t **secret)
{
    struct smtp_auth *a = ctx;
    (void)conn;
    if (id != SASL_CB_PASS)
        return SASL_BADPARAM;
    *secret = a->secret;
    return SASL_OK;
}

int smtp_auth_init(const char **error_r)
{
    if (sasl_client_init(NULL) != SASL_OK) {
        *error_r = "Cyrus SASL sasl_client_init failed (is libsasl2-modules installed?)";
        return -1;
    }
    return 0;
}

/* encode - "prefix[ base64(data)]\r\n" into line; an empty response is
 * "=" in an AUTH command (RFC 4954 4) and empty after a challenge. */
static int encode(const char *prefix, const char *data, unsigned len, bool initial,
                  char line[SMTP_AUTH_LINE_MAX])
{
    char b64[SMTP_AUTH_LINE_MAX];
    unsigned b64_len = 0;
    if (len > 0 && sasl_encode64(data, len, b64, sizeof b64, &b64_len) != SASL_OK)
        return -1;
    b64[b64_len] = '\0';
    const char *arg = len > 0 ? b64 : initial ? "=" : "";
    int n =
        snprintf(line, SMTP_AUTH_LINE_MAX, "%s%s%s\r\n", prefix, *prefix && *arg ? " " : "", arg);
    return n > 0 && n < SMTP_AUTH_LINE_MAX ? 0 : -1;
}

struct smtp_auth *smtp_auth_start(const char *user, const char *password, const char *host,
                                  bool plain, bool login, char line[SMTP_AUTH_LINE_MAX],
                                  const char **mech_r, const char **error_r)
{
    const char *mechs = plain && login ? "PLAIN LOGIN" : plain ? "PLAIN" : login ? "LOGIN" : NULL;
    if (mechs == NULL) {
        *error_r = "the peer offers neither AUTH PLAIN nor AUTH LOGIN";
        return NULL;
    }
    size_t pass_len = strlen(password);
    struct smtp_auth *a = calloc(1, sizeof *a);
    if (a == NULL || (a->secret = calloc(1, sizeof *a->secret + pass_len + 1)) == NULL) {
        free(a);
        *error_r = "out of memory";
        return NULL;
    }
    a->user = user;
    a->secret->len = pass_len;
    memcpy(a->secret->data, password, pass_len + 1);
    a->callbacks[0] = (sasl_callback_t){SASL_CB_USER, CB(get_user), a};
    a->callbacks[1] = (sasl_callback_t){SASL_CB_AUTHNAME, CB(get_user), a};
    a->callbacks[2] = (sasl_callback_t){SASL_CB_PASS, CB(get_secret), a};
    a->callbacks[3] = (sasl_callback_t){SASL_CB_LIST_END, NULL, NULL};
    if (sasl_client_new("smtp", host, NULL, NULL, a->callbacks, 0, &a->conn) != SASL_OK) {
        *error_r = "sasl_client_new failed";
        smtp_auth_free(&a);
        return NULL;
    }
    /* TLS carries the exchange: no SASL layer, plaintext mechanisms allowed */
    sasl_security_properties_t props = {.min_ssf = 0, .max_ssf = 0, .security_flags = 0};
    sasl_setprop(a->conn, SASL_SEC_PROPS, &props);
    const char *out = NULL, *mech = NULL;
    unsigned out_len = 0;
    int rc = sasl_client_start(a->conn, mechs, NULL, &out, &out_len, &mech);
    if ((rc != SASL_OK && rc != SASL_CONTINUE) || mech == NULL) {
        *error_r = "no usable SASL mechanism (PLAIN, LOGIN: libsasl2-modules)";
        smtp_auth_free(&a);
        return NULL;
    }
    char prefix[64];
    snprintf(prefix, sizeof prefix, "AUTH %s", mech);
    /* LOGIN has no initial response: its first step answers "Username:" */
    bool initial = out != NULL && out_len > 0;
    int n = initial ? 0 : snprintf(line, SMTP_AUTH_LINE_MAX, "%s\r\n", prefix);
    if (initial ? encode(prefix, out, out_len, true, line) < 0 : n < 0 || n >= SMTP_AUTH_LINE_MAX) {
        *error_r = "AUTH response too long";
        smtp_auth_free(&a);
        return NULL;
    }
    *mech_r = mech;
    return a;
}

int smtp_auth_step(struct smtp_auth *a, const char *challenge, char line[SMTP_AUTH_LINE_MAX],
                   const char **error_r)
{
    char raw[SMTP_AUTH_LINE_MAX];
    unsigned raw_len = 0;
    size_t len = strlen(challenge);
    if (len >= sizeof raw || (len > 0 && sasl_decode64(challenge, (unsigned)len, raw, sizeof raw,
                                                       &raw_len) != SASL_OK)) {
        *error_r = "malformed AUTH challenge";
        return -1;
    }
    const char *out = NULL;
    unsigned out_len = 0;
    int rc = sasl_client_step(a->conn, raw, raw_len, NULL, &out, &out_len);
    if (rc != SASL_OK && rc != SASL_CONTINUE) {
        *error_r = "the SASL exchange failed";
        return -1;
    }
    if (encode("", out, out_len, false, line) < 0) {
        *error_r = "AUTH response too long";
        return -1;
    }
    return 0;
}

void smtp_auth_free(struct smtp_auth **ap)
{
    struct smtp_auth *a = *ap;
    if (a == NULL)
        return;
    if (a->conn != NULL)
        sasl_dispose(&a->conn);
    if (a->secret != NULL) {
        explicit_bzero(a->secret->data, a->secret->len);
        free(a->secret);
    }
    free(a);
    *ap = NULL;
}
