/* auth/directory_options.c - the settings of the directory client: taken
 * from struct config (the profile with its overrides applied), changed one by
 * name for tests and tools, copied and freed. No LDAP here. */
#include "config.h"

#include "auth/directory_options.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int dup_list(char **src, size_t n, char ***dst, size_t *count)
{
    *dst = NULL;
    *count = 0;
    if (n == 0)
        return 0;
    *dst = calloc(n, sizeof **dst);
    if (*dst == NULL)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (((*dst)[i] = strdup(src[i])) == NULL)
            return -1;
        (*count)++;
    }
    return 0;
}

static void free_list(char **l, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(l[i]);
    free(l);
}

/* dup_hops - copy n next hops, NULL entries included (src may be NULL). */
static int dup_hops(char *const *src, size_t n, char ***dst)
{
    *dst = NULL;
    if (n == 0 || src == NULL)
        return 0;
    if ((*dst = calloc(n, sizeof **dst)) == NULL)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (src[i] != NULL && ((*dst)[i] = strdup(src[i])) == NULL)
            return -1;
    }
    return 0;
}

static char *dup_opt(const char *s, bool *failed)
{
    if (s == NULL)
        return NULL;
    char *d = strdup(s);
    if (d == NULL)
        *failed = true;
    return d;
}

void directory_options_clear(struct directory_options *o)
{
    free_list(o->uris, o->uri_count);
    free(o->bind_dn);
    if (o->bind_password != NULL) {
        explicit_bzero(o->bind_password, strlen(o->bind_password));
        free(o->bind_password);
    }
    free(o->base);
    free(o->ca_file);
    free_list(o->local_domains, o->local_domain_count);
    for (size_t i = 0; i < o->relay_domain_count && o->relay_next_hops != NULL; i++)
        free(o->relay_next_hops[i]);
    free(o->relay_next_hops);
    free_list(o->relay_domains, o->relay_domain_count);
    free(o->node_name);
    free(o->subaddress_delimiters);
    dir_profile_clear(&o->profile);
    memset(o, 0, sizeof *o);
}

int directory_options_copy(struct directory_options *dst, const struct directory_options *src)
{
    bool failed = false;
    *dst = *src;
    dst->uris = dst->local_domains = dst->relay_domains = dst->relay_next_hops = NULL;
    dst->uri_count = dst->local_domain_count = dst->relay_domain_count = 0;
    memset(&dst->profile, 0, sizeof dst->profile);
    dst->bind_dn = dup_opt(src->bind_dn, &failed);
    dst->bind_password = dup_opt(src->bind_password, &failed);
    dst->base = dup_opt(src->base, &failed);
    dst->ca_file = dup_opt(src->ca_file, &failed);
    dst->node_name = dup_opt(src->node_name, &failed);
    dst->subaddress_delimiters = dup_opt(src->subaddress_delimiters, &failed);
    if (failed || dup_list(src->uris, src->uri_count, &dst->uris, &dst->uri_count) < 0 ||
        dup_list(src->local_domains, src->local_domain_count, &dst->local_domains,
                 &dst->local_domain_count) < 0 ||
        dup_list(src->relay_domains, src->relay_domain_count, &dst->relay_domains,
                 &dst->relay_domain_count) < 0 ||
        dup_hops(src->relay_next_hops, src->relay_domain_count, &dst->relay_next_hops) < 0 ||
        dir_profile_copy(&dst->profile, &src->profile) < 0) {
        directory_options_clear(dst);
        return -1;
    }
    return 0;
}

/* apply_overrides - the ldap.attributes / ldap.filters / profile settings of
 * conf onto the profile, through dir_profile_set's names. */
static int apply_overrides(const struct config_ldap *l, struct dir_profile *p, const char **error_r)
{
    char key[64];
    for (size_t i = 0; i < CONFIG_LDAP_ATTRIBUTE_COUNT; i++) {
        int n = snprintf(key, sizeof key, "attr.%s", config_ldap_attribute_names[i]);
        if (l->attributes[i] != NULL && (n < 0 || (size_t)n >= sizeof key ||
                                         dir_profile_set(p, key, l->attributes[i], error_r) < 0))
            return -1;
    }
    for (size_t i = 0; i < CONFIG_LDAP_FILTER_COUNT; i++) {
        int n = snprintf(key, sizeof key, "filter.%s", config_ldap_filter_names[i]);
        if (l->filters[i] != NULL && (n < 0 || (size_t)n >= sizeof key ||
                                      dir_profile_set(p, key, l->filters[i], error_r) < 0))
            return -1;
    }
    if ((l->group_classes != NULL &&
         dir_profile_set(p, "group_classes", l->group_classes, error_r) < 0) ||
        (l->catchall != NULL && dir_profile_set(p, "catchall", l->catchall, error_r) < 0) ||
        (l->status_style != NULL &&
         dir_profile_set(p, "status_style", l->status_style, error_r) < 0) ||
        (l->keep_style != NULL && dir_profile_set(p, "keep_style", l->keep_style, error_r) < 0) ||
        (l->proxy_addresses >= 0 &&
         dir_profile_set(p, "proxy_addresses", l->proxy_addresses > 0 ? "true" : "false", error_r) <
             0))
        return -1;
    return 0;
}

int directory_options_from_config(const struct config *conf, struct directory_options *o,
                                  const char **error_r)
{
    const struct config_ldap *l = &conf->ldap;
    bool failed = false;
    memset(o, 0, sizeof *o);
    if (dir_profile_init(&o->profile, l->profile, error_r) < 0)
        return -1;
    o->bind_dn = dup_opt(l->bind_dn, &failed);
    o->bind_password = dup_opt(l->bind_password, &failed);
    o->base = dup_opt(l->base != NULL ? l->base : "", &failed);
    o->ca_file = dup_opt(l->ca_file, &failed);
    o->node_name = dup_opt(conf->server.hostname, &failed);
    o->subaddress_delimiters =
        dup_opt(l->subaddress_delimiter != NULL ? l->subaddress_delimiter : "+", &failed);
    o->connect_timeout_ms = l->connect_timeout * 1000;
    o->timeout_ms = l->timeout * 1000;
    o->pool_size = l->pool_size;
    o->starttls = l->starttls == LDAP_STARTTLS_REQUIRE ? LDAP_POOL_TLS_REQUIRE
                  : l->starttls == LDAP_STARTTLS_TRY   ? LDAP_POOL_TLS_TRY
                                                       : LDAP_POOL_TLS_NO;
    o->verify_cert = l->verify_cert;
    o->domains_from_directory = conf->domains.from_directory;
    o->case_sensitive_local = l->case_sensitive_local_part;
    o->disabled_action =
        l->disabled_policy == LDAP_DISABLED_HOLD ? DIR_DISABLED_HOLD : DIR_DISABLED_REJECT;
    o->group_depth = l->group_max_depth;
    o->group_members_max = l->group_max_members;
    o->auth_pool_size = l->auth_pool_size;
    o->pool_wait_ms = l->pool_wait * 1000;
    o->retry_preferred_ms = l->failback_interval * 1000;
    o->domain_cache_ttl = l->domain_cache_ttl;
    if (failed || dup_list(l->uris, l->uri_count, &o->uris, &o->uri_count) < 0 ||
        dup_list(conf->domains.local, conf->domains.local_count, &o->local_domains,
                 &o->local_domain_count) < 0 ||
        dup_list(conf->domains.relay, conf->domains.relay_count, &o->relay_domains,
                 &o->relay_domain_count) < 0 ||
        dup_hops(conf->domains.relay_next_hop, conf->domains.relay_count, &o->relay_next_hops) <
            0) {
        directory_options_clear(o);
        *error_r = "out of memory";
        return -1;
    }
    if (apply_overrides(l, &o->profile, error_r) < 0) {
        directory_options_clear(o);
        return -1;
    }
    return 0;
}

static int parse_uint(const char *value, unsigned max, unsigned *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(value, &end, 10);
    if (errno != 0 || end == value || *end != '\0' || v > max || value[0] == '-')
        return -1;
    *out = (unsigned)v;
    return 0;
}

int directory_options_set(struct directory_options *o, const char *key, const char *value,
                          const char **error_r)
{
    static const struct {
        const char *key;
        size_t offset;
        unsigned max;
    } numbers[] = {
        {"group_max_depth", offsetof(struct directory_options, group_depth), 64},
        {"group_max_members", offsetof(struct directory_options, group_members_max), 100000},
        {"auth_pool_size", offsetof(struct directory_options, auth_pool_size), 64},
        {"pool_wait_ms", offsetof(struct directory_options, pool_wait_ms), 300000},
        {"failback_interval_ms", offsetof(struct directory_options, retry_preferred_ms), 86400000},
        {"domain_cache_ttl", offsetof(struct directory_options, domain_cache_ttl), 86400},
        {"timeout_ms", offsetof(struct directory_options, timeout_ms), 300000},
        {"connect_timeout_ms", offsetof(struct directory_options, connect_timeout_ms), 300000},
    };
    for (size_t i = 0; i < sizeof numbers / sizeof numbers[0]; i++) {
        if (strcmp(key, numbers[i].key) != 0)
            continue;
        if (parse_uint(value, numbers[i].max, (unsigned *)((char *)o + numbers[i].offset)) < 0) {
            *error_r = "not a number in range";
            return -1;
        }
        return 0;
    }
    if (strcmp(key, "subaddress_delimiter") == 0) {
        char *copy = strdup(value);
        if (copy == NULL) {
            *error_r = "out of memory";
            return -1;
        }
        free(o->subaddress_delimiters);
        o->subaddress_delimiters = copy;
        return 0;
    }
    if (strcmp(key, "case_sensitive_local_part") == 0) {
        o->case_sensitive_local = strcasecmp(value, "true") == 0 || strcmp(value, "1") == 0;
        return 0;
    }
    if (strcmp(key, "disabled_policy") == 0) {
        if (strcasecmp(value, "reject") == 0)
            o->disabled_action = DIR_DISABLED_REJECT;
        else if (strcasecmp(value, "hold") == 0)
            o->disabled_action = DIR_DISABLED_HOLD;
        else {
            *error_r = "disabled_policy must be reject or hold";
            return -1;
        }
        return 0;
    }
    return dir_profile_set(&o->profile, key, value, error_r);
}
