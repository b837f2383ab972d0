/* auth/dir_filter.h - LDAP search filters built from templates (%s %u %d %l %%)
 * with every substituted value escaped per RFC 4515 by libldap, and RFC 4514
 * DN value escaping. Never sends anything to a server: pure string work. */
#ifndef DIRMAIL_AUTH_DIR_FILTER_H
#define DIRMAIL_AUTH_DIR_FILTER_H

#include <stddef.h>

/* Longest value accepted for substitution: an address is at most 256 octets
 * (RFC 5321 4.5.3.1.3), a login far less; longer input is an attack or junk. */
#define DIR_FILTER_VALUE_MAX 512
/* Longest filter we build (templates are configuration, values bounded above). */
#define DIR_FILTER_MAX 8192

/* The values a template may name; NULL values expand to the empty string. */
struct dir_filter_values {
    const char *address; /* %s */
    const char *local;   /* %u */
    const char *domain;  /* %d */
    const char *login;   /* %l */
};

/* dir_filter_escape - escape len bytes of value per RFC 4515 section 3 (NUL,
 * '*', '(', ')', '\\' become \XX) with ldap_bv2escaped_filter_value. Returns 0
 * and a malloc'd string in *out_r, or -1 (value longer than
 * DIR_FILTER_VALUE_MAX, or out of memory). */
int dir_filter_escape(const char *value, size_t len, char **out_r);

/* dir_filter_expand - expand template with values, each escaped. Unknown
 * %-sequences, over-long values and results over DIR_FILTER_MAX are errors.
 * Returns 0 and a malloc'd filter in *filter_r, or -1 with a static message
 * in *error_r. */
int dir_filter_expand(const char *template, const struct dir_filter_values *values, char **filter_r,
                      const char **error_r);

/* dir_dn_escape_value - escape an attribute value for use in a DN string per
 * RFC 4514 section 2.4 (through libldap's ldap_dn2str). Returns 0 and a
 * malloc'd string, or -1. */
int dir_dn_escape_value(const char *value, size_t len, char **out_r);

#endif
