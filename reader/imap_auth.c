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
#include "delivery/local_delivery.h"
#include "delivery/maildir_path.h"
#include "lib/conn.h"
#include "lib/log.h"
#include "proto/sasl_exchange.h"
#include "proto/sasl_shared.h"
#include "reader/imap_session_internal.h"

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
    if (p->auth_request != 0 && shared != NULL)
        auth_async_cancel(shared->async, p->auth_request);
    p->auth_request = 0;
}

/* plaintext_allowed - RFC 3501 6.2.3 and 11.1: LOGIN and plaintext SASL only
 * under TLS, unless sasl.plaintext_without_tls says otherwise. */
static bool plaintext_allowed(const struct imap *p)
{
    return p->tls || p->ss->config->sasl.plaintext_without_tls;
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
    if (shared == NULL || !shared->sasl_ready)
        return;
    char local[96], remote[96];
    snprintf(local, sizeof local, "%s;%u", conn_local_ip(p->conn), conn_local_port(p->conn));
    snprintf(remote, sizeof remote, "%s;%u", p->ss->client_ip, p->ss->client_port);
    const char *err = NULL;
    p->sasl = sasl_session_new("imap", p->ss->hostname, local, remote, p->tls,
                               p->tls ? (unsigned)conn_tls_bits(p->conn) : 0, &err);
    if (p->sasl == NULL)
        log_error("event=sasl_session_failed client=%s error=\"%s\"", p->ss->client_ip,
                  err != NULL ? err : "?");
}

/* capabilities - RFC 3501 7.2.1, what this state offers. */
void imap_capabilities(struct imap *p, char *buf, size_t size)
{
    size_t n = (size_t)snprintf(buf, size,
                                "IMAP4rev1 LITERAL+ SASL-IR ID ENABLE NAMESPACE "
                                "UNSELECT UIDPLUS");
    if (p->state == IMAP_NOT_AUTHENTICATED) {
        if (p->ss->tls_ctx != NULL && !p->tls && n < size)
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

/* user_found - the auth process's USER answer for the login: where the
 * Maildir is. A Maildir never delivered to is an empty INBOX. */
static void user_found(void *ctx, const struct auth_response *resp)
{
    struct imap *p = ctx;
    imap_enter(p);
    p->auth_request = 0;
    const struct auth_user *u = resp->user;
    const char *refusal = NULL, *status = "NO";
    if (resp->status == AUTH_TEMPFAIL || resp->status == AUTH_ERROR) {
        refusal = "[UNAVAILABLE] The directory is unavailable, try again later";
    } else if (resp->status != AUTH_FOUND || u == NULL || u->status != AUTH_USER_ACTIVE) {
        refusal = "[AUTHENTICATIONFAILED] Authentication failed";
    } else if (u->mail_host != NULL) {
        refusal = "[UNAVAILABLE] The mailbox is on another server, which this one cannot "
                  "reach yet";
    } else {
        char *def = NULL;
        const char *mailbox = u->mailbox;
        if (mailbox == NULL || mailbox[0] == '\0')
            mailbox = def = local_default_mailbox(u->primary);
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
        free(def);
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
        imap_tagged(p, status, "%s", refusal);
    }
    imap_resume(p);
    imap_leave(p);
}

/* logged_in - the credentials are good: ask where the mailbox is. */
static void logged_in(struct imap *p)
{
    p->login = strdup(sasl_exchange_user(p->sx));
    const char *args[1] = {p->login};
    if (p->login != NULL)
        p->auth_request = auth_async_request(shared->async, AUTH_REQ_USER, args, 1, user_found, p);
    if (p->auth_request == 0) {
        free(p->login);
        p->login = NULL;
        imap_tagged(p, "NO", "[UNAVAILABLE] Temporary authentication failure, try again later");
        if (p->busy == IMAP_WAITING)
            imap_resume(p);
        return;
    }
    imap_wait_begin(p);
}

/* auth_outcome - the one place an exchange's outcome becomes a reply (RFC
 * 3501 6.2.2, RFC 5530 codes). async: from the exchange's callback. */
static void auth_outcome(struct imap *p, enum sasl_exchange_outcome o, bool async)
{
    enum imap_busy next = IMAP_IDLE_INPUT;
    switch (o) {
    case SASL_EXCHANGE_PENDING:
        imap_wait_begin(p);
        return;
    case SASL_EXCHANGE_CHALLENGE:
        conn_printf(p->conn, "+ %s\r\n", sasl_exchange_challenge(p->sx));
        conn_set_line_limit(p->conn, SASL_EXCHANGE_LINE_LIMIT);
        next = IMAP_SASL_LINE;
        break;
    case SASL_EXCHANGE_OK:
        if (async)
            p->busy = IMAP_WAITING;
        logged_in(p);
        return;
    case SASL_EXCHANGE_FAILED:
        switch (sasl_exchange_limit(p->sx)) {
        case SASL_EXCHANGE_LIMIT_IP:
        case SASL_EXCHANGE_LIMIT_SESSION:
            imap_tagged(p, "NO", "[AUTHENTICATIONFAILED] Authentication failed");
            imap_close_with(p, "Too many failed logins");
            return;
        case SASL_EXCHANGE_LIMIT_NONE:
            imap_tagged(p, "NO", "[AUTHENTICATIONFAILED] Authentication failed");
            break;
        }
        break;
    case SASL_EXCHANGE_TEMPFAIL:
        imap_tagged(p, "NO", "[UNAVAILABLE] Temporary authentication failure, try again later");
        break;
    case SASL_EXCHANGE_BAD_PROTOCOL:
        imap_tagged(p, "NO", "[AUTHENTICATIONFAILED] Bad SASL response");
        break;
    case SASL_EXCHANGE_BAD_BASE64:
        imap_bad(p, "Bad base64");
        break;
    case SASL_EXCHANGE_CANCELLED:
        imap_bad(p, "Authentication cancelled");
        break;
    case SASL_EXCHANGE_NO_MECHANISM:
        imap_tagged(p, "NO", "Unsupported authentication mechanism");
        break;
    case SASL_EXCHANGE_ENCRYPTION_REQUIRED:
        imap_tagged(p, "NO", "[PRIVACYREQUIRED] Use STARTTLS first");
        break;
    case SASL_EXCHANGE_IP_BLOCKED:
        imap_tagged(p, "NO", "[UNAVAILABLE] Too many failed logins from your address");
        imap_close_with(p, "Too many failed logins");
        return;
    }
    if (async) {
        if (next == IMAP_IDLE_INPUT)
            imap_resume(p);
        else {
            p->busy = next;
            conn_set_input_paused(p->conn, false);
            imap_process_input(p);
        }
    } else {
        p->busy = next;
    }
}

void imap_auth_done(void *ctx, enum sasl_exchange_outcome o)
{
    struct imap *p = ctx;
    imap_enter(p);
    if (!p->ending)
        auth_outcome(p, o, true);
    imap_leave(p);
}

/* ---- not authenticated ---- */

/* cmd_starttls - RFC 3501 6.2.1: what the client sent after STARTTLS before
 * the handshake is discarded, and everything learnt before it forgotten. */
void imap_cmd_starttls(struct imap *p, const struct imap_command *cmd)
{
    (void)cmd;
    if (p->tls || p->ss->tls_ctx == NULL) {
        imap_bad(p, p->tls ? "TLS is already active" : "TLS is not available");
        return;
    }
    imap_tagged(p, "OK", "Begin TLS negotiation now");
    if (service_starttls(p->ss) < 0) {
        imap_end(p);
        return;
    }
    imap_parser_reset(p->parser);
    p->tls = true;
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
    auth_outcome(
        p, sasl_exchange_begin(p->sx, p->sasl, mech->str, initial != NULL ? initial->str : NULL),
        false);
}

/* sasl_line - a response line of an AUTHENTICATE exchange (RFC 3501 6.2.2). */
void imap_sasl_line(struct imap *p, const struct conn_line *line)
{
    conn_set_line_limit(p->conn, IMAP_LINE_MAX);
    p->busy = IMAP_IDLE_INPUT;
    enum sasl_exchange_outcome o = line->has_nul || line->bare_cr
                                       ? SASL_EXCHANGE_BAD_BASE64
                                       : sasl_exchange_response(p->sx, line->data, line->len);
    auth_outcome(p, o, false);
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
    enum sasl_exchange_outcome o = sasl_exchange_begin(p->sx, p->sasl, "PLAIN", b64);
    OPENSSL_cleanse(b64, strlen(b64));
    free(b64);
    auth_outcome(p, o, false);
}
