/* reader/managesieve_session.c - see managesieve_session.h: the session
 * core (input, ending, the command table), CAPABILITY, STARTTLS,
 * AUTHENTICATE, UNAUTHENTICATE, NOOP and LOGOUT; the script commands are
 * managesieve_scripts.c's (managesieve_internal.h).
 *
 * Commands are parsed by the IMAP command parser in its ManageSieve dialect
 * (reader/imap_parse.h: no tag, every literal read at once), which brings
 * its limits: a literal over the script size is refused before it is read
 * (NO (QUOTA/MAXSIZE)), and dropped unread up to a bound, past which the
 * session is closed. A SASL response is one string too (RFC 5804 2.1), so
 * it goes through the same parser. A command that must wait (a SASL step,
 * the auth process's answer, a store job) pauses input and reads on from
 * what the client pipelined when it is done. */
#include "config.h"

#include "reader/managesieve_session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth_client.h"
#include "auth/sasl_server.h"
#include "delivery/local_delivery.h"
#include "delivery/sieve/sieve.h"
#include "lib/conn.h"
#include "lib/log.h"
#include "proto/command_table.h"
#include "proto/sasl_exchange.h"
#include "proto/sasl_shared.h"
#include "reader/literal_feed.h"
#include "reader/managesieve_internal.h"

/* A refused literal this long is still read and dropped; past it, BYE. */
#define DISCARD_MAX (16u * 1024u * 1024u)
/* The SASL service name, as the directory's dirmailService lists it. */
#define SASL_SERVICE "managesieve"

static struct sasl_shared *shared;

void managesieve_session_shutdown(void)
{
    sasl_shared_release(&shared);
}

struct threadpool *msieve_pool(void)
{
    return shared->pool;
}

void msieve_reply(struct msieve *p, enum managesieve_reply id, const char *detail)
{
    managesieve_reply_write(p->conn, id, detail);
    if (managesieve_reply_is_client_error(id))
        p->errors++;
}

static void session_free(struct msieve *p)
{
    if (p->auth_request != 0 && shared != NULL)
        auth_async_cancel(shared->async, p->auth_request);
    msieve_job_clear(&p->job);
    imap_parser_free(&p->parser);
    sasl_exchange_free(&p->sx);
    sasl_session_free(&p->sasl);
    free(p->login);
    free(p->mailbox);
    free(p);
}

static void really_end(struct msieve *p)
{
    struct service_session *ss = p->ss;
    log_info("event=disconnect service=%s client=%s", ss->service->name, ss->client_ip);
    session_free(p);
    ss->protocol = NULL;
    conn_free(&ss->conn);
    ss->finished(ss);
}

/* busy - a store job or the SASL exchange (a step or a delay) holds p. */
static bool busy(const struct msieve *p)
{
    return p->job_running || sasl_exchange_busy(p->sx);
}

static void session_end(struct msieve *p)
{
    if (!p->ending) {
        p->ending = true;
        p->busy = MSIEVE_CLOSING;
        conn_set_input_paused(p->conn, true);
    }
    if (p->depth == 0 && !busy(p))
        really_end(p);
}

void msieve_enter(struct msieve *p)
{
    p->depth++;
}

void msieve_leave(struct msieve *p)
{
    if (--p->depth == 0 && p->ending && !busy(p))
        really_end(p);
}

/* close_with - last words (a BYE, or LOGOUT's OK), then close once out. */
static void close_with(struct msieve *p, enum managesieve_reply id)
{
    msieve_reply(p, id, NULL);
    p->busy = MSIEVE_CLOSING;
    conn_set_input_paused(p->conn, true);
    if (conn_flush(p->conn) != CONN_AGAIN)
        session_end(p);
}

void msieve_wait_begin(struct msieve *p)
{
    p->busy = MSIEVE_WAITING;
    conn_set_input_paused(p->conn, true);
    if (conn_flush(p->conn) == CONN_ERROR)
        session_end(p);
}

static void process_input(struct msieve *p);

void msieve_resume(struct msieve *p)
{
    if (p->ending)
        return;
    p->busy = MSIEVE_INPUT;
    conn_set_input_paused(p->conn, false);
    process_input(p);
}

const struct imap_arg *msieve_string_arg(const struct imap_command *cmd, size_t i)
{
    const struct imap_arg *a = imap_command_arg(cmd, i);
    if (a == NULL || (a->type != IMAP_ARG_QUOTED && a->type != IMAP_ARG_LITERAL))
        return NULL;
    return a;
}

/* ---- capabilities ---- */

static void capability_line(struct msieve *p, const char *name, const char *value)
{
    managesieve_string_write(p->conn, name, strlen(name));
    if (value != NULL) {
        conn_write(p->conn, " ", 1);
        managesieve_string_write(p->conn, value, strlen(value));
    }
    conn_write(p->conn, "\r\n", 2);
}

/* capabilities - RFC 5804 1.7, for the state the session is in. The SIEVE
 * list is the engine's own (sieve_extensions_format). NOTIFY is absent: the
 * engine has no enotify (RFC 5435). */
static void capabilities(struct msieve *p)
{
    capability_line(p, "IMPLEMENTATION", "dirmail");
    const char *mechs = "";
    if (p->state == MSIEVE_NOT_AUTHENTICATED && p->sasl != NULL)
        mechs = sasl_session_mechanisms(p->sasl);
    capability_line(p, "SASL", mechs);
    char ext[1024];
    if (sieve_extensions_format(ext, sizeof ext) >= sizeof ext)
        log_warning("event=managesieve_capability_truncated what=sieve");
    capability_line(p, "SIEVE", ext);
    if (p->state == MSIEVE_NOT_AUTHENTICATED && p->ss->tls_ctx != NULL && !p->tls)
        capability_line(p, "STARTTLS", NULL);
    struct sieve_limits limits;
    sieve_limits_default(&limits);
    char redirects[24];
    snprintf(redirects, sizeof redirects, "%zu", limits.redirects_max);
    capability_line(p, "MAXREDIRECTS", redirects);
    if (p->state == MSIEVE_AUTHENTICATED)
        capability_line(p, "UNAUTHENTICATE", NULL);
    capability_line(p, "VERSION", "1.0");
}

/* sasl_renew - a SASL session for the connection as it is now (after
 * STARTTLS or UNAUTHENTICATE the old one is dropped). */
static void sasl_renew(struct msieve *p)
{
    sasl_session_free(&p->sasl);
    p->sasl = sasl_shared_session_new(shared, p->ss, SASL_SERVICE, p->tls);
}

/* ---- login ---- */

/* user_found - the auth process's USER answer for the login: where the
 * user's Maildir, and so the script store, is. */
static void user_found(void *ctx, const struct auth_response *resp)
{
    struct msieve *p = ctx;
    msieve_enter(p);
    p->auth_request = 0;
    const struct auth_user *u = resp->user;
    enum managesieve_reply r = MSR_LOGGED_IN;
    if (resp->status == AUTH_TEMPFAIL || resp->status == AUTH_ERROR) {
        r = MSR_DIRECTORY_TRYLATER; /* a directory error is temporary */
    } else if (resp->status != AUTH_FOUND || u == NULL || u->status != AUTH_USER_ACTIVE) {
        r = MSR_AUTH_FAILED;
    } else if (u->mail_host != NULL) {
        r = MSR_MAILBOX_REMOTE; /* the proxy to the user's node is not built */
    } else {
        const char *mailbox = u->mailbox;
        char *def = NULL;
        if (mailbox == NULL || mailbox[0] == '\0')
            mailbox = def = local_default_mailbox(u->primary);
        p->mailbox = mailbox != NULL ? strdup(mailbox) : NULL;
        free(def);
        if (p->mailbox == NULL)
            r = MSR_INTERNAL;
    }
    if (r == MSR_LOGGED_IN) {
        log_info("event=managesieve_login client=%s user=%s", p->ss->client_ip, p->login);
        p->state = MSIEVE_AUTHENTICATED;
    } else {
        log_info("event=managesieve_login_failed client=%s user=%s status=%d", p->ss->client_ip,
                 p->login, (int)resp->status);
        free(p->login);
        p->login = NULL;
    }
    msieve_reply(p, r, NULL);
    msieve_resume(p);
    msieve_leave(p);
}

/* logged_in - the credentials are good: ask where the mailbox is. */
static void logged_in(struct msieve *p)
{
    p->login = strdup(sasl_exchange_user(p->sx));
    const char *args[1] = {p->login};
    if (p->login != NULL)
        p->auth_request = auth_async_request(shared->async, AUTH_REQ_USER, args, 1, user_found, p);
    if (p->auth_request == 0) {
        free(p->login);
        p->login = NULL;
        msieve_reply(p, MSR_AUTH_TRYLATER, NULL);
        if (p->busy == MSIEVE_WAITING)
            msieve_resume(p);
        return;
    }
    msieve_wait_begin(p);
}

/* auth_outcome - the one place an exchange's outcome becomes a reply (RFC
 * 5804 2.1). async: from the exchange's callback. */
static void auth_outcome(struct msieve *p, enum sasl_exchange_outcome o, bool async)
{
    p->in_sasl = false;
    enum managesieve_reply r;
    switch (o) {
    case SASL_EXCHANGE_PENDING:
        msieve_wait_begin(p);
        return;
    case SASL_EXCHANGE_CHALLENGE: {
        const char *c = sasl_exchange_challenge(p->sx);
        managesieve_string_write(p->conn, c, strlen(c));
        conn_write(p->conn, "\r\n", 2);
        imap_parser_expect_arguments(p->parser);
        p->in_sasl = true;
        if (async)
            msieve_resume(p);
        return;
    }
    case SASL_EXCHANGE_OK:
        if (async)
            p->busy = MSIEVE_WAITING;
        logged_in(p);
        return;
    case SASL_EXCHANGE_FAILED:
        if (sasl_exchange_limit(p->sx) != SASL_EXCHANGE_LIMIT_NONE) {
            msieve_reply(p, MSR_AUTH_FAILED, NULL);
            close_with(p, MSR_BYE_AUTH_TOO_MANY);
            return;
        }
        r = MSR_AUTH_FAILED;
        break;
    case SASL_EXCHANGE_TEMPFAIL:
        r = MSR_AUTH_TRYLATER;
        break;
    case SASL_EXCHANGE_BAD_PROTOCOL:
        r = MSR_AUTH_BAD_PROTOCOL;
        break;
    case SASL_EXCHANGE_BAD_BASE64:
        r = MSR_AUTH_BAD_BASE64;
        break;
    case SASL_EXCHANGE_CANCELLED:
        r = MSR_AUTH_CANCELLED;
        break;
    case SASL_EXCHANGE_NO_MECHANISM:
        r = MSR_AUTH_NO_MECHANISM;
        break;
    case SASL_EXCHANGE_ENCRYPTION_REQUIRED:
        r = MSR_AUTH_ENCRYPT_NEEDED;
        break;
    case SASL_EXCHANGE_IP_BLOCKED:
    default:
        msieve_reply(p, MSR_AUTH_IP_BLOCKED, NULL);
        close_with(p, MSR_BYE_AUTH_TOO_MANY);
        return;
    }
    msieve_reply(p, r, NULL);
    if (async)
        msieve_resume(p);
}

static void auth_done(void *ctx, enum sasl_exchange_outcome o)
{
    struct msieve *p = ctx;
    msieve_enter(p);
    if (!p->ending)
        auth_outcome(p, o, true);
    msieve_leave(p);
}

/* sasl_response - the client's string in an AUTHENTICATE exchange. */
static void sasl_response(struct msieve *p, const struct imap_command *cmd)
{
    const struct imap_arg *a = msieve_string_arg(cmd, 0);
    enum sasl_exchange_outcome o = SASL_EXCHANGE_BAD_BASE64;
    if (a != NULL && cmd->argc == 1 && memchr(a->str, '\0', a->len) == NULL)
        o = sasl_exchange_response(p->sx, a->str, a->len);
    auth_outcome(p, o, false);
}

/* ---- commands of either state ---- */

typedef void cmd_handler(struct msieve *p, const struct imap_command *cmd);

static void cmd_capability(struct msieve *p, const struct imap_command *cmd)
{
    if (cmd->argc != 0) {
        msieve_reply(p, MSR_BAD_ARGS, NULL);
        return;
    }
    capabilities(p);
    msieve_reply(p, MSR_CAPABILITY_DONE, NULL);
}

/* cmd_noop - RFC 5804 2.13: an optional string comes back as (TAG ...). */
static void cmd_noop(struct msieve *p, const struct imap_command *cmd)
{
    const struct imap_arg *tag = msieve_string_arg(cmd, 0);
    if (cmd->argc > 1 || (cmd->argc == 1 && tag == NULL)) {
        msieve_reply(p, MSR_BAD_ARGS, NULL);
        return;
    }
    if (tag != NULL)
        managesieve_reply_write_tag(p->conn, MSR_NOOP_DONE, tag->str, tag->len);
    else
        msieve_reply(p, MSR_NOOP_DONE, NULL);
}

static void cmd_logout(struct msieve *p, const struct imap_command *cmd)
{
    (void)cmd;
    close_with(p, MSR_LOGOUT);
}

/* cmd_starttls - RFC 5804 2.2: what the client sent after STARTTLS before
 * the handshake is discarded, everything learnt before it forgotten, and
 * the capabilities are sent again under TLS. */
static void cmd_starttls(struct msieve *p, const struct imap_command *cmd)
{
    (void)cmd;
    if (p->tls || p->ss->tls_ctx == NULL) {
        msieve_reply(p, p->tls ? MSR_TLS_ACTIVE : MSR_TLS_UNAVAILABLE, NULL);
        return;
    }
    msieve_reply(p, MSR_STARTTLS, NULL);
    if (service_starttls(p->ss) < 0) {
        session_end(p);
        return;
    }
    imap_parser_reset(p->parser);
    p->tls = true;
    sasl_renew(p);
    capabilities(p);
    msieve_reply(p, MSR_TLS_DONE, NULL);
}

/* cmd_authenticate - RFC 5804 2.1: AUTHENTICATE mechanism [initial
 * response], both strings; an empty initial response is "". */
static void cmd_authenticate(struct msieve *p, const struct imap_command *cmd)
{
    const struct imap_arg *mech = imap_command_arg(cmd, 0);
    const struct imap_arg *initial = msieve_string_arg(cmd, 1);
    if (mech == NULL || mech->type == IMAP_ARG_LIST || mech->len == 0 ||
        mech->len > SASL_EXCHANGE_MECH_MAX || memchr(mech->str, '\0', mech->len) != NULL ||
        cmd->argc > 2 || (cmd->argc == 2 && initial == NULL) ||
        (initial != NULL && memchr(initial->str, '\0', initial->len) != NULL)) {
        msieve_reply(p, MSR_BAD_ARGS, NULL);
        return;
    }
    if (p->sasl == NULL || shared == NULL || !shared->sasl_ready) {
        msieve_reply(p, MSR_AUTH_UNAVAILABLE, NULL);
        return;
    }
    const char *ir = NULL;
    if (initial != NULL)
        ir = initial->len == 0 ? "=" : initial->str; /* the exchange's "empty" */
    auth_outcome(p, sasl_exchange_begin(p->sx, p->sasl, mech->str, ir), false);
}

/* cmd_unauthenticate - RFC 5804 2.14: back to the state after the
 * greeting (and after STARTTLS, if it was done). */
static void cmd_unauthenticate(struct msieve *p, const struct imap_command *cmd)
{
    if (cmd->argc != 0) {
        msieve_reply(p, MSR_BAD_ARGS, NULL);
        return;
    }
    free(p->login);
    p->login = NULL;
    free(p->mailbox);
    p->mailbox = NULL;
    p->state = MSIEVE_NOT_AUTHENTICATED;
    sasl_renew(p);
    msieve_reply(p, MSR_UNAUTHENTICATED, NULL);
}

/* ---- the command table ---- */

enum msieve_verb {
    V_CAPABILITY,
    V_NOOP,
    V_LOGOUT,
    V_STARTTLS,
    V_AUTHENTICATE,
    V_UNAUTHENTICATE,
    V_HAVESPACE,
    V_PUTSCRIPT,
    V_CHECKSCRIPT,
    V_LISTSCRIPTS,
    V_SETACTIVE,
    V_GETSCRIPT,
    V_DELETESCRIPT,
    V_RENAMESCRIPT,
    V_UNKNOWN,
};

static const char *const verb_names[] = {
    [V_CAPABILITY] = "CAPABILITY",
    [V_NOOP] = "NOOP",
    [V_LOGOUT] = "LOGOUT",
    [V_STARTTLS] = "STARTTLS",
    [V_AUTHENTICATE] = "AUTHENTICATE",
    [V_UNAUTHENTICATE] = "UNAUTHENTICATE",
    [V_HAVESPACE] = "HAVESPACE",
    [V_PUTSCRIPT] = "PUTSCRIPT",
    [V_CHECKSCRIPT] = "CHECKSCRIPT",
    [V_LISTSCRIPTS] = "LISTSCRIPTS",
    [V_SETACTIVE] = "SETACTIVE",
    [V_GETSCRIPT] = "GETSCRIPT",
    [V_DELETESCRIPT] = "DELETESCRIPT",
    [V_RENAMESCRIPT] = "RENAMESCRIPT",
};

#define S(st) COMMAND_STATE(st)
#define ANY (S(MSIEVE_NOT_AUTHENTICATED) | S(MSIEVE_AUTHENTICATED))
#define AUTHED S(MSIEVE_AUTHENTICATED)

static const struct command {
    struct command_row row; /* where it is allowed; elsewhere NOT_NOW */
    cmd_handler *handler;
} commands[] = {
    {{V_CAPABILITY, ANY}, cmd_capability},
    {{V_NOOP, ANY}, cmd_noop},
    {{V_LOGOUT, ANY}, cmd_logout},
    {{V_STARTTLS, S(MSIEVE_NOT_AUTHENTICATED)}, cmd_starttls},
    {{V_AUTHENTICATE, S(MSIEVE_NOT_AUTHENTICATED)}, cmd_authenticate},
    {{V_UNAUTHENTICATE, AUTHED}, cmd_unauthenticate},
    {{V_HAVESPACE, AUTHED}, msieve_cmd_havespace},
    {{V_PUTSCRIPT, AUTHED}, msieve_cmd_putscript},
    {{V_CHECKSCRIPT, AUTHED}, msieve_cmd_checkscript},
    {{V_LISTSCRIPTS, AUTHED}, msieve_cmd_listscripts},
    {{V_SETACTIVE, AUTHED}, msieve_cmd_setactive},
    {{V_GETSCRIPT, AUTHED}, msieve_cmd_getscript},
    {{V_DELETESCRIPT, AUTHED}, msieve_cmd_deletescript},
    {{V_RENAMESCRIPT, AUTHED}, msieve_cmd_renamescript},
};

static enum msieve_verb verb_of(const char *name)
{
    for (size_t i = 0; i < sizeof verb_names / sizeof verb_names[0]; i++)
        if (strcmp(verb_names[i], name) == 0)
            return (enum msieve_verb)i;
    return V_UNKNOWN;
}

static void run_command(struct msieve *p, const struct imap_command *cmd)
{
    if (p->in_sasl) {
        sasl_response(p, cmd);
        return;
    }
    const void *found;
    switch (command_table_match(commands, sizeof commands / sizeof commands[0], sizeof commands[0],
                                (int)verb_of(cmd->name), p->state, &found)) {
    case COMMAND_RUN:
        ((const struct command *)found)->handler(p, cmd);
        break;
    case COMMAND_NOT_NOW:
        msieve_reply(
            p, p->state == MSIEVE_NOT_AUTHENTICATED ? MSR_LOG_IN_FIRST : MSR_ALREADY_AUTHENTICATED,
            NULL);
        break;
    case COMMAND_UNKNOWN:
        msieve_reply(p, MSR_UNKNOWN, NULL);
        break;
    }
}

/* parse_refused - a command the parser refused: the SASL exchange, if one
 * was waiting for this response, ends with it. */
static void parse_refused(struct msieve *p, enum managesieve_reply id, const char *detail)
{
    if (p->in_sasl) {
        p->in_sasl = false;
        /* the exchange is over: a "*" it never saw is a cancel to it */
        sasl_exchange_response(p->sx, "*", 1);
        id = MSR_AUTH_BAD_BASE64;
        detail = NULL;
    }
    msieve_reply(p, id, detail);
}

/* literal_input - octets of the literal the parser waits for. false: wait
 * for more input (or the session ends). */
static bool literal_input(struct msieve *p)
{
    enum conn_result r = literal_feed(p->parser, p->conn);
    if (r == CONN_AGAIN) {
        if (conn_flush(p->conn) == CONN_ERROR)
            session_end(p);
        return false;
    }
    if (r != CONN_OK) {
        session_end(p);
        return false;
    }
    return true;
}

static void command_line(struct msieve *p, const struct conn_line *line)
{
    if (line->bare_cr) {
        imap_parser_reset(p->parser);
        parse_refused(p, MSR_BAD_ARGS, "Bare CR in command");
        return;
    }
    enum imap_parse_result r = imap_parser_feed_line(p->parser, line->data, line->len);
    switch (r) {
    case IMAP_PARSE_DONE:
        run_command(p, imap_parser_command(p->parser));
        break;
    case IMAP_PARSE_LITERAL:
        if (imap_parser_literal_left(p->parser) == 0)
            imap_parser_feed_literal(p->parser, "", 0);
        else
            conn_transfer_begin(p->conn);
        break;
    case IMAP_PARSE_BAD:
        parse_refused(p, MSR_BAD_ARGS, imap_parser_error(p->parser));
        if (imap_parser_literal_left(p->parser) > 0)
            conn_transfer_begin(p->conn);
        break;
    case IMAP_PARSE_TOOBIG:
        /* RFC 5804 2.6: a script over the size, refused before it is read */
        parse_refused(p, MSR_MAXSIZE, NULL);
        if (imap_parser_literal_left(p->parser) > 0)
            conn_transfer_begin(p->conn);
        break;
    case IMAP_PARSE_DISCARDED:
        break;
    case IMAP_PARSE_CLOSE:
        close_with(p, MSR_BYE_TOOBIG);
        break;
    }
}

static void process_input(struct msieve *p)
{
    for (;;) {
        if (p->busy != MSIEVE_INPUT)
            return;
        if (p->errors >= p->ss->config->limits.errors) {
            log_info("event=too_many_errors client=%s errors=%u", p->ss->client_ip, p->errors);
            close_with(p, MSR_BYE_TOO_MANY_ERRORS);
            return;
        }
        if (imap_parser_literal_left(p->parser) > 0) {
            if (!literal_input(p))
                return;
            continue;
        }
        struct conn_line line;
        enum conn_result r = conn_read_line(p->conn, &line);
        if (r == CONN_AGAIN) {
            if (conn_flush(p->conn) == CONN_ERROR)
                session_end(p);
            return;
        }
        if (r == CONN_EOF || r == CONN_ERROR) {
            if (r == CONN_ERROR)
                log_info("event=conn_error client=%s error=\"%s\"", p->ss->client_ip,
                         conn_error(p->conn));
            session_end(p);
            return;
        }
        if (r == CONN_TOO_LONG) {
            imap_parser_reset(p->parser);
            parse_refused(p, MSR_LINE_TOO_LONG, NULL);
            continue;
        }
        command_line(p, &line);
    }
}

static void handler_in(struct msieve *p, enum conn_event event)
{
    switch (event) {
    case CONN_EVENT_TIMEOUT:
        log_info("event=timeout client=%s reason=\"%s\"", p->ss->client_ip, conn_error(p->conn));
        if (!p->ending) {
            msieve_reply(p, MSR_BYE_IDLE, NULL);
            conn_flush(p->conn);
        }
        session_end(p);
        return;
    case CONN_EVENT_FLUSHED:
        if (p->busy == MSIEVE_CLOSING)
            session_end(p);
        return;
    case CONN_EVENT_INPUT:
        if (p->busy == MSIEVE_CLOSING) {
            conn_set_input_paused(p->conn, true);
            return;
        }
        process_input(p);
        return;
    }
}

static void handler(struct conn *conn, enum conn_event event, void *ctx)
{
    struct msieve *p = ctx;
    (void)conn;
    msieve_enter(p);
    handler_in(p, event);
    msieve_leave(p);
}

void managesieve_session_start(struct service_session *ss)
{
    if (shared == NULL)
        shared = sasl_shared_acquire(ss->loop, ss->config);
    struct msieve *p = shared != NULL ? calloc(1, sizeof *p) : NULL;
    if (p != NULL) {
        size_t script_max = ss->config->managesieve.max_script_size;
        /* a literal is a script, a name or a SASL response */
        uint64_t literal_max =
            script_max > SASL_EXCHANGE_LINE_LIMIT ? script_max : SASL_EXCHANGE_LINE_LIMIT;
        const struct imap_parse_limits limits = {
            .literal_max = literal_max,
            .append_literal_max = literal_max,
            .discard_max = DISCARD_MAX,
            .args_max = 8,
            .depth_max = 0,
            .bytes_max = 2 * SASL_EXCHANGE_LINE_LIMIT,
            .untagged = true,
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
        char line[128];
        service_say_and_close(ss, managesieve_reply_line(MSR_BYE_UNAVAILABLE, line, sizeof line));
        return;
    }
    p->ss = ss;
    p->conn = ss->conn;
    p->state = MSIEVE_NOT_AUTHENTICATED;
    ss->protocol = p;
    if (conn_attach(p->conn, ss->loop, handler, p) < 0) {
        session_end(p);
        return;
    }
    conn_set_line_limit(p->conn, MSIEVE_LINE_MAX);
    conn_set_deadlines(p->conn, ss->deadlines, ss->service->session_timeout * 1000ull);
    msieve_enter(p);
    sasl_renew(p);
    capabilities(p); /* RFC 5804 1.7: the greeting is the capability list */
    msieve_reply(p, MSR_READY, NULL);
    conn_deadline_restart(p->conn);
    if (conn_flush(p->conn) == CONN_ERROR)
        session_end(p);
    msieve_leave(p);
}
