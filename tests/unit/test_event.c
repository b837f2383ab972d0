/* tests/unit/test_event.c - the event loop (lib/event.c): timers in deadline
 * order, reset and removal from callbacks, io readiness, signals. */
#include "config.h"

#include "lib/clock.h"
#include "lib/event.h"
#include "tests/unit/tap_main.h"

#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct order {
    struct event_loop *loop;
    int fired[16];
    int count;
    int stop_after;
};

struct tick {
    struct order *order;
    int id;
};

static void record(void *ctx)
{
    struct tick *t = ctx;
    t->order->fired[t->order->count++] = t->id;
    if (t->order->count == t->order->stop_after)
        event_loop_stop(t->order->loop);
}

START_TEST(timers_fire_in_deadline_order)
{
    struct event_loop *loop = event_loop_new();
    ck_assert_ptr_nonnull(loop);
    struct order o = {.loop = loop, .stop_after = 5};
    static const uint64_t delays[] = {40, 10, 30, 0, 20};
    struct tick ticks[5];
    struct event_timer *timers[5];
    for (int i = 0; i < 5; i++) {
        ticks[i] = (struct tick){&o, i};
        timers[i] = event_timer_add(loop, delays[i], record, &ticks[i]);
        ck_assert_ptr_nonnull(timers[i]);
    }
    uint64_t start = event_now_ms(loop);
    ck_assert_int_eq(event_loop_run(loop), 0);
    ck_assert_int_eq(o.count, 5);
    ck_assert_int_eq(o.fired[0], 3);
    ck_assert_int_eq(o.fired[1], 1);
    ck_assert_int_eq(o.fired[2], 4);
    ck_assert_int_eq(o.fired[3], 2);
    ck_assert_int_eq(o.fired[4], 0);
    ck_assert_uint_ge(event_now_ms(loop) - start, 40);
    for (int i = 0; i < 5; i++)
        event_timer_remove(&timers[i]);
    ck_assert_ptr_null(timers[0]);
    event_loop_free(&loop);
    ck_assert_ptr_null(loop);
}
END_TEST

START_TEST(equal_deadlines_fire_in_arming_order)
{
    struct event_loop *loop = event_loop_new();
    struct order o = {.loop = loop, .stop_after = 8};
    struct tick ticks[8];
    struct event_timer *timers[8];
    for (int i = 0; i < 8; i++) {
        ticks[i] = (struct tick){&o, i};
        timers[i] = event_timer_add(loop, 0, record, &ticks[i]);
    }
    event_loop_run(loop);
    for (int i = 0; i < 8; i++) {
        ck_assert_int_eq(o.fired[i], i);
        event_timer_remove(&timers[i]);
    }
    event_loop_free(&loop);
}
END_TEST

/* Delays are multiples of 5 ms so that arming all timers across a
 * millisecond boundary cannot reorder two different delays. */
struct heap_ctx {
    struct event_loop *loop;
    uint64_t *fired;
    int *count;
    int expected;
    uint64_t delay;
};

static void heap_cb(void *p)
{
    struct heap_ctx *c = p;
    c->fired[(*c->count)++] = c->delay;
    if (*c->count == c->expected)
        event_loop_stop(c->loop);
}

START_TEST(many_timers_heap_order)
{
    enum { N = 300, REMOVED = (N + 2) / 3 };
    struct event_loop *loop = event_loop_new();
    static struct event_timer *timers[N];
    static struct heap_ctx ctxs[N];
    static uint64_t fired[N];
    int count = 0;
    unsigned seed = 12345;
    for (int i = 0; i < N; i++) {
        seed = seed * 1103515245u + 12345u;
        ctxs[i] = (struct heap_ctx){loop, fired, &count, N - REMOVED, ((seed >> 16) % 10) * 5};
    }
    /* Each delay counts from its own event_timer_add: should this thread be
     * descheduled while arming (a loaded CI machine, ASan), a later timer's
     * deadline moves by that much. The order is checked to within the time
     * arming took, which on an idle machine is under a millisecond, so a
     * heap that swaps the 5 ms steps still fails. */
    uint64_t armed_from = clock_monotonic_ms();
    for (int i = 0; i < N; i++)
        timers[i] = event_timer_add(loop, ctxs[i].delay, heap_cb, &ctxs[i]);
    uint64_t arming = clock_monotonic_ms() - armed_from;
    /* Remove every third before running: removal from the middle of the heap. */
    for (int i = 0; i < N; i += 3)
        event_timer_remove(&timers[i]);
    event_loop_run(loop);
    ck_assert_int_eq(count, N - REMOVED);
    for (int i = 1; i < count; i++)
        ck_assert_uint_le(fired[i - 1], fired[i] + arming);
    for (int i = 0; i < N; i++)
        event_timer_remove(&timers[i]);
    event_loop_free(&loop);
}
END_TEST

struct self_reset {
    struct event_loop *loop;
    struct event_timer *timer;
    int runs;
};

static void reset_self(void *ctx)
{
    struct self_reset *s = ctx;
    s->runs++;
    if (s->runs < 3)
        event_timer_reset(s->timer, 0); /* must not fire again in the same round */
    else
        event_loop_stop(s->loop);
}

START_TEST(timer_reset_inside_callback)
{
    struct event_loop *loop = event_loop_new();
    struct self_reset s = {.loop = loop};
    s.timer = event_timer_add(loop, 5, reset_self, &s);
    event_loop_run(loop);
    ck_assert_int_eq(s.runs, 3);
    event_timer_remove(&s.timer);
    event_loop_free(&loop);
}
END_TEST

struct remover {
    struct event_loop *loop;
    struct event_timer *other;
    struct event_timer *self;
    int fired;
};

static void remove_other(void *ctx)
{
    struct remover *r = ctx;
    r->fired++;
    event_timer_remove(&r->other);
    event_timer_remove(&r->self);
}

static void must_not_fire(void *ctx)
{
    ck_abort_msg("removed timer fired");
}

static void stop_loop(void *ctx)
{
    event_loop_stop(ctx);
}

START_TEST(timer_removed_by_earlier_callback_in_same_round)
{
    struct event_loop *loop = event_loop_new();
    struct remover r = {.loop = loop};
    r.self = event_timer_add(loop, 0, remove_other, &r);
    r.other = event_timer_add(loop, 0, must_not_fire, NULL);
    struct event_timer *stop = event_timer_add(loop, 20, stop_loop, loop);
    event_loop_run(loop);
    ck_assert_int_eq(r.fired, 1);
    ck_assert_ptr_null(r.other);
    event_timer_remove(&stop);
    event_loop_free(&loop);
}
END_TEST

struct io_pair {
    struct event_loop *loop;
    struct event_io *a, *b;
    int a_calls, b_calls;
};

static void io_a(void *ctx, unsigned events)
{
    struct io_pair *p = ctx;
    p->a_calls++;
    /* Both sockets are readable in the same round: removing b here must not
     * let its already-fetched event reach a freed io. */
    event_io_remove(&p->b);
    event_io_remove(&p->a);
    event_loop_stop(p->loop);
}

static void io_b(void *ctx, unsigned events)
{
    struct io_pair *p = ctx;
    p->b_calls++;
    event_io_remove(&p->a);
    event_io_remove(&p->b);
    event_loop_stop(p->loop);
}

START_TEST(io_removed_inside_callback)
{
    int s1[2], s2[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, s1), 0);
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, s2), 0);
    ck_assert_int_eq(write(s1[1], "x", 1), 1);
    ck_assert_int_eq(write(s2[1], "y", 1), 1);
    struct event_loop *loop = event_loop_new();
    struct io_pair p = {.loop = loop};
    p.a = event_io_add(loop, s1[0], EVENT_READ, io_a, &p);
    p.b = event_io_add(loop, s2[0], EVENT_READ, io_b, &p);
    ck_assert_ptr_nonnull(p.a);
    ck_assert_ptr_nonnull(p.b);
    event_loop_run(loop);
    ck_assert_int_eq(p.a_calls + p.b_calls, 1);
    ck_assert_ptr_null(p.a);
    ck_assert_ptr_null(p.b);
    event_loop_free(&loop);
    close(s1[0]), close(s1[1]), close(s2[0]), close(s2[1]);
}
END_TEST

struct rw {
    struct event_loop *loop;
    struct event_io *io;
    unsigned seen;
};

static void rw_cb(void *ctx, unsigned events)
{
    struct rw *r = ctx;
    r->seen |= events;
    if (events & EVENT_WRITE)
        event_io_modify(r->io, EVENT_READ);
    if (events & EVENT_READ)
        event_loop_stop(r->loop);
}

START_TEST(io_write_then_read_and_hangup)
{
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    struct event_loop *loop = event_loop_new();
    struct rw r = {.loop = loop};
    r.io = event_io_add(loop, sv[0], EVENT_WRITE, rw_cb, &r);
    close(sv[1]); /* hangup: reported as READ|ERROR */
    event_loop_run(loop);
    ck_assert(r.seen & EVENT_WRITE);
    ck_assert(r.seen & EVENT_READ);
    ck_assert(r.seen & EVENT_ERROR);
    event_io_remove(&r.io);
    event_loop_free(&loop);
    close(sv[0]);
}
END_TEST

struct sigctx {
    struct event_loop *loop;
    int signo;
    int count;
};

static void on_signal(void *ctx, int signo)
{
    struct sigctx *s = ctx;
    s->signo = signo;
    s->count++;
    event_loop_stop(s->loop);
}

static void send_signal(void *ctx)
{
    kill(getpid(), SIGUSR1);
}

START_TEST(signal_delivered_through_loop)
{
    sigset_t before;
    sigprocmask(SIG_BLOCK, NULL, &before);
    ck_assert(!sigismember(&before, SIGUSR1));

    struct event_loop *loop = event_loop_new();
    struct sigctx s = {.loop = loop};
    struct event_signal *sig = event_signal_add(loop, SIGUSR1, on_signal, &s);
    ck_assert_ptr_nonnull(sig);
    sigset_t now;
    sigprocmask(SIG_BLOCK, NULL, &now);
    ck_assert(sigismember(&now, SIGUSR1)); /* blocked: no default action kills us */
    sigset_t saved;
    event_signal_saved_mask(&saved);
    ck_assert(!sigismember(&saved, SIGUSR1)); /* what a forked child restores */

    struct event_timer *t = event_timer_add(loop, 10, send_signal, NULL);
    struct event_timer *guard = event_timer_add(loop, 5000, stop_loop, loop);
    event_loop_run(loop);
    ck_assert_int_eq(s.count, 1);
    ck_assert_int_eq(s.signo, SIGUSR1);

    event_signal_remove(&sig);
    ck_assert_ptr_null(sig);
    sigprocmask(SIG_BLOCK, NULL, &now);
    ck_assert(!sigismember(&now, SIGUSR1)); /* unblocked again */
    event_timer_remove(&t);
    event_timer_remove(&guard);
    event_loop_free(&loop);
}
END_TEST

START_TEST(two_signals_one_loop)
{
    struct event_loop *loop = event_loop_new();
    struct sigctx s1 = {.loop = loop}, s2 = {.loop = loop};
    struct event_signal *a = event_signal_add(loop, SIGUSR1, on_signal, &s1);
    struct event_signal *b = event_signal_add(loop, SIGUSR2, on_signal, &s2);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    kill(getpid(), SIGUSR2);
    struct event_timer *guard = event_timer_add(loop, 5000, stop_loop, loop);
    event_loop_run(loop);
    ck_assert_int_eq(s1.count, 0);
    ck_assert_int_eq(s2.count, 1);
    ck_assert_int_eq(s2.signo, SIGUSR2);
    event_signal_remove(&a);
    event_signal_remove(&b);
    event_timer_remove(&guard);
    event_loop_free(&loop);
}
END_TEST

static Suite *event_suite(void)
{
    Suite *s = suite_create("event");
    TCase *tc = tcase_create("event");
    tcase_add_test(tc, timers_fire_in_deadline_order);
    tcase_add_test(tc, equal_deadlines_fire_in_arming_order);
    tcase_add_test(tc, many_timers_heap_order);
    tcase_add_test(tc, timer_reset_inside_callback);
    tcase_add_test(tc, timer_removed_by_earlier_callback_in_same_round);
    tcase_add_test(tc, io_removed_inside_callback);
    tcase_add_test(tc, io_write_then_read_and_hangup);
    tcase_add_test(tc, signal_delivered_through_loop);
    tcase_add_test(tc, two_signals_one_loop);
    suite_add_tcase(s, tc);
    return s;
}

TAP_MAIN(event_suite)
