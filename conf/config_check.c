/* conf/config_check.c - the validators of single values: domain names,
 * LDAP URIs, SASL mechanism names, CIDR networks, attribute names, filter
 * templates, sub-address delimiters, next hops. Each records its error. */
#include "config.h"

#include "conf/config_internal.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

/* conf_domain_check - a domain name as RFC 1035 2.3.1 preferred syntax (letters,
 * digits, hyphens; labels of 1..63; 253 in all); stored lower-case because
 * domains compare case-insensitively (RFC 5321 2.4). */
int conf_domain_check(struct loader *ld, const config_setting_t *s, const char *v, char *canon,
                      size_t size)
{
    size_t len = strlen(v), label = 0;
    if (len == 0 || len > 253 || len >= size)
        return conf_fail(ld, s, "\"%s\" is not a domain name (1 to 253 characters)", v);
    for (size_t i = 0; i <= len; i++) {
        char c = v[i];
        if (c == '.' || c == '\0') {
            if (label == 0 || label > 63 || v[i - 1] == '-' || v[i - label] == '-')
                return conf_fail(ld, s, "\"%s\" is not a domain name (bad label)", v);
            label = 0;
        } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '-') {
            label++;
        } else {
            return conf_fail(ld, s, "\"%s\" is not a domain name (character '%c')", v, c);
        }
        canon[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    return 0;
}

/* conf_uri_check - libldap is linked only by the auth process (DESIGN.md), so
 * the scheme is checked here by hand; ldap_initialize() judges the rest. */
int conf_uri_check(struct loader *ld, const config_setting_t *s, const char *v, char *canon,
                   size_t size)
{
    static const char *const schemes[] = {"ldap://", "ldaps://", "ldapi://"};
    bool ok = false;
    for (size_t i = 0; i < COUNT(schemes) && !ok; i++)
        ok = strncasecmp(v, schemes[i], strlen(schemes[i])) == 0;
    if (!ok)
        return conf_fail(ld, s, "\"%s\" must start with ldap://, ldaps:// or ldapi://", v);
    for (const char *p = v; *p != '\0'; p++) {
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return conf_fail(ld, s, "\"%s\" contains a space or control character", v);
    }
    int n = snprintf(canon, size, "%s", v);
    if (n < 0 || (size_t)n >= size)
        return conf_fail(ld, s, "is too long");
    return 0;
}

/* conf_mechanism_check - a SASL mechanism name (RFC 4422 3.1: 1 to 20 upper-case
 * letters, digits, '-' or '_'); stored upper-case, as Cyrus lists them. */
int conf_mechanism_check(struct loader *ld, const config_setting_t *s, const char *v, char *canon,
                         size_t size)
{
    size_t len = strlen(v);
    if (len == 0 || len > 20 || len >= size)
        return conf_fail(ld, s, "\"%s\" is not a SASL mechanism name (1 to 20 characters)", v);
    for (size_t i = 0; i <= len; i++) {
        char c = v[i];
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        else if (c != '\0' &&
                 !((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
            return conf_fail(ld, s, "\"%s\" is not a SASL mechanism name (character '%c')", v,
                             v[i]);
        canon[i] = c;
    }
    return 0;
}

/* conf_cidr_check - "192.0.2.0/24", "2001:db8::/32", or a bare address (a single
 * host). Host bits set below the prefix are an error: "10.1.2.3/8" is almost
 * always a typo, and silently widening or narrowing a relay ACL is not ours
 * to decide. Stored canonical (inet_ntop, with the prefix). */
int conf_cidr_check(struct loader *ld, const config_setting_t *s, const char *v, char *canon,
                    size_t size)
{
    char addr[INET6_ADDRSTRLEN + 1];
    const char *slash = strchr(v, '/');
    size_t alen = slash != NULL ? (size_t)(slash - v) : strlen(v);
    if (alen == 0 || alen >= sizeof addr)
        return conf_fail(ld, s, "\"%s\" is not an address or CIDR network", v);
    memcpy(addr, v, alen);
    addr[alen] = '\0';
    unsigned char bytes[16];
    int family = strchr(addr, ':') != NULL ? AF_INET6 : AF_INET;
    unsigned maxbits = family == AF_INET6 ? 128 : 32;
    if (inet_pton(family, addr, bytes) != 1)
        return conf_fail(ld, s, "\"%s\" is not an IPv4 or IPv6 address", addr);
    unsigned prefix = maxbits;
    if (slash != NULL) {
        const char *p = slash + 1;
        if (*p < '0' || *p > '9' || strlen(p) > 3 || (p[0] == '0' && p[1] != '\0'))
            return conf_fail(ld, s, "\"%s\": prefix length must be a number from 0 to %u", v,
                             maxbits);
        prefix = (unsigned)strtoul(p, NULL, 10);
        for (const char *q = p; *q != '\0'; q++) {
            if (*q < '0' || *q > '9')
                return conf_fail(ld, s, "\"%s\": prefix length must be a number from 0 to %u", v,
                                 maxbits);
        }
        if (prefix > maxbits)
            return conf_fail(ld, s, "\"%s\": prefix length must be between 0 and %u", v, maxbits);
    }
    for (unsigned bit = prefix; bit < maxbits; bit++) {
        if (bytes[bit / 8] & (0x80u >> (bit % 8)))
            return conf_fail(ld, s, "\"%s\" has host bits set below the /%u prefix", v, prefix);
    }
    char text[INET6_ADDRSTRLEN];
    if (inet_ntop(family, bytes, text, sizeof text) == NULL)
        return conf_fail(ld, s, "\"%s\" is not an address", v);
    int n = snprintf(canon, size, "%s/%u", text, prefix);
    if (n < 0 || (size_t)n >= size)
        return conf_fail(ld, s, "is too long");
    return 0;
}

/* conf_descr_ok - an attribute or objectClass name: RFC 4512 1.4 descr (a letter,
 * then letters, digits, hyphens) or a numericoid (digits and dots). */
bool conf_descr_ok(const char *v, size_t len)
{
    if (len == 0 || len > 128)
        return false;
    bool oid = v[0] >= '0' && v[0] <= '9';
    if (!oid && !((v[0] >= 'a' && v[0] <= 'z') || (v[0] >= 'A' && v[0] <= 'Z')))
        return false;
    for (size_t i = 1; i < len; i++) {
        char c = v[i];
        bool digit = c >= '0' && c <= '9';
        bool ok = oid ? digit || (c == '.' && v[i - 1] != '.')
                      : digit || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
        if (!ok)
            return false;
    }
    return !oid || v[len - 1] != '.';
}

/* conf_template_check - a filter or catch-all template as auth/dir_filter.c
 * expands it: only the escapes in allowed ("sudl" = %s %u %d %l) and %%; a
 * filter (RFC 4515 3) is parenthesised with balanced parentheses, literal
 * ones written \28 and \29. Checked here so a typo stops the start, not
 * every lookup. "" is allowed: the profile has no such search. */
int conf_template_check(struct loader *ld, const config_setting_t *s, const char *allowed,
                        bool filter)
{
    const char *v = config_setting_get_string(s);
    if (filter && v[0] != '\0' && v[0] != '(')
        return conf_fail(ld, s, "\"%s\": a filter starts with '(' (RFC 4515)", v);
    int depth = 0;
    for (const char *p = v; *p != '\0'; p++) {
        if (*p == '%') {
            if (p[1] != '%' && (p[1] == '\0' || strchr(allowed, p[1]) == NULL))
                return conf_fail(ld, s, "\"%s\": unknown escape \"%%%.1s\" (known: %s%%%%)", v,
                                 p + 1, filter ? "%s %u %d %l " : "%d ");
            p++;
        } else if (filter && *p == '(') {
            depth++;
        } else if (filter && *p == ')') {
            /* The first '(' opened the filter, so depth 0 ends it. */
            if (--depth == 0 && p[1] != '\0')
                return conf_fail(ld, s,
                                 "\"%s\": unbalanced parentheses (text after the closing ')')", v);
        }
    }
    if (depth != 0)
        return conf_fail(ld, s, "\"%s\": unbalanced parentheses (%d left open)", v, depth);
    if (!filter && v[0] != '\0' && strchr(v, '@') == NULL)
        return conf_fail(ld, s, "\"%s\": a catch-all is an address form such as \"@%%d\"", v);
    return 0;
}

/* conf_delimiter_check - sub-address delimiters are atext specials (RFC 5322
 * 3.2.3) that cannot be part of a domain or start quoting: not letters,
 * digits, '.', '@', '"' or '\\'. */
int conf_delimiter_check(struct loader *ld, const config_setting_t *s)
{
    const char *v = config_setting_get_string(s);
    if (strlen(v) > 8)
        return conf_fail(ld, s, "\"%s\": at most 8 delimiter characters", v);
    for (const char *p = v; *p != '\0'; p++) {
        if (strchr("+-_=#~!$&'*/?^`{|}", *p) == NULL)
            return conf_fail(ld, s,
                             "\"%s\": '%c' cannot be a sub-address delimiter (use one of %s)", v,
                             *p, "+-_=#~!$&'*/?^`{|}");
        if (strchr(p + 1, *p) != NULL)
            return conf_fail(ld, s, "\"%s\": '%c' is listed twice", v, *p);
    }
    return 0;
}

/* next_hop_item - one host of a next hop (see conf_next_hop_check). */
static int next_hop_item(struct loader *ld, const config_setting_t *s, const char *v)
{
    const char *p = v;
    if (strncasecmp(p, "lmtp:unix:", 10) == 0) {
        if (p[10] != '/' || strlen(p + 10) >= 108)
            return conf_fail(ld, s, "\"%s\": an LMTP socket is an absolute path", v);
        return 0;
    }
    if (strncasecmp(p, "smtp:", 5) == 0 || strncasecmp(p, "lmtp:", 5) == 0)
        p += 5;
    char host[256], canon[256];
    const char *end;
    bool bracket = p[0] == '[';
    if (bracket) {
        end = strchr(p, ']');
        if (end == NULL)
            return conf_fail(ld, s, "\"%s\": '[' without ']'", v);
        p++;
    } else {
        end = p + strcspn(p, ":");
    }
    size_t len = (size_t)(end - p);
    if (len == 0 || len >= sizeof host)
        return conf_fail(ld, s, "\"%s\": no host (write \"[mx.example.com]:25\")", v);
    memcpy(host, p, len);
    host[len] = '\0';
    if (bracket)
        end++;
    unsigned char bytes[16];
    if (bracket && strncasecmp(host, "ipv6:", 5) == 0) {
        if (inet_pton(AF_INET6, host + 5, bytes) != 1)
            return conf_fail(ld, s, "\"%s\": \"%s\" is not an IPv6 address", v, host + 5);
    } else if (!(bracket && inet_pton(AF_INET, host, bytes) == 1) &&
               conf_domain_check(ld, s, host, canon, sizeof canon) < 0) {
        return -1;
    }
    if (*end == '\0')
        return 0;
    const char *port = end + 1;
    size_t plen = strlen(port);
    bool digits = *end == ':' && plen > 0 && plen <= 5;
    for (size_t i = 0; i < plen && digits; i++)
        digits = port[i] >= '0' && port[i] <= '9';
    unsigned long n = digits ? strtoul(port, NULL, 10) : 0;
    if (n < 1 || n > 65535)
        return conf_fail(ld, s, "\"%s\": port must be a number from 1 to 65535", v);
    return 0;
}

/* conf_next_hop_check - where a relay domain's mail goes, in Postfix's nexthop
 * form (and dirmailNextHop's): [transport:]host[:port], with "[host]" or
 * "[address]" meaning no MX lookup; IPv6 literals as "[ipv6:2001:db8::1]";
 * several, separated by commas, tried in turn (failover). */
int conf_next_hop_check(struct loader *ld, const config_setting_t *s)
{
    const char *v = config_setting_get_string(s);
    char item[512];
    bool first_lmtp = false;
    size_t items = 0;
    do {
        size_t len = strcspn(v, ",");
        while (len > 0 && v[0] == ' ') {
            v++;
            len--;
        }
        while (len > 0 && v[len - 1] == ' ')
            len--;
        if (len == 0 || len >= sizeof item)
            return conf_fail(ld, s, "\"%s\": an empty or too long host in the list",
                             config_setting_get_string(s));
        memcpy(item, v, len);
        item[len] = '\0';
        if (next_hop_item(ld, s, item) < 0)
            return -1;
        /* one next hop, one protocol: its connections are alike */
        bool lmtp = strncasecmp(item, "lmtp:", 5) == 0;
        if (items++ > 0 && lmtp != first_lmtp)
            return conf_fail(ld, s, "\"%s\": mixes LMTP and SMTP hosts",
                             config_setting_get_string(s));
        first_lmtp = lmtp;
        v += strcspn(v, ",");
    } while (*v++ == ',');
    return 0;
}
