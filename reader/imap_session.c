/* reader/imap_session.c - see imap_session.h.
 *
 * One session is one struct imap with its RFC 3501 state and what it is busy
 * with. Input is read a line at a time and fed to the command parser
 * (imap_parse.h), literals octet by octet as the parser asks for them; a
 * command that must wait (a SASL step, the auth process's USER answer, a
 * FETCH streaming a large message) pauses input and reads on from what the
 * client pipelined when it is done. Login is the POP3 server's: the shared
 * SASL exchange, then the directory says where the mailbox is; any
 * directory error is temporary (RFC 5530 [UNAVAILABLE]). */
#include "config.h"

#include "reader/imap_session.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "auth/auth_client.h"
#include "auth/sasl_server.h"
#include "delivery/local_delivery.h"
#include "delivery/maildir_path.h"
#include "lib/conn.h"
#include "lib/log.h"
#include "proto/command_table.h"
#include "proto/sasl_exchange.h"
#include "proto/sasl_shared.h"
#include "reader/imap_session_internal.h"

static struct sasl_shared *shared;

void imap_session_shutdown(void)
{
    sasl_shared_release(&shared);
}

static void process_input(struct imap *p);

void imap_tagged(struct imap *p, const char *status, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    conn_printf(p->conn, "%s %s %s\r\n", p->tag, status, text);
}

void imap_untagged(struct imap *p, const char *fmt, ...)
{
    char text[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    conn_write(p->conn, "* ", 2);
    conn_write(p->conn, text, (size_t)n < sizeof text ? (size_t)n : sizeof text - 1);
    conn_write(p->conn, "\r\n", 2);
}

void imap_bad(struct imap *p, const char *text)
{
    imap_tagged(p, "BAD", "%s", text);
    p->errors++;
}

static void session_free(struct imap *p)
{
    if (p->auth_request != 0 && shared != NULL)
        auth_async_cancel(shared->async, p->auth_request);
    imap_fetch_free(&p->fetch);
    imap_folder_deselect(p);
    if (p->root_fd >= 0)
        close(p->root_fd);
    imap_parser_free(&p->parser);
    sasl_exchange_free(&p->sx);
    sasl_session_free(&p->sasl);
    free(p->login);
    free(p->maildir);
    free(p);
}

static void really_end(struct imap *p)
{
    struct service_session *ss = p->ss;
    log_info("event=disconnect service=%s client=%s", ss->service->name, ss->client_ip);
    session_free(p);
    ss->protocol = NULL;
    conn_free(&ss->conn);
    ss->finished(ss);
}

void imap_end(struct imap *p)
{
    if (!p->ending) {
        p->ending = true;
        p->busy = IMAP_CLOSING;
        conn_set_input_paused(p->conn, true);
    }
    if (p->depth == 0 && !sasl_exchange_busy(p->sx))
        really_end(p);
}

static void enter(struct imap *p)
{
    p->depth++;
}

static void leave(struct imap *p)
{
    if (--p->depth == 0 && p->ending && !sasl_exchange_busy(p->sx))
        really_end(p);
}

/* close_with - an untagged BYE (already queued or text), then close. */
static void close_with(struct imap *p, const char *bye)
{
    if (bye != NULL)
        imap_untagged(p, "BYE %s", bye);
    p->busy = IMAP_CLOSING;
    conn_set_input_paused(p->conn, true);
    if (conn_flush(p->conn) != CONN_AGAIN)
        imap_end(p);
}

static void wait_begin(struct imap *p)
{
    p->busy = IMAP_WAITING;
    conn_set_input_paused(p->conn, true);
    if (conn_flush(p->conn) == CONN_ERROR)
        imap_end(p);
}

void imap_resume(struct imap *p)
{
    p->busy = IMAP_IDLE_INPUT;
    conn_set_input_paused(p->conn, false);
    process_input(p);
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
static void sasl_renew(struct imap *p)
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
static void capabilities(struct imap *p, char *buf, size_t size)
{
    size_t n = (size_t)snprintf(buf, size, "IMAP4rev1 LITERAL+ SASL-IR ID ENABLE NAMESPACE "
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
    enter(p);
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
        enum maildir_path_result r =
            mailbox == NULL ? MAILDIR_PATH_TEMPFAIL
                            : maildir_path_open(p->ss->config->delivery.mailbox_base, mailbox,
                                                false, &p->root_fd, &err);
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
            log_info("event=imap_mailbox_failed client=%s user=%s error=\"%s\"",
                     p->ss->client_ip, p->login, err != NULL ? err : "?");
        free(err);
        if (refusal == NULL && (p->maildir = strdup(mailbox)) == NULL)
            refusal = "[UNAVAILABLE] Out of memory";
        free(def);
    }
    if (refusal == NULL) {
        log_info("event=imap_login client=%s user=%s", p->ss->client_ip, p->login);
        p->state = IMAP_AUTHENTICATED;
        char caps[512];
        capabilities(p, caps, sizeof caps);
        imap_tagged(p, "OK", "[CAPABILITY %s] Logged in", caps);
    } else {
        free(p->login);
        p->login = NULL;
        imap_tagged(p, status, "%s", refusal);
    }
    imap_resume(p);
    leave(p);
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
    wait_begin(p);
}

/* auth_outcome - the one place an exchange's outcome becomes a reply (RFC
 * 3501 6.2.2, RFC 5530 codes). async: from the exchange's callback. */
static void auth_outcome(struct imap *p, enum sasl_exchange_outcome o, bool async)
{
    enum imap_busy next = IMAP_IDLE_INPUT;
    switch (o) {
    case SASL_EXCHANGE_PENDING:
        wait_begin(p);
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
            close_with(p, "Too many failed logins");
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
        close_with(p, "Too many failed logins");
        return;
    }
    if (async) {
        if (next == IMAP_IDLE_INPUT)
            imap_resume(p);
        else {
            p->busy = next;
            conn_set_input_paused(p->conn, false);
            process_input(p);
        }
    } else {
        p->busy = next;
    }
}

static void auth_done(void *ctx, enum sasl_exchange_outcome o)
{
    struct imap *p = ctx;
    enter(p);
    if (!p->ending)
        auth_outcome(p, o, true);
    leave(p);
}

/* ---- commands in any state ---- */

static void cmd_capability(struct imap *p, const struct imap_command *cmd)
{
    (void)cmd;
    char caps[512];
    capabilities(p, caps, sizeof caps);
    imap_untagged(p, "CAPABILITY %s", caps);
    imap_tagged(p, "OK", "Capability completed");
}

static void cmd_noop(struct imap *p, const struct imap_command *cmd)
{
    /* the untagged updates came before it (run_command) */
    imap_tagged(p, "OK", "%s completed", cmd->name);
}

static void cmd_logout(struct imap *p, const struct imap_command *cmd)
{
    (void)cmd;
    p->state = IMAP_LOGOUT;
    imap_untagged(p, "BYE Logging out");
    imap_tagged(p, "OK", "Logout completed");
    close_with(p, NULL);
}

/* cmd_id - RFC 2971: who we are, nothing more; the client's list is not kept. */
static void cmd_id(struct imap *p, const struct imap_command *cmd)
{
    (void)cmd;
    imap_untagged(p, "ID (\"name\" \"dirmail\")");
    imap_tagged(p, "OK", "ID completed");
}

/* ---- not authenticated ---- */

/* cmd_starttls - RFC 3501 6.2.1: what the client sent after STARTTLS before
 * the handshake is discarded, and everything learnt before it forgotten. */
static void cmd_starttls(struct imap *p, const struct imap_command *cmd)
{
    (void)cmd;
    if (p->tls || p->ss->tls_ctx == NULL) {
        imap_bad(p, p->tls ? "TLS is already active" : "TLS is not available");
        return;
    }
    imap_tagged(p, "OK", "Begin TLS negotiation now");
    if (conn_flush(p->conn) != CONN_OK) {
        imap_end(p);
        return;
    }
    size_t discarded = 0;
    if (conn_tls_server_start(p->conn, p->ss->tls_ctx, &discarded) < 0) {
        log_error("event=starttls_failed client=%s error=\"%s\"", p->ss->client_ip,
                  conn_error(p->conn));
        imap_end(p);
        return;
    }
    if (discarded > 0)
        log_info("event=starttls_discarded client=%s bytes=%zu", p->ss->client_ip, discarded);
    imap_parser_reset(p->parser);
    p->tls = true;
    sasl_renew(p);
}

static void cmd_authenticate(struct imap *p, const struct imap_command *cmd)
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
    auth_outcome(p, sasl_exchange_begin(p->sx, p->sasl, mech->str,
                                        initial != NULL ? initial->str : NULL),
                 false);
}

/* sasl_line - a response line of an AUTHENTICATE exchange (RFC 3501 6.2.2). */
static void sasl_line(struct imap *p, const struct conn_line *line)
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
static void cmd_login(struct imap *p, const struct imap_command *cmd)
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

/* ---- authenticated ---- */

static void cmd_namespace(struct imap *p, const struct imap_command *cmd)
{
    (void)cmd;
    /* RFC 2342: one personal namespace, folders below INBOX's level, "." */
    imap_untagged(p, "NAMESPACE ((\"\" \".\")) NIL NIL");
    imap_tagged(p, "OK", "Namespace completed");
}

/* cmd_enable - RFC 5161: nothing we implement needs enabling yet. */
static void cmd_enable(struct imap *p, const struct imap_command *cmd)
{
    if (cmd->argc == 0) {
        imap_bad(p, "Usage: ENABLE capability...");
        return;
    }
    imap_untagged(p, "ENABLED");
    imap_tagged(p, "OK", "Enable completed");
}

static void cmd_check(struct imap *p, const struct imap_command *cmd)
{
    imap_tagged(p, "OK", "%s completed", cmd->name);
}

static void cmd_fetch(struct imap *p, const struct imap_command *cmd)
{
    imap_cmd_fetch(p, cmd, 0, false);
}

static void cmd_store(struct imap *p, const struct imap_command *cmd)
{
    imap_cmd_store(p, cmd, 0, false);
}

static void cmd_copy(struct imap *p, const struct imap_command *cmd)
{
    imap_cmd_copy(p, cmd, 0, false);
}

static void cmd_search(struct imap *p, const struct imap_command *cmd)
{
    imap_cmd_search(p, cmd, 0, false);
}

/* cmd_uid - RFC 3501 6.4.8: the command named by the first argument with
 * UIDs in place of sequence numbers. */
static void cmd_uid(struct imap *p, const struct imap_command *cmd)
{
    const struct imap_arg *sub = imap_command_arg(cmd, 0);
    if (sub != NULL && imap_arg_is(sub, "FETCH"))
        imap_cmd_fetch(p, cmd, 1, true);
    else if (sub != NULL && imap_arg_is(sub, "STORE"))
        imap_cmd_store(p, cmd, 1, true);
    else if (sub != NULL && imap_arg_is(sub, "SEARCH"))
        imap_cmd_search(p, cmd, 1, true);
    else if (sub != NULL && imap_arg_is(sub, "COPY"))
        imap_cmd_copy(p, cmd, 1, true);
    else if (sub != NULL && imap_arg_is(sub, "EXPUNGE"))
        imap_cmd_uid_expunge(p, cmd, 1);
    else
        imap_bad(p, "Unknown UID command");
}

/* ---- the command table ---- */

enum imap_verb {
    V_CAPABILITY,
    V_NOOP,
    V_LOGOUT,
    V_ID,
    V_STARTTLS,
    V_AUTHENTICATE,
    V_LOGIN,
    V_SELECT,
    V_EXAMINE,
    V_CREATE,
    V_DELETE,
    V_LIST,
    V_LSUB,
    V_STATUS,
    V_NAMESPACE,
    V_ENABLE,
    V_CHECK,
    V_CLOSE,
    V_UNSELECT,
    V_EXPUNGE,
    V_FETCH,
    V_STORE,
    V_SEARCH,
    V_COPY,
    V_APPEND,
    V_UID,
};

typedef void cmd_handler(struct imap *p, const struct imap_command *cmd);

#define S(st) COMMAND_STATE(st)
#define ANY (S(IMAP_NOT_AUTHENTICATED) | S(IMAP_AUTHENTICATED) | S(IMAP_SELECTED))
#define AUTHED (S(IMAP_AUTHENTICATED) | S(IMAP_SELECTED))

static const struct command {
    struct command_row row;
    const char *name;
    cmd_handler *handler;
} commands[] = {
    {{V_CAPABILITY, ANY}, "CAPABILITY", cmd_capability},
    {{V_NOOP, ANY}, "NOOP", cmd_noop},
    {{V_LOGOUT, ANY}, "LOGOUT", cmd_logout},
    {{V_ID, ANY}, "ID", cmd_id},
    {{V_STARTTLS, S(IMAP_NOT_AUTHENTICATED)}, "STARTTLS", cmd_starttls},
    {{V_AUTHENTICATE, S(IMAP_NOT_AUTHENTICATED)}, "AUTHENTICATE", cmd_authenticate},
    {{V_LOGIN, S(IMAP_NOT_AUTHENTICATED)}, "LOGIN", cmd_login},
    {{V_SELECT, AUTHED}, "SELECT", imap_cmd_select},
    {{V_EXAMINE, AUTHED}, "EXAMINE", imap_cmd_select},
    {{V_CREATE, AUTHED}, "CREATE", imap_cmd_create},
    {{V_DELETE, AUTHED}, "DELETE", imap_cmd_delete},
    {{V_LIST, AUTHED}, "LIST", imap_cmd_list},
    {{V_LSUB, AUTHED}, "LSUB", imap_cmd_list},
    {{V_STATUS, AUTHED}, "STATUS", imap_cmd_status},
    {{V_NAMESPACE, AUTHED}, "NAMESPACE", cmd_namespace},
    {{V_ENABLE, AUTHED}, "ENABLE", cmd_enable},
    {{V_CHECK, S(IMAP_SELECTED)}, "CHECK", cmd_check},
    {{V_CLOSE, S(IMAP_SELECTED)}, "CLOSE", imap_cmd_close},
    {{V_UNSELECT, S(IMAP_SELECTED)}, "UNSELECT", imap_cmd_unselect},
    {{V_EXPUNGE, S(IMAP_SELECTED)}, "EXPUNGE", imap_cmd_expunge},
    {{V_FETCH, S(IMAP_SELECTED)}, "FETCH", cmd_fetch},
    {{V_STORE, S(IMAP_SELECTED)}, "STORE", cmd_store},
    {{V_SEARCH, S(IMAP_SELECTED)}, "SEARCH", cmd_search},
    {{V_COPY, S(IMAP_SELECTED)}, "COPY", cmd_copy},
    {{V_APPEND, AUTHED}, "APPEND", imap_cmd_append},
    {{V_UID, S(IMAP_SELECTED)}, "UID", cmd_uid},
};

#define COMMAND_COUNT (sizeof commands / sizeof commands[0])

static void run_command(struct imap *p, const struct imap_command *cmd)
{
    snprintf(p->tag, sizeof p->tag, "%s", cmd->tag);
    int verb = -1;
    for (size_t i = 0; i < COMMAND_COUNT; i++) {
        if (strcmp(commands[i].name, cmd->name) == 0) {
            verb = commands[i].row.verb;
            break;
        }
    }
    const void *found;
    switch (command_table_match(commands, COMMAND_COUNT, sizeof commands[0], verb, p->state,
                                &found)) {
    case COMMAND_RUN:
        /* RFC 3501 7.4.1, 5.5: what changed is told before each command,
         * but no EXPUNGE before one that names messages by sequence number
         * (the client's numbers are those it knew when it sent it) */
        if (p->state == IMAP_SELECTED)
            imap_folder_update(p, verb != V_FETCH && verb != V_STORE && verb != V_SEARCH &&
                                      verb != V_COPY);
        ((const struct command *)found)->handler(p, cmd);
        break;
    case COMMAND_NOT_NOW:
        imap_bad(p, p->state == IMAP_NOT_AUTHENTICATED ? "Log in first"
                    : p->state == IMAP_SELECTED        ? "Not allowed now"
                                                       : "Select a mailbox first");
        break;
    case COMMAND_UNKNOWN:
        imap_bad(p, "Unknown command");
        break;
    }
}

/* literal_input - octets of the literal the parser waits for. false: wait
 * for more input (or the session ends). */
static bool literal_input(struct imap *p)
{
    uint64_t left = imap_parser_literal_left(p->parser);
    const char *data;
    size_t len;
    enum conn_result r = conn_read_bytes(p->conn, left < SIZE_MAX ? (size_t)left : SIZE_MAX,
                                         &data, &len);
    if (r == CONN_AGAIN) {
        if (conn_flush(p->conn) == CONN_ERROR)
            imap_end(p);
        return false;
    }
    if (r != CONN_OK) {
        imap_end(p);
        return false;
    }
    imap_parser_feed_literal(p->parser, data, len);
    if (imap_parser_literal_left(p->parser) == 0)
        conn_transfer_end(p->conn);
    return true;
}

static void command_line(struct imap *p, const struct conn_line *line)
{
    if (line->bare_cr) {
        imap_parser_reset(p->parser);
        conn_printf(p->conn, "* BAD Bare CR in command\r\n");
        p->errors++;
        return;
    }
    enum imap_parse_result r = imap_parser_feed_line(p->parser, line->data, line->len);
    snprintf(p->tag, sizeof p->tag, "%s", imap_parser_tag(p->parser));
    switch (r) {
    case IMAP_PARSE_DONE:
        run_command(p, imap_parser_command(p->parser));
        break;
    case IMAP_PARSE_LITERAL:
        if (imap_parser_literal_sync(p->parser))
            conn_printf(p->conn, "+ Ready for literal data\r\n");
        if (imap_parser_literal_left(p->parser) == 0)
            imap_parser_feed_literal(p->parser, "", 0);
        else
            conn_transfer_begin(p->conn);
        break;
    case IMAP_PARSE_BAD:
        imap_bad(p, imap_parser_error(p->parser));
        if (imap_parser_literal_left(p->parser) > 0)
            conn_transfer_begin(p->conn);
        break;
    case IMAP_PARSE_TOOBIG:
        /* RFC 7889 4 / RFC 4469 5: TOOBIG, before the octets are read */
        imap_tagged(p, "NO", "[TOOBIG] Literal too big");
        if (imap_parser_literal_left(p->parser) > 0)
            conn_transfer_begin(p->conn);
        break;
    case IMAP_PARSE_DISCARDED:
        break;
    case IMAP_PARSE_CLOSE:
        close_with(p, "[TOOBIG] Literal too big to read");
        break;
    }
}

static void process_input(struct imap *p)
{
    for (;;) {
        if (p->busy == IMAP_WAITING || p->busy == IMAP_CLOSING || p->busy == IMAP_SENDING)
            return;
        if (p->errors >= p->ss->config->limits.errors) {
            log_info("event=too_many_errors client=%s errors=%u", p->ss->client_ip, p->errors);
            close_with(p, "Too many errors");
            return;
        }
        if (p->busy == IMAP_IDLE_INPUT && imap_parser_literal_left(p->parser) > 0) {
            if (!literal_input(p))
                return;
            continue;
        }
        struct conn_line line;
        enum conn_result r = conn_read_line(p->conn, &line);
        if (r == CONN_AGAIN) {
            if (conn_flush(p->conn) == CONN_ERROR)
                imap_end(p);
            return;
        }
        if (r == CONN_EOF || r == CONN_ERROR) {
            if (r == CONN_ERROR)
                log_info("event=conn_error client=%s error=\"%s\"", p->ss->client_ip,
                         conn_error(p->conn));
            imap_end(p);
            return;
        }
        if (r == CONN_TOO_LONG) {
            if (p->busy == IMAP_SASL_LINE) {
                conn_set_line_limit(p->conn, IMAP_LINE_MAX);
                p->busy = IMAP_IDLE_INPUT;
                imap_bad(p, "SASL response too long");
            } else {
                imap_parser_reset(p->parser);
                conn_printf(p->conn, "* BAD Command line too long\r\n");
                p->errors++;
            }
            continue;
        }
        if (p->busy == IMAP_SASL_LINE)
            sasl_line(p, &line);
        else
            command_line(p, &line);
    }
}

static void handler_in(struct imap *p, enum conn_event event)
{
    switch (event) {
    case CONN_EVENT_TIMEOUT:
        log_info("event=timeout client=%s reason=\"%s\"", p->ss->client_ip, conn_error(p->conn));
        if (!p->ending) {
            /* RFC 3501 7.1.5: BYE before closing an idle connection */
            imap_untagged(p, "BYE Autologout; idle for too long");
            conn_flush(p->conn);
        }
        imap_end(p);
        return;
    case CONN_EVENT_FLUSHED:
        if (p->busy == IMAP_CLOSING) {
            imap_end(p);
            return;
        }
        if (p->busy == IMAP_SENDING) {
            conn_deadline_restart(p->conn); /* the client is reading: not idle */
            if (imap_fetch_more(p))
                imap_resume(p);
        }
        return;
    case CONN_EVENT_INPUT:
        if (p->busy == IMAP_CLOSING) {
            conn_set_input_paused(p->conn, true);
            return;
        }
        process_input(p);
        return;
    }
}

static void handler(struct conn *conn, enum conn_event event, void *ctx)
{
    struct imap *p = ctx;
    (void)conn;
    enter(p);
    handler_in(p, event);
    leave(p);
}

void imap_session_start(struct service_session *ss)
{
    if (shared == NULL)
        shared = sasl_shared_acquire(ss->loop, ss->config);
    struct imap *p = shared != NULL ? calloc(1, sizeof *p) : NULL;
    if (p != NULL) {
        p->root_fd = -1;
        uint64_t message_max = ss->config->limits.message_size;
        const struct imap_parse_limits limits = {
            .literal_max = IMAP_PARSE_LITERAL_MAX,
            .append_literal_max = message_max,
            .discard_max = IMAP_PARSE_DISCARD_MAX,
            .args_max = IMAP_PARSE_ARGS_MAX,
            .depth_max = IMAP_PARSE_DEPTH_MAX,
            .bytes_max = IMAP_PARSE_BYTES_MAX,
        };
        p->parser = imap_parser_new(&limits);
        p->sx = sasl_exchange_new_for_session(ss, shared->pool, auth_done, p);
        if (p->sx == NULL || p->parser == NULL) {
            imap_parser_free(&p->parser);
            sasl_exchange_free(&p->sx);
            free(p);
            p = NULL;
        }
    }
    if (p == NULL) {
        service_say_and_close(ss, "* BYE [UNAVAILABLE] Service temporarily unavailable");
        return;
    }
    p->ss = ss;
    p->conn = ss->conn;
    p->state = IMAP_NOT_AUTHENTICATED;
    memcpy(p->tag, "*", 2);
    ss->protocol = p;
    if (config_service_implicit_tls(ss->service->type)) {
        if (service_tls_begin(ss) < 0) {
            session_free(p);
            ss->protocol = NULL;
            conn_free(&ss->conn);
            ss->finished(ss);
            return;
        }
        p->tls = true;
    }
    if (conn_attach(p->conn, ss->loop, handler, p) < 0) {
        imap_end(p);
        return;
    }
    conn_set_line_limit(p->conn, IMAP_LINE_MAX);
    conn_set_deadlines(p->conn, ss->deadlines, ss->service->session_timeout * 1000ull);
    enter(p);
    sasl_renew(p);
    char caps[512];
    capabilities(p, caps, sizeof caps);
    imap_untagged(p, "OK [CAPABILITY %s] dirmail IMAP server ready", caps);
    conn_deadline_restart(p->conn);
    if (conn_flush(p->conn) == CONN_ERROR)
        imap_end(p);
    leave(p);
}
