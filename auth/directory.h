/* auth/directory.h - the directory client used by the auth process: address
 * resolution, authentication, user fetch and sender addresses, answered
 * FOUND / NOTFOUND / TEMPFAIL from LDAP. Thread-safe: every call borrows a
 * connection from a pool. Never caches (the auth cache sits above it). */
#ifndef DIRMAIL_AUTH_DIRECTORY_H
#define DIRMAIL_AUTH_DIRECTORY_H

#include <stdbool.h>

#include "auth/dir_profile.h"
#include "auth/dir_user.h"
#include "conf/conf.h"

/* Settings of the directory client, each from its dirmail.conf setting
 * (named in the comments); directory_options_set changes one by name. All
 * strings are owned. */
struct directory_options {
    /* From struct config_ldap and config_domains (copied). */
    char **uris;
    size_t uri_count;
    char *bind_dn;
    char *bind_password;
    char *base;
    unsigned connect_timeout_ms;
    unsigned timeout_ms;
    unsigned pool_size;
    enum ldap_pool_tls starttls;
    char *ca_file;
    bool verify_cert;
    char **local_domains;
    size_t local_domain_count;
    char **relay_domains;
    size_t relay_domain_count;
    char **relay_next_hops; /* parallel to relay_domains; NULL entries: none (MX lookup) */
    bool domains_from_directory;
    char *node_name; /* server.hostname: mailHost values naming this node */

    /* The rest of the ldap section. */
    struct dir_profile profile;  /* ldap.profile + ldap.attributes.* / ldap.filters.* ... */
    char *subaddress_delimiters; /* ldap.subaddress_delimiter, "+"; "" disables */
    bool case_sensitive_local;   /* ldap.case_sensitive_local_part, false */
    enum dir_disabled_action disabled_action; /* ldap.disabled_policy reject|hold, reject */
    unsigned group_depth;                     /* ldap.group_max_depth, 8 */
    unsigned group_members_max;               /* ldap.group_max_members, 1000 */
    unsigned auth_pool_size;                  /* ldap.auth_pool_size, = pool_size */
    unsigned pool_wait_ms;                    /* ldap.pool_wait, = timeout */
    unsigned retry_preferred_ms;              /* ldap.failback_interval, 30 s */
    unsigned domain_cache_ttl; /* ldap.domain_cache_ttl, 60 s (domains from directory) */
};

/* directory_options_from_config - fill opts from conf: the profile named by
 * ldap.profile with ldap.attributes, ldap.filters and the other overrides
 * applied, relay domains with their next hops. 0, or -1 with a static
 * *error_r (opts is then cleared). */
int directory_options_from_config(const struct config *conf, struct directory_options *opts,
                                  const char **error_r);

/* directory_options_set - change one setting by name (tests and tools;
 * dirmail.conf is the normal way): "subaddress_delimiter", "case_sensitive_local_part",
 * "disabled_policy", "group_max_depth", "group_max_members", "auth_pool_size", "pool_wait_ms",
 * "failback_interval_ms", "domain_cache_ttl", "timeout_ms",
 * "connect_timeout_ms", or a profile override ("attr.mail", "filter.login",
 * ...: see dir_profile_set). 0 or -1 with *error_r. */
int directory_options_set(struct directory_options *opts, const char *key, const char *value,
                          const char **error_r);

/* directory_options_clear - free the strings (opts is the caller's). */
void directory_options_clear(struct directory_options *opts);

struct directory;

/* directory_new - a client with its two pools (service and authentication);
 * connections open on first use. opts is copied. */
struct directory *directory_new(const struct directory_options *opts, const char **error_r);
void directory_free(struct directory **dir);

/* dir_resolve - what to do with mail to address (see struct dir_recipient).
 * Lookup order: the exact address, then without the sub-address tag, then the
 * domain's catch-all. FOUND: *r is set (kind LOCAL, REMOTE_NODE, FORWARD,
 * GROUP, RELAY, DISABLED). NOTFOUND: *r is set with kind UNKNOWN (local domain,
 * no entry), NOT_OURS (neither local nor relay domain: the caller decides by
 * its relay policy) or INVALID. TEMPFAIL: *r is NULL (outage, timeout,
 * ambiguous address, group too deep: logged). A plain user costs one search. */
enum dir_result dir_resolve(struct directory *dir, const char *address, struct dir_recipient **r);

enum dir_auth_result { DIR_AUTH_OK, DIR_AUTH_FAILED, DIR_AUTH_TEMPFAIL };

/* Why a login failed: for the log only, never for the client. */
enum dir_auth_reason {
    DIR_AUTH_REASON_NONE,
    DIR_AUTH_REASON_EMPTY_PASSWORD,
    DIR_AUTH_REASON_INVALID_LOGIN,
    DIR_AUTH_REASON_UNKNOWN_USER,
    DIR_AUTH_REASON_BAD_PASSWORD,
    DIR_AUTH_REASON_DISABLED,
    DIR_AUTH_REASON_SERVICE,
};

const char *dir_auth_reason_name(enum dir_auth_reason reason);

/* dir_authenticate - check login and password for service ("imap", "pop3",
 * "submission", ...; NULL: no service check). Empty passwords are refused
 * before any bind (RFC 4513 5.1.2: an empty simple bind is an anonymous bind
 * and "succeeds"). The entry is found with the service connection, the
 * password checked by a simple bind as that DN on a separate connection.
 * OK: *u is the user. FAILED: *reason_r says why (log it, don't tell). */
enum dir_auth_result dir_authenticate(struct directory *dir, const char *login,
                                      const char *password, const char *service,
                                      struct dir_user **u, enum dir_auth_reason *reason_r);

/* dir_user_fetch - the user for key: an address (containing '@', found by
 * the recipient filter, sub-address tag ignored) or a login (login filter). */
enum dir_result dir_user_fetch(struct directory *dir, const char *key, struct dir_user **u);

/* dir_sender_addresses - the envelope senders login may use: its addresses
 * and its extra sender addresses. FOUND: *list set (free with
 * dir_strlist_free). */
enum dir_result dir_sender_addresses(struct directory *dir, const char *login,
                                     struct dir_strlist **list);
void dir_strlist_free(struct dir_strlist **list);

const char *dir_kind_name(enum dir_kind kind);
const char *dir_status_name(enum dir_status status);

#endif
