/* auth/directory.c - the directory client over two LDAP pools (service
 * searches; authentication binds): its lifetime, the one search every
 * lookup goes through, domain classification and address resolution.
 * Groups are in dir_group.c, logins and users in dir_login.c. */
#include "config.h"

#include "auth/directory_internal.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "auth/dir_filter.h"
#include "auth/ldap_health.h"
#include "lib/log.h"

/* -- lifetime ----------------------------------------------------------- */

struct directory *directory_new(const struct directory_options *opts, const char **error_r)
{
    struct directory *dir = calloc(1, sizeof *dir);
    if (dir == NULL || directory_options_copy(&dir->o, opts) < 0) {
        free(dir);
        *error_r = "out of memory";
        return NULL;
    }
    pthread_mutex_init(&dir->domain_lock, NULL);
    if (dir->o.node_name == NULL) {
        char host[256];
        if (gethostname(host, sizeof host) == 0) {
            host[sizeof host - 1] = '\0';
            dir->o.node_name = strdup(host);
        }
    }
    dir->health = ldap_health_new(dir->o.uris, dir->o.uri_count);
    if (dir->health == NULL) {
        directory_free(&dir);
        *error_r = "out of memory";
        return NULL;
    }
    struct ldap_pool_settings s = {
        .uris = dir->o.uris,
        .uri_count = dir->o.uri_count,
        .bind_dn = dir->o.bind_dn,
        .bind_password = dir->o.bind_password,
        .connect_timeout_ms = dir->o.connect_timeout_ms,
        .timeout_ms = dir->o.timeout_ms,
        .wait_ms = dir->o.pool_wait_ms,
        .retry_preferred_ms = dir->o.retry_preferred_ms,
        .size = dir->o.pool_size,
        .starttls = dir->o.starttls,
        .ca_file = dir->o.ca_file,
        .verify_cert = dir->o.verify_cert,
        .name = "service",
        .health = dir->health,
    };
    dir->service = ldap_pool_new(&s, error_r);
    /* The authentication pool binds as users, so it must never be the one
     * searching with the service identity. */
    s.bind_dn = NULL;
    s.bind_password = NULL;
    s.size = dir->o.auth_pool_size;
    s.name = "auth";
    if (dir->service != NULL)
        dir->auth = ldap_pool_new(&s, error_r);
    if (dir->auth == NULL) {
        directory_free(&dir);
        return NULL;
    }
    return dir;
}

void directory_free(struct directory **dirp)
{
    struct directory *dir = *dirp;
    if (dir == NULL)
        return;
    ldap_pool_free(&dir->service);
    ldap_pool_free(&dir->auth);
    ldap_health_free(&dir->health);
    for (size_t i = 0; i < dir->domain_count; i++) {
        free(dir->domains[i].domain);
        free(dir->domains[i].next_hop);
    }
    free(dir->domains);
    pthread_mutex_destroy(&dir->domain_lock);
    directory_options_clear(&dir->o);
    free(dir);
    *dirp = NULL;
}

/* -- names -------------------------------------------------------------- */

const char *dir_kind_name(enum dir_kind kind)
{
    static const char *const names[] = {"local",    "remote_node", "forward",  "group",  "relay",
                                        "disabled", "unknown",     "not_ours", "invalid"};
    return (size_t)kind < sizeof names / sizeof names[0] ? names[kind] : "?";
}

const char *dir_status_name(enum dir_status status)
{
    static const char *const names[] = {"active", "noaccess", "held", "disabled"};
    return (size_t)status < sizeof names / sizeof names[0] ? names[status] : "?";
}

const char *dir_auth_reason_name(enum dir_auth_reason reason)
{
    static const char *const names[] = {
        "none",         "empty_password", "invalid_login",      "unknown_user",
        "bad_password", "disabled",       "service_not_allowed"};
    return (size_t)reason < sizeof names / sizeof names[0] ? names[reason] : "?";
}

/* -- searching ------------------------------------------------------------ */

/* attrs_add - append a non-empty attribute name once. */
static void attrs_add(char **attrs, size_t *n, size_t max, const char *name)
{
    if (name == NULL || name[0] == '\0' || *n + 1 >= max)
        return;
    for (size_t i = 0; i < *n; i++) {
        if (strcasecmp(attrs[i], name) == 0)
            return;
    }
    attrs[(*n)++] = (char *)name;
    attrs[*n] = NULL;
}

/* user_attrs - the attributes a recipient or user needs, and no others
 * (the Sieve script can be large, but delivery needs it with the rest). */
void dir_user_attrs(const struct dir_profile *p, char **attrs, size_t max)
{
    size_t n = 0;
    attrs[0] = NULL;
    const char *names[] = {
        "objectClass",   p->attr_mail,    p->attr_alias,  p->attr_login,   p->attr_mailhost,
        p->attr_mailbox, p->attr_quota,   p->attr_status, p->attr_forward, p->attr_keep_copy,
        p->attr_sieve,   p->attr_service, p->attr_sender, p->attr_member,  p->attr_unique_member};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        attrs_add(attrs, &n, max, names[i]);
}

const char *dir_base(struct directory *dir)
{
    return dir->o.base != NULL ? dir->o.base : "";
}

/* tempfail_level - how loud a lookup's temporary failure is. A server lost
 * or unreachable is logged by the pool once per outage (auth/ldap_health.c):
 * a line per lookup would only repeat it, thousands of times a minute. Our own
 * request being wrong is an error for the administrator to fix. */
enum log_level dir_tempfail_level(int rc)
{
    switch (ldap_pool_rc_class(rc)) {
    case LDAP_RC_CONNECTION:
        return LOG_LEVEL_DEBUG;
    case LDAP_RC_CONFIG:
        return LOG_LEVEL_ERROR;
    default:
        return LOG_LEVEL_WARNING;
    }
}

/* search - run one search and map the outcome. sizelimit 2 so that two
 * owners of one value are seen (and never a random pick). Returns FOUND with
 * *result_r holding exactly one entry, NOTFOUND, or TEMPFAIL (logged; what
 * names the query for the log). */
enum dir_result dir_search_one(struct directory *dir, const char *base, int scope,
                               const char *filter, const char *what,
                               struct ldap_pool_result **result_r)
{
    char *attrs[24];
    dir_user_attrs(&dir->o.profile, attrs, sizeof attrs / sizeof attrs[0]);
    *result_r = NULL;
    struct ldap_pool_result *res = NULL;
    int rc = ldap_pool_search(dir->service, base, scope, filter, attrs, 2, &res);
    char q[300];
    if (rc == LDAP_SIZELIMIT_EXCEEDED || (rc == LDAP_SUCCESS && res != NULL && res->count > 1)) {
        char d1[300], d2[300];
        log_error(
            "event=directory_ambiguous key=%s dn1=%s dn2=%s action=tempfail",
            log_quote(q, sizeof q, what),
            log_quote(d1, sizeof d1, res != NULL && res->count > 0 ? res->entries[0].dn : "?"),
            log_quote(d2, sizeof d2, res != NULL && res->count > 1 ? res->entries[1].dn : "?"));
        ldap_pool_result_free(&res);
        return DIR_TEMPFAIL;
    }
    if (rc != LDAP_SUCCESS) {
        char f[300];
        enum ldap_rc_class cls = ldap_pool_rc_class(rc);
        log_msg(dir_tempfail_level(rc),
                "event=directory_tempfail key=%s base=%s filter=%s error=\"%s\"%s",
                log_quote(q, sizeof q, what), base[0] != '\0' ? base : "(default)",
                log_quote(f, sizeof f, filter), ldap_err2string(rc),
                cls == LDAP_RC_CONFIG ? " hint=check_ldap_settings" : "");
        ldap_pool_result_free(&res);
        return DIR_TEMPFAIL;
    }
    if (res == NULL || res->count == 0) {
        ldap_pool_result_free(&res);
        return DIR_NOTFOUND;
    }
    *result_r = res;
    return DIR_FOUND;
}

/* search_address - recipient filter for address (local@domain). */
enum dir_result dir_search_address(struct directory *dir, const char *local, const char *domain,
                                   struct ldap_pool_result **result_r)
{
    char address[DIR_ADDRESS_MAX + 2];
    int n = snprintf(address, sizeof address, "%s@%s", local, domain);
    if (n < 0 || (size_t)n >= sizeof address)
        return DIR_NOTFOUND;
    struct dir_filter_values v = {
        .address = address, .local = local, .domain = domain, .login = address};
    char *filter;
    const char *error;
    if (dir_filter_expand(dir->o.profile.filter_recipient, &v, &filter, &error) < 0) {
        log_error("event=directory_filter_error filter=recipient error=\"%s\"", error);
        return DIR_TEMPFAIL;
    }
    enum dir_result res =
        dir_search_one(dir, dir_base(dir), LDAP_SCOPE_SUBTREE, filter, address, result_r);
    free(filter);
    return res;
}

/* -- domains ------------------------------------------------------------ */

/* list_index - where domain is in list (a trailing dot ignored), or -1. */
static ssize_t list_index(char **list, size_t n, const char *domain)
{
    for (size_t i = 0; i < n; i++) {
        const char *d = list[i];
        size_t dl = strlen(d);
        if (dl > 0 && d[dl - 1] == '.')
            dl--;
        if (strlen(domain) == dl && strncasecmp(d, domain, dl) == 0)
            return (ssize_t)i;
    }
    return -1;
}

static bool in_list(char **list, size_t n, const char *domain)
{
    return list_index(list, n, domain) >= 0;
}

/* domain_from_directory - look the domain's entry up (cached for
 * domain_cache_ttl: the entry list changes rarely, and a recipient lookup
 * must stay one search). */
static enum dir_result domain_from_directory(struct directory *dir, const char *domain,
                                             enum dir_kind *kind_r, char **next_hop_r)
{
    time_t now = time(NULL);
    pthread_mutex_lock(&dir->domain_lock);
    for (size_t i = 0; i < dir->domain_count; i++) {
        struct domain_cache_entry *c = &dir->domains[i];
        if (strcmp(c->domain, domain) == 0 && c->expires > now) {
            *kind_r = c->kind;
            *next_hop_r = c->next_hop != NULL ? strdup(c->next_hop) : NULL;
            pthread_mutex_unlock(&dir->domain_lock);
            return DIR_FOUND;
        }
    }
    pthread_mutex_unlock(&dir->domain_lock);

    struct dir_filter_values v = {.domain = domain};
    char *filter;
    const char *error;
    if (dir_filter_expand(dir->o.profile.filter_domain, &v, &filter, &error) < 0) {
        log_error("event=directory_filter_error filter=domain error=\"%s\"", error);
        return DIR_TEMPFAIL;
    }
    char *attrs[] = {dir->o.profile.attr_domain_type, dir->o.profile.attr_next_hop, NULL};
    if (attrs[0][0] == '\0')
        attrs[0] = NULL;
    struct ldap_pool_result *res = NULL;
    int rc =
        ldap_pool_search(dir->service, dir_base(dir), LDAP_SCOPE_SUBTREE, filter, attrs, 1, &res);
    free(filter);
    if (rc != LDAP_SUCCESS && rc != LDAP_SIZELIMIT_EXCEEDED) {
        log_msg(dir_tempfail_level(rc), "event=directory_tempfail key=%s error=\"%s\"", domain,
                ldap_err2string(rc));
        ldap_pool_result_free(&res);
        return DIR_TEMPFAIL;
    }
    enum dir_kind kind = DIR_KIND_NOT_OURS;
    char *hop = NULL;
    if (res != NULL && res->count > 0) {
        const char *type = ldap_pool_entry_value(&res->entries[0], dir->o.profile.attr_domain_type);
        const char *nh = ldap_pool_entry_value(&res->entries[0], dir->o.profile.attr_next_hop);
        kind = type != NULL && strcasecmp(type, "relay") == 0 ? DIR_KIND_RELAY : DIR_KIND_LOCAL;
        hop = nh != NULL ? strdup(nh) : NULL;
    }
    ldap_pool_result_free(&res);

    pthread_mutex_lock(&dir->domain_lock);
    struct domain_cache_entry *p =
        dir->domain_count < 1024
            ? realloc(dir->domains, (dir->domain_count + 1) * sizeof *dir->domains)
            : NULL;
    if (p != NULL) {
        dir->domains = p;
        struct domain_cache_entry *c = &dir->domains[dir->domain_count];
        c->domain = strdup(domain);
        c->next_hop = hop != NULL ? strdup(hop) : NULL;
        c->kind = kind;
        c->expires = now + (time_t)dir->o.domain_cache_ttl;
        if (c->domain != NULL)
            dir->domain_count++;
        else
            free(c->next_hop);
    }
    pthread_mutex_unlock(&dir->domain_lock);
    *kind_r = kind;
    *next_hop_r = hop;
    return DIR_FOUND;
}

/* classify_domain - LOCAL, RELAY or NOT_OURS for domain. */
static enum dir_result classify_domain(struct directory *dir, const char *domain,
                                       enum dir_kind *kind_r, char **next_hop_r)
{
    *next_hop_r = NULL;
    if (in_list(dir->o.local_domains, dir->o.local_domain_count, domain)) {
        *kind_r = DIR_KIND_LOCAL;
        return DIR_FOUND;
    }
    ssize_t relay = list_index(dir->o.relay_domains, dir->o.relay_domain_count, domain);
    if (relay >= 0) {
        /* A domain in domains.relay is decided by the configuration alone
         * (no directory search, so an outage cannot defer it): its next hop
         * is the configured one, or none (MX lookup). */
        *kind_r = DIR_KIND_RELAY;
        const char *hop = dir->o.relay_next_hops != NULL ? dir->o.relay_next_hops[relay] : NULL;
        if (hop != NULL && (*next_hop_r = strdup(hop)) == NULL)
            return DIR_TEMPFAIL;
        return DIR_FOUND;
    }
    if (dir->o.domains_from_directory && dir->o.profile.filter_domain[0] != '\0')
        return domain_from_directory(dir, domain, kind_r, next_hop_r);
    *kind_r = DIR_KIND_NOT_OURS;
    return DIR_FOUND;
}

/* -- resolution ------------------------------------------------------------- */

static bool keep_copy(const struct dir_profile *p, const struct ldap_pool_entry *e)
{
    const struct ldap_pool_attr *a = ldap_pool_entry_attr(e, p->attr_keep_copy);
    switch (p->keep_style) {
    case DIR_KEEP_NEVER:
        return false;
    case DIR_KEEP_BOOLEAN:
        return a != NULL && a->count > 0 && strcasecmp(a->values[0], "TRUE") == 0;
    case DIR_KEEP_QMAIL_MODE:
        for (size_t i = 0; a != NULL && i < a->count; i++) {
            if (strcasecmp(a->values[i], "forwardonly") == 0 ||
                strcasecmp(a->values[i], "nolocal") == 0)
                return false;
        }
        return true;
    }
    return false;
}

/* fill_recipient - decide the kind of r from the entry that owns it. */
static enum dir_result fill_recipient(struct directory *dir, const struct ldap_pool_entry *e,
                                      struct dir_recipient *r)
{
    const struct dir_profile *p = &dir->o.profile;
    if ((r->dn = strdup(e->dn)) == NULL)
        return DIR_TEMPFAIL;
    struct dir_strlist addrs = {0};
    if (dir_user_addresses(p, e, &addrs, &r->primary) < 0) {
        dir_strlist_clear(&addrs);
        return DIR_TEMPFAIL;
    }
    dir_strlist_clear(&addrs);
    r->status = dir_user_status(p, e);
    if (r->status == DIR_STATUS_DISABLED || r->status == DIR_STATUS_HELD) {
        r->kind = DIR_KIND_DISABLED;
        r->disabled_action =
            r->status == DIR_STATUS_HELD ? DIR_DISABLED_HOLD : dir->o.disabled_action;
        return DIR_FOUND;
    }
    if (dir_is_group(p, e)) {
        r->kind = DIR_KIND_GROUP;
        return dir_expand_group(dir, e, r->address, &r->members);
    }
    struct dir_user *u = dir_user_from_entry(p, e, dir->o.node_name, NULL);
    if (u == NULL)
        return DIR_TEMPFAIL;
    r->mailbox = u->mailbox;
    r->sieve = u->sieve;
    r->mail_host = u->mail_host;
    r->quota = u->quota;
    u->mailbox = u->sieve = u->mail_host = NULL;
    dir_user_free(&u);
    const struct ldap_pool_attr *fw = ldap_pool_entry_attr(e, p->attr_forward);
    for (size_t i = 0; fw != NULL && i < fw->count; i++) {
        char *v = fw->values[i];
        /* mailRoutingAddress equal to the entry's own address is no forward. */
        if (r->primary != NULL && strcasecmp(v, r->primary) == 0)
            continue;
        if (dir_strlist_add(&r->forwards, v) < 0)
            return DIR_TEMPFAIL;
    }
    if (r->forwards.count > 0) {
        r->kind = DIR_KIND_FORWARD;
        r->keep_copy = keep_copy(p, e);
    } else {
        r->kind = r->mail_host != NULL ? DIR_KIND_REMOTE_NODE : DIR_KIND_LOCAL;
    }
    return DIR_FOUND;
}

enum dir_result dir_resolve(struct directory *dir, const char *address, struct dir_recipient **rp)
{
    *rp = NULL;
    struct dir_recipient *r = calloc(1, sizeof *r);
    if (r == NULL)
        return DIR_TEMPFAIL;
    struct dir_address a;
    if (address == NULL || dir_address_parse(address, dir->o.subaddress_delimiters,
                                             dir->o.case_sensitive_local, &a) < 0) {
        r->kind = DIR_KIND_INVALID;
        *rp = r;
        return DIR_NOTFOUND;
    }
    r->address = a.address;
    r->local = a.local;
    r->domain = a.domain;
    r->tag = a.tag;
    a.address = a.local = a.domain = a.tag = NULL;

    enum dir_kind dkind;
    enum dir_result res = classify_domain(dir, r->domain, &dkind, &r->next_hop);
    if (res == DIR_TEMPFAIL)
        goto fail;
    if (dkind != DIR_KIND_LOCAL) {
        r->kind = dkind;
        dir_address_clear(&a);
        *rp = r;
        return dkind == DIR_KIND_RELAY ? DIR_FOUND : DIR_NOTFOUND;
    }

    /* exact, then without the tag, then the catch-all. A local part that is
     * empty ("@domain") would hit the catch-all entry directly: refuse it. */
    if (r->local[0] == '\0') {
        r->kind = DIR_KIND_INVALID;
        dir_address_clear(&a);
        *rp = r;
        return DIR_NOTFOUND;
    }
    struct ldap_pool_result *found = NULL;
    res = dir_search_address(dir, r->local, r->domain, &found);
    const char *matched_local = r->local;
    if (res == DIR_NOTFOUND && r->tag != NULL) {
        res = dir_search_address(dir, a.base_local, r->domain, &found);
        matched_local = a.base_local;
    }
    if (res == DIR_NOTFOUND && dir->o.profile.catchall[0] != '\0') {
        /* The catch-all form is a template over the (validated) domain only. */
        char form[DIR_ADDRESS_MAX + 64];
        const char *t = dir->o.profile.catchall;
        size_t n = 0;
        for (; *t != '\0' && n + 1 < sizeof form; t++) {
            if (t[0] == '%' && t[1] == 'd') {
                int w = snprintf(form + n, sizeof form - n, "%s", r->domain);
                if (w < 0 || (size_t)w >= sizeof form - n)
                    break;
                n += (size_t)w;
                t++;
            } else {
                form[n++] = *t;
            }
        }
        form[n] = '\0';
        char *at = strrchr(form, '@');
        if (at != NULL) {
            *at = '\0';
            res = dir_search_address(dir, form, at + 1, &found);
            r->catchall = true;
            if (res == DIR_FOUND &&
                (r->matched = malloc(strlen(form) + strlen(at + 1) + 2)) != NULL)
                snprintf(r->matched, strlen(form) + strlen(at + 1) + 2, "%s@%s", form, at + 1);
        }
    }
    if (res == DIR_TEMPFAIL)
        goto fail;
    if (res == DIR_NOTFOUND) {
        r->kind = DIR_KIND_UNKNOWN;
        r->catchall = false;
        dir_address_clear(&a);
        *rp = r;
        return DIR_NOTFOUND;
    }
    if (r->matched == NULL) {
        size_t len = strlen(matched_local) + strlen(r->domain) + 2;
        if ((r->matched = malloc(len)) == NULL) {
            ldap_pool_result_free(&found);
            goto fail;
        }
        snprintf(r->matched, len, "%s@%s", matched_local, r->domain);
    }
    if (!r->catchall && matched_local == r->local && r->tag != NULL) {
        /* The tagged address itself is an entry's address: not a tag. */
        free(r->tag);
        r->tag = NULL;
    }
    res = fill_recipient(dir, &found->entries[0], r);
    ldap_pool_result_free(&found);
    if (res != DIR_FOUND)
        goto fail;
    dir_address_clear(&a);
    *rp = r;
    return DIR_FOUND;
fail:
    dir_address_clear(&a);
    dir_recipient_free(&r);
    return DIR_TEMPFAIL;
}

void dir_strlist_free(struct dir_strlist **lp)
{
    if (*lp == NULL)
        return;
    dir_strlist_clear(*lp);
    free(*lp);
    *lp = NULL;
}
