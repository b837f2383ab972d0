/* auth/auth_cache.h - the auth process's cache of answers, shared by every
 * worker through the auth socket: encoded response bodies keyed by request,
 * with separate TTLs for positive, negative and login answers, a bound on
 * entries (least recently used dropped first) and stale serving during a
 * directory outage. It never stores a password: a login's key holds an
 * HMAC-SHA-256 of it under a random per-process key. Single-threaded: only
 * the auth process's event loop touches it. */
#ifndef DIRMAIL_AUTH_CACHE_H
#define DIRMAIL_AUTH_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/auth_protocol.h"
#include "lib/buf.h"

struct auth_cache_settings {
    unsigned positive_ttl; /* seconds; 0: positive answers not served fresh */
    unsigned negative_ttl;
    unsigned auth_ttl;
    unsigned stale_ttl; /* positive and login answers only */
    unsigned size;      /* entries; 0 disables the cache */
};

enum auth_cache_class {
    AUTH_CACHE_POSITIVE, /* FOUND */
    AUTH_CACHE_NEGATIVE, /* NOTFOUND: never served stale */
    AUTH_CACHE_LOGIN,    /* AUTH OK */
};

enum auth_cache_hit {
    AUTH_CACHE_MISS,
    AUTH_CACHE_FRESH, /* younger than its class's TTL */
    AUTH_CACHE_STALE, /* past its TTL, younger than stale_ttl, not negative */
};

struct auth_cache;

/* auth_cache_new - an empty cache with a fresh random HMAC key. NULL when out
 * of memory or when OpenSSL's RNG fails. */
struct auth_cache *auth_cache_new(const struct auth_cache_settings *settings);
void auth_cache_free(struct auth_cache **cache);

/* auth_cache_key - the key of req into key (cleared first): the verb and the
 * arguments; for AUTH, the login, the service and HMAC-SHA-256(key, password)
 * instead of the password. 0, or -1 when out of memory. */
int auth_cache_key(const struct auth_cache *cache, const struct auth_request *req, struct buf *key);

/* auth_cache_get - the cached body for key. With allow_stale, an entry past
 * its TTL but younger than stale_ttl is returned as STALE (never a negative
 * one). *body_r / *len_r stay valid until the next call that changes the
 * cache. A hit makes the entry the most recently used. */
enum auth_cache_hit auth_cache_get(struct auth_cache *cache, const char *key, size_t key_len,
                                   uint64_t now_ms, bool allow_stale, const char **body_r,
                                   size_t *len_r);

/* auth_cache_put - store (or replace) key's body as cls at now_ms. An answer
 * its class would never serve (TTL 0, and no stale use) is not stored; a
 * stored one may push out the least recently used. 0, or -1 when out of
 * memory (the cache is unchanged then). */
int auth_cache_put(struct auth_cache *cache, const char *key, size_t key_len,
                   enum auth_cache_class cls, const char *body, size_t body_len, uint64_t now_ms);

/* auth_cache_remove - forget key (a login that just failed must not be
 * served stale later). */
void auth_cache_remove(struct auth_cache *cache, const char *key, size_t key_len);

/* auth_cache_count - entries held (tests, statistics). */
size_t auth_cache_count(const struct auth_cache *cache);

#endif
