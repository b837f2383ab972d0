/* reader/imap_session.c - see imap_session.h.
 *
 * One session is one struct imap with its RFC 3501 state and what it is busy
 * with. Input is read a line at a time and fed to the command parser
 * (imap_parse.h), literals octet by octet as the parser asks for them; a
 * command that must wait (a SASL step, the auth process's USER answer, a
 * FETCH streaming a large message) pauses input and reads on from what the
 * client pipelined when it is done. Login is imap_auth.c's. */
#include "config.h"

#include "reader/imap_session.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/sasl_server.h"
#include "lib/conn.h"
#include "lib/log.h"
#include "proto/command_table.h"
#include "proto/sasl_exchange.h"
#include "reader/imap_session_internal.h"
#include "reader/literal_feed.h"

void imap_session_shutdown(void)
{
    imap_auth_release();
}

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
    p->ls.errors++;
}

static void session_free(void *ctx)
{
    struct imap *p = ctx;
    imap_auth_cancel(p);
    imap_fetch_free(&p->fetch);
    imap_folder_deselect(p);
    if (p->root_fd >= 0)
        close(p->root_fd);
    imap_parser_free(&p->parser);
    session_sasl_free(&p->auth);
    sasl_session_free(&p->sasl);
    free(p->login);
    free(p->maildir);
    free(p);
}

struct service_session *imap_session_hand_over(struct imap *p)
{
    return line_session_hand_over(&p->ls);
}

void imap_end(struct imap *p)
{
    line_session_end(&p->ls);
}

/* close_with - an untagged BYE (already queued or text), then close. */
void imap_close_with(struct imap *p, const char *bye)
{
    if (bye != NULL)
        imap_untagged(p, "BYE %s", bye);
    line_session_close(&p->ls);
}

void imap_resume(struct imap *p)
{
    p->busy = IMAP_IDLE_INPUT;
    line_session_wait_end(&p->ls);
}

/* ---- commands in any state ---- */

static void cmd_capability(struct imap *p, const struct imap_command *cmd)
{
    (void)cmd;
    char caps[512];
    imap_capabilities(p, caps, sizeof caps);
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
    imap_close_with(p, NULL);
}

/* cmd_id - RFC 2971: who we are, nothing more; the client's list is not kept. */
static void cmd_id(struct imap *p, const struct imap_command *cmd)
{
    (void)cmd;
    imap_untagged(p, "ID (\"name\" \"dirmail\")");
    imap_tagged(p, "OK", "ID completed");
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
    imap_cmd_copy(p, cmd, 0, false, strcmp(cmd->name, "MOVE") == 0);
}

static void cmd_search(struct imap *p, const struct imap_command *cmd)
{
    imap_cmd_search(p, cmd, 0, false);
}

static void cmd_sort(struct imap *p, const struct imap_command *cmd)
{
    imap_cmd_sort(p, cmd, 0, false);
}

static void cmd_thread(struct imap *p, const struct imap_command *cmd)
{
    imap_cmd_thread(p, cmd, 0, false);
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
    else if (sub != NULL && imap_arg_is(sub, "SORT"))
        imap_cmd_sort(p, cmd, 1, true);
    else if (sub != NULL && imap_arg_is(sub, "THREAD"))
        imap_cmd_thread(p, cmd, 1, true);
    else if (sub != NULL && (imap_arg_is(sub, "COPY") || imap_arg_is(sub, "MOVE")))
        imap_cmd_copy(p, cmd, 1, true, imap_arg_is(sub, "MOVE"));
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
    V_SUBSCRIBE,
    V_UNSUBSCRIBE,
    V_RENAME,
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
    V_SORT,
    V_THREAD,
    V_COPY,
    V_APPEND,
    V_UID,
    V_IDLE,
    V_MOVE,
    V_GETQUOTA,
    V_GETQUOTAROOT,
    V_SETQUOTA,
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
    {{V_STARTTLS, S(IMAP_NOT_AUTHENTICATED)}, "STARTTLS", imap_cmd_starttls},
    {{V_AUTHENTICATE, S(IMAP_NOT_AUTHENTICATED)}, "AUTHENTICATE", imap_cmd_authenticate},
    {{V_LOGIN, S(IMAP_NOT_AUTHENTICATED)}, "LOGIN", imap_cmd_login},
    {{V_SELECT, AUTHED}, "SELECT", imap_cmd_select},
    {{V_EXAMINE, AUTHED}, "EXAMINE", imap_cmd_select},
    {{V_CREATE, AUTHED}, "CREATE", imap_cmd_create},
    {{V_DELETE, AUTHED}, "DELETE", imap_cmd_delete},
    {{V_LIST, AUTHED}, "LIST", imap_cmd_list},
    {{V_LSUB, AUTHED}, "LSUB", imap_cmd_lsub},
    {{V_SUBSCRIBE, AUTHED}, "SUBSCRIBE", imap_cmd_subscribe},
    {{V_UNSUBSCRIBE, AUTHED}, "UNSUBSCRIBE", imap_cmd_subscribe},
    {{V_RENAME, AUTHED}, "RENAME", imap_cmd_rename},
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
    {{V_SORT, S(IMAP_SELECTED)}, "SORT", cmd_sort},
    {{V_THREAD, S(IMAP_SELECTED)}, "THREAD", cmd_thread},
    {{V_COPY, S(IMAP_SELECTED)}, "COPY", cmd_copy},
    {{V_APPEND, AUTHED}, "APPEND", imap_cmd_append},
    {{V_UID, S(IMAP_SELECTED)}, "UID", cmd_uid},
    {{V_IDLE, AUTHED}, "IDLE", imap_cmd_idle},
    {{V_MOVE, S(IMAP_SELECTED)}, "MOVE", cmd_copy},
    {{V_GETQUOTA, AUTHED}, "GETQUOTA", imap_cmd_getquota},
    {{V_GETQUOTAROOT, AUTHED}, "GETQUOTAROOT", imap_cmd_getquotaroot},
    {{V_SETQUOTA, AUTHED}, "SETQUOTA", imap_cmd_setquota},
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
    switch (
        command_table_match(commands, COMMAND_COUNT, sizeof commands[0], verb, p->state, &found)) {
    case COMMAND_RUN:
        /* RFC 3501 7.4.1, 5.5: what changed is told before each command,
         * but no EXPUNGE before one that names messages by sequence number
         * (the client's numbers are those it knew when it sent it) */
        if (p->state == IMAP_SELECTED)
            imap_folder_update(p, verb != V_FETCH && verb != V_STORE && verb != V_SEARCH &&
                                      verb != V_SORT && verb != V_THREAD && verb != V_COPY &&
                                      verb != V_MOVE);
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
static bool literal_input(void *ctx)
{
    struct imap *p = ctx;
    return literal_feed_session(p->parser, &p->ls);
}

static void command_line(struct imap *p, const struct conn_line *line)
{
    if (line->bare_cr) {
        imap_parser_reset(p->parser);
        conn_printf(p->conn, "* BAD Bare CR in command\r\n");
        p->ls.errors++;
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
        imap_close_with(p, "[TOOBIG] Literal too big to read");
        break;
    }
}

/* ---- the session's part in the line-session driver ---- */

static enum line_input session_input(void *ctx)
{
    const struct imap *p = ctx;
    if (p->busy == IMAP_SENDING)
        return LINE_INPUT_NONE;
    return imap_parser_literal_left(p->parser) > 0 && !p->auth.reading_response ? LINE_INPUT_BYTES
                                                                                : LINE_INPUT_LINES;
}

static void session_line(void *ctx, enum conn_result r, const struct conn_line *line)
{
    struct imap *p = ctx;
    if (p->auth.reading_response) {
        session_sasl_line(&p->auth, r, line);
    } else if (r == CONN_TOO_LONG) {
        imap_parser_reset(p->parser);
        conn_printf(p->conn, "* BAD Command line too long\r\n");
        p->ls.errors++;
    } else if (p->busy == IMAP_IDLING) {
        imap_idle_line(p, line);
    } else {
        command_line(p, line);
    }
}

static void session_too_many_errors(void *ctx)
{
    imap_close_with(ctx, "Too many errors");
}

static void session_timeout(void *ctx)
{
    struct imap *p = ctx;
    log_info("event=timeout client=%s reason=\"%s\"", p->ss->client_ip, conn_error(p->conn));
    if (!p->ls.ending) {
        /* RFC 3501 7.1.5: BYE before closing an idle connection */
        imap_untagged(p, "BYE Autologout; idle for too long");
        conn_flush(p->conn);
    }
    imap_end(p);
}

static void session_flushed(void *ctx)
{
    struct imap *p = ctx;
    if (p->busy == IMAP_SENDING) {
        conn_deadline_restart(p->conn); /* the client is reading: not idle */
        if (imap_fetch_more(p))
            imap_resume(p);
    }
}

static const struct line_session_hooks session_hooks = {
    .input = session_input,
    .bytes = literal_input,
    .line = session_line,
    .too_many_errors = session_too_many_errors,
    .timeout = session_timeout,
    .flushed = session_flushed,
    .free = session_free,
};

void imap_session_start(struct service_session *ss)
{
    struct threadpool *pool = imap_auth_acquire(ss);
    struct imap *p = pool != NULL ? calloc(1, sizeof *p) : NULL;
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
        p->ls.ss = ss;
        if (session_sasl_init(&p->auth, &p->ls, &imap_sasl_proto, pool, IMAP_LINE_MAX) < 0 ||
            p->parser == NULL) {
            imap_parser_free(&p->parser);
            session_sasl_free(&p->auth);
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
    if (line_session_start(&p->ls, ss, &session_hooks, p, NULL, IMAP_LINE_MAX) < 0)
        return;
    line_session_enter(&p->ls);
    imap_sasl_renew(p);
    char caps[512];
    imap_capabilities(p, caps, sizeof caps);
    imap_untagged(p, "OK [CAPABILITY %s] dirmail IMAP server ready", caps);
    conn_deadline_restart(p->conn);
    line_session_flush(&p->ls);
    line_session_leave(&p->ls);
}
