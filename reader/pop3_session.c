/* reader/pop3_session.c - see pop3_session.h: the session core (input,
 * ending, the command table) and the AUTHORIZATION state; the maildrop and
 * TRANSACTION are pop3_transaction.c's (pop3_internal.h).
 *
 * One session is one struct pop3 with an explicit state. Lines are read one
 * at a time; a command that must wait (a SASL step, the auth process's USER
 * answer, the maildrop's opening on the pool) pauses input, and its
 * completion writes the reply and reads on from what the client pipelined
 * (RFC 2449 6.6). A session that ends any way but QUIT in TRANSACTION
 * deletes nothing (RFC 1939 6). */
#include "config.h"

#include "reader/pop3_session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "auth/auth_client.h"
#include "auth/sasl_server.h"
#include "lib/conn.h"
#include "lib/event.h"
#include "lib/log.h"
#include "proto/command_table.h"
#include "proto/sasl_exchange.h"
#include "proto/sasl_shared.h"
#include "reader/login_lookup.h"
#include "reader/pop3_internal.h"
#include "reader/proxy.h"
#include "reader/user_sessions.h"

static struct sasl_shared *shared;

void pop3_session_shutdown(void)
{
    sasl_shared_release(&shared);
}

struct threadpool *pop3_session_pool(void)
{
    return shared->pool;
}

static const char *state_name(enum pop3_state st)
{
    static const char *const names[] = {
        [ST_AUTHORIZATION] = "authorization",
        [ST_TRANSACTION] = "transaction",
        [ST_UPDATE] = "update",
        [ST_SENDING] = "sending",
    };
    return (size_t)st < sizeof names / sizeof names[0] ? names[st] : "?";
}

void pop3_session_reply(struct pop3 *p, enum pop3_reply id)
{
    const char *line = pop3_reply_line(id);
    conn_write(p->conn, line, strlen(line));
    if (pop3_reply_is_client_error(id))
        p->ls.errors++;
}

static void session_free(void *ctx)
{
    struct pop3 *p = ctx;
    login_lookup_cancel(&p->lookup);
    proxy_login_free(&p->proxy);
    if (p->msg_fd >= 0)
        close(p->msg_fd);
    pop3_maildrop_close(&p->md); /* nothing is deleted */
    if (p->counted_as != NULL)
        user_sessions_release(p->counted_as);
    free(p->counted_as);
    session_sasl_free(&p->auth);
    sasl_session_free(&p->sasl);
    free(p->login);
    free(p);
}

struct service_session *pop3_session_hand_over(struct pop3 *p)
{
    return line_session_hand_over(&p->ls);
}

void pop3_session_close_with(struct pop3 *p, enum pop3_reply id)
{
    pop3_session_reply(p, id);
    line_session_close(&p->ls);
}

void pop3_session_wait_end(struct pop3 *p, enum pop3_state next)
{
    p->state = next;
    line_session_wait_end(&p->ls);
}

/* plaintext_allowed - RFC 2595 2: USER/PASS and plaintext SASL only under
 * TLS, unless sasl.plaintext_without_tls says otherwise (as SMTP AUTH). */
static bool plaintext_allowed(const struct pop3 *p)
{
    return p->ls.tls || p->ss->config->sasl.plaintext_without_tls;
}

static const char *mechanisms(struct pop3 *p)
{
    if (shared == NULL || !shared->sasl_ready || p->sasl == NULL)
        return "";
    return sasl_session_mechanisms(p->sasl);
}

/* sasl_renew - a SASL session for the connection as it is now (after STLS
 * the old one is dropped, RFC 2595 4). */
static void sasl_renew(struct pop3 *p)
{
    sasl_session_free(&p->sasl);
    if (shared != NULL && shared->sasl_ready)
        session_sasl_renew(&p->auth, &p->sasl, "pop3");
}

/* ---- login: the maildrop after the credentials ---- */

/* count_session - count p among its user's sessions (once per session, for
 * the user it logged in as last): limits.max_sessions_per_user. false with
 * the refusal in *reply_r. */
static bool count_session(struct pop3 *p, const struct auth_user *u, enum pop3_reply *reply_r)
{
    const char *key = u->dn != NULL ? u->dn : p->login;
    if (p->counted_as != NULL) {
        if (strcasecmp(p->counted_as, key) == 0)
            return true;
        user_sessions_release(p->counted_as);
        free(p->counted_as);
        p->counted_as = NULL;
    }
    bool full = false;
    p->counted_as = strdup(key);
    if (p->counted_as != NULL &&
        user_sessions_acquire(key, p->ss->config->limits.max_sessions_per_user, &full))
        return true;
    free(p->counted_as);
    p->counted_as = NULL;
    if (full)
        log_info("event=pop3_too_many_sessions client=%s user=%s max=%u", p->ss->client_ip,
                 p->login, p->ss->config->limits.max_sessions_per_user);
    *reply_r = full ? POP3_REPLY_TOO_MANY_SESSIONS : POP3_REPLY_INTERNAL;
    return false;
}

/* user_found - the auth process's USER answer for the logged-in login:
 * where the maildrop is; then it is locked and listed on the pool (RFC
 * 1939 4), which answers the login. */
static void user_found(void *ctx, enum login_lookup_result result, const struct auth_user *u,
                       const char *mailbox)
{
    struct pop3 *p = ctx;
    enum pop3_reply r = POP3_REPLY_INTERNAL;
    switch (result) {
    case LOGIN_LOOKUP_TEMPFAIL:
        r = POP3_REPLY_AUTH_TEMPFAIL;
        break;
    case LOGIN_LOOKUP_REFUSED:
        r = POP3_REPLY_AUTH_FAILED;
        break;
    case LOGIN_LOOKUP_REMOTE:
        if (pop3_proxy_begin(p, u->mail_host))
            return;                    /* the proxy answers */
        r = POP3_REPLY_MAILBOX_REMOTE; /* this node does not proxy (no proxy.secret) */
        break;
    case LOGIN_LOOKUP_LOCAL:
        if (!count_session(p, u, &r))
            break; /* r says why */
        if (mailbox != NULL) {
            pop3_transaction_open(p, mailbox); /* it answers */
            return;
        }
        r = POP3_REPLY_MAILBOX_UNSAFE;
        break;
    }
    free(p->login);
    p->login = NULL;
    pop3_session_reply(p, r);
    pop3_session_wait_end(p, ST_AUTHORIZATION);
}

/* logged_in - the credentials are good: ask where the maildrop is. True
 * while the answer is awaited. */
static bool logged_in(void *ctx)
{
    struct pop3 *p = ctx;
    if (login_lookup_start(&p->lookup, &p->ls, shared->async, sasl_exchange_user(p->auth.sx),
                           &p->login, user_found, p))
        return true;
    pop3_session_reply(p, POP3_REPLY_AUTH_TEMPFAIL);
    return false;
}

static void sasl_challenge(void *ctx, const char *b64)
{
    struct pop3 *p = ctx;
    conn_printf(p->conn, "+ %s\r\n", b64);
}

/* What an exchange that ends short of a login is answered (RFC 5034 4,
 * RFC 3206); a failure that reaches a limit is the last word. */
static const enum pop3_reply sasl_replies[SESSION_SASL_REFUSAL_COUNT] = {
    [SESSION_SASL_FAILED] = POP3_REPLY_AUTH_FAILED,
    [SESSION_SASL_FAILED_ADDRESS_LIMIT] = POP3_REPLY_AUTH_IP_BLOCKED,
    [SESSION_SASL_FAILED_SESSION_LIMIT] = POP3_REPLY_AUTH_TOO_MANY,
    [SESSION_SASL_TEMPFAIL] = POP3_REPLY_AUTH_TEMPFAIL,
    [SESSION_SASL_BAD_PROTOCOL] = POP3_REPLY_AUTH_BAD_PROTOCOL,
    [SESSION_SASL_BAD_BASE64] = POP3_REPLY_AUTH_BAD_BASE64,
    [SESSION_SASL_CANCELLED] = POP3_REPLY_AUTH_CANCELLED,
    [SESSION_SASL_NO_MECHANISM] = POP3_REPLY_AUTH_NO_MECHANISM,
    [SESSION_SASL_ENCRYPTION_REQUIRED] = POP3_REPLY_AUTH_ENCRYPTION,
    [SESSION_SASL_ADDRESS_BLOCKED] = POP3_REPLY_AUTH_IP_BLOCKED,
    [SESSION_SASL_LINE_TOO_LONG] = POP3_REPLY_AUTH_LINE_TOO_LONG,
};

static void sasl_refuse(void *ctx, enum session_sasl_refusal why)
{
    pop3_session_reply(ctx, sasl_replies[why]);
}

static const struct session_sasl_proto sasl_proto = {
    .challenge = sasl_challenge,
    .success = logged_in,
    .refuse = sasl_refuse,
    .ends = SESSION_SASL_BIT(SESSION_SASL_FAILED_ADDRESS_LIMIT) |
            SESSION_SASL_BIT(SESSION_SASL_FAILED_SESSION_LIMIT),
};

/* ---- AUTHORIZATION commands ---- */

typedef void cmd_handler(struct pop3 *p, struct pop3_command *cmd);

static void cmd_capa(struct pop3 *p, struct pop3_command *cmd)
{
    (void)cmd;
    pop3_session_reply(p, POP3_REPLY_CAPA);
    conn_printf(p->conn, "TOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\n");
    if (p->state == ST_AUTHORIZATION) {
        if (plaintext_allowed(p))
            conn_printf(p->conn, "USER\r\n");
        const char *mechs = mechanisms(p);
        if (mechs[0] != '\0')
            conn_printf(p->conn, "SASL %s\r\n", mechs);
        if (p->ss->tls_ctx != NULL && !p->ls.tls)
            conn_printf(p->conn, "STLS\r\n");
    }
    conn_printf(p->conn, "IMPLEMENTATION dirmail\r\n.\r\n");
}

static void cmd_noop(struct pop3 *p, struct pop3_command *cmd)
{
    (void)cmd;
    pop3_session_reply(p, POP3_REPLY_OK);
}

static void cmd_user(struct pop3 *p, struct pop3_command *cmd)
{
    if (!plaintext_allowed(p)) {
        pop3_session_reply(p, POP3_REPLY_PLAINTEXT_DISALLOWED);
        return;
    }
    snprintf(p->user, sizeof p->user, "%s", cmd->args[0]);
    pop3_session_reply(p, POP3_REPLY_USER_OK);
}

/* cmd_pass - USER/PASS as SASL PLAIN (RFC 4616: "\0login\0password"), so
 * that the same exchange brings the failure delays and the address limit. */
static void cmd_pass(struct pop3 *p, struct pop3_command *cmd)
{
    if (!plaintext_allowed(p)) {
        pop3_session_reply(p, POP3_REPLY_PLAINTEXT_DISALLOWED);
        return;
    }
    if (p->user[0] == '\0') {
        pop3_session_reply(p, POP3_REPLY_USER_FIRST);
        return;
    }
    if (p->sasl == NULL) {
        pop3_session_reply(p, POP3_REPLY_AUTH_TEMPFAIL);
        return;
    }
    unsigned char plain[2 * POP3_LINE_MAX + 2];
    size_t ul = strlen(p->user), pl = strlen(cmd->args[0]);
    plain[0] = '\0';
    memcpy(plain + 1, p->user, ul);
    plain[1 + ul] = '\0';
    memcpy(plain + 2 + ul, cmd->args[0], pl);
    char b64[((sizeof plain + 2) / 3) * 4 + 1];
    EVP_EncodeBlock((unsigned char *)b64, plain, (int)(ul + pl + 2));
    OPENSSL_cleanse(plain, sizeof plain);
    p->user[0] = '\0'; /* RFC 1939 7: after PASS, USER again */
    session_sasl_begin(&p->auth, p->sasl, "PLAIN", b64);
    OPENSSL_cleanse(b64, sizeof b64);
}

static void cmd_auth(struct pop3 *p, struct pop3_command *cmd)
{
    const char *mechs = mechanisms(p);
    if (cmd->argc == 0) {
        /* the list, as clients before RFC 5034 asked for it */
        pop3_session_reply(p, POP3_REPLY_OK);
        for (const char *m = mechs; *m != '\0';) {
            size_t n = strcspn(m, " ");
            conn_printf(p->conn, "%.*s\r\n", (int)n, m);
            m += n;
            m += strspn(m, " ");
        }
        conn_printf(p->conn, ".\r\n");
        return;
    }
    if (p->sasl == NULL || shared == NULL || !shared->sasl_ready) {
        pop3_session_reply(p, POP3_REPLY_AUTH_UNAVAILABLE);
        return;
    }
    const char *initial = cmd->argc > 1 ? cmd->args[1] : NULL;
    p->user[0] = '\0';
    session_sasl_begin(&p->auth, p->sasl, cmd->args[0], initial);
}

/* cmd_stls - RFC 2595 4: what the client sent after STLS before the
 * handshake is discarded, and everything learnt before it forgotten. */
static void cmd_stls(struct pop3 *p, struct pop3_command *cmd)
{
    (void)cmd;
    if (p->ls.tls) {
        pop3_session_reply(p, POP3_REPLY_TLS_ACTIVE);
        return;
    }
    if (p->ss->tls_ctx == NULL) {
        pop3_session_reply(p, POP3_REPLY_TLS_UNAVAILABLE);
        return;
    }
    pop3_session_reply(p, POP3_REPLY_STLS);
    if (line_session_starttls(&p->ls, "stls") < 0)
        return;
    p->user[0] = '\0';
    sasl_renew(p);
}

static void cmd_quit(struct pop3 *p, struct pop3_command *cmd)
{
    (void)cmd;
    if (p->state == ST_TRANSACTION)
        pop3_transaction_quit(p);
    else
        pop3_session_close_with(p, POP3_REPLY_BYE);
}

/* ---- the command table ---- */

#define S(st) COMMAND_STATE(st)
#define EITHER (S(ST_AUTHORIZATION) | S(ST_TRANSACTION))

static const struct command {
    struct command_row row; /* where it is allowed; elsewhere NOT_NOW */
    cmd_handler *handler;
} commands[] = {
    {{POP3_VERB_CAPA, EITHER}, cmd_capa},
    {{POP3_VERB_QUIT, EITHER}, cmd_quit},
    {{POP3_VERB_NOOP, EITHER}, cmd_noop},
    {{POP3_VERB_USER, S(ST_AUTHORIZATION)}, cmd_user},
    {{POP3_VERB_PASS, S(ST_AUTHORIZATION)}, cmd_pass},
    {{POP3_VERB_AUTH, S(ST_AUTHORIZATION)}, cmd_auth},
    {{POP3_VERB_STLS, S(ST_AUTHORIZATION)}, cmd_stls},
    {{POP3_VERB_STAT, S(ST_TRANSACTION)}, pop3_transaction_stat},
    {{POP3_VERB_LIST, S(ST_TRANSACTION)}, pop3_transaction_list},
    {{POP3_VERB_RETR, S(ST_TRANSACTION)}, pop3_transaction_retr},
    {{POP3_VERB_DELE, S(ST_TRANSACTION)}, pop3_transaction_dele},
    {{POP3_VERB_RSET, S(ST_TRANSACTION)}, pop3_transaction_rset},
    {{POP3_VERB_TOP, S(ST_TRANSACTION)}, pop3_transaction_top},
    {{POP3_VERB_UIDL, S(ST_TRANSACTION)}, pop3_transaction_uidl},
};

static enum pop3_reply parse_error(enum pop3_parse_result r)
{
    switch (r) {
    case POP3_PARSE_OK:
    case POP3_PARSE_UNKNOWN:
        break;
    case POP3_PARSE_BAD_ARGS:
        return POP3_REPLY_BAD_ARGS;
    case POP3_PARSE_BAD_NUMBER:
        return POP3_REPLY_BAD_NUMBER;
    case POP3_PARSE_BAD_LINE:
        return POP3_REPLY_BAD_LINE;
    }
    return POP3_REPLY_UNKNOWN;
}

static void command_line(struct pop3 *p, const struct conn_line *line)
{
    struct pop3_command *cmd = &p->cmd;
    enum pop3_parse_result r = line->has_nul || line->bare_cr
                                   ? POP3_PARSE_BAD_LINE
                                   : pop3_parse_line(line->data, line->len, cmd);
    if (r != POP3_PARSE_OK) {
        pop3_session_reply(p, parse_error(r));
        return;
    }
    const void *found;
    switch (command_table_match(commands, sizeof commands / sizeof commands[0], sizeof commands[0],
                                (int)cmd->verb, p->state, &found)) {
    case COMMAND_RUN:
        ((const struct command *)found)->handler(p, cmd);
        break;
    case COMMAND_NOT_NOW:
        pop3_session_reply(p, POP3_REPLY_NOT_NOW);
        break;
    case COMMAND_UNKNOWN:
        pop3_session_reply(p, POP3_REPLY_UNKNOWN);
        break;
    }
    memset(cmd->text, 0, sizeof cmd->text); /* PASS's password */
}

/* ---- the session's part in the line-session driver ---- */

static enum line_input session_input(void *ctx)
{
    const struct pop3 *p = ctx;
    return p->state == ST_SENDING || p->state == ST_UPDATE ? LINE_INPUT_NONE : LINE_INPUT_LINES;
}

static void session_line(void *ctx, enum conn_result r, const struct conn_line *line)
{
    struct pop3 *p = ctx;
    if (p->auth.reading_response)
        session_sasl_line(&p->auth, r, line);
    else if (r == CONN_TOO_LONG)
        pop3_session_reply(p, POP3_REPLY_TOO_LONG);
    else
        command_line(p, line);
}

static void session_too_many_errors(void *ctx)
{
    pop3_session_close_with(ctx, POP3_REPLY_TOO_MANY_ERRORS);
}

static void session_timeout(void *ctx)
{
    struct pop3 *p = ctx;
    /* RFC 1939 3: an idle session is closed without UPDATE */
    log_info("event=timeout client=%s reason=\"%s\" state=%s", p->ss->client_ip,
             conn_error(p->conn),
             p->ls.waiting              ? "waiting"
             : p->auth.reading_response ? "auth"
                                        : state_name(p->state));
    line_session_end(&p->ls);
}

static void session_flushed(void *ctx)
{
    struct pop3 *p = ctx;
    if (p->state == ST_SENDING) {
        conn_deadline_restart(p->conn); /* the client is reading: not idle */
        if (pop3_transaction_stream(p))
            line_session_read(&p->ls);
    }
}

static const struct line_session_hooks session_hooks = {
    .input = session_input,
    .line = session_line,
    .too_many_errors = session_too_many_errors,
    .timeout = session_timeout,
    .flushed = session_flushed,
    .free = session_free,
};

void pop3_session_start(struct service_session *ss)
{
    if (shared == NULL)
        shared = sasl_shared_acquire(ss->loop, ss->config);
    struct pop3 *p = shared != NULL ? calloc(1, sizeof *p) : NULL;
    if (p != NULL) {
        p->msg_fd = -1;
        p->ls.ss = ss;
        if (session_sasl_init(&p->auth, &p->ls, &sasl_proto, shared->pool, POP3_LINE_MAX) < 0) {
            free(p);
            p = NULL;
        }
    }
    if (p == NULL) {
        service_say_and_close(ss, "-ERR [SYS/TEMP] Service temporarily unavailable");
        return;
    }
    p->ss = ss;
    p->conn = ss->conn;
    p->state = ST_AUTHORIZATION;
    if (line_session_start(&p->ls, ss, &session_hooks, p, NULL, POP3_LINE_MAX) < 0)
        return;
    line_session_enter(&p->ls);
    sasl_renew(p);
    pop3_session_reply(p, POP3_REPLY_GREETING);
    conn_deadline_restart(p->conn);
    line_session_flush(&p->ls);
    line_session_leave(&p->ls);
}
