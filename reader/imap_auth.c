/* reader/imap_auth.c - logging in to the IMAP session: CAPABILITY's list
 * for the state, STARTTLS (RFC 3501 6.2.1), AUTHENTICATE with SASL-IR (RFC
 * 3501 6.2.2, RFC 4959) and LOGIN (6.2.3) through the shared SASL exchange,
 * then the auth process's answer for where the user's Maildir is. Owns this
 * process's reference to the SASL parts every protocol shares. A directory
 * error is temporary: NO [UNAVAILABLE] (RFC 5530), never a refusal. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "auth/auth_client.h"
#include "auth/sasl_server.h"
#include "delivery/maildir_path.h"
#include "lib/conn.h"
#include "lib/log.h"
#include "proto/sasl_exchange.h"
#include "proto/sasl_shared.h"
#include "reader/imap_session_internal.h"
#include "reader/proxy.h"

static struct sasl_shared *shared;

struct threadpool *imap_auth_acquire(const struct service_session *ss)
{
    if (shared == NULL)
        shared = sasl_shared_acquire(ss->loop, ss->config);
    return shared != NULL ? shared->pool : NULL;
}

void imap_auth_release(void)
{
    sasl_shared_release(&shared);
}

void imap_auth_cancel(struct imap *p)
{
    login_lookup_cancel(&p->lookup);
    proxy_login_free(&p->proxy);
}

/* plaintext_allowed - RFC 3501 6.2.3 and 11.1: LOGIN and plaintext SASL only
 * under TLS, unless sasl.plaintext_without_tls says otherwise. */
static bool plaintext_allowed(const struct imap *p)
{
    return p->ls.tls || p->ss->config->sasl.plaintext_without_tls;
}

static const char *mechanisms(struct imap *p)
{
    if (shared == NULL || !shared->sasl_ready || p->sasl == NULL)
        return "";
    return sasl_session_mechanisms(p->sasl);
}

/* sasl_renew - a SASL session for the connection as it is now (after
 * STARTTLS the old one is dropped, RFC 3501 6.2.1). */
void imap_sasl_renew(struct imap *p)
{
    sasl_session_free(&p->sasl);
    if (shared != NULL && shared->sasl_ready)
        session_sasl_renew(&p->auth, &p->sasl, "imap");
}

/* capabilities - RFC 3501 7.2.1, what this state offers. */
void imap_capabilities(struct imap *p, char *buf, size_t size)
{
    size_t n = (size_t)snprintf(buf, size,
                                "IMAP4rev1 LITERAL+ SASL-IR ID ENABLE NAMESPACE "
                                "UNSELECT UIDPLUS IDLE MOVE CHILDREN LIST-EXTENDED LIST-STATUS "
                                "STATUS=SIZE SPECIAL-USE CREATE-SPECIAL-USE ESEARCH QUOTA "
                                "QUOTA=RES-STORAGE BINARY SORT SORT=DISPLAY THREAD=ORDEREDSUBJECT "
                                "THREAD=REFERENCES");
    if (p->state == IMAP_NOT_AUTHENTICATED) {
        if (p->ss->tls_ctx != NULL && !p->ls.tls && n < size)
            n += (size_t)snprintf(buf + n, size - n, " STARTTLS");
        if (!plaintext_allowed(p) && n < size)
            n += (size_t)snprintf(buf + n, size - n, " LOGINDISABLED");
        const char *m = mechanisms(p);
        while (*m != '\0' && n < size) {
            size_t len = strcspn(m, " ");
            n += (size_t)snprintf(buf + n, size - n, " AUTH=%.*s", (int)len, m);
            m += len;
            m += strspn(m, " ");
        }
    }
}

/* ---- login: the mailbox after the credentials ---- */

/* open_maildir - the user's Maildir (INBOX) at mailbox: NULL, or the
 * refusal. A Maildir never delivered to is an empty INBOX. */
static const char *open_maildir(struct imap *p, const char *mailbox)
{
    const char *refusal = NULL;
    char *err = NULL;
    enum maildir_path_result r = mailbox == NULL
                                     ? MAILDIR_PATH_TEMPFAIL
                                     : maildir_path_open(p->ss->config->delivery.mailbox_base,
                                                         mailbox, false, &p->root_fd, &err);
    switch (r) {
    case MAILDIR_PATH_OK:
        break;
    case MAILDIR_PATH_MISSING:
        p->root_fd = -1; /* made when first needed (imap_folder.c) */
        break;
    case MAILDIR_PATH_UNSAFE:
        refusal = "[SERVERBUG] The mailbox's path is invalid, tell the administrator";
        break;
    case MAILDIR_PATH_TEMPFAIL:
        refusal = "[UNAVAILABLE] The mailbox cannot be opened, try again later";
        break;
    }
    if (refusal != NULL)
        log_info("event=imap_mailbox_failed client=%s user=%s error=\"%s\"", p->ss->client_ip,
                 p->login, err != NULL ? err : "?");
    free(err);
    if (refusal == NULL && (p->maildir = strdup(mailbox)) == NULL)
        refusal = "[UNAVAILABLE] Out of memory";
    return refusal;
}

/* user_found - the auth process's USER answer for the login: where the
 * Maildir is. */
static void user_found(void *ctx, enum login_lookup_result result, const struct auth_user *u,
                       const char *mailbox)
{
    struct imap *p = ctx;
    const char *refusal = NULL;
    switch (result) {
    case LOGIN_LOOKUP_TEMPFAIL:
        refusal = "[UNAVAILABLE] The directory is unavailable, try again later";
        break;
    case LOGIN_LOOKUP_REFUSED:
        refusal = "[AUTHENTICATIONFAILED] Authentication failed";
        break;
    case LOGIN_LOOKUP_REMOTE:
        if (imap_proxy_begin(p, u->mail_host))
            return; /* the proxy answers */
        refusal = "[UNAVAILABLE] The mailbox is on another server, which this one cannot "
                  "reach yet";
        break;
    case LOGIN_LOOKUP_LOCAL:
        refusal = open_maildir(p, mailbox);
        p->quota_bytes = u != NULL ? u->quota : 0;
        break;
    }
    if (refusal == NULL) {
        log_info("event=imap_login client=%s user=%s", p->ss->client_ip, p->login);
        p->state = IMAP_AUTHENTICATED;
        char caps[512];
        imap_capabilities(p, caps, sizeof caps);
        imap_tagged(p, "OK", "[CAPABILITY %s] Logged in", caps);
    } else {
        free(p->login);
        p->login = NULL;
        imap_tagged(p, "NO", "%s", refusal);
    }
    imap_resume(p);
}

/* logged_in - the credentials are good: ask where the mailbox is. True
 * while the answer is awaited. */
static bool logged_in(void *ctx)
{
    struct imap *p = ctx;
    if (login_lookup_start(&p->lookup, &p->ls, shared->async, sasl_exchange_user(p->auth.sx),
                           &p->login, user_found, p))
        return true;
    imap_tagged(p, "NO", "[UNAVAILABLE] Temporary authentication failure, try again later");
    return false;
}

static void sasl_challenge(void *ctx, const char *b64)
{
    struct imap *p = ctx;
    conn_printf(p->conn, "+ %s\r\n", b64);
}

/* The replies to an exchange that ends short of a login (RFC 3501 6.2.2,
 * RFC 5530 codes); a failure limit is followed by a BYE. */
static const struct {
    bool bad; /* a tagged BAD (a client error), else NO */
    const char *text;
} sasl_replies[SESSION_SASL_REFUSAL_COUNT] = {
    [SESSION_SASL_FAILED] = {false, "[AUTHENTICATIONFAILED] Authentication failed"},
    [SESSION_SASL_FAILED_ADDRESS_LIMIT] = {false, "[AUTHENTICATIONFAILED] Authentication failed"},
    [SESSION_SASL_FAILED_SESSION_LIMIT] = {false, "[AUTHENTICATIONFAILED] Authentication failed"},
    [SESSION_SASL_TEMPFAIL] = {false,
                               "[UNAVAILABLE] Temporary authentication failure, try again later"},
    [SESSION_SASL_BAD_PROTOCOL] = {false, "[AUTHENTICATIONFAILED] Bad SASL response"},
    [SESSION_SASL_BAD_BASE64] = {true, "Bad base64"},
    [SESSION_SASL_CANCELLED] = {true, "Authentication cancelled"},
    [SESSION_SASL_NO_MECHANISM] = {false, "Unsupported authentication mechanism"},
    [SESSION_SASL_ENCRYPTION_REQUIRED] = {false, "[PRIVACYREQUIRED] Use STARTTLS first"},
    [SESSION_SASL_ADDRESS_BLOCKED] = {false,
                                      "[UNAVAILABLE] Too many failed logins from your address"},
    [SESSION_SASL_LINE_TOO_LONG] = {true, "SASL response too long"},
};

#define SASL_ENDS                                                                                  \
    (SESSION_SASL_BIT(SESSION_SASL_FAILED_ADDRESS_LIMIT) |                                         \
     SESSION_SASL_BIT(SESSION_SASL_FAILED_SESSION_LIMIT) |                                         \
     SESSION_SASL_BIT(SESSION_SASL_ADDRESS_BLOCKED))

static void sasl_refuse(void *ctx, enum session_sasl_refusal why)
{
    struct imap *p = ctx;
    if (sasl_replies[why].bad)
        imap_bad(p, sasl_replies[why].text);
    else
        imap_tagged(p, "NO", "%s", sasl_replies[why].text);
    if (SASL_ENDS & SESSION_SASL_BIT(why))
        imap_untagged(p, "BYE Too many failed logins");
}

const struct session_sasl_proto imap_sasl_proto = {
    .challenge = sasl_challenge,
    .success = logged_in,
    .refuse = sasl_refuse,
    .ends = SASL_ENDS,
};

/* ---- not authenticated ---- */

/* cmd_starttls - RFC 3501 6.2.1: what the client sent after STARTTLS before
 * the handshake is discarded, and everything learnt before it forgotten. */
void imap_cmd_starttls(struct imap *p, const struct imap_command *cmd)
{
    (void)cmd;
    if (p->ls.tls || p->ss->tls_ctx == NULL) {
        imap_bad(p, p->ls.tls ? "TLS is already active" : "TLS is not available");
        return;
    }
    imap_tagged(p, "OK", "Begin TLS negotiation now");
    if (line_session_starttls(&p->ls, "starttls") < 0)
        return;
    imap_parser_reset(p->parser);
    imap_sasl_renew(p);
}

void imap_cmd_authenticate(struct imap *p, const struct imap_command *cmd)
{
    const struct imap_arg *mech = imap_command_arg(cmd, 0);
    const struct imap_arg *initial = imap_command_arg(cmd, 1);
    if (mech == NULL || mech->type != IMAP_ARG_ATOM || mech->len > SASL_EXCHANGE_MECH_MAX ||
        cmd->argc > 2 || (initial != NULL && initial->type != IMAP_ARG_ATOM)) {
        imap_bad(p, "Usage: AUTHENTICATE mechanism [initial-response]");
        return;
    }
    if (p->sasl == NULL || shared == NULL || !shared->sasl_ready) {
        imap_tagged(p, "NO", "[UNAVAILABLE] Authentication is not available now");
        return;
    }
    /* RFC 4959: the initial response on the command line, "=" when empty */
    session_sasl_begin(&p->auth, p->sasl, mech->str, initial != NULL ? initial->str : NULL);
}

/* cmd_login - LOGIN as SASL PLAIN (RFC 4616: "\0login\0password"), so that
 * the same exchange brings the failure delays and the address limit. */
void imap_cmd_login(struct imap *p, const struct imap_command *cmd)
{
    const struct imap_arg *user = imap_command_arg(cmd, 0);
    const struct imap_arg *pass = imap_command_arg(cmd, 1);
    if (cmd->argc != 2 || !imap_arg_astring(user) || !imap_arg_astring(pass)) {
        imap_bad(p, "Usage: LOGIN user password");
        return;
    }
    if (!plaintext_allowed(p)) {
        imap_tagged(p, "NO", "[PRIVACYREQUIRED] LOGIN is disabled before STARTTLS");
        return;
    }
    if (p->sasl == NULL) {
        imap_tagged(p, "NO", "[UNAVAILABLE] Authentication is not available now");
        return;
    }
    if (user->len > SASL_SESSION_INPUT_MAX / 2 || pass->len > SASL_SESSION_INPUT_MAX / 2 ||
        memchr(user->str, '\0', user->len) != NULL || memchr(pass->str, '\0', pass->len) != NULL) {
        imap_tagged(p, "NO", "[AUTHENTICATIONFAILED] Authentication failed");
        return;
    }
    size_t plain_len = user->len + pass->len + 2;
    unsigned char *plain = malloc(plain_len);
    char *b64 = malloc(((plain_len + 2) / 3) * 4 + 1);
    if (plain == NULL || b64 == NULL) {
        free(plain);
        free(b64);
        imap_tagged(p, "NO", "[UNAVAILABLE] Out of memory");
        return;
    }
    plain[0] = '\0';
    memcpy(plain + 1, user->str, user->len);
    plain[1 + user->len] = '\0';
    memcpy(plain + 2 + user->len, pass->str, pass->len);
    EVP_EncodeBlock((unsigned char *)b64, plain, (int)plain_len);
    OPENSSL_cleanse(plain, plain_len);
    free(plain);
    session_sasl_begin(&p->auth, p->sasl, "PLAIN", b64);
    OPENSSL_cleanse(b64, strlen(b64));
    free(b64);
}
