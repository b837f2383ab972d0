/* lib/conn_deadline.c - a connection's deadlines (see conn.h): the line
 * deadline between commands that partial input cannot stretch, the transfer
 * deadline extended only by a client that keeps up the minimum rate, and
 * the session's overall limit, on one timer each. */
#include "config.h"

#include "lib/conn_internal.h"

#include <errno.h>
#include <string.h>

#include "lib/event.h"

static void timeout_fired(struct conn *conn, const char *which)
{
    bool destroyed = false;
    conn->destroyed_r = &destroyed;
    conn_set_error(conn, "%s timeout", which);
    conn->handler(conn, CONN_EVENT_TIMEOUT, conn->ctx);
    if (!destroyed)
        conn->destroyed_r = NULL;
}

/* arm - (re)start *timer for msecs, or remove it when msecs is 0. */
static int arm(struct conn *conn, struct event_timer **timer, uint64_t msecs, event_timer_cb *cb)
{
    if (msecs == 0) {
        event_timer_remove(timer);
        return 0;
    }
    if (*timer != NULL) {
        event_timer_reset(*timer, msecs);
        return 0;
    }
    *timer = event_timer_add(conn->loop, msecs, cb, conn);
    return *timer == NULL ? -1 : 0;
}

static void arm_or_fail(struct conn *conn, struct event_timer **timer, uint64_t msecs,
                        event_timer_cb *cb)
{
    if (arm(conn, timer, msecs, cb) < 0 && !conn->failed) {
        conn_set_error(conn, "cannot add timer: %s", strerror(errno));
        conn->failed = true;
    }
}

/* arm_deadline - the one deadline timer, with the callback of the current
 * mode (a timer keeps the callback it was added with). */
static void arm_deadline(struct conn *conn, uint64_t msecs, event_timer_cb *cb)
{
    if (conn->deadline_cb != cb)
        event_timer_remove(&conn->deadline_timer);
    conn->deadline_cb = cb;
    arm_or_fail(conn, &conn->deadline_timer, msecs, cb);
}

static void line_deadline_passed(void *ctx)
{
    timeout_fired(ctx, "idle");
}

static void session_timeout(void *ctx)
{
    timeout_fired(ctx, "session");
}

static void transfer_tick(void *ctx);

/* arm_transfer - the transfer timer fires at the end of the rate window or
 * at the deadline, whichever comes first. */
static void arm_transfer(struct conn *conn, uint64_t now)
{
    uint64_t wait = conn->transfer_end > now ? conn->transfer_end - now : 1;
    const struct conn_deadlines *d = conn->limits;
    if (d->min_rate != 0 && d->window_ms != 0) {
        uint64_t window_left =
            conn->window_start + d->window_ms > now ? conn->window_start + d->window_ms - now : 1;
        if (window_left < wait)
            wait = window_left;
    }
    arm_deadline(conn, wait, transfer_tick);
}

/* transfer_tick - a client that kept up min_rate over the window just ended
 * gets transfer_ms more from now: an honest large message is never cut,
 * while a trickle gains nothing and meets its deadline. The window is
 * judged by its own length, so a short last window before the deadline is
 * not held to a full window's byte count. */
static void transfer_tick(void *ctx)
{
    struct conn *conn = ctx;
    const struct conn_deadlines *d = conn->limits;
    uint64_t now = event_now_ms(conn->loop);
    uint64_t elapsed = now - conn->window_start;
    if (d->min_rate != 0 && elapsed > 0 && conn->window_bytes * 1000 >= d->min_rate * elapsed)
        conn->transfer_end = now + d->transfer_ms;
    conn->window_start = now;
    conn->window_bytes = 0;
    if (now >= conn->transfer_end) {
        timeout_fired(conn, "data");
        return;
    }
    arm_transfer(conn, now);
}

/* deadline_start - start the running deadline afresh from now. */
void conn_deadline_start(struct conn *conn)
{
    if (conn->loop == NULL)
        return;
    uint64_t now = event_now_ms(conn->loop);
    conn->deadline_start = now;
    if (conn->in_transfer) {
        conn->transfer_end = now + conn->limits->transfer_ms;
        conn->window_start = now;
        conn->window_bytes = 0;
        if (conn->limits->transfer_ms != 0)
            arm_transfer(conn, now);
        else
            event_timer_remove(&conn->deadline_timer);
        return;
    }
    arm_deadline(conn, conn->limits->line_ms, line_deadline_passed);
}

int conn_deadlines_apply(struct conn *conn)
{
    if (conn->loop == NULL)
        return 0;
    conn_deadline_start(conn);
    arm_or_fail(conn, &conn->session_timer, conn->session_ms, session_timeout);
    return conn->failed ? -1 : 0;
}

void conn_set_timeouts(struct conn *conn, uint64_t idle_ms, uint64_t session_ms)
{
    conn->own.line_ms = idle_ms;
    conn->limits = &conn->own;
    conn->session_ms = session_ms;
    if (conn_deadlines_apply(conn) < 0)
        conn->failed = true;
}

void conn_set_deadlines(struct conn *conn, const struct conn_deadlines *deadlines,
                        uint64_t session_ms)
{
    conn->limits = deadlines;
    conn->session_ms = session_ms;
    if (conn_deadlines_apply(conn) < 0)
        conn->failed = true;
}

void conn_deadlines_changed(struct conn *conn)
{
    if (conn->loop == NULL)
        return;
    uint64_t now = event_now_ms(conn->loop);
    if (conn->in_transfer) {
        uint64_t end = conn->deadline_start + conn->limits->transfer_ms;
        if (end < conn->transfer_end)
            conn->transfer_end = end;
        if (conn->limits->transfer_ms != 0)
            arm_transfer(conn, now);
        return;
    }
    uint64_t end = conn->deadline_start + conn->limits->line_ms;
    if (conn->limits->line_ms == 0)
        event_timer_remove(&conn->deadline_timer);
    else
        arm_deadline(conn, end > now ? end - now : 1, line_deadline_passed);
}

void conn_deadline_restart(struct conn *conn)
{
    conn_deadline_start(conn);
}

void conn_transfer_begin(struct conn *conn)
{
    conn->in_transfer = true;
    conn_deadline_start(conn);
}

void conn_transfer_end(struct conn *conn)
{
    if (!conn->in_transfer)
        return;
    conn->in_transfer = false;
    conn_deadline_start(conn);
}
