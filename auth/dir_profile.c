/* auth/dir_profile.c - the four built-in profiles (DESIGN.md "Directory
 * schema") and per-setting overrides. */
#include "config.h"

#include "auth/dir_profile.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct defaults {
    const char *name;
    const char *strings[22]; /* in the order of string_fields below */
    enum dir_status_style status_style;
    enum dir_keep_style keep_style;
    bool proxy_addresses;
};

/* The string fields, by override name, in struct order. */
static const struct {
    const char *key;
    size_t offset;
} string_fields[] = {
    {"attr.mail", offsetof(struct dir_profile, attr_mail)},
    {"attr.alias", offsetof(struct dir_profile, attr_alias)},
    {"attr.login", offsetof(struct dir_profile, attr_login)},
    {"attr.mailhost", offsetof(struct dir_profile, attr_mailhost)},
    {"attr.mailbox", offsetof(struct dir_profile, attr_mailbox)},
    {"attr.quota", offsetof(struct dir_profile, attr_quota)},
    {"attr.status", offsetof(struct dir_profile, attr_status)},
    {"attr.forward", offsetof(struct dir_profile, attr_forward)},
    {"attr.keep_copy", offsetof(struct dir_profile, attr_keep_copy)},
    {"attr.sieve", offsetof(struct dir_profile, attr_sieve)},
    {"attr.service", offsetof(struct dir_profile, attr_service)},
    {"attr.sender", offsetof(struct dir_profile, attr_sender)},
    {"attr.member", offsetof(struct dir_profile, attr_member)},
    {"attr.unique_member", offsetof(struct dir_profile, attr_unique_member)},
    {"group_classes", offsetof(struct dir_profile, group_classes)},
    {"attr.domain_type", offsetof(struct dir_profile, attr_domain_type)},
    {"attr.next_hop", offsetof(struct dir_profile, attr_next_hop)},
    {"filter.recipient", offsetof(struct dir_profile, filter_recipient)},
    {"filter.login", offsetof(struct dir_profile, filter_login)},
    {"filter.group", offsetof(struct dir_profile, filter_group)},
    {"filter.domain", offsetof(struct dir_profile, filter_domain)},
    {"catchall", offsetof(struct dir_profile, catchall)},
};
#define FIELD_COUNT (sizeof string_fields / sizeof string_fields[0])

static const struct defaults profiles[] = {
    {"dirmail",
     {"mail",
      "dirmailAlias",
      "uid",
      "dirmailMailHost",
      "dirmailMailbox",
      "dirmailQuota",
      "dirmailStatus",
      "dirmailForward",
      "dirmailKeepCopy",
      "dirmailSieve",
      "dirmailService",
      "dirmailSender",
      "member",
      "uniqueMember",
      "groupOfNames groupOfUniqueNames",
      "dirmailDomainType",
      "dirmailNextHop",
      "(|(mail=%s)(dirmailAlias=%s))",
      "(&(objectClass=dirmailUser)(|(uid=%l)(mail=%l)))",
      "(objectClass=*)",
      "(&(objectClass=dirmailDomain)(dirmailDomainName=%d))",
      "@%d"},
     DIR_STATUS_DIRMAIL,
     DIR_KEEP_BOOLEAN,
     false},
    /* qmail-ldap: catch-all entries carry "catchall@domain"; deliveryMode
     * "forwardonly"/"nolocal" turns off the local copy when forwarding. */
    {"qmail-ldap",
     {"mail",
      "mailAlternateAddress",
      "uid",
      "mailHost",
      "mailMessageStore",
      "mailQuotaSize",
      "accountStatus",
      "mailForwardingAddress",
      "deliveryMode",
      "",
      "",
      "",
      "member",
      "uniqueMember",
      "groupOfNames groupOfUniqueNames",
      "",
      "",
      "(|(mail=%s)(mailAlternateAddress=%s))",
      "(|(uid=%l)(mail=%l))",
      "(objectClass=*)",
      "",
      "catchall@%d"},
     DIR_STATUS_QMAIL,
     DIR_KEEP_QMAIL_MODE,
     false},
    /* misc.schema's inetLocalMailRecipient (sendmail's LDAP routing):
     * mailRoutingAddress rewrites the recipient, so it forwards without a copy. */
    {"inetlocalmailrecipient",
     {"mail",
      "mailLocalAddress",
      "uid",
      "mailHost",
      "",
      "",
      "",
      "mailRoutingAddress",
      "",
      "",
      "",
      "",
      "member",
      "uniqueMember",
      "groupOfNames groupOfUniqueNames",
      "",
      "",
      "(|(mail=%s)(mailLocalAddress=%s))",
      "(|(uid=%l)(mail=%l))",
      "(objectClass=*)",
      "",
      "@%d"},
     DIR_STATUS_NONE,
     DIR_KEEP_NEVER,
     false},
    /* Active Directory: proxyAddresses matches case-insensitively in AD, so
     * "smtp:%s" also finds the "SMTP:" primary. The disabled bit is decided in
     * code from userAccountControl, so a disabled user is found (and mail to
     * it handled by policy) rather than unknown; a site that wants AD to
     * filter can override filter.login with
     * (!(userAccountControl:1.2.840.113556.1.4.803:=2)). */
    {"active-directory",
     {"mail",
      "proxyAddresses",
      "sAMAccountName",
      "",
      "",
      "",
      "userAccountControl",
      "",
      "",
      "",
      "",
      "",
      "member",
      "",
      "group",
      "",
      "",
      "(|(mail=%s)(proxyAddresses=smtp:%s))",
      "(|(userPrincipalName=%l)(sAMAccountName=%l))",
      "(objectClass=*)",
      "",
      "@%d"},
     DIR_STATUS_AD_UAC,
     DIR_KEEP_NEVER,
     true},
};

static char **field(struct dir_profile *p, size_t i)
{
    return (char **)((char *)p + string_fields[i].offset);
}

void dir_profile_clear(struct dir_profile *p)
{
    for (size_t i = 0; i < FIELD_COUNT; i++) {
        free(*field(p, i));
        *field(p, i) = NULL;
    }
    free(p->name);
    p->name = NULL;
}

int dir_profile_init(struct dir_profile *p, const char *name, const char **error_r)
{
    memset(p, 0, sizeof *p);
    if (name == NULL)
        name = "dirmail";
    for (size_t k = 0; k < sizeof profiles / sizeof profiles[0]; k++) {
        const struct defaults *d = &profiles[k];
        if (strcasecmp(d->name, name) != 0)
            continue;
        p->name = strdup(d->name);
        bool failed = p->name == NULL;
        for (size_t i = 0; i < FIELD_COUNT; i++) {
            *field(p, i) = strdup(d->strings[i]);
            failed |= *field(p, i) == NULL;
        }
        p->status_style = d->status_style;
        p->keep_style = d->keep_style;
        p->proxy_addresses = d->proxy_addresses;
        if (failed) {
            dir_profile_clear(p);
            *error_r = "out of memory";
            return -1;
        }
        return 0;
    }
    *error_r = "unknown profile (dirmail, qmail-ldap, inetlocalmailrecipient, active-directory)";
    return -1;
}

int dir_profile_copy(struct dir_profile *dst, const struct dir_profile *src)
{
    *dst = *src;
    bool failed = false;
    dst->name = strdup(src->name != NULL ? src->name : "");
    failed |= dst->name == NULL;
    for (size_t i = 0; i < FIELD_COUNT; i++) {
        const char *v = *field((struct dir_profile *)src, i);
        *field(dst, i) = strdup(v != NULL ? v : "");
        failed |= *field(dst, i) == NULL;
    }
    if (failed) {
        dir_profile_clear(dst);
        return -1;
    }
    return 0;
}

int dir_profile_set(struct dir_profile *p, const char *key, const char *value, const char **error_r)
{
    for (size_t i = 0; i < FIELD_COUNT; i++) {
        if (strcmp(key, string_fields[i].key) != 0)
            continue;
        char *copy = strdup(value);
        if (copy == NULL) {
            *error_r = "out of memory";
            return -1;
        }
        free(*field(p, i));
        *field(p, i) = copy;
        return 0;
    }
    if (strcmp(key, "status_style") == 0) {
        static const char *const names[] = {"none", "dirmail", "qmail", "ad"};
        for (size_t i = 0; i < 4; i++) {
            if (strcasecmp(value, names[i]) == 0) {
                p->status_style = (enum dir_status_style)i;
                return 0;
            }
        }
        *error_r = "status_style must be none, dirmail, qmail or ad";
        return -1;
    }
    if (strcmp(key, "keep_style") == 0) {
        static const char *const names[] = {"never", "boolean", "qmail"};
        for (size_t i = 0; i < 3; i++) {
            if (strcasecmp(value, names[i]) == 0) {
                p->keep_style = (enum dir_keep_style)i;
                return 0;
            }
        }
        *error_r = "keep_style must be never, boolean or qmail";
        return -1;
    }
    if (strcmp(key, "proxy_addresses") == 0) {
        p->proxy_addresses = strcasecmp(value, "true") == 0 || strcmp(value, "1") == 0;
        return 0;
    }
    *error_r = "unknown profile setting";
    return -1;
}
