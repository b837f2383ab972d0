/* gateway/smtp_session.c - see smtp_session.h.
 *
 * One session is one struct smtp with an explicit state, run by the
 * line-session driver (proto/line_session.h): input is read line by line
 * while the state takes commands; a command that must wait (a directory
 * answer, a SASL step, the queue's fsync) waits with input paused, and its
 * completion writes the reply and reads on from what is already buffered
 * (PIPELINING, RFC 2920: replies keep the order of the commands because
 * only one waits at a time). Replies are flushed whenever no complete
 * command is left in the buffer.
 * The mail transaction (MAIL to the commit) is smtp_transaction.c; the two
 * share struct smtp through smtp_session_internal.h. */
#include "config.h"

#include "gateway/smtp_session.h"
#include "gateway/smtp_session_internal.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gateway/pregreet_cache.h"

#include "auth/auth_client.h"
#include "auth/sasl_server.h"
#include "queue/queue.h"
#include "proto/command_table.h"
#include "proto/sasl_exchange.h"
#include "proto/sasl_shared.h"
#include "proto/smtp_parse.h"
#include "gateway/recipient_verify.h"
#include "gateway/smtp_policy.h"
#include "proto/smtp_reply.h"
#include "proto/smtp_wire.h"
#include "lib/conn.h"
#include "lib/event.h"
#include "lib/log.h"
#include "lib/threadpool.h"
#include "lib/clock.h"

/* ---- what every session of a process shares ---- */

static struct smtp_server *server;

/* server_get - set up the shared parts on first use: the pool, SASL and the
 * auth clients are the process's (proto/sasl_shared.h, shared with POP3 and
 * IMAP), the queue is SMTP's own. */
static struct smtp_server *server_get(const struct service_session *ss)
{
    if (server != NULL)
        return server;
    const struct config *conf = ss->config;
    struct smtp_server *srv = calloc(1, sizeof *srv);
    if (srv == NULL)
        return NULL;
    srv->shared = sasl_shared_acquire(ss->loop, conf);
    if (srv->shared == NULL) {
        free(srv);
        return NULL;
    }
    srv->pool = srv->shared->pool;
    srv->async = srv->shared->async;
    srv->client = srv->shared->client;
    srv->sasl_ready = srv->shared->sasl_ready;
    char *spool_path = config_state_path(conf, CONFIG_STATE_QUEUE);
    char *qerr = NULL;
    if (spool_path == NULL || queue_open(spool_path, &srv->queue, &qerr) < 0) {
        log_error("event=queue_open_failed error=\"%s\"", qerr != NULL ? qerr : "out of memory");
        free(qerr);
        free(spool_path);
        sasl_shared_release(&srv->shared);
        free(srv);
        return NULL;
    }
    free(spool_path);
    server = srv;
    return srv;
}

void smtp_session_shutdown(void)
{
    struct smtp_server *srv = server;
    if (srv == NULL)
        return;
    server = NULL;
    /* the shared pool's last reference finishes its jobs, some of which
     * are commits into the queue: release it before closing the queue */
    sasl_shared_release(&srv->shared);
    queue_close(&srv->queue);
    recipient_verify_free(&srv->verify);
    free(srv);
}

/* ---- the session ---- */

/* For logs: where a session stood when something happened to it. */
static const char *state_name(enum smtp_state st)
{
    static const char *const names[] = {
        [ST_PREGREET] = "pregreet", [ST_GREETED] = "greeted",     [ST_READY] = "ready",
        [ST_MAIL] = "mail",         [ST_RCPT] = "rcpt",           [ST_DATA] = "data",
        [ST_BDAT] = "bdat",         [ST_BDAT_OPEN] = "bdat-open",
    };
    return (size_t)st < sizeof names / sizeof names[0] && names[st] != NULL ? names[st] : "?";
}

/* client_error - does this reply count toward limits.errors? Every reply
 * that blames the client: all of 5xx (RFC 5321 4.2.1: the command was wrong
 * or refused) and the 4xx of a limit the client ran into (452 4.5.3, too
 * many recipients, RFC 5321 4.5.3.1.10). Not the 4xx whose cause is ours:
 * 451 (directory or queue trouble, RFC 3463 4.4.3/4.3.0), 454 (the password
 * check could not run) and 421 (we close anyway): a client must not be
 * thrown out because slapd was down. */
static bool client_error(int code, enum smtp_esc esc)
{
    if (code >= 500)
        return true;
    return code >= 400 && esc == SMTP_ESC_TOO_MANY_RECIPIENTS;
}

/* reply - queue one reply; counts errors for limits.errors. */
void session_reply(struct smtp *s, int code, enum smtp_esc esc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    smtp_wire_reply(&s->ls, client_error(code, esc), code, esc, fmt, ap);
    va_end(ap);
}

void session_reply_fixed(struct smtp *s, const struct smtp_reply *r)
{
    session_reply(s, r->code, r->esc, "%s", r->text);
}

/* close_with - last words, then close once they are out. */
static void close_with(struct smtp *s, int code, enum smtp_esc esc, const char *text)
{
    session_reply(s, code, esc, "%s %s", s->ss->hostname, text);
    line_session_close(&s->ls);
}

static void session_free(void *ctx)
{
    struct smtp *s = ctx;
    event_timer_remove(&s->timer);
    if (s->auth_request != 0 && s->srv != NULL)
        auth_async_cancel(s->srv->async, s->auth_request);
    recipient_verify_cancel(&s->probe);
    transaction_reset(s);
    session_sasl_free(&s->auth);
    sasl_session_free(&s->sasl);
    free(s->auth_user);
    free(s->commit_error);
    free(s);
}

void session_wait_end(struct smtp *s, enum smtp_state next)
{
    s->state = next;
    line_session_wait_end(&s->ls);
}

bool session_is_submission(const struct smtp *s)
{
    return s->ss->service->type != SERVICE_SMTP;
}

static bool auth_offered(struct smtp *s)
{
    if (!s->srv->sasl_ready || s->sasl == NULL || s->auth_user != NULL || !s->ls.tls)
        return false;
    return sasl_session_mechanisms(s->sasl)[0] != '\0';
}

static unsigned parse_opts(struct smtp *s)
{
    if (!s->esmtp)
        return 0;
    unsigned o = SMTP_PARSE_EXT_SIZE | SMTP_PARSE_EXT_8BITMIME | SMTP_PARSE_EXT_SMTPUTF8 |
                 SMTP_PARSE_EXT_DSN;
    if (auth_offered(s) || s->auth_user != NULL)
        o |= SMTP_PARSE_EXT_AUTH;
    if (s->tx_smtputf8)
        o |= SMTP_PARSE_TX_SMTPUTF8;
    return o;
}

/* sasl_renew - a SASL session for the connection as it is now. Made at
 * EHLO, which a client can only send once the TLS handshake is over, so that
 * the strength SASL is told is the negotiated cipher's (after STARTTLS the
 * old one is dropped: RFC 3207 4.2). */
static void sasl_renew(struct smtp *s)
{
    sasl_session_free(&s->sasl);
    if (s->srv->sasl_ready)
        session_sasl_renew(&s->auth, &s->sasl, session_is_submission(s) ? "submission" : "smtp");
}

/* ---- command handlers ---- */

typedef void cmd_handler(struct smtp *s, struct smtp_command *cmd);

static void cmd_ehlo(struct smtp *s, struct smtp_command *cmd)
{
    transaction_reset(s);
    s->esmtp = cmd->verb == SMTP_VERB_EHLO;
    snprintf(s->helo, sizeof s->helo, "%s", cmd->arg);
    if (s->sasl == NULL)
        sasl_renew(s);
    s->state = ST_READY;
    if (!s->esmtp) {
        session_reply(s, 250, SMTP_ESC_NONE, "%s", s->ss->hostname);
        return;
    }
    char text[1024];
    int n = snprintf(text, sizeof text,
                     "%s\nPIPELINING\nSIZE %zu\n8BITMIME\nENHANCEDSTATUSCODES\nSMTPUTF8\nDSN\n"
                     "CHUNKING",
                     s->ss->hostname, s->ss->config->limits.message_size);
    if (n > 0 && (size_t)n < sizeof text && s->ss->tls_ctx != NULL && !s->ls.tls)
        n += snprintf(text + n, sizeof text - (size_t)n, "\nSTARTTLS");
    if (n > 0 && (size_t)n < sizeof text && auth_offered(s))
        n += snprintf(text + n, sizeof text - (size_t)n, "\nAUTH %s",
                      sasl_session_mechanisms(s->sasl));
    session_reply(s, 250, SMTP_ESC_NONE, "%s", text);
}

/* out_of_sync - RFC 2920 synchronisation (Postfix 3.9's default
 * smtpd_forbid_unauth_pipelining): an unauthenticated client that sent more
 * after a command whose reply it must await, or that pipelines at all
 * without PIPELINING having been offered (HELO, or before EHLO), is not a
 * mail program but a bot or a smuggling attempt: 554 5.5.0 and close. True
 * when the session is closing for it. what names the command for the log. */
bool session_out_of_sync(struct smtp *s, const char *what)
{
    if (!s->ss->service->forbid_unauth_pipelining || s->auth_user != NULL)
        return false;
    char sample[104];
    size_t have = conn_input_peek(s->conn, sample, 100);
    if (have == 0)
        return false;
    if (have > 100)
        memcpy(sample + 100, "...", 4); /* cut short, and says so */
    char quoted[512];
    log_info("event=pipelining_violation client=%s command=%s input=%s", s->ss->client_ip, what,
             log_quote(quoted, sizeof quoted, sample));
    session_reply(s, 554, SMTP_ESC_PROTOCOL_OTHER, "Error: SMTP protocol synchronization");
    line_session_close(&s->ls);
    return true;
}

static void cmd_rset(struct smtp *s, struct smtp_command *cmd)
{
    (void)cmd;
    transaction_reset(s);
    session_reply(s, 250, SMTP_ESC_OTHER, "Ok");
}

static void cmd_noop(struct smtp *s, struct smtp_command *cmd)
{
    (void)cmd;
    session_reply(s, 250, SMTP_ESC_OTHER, "Ok");
}

static void cmd_quit(struct smtp *s, struct smtp_command *cmd)
{
    (void)cmd;
    transaction_reset(s);
    close_with(s, 221, SMTP_ESC_OTHER, "Bye");
}

static void cmd_help(struct smtp *s, struct smtp_command *cmd)
{
    (void)cmd;
    session_reply(s, 214, SMTP_ESC_OTHER,
                  "Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT HELP VRFY STARTTLS AUTH");
}

/* VRFY discloses nothing (RFC 5321 3.5.3 allows 252). */
static void cmd_vrfy(struct smtp *s, struct smtp_command *cmd)
{
    (void)cmd;
    session_reply(s, 252, SMTP_ESC_OTHER,
                  "Cannot VRFY user, but will accept message and attempt delivery");
}

static void cmd_expn(struct smtp *s, struct smtp_command *cmd)
{
    (void)cmd;
    session_reply(s, 502, SMTP_ESC_INVALID_COMMAND, "EXPN not available");
}

static void cmd_starttls(struct smtp *s, struct smtp_command *cmd)
{
    (void)cmd;
    if (s->ls.tls || s->ss->tls_ctx == NULL) {
        session_reply(s, 503, SMTP_ESC_INVALID_COMMAND, "TLS not available");
        return;
    }
    session_reply(s, 220, SMTP_ESC_OTHER, "Ready to start TLS");
    if (line_session_starttls(&s->ls, "starttls") < 0)
        return;
    /* RFC 3207 4.2: forget everything learnt before TLS. */
    transaction_reset(s);
    s->esmtp = false;
    s->helo[0] = '\0';
    s->state = ST_GREETED;
    sasl_session_free(&s->sasl); /* the next EHLO makes one for the TLS layer */
}

/* ---- AUTH ---- */

/* logged_in - the exchange succeeded (RFC 4954 4): 235, or 454 when the
 * name cannot be kept. */
static bool logged_in(void *ctx)
{
    struct smtp *s = ctx;
    s->auth_user = strdup(sasl_exchange_user(s->auth.sx));
    if (s->auth_user == NULL)
        session_reply(s, 454, SMTP_ESC_SECURITY_OTHER, "Temporary authentication failure");
    else
        session_reply(s, 235, SMTP_ESC_AUTH_SUCCEEDED, "Authentication successful");
    return false;
}

static void sasl_challenge(void *ctx, const char *b64)
{
    session_reply(ctx, 334, SMTP_ESC_NONE, "%s", b64);
}

/* sasl_refuse - a failure limit is followed by a 421 (RFC 4954 4, 6). */
static void sasl_refuse(void *ctx, enum session_sasl_refusal why)
{
    struct smtp *s = ctx;
    session_reply_fixed(s, smtp_reply_sasl_refusal(why));
    if (why == SESSION_SASL_FAILED_ADDRESS_LIMIT)
        session_reply(s, 421, SMTP_ESC_SECURITY_OTHER,
                      "%s Too many authentication failures from your address", s->ss->hostname);
    else if (why == SESSION_SASL_FAILED_SESSION_LIMIT)
        session_reply(s, 421, SMTP_ESC_SECURITY_OTHER, "%s Too many authentication failures",
                      s->ss->hostname);
}

static const struct session_sasl_proto sasl_proto = {
    .challenge = sasl_challenge,
    .success = logged_in,
    .refuse = sasl_refuse,
    .ends = SESSION_SASL_BIT(SESSION_SASL_FAILED_ADDRESS_LIMIT) |
            SESSION_SASL_BIT(SESSION_SASL_FAILED_SESSION_LIMIT),
};

static void cmd_auth(struct smtp *s, struct smtp_command *cmd)
{
    if (s->auth_user != NULL) {
        session_reply(s, 503, SMTP_ESC_INVALID_COMMAND, "Already authenticated");
        return;
    }
    if (!s->ls.tls && session_is_submission(s)) {
        session_reply(s, 530, SMTP_ESC_SECURITY_OTHER, "Must issue a STARTTLS command first");
        return;
    }
    if (!auth_offered(s) || !s->esmtp) {
        session_reply(s, 503, SMTP_ESC_INVALID_COMMAND, "AUTH not available");
        return;
    }
    const char *initial = cmd->has_initial_response ? cmd->arg : NULL;
    session_sasl_begin(&s->auth, s->sasl, cmd->mech, initial);
}

/* ---- the command table ---- */

#define ANY_SESSION (S(ST_GREETED) | S(ST_READY) | S(ST_MAIL) | S(ST_RCPT))
/* RFC 3030 2: between the chunks of one message only BDAT, RSET, NOOP and
 * QUIT make sense; anything else is a bad sequence (503 5.5.1). */
#define ANY_STATE (ANY_SESSION | S(ST_BDAT_OPEN))

/* A row of the table: what the lookup reads (proto/command_table.h), then
 * the handler. */
static const struct command {
    struct command_row row; /* where it is allowed; elsewhere 503 5.5.1 */
    cmd_handler *handler;
} commands[] = {
    {{SMTP_VERB_EHLO, ANY_SESSION}, cmd_ehlo},
    {{SMTP_VERB_HELO, ANY_SESSION}, cmd_ehlo},
    {{SMTP_VERB_MAIL, S(ST_READY)}, transaction_mail},
    {{SMTP_VERB_RCPT, S(ST_MAIL) | S(ST_RCPT)}, transaction_rcpt},
    {{SMTP_VERB_DATA, S(ST_MAIL) | S(ST_RCPT)}, transaction_data},
    {{SMTP_VERB_BDAT, ANY_STATE}, transaction_bdat}, /* reads its chunk even when refused */
    {{SMTP_VERB_RSET, ANY_STATE}, cmd_rset},
    {{SMTP_VERB_NOOP, ANY_STATE}, cmd_noop},
    {{SMTP_VERB_QUIT, ANY_STATE}, cmd_quit},
    {{SMTP_VERB_HELP, ANY_SESSION}, cmd_help},
    {{SMTP_VERB_VRFY, ANY_SESSION}, cmd_vrfy},
    {{SMTP_VERB_EXPN, ANY_SESSION}, cmd_expn},
    {{SMTP_VERB_STARTTLS, S(ST_READY)}, cmd_starttls},
    {{SMTP_VERB_AUTH, S(ST_READY)}, cmd_auth},
};

static void command_line(struct smtp *s, const struct conn_line *line)
{
    struct smtp_command *cmd = &s->cmd;
    enum smtp_parse_result r = line->has_nul || line->bare_cr || line->bare_lf
                                   ? SMTP_PARSE_BAD_LINE
                                   : smtp_parse_line(line->data, line->len, parse_opts(s), cmd);
    if (r != SMTP_PARSE_OK) {
        /* a BDAT whose size parsed cannot be told from data anyway; one
         * that did not parse has no size to skip: refuse the line only */
        session_reply_fixed(s, smtp_reply_parse_error(r));
        return;
    }
    /* BDAT's chunk follows its command line by design (RFC 3030 2) */
    if ((!s->esmtp ? cmd->verb != SMTP_VERB_BDAT : smtp_verb_ends_group(cmd->verb)) &&
        session_out_of_sync(s, smtp_verb_name(cmd->verb)))
        return;
    const void *found;
    switch (command_table_match(commands, sizeof commands / sizeof commands[0], sizeof commands[0],
                                cmd->verb, s->state, &found)) {
    case COMMAND_RUN:
        ((const struct command *)found)->handler(s, cmd);
        break;
    case COMMAND_NOT_NOW:
        if (s->state == ST_GREETED && cmd->verb != SMTP_VERB_STARTTLS &&
            cmd->verb != SMTP_VERB_AUTH)
            session_reply(s, 503, SMTP_ESC_INVALID_COMMAND, "Send EHLO or HELO first");
        else
            session_reply(s, 503, SMTP_ESC_INVALID_COMMAND, "Bad sequence of commands");
        break;
    case COMMAND_UNKNOWN:
        session_reply_fixed(s, smtp_reply_parse_error(SMTP_PARSE_UNKNOWN_COMMAND));
        break;
    }
}

static void send_greeting(struct smtp *s)
{
    session_reply(s, 220, SMTP_ESC_NONE, "%s ESMTP dirmail", s->ss->hostname);
    s->state = ST_GREETED;
    /* The first command's deadline starts now, not at the accept: the
     * pregreet wait is ours. */
    conn_deadline_restart(s->conn);
    line_session_flush(&s->ls);
}

/* pregreet_failed - the client talked before the greeting: refuse it, and
 * forget any pass it had (limits.pregreet_pass_ttl). */
static void pregreet_failed(struct smtp *s)
{
    log_info("event=pregreet client=%s", s->ss->client_ip);
    pregreet_cache_forget(s->ss->pregreet, s->ss->client_ip);
    close_with(s, 554, SMTP_ESC_PROTOCOL_OTHER, "Protocol error: talked before the greeting");
}

/* greet - the pregreet wait (limits.pregreet_wait: a client that talks
 * first is not an SMTP client that waits for the greeting, RFC 5321 3.1,
 * 4.3.1) is over; a client that kept quiet passed, and is remembered for
 * limits.pregreet_pass_ttl seconds. */
static void greet(void *ctx)
{
    struct smtp *s = ctx;
    line_session_enter(&s->ls);
    event_timer_remove(&s->timer);
    if (conn_input_pending(s->conn) > 0) {
        pregreet_failed(s);
    } else {
        if (s->ss->config->limits.pregreet_pass_ttl != 0)
            pregreet_cache_record(s->ss->pregreet, s->ss->client_ip, clock_monotonic_ms());
        send_greeting(s);
        line_session_read(&s->ls);
    }
    line_session_leave(&s->ls);
}

/* ---- the session's part in the line-session driver ---- */

static enum line_input session_input(void *ctx)
{
    const struct smtp *s = ctx;
    if (s->state == ST_PREGREET)
        return LINE_INPUT_NONE;
    return s->state == ST_BDAT ? LINE_INPUT_BYTES : LINE_INPUT_LINES;
}

static bool session_bytes(void *ctx)
{
    return transaction_bdat_read(ctx);
}

static void session_line(void *ctx, enum conn_result r, const struct conn_line *line)
{
    struct smtp *s = ctx;
    if (s->state == ST_DATA) {
        if (r == CONN_TOO_LONG)
            smtp_data_line_too_long(&s->data);
        else if (smtp_data_line(&s->data, line->data, line->len, line->bare_lf, line->bare_cr))
            transaction_message_end(s);
    } else if (s->auth.reading_response) {
        session_sasl_line(&s->auth, r, line);
    } else if (r == CONN_TOO_LONG) {
        session_reply_fixed(s, smtp_reply_parse_error(SMTP_PARSE_TOO_LONG));
    } else {
        command_line(s, line);
    }
}

static void session_too_many_errors(void *ctx)
{
    close_with(ctx, 421, SMTP_ESC_SECURITY_OTHER, "Too many errors, closing connection");
}

static void session_timeout(void *ctx)
{
    struct smtp *s = ctx;
    /* while a pool job works on what the client sent, no 421: end quietly
     * once it is done (during an AUTH delay the 421 goes out) */
    if (s->ls.closing || s->ls.job_running || sasl_exchange_stepping(s->auth.sx)) {
        line_session_end(&s->ls);
        return;
    }
    log_info("event=timeout client=%s reason=\"%s\" state=%s", s->ss->client_ip,
             conn_error(s->conn),
             s->ls.waiting              ? "waiting"
             : s->auth.reading_response ? "auth"
                                        : state_name(s->state));
    close_with(s, 421, SMTP_ESC_BAD_CONNECTION, "Timeout, closing connection");
}

/* early_input - input during the pregreet wait. Under implicit TLS the
 * handshake is input too: only application data counts as talking first. */
static bool early_input(void *ctx)
{
    struct smtp *s = ctx;
    if (s->state != ST_PREGREET)
        return false;
    struct conn_line line;
    enum conn_result r = conn_read_line(s->conn, &line);
    if (r == CONN_AGAIN && conn_input_pending(s->conn) == 0)
        return true;
    if (r == CONN_EOF || r == CONN_ERROR)
        line_session_end(&s->ls);
    else
        pregreet_failed(s);
    return true;
}

static const struct line_session_hooks session_hooks = {
    .input = session_input,
    .bytes = session_bytes,
    .line = session_line,
    .too_many_errors = session_too_many_errors,
    .timeout = session_timeout,
    .early_input = early_input,
    .free = session_free,
};

void smtp_session_start(struct service_session *ss)
{
    char line[512];
    struct smtp_server *srv = server_get(ss);
    struct smtp *s = srv != NULL ? calloc(1, sizeof *s) : NULL;
    if (s != NULL) {
        s->ls.ss = ss;
        if (session_sasl_init(&s->auth, &s->ls, &sasl_proto, srv->pool,
                              ss->config->limits.line_length) < 0) {
            free(s);
            s = NULL;
        }
    }
    if (s == NULL) {
        snprintf(line, sizeof line, "421 4.3.0 %s Service temporarily unavailable", ss->hostname);
        service_say_and_close(ss, line);
        return;
    }
    s->ss = ss;
    s->srv = srv;
    s->conn = ss->conn;
    s->state = ST_PREGREET;
    s->trusted = smtp_policy_trusted(&ss->config->relay, ss->client_ip);
    if (line_session_start(&s->ls, ss, &session_hooks, s, NULL, 0) < 0)
        return;
    /* The pregreet test, like Postfix's postscreen, guards only the MX
     * port: submission clients are mail programs of our own users, and a
     * trusted network (postscreen's permit_mynetworks) needs no proof. */
    unsigned wait =
        ss->service->type == SERVICE_SMTP && !s->trusted ? ss->config->limits.pregreet_wait : 0;
    /* A client that passed lately need not prove itself again (postscreen's
     * greet cache, postscreen_greet_ttl). The common case: debug only. */
    if (wait != 0 &&
        pregreet_cache_passed(ss->pregreet, ss->client_ip, ss->config->limits.pregreet_pass_ttl,
                              clock_monotonic_ms())) {
        log_debug("event=pregreet_pass_known client=%s", ss->client_ip);
        wait = 0;
    }
    if (wait == 0) {
        line_session_enter(&s->ls);
        send_greeting(s);
        line_session_leave(&s->ls);
        return;
    }
    s->timer = event_timer_add(ss->loop, wait, greet, s);
    if (s->timer == NULL)
        line_session_end(&s->ls);
}
