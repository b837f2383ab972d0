/* tests/unit/test_auth_client.c - auth/auth_client.c against a tiny server
 * in a thread that speaks doc/auth-protocol.md on a UNIX socket: what goes
 * on the wire, answers decoded into the typed results, answers for other
 * ids skipped, and every failure on the way (no socket, EOF, timeout, an
 * answer that does not parse) TEMPFAIL and never NOTFOUND, with the
 * connection reopened afterwards. The non-blocking client likewise:
 * pipelined requests answered out of order, cancel, timeout, EOF, and no
 * callback from inside auth_async_request. */
#include "config.h"

#include "auth/auth_client.h"
#include "lib/clock.h"
#include "lib/event.h"
#include "tap_main.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* ---- the server ----
 * A thread per connection; what it answers depends on the request's first
 * argument:
 *   notfound@x  NOTFOUND           error@x   ERROR error=bad%20request
 *   tempfail@x  TEMPFAIL           bad@x     FOUND without kind (malformed)
 *   other@x     first an answer for another id, then the real one
 *   close@x     closes the connection without answering
 *   silent@x    never answers (reads on until the client hangs up)
 *   rev@x       reads two more requests, answers the three in reverse
 * anything else: FOUND (or OK for AUTH) with fields naming the argument. */

static char sock_dir[64], sock_path[100];
static int listen_fd = -1;
static pthread_t server_thread;
static pthread_mutex_t server_lock = PTHREAD_MUTEX_INITIALIZER;
static char received[16384]; /* every request line, LF-terminated */
static int connections;

static void record(const char *line)
{
    pthread_mutex_lock(&server_lock);
    strncat(received, line, sizeof(received) - strlen(received) - 2);
    strcat(received, "\n");
    pthread_mutex_unlock(&server_lock);
}

/* read_line - one line (without LF) into buf; its length, or -1 at EOF. */
static int read_line(int fd, char *buf, size_t size)
{
    size_t n = 0;

    for (;;) {
        char c;
        ssize_t r = read(fd, &c, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        if (c == '\n')
            break;
        if (n + 1 < size)
            buf[n++] = c;
    }
    buf[n] = '\0';
    return (int)n;
}

static void send_line(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void send_line(int fd, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n > 0)
        (void)!write(fd, buf, (size_t)n);
}

/* answer - the answer to request line (id verb arg...) for its argument. */
static void answer(int fd, const char *line)
{
    unsigned long id = strtoul(line, NULL, 10);
    char verb[16] = "", arg[256] = "";

    sscanf(line, "%*u %15s %255s", verb, arg);
    if (strcmp(arg, "notfound@x") == 0)
        send_line(fd, "%lu NOTFOUND kind=unknown address=notfound@x\n", id);
    else if (strcmp(arg, "tempfail@x") == 0)
        send_line(fd, "%lu TEMPFAIL error=ldap%%20down\n", id);
    else if (strcmp(arg, "error@x") == 0)
        send_line(fd, "%lu ERROR error=bad%%20request\n", id);
    else if (strcmp(arg, "bad@x") == 0)
        send_line(fd, "%lu FOUND address=bad@x\n", id);
    else if (strcmp(verb, "AUTH") == 0)
        send_line(fd, "%lu OK dn=uid=%s login=%s address=%s@x\n", id, arg, arg, arg);
    else if (strcmp(verb, "USER") == 0)
        send_line(fd, "%lu FOUND login=%s primary=%s\n", id, arg, arg);
    else if (strcmp(verb, "SENDERS") == 0)
        send_line(fd, "%lu FOUND sender=%s sender=other@x\n", id, arg);
    else
        send_line(fd, "%lu FOUND kind=local address=%s dn=uid=x\n", id, arg);
}

static void serve(int fd)
{
    char line[8192];

    while (read_line(fd, line, sizeof(line)) >= 0) {
        char arg[256] = "";

        record(line);
        sscanf(line, "%*u %*s %255s", arg);
        if (strcmp(arg, "close@x") == 0)
            return;
        if (strcmp(arg, "silent@x") == 0)
            continue;
        if (strcmp(arg, "other@x") == 0) {
            unsigned long id = strtoul(line, NULL, 10);
            send_line(fd, "%lu FOUND kind=relay address=wrong@x\n", id + 1000);
            send_line(fd, "0 ERROR error=bad%%20id\n");
        }
        if (strcmp(arg, "rev@x") == 0) {
            char more[2][8192];
            if (read_line(fd, more[0], sizeof(more[0])) < 0 ||
                read_line(fd, more[1], sizeof(more[1])) < 0)
                return;
            record(more[0]);
            record(more[1]);
            answer(fd, more[1]);
            answer(fd, more[0]);
        }
        answer(fd, line);
    }
}

#define MAX_CONNECTIONS 32
static pthread_t conn_threads[MAX_CONNECTIONS];

static void *conn_main(void *arg)
{
    int fd = (int)(intptr_t)arg;

    serve(fd);
    close(fd);
    return NULL;
}

/* server_main - accept until the listener is shut down; a thread per
 * connection (each ends when its client hangs up). */
static void *server_main(void *arg)
{
    (void)arg;
    for (;;) {
        int fd = accept(listen_fd, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            return NULL; /* the listener was shut down */
        }
        pthread_mutex_lock(&server_lock);
        if (connections == MAX_CONNECTIONS ||
            pthread_create(&conn_threads[connections], NULL, conn_main, (void *)(intptr_t)fd) != 0)
            close(fd);
        else
            connections++;
        pthread_mutex_unlock(&server_lock);
    }
}

static void setup(void)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    const char *tmp = getenv("TMPDIR");

    signal(SIGPIPE, SIG_IGN);
    snprintf(sock_dir, sizeof(sock_dir), "%s/test_auth_client.XXXXXX", tmp != NULL ? tmp : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(sock_dir));
    snprintf(sock_path, sizeof(sock_path), "%s/auth.sock", sock_dir);
    ck_assert_uint_lt(strlen(sock_path), sizeof(sun.sun_path));
    memcpy(sun.sun_path, sock_path, strlen(sock_path) + 1);
    listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(listen_fd, 0);
    ck_assert_int_eq(bind(listen_fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
    ck_assert_int_eq(listen(listen_fd, 16), 0);
    received[0] = '\0';
    connections = 0;
    ck_assert_int_eq(pthread_create(&server_thread, NULL, server_main, NULL), 0);
}

static void teardown(void)
{
    shutdown(listen_fd, SHUT_RDWR);
    pthread_join(server_thread, NULL);
    /* every client is freed by now: each connection has seen its EOF */
    for (int i = 0; i < connections; i++)
        pthread_join(conn_threads[i], NULL);
    close(listen_fd);
    unlink(sock_path);
    rmdir(sock_dir);
}

static int server_connections(void)
{
    pthread_mutex_lock(&server_lock);
    int n = connections;
    pthread_mutex_unlock(&server_lock);
    return n;
}

/* ---- blocking ---- */

START_TEST(test_blocking_answers_decoded)
{
    struct auth_client *c = auth_client_new(sock_path, 5000);
    struct auth_recipient *r = NULL;
    struct auth_user *u = NULL;
    struct auth_strlist senders = {NULL, 0};

    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(auth_client_resolve(c, "alice@x", &r), AUTH_FOUND);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(r->kind, AUTH_KIND_LOCAL);
    ck_assert_str_eq(r->address, "alice@x");
    ck_assert_str_eq(r->dn, "uid=x");
    auth_recipient_free(&r);

    ck_assert_int_eq(auth_client_resolve(c, "notfound@x", &r), AUTH_NOTFOUND);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(r->kind, AUTH_KIND_UNKNOWN);
    auth_recipient_free(&r);

    /* a password with a space, an empty service: each stays one argument */
    ck_assert_int_eq(auth_client_authenticate(c, "bob", "pass word%", NULL, &u), AUTH_OK);
    ck_assert_ptr_nonnull(u);
    ck_assert_str_eq(u->login, "bob");
    ck_assert_uint_eq(u->addresses.count, 1);
    ck_assert_str_eq(u->addresses.items[0], "bob@x");
    auth_user_free(&u);

    ck_assert_int_eq(auth_client_user(c, "carol", &u), AUTH_FOUND);
    ck_assert_str_eq(u->primary, "carol");
    auth_user_free(&u);

    ck_assert_int_eq(auth_client_senders(c, "dave@x", &senders), AUTH_FOUND);
    ck_assert_uint_eq(senders.count, 2);
    ck_assert_str_eq(senders.items[0], "dave@x");
    ck_assert_str_eq(senders.items[1], "other@x");
    auth_strlist_clear(&senders);

    /* one connection for all of them, ids counting up */
    ck_assert_int_eq(server_connections(), 1);
    ck_assert_str_eq(received, "1 RESOLVE alice@x\n"
                               "2 RESOLVE notfound@x\n"
                               "3 AUTH bob pass%20word%25 \n"
                               "4 USER carol\n"
                               "5 SENDERS dave@x\n");
    auth_client_free(&c);
    ck_assert_ptr_null(c);
}
END_TEST

START_TEST(test_blocking_server_statuses)
{
    struct auth_client *c = auth_client_new(sock_path, 5000);
    struct auth_response resp;
    const char *tempfail[] = {"tempfail@x"}, *error[] = {"error@x"};

    ck_assert_int_eq(auth_client_request(c, AUTH_REQ_RESOLVE, tempfail, 1, &resp), AUTH_TEMPFAIL);
    ck_assert_str_eq(resp.error, "ldap down");
    auth_response_clear(&resp);
    ck_assert_int_eq(auth_client_request(c, AUTH_REQ_RESOLVE, error, 1, &resp), AUTH_ERROR);
    ck_assert_str_eq(resp.error, "bad request");
    auth_response_clear(&resp);
    /* the server's statuses keep the connection */
    ck_assert_int_eq(server_connections(), 1);
    auth_client_free(&c);
}
END_TEST

/* An answer for another id (a late one, or id 0) is not this request's. */
START_TEST(test_blocking_other_ids_skipped)
{
    struct auth_client *c = auth_client_new(sock_path, 5000);
    struct auth_recipient *r = NULL;

    ck_assert_int_eq(auth_client_resolve(c, "other@x", &r), AUTH_FOUND);
    ck_assert_int_eq(r->kind, AUTH_KIND_LOCAL);
    ck_assert_str_eq(r->address, "other@x");
    auth_recipient_free(&r);
    auth_client_free(&c);
}
END_TEST

/* Failures on the way are TEMPFAIL with a reason, and the next request
 * opens a new connection. */
START_TEST(test_blocking_failures_are_tempfail)
{
    struct auth_client *c = auth_client_new(sock_path, 5000), *quick;
    struct auth_response resp;
    struct auth_recipient *r = NULL;
    const char *closing[] = {"close@x"}, *silent[] = {"silent@x"}, *bad[] = {"bad@x"};
    uint64_t t0;

    ck_assert_int_eq(auth_client_request(c, AUTH_REQ_RESOLVE, closing, 1, &resp), AUTH_TEMPFAIL);
    ck_assert_str_eq(resp.error, "connection closed");
    ck_assert_ptr_null(resp.recipient);
    auth_response_clear(&resp);
    ck_assert_int_eq(auth_client_resolve(c, "alice@x", &r), AUTH_FOUND);
    auth_recipient_free(&r);
    ck_assert_int_eq(server_connections(), 2);

    /* a client with a short timeout, on a connection of its own */
    quick = auth_client_new(sock_path, 300);
    t0 = clock_monotonic_ms();
    ck_assert_int_eq(auth_client_request(quick, AUTH_REQ_RESOLVE, silent, 1, &resp), AUTH_TEMPFAIL);
    ck_assert_str_eq(resp.error, "timeout");
    ck_assert_uint_ge(clock_monotonic_ms() - t0, 290);
    ck_assert_uint_lt(clock_monotonic_ms() - t0, 3000);
    auth_response_clear(&resp);
    /* the connection that timed out is closed (the server sees EOF and
     * takes the next one): a late answer can never be read as another's */
    ck_assert_int_eq(auth_client_resolve(quick, "alice@x", &r), AUTH_FOUND);
    ck_assert_str_eq(r->address, "alice@x");
    auth_recipient_free(&r);
    ck_assert_int_eq(server_connections(), 4); /* c's second, quick's two */
    auth_client_free(&quick);

    ck_assert_int_eq(auth_client_request(c, AUTH_REQ_RESOLVE, bad, 1, &resp), AUTH_TEMPFAIL);
    ck_assert_str_eq(resp.error, "malformed answer");
    auth_response_clear(&resp);
    ck_assert_int_eq(auth_client_resolve(c, "alice@x", &r), AUTH_FOUND);
    auth_recipient_free(&r);
    ck_assert_int_eq(server_connections(), 5);
    auth_client_free(&c);
}
END_TEST

START_TEST(test_blocking_no_socket_and_bad_requests)
{
    char path[400];
    struct auth_client *c;
    struct auth_response resp;
    struct auth_recipient *r = (struct auth_recipient *)1;
    const char *four[] = {"a", "b", "c", "d"};
    char *huge = malloc(AUTH_REQUEST_MAX + 1);

    snprintf(path, sizeof(path), "%s/no-such.sock", sock_dir);
    c = auth_client_new(path, 1000);
    ck_assert_int_eq(auth_client_resolve(c, "alice@x", &r), AUTH_TEMPFAIL);
    ck_assert_ptr_null(r);
    ck_assert_int_eq(auth_client_request(c, AUTH_REQ_RESOLVE, four, 1, &resp), AUTH_TEMPFAIL);
    ck_assert_str_eq(resp.error, "auth socket: cannot connect");
    auth_response_clear(&resp);
    auth_client_free(&c);

    /* requests that cannot be encoded are AUTH_ERROR and never sent */
    c = auth_client_new(sock_path, 1000);
    ck_assert_int_eq(auth_client_request(c, AUTH_REQ_RESOLVE, four, 4, &resp), AUTH_ERROR);
    auth_response_clear(&resp);
    ck_assert_int_eq(auth_client_request(c, AUTH_REQ_AUTH, four, 1, &resp), AUTH_ERROR);
    auth_response_clear(&resp);
    memset(huge, 'a', AUTH_REQUEST_MAX);
    huge[AUTH_REQUEST_MAX] = '\0';
    ck_assert_int_eq(auth_client_resolve(c, huge, &r), AUTH_ERROR);
    ck_assert_ptr_null(r);
    free(huge);
    ck_assert_int_eq(auth_client_resolve(c, "alice@x", &r), AUTH_FOUND);
    auth_recipient_free(&r);
    ck_assert_str_eq(received, "4 RESOLVE alice@x\n");
    auth_client_free(&c);
}
END_TEST

/* ---- non-blocking ---- */

struct answer {
    int calls;
    enum auth_status status;
    uint32_t id;
    char text[128]; /* address or error */
};

static struct event_loop *loop;
static int answers_wanted, answers_seen;

static void on_answer(void *ctx, const struct auth_response *resp)
{
    struct answer *a = ctx;

    a->calls++;
    a->status = resp->status;
    a->id = resp->id;
    snprintf(a->text, sizeof(a->text), "%s",
             resp->recipient != NULL && resp->recipient->address != NULL ? resp->recipient->address
             : resp->error != NULL                                       ? resp->error
                                                                         : "");
    if (++answers_seen >= answers_wanted)
        event_loop_stop(loop);
}

static void give_up(void *ctx)
{
    (void)ctx;
    event_loop_stop(loop);
}

/* run_until - run the loop until want answers came (or 5 s passed). */
static void run_until(int want)
{
    struct event_timer *t;

    answers_wanted = want;
    if (answers_seen >= want)
        return;
    t = event_timer_add(loop, 5000, give_up, NULL);
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(event_loop_run(loop), 0);
    event_timer_remove(&t);
    ck_assert_int_eq(answers_seen, want);
}

static void async_setup(void)
{
    setup();
    loop = event_loop_new();
    ck_assert_ptr_nonnull(loop);
    answers_seen = 0;
}

static void async_teardown(void)
{
    event_loop_free(&loop);
    teardown();
}

static uint32_t ask(struct auth_async *a, const char *address, struct answer *ans)
{
    const char *args[] = {address};
    return auth_async_request(a, AUTH_REQ_RESOLVE, args, 1, on_answer, ans);
}

/* Three requests pipelined on one connection, answered in reverse order:
 * each callback gets its own answer. */
START_TEST(test_async_pipelined_out_of_order)
{
    struct auth_async *a = auth_async_new(loop, sock_path, 5000);
    struct answer ans[3];
    uint32_t ids[3];

    memset(ans, 0, sizeof(ans));
    ids[0] = ask(a, "rev@x", &ans[0]);
    ids[1] = ask(a, "second@x", &ans[1]);
    ids[2] = ask(a, "notfound@x", &ans[2]);
    for (int i = 0; i < 3; i++)
        ck_assert_uint_ne(ids[i], 0);
    ck_assert_uint_ne(ids[0], ids[1]);
    ck_assert_uint_ne(ids[1], ids[2]);
    ck_assert_uint_eq(auth_async_pending(a), 3);
    run_until(3);
    ck_assert_uint_eq(auth_async_pending(a), 0);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(ans[i].calls, 1);
        ck_assert_uint_eq(ans[i].id, ids[i]);
    }
    ck_assert_int_eq(ans[0].status, AUTH_FOUND);
    ck_assert_str_eq(ans[0].text, "rev@x");
    ck_assert_int_eq(ans[1].status, AUTH_FOUND);
    ck_assert_str_eq(ans[1].text, "second@x");
    ck_assert_int_eq(ans[2].status, AUTH_NOTFOUND);
    ck_assert_str_eq(ans[2].text, "notfound@x");
    ck_assert_int_eq(server_connections(), 1);
    auth_async_free(&a);
    ck_assert_ptr_null(a);
}
END_TEST

/* A cancelled request's callback never runs, though its answer arrives. */
START_TEST(test_async_cancel)
{
    struct auth_async *a = auth_async_new(loop, sock_path, 5000);
    struct answer gone, kept;

    memset(&gone, 0, sizeof(gone));
    memset(&kept, 0, sizeof(kept));
    auth_async_cancel(a, ask(a, "gone@x", &gone));
    ck_assert_uint_eq(auth_async_pending(a), 0);
    ask(a, "kept@x", &kept);
    run_until(1);
    ck_assert_int_eq(gone.calls, 0);
    ck_assert_int_eq(kept.calls, 1);
    ck_assert_str_eq(kept.text, "kept@x");
    auth_async_free(&a);
}
END_TEST

/* Timeout, EOF, a malformed answer, no socket: TEMPFAIL with the reason,
 * always from the loop. */
START_TEST(test_async_failures_are_tempfail)
{
    struct auth_async *a = auth_async_new(loop, sock_path, 300);
    struct answer silent, closing, waiting, bad, after;
    char path[400];

    memset(&silent, 0, sizeof(silent));
    memset(&closing, 0, sizeof(closing));
    memset(&waiting, 0, sizeof(waiting));
    memset(&bad, 0, sizeof(bad));
    memset(&after, 0, sizeof(after));

    ask(a, "silent@x", &silent);
    run_until(1);
    ck_assert_int_eq(silent.status, AUTH_TEMPFAIL);
    ck_assert_str_eq(silent.text, "timeout");
    auth_async_free(&a);

    a = auth_async_new(loop, sock_path, 5000);
    ask(a, "bad@x", &bad);
    run_until(2);
    ck_assert_int_eq(bad.status, AUTH_TEMPFAIL);
    ck_assert_str_eq(bad.text, "malformed answer");

    /* EOF fails every request on the connection */
    ask(a, "silent@x", &waiting);
    ask(a, "close@x", &closing);
    run_until(4);
    ck_assert_int_eq(waiting.status, AUTH_TEMPFAIL);
    ck_assert_str_eq(waiting.text, "connection closed");
    ck_assert_int_eq(closing.status, AUTH_TEMPFAIL);
    ck_assert_str_eq(closing.text, "connection closed");
    ck_assert_int_eq(silent.calls + bad.calls + waiting.calls + closing.calls, 4);

    /* and the next request connects again */
    ask(a, "after@x", &after);
    run_until(5);
    ck_assert_int_eq(after.status, AUTH_FOUND);
    ck_assert_str_eq(after.text, "after@x");
    auth_async_free(&a);

    snprintf(path, sizeof(path), "%s/no-such.sock", sock_dir);
    a = auth_async_new(loop, path, 300);
    memset(&after, 0, sizeof(after));
    ck_assert_uint_ne(ask(a, "alice@x", &after), 0);
    ck_assert_int_eq(after.calls, 0); /* not from inside the call */
    run_until(6);
    ck_assert_int_eq(after.calls, 1);
    ck_assert_int_eq(after.status, AUTH_TEMPFAIL);
    ck_assert_str_eq(after.text, "auth socket: cannot connect");
    /* a request that cannot be encoded is refused at once, no callback */
    {
        const char *args[] = {"a", "b"};
        ck_assert_uint_eq(auth_async_request(a, AUTH_REQ_RESOLVE, args, 2, on_answer, &after), 0);
    }
    auth_async_free(&a);
    ck_assert_int_eq(after.calls, 1);
}
END_TEST

/* Freeing with requests pending calls none of their callbacks. */
START_TEST(test_async_free_with_pending)
{
    struct auth_async *a = auth_async_new(loop, sock_path, 5000);
    struct answer ans;

    memset(&ans, 0, sizeof(ans));
    ask(a, "silent@x", &ans);
    ask(a, "silent@x", &ans);
    ck_assert_uint_eq(auth_async_pending(a), 2);
    auth_async_free(&a);
    ck_assert_int_eq(ans.calls, 0);
}
END_TEST

static Suite *auth_client_suite(void)
{
    Suite *s = suite_create("auth_client");
    TCase *tc = tcase_create("blocking");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_blocking_answers_decoded);
    tcase_add_test(tc, test_blocking_server_statuses);
    tcase_add_test(tc, test_blocking_other_ids_skipped);
    tcase_add_test(tc, test_blocking_failures_are_tempfail);
    tcase_add_test(tc, test_blocking_no_socket_and_bad_requests);
    suite_add_tcase(s, tc);

    tc = tcase_create("async");
    tcase_add_checked_fixture(tc, async_setup, async_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_async_pipelined_out_of_order);
    tcase_add_test(tc, test_async_cancel);
    tcase_add_test(tc, test_async_failures_are_tempfail);
    tcase_add_test(tc, test_async_free_with_pending);
    suite_add_tcase(s, tc);
    return s;
}

TAP_MAIN(auth_client_suite)
