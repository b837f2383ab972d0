/* auth/directory_internal.h - what the directory client's files share and
 * nobody else sees: the client's state, the one search every lookup goes
 * through, and group expansion (directory.c: lifetime, domains, address
 * resolution; dir_group.c: groups; dir_login.c: logins, users, senders). */
#ifndef DIRMAIL_AUTH_DIRECTORY_INTERNAL_H
#define DIRMAIL_AUTH_DIRECTORY_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <time.h>

#include "auth/directory.h"
#include "auth/ldap_health.h"
#include "auth/ldap_pool.h"
#include "lib/log.h"

struct domain_cache_entry {
    char *domain;
    enum dir_kind kind; /* LOCAL (local), RELAY, NOT_OURS */
    char *next_hop;
    time_t expires;
};

struct directory {
    struct directory_options o;
    struct ldap_pool *service;
    struct ldap_pool *auth;
    struct ldap_health *health; /* both pools': a server down is down for both */
    pthread_mutex_t domain_lock;
    struct domain_cache_entry *domains;
    size_t domain_count;
};

/* dir_user_attrs - the attributes a recipient or user needs, NULL-ended in
 * attrs (at most max slots). */
void dir_user_attrs(const struct dir_profile *p, char **attrs, size_t max);

/* dir_base - the search base ("" for the server's default). */
const char *dir_base(struct directory *dir);

/* dir_tempfail_level - how loud a lookup's temporary failure with rc is. */
enum log_level dir_tempfail_level(int rc);

/* dir_search_one - one search that must find at most one entry: FOUND with
 * *result_r holding exactly one, NOTFOUND, or TEMPFAIL (logged, also for
 * two owners of one value; what names the query for the log). */
enum dir_result dir_search_one(struct directory *dir, const char *base, int scope,
                               const char *filter, const char *what,
                               struct ldap_pool_result **result_r);

/* dir_search_address - the entry of local@domain by the recipient filter. */
enum dir_result dir_search_address(struct directory *dir, const char *local, const char *domain,
                                   struct ldap_pool_result **result_r);

/* dir_is_group - whether e is a group by the profile's group classes. */
bool dir_is_group(const struct dir_profile *p, const struct ldap_pool_entry *e);

/* dir_expand_group - add the primary addresses of group's active members
 * (nested groups followed, each once, up to the configured depth and size)
 * to members; address names the list for the log. FOUND or TEMPFAIL. */
enum dir_result dir_expand_group(struct directory *dir, const struct ldap_pool_entry *group,
                                 const char *address, struct dir_strlist *members);

#endif
