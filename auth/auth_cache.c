/* auth/auth_cache.c - see auth_cache.h. A chained hash table for lookup and a
 * doubly linked list for recency; both are intrusive in the entry, so an
 * answer costs one allocation. */
#include "config.h"

#include "auth/auth_cache.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#define HMAC_KEY_LEN 32

struct entry {
    struct entry *hnext;         /* hash chain */
    struct entry *newer, *older; /* recency list */
    uint64_t hash;
    uint64_t stored_ms;
    enum auth_cache_class cls;
    size_t key_len, body_len;
    char data[]; /* key bytes, then body bytes */
};

struct auth_cache {
    struct auth_cache_settings s;
    struct entry **buckets;
    size_t bucket_count; /* power of two */
    size_t count;
    struct entry *newest, *oldest;
    uint64_t seed;
    unsigned char hmac_key[HMAC_KEY_LEN];
};

struct auth_cache *auth_cache_new(const struct auth_cache_settings *settings)
{
    struct auth_cache *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->s = *settings;
    /* About one entry per bucket when full; at least 16. */
    c->bucket_count = 16;
    while (c->bucket_count < settings->size && c->bucket_count < (1u << 24))
        c->bucket_count <<= 1;
    c->buckets = calloc(c->bucket_count, sizeof *c->buckets);
    /* The seed keeps chains short even for keys chosen to collide. */
    if (c->buckets == NULL || RAND_bytes(c->hmac_key, sizeof c->hmac_key) != 1 ||
        RAND_bytes((unsigned char *)&c->seed, sizeof c->seed) != 1) {
        auth_cache_free(&c);
        return NULL;
    }
    return c;
}

void auth_cache_free(struct auth_cache **cache)
{
    struct auth_cache *c = *cache;
    if (c == NULL)
        return;
    for (struct entry *e = c->newest, *next; e != NULL; e = next) {
        next = e->older;
        OPENSSL_cleanse(e->data, e->key_len);
        free(e);
    }
    OPENSSL_cleanse(c->hmac_key, sizeof c->hmac_key);
    free(c->buckets);
    free(c);
    *cache = NULL;
}

/* hash - FNV-1a over the key, started from the per-process seed. */
static uint64_t hash(const struct auth_cache *c, const char *key, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ULL ^ c->seed;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)key[i];
        h *= 0x100000001b3ULL;
    }
    return h ^ (h >> 29);
}

int auth_cache_key(const struct auth_cache *cache, const struct auth_request *req, struct buf *key)
{
    buf_clear(key);
    /* Fields are NUL-separated: arguments are C strings, so no field can
     * run into the next. */
    const char *verb = auth_request_type_name(req->type);
    if (buf_append(key, verb, strlen(verb) + 1) < 0)
        return -1;
    if (req->type != AUTH_REQ_AUTH) {
        for (size_t i = 0; i < req->argc; i++) {
            if (buf_append(key, req->args[i], strlen(req->args[i]) + 1) < 0)
                return -1;
        }
        return 0;
    }
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    const char *password = req->args[1];
    if (HMAC(EVP_sha256(), cache->hmac_key, sizeof cache->hmac_key, (const unsigned char *)password,
             strlen(password), mac, &mac_len) == NULL)
        return -1;
    int ret = buf_append(key, req->args[0], strlen(req->args[0]) + 1) < 0 ||
                      buf_append(key, req->args[2], strlen(req->args[2]) + 1) < 0 ||
                      buf_append(key, mac, mac_len) < 0
                  ? -1
                  : 0;
    OPENSSL_cleanse(mac, sizeof mac);
    return ret;
}

static unsigned ttl_of(const struct auth_cache *c, enum auth_cache_class cls)
{
    switch (cls) {
    case AUTH_CACHE_POSITIVE:
        return c->s.positive_ttl;
    case AUTH_CACHE_NEGATIVE:
        return c->s.negative_ttl;
    case AUTH_CACHE_LOGIN:
        return c->s.auth_ttl;
    }
    return 0;
}

/* lifetime_ms - how long an entry can still be of use: its TTL, or stale_ttl
 * for the classes that may be served stale. */
static uint64_t lifetime_ms(const struct auth_cache *c, enum auth_cache_class cls)
{
    unsigned t = ttl_of(c, cls);
    if (cls != AUTH_CACHE_NEGATIVE && c->s.stale_ttl > t)
        t = c->s.stale_ttl;
    return (uint64_t)t * 1000;
}

static struct entry **find(struct auth_cache *c, const char *key, size_t len, uint64_t h)
{
    struct entry **pp = &c->buckets[h & (c->bucket_count - 1)];
    for (; *pp != NULL; pp = &(*pp)->hnext) {
        struct entry *e = *pp;
        if (e->hash == h && e->key_len == len && memcmp(e->data, key, len) == 0)
            return pp;
    }
    return pp;
}

static void list_unlink(struct auth_cache *c, struct entry *e)
{
    if (e->newer != NULL)
        e->newer->older = e->older;
    else
        c->newest = e->older;
    if (e->older != NULL)
        e->older->newer = e->newer;
    else
        c->oldest = e->newer;
    e->newer = e->older = NULL;
}

static void list_push_newest(struct auth_cache *c, struct entry *e)
{
    e->older = c->newest;
    e->newer = NULL;
    if (c->newest != NULL)
        c->newest->newer = e;
    c->newest = e;
    if (c->oldest == NULL)
        c->oldest = e;
}

/* drop - unlink *pp (the chain slot pointing at e) and free e. */
static void drop(struct auth_cache *c, struct entry **pp)
{
    struct entry *e = *pp;
    *pp = e->hnext;
    list_unlink(c, e);
    OPENSSL_cleanse(e->data, e->key_len);
    free(e);
    c->count--;
}

enum auth_cache_hit auth_cache_get(struct auth_cache *c, const char *key, size_t key_len,
                                   uint64_t now_ms, bool allow_stale, const char **body_r,
                                   size_t *len_r)
{
    if (c->s.size == 0)
        return AUTH_CACHE_MISS;
    uint64_t h = hash(c, key, key_len);
    struct entry **pp = find(c, key, key_len, h);
    struct entry *e = *pp;
    if (e == NULL)
        return AUTH_CACHE_MISS;
    uint64_t age = now_ms >= e->stored_ms ? now_ms - e->stored_ms : 0;
    enum auth_cache_hit hit = AUTH_CACHE_MISS;
    if (age < (uint64_t)ttl_of(c, e->cls) * 1000)
        hit = AUTH_CACHE_FRESH;
    else if (allow_stale && e->cls != AUTH_CACHE_NEGATIVE && age < (uint64_t)c->s.stale_ttl * 1000)
        hit = AUTH_CACHE_STALE;
    if (hit == AUTH_CACHE_MISS) {
        if (age >= lifetime_ms(c, e->cls))
            drop(c, pp); /* of no use any more */
        return AUTH_CACHE_MISS;
    }
    list_unlink(c, e);
    list_push_newest(c, e);
    *body_r = e->data + e->key_len;
    *len_r = e->body_len;
    return hit;
}

int auth_cache_put(struct auth_cache *c, const char *key, size_t key_len, enum auth_cache_class cls,
                   const char *body, size_t body_len, uint64_t now_ms)
{
    if (c->s.size == 0 || lifetime_ms(c, cls) == 0)
        return 0;
    if (key_len > SIZE_MAX / 2 - sizeof(struct entry) || body_len > SIZE_MAX / 2)
        return -1;
    struct entry *e = malloc(sizeof *e + key_len + body_len);
    if (e == NULL)
        return -1;
    e->hash = hash(c, key, key_len);
    e->stored_ms = now_ms;
    e->cls = cls;
    e->key_len = key_len;
    e->body_len = body_len;
    memcpy(e->data, key, key_len);
    memcpy(e->data + key_len, body, body_len);

    struct entry **pp = find(c, key, key_len, e->hash);
    if (*pp != NULL)
        drop(c, pp); /* replaced: a NOTFOUND must replace an old FOUND */
    while (c->count >= c->s.size && c->oldest != NULL) {
        struct entry *old = c->oldest;
        drop(c, find(c, old->data, old->key_len, old->hash));
    }
    pp = find(c, key, key_len, e->hash); /* the chain may have changed */
    e->hnext = NULL;
    *pp = e;
    list_push_newest(c, e);
    c->count++;
    return 0;
}

void auth_cache_remove(struct auth_cache *c, const char *key, size_t key_len)
{
    if (c->s.size == 0)
        return;
    struct entry **pp = find(c, key, key_len, hash(c, key, key_len));
    if (*pp != NULL)
        drop(c, pp);
}

size_t auth_cache_count(const struct auth_cache *c)
{
    return c->count;
}
