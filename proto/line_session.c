/* proto/line_session.c - see line_session.h.
 *
 * The conn is level triggered: a handler that returns with input unread is
 * called again, so a session that cannot take input now pauses it (waiting,
 * closing) rather than leaving it. A session is freed only from the
 * outermost frame (depth 0) and only when no pool job or SASL step still
 * points at it: line_session_end inside a callback only marks it. */
#include "config.h"

#include "proto/line_session.h"

#include <stdio.h>

#include "lib/log.h"
#include "proto/sasl_exchange.h"

static bool held(const struct line_session *ls)
{
    return ls->job_running || (ls->sx != NULL && sasl_exchange_busy(ls->sx));
}

/* really_end - free the protocol's session, then hand ss back. */
static void really_end(struct line_session *ls)
{
    struct service_session *ss = ls->ss;
    log_info("%sevent=disconnect service=%s client=%s", ls->log_id, ss->service->name,
             ss->client_ip);
    ls->hooks->free(ls->ctx); /* ls is part of it */
    ss->protocol = NULL;
    conn_free(&ss->conn);
    ss->finished(ss);
}

struct service_session *line_session_hand_over(struct line_session *ls)
{
    struct service_session *ss = ls->ss;
    conn_set_input_paused(ls->conn, true);
    ls->hooks->free(ls->ctx); /* ls is part of it */
    ss->protocol = NULL;
    return ss;
}

void line_session_end(struct line_session *ls)
{
    if (!ls->ending) {
        ls->ending = true;
        ls->closing = true;
        conn_set_input_paused(ls->conn, true);
    }
    if (ls->depth == 0 && !held(ls))
        really_end(ls);
}

void line_session_enter(struct line_session *ls)
{
    ls->depth++;
}

void line_session_leave(struct line_session *ls)
{
    if (--ls->depth == 0 && ls->ending && !held(ls))
        really_end(ls);
}

void line_session_flush(struct line_session *ls)
{
    if (conn_flush(ls->conn) == CONN_ERROR)
        line_session_end(ls);
}

void line_session_close(struct line_session *ls)
{
    ls->closing = true;
    conn_set_input_paused(ls->conn, true);
    if (conn_flush(ls->conn) != CONN_AGAIN)
        line_session_end(ls);
}

void line_session_wait_begin(struct line_session *ls)
{
    ls->waiting = true;
    conn_set_input_paused(ls->conn, true);
    line_session_flush(ls);
}

void line_session_wait_end(struct line_session *ls)
{
    ls->waiting = false;
    conn_set_input_paused(ls->conn, false);
    line_session_read(ls);
}

void line_session_read(struct line_session *ls)
{
    const struct line_session_hooks *h = ls->hooks;
    for (;;) {
        if (ls->waiting || ls->closing)
            return;
        enum line_input in = h->input(ls->ctx);
        if (in == LINE_INPUT_NONE)
            return;
        /* The limits.errors-th error reply is followed by the last words
         * at once: nothing more the client pipelined is read. */
        if (ls->errors >= ls->ss->config->limits.errors) {
            log_info("%sevent=too_many_errors client=%s errors=%u", ls->log_id, ls->ss->client_ip,
                     ls->errors);
            h->too_many_errors(ls->ctx);
            return;
        }
        if (in == LINE_INPUT_BYTES) {
            if (!h->bytes(ls->ctx))
                return;
            continue;
        }
        struct conn_line line;
        enum conn_result r = conn_read_line(ls->conn, &line);
        if (r == CONN_AGAIN) {
            line_session_flush(ls);
            return;
        }
        if (r == CONN_EOF || r == CONN_ERROR) {
            if (r == CONN_ERROR)
                log_info("%sevent=conn_error client=%s error=\"%s\"", ls->log_id, ls->ss->client_ip,
                         conn_error(ls->conn));
            line_session_end(ls);
            return;
        }
        h->line(ls->ctx, r, &line);
    }
}

static void handle_event(struct line_session *ls, enum conn_event event)
{
    switch (event) {
    case CONN_EVENT_TIMEOUT:
        ls->hooks->timeout(ls->ctx);
        return;
    case CONN_EVENT_FLUSHED:
        if (ls->closing)
            line_session_end(ls);
        else if (ls->hooks->flushed != NULL)
            ls->hooks->flushed(ls->ctx);
        return;
    case CONN_EVENT_INPUT:
        if (ls->closing) {
            conn_set_input_paused(ls->conn, true);
            return;
        }
        if (ls->hooks->early_input != NULL && ls->hooks->early_input(ls->ctx))
            return;
        line_session_read(ls);
        return;
    }
}

static void handler(struct conn *conn, enum conn_event event, void *arg)
{
    struct line_session *ls = arg;
    (void)conn;
    line_session_enter(ls);
    handle_event(ls, event);
    line_session_leave(ls);
}

int line_session_start(struct line_session *ls, struct service_session *ss,
                       const struct line_session_hooks *hooks, void *ctx, const char *log_id,
                       size_t line_limit)
{
    ls->ss = ss;
    ls->conn = ss->conn;
    ls->hooks = hooks;
    ls->ctx = ctx;
    if (log_id != NULL)
        snprintf(ls->log_id, sizeof ls->log_id, "id=%s ", log_id);
    ss->protocol = ctx;
    if (config_service_implicit_tls(ss->service->type)) {
        if (service_tls_begin(ss) < 0) {
            /* no session yet to say goodbye to: no disconnect line */
            hooks->free(ctx);
            ss->protocol = NULL;
            conn_free(&ss->conn);
            ss->finished(ss);
            return -1;
        }
        ls->tls = true;
    }
    if (conn_attach(ls->conn, ss->loop, handler, ls) < 0) {
        line_session_end(ls);
        return -1;
    }
    if (line_limit != 0)
        conn_set_line_limit(ls->conn, line_limit);
    conn_set_deadlines(ls->conn, ss->deadlines, ss->service->session_timeout * 1000ull);
    return 0;
}

int line_session_starttls(struct line_session *ls, const char *event)
{
    /* The reply must be out before the handshake; a client waits for it,
     * so the socket buffer takes it at once. */
    if (conn_flush(ls->conn) != CONN_OK) {
        line_session_end(ls);
        return -1;
    }
    size_t discarded = 0;
    if (conn_tls_server_start(ls->conn, ls->ss->tls_ctx, &discarded) < 0) {
        log_error("%sevent=%s_failed client=%s error=\"%s\"", ls->log_id, event, ls->ss->client_ip,
                  conn_error(ls->conn));
        line_session_end(ls);
        return -1;
    }
    if (discarded > 0)
        log_info("%sevent=%s_discarded client=%s bytes=%zu", ls->log_id, event, ls->ss->client_ip,
                 discarded);
    ls->tls = true;
    return 0;
}
