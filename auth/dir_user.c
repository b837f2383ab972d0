/* auth/dir_user.c - the user model built from directory entries, and address
 * normalisation. */
#include "config.h"

#include "auth/dir_user.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/log.h"

void dir_strlist_clear(struct dir_strlist *l)
{
    for (size_t i = 0; i < l->count; i++)
        free(l->items[i]);
    free(l->items);
    l->items = NULL;
    l->count = 0;
}

int dir_strlist_add(struct dir_strlist *l, const char *s)
{
    for (size_t i = 0; i < l->count; i++) {
        if (strcasecmp(l->items[i], s) == 0)
            return 0;
    }
    char **p = realloc(l->items, (l->count + 1) * sizeof *p);
    if (p == NULL)
        return -1;
    l->items = p;
    char *copy = strdup(s);
    if (copy == NULL)
        return -1;
    l->items[l->count++] = copy;
    return 0;
}

void dir_recipient_free(struct dir_recipient **rp)
{
    struct dir_recipient *r = *rp;
    if (r == NULL)
        return;
    free(r->address);
    free(r->local);
    free(r->domain);
    free(r->tag);
    free(r->matched);
    free(r->dn);
    free(r->primary);
    free(r->mailbox);
    free(r->sieve);
    free(r->mail_host);
    free(r->next_hop);
    dir_strlist_clear(&r->forwards);
    dir_strlist_clear(&r->members);
    free(r);
    *rp = NULL;
}

void dir_user_free(struct dir_user **up)
{
    struct dir_user *u = *up;
    if (u == NULL)
        return;
    free(u->dn);
    free(u->login);
    free(u->primary);
    free(u->mailbox);
    free(u->sieve);
    free(u->mail_host);
    dir_strlist_clear(&u->addresses);
    dir_strlist_clear(&u->senders);
    dir_strlist_clear(&u->services);
    free(u);
    *up = NULL;
}

void dir_address_clear(struct dir_address *a)
{
    free(a->address);
    free(a->local);
    free(a->domain);
    free(a->base_local);
    free(a->tag);
    memset(a, 0, sizeof *a);
}

static void lower(char *s)
{
    for (; *s != '\0'; s++)
        *s = (char)tolower((unsigned char)*s);
}

int dir_address_parse(const char *input, const char *delimiters, bool case_sensitive,
                      struct dir_address *a)
{
    memset(a, 0, sizeof *a);
    size_t len = strlen(input);
    if (len == 0 || len > DIR_ADDRESS_MAX)
        return -1;
    for (const char *p = input; *p != '\0'; p++) {
        /* Control bytes, spaces and DEL never belong in an address we look up;
         * quoted local parts arrive here already unquoted by the caller. */
        if ((unsigned char)*p <= 0x20 || *p == 0x7f)
            return -1;
    }
    const char *at = strrchr(input, '@');
    if (at == NULL || at[1] == '\0')
        return -1;
    a->local = strndup(input, (size_t)(at - input));
    a->domain = strdup(at + 1);
    if (a->local == NULL || a->domain == NULL)
        goto fail;
    size_t dlen = strlen(a->domain);
    if (a->domain[dlen - 1] == '.')
        a->domain[--dlen] = '\0';
    if (dlen == 0 || a->domain[0] == '.' || strstr(a->domain, "..") != NULL ||
        strchr(a->domain, '@') != NULL)
        goto fail;
    lower(a->domain);
    if (!case_sensitive)
        lower(a->local);
    size_t cut = strlen(a->local);
    if (delimiters != NULL && delimiters[0] != '\0') {
        size_t pos = strcspn(a->local, delimiters);
        /* A local part that starts with the delimiter has no base: no tag. */
        if (pos > 0 && pos < cut) {
            a->tag = strdup(a->local + pos + 1);
            if (a->tag == NULL)
                goto fail;
            cut = pos;
        }
    }
    a->base_local = strndup(a->local, cut);
    size_t alen = strlen(a->local) + 1 + dlen + 1;
    a->address = malloc(alen);
    if (a->base_local == NULL || a->address == NULL)
        goto fail;
    int n = snprintf(a->address, alen, "%s@%s", a->local, a->domain);
    if (n < 0 || (size_t)n >= alen)
        goto fail;
    return 0;
fail:
    dir_address_clear(a);
    return -1;
}

enum dir_status dir_user_status(const struct dir_profile *p, const struct ldap_pool_entry *e)
{
    const char *v = ldap_pool_entry_value(e, p->attr_status);
    if (p->status_style == DIR_STATUS_NONE || v == NULL)
        return DIR_STATUS_ACTIVE;
    switch (p->status_style) {
    case DIR_STATUS_DIRMAIL:
        if (strcasecmp(v, "active") == 0)
            return DIR_STATUS_ACTIVE;
        if (strcasecmp(v, "noaccess") == 0)
            return DIR_STATUS_NOACCESS;
        if (strcasecmp(v, "disabled") == 0)
            return DIR_STATUS_DISABLED;
        /* "held" and any unknown value (schema/dirmail.schema: a typo must
         * never bounce mail). */
        return DIR_STATUS_HELD;
    case DIR_STATUS_QMAIL:
        if (strcasecmp(v, "active") == 0)
            return DIR_STATUS_ACTIVE;
        if (strcasecmp(v, "noaccess") == 0 || strcasecmp(v, "nopop") == 0)
            return DIR_STATUS_NOACCESS;
        if (strcasecmp(v, "disabled") == 0 || strcasecmp(v, "deleted") == 0)
            return DIR_STATUS_DISABLED;
        return DIR_STATUS_HELD;
    case DIR_STATUS_AD_UAC: {
        /* userAccountControl is a signed 32-bit INTEGER; 0x2 = ACCOUNTDISABLE.
         * Decided here because slapd has no bitwise matching rule
         * (1.2.840.113556.1.4.803 is AD's). */
        char *end;
        errno = 0;
        long long uac = strtoll(v, &end, 10);
        if (errno != 0 || end == v || *end != '\0')
            return DIR_STATUS_HELD;
        return (uac & 0x2) != 0 ? DIR_STATUS_DISABLED : DIR_STATUS_ACTIVE;
    }
    case DIR_STATUS_NONE:
        break;
    }
    return DIR_STATUS_ACTIVE;
}

/* add_address - normalise (lowercase; addresses are matched
 * case-insensitively by the schemas) and add. */
static int add_address(struct dir_strlist *out, const char *v)
{
    char *copy = strdup(v);
    if (copy == NULL)
        return -1;
    lower(copy);
    int rc = dir_strlist_add(out, copy);
    free(copy);
    return rc;
}

int dir_user_addresses(const struct dir_profile *p, const struct ldap_pool_entry *e,
                       struct dir_strlist *out, char **primary_r)
{
    const char *primary = NULL;
    const struct ldap_pool_attr *alias = ldap_pool_entry_attr(e, p->attr_alias);
    if (p->proxy_addresses && alias != NULL) {
        /* "SMTP:" (upper case) marks the primary address in AD. */
        for (size_t i = 0; i < alias->count; i++) {
            if (strncmp(alias->values[i], "SMTP:", 5) == 0) {
                primary = alias->values[i] + 5;
                break;
            }
        }
    }
    if (primary == NULL)
        primary = ldap_pool_entry_value(e, p->attr_mail);
    if (primary != NULL && add_address(out, primary) < 0)
        return -1;
    const struct ldap_pool_attr *mail = ldap_pool_entry_attr(e, p->attr_mail);
    for (size_t i = 0; mail != NULL && i < mail->count; i++) {
        if (add_address(out, mail->values[i]) < 0)
            return -1;
    }
    for (size_t i = 0; alias != NULL && i < alias->count; i++) {
        const char *v = alias->values[i];
        if (p->proxy_addresses) {
            if (strncasecmp(v, "smtp:", 5) != 0)
                continue; /* X500:, SIP:... are not mail addresses */
            v += 5;
        }
        if (v[0] == '@')
            continue; /* catch-all marker, not an address of the user */
        if (add_address(out, v) < 0)
            return -1;
    }
    if (primary_r != NULL) {
        *primary_r = NULL;
        if (out->count > 0 && (*primary_r = strdup(out->items[0])) == NULL)
            return -1;
    }
    return 0;
}

static int copy_values(const struct ldap_pool_entry *e, const char *attr, struct dir_strlist *l)
{
    const struct ldap_pool_attr *a = ldap_pool_entry_attr(e, attr);
    for (size_t i = 0; a != NULL && i < a->count; i++) {
        if (dir_strlist_add(l, a->values[i]) < 0)
            return -1;
    }
    return 0;
}

static int dup_value(const struct ldap_pool_entry *e, const char *attr, char **out)
{
    const char *v = ldap_pool_entry_value(e, attr);
    *out = NULL;
    if (v == NULL || v[0] == '\0')
        return 0;
    *out = strdup(v);
    return *out == NULL ? -1 : 0;
}

/* dup_script - a Sieve script: one longer than DIR_SIEVE_MAX is left out
 * (logged), so the answer stays within the auth protocol's response limit
 * and the user's mail goes to INBOX rather than waiting on a script. */
static int dup_script(const struct ldap_pool_entry *e, const char *attr, char **out)
{
    const char *v = ldap_pool_entry_value(e, attr);
    *out = NULL;
    if (v != NULL && strlen(v) > DIR_SIEVE_MAX) {
        char quoted[256];
        log_warning("event=sieve_attribute_too_long dn=%s limit=%d",
                    log_quote(quoted, sizeof quoted, e->dn), DIR_SIEVE_MAX);
        return 0;
    }
    return dup_value(e, attr, out);
}

struct dir_user *dir_user_from_entry(const struct dir_profile *p, const struct ldap_pool_entry *e,
                                     const char *own_host, const char *login)
{
    struct dir_user *u = calloc(1, sizeof *u);
    if (u == NULL)
        return NULL;
    const char *quota = ldap_pool_entry_value(e, p->attr_quota);
    const char *lv = ldap_pool_entry_value(e, p->attr_login);
    if ((u->dn = strdup(e->dn)) == NULL ||
        (u->login = strdup(lv != NULL      ? lv
                           : login != NULL ? login
                                           : "")) == NULL ||
        dir_user_addresses(p, e, &u->addresses, &u->primary) < 0 ||
        copy_values(e, p->attr_sender, &u->senders) < 0 ||
        copy_values(e, p->attr_service, &u->services) < 0 ||
        dup_value(e, p->attr_mailbox, &u->mailbox) < 0 ||
        dup_script(e, p->attr_sieve, &u->sieve) < 0 ||
        dup_value(e, p->attr_mailhost, &u->mail_host) < 0) {
        dir_user_free(&u);
        return NULL;
    }
    if (u->mail_host != NULL && own_host != NULL && strcasecmp(u->mail_host, own_host) == 0) {
        free(u->mail_host);
        u->mail_host = NULL;
    }
    if (quota != NULL)
        u->quota = strtoull(quota, NULL, 10);
    u->status = dir_user_status(p, e);
    return u;
}

bool dir_user_service_allowed(const struct dir_user *u, const char *service)
{
    if (service == NULL || u->services.count == 0)
        return true;
    /* The implicit-TLS variants are the same service to the directory. */
    static const char *const same[][2] = {
        {"submissions", "submission"}, {"pop3s", "pop3"}, {"imaps", "imap"}};
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
        if (strcasecmp(service, same[i][0]) == 0)
            service = same[i][1];
    }
    for (size_t i = 0; i < u->services.count; i++) {
        if (strcasecmp(u->services.items[i], service) == 0)
            return true;
    }
    return false;
}
