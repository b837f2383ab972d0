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
#include "delivery/local_delivery.h"
#include "lib/conn.h"
#include "lib/event.h"
#include "lib/log.h"
#include "proto/command_table.h"
#include "proto/sasl_exchange.h"
#include "proto/sasl_shared.h"
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

static void process_input(struct pop3 *p);

static const char *state_name(enum pop3_state st)
{
    static const char *const names[] = {
        [ST_AUTHORIZATION] = "authorization",
        [ST_TRANSACTION] = "transaction",
        [ST_UPDATE] = "update",
        [ST_AUTH] = "auth",
        [ST_WAIT] = "waiting",
        [ST_SENDING] = "sending",
        [ST_CLOSING] = "closing",
    };
    return (size_t)st < sizeof names / sizeof names[0] ? names[st] : "?";
}

void pop3_session_reply(struct pop3 *p, enum pop3_reply id)
{
    const char *line = pop3_reply_line(id);
    conn_write(p->conn, line, strlen(line));
    if (pop3_reply_is_client_error(id))
        p->errors++;
}

static void session_free(struct pop3 *p)
{
    if (p->auth_request != 0 && shared != NULL)
        auth_async_cancel(shared->async, p->auth_request);
    proxy_login_free(&p->proxy);
    if (p->msg_fd >= 0)
        close(p->msg_fd);
    pop3_maildrop_close(&p->md); /* nothing is deleted */
    if (p->counted_as != NULL)
        user_sessions_release(p->counted_as);
    free(p->counted_as);
    sasl_exchange_free(&p->sx);
    sasl_session_free(&p->sasl);
    free(p->login);
    free(p);
}

static void really_end(struct pop3 *p)
{
    struct service_session *ss = p->ss;
    log_info("event=disconnect service=%s client=%s", ss->service->name, ss->client_ip);
    session_free(p);
    ss->protocol = NULL;
    conn_free(&ss->conn);
    ss->finished(ss);
}

struct service_session *pop3_session_hand_over(struct pop3 *p)
{
    struct service_session *ss = p->ss;
    session_free(p);
    ss->protocol = NULL;
    return ss;
}

/* busy - a pool job or the SASL exchange (a job or a delay) holds p. */
static bool busy(const struct pop3 *p)
{
    return p->job_running || sasl_exchange_busy(p->sx);
}

void pop3_session_end(struct pop3 *p)
{
    if (!p->ending) {
        p->ending = true;
        p->state = ST_CLOSING;
        conn_set_input_paused(p->conn, true);
    }
    if (p->depth == 0 && !busy(p))
        really_end(p);
}

void pop3_session_enter(struct pop3 *p)
{
    p->depth++;
}

void pop3_session_leave(struct pop3 *p)
{
    if (--p->depth == 0 && p->ending && !busy(p))
        really_end(p);
}

void pop3_session_close_with(struct pop3 *p, enum pop3_reply id)
{
    pop3_session_reply(p, id);
    p->state = ST_CLOSING;
    conn_set_input_paused(p->conn, true);
    if (conn_flush(p->conn) != CONN_AGAIN)
        pop3_session_end(p);
}

static void wait_begin(struct pop3 *p)
{
    p->state = ST_WAIT;
    conn_set_input_paused(p->conn, true);
    if (conn_flush(p->conn) == CONN_ERROR)
        pop3_session_end(p);
}

void pop3_session_wait_end(struct pop3 *p, enum pop3_state next)
{
    p->state = next;
    conn_set_input_paused(p->conn, false);
    process_input(p);
}

/* plaintext_allowed - RFC 2595 2: USER/PASS and plaintext SASL only under
 * TLS, unless sasl.plaintext_without_tls says otherwise (as SMTP AUTH). */
static bool plaintext_allowed(const struct pop3 *p)
{
    return p->tls || p->ss->config->sasl.plaintext_without_tls;
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
    if (shared == NULL || !shared->sasl_ready)
        return;
    char local[96], remote[96];
    snprintf(local, sizeof local, "%s;%u", conn_local_ip(p->conn), conn_local_port(p->conn));
    snprintf(remote, sizeof remote, "%s;%u", p->ss->client_ip, p->ss->client_port);
    const char *err = NULL;
    p->sasl = sasl_session_new("pop3", p->ss->hostname, local, remote, p->tls,
                               p->tls ? (unsigned)conn_tls_bits(p->conn) : 0, &err);
    if (p->sasl == NULL)
        log_error("event=sasl_session_failed client=%s error=\"%s\"", p->ss->client_ip,
                  err != NULL ? err : "?");
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
static void user_found(void *ctx, const struct auth_response *resp)
{
    struct pop3 *p = ctx;
    pop3_session_enter(p);
    p->auth_request = 0;
    const struct auth_user *u = resp->user;
    enum pop3_reply r = POP3_REPLY_INTERNAL;
    if (resp->status == AUTH_TEMPFAIL || resp->status == AUTH_ERROR) {
        r = POP3_REPLY_AUTH_TEMPFAIL; /* a directory error is temporary */
    } else if (resp->status != AUTH_FOUND || u == NULL || u->status != AUTH_USER_ACTIVE) {
        r = POP3_REPLY_AUTH_FAILED;
    } else if (u->mail_host != NULL && pop3_proxy_begin(p, u->mail_host)) {
        pop3_session_leave(p); /* the proxy answers */
        return;
    } else if (u->mail_host != NULL) {
        r = POP3_REPLY_MAILBOX_REMOTE; /* this node does not proxy (no proxy.secret) */
    } else if (!count_session(p, u, &r)) {
        /* r says why */
    } else {
        char *def = NULL;
        const char *mailbox = u->mailbox;
        if (mailbox == NULL || mailbox[0] == '\0')
            mailbox = def = local_default_mailbox(u->primary);
        if (mailbox != NULL) {
            pop3_transaction_open(p, mailbox); /* it answers */
            free(def);
            pop3_session_leave(p);
            return;
        }
        r = POP3_REPLY_MAILBOX_UNSAFE;
    }
    free(p->login);
    p->login = NULL;
    pop3_session_reply(p, r);
    pop3_session_wait_end(p, ST_AUTHORIZATION);
    pop3_session_leave(p);
}

/* logged_in - the credentials are good: ask where the maildrop is. */
static void logged_in(struct pop3 *p)
{
    p->login = strdup(sasl_exchange_user(p->sx));
    const char *args[1] = {p->login};
    if (p->login != NULL)
        p->auth_request = auth_async_request(shared->async, AUTH_REQ_USER, args, 1, user_found, p);
    if (p->auth_request == 0) {
        free(p->login);
        p->login = NULL;
        pop3_session_reply(p, POP3_REPLY_AUTH_TEMPFAIL);
        if (p->state == ST_WAIT)
            pop3_session_wait_end(p, ST_AUTHORIZATION);
        return;
    }
    wait_begin(p);
}

/* auth_outcome - the one place an exchange's outcome becomes a reply (RFC
 * 5034 4, RFC 3206). async: from the exchange's callback. */
static void auth_outcome(struct pop3 *p, enum sasl_exchange_outcome o, bool async)
{
    enum pop3_state next = ST_AUTHORIZATION;
    p->user[0] = '\0'; /* RFC 1939 7: after PASS, USER again */
    switch (o) {
    case SASL_EXCHANGE_PENDING:
        wait_begin(p);
        return;
    case SASL_EXCHANGE_CHALLENGE:
        conn_printf(p->conn, "+ %s\r\n", sasl_exchange_challenge(p->sx));
        conn_set_line_limit(p->conn, SASL_EXCHANGE_LINE_LIMIT);
        next = ST_AUTH;
        break;
    case SASL_EXCHANGE_OK:
        if (async)
            p->state = ST_WAIT;
        logged_in(p);
        return;
    case SASL_EXCHANGE_FAILED:
        switch (sasl_exchange_limit(p->sx)) {
        case SASL_EXCHANGE_LIMIT_IP:
            pop3_session_close_with(p, POP3_REPLY_AUTH_IP_BLOCKED);
            return;
        case SASL_EXCHANGE_LIMIT_SESSION:
            pop3_session_close_with(p, POP3_REPLY_AUTH_TOO_MANY);
            return;
        case SASL_EXCHANGE_LIMIT_NONE:
            pop3_session_reply(p, POP3_REPLY_AUTH_FAILED);
            break;
        }
        break;
    case SASL_EXCHANGE_TEMPFAIL:
        pop3_session_reply(p, POP3_REPLY_AUTH_TEMPFAIL);
        break;
    case SASL_EXCHANGE_BAD_PROTOCOL:
        pop3_session_reply(p, POP3_REPLY_AUTH_BAD_PROTOCOL);
        break;
    case SASL_EXCHANGE_BAD_BASE64:
        pop3_session_reply(p, POP3_REPLY_AUTH_BAD_BASE64);
        break;
    case SASL_EXCHANGE_CANCELLED:
        pop3_session_reply(p, POP3_REPLY_AUTH_CANCELLED);
        break;
    case SASL_EXCHANGE_NO_MECHANISM:
        pop3_session_reply(p, POP3_REPLY_AUTH_NO_MECHANISM);
        break;
    case SASL_EXCHANGE_ENCRYPTION_REQUIRED:
        pop3_session_reply(p, POP3_REPLY_AUTH_ENCRYPTION);
        break;
    case SASL_EXCHANGE_IP_BLOCKED:
        pop3_session_reply(p, POP3_REPLY_AUTH_IP_BLOCKED);
        break;
    }
    if (async)
        pop3_session_wait_end(p, next);
    else
        p->state = next;
}

static void auth_done(void *ctx, enum sasl_exchange_outcome o)
{
    struct pop3 *p = ctx;
    pop3_session_enter(p);
    if (!p->ending)
        auth_outcome(p, o, true);
    pop3_session_leave(p);
}

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
        if (p->ss->tls_ctx != NULL && !p->tls)
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
    enum sasl_exchange_outcome o = sasl_exchange_begin(p->sx, p->sasl, "PLAIN", b64);
    OPENSSL_cleanse(b64, sizeof b64);
    auth_outcome(p, o, false);
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
    auth_outcome(p, sasl_exchange_begin(p->sx, p->sasl, cmd->args[0], initial), false);
}

/* auth_line - a response line in an AUTH exchange (RFC 5034 4). */
static void auth_line(struct pop3 *p, const struct conn_line *line)
{
    conn_set_line_limit(p->conn, POP3_LINE_MAX);
    p->state = ST_AUTHORIZATION;
    enum sasl_exchange_outcome o = line->has_nul || line->bare_cr
                                       ? SASL_EXCHANGE_BAD_BASE64
                                       : sasl_exchange_response(p->sx, line->data, line->len);
    auth_outcome(p, o, false);
}

/* cmd_stls - RFC 2595 4: what the client sent after STLS before the
 * handshake is discarded, and everything learnt before it forgotten. */
static void cmd_stls(struct pop3 *p, struct pop3_command *cmd)
{
    (void)cmd;
    if (p->tls) {
        pop3_session_reply(p, POP3_REPLY_TLS_ACTIVE);
        return;
    }
    if (p->ss->tls_ctx == NULL) {
        pop3_session_reply(p, POP3_REPLY_TLS_UNAVAILABLE);
        return;
    }
    pop3_session_reply(p, POP3_REPLY_STLS);
    if (conn_flush(p->conn) != CONN_OK) {
        pop3_session_end(p);
        return;
    }
    size_t discarded = 0;
    if (conn_tls_server_start(p->conn, p->ss->tls_ctx, &discarded) < 0) {
        log_error("event=stls_failed client=%s error=\"%s\"", p->ss->client_ip,
                  conn_error(p->conn));
        pop3_session_end(p);
        return;
    }
    if (discarded > 0)
        log_info("event=stls_discarded client=%s bytes=%zu", p->ss->client_ip, discarded);
    p->tls = true;
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

static void process_input(struct pop3 *p)
{
    for (;;) {
        if (p->state == ST_WAIT || p->state == ST_CLOSING || p->state == ST_SENDING ||
            p->state == ST_UPDATE)
            return;
        if (p->errors >= p->ss->config->limits.errors) {
            log_info("event=too_many_errors client=%s errors=%u", p->ss->client_ip, p->errors);
            pop3_session_close_with(p, POP3_REPLY_TOO_MANY_ERRORS);
            return;
        }
        struct conn_line line;
        enum conn_result r = conn_read_line(p->conn, &line);
        if (r == CONN_AGAIN) {
            if (conn_flush(p->conn) == CONN_ERROR)
                pop3_session_end(p);
            return;
        }
        if (r == CONN_EOF || r == CONN_ERROR) {
            /* RFC 1939 6: no QUIT, no UPDATE: nothing is deleted */
            if (r == CONN_ERROR)
                log_info("event=conn_error client=%s error=\"%s\"", p->ss->client_ip,
                         conn_error(p->conn));
            pop3_session_end(p);
            return;
        }
        if (r == CONN_TOO_LONG) {
            if (p->state == ST_AUTH) {
                conn_set_line_limit(p->conn, POP3_LINE_MAX);
                p->state = ST_AUTHORIZATION;
                pop3_session_reply(p, POP3_REPLY_AUTH_LINE_TOO_LONG);
            } else {
                pop3_session_reply(p, POP3_REPLY_TOO_LONG);
            }
            continue;
        }
        if (p->state == ST_AUTH)
            auth_line(p, &line);
        else
            command_line(p, &line);
    }
}

static void handler_in(struct pop3 *p, enum conn_event event)
{
    switch (event) {
    case CONN_EVENT_TIMEOUT:
        /* RFC 1939 3: an idle session is closed without UPDATE */
        log_info("event=timeout client=%s reason=\"%s\" state=%s", p->ss->client_ip,
                 conn_error(p->conn), state_name(p->state));
        pop3_session_end(p);
        return;
    case CONN_EVENT_FLUSHED:
        if (p->state == ST_CLOSING) {
            pop3_session_end(p);
            return;
        }
        if (p->state == ST_SENDING) {
            conn_deadline_restart(p->conn); /* the client is reading: not idle */
            if (pop3_transaction_stream(p))
                process_input(p);
        }
        return;
    case CONN_EVENT_INPUT:
        if (p->state == ST_CLOSING) {
            conn_set_input_paused(p->conn, true);
            return;
        }
        process_input(p);
        return;
    }
}

static void handler(struct conn *conn, enum conn_event event, void *ctx)
{
    struct pop3 *p = ctx;
    (void)conn;
    pop3_session_enter(p);
    handler_in(p, event);
    pop3_session_leave(p);
}

void pop3_session_start(struct service_session *ss)
{
    if (shared == NULL)
        shared = sasl_shared_acquire(ss->loop, ss->config);
    struct pop3 *p = shared != NULL ? calloc(1, sizeof *p) : NULL;
    if (p != NULL) {
        p->msg_fd = -1;
        p->sx = sasl_exchange_new_for_session(ss, shared->pool, auth_done, p);
        if (p->sx == NULL) {
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
        pop3_session_end(p);
        return;
    }
    conn_set_line_limit(p->conn, POP3_LINE_MAX);
    conn_set_deadlines(p->conn, ss->deadlines, ss->service->session_timeout * 1000ull);
    pop3_session_enter(p);
    sasl_renew(p);
    pop3_session_reply(p, POP3_REPLY_GREETING);
    conn_deadline_restart(p->conn);
    if (conn_flush(p->conn) == CONN_ERROR)
        pop3_session_end(p);
    pop3_session_leave(p);
}
