/* delivery/lmtp_message.c - the message half of an LMTP session: DATA and
 * BDAT (RFC 3030) read through the shared reader (proto/smtp_data.h, its
 * content policy and size limit) into a spool file with our Received field
 * first, then one job on the worker's thread pool that files the message
 * for every accepted recipient (delivery/mda.h, one local_batch so that the
 * recipients share their fsyncs), and then the replies: one per recipient,
 * in RCPT order (RFC 2033 4.2), each given only once its delivery is
 * durable. The spool file is unlinked from birth: nothing is left behind
 * by a crash, and the LMTP client keeps the message until it has the
 * replies, so no queue entry is needed. */
#include "config.h"

#include "delivery/lmtp_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "delivery/mda.h"
#include "lib/conn.h"
#include "lib/fdio.h"
#include "lib/log.h"
#include "lib/threadpool.h"
#include "proto/delivery_status.h"
#include "proto/received.h"
#include "proto/sasl_shared.h"
#include "proto/smtp_wire.h"
#include "queue/queue.h"

void lmtp_transaction_reset(struct lmtp *s)
{
    if (s->spool_fd >= 0)
        close(s->spool_fd);
    s->spool_fd = -1;
    for (size_t i = 0; i < s->rcpt_count; i++) {
        free(s->rcpts[i].mailbox);
        free(s->rcpts[i].primary);
        free(s->rcpts[i].sieve);
    }
    free(s->rcpts);
    s->rcpts = NULL;
    s->rcpt_count = 0;
    s->has_sender = false;
    s->sender[0] = '\0';
    s->bdat_left = 0;
    s->bdat_refusal = NULL;
    if (s->state == ST_MAIL || s->state == ST_RCPT || s->state == ST_DATA || s->state == ST_BDAT ||
        s->state == ST_BDAT_OPEN)
        s->state = ST_READY;
}

/* spool_open - an anonymous file in the state folder for the message:
 * O_TMPFILE where the file system has it, else a name unlinked at once. */
static int spool_open(const struct config *conf)
{
    int fd = open(conf->server.state_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
        return fd;
    char path[4096];
    if (snprintf(path, sizeof path, "%s/lmtp.XXXXXX", conf->server.state_dir) >= (int)sizeof path)
        return -1;
    fd = mkostemp(path, O_CLOEXEC);
    if (fd >= 0)
        unlink(path);
    return fd;
}

static int spool_write(void *ctx, const void *data, size_t len)
{
    struct lmtp *s = ctx;
    if (fd_write_all(s->spool_fd, data, len) < 0) {
        log_error("id=%s event=spool_write_failed error=\"%s\"", s->tx_id, strerror(errno));
        return -1;
    }
    return 0;
}

/* message_begin - the spool file, the reader, and our Received field
 * (RFC 5321 4.4: every server that takes a message adds one; Return-Path
 * and Delivered-To come with the Maildir delivery, the final one). */
static int message_begin(struct lmtp *s)
{
    snprintf(s->tx_id, sizeof s->tx_id, "%s.%u", s->id, ++s->messages);
    s->spool_fd = spool_open(s->ss->config);
    if (s->spool_fd < 0) {
        log_error("id=%s event=spool_open_failed dir=%s error=\"%s\"", s->tx_id,
                  s->ss->config->server.state_dir, strerror(errno));
        return -1;
    }
    smtp_data_init(&s->data, s->ss->config->limits.message_size,
                   s->ss->config->limits.text_line_length, NULL, spool_write, s);
    struct content_limits content;
    content_limits_from_config(&content, &s->ss->config->limits);
    smtp_data_content_limits(&s->data, &content);
    struct received_info info = {
        .helo = s->helo,
        .client_ip = s->ss->local_socket ? NULL : s->ss->client_ip,
        .hostname = s->ss->hostname,
        .esmtp = true,
        .lmtp = true,
        .queue_id = s->tx_id,
        .for_rcpt = s->rcpt_count == 1 ? s->rcpts[0].address : NULL,
        .when = time(NULL),
    };
    size_t len = 0;
    char *field = received_format_fitting(&info, &len);
    int r = field != NULL ? spool_write(s, field, len) : -1;
    free(field);
    if (r < 0) {
        close(s->spool_fd);
        s->spool_fd = -1;
        return -1;
    }
    return 0;
}

void lmtp_cmd_data(struct lmtp *s, struct smtp_command *cmd)
{
    (void)cmd;
    if (s->state == ST_MAIL || message_begin(s) < 0) {
        lmtp_reply_fixed(s, s->state == ST_MAIL ? smtp_reply_transfer(SMTP_TRANSFER_NO_RECIPIENTS)
                                                : smtp_reply_tempfail(SMTP_TEMPFAIL_QUEUE));
        return;
    }
    lmtp_reply_fixed(s, smtp_reply_transfer(SMTP_TRANSFER_START_DATA));
    smtp_wire_data_begin(&s->ls);
    s->state = ST_DATA;
}

/* reply_each - the same reply for every accepted recipient: after the
 * message, LMTP answers once per recipient even when all fail alike
 * (RFC 2033 4.2). */
static void reply_each(struct lmtp *s, const struct smtp_reply *r)
{
    for (size_t i = 0; i < s->rcpt_count; i++)
        lmtp_reply_fixed(s, r);
}

/* ---- the deliveries, on a pool thread ---- */

/* The delivery agent of this process, made at its first message: the
 * compiled scripts are shared by every session and pool thread of the
 * process, as the configuration is; it lives as long as the process. */
static pthread_mutex_t mda_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mda *process_mda;
static struct queue *process_queue;

static struct mda *lmtp_mda(const struct service_session *ss)
{
    pthread_mutex_lock(&mda_lock);
    if (process_mda == NULL) {
        /* Sieve's redirects and replies go into the spool; without it
         * (a node with no state directory) a delivery that sends defers */
        char *path = config_state_path(ss->config, CONFIG_STATE_QUEUE), *error = NULL;
        if (path == NULL || queue_open(path, &process_queue, &error) < 0) {
            log_warning("event=lmtp_queue_unavailable error=\"%s\"",
                        error != NULL ? error : "out of memory");
            process_queue = NULL;
        }
        free(path);
        free(error);
        process_mda = mda_new(ss->config, ss->hostname, process_queue);
    }
    struct mda *mda = process_mda;
    pthread_mutex_unlock(&mda_lock);
    return mda;
}

static void deliver_work(void *arg)
{
    struct lmtp *s = arg;
    struct mda *mda = lmtp_mda(s->ss);
    struct local_batch *batch = mda != NULL ? local_batch_new(mda_local_config(mda)) : NULL;
    if (batch == NULL) {
        for (size_t i = 0; i < s->rcpt_count; i++)
            local_result_set(&s->rcpts[i].result, DELIVERY_STATUS_NO_MEMORY, NULL);
        return;
    }
    const struct mda_message msg = {
        .fd = s->spool_fd,
        .len = MAILDIR_TO_EOF,
        .sender = s->sender,
    };
    for (size_t i = 0; i < s->rcpt_count; i++) {
        struct lmtp_rcpt *r = &s->rcpts[i];
        const struct mda_recipient rcpt = {
            .address = r->address,
            .mailbox = r->mailbox,
            .primary = r->primary,
            .quota_bytes = r->quota,
            .sieve = r->sieve,
            .loop_after = 1,
        };
        mda_add(mda, batch, &msg, &rcpt, s->tx_id, &r->result);
    }
    /* every result is final once the batch is settled: files, links and
     * folders fsync'd before any 250 goes out */
    local_batch_free(&batch);
}

static void deliver_done(void *arg)
{
    struct lmtp *s = arg;
    line_session_enter(&s->ls);
    s->ls.job_running = false;
    if (!s->ls.ending) {
        for (size_t i = 0; i < s->rcpt_count; i++) {
            const struct lmtp_rcpt *r = &s->rcpts[i];
            if (r->result.state == LOCAL_DELIVERED) {
                lmtp_reply(s, 250, SMTP_ESC_OTHER, "<%s> delivered as %s", r->address, s->tx_id);
                continue;
            }
            log_info("id=%s event=not_delivered rcpt=<%s> reply=\"%s\"", s->tx_id, r->address,
                     r->result.reply);
            lmtp_reply(s, delivery_status_reply_code(r->result.status), SMTP_ESC_NONE, "%s",
                       r->result.reply);
        }
        lmtp_transaction_reset(s);
        lmtp_wait_end(s, ST_READY);
    }
    line_session_leave(&s->ls);
}

/* message_end - the message is complete (final: the replies are per
 * recipient), or a BDAT chunk before the last found it refused already
 * (not final: one reply for that chunk). Refuse it, or deliver it. */
static void message_end(struct lmtp *s, bool final)
{
    enum smtp_data_verdict v =
        smtp_wire_finish(&s->ls, s->ss->config->limits.line_length, &s->data);
    if (v != SMTP_DATA_OK) {
        log_info("id=%s event=message_refused client=%s reason=%s size=%llu", s->tx_id,
                 s->ss->client_ip, smtp_data_verdict_name(v), (unsigned long long)s->data.size);
        if (final)
            reply_each(s, smtp_reply_data_error(v));
        else
            lmtp_reply_fixed(s, smtp_reply_data_error(v));
        lmtp_transaction_reset(s);
        s->state = ST_READY;
        return;
    }
    log_info("id=%s event=message client=%s sender=<%s> rcpts=%zu size=%llu", s->tx_id,
             s->ss->client_ip, s->sender, s->rcpt_count, (unsigned long long)s->data.size);
    if (threadpool_submit(s->shared->pool, deliver_work, deliver_done, s) < 0) {
        reply_each(s, smtp_reply_tempfail(SMTP_TEMPFAIL_MEMORY));
        lmtp_transaction_reset(s);
        s->state = ST_READY;
        return;
    }
    s->ls.job_running = true;
    line_session_wait_begin(&s->ls);
}

void lmtp_data_line(struct lmtp *s, enum conn_result r, const struct conn_line *line)
{
    if (r == CONN_TOO_LONG)
        smtp_data_line_too_long(&s->data);
    else if (smtp_data_line(&s->data, line->data, line->len, line->bare_lf, line->bare_cr))
        message_end(s, true);
}

void lmtp_cmd_bdat(struct lmtp *s, struct smtp_command *cmd)
{
    s->bdat_left = cmd->chunk_size;
    s->bdat_last = cmd->last;
    s->bdat_refusal = NULL;
    bool open = s->state == ST_BDAT_OPEN;
    if (s->state != ST_MAIL && s->state != ST_RCPT && !open)
        s->bdat_refusal = smtp_reply_transfer(SMTP_TRANSFER_BAD_SEQUENCE);
    else if (s->state == ST_MAIL)
        s->bdat_refusal = smtp_reply_transfer(SMTP_TRANSFER_NO_RECIPIENTS);
    else if (!open && message_begin(s) < 0)
        s->bdat_refusal = smtp_reply_tempfail(SMTP_TEMPFAIL_QUEUE);
    s->state = ST_BDAT;
    conn_transfer_begin(s->conn);
}

bool lmtp_bdat_read(struct lmtp *s)
{
    if (!smtp_wire_bdat_read(&s->ls, &s->bdat_left, &s->data, s->bdat_refusal != NULL))
        return false;
    if (s->bdat_refusal != NULL) {
        /* a refused chunk ends its transaction; a refused BDAT LAST with
         * recipients is answered once per recipient (RFC 2033 4.2), any
         * other chunk once */
        if (s->bdat_last && s->rcpt_count > 0)
            reply_each(s, s->bdat_refusal);
        else
            lmtp_reply_fixed(s, s->bdat_refusal);
        bool greeted = s->helo[0] != '\0';
        lmtp_transaction_reset(s);
        s->state = greeted ? ST_READY : ST_GREETED;
        return true;
    }
    if (s->bdat_last) {
        smtp_data_chunk(&s->data, "", 0, true);
        message_end(s, true);
        return !s->ls.waiting;
    }
    if (s->data.verdict != SMTP_DATA_OK) {
        /* refused already (too big, bare CR/LF): say so now, once */
        message_end(s, false);
        return true;
    }
    lmtp_reply(s, 250, SMTP_ESC_OTHER, "%llu octets received", (unsigned long long)s->data.size);
    s->state = ST_BDAT_OPEN;
    return true;
}
