/* auth/ldap_health.c - see ldap_health.h. During an outage every lookup used
 * to try a fresh connection and log two lines: tens of thousands of lines a
 * minute, and a connect storm against a server that is coming back. Here the
 * state changes under one mutex; the `down` flag is also an atomic so that a
 * healthy lookup reads it without taking the lock. Log lines are written
 * after the lock is released. */
#include "config.h"

#include "auth/ldap_health.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/log.h"

struct uri_state {
    char *uri;
    atomic_bool down;     /* written under the lock, read without it */
    bool probing;         /* the one attempt of this interval is under way */
    uint64_t since_ms;    /* when it went down */
    uint64_t next_try_ms; /* when the next attempt may start */
    uint64_t last_log_ms; /* last line about this outage, for the summary rate */
    unsigned interval_ms; /* the current backoff interval, before jitter */
    unsigned long failed; /* lookups failed temporarily since it went down */
    char reason[128];
};

struct ldap_health {
    pthread_mutex_t lock;
    uint64_t rng; /* xorshift64 state for the jitter, under lock */
    size_t count;
    struct uri_state *uris;
};

struct ldap_health *ldap_health_new(char *const *uris, size_t count)
{
    struct ldap_health *h = calloc(1, sizeof *h);
    if (h == NULL)
        return NULL;
    h->uris = calloc(count > 0 ? count : 1, sizeof *h->uris);
    if (h->uris == NULL) {
        free(h);
        return NULL;
    }
    pthread_mutex_init(&h->lock, NULL);
    for (size_t i = 0; i < count; i++) {
        atomic_init(&h->uris[i].down, false);
        h->uris[i].uri = strdup(uris[i]);
        h->count = i + 1;
        if (h->uris[i].uri == NULL) {
            ldap_health_free(&h);
            return NULL;
        }
    }
    /* Different processes (several nodes restarted together) should not
     * retry in step: seed from the pid and the clock. Never zero. */
    h->rng = (clock_monotonic_ms() << 20) ^ (uint64_t)getpid() ^ (uintptr_t)h;
    if (h->rng == 0)
        h->rng = 0x9e3779b97f4a7c15u;
    return h;
}

void ldap_health_free(struct ldap_health **hp)
{
    struct ldap_health *h = *hp;
    if (h == NULL)
        return;
    for (size_t i = 0; i < h->count; i++)
        free(h->uris[i].uri);
    free(h->uris);
    pthread_mutex_destroy(&h->lock);
    free(h);
    *hp = NULL;
}

bool ldap_health_is_down(struct ldap_health *h, size_t i)
{
    return atomic_load_explicit(&h->uris[i].down, memory_order_acquire);
}

/* jittered - interval_ms +-20 %, so that many clients that lost the same
 * server do not all come back in the same millisecond. Under lock. */
static uint64_t jittered(struct ldap_health *h, unsigned interval_ms)
{
    h->rng ^= h->rng << 13;
    h->rng ^= h->rng >> 7;
    h->rng ^= h->rng << 17;
    uint64_t spread = interval_ms * 2u / 5u; /* 40 % of the interval */
    uint64_t low = interval_ms - interval_ms / 5u;
    return low + (spread > 0 ? h->rng % (spread + 1) : 0);
}

enum ldap_health_try ldap_health_may_connect(struct ldap_health *h, size_t i, uint64_t now_ms)
{
    if (!ldap_health_is_down(h, i))
        return LDAP_HEALTH_USE;
    struct uri_state *u = &h->uris[i];
    enum ldap_health_try r = LDAP_HEALTH_SKIP;
    pthread_mutex_lock(&h->lock);
    if (!atomic_load_explicit(&u->down, memory_order_relaxed)) {
        r = LDAP_HEALTH_USE;
    } else if (!u->probing && now_ms >= u->next_try_ms) {
        u->probing = true;
        r = LDAP_HEALTH_PROBE;
    }
    pthread_mutex_unlock(&h->lock);
    return r;
}

/* since - now_ms - then_ms, or 0: a thread may have read the clock just
 * before another one that took the lock first. */
static uint64_t since(uint64_t now_ms, uint64_t then_ms)
{
    return now_ms > then_ms ? now_ms - then_ms : 0;
}

/* A "still unreachable" line, copied out under the lock and logged after it. */
struct summary {
    const char *uri; /* lives as long as the health object */
    uint64_t down_ms;
    unsigned long failed;
    char reason[sizeof((struct uri_state *)0)->reason];
};

/* take_summary - whether a summary of u's outage is due (at most one every
 * LDAP_HEALTH_SUMMARY_MS); if so fill *s. Under lock. */
static bool take_summary(struct uri_state *u, uint64_t now_ms, struct summary *s)
{
    if (since(now_ms, u->last_log_ms) < LDAP_HEALTH_SUMMARY_MS)
        return false;
    u->last_log_ms = now_ms;
    s->uri = u->uri;
    s->down_ms = since(now_ms, u->since_ms);
    s->failed = u->failed;
    memcpy(s->reason, u->reason, sizeof s->reason);
    return true;
}

static void log_summary(const struct summary *s)
{
    char q[300], r[300];
    log_warning("event=ldap_still_unreachable uri=%s down_for=%.1fs failed_lookups=%lu error=%s",
                log_quote(q, sizeof q, s->uri), (double)s->down_ms / 1000.0, s->failed,
                log_quote(r, sizeof r, s->reason));
}

void ldap_health_answered(struct ldap_health *h, size_t i, bool probe, uint64_t now_ms)
{
    (void)probe; /* any answer proves the server is back, a probe's or not */
    if (!ldap_health_is_down(h, i))
        return;
    struct uri_state *u = &h->uris[i];
    bool changed = false;
    uint64_t down_ms = 0;
    unsigned long failed = 0;
    pthread_mutex_lock(&h->lock);
    if (atomic_load_explicit(&u->down, memory_order_relaxed)) {
        changed = true;
        down_ms = since(now_ms, u->since_ms);
        failed = u->failed;
        u->probing = false;
        atomic_store_explicit(&u->down, false, memory_order_release);
    }
    pthread_mutex_unlock(&h->lock);
    if (changed) {
        char q[300];
        log_warning("event=ldap_reachable uri=%s down_for=%.1fs failed_lookups=%lu",
                    log_quote(q, sizeof q, u->uri), (double)down_ms / 1000.0, failed);
    }
}

void ldap_health_failed(struct ldap_health *h, size_t i, bool probe, const char *reason,
                        uint64_t now_ms)
{
    struct uri_state *u = &h->uris[i];
    bool went_down = false, summary = false;
    struct summary s;
    pthread_mutex_lock(&h->lock);
    if (!atomic_load_explicit(&u->down, memory_order_relaxed)) {
        went_down = true;
        u->since_ms = u->last_log_ms = now_ms;
        u->failed = 0;
        u->probing = false;
        u->interval_ms = LDAP_HEALTH_BACKOFF_FIRST_MS;
        u->next_try_ms = now_ms + jittered(h, u->interval_ms);
        snprintf(u->reason, sizeof u->reason, "%s", reason);
        memcpy(s.reason, u->reason, sizeof s.reason);
        atomic_store_explicit(&u->down, true, memory_order_release);
    } else if (probe) {
        u->probing = false;
        u->interval_ms = u->interval_ms >= LDAP_HEALTH_BACKOFF_MAX_MS / 2
                             ? LDAP_HEALTH_BACKOFF_MAX_MS
                             : u->interval_ms * 2;
        u->next_try_ms = now_ms + jittered(h, u->interval_ms);
        /* The latest reason is the one worth reporting (refused, then timed out...). */
        snprintf(u->reason, sizeof u->reason, "%s", reason);
        summary = take_summary(u, now_ms, &s);
    }
    pthread_mutex_unlock(&h->lock);
    if (went_down) {
        char q[300], r[300];
        log_warning("event=ldap_unreachable uri=%s error=%s", log_quote(q, sizeof q, u->uri),
                    log_quote(r, sizeof r, s.reason));
    } else if (summary) {
        log_summary(&s);
    }
}

void ldap_health_lookup_failed(struct ldap_health *h, uint64_t now_ms)
{
    /* A summary per unreachable URI at most; configurations list a handful. */
    enum { MAX_SUMMARIES = 8 };
    struct summary out[MAX_SUMMARIES];
    size_t n = 0;
    pthread_mutex_lock(&h->lock);
    for (size_t i = 0; i < h->count; i++) {
        struct uri_state *u = &h->uris[i];
        if (!atomic_load_explicit(&u->down, memory_order_relaxed))
            continue;
        u->failed++;
        if (n < MAX_SUMMARIES && take_summary(u, now_ms, &out[n]))
            n++;
    }
    pthread_mutex_unlock(&h->lock);
    for (size_t k = 0; k < n; k++)
        log_summary(&out[k]);
}
