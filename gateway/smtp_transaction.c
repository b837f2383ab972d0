/* gateway/smtp_transaction.c - the mail transaction of an SMTP session
 * (RFC 5321 3.3): MAIL with its sender check and the spool's free space,
 * RCPT through the auth process, DATA and BDAT (RFC 3030) into the spool,
 * and the commit on a pool thread that the 250 waits for. The session core
 * (smtp_session.c) dispatches to it; smtp_session_internal.h is the seam. */
#include "config.h"

#include "gateway/smtp_session_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/auth_client.h"
#include "gateway/recipient_verify.h"
#include "gateway/smtp_policy.h"
#include "queue/queue_inject.h"
#include "proto/received.h"
#include "proto/smtp_wire.h"
#include "lib/conn.h"
#include "lib/log.h"
#include "lib/threadpool.h"

/* The line reader's limit while DATA is read: far above the text line limit
 * so that a long line is still seen whole, with how it ended. */

void transaction_reset(struct smtp *s)
{
    queue_inject_abort(&s->msg);
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

/* sender_answer - SENDERS came back for MAIL by an authenticated user. */
static void sender_answer_in(struct smtp *s, const struct auth_response *resp)
{
    s->auth_request = 0;
    enum smtp_sender_decision d = smtp_policy_sender(resp->status, &resp->senders, s->pending_addr);
    session_reply_fixed(s, smtp_policy_sender_reply(d));
    if (d != SMTP_SENDER_OK) {
        log_info("event=sender_refused client=%s user=%s sender=<%s> status=%s", s->ss->client_ip,
                 s->auth_user, s->pending_addr, auth_status_name(resp->status));
        transaction_reset(s);
        session_wait_end(s, ST_READY);
        return;
    }
    session_wait_end(s, ST_MAIL);
}

static void sender_answer(void *ctx, const struct auth_response *resp)
{
    struct smtp *s = ctx;
    line_session_enter(&s->ls);
    sender_answer_in(s, resp);
    line_session_leave(&s->ls);
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

void transaction_mail(struct smtp *s, struct smtp_command *cmd)
{
    if (session_is_submission(s) && !s->ls.tls) {
        session_reply(s, 530, SMTP_ESC_SECURITY_OTHER, "Must issue a STARTTLS command first");
        return;
    }
    if (session_is_submission(s) && s->auth_user == NULL) {
        session_reply(s, 530, SMTP_ESC_SECURITY_OTHER, "Authentication required");
        return;
    }
    const struct smtp_params *p = &cmd->params;
    if (p->has_size && p->size > s->ss->config->limits.message_size) {
        session_reply(s, 552, SMTP_ESC_MESSAGE_TOO_BIG, "Message size exceeds fixed maximum of %zu",
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
        session_reply_fixed(s, room_reply(room));
        return;
    }
    char addr[ADDRESS_RENDER_MAX + 1];
    if (address_render(&cmd->path, addr, sizeof addr) < 0) {
        session_reply_fixed(s, smtp_reply_parse_error(SMTP_PARSE_SENDER_TOO_LONG));
        return;
    }
    s->env = queue_envelope_new();
    if (s->env == NULL || queue_envelope_set(&s->env->sender, addr) < 0 ||
        (p->has_envid && queue_envelope_set(&s->env->envid, p->envid) < 0)) {
        session_reply_fixed(s, smtp_reply_tempfail(SMTP_TEMPFAIL_MEMORY));
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
            line_session_wait_begin(&s->ls);
            return;
        }
        session_reply_fixed(s, smtp_policy_sender_reply(SMTP_SENDER_TEMPFAIL));
        transaction_reset(s);
        return;
    }
    session_reply(s, 250, SMTP_ESC_ADDRESS_OTHER, "Sender ok");
    s->state = ST_MAIL;
}

/* rcpt_accept - the recipient is taken into the envelope: 250, or 452
 * when it cannot be. */
static void rcpt_accept(struct smtp *s)
{
    enum smtp_state next = s->env->rcpt_count > 0 ? ST_RCPT : ST_MAIL;
    char orcpt[SMTP_ORCPT_MAX * 2 + 2];
    const struct smtp_params *p = &s->cmd.params;
    if (p->has_orcpt)
        snprintf(orcpt, sizeof orcpt, "%s;%s", p->orcpt_type, p->orcpt);
    char *err = NULL;
    if (queue_envelope_add_recipient(s->env, s->pending_addr, p->notify,
                                     p->has_orcpt ? orcpt : NULL, &err) < 0) {
        session_reply(s, 452, SMTP_ESC_TOO_MANY_RECIPIENTS, "%s",
                      err != NULL ? err : "Out of memory");
        free(err);
        session_wait_end(s, next);
        return;
    }
    session_reply_fixed(s, smtp_policy_rcpt_reply(SMTP_RCPT_ACCEPT));
    session_wait_end(s, ST_RCPT);
}

/* rcpt_verified - the next hop's answer for a relay domain with verify
 * (gateway/recipient_verify.h): its yes is ours, its no a 550 that quotes
 * it, and no answer a 450 (Postfix's unverified_recipient_tempfail_action). */
static void rcpt_verified_in(struct smtp *s, enum recipient_verify_result result, const char *text)
{
    s->probe = NULL;
    if (result == RECIPIENT_VERIFIED) {
        rcpt_accept(s);
        return;
    }
    s->rcpt_rejected++;
    log_info("event=rcpt_refused client=%s rcpt=<%s> reason=%s", s->ss->client_ip, s->pending_addr,
             result == RECIPIENT_REJECTED ? "unverified" : "verify_failed");
    if (result == RECIPIENT_REJECTED)
        session_reply(s, 550, SMTP_ESC_BAD_DEST_MAILBOX,
                      "Recipient address rejected: undeliverable address: %s", text);
    else
        session_reply(s, 450, SMTP_ESC_BAD_DEST_MAILBOX,
                      "Recipient address rejected: unverified address: %s", text);
    session_wait_end(s, s->env->rcpt_count > 0 ? ST_RCPT : ST_MAIL);
}

static void rcpt_verified(void *ctx, enum recipient_verify_result result, const char *text)
{
    struct smtp *s = ctx;
    line_session_enter(&s->ls);
    rcpt_verified_in(s, result, text);
    line_session_leave(&s->ls);
}

/* rcpt_verify - whether r is in a relay domain whose next hop is asked
 * first; if so the question is on its way (or answered from the cache). */
static bool rcpt_verify(struct smtp *s, const struct auth_recipient *r)
{
    const char *next_hop = NULL;
    if (r == NULL || r->kind != AUTH_KIND_RELAY || r->domain == NULL ||
        !recipient_verify_domain(s->ss->config, r->domain, &next_hop))
        return false;
    if (s->srv->verify == NULL &&
        (s->srv->verify = recipient_verify_new(s->ss->loop, s->ss->config)) == NULL)
        return false; /* out of memory: relayed unverified, as without verify */
    /* a cached answer comes back inside the call: the reply is written
     * there, under the enter the auth answer's callback already holds */
    struct recipient_probe *probe = recipient_verify_start(s->srv->verify, s->pending_addr,
                                                           r->domain, next_hop, rcpt_verified, s);
    s->probe = probe;
    return true;
}

/* rcpt_answer - RESOLVE came back: the policy table decides. */
static void rcpt_answer_in(struct smtp *s, const struct auth_response *resp)
{
    s->auth_request = 0;
    enum smtp_rcpt_decision d =
        smtp_policy_rcpt(resp->status, resp->recipient, s->auth_user != NULL || s->trusted);
    enum smtp_state next = s->env->rcpt_count > 0 ? ST_RCPT : ST_MAIL;
    if (d == SMTP_RCPT_ACCEPT) {
        if (!rcpt_verify(s, resp->recipient))
            rcpt_accept(s);
        return;
    } else {
        s->rcpt_rejected++;
        log_info("event=rcpt_refused client=%s rcpt=<%s> decision=%d status=%s kind=%s",
                 s->ss->client_ip, s->pending_addr, (int)d, auth_status_name(resp->status),
                 resp->recipient != NULL ? auth_kind_name(resp->recipient->kind) : "-");
    }
    session_reply_fixed(s, smtp_policy_rcpt_reply(d));
    session_wait_end(s, next);
}

static void rcpt_answer(void *ctx, const struct auth_response *resp)
{
    struct smtp *s = ctx;
    line_session_enter(&s->ls);
    rcpt_answer_in(s, resp);
    line_session_leave(&s->ls);
}

void transaction_rcpt(struct smtp *s, struct smtp_command *cmd)
{
    if (s->env->rcpt_count >= s->ss->config->limits.recipients) {
        session_reply(s, 452, SMTP_ESC_TOO_MANY_RECIPIENTS, "Too many recipients");
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
        session_reply_fixed(s, smtp_reply_parse_error(SMTP_PARSE_RECIPIENT_TOO_LONG));
        return;
    }
    const char *args[] = {s->pending_addr};
    s->auth_request = auth_async_request(s->srv->async, AUTH_REQ_RESOLVE, args, 1, rcpt_answer, s);
    if (s->auth_request == 0) {
        session_reply_fixed(s, smtp_policy_rcpt_reply(SMTP_RCPT_TEMPFAIL));
        return;
    }
    line_session_wait_begin(&s->ls);
}

static int data_write(void *ctx, const void *data, size_t len)
{
    struct smtp *s = ctx;
    char *err = NULL;
    if (queue_inject_write(s->msg, data, len, &err) < 0) {
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
    s->msg = queue_inject_begin(s->srv->queue, QUEUE_ORIGIN_CLIENT, &err);
    if (s->msg == NULL) {
        log_error("event=queue_begin_failed client=%s error=\"%s\"", s->ss->client_ip,
                  err != NULL ? err : "?");
        free(err);
        return -1;
    }
    time_t now = time(NULL);
    struct smtp_data_fixups fix = {NULL, NULL};
    if (session_is_submission(s)) {
        /* Sized from the host name (up to 253 octets): a fixed buffer here
         * once cut the Message-ID short of its CRLF, so that it swallowed
         * the empty line ending the header section. */
        free(s->date_field);
        free(s->msgid_field);
        s->date_field = smtp_data_date_field(now);
        s->msgid_field = smtp_data_message_id_field(queue_inject_id(s->msg), s->ss->hostname);
        if (s->date_field == NULL || s->msgid_field == NULL) {
            log_error("event=fixup_failed client=%s error=\"cannot build Date or Message-ID\"",
                      s->ss->client_ip);
            queue_inject_abort(&s->msg);
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
        .tls_version = s->ls.tls ? conn_tls_version(s->conn) : NULL,
        .tls_cipher = s->ls.tls ? conn_tls_cipher(s->conn) : NULL,
        .authenticated = s->auth_user != NULL,
        .auth_user = s->ss->config->sasl.authenticated_header ? s->auth_user : NULL,
        .queue_id = queue_inject_id(s->msg),
        .for_rcpt = s->env->rcpt_count == 1 ? s->env->rcpts[0].address : NULL,
        .when = now,
    };
    size_t len = 0;
    char *field = received_format_fitting(&info, &len);
    int r = field != NULL ? data_write(s, field, len) : -1;
    free(field);
    if (r < 0) {
        queue_inject_abort(&s->msg);
        return -1;
    }
    return 0;
}

void transaction_data(struct smtp *s, struct smtp_command *cmd)
{
    (void)cmd;
    if (s->state == ST_MAIL || message_begin(s) < 0) {
        session_reply_fixed(s, s->state == ST_MAIL
                                   ? smtp_reply_transfer(SMTP_TRANSFER_NO_RECIPIENTS)
                                   : smtp_reply_tempfail(SMTP_TEMPFAIL_QUEUE));
        return;
    }
    session_reply_fixed(s, smtp_reply_transfer(SMTP_TRANSFER_START_DATA));
    smtp_wire_data_begin(&s->ls);
    s->state = ST_DATA;
}

/* ---- commit: the fsync on a pool thread ---- */

static void commit_work(void *arg)
{
    struct smtp *s = arg;
    /* No lock: the pool threads stage in parallel (their file fsyncs merge
     * in the journal) and queue_sync shares one directory fsync among every
     * commit that finished its files meanwhile (group commit, queue.h). */
    s->commit_result = queue_inject_commit(&s->msg, s->env, &s->commit_error);
}

static void commit_done(void *arg)
{
    struct smtp *s = arg;
    line_session_enter(&s->ls);
    s->ls.job_running = false;
    if (s->commit_result == 0) {
        log_info("event=queued id=%s client=%s sender=<%s> rcpts=%zu size=%llu", s->env->id,
                 s->ss->client_ip, s->env->sender, s->env->rcpt_count,
                 (unsigned long long)s->env->size);
        session_reply(s, 250, SMTP_ESC_OTHER, "Ok: queued as %s", s->env->id);
    } else {
        log_error("event=queue_commit_failed client=%s error=\"%s\"", s->ss->client_ip,
                  s->commit_error != NULL ? s->commit_error : "?");
        session_reply_fixed(s, smtp_reply_tempfail(SMTP_TEMPFAIL_QUEUE));
    }
    free(s->commit_error);
    s->commit_error = NULL;
    if (!s->ls.ending) {
        s->state = ST_READY;
        transaction_reset(s);
        session_wait_end(s, ST_READY);
    }
    line_session_leave(&s->ls);
}

/* message_end - the message is complete: refuse it, or commit it. */
void transaction_message_end(struct smtp *s)
{
    enum smtp_data_verdict v =
        smtp_wire_finish(&s->ls, s->ss->config->limits.line_length, &s->data);
    if (v != SMTP_DATA_OK) {
        log_info("event=message_refused client=%s reason=%s size=%llu", s->ss->client_ip,
                 smtp_data_verdict_name(v), (unsigned long long)s->data.size);
        /* one table for DATA and BDAT alike (proto/smtp_reply.c) */
        session_reply_fixed(s, smtp_reply_data_error(v));
        transaction_reset(s);
        s->state = ST_READY;
        return;
    }
    if (queue_envelope_set(&s->env->client_address, s->ss->client_ip) < 0 ||
        queue_envelope_set(&s->env->client_helo, s->helo[0] != '\0' ? s->helo : NULL) < 0 ||
        queue_envelope_set(&s->env->auth_user, s->auth_user) < 0 ||
        (s->ls.tls && (queue_envelope_set(&s->env->tls_version, conn_tls_version(s->conn)) < 0 ||
                       queue_envelope_set(&s->env->tls_cipher, conn_tls_cipher(s->conn)) < 0))) {
        session_reply_fixed(s, smtp_reply_tempfail(SMTP_TEMPFAIL_MEMORY));
        transaction_reset(s);
        s->state = ST_READY;
        return;
    }
    if (threadpool_submit(s->srv->pool, commit_work, commit_done, s) < 0) {
        session_reply_fixed(s, smtp_reply_tempfail(SMTP_TEMPFAIL_MEMORY));
        transaction_reset(s);
        s->state = ST_READY;
        return;
    }
    s->ls.job_running = true;
    line_session_wait_begin(&s->ls);
}

void transaction_bdat(struct smtp *s, struct smtp_command *cmd)
{
    s->bdat_left = cmd->chunk_size;
    s->bdat_last = cmd->last;
    s->bdat_refusal = NULL;
    /* RFC 3030 2: the chunk is read whatever the answer will be, so that its
     * octets are never taken for commands. */
    uint64_t free_bytes = 0;
    enum room room = ROOM_OK;
    /* the message this chunk adds to: begun by an earlier chunk */
    bool open = s->state == ST_BDAT_OPEN;
    if (!s->esmtp || (s->state != ST_MAIL && s->state != ST_RCPT && !open))
        s->bdat_refusal = smtp_reply_transfer(SMTP_TRANSFER_BAD_SEQUENCE);
    else if (s->state == ST_MAIL)
        s->bdat_refusal = smtp_reply_transfer(SMTP_TRANSFER_NO_RECIPIENTS);
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

/* bdat_read - read chunk octets; false when waiting for more. */
bool transaction_bdat_read(struct smtp *s)
{
    if (!smtp_wire_bdat_read(&s->ls, &s->bdat_left, &s->data, s->bdat_refusal != NULL))
        return false;
    /* BDAT LAST ends a group: its reply must be awaited (RFC 3030 4.2) */
    if (s->bdat_last && session_out_of_sync(s, "BDAT_LAST"))
        return false;
    if (s->bdat_refusal != NULL) {
        session_reply_fixed(s, s->bdat_refusal);
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
        transaction_message_end(s);
        return !s->ls.waiting;
    }
    if (s->data.verdict != SMTP_DATA_OK) {
        /* too big already: say so now and drop the transaction */
        transaction_message_end(s);
        return true;
    }
    session_reply(s, 250, SMTP_ESC_OTHER, "%llu octets received", (unsigned long long)s->data.size);
    s->state = ST_BDAT_OPEN;
    return true;
}
