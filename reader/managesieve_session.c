/* reader/managesieve_session.c - see managesieve_session.h: the session's
 * part in the line-session driver (proto/line_session: the command parser,
 * the command table), CAPABILITY, STARTTLS, AUTHENTICATE (proto/session_sasl,
 * reader/login_lookup), UNAUTHENTICATE, NOOP and LOGOUT; the script commands
 * are managesieve_scripts.c's (managesieve_internal.h).
 *
 * Commands are parsed by the IMAP command parser in its ManageSieve dialect
 * (reader/imap_parse.h: no tag, every literal read at once), which brings
 * its limits: a literal over the script size is refused before it is read
 * (NO (QUOTA/MAXSIZE)), and dropped unread up to a bound, past which the
 * session is closed. A SASL response is one string too (RFC 5804 2.1), so
 * it goes through the same parser and is handed to the exchange as a
 * string. A command that must wait (a SASL step, the auth process's answer,
 * a store job) pauses input (line_session_wait_begin) and reads on from
 * what the client pipelined when it is done. */
#include "config.h"

#include "reader/managesieve_session.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/sasl_server.h"
#include "delivery/mda_sieve.h"
#include "delivery/sieve/sieve.h"
#include "lib/conn.h"
#include "lib/log.h"
#include "proto/command_table.h"
#include "proto/sasl_exchange.h"
#include "proto/sasl_shared.h"
#include "reader/literal_feed.h"
#include "reader/managesieve_internal.h"
#include "reader/proxy.h"

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
        p->ls.errors++;
}

static void session_free(void *ctx)
{
    struct msieve *p = ctx;
    login_lookup_cancel(&p->lookup);
    msieve_job_clear(&p->job);
    imap_parser_free(&p->parser);
    session_sasl_free(&p->auth);
    sasl_session_free(&p->sasl);
    free(p->login);
    free(p->mailbox);
    free(p);
}

/* close_with - last words (a BYE, or LOGOUT's OK), then close once out. */
static void close_with(struct msieve *p, enum managesieve_reply id)
{
    msieve_reply(p, id, NULL);
    line_session_close(&p->ls);
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
    if (p->state == MSIEVE_NOT_AUTHENTICATED && p->ss->tls_ctx != NULL && !p->ls.tls)
        capability_line(p, "STARTTLS", NULL);
    struct sieve_limits limits;
    mda_sieve_limits(&p->ss->config->sieve, &limits);
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
    if (shared != NULL && shared->sasl_ready)
        session_sasl_renew(&p->auth, &p->sasl, SASL_SERVICE);
}

/* ---- login ---- */

/* "sieve://" and a host name or a bracketed IPv6 address (RFC 5804 3) */
#define SIEVE_URL_MAX (sizeof "sieve://[]" + 255)

/* sieve_url - the ManageSieve URL of host (RFC 5804 3, no port: 4190)
 * into buf; false when host is no name or address a URL can hold. */
static bool sieve_url(const char *mail_host, char *buf, size_t size)
{
    char *host = mail_host != NULL ? proxy_host_name(mail_host) : NULL;
    bool ok = host != NULL && host[0] != '\0' && strlen(host) <= 255;
    bool v6 = ok && strchr(host, ':') != NULL;
    for (const char *c = host; ok && *c != '\0'; c++)
        ok = isalnum((unsigned char)*c) || *c == '-' || *c == '.' || (v6 && *c == ':');
    int n = ok ? snprintf(buf, size, v6 ? "sieve://[%s]" : "sieve://%s", host) : -1;
    free(host);
    return n > 0 && (size_t)n < size;
}

/* user_found - the auth process's USER answer for the login: where the
 * user's Maildir, and so the script store, is. */
static void user_found(void *ctx, enum login_lookup_result result, const struct auth_user *u,
                       const char *mailbox)
{
    struct msieve *p = ctx;
    enum managesieve_reply r = MSR_LOGGED_IN;
    char referral[SIEVE_URL_MAX];
    switch (result) {
    case LOGIN_LOOKUP_TEMPFAIL:
        r = MSR_DIRECTORY_TRYLATER; /* a directory error is temporary */
        break;
    case LOGIN_LOOKUP_REFUSED:
        r = MSR_AUTH_FAILED;
        break;
    case LOGIN_LOOKUP_REMOTE:
        /* RFC 5804 1.3, 2.1: the client is sent to the node that holds
         * the mailbox (no proxying of ManageSieve); a host that makes no
         * URL is the directory's error, so temporary */
        r = sieve_url(u != NULL ? u->mail_host : NULL, referral, sizeof referral)
                ? MSR_MAILBOX_REMOTE
                : MSR_DIRECTORY_TRYLATER;
        break;
    case LOGIN_LOOKUP_LOCAL:
        p->mailbox = mailbox != NULL ? strdup(mailbox) : NULL;
        if (p->mailbox == NULL)
            r = MSR_INTERNAL;
        break;
    }
    if (r == MSR_LOGGED_IN) {
        log_info("event=managesieve_login client=%s user=%s", p->ss->client_ip, p->login);
        p->state = MSIEVE_AUTHENTICATED;
    } else {
        log_info("event=managesieve_login_failed client=%s user=%s result=%d%s%s", p->ss->client_ip,
                 p->login, (int)result, r == MSR_MAILBOX_REMOTE ? " referral=" : "",
                 r == MSR_MAILBOX_REMOTE ? referral : "");
        free(p->login);
        p->login = NULL;
    }
    if (r == MSR_MAILBOX_REMOTE)
        managesieve_reply_write_arg(p->conn, r, referral, strlen(referral));
    else
        msieve_reply(p, r, NULL);
    line_session_wait_end(&p->ls);
}

/* logged_in - the credentials are good: ask where the mailbox is. True
 * while the answer is awaited. */
static bool logged_in(void *ctx)
{
    struct msieve *p = ctx;
    if (login_lookup_start(&p->lookup, &p->ls, shared->async, sasl_exchange_user(p->auth.sx),
                           &p->login, user_found, p))
        return true;
    msieve_reply(p, MSR_AUTH_TRYLATER, NULL);
    return false;
}

/* sasl_challenge - RFC 5804 2.1: the challenge is a string, and so is the
 * client's response (parsed as a command of arguments only). */
static void sasl_challenge(void *ctx, const char *b64)
{
    struct msieve *p = ctx;
    managesieve_string_write(p->conn, b64, strlen(b64));
    conn_write(p->conn, "\r\n", 2);
    imap_parser_expect_arguments(p->parser);
}

/* The replies to an exchange that ends short of a login; a failure limit
 * is followed by a BYE. */
static const enum managesieve_reply sasl_replies[SESSION_SASL_REFUSAL_COUNT] = {
    [SESSION_SASL_FAILED] = MSR_AUTH_FAILED,
    [SESSION_SASL_FAILED_ADDRESS_LIMIT] = MSR_AUTH_FAILED,
    [SESSION_SASL_FAILED_SESSION_LIMIT] = MSR_AUTH_FAILED,
    [SESSION_SASL_TEMPFAIL] = MSR_AUTH_TRYLATER,
    [SESSION_SASL_BAD_PROTOCOL] = MSR_AUTH_BAD_PROTOCOL,
    [SESSION_SASL_BAD_BASE64] = MSR_AUTH_BAD_BASE64,
    [SESSION_SASL_CANCELLED] = MSR_AUTH_CANCELLED,
    [SESSION_SASL_NO_MECHANISM] = MSR_AUTH_NO_MECHANISM,
    [SESSION_SASL_ENCRYPTION_REQUIRED] = MSR_AUTH_ENCRYPT_NEEDED,
    [SESSION_SASL_ADDRESS_BLOCKED] = MSR_AUTH_IP_BLOCKED,
    /* the response is a string: one too long is no string */
    [SESSION_SASL_LINE_TOO_LONG] = MSR_AUTH_BAD_BASE64,
};

#define SASL_ENDS                                                                                  \
    (SESSION_SASL_BIT(SESSION_SASL_FAILED_ADDRESS_LIMIT) |                                         \
     SESSION_SASL_BIT(SESSION_SASL_FAILED_SESSION_LIMIT) |                                         \
     SESSION_SASL_BIT(SESSION_SASL_ADDRESS_BLOCKED))

static void sasl_refuse(void *ctx, enum session_sasl_refusal why)
{
    struct msieve *p = ctx;
    msieve_reply(p, sasl_replies[why], NULL);
    if (SASL_ENDS & SESSION_SASL_BIT(why))
        msieve_reply(p, MSR_BYE_AUTH_TOO_MANY, NULL);
}

static const struct session_sasl_proto msieve_sasl_proto = {
    .challenge = sasl_challenge,
    .success = logged_in,
    .refuse = sasl_refuse,
    .ends = SASL_ENDS,
};

/* sasl_response - the client's string in an AUTHENTICATE exchange. */
static void sasl_response(struct msieve *p, const struct imap_command *cmd)
{
    const struct imap_arg *a = msieve_string_arg(cmd, 0);
    if (a == NULL || cmd->argc != 1)
        session_sasl_response(&p->auth, NULL, 0);
    else
        session_sasl_response(&p->auth, a->str, a->len);
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
        managesieve_reply_write_arg(p->conn, MSR_NOOP_TAG, tag->str, tag->len);
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
    if (p->ls.tls || p->ss->tls_ctx == NULL) {
        msieve_reply(p, p->ls.tls ? MSR_TLS_ACTIVE : MSR_TLS_UNAVAILABLE, NULL);
        return;
    }
    msieve_reply(p, MSR_STARTTLS, NULL);
    if (line_session_starttls(&p->ls, "starttls") < 0)
        return;
    imap_parser_reset(p->parser);
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
    session_sasl_begin(&p->auth, p->sasl, mech->str, ir);
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
    if (p->auth.reading_response) {
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
    if (p->auth.reading_response) {
        session_sasl_response(&p->auth, NULL, 0); /* answered as bad base64 */
        return;
    }
    msieve_reply(p, id, detail);
}

/* literal_input - octets of the literal the parser waits for. false: wait
 * for more input (or the session ends). */
static bool literal_input(void *ctx)
{
    struct msieve *p = ctx;
    return literal_feed_session(p->parser, &p->ls);
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

/* ---- the session's part in the line-session driver ---- */

static enum line_input session_input(void *ctx)
{
    const struct msieve *p = ctx;
    /* a SASL response is a string too, so it may be a literal */
    return imap_parser_literal_left(p->parser) > 0 ? LINE_INPUT_BYTES : LINE_INPUT_LINES;
}

static void session_line(void *ctx, enum conn_result r, const struct conn_line *line)
{
    struct msieve *p = ctx;
    if (r == CONN_TOO_LONG) {
        imap_parser_reset(p->parser);
        parse_refused(p, MSR_LINE_TOO_LONG, NULL);
        return;
    }
    command_line(p, line);
}

static void session_too_many_errors(void *ctx)
{
    close_with(ctx, MSR_BYE_TOO_MANY_ERRORS);
}

static void session_timeout(void *ctx)
{
    struct msieve *p = ctx;
    log_info("event=timeout client=%s reason=\"%s\"", p->ss->client_ip, conn_error(p->conn));
    if (!p->ls.ending) {
        msieve_reply(p, MSR_BYE_IDLE, NULL);
        conn_flush(p->conn);
    }
    line_session_end(&p->ls);
}

static const struct line_session_hooks session_hooks = {
    .input = session_input,
    .bytes = literal_input,
    .line = session_line,
    .too_many_errors = session_too_many_errors,
    .timeout = session_timeout,
    .free = session_free,
};

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
        p->ls.ss = ss;
        if (session_sasl_init(&p->auth, &p->ls, &msieve_sasl_proto, shared->pool, MSIEVE_LINE_MAX) <
                0 ||
            p->parser == NULL) {
            imap_parser_free(&p->parser);
            session_sasl_free(&p->auth);
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
    if (line_session_start(&p->ls, ss, &session_hooks, p, NULL, MSIEVE_LINE_MAX) < 0)
        return;
    line_session_enter(&p->ls);
    sasl_renew(p);
    capabilities(p); /* RFC 5804 1.7: the greeting is the capability list */
    msieve_reply(p, MSR_READY, NULL);
    conn_deadline_restart(p->conn);
    line_session_flush(&p->ls);
    line_session_leave(&p->ls);
}
