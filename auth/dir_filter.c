/* auth/dir_filter.c - filter templates and RFC 4515 / RFC 4514 escaping. */
#include "config.h"

#include "auth/dir_filter.h"

#include <errno.h>
#include <ldap.h>
#include <stdlib.h>
#include <string.h>

/* dir_filter_escape - RFC 4515 escaping through libldap, so the rules are the
 * library's and not a hand-written table (cf. Postfix's rfc2254_quote). */
int dir_filter_escape(const char *value, size_t len, char **out_r)
{
    *out_r = NULL;
    if (value == NULL || len > DIR_FILTER_VALUE_MAX)
        return -1;
    struct berval in = {.bv_len = len, .bv_val = (char *)value};
    struct berval out = {0, NULL};
    if (ldap_bv2escaped_filter_value(&in, &out) != 0)
        return -1;
    /* libldap allocates with its own allocator: copy so callers use free(). */
    char *copy = malloc(out.bv_len + 1);
    if (copy == NULL) {
        ber_memfree(out.bv_val);
        return -1;
    }
    if (out.bv_len > 0)
        memcpy(copy, out.bv_val, out.bv_len);
    copy[out.bv_len] = '\0';
    ber_memfree(out.bv_val);
    *out_r = copy;
    return 0;
}

struct strbuf {
    char *data;
    size_t len, size;
};

/* append - add n bytes, bounded by DIR_FILTER_MAX. */
static int append(struct strbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > DIR_FILTER_MAX)
        return -1;
    if (b->len + n + 1 > b->size) {
        size_t size = b->size == 0 ? 256 : b->size;
        while (size < b->len + n + 1)
            size *= 2;
        char *p = realloc(b->data, size);
        if (p == NULL)
            return -1;
        b->data = p;
        b->size = size;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int dir_filter_expand(const char *template, const struct dir_filter_values *values, char **filter_r,
                      const char **error_r)
{
    struct strbuf b = {NULL, 0, 0};
    *filter_r = NULL;
    if (append(&b, "", 0) < 0)
        goto nomem;
    for (const char *p = template; *p != '\0'; p++) {
        if (*p != '%') {
            if (append(&b, p, 1) < 0)
                goto toolong;
            continue;
        }
        const char *value;
        switch (p[1]) {
        case 's':
            value = values->address;
            break;
        case 'u':
            value = values->local;
            break;
        case 'd':
            value = values->domain;
            break;
        case 'l':
            value = values->login;
            break;
        case '%':
            if (append(&b, "%", 1) < 0)
                goto toolong;
            p++;
            continue;
        default:
            free(b.data);
            *error_r = "unknown %-sequence in filter template (use %s %u %d %l %%)";
            return -1;
        }
        p++;
        if (value == NULL)
            value = "";
        size_t len = strlen(value);
        if (len > DIR_FILTER_VALUE_MAX) {
            free(b.data);
            *error_r = "value too long for a filter";
            return -1;
        }
        char *escaped;
        if (dir_filter_escape(value, len, &escaped) < 0)
            goto nomem;
        int rc = append(&b, escaped, strlen(escaped));
        free(escaped);
        if (rc < 0)
            goto toolong;
    }
    *filter_r = b.data;
    return 0;
toolong:
    free(b.data);
    *error_r = "filter too long";
    return -1;
nomem:
    free(b.data);
    *error_r = "out of memory";
    return -1;
}

/* dir_dn_escape_value - build the one-RDN DN "x=VALUE" as libldap structures
 * and let ldap_dn2str render it in RFC 4514 form, then drop the "x=". */
int dir_dn_escape_value(const char *value, size_t len, char **out_r)
{
    *out_r = NULL;
    if (value == NULL || len > DIR_FILTER_VALUE_MAX)
        return -1;
    LDAPAVA ava = {
        .la_attr = {.bv_len = 1, .bv_val = (char *)"x"},
        .la_value = {.bv_len = len, .bv_val = (char *)value},
        .la_flags = LDAP_AVA_STRING,
        .la_private = NULL,
    };
    LDAPAVA *rdn[2] = {&ava, NULL};
    LDAPRDN rdns[2] = {rdn, NULL};
    char *str = NULL;
    if (ldap_dn2str(rdns, &str, LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS || str == NULL)
        return -1;
    if (strncmp(str, "x=", 2) != 0) {
        ldap_memfree(str);
        return -1;
    }
    char *copy = strdup(str + 2);
    ldap_memfree(str);
    if (copy == NULL)
        return -1;
    *out_r = copy;
    return 0;
}
