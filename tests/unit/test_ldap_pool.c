/* tests/unit/test_ldap_pool.c - auth/ldap_pool.c against a tiny LDAP server
 * in a thread (liblber encodes its answers; it understands just enough of
 * RFC 4511 for a simple bind and a search): result codes classified, the
 * settings copied, entries copied out of libldap's messages, one connection
 * reused across calls, never more connections than the pool's size (the
 * next caller waits wait_ms, then LDAP_BUSY), a connection the server
 * closed replaced without the caller noticing, failover past a dead URI,
 * and a URI found down failing at once until its backoff allows a retry.
 * The real slapd is the integration tests' (test_directory.py). */
#include "config.h"

#include "auth/ldap_pool.h"
#include "lib/clock.h"
#include "tap_main.h"

#include <arpa/inet.h>
#include <errno.h>
#include <lber.h>
#include <ldap.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- the server ----
 * Binds: success, except a password "wrong" (invalidCredentials).
 * Searches, by what the request holds:
 *   dc=slow   held until server_release() (counted in server_held)
 *   dc=last   answered, then the connection is closed (an idle timeout)
 *   anything else: one entry uid=x,dc=test with mail (two values),
 *   cn, and bin (a value holding a NUL byte, then "ok").
 * An unbind closes the connection. */

#define MAX_CONNECTIONS 32

static int listen_fd = -1;
static unsigned short server_port;
static pthread_t server_thread, conn_threads[MAX_CONNECTIONS];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int accepted, binds, searches, held;
static bool released;

/* read_full - exactly n bytes; 0, or -1 at EOF or error. */
static int read_full(int fd, unsigned char *p, size_t n)
{
    while (n > 0) {
        ssize_t r = read(fd, p, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

/* read_message - one BER element (an LDAPMessage) into a malloc'd buffer. */
static unsigned char *read_message(int fd, size_t *len_r)
{
    unsigned char head[2], lenbytes[4];
    size_t len = 0, hlen = 2;
    unsigned char *msg;

    if (read_full(fd, head, 2) < 0)
        return NULL;
    if (head[1] & 0x80) {
        size_t k = head[1] & 0x7f;
        if (k == 0 || k > 4 || read_full(fd, lenbytes, k) < 0)
            return NULL;
        for (size_t i = 0; i < k; i++)
            len = len << 8 | lenbytes[i];
        hlen += k;
    } else {
        len = head[1];
    }
    if (len > 1 << 20)
        return NULL;
    msg = malloc(hlen + len);
    if (msg == NULL)
        return NULL;
    memcpy(msg, head, 2);
    memcpy(msg + 2, lenbytes, hlen - 2);
    if (read_full(fd, msg + hlen, len) < 0) {
        free(msg);
        return NULL;
    }
    *len_r = hlen + len;
    return msg;
}

static bool contains(const unsigned char *msg, size_t len, const char *s)
{
    return memmem(msg, len, s, strlen(s)) != NULL;
}

/* send_ber - flatten ber, write it to fd, free ber. */
static void send_ber(int fd, BerElement *ber)
{
    struct berval bv;

    if (ber_flatten2(ber, &bv, 0) == 0)
        (void)!write(fd, bv.bv_val, bv.bv_len);
    ber_free(ber, 1);
}

static void send_result(int fd, ber_int_t msgid, ber_tag_t op, ber_int_t code)
{
    BerElement *ber = ber_alloc_t(LBER_USE_DER);

    ber_printf(ber, "{it{ess}}", msgid, op, code, "", "");
    send_ber(fd, ber);
}

static void send_entry(int fd, ber_int_t msgid)
{
    BerElement *ber = ber_alloc_t(LBER_USE_DER);

    ber_printf(ber, "{it{s{", msgid, LDAP_RES_SEARCH_ENTRY, "uid=x,dc=test");
    ber_printf(ber, "{s[ss]}", "mail", "x@example.org", "x.y@example.org");
    ber_printf(ber, "{s[s]}", "cn", "X");
    ber_printf(ber, "{s[oo]}", "bin", "a\0b", (ber_len_t)3, "ok", (ber_len_t)2);
    ber_printf(ber, "}}}");
    send_ber(fd, ber);
}

static void *conn_main(void *arg)
{
    int fd = (int)(intptr_t)arg;
    unsigned char *msg;
    size_t len;

    while ((msg = read_message(fd, &len)) != NULL) {
        struct berval bv = {.bv_len = len, .bv_val = (char *)msg};
        BerElement *ber = ber_init(&bv);
        ber_int_t msgid = 0;
        ber_len_t blen;
        ber_tag_t op = LBER_ERROR;
        bool close_after = false;

        if (ber != NULL && ber_scanf(ber, "{i", &msgid) != LBER_ERROR)
            op = ber_peek_tag(ber, &blen);
        if (ber != NULL)
            ber_free(ber, 1);
        if (op == LDAP_REQ_BIND) {
            pthread_mutex_lock(&lock);
            binds++;
            pthread_mutex_unlock(&lock);
            send_result(fd, msgid, LDAP_RES_BIND,
                        contains(msg, len, "wrong") ? LDAP_INVALID_CREDENTIALS : LDAP_SUCCESS);
        } else if (op == LDAP_REQ_SEARCH) {
            pthread_mutex_lock(&lock);
            searches++;
            if (contains(msg, len, "dc=slow")) {
                held++;
                pthread_cond_broadcast(&cond);
                while (!released)
                    pthread_cond_wait(&cond, &lock);
                held--;
            }
            pthread_mutex_unlock(&lock);
            close_after = contains(msg, len, "dc=last");
            send_entry(fd, msgid);
            send_result(fd, msgid, LDAP_RES_SEARCH_RESULT, LDAP_SUCCESS);
        } else {
            close_after = true; /* unbind, or anything else */
        }
        free(msg);
        if (close_after)
            break;
    }
    close(fd);
    return NULL;
}

static void *server_main(void *arg)
{
    (void)arg;
    for (;;) {
        int fd = accept(listen_fd, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            return NULL;
        }
        pthread_mutex_lock(&lock);
        if (accepted == MAX_CONNECTIONS ||
            pthread_create(&conn_threads[accepted], NULL, conn_main, (void *)(intptr_t)fd) != 0)
            close(fd);
        else
            accepted++;
        pthread_mutex_unlock(&lock);
    }
}

static void setup(void)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t slen = sizeof(sin);

    signal(SIGPIPE, SIG_IGN);
    listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(listen_fd, 0);
    ck_assert_int_eq(bind(listen_fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    ck_assert_int_eq(listen(listen_fd, 16), 0);
    ck_assert_int_eq(getsockname(listen_fd, (struct sockaddr *)&sin, &slen), 0);
    server_port = ntohs(sin.sin_port);
    accepted = binds = searches = held = 0;
    released = false;
    ck_assert_int_eq(pthread_create(&server_thread, NULL, server_main, NULL), 0);
}

static void teardown(void)
{
    shutdown(listen_fd, SHUT_RDWR);
    pthread_join(server_thread, NULL);
    close(listen_fd);
    /* every pool is freed by now (its unbinds close the connections) */
    for (int i = 0; i < accepted; i++)
        pthread_join(conn_threads[i], NULL);
}

static int count(const int *n)
{
    pthread_mutex_lock(&lock);
    int v = *n;
    pthread_mutex_unlock(&lock);
    return v;
}

static void server_release(void)
{
    pthread_mutex_lock(&lock);
    released = true;
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&lock);
}

/* wait_held - until n searches are held by the server (5 s at most). */
static void wait_held(int n)
{
    struct timespec deadline;

    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 5;
    pthread_mutex_lock(&lock);
    while (held < n && pthread_cond_timedwait(&cond, &lock, &deadline) == 0)
        ;
    int h = held;
    pthread_mutex_unlock(&lock);
    ck_assert_int_eq(h, n);
}

/* A port nothing listens on (bound once, then closed). */
static unsigned short dead_port(void)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t slen = sizeof(sin);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &slen), 0);
    close(fd);
    return ntohs(sin.sin_port);
}

static char uri_live[64], uri_dead[64];

static struct ldap_pool *new_pool(char *const *uris, size_t n, unsigned size, unsigned wait_ms,
                                  const char *bind_dn)
{
    struct ldap_pool_settings s = {
        .uris = uris,
        .uri_count = n,
        .bind_dn = bind_dn,
        .bind_password = bind_dn != NULL ? "service-secret" : NULL,
        .connect_timeout_ms = 2000,
        .timeout_ms = 5000,
        .wait_ms = wait_ms,
        .retry_preferred_ms = 60000,
        .size = size,
        .starttls = LDAP_POOL_TLS_NO,
        .name = "test",
    };
    const char *error = NULL;
    struct ldap_pool *pool = ldap_pool_new(&s, &error);

    ck_assert_msg(pool != NULL, "ldap_pool_new: %s", error);
    return pool;
}

static void uris_setup(void)
{
    setup();
    snprintf(uri_live, sizeof(uri_live), "ldap://127.0.0.1:%u", server_port);
    snprintf(uri_dead, sizeof(uri_dead), "ldap://127.0.0.1:%u", dead_port());
}

static int search(struct ldap_pool *pool, const char *base, struct ldap_pool_result **r)
{
    return ldap_pool_search(pool, base, LDAP_SCOPE_SUBTREE, "(uid=x)", NULL, 10, r);
}

/* ---- pure parts ---- */

START_TEST(test_rc_class)
{
    ck_assert_int_eq(ldap_pool_rc_class(LDAP_SUCCESS), LDAP_RC_OK);
    ck_assert_int_eq(ldap_pool_rc_class(LDAP_COMPARE_TRUE), LDAP_RC_OK);
    ck_assert_int_eq(ldap_pool_rc_class(LDAP_SERVER_DOWN), LDAP_RC_CONNECTION);
    ck_assert_int_eq(ldap_pool_rc_class(LDAP_TIMEOUT), LDAP_RC_CONNECTION);
    ck_assert_int_eq(ldap_pool_rc_class(LDAP_CONNECT_ERROR), LDAP_RC_CONNECTION);
    ck_assert_int_eq(ldap_pool_rc_class(LDAP_UNAVAILABLE), LDAP_RC_CONNECTION);
    ck_assert_int_eq(ldap_pool_rc_class(LDAP_PROTOCOL_ERROR), LDAP_RC_CONNECTION);
    ck_assert_int_eq(ldap_pool_rc_class(LDAP_INVALID_CREDENTIALS), LDAP_RC_CREDENTIALS);
    ck_assert_int_eq(ldap_pool_rc_class(LDAP_INAPPROPRIATE_AUTH), LDAP_RC_CREDENTIALS);
    /* a wrong base or filter defers mail: never a permanent answer */
    ck_assert_int_eq(ldap_pool_rc_class(LDAP_NO_SUCH_OBJECT), LDAP_RC_CONFIG);
    ck_assert_int_eq(ldap_pool_rc_class(LDAP_FILTER_ERROR), LDAP_RC_CONFIG);
    ck_assert_int_eq(ldap_pool_rc_class(LDAP_INSUFFICIENT_ACCESS), LDAP_RC_CONFIG);
    ck_assert_int_eq(ldap_pool_rc_class(LDAP_BUSY), LDAP_RC_TEMPORARY);
    ck_assert_int_eq(ldap_pool_rc_class(LDAP_UNWILLING_TO_PERFORM), LDAP_RC_TEMPORARY);
    ck_assert_int_eq(ldap_pool_rc_class(LDAP_SIZELIMIT_EXCEEDED), LDAP_RC_TEMPORARY);
    ck_assert_int_eq(ldap_pool_rc_class(LDAP_OTHER), LDAP_RC_TEMPORARY);
}
END_TEST

START_TEST(test_new_refuses_empty_settings)
{
    char *uris[] = {(char *)"ldap://127.0.0.1:1"};
    struct ldap_pool_settings s = {.uris = uris, .uri_count = 1, .size = 0};
    const char *error = NULL;

    ck_assert_ptr_null(ldap_pool_new(&s, &error));
    ck_assert_str_eq(error, "LDAP pool size must be at least 1");
    s.size = 1;
    s.uri_count = 0;
    error = NULL;
    ck_assert_ptr_null(ldap_pool_new(&s, &error));
    ck_assert_str_eq(error, "no LDAP URI configured");
    {
        struct ldap_pool *none = NULL;
        ldap_pool_free(&none); /* NULL is fine */
    }
}
END_TEST

/* ---- against the server ---- */

/* The entry's values are copied out (a NUL-holding value dropped); the
 * settings' strings were copied (the caller's are gone before first use). */
START_TEST(test_search_copies_entries)
{
    char *uri = strdup(uri_live);
    char *uris[] = {uri};
    struct ldap_pool *pool = new_pool(uris, 1, 2, 1000, "cn=service");
    struct ldap_pool_result *r = NULL;
    const struct ldap_pool_attr *a;

    memset(uri, 'x', strlen(uri));
    free(uri);
    ck_assert_int_eq(search(pool, "dc=test", &r), LDAP_SUCCESS);
    ck_assert_ptr_nonnull(r);
    ck_assert_uint_eq(r->count, 1);
    ck_assert_str_eq(r->entries[0].dn, "uid=x,dc=test");
    a = ldap_pool_entry_attr(&r->entries[0], "MAIL");
    ck_assert_ptr_nonnull(a);
    ck_assert_uint_eq(a->count, 2);
    ck_assert_str_eq(a->values[0], "x@example.org");
    ck_assert_str_eq(a->values[1], "x.y@example.org");
    ck_assert_str_eq(ldap_pool_entry_value(&r->entries[0], "cn"), "X");
    a = ldap_pool_entry_attr(&r->entries[0], "bin");
    ck_assert_ptr_nonnull(a);
    ck_assert_uint_eq(a->count, 1);
    ck_assert_str_eq(a->values[0], "ok");
    ck_assert_ptr_null(ldap_pool_entry_attr(&r->entries[0], "sn"));
    ck_assert_ptr_null(ldap_pool_entry_value(&r->entries[0], "sn"));
    ck_assert_ptr_null(ldap_pool_entry_attr(&r->entries[0], NULL));
    ldap_pool_result_free(&r);
    ck_assert_ptr_null(r);
    ldap_pool_result_free(&r); /* again: a no-op */
    ldap_pool_free(&pool);
    ck_assert_ptr_null(pool);
    ck_assert_int_eq(count(&binds), 1); /* the service bind, once */
}
END_TEST

/* Calls one after another share one connection. */
START_TEST(test_connection_reused)
{
    char *uris[] = {uri_live};
    struct ldap_pool *pool = new_pool(uris, 1, 4, 1000, "cn=service");

    for (int i = 0; i < 5; i++) {
        struct ldap_pool_result *r = NULL;
        ck_assert_int_eq(search(pool, "dc=test", &r), LDAP_SUCCESS);
        ldap_pool_result_free(&r);
    }
    ck_assert_int_eq(count(&searches), 5);
    ck_assert_int_eq(count(&accepted), 1);
    ck_assert_int_eq(count(&binds), 1);
    ldap_pool_free(&pool);
}
END_TEST

/* The server closed an idle connection: the next search is retried on a
 * fresh one and succeeds. */
START_TEST(test_dead_connection_replaced)
{
    char *uris[] = {uri_live};
    struct ldap_pool *pool = new_pool(uris, 1, 1, 1000, "cn=service");
    struct ldap_pool_result *r = NULL;

    ck_assert_int_eq(search(pool, "dc=last", &r), LDAP_SUCCESS);
    ldap_pool_result_free(&r);
    ck_assert_int_eq(search(pool, "dc=test", &r), LDAP_SUCCESS);
    ck_assert_ptr_nonnull(r);
    ck_assert_uint_eq(r->count, 1);
    ldap_pool_result_free(&r);
    ck_assert_int_eq(count(&accepted), 2);
    ck_assert_int_eq(count(&binds), 2);
    ldap_pool_free(&pool);
}
END_TEST

struct held_search {
    struct ldap_pool *pool;
    int rc;
};

static void *held_search_main(void *arg)
{
    struct held_search *h = arg;
    struct ldap_pool_result *r = NULL;

    h->rc = search(h->pool, "dc=slow", &r);
    ldap_pool_result_free(&r);
    return NULL;
}

/* Never more connections than the pool's size: with both in use the next
 * caller waits wait_ms, then gets LDAP_BUSY; once they are back it is
 * served on one of them. */
START_TEST(test_pool_size_bounds_connections)
{
    char *uris[] = {uri_live};
    struct ldap_pool *pool = new_pool(uris, 1, 2, 300, "cn=service");
    struct held_search h[2] = {{pool, -1}, {pool, -1}};
    pthread_t t[2];
    struct ldap_pool_result *r = NULL;
    uint64_t t0;

    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, held_search_main, &h[i]), 0);
    wait_held(2);
    t0 = clock_monotonic_ms();
    ck_assert_int_eq(search(pool, "dc=test", &r), LDAP_BUSY);
    ck_assert_ptr_null(r);
    ck_assert_uint_ge(clock_monotonic_ms() - t0, 290);
    ck_assert_int_eq(count(&accepted), 2);
    server_release();
    for (int i = 0; i < 2; i++) {
        pthread_join(t[i], NULL);
        ck_assert_int_eq(h[i].rc, LDAP_SUCCESS);
    }
    ck_assert_int_eq(search(pool, "dc=test", &r), LDAP_SUCCESS);
    ldap_pool_result_free(&r);
    ck_assert_int_eq(count(&accepted), 2);
    ldap_pool_free(&pool);
}
END_TEST

/* A first URI that refuses connections: the pool fails over to the next. */
START_TEST(test_failover_past_dead_uri)
{
    char *uris[] = {uri_dead, uri_live};
    struct ldap_pool *pool = new_pool(uris, 2, 1, 1000, "cn=service");
    struct ldap_pool_result *r = NULL;

    ck_assert_int_eq(search(pool, "dc=test", &r), LDAP_SUCCESS);
    ck_assert_uint_eq(r->count, 1);
    ldap_pool_result_free(&r);
    ck_assert_int_eq(search(pool, "dc=test", &r), LDAP_SUCCESS);
    ldap_pool_result_free(&r);
    ck_assert_int_eq(count(&accepted), 1);
    ldap_pool_free(&pool);
}
END_TEST

/* With its only URI down, a search fails with LDAP_SERVER_DOWN, and the
 * next ones fail at once (no connection attempt until the backoff allows
 * one: ldap_health's own tests drive that clock). */
START_TEST(test_down_uri_fails_at_once)
{
    char *uris[] = {uri_dead};
    struct ldap_pool *pool = new_pool(uris, 1, 2, 1000, "cn=service");
    struct ldap_pool_result *r = NULL;
    uint64_t t0;

    ck_assert_int_eq(search(pool, "dc=test", &r), LDAP_SERVER_DOWN);
    ck_assert_ptr_null(r);
    t0 = clock_monotonic_ms();
    for (int i = 0; i < 20; i++)
        ck_assert_int_eq(search(pool, "dc=test", &r), LDAP_SERVER_DOWN);
    ck_assert_uint_lt(clock_monotonic_ms() - t0, 500);
    ldap_pool_free(&pool);
}
END_TEST

/* A user bind on a pool without a service identity: the server's verdict. */
START_TEST(test_user_bind)
{
    char *uris[] = {uri_live};
    struct ldap_pool *pool = new_pool(uris, 1, 1, 1000, NULL);

    ck_assert_int_eq(ldap_pool_bind(pool, "uid=x,dc=test", "right"), LDAP_SUCCESS);
    ck_assert_int_eq(ldap_pool_bind(pool, "uid=x,dc=test", "wrong"), LDAP_INVALID_CREDENTIALS);
    ck_assert_int_eq(ldap_pool_bind(pool, "uid=x,dc=test", "right"), LDAP_SUCCESS);
    ck_assert_int_eq(count(&binds), 3);
    ck_assert_int_eq(count(&accepted), 1); /* a refused password keeps the connection */
    ldap_pool_free(&pool);
}
END_TEST

static Suite *ldap_pool_suite(void)
{
    Suite *s = suite_create("ldap_pool");
    TCase *tc = tcase_create("pure");

    tcase_add_test(tc, test_rc_class);
    tcase_add_test(tc, test_new_refuses_empty_settings);
    suite_add_tcase(s, tc);

    tc = tcase_create("server");
    tcase_add_checked_fixture(tc, uris_setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_search_copies_entries);
    tcase_add_test(tc, test_connection_reused);
    tcase_add_test(tc, test_dead_connection_replaced);
    tcase_add_test(tc, test_pool_size_bounds_connections);
    tcase_add_test(tc, test_failover_past_dead_uri);
    tcase_add_test(tc, test_down_uri_fails_at_once);
    tcase_add_test(tc, test_user_bind);
    suite_add_tcase(s, tc);
    return s;
}

TAP_MAIN(ldap_pool_suite)
