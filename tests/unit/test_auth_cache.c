/* tests/unit/test_auth_cache.c - the auth process's cache (auth/auth_cache.c):
 * TTLs per class, the LRU bound, the stale rules (positive yes, negative
 * never), login keys that hold no password, and 0 turning it off. Time is
 * passed in, so the tests do not sleep. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth_cache.h"
#include "tap_main.h"

static const struct auth_cache_settings defaults = {
    .positive_ttl = 300, .negative_ttl = 60, .auth_ttl = 30, .stale_ttl = 3600, .size = 100};

/* get - the body for key at now_s, as a string, or NULL on a miss. */
static enum auth_cache_hit get(struct auth_cache *c, const char *key, uint64_t now_s, bool stale,
                               char *out, size_t size)
{
    const char *body;
    size_t len;
    enum auth_cache_hit h = auth_cache_get(c, key, strlen(key), now_s * 1000, stale, &body, &len);
    if (h != AUTH_CACHE_MISS && out != NULL) {
        ck_assert_uint_lt(len, size);
        memcpy(out, body, len);
        out[len] = '\0';
    }
    return h;
}

static void put(struct auth_cache *c, const char *key, enum auth_cache_class cls, const char *body,
                uint64_t now_s)
{
    ck_assert_int_eq(auth_cache_put(c, key, strlen(key), cls, body, strlen(body), now_s * 1000), 0);
}

START_TEST(ttl_per_class)
{
    struct auth_cache *c = auth_cache_new(&defaults);
    ck_assert_ptr_nonnull(c);
    char out[64];
    put(c, "pos", AUTH_CACHE_POSITIVE, "FOUND kind=local", 1000);
    put(c, "neg", AUTH_CACHE_NEGATIVE, "NOTFOUND kind=unknown", 1000);
    put(c, "login", AUTH_CACHE_LOGIN, "OK login=a", 1000);
    ck_assert_int_eq(get(c, "pos", 1000, false, out, sizeof out), AUTH_CACHE_FRESH);
    ck_assert_str_eq(out, "FOUND kind=local");
    ck_assert_int_eq(get(c, "pos", 1299, false, NULL, 0), AUTH_CACHE_FRESH);
    ck_assert_int_eq(get(c, "pos", 1300, false, NULL, 0), AUTH_CACHE_MISS);
    ck_assert_int_eq(get(c, "neg", 1059, false, NULL, 0), AUTH_CACHE_FRESH);
    ck_assert_int_eq(get(c, "neg", 1060, false, NULL, 0), AUTH_CACHE_MISS);
    ck_assert_int_eq(get(c, "login", 1029, false, NULL, 0), AUTH_CACHE_FRESH);
    ck_assert_int_eq(get(c, "login", 1030, false, NULL, 0), AUTH_CACHE_MISS);
    ck_assert_int_eq(get(c, "other", 1000, false, NULL, 0), AUTH_CACHE_MISS);
    auth_cache_free(&c);
    ck_assert_ptr_null(c);
}
END_TEST

START_TEST(stale_rules)
{
    struct auth_cache *c = auth_cache_new(&defaults);
    char out[64];
    put(c, "pos", AUTH_CACHE_POSITIVE, "FOUND kind=local", 0);
    put(c, "neg", AUTH_CACHE_NEGATIVE, "NOTFOUND kind=unknown", 0);
    put(c, "login", AUTH_CACHE_LOGIN, "OK login=a", 0);
    /* Fresh answers are fresh whether stale is allowed or not. */
    ck_assert_int_eq(get(c, "pos", 10, true, NULL, 0), AUTH_CACHE_FRESH);
    /* Past the TTL: only with allow_stale, and only until stale_ttl. */
    ck_assert_int_eq(get(c, "pos", 400, false, NULL, 0), AUTH_CACHE_MISS);
    ck_assert_int_eq(get(c, "pos", 400, true, out, sizeof out), AUTH_CACHE_STALE);
    ck_assert_str_eq(out, "FOUND kind=local");
    ck_assert_int_eq(get(c, "login", 3599, true, NULL, 0), AUTH_CACHE_STALE);
    ck_assert_int_eq(get(c, "pos", 3600, true, NULL, 0), AUTH_CACHE_MISS);
    /* Negative answers are never served stale. */
    ck_assert_int_eq(get(c, "neg", 61, true, NULL, 0), AUTH_CACHE_MISS);
    /* Expired entries of no further use are dropped as they are met. */
    ck_assert_uint_eq(auth_cache_count(c), 1); /* login, not yet looked at past 3600 */
    ck_assert_int_eq(get(c, "login", 3600, true, NULL, 0), AUTH_CACHE_MISS);
    ck_assert_uint_eq(auth_cache_count(c), 0);
    auth_cache_free(&c);
}
END_TEST

START_TEST(negative_replaces_positive)
{
    struct auth_cache *c = auth_cache_new(&defaults);
    put(c, "k", AUTH_CACHE_POSITIVE, "FOUND kind=local", 0);
    put(c, "k", AUTH_CACHE_NEGATIVE, "NOTFOUND kind=unknown", 100);
    ck_assert_uint_eq(auth_cache_count(c), 1);
    /* The user was deleted: the old FOUND must not come back stale. */
    ck_assert_int_eq(get(c, "k", 200, true, NULL, 0), AUTH_CACHE_MISS);
    put(c, "login", AUTH_CACHE_LOGIN, "OK login=a", 0);
    auth_cache_remove(c, "login", 5);
    ck_assert_int_eq(get(c, "login", 1, true, NULL, 0), AUTH_CACHE_MISS);
    auth_cache_free(&c);
}
END_TEST

START_TEST(lru_bound)
{
    struct auth_cache_settings s = defaults;
    s.size = 3;
    struct auth_cache *c = auth_cache_new(&s);
    put(c, "a", AUTH_CACHE_POSITIVE, "A", 0);
    put(c, "b", AUTH_CACHE_POSITIVE, "B", 0);
    put(c, "c", AUTH_CACHE_POSITIVE, "C", 0);
    ck_assert_int_eq(get(c, "a", 1, false, NULL, 0), AUTH_CACHE_FRESH); /* a is now newest */
    put(c, "d", AUTH_CACHE_POSITIVE, "D", 2);                           /* b goes */
    ck_assert_uint_eq(auth_cache_count(c), 3);
    ck_assert_int_eq(get(c, "b", 3, false, NULL, 0), AUTH_CACHE_MISS);
    ck_assert_int_eq(get(c, "a", 3, false, NULL, 0), AUTH_CACHE_FRESH);
    ck_assert_int_eq(get(c, "c", 3, false, NULL, 0), AUTH_CACHE_FRESH);
    ck_assert_int_eq(get(c, "d", 3, false, NULL, 0), AUTH_CACHE_FRESH);
    /* Many more keys than room: the bound holds. */
    char key[32];
    for (int i = 0; i < 10000; i++) {
        snprintf(key, sizeof key, "key-%d", i);
        put(c, key, AUTH_CACHE_POSITIVE, "X", 4);
    }
    ck_assert_uint_eq(auth_cache_count(c), 3);
    ck_assert_int_eq(get(c, "key-9999", 5, false, NULL, 0), AUTH_CACHE_FRESH);
    ck_assert_int_eq(get(c, "key-9996", 5, false, NULL, 0), AUTH_CACHE_MISS);
    auth_cache_free(&c);
}
END_TEST

START_TEST(disabled)
{
    struct auth_cache_settings s = defaults;
    s.size = 0;
    struct auth_cache *c = auth_cache_new(&s);
    put(c, "a", AUTH_CACHE_POSITIVE, "A", 0);
    ck_assert_uint_eq(auth_cache_count(c), 0);
    ck_assert_int_eq(get(c, "a", 0, true, NULL, 0), AUTH_CACHE_MISS);
    auth_cache_free(&c);

    /* A class with TTL 0 and no stale use is not stored at all. */
    s = defaults;
    s.negative_ttl = 0;
    s.positive_ttl = 0;
    s.stale_ttl = 0;
    c = auth_cache_new(&s);
    put(c, "n", AUTH_CACHE_NEGATIVE, "N", 0);
    put(c, "p", AUTH_CACHE_POSITIVE, "P", 0);
    ck_assert_uint_eq(auth_cache_count(c), 0);
    auth_cache_free(&c);

    /* positive_ttl 0 with stale_ttl: kept only to stand in during an outage. */
    s = defaults;
    s.positive_ttl = 0;
    c = auth_cache_new(&s);
    put(c, "p", AUTH_CACHE_POSITIVE, "P", 0);
    ck_assert_int_eq(get(c, "p", 0, false, NULL, 0), AUTH_CACHE_MISS);
    ck_assert_int_eq(get(c, "p", 0, true, NULL, 0), AUTH_CACHE_STALE);
    auth_cache_free(&c);
}
END_TEST

/* contains - does the len-byte key hold needle anywhere? */
static bool contains(const char *key, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= len; i++) {
        if (memcmp(key + i, needle, n) == 0)
            return true;
    }
    return false;
}

START_TEST(login_key)
{
    struct auth_cache *c = auth_cache_new(&defaults);
    struct auth_cache *other = auth_cache_new(&defaults);
    struct auth_request req = {
        .id = 1, .type = AUTH_REQ_AUTH, .argc = 3, .args = {"alice", "Secret-Pw", "imap"}};
    struct buf k1 = BUF_INIT, k2 = BUF_INIT, k3 = BUF_INIT, k4 = BUF_INIT, k5 = BUF_INIT;
    ck_assert_int_eq(auth_cache_key(c, &req, &k1), 0);
    /* The password is not in the key; the login and service are. */
    ck_assert(!contains(buf_ptr(&k1), buf_len(&k1), "Secret-Pw"));
    ck_assert(contains(buf_ptr(&k1), buf_len(&k1), "alice"));
    ck_assert(contains(buf_ptr(&k1), buf_len(&k1), "imap"));
    /* Same request, same key; a request id does not matter. */
    req.id = 99;
    ck_assert_int_eq(auth_cache_key(c, &req, &k2), 0);
    ck_assert(buf_len(&k1) == buf_len(&k2) &&
              memcmp(buf_ptr(&k1), buf_ptr(&k2), buf_len(&k1)) == 0);
    /* Another password (a changed one) is another key. */
    req.args[1] = "Secret-Pw2";
    ck_assert_int_eq(auth_cache_key(c, &req, &k3), 0);
    ck_assert(buf_len(&k1) != buf_len(&k3) ||
              memcmp(buf_ptr(&k1), buf_ptr(&k3), buf_len(&k1)) != 0);
    /* Another process (another random key) hashes differently. */
    req.args[1] = "Secret-Pw";
    ck_assert_int_eq(auth_cache_key(other, &req, &k4), 0);
    ck_assert(memcmp(buf_ptr(&k1), buf_ptr(&k4), buf_len(&k1)) != 0);
    /* Fields cannot run into each other: ("ab","c") is not ("a","bc"). */
    struct auth_request r1 = {.id = 1, .type = AUTH_REQ_AUTH, .argc = 3, .args = {"ab", "p", "c"}};
    struct auth_request r2 = {.id = 1, .type = AUTH_REQ_AUTH, .argc = 3, .args = {"a", "p", "bc"}};
    ck_assert_int_eq(auth_cache_key(c, &r1, &k4), 0);
    ck_assert_int_eq(auth_cache_key(c, &r2, &k5), 0);
    ck_assert(memcmp(buf_ptr(&k4), buf_ptr(&k5), buf_len(&k4)) != 0);
    /* A RESOLVE and a USER of the same text are different keys. */
    struct auth_request q1 = {.id = 1, .type = AUTH_REQ_RESOLVE, .argc = 1, .args = {"a@b"}};
    struct auth_request q2 = {.id = 1, .type = AUTH_REQ_USER, .argc = 1, .args = {"a@b"}};
    ck_assert_int_eq(auth_cache_key(c, &q1, &k4), 0);
    ck_assert_int_eq(auth_cache_key(c, &q2, &k5), 0);
    ck_assert(buf_len(&k4) != buf_len(&k5) ||
              memcmp(buf_ptr(&k4), buf_ptr(&k5), buf_len(&k4)) != 0);
    buf_release(&k1);
    buf_release(&k2);
    buf_release(&k3);
    buf_release(&k4);
    buf_release(&k5);
    auth_cache_free(&c);
    auth_cache_free(&other);
}
END_TEST

static Suite *cache_suite(void)
{
    Suite *s = suite_create("auth_cache");
    TCase *tc = tcase_create("cache");
    tcase_add_test(tc, ttl_per_class);
    tcase_add_test(tc, stale_rules);
    tcase_add_test(tc, negative_replaces_positive);
    tcase_add_test(tc, lru_bound);
    tcase_add_test(tc, disabled);
    tcase_add_test(tc, login_key);
    suite_add_tcase(s, tc);
    return s;
}

TAP_MAIN(cache_suite)
