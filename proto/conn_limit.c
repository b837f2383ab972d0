/* proto/conn_limit.c - see conn_limit.h.
 *
 * The table is shared by processes that can die at any instant (a worker
 * SIGKILLed in the middle of an accept). Two things follow:
 *  - Updates happen under one short spin lock, a C11 atomic holding the
 *    owner's pid, so that a lock left by a dead owner can be taken over
 *    (kill(pid, 0) says ESRCH) instead of wedging every worker.
 *  - Every count is also recorded per process slot, so that when the master
 *    reaps a worker it subtracts exactly what that worker still held.
 * Open addressing without tombstones: a key lives anywhere in a window of
 * CONN_LIMIT_PROBE slots from its hash and lookups scan the whole window, so
 * an entry whose count drops to 0 is simply emptied. No free slot in the
 * window means the connection is refused (CONN_LIMIT_TABLE_FULL): counting
 * must never be skipped silently, or the per-IP limit would be a lie. */
#include "config.h"

#include "proto/conn_limit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define NO_ENTRY UINT32_MAX
#define SERVICE_NAME_MAX 64

struct entry {
    uint8_t addr[16]; /* IPv6, or IPv4 as ::ffff:a.b.c.d */
    uint32_t service;
    uint32_t count; /* 0: the slot is empty */
};

/* A failed-login bucket: level in thousandths of a failure, as of stamp. */
struct auth_entry {
    uint8_t addr[16];
    uint32_t level; /* 0: the slot is empty */
    uint64_t stamp; /* ms, CLOCK_MONOTONIC */
};

struct shared {
    _Atomic int32_t lock;      /* owner's pid, 0 when free */
    _Atomic int32_t auth_lock; /* the same, for auth[]: logins never wait on accepts */
    _Atomic uint32_t total;
    _Atomic uint32_t service_count[CONN_LIMIT_SERVICES];
    _Atomic uint64_t overload_since[CONN_LIMIT_SERVICES]; /* ms CLOCK_MONOTONIC; 0: not overloaded */
    uint32_t proc_total[CONN_LIMIT_PROCS];
    uint32_t proc_service[CONN_LIMIT_PROCS][CONN_LIMIT_SERVICES];
    uint32_t proc_entry[CONN_LIMIT_PROCS][CONN_LIMIT_ADDRESSES];
    struct entry entries[CONN_LIMIT_ADDRESSES];
    struct auth_entry auth[CONN_LIMIT_AUTH_ADDRESSES];
};

struct conn_limit {
    struct shared *shared;
    /* Master-only bookkeeping (each child has a stale copy it never uses). */
    char service_name[CONN_LIMIT_SERVICES][SERVICE_NAME_MAX];
    bool proc_used[CONN_LIMIT_PROCS];
};

struct conn_limit *conn_limit_new(char **error_r)
{
    struct conn_limit *limits = calloc(1, sizeof *limits);
    if (limits == NULL) {
        *error_r = strdup("out of memory");
        return NULL;
    }
    /* Shared anonymous pages are zero-filled and only touched as used, so
     * the large per-process arrays cost little until connections arrive. */
    void *map = mmap(NULL, sizeof(struct shared), PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED) {
        if (asprintf(error_r, "mmap(%zu): %s", sizeof(struct shared), strerror(errno)) < 0)
            *error_r = NULL;
        free(limits);
        return NULL;
    }
    limits->shared = map;
    return limits;
}

void conn_limit_free(struct conn_limit **limits)
{
    if (*limits == NULL)
        return;
    munmap((*limits)->shared, sizeof(struct shared));
    free(*limits);
    *limits = NULL;
}

/* lock_take - spin for the table lock; take it over from an owner that died
 * holding it. With bounded, give up after a while (the master must not hang
 * on a stopped worker). */
static bool spin_take(_Atomic int32_t *lock, bool bounded)
{
    int32_t me = (int32_t)getpid();
    for (unsigned spins = 0;; spins++) {
        int32_t owner = 0;
        if (atomic_compare_exchange_weak_explicit(lock, &owner, me, memory_order_acquire,
                                                  memory_order_relaxed))
            return true;
        if (spins % 256 == 255) {
            if (owner != 0 && kill((pid_t)owner, 0) < 0 && errno == ESRCH &&
                atomic_compare_exchange_strong_explicit(lock, &owner, me, memory_order_acquire,
                                                        memory_order_relaxed))
                return true;
            if (bounded && spins > 256 * 64)
                return false;
            sched_yield();
        }
    }
}

static bool lock_take(struct shared *s, bool bounded)
{
    return spin_take(&s->lock, bounded);
}

static void lock_give(struct shared *s)
{
    atomic_store_explicit(&s->lock, 0, memory_order_release);
}

int conn_limit_service_slot(struct conn_limit *limits, const char *name)
{
    int free_slot = -1;
    for (unsigned i = 0; i < CONN_LIMIT_SERVICES; i++) {
        if (limits->service_name[i][0] == '\0') {
            if (free_slot < 0)
                free_slot = (int)i;
        } else if (strncmp(limits->service_name[i], name, SERVICE_NAME_MAX - 1) == 0) {
            return (int)i;
        }
    }
    if (free_slot >= 0)
        snprintf(limits->service_name[free_slot], SERVICE_NAME_MAX, "%s", name);
    return free_slot;
}

void conn_limit_service_forget(struct conn_limit *limits, unsigned slot)
{
    if (slot < CONN_LIMIT_SERVICES) {
        limits->service_name[slot][0] = '\0';
        atomic_store(&limits->shared->overload_since[slot], 0);
    }
}

bool conn_limit_overload_set(struct conn_limit *limits, unsigned service_slot, bool overloaded,
                             uint64_t now_ms, uint64_t *since_r)
{
    if (service_slot >= CONN_LIMIT_SERVICES)
        return false;
    _Atomic uint64_t *flag = &limits->shared->overload_since[service_slot];
    uint64_t seen = atomic_load(flag);
    *since_r = seen;
    if ((seen != 0) == overloaded)
        return false;
    /* now_ms is never 0 in practice (monotonic ms since boot); keep 0 free. */
    uint64_t want = overloaded ? (now_ms != 0 ? now_ms : 1) : 0;
    return atomic_compare_exchange_strong(flag, &seen, want);
}

bool conn_limit_overloaded(const struct conn_limit *limits, unsigned service_slot)
{
    return service_slot < CONN_LIMIT_SERVICES &&
           atomic_load_explicit(&limits->shared->overload_since[service_slot],
                                memory_order_relaxed) != 0;
}

int conn_limit_proc_claim(struct conn_limit *limits)
{
    for (unsigned i = 0; i < CONN_LIMIT_PROCS; i++) {
        if (!limits->proc_used[i]) {
            limits->proc_used[i] = true;
            return (int)i;
        }
    }
    return -1;
}

static uint32_t sat_sub(uint32_t a, uint32_t b)
{
    return a > b ? a - b : 0;
}

bool conn_limit_proc_reclaim(struct conn_limit *limits, unsigned proc)
{
    struct shared *s = limits->shared;
    if (proc >= CONN_LIMIT_PROCS)
        return true;
    if (!lock_take(s, true))
        return false;
    uint32_t total = atomic_load_explicit(&s->total, memory_order_relaxed);
    atomic_store_explicit(&s->total, sat_sub(total, s->proc_total[proc]), memory_order_relaxed);
    s->proc_total[proc] = 0;
    for (unsigned i = 0; i < CONN_LIMIT_SERVICES; i++) {
        if (s->proc_service[proc][i] == 0)
            continue;
        uint32_t n = atomic_load_explicit(&s->service_count[i], memory_order_relaxed);
        atomic_store_explicit(&s->service_count[i], sat_sub(n, s->proc_service[proc][i]),
                              memory_order_relaxed);
        s->proc_service[proc][i] = 0;
    }
    for (unsigned i = 0; i < CONN_LIMIT_ADDRESSES; i++) {
        if (s->proc_entry[proc][i] == 0)
            continue;
        s->entries[i].count = sat_sub(s->entries[i].count, s->proc_entry[proc][i]);
        s->proc_entry[proc][i] = 0;
    }
    lock_give(s);
    limits->proc_used[proc] = false;
    return true;
}

/* key_from - the 16-byte form of addr; false for other families. */
static bool key_from(const struct sockaddr *addr, uint8_t key[16])
{
    if (addr->sa_family == AF_INET6) {
        memcpy(key, &((const struct sockaddr_in6 *)(const void *)addr)->sin6_addr, 16);
        return true;
    }
    if (addr->sa_family == AF_INET) {
        memset(key, 0, 10);
        key[10] = 0xff;
        key[11] = 0xff;
        memcpy(key + 12, &((const struct sockaddr_in *)(const void *)addr)->sin_addr, 4);
        return true;
    }
    return false;
}

/* key_hash - FNV-1a over the address and the service slot. */
static uint32_t key_hash(const uint8_t key[16], uint32_t service)
{
    uint32_t h = 2166136261u;
    for (unsigned i = 0; i < 16; i++) {
        h ^= key[i];
        h *= 16777619u;
    }
    h ^= service;
    h *= 16777619u;
    return h;
}

/* entry_find - the entry for (key, service) in its window, or NO_ENTRY; the
 * first empty slot of the window in *empty_r (NO_ENTRY when none). */
static uint32_t entry_find(const struct shared *s, const uint8_t key[16], uint32_t service,
                           uint32_t *empty_r)
{
    uint32_t home = key_hash(key, service) % CONN_LIMIT_ADDRESSES;
    *empty_r = NO_ENTRY;
    for (uint32_t p = 0; p < CONN_LIMIT_PROBE; p++) {
        uint32_t i = (home + p) % CONN_LIMIT_ADDRESSES;
        const struct entry *e = &s->entries[i];
        if (e->count == 0) {
            if (*empty_r == NO_ENTRY)
                *empty_r = i;
        } else if (e->service == service && memcmp(e->addr, key, 16) == 0) {
            return i;
        }
    }
    return NO_ENTRY;
}

enum conn_limit_result conn_limit_acquire(struct conn_limit *limits, unsigned proc,
                                          unsigned service_slot, const struct sockaddr *addr,
                                          unsigned max_total, unsigned max_service,
                                          unsigned max_per_ip, struct conn_limit_token *token_r)
{
    struct shared *s = limits->shared;
    memset(token_r, 0, sizeof *token_r);
    if (proc >= CONN_LIMIT_PROCS || service_slot >= CONN_LIMIT_SERVICES)
        return CONN_LIMIT_TABLE_FULL;
    uint8_t key[16];
    bool keyed = key_from(addr, key);

    lock_take(s, false);
    enum conn_limit_result result = CONN_LIMIT_OK;
    uint32_t entry = NO_ENTRY;
    uint32_t total = atomic_load_explicit(&s->total, memory_order_relaxed);
    uint32_t in_service =
        atomic_load_explicit(&s->service_count[service_slot], memory_order_relaxed);
    if (max_total != 0 && total >= max_total) {
        result = CONN_LIMIT_TOTAL_FULL;
    } else if (max_service != 0 && in_service >= max_service) {
        result = CONN_LIMIT_SERVICE_FULL;
    } else if (max_per_ip != 0 && keyed) {
        uint32_t empty;
        entry = entry_find(s, key, service_slot, &empty);
        if (entry != NO_ENTRY) {
            if (s->entries[entry].count >= max_per_ip)
                result = CONN_LIMIT_IP_FULL;
            else
                s->entries[entry].count++;
        } else if (empty == NO_ENTRY) {
            result = CONN_LIMIT_TABLE_FULL;
        } else {
            entry = empty;
            memcpy(s->entries[entry].addr, key, 16);
            s->entries[entry].service = service_slot;
            s->entries[entry].count = 1;
        }
    }
    if (result == CONN_LIMIT_OK) {
        atomic_store_explicit(&s->total, total + 1, memory_order_relaxed);
        atomic_store_explicit(&s->service_count[service_slot], in_service + 1,
                              memory_order_relaxed);
        s->proc_total[proc]++;
        s->proc_service[proc][service_slot]++;
        if (entry != NO_ENTRY)
            s->proc_entry[proc][entry]++;
        token_r->service_slot = service_slot;
        token_r->entry = entry;
        token_r->held = true;
    }
    lock_give(s);
    return result;
}

void conn_limit_release(struct conn_limit *limits, unsigned proc, struct conn_limit_token *token)
{
    struct shared *s = limits->shared;
    if (!token->held || proc >= CONN_LIMIT_PROCS)
        return;
    lock_take(s, false);
    uint32_t total = atomic_load_explicit(&s->total, memory_order_relaxed);
    atomic_store_explicit(&s->total, sat_sub(total, 1), memory_order_relaxed);
    uint32_t n = atomic_load_explicit(&s->service_count[token->service_slot], memory_order_relaxed);
    atomic_store_explicit(&s->service_count[token->service_slot], sat_sub(n, 1),
                          memory_order_relaxed);
    s->proc_total[proc] = sat_sub(s->proc_total[proc], 1);
    s->proc_service[proc][token->service_slot] =
        sat_sub(s->proc_service[proc][token->service_slot], 1);
    if (token->entry != NO_ENTRY && token->entry < CONN_LIMIT_ADDRESSES) {
        s->entries[token->entry].count = sat_sub(s->entries[token->entry].count, 1);
        s->proc_entry[proc][token->entry] = sat_sub(s->proc_entry[proc][token->entry], 1);
    }
    lock_give(s);
    token->held = false;
}

unsigned conn_limit_service_count(const struct conn_limit *limits, unsigned service_slot)
{
    if (service_slot >= CONN_LIMIT_SERVICES)
        return 0;
    return atomic_load_explicit(&limits->shared->service_count[service_slot], memory_order_relaxed);
}

unsigned conn_limit_total_count(const struct conn_limit *limits)
{
    return atomic_load_explicit(&limits->shared->total, memory_order_relaxed);
}

const char *conn_limit_result_name(enum conn_limit_result result)
{
    switch (result) {
    case CONN_LIMIT_OK:
        return "ok";
    case CONN_LIMIT_TOTAL_FULL:
        return "total-limit";
    case CONN_LIMIT_SERVICE_FULL:
        return "service-limit";
    case CONN_LIMIT_IP_FULL:
        return "per-ip-limit";
    case CONN_LIMIT_TABLE_FULL:
        return "table-full";
    }
    return "unknown";
}

/* ---- failed logins per client address ---- */

#define AUTH_UNIT 1000u /* one failure, in bucket units */

/* auth_key - the 16-byte form of a textual address; false when unparsable. */
static bool auth_key(const char *client_ip, uint8_t key[16])
{
    if (inet_pton(AF_INET6, client_ip, key) == 1)
        return true;
    memset(key, 0, 10);
    key[10] = 0xff;
    key[11] = 0xff;
    return inet_pton(AF_INET, client_ip, key + 12) == 1;
}

/* auth_failures_of - a level as failures, a part-drained one counting
 * whole: one more try comes only once a whole failure has drained. */
static unsigned auth_failures_of(uint32_t level)
{
    return (unsigned)((level + AUTH_UNIT - 1) / AUTH_UNIT);
}

/* auth_drain - the entry's level now: it drains max failures per window. */
static uint32_t auth_drain(const struct auth_entry *e, unsigned max, unsigned window_s,
                           uint64_t now_ms)
{
    if (e->level == 0 || now_ms <= e->stamp)
        return e->level;
    uint64_t elapsed = now_ms - e->stamp;
    uint64_t window_ms = (uint64_t)window_s * 1000u;
    /* drained = elapsed * max * AUTH_UNIT / window_ms, without overflow */
    if (window_ms == 0 || elapsed >= window_ms)
        return 0;
    uint64_t drained = elapsed * max * AUTH_UNIT / window_ms;
    return drained >= e->level ? 0 : e->level - (uint32_t)drained;
}

/* auth_find - the entry for key, or with create the slot to take for it: an
 * empty or drained one in its window, else the one touched longest ago
 * (so the table stays bounded and forgets the least recent first). */
static struct auth_entry *auth_find(struct shared *s, const uint8_t key[16], bool create,
                                    unsigned max, unsigned window_s, uint64_t now_ms)
{
    uint32_t home = key_hash(key, UINT32_MAX) % CONN_LIMIT_AUTH_ADDRESSES;
    struct auth_entry *spare = NULL;
    for (uint32_t p = 0; p < CONN_LIMIT_PROBE; p++) {
        struct auth_entry *e = &s->auth[(home + p) % CONN_LIMIT_AUTH_ADDRESSES];
        if (e->level != 0 && memcmp(e->addr, key, 16) == 0)
            return e;
        if (!create)
            continue;
        if (auth_drain(e, max, window_s, now_ms) == 0) {
            if (spare == NULL || spare->level != 0)
                spare = e;
        } else if (spare == NULL || (spare->level != 0 && e->stamp < spare->stamp)) {
            spare = e;
        }
    }
    if (spare != NULL) {
        memcpy(spare->addr, key, 16);
        spare->level = 0;
        spare->stamp = now_ms;
    }
    return spare;
}

bool conn_limit_auth_blocked(struct conn_limit *limits, const char *client_ip, unsigned max,
                             unsigned window_s, unsigned long long now_ms)
{
    uint8_t key[16];
    if (max == 0 || !auth_key(client_ip, key))
        return false;
    struct shared *s = limits->shared;
    spin_take(&s->auth_lock, false);
    const struct auth_entry *e = auth_find(s, key, false, max, window_s, now_ms);
    uint32_t level = e != NULL ? auth_drain(e, max, window_s, now_ms) : 0;
    atomic_store_explicit(&s->auth_lock, 0, memory_order_release);
    return auth_failures_of(level) >= max;
}

unsigned conn_limit_auth_failure(struct conn_limit *limits, const char *client_ip, unsigned max,
                                 unsigned window_s, unsigned long long now_ms)
{
    uint8_t key[16];
    if (max == 0 || !auth_key(client_ip, key))
        return 0;
    struct shared *s = limits->shared;
    spin_take(&s->auth_lock, false);
    struct auth_entry *e = auth_find(s, key, true, max, window_s, now_ms);
    if (e == NULL) { /* not reached: a window always has a slot to give */
        atomic_store_explicit(&s->auth_lock, 0, memory_order_release);
        return 0;
    }
    uint32_t level = auth_drain(e, max, window_s, now_ms);
    /* saturate well above any max, so that the level cannot wrap */
    if (level <= UINT32_MAX / 2)
        level += AUTH_UNIT;
    e->level = level;
    e->stamp = now_ms;
    atomic_store_explicit(&s->auth_lock, 0, memory_order_release);
    return auth_failures_of(level);
}
