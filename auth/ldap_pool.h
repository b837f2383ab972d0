/* auth/ldap_pool.h - a fixed pool of LDAP connections: several URIs in order
 * with failover and return to the preferred one, StartTLS/ldaps with
 * verification, timeouts, dead connections replaced, and an unreachable URI
 * left alone between backoff attempts (auth/ldap_health.h). Thread-safe;
 * knows nothing of users or profiles. Used only inside the auth process. */
#ifndef DIRMAIL_AUTH_LDAP_POOL_H
#define DIRMAIL_AUTH_LDAP_POOL_H

#include <ldap.h>
#include <stdbool.h>
#include <stddef.h>

struct ldap_health;

enum ldap_pool_tls { LDAP_POOL_TLS_NO, LDAP_POOL_TLS_TRY, LDAP_POOL_TLS_REQUIRE };

struct ldap_pool_settings {
    char *const *uris; /* tried in order; the first is preferred */
    size_t uri_count;
    const char *bind_dn; /* NULL: no bind at connect (anonymous) */
    const char *bind_password;
    unsigned connect_timeout_ms; /* LDAP_OPT_NETWORK_TIMEOUT */
    unsigned timeout_ms;         /* LDAP_OPT_TIMEOUT and every search */
    unsigned wait_ms;            /* longest wait for a free connection */
    unsigned retry_preferred_ms; /* how often a connection on a later URI retries earlier ones */
    unsigned size;
    enum ldap_pool_tls starttls;
    const char *ca_file; /* NULL: the system's CA store */
    bool verify_cert;
    const char *name; /* for log lines: "service", "auth" */
    /* Which URIs are reachable, shared by the pools on the same uris (same
     * order); the caller's, and it must outlive the pool. NULL: the pool
     * keeps its own. */
    struct ldap_health *health;
};

/* How a result code should be handled (RFC 4511 appendix A). */
enum ldap_rc_class {
    LDAP_RC_OK,          /* success */
    LDAP_RC_CONNECTION,  /* connection dead or unusable: drop it; temporary */
    LDAP_RC_TEMPORARY,   /* server alive but cannot answer now (busy, limits...) */
    LDAP_RC_CONFIG,      /* our request is wrong (base missing, bad filter, no access):
                            temporary too, misconfiguration must not bounce mail */
    LDAP_RC_CREDENTIALS, /* bind refused: invalidCredentials, inappropriateAuthentication */
};

/* ldap_pool_rc_class - classify an LDAP result or API code. */
enum ldap_rc_class ldap_pool_rc_class(int rc);

struct ldap_pool;

/* ldap_pool_new - a pool of settings->size connections, opened lazily. The
 * settings' strings are copied. Returns NULL with *error_r (static) on error. */
struct ldap_pool *ldap_pool_new(const struct ldap_pool_settings *settings, const char **error_r);

/* ldap_pool_free - close every connection; no call may be in progress. */
void ldap_pool_free(struct ldap_pool **pool);

/* An entry copied out of libldap's message, so callers need no LDAP handle.
 * Values are NUL-terminated; a value containing a NUL byte is dropped (no
 * attribute we read may hold one). */
struct ldap_pool_attr {
    char *name;
    char **values;
    size_t count;
};

struct ldap_pool_entry {
    char *dn;
    struct ldap_pool_attr *attrs;
    size_t attr_count;
};

struct ldap_pool_result {
    struct ldap_pool_entry *entries;
    size_t count;
};

/* ldap_pool_result_free - free a result and NULL the pointer. */
void ldap_pool_result_free(struct ldap_pool_result **result);

/* ldap_pool_entry_attr - the attribute called name (case-insensitive), or NULL. */
const struct ldap_pool_attr *ldap_pool_entry_attr(const struct ldap_pool_entry *entry,
                                                  const char *name);

/* ldap_pool_entry_value - the first value of name, or NULL. */
const char *ldap_pool_entry_value(const struct ldap_pool_entry *entry, const char *name);

/* ldap_pool_search - search base with filter for attrs (NULL-terminated),
 * at most sizelimit entries, within timeout_ms. Waits at most wait_ms for a
 * free connection; a dead connection is closed and replaced, and a search that
 * failed on a reused connection found dead is retried once on a fresh one
 * (the server may have restarted since). A URI that is unreachable is not
 * tried between its backoff attempts: with none left the call fails at once
 * with LDAP_SERVER_DOWN. Failures of class LDAP_RC_CONNECTION are logged by
 * the pool, once per outage, so the caller need not. Returns the LDAP code; on
 * LDAP_SUCCESS and LDAP_SIZELIMIT_EXCEEDED *result_r holds the entries
 * returned (free with ldap_pool_result_free), otherwise it is NULL. */
int ldap_pool_search(struct ldap_pool *pool, const char *base, int scope, const char *filter,
                     char **attrs, int sizelimit, struct ldap_pool_result **result_r);

/* ldap_pool_bind - simple bind as dn with password on a pooled connection
 * (a pool created without bind_dn: never the service pool, whose identity a
 * user bind would replace). Returns the LDAP code: LDAP_SUCCESS,
 * LDAP_INVALID_CREDENTIALS, or another (see ldap_pool_rc_class). The caller
 * refuses empty passwords first (RFC 4513 5.1.2: an unauthenticated bind). */
int ldap_pool_bind(struct ldap_pool *pool, const char *dn, const char *password);

#endif
