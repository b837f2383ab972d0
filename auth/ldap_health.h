/* auth/ldap_health.h - whether each LDAP URI is reachable, shared by every
 * pool on the same URIs. While one is not, it grants one connection attempt
 * per backoff interval (0.1 s doubling to 5 s, +-20 % jitter) and says so in
 * the log once when it goes, once when it comes back, and at most once every
 * 10 s in between. Thread-safe; opens no connection and knows no LDAP code.
 * Times are lib/clock.h milliseconds, passed in so tests can drive them. */
#ifndef DIRMAIL_AUTH_LDAP_HEALTH_H
#define DIRMAIL_AUTH_LDAP_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LDAP_HEALTH_BACKOFF_FIRST_MS 100u
#define LDAP_HEALTH_BACKOFF_MAX_MS 5000u
#define LDAP_HEALTH_SUMMARY_MS 10000u

struct ldap_health;

/* ldap_health_new - every one of the count URIs reachable (until told
 * otherwise); the strings are copied. NULL when out of memory. */
struct ldap_health *ldap_health_new(char *const *uris, size_t count);

/* ldap_health_free - free and NULL the pointer; no call may be in progress. */
void ldap_health_free(struct ldap_health **health);

/* ldap_health_is_down - whether URI i is known unreachable. One atomic load:
 * this is the check on the hot path. */
bool ldap_health_is_down(struct ldap_health *health, size_t i);

enum ldap_health_try {
    LDAP_HEALTH_SKIP,  /* unreachable and not yet time to retry: fail at once */
    LDAP_HEALTH_USE,   /* reachable: connect as usual */
    LDAP_HEALTH_PROBE, /* unreachable, and this caller makes the one attempt of
                          the interval; it must report with probe = true */
};

/* ldap_health_may_connect - whether to open a connection to URI i now. */
enum ldap_health_try ldap_health_may_connect(struct ldap_health *health, size_t i, uint64_t now_ms);

/* ldap_health_answered - the server at URI i answered an LDAP operation
 * (whatever the result): it is reachable; logged when it was not. Costs one
 * atomic load when it already was. */
void ldap_health_answered(struct ldap_health *health, size_t i, bool probe, uint64_t now_ms);

/* ldap_health_failed - connecting to URI i failed, or an operation on it
 * found the connection dead or timed out, for reason (static or copied at
 * once): unreachable. The first failure is logged; a failed probe doubles the
 * interval; a failure that is neither (a straggler on an old connection)
 * changes nothing. */
void ldap_health_failed(struct ldap_health *health, size_t i, bool probe, const char *reason,
                        uint64_t now_ms);

/* ldap_health_lookup_failed - one lookup failed temporarily because no
 * server answered: counted for every unreachable URI, for the log lines. */
void ldap_health_lookup_failed(struct ldap_health *health, uint64_t now_ms);

#endif
