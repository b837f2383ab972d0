/* auth/directory_options.h - the settings of the directory client, filled
 * from dirmail.conf's struct config or set one by name; who holds them owns
 * their strings. Parsing dirmail.conf itself is conf/'s, never done here. */
#ifndef DIRMAIL_AUTH_DIRECTORY_OPTIONS_H
#define DIRMAIL_AUTH_DIRECTORY_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

#include "auth/dir_profile.h"
#include "auth/dir_user.h"
#include "auth/ldap_pool.h"
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

/* directory_options_copy - a deep copy into dst (directory_new keeps its
 * own). 0, or -1 when out of memory (dst is then cleared). */
int directory_options_copy(struct directory_options *dst, const struct directory_options *src);

/* directory_options_clear - free the strings (opts is the caller's). */
void directory_options_clear(struct directory_options *opts);

#endif
