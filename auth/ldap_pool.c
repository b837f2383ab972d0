/* auth/ldap_pool.c - the LDAP connection pool. Each connection is owned by one
 * caller at a time (libldap handles are not shared between threads while in
 * use); the pool lock is never held across network I/O. Whether a URI is
 * reachable lives in auth/ldap_health.c: the pool asks it before connecting
 * and tells it how every connection and operation ended. */
#include "config.h"

#include "auth/ldap_pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "auth/ldap_health.h"
#include "lib/clock.h"
#include "lib/log.h"

struct slot {
    LDAP *ld;
    bool busy;
    size_t uri_index;            /* which URI ld is connected to */
    struct timespec retry_after; /* when to try earlier URIs again */
    bool probe;                  /* ld is the one attempt on an unreachable URI; its first
                                    operation's outcome is still to be reported */
};

struct ldap_pool {
    char **uris;
    size_t uri_count;
    char *bind_dn;
    char *bind_password;
    char *ca_file;
    char *name;
    struct ldap_pool_settings s; /* numbers only; strings above */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct slot *slots;
    struct ldap_health *health;
    bool own_health; /* created here (settings->health was NULL) */
};

enum ldap_rc_class ldap_pool_rc_class(int rc)
{
    switch (rc) {
    case LDAP_SUCCESS:
    case LDAP_COMPARE_TRUE:
    case LDAP_COMPARE_FALSE:
        return LDAP_RC_OK;
    /* The connection is gone or its state is unknown: never reuse it. */
    case LDAP_SERVER_DOWN:
    case LDAP_TIMEOUT:
    case LDAP_CONNECT_ERROR:
    case LDAP_LOCAL_ERROR:
    case LDAP_ENCODING_ERROR:
    case LDAP_DECODING_ERROR:
    case LDAP_UNAVAILABLE: /* server shutting down: move to the next URI */
    case LDAP_PROTOCOL_ERROR:
        return LDAP_RC_CONNECTION;
    case LDAP_INVALID_CREDENTIALS:
    case LDAP_INAPPROPRIATE_AUTH:
        return LDAP_RC_CREDENTIALS;
    /* Our request or the configuration is wrong. Still temporary (RFC 4511
     * says nothing of mail; DESIGN.md does): a wrong base must defer mail,
     * not bounce it, until the administrator fixes it. */
    case LDAP_NO_SUCH_OBJECT:
    case LDAP_INVALID_DN_SYNTAX:
    case LDAP_FILTER_ERROR:
    case LDAP_PARAM_ERROR:
    case LDAP_INSUFFICIENT_ACCESS:
    case LDAP_UNDEFINED_TYPE:
    case LDAP_INAPPROPRIATE_MATCHING:
    case LDAP_REFERRAL:
    case LDAP_STRONG_AUTH_REQUIRED:
    case LDAP_CONFIDENTIALITY_REQUIRED:
    case LDAP_ALIAS_DEREF_PROBLEM:
        return LDAP_RC_CONFIG;
    /* busy, unwillingToPerform, timeLimitExceeded, sizeLimitExceeded,
     * adminLimitExceeded, other, loopDetect, no memory...: try again later. */
    default:
        return LDAP_RC_TEMPORARY;
    }
}

static void ms_to_timeval(unsigned ms, struct timeval *tv)
{
    tv->tv_sec = ms / 1000;
    tv->tv_usec = (ms % 1000) * 1000;
}

static void deadline_after(struct timespec *ts, unsigned ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static bool is_past(const struct timespec *ts)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec > ts->tv_sec || (now.tv_sec == ts->tv_sec && now.tv_nsec >= ts->tv_nsec);
}

static char *dup_or_null(const char *s, bool *failed)
{
    if (s == NULL)
        return NULL;
    char *d = strdup(s);
    if (d == NULL)
        *failed = true;
    return d;
}

struct ldap_pool *ldap_pool_new(const struct ldap_pool_settings *settings, const char **error_r)
{
    if (settings->uri_count == 0) {
        *error_r = "no LDAP URI configured";
        return NULL;
    }
    if (settings->size == 0) {
        *error_r = "LDAP pool size must be at least 1";
        return NULL;
    }
    struct ldap_pool *pool = calloc(1, sizeof *pool);
    if (pool == NULL) {
        *error_r = "out of memory";
        return NULL;
    }
    bool failed = false;
    pool->s = *settings;
    pool->uris = calloc(settings->uri_count, sizeof *pool->uris);
    pool->slots = calloc(settings->size, sizeof *pool->slots);
    if (pool->uris == NULL || pool->slots == NULL)
        failed = true;
    pool->uri_count = pool->uris == NULL ? 0 : settings->uri_count;
    for (size_t i = 0; i < pool->uri_count; i++)
        pool->uris[i] = dup_or_null(settings->uris[i], &failed);
    pool->bind_dn = dup_or_null(settings->bind_dn, &failed);
    pool->bind_password = dup_or_null(settings->bind_password, &failed);
    pool->ca_file = dup_or_null(settings->ca_file, &failed);
    pool->name = dup_or_null(settings->name != NULL ? settings->name : "ldap", &failed);
    pool->s.uris = NULL;
    pool->s.bind_dn = pool->s.bind_password = pool->s.ca_file = pool->s.name = NULL;
    pool->health = settings->health;
    if (pool->health == NULL && !failed) {
        pool->health = ldap_health_new(pool->uris, pool->uri_count);
        pool->own_health = true;
        failed = pool->health == NULL;
    }
    pool->s.health = NULL;

    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->cond, &attr);
    pthread_condattr_destroy(&attr);
    if (failed) {
        *error_r = "out of memory";
        ldap_pool_free(&pool);
        return NULL;
    }
    return pool;
}

void ldap_pool_free(struct ldap_pool **poolp)
{
    struct ldap_pool *pool = *poolp;
    if (pool == NULL)
        return;
    for (size_t i = 0; pool->slots != NULL && i < pool->s.size; i++) {
        if (pool->slots[i].ld != NULL)
            ldap_unbind_ext_s(pool->slots[i].ld, NULL, NULL);
    }
    for (size_t i = 0; i < pool->uri_count; i++)
        free(pool->uris[i]);
    free(pool->uris);
    free(pool->slots);
    free(pool->bind_dn);
    if (pool->bind_password != NULL) {
        explicit_bzero(pool->bind_password, strlen(pool->bind_password));
        free(pool->bind_password);
    }
    free(pool->ca_file);
    free(pool->name);
    if (pool->own_health)
        ldap_health_free(&pool->health);
    pthread_mutex_destroy(&pool->lock);
    pthread_cond_destroy(&pool->cond);
    free(pool);
    *poolp = NULL;
}

static void drop(struct slot *slot)
{
    if (slot->ld != NULL)
        ldap_unbind_ext_s(slot->ld, NULL, NULL);
    slot->ld = NULL;
}

/* set_tls_options - TLS settings on this handle only: LDAP_OPT_X_TLS_NEWCTX
 * makes libldap build a context from them instead of the global one. */
static int set_tls_options(struct ldap_pool *pool, LDAP *ld)
{
    int require = pool->s.verify_cert ? LDAP_OPT_X_TLS_DEMAND : LDAP_OPT_X_TLS_NEVER;
    int min = LDAP_OPT_X_TLS_PROTOCOL_TLS1_2;
    int is_server = 0;
    int rc = ldap_set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &require);
    if (rc == LDAP_OPT_SUCCESS && pool->ca_file != NULL)
        rc = ldap_set_option(ld, LDAP_OPT_X_TLS_CACERTFILE, pool->ca_file);
    if (rc == LDAP_OPT_SUCCESS)
        rc = ldap_set_option(ld, LDAP_OPT_X_TLS_PROTOCOL_MIN, &min);
    if (rc == LDAP_OPT_SUCCESS)
        rc = ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &is_server);
    return rc == LDAP_OPT_SUCCESS ? LDAP_SUCCESS : LDAP_LOCAL_ERROR;
}

/* open_uri - a connected (and, for the service pool, bound) handle to uri.
 * *connected_r tells whether the TCP (or ldapi) connection was made, so that
 * a failure after it can be told from a server that is not there. */
static int open_uri(struct ldap_pool *pool, const char *uri, bool starttls, LDAP **ld_r,
                    bool *connected_r)
{
    LDAP *ld = NULL;
    *ld_r = NULL;
    *connected_r = false;
    int rc = ldap_initialize(&ld, uri);
    if (rc != LDAP_SUCCESS)
        return rc;
    int version = LDAP_VERSION3;
    struct timeval net, op;
    ms_to_timeval(pool->s.connect_timeout_ms, &net);
    ms_to_timeval(pool->s.timeout_ms, &op);
    if (ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &version) != LDAP_OPT_SUCCESS ||
        ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF) != LDAP_OPT_SUCCESS ||
        ldap_set_option(ld, LDAP_OPT_RESTART, LDAP_OPT_ON) != LDAP_OPT_SUCCESS ||
        ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &net) != LDAP_OPT_SUCCESS ||
        ldap_set_option(ld, LDAP_OPT_TIMEOUT, &op) != LDAP_OPT_SUCCESS) {
        ldap_unbind_ext_s(ld, NULL, NULL);
        return LDAP_LOCAL_ERROR;
    }
    bool ldaps = strncasecmp(uri, "ldaps://", 8) == 0;
    if (ldaps || starttls) {
        rc = set_tls_options(pool, ld);
        if (rc != LDAP_SUCCESS) {
            ldap_unbind_ext_s(ld, NULL, NULL);
            return rc;
        }
    }
    /* Connect now, so a dead URI is noticed here and the next one tried. */
    rc = ldap_connect(ld);
    *connected_r = rc == LDAP_SUCCESS;
    if (rc == LDAP_SUCCESS && starttls && !ldaps)
        rc = ldap_start_tls_s(ld, NULL, NULL);
    if (rc == LDAP_SUCCESS && pool->bind_dn != NULL) {
        const char *pw = pool->bind_password != NULL ? pool->bind_password : "";
        struct berval cred = {.bv_len = strlen(pw), .bv_val = (char *)pw};
        rc = ldap_sasl_bind_s(ld, pool->bind_dn, LDAP_SASL_SIMPLE, &cred, NULL, NULL, NULL);
    }
    if (rc != LDAP_SUCCESS) {
        ldap_unbind_ext_s(ld, NULL, NULL);
        return rc;
    }
    *ld_r = ld;
    return LDAP_SUCCESS;
}

/* open_range - try URIs [first, end) in order; the first that answers wins.
 * An unreachable URI is skipped until its next backoff attempt is due, so
 * with every URI down this returns LDAP_SERVER_DOWN at once, without a
 * connection attempt. *probe_r tells whether the handle is such an attempt
 * (see struct slot). */
static int open_range(struct ldap_pool *pool, size_t first, size_t end, LDAP **ld_r,
                      size_t *index_r, bool *probe_r)
{
    int rc = LDAP_SERVER_DOWN;
    for (size_t i = first; i < end; i++) {
        enum ldap_health_try t = ldap_health_may_connect(pool->health, i, clock_monotonic_ms());
        if (t == LDAP_HEALTH_SKIP)
            continue;
        bool probe = t == LDAP_HEALTH_PROBE;
        const char *uri = pool->uris[i];
        bool ldapi = strncasecmp(uri, "ldapi://", 8) == 0;
        bool starttls = !ldapi && pool->s.starttls != LDAP_POOL_TLS_NO;
        bool connected;
        rc = open_uri(pool, uri, starttls, ld_r, &connected);
        if (rc != LDAP_SUCCESS && connected && starttls && pool->s.starttls == LDAP_POOL_TLS_TRY &&
            ldap_pool_rc_class(rc) != LDAP_RC_CREDENTIALS) {
            /* Opportunistic: a server without StartTLS (or with a certificate
             * we cannot verify) is used in clear, as configured. Not when the
             * server was not there at all: that would be a second connection
             * attempt to learn the same thing. */
            log_warning("event=ldap_starttls_failed pool=%s uri=%s error=\"%s\" action=plaintext",
                        pool->name, uri, ldap_err2string(rc));
            rc = open_uri(pool, uri, false, ld_r, &connected);
        }
        if (rc == LDAP_SUCCESS) {
            *index_r = i;
            *probe_r = probe;
            return rc;
        }
        if (ldap_pool_rc_class(rc) == LDAP_RC_CONNECTION) {
            /* Logged once per outage by ldap_health, not once per attempt. */
            ldap_health_failed(pool->health, i, probe, ldap_err2string(rc), clock_monotonic_ms());
            continue;
        }
        /* The server answered (and refused our bind, say): it is reachable,
         * and this is a problem of its own. */
        ldap_health_answered(pool->health, i, probe, clock_monotonic_ms());
        log_warning("event=ldap_connect_failed pool=%s uri=%s error=\"%s\"", pool->name, uri,
                    ldap_err2string(rc));
    }
    return rc;
}

/* acquire - take a free slot, waiting at most wait_ms. */
static struct slot *acquire(struct ldap_pool *pool)
{
    struct timespec deadline;
    deadline_after(&deadline, pool->s.wait_ms);
    pthread_mutex_lock(&pool->lock);
    for (;;) {
        struct slot *free_slot = NULL;
        for (size_t i = 0; i < pool->s.size; i++) {
            struct slot *s = &pool->slots[i];
            if (s->busy)
                continue;
            /* Prefer an open connection over opening a new one. */
            if (free_slot == NULL || (free_slot->ld == NULL && s->ld != NULL))
                free_slot = s;
        }
        if (free_slot != NULL) {
            free_slot->busy = true;
            pthread_mutex_unlock(&pool->lock);
            return free_slot;
        }
        if (pthread_cond_timedwait(&pool->cond, &pool->lock, &deadline) == ETIMEDOUT) {
            pthread_mutex_unlock(&pool->lock);
            return NULL;
        }
    }
}

static void release(struct ldap_pool *pool, struct slot *slot)
{
    pthread_mutex_lock(&pool->lock);
    slot->busy = false;
    pthread_cond_signal(&pool->cond);
    pthread_mutex_unlock(&pool->lock);
}

/* prepare - make slot->ld usable: open it if closed; when it sits on a
 * later URI and the retry interval has passed, try the earlier ones again
 * (failback). Returns an LDAP code; *fresh_r tells whether ld is new. */
static int prepare(struct ldap_pool *pool, struct slot *slot, bool *fresh_r)
{
    *fresh_r = false;
    slot->probe = false;
    /* The one check on the hot path. A handle to a server found unreachable
     * since is dead or hung: waiting for it would cost the caller a timeout
     * that the backoff is there to save. */
    if (slot->ld != NULL && ldap_health_is_down(pool->health, slot->uri_index))
        drop(slot);
    if (slot->ld != NULL && slot->uri_index > 0 && is_past(&slot->retry_after)) {
        LDAP *ld;
        size_t index;
        bool probe;
        if (open_range(pool, 0, slot->uri_index, &ld, &index, &probe) == LDAP_SUCCESS) {
            log_info("event=ldap_failback pool=%s uri=%s", pool->name, pool->uris[index]);
            drop(slot);
            slot->ld = ld;
            slot->uri_index = index;
            slot->probe = probe;
            *fresh_r = true;
            return LDAP_SUCCESS;
        }
        deadline_after(&slot->retry_after, pool->s.retry_preferred_ms);
    }
    if (slot->ld != NULL)
        return LDAP_SUCCESS;
    size_t index;
    int rc = open_range(pool, 0, pool->uri_count, &slot->ld, &index, &slot->probe);
    if (rc != LDAP_SUCCESS)
        return rc;
    slot->uri_index = index;
    deadline_after(&slot->retry_after, pool->s.retry_preferred_ms);
    if (index > 0)
        log_warning("event=ldap_failover pool=%s uri=%s", pool->name, pool->uris[index]);
    *fresh_r = true;
    return LDAP_SUCCESS;
}

void ldap_pool_result_free(struct ldap_pool_result **resultp)
{
    struct ldap_pool_result *r = *resultp;
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->count; i++) {
        struct ldap_pool_entry *e = &r->entries[i];
        for (size_t j = 0; j < e->attr_count; j++) {
            for (size_t k = 0; k < e->attrs[j].count; k++)
                free(e->attrs[j].values[k]);
            free(e->attrs[j].values);
            free(e->attrs[j].name);
        }
        free(e->attrs);
        free(e->dn);
    }
    free(r->entries);
    free(r);
    *resultp = NULL;
}

const struct ldap_pool_attr *ldap_pool_entry_attr(const struct ldap_pool_entry *entry,
                                                  const char *name)
{
    if (name == NULL)
        return NULL;
    for (size_t i = 0; i < entry->attr_count; i++) {
        if (strcasecmp(entry->attrs[i].name, name) == 0)
            return &entry->attrs[i];
    }
    return NULL;
}

const char *ldap_pool_entry_value(const struct ldap_pool_entry *entry, const char *name)
{
    const struct ldap_pool_attr *a = ldap_pool_entry_attr(entry, name);
    return a != NULL && a->count > 0 ? a->values[0] : NULL;
}

/* copy_attr - copy one attribute's values out of libldap's berval array. */
static int copy_attr(LDAP *ld, LDAPMessage *msg, const char *name, struct ldap_pool_attr *a)
{
    a->name = strdup(name);
    if (a->name == NULL)
        return -1;
    struct berval **vals = ldap_get_values_len(ld, msg, name);
    size_t n = vals != NULL ? (size_t)ldap_count_values_len(vals) : 0;
    a->values = calloc(n + 1, sizeof *a->values);
    if (a->values == NULL) {
        ldap_value_free_len(vals);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (memchr(vals[i]->bv_val, '\0', vals[i]->bv_len) != NULL)
            continue;
        char *v = malloc(vals[i]->bv_len + 1);
        if (v == NULL) {
            ldap_value_free_len(vals);
            return -1;
        }
        memcpy(v, vals[i]->bv_val, vals[i]->bv_len);
        v[vals[i]->bv_len] = '\0';
        a->values[a->count++] = v;
    }
    ldap_value_free_len(vals);
    return 0;
}

/* copy_result - the entries of res as a struct ldap_pool_result. */
static int copy_result(LDAP *ld, LDAPMessage *res, struct ldap_pool_result **result_r)
{
    struct ldap_pool_result *r = calloc(1, sizeof *r);
    if (r == NULL)
        return -1;
    int n = ldap_count_entries(ld, res);
    r->entries = calloc(n > 0 ? (size_t)n : 1, sizeof *r->entries);
    if (r->entries == NULL) {
        free(r);
        return -1;
    }
    for (LDAPMessage *msg = ldap_first_entry(ld, res); msg != NULL && r->count < (size_t)n;
         msg = ldap_next_entry(ld, msg)) {
        struct ldap_pool_entry *e = &r->entries[r->count++];
        char *dn = ldap_get_dn(ld, msg);
        e->dn = strdup(dn != NULL ? dn : "");
        ldap_memfree(dn);
        if (e->dn == NULL)
            goto fail;
        BerElement *ber = NULL;
        size_t cap = 0;
        for (char *name = ldap_first_attribute(ld, msg, &ber); name != NULL;
             name = ldap_next_attribute(ld, msg, ber)) {
            if (e->attr_count == cap) {
                size_t ncap = cap == 0 ? 8 : cap * 2;
                struct ldap_pool_attr *p = realloc(e->attrs, ncap * sizeof *p);
                if (p == NULL) {
                    ldap_memfree(name);
                    ber_free(ber, 0);
                    goto fail;
                }
                e->attrs = p;
                cap = ncap;
            }
            struct ldap_pool_attr *a = &e->attrs[e->attr_count++];
            memset(a, 0, sizeof *a);
            int rc = copy_attr(ld, msg, name, a);
            ldap_memfree(name);
            if (rc < 0) {
                ber_free(ber, 0);
                goto fail;
            }
        }
        ber_free(ber, 0);
    }
    *result_r = r;
    return 0;
fail:
    ldap_pool_result_free(&r);
    return -1;
}

/* retry_after - after an operation on slot ended with rc: whether to try it
 * once more. A lost connection is dropped; the retry happens only when a
 * reused connection turned out to be dead (e.g. the server restarted or
 * closed an idle connection), and then the fresh attempt decides whether the
 * URI is reachable. Any other lost connection or timeout (a hung server) makes
 * the URI unreachable. A timeout is never retried, so a call never takes much
 * longer than the configured timeout. */
static bool retry_after(struct ldap_pool *pool, struct slot *slot, int rc, bool fresh)
{
    bool probe = slot->probe;
    slot->probe = false;
    size_t i = slot->uri_index;
    if (ldap_pool_rc_class(rc) != LDAP_RC_CONNECTION) {
        /* Healthy: one atomic load, no clock read. */
        if (ldap_health_is_down(pool->health, i))
            ldap_health_answered(pool->health, i, probe, clock_monotonic_ms());
        return false;
    }
    drop(slot);
    bool retry = !fresh && rc == LDAP_SERVER_DOWN;
    if (!retry)
        ldap_health_failed(pool->health, i, probe, ldap_err2string(rc), clock_monotonic_ms());
    else if (!ldap_health_is_down(pool->health, i))
        log_warning("event=ldap_connection_lost pool=%s uri=%s error=\"%s\"", pool->name,
                    pool->uris[i], ldap_err2string(rc));
    return retry;
}

/* finish - the end of one search or bind: a failure for want of a reachable
 * server is counted for the outage's log lines. */
static int finish(struct ldap_pool *pool, struct slot *slot, int rc)
{
    release(pool, slot);
    if (ldap_pool_rc_class(rc) == LDAP_RC_CONNECTION)
        ldap_health_lookup_failed(pool->health, clock_monotonic_ms());
    return rc;
}

int ldap_pool_search(struct ldap_pool *pool, const char *base, int scope, const char *filter,
                     char **attrs, int sizelimit, struct ldap_pool_result **result_r)
{
    *result_r = NULL;
    struct slot *slot = acquire(pool);
    if (slot == NULL) {
        log_warning("event=ldap_pool_exhausted pool=%s wait_ms=%u", pool->name, pool->s.wait_ms);
        return LDAP_BUSY;
    }
    int rc = LDAP_SERVER_DOWN;
    for (int attempt = 0; attempt < 2; attempt++) {
        bool fresh;
        rc = prepare(pool, slot, &fresh);
        if (rc != LDAP_SUCCESS)
            break;
        struct timeval tv;
        ms_to_timeval(pool->s.timeout_ms, &tv);
        LDAPMessage *res = NULL;
        rc = ldap_search_ext_s(slot->ld, base, scope, filter, attrs, 0, NULL, NULL, &tv, sizelimit,
                               &res);
        if ((rc == LDAP_SUCCESS || rc == LDAP_SIZELIMIT_EXCEEDED) && res != NULL) {
            if (copy_result(slot->ld, res, result_r) < 0)
                rc = LDAP_NO_MEMORY;
        }
        if (res != NULL)
            ldap_msgfree(res);
        if (!retry_after(pool, slot, rc, fresh))
            break;
    }
    return finish(pool, slot, rc);
}

int ldap_pool_bind(struct ldap_pool *pool, const char *dn, const char *password)
{
    struct slot *slot = acquire(pool);
    if (slot == NULL) {
        log_warning("event=ldap_pool_exhausted pool=%s wait_ms=%u", pool->name, pool->s.wait_ms);
        return LDAP_BUSY;
    }
    int rc = LDAP_SERVER_DOWN;
    for (int attempt = 0; attempt < 2; attempt++) {
        bool fresh;
        rc = prepare(pool, slot, &fresh);
        if (rc != LDAP_SUCCESS)
            break;
        struct berval cred = {.bv_len = strlen(password), .bv_val = (char *)password};
        rc = ldap_sasl_bind_s(slot->ld, dn, LDAP_SASL_SIMPLE, &cred, NULL, NULL, NULL);
        if (!retry_after(pool, slot, rc, fresh))
            break;
    }
    return finish(pool, slot, rc);
}
