/* reader/pop3_transaction.c - the maildrop half of a POP3 session (see
 * pop3_internal.h): opening it after a login, the TRANSACTION commands, the
 * RETR/TOP stream and QUIT's UPDATE.
 *
 * Opening a maildrop (the lock, a scan of new/ and cur/, the index read and
 * perhaps written) and UPDATE's unlinks and maildirsize appends block on the
 * file system, so they run on the worker's thread pool, as the SASL steps
 * do, and their answers are written on the loop; the session waits with its
 * input paused, and one that ends meanwhile is freed only after the job.
 * RETR and TOP stream the message file chunk by chunk, refilling while the
 * socket takes it, so a large message is never held in memory; each read is
 * of a file already open, from the page cache in the common case. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/conn.h"
#include "lib/log.h"
#include "lib/threadpool.h"
#include "reader/pop3_internal.h"

/* RETR/TOP: one read of the file, and how much output may wait unsent. */
#define STREAM_CHUNK 16384
#define STREAM_QUEUE_MAX (4 * STREAM_CHUNK)

/* ---- opening the maildrop ---- */

static void open_work(void *arg)
{
    struct pop3 *p = arg;
    p->job.result = pop3_maildrop_open(p->ss->config->delivery.mailbox_base, p->job.mailbox,
                                       p->ss->hostname, &p->job.md, &p->job.error);
}

/* open_reply - the maildrop's state as the answer to the login. */
static enum pop3_reply open_reply(enum pop3_maildrop_result r)
{
    switch (r) {
    case POP3_MAILDROP_OK:
        return POP3_REPLY_LOGGED_IN;
    case POP3_MAILDROP_IN_USE:
        return POP3_REPLY_IN_USE;
    case POP3_MAILDROP_UNSAFE:
        return POP3_REPLY_MAILBOX_UNSAFE;
    case POP3_MAILDROP_TEMPFAIL:
        break;
    }
    return POP3_REPLY_MAILBOX_TEMPFAIL;
}

static void open_done(void *arg)
{
    struct pop3 *p = arg;
    line_session_enter(&p->ls);
    p->ls.job_running = false;
    free(p->job.mailbox);
    p->job.mailbox = NULL;
    p->md = p->job.md; /* if the session ended meanwhile, its end closes it */
    p->job.md = NULL;
    enum pop3_maildrop_result r = p->job.result;
    if (r != POP3_MAILDROP_OK)
        log_info("event=pop3_maildrop_failed client=%s user=%s error=\"%s\"", p->ss->client_ip,
                 p->login, p->job.error != NULL ? p->job.error : "in use");
    free(p->job.error);
    p->job.error = NULL;
    if (p->ls.ending) {
        line_session_leave(&p->ls);
        return;
    }
    if (r == POP3_MAILDROP_OK) {
        size_t count;
        uint64_t octets;
        pop3_maildrop_stat(p->md, &count, &octets);
        log_info("event=pop3_login client=%s user=%s messages=%zu", p->ss->client_ip, p->login,
                 count);
        conn_printf(p->conn, "+OK Logged in, %zu messages (%llu octets)\r\n", count,
                    (unsigned long long)octets);
        pop3_session_wait_end(p, ST_TRANSACTION);
    } else {
        free(p->login);
        p->login = NULL;
        pop3_session_reply(p, open_reply(r));
        pop3_session_wait_end(p, ST_AUTHORIZATION);
    }
    line_session_leave(&p->ls);
}

void pop3_transaction_open(struct pop3 *p, const char *mailbox)
{
    p->job = (struct pop3_job){.mailbox = strdup(mailbox)};
    if (p->job.mailbox != NULL &&
        threadpool_submit(pop3_session_pool(), open_work, open_done, p) == 0) {
        p->ls.job_running = true;
        return;
    }
    free(p->job.mailbox);
    p->job.mailbox = NULL;
    free(p->login);
    p->login = NULL;
    pop3_session_reply(p, POP3_REPLY_MAILBOX_TEMPFAIL);
    pop3_session_wait_end(p, ST_AUTHORIZATION);
}

/* ---- TRANSACTION ---- */

/* usable - message n may be used now; otherwise its -ERR is queued. */
static bool usable(struct pop3 *p, unsigned long n)
{
    switch (pop3_maildrop_msg(p->md, n)) {
    case POP3_MSG_OK:
        return true;
    case POP3_MSG_DELETED:
        pop3_session_reply(p, POP3_REPLY_ALREADY_DELETED);
        return false;
    case POP3_MSG_NO_SUCH:
        break;
    }
    pop3_session_reply(p, POP3_REPLY_NO_SUCH_MESSAGE);
    return false;
}

void pop3_transaction_stat(struct pop3 *p, struct pop3_command *cmd)
{
    (void)cmd;
    size_t count;
    uint64_t octets;
    pop3_maildrop_stat(p->md, &count, &octets);
    conn_printf(p->conn, "+OK %zu %llu\r\n", count, (unsigned long long)octets);
}

void pop3_transaction_list(struct pop3 *p, struct pop3_command *cmd)
{
    if (cmd->argc > 0) {
        if (usable(p, cmd->msg))
            conn_printf(p->conn, "+OK %lu %llu\r\n", cmd->msg,
                        (unsigned long long)pop3_maildrop_size(p->md, cmd->msg));
        return;
    }
    pop3_transaction_stat(p, cmd);
    for (size_t n = 1; n <= pop3_maildrop_count(p->md); n++) {
        if (pop3_maildrop_msg(p->md, n) == POP3_MSG_OK)
            conn_printf(p->conn, "%zu %llu\r\n", n,
                        (unsigned long long)pop3_maildrop_size(p->md, n));
    }
    conn_printf(p->conn, ".\r\n");
}

void pop3_transaction_uidl(struct pop3 *p, struct pop3_command *cmd)
{
    char uid[POP3_UIDL_MAX + 1];
    if (cmd->argc > 0) {
        if (usable(p, cmd->msg)) {
            pop3_maildrop_uidl(p->md, cmd->msg, uid);
            conn_printf(p->conn, "+OK %lu %s\r\n", cmd->msg, uid);
        }
        return;
    }
    pop3_session_reply(p, POP3_REPLY_OK);
    for (size_t n = 1; n <= pop3_maildrop_count(p->md); n++) {
        if (pop3_maildrop_msg(p->md, n) != POP3_MSG_OK)
            continue;
        pop3_maildrop_uidl(p->md, n, uid);
        conn_printf(p->conn, "%zu %s\r\n", n, uid);
    }
    conn_printf(p->conn, ".\r\n");
}

void pop3_transaction_dele(struct pop3 *p, struct pop3_command *cmd)
{
    if (!usable(p, cmd->msg))
        return;
    pop3_maildrop_delete(p->md, cmd->msg);
    pop3_session_reply(p, POP3_REPLY_DELETED);
}

void pop3_transaction_rset(struct pop3 *p, struct pop3_command *cmd)
{
    pop3_maildrop_reset(p->md);
    pop3_transaction_stat(p, cmd);
}

bool pop3_transaction_stream(struct pop3 *p)
{
    char in[STREAM_CHUNK];
    char out[POP3_STREAM_OUT_MAX(STREAM_CHUNK)];
    for (;;) {
        if (conn_output_pending(p->conn) >= STREAM_QUEUE_MAX) {
            enum conn_result r = conn_flush(p->conn);
            if (r == CONN_AGAIN)
                return false;
            if (r == CONN_ERROR) {
                line_session_end(&p->ls);
                return false;
            }
        }
        ssize_t n = read(p->msg_fd, in, sizeof in);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            /* the +OK is out: all that is left is to close (RFC 1939 gives
             * no way to fail a multi-line response halfway) */
            log_error("event=pop3_read_failed client=%s user=%s error=\"%s\"", p->ss->client_ip,
                      p->login, strerror(errno));
            line_session_end(&p->ls);
            return false;
        }
        if (n == 0) {
            size_t o = pop3_stream_finish(&p->stream, out);
            conn_write(p->conn, out, o);
            close(p->msg_fd);
            p->msg_fd = -1;
            p->state = ST_TRANSACTION;
            conn_set_input_paused(p->conn, false);
            return true;
        }
        size_t o = pop3_stream_feed(&p->stream, in, (size_t)n, out);
        conn_write(p->conn, out, o);
    }
}

/* send_message - RETR (whole) and TOP (limited). */
static void send_message(struct pop3 *p, unsigned long n, bool limited, unsigned long lines)
{
    if (!usable(p, n))
        return;
    char *err = NULL;
    switch (pop3_maildrop_open_msg(p->md, n, &p->msg_fd, &err)) {
    case MAILBOX_OK:
        break;
    case MAILBOX_GONE:
    case MAILBOX_MISSING:
        free(err);
        p->msg_fd = -1;
        pop3_session_reply(p, POP3_REPLY_MESSAGE_GONE);
        return;
    case MAILBOX_TEMPFAIL:
        log_error("event=pop3_open_failed client=%s user=%s error=\"%s\"", p->ss->client_ip,
                  p->login, err != NULL ? err : "?");
        free(err);
        p->msg_fd = -1;
        pop3_session_reply(p, POP3_REPLY_MESSAGE_TEMPFAIL);
        return;
    }
    if (limited)
        pop3_session_reply(p, POP3_REPLY_FOLLOWS);
    else
        conn_printf(p->conn, "+OK %llu octets\r\n",
                    (unsigned long long)pop3_maildrop_size(p->md, n));
    pop3_stream_init(&p->stream, limited, lines);
    p->state = ST_SENDING;
    conn_set_input_paused(p->conn, true);
    pop3_transaction_stream(p);
}

void pop3_transaction_retr(struct pop3 *p, struct pop3_command *cmd)
{
    send_message(p, cmd->msg, false, 0);
}

void pop3_transaction_top(struct pop3 *p, struct pop3_command *cmd)
{
    send_message(p, cmd->msg, true, cmd->lines);
}

/* ---- UPDATE ---- */

static void update_work(void *arg)
{
    struct pop3 *p = arg;
    pop3_maildrop_update(p->md, &p->job.removed, &p->job.failed);
}

static void update_done(void *arg)
{
    struct pop3 *p = arg;
    line_session_enter(&p->ls);
    p->ls.job_running = false;
    log_info("event=pop3_update client=%s user=%s removed=%zu failed=%zu", p->ss->client_ip,
             p->login, p->job.removed, p->job.failed);
    /* the deletions are done even if the client left before hearing so */
    if (!p->ls.ending)
        pop3_session_close_with(p, p->job.failed > 0 ? POP3_REPLY_UPDATE_FAILED : POP3_REPLY_BYE);
    line_session_leave(&p->ls);
}

void pop3_transaction_quit(struct pop3 *p)
{
    /* RFC 1939 6: UPDATE removes what DELE marked */
    p->state = ST_UPDATE;
    conn_set_input_paused(p->conn, true);
    p->job.removed = p->job.failed = 0;
    if (threadpool_submit(pop3_session_pool(), update_work, update_done, p) == 0) {
        p->ls.job_running = true;
        return;
    }
    /* no memory for the job: do it here rather than lose the QUIT */
    update_work(p);
    update_done(p);
}
