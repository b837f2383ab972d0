/* reader/proxy_splice.c - a proxied session after the login (see proxy.h):
 * the back node's success reply goes to the client as if this node had
 * said it, then bytes are copied both ways unread. Each direction holds at
 * most SPLICE_OUT_MAX octets of output: past that the side it comes from is
 * no longer read until the other side has taken it (backpressure, so a
 * slow client never makes this node buffer a whole mailbox). A side that
 * closes or fails ends both, after what is queued for the other side is
 * out (a QUIT's +OK, a LOGOUT's BYE), within SPLICE_LINGER_MS. Nothing
 * either way for proxy.idle_timeout seconds ends both too. */
#include "config.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/conn.h"
#include "lib/event.h"
#include "lib/log.h"
#include "reader/proxy.h"

/* Octets queued for one side before the other is no longer read. */
#define SPLICE_OUT_MAX (64 * 1024)
/* How long the last words may take to reach a side once the other closed. */
#define SPLICE_LINGER_MS 5000

struct splice {
    struct service_session *ss;
    struct conn *client; /* ss->conn */
    struct conn *back;
    char *host;
    struct event_timer *idle; /* proxy.idle_timeout, restarted by every byte */
    uint64_t idle_ms;
    bool closing;
    struct conn *draining; /* closing: the side whose queue is still going out */
    const char *why;       /* why it ends, for the log */
    uint64_t up, down;     /* octets client -> back, back -> client */
};

static void splice_end(struct splice *sp)
{
    struct service_session *ss = sp->ss;
    log_info("event=disconnect service=%s client=%s proxy=%s reason=\"%s\" bytes_in=%" PRIu64
             " bytes_out=%" PRIu64,
             ss->service->name, ss->client_ip, sp->host, sp->why, sp->up, sp->down);
    event_timer_remove(&sp->idle);
    conn_free(&sp->back);
    free(sp->host);
    free(sp);
    ss->protocol = NULL;
    conn_free(&ss->conn);
    ss->finished(ss);
}

static void on_idle(void *ctx)
{
    struct splice *sp = ctx;
    if (!sp->closing)
        sp->why = "idle timeout";
    splice_end(sp);
}

/* closing - from reads on: let what is queued for the other side go out,
 * then end (at once when nothing is). false: sp is gone. */
static bool closing(struct splice *sp, struct conn *other, const char *why)
{
    if (!sp->closing) {
        sp->closing = true;
        sp->why = why;
        conn_set_input_paused(sp->client, true);
        conn_set_input_paused(sp->back, true);
        event_timer_reset(sp->idle, SPLICE_LINGER_MS);
    }
    if (other == NULL || conn_output_pending(other) == 0 || conn_flush(other) != CONN_AGAIN) {
        splice_end(sp);
        return false;
    }
    sp->draining = other;
    return true;
}

/* pump - copy what from has to to, while to's queue has room; then send.
 * from is read again only once to has taken its queue (FLUSHED). false:
 * sp is gone. */
static bool pump(struct splice *sp, struct conn *from, struct conn *to, uint64_t *count)
{
    for (;;) {
        bool moved = false;
        while (conn_output_pending(to) < SPLICE_OUT_MAX) {
            const char *data;
            size_t len;
            enum conn_result r =
                conn_read_bytes(from, SPLICE_OUT_MAX - conn_output_pending(to), &data, &len);
            if (r == CONN_AGAIN)
                break;
            if (r != CONN_OK) {
                const char *why = r == CONN_EOF
                                      ? (from == sp->client ? "client closed" : "back node closed")
                                      : conn_error(from);
                if (r == CONN_ERROR)
                    log_info("event=proxy_conn_error client=%s proxy=%s side=%s error=\"%s\"",
                             sp->ss->client_ip, sp->host, from == sp->client ? "client" : "back",
                             conn_error(from));
                return closing(sp, to, why);
            }
            conn_write(to, data, len);
            *count += len;
            moved = true;
        }
        if (moved)
            event_timer_reset(sp->idle, sp->idle_ms);
        bool full = conn_output_pending(to) >= SPLICE_OUT_MAX;
        enum conn_result w = conn_flush(to);
        if (w == CONN_ERROR)
            return closing(sp, NULL, conn_error(to));
        if (w == CONN_AGAIN) {
            conn_set_input_paused(from, full);
            return true;
        }
        conn_set_input_paused(from, false);
        if (!full)
            return true;
        /* all out at once: there may be more to read at once too */
    }
}

static void on_event(struct splice *sp, struct conn *conn, enum conn_event event)
{
    struct conn *other = conn == sp->client ? sp->back : sp->client;
    uint64_t *in_count = conn == sp->client ? &sp->up : &sp->down;
    uint64_t *out_count = conn == sp->client ? &sp->down : &sp->up;
    switch (event) {
    case CONN_EVENT_TIMEOUT:
        (void)closing(sp, NULL, conn_error(conn));
        return;
    case CONN_EVENT_FLUSHED:
        if (sp->closing) {
            if (conn == sp->draining)
                splice_end(sp);
            return;
        }
        /* conn took its queue: read the side that feeds it again, and what
         * that side had buffered (which raises no event of its own) */
        (void)pump(sp, other, conn, out_count);
        return;
    case CONN_EVENT_INPUT:
        if (!sp->closing)
            (void)pump(sp, conn, other, in_count);
        return;
    }
}

static void client_handler(struct conn *conn, enum conn_event event, void *ctx)
{
    on_event(ctx, conn, event);
}

static void back_handler(struct conn *conn, enum conn_event event, void *ctx)
{
    on_event(ctx, conn, event);
}

void proxy_splice_start(struct proxy_login **pl, struct service_session *ss)
{
    char *reply = NULL, *host = NULL;
    struct conn *back = proxy_login_take(pl, &reply, &host);
    struct splice *sp = calloc(1, sizeof *sp);
    if (sp != NULL) {
        sp->idle_ms = (uint64_t)ss->config->proxy.idle_timeout * 1000;
        sp->idle = event_timer_add(ss->loop, sp->idle_ms, on_idle, sp);
    }
    if (sp == NULL || sp->idle == NULL || back == NULL || reply == NULL || host == NULL) {
        /* the back node is logged in and the client is told nothing: closing
         * both is the only honest answer left */
        log_error("event=proxy_splice_failed client=%s error=\"out of memory\"", ss->client_ip);
        if (sp != NULL)
            event_timer_remove(&sp->idle);
        free(sp);
        free(reply);
        free(host);
        conn_free(&back);
        ss->protocol = NULL;
        conn_free(&ss->conn);
        ss->finished(ss);
        return;
    }
    sp->ss = ss;
    sp->client = ss->conn;
    sp->back = back;
    sp->host = host;
    sp->why = "?";
    ss->protocol = sp;
    /* the splice's own idle deadline replaces the protocol's line deadlines:
     * bytes, not lines, are what flows now */
    conn_set_timeouts(sp->client, 0, 0);
    conn_set_handler(sp->client, client_handler, sp);
    conn_set_handler(sp->back, back_handler, sp);
    conn_write(sp->client, reply, strlen(reply));
    free(reply);
    log_info("event=proxy_splice client=%s proxy=%s", ss->client_ip, host);
    /* what the client pipelined behind its login, then whatever comes */
    if (!pump(sp, sp->client, sp->back, &sp->up))
        return;
    (void)pump(sp, sp->back, sp->client, &sp->down);
}
