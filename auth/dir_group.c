/* auth/dir_group.c - group expansion for the directory client: a group's
 * members (groupOfNames, groupOfUniqueNames, nested groups) as addresses,
 * with loop detection and the configured depth and size limits. */
#include "config.h"

#include "auth/directory_internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

bool dir_is_group(const struct dir_profile *p, const struct ldap_pool_entry *e)
{
    const struct ldap_pool_attr *oc = ldap_pool_entry_attr(e, "objectClass");
    for (size_t i = 0; oc != NULL && i < oc->count; i++) {
        const char *classes = p->group_classes;
        size_t len = strlen(oc->values[i]);
        while (*classes != '\0') {
            size_t w = strcspn(classes, " ,");
            if (w == len && strncasecmp(classes, oc->values[i], w) == 0)
                return true;
            classes += w;
            classes += strspn(classes, " ,");
        }
    }
    return false;
}

struct expansion {
    struct dir_strlist visited; /* group DNs, for loop detection */
    struct dir_strlist *members;
    const char *address;
};

static enum dir_result expand_group(struct directory *dir, const struct ldap_pool_entry *group,
                                    unsigned depth, struct expansion *x);

/* expand_member - add the member entry at dn (a user's address, or a nested
 * group's members). A member that no longer exists is skipped: groupOfNames
 * has no referential integrity, and one stale DN must not defer the list. */
static enum dir_result expand_member(struct directory *dir, const char *dn, unsigned depth,
                                     struct expansion *x)
{
    const struct dir_profile *p = &dir->o.profile;
    struct ldap_pool_result *res = NULL;
    const char *filter = p->filter_group[0] != '\0' ? p->filter_group : "(objectClass=*)";
    char *attrs[24];
    dir_user_attrs(p, attrs, sizeof attrs / sizeof attrs[0]);
    int rc = ldap_pool_search(dir->service, dn, LDAP_SCOPE_BASE, filter, attrs, 1, &res);
    char q[300];
    if (rc == LDAP_NO_SUCH_OBJECT || (rc == LDAP_SUCCESS && (res == NULL || res->count == 0))) {
        log_warning("event=group_member_missing address=%s member=%s",
                    log_quote(q, sizeof q, x->address), dn);
        ldap_pool_result_free(&res);
        return DIR_FOUND;
    }
    if (rc != LDAP_SUCCESS) {
        log_msg(dir_tempfail_level(rc), "event=directory_tempfail key=%s member=%s error=\"%s\"",
                log_quote(q, sizeof q, x->address), dn, ldap_err2string(rc));
        ldap_pool_result_free(&res);
        return DIR_TEMPFAIL;
    }
    const struct ldap_pool_entry *e = &res->entries[0];
    enum dir_result r = DIR_FOUND;
    if (dir_is_group(p, e)) {
        r = expand_group(dir, e, depth + 1, x);
    } else if (dir_user_status(p, e) != DIR_STATUS_DISABLED) {
        struct dir_strlist addrs = {0};
        char *primary = NULL;
        if (dir_user_addresses(p, e, &addrs, &primary) < 0)
            r = DIR_TEMPFAIL;
        else if (primary != NULL && dir_strlist_add(x->members, primary) < 0)
            r = DIR_TEMPFAIL;
        free(primary);
        dir_strlist_clear(&addrs);
    }
    ldap_pool_result_free(&res);
    return r;
}

/* strip_uid - groupOfUniqueNames values are nameAndOptionalUID
 * ("dn#'0101'B", RFC 4517 3.3.21): drop the optional bit string. */
static char *strip_uid(const char *v)
{
    const char *hash = strrchr(v, '#');
    size_t len = strlen(v);
    if (hash != NULL && len >= 3 && v[len - 1] == 'B' && v[len - 2] == '\'' && hash[1] == '\'')
        return strndup(v, (size_t)(hash - v));
    return strdup(v);
}

static enum dir_result expand_group(struct directory *dir, const struct ldap_pool_entry *group,
                                    unsigned depth, struct expansion *x)
{
    char q[300];
    for (size_t i = 0; i < x->visited.count; i++) {
        if (strcasecmp(x->visited.items[i], group->dn) == 0) {
            log_info("event=group_loop address=%s group=%s", log_quote(q, sizeof q, x->address),
                     group->dn);
            return DIR_FOUND; /* each group expanded once: a loop adds nothing */
        }
    }
    if (depth > dir->o.group_depth) {
        /* Deeper than configured: a misconfiguration; defer rather than
         * deliver to part of the list. */
        log_error("event=group_too_deep address=%s group=%s max_depth=%u action=tempfail",
                  log_quote(q, sizeof q, x->address), group->dn, dir->o.group_depth);
        return DIR_TEMPFAIL;
    }
    if (dir_strlist_add(&x->visited, group->dn) < 0)
        return DIR_TEMPFAIL;
    const char *member_attrs[] = {dir->o.profile.attr_member, dir->o.profile.attr_unique_member};
    for (size_t k = 0; k < 2; k++) {
        const struct ldap_pool_attr *a = ldap_pool_entry_attr(group, member_attrs[k]);
        for (size_t i = 0; a != NULL && i < a->count; i++) {
            if (x->visited.count + x->members->count > dir->o.group_members_max) {
                log_error("event=group_too_large address=%s max_members=%u action=tempfail",
                          log_quote(q, sizeof q, x->address), dir->o.group_members_max);
                return DIR_TEMPFAIL;
            }
            char *dn = k == 1 ? strip_uid(a->values[i]) : strdup(a->values[i]);
            if (dn == NULL)
                return DIR_TEMPFAIL;
            enum dir_result r = expand_member(dir, dn, depth, x);
            free(dn);
            if (r == DIR_TEMPFAIL)
                return r;
        }
    }
    return DIR_FOUND;
}

enum dir_result dir_expand_group(struct directory *dir, const struct ldap_pool_entry *group,
                                 const char *address, struct dir_strlist *members)
{
    struct expansion x = {.members = members, .address = address};
    enum dir_result res = expand_group(dir, group, 1, &x);
    dir_strlist_clear(&x.visited);
    return res;
}
