/* gateway/transport_smtp_mail.c - one message on a connection of the SMTP
 * transport (transport_smtp_conn_internal.h): the size and 8-bit checks
 * before MAIL, MAIL, RCPTs and DATA (pipelined when offered, RFC 2920 3.1),
 * each reply classified for its recipients, the text streamed from the
 * spool through smtp_client_dot_encode, and the final reply (LMTP: one per
 * accepted recipient, RFC 2033 4.2). The
 * connection's own steps (connecting, EHLO, TLS, idle, QUIT) are in
 * transport_smtp_conn.c. */
#include "config.h"

#include "gateway/transport_smtp_conn_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/conn.h"
#include "lib/event.h"
#include "lib/log.h"
#include "lib/mime_7bit.h"
#include "proto/delivery_status.h"
#include "proto/smtp_client.h"

/* rcpt_peer_result - recipient k of the job ends with a peer's reply. */
static void rcpt_peer_result(struct smtp_conn *c, size_t k, const struct smtp_client_reply *r,
                             const char *command)
{
    struct transport_rcpt *rcpt = &c->job->rcpts[k];
    char said[DELIVERY_STATUS_TEXT_MAX];
    smtp_client_reply_describe(r, said, sizeof said);
    if (r->code / 100 == 2) {
        rcpt->state = QUEUE_RCPT_DELIVERED;
        rcpt->reply[0] = '\0';
        return;
    }
    bool permanent = r->code / 100 == 5;
    rcpt->state = permanent ? QUEUE_RCPT_FAILED : QUEUE_RCPT_DEFERRED;
    delivery_status_format_peer(rcpt->reply, sizeof rcpt->reply, permanent, r->esc, c->peer, said,
                                command);
}

static void rcpt_command(const struct smtp_conn *c, size_t k, char *out, size_t size)
{
    const struct queue_envelope *env = c->job->env;
    const struct queue_recipient *rc = &env->rcpts[c->job->rcpts[k].index];
    char notify[40] = "";
    if (c->caps.dsn && rc->notify != 0) {
        if (rc->notify & QUEUE_NOTIFY_NEVER) {
            snprintf(notify, sizeof notify, "NEVER");
        } else {
            snprintf(notify, sizeof notify, "%s%s%s",
                     rc->notify & QUEUE_NOTIFY_SUCCESS ? "SUCCESS," : "",
                     rc->notify & QUEUE_NOTIFY_FAILURE ? "FAILURE," : "",
                     rc->notify & QUEUE_NOTIFY_DELAY ? "DELAY," : "");
            size_t n = strlen(notify);
            if (n > 0)
                notify[n - 1] = '\0';
        }
    }
    if (smtp_client_rcpt_command(out, size, rc->address, notify[0] != '\0' ? notify : NULL,
                                 c->caps.dsn ? rc->orcpt : NULL) < 0)
        snprintf(out, size, "RCPT TO:<%s>\r\n", rc->address);
}

/* send_next - send the transaction's next command (all of them when the
 * peer pipelines, RFC 2920 3.1: MAIL, RCPTs and DATA in one group). */
static void send_next(struct smtp_conn *c)
{
    /* with CHUNKING no DATA: the BDAT goes once the RCPTs are answered */
    size_t total = c->job->count + (c->chunking ? 1 : 2);
    char line[1200];
    while (c->sent < total) {
        size_t i = c->sent++;
        if (i == 0) {
            const struct queue_envelope *env = c->job->env;
            const char *ret = !c->caps.dsn                 ? NULL
                              : env->ret == QUEUE_RET_FULL ? "FULL"
                              : env->ret == QUEUE_RET_HDRS ? "HDRS"
                                                           : NULL;
            if (smtp_client_mail_command(
                    line, sizeof line, env->sender, c->caps.size ? c->body_len : 0,
                    c->eightbit && c->caps.eightbit, c->utf8 && c->caps.smtputf8, ret,
                    c->caps.dsn ? env->envid : NULL) < 0) {
                snprintf(line, sizeof line, "MAIL FROM:<%s>\r\n", env->sender);
            }
        } else if (i <= c->job->count) {
            rcpt_command(c, i - 1, line, sizeof line);
        } else {
            snprintf(line, sizeof line, "DATA\r\n");
        }
        conn_write(c->conn, line, strlen(line));
        if (!c->caps.pipelining)
            break;
    }
    if (conn_flush(c->conn) == CONN_ERROR)
        smtp_conn_lost(c, "lost connection");
}

/* open_body - the message's text from the spool, its size and whether it
 * has 8-bit octets. 0, or -1 with the job ended. */
static int open_body(struct smtp_conn *c)
{
    char *error = NULL;
    int fd = -1;
    uint64_t len = 0;
    if (queue_open_message(c->job->queue, c->job->id, &fd, &len, &error) < 0) {
        smtp_conn_job_end(c, DELIVERY_STATUS_MESSAGE_UNREADABLE,
                          error != NULL ? error : "out of memory");
        free(error);
        return -1;
    }
    c->body_fd = fd;
    c->body_len = len;
    c->eightbit = false;
    c->hops = (struct smtp_client_hops){0};
    char buf[BODY_CHUNK];
    ssize_t n;
    off_t off = 0;
    while ((!c->eightbit || !c->hops.done) && (uint64_t)off < len &&
           (n = pread(fd, buf, len - (uint64_t)off < sizeof buf ? len - (uint64_t)off : sizeof buf,
                      off)) > 0) {
        if (!c->eightbit)
            c->eightbit = smtp_client_has_8bit(buf, (size_t)n);
        smtp_client_hops_feed(&c->hops, buf, (size_t)n);
        off += n;
    }
    c->body_off = 0;
    return 0;
}

/* make_7bit - the message, 8-bit, to a peer that did not offer 8BITMIME:
 * RFC 6152 3 forbids sending it as it is, so it is converted to
 * quoted-printable (lib/mime_7bit.h) into a memory file that replaces the
 * spool's for this transaction; the spool keeps the original. true, or
 * false with the job ended: 5.6.3 when it cannot be converted, deferred
 * when the conversion itself failed. */
static bool make_7bit(struct smtp_conn *c)
{
    const char *why = NULL;
    char arg[DELIVERY_STATUS_TEXT_MAX];
    int fd = memfd_create("dirmail-7bit", MFD_CLOEXEC);
    enum mime_7bit_result r =
        fd < 0 ? MIME_7BIT_ERROR : mime_7bit_convert(c->body_fd, c->body_len, fd, &why);
    struct stat st;
    if (r == MIME_7BIT_CONVERTED && fstat(fd, &st) == 0) {
        log_info("id=%s event=converted_7bit relay=%s octets=%llu converted=%llu", c->job->id,
                 c->peer, (unsigned long long)c->body_len, (unsigned long long)st.st_size);
        close(c->body_fd);
        c->body_fd = fd;
        c->body_len = (uint64_t)st.st_size;
        c->eightbit = false;
        return true;
    }
    if (fd >= 0)
        close(fd);
    if (r == MIME_7BIT_REFUSED) {
        snprintf(arg, sizeof arg, "%s (%s)", c->peer, why);
        smtp_conn_job_end(c, DELIVERY_STATUS_8BIT_TO_7BIT, arg);
    } else {
        snprintf(arg, sizeof arg, "%s", why != NULL ? why : strerror(errno));
        smtp_conn_job_end(c, DELIVERY_STATUS_7BIT_FAILED, arg);
    }
    return false;
}

/* bdat_length - the octets the text takes as one BDAT chunk: it is made
 * CRLF on the way (smtp_client_bdat_init), so the spool's length is not it,
 * and BDAT names its length before the text (RFC 3030 2). One more read of
 * the file, from the page cache, buys a single chunk and a single reply.
 * true, or false with the job ended. */
static bool bdat_length(struct smtp_conn *c)
{
    char in[BODY_CHUNK], out[2 * BODY_CHUNK + 8];
    struct smtp_client_dot d;
    smtp_client_bdat_init(&d);
    uint64_t off = 0, total = 0;
    while (off < c->body_len) {
        uint64_t left = c->body_len - off;
        ssize_t n = pread(c->body_fd, in, left < sizeof in ? left : sizeof in, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            char arg[200];
            snprintf(arg, sizeof arg, "%s", n < 0 ? strerror(errno) : "shorter than its size");
            smtp_conn_job_end(c, DELIVERY_STATUS_MESSAGE_UNREADABLE, arg);
            return false;
        }
        total += smtp_client_dot_encode(&d, in, (size_t)n, out);
        off += (uint64_t)n;
    }
    c->bdat_len = total + smtp_client_dot_end(&d, out);
    return true;
}

/* start_bdat - every RCPT is answered and one was taken: the text as one
 * BDAT LAST chunk; its reply (LMTP: one per accepted recipient) is the
 * final one. */
static void start_bdat(struct smtp_conn *c)
{
    char line[64];
    smtp_client_bdat_command(line, sizeof line, c->bdat_len, true);
    smtp_client_bdat_init(&c->dot);
    conn_write(c->conn, line, strlen(line));
    smtp_conn_wait_for(c, STEP_BODY, c->s->conf->data_timeout);
    smtp_conn_send_body(c);
}

/* needs_smtputf8 - the transaction has a non-ASCII address (RFC 6531
 * 3.2): the sender or one of the job's recipients. A UTF-8 header with
 * ASCII addresses does not count: 8BITMIME carries it. */
static bool needs_smtputf8(const struct transport_job *job)
{
    const struct queue_envelope *env = job->env;
    if (smtp_client_has_8bit(env->sender, strlen(env->sender)))
        return true;
    for (size_t k = 0; k < job->count; k++) {
        const char *a = env->rcpts[job->rcpts[k].index].address;
        if (smtp_client_has_8bit(a, strlen(a)))
            return true;
    }
    return false;
}

void smtp_conn_send(struct smtp_conn *c, struct transport_job *job)
{
    event_timer_remove(&c->timer);
    c->job = job;
    c->sent = c->answered = c->final_answered = 0;
    c->accepted_count = 0;
    memset(c->accepted, 0, sizeof c->accepted);
    c->mail_ok = c->data_ok = false;
    if (open_body(c) < 0) {
        smtp_conn_go_idle(c);
        return;
    }
    /* before SIZE: the converted message is what is sent and counted */
    if (c->eightbit && !c->caps.eightbit && !make_7bit(c)) {
        smtp_conn_go_idle(c);
        return;
    }
    if (c->caps.size && c->caps.size_max > 0 && c->body_len > c->caps.size_max) {
        char arg[400];
        if (snprintf(arg, sizeof arg, "%llu octets, %s takes %llu", (unsigned long long)c->body_len,
                     c->peer, (unsigned long long)c->caps.size_max) < 0)
            arg[0] = '\0';
        smtp_conn_job_end(c, DELIVERY_STATUS_TOO_BIG_FOR_PEER, arg);
        smtp_conn_go_idle(c);
        return;
    }
    if (c->hops.count > c->s->conf->hop_limit) {
        char arg[32];
        snprintf(arg, sizeof arg, "%u", c->hops.count);
        smtp_conn_job_end(c, DELIVERY_STATUS_TOO_MANY_HOPS, arg);
        smtp_conn_go_idle(c);
        return;
    }
    c->utf8 = needs_smtputf8(job);
    if (c->utf8 && !c->caps.smtputf8) {
        smtp_conn_job_end(c, DELIVERY_STATUS_UTF8_TO_ASCII, c->peer);
        smtp_conn_go_idle(c);
        return;
    }
    c->chunking = c->caps.chunking;
    if (c->chunking && !bdat_length(c)) {
        smtp_conn_go_idle(c);
        return;
    }
    c->need_rset = true; /* until the final reply */
    smtp_conn_wait_for(c, STEP_MAIL, c->s->conf->mail_timeout);
    send_next(c);
}

/* send_body - as much text as the connection takes now; then the dot. */
void smtp_conn_send_body(struct smtp_conn *c)
{
    char in[BODY_CHUNK], out[2 * BODY_CHUNK + 8];
    for (;;) {
        uint64_t left = c->body_len - c->body_off;
        ssize_t n = left == 0 ? 0
                              : pread(c->body_fd, in, left < sizeof in ? left : sizeof in,
                                      (off_t)c->body_off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            char arg[200];
            snprintf(arg, sizeof arg, "%s", strerror(errno));
            /* the peer must not take a cut message: drop the connection */
            smtp_conn_job_end(c, DELIVERY_STATUS_MESSAGE_UNREADABLE, arg);
            smtp_conn_finish(c, NULL);
            return;
        }
        size_t o;
        if (n == 0) {
            o = smtp_client_dot_end(&c->dot, out);
            conn_write(c->conn, out, o);
            smtp_conn_wait_for(c, STEP_DOT, c->s->conf->data_done_timeout);
            if (conn_flush(c->conn) == CONN_ERROR)
                smtp_conn_lost(c, "lost connection");
            return;
        }
        c->body_off += (uint64_t)n;
        o = smtp_client_dot_encode(&c->dot, in, (size_t)n, out);
        conn_write(c->conn, out, o);
        smtp_conn_arm(c, c->s->conf->data_timeout);
        enum conn_result r = conn_flush(c->conn);
        if (r == CONN_ERROR) {
            smtp_conn_lost(c, "lost connection");
            return;
        }
        if (r == CONN_AGAIN)
            return; /* on CONN_EVENT_FLUSHED */
    }
}

/* on_transaction_reply - the reply to command number c->answered. */
void smtp_conn_transaction_reply(struct smtp_conn *c)
{
    size_t i = c->answered++, n = c->job->count;
    const struct smtp_client_reply *r = &c->reply;
    if (i == 0) {
        c->mail_ok = r->code / 100 == 2;
        if (!c->mail_ok) {
            for (size_t k = 0; k < n; k++)
                rcpt_peer_result(c, k, r, "MAIL FROM");
        }
    } else if (i <= n) {
        if (c->mail_ok) {
            if (r->code / 100 == 2) {
                c->accepted[i - 1] = true;
                c->accepted_count++;
            } else {
                rcpt_peer_result(c, i - 1, r, "RCPT TO");
            }
        }
    } else {
        c->data_ok = r->code == 354;
        if (c->data_ok && c->accepted_count > 0) {
            smtp_client_dot_init(&c->dot);
            smtp_conn_wait_for(c, STEP_BODY, c->s->conf->data_timeout);
            smtp_conn_send_body(c);
            return;
        }
        if (c->data_ok) {
            /* every RCPT refused, DATA taken anyway (pipelined, RFC 2920
             * 3.1): send no text, just end it */
            smtp_conn_wait_for(c, STEP_DOT, c->s->conf->data_done_timeout);
            c->accepted_count = 0;
            smtp_conn_send_line(c, ".\r\n");
            return;
        }
        for (size_t k = 0; k < n && c->mail_ok; k++) {
            if (c->accepted[k])
                rcpt_peer_result(c, k, r, "DATA");
        }
        smtp_conn_job_end(c, DELIVERY_STATUS_DELIVERY_FAILED, "no reply");
        smtp_conn_go_idle(c);
        return;
    }
    /* Without pipelining, stop at the first command that makes the rest
     * pointless: a refused MAIL, or DATA with no recipient. */
    bool pointless = !c->mail_ok || (c->answered == n + 1 && c->accepted_count == 0);
    if (c->answered == c->sent && pointless) {
        smtp_conn_job_end(c, DELIVERY_STATUS_DELIVERY_FAILED, "no reply");
        smtp_conn_go_idle(c);
        return;
    }
    if (c->chunking && c->answered == n + 1) {
        start_bdat(c);
        return;
    }
    if (c->answered == c->sent) {
        unsigned t = c->answered <= n ? c->s->conf->rcpt_timeout : c->s->conf->data_timeout;
        smtp_conn_wait_for(c, STEP_MAIL, t);
        send_next(c);
    } else {
        smtp_client_reply_reset(&c->reply);
    }
}

/* log_relayed - recipient k was taken by the peer with reply r. */
static void log_relayed(const struct smtp_conn *c, size_t k, const struct smtp_client_reply *r)
{
    char said[DELIVERY_STATUS_TEXT_MAX], quoted[600], qsaid[600];
    smtp_client_reply_describe(r, said, sizeof said);
    log_info("id=%s event=relayed rcpt=%s relay=%s protocol=%s tls=%s reply=%s body=%s", c->job->id,
             log_quote(quoted, sizeof quoted, c->job->env->rcpts[c->job->rcpts[k].index].address),
             c->peer, smtp_client_protocol_name(c->protocol),
             c->conn != NULL && conn_tls_active(c->conn) ? conn_tls_version(c->conn) : "no",
             log_quote(qsaid, sizeof qsaid, said), c->chunking ? "bdat" : "data");
}

/* nth_accepted - the job's recipient whose RCPT was the n-th accepted
 * (from 0), or the job's count when there is none. */
static size_t nth_accepted(const struct smtp_conn *c, size_t n)
{
    for (size_t k = 0; k < c->job->count; k++) {
        if (c->accepted[k] && n-- == 0)
            return k;
    }
    return c->job->count;
}

void smtp_conn_final_reply(struct smtp_conn *c)
{
    const struct smtp_client_reply *r = &c->reply;
    if (c->protocol == SMTP_CLIENT_LMTP) {
        /* RFC 2033 4.2: one reply per accepted recipient, in RCPT order;
         * each decides its own recipient. A connection lost before the
         * last leaves the rest pending: deferred, those answered kept. */
        size_t k = nth_accepted(c, c->final_answered++);
        if (k < c->job->count) {
            rcpt_peer_result(c, k, r, "end of data");
            if (r->code / 100 == 2)
                log_relayed(c, k, r);
        }
        if (c->final_answered < smtp_client_final_replies(c->protocol, c->accepted_count)) {
            smtp_conn_wait_for(c, STEP_DOT, c->s->conf->data_done_timeout);
            return;
        }
    } else {
        for (size_t k = 0; k < c->job->count; k++) {
            if (c->accepted[k]) {
                rcpt_peer_result(c, k, r, "end of data");
                if (r->code / 100 == 2)
                    log_relayed(c, k, r);
            }
        }
    }
    c->need_rset = false;
    smtp_conn_job_end(c, DELIVERY_STATUS_DELIVERY_FAILED, "no reply");
    smtp_conn_go_idle(c);
}
