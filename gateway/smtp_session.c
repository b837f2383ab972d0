/* gateway/smtp_session.c - see smtp_session.h.
 *
 * One session is one struct smtp with an explicit state. Input is read line
 * by line while the state takes commands; a command that must wait (a
 * directory answer, a SASL step, the queue's fsync) moves the session to
 * ST_WAIT with input paused, and its completion writes the reply, resumes
 * input and reads on from what is already buffered (PIPELINING, RFC 2920:
 * replies keep the order of the commands because only one waits at a time).
 * Replies are flushed whenever no complete command is left in the buffer. */
#include "config.h"

#include "gateway/smtp_session.h"

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
#include "proto/received.h"
#include "proto/sasl_exchange.h"
#include "proto/smtp_data.h"
#include "proto/smtp_parse.h"
#include "gateway/smtp_policy.h"
#include "proto/smtp_reply.h"
#include "lib/conn.h"
#include "lib/event.h"
#include "lib/log.h"
#include "lib/threadpool.h"
#include "lib/clock.h"

/* The line reader's limit while DATA is read: far above the text line limit
 * so that a long line is still seen whole, with how it ended. */
#define DATA_LINE_LIMIT 65536
/* Failed AUTH attempts before the session ends; each waits one second more. */
#define AUTH_FAILURES_MAX 3
#define AUTH_DELAY_STEP_MS 1000
#define AUTH_TIMEOUT_MS 10000
/* Commits spend their time waiting in fsync, not on the CPU: the more of
 * them in flight, the more the journal merges into one commit and the more
 * sessions share one fsync of the spool directory (queue.h, group commit). */
#define POOL_THREADS 16

/* ---- what every session of a process shares ---- */

struct smtp_server {
    struct threadpool *pool;
    struct queue *queue;
    struct auth_async *async;
    struct auth_client *client; /* blocking: SASL's password check on pool threads */
    bool sasl_ready;
};

static struct smtp_server *server;

static enum sasl_check_result sasl_check(void *ctx, const char *login, const char *password,
                                         const char *service)
{
    struct smtp_server *srv = ctx;
    struct auth_user *u = NULL;
    enum auth_status st = auth_client_authenticate(srv->client, login, password, service, &u);
    auth_user_free(&u);
    if (st == AUTH_OK)
        return SASL_CHECK_OK;
    return st == AUTH_FAILED ? SASL_CHECK_FAILED : SASL_CHECK_TEMPFAIL;
}

/* server_get - set up the shared parts on first use (SASL before any thread). */
static struct smtp_server *server_get(const struct service_session *ss)
{
    if (server != NULL)
        return server;
    const struct config *conf = ss->config;
    char *auth_path = config_state_path(conf, CONFIG_STATE_AUTH_SOCKET);
    struct smtp_server *srv = auth_path != NULL ? calloc(1, sizeof *srv) : NULL;
    if (srv == NULL) {
        free(auth_path);
        return NULL;
    }
    srv->async = auth_async_new(ss->loop, auth_path, AUTH_TIMEOUT_MS);
    srv->client = auth_client_new(auth_path, AUTH_TIMEOUT_MS);
    free(auth_path);
    if (srv->async == NULL || srv->client == NULL)
        goto fail;
    const char *serr = NULL;
    if (sasl_glue_init(&conf->sasl, sasl_check, srv, &serr) == 0)
        srv->sasl_ready = true;
    else
        log_error("event=sasl_init_failed error=\"%s\"", serr != NULL ? serr : "?");
    char *spool_path = config_state_path(conf, CONFIG_STATE_QUEUE);
    char *qerr = NULL;
    if (spool_path == NULL || queue_open(spool_path, &srv->queue, &qerr) < 0) {
        log_error("event=queue_open_failed error=\"%s\"", qerr != NULL ? qerr : "out of memory");
        free(qerr);
        free(spool_path);
        goto fail;
    }
    free(spool_path);
    const char *perr = NULL;
    srv->pool = threadpool_new(ss->loop, POOL_THREADS, &perr);
    if (srv->pool == NULL) {
        log_error("event=threadpool_failed error=\"%s\"", perr);
        goto fail;
    }
    server = srv;
    return srv;
fail:
    if (srv->sasl_ready)
        sasl_glue_done();
    queue_close(&srv->queue);
    auth_async_free(&srv->async);
    auth_client_free(&srv->client);
    free(srv);
    return NULL;
}

void smtp_session_shutdown(void)
{
    struct smtp_server *srv = server;
    if (srv == NULL)
        return;
    server = NULL;
    /* the pool first: its threads call SASL's check, which uses client */
    threadpool_free(&srv->pool);
    if (srv->sasl_ready)
        sasl_glue_done();
    queue_close(&srv->queue);
    auth_async_free(&srv->async);
    auth_client_free(&srv->client);
    free(srv);
}

/* ---- the session ---- */

enum smtp_state {
    ST_PREGREET, /* connected, banner not sent yet */
    ST_GREETED,  /* banner sent, no EHLO/HELO */
    ST_READY,    /* after EHLO/HELO, no transaction */
    ST_MAIL,     /* MAIL accepted, no recipient yet */
    ST_RCPT,     /* at least one recipient */
    ST_DATA,     /* reading DATA lines */
    ST_BDAT,     /* reading a BDAT chunk (s->msg: the message it adds to, if any) */
    ST_BDAT_OPEN, /* a BDAT chunk (not LAST) was taken: only BDAT, RSET, NOOP, QUIT */
    ST_AUTH,     /* reading a SASL response line */
    ST_WAIT,     /* a directory answer, SASL step or commit is outstanding */
    ST_CLOSING,  /* last reply queued: close once it is out */
};

#define S(st) (1u << (st))

/* For logs: where a session stood when something happened to it. */
static const char *state_name(enum smtp_state st)
{
    static const char *const names[] = {
        [ST_PREGREET] = "pregreet", [ST_GREETED] = "greeted",     [ST_READY] = "ready",
        [ST_MAIL] = "mail",         [ST_RCPT] = "rcpt",           [ST_DATA] = "data",
        [ST_BDAT] = "bdat",         [ST_BDAT_OPEN] = "bdat-open", [ST_AUTH] = "auth",
        [ST_WAIT] = "waiting",      [ST_CLOSING] = "closing",
    };
    return (size_t)st < sizeof names / sizeof names[0] && names[st] != NULL ? names[st] : "?";
}

struct smtp {
    struct service_session *ss;
    struct smtp_server *srv;
    struct conn *conn;
    enum smtp_state state;
    struct event_timer *timer; /* pregreet */
    bool tls;                  /* TLS active (STARTTLS done or implicit) */
    bool esmtp;
    bool trusted;
    char helo[SMTP_PARSE_LINE_MAX + 1];
    char *auth_user;
    struct sasl_session *sasl;
    struct sasl_exchange *sx; /* AUTH: base64, the SASL job, failure delays and limits */
    unsigned errors;
    bool job_running;      /* a pool job holds this session: it must not be freed */
    bool ending;           /* session_end was called: free it when nothing runs on it */
    unsigned depth;        /* callbacks of this session on the stack */
    uint32_t auth_request; /* outstanding auth_async request id, 0 = none */

    /* the transaction */
    struct queue_envelope *env;
    bool tx_smtputf8;
    uint64_t tx_declared_size;
    unsigned rcpt_rejected;
    struct queue_msg *msg;
    struct smtp_data data;
    char *date_field; /* the submission fixups (malloc'd), for s->data */
    char *msgid_field;
    uint64_t bdat_left;
    bool bdat_last;
    const struct smtp_reply *bdat_refusal; /* chunk read only to be discarded */

    /* the command that waits */
    struct smtp_command cmd;
    char pending_addr[ADDRESS_RENDER_MAX + 1];

    /* pool job results */
    int commit_result;
    char *commit_error;
};

static void session_end(struct smtp *s);
static void process_input(struct smtp *s);
static void transaction_reset(struct smtp *s);

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
static void reply(struct smtp *s, int code, enum smtp_esc esc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void reply(struct smtp *s, int code, enum smtp_esc esc, const char *fmt, ...)
{
    char text[SMTP_REPLY_LINE_MAX * 16];
    char out[sizeof text + 256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof text ||
        (n = smtp_reply_format(out, sizeof out, code, esc, text)) < 0)
        n = smtp_reply_format(out, sizeof out, 451, SMTP_ESC_SYSTEM_OTHER, "Internal error");
    conn_write(s->conn, out, (size_t)n);
    if (client_error(code, esc))
        s->errors++;
}

static void reply_fixed(struct smtp *s, const struct smtp_reply *r)
{
    reply(s, r->code, r->esc, "%s", r->text);
}

/* close_with - last words, then close once they are out. */
static void close_with(struct smtp *s, int code, enum smtp_esc esc, const char *text)
{
    reply(s, code, esc, "%s %s", s->ss->hostname, text);
    s->state = ST_CLOSING;
    conn_set_input_paused(s->conn, true);
    enum conn_result r = conn_flush(s->conn);
    if (r != CONN_AGAIN)
        session_end(s);
}

static void flush(struct smtp *s)
{
    enum conn_result r = conn_flush(s->conn);
    if (r == CONN_ERROR)
        session_end(s);
}

static void session_free(struct smtp *s)
{
    event_timer_remove(&s->timer);
    if (s->auth_request != 0 && s->srv != NULL)
        auth_async_cancel(s->srv->async, s->auth_request);
    transaction_reset(s);
    sasl_exchange_free(&s->sx);
    sasl_session_free(&s->sasl);
    free(s->auth_user);
    free(s->commit_error);
    free(s);
}

/* really_end - free everything and hand the session back. */
static void really_end(struct smtp *s)
{
    struct service_session *ss = s->ss;
    log_info("event=disconnect service=%s client=%s", ss->service->name, ss->client_ip);
    session_free(s);
    ss->protocol = NULL;
    conn_free(&ss->conn);
    ss->finished(ss);
}

/* held - a pool job or the SASL exchange (its job or its delay) still holds
 * the session: freeing it now would leave them a dangling pointer. */
static bool held(const struct smtp *s)
{
    return s->job_running || sasl_exchange_busy(s->sx);
}

/* session_end - end the session as soon as no callback of it is on the stack
 * and nothing holds it; callers return right after. */
static void session_end(struct smtp *s)
{
    if (!s->ending) {
        s->ending = true;
        s->state = ST_CLOSING;
        conn_set_input_paused(s->conn, true);
    }
    if (s->depth == 0 && !held(s))
        really_end(s);
}

/* enter / leave - around every entry from the loop: session_end inside only
 * marks the session, and leave frees it once the stack is clear. */
static void enter(struct smtp *s)
{
    s->depth++;
}

static void leave(struct smtp *s)
{
    if (--s->depth == 0 && s->ending && !held(s))
        really_end(s);
}

static void transaction_reset(struct smtp *s)
{
    queue_msg_abort(&s->msg);
    free(s->date_field);
    s->date_field = NULL;
    free(s->msgid_field);
    s->msgid_field = NULL;
    queue_envelope_free(&s->env);
    s->tx_smtputf8 = false;
    s->tx_declared_size = 0;
    s->bdat_left = 0;
    s->bdat_refusal = NULL;
    if (s->state == ST_MAIL || s->state == ST_RCPT || s->state == ST_DATA || s->state == ST_BDAT ||
        s->state == ST_BDAT_OPEN)
        s->state = ST_READY;
}

/* wait_begin - a command waits: no more input until it is answered. */
static void wait_begin(struct smtp *s)
{
    s->state = ST_WAIT;
    conn_set_input_paused(s->conn, true);
    flush(s);
}

/* wait_end - the answer was queued: go on with what the client pipelined. */
static void wait_end(struct smtp *s, enum smtp_state next)
{
    s->state = next;
    conn_set_input_paused(s->conn, false);
    process_input(s);
}

static bool submission(const struct smtp *s)
{
    return s->ss->service->type != SERVICE_SMTP;
}

static bool auth_offered(struct smtp *s)
{
    if (!s->srv->sasl_ready || s->sasl == NULL || s->auth_user != NULL || !s->tls)
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
    if (!s->srv->sasl_ready)
        return;
    char local[96], remote[96];
    snprintf(local, sizeof local, "%s;%u", conn_local_ip(s->conn), conn_local_port(s->conn));
    snprintf(remote, sizeof remote, "%s;%u", s->ss->client_ip, s->ss->client_port);
    const char *err = NULL;
    /* The negotiated cipher's strength: SASL refuses mechanisms or
     * authzids that ask for more (Cyrus's minssf/maxssf). */
    s->sasl = sasl_session_new(submission(s) ? "submission" : "smtp", s->ss->hostname, local,
                               remote, s->tls, s->tls ? (unsigned)conn_tls_bits(s->conn) : 0, &err);
    if (s->sasl == NULL)
        log_error("event=sasl_session_failed client=%s error=\"%s\"", s->ss->client_ip,
                  err != NULL ? err : "?");
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
        reply(s, 250, SMTP_ESC_NONE, "%s", s->ss->hostname);
        return;
    }
    char text[1024];
    int n = snprintf(text, sizeof text,
                     "%s\nPIPELINING\nSIZE %zu\n8BITMIME\nENHANCEDSTATUSCODES\nSMTPUTF8\nDSN\n"
                     "CHUNKING",
                     s->ss->hostname, s->ss->config->limits.message_size);
    if (n > 0 && (size_t)n < sizeof text && s->ss->tls_ctx != NULL && !s->tls)
        n += snprintf(text + n, sizeof text - (size_t)n, "\nSTARTTLS");
    if (n > 0 && (size_t)n < sizeof text && auth_offered(s))
        n += snprintf(text + n, sizeof text - (size_t)n, "\nAUTH %s",
                      sasl_session_mechanisms(s->sasl));
    reply(s, 250, SMTP_ESC_NONE, "%s", text);
}

/* sender_answer - SENDERS came back for MAIL by an authenticated user. */
static void sender_answer_in(struct smtp *s, const struct auth_response *resp)
{
    s->auth_request = 0;
    enum smtp_sender_decision d = smtp_policy_sender(resp->status, &resp->senders, s->pending_addr);
    reply_fixed(s, smtp_policy_sender_reply(d));
    if (d != SMTP_SENDER_OK) {
        log_info("event=sender_refused client=%s user=%s sender=<%s> status=%s", s->ss->client_ip,
                 s->auth_user, s->pending_addr, auth_status_name(resp->status));
        transaction_reset(s);
        wait_end(s, ST_READY);
        return;
    }
    wait_end(s, ST_MAIL);
}

static void sender_answer(void *ctx, const struct auth_response *resp)
{
    struct smtp *s = ctx;
    enter(s);
    sender_answer_in(s, resp);
    leave(s);
}

/* What spool_room found. */
enum room {
    ROOM_OK,
    ROOM_LOW,     /* below queue.min_free: 452 4.3.1 */
    ROOM_UNKNOWN, /* the free space could not be read: 451 4.3.0 */
};

/* spool_room - is there room on the spool's file system (queue.min_free,
 * issue 10 section 7)? OK when the free space, plus credit (what this
 * message already took of it), holds need octets with queue.min_free left
 * over, and also holds fit octets outright; a min_free of 0 is always OK.
 * *free_r is the free space read (0 when not read). */
static enum room spool_room(struct smtp *s, uint64_t need, uint64_t credit, uint64_t fit,
                            uint64_t *free_r)
{
    uint64_t min = s->ss->config->queue.min_free;
    char *err = NULL;
    *free_r = 0;
    if (min == 0)
        return ROOM_OK;
    if (queue_free_space(s->srv->queue, free_r, &err) < 0) {
        log_error("event=queue_free_space_failed client=%s error=\"%s\"", s->ss->client_ip,
                  err != NULL ? err : "?");
        free(err);
        return ROOM_UNKNOWN;
    }
    uint64_t have = *free_r > UINT64_MAX - credit ? UINT64_MAX : *free_r + credit;
    if (have < min || have - min < need || *free_r < fit)
        return ROOM_LOW;
    return ROOM_OK;
}

/* room_reply - the refusal for a spool_room result other than ROOM_OK. */
static const struct smtp_reply *room_reply(enum room room)
{
    return smtp_reply_storage(room == ROOM_LOW ? SMTP_STORAGE_FULL : SMTP_STORAGE_UNKNOWN);
}

static void cmd_mail(struct smtp *s, struct smtp_command *cmd)
{
    if (submission(s) && !s->tls) {
        reply(s, 530, SMTP_ESC_SECURITY_OTHER, "Must issue a STARTTLS command first");
        return;
    }
    if (submission(s) && s->auth_user == NULL) {
        reply(s, 530, SMTP_ESC_SECURITY_OTHER, "Authentication required");
        return;
    }
    const struct smtp_params *p = &cmd->params;
    if (p->has_size && p->size > s->ss->config->limits.message_size) {
        reply(s, 552, SMTP_ESC_MESSAGE_TOO_BIG, "Message size exceeds fixed maximum of %zu",
              s->ss->config->limits.message_size);
        return;
    }
    /* Before the disk fills, not in the middle of a message (Postfix's
     * queue_minfree); a declared SIZE must fit above the reserve too (RFC
     * 1870 6.1: 452). */
    uint64_t free_bytes = 0;
    enum room room = spool_room(s, p->has_size ? p->size : 0, 0, 0, &free_bytes);
    if (room != ROOM_OK) {
        if (room == ROOM_LOW)
            log_info("event=mail_refused reason=low_disk free=%llu min=%llu size=%llu client=%s",
                     (unsigned long long)free_bytes,
                     (unsigned long long)s->ss->config->queue.min_free,
                     (unsigned long long)(p->has_size ? p->size : 0), s->ss->client_ip);
        reply_fixed(s, room_reply(room));
        return;
    }
    char addr[ADDRESS_RENDER_MAX + 1];
    if (address_render(&cmd->path, addr, sizeof addr) < 0) {
        reply_fixed(s, smtp_reply_parse_error(SMTP_PARSE_SENDER_TOO_LONG));
        return;
    }
    s->env = queue_envelope_new();
    if (s->env == NULL || queue_envelope_set(&s->env->sender, addr) < 0 ||
        (p->has_envid && queue_envelope_set(&s->env->envid, p->envid) < 0)) {
        reply_fixed(s, smtp_reply_tempfail(SMTP_TEMPFAIL_MEMORY));
        transaction_reset(s);
        return;
    }
    s->env->ret = p->ret == SMTP_RET_FULL   ? QUEUE_RET_FULL
                  : p->ret == SMTP_RET_HDRS ? QUEUE_RET_HDRS
                                            : QUEUE_RET_UNSET;
    s->tx_smtputf8 = p->smtputf8;
    s->tx_declared_size = p->has_size ? p->size : 0;
    s->rcpt_rejected = 0;
    if (s->auth_user != NULL && s->ss->config->sasl.sender_login_check) {
        snprintf(s->pending_addr, sizeof s->pending_addr, "%s", addr);
        const char *args[] = {s->auth_user};
        s->auth_request =
            auth_async_request(s->srv->async, AUTH_REQ_SENDERS, args, 1, sender_answer, s);
        if (s->auth_request != 0) {
            wait_begin(s);
            return;
        }
        reply_fixed(s, smtp_policy_sender_reply(SMTP_SENDER_TEMPFAIL));
        transaction_reset(s);
        return;
    }
    reply(s, 250, SMTP_ESC_ADDRESS_OTHER, "Sender ok");
    s->state = ST_MAIL;
}

/* rcpt_answer - RESOLVE came back: the policy table decides. */
static void rcpt_answer_in(struct smtp *s, const struct auth_response *resp)
{
    s->auth_request = 0;
    enum smtp_rcpt_decision d =
        smtp_policy_rcpt(resp->status, resp->recipient, s->auth_user != NULL || s->trusted);
    enum smtp_state next = s->env->rcpt_count > 0 ? ST_RCPT : ST_MAIL;
    if (d == SMTP_RCPT_ACCEPT) {
        char orcpt[SMTP_ORCPT_MAX * 2 + 2];
        const struct smtp_params *p = &s->cmd.params;
        if (p->has_orcpt)
            snprintf(orcpt, sizeof orcpt, "%s;%s", p->orcpt_type, p->orcpt);
        char *err = NULL;
        if (queue_envelope_add_recipient(s->env, s->pending_addr, p->notify,
                                         p->has_orcpt ? orcpt : NULL, &err) < 0) {
            reply(s, 452, SMTP_ESC_TOO_MANY_RECIPIENTS, "%s", err != NULL ? err : "Out of memory");
            free(err);
            wait_end(s, next);
            return;
        }
        next = ST_RCPT;
    } else {
        s->rcpt_rejected++;
        log_info("event=rcpt_refused client=%s rcpt=<%s> decision=%d status=%s kind=%s",
                 s->ss->client_ip, s->pending_addr, (int)d, auth_status_name(resp->status),
                 resp->recipient != NULL ? auth_kind_name(resp->recipient->kind) : "-");
    }
    reply_fixed(s, smtp_policy_rcpt_reply(d));
    wait_end(s, next);
}

static void rcpt_answer(void *ctx, const struct auth_response *resp)
{
    struct smtp *s = ctx;
    enter(s);
    rcpt_answer_in(s, resp);
    leave(s);
}

static void cmd_rcpt(struct smtp *s, struct smtp_command *cmd)
{
    if (s->env->rcpt_count >= s->ss->config->limits.recipients) {
        reply(s, 452, SMTP_ESC_TOO_MANY_RECIPIENTS, "Too many recipients");
        return;
    }
    const struct address *a = &cmd->path;
    const struct config_domains *dom = &s->ss->config->domains;
    int n;
    if (a->is_postmaster) /* RFC 5321 4.5.1: <Postmaster> without a domain */
        n = snprintf(s->pending_addr, sizeof s->pending_addr, "postmaster@%s",
                     dom->local_count > 0 ? dom->local[0] : s->ss->hostname);
    else
        n = address_render(a, s->pending_addr, sizeof s->pending_addr);
    if (n < 0 || (size_t)n >= sizeof s->pending_addr) {
        reply_fixed(s, smtp_reply_parse_error(SMTP_PARSE_RECIPIENT_TOO_LONG));
        return;
    }
    const char *args[] = {s->pending_addr};
    s->auth_request = auth_async_request(s->srv->async, AUTH_REQ_RESOLVE, args, 1, rcpt_answer, s);
    if (s->auth_request == 0) {
        reply_fixed(s, smtp_policy_rcpt_reply(SMTP_RCPT_TEMPFAIL));
        return;
    }
    wait_begin(s);
}

static int data_write(void *ctx, const void *data, size_t len)
{
    struct smtp *s = ctx;
    char *err = NULL;
    if (queue_msg_write(s->msg, data, len, &err) < 0) {
        log_error("event=queue_write_failed client=%s error=\"%s\"", s->ss->client_ip,
                  err != NULL ? err : "?");
        free(err);
        return -1;
    }
    return 0;
}

/* message_begin - open the queue file and write the trace field; on
 * submission, prepare the fields to add when missing (RFC 6409 8.2, 8.3). */
static int message_begin(struct smtp *s)
{
    char *err = NULL;
    s->msg = queue_msg_begin(s->srv->queue, &err);
    if (s->msg == NULL) {
        log_error("event=queue_begin_failed client=%s error=\"%s\"", s->ss->client_ip,
                  err != NULL ? err : "?");
        free(err);
        return -1;
    }
    time_t now = time(NULL);
    struct smtp_data_fixups fix = {NULL, NULL};
    if (submission(s)) {
        /* Sized from the host name (up to 253 octets): a fixed buffer here
         * once cut the Message-ID short of its CRLF, so that it swallowed
         * the empty line ending the header section. */
        free(s->date_field);
        free(s->msgid_field);
        s->date_field = smtp_data_date_field(now);
        s->msgid_field = smtp_data_message_id_field(queue_msg_id(s->msg), s->ss->hostname);
        if (s->date_field == NULL || s->msgid_field == NULL) {
            log_error("event=fixup_failed client=%s error=\"cannot build Date or Message-ID\"",
                      s->ss->client_ip);
            queue_msg_abort(&s->msg);
            return -1;
        }
        fix.date = s->date_field;
        fix.message_id = s->msgid_field;
    }
    smtp_data_init(&s->data, s->ss->config->limits.message_size,
                   s->ss->config->limits.text_line_length, &fix, data_write, s);
    struct content_limits content;
    content_limits_from_config(&content, &s->ss->config->limits);
    smtp_data_content_limits(&s->data, &content);
    struct received_info info = {
        .helo = s->helo,
        .client_ip = s->ss->client_ip,
        .hostname = s->ss->hostname,
        .esmtp = s->esmtp,
        .tls_version = s->tls ? conn_tls_version(s->conn) : NULL,
        .tls_cipher = s->tls ? conn_tls_cipher(s->conn) : NULL,
        .authenticated = s->auth_user != NULL,
        .auth_user = s->ss->config->sasl.authenticated_header ? s->auth_user : NULL,
        .queue_id = queue_msg_id(s->msg),
        .for_rcpt = s->env->rcpt_count == 1 ? s->env->rcpts[0].address : NULL,
        .when = now,
    };
    size_t len = 0;
    char *field = received_format(&info, &len);
    if (field == NULL) {
        /* A HELO word or address too long for any header line (RFC 5322
         * 2.1.1: 998): the trace field goes without them, never cut short. */
        info.for_rcpt = NULL;
        info.helo = NULL;
        field = received_format(&info, &len);
    }
    int r = field != NULL ? data_write(s, field, len) : -1;
    free(field);
    if (r < 0) {
        queue_msg_abort(&s->msg);
        return -1;
    }
    return 0;
}

static void cmd_data(struct smtp *s, struct smtp_command *cmd)
{
    (void)cmd;
    if (s->state == ST_MAIL) {
        reply(s, 554, SMTP_ESC_INVALID_COMMAND, "No valid recipients");
        return;
    }
    if (message_begin(s) < 0) {
        reply_fixed(s, smtp_reply_tempfail(SMTP_TEMPFAIL_QUEUE));
        return;
    }
    reply(s, 354, SMTP_ESC_NONE, "End data with <CR><LF>.<CR><LF>");
    conn_set_line_limit(s->conn, DATA_LINE_LIMIT);
    /* From the 354 to the dot: data_timeout with its minimum rate, not the
     * per-line idle deadline (a long message is many lines). */
    conn_transfer_begin(s->conn);
    s->state = ST_DATA;
}

/* ---- commit: the fsync on a pool thread ---- */

static void commit_work(void *arg)
{
    struct smtp *s = arg;
    /* No lock: the pool threads stage in parallel (their file fsyncs merge
     * in the journal) and queue_sync shares one directory fsync among every
     * commit that finished its files meanwhile (group commit, queue.h). */
    s->commit_result = queue_msg_commit(&s->msg, s->env, &s->commit_error);
}

static void commit_done(void *arg)
{
    struct smtp *s = arg;
    enter(s);
    s->job_running = false;
    if (s->commit_result == 0) {
        log_info("event=queued id=%s client=%s sender=<%s> rcpts=%zu size=%llu", s->env->id,
                 s->ss->client_ip, s->env->sender, s->env->rcpt_count,
                 (unsigned long long)s->env->size);
        reply(s, 250, SMTP_ESC_OTHER, "Ok: queued as %s", s->env->id);
    } else {
        log_error("event=queue_commit_failed client=%s error=\"%s\"", s->ss->client_ip,
                  s->commit_error != NULL ? s->commit_error : "?");
        reply_fixed(s, smtp_reply_tempfail(SMTP_TEMPFAIL_QUEUE));
    }
    free(s->commit_error);
    s->commit_error = NULL;
    if (!s->ending) {
        s->state = ST_READY;
        transaction_reset(s);
        wait_end(s, ST_READY);
    }
    leave(s);
}

/* message_end - the message is complete: refuse it, or commit it. */
static void message_end(struct smtp *s)
{
    conn_set_line_limit(s->conn, s->ss->config->limits.line_length);
    conn_transfer_end(s->conn);
    enum smtp_data_verdict v = smtp_data_finish(&s->data);
    if (v != SMTP_DATA_OK) {
        log_info("event=message_refused client=%s reason=%s size=%llu", s->ss->client_ip,
                 smtp_data_verdict_name(v), (unsigned long long)s->data.size);
        /* one table for DATA and BDAT alike (proto/smtp_reply.c) */
        reply_fixed(s, smtp_reply_data_error(v));
        transaction_reset(s);
        s->state = ST_READY;
        return;
    }
    if (queue_envelope_set(&s->env->client_address, s->ss->client_ip) < 0 ||
        queue_envelope_set(&s->env->client_helo, s->helo[0] != '\0' ? s->helo : NULL) < 0 ||
        queue_envelope_set(&s->env->auth_user, s->auth_user) < 0 ||
        (s->tls && (queue_envelope_set(&s->env->tls_version, conn_tls_version(s->conn)) < 0 ||
                    queue_envelope_set(&s->env->tls_cipher, conn_tls_cipher(s->conn)) < 0))) {
        reply_fixed(s, smtp_reply_tempfail(SMTP_TEMPFAIL_MEMORY));
        transaction_reset(s);
        s->state = ST_READY;
        return;
    }
    if (threadpool_submit(s->srv->pool, commit_work, commit_done, s) < 0) {
        reply_fixed(s, smtp_reply_tempfail(SMTP_TEMPFAIL_MEMORY));
        transaction_reset(s);
        s->state = ST_READY;
        return;
    }
    s->job_running = true;
    wait_begin(s);
}

static void cmd_bdat(struct smtp *s, struct smtp_command *cmd)
{
    s->bdat_left = cmd->chunk_size;
    s->bdat_last = cmd->last;
    s->bdat_refusal = NULL;
    static const struct smtp_reply no_rcpt = {554, SMTP_ESC_INVALID_COMMAND, "No valid recipients"};
    static const struct smtp_reply bad_seq = {503, SMTP_ESC_INVALID_COMMAND,
                                              "Bad sequence of commands"};
    /* RFC 3030 2: the chunk is read whatever the answer will be, so that its
     * octets are never taken for commands. */
    uint64_t free_bytes = 0;
    enum room room = ROOM_OK;
    /* the message this chunk adds to: begun by an earlier chunk */
    bool open = s->state == ST_BDAT_OPEN;
    if (!s->esmtp || (s->state != ST_MAIL && s->state != ST_RCPT && !open))
        s->bdat_refusal = &bad_seq;
    else if (s->state == ST_MAIL)
        s->bdat_refusal = &no_rcpt;
    /* The disk may have filled since MAIL FROM: each chunk is checked
     * again, crediting what the message itself took (issue 10 section 7).
     * A refused chunk is still read (bdat_read), then refused, and its
     * message discarded with it (RFC 3030 2). */
    else if ((room = spool_room(s, 0, open ? s->data.size : 0, cmd->chunk_size, &free_bytes)) !=
             ROOM_OK) {
        if (room == ROOM_LOW)
            log_info("event=bdat_refused reason=low_disk free=%llu min=%llu chunk=%llu "
                     "received=%llu client=%s",
                     (unsigned long long)free_bytes,
                     (unsigned long long)s->ss->config->queue.min_free,
                     (unsigned long long)cmd->chunk_size,
                     (unsigned long long)(open ? s->data.size : 0), s->ss->client_ip);
        s->bdat_refusal = room_reply(room);
    } else if (!open && message_begin(s) < 0)
        s->bdat_refusal = smtp_reply_tempfail(SMTP_TEMPFAIL_QUEUE);
    s->state = ST_BDAT;
    /* One chunk is one transfer (data_timeout), refused or not. */
    conn_transfer_begin(s->conn);
}

/* out_of_sync - RFC 2920 synchronisation (Postfix 3.9's default
 * smtpd_forbid_unauth_pipelining): an unauthenticated client that sent more
 * after a command whose reply it must await, or that pipelines at all
 * without PIPELINING having been offered (HELO, or before EHLO), is not a
 * mail program but a bot or a smuggling attempt: 554 5.5.0 and close. True
 * when the session is closing for it. what names the command for the log. */
static bool out_of_sync(struct smtp *s, const char *what)
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
    reply(s, 554, SMTP_ESC_PROTOCOL_OTHER, "Error: SMTP protocol synchronization");
    s->state = ST_CLOSING;
    conn_set_input_paused(s->conn, true);
    if (conn_flush(s->conn) != CONN_AGAIN)
        session_end(s);
    return true;
}

/* bdat_read - read chunk octets; false when waiting for more. */
static bool bdat_read(struct smtp *s)
{
    while (s->bdat_left > 0) {
        const char *data;
        size_t len;
        size_t want = s->bdat_left > 65536 ? 65536 : (size_t)s->bdat_left;
        enum conn_result r = conn_read_bytes(s->conn, want, &data, &len);
        if (r == CONN_AGAIN)
            return false;
        if (r != CONN_OK) {
            session_end(s);
            return false;
        }
        s->bdat_left -= len;
        if (s->bdat_refusal == NULL)
            smtp_data_chunk(&s->data, data, len, false);
    }
    conn_transfer_end(s->conn);
    /* BDAT LAST ends a group: its reply must be awaited (RFC 3030 4.2) */
    if (s->bdat_last && out_of_sync(s, "BDAT_LAST"))
        return false;
    if (s->bdat_refusal != NULL) {
        reply_fixed(s, s->bdat_refusal);
        /* a refused chunk ends the transaction it was part of */
        if (s->msg != NULL || s->env != NULL) {
            transaction_reset(s);
            s->state = ST_READY;
        } else {
            s->state = s->esmtp || s->helo[0] != '\0' ? ST_READY : ST_GREETED;
        }
        return true;
    }
    if (s->bdat_last) {
        smtp_data_chunk(&s->data, "", 0, true);
        message_end(s);
        return s->state != ST_WAIT;
    }
    if (s->data.verdict != SMTP_DATA_OK) {
        /* too big already: say so now and drop the transaction */
        message_end(s);
        return true;
    }
    reply(s, 250, SMTP_ESC_OTHER, "%llu octets received", (unsigned long long)s->data.size);
    s->state = ST_BDAT_OPEN;
    return true;
}

static void cmd_rset(struct smtp *s, struct smtp_command *cmd)
{
    (void)cmd;
    transaction_reset(s);
    reply(s, 250, SMTP_ESC_OTHER, "Ok");
}

static void cmd_noop(struct smtp *s, struct smtp_command *cmd)
{
    (void)cmd;
    reply(s, 250, SMTP_ESC_OTHER, "Ok");
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
    reply(s, 214, SMTP_ESC_OTHER,
          "Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT HELP VRFY STARTTLS AUTH");
}

/* VRFY discloses nothing (RFC 5321 3.5.3 allows 252). */
static void cmd_vrfy(struct smtp *s, struct smtp_command *cmd)
{
    (void)cmd;
    reply(s, 252, SMTP_ESC_OTHER, "Cannot VRFY user, but will accept message and attempt delivery");
}

static void cmd_expn(struct smtp *s, struct smtp_command *cmd)
{
    (void)cmd;
    reply(s, 502, SMTP_ESC_INVALID_COMMAND, "EXPN not available");
}

static void cmd_starttls(struct smtp *s, struct smtp_command *cmd)
{
    (void)cmd;
    if (s->tls || s->ss->tls_ctx == NULL) {
        reply(s, 503, SMTP_ESC_INVALID_COMMAND, "TLS not available");
        return;
    }
    reply(s, 220, SMTP_ESC_OTHER, "Ready to start TLS");
    /* The reply must be out before the handshake; a client normally waits
     * for it, so the socket buffer takes it at once. */
    if (conn_flush(s->conn) != CONN_OK) {
        session_end(s);
        return;
    }
    size_t discarded = 0;
    if (conn_tls_server_start(s->conn, s->ss->tls_ctx, &discarded) < 0) {
        log_error("event=starttls_failed client=%s error=\"%s\"", s->ss->client_ip,
                  conn_error(s->conn));
        session_end(s);
        return;
    }
    if (discarded > 0)
        log_info("event=starttls_discarded client=%s bytes=%zu", s->ss->client_ip, discarded);
    /* RFC 3207 4.2: forget everything learnt before TLS. */
    transaction_reset(s);
    s->tls = true;
    s->esmtp = false;
    s->helo[0] = '\0';
    s->state = ST_GREETED;
    sasl_session_free(&s->sasl); /* the next EHLO makes one for the TLS layer */
}

/* ---- AUTH ---- */

/* auth_outcome - the one place an exchange's outcome becomes a reply
 * (RFC 4954 4, 6) and the session's next state. From a command handler
 * (async false) the state is set and process_input reads on; from the
 * exchange's callback (async true) input is resumed. */
static void auth_outcome(struct smtp *s, enum sasl_exchange_outcome o, bool async)
{
    enum smtp_state next = ST_READY;
    switch (o) {
    case SASL_EXCHANGE_PENDING:
        wait_begin(s);
        return;
    case SASL_EXCHANGE_CHALLENGE:
        reply(s, 334, SMTP_ESC_NONE, "%s", sasl_exchange_challenge(s->sx));
        conn_set_line_limit(s->conn, SASL_EXCHANGE_LINE_LIMIT);
        next = ST_AUTH;
        break;
    case SASL_EXCHANGE_OK:
        s->auth_user = strdup(sasl_exchange_user(s->sx));
        if (s->auth_user == NULL)
            reply(s, 454, SMTP_ESC_SECURITY_OTHER, "Temporary authentication failure");
        else
            reply(s, 235, SMTP_ESC_AUTH_SUCCEEDED, "Authentication successful");
        break;
    case SASL_EXCHANGE_FAILED:
        reply(s, 535, SMTP_ESC_AUTH_INVALID, "Authentication credentials invalid");
        switch (sasl_exchange_limit(s->sx)) {
        case SASL_EXCHANGE_LIMIT_IP:
            close_with(s, 421, SMTP_ESC_SECURITY_OTHER,
                       "Too many authentication failures from your address");
            return;
        case SASL_EXCHANGE_LIMIT_SESSION:
            close_with(s, 421, SMTP_ESC_SECURITY_OTHER, "Too many authentication failures");
            return;
        case SASL_EXCHANGE_LIMIT_NONE:
            break;
        }
        break;
    case SASL_EXCHANGE_TEMPFAIL:
        /* the directory or the auth process could not answer: never 535 */
        reply(s, 454, SMTP_ESC_SECURITY_OTHER, "Temporary authentication failure");
        break;
    case SASL_EXCHANGE_BAD_PROTOCOL:
        reply(s, 501, SMTP_ESC_SYNTAX_ERROR, "Malformed authentication response");
        break;
    case SASL_EXCHANGE_BAD_BASE64:
        reply(s, 501, SMTP_ESC_SYNTAX_ERROR, "Invalid base64 data");
        break;
    case SASL_EXCHANGE_CANCELLED:
        reply(s, 501, SMTP_ESC_OTHER, "Authentication cancelled");
        break;
    case SASL_EXCHANGE_NO_MECHANISM:
        reply(s, 504, SMTP_ESC_INVALID_ARGUMENTS, "Unrecognized authentication mechanism");
        break;
    case SASL_EXCHANGE_ENCRYPTION_REQUIRED:
        reply(s, 538, SMTP_ESC_ENCRYPTION_FOR_MECH,
              "Encryption required for requested authentication mechanism");
        break;
    case SASL_EXCHANGE_IP_BLOCKED:
        /* RFC 4954 6: 454 for a temporary refusal */
        reply(s, 454, SMTP_ESC_SECURITY_OTHER,
              "Too many authentication failures from your address, try again later");
        break;
    }
    if (async)
        wait_end(s, next);
    else
        s->state = next;
}

/* auth_done - the exchange's callback: a SASL step or a delay is over. */
static void auth_done(void *ctx, enum sasl_exchange_outcome o)
{
    struct smtp *s = ctx;
    enter(s);
    if (!s->ending)
        auth_outcome(s, o, true);
    leave(s);
}

static void cmd_auth(struct smtp *s, struct smtp_command *cmd)
{
    if (s->auth_user != NULL) {
        reply(s, 503, SMTP_ESC_INVALID_COMMAND, "Already authenticated");
        return;
    }
    if (!s->tls && submission(s)) {
        reply(s, 530, SMTP_ESC_SECURITY_OTHER, "Must issue a STARTTLS command first");
        return;
    }
    if (!auth_offered(s) || !s->esmtp) {
        reply(s, 503, SMTP_ESC_INVALID_COMMAND, "AUTH not available");
        return;
    }
    const char *initial = cmd->has_initial_response ? cmd->arg : NULL;
    auth_outcome(s, sasl_exchange_begin(s->sx, s->sasl, cmd->mech, initial), false);
}

/* auth_line - a response line in an AUTH exchange (RFC 4954 4). */
static void auth_line(struct smtp *s, const struct conn_line *line)
{
    conn_set_line_limit(s->conn, s->ss->config->limits.line_length);
    s->state = ST_READY;
    /* a line with a NUL or a bare CR is never base64 (nor "*") */
    enum sasl_exchange_outcome o = line->has_nul || line->bare_cr
                                       ? SASL_EXCHANGE_BAD_BASE64
                                       : sasl_exchange_response(s->sx, line->data, line->len);
    auth_outcome(s, o, false);
}

/* ---- the command table ---- */

#define ANY_SESSION (S(ST_GREETED) | S(ST_READY) | S(ST_MAIL) | S(ST_RCPT))
/* RFC 3030 2: between the chunks of one message only BDAT, RSET, NOOP and
 * QUIT make sense; anything else is a bad sequence (503 5.5.1). */
#define ANY_STATE (ANY_SESSION | S(ST_BDAT_OPEN))

static const struct command {
    enum smtp_verb verb;
    cmd_handler *handler;
    unsigned states; /* where it is allowed; elsewhere 503 5.5.1 */
} commands[] = {
    {SMTP_VERB_EHLO, cmd_ehlo, ANY_SESSION},
    {SMTP_VERB_HELO, cmd_ehlo, ANY_SESSION},
    {SMTP_VERB_MAIL, cmd_mail, S(ST_READY)},
    {SMTP_VERB_RCPT, cmd_rcpt, S(ST_MAIL) | S(ST_RCPT)},
    {SMTP_VERB_DATA, cmd_data, S(ST_MAIL) | S(ST_RCPT)},
    {SMTP_VERB_BDAT, cmd_bdat, ANY_STATE}, /* reads its chunk even when refused */
    {SMTP_VERB_RSET, cmd_rset, ANY_STATE},
    {SMTP_VERB_NOOP, cmd_noop, ANY_STATE},
    {SMTP_VERB_QUIT, cmd_quit, ANY_STATE},
    {SMTP_VERB_HELP, cmd_help, ANY_SESSION},
    {SMTP_VERB_VRFY, cmd_vrfy, ANY_SESSION},
    {SMTP_VERB_EXPN, cmd_expn, ANY_SESSION},
    {SMTP_VERB_STARTTLS, cmd_starttls, S(ST_READY)},
    {SMTP_VERB_AUTH, cmd_auth, S(ST_READY)},
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
        reply_fixed(s, smtp_reply_parse_error(r));
        return;
    }
    /* BDAT's chunk follows its command line by design (RFC 3030 2) */
    if ((!s->esmtp ? cmd->verb != SMTP_VERB_BDAT : smtp_verb_ends_group(cmd->verb)) &&
        out_of_sync(s, smtp_verb_name(cmd->verb)))
        return;
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (commands[i].verb != cmd->verb)
            continue;
        if (!(commands[i].states & S(s->state))) {
            if (s->state == ST_GREETED && cmd->verb != SMTP_VERB_STARTTLS &&
                cmd->verb != SMTP_VERB_AUTH)
                reply(s, 503, SMTP_ESC_INVALID_COMMAND, "Send EHLO or HELO first");
            else
                reply(s, 503, SMTP_ESC_INVALID_COMMAND, "Bad sequence of commands");
            return;
        }
        commands[i].handler(s, cmd);
        return;
    }
    reply_fixed(s, smtp_reply_parse_error(SMTP_PARSE_UNKNOWN_COMMAND));
}

/* process_input - read and act until input runs out or the state stops taking it. */
static void process_input(struct smtp *s)
{
    for (;;) {
        if (s->state == ST_WAIT || s->state == ST_CLOSING || s->state == ST_PREGREET)
            return;
        /* The limits.errors-th error reply is followed by 421 at once:
         * nothing more the client pipelined is read. */
        if (s->errors >= s->ss->config->limits.errors) {
            log_info("event=too_many_errors client=%s errors=%u", s->ss->client_ip, s->errors);
            close_with(s, 421, SMTP_ESC_SECURITY_OTHER, "Too many errors, closing connection");
            return;
        }
        if (s->state == ST_BDAT) {
            if (!bdat_read(s))
                return;
            continue;
        }
        struct conn_line line;
        enum conn_result r = conn_read_line(s->conn, &line);
        if (r == CONN_AGAIN) {
            flush(s);
            return;
        }
        if (r == CONN_EOF || r == CONN_ERROR) {
            if (r == CONN_ERROR)
                log_info("event=conn_error client=%s error=\"%s\"", s->ss->client_ip,
                         conn_error(s->conn));
            session_end(s);
            return;
        }
        if (s->state == ST_DATA) {
            if (r == CONN_TOO_LONG)
                smtp_data_line_too_long(&s->data);
            else if (smtp_data_line(&s->data, line.data, line.len, line.bare_lf, line.bare_cr))
                message_end(s);
            continue;
        }
        if (r == CONN_TOO_LONG) {
            if (s->state == ST_AUTH) {
                conn_set_line_limit(s->conn, s->ss->config->limits.line_length);
                s->state = ST_READY;
                reply(s, 500, SMTP_ESC_AUTH_LINE_TOO_LONG, "Authentication line too long");
            } else {
                reply_fixed(s, smtp_reply_parse_error(SMTP_PARSE_TOO_LONG));
            }
            continue;
        }
        if (s->state == ST_AUTH)
            auth_line(s, &line);
        else
            command_line(s, &line);
    }
}

static void send_greeting(struct smtp *s)
{
    reply(s, 220, SMTP_ESC_NONE, "%s ESMTP dirmail", s->ss->hostname);
    s->state = ST_GREETED;
    /* The first command's deadline starts now, not at the accept: the
     * pregreet wait is ours. */
    conn_deadline_restart(s->conn);
    flush(s);
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
    enter(s);
    event_timer_remove(&s->timer);
    if (conn_input_pending(s->conn) > 0) {
        pregreet_failed(s);
    } else {
        if (s->ss->config->limits.pregreet_pass_ttl != 0)
            pregreet_cache_record(s->ss->pregreet, s->ss->client_ip, clock_monotonic_ms());
        send_greeting(s);
        if (!s->ending)
            process_input(s);
    }
    leave(s);
}

static void handler_in(struct smtp *s, enum conn_event event)
{
    switch (event) {
    case CONN_EVENT_TIMEOUT:
        /* while a pool job works on what the client sent, no 421: end
         * quietly once it is done (during an AUTH delay the 421 goes out) */
        if (s->state == ST_CLOSING || s->job_running || sasl_exchange_stepping(s->sx)) {
            session_end(s);
            return;
        }
        log_info("event=timeout client=%s reason=\"%s\" state=%s", s->ss->client_ip,
                 conn_error(s->conn), state_name(s->state));
        close_with(s, 421, SMTP_ESC_BAD_CONNECTION, "Timeout, closing connection");
        return;
    case CONN_EVENT_FLUSHED:
        if (s->state == ST_CLOSING)
            session_end(s);
        return;
    case CONN_EVENT_INPUT:
        if (s->state == ST_PREGREET) {
            /* Under implicit TLS the handshake is input too: only
             * application data counts as talking first. */
            struct conn_line line;
            enum conn_result r = conn_read_line(s->conn, &line);
            if (r == CONN_AGAIN && conn_input_pending(s->conn) == 0)
                return;
            if (r == CONN_EOF || r == CONN_ERROR) {
                session_end(s);
                return;
            }
            pregreet_failed(s);
            return;
        }
        if (s->state == ST_CLOSING) {
            conn_set_input_paused(s->conn, true);
            return;
        }
        process_input(s);
        return;
    }
}

static void handler(struct conn *conn, enum conn_event event, void *ctx)
{
    struct smtp *s = ctx;
    (void)conn;
    enter(s);
    handler_in(s, event);
    leave(s);
}

void smtp_session_start(struct service_session *ss)
{
    char line[512];
    struct smtp_server *srv = server_get(ss);
    struct smtp *s = srv != NULL ? calloc(1, sizeof *s) : NULL;
    if (s != NULL) {
        const struct sasl_exchange_setup setup = {
            .loop = ss->loop,
            .pool = srv->pool,
            .limits = ss->limits,
            .ip_failures_max = ss->config->limits.auth_failures,
            .ip_failure_window_s = ss->config->limits.auth_failure_window,
            .client_ip = ss->client_ip,
            .failures_max = AUTH_FAILURES_MAX,
            .delay_step_ms = AUTH_DELAY_STEP_MS,
            .done = auth_done,
            .context = s,
        };
        s->sx = sasl_exchange_new(&setup);
        if (s->sx == NULL) {
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
    ss->protocol = s;
    if (config_service_implicit_tls(ss->service->type)) {
        if (service_tls_begin(ss) < 0) {
            session_free(s);
            ss->protocol = NULL;
            conn_free(&ss->conn);
            ss->finished(ss);
            return;
        }
        s->tls = true;
    }
    if (conn_attach(s->conn, ss->loop, handler, s) < 0) {
        session_end(s);
        return;
    }
    conn_set_deadlines(s->conn, ss->deadlines, ss->service->session_timeout * 1000ull);
    /* The pregreet test, like Postfix's postscreen, guards only the MX
     * port: submission clients are mail programs of our own users, and a
     * trusted network (postscreen's permit_mynetworks) needs no proof. */
    unsigned wait =
        ss->service->type == SERVICE_SMTP && !s->trusted ? ss->config->limits.pregreet_wait : 0;
    /* A client that passed lately need not prove itself again (postscreen's
     * greet cache, postscreen_greet_ttl). The common case: debug only. */
    if (wait != 0 && pregreet_cache_passed(ss->pregreet, ss->client_ip,
                                           ss->config->limits.pregreet_pass_ttl, clock_monotonic_ms())) {
        log_debug("event=pregreet_pass_known client=%s", ss->client_ip);
        wait = 0;
    }
    if (wait == 0) {
        enter(s);
        send_greeting(s);
        leave(s);
        return;
    }
    s->timer = event_timer_add(ss->loop, wait, greet, s);
    if (s->timer == NULL)
        session_end(s);
}
