/* gateway/pregreet_cache.c - see pregreet_cache.h.
 *
 * The table is shared by workers that can die at any instant, and it is
 * only ever a hint: a miss costs a client pregreet_wait, nothing else. So
 * there is no table lock to wait on or to take over from a dead owner (as
 * conn_limit must, where a count may never be skipped). Each slot is its own
 * sequence lock: a writer moves the slot's seq from even to odd with a
 * compare-and-swap or gives up, writes, and makes it even again; a reader
 * takes the slot only when seq was the same even number before and after
 * it read. A worker killed inside the few stores of a write leaves one slot
 * odd, which is then never read or written again: one slot fewer until the
 * master restarts, never a wedge. Every field is a lock-free atomic, so that
 * the mapping is well defined across processes.
 *
 * Open addressing without tombstones: an address lives anywhere in a window
 * of PREGREET_CACHE_PROBE slots from its hash, and every lookup scans the
 * whole window. The hash is not keyed: someone who passes the test from
 * many addresses can push one address out of its window, which costs that
 * address one more wait and nothing else. */
#include "config.h"

#include "gateway/pregreet_cache.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

_Static_assert(ATOMIC_INT_LOCK_FREE == 2 && ATOMIC_LONG_LOCK_FREE == 2 &&
                   ATOMIC_LLONG_LOCK_FREE == 2,
               "the shared slots need lock-free (address-free) atomics");

#define SLOTS_MAX (1u << 24)

struct slot {
    _Atomic uint32_t seq; /* odd while a writer is in the slot */
    uint32_t unused;
    _Atomic uint64_t addr[2]; /* IPv6, or IPv4 as ::ffff:a.b.c.d */
    _Atomic uint64_t stamp;   /* ms when the address passed; 0: the slot is empty */
};

/* What a reader saw of one slot, and the seq it saw it under. */
struct seen {
    uint32_t seq;
    uint64_t addr[2];
    uint64_t stamp;
};

struct pregreet_cache {
    struct slot *slots;
    unsigned count;
};

struct pregreet_cache *pregreet_cache_new(unsigned slots, char **error_r)
{
    if (slots == 0 || slots > SLOTS_MAX) {
        if (asprintf(error_r, "pregreet cache: %u slots (1 to %u)", slots, SLOTS_MAX) < 0)
            *error_r = NULL;
        return NULL;
    }
    struct pregreet_cache *cache = calloc(1, sizeof *cache);
    if (cache == NULL) {
        *error_r = strdup("out of memory");
        return NULL;
    }
    size_t size = (size_t)slots * sizeof(struct slot);
    /* Shared anonymous pages are zero-filled: every slot starts empty with
     * an even seq, and costs nothing until an address lands in it. */
    void *map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED) {
        if (asprintf(error_r, "mmap(%zu): %s", size, strerror(errno)) < 0)
            *error_r = NULL;
        free(cache);
        return NULL;
    }
    cache->slots = map;
    cache->count = slots;
    return cache;
}

void pregreet_cache_free(struct pregreet_cache **cache)
{
    if (*cache == NULL)
        return;
    munmap((*cache)->slots, (size_t)(*cache)->count * sizeof(struct slot));
    free(*cache);
    *cache = NULL;
}

/* key_of - the 16-byte form of a textual address as two words; false when
 * unparsable. A v4-mapped IPv6 text and the plain IPv4 give the same key. */
static bool key_of(const char *client_ip, uint64_t key[2])
{
    uint8_t b[16];
    if (inet_pton(AF_INET6, client_ip, b) != 1) {
        memset(b, 0, 10);
        b[10] = 0xff;
        b[11] = 0xff;
        if (inet_pton(AF_INET, client_ip, b + 12) != 1)
            return false;
    }
    memcpy(key, b, 16);
    return true;
}

/* key_hash - FNV-1a over the address. */
static uint32_t key_hash(const uint64_t key[2])
{
    uint8_t b[16];
    memcpy(b, key, 16);
    uint32_t h = 2166136261u;
    for (unsigned i = 0; i < 16; i++) {
        h ^= b[i];
        h *= 16777619u;
    }
    return h;
}

/* slot_read - a consistent copy of e in *seen; false while a writer is in
 * it (or was, during the read). */
static bool slot_read(struct slot *e, struct seen *seen)
{
    seen->seq = atomic_load_explicit(&e->seq, memory_order_acquire);
    if (seen->seq & 1u)
        return false;
    seen->addr[0] = atomic_load_explicit(&e->addr[0], memory_order_relaxed);
    seen->addr[1] = atomic_load_explicit(&e->addr[1], memory_order_relaxed);
    seen->stamp = atomic_load_explicit(&e->stamp, memory_order_relaxed);
    atomic_thread_fence(memory_order_acquire);
    return atomic_load_explicit(&e->seq, memory_order_relaxed) == seen->seq;
}

/* slot_write - store addr and stamp in e unless it changed since it was
 * seen (seq) or another writer is in it: then drop the write. */
static void slot_write(struct slot *e, uint32_t seq, const uint64_t addr[2], uint64_t stamp)
{
    uint32_t expected = seq;
    if (!atomic_compare_exchange_strong_explicit(&e->seq, &expected, seq + 1, memory_order_acq_rel,
                                                 memory_order_relaxed))
        return;
    atomic_thread_fence(memory_order_release);
    atomic_store_explicit(&e->addr[0], addr[0], memory_order_relaxed);
    atomic_store_explicit(&e->addr[1], addr[1], memory_order_relaxed);
    atomic_store_explicit(&e->stamp, stamp, memory_order_relaxed);
    atomic_store_explicit(&e->seq, seq + 2, memory_order_release);
}

static bool holds(const struct seen *seen, const uint64_t key[2])
{
    return seen->stamp != 0 && seen->addr[0] == key[0] && seen->addr[1] == key[1];
}

/* window - the first slot of key's window in *home; its length. */
static unsigned window(const struct pregreet_cache *cache, const uint64_t key[2], unsigned *home)
{
    *home = key_hash(key) % cache->count;
    return cache->count < PREGREET_CACHE_PROBE ? cache->count : PREGREET_CACHE_PROBE;
}

bool pregreet_cache_passed(struct pregreet_cache *cache, const char *client_ip, unsigned ttl_s,
                           unsigned long long now_ms)
{
    uint64_t key[2];
    if (cache == NULL || ttl_s == 0 || !key_of(client_ip, key))
        return false;
    unsigned home;
    unsigned n = window(cache, key, &home);
    for (unsigned p = 0; p < n; p++) {
        struct seen seen;
        if (!slot_read(&cache->slots[(home + p) % cache->count], &seen) || !holds(&seen, key))
            continue;
        uint64_t age = now_ms > seen.stamp ? now_ms - seen.stamp : 0;
        if (age < (uint64_t)ttl_s * 1000u)
            return true;
    }
    return false;
}

void pregreet_cache_record(struct pregreet_cache *cache, const char *client_ip,
                           unsigned long long now_ms)
{
    uint64_t key[2];
    if (cache == NULL || !key_of(client_ip, key))
        return;
    unsigned home;
    unsigned n = window(cache, key, &home);
    /* The address's own slot if it has one, else an empty one, else the
     * one recorded longest ago (empty slots have the smallest stamp, 0). */
    struct slot *victim = NULL;
    struct seen chosen = {0};
    for (unsigned p = 0; p < n; p++) {
        struct slot *e = &cache->slots[(home + p) % cache->count];
        struct seen seen;
        if (!slot_read(e, &seen))
            continue;
        if (holds(&seen, key)) {
            victim = e;
            chosen = seen;
            break;
        }
        if (victim == NULL || seen.stamp < chosen.stamp) {
            victim = e;
            chosen = seen;
        }
    }
    if (victim != NULL)
        slot_write(victim, chosen.seq, key, now_ms != 0 ? now_ms : 1);
}

void pregreet_cache_forget(struct pregreet_cache *cache, const char *client_ip)
{
    uint64_t key[2];
    if (cache == NULL || !key_of(client_ip, key))
        return;
    static const uint64_t none[2] = {0, 0};
    unsigned home;
    unsigned n = window(cache, key, &home);
    /* every copy: two workers may have recorded the address at once */
    for (unsigned p = 0; p < n; p++) {
        struct slot *e = &cache->slots[(home + p) % cache->count];
        struct seen seen;
        if (slot_read(e, &seen) && holds(&seen, key))
            slot_write(e, seen.seq, none, 0);
    }
}
