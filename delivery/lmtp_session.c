/* delivery/lmtp_session.c - see lmtp_session.h.
 *
 * The session core: one struct lmtp with an explicit state, a command table
 * (proto/command_table.h), input read line by line while the state takes
 * commands. A command that waits (RCPT's directory answer, the deliveries
 * after the message) pauses input; its completion queues the reply or
 * replies and reads on from what the client pipelined (RFC 2920: one
 * command waits at a time, so replies keep the commands' order). The
 * message half (DATA, BDAT, the deliveries) is lmtp_message.c. */
#include "config.h"

#include "delivery/lmtp_session.h"
#include "delivery/lmtp_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth/auth_client.h"
#include "lib/conn.h"
#include "lib/log.h"
#include "proto/smtp_wire.h"
#include "delivery/mda.h"
#include "proto/delivery_status.h"
#include "proto/network_match.h"
#include "proto/sasl_shared.h"

/* The process's shared pool and auth clients (proto/sasl_shared.h): LMTP
 * takes a reference at its first session like SMTP and POP3 do. */
static struct sasl_shared *shared;
static unsigned long session_counter;

void lmtp_session_shutdown(void)
{
    sasl_shared_release(&shared);
}

/* ---- replies and the session's end ---- */

/* client_error - does this reply count toward limits.errors? Only the
 * client's protocol mistakes (syntax, arguments, sequence). Unlike SMTP,
 * refused recipients and failed deliveries do not count: an LMTP client is
 * a trusted MTA handing over a batch, and a batch full of unknown users
 * must still be answered to the end. */
static bool client_error(int code, enum smtp_esc esc)
{
    if (code < 500)
        return false;
    switch (esc) {
    case SMTP_ESC_SYNTAX_ERROR:
    case SMTP_ESC_INVALID_COMMAND:
    case SMTP_ESC_INVALID_ARGUMENTS:
    case SMTP_ESC_BAD_SENDER_SYNTAX:
    case SMTP_ESC_BAD_DEST_SYNTAX:
    case SMTP_ESC_NON_ASCII_ADDRESS:
        return true;
    default:
        return false;
    }
}

void lmtp_reply(struct lmtp *s, int code, enum smtp_esc esc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    smtp_wire_reply(&s->ls, client_error(code, esc), code, esc, fmt, ap);
    va_end(ap);
}

void lmtp_reply_fixed(struct lmtp *s, const struct smtp_reply *r)
{
    lmtp_reply(s, r->code, r->esc, "%s", r->text);
}

/* reply_status - a delivery status (proto/delivery_status.h) as the reply
 * that carries it: its code, and its text with the enhanced code first. */
static void reply_status(struct lmtp *s, enum delivery_status status, const char *arg)
{
    char text[DELIVERY_STATUS_TEXT_MAX];
    delivery_status_format(text, sizeof text, status, arg);
    lmtp_reply(s, delivery_status_reply_code(status), SMTP_ESC_NONE, "%s", text);
}

static void close_with(struct lmtp *s, int code, enum smtp_esc esc, const char *text)
{
    lmtp_reply(s, code, esc, "%s %s", s->ss->hostname, text);
    line_session_close(&s->ls);
}

static void session_free(void *ctx)
{
    struct lmtp *s = ctx;
    if (s->auth_request != 0 && shared != NULL)
        auth_async_cancel(shared->async, s->auth_request);
    lmtp_transaction_reset(s);
    free(s);
}

void lmtp_wait_end(struct lmtp *s, enum lmtp_state next)
{
    s->state = next;
    line_session_wait_end(&s->ls);
}

/* ---- commands ---- */

typedef void cmd_handler(struct lmtp *s, struct smtp_command *cmd);

/* The extensions of RFC 2033 section 4.1's LHLO reply that dirmail offers;
 * MAIL takes SIZE= and BODY= (8BITMIME) and nothing else. */
static const unsigned parse_opts = SMTP_PARSE_LMTP | SMTP_PARSE_EXT_SIZE | SMTP_PARSE_EXT_8BITMIME;

static void cmd_lhlo(struct lmtp *s, struct smtp_command *cmd)
{
    lmtp_transaction_reset(s);
    snprintf(s->helo, sizeof s->helo, "%s", cmd->arg);
    /* RFC 2034 3: no enhanced code on the greeting reply's lines */
    lmtp_reply(s, 250, SMTP_ESC_NONE,
               "%s\nPIPELINING\nENHANCEDSTATUSCODES\n8BITMIME\nSIZE %zu\nCHUNKING", s->ss->hostname,
               s->ss->config->limits.message_size);
    s->state = ST_READY;
}

static void cmd_mail(struct lmtp *s, struct smtp_command *cmd)
{
    const struct smtp_params *p = &cmd->params;
    if (p->has_size && p->size > s->ss->config->limits.message_size) {
        lmtp_reply(s, 552, SMTP_ESC_MESSAGE_TOO_BIG, "Message size exceeds fixed maximum of %zu",
                   s->ss->config->limits.message_size);
        return;
    }
    if (address_render(&cmd->path, s->sender, sizeof s->sender) < 0) {
        lmtp_reply_fixed(s, smtp_reply_parse_error(SMTP_PARSE_SENDER_TOO_LONG));
        return;
    }
    s->has_sender = true;
    lmtp_reply(s, 250, SMTP_ESC_ADDRESS_OTHER, "Sender ok");
    s->state = ST_MAIL;
}

static void rcpt_answer_in(struct lmtp *s, const struct auth_response *resp)
{
    s->auth_request = 0;
    enum lmtp_state next = s->rcpt_count > 0 ? ST_RCPT : ST_MAIL;
    enum delivery_status status;
    const char *arg;
    if (!mda_recipient_check(resp->status, resp->recipient, resp->error, s->pending_addr, &status,
                             &arg)) {
        log_info("id=%s event=rcpt_refused client=%s rcpt=<%s> status=%s kind=%s", s->id,
                 s->ss->client_ip, s->pending_addr, auth_status_name(resp->status),
                 resp->recipient != NULL ? auth_kind_name(resp->recipient->kind) : "-");
        reply_status(s, status, arg);
        lmtp_wait_end(s, next);
        return;
    }
    const struct auth_recipient *entry = resp->recipient;
    struct lmtp_rcpt *more = realloc(s->rcpts, (s->rcpt_count + 1) * sizeof *more);
    if (more != NULL)
        s->rcpts = more;
    char *mailbox = entry->mailbox != NULL ? strdup(entry->mailbox) : NULL;
    const char *primary_src = entry->primary != NULL ? entry->primary : entry->matched;
    char *primary = primary_src != NULL ? strdup(primary_src) : NULL;
    char *sieve = entry->sieve != NULL ? strdup(entry->sieve) : NULL;
    if (more == NULL || (entry->mailbox != NULL && mailbox == NULL) ||
        (primary_src != NULL && primary == NULL) || (entry->sieve != NULL && sieve == NULL)) {
        free(mailbox);
        free(primary);
        free(sieve);
        lmtp_reply_fixed(s, smtp_reply_tempfail(SMTP_TEMPFAIL_MEMORY));
        lmtp_wait_end(s, next);
        return;
    }
    struct lmtp_rcpt *r = &s->rcpts[s->rcpt_count++];
    memset(r, 0, sizeof *r);
    snprintf(r->address, sizeof r->address, "%s", s->pending_addr);
    r->mailbox = mailbox;
    r->primary = primary;
    r->sieve = sieve;
    r->quota = entry->quota;
    lmtp_reply(s, 250, SMTP_ESC_DEST_VALID, "Recipient ok");
    lmtp_wait_end(s, ST_RCPT);
}

static void rcpt_answer(void *ctx, const struct auth_response *resp)
{
    struct lmtp *s = ctx;
    line_session_enter(&s->ls);
    rcpt_answer_in(s, resp);
    line_session_leave(&s->ls);
}

static void cmd_rcpt(struct lmtp *s, struct smtp_command *cmd)
{
    if (s->rcpt_count >= s->ss->config->limits.recipients) {
        lmtp_reply(s, 452, SMTP_ESC_TOO_MANY_RECIPIENTS, "Too many recipients");
        return;
    }
    const struct config_domains *dom = &s->ss->config->domains;
    int n;
    if (cmd->path.is_postmaster) /* RFC 5321 4.5.1: <Postmaster> without a domain */
        n = snprintf(s->pending_addr, sizeof s->pending_addr, "postmaster@%s",
                     dom->local_count > 0 ? dom->local[0] : s->ss->hostname);
    else
        n = address_render(&cmd->path, s->pending_addr, sizeof s->pending_addr);
    if (n < 0 || (size_t)n >= sizeof s->pending_addr) {
        lmtp_reply_fixed(s, smtp_reply_parse_error(SMTP_PARSE_RECIPIENT_TOO_LONG));
        return;
    }
    const char *args[] = {s->pending_addr};
    s->auth_request = auth_async_request(shared->async, AUTH_REQ_RESOLVE, args, 1, rcpt_answer, s);
    if (s->auth_request == 0) {
        reply_status(s, DELIVERY_STATUS_DIRECTORY_UNAVAILABLE, "auth process unreachable");
        return;
    }
    line_session_wait_begin(&s->ls);
}

static void cmd_rset(struct lmtp *s, struct smtp_command *cmd)
{
    (void)cmd;
    lmtp_transaction_reset(s);
    lmtp_reply(s, 250, SMTP_ESC_OTHER, "Ok");
}

static void cmd_noop(struct lmtp *s, struct smtp_command *cmd)
{
    (void)cmd;
    lmtp_reply(s, 250, SMTP_ESC_OTHER, "Ok");
}

static void cmd_quit(struct lmtp *s, struct smtp_command *cmd)
{
    (void)cmd;
    lmtp_transaction_reset(s);
    close_with(s, 221, SMTP_ESC_OTHER, "Bye");
}

/* ---- the command table ---- */

#define ANY_SESSION (S(ST_READY) | S(ST_MAIL) | S(ST_RCPT))
/* RFC 3030 2: between the chunks of one message only BDAT, RSET, NOOP and QUIT */
#define ANY_STATE (S(ST_GREETED) | ANY_SESSION | S(ST_BDAT_OPEN))

static const struct command {
    struct command_row row; /* where it is allowed; elsewhere 503 5.5.1 */
    cmd_handler *handler;
} commands[] = {
    {{SMTP_VERB_LHLO, S(ST_GREETED) | ANY_SESSION}, cmd_lhlo},
    {{SMTP_VERB_MAIL, S(ST_READY)}, cmd_mail},
    {{SMTP_VERB_RCPT, S(ST_MAIL) | S(ST_RCPT)}, cmd_rcpt},
    {{SMTP_VERB_DATA, S(ST_MAIL) | S(ST_RCPT)}, lmtp_cmd_data},
    /* reads its chunk even when refused (RFC 3030 2) */
    {{SMTP_VERB_BDAT, ANY_STATE}, lmtp_cmd_bdat},
    {{SMTP_VERB_RSET, ANY_STATE}, cmd_rset},
    {{SMTP_VERB_NOOP, ANY_STATE}, cmd_noop},
    {{SMTP_VERB_QUIT, ANY_STATE}, cmd_quit},
};

static void command_line(struct lmtp *s, const struct conn_line *line)
{
    struct smtp_command *cmd = &s->cmd;
    enum smtp_parse_result r = line->has_nul || line->bare_cr || line->bare_lf
                                   ? SMTP_PARSE_BAD_LINE
                                   : smtp_parse_line(line->data, line->len, parse_opts, cmd);
    if (r != SMTP_PARSE_OK) {
        lmtp_reply_fixed(s, smtp_reply_parse_error(r));
        return;
    }
    const void *found;
    switch (command_table_match(commands, sizeof commands / sizeof commands[0], sizeof commands[0],
                                cmd->verb, s->state, &found)) {
    case COMMAND_RUN:
        ((const struct command *)found)->handler(s, cmd);
        break;
    case COMMAND_NOT_NOW:
        lmtp_reply(s, 503, SMTP_ESC_INVALID_COMMAND,
                   s->state == ST_GREETED ? "Send LHLO first" : "Bad sequence of commands");
        break;
    case COMMAND_UNKNOWN:
        lmtp_reply_fixed(s, smtp_reply_parse_error(SMTP_PARSE_UNKNOWN_COMMAND));
        break;
    }
}

/* ---- the session's part in the line-session driver ---- */

static enum line_input session_input(void *ctx)
{
    const struct lmtp *s = ctx;
    return s->state == ST_BDAT ? LINE_INPUT_BYTES : LINE_INPUT_LINES;
}

static bool session_bytes(void *ctx)
{
    return lmtp_bdat_read(ctx);
}

static void session_line(void *ctx, enum conn_result r, const struct conn_line *line)
{
    struct lmtp *s = ctx;
    if (s->state == ST_DATA)
        lmtp_data_line(s, r, line);
    else if (r == CONN_TOO_LONG)
        lmtp_reply_fixed(s, smtp_reply_parse_error(SMTP_PARSE_TOO_LONG));
    else
        command_line(s, line);
}

static void session_too_many_errors(void *ctx)
{
    close_with(ctx, 421, SMTP_ESC_SECURITY_OTHER, "Too many errors, closing connection");
}

static void session_timeout(void *ctx)
{
    struct lmtp *s = ctx;
    /* while the deliveries run on what the client sent, no 421: the
     * session ends once they are done */
    if (s->ls.closing || s->ls.job_running) {
        line_session_end(&s->ls);
        return;
    }
    log_info("id=%s event=timeout client=%s reason=\"%s\"", s->id, s->ss->client_ip,
             conn_error(s->conn));
    close_with(s, 421, SMTP_ESC_BAD_CONNECTION, "Timeout, closing connection");
}

static const struct line_session_hooks session_hooks = {
    .input = session_input,
    .bytes = session_bytes,
    .line = session_line,
    .too_many_errors = session_too_many_errors,
    .timeout = session_timeout,
    .free = session_free,
};

/* say_and_close - a reply before any session exists (no memory, untrusted). */
static void say_and_close(struct service_session *ss, int code, enum smtp_esc esc, const char *text)
{
    char msg[SMTP_REPLY_LINE_MAX], line[SMTP_REPLY_LINE_MAX + 16];
    snprintf(msg, sizeof msg, "%s %s", ss->hostname, text);
    int n = smtp_reply_format(line, sizeof line, code, esc, msg);
    /* service_say_and_close adds the CRLF */
    if (n >= 2)
        line[n - 2] = '\0';
    service_say_and_close(ss, n >= 2 ? line : "421 4.3.0 Service temporarily unavailable");
}

void lmtp_session_start(struct service_session *ss)
{
    /* RFC 2033 has no authentication: the socket's mode or the network
     * decides who may hand over mail (lmtp trusted_networks, conf.h). RFC
     * 5321 3.1 lets a server refuse at the greeting with 554. */
    if (!ss->local_socket &&
        !network_list_contains(ss->service->trusted_networks, ss->service->trusted_network_count,
                               ss->client_ip)) {
        log_warning("event=lmtp_refused service=%s client=%s reason=untrusted", ss->service->name,
                    ss->client_ip);
        say_and_close(ss, 554, SMTP_ESC_NOT_AUTHORIZED,
                      "LMTP is not offered to this address (not in trusted_networks)");
        return;
    }
    if (shared == NULL)
        shared = sasl_shared_acquire(ss->loop, ss->config);
    struct lmtp *s = shared != NULL ? calloc(1, sizeof *s) : NULL;
    if (s == NULL) {
        say_and_close(ss, 421, SMTP_ESC_SYSTEM_OTHER, "Service temporarily unavailable");
        return;
    }
    s->ss = ss;
    s->shared = shared;
    s->conn = ss->conn;
    s->spool_fd = -1;
    s->state = ST_GREETED;
    snprintf(s->id, sizeof s->id, "L%llx%lx%04lx", (unsigned long long)time(NULL),
             (unsigned long)getpid(), ++session_counter & 0xffff);
    log_info("id=%s event=lmtp_session service=%s client=%s", s->id, ss->service->name,
             ss->client_ip);
    if (line_session_start(&s->ls, ss, &session_hooks, s, s->id, 0) < 0)
        return;
    line_session_enter(&s->ls);
    lmtp_reply(s, 220, SMTP_ESC_NONE, "%s LMTP dirmail", ss->hostname);
    line_session_flush(&s->ls);
    line_session_leave(&s->ls);
}
