/* tests/unit/test_conn.c - the connection layer (lib/conn.c): the line
 * reader at every boundary, byte reads, large writes through the loop,
 * timeouts, peer addresses, blocking waits. Bytes are written to the other
 * end of a socketpair in pieces, as a network would deliver them. */
#include "config.h"

#include "lib/conn.h"
#include "lib/event.h"
#include "lib/tls.h"
#include "tests/unit/tap_main.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static struct conn *conn;
static int peer = -1;

/* pair - a conn on one end of a socketpair (line_limit), the other in peer. */
static void pair(size_t line_limit)
{
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    conn = conn_new(sv[0], line_limit);
    ck_assert_ptr_nonnull(conn);
    peer = sv[1];
}

static void unpair(void)
{
    conn_free(&conn);
    ck_assert_ptr_null(conn);
    if (peer >= 0)
        close(peer);
    peer = -1;
}

static void send_str(const char *s, size_t len)
{
    ck_assert_int_eq(write(peer, s, len), (ssize_t)len);
}
#define SEND(lit) send_str(lit, sizeof(lit) - 1)

static void expect_line(const char *data, size_t len, bool bare_lf)
{
    struct conn_line line;
    ck_assert_int_eq(conn_read_line(conn, &line), CONN_OK);
    ck_assert_uint_eq(line.len, len);
    ck_assert_mem_eq(line.data, data, len);
    ck_assert_int_eq(line.data[len], '\0');
    ck_assert_int_eq(line.bare_lf, bare_lf);
}
#define EXPECT_LINE(lit, bare) expect_line(lit, sizeof(lit) - 1, bare)

static void expect(enum conn_result want)
{
    struct conn_line line;
    ck_assert_int_eq(conn_read_line(conn, &line), want);
}

START_TEST(exact_limit_line_passes)
{
    pair(10);
    SEND("12345678\r\n"); /* 10 bytes with CRLF */
    EXPECT_LINE("12345678", false);
    SEND("123456789\n"); /* 10 bytes with a bare LF */
    EXPECT_LINE("123456789", true);
    expect(CONN_AGAIN);
    unpair();
}
END_TEST

START_TEST(limit_plus_one_is_too_long_and_next_line_recovers)
{
    pair(10);
    SEND("123456789\r\nok\r\n"); /* 11 bytes, then a good line */
    expect(CONN_TOO_LONG);
    EXPECT_LINE("ok", false);
    expect(CONN_AGAIN);
    unpair();
}
END_TEST

START_TEST(long_line_in_pieces_discarded_up_to_lf)
{
    pair(10);
    SEND("0123456789abcdef"); /* no LF yet, already past the limit */
    expect(CONN_TOO_LONG);
    expect(CONN_AGAIN);
    SEND("more of the same line, still no end");
    expect(CONN_AGAIN); /* reported once, the rest silently dropped */
    SEND("tail\r\nnext\r\n");
    EXPECT_LINE("next", false);
    expect(CONN_AGAIN);
    unpair();
}
END_TEST

START_TEST(limit_bytes_without_lf_is_too_long)
{
    /* limit bytes buffered with no LF: with its LF the line is limit+1. */
    pair(10);
    SEND("123456789\r"); /* 10 bytes, CR last: the LF would be the 11th */
    expect(CONN_TOO_LONG);
    SEND("\nafter\r\n");
    EXPECT_LINE("after", false);
    unpair();
}
END_TEST

START_TEST(crlf_split_across_reads)
{
    pair(10);
    SEND("12345678\r"); /* 9 bytes: the exact-limit line, its LF still on the way */
    expect(CONN_AGAIN);
    SEND("\n");
    EXPECT_LINE("12345678", false);
    SEND("ab");
    expect(CONN_AGAIN);
    SEND("c\r");
    expect(CONN_AGAIN);
    SEND("\nd");
    EXPECT_LINE("abc", false);
    expect(CONN_AGAIN);
    unpair();
}
END_TEST

START_TEST(bare_cr_is_reported)
{
    pair(100);
    SEND("a\rb\r\n");
    struct conn_line line;
    ck_assert_int_eq(conn_read_line(conn, &line), CONN_OK);
    ck_assert_uint_eq(line.len, 3);
    ck_assert_mem_eq(line.data, "a\rb", 3);
    ck_assert(line.bare_cr);
    ck_assert(!line.bare_lf);
    ck_assert(!line.has_nul);
    SEND("plain\r\n");
    ck_assert_int_eq(conn_read_line(conn, &line), CONN_OK);
    ck_assert(!line.bare_cr);
    /* A CR before a bare LF that is itself preceded by CR: "x\r\r\n". */
    SEND("x\r\r\n");
    ck_assert_int_eq(conn_read_line(conn, &line), CONN_OK);
    ck_assert_uint_eq(line.len, 2);
    ck_assert(line.bare_cr);
    ck_assert(!line.bare_lf);
    unpair();
}
END_TEST

START_TEST(bare_lf_is_reported)
{
    pair(100);
    SEND("abc\ndef\r\n\n");
    EXPECT_LINE("abc", true);
    EXPECT_LINE("def", false);
    EXPECT_LINE("", true);
    unpair();
}
END_TEST

START_TEST(nul_bytes_are_reported_not_hidden)
{
    pair(100);
    send_str("a\0b\r\n", 5);
    struct conn_line line;
    ck_assert_int_eq(conn_read_line(conn, &line), CONN_OK);
    ck_assert_uint_eq(line.len, 3);
    ck_assert_mem_eq(line.data, "a\0b", 3);
    ck_assert(line.has_nul);
    unpair();
}
END_TEST

START_TEST(eof_mid_line)
{
    pair(100);
    SEND("whole\r\npartial");
    close(peer);
    peer = -1;
    EXPECT_LINE("whole", false);
    expect(CONN_EOF);
    ck_assert_uint_eq(conn_input_pending(conn), strlen("partial"));
    expect(CONN_EOF); /* stays EOF */
    unpair();
}
END_TEST

START_TEST(eof_while_discarding)
{
    pair(10);
    SEND("this line is far too long");
    close(peer);
    peer = -1;
    expect(CONN_TOO_LONG);
    expect(CONN_EOF);
    unpair();
}
END_TEST

START_TEST(many_lines_in_one_read)
{
    pair(20);
    SEND("a\r\nbb\r\nccc\n\r\n0123456789012345678\nlast\r\n");
    EXPECT_LINE("a", false);
    EXPECT_LINE("bb", false);
    EXPECT_LINE("ccc", true);
    EXPECT_LINE("", false);
    EXPECT_LINE("0123456789012345678", true); /* 20 with LF: exactly the limit */
    EXPECT_LINE("last", false);
    expect(CONN_AGAIN);
    unpair();
}
END_TEST

START_TEST(many_lines_larger_than_one_read_chunk)
{
    /* More than the reader's chunk in one burst, lines crossing chunk edges. */
    pair(100);
    char *big = malloc(20000);
    ck_assert_ptr_nonnull(big);
    size_t len = 0;
    for (int i = 0; i < 1000; i++)
        len += (size_t)snprintf(big + len, 20000 - len, "line %06d\r\n", i);
    send_str(big, len);
    for (int i = 0; i < 1000; i++) {
        char want[32];
        int n = snprintf(want, sizeof want, "line %06d", i);
        expect_line(want, (size_t)n, false);
    }
    expect(CONN_AGAIN);
    free(big);
    unpair();
}
END_TEST

/* What RFC 2920 checks rely on: input sent and not yet read is seen
 * (from the socket when nothing is buffered) without being consumed. */
START_TEST(input_peek_sees_without_consuming)
{
    pair(100);
    char sample[8];
    ck_assert_uint_eq(conn_input_peek(conn, sample, 4), 0);
    ck_assert_str_eq(sample, "");
    SEND("EHLO x\r\nMAIL\r\n");
    struct conn_line line;
    ck_assert_int_eq(conn_read_line(conn, &line), CONN_OK);
    ck_assert_str_eq(line.data, "EHLO x");
    ck_assert_uint_eq(conn_input_peek(conn, sample, 4), 6);
    ck_assert_str_eq(sample, "MAIL");
    ck_assert_int_eq(conn_read_line(conn, &line), CONN_OK);
    ck_assert_str_eq(line.data, "MAIL");
    ck_assert_uint_eq(conn_input_peek(conn, NULL, 0), 0);
    SEND("QUIT\r\n");
    ck_assert_uint_eq(conn_input_peek(conn, NULL, 0), 6);
    ck_assert_int_eq(conn_read_line(conn, &line), CONN_OK);
    ck_assert_str_eq(line.data, "QUIT");
    unpair();
}
END_TEST

START_TEST(read_bytes_after_line)
{
    pair(100);
    SEND("A1 APPEND {5}\r\nhello rest\r\n");
    EXPECT_LINE("A1 APPEND {5}", false);
    const char *data;
    size_t len;
    ck_assert_int_eq(conn_read_bytes(conn, 5, &data, &len), CONN_OK);
    ck_assert_uint_eq(len, 5);
    ck_assert_mem_eq(data, "hello", 5);
    EXPECT_LINE(" rest", false);
    ck_assert_int_eq(conn_read_bytes(conn, 5, &data, &len), CONN_AGAIN);
    SEND("0123456789");
    ck_assert_int_eq(conn_read_bytes(conn, 4, &data, &len), CONN_OK);
    ck_assert_mem_eq(data, "0123", 4);
    ck_assert_int_eq(conn_read_bytes(conn, 100, &data, &len), CONN_OK);
    ck_assert_uint_eq(len, 6);
    ck_assert_mem_eq(data, "456789", 6);
    close(peer);
    peer = -1;
    ck_assert_int_eq(conn_read_bytes(conn, 100, &data, &len), CONN_EOF);
    unpair();
}
END_TEST

START_TEST(line_limit_can_change)
{
    pair(5);
    SEND("abcdefgh\r\n");
    expect(CONN_TOO_LONG);
    conn_set_line_limit(conn, 100);
    SEND("abcdefgh\r\n");
    EXPECT_LINE("abcdefgh", false);
    unpair();
}
END_TEST

/* ---- writes through the loop ---- */

enum { BIG = 4 * 1024 * 1024 };

struct big_write {
    struct event_loop *loop;
    struct event_io *reader;
    size_t received;
    bool content_ok;
    bool flushed;
};

static void big_reader(void *ctx, unsigned events)
{
    struct big_write *w = ctx;
    char chunk[65536];
    ssize_t n = read(peer, chunk, sizeof chunk);
    for (ssize_t i = 0; i < n; i++) {
        if (chunk[i] != (char)('a' + (w->received + (size_t)i) % 26))
            w->content_ok = false;
    }
    if (n > 0)
        w->received += (size_t)n;
    if (w->received == BIG && w->flushed)
        event_loop_stop(w->loop);
}

static void big_handler(struct conn *c, enum conn_event event, void *ctx)
{
    struct big_write *w = ctx;
    if (event == CONN_EVENT_FLUSHED) {
        w->flushed = true;
        if (w->received == BIG)
            event_loop_stop(w->loop);
    }
}

static void give_up(void *ctx)
{
    event_loop_stop(ctx);
}

START_TEST(large_write_flushes_through_loop)
{
    pair(100);
    ck_assert_int_eq(fcntl(peer, F_SETFL, O_NONBLOCK), 0);
    struct event_loop *loop = event_loop_new();
    struct big_write w = {.loop = loop, .content_ok = true};
    ck_assert_int_eq(conn_attach(conn, loop, big_handler, &w), 0);
    w.reader = event_io_add(loop, peer, EVENT_READ, big_reader, &w);
    char *data = malloc(BIG);
    ck_assert_ptr_nonnull(data);
    for (size_t i = 0; i < BIG; i++)
        data[i] = (char)('a' + i % 26);
    conn_write(conn, data, BIG / 2);
    conn_printf(conn, "%.*s", BIG / 2, data + BIG / 2);
    free(data);
    ck_assert_uint_eq(conn_output_pending(conn), BIG);
    /* The socket buffer is far smaller: the rest goes out on writability. */
    ck_assert_int_eq(conn_flush(conn), CONN_AGAIN);
    struct event_timer *guard = event_timer_add(loop, 10000, give_up, loop);
    event_loop_run(loop);
    ck_assert(w.flushed);
    ck_assert_uint_eq(w.received, BIG);
    ck_assert(w.content_ok);
    ck_assert_uint_eq(conn_output_pending(conn), 0);
    event_timer_remove(&guard);
    event_io_remove(&w.reader);
    unpair();
    event_loop_free(&loop);
}
END_TEST

START_TEST(write_to_closed_peer_is_error)
{
    pair(100);
    close(peer);
    peer = -1;
    conn_printf(conn, "hello %s\r\n", "there");
    ck_assert_int_eq(conn_flush(conn), CONN_ERROR);
    ck_assert_str_ne(conn_error(conn), "");
    unpair();
}
END_TEST

/* ---- timeouts ---- */

struct timing {
    struct event_loop *loop;
    enum conn_event last;
    int timeouts;
    int lines;
    uint64_t fired_at;
    char error[64];
    struct event_timer *feeder;
    int feeds_left;
};

static void timing_handler(struct conn *c, enum conn_event event, void *ctx)
{
    struct timing *t = ctx;
    t->last = event;
    if (event == CONN_EVENT_TIMEOUT) {
        t->timeouts++;
        t->fired_at = event_now_ms(t->loop);
        snprintf(t->error, sizeof t->error, "%s", conn_error(c));
        event_loop_stop(t->loop);
        return;
    }
    if (event == CONN_EVENT_INPUT) {
        struct conn_line line;
        while (conn_read_line(c, &line) == CONN_OK)
            t->lines++;
    }
}

static void feed(void *ctx)
{
    struct timing *t = ctx;
    SEND("ping\r\n");
    if (--t->feeds_left > 0)
        event_timer_reset(t->feeder, 30);
}

START_TEST(idle_timeout_fires)
{
    pair(100);
    struct event_loop *loop = event_loop_new();
    struct timing t = {.loop = loop};
    conn_set_timeouts(conn, 50, 0);
    ck_assert_int_eq(conn_attach(conn, loop, timing_handler, &t), 0);
    uint64_t start = event_now_ms(loop);
    struct event_timer *guard = event_timer_add(loop, 5000, give_up, loop);
    event_loop_run(loop);
    ck_assert_int_eq(t.timeouts, 1);
    ck_assert_str_eq(t.error, "idle timeout");
    ck_assert_uint_ge(t.fired_at - start, 50);
    ck_assert_uint_lt(t.fired_at - start, 1000);
    event_timer_remove(&guard);
    unpair();
    event_loop_free(&loop);
}
END_TEST

START_TEST(idle_timeout_restarts_on_input)
{
    pair(100);
    struct event_loop *loop = event_loop_new();
    struct timing t = {.loop = loop, .feeds_left = 4};
    ck_assert_int_eq(conn_attach(conn, loop, timing_handler, &t), 0);
    conn_set_timeouts(conn, 80, 0);
    uint64_t start = event_now_ms(loop);
    t.feeder = event_timer_add(loop, 30, feed, &t);
    struct event_timer *guard = event_timer_add(loop, 5000, give_up, loop);
    event_loop_run(loop);
    ck_assert_int_eq(t.timeouts, 1);
    ck_assert_int_eq(t.lines, 4);
    ck_assert_str_eq(t.error, "idle timeout");
    /* Last input at about 120 ms, then 80 ms of silence. */
    ck_assert_uint_ge(t.fired_at - start, 190);
    event_timer_remove(&t.feeder);
    event_timer_remove(&guard);
    unpair();
    event_loop_free(&loop);
}
END_TEST

/* A client sending one byte at a time never completes a line: the line
 * deadline is not extended by the partial input (issue 10 section 1). */
static void feed_byte(void *ctx)
{
    struct timing *t = ctx;
    SEND("p");
    if (--t->feeds_left > 0)
        event_timer_reset(t->feeder, 20);
}

START_TEST(line_deadline_ignores_partial_input)
{
    pair(100);
    struct event_loop *loop = event_loop_new();
    struct timing t = {.loop = loop, .feeds_left = 1000};
    ck_assert_int_eq(conn_attach(conn, loop, timing_handler, &t), 0);
    conn_set_timeouts(conn, 100, 0);
    uint64_t start = event_now_ms(loop);
    t.feeder = event_timer_add(loop, 20, feed_byte, &t);
    struct event_timer *guard = event_timer_add(loop, 5000, give_up, loop);
    event_loop_run(loop);
    ck_assert_int_eq(t.timeouts, 1);
    ck_assert_str_eq(t.error, "idle timeout");
    ck_assert_int_eq(t.lines, 0);
    ck_assert_uint_ge(t.fired_at - start, 100);
    ck_assert_uint_lt(t.fired_at - start, 400);
    event_timer_remove(&t.feeder);
    event_timer_remove(&guard);
    unpair();
    event_loop_free(&loop);
}
END_TEST

/* Input resumed after a pause: the server's own time does not count. */
static void resume_input(void *ctx)
{
    struct timing *t = ctx;
    conn_set_input_paused(conn, false);
    t->feeds_left = (int)event_now_ms(t->loop);
}

START_TEST(line_deadline_restarts_on_resume)
{
    pair(100);
    struct event_loop *loop = event_loop_new();
    struct timing t = {.loop = loop};
    ck_assert_int_eq(conn_attach(conn, loop, timing_handler, &t), 0);
    conn_set_timeouts(conn, 100, 0);
    conn_set_input_paused(conn, true);
    t.feeder = event_timer_add(loop, 60, resume_input, &t);
    struct event_timer *guard = event_timer_add(loop, 5000, give_up, loop);
    event_loop_run(loop);
    ck_assert_int_eq(t.timeouts, 1);
    ck_assert_uint_ge(t.fired_at - (uint64_t)t.feeds_left, 100);
    event_timer_remove(&t.feeder);
    event_timer_remove(&guard);
    unpair();
    event_loop_free(&loop);
}
END_TEST

/* A transfer: a trickle meets transfer_ms; a sender above min_rate is
 * extended past it; the line deadline does not apply meanwhile. */
struct sender {
    struct timing *t;
    size_t chunk;
};

static void feed_chunk(void *ctx)
{
    struct sender *snd = ctx;
    char buf[512];
    memset(buf, 'x', sizeof buf);
    ck_assert_int_eq(write(peer, buf, snd->chunk), (ssize_t)snd->chunk);
    if (--snd->t->feeds_left > 0)
        event_timer_reset(snd->t->feeder, 10);
    else
        event_loop_stop(snd->t->loop);
}

static void transfer_handler(struct conn *c, enum conn_event event, void *ctx)
{
    struct timing *t = ctx;
    if (event == CONN_EVENT_TIMEOUT) {
        t->timeouts++;
        t->fired_at = event_now_ms(t->loop);
        snprintf(t->error, sizeof t->error, "%s", conn_error(c));
        event_loop_stop(t->loop);
        return;
    }
    const char *data;
    size_t len;
    while (conn_read_bytes(c, 4096, &data, &len) == CONN_OK)
        ;
}

static void run_transfer(size_t chunk, int feeds, struct timing *t, uint64_t *start_r)
{
    static const struct conn_deadlines limits = {
        .line_ms = 30, .transfer_ms = 150, .min_rate = 10000, .window_ms = 50};
    struct sender snd = {.t = t, .chunk = chunk};
    t->feeds_left = feeds;
    ck_assert_int_eq(conn_attach(conn, t->loop, transfer_handler, t), 0);
    conn_set_deadlines(conn, &limits, 0);
    conn_transfer_begin(conn);
    *start_r = event_now_ms(t->loop);
    t->feeder = event_timer_add(t->loop, 10, feed_chunk, &snd);
    struct event_timer *guard = event_timer_add(t->loop, 5000, give_up, t->loop);
    event_loop_run(t->loop);
    event_timer_remove(&t->feeder);
    event_timer_remove(&guard);
}

START_TEST(transfer_trickle_meets_deadline)
{
    pair(100);
    struct timing t = {.loop = event_loop_new()};
    uint64_t start;
    /* 1 byte every 10 ms = 100 B/s, far below 10000 B/s */
    run_transfer(1, 1000, &t, &start);
    ck_assert_int_eq(t.timeouts, 1);
    ck_assert_str_eq(t.error, "data timeout");
    ck_assert_uint_ge(t.fired_at - start, 150);
    ck_assert_uint_lt(t.fired_at - start, 600);
    unpair();
    event_loop_free(&t.loop);
}
END_TEST

START_TEST(transfer_at_rate_outlives_deadline)
{
    pair(100);
    struct timing t = {.loop = event_loop_new()};
    uint64_t start;
    /* 512 bytes every 10 ms = 51200 B/s for about 500 ms: beyond 150 ms */
    run_transfer(512, 50, &t, &start);
    ck_assert_int_eq(t.timeouts, 0);
    ck_assert_uint_ge(event_now_ms(t.loop) - start, 300);
    unpair();
    event_loop_free(&t.loop);
}
END_TEST

/* A deadline shortened while it runs (overload) is measured from its start. */
static void shorten(void *ctx)
{
    struct conn_deadlines *d = ctx;
    d->line_ms = 50;
    conn_deadlines_changed(conn);
}

START_TEST(shortened_deadline_fires_from_its_start)
{
    pair(100);
    struct event_loop *loop = event_loop_new();
    struct timing t = {.loop = loop};
    struct conn_deadlines d = {.line_ms = 10000};
    ck_assert_int_eq(conn_attach(conn, loop, timing_handler, &t), 0);
    conn_set_deadlines(conn, &d, 0);
    uint64_t start = event_now_ms(loop);
    struct event_timer *change = event_timer_add(loop, 80, shorten, &d);
    struct event_timer *guard = event_timer_add(loop, 5000, give_up, loop);
    event_loop_run(loop);
    ck_assert_int_eq(t.timeouts, 1);
    ck_assert_str_eq(t.error, "idle timeout");
    ck_assert_uint_ge(t.fired_at - start, 80);
    ck_assert_uint_lt(t.fired_at - start, 1000);
    event_timer_remove(&change);
    event_timer_remove(&guard);
    unpair();
    event_loop_free(&loop);
}
END_TEST

START_TEST(session_timeout_despite_input)
{
    pair(100);
    struct event_loop *loop = event_loop_new();
    struct timing t = {.loop = loop, .feeds_left = 100};
    ck_assert_int_eq(conn_attach(conn, loop, timing_handler, &t), 0);
    conn_set_timeouts(conn, 80, 150);
    uint64_t start = event_now_ms(loop);
    t.feeder = event_timer_add(loop, 30, feed, &t);
    struct event_timer *guard = event_timer_add(loop, 5000, give_up, loop);
    event_loop_run(loop);
    ck_assert_int_eq(t.timeouts, 1);
    ck_assert_str_eq(t.error, "session timeout");
    ck_assert_uint_ge(t.fired_at - start, 150);
    ck_assert_uint_lt(t.fired_at - start, 1000);
    ck_assert_int_ge(t.lines, 3);
    event_timer_remove(&t.feeder);
    event_timer_remove(&guard);
    unpair();
    event_loop_free(&loop);
}
END_TEST

/* ---- freeing from inside the handler ---- */

static void free_on_eof(struct conn *c, enum conn_event event, void *ctx)
{
    struct conn_line line;
    enum conn_result r;
    while ((r = conn_read_line(c, &line)) == CONN_OK)
        ;
    if (r == CONN_EOF || r == CONN_ERROR) {
        conn_free(&conn);
        event_loop_stop(ctx);
    }
}

START_TEST(conn_freed_inside_handler)
{
    pair(100);
    struct event_loop *loop = event_loop_new();
    ck_assert_int_eq(conn_attach(conn, loop, free_on_eof, loop), 0);
    conn_set_timeouts(conn, 1000, 2000);
    SEND("bye\r\n");
    close(peer);
    peer = -1;
    struct event_timer *guard = event_timer_add(loop, 5000, give_up, loop);
    event_loop_run(loop);
    ck_assert_ptr_null(conn);
    event_timer_remove(&guard);
    event_loop_free(&loop);
}
END_TEST

START_TEST(paused_input_raises_no_event)
{
    pair(100);
    struct event_loop *loop = event_loop_new();
    struct timing t = {.loop = loop};
    ck_assert_int_eq(conn_attach(conn, loop, timing_handler, &t), 0);
    conn_set_input_paused(conn, true);
    SEND("one\r\n");
    struct event_timer *stop = event_timer_add(loop, 50, give_up, loop);
    event_loop_run(loop);
    ck_assert_int_eq(t.lines, 0);
    conn_set_input_paused(conn, false);
    event_timer_reset(stop, 50);
    event_loop_run(loop);
    ck_assert_int_eq(t.lines, 1);
    event_timer_remove(&stop);
    unpair();
    event_loop_free(&loop);
}
END_TEST

/* ---- blocking use and addresses ---- */

START_TEST(wait_times_out)
{
    pair(100);
    ck_assert_int_eq(conn_wait(conn, 30), CONN_ERROR);
    ck_assert_int_eq(errno, ETIMEDOUT);
    SEND("x\n");
    ck_assert_int_eq(conn_wait(conn, 1000), CONN_OK);
    EXPECT_LINE("x", true);
    unpair();
}
END_TEST

/* tcp_pair - a connection over loopback of family; false when the family
 * is unavailable here (no IPv6 in a container). */
static bool tcp_pair(int family, unsigned *client_port_r)
{
    int lfd = socket(family, SOCK_STREAM, 0);
    ck_assert_int_ge(lfd, 0);
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t len;
    if (family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
        sin->sin_family = AF_INET;
        sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof *sin;
    } else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_addr = in6addr_loopback;
        len = sizeof *sin6;
    }
    if (bind(lfd, (struct sockaddr *)&ss, len) < 0) {
        close(lfd);
        return false;
    }
    ck_assert_int_eq(listen(lfd, 1), 0);
    socklen_t l2 = sizeof ss;
    ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&ss, &l2), 0);
    int cfd = socket(family, SOCK_STREAM, 0);
    ck_assert_int_eq(connect(cfd, (struct sockaddr *)&ss, len), 0);
    int afd = accept(lfd, NULL, NULL);
    ck_assert_int_ge(afd, 0);
    close(lfd);
    struct sockaddr_storage cs;
    l2 = sizeof cs;
    ck_assert_int_eq(getsockname(cfd, (struct sockaddr *)&cs, &l2), 0);
    *client_port_r = family == AF_INET ? ntohs(((struct sockaddr_in *)&cs)->sin_port)
                                       : ntohs(((struct sockaddr_in6 *)&cs)->sin6_port);
    conn = conn_new(afd, 100);
    ck_assert_ptr_nonnull(conn);
    peer = cfd;
    return true;
}

START_TEST(peer_address_ipv4)
{
    unsigned port;
    ck_assert(tcp_pair(AF_INET, &port));
    ck_assert_str_eq(conn_peer_ip(conn), "127.0.0.1");
    ck_assert_uint_eq(conn_peer_port(conn), port);
    ck_assert_str_eq(conn_local_ip(conn), "127.0.0.1");
    ck_assert_uint_ne(conn_local_port(conn), 0);
    ck_assert_int_ge(conn_fd(conn), 0);
    unpair();
}
END_TEST

START_TEST(peer_address_ipv6)
{
    unsigned port;
    if (!tcp_pair(AF_INET6, &port))
        return; /* no IPv6 loopback on this machine */
    ck_assert_str_eq(conn_peer_ip(conn), "::1");
    ck_assert_uint_eq(conn_peer_port(conn), port);
    unpair();
}
END_TEST

START_TEST(tls_not_active_by_default)
{
    pair(100);
    ck_assert(!conn_tls_active(conn));
    ck_assert(!conn_tls_handshake_done(conn));
    ck_assert_ptr_null(conn_tls_version(conn));
    ck_assert_ptr_null(conn_tls_cipher(conn));
    ck_assert_int_eq(conn_tls_bits(conn), 0);
    ck_assert_int_eq(conn_tls_handshake(conn), CONN_ERROR);
    unpair();
}
END_TEST

/* ---- TLS between two conns (client and server) over a socketpair ---- */

static char tls_dir[64];
static SSL_CTX *server_ctx, *client_ctx;

/* tls_setup - a self-signed localhost certificate made with the openssl
 * command, a server context and a client context that trusts it. */
static void tls_setup(void)
{
    snprintf(tls_dir, sizeof tls_dir, "/tmp/dirmail-conn-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tls_dir));
    char cmd[512];
    int n = snprintf(cmd, sizeof cmd,
                     "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
                     "-keyout %s/key.pem -out %s/cert.pem -days 1 -subj /CN=localhost "
                     "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 2>/dev/null",
                     tls_dir, tls_dir);
    ck_assert(n > 0 && (size_t)n < sizeof cmd);
    ck_assert_int_eq(system(cmd), 0);
    char cert[128], key[128];
    snprintf(cert, sizeof cert, "%s/cert.pem", tls_dir);
    snprintf(key, sizeof key, "%s/key.pem", tls_dir);
    char *error = NULL;
    server_ctx = tls_server_ctx_new(cert, key, NULL, "TLSv1", NULL, &error);
    ck_assert_msg(server_ctx != NULL, "%s", error);
    ck_assert_int_eq(SSL_CTX_get_min_proto_version(server_ctx), TLS1_2_VERSION);
    client_ctx = tls_client_ctx_new(cert, true, &error);
    ck_assert_msg(client_ctx != NULL, "%s", error);
}

static void tls_teardown(void)
{
    SSL_CTX_free(server_ctx);
    SSL_CTX_free(client_ctx);
    server_ctx = client_ctx = NULL;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tls_dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* handshake_both - drive both ends until each is done or one fails. */
static void handshake_both(struct conn *client, struct conn *server, enum conn_result *cr,
                           enum conn_result *sr)
{
    *cr = *sr = CONN_AGAIN;
    for (int i = 0; i < 100 && (*cr == CONN_AGAIN || *sr == CONN_AGAIN); i++) {
        if (*cr == CONN_AGAIN)
            *cr = conn_tls_handshake(client);
        if (*sr == CONN_AGAIN)
            *sr = conn_tls_handshake(server);
    }
}

START_TEST(tls_client_and_server_exchange_lines)
{
    tls_setup();
    pair(100);
    struct conn *client = conn_new(peer, 100);
    ck_assert_ptr_nonnull(client);
    peer = -1;
    /* Plaintext that arrived with STARTTLS is discarded and counted. */
    conn_printf(client, "STARTTLS\r\nINJECT\r\n");
    ck_assert_int_eq(conn_flush(client), CONN_OK);
    EXPECT_LINE("STARTTLS", false);
    size_t discarded = 0;
    ck_assert_int_eq(conn_tls_server_start(conn, server_ctx, &discarded), 0);
    ck_assert_uint_eq(discarded, strlen("INJECT\r\n"));
    ck_assert_int_eq(conn_tls_client_start(client, client_ctx, "localhost"), 0);
    ck_assert(conn_tls_active(client));
    enum conn_result cr, sr;
    handshake_both(client, conn, &cr, &sr);
    ck_assert_msg(cr == CONN_OK, "client: %s", conn_error(client));
    ck_assert_msg(sr == CONN_OK, "server: %s", conn_error(conn));
    ck_assert_str_eq(conn_tls_version(conn), "TLSv1.3");
    ck_assert_str_eq(conn_tls_version(client), "TLSv1.3");
    ck_assert_ptr_nonnull(conn_tls_cipher(conn));
    ck_assert_int_ge(conn_tls_bits(conn), 128); /* every TLS 1.3 suite */

    conn_printf(client, "EHLO over tls\r\n");
    ck_assert_int_eq(conn_flush(client), CONN_OK);
    EXPECT_LINE("EHLO over tls", false);
    expect(CONN_AGAIN);
    conn_printf(conn, "250 ok\r\n");
    ck_assert_int_eq(conn_flush(conn), CONN_OK);
    struct conn_line line;
    ck_assert_int_eq(conn_wait(client, 1000), CONN_OK);
    ck_assert_int_eq(conn_read_line(client, &line), CONN_OK);
    ck_assert_str_eq(line.data, "250 ok");
    /* Close: the peer sees a clean EOF (close_notify). */
    conn_free(&client);
    expect(CONN_EOF);
    unpair();
    tls_teardown();
}
END_TEST

START_TEST(tls_client_rejects_wrong_name)
{
    tls_setup();
    pair(100);
    struct conn *client = conn_new(peer, 100);
    peer = -1;
    ck_assert_int_eq(conn_tls_server_start(conn, server_ctx, NULL), 0);
    ck_assert_int_eq(conn_tls_client_start(client, client_ctx, "mail.example.net"), 0);
    enum conn_result cr, sr;
    handshake_both(client, conn, &cr, &sr);
    ck_assert_int_eq(cr, CONN_ERROR);
    ck_assert_msg(strstr(conn_error(client), "certificate verify failed") != NULL, "%s",
                  conn_error(client));
    ck_assert_int_eq(sr, CONN_ERROR); /* the client's alert */
    ck_assert_ptr_null(conn_tls_version(client));
    conn_free(&client);
    unpair();
    tls_teardown();
}
END_TEST

START_TEST(tls_client_verifies_ip_address)
{
    tls_setup();
    pair(100);
    struct conn *client = conn_new(peer, 100);
    peer = -1;
    ck_assert_int_eq(conn_tls_server_start(conn, server_ctx, NULL), 0);
    ck_assert_int_eq(conn_tls_client_start(client, client_ctx, "127.0.0.1"), 0);
    enum conn_result cr, sr;
    handshake_both(client, conn, &cr, &sr);
    ck_assert_msg(cr == CONN_OK, "client: %s", conn_error(client));
    ck_assert_int_eq(sr, CONN_OK);
    conn_free(&client);
    unpair();
    tls_teardown();
}
END_TEST

START_TEST(tls_start_refused_with_output_queued)
{
    tls_setup();
    pair(100);
    conn_printf(conn, "220 go ahead\r\n");
    ck_assert_int_eq(conn_tls_server_start(conn, server_ctx, NULL), -1);
    ck_assert_str_eq(conn_error(conn), "output not flushed before starting TLS");
    ck_assert(!conn_tls_active(conn));
    unpair();
    tls_teardown();
}
END_TEST

START_TEST(tls_ctx_errors_are_clear)
{
    char *error = NULL;
    ck_assert_ptr_null(tls_server_ctx_new("/nonexistent/cert.pem", "/nonexistent/key.pem", NULL,
                                          NULL, NULL, &error));
    ck_assert_ptr_nonnull(error);
    ck_assert_msg(strstr(error, "/nonexistent/cert.pem") != NULL, "%s", error);
    free(error);
    error = NULL;
    ck_assert_ptr_null(tls_server_ctx_new("c", "k", NULL, "SSLv3", NULL, &error));
    ck_assert_msg(strstr(error, "SSLv3") != NULL, "%s", error);
    free(error);
}
END_TEST

static Suite *conn_suite(void)
{
    signal(SIGPIPE, SIG_IGN);
    Suite *s = suite_create("conn");
    TCase *lines = tcase_create("lines");
    tcase_add_test(lines, exact_limit_line_passes);
    tcase_add_test(lines, limit_plus_one_is_too_long_and_next_line_recovers);
    tcase_add_test(lines, long_line_in_pieces_discarded_up_to_lf);
    tcase_add_test(lines, limit_bytes_without_lf_is_too_long);
    tcase_add_test(lines, crlf_split_across_reads);
    tcase_add_test(lines, bare_cr_is_reported);
    tcase_add_test(lines, bare_lf_is_reported);
    tcase_add_test(lines, nul_bytes_are_reported_not_hidden);
    tcase_add_test(lines, eof_mid_line);
    tcase_add_test(lines, eof_while_discarding);
    tcase_add_test(lines, many_lines_in_one_read);
    tcase_add_test(lines, many_lines_larger_than_one_read_chunk);
    tcase_add_test(lines, read_bytes_after_line);
    tcase_add_test(lines, input_peek_sees_without_consuming);
    tcase_add_test(lines, line_limit_can_change);
    suite_add_tcase(s, lines);

    TCase *loop = tcase_create("loop");
    tcase_set_timeout(loop, 30);
    tcase_add_test(loop, large_write_flushes_through_loop);
    tcase_add_test(loop, write_to_closed_peer_is_error);
    tcase_add_test(loop, idle_timeout_fires);
    tcase_add_test(loop, idle_timeout_restarts_on_input);
    tcase_add_test(loop, session_timeout_despite_input);
    tcase_add_test(loop, line_deadline_ignores_partial_input);
    tcase_add_test(loop, line_deadline_restarts_on_resume);
    tcase_add_test(loop, transfer_trickle_meets_deadline);
    tcase_add_test(loop, transfer_at_rate_outlives_deadline);
    tcase_add_test(loop, shortened_deadline_fires_from_its_start);
    tcase_add_test(loop, conn_freed_inside_handler);
    tcase_add_test(loop, paused_input_raises_no_event);
    tcase_add_test(loop, wait_times_out);
    tcase_add_test(loop, peer_address_ipv4);
    tcase_add_test(loop, peer_address_ipv6);
    tcase_add_test(loop, tls_not_active_by_default);
    suite_add_tcase(s, loop);

    TCase *tls = tcase_create("tls");
    tcase_set_timeout(tls, 30);
    tcase_add_test(tls, tls_client_and_server_exchange_lines);
    tcase_add_test(tls, tls_client_rejects_wrong_name);
    tcase_add_test(tls, tls_client_verifies_ip_address);
    tcase_add_test(tls, tls_start_refused_with_output_queued);
    tcase_add_test(tls, tls_ctx_errors_are_clear);
    suite_add_tcase(s, tls);
    return s;
}

TAP_MAIN(conn_suite)
