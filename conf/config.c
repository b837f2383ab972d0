/* conf/config.c - load dirmail.conf with libconfig, check every setting
 * strictly (unknown names, types, ranges, enums, duplicates, cross-setting
 * rules) and build the immutable struct config; print it back. */
#include "config.h"

#include "conf/conf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libconfig.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/log.h"

/* What a string setting must look like. */
enum {
    STR_NONEMPTY = 1 << 0, /* "" is an error */
    STR_ABSPATH = 1 << 1,  /* files are opened after chdir/privilege drop: no relative paths */
};

/* The longest password file we accept: a password, not a document. */
#define PASSWORD_FILE_MAX 4096

struct loader {
    config_t cf;
    const char *path;
    const char *include_dir; /* the folder @include names are relative to, or NULL */
    char *error;             /* the first error, "FILE:LINE: setting PATH: text" */
};

static const char *const service_type_names[] = {
    [SERVICE_SMTP] = "smtp",
    [SERVICE_SUBMISSION] = "submission",
    [SERVICE_SUBMISSIONS] = "submissions",
    [SERVICE_LMTP] = "lmtp",
    [SERVICE_POP3] = "pop3",
    [SERVICE_POP3S] = "pop3s",
    [SERVICE_IMAP] = "imap",
    [SERVICE_IMAPS] = "imaps",
};

/* The port a service listens on when its listen setting is absent. LMTP has
 * no authentication (RFC 2033), so by default it is reachable from this host only. */
static const struct {
    const char *host;
    unsigned port;
} service_default_listen[] = {
    [SERVICE_SMTP] = {"*", 25},         [SERVICE_SUBMISSION] = {"*", 587},
    [SERVICE_SUBMISSIONS] = {"*", 465}, [SERVICE_LMTP] = {"127.0.0.1", 24},
    [SERVICE_POP3] = {"*", 110},        [SERVICE_POP3S] = {"*", 995},
    [SERVICE_IMAP] = {"*", 143},        [SERVICE_IMAPS] = {"*", 993},
};

static const char *const starttls_names[] = {
    [LDAP_STARTTLS_NO] = "no", [LDAP_STARTTLS_TRY] = "try", [LDAP_STARTTLS_REQUIRE] = "require"};
static const char *const log_target_names[] = {
    [LOG_TARGET_STDERR] = "stderr", [LOG_TARGET_SYSLOG] = "syslog"};
static const char *const log_level_names[] = {[LOG_LEVEL_ERROR] = "error",
                                              [LOG_LEVEL_WARNING] = "warning",
                                              [LOG_LEVEL_INFO] = "info",
                                              [LOG_LEVEL_DEBUG] = "debug"};
static const char *const profile_names[] = {"dirmail", "qmail-ldap", "inetlocalmailrecipient",
                                            "active-directory"};
static const char *const tls_protocol_names[] = {"TLSv1.2", "TLSv1.3"};
static const char *const delivery_sync_names[] = {[DELIVERY_SYNC_AUTO] = "auto",
                                                  [DELIVERY_SYNC_FSYNC] = "fsync",
                                                  [DELIVERY_SYNC_SYNCFS] = "syncfs"};
static const char *const message_nul_names[] = {[MESSAGE_NUL_REJECT] = "reject",
                                                [MESSAGE_NUL_STRIP] = "strip",
                                                [MESSAGE_NUL_ACCEPT] = "accept"};
static const char *const disabled_policy_names[] = {
    [LDAP_DISABLED_REJECT] = "reject", [LDAP_DISABLED_HOLD] = "hold"};

/* The profile override keys of auth/dir_profile.c ("attr.mail" is
 * ldap.attributes.mail); tests/unit/test_directory.c checks they agree. */
const char *const config_ldap_attribute_names[CONFIG_LDAP_ATTRIBUTE_COUNT] = {
    "mail",   "alias",         "login",       "mailhost", "mailbox", "quota",
    "status", "forward",       "keep_copy",   "sieve",    "service", "sender",
    "member", "unique_member", "domain_type", "next_hop"};
const char *const config_ldap_filter_names[CONFIG_LDAP_FILTER_COUNT] = {"recipient", "login",
                                                                        "group", "domain"};
const char *const config_ldap_status_styles[4] = {"none", "dirmail", "qmail", "ad"};
const char *const config_ldap_keep_styles[3] = {"never", "boolean", "qmail"};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* The settings each section knows; anything else is an error. */
static const char *const top_keys[] = {"server",  "ldap",   "tls",   "services",
                                       "domains", "relay",  "queue", "delivery",
                                       "cache",   "limits", "sasl",  NULL};
static const char *const server_keys[] = {"hostname",       "user", "group",     "pid_file",
                                          "state_dir",      "log",  "log_level", "workers",
                                          "shutdown_grace", NULL};
static const char *const ldap_keys[] = {"uris",
                                        "bind_dn",
                                        "bind_password",
                                        "bind_password_file",
                                        "base",
                                        "profile",
                                        "connect_timeout",
                                        "timeout",
                                        "pool_size",
                                        "starttls",
                                        "ca_file",
                                        "verify_cert",
                                        "subaddress_delimiter",
                                        "case_sensitive_local_part",
                                        "disabled_policy",
                                        "group_max_depth",
                                        "group_max_members",
                                        "auth_pool_size",
                                        "pool_wait",
                                        "failback_interval",
                                        "domain_cache_ttl",
                                        "attributes",
                                        "filters",
                                        "group_classes",
                                        "catchall",
                                        "status_style",
                                        "keep_style",
                                        "proxy_addresses",
                                        NULL};
static const char *const relay_domain_keys[] = {"domain", "next_hop", NULL};
static const char *const tls_keys[] = {"cert_file",    "key_file", "ca_file",
                                       "min_protocol", "ciphers",  NULL};
static const char *const service_keys[] = {"type",
                                           "name",
                                           "listen",
                                           "max_connections",
                                           "max_connections_per_ip",
                                           "idle_timeout",
                                           "session_timeout",
                                           "data_timeout",
                                           "data_min_rate",
                                           "data_rate_window",
                                           "overload_threshold",
                                           "overload_idle_timeout",
                                           "overload_data_timeout",
                                           "forbid_unauth_pipelining",
                                           NULL};
static const char *const domains_keys[] = {"local", "relay", "from_directory", NULL};
static const char *const relay_keys[] = {"trusted_networks", NULL};
static const char *const queue_keys[] = {
    "max_age", "retry_min", "retry_max", "scan_interval", "delivery_threads", "min_free", NULL};
static const char *const cache_keys[] = {"positive_ttl", "negative_ttl", "auth_ttl",
                                         "stale_ttl",    "size",         NULL};
static const char *const delivery_keys[] = {"mailbox_base", "sync_method", NULL};
static const char *const limits_keys[] = {"line_length",      "text_line_length",
                                          "message_size",     "recipients",
                                          "errors",           "max_connections",
                                          "pregreet_wait",    "pregreet_pass_ttl",
                                          "auth_failures",    "auth_failure_window",
                                          "message_nul",      "header_max_size",
                                          "header_max_count", NULL};
static const char *const sasl_keys[] = {
    "mechanisms",         "allow_authzid",        "plaintext_without_tls",
    "sender_login_check", "authenticated_header", NULL};

/* setting_path - "services.[1].listen.[0]": libconfig's own path syntax, so
 * config_lookup() finds the same setting; list indexes count from 0. */
static void setting_path(const config_setting_t *s, char *buf, size_t size)
{
    const config_setting_t *chain[16];
    size_t depth = 0;
    for (; s != NULL && !config_setting_is_root(s) && depth < COUNT(chain);
         s = config_setting_parent(s))
        chain[depth++] = s;
    size_t len = 0;
    buf[0] = '\0';
    while (depth > 0 && len < size) {
        const config_setting_t *part = chain[--depth];
        const char *name = config_setting_name(part);
        const char *dot = len > 0 ? "." : "";
        int n = name != NULL
                    ? snprintf(buf + len, size - len, "%s%s", dot, name)
                    : snprintf(buf + len, size - len, "%s[%d]", dot, config_setting_index(part));
        if (n < 0)
            break;
        len += (size_t)n;
    }
}

/* fail - record "FILE:LINE: setting PATH: text" (the first error wins) and return -1. */
__attribute__((format(printf, 3, 4))) static int fail(struct loader *ld, const config_setting_t *s,
                                                      const char *fmt, ...)
{
    if (ld->error != NULL)
        return -1;
    char text[512], where[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (n < 0)
        snprintf(text, sizeof text, "invalid value");
    setting_path(s, where, sizeof where);
    const char *file = config_setting_source_file(s);
    if (file == NULL)
        file = ld->path;
    /* libconfig keeps an @include name as written; show where it was read from. */
    bool prefix = file[0] != '/' && ld->include_dir != NULL && strcmp(file, ld->path) != 0;
    char *msg = NULL;
    if (asprintf(&msg, "%s%s%s:%u: setting %s: %s", prefix ? ld->include_dir : "",
                 prefix ? "/" : "", file, config_setting_source_line(s), where, text) < 0)
        msg = NULL;
    ld->error = msg != NULL ? msg : strdup("out of memory");
    return -1;
}

/* fail_plain - an error with no setting to point at (I/O, allocation). */
static int fail_plain(struct loader *ld, const char *text)
{
    if (ld->error != NULL)
        return -1;
    char *msg = NULL;
    if (asprintf(&msg, "%s: %s", ld->path, text) < 0)
        msg = NULL;
    ld->error = msg != NULL ? msg : strdup("out of memory");
    return -1;
}

static int nomem(struct loader *ld)
{
    return fail_plain(ld, "out of memory");
}

/* join_names - "a, b, c" for messages that list what is allowed. */
static void join_names(const char *const *names, size_t count, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < count && names[i] != NULL && len < size; i++) {
        int n = snprintf(buf + len, size - len, "%s%s", i > 0 ? ", " : "", names[i]);
        if (n < 0)
            break;
        len += (size_t)n;
    }
}

/* check_known - every member of group must be one of names (NULL-ended). */
static int check_known(struct loader *ld, const config_setting_t *group, const char *const *names,
                       const char *what)
{
    int count = config_setting_length(group);
    for (int i = 0; i < count; i++) {
        const config_setting_t *s = config_setting_get_elem(group, (unsigned)i);
        const char *name = config_setting_name(s);
        bool known = false;
        for (size_t k = 0; names[k] != NULL && !known; k++)
            known = name != NULL && strcmp(name, names[k]) == 0;
        if (!known) {
            char list[512];
            join_names(names, SIZE_MAX, list, sizeof list);
            return fail(ld, s, "unknown %s (known: %s)", what, list);
        }
    }
    return 0;
}

/* section - the group called name at the top level, or NULL when absent
 * (a present non-group is an error: *bad_r is set). */
static const config_setting_t *section(struct loader *ld, const char *name, const char *const *keys,
                                       int *bad_r)
{
    const config_setting_t *s = config_lookup(&ld->cf, name);
    if (s == NULL)
        return NULL;
    if (!config_setting_is_group(s)) {
        fail(ld, s, "must be a group: %s = { ... };", name);
        *bad_r = -1;
        return NULL;
    }
    if (check_known(ld, s, keys, "setting") < 0)
        *bad_r = -1;
    return s;
}

static const config_setting_t *member(const config_setting_t *group, const char *name)
{
    return group != NULL ? config_setting_get_member(group, name) : NULL;
}

static int replace_string(struct loader *ld, char **dst, const char *value)
{
    char *copy = strdup(value);
    if (copy == NULL)
        return nomem(ld);
    free(*dst);
    *dst = copy;
    return 0;
}

static int check_string(struct loader *ld, const config_setting_t *s, unsigned flags)
{
    if (config_setting_type(s) != CONFIG_TYPE_STRING)
        return fail(ld, s, "must be a string");
    const char *v = config_setting_get_string(s);
    if ((flags & (STR_NONEMPTY | STR_ABSPATH)) && v[0] == '\0')
        return fail(ld, s, "must not be empty");
    if ((flags & STR_ABSPATH) && v[0] != '/')
        return fail(ld, s, "must be an absolute path (\"%s\" is relative)", v);
    return 0;
}

/* get_string - *dst (a default or NULL) is replaced when name is set. */
static int get_string(struct loader *ld, const config_setting_t *group, const char *name,
                      char **dst, unsigned flags)
{
    const config_setting_t *s = member(group, name);
    if (s == NULL)
        return 0;
    if (check_string(ld, s, flags) < 0)
        return -1;
    return replace_string(ld, dst, config_setting_get_string(s));
}

static int get_integer(struct loader *ld, const config_setting_t *group, const char *name,
                       long long min, long long max, long long *value_r)
{
    const config_setting_t *s = member(group, name);
    if (s == NULL)
        return 0;
    int type = config_setting_type(s);
    if (type != CONFIG_TYPE_INT && type != CONFIG_TYPE_INT64)
        return fail(ld, s, "must be an integer");
    long long v = config_setting_get_int64(s);
    if (v < min || v > max)
        return fail(ld, s, "must be between %lld and %lld", min, max);
    *value_r = v;
    return 1;
}

static int get_uint(struct loader *ld, const config_setting_t *group, const char *name,
                    unsigned *dst, unsigned min, unsigned max)
{
    long long v = 0;
    int ret = get_integer(ld, group, name, min, max, &v);
    if (ret > 0)
        *dst = (unsigned)v;
    return ret < 0 ? -1 : 0;
}

static int get_bool(struct loader *ld, const config_setting_t *group, const char *name, bool *dst)
{
    const config_setting_t *s = member(group, name);
    if (s == NULL)
        return 0;
    if (config_setting_type(s) != CONFIG_TYPE_BOOL)
        return fail(ld, s, "must be true or false");
    *dst = config_setting_get_bool(s) != 0;
    return 0;
}

/* get_enum - name's value must be one of names[0..count); *dst gets its index. */
static int get_enum(struct loader *ld, const config_setting_t *group, const char *name,
                    const char *const *names, size_t count, unsigned *dst)
{
    const config_setting_t *s = member(group, name);
    if (s == NULL)
        return 0;
    if (config_setting_type(s) != CONFIG_TYPE_STRING)
        return fail(ld, s, "must be a string");
    const char *v = config_setting_get_string(s);
    for (size_t i = 0; i < count; i++) {
        if (strcmp(v, names[i]) == 0) {
            *dst = (unsigned)i;
            return 0;
        }
    }
    char list[256];
    join_names(names, count, list, sizeof list);
    return fail(ld, s, "\"%s\" is not one of: %s", v, list);
}

/* string_items - a setting that is one string or an array/list of strings:
 * returns how many, or -1 (error recorded). */
static int string_items(struct loader *ld, const config_setting_t *s)
{
    if (config_setting_type(s) == CONFIG_TYPE_STRING)
        return 1;
    if (!config_setting_is_array(s) && !config_setting_is_list(s))
        return fail(ld, s, "must be a string or a list of strings [ \"...\", ... ]");
    int n = config_setting_length(s);
    for (int i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        if (config_setting_type(e) != CONFIG_TYPE_STRING)
            return fail(ld, e, "must be a string");
    }
    return n;
}

static const config_setting_t *string_item(const config_setting_t *s, int i)
{
    return config_setting_type(s) == CONFIG_TYPE_STRING ? s
                                                        : config_setting_get_elem(s, (unsigned)i);
}

static void free_strings(char ***list, size_t *count)
{
    for (size_t i = 0; i < *count; i++)
        free((*list)[i]);
    free(*list);
    *list = NULL;
    *count = 0;
}

/* set_strings - replace *list with a copy of values (count of them). */
static int set_strings(struct loader *ld, char ***list, size_t *count, const char *const *values,
                       size_t n)
{
    char **copy = calloc(n > 0 ? n : 1, sizeof *copy);
    if (copy == NULL)
        return nomem(ld);
    for (size_t i = 0; i < n; i++) {
        copy[i] = strdup(values[i]);
        if (copy[i] == NULL) {
            free_strings(&copy, &i);
            return nomem(ld);
        }
    }
    free_strings(list, count);
    *list = copy;
    *count = n;
    return 0;
}

/* get_strings - name (string or list of strings) replaces *list; check, when
 * not NULL, validates each item and may rewrite it into a canonical form. */
typedef int check_item_fn(struct loader *ld, const config_setting_t *item, const char *value,
                          char *canon, size_t canon_size);

static int get_strings(struct loader *ld, const config_setting_t *group, const char *name,
                       char ***list, size_t *count, check_item_fn *check)
{
    const config_setting_t *s = member(group, name);
    if (s == NULL)
        return 0;
    int n = string_items(ld, s);
    if (n < 0)
        return -1;
    const char **values = calloc((size_t)n + 1, sizeof *values);
    char **owned = calloc((size_t)n + 1, sizeof *owned);
    int ret = 0;
    if (values == NULL || owned == NULL) {
        ret = nomem(ld);
        goto out;
    }
    for (int i = 0; i < n && ret == 0; i++) {
        const config_setting_t *item = string_item(s, i);
        const char *v = config_setting_get_string(item);
        values[i] = v;
        if (check != NULL) {
            char canon[512];
            if (check(ld, item, v, canon, sizeof canon) < 0) {
                ret = -1;
            } else if ((owned[i] = strdup(canon)) == NULL) {
                ret = nomem(ld);
            } else {
                values[i] = owned[i];
            }
        }
        for (int j = 0; j < i && ret == 0; j++) {
            if (strcmp(values[i], values[j]) == 0)
                ret = fail(ld, item, "\"%s\" is listed twice", v);
        }
    }
    if (ret == 0)
        ret = set_strings(ld, list, count, values, (size_t)n);
out:
    if (owned != NULL) {
        for (int i = 0; i < n; i++)
            free(owned[i]);
    }
    free(owned);
    free(values);
    return ret;
}

/* domain_check - a domain name as RFC 1035 2.3.1 preferred syntax (letters,
 * digits, hyphens; labels of 1..63; 253 in all); stored lower-case because
 * domains compare case-insensitively (RFC 5321 2.4). */
static int domain_check(struct loader *ld, const config_setting_t *s, const char *v, char *canon,
                        size_t size)
{
    size_t len = strlen(v), label = 0;
    if (len == 0 || len > 253 || len >= size)
        return fail(ld, s, "\"%s\" is not a domain name (1 to 253 characters)", v);
    for (size_t i = 0; i <= len; i++) {
        char c = v[i];
        if (c == '.' || c == '\0') {
            if (label == 0 || label > 63 || v[i - 1] == '-' || v[i - label] == '-')
                return fail(ld, s, "\"%s\" is not a domain name (bad label)", v);
            label = 0;
        } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '-') {
            label++;
        } else {
            return fail(ld, s, "\"%s\" is not a domain name (character '%c')", v, c);
        }
        canon[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    return 0;
}

/* uri_check - libldap is linked only by the auth process (DESIGN.md), so
 * the scheme is checked here by hand; ldap_initialize() judges the rest. */
static int uri_check(struct loader *ld, const config_setting_t *s, const char *v, char *canon,
                     size_t size)
{
    static const char *const schemes[] = {"ldap://", "ldaps://", "ldapi://"};
    bool ok = false;
    for (size_t i = 0; i < COUNT(schemes) && !ok; i++)
        ok = strncasecmp(v, schemes[i], strlen(schemes[i])) == 0;
    if (!ok)
        return fail(ld, s, "\"%s\" must start with ldap://, ldaps:// or ldapi://", v);
    for (const char *p = v; *p != '\0'; p++) {
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return fail(ld, s, "\"%s\" contains a space or control character", v);
    }
    int n = snprintf(canon, size, "%s", v);
    if (n < 0 || (size_t)n >= size)
        return fail(ld, s, "is too long");
    return 0;
}

/* mechanism_check - a SASL mechanism name (RFC 4422 3.1: 1 to 20 upper-case
 * letters, digits, '-' or '_'); stored upper-case, as Cyrus lists them. */
static int mechanism_check(struct loader *ld, const config_setting_t *s, const char *v, char *canon,
                           size_t size)
{
    size_t len = strlen(v);
    if (len == 0 || len > 20 || len >= size)
        return fail(ld, s, "\"%s\" is not a SASL mechanism name (1 to 20 characters)", v);
    for (size_t i = 0; i <= len; i++) {
        char c = v[i];
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        else if (c != '\0' &&
                 !((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
            return fail(ld, s, "\"%s\" is not a SASL mechanism name (character '%c')", v, v[i]);
        canon[i] = c;
    }
    return 0;
}

/* cidr_check - "192.0.2.0/24", "2001:db8::/32", or a bare address (a single
 * host). Host bits set below the prefix are an error: "10.1.2.3/8" is almost
 * always a typo, and silently widening or narrowing a relay ACL is not ours
 * to decide. Stored canonical (inet_ntop, with the prefix). */
static int cidr_check(struct loader *ld, const config_setting_t *s, const char *v, char *canon,
                      size_t size)
{
    char addr[INET6_ADDRSTRLEN + 1];
    const char *slash = strchr(v, '/');
    size_t alen = slash != NULL ? (size_t)(slash - v) : strlen(v);
    if (alen == 0 || alen >= sizeof addr)
        return fail(ld, s, "\"%s\" is not an address or CIDR network", v);
    memcpy(addr, v, alen);
    addr[alen] = '\0';
    unsigned char bytes[16];
    int family = strchr(addr, ':') != NULL ? AF_INET6 : AF_INET;
    unsigned maxbits = family == AF_INET6 ? 128 : 32;
    if (inet_pton(family, addr, bytes) != 1)
        return fail(ld, s, "\"%s\" is not an IPv4 or IPv6 address", addr);
    unsigned prefix = maxbits;
    if (slash != NULL) {
        const char *p = slash + 1;
        if (*p < '0' || *p > '9' || strlen(p) > 3 || (p[0] == '0' && p[1] != '\0'))
            return fail(ld, s, "\"%s\": prefix length must be a number from 0 to %u", v, maxbits);
        prefix = (unsigned)strtoul(p, NULL, 10);
        for (const char *q = p; *q != '\0'; q++) {
            if (*q < '0' || *q > '9')
                return fail(ld, s, "\"%s\": prefix length must be a number from 0 to %u", v,
                            maxbits);
        }
        if (prefix > maxbits)
            return fail(ld, s, "\"%s\": prefix length must be between 0 and %u", v, maxbits);
    }
    for (unsigned bit = prefix; bit < maxbits; bit++) {
        if (bytes[bit / 8] & (0x80u >> (bit % 8)))
            return fail(ld, s, "\"%s\" has host bits set below the /%u prefix", v, prefix);
    }
    char text[INET6_ADDRSTRLEN];
    if (inet_ntop(family, bytes, text, sizeof text) == NULL)
        return fail(ld, s, "\"%s\" is not an address", v);
    int n = snprintf(canon, size, "%s/%u", text, prefix);
    if (n < 0 || (size_t)n >= size)
        return fail(ld, s, "is too long");
    return 0;
}

/* descr_ok - an attribute or objectClass name: RFC 4512 1.4 descr (a letter,
 * then letters, digits, hyphens) or a numericoid (digits and dots). */
static bool descr_ok(const char *v, size_t len)
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

/* template_check - a filter or catch-all template as auth/dir_filter.c
 * expands it: only the escapes in allowed ("sudl" = %s %u %d %l) and %%; a
 * filter (RFC 4515 3) is parenthesised with balanced parentheses, literal
 * ones written \28 and \29. Checked here so a typo stops the start, not
 * every lookup. "" is allowed: the profile has no such search. */
static int template_check(struct loader *ld, const config_setting_t *s, const char *allowed,
                          bool filter)
{
    const char *v = config_setting_get_string(s);
    if (filter && v[0] != '\0' && v[0] != '(')
        return fail(ld, s, "\"%s\": a filter starts with '(' (RFC 4515)", v);
    int depth = 0;
    for (const char *p = v; *p != '\0'; p++) {
        if (*p == '%') {
            if (p[1] != '%' && (p[1] == '\0' || strchr(allowed, p[1]) == NULL))
                return fail(ld, s, "\"%s\": unknown escape \"%%%.1s\" (known: %s%%%%)", v, p + 1,
                            filter ? "%s %u %d %l " : "%d ");
            p++;
        } else if (filter && *p == '(') {
            depth++;
        } else if (filter && *p == ')') {
            /* The first '(' opened the filter, so depth 0 ends it. */
            if (--depth == 0 && p[1] != '\0')
                return fail(ld, s, "\"%s\": unbalanced parentheses (text after the closing ')')",
                            v);
        }
    }
    if (depth != 0)
        return fail(ld, s, "\"%s\": unbalanced parentheses (%d left open)", v, depth);
    if (!filter && v[0] != '\0' && strchr(v, '@') == NULL)
        return fail(ld, s, "\"%s\": a catch-all is an address form such as \"@%%d\"", v);
    return 0;
}

/* delimiter_check - sub-address delimiters are atext specials (RFC 5322
 * 3.2.3) that cannot be part of a domain or start quoting: not letters,
 * digits, '.', '@', '"' or '\\'. */
static int delimiter_check(struct loader *ld, const config_setting_t *s)
{
    const char *v = config_setting_get_string(s);
    if (strlen(v) > 8)
        return fail(ld, s, "\"%s\": at most 8 delimiter characters", v);
    for (const char *p = v; *p != '\0'; p++) {
        if (strchr("+-_=#~!$&'*/?^`{|}", *p) == NULL)
            return fail(ld, s, "\"%s\": '%c' cannot be a sub-address delimiter (use one of %s)", v,
                        *p, "+-_=#~!$&'*/?^`{|}");
        if (strchr(p + 1, *p) != NULL)
            return fail(ld, s, "\"%s\": '%c' is listed twice", v, *p);
    }
    return 0;
}

/* next_hop_check - where a relay domain's mail goes, in Postfix's nexthop
 * form (and dirmailNextHop's): [transport:]host[:port], with "[host]" or
 * "[address]" meaning no MX lookup; IPv6 literals as "[ipv6:2001:db8::1]". */
static int next_hop_check(struct loader *ld, const config_setting_t *s)
{
    const char *v = config_setting_get_string(s);
    const char *p = v;
    if (strncasecmp(p, "smtp:", 5) == 0 || strncasecmp(p, "lmtp:", 5) == 0)
        p += 5;
    char host[256], canon[256];
    const char *end;
    bool bracket = p[0] == '[';
    if (bracket) {
        end = strchr(p, ']');
        if (end == NULL)
            return fail(ld, s, "\"%s\": '[' without ']'", v);
        p++;
    } else {
        end = p + strcspn(p, ":");
    }
    size_t len = (size_t)(end - p);
    if (len == 0 || len >= sizeof host)
        return fail(ld, s, "\"%s\": no host (write \"[mx.example.com]:25\")", v);
    memcpy(host, p, len);
    host[len] = '\0';
    if (bracket)
        end++;
    unsigned char bytes[16];
    if (bracket && strncasecmp(host, "ipv6:", 5) == 0) {
        if (inet_pton(AF_INET6, host + 5, bytes) != 1)
            return fail(ld, s, "\"%s\": \"%s\" is not an IPv6 address", v, host + 5);
    } else if (!(bracket && inet_pton(AF_INET, host, bytes) == 1) &&
               domain_check(ld, s, host, canon, sizeof canon) < 0) {
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
        return fail(ld, s, "\"%s\": port must be a number from 1 to 65535", v);
    return 0;
}

/* parse_listen - "127.0.0.1:2525", "[::1]:587", "*:25" into host and port;
 * the host is stored in inet_ntop's canonical form (no brackets) so that
 * duplicates are found whatever the spelling. */
static int parse_listen(struct loader *ld, const config_setting_t *s, const char *v,
                        struct config_listen *out)
{
    const char *colon = strrchr(v, ':');
    if (colon == NULL)
        return fail(ld, s, "\"%s\" must be ADDRESS:PORT (\"*:25\", \"[::1]:25\")", v);
    char host[INET6_ADDRSTRLEN + 3];
    size_t hlen = (size_t)(colon - v);
    const char *h = v;
    bool bracketed = hlen >= 2 && v[0] == '[' && v[hlen - 1] == ']';
    if (bracketed) {
        h = v + 1;
        hlen -= 2;
    }
    if (hlen == 0 || hlen >= sizeof host)
        return fail(ld, s, "\"%s\" has no valid address before the port", v);
    memcpy(host, h, hlen);
    host[hlen] = '\0';

    const char *p = colon + 1;
    unsigned long port = 0;
    size_t plen = strlen(p);
    bool digits = plen > 0 && plen <= 5;
    for (size_t i = 0; i < plen && digits; i++)
        digits = p[i] >= '0' && p[i] <= '9';
    if (digits)
        port = strtoul(p, NULL, 10);
    if (!digits || port < 1 || port > 65535)
        return fail(ld, s, "\"%s\": port must be a number from 1 to 65535", v);

    unsigned char bytes[16];
    char canon[INET6_ADDRSTRLEN];
    if (strcmp(host, "*") == 0 && !bracketed) {
        snprintf(canon, sizeof canon, "*");
    } else if (bracketed) {
        if (inet_pton(AF_INET6, host, bytes) != 1 ||
            inet_ntop(AF_INET6, bytes, canon, sizeof canon) == NULL)
            return fail(ld, s, "\"%s\": \"%s\" is not an IPv6 address", v, host);
    } else if (strchr(host, ':') != NULL) {
        return fail(ld, s, "\"%s\": write an IPv6 address in brackets, \"[%s]:%lu\"", v, host,
                    port);
    } else if (inet_pton(AF_INET, host, bytes) != 1 ||
               inet_ntop(AF_INET, bytes, canon, sizeof canon) == NULL) {
        return fail(ld, s, "\"%s\": \"%s\" is not an IPv4 address (host names are not allowed)", v,
                    host);
    }
    out->host = strdup(canon);
    if (out->host == NULL)
        return nomem(ld);
    out->port = (unsigned)port;
    return 0;
}

/* listen_conflict - two listen addresses that cannot both be bound: the same
 * address and port, or "*" and anything on the same port (the wildcard
 * already takes every address). */
static bool listen_conflict(const struct config_listen *a, const struct config_listen *b)
{
    if (a->port != b->port)
        return false;
    return strcmp(a->host, b->host) == 0 || strcmp(a->host, "*") == 0 || strcmp(b->host, "*") == 0;
}

/* name_check - service names appear in log lines and process titles. */
static bool name_ok(const char *v)
{
    size_t len = strlen(v);
    if (len == 0 || len > 64)
        return false;
    for (; *v != '\0'; v++) {
        char c = *v;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.'))
            return false;
    }
    return true;
}

static void service_clear(struct config_service *svc)
{
    free(svc->name);
    svc->name = NULL;
    for (size_t i = 0; i < svc->listen_count; i++)
        free(svc->listen[i].host);
    free(svc->listen);
    svc->listen = NULL;
    svc->listen_count = 0;
}

static void service_defaults(struct config_service *svc)
{
    svc->max_connections = 1000;
    svc->max_connections_per_ip = 50;
    svc->idle_timeout = 300;
    svc->session_timeout = 3600;
    svc->data_timeout = 300;
    svc->data_min_rate = 1024;
    svc->data_rate_window = 30;
    svc->overload_threshold = 80;
    svc->overload_idle_timeout = 10;
    svc->overload_data_timeout = 60;
    svc->forbid_unauth_pipelining = true;
}

/* service_default_listen_set - listen on the type's standard port. */
static int service_listen_default(struct loader *ld, struct config_service *svc)
{
    svc->listen = calloc(1, sizeof *svc->listen);
    if (svc->listen == NULL)
        return nomem(ld);
    svc->listen[0].host = strdup(service_default_listen[svc->type].host);
    if (svc->listen[0].host == NULL)
        return nomem(ld);
    svc->listen[0].port = service_default_listen[svc->type].port;
    svc->listen_count = 1;
    return 0;
}

/* load_service - one group of the services list. */
static int load_service(struct loader *ld, const config_setting_t *g, struct config_service *svc)
{
    if (!config_setting_is_group(g))
        return fail(ld, g, "must be a group { type = \"smtp\"; ... }");
    if (check_known(ld, g, service_keys, "setting") < 0)
        return -1;
    const config_setting_t *t = member(g, "type");
    if (t == NULL)
        return fail(ld, g, "type is missing (one of: smtp, submission, ...)");
    unsigned type = 0;
    if (get_enum(ld, g, "type", service_type_names, COUNT(service_type_names), &type) < 0)
        return -1;
    svc->type = (enum service_type)type;
    service_defaults(svc);
    const config_setting_t *n = member(g, "name");
    if (n != NULL) {
        if (check_string(ld, n, STR_NONEMPTY) < 0)
            return -1;
        if (!name_ok(config_setting_get_string(n)))
            return fail(ld, n, "must be 1 to 64 letters, digits, '-', '_' or '.'");
    }
    if (replace_string(ld, &svc->name,
                       n != NULL ? config_setting_get_string(n) : service_type_names[type]) < 0)
        return -1;
    if (get_uint(ld, g, "max_connections", &svc->max_connections, 1, 100000) < 0 ||
        get_uint(ld, g, "max_connections_per_ip", &svc->max_connections_per_ip, 1, 100000) < 0 ||
        get_uint(ld, g, "idle_timeout", &svc->idle_timeout, 1, 86400) < 0 ||
        get_uint(ld, g, "session_timeout", &svc->session_timeout, 1, 604800) < 0 ||
        get_uint(ld, g, "data_timeout", &svc->data_timeout, 1, 86400) < 0 ||
        get_uint(ld, g, "data_min_rate", &svc->data_min_rate, 0, 1u << 30) < 0 ||
        get_uint(ld, g, "data_rate_window", &svc->data_rate_window, 1, 3600) < 0 ||
        get_uint(ld, g, "overload_threshold", &svc->overload_threshold, 0, 100) < 0 ||
        get_uint(ld, g, "overload_idle_timeout", &svc->overload_idle_timeout, 1, 86400) < 0 ||
        get_uint(ld, g, "overload_data_timeout", &svc->overload_data_timeout, 1, 86400) < 0 ||
        get_bool(ld, g, "forbid_unauth_pipelining", &svc->forbid_unauth_pipelining) < 0)
        return -1;

    const config_setting_t *l = member(g, "listen");
    if (l == NULL)
        return service_listen_default(ld, svc);
    int count = string_items(ld, l);
    if (count < 0)
        return -1;
    if (count == 0)
        return fail(ld, l, "must name at least one address");
    svc->listen = calloc((size_t)count, sizeof *svc->listen);
    if (svc->listen == NULL)
        return nomem(ld);
    for (int i = 0; i < count; i++) {
        const config_setting_t *item = string_item(l, i);
        if (parse_listen(ld, item, config_setting_get_string(item), &svc->listen[i]) < 0)
            return -1;
        svc->listen_count++;
    }
    return 0;
}

/* check_services - names unique, listen addresses unique over all services,
 * and a TLS service needs a certificate. */
static int check_services(struct loader *ld, struct config *conf, const config_setting_t *list)
{
    for (size_t i = 0; i < conf->service_count; i++) {
        struct config_service *a = &conf->services[i];
        const config_setting_t *g =
            list != NULL ? config_setting_get_elem(list, (unsigned)i) : NULL;
        if (g == NULL)
            continue; /* the built-in default service */
        if (config_service_implicit_tls(a->type) &&
            (conf->tls.cert_file == NULL || conf->tls.key_file == NULL))
            return fail(ld, member(g, "type"), "a %s service needs tls.cert_file and tls.key_file",
                        service_type_names[a->type]);
        for (size_t j = 0; j < i; j++) {
            const struct config_service *b = &conf->services[j];
            if (strcmp(a->name, b->name) == 0) {
                const config_setting_t *at = member(g, "name");
                return fail(ld, at != NULL ? at : member(g, "type"),
                            "service name \"%s\" is already used by services.[%zu]%s", a->name, j,
                            at != NULL ? "" : " (set a distinct name)");
            }
        }
        for (size_t k = 0; k < a->listen_count; k++) {
            const config_setting_t *ls = member(g, "listen");
            const config_setting_t *item = ls != NULL ? string_item(ls, (int)k) : g;
            for (size_t j = 0; j <= i; j++) {
                const struct config_service *b = &conf->services[j];
                size_t upto = j == i ? k : b->listen_count;
                for (size_t m = 0; m < upto; m++) {
                    if (listen_conflict(&a->listen[k], &b->listen[m]))
                        return fail(
                            ld, item, "\"%s\" port %u overlaps \"%s\" port %u of service \"%s\"",
                            config_setting_get_string(item) != NULL
                                ? config_setting_get_string(item)
                                : a->listen[k].host,
                            a->listen[k].port, b->listen[m].host, b->listen[m].port, b->name);
                }
            }
        }
    }
    return 0;
}

static int load_services(struct loader *ld, struct config *conf)
{
    const config_setting_t *list = config_lookup(&ld->cf, "services");
    if (list == NULL) {
        /* Like Postfix's stock master.cf: an MX on port 25 and nothing else. */
        conf->services = calloc(1, sizeof *conf->services);
        if (conf->services == NULL)
            return nomem(ld);
        conf->service_count = 1;
        conf->services[0].type = SERVICE_SMTP;
        service_defaults(&conf->services[0]);
        if (replace_string(ld, &conf->services[0].name, "smtp") < 0)
            return -1;
        return service_listen_default(ld, &conf->services[0]);
    }
    if (!config_setting_is_list(list))
        return fail(ld, list, "must be a list of groups: services = ( { type = \"smtp\"; } );");
    int n = config_setting_length(list);
    if (n == 0)
        return fail(ld, list, "must list at least one service");
    conf->services = calloc((size_t)n, sizeof *conf->services);
    if (conf->services == NULL)
        return nomem(ld);
    for (int i = 0; i < n; i++) {
        conf->service_count++;
        if (load_service(ld, config_setting_get_elem(list, (unsigned)i), &conf->services[i]) < 0)
            return -1;
    }
    return check_services(ld, conf, list);
}

/* read_password_file - the whole file, less one trailing newline (what
 * `echo secret > file` leaves). It is read here, by root in the master,
 * before privileges are dropped. */
static int read_password_file(struct loader *ld, const config_setting_t *s, const char *path,
                              char **password_r)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return fail(ld, s, "cannot open \"%s\": %s", path, strerror(errno));
    struct stat st;
    int ret = 0;
    char *buf = NULL;
    if (fstat(fd, &st) < 0) {
        ret = fail(ld, s, "cannot stat \"%s\": %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        ret = fail(ld, s, "\"%s\" is not a regular file", path);
        goto out;
    }
    /* Warn, don't refuse: the master reads the file as root, so its mode is
     * the administrator's choice; mode 0640 root:dirmail (group read) is
     * a sound setup and is not warned about. Anything more open leaks the
     * directory credential to every local user, which deserves a loud line
     * in the log but is not a reason to keep mail down. */
    if (st.st_mode & (S_IWGRP | S_IXGRP | S_IRWXO)) {
        char q[256];
        log_warning("event=config_warning setting=ldap.bind_password_file file=%s mode=%04o "
                    "reason=\"accessible to group or others; chmod 0600 or 0640\"",
                    log_quote(q, sizeof q, path), (unsigned)(st.st_mode & 07777));
    }
    if (st.st_size > PASSWORD_FILE_MAX) {
        ret = fail(ld, s, "\"%s\" is larger than %d bytes", path, PASSWORD_FILE_MAX);
        goto out;
    }
    buf = malloc(PASSWORD_FILE_MAX + 2);
    if (buf == NULL) {
        ret = nomem(ld);
        goto out;
    }
    size_t len = 0;
    for (;;) {
        ssize_t r = read(fd, buf + len, PASSWORD_FILE_MAX + 1 - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            ret = fail(ld, s, "cannot read \"%s\": %s", path, strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        len += (size_t)r;
        if (len > PASSWORD_FILE_MAX) {
            ret = fail(ld, s, "\"%s\" is larger than %d bytes", path, PASSWORD_FILE_MAX);
            goto out;
        }
    }
    if (len > 0 && buf[len - 1] == '\n')
        len--;
    buf[len] = '\0';
    if (memchr(buf, '\0', len) != NULL) {
        ret = fail(ld, s, "\"%s\" contains a NUL byte", path);
        goto out;
    }
    if (len == 0) {
        ret = fail(ld, s,
                   "\"%s\" is empty (an empty password is an unauthenticated bind, "
                   "RFC 4513 5.1.2)",
                   path);
        goto out;
    }
    *password_r = buf;
    buf = NULL;
out:
    if (buf != NULL) {
        explicit_bzero(buf, PASSWORD_FILE_MAX + 2);
        free(buf);
    }
    close(fd);
    return ret;
}

static int load_server(struct loader *ld, struct config *conf)
{
    int bad = 0;
    const config_setting_t *g = section(ld, "server", server_keys, &bad);
    if (bad < 0)
        return -1;
    struct config_server *sv = &conf->server;
    const config_setting_t *h = member(g, "hostname");
    if (h != NULL) {
        char canon[256];
        if (check_string(ld, h, STR_NONEMPTY) < 0 ||
            domain_check(ld, h, config_setting_get_string(h), canon, sizeof canon) < 0 ||
            replace_string(ld, &sv->hostname, canon) < 0)
            return -1;
    }
    unsigned target = sv->log_target, level = sv->log_level;
    if (get_string(ld, g, "user", &sv->user, STR_NONEMPTY) < 0 ||
        get_string(ld, g, "group", &sv->group, STR_NONEMPTY) < 0 ||
        get_string(ld, g, "pid_file", &sv->pid_file, STR_ABSPATH) < 0 ||
        get_string(ld, g, "state_dir", &sv->state_dir, STR_ABSPATH) < 0 ||
        get_enum(ld, g, "log", log_target_names, COUNT(log_target_names), &target) < 0 ||
        get_enum(ld, g, "log_level", log_level_names, COUNT(log_level_names), &level) < 0 ||
        get_uint(ld, g, "workers", &sv->workers, 0, 256) < 0 ||
        get_uint(ld, g, "shutdown_grace", &sv->shutdown_grace, 0, 3600) < 0)
        return -1;
    sv->log_target = (enum log_target)target;
    sv->log_level = (enum log_level)level;
    return 0;
}

/* load_names - a group of string overrides (ldap.attributes, ldap.filters)
 * whose keys are exactly names[0..count); check validates each value. */
static int load_names(struct loader *ld, const config_setting_t *ldap, const char *group,
                      const char *const *names, size_t count, char **values,
                      int (*check)(struct loader *, const config_setting_t *))
{
    const config_setting_t *g = member(ldap, group);
    if (g == NULL)
        return 0;
    if (!config_setting_is_group(g))
        return fail(ld, g, "must be a group: %s = { %s = \"...\"; };", group, names[0]);
    const char *known[CONFIG_LDAP_ATTRIBUTE_COUNT + CONFIG_LDAP_FILTER_COUNT + 1];
    for (size_t i = 0; i < count && i + 1 < COUNT(known); i++)
        known[i] = names[i];
    known[count < COUNT(known) ? count : COUNT(known) - 1] = NULL;
    if (check_known(ld, g, known, "name") < 0)
        return -1;
    for (size_t i = 0; i < count; i++) {
        const config_setting_t *s = member(g, names[i]);
        if (s == NULL)
            continue;
        if (check_string(ld, s, 0) < 0 || check(ld, s) < 0 ||
            replace_string(ld, &values[i], config_setting_get_string(s)) < 0)
            return -1;
    }
    return 0;
}

/* attribute_check - "" (the profile has no such attribute) or one name. */
static int attribute_check(struct loader *ld, const config_setting_t *s)
{
    const char *v = config_setting_get_string(s);
    if (v[0] != '\0' && !descr_ok(v, strlen(v)))
        return fail(ld, s, "\"%s\" is not an attribute name (RFC 4512 descr or OID)", v);
    return 0;
}

static int filter_check(struct loader *ld, const config_setting_t *s)
{
    return template_check(ld, s, "sudl", true);
}

/* load_profile_overrides - ldap.attributes, ldap.filters and the other
 * settings that replace one part of the profile; unset parts stay the
 * profile's (auth/dir_profile.c knows them, conf does not). */
static int load_profile_overrides(struct loader *ld, const config_setting_t *g,
                                  struct config_ldap *l)
{
    if (load_names(ld, g, "attributes", config_ldap_attribute_names, CONFIG_LDAP_ATTRIBUTE_COUNT,
                   l->attributes, attribute_check) < 0 ||
        load_names(ld, g, "filters", config_ldap_filter_names, CONFIG_LDAP_FILTER_COUNT, l->filters,
                   filter_check) < 0)
        return -1;
    const config_setting_t *s = member(g, "group_classes");
    if (s != NULL) {
        if (check_string(ld, s, 0) < 0)
            return -1;
        const char *v = config_setting_get_string(s);
        for (const char *p = v; *p != '\0';) {
            size_t len = strcspn(p, " ");
            if (len > 0 && !descr_ok(p, len))
                return fail(ld, s, "\"%.*s\" is not an objectClass name", (int)len, p);
            p += len + (p[len] == ' ');
        }
        if (replace_string(ld, &l->group_classes, v) < 0)
            return -1;
    }
    s = member(g, "catchall");
    if (s != NULL && (check_string(ld, s, 0) < 0 || template_check(ld, s, "d", false) < 0 ||
                      replace_string(ld, &l->catchall, config_setting_get_string(s)) < 0))
        return -1;
    unsigned status = 0, keep = 0;
    bool proxy = false;
    if (get_enum(ld, g, "status_style", config_ldap_status_styles, COUNT(config_ldap_status_styles),
                 &status) < 0 ||
        get_enum(ld, g, "keep_style", config_ldap_keep_styles, COUNT(config_ldap_keep_styles),
                 &keep) < 0 ||
        get_bool(ld, g, "proxy_addresses", &proxy) < 0)
        return -1;
    if (member(g, "status_style") != NULL &&
        replace_string(ld, &l->status_style, config_ldap_status_styles[status]) < 0)
        return -1;
    if (member(g, "keep_style") != NULL &&
        replace_string(ld, &l->keep_style, config_ldap_keep_styles[keep]) < 0)
        return -1;
    if (member(g, "proxy_addresses") != NULL)
        l->proxy_addresses = proxy ? 1 : 0;
    return 0;
}

static int load_ldap(struct loader *ld, struct config *conf)
{
    int bad = 0;
    const config_setting_t *g = section(ld, "ldap", ldap_keys, &bad);
    if (bad < 0)
        return -1;
    struct config_ldap *l = &conf->ldap;
    unsigned profile = 0, starttls = l->starttls;
    const config_setting_t *uris = member(g, "uris");
    if (uris != NULL && string_items(ld, uris) == 0)
        return fail(ld, uris, "must name at least one LDAP server");
    if (get_strings(ld, g, "uris", &l->uris, &l->uri_count, uri_check) < 0 ||
        get_string(ld, g, "bind_dn", &l->bind_dn, STR_NONEMPTY) < 0 ||
        get_string(ld, g, "base", &l->base, 0) < 0 ||
        get_enum(ld, g, "profile", profile_names, COUNT(profile_names), &profile) < 0 ||
        get_uint(ld, g, "connect_timeout", &l->connect_timeout, 1, 300) < 0 ||
        get_uint(ld, g, "timeout", &l->timeout, 1, 300) < 0 ||
        get_uint(ld, g, "pool_size", &l->pool_size, 1, 64) < 0 ||
        get_enum(ld, g, "starttls", starttls_names, COUNT(starttls_names), &starttls) < 0 ||
        get_string(ld, g, "ca_file", &l->ca_file, STR_ABSPATH) < 0 ||
        get_bool(ld, g, "verify_cert", &l->verify_cert) < 0)
        return -1;
    if (member(g, "profile") != NULL && replace_string(ld, &l->profile, profile_names[profile]) < 0)
        return -1;
    l->starttls = (enum config_ldap_starttls)starttls;

    const config_setting_t *pw = member(g, "bind_password");
    const config_setting_t *pwfile = member(g, "bind_password_file");
    if (pw != NULL && pwfile != NULL)
        return fail(ld, pwfile, "bind_password and bind_password_file are mutually exclusive");
    if (pw != NULL) {
        if (check_string(ld, pw, 0) < 0)
            return -1;
        if (config_setting_get_string(pw)[0] == '\0')
            return fail(ld, pw,
                        "must not be empty (an empty password is an unauthenticated "
                        "bind, RFC 4513 5.1.2); leave it out for an anonymous bind");
        if (replace_string(ld, &l->bind_password, config_setting_get_string(pw)) < 0)
            return -1;
    }
    if (pwfile != NULL) {
        if (check_string(ld, pwfile, STR_ABSPATH) < 0 ||
            replace_string(ld, &l->bind_password_file, config_setting_get_string(pwfile)) < 0 ||
            read_password_file(ld, pwfile, l->bind_password_file, &l->bind_password) < 0)
            return -1;
    }
    if ((pw != NULL || pwfile != NULL) && l->bind_dn == NULL)
        return fail(ld, pw != NULL ? pw : pwfile, "a password needs ldap.bind_dn");

    unsigned disabled = l->disabled_policy;
    const config_setting_t *delim = member(g, "subaddress_delimiter");
    if ((delim != NULL && (check_string(ld, delim, 0) < 0 || delimiter_check(ld, delim) < 0)) ||
        get_string(ld, g, "subaddress_delimiter", &l->subaddress_delimiter, 0) < 0 ||
        get_bool(ld, g, "case_sensitive_local_part", &l->case_sensitive_local_part) < 0 ||
        get_enum(ld, g, "disabled_policy", disabled_policy_names, COUNT(disabled_policy_names),
                 &disabled) < 0 ||
        get_uint(ld, g, "group_max_depth", &l->group_max_depth, 1, 64) < 0 ||
        get_uint(ld, g, "group_max_members", &l->group_max_members, 1, 100000) < 0 ||
        get_uint(ld, g, "auth_pool_size", &l->auth_pool_size, 1, 64) < 0 ||
        get_uint(ld, g, "pool_wait", &l->pool_wait, 1, 300) < 0 ||
        get_uint(ld, g, "failback_interval", &l->failback_interval, 1, 86400) < 0 ||
        get_uint(ld, g, "domain_cache_ttl", &l->domain_cache_ttl, 0, 86400) < 0)
        return -1;
    l->disabled_policy = (enum config_ldap_disabled_policy)disabled;
    /* These two follow the settings they default to unless set themselves. */
    if (member(g, "auth_pool_size") == NULL)
        l->auth_pool_size = l->pool_size;
    if (member(g, "pool_wait") == NULL)
        l->pool_wait = l->timeout;
    return load_profile_overrides(ld, g, l);
}

static int load_tls(struct loader *ld, struct config *conf)
{
    int bad = 0;
    const config_setting_t *g = section(ld, "tls", tls_keys, &bad);
    if (bad < 0)
        return -1;
    struct config_tls *t = &conf->tls;
    unsigned proto = 0;
    if (get_string(ld, g, "cert_file", &t->cert_file, STR_ABSPATH) < 0 ||
        get_string(ld, g, "key_file", &t->key_file, STR_ABSPATH) < 0 ||
        get_string(ld, g, "ca_file", &t->ca_file, STR_ABSPATH) < 0 ||
        get_enum(ld, g, "min_protocol", tls_protocol_names, COUNT(tls_protocol_names), &proto) <
            0 ||
        get_string(ld, g, "ciphers", &t->ciphers, STR_NONEMPTY) < 0)
        return -1;
    if (member(g, "min_protocol") != NULL &&
        replace_string(ld, &t->min_protocol, tls_protocol_names[proto]) < 0)
        return -1;
    if (t->cert_file != NULL && t->key_file == NULL)
        return fail(ld, member(g, "cert_file"), "tls.key_file must be set as well");
    if (t->key_file != NULL && t->cert_file == NULL)
        return fail(ld, member(g, "key_file"), "tls.cert_file must be set as well");
    return 0;
}

static void free_relay(struct config_domains *d)
{
    for (size_t i = 0; i < d->relay_count && d->relay_next_hop != NULL; i++)
        free(d->relay_next_hop[i]);
    free(d->relay_next_hop);
    d->relay_next_hop = NULL;
    free_strings(&d->relay, &d->relay_count);
}

/* load_relay_domains - domains.relay: one domain, or a list whose items are
 * a domain or { domain = "..."; next_hop = "[mx.example]:25"; } (Postfix's
 * relay_domains and transport_maps in one place). */
static int load_relay_domains(struct loader *ld, const config_setting_t *g,
                              struct config_domains *d)
{
    const config_setting_t *s = member(g, "relay");
    if (s == NULL)
        return 0;
    bool one = config_setting_type(s) == CONFIG_TYPE_STRING;
    if (!one && !config_setting_is_array(s) && !config_setting_is_list(s))
        return fail(ld, s,
                    "must be a domain or a list ( \"a.example\", { domain = \"b.example\"; "
                    "next_hop = \"[mx.b.example]:25\"; } )");
    size_t n = one ? 1 : (size_t)config_setting_length(s);
    free_relay(d);
    d->relay = calloc(n + 1, sizeof *d->relay);
    d->relay_next_hop = calloc(n + 1, sizeof *d->relay_next_hop);
    if (d->relay == NULL || d->relay_next_hop == NULL)
        return nomem(ld);
    for (size_t i = 0; i < n; i++) {
        const config_setting_t *item = one ? s : config_setting_get_elem(s, (unsigned)i);
        const config_setting_t *dom = item, *hop = NULL;
        if (config_setting_is_group(item)) {
            if (check_known(ld, item, relay_domain_keys, "setting") < 0)
                return -1;
            dom = member(item, "domain");
            hop = member(item, "next_hop");
            if (dom == NULL)
                return fail(ld, item, "domain is missing");
        } else if (config_setting_type(item) != CONFIG_TYPE_STRING) {
            return fail(ld, item, "must be a domain or { domain = \"...\"; next_hop = \"...\"; }");
        }
        char canon[512];
        if (check_string(ld, dom, STR_NONEMPTY) < 0 ||
            domain_check(ld, dom, config_setting_get_string(dom), canon, sizeof canon) < 0)
            return -1;
        for (size_t j = 0; j < i; j++) {
            if (strcmp(d->relay[j], canon) == 0)
                return fail(ld, dom, "\"%s\" is listed twice", config_setting_get_string(dom));
        }
        if (hop != NULL && (check_string(ld, hop, STR_NONEMPTY) < 0 || next_hop_check(ld, hop) < 0))
            return -1;
        if ((d->relay[i] = strdup(canon)) == NULL)
            return nomem(ld);
        d->relay_count++;
        if (hop != NULL && (d->relay_next_hop[i] = strdup(config_setting_get_string(hop))) == NULL)
            return nomem(ld);
    }
    return 0;
}

static int load_domains(struct loader *ld, struct config *conf)
{
    int bad = 0;
    const config_setting_t *g = section(ld, "domains", domains_keys, &bad);
    if (bad < 0)
        return -1;
    struct config_domains *d = &conf->domains;
    if (get_strings(ld, g, "local", &d->local, &d->local_count, domain_check) < 0 ||
        load_relay_domains(ld, g, d) < 0 ||
        get_bool(ld, g, "from_directory", &d->from_directory) < 0)
        return -1;
    for (size_t i = 0; i < d->relay_count; i++) {
        for (size_t j = 0; j < d->local_count; j++) {
            if (strcmp(d->relay[i], d->local[j]) == 0)
                return fail(ld, string_item(member(g, "relay"), (int)i),
                            "\"%s\" is also in domains.local", d->relay[i]);
        }
    }
    return 0;
}

/* load_sasl - the sasl section. Which listed mechanisms Cyrus can actually
 * serve is decided by auth/sasl_server.c at startup, not here: conf does not
 * link Cyrus SASL. */
static int load_sasl(struct loader *ld, struct config *conf)
{
    int bad = 0;
    const config_setting_t *g = section(ld, "sasl", sasl_keys, &bad);
    if (bad < 0)
        return -1;
    struct config_sasl *sa = &conf->sasl;
    if (get_strings(ld, g, "mechanisms", &sa->mechanisms, &sa->mechanism_count, mechanism_check))
        return -1;
    if (get_bool(ld, g, "allow_authzid", &sa->allow_authzid) < 0 ||
        get_bool(ld, g, "plaintext_without_tls", &sa->plaintext_without_tls) < 0 ||
        get_bool(ld, g, "sender_login_check", &sa->sender_login_check) < 0 ||
        get_bool(ld, g, "authenticated_header", &sa->authenticated_header) < 0)
        return -1;
    return 0;
}

static int load_rest(struct loader *ld, struct config *conf)
{
    int bad = 0;
    const config_setting_t *relay = section(ld, "relay", relay_keys, &bad);
    const config_setting_t *queue = section(ld, "queue", queue_keys, &bad);
    const config_setting_t *cache = section(ld, "cache", cache_keys, &bad);
    const config_setting_t *delivery = section(ld, "delivery", delivery_keys, &bad);
    const config_setting_t *limits = section(ld, "limits", limits_keys, &bad);
    if (bad < 0)
        return -1;
    struct config_relay *r = &conf->relay;
    if (get_strings(ld, relay, "trusted_networks", &r->trusted_networks, &r->trusted_network_count,
                    cidr_check) < 0)
        return -1;

    struct config_queue *q = &conf->queue;
    if (get_uint(ld, queue, "max_age", &q->max_age, 60, 60 * 86400) < 0 ||
        get_uint(ld, queue, "retry_min", &q->retry_min, 1, 86400) < 0 ||
        get_uint(ld, queue, "retry_max", &q->retry_max, 1, 86400) < 0 ||
        get_uint(ld, queue, "scan_interval", &q->scan_interval, 1, 3600) < 0 ||
        get_uint(ld, queue, "delivery_threads", &q->delivery_threads, 1, 64) < 0)
        return -1;
    /* Checked against limits.message_size below, once that is read. */
    long long min_free = 0;
    int min_free_got = get_integer(ld, queue, "min_free", 0, (long long)1 << 50, &min_free);
    if (min_free_got < 0)
        return -1;
    if (q->retry_max < q->retry_min)
        return fail(ld,
                    member(queue, "retry_max") ? member(queue, "retry_max")
                                               : member(queue, "retry_min"),
                    "queue.retry_max (%u) must not be less than queue.retry_min (%u)", q->retry_max,
                    q->retry_min);

    unsigned sync_method = conf->delivery.sync_method;
    if (get_string(ld, delivery, "mailbox_base", &conf->delivery.mailbox_base, STR_ABSPATH) < 0 ||
        get_enum(ld, delivery, "sync_method", delivery_sync_names, COUNT(delivery_sync_names),
                 &sync_method) < 0)
        return -1;
    conf->delivery.sync_method = (enum config_delivery_sync)sync_method;

    struct config_cache *c = &conf->cache;
    if (get_uint(ld, cache, "positive_ttl", &c->positive_ttl, 0, 86400) < 0 ||
        get_uint(ld, cache, "negative_ttl", &c->negative_ttl, 0, 86400) < 0 ||
        get_uint(ld, cache, "auth_ttl", &c->auth_ttl, 0, 3600) < 0 ||
        get_uint(ld, cache, "stale_ttl", &c->stale_ttl, 0, 7 * 86400) < 0 ||
        get_uint(ld, cache, "size", &c->size, 0, 10000000) < 0)
        return -1;

    struct config_limits *lim = &conf->limits;
    long long size = 0;
    /* RFC 5321 4.5.3.1.4: a command line is at least 512 octets; 4.5.3.1.6: a
     * text line is at least 1000 octets. Smaller limits break conforming clients. */
    if (get_uint(ld, limits, "line_length", &lim->line_length, 512, 65536) < 0 ||
        get_uint(ld, limits, "text_line_length", &lim->text_line_length, 1000, 1048576) < 0 ||
        get_uint(ld, limits, "recipients", &lim->recipients, 100, 100000) < 0 ||
        get_uint(ld, limits, "errors", &lim->errors, 1, 1000) < 0 ||
        get_uint(ld, limits, "max_connections", &lim->max_connections, 1, 1000000) < 0 ||
        get_uint(ld, limits, "pregreet_wait", &lim->pregreet_wait, 0, 30000) < 0 ||
        get_uint(ld, limits, "pregreet_pass_ttl", &lim->pregreet_pass_ttl, 0, 30 * 86400) < 0 ||
        get_uint(ld, limits, "auth_failures", &lim->auth_failures, 0, 100000) < 0 ||
        get_uint(ld, limits, "auth_failure_window", &lim->auth_failure_window, 1, 86400) < 0 ||
        get_uint(ld, limits, "header_max_count", &lim->header_max_count, 10, 1000000) < 0)
        return -1;
    int got = get_integer(ld, limits, "message_size", 1024, (long long)1 << 40, &size);
    if (got < 0)
        return -1;
    if (got > 0)
        lim->message_size = (size_t)size;
    /* Postfix's rule (queue_minfree, 2.1 and later): room for one message
     * of the largest size and half as much again. A reserve smaller than
     * one such message would let MAIL FROM pass for a message that cannot
     * fit: 0 (no check) or at least limits.message_size. */
    if (min_free_got == 0)
        q->min_free = (uint64_t)lim->message_size + lim->message_size / 2;
    else if (min_free != 0 && (uint64_t)min_free < lim->message_size)
        return fail(ld, member(queue, "min_free"),
                    "queue.min_free (%lld) must be 0 or at least limits.message_size (%zu)",
                    min_free, lim->message_size);
    else
        q->min_free = (uint64_t)min_free;
    /* 1 KiB at least: a usual message's trace and origin fields take that */
    got = get_integer(ld, limits, "header_max_size", 1024, (long long)1 << 40, &size);
    if (got < 0)
        return -1;
    if (got > 0)
        lim->header_max_size = (size_t)size;
    unsigned nul = lim->message_nul;
    if (get_enum(ld, limits, "message_nul", message_nul_names, COUNT(message_nul_names), &nul) < 0)
        return -1;
    lim->message_nul = (enum config_message_nul)nul;
    return 0;
}

/* set_defaults - every setting's default; the same values are documented
 * in conf/dirmail.conf.sample and doc/dirmail.conf.5. */
static int set_defaults(struct loader *ld, struct config *conf)
{
    char host[256];
    if (gethostname(host, sizeof host) < 0 || host[0] == '\0')
        snprintf(host, sizeof host, "localhost");
    host[sizeof host - 1] = '\0';
    static const char *const uris[] = {"ldap://localhost/"};
    static const char *const trusted[] = {"127.0.0.0/8", "::1/128"};
    static const char *const mechanisms[] = {"PLAIN", "LOGIN"};

    struct config_server *sv = &conf->server;
    sv->log_target = LOG_TARGET_SYSLOG;
    sv->log_level = LOG_LEVEL_INFO;
    sv->workers = 0;
    sv->shutdown_grace = 30;
    struct config_ldap *l = &conf->ldap;
    l->connect_timeout = 3;
    l->timeout = 5;
    l->pool_size = 4;
    l->starttls = LDAP_STARTTLS_NO;
    l->verify_cert = true;
    l->case_sensitive_local_part = false;
    l->disabled_policy = LDAP_DISABLED_REJECT;
    l->group_max_depth = 8;
    l->group_max_members = 1000;
    l->failback_interval = 30;
    l->domain_cache_ttl = 60;
    l->proxy_addresses = -1;
    conf->domains.from_directory = false;
    conf->queue.max_age = 5 * 86400;
    conf->queue.retry_min = 300;
    conf->queue.retry_max = 4000;
    conf->queue.scan_interval = 60;
    conf->queue.delivery_threads = 4;
    conf->cache.positive_ttl = 300;
    conf->cache.negative_ttl = 60;
    conf->cache.auth_ttl = 60;
    conf->cache.stale_ttl = 3600;
    conf->cache.size = 100000;
    struct config_limits *lim = &conf->limits;
    lim->line_length = 512;
    lim->text_line_length = 1000;
    lim->message_size = (size_t)50 * 1024 * 1024;
    lim->recipients = 1000;
    lim->errors = 20;
    lim->max_connections = 10000;
    lim->pregreet_wait = 300;
    lim->pregreet_pass_ttl = 86400;
    lim->auth_failures = 10;
    lim->auth_failure_window = 600;
    lim->message_nul = MESSAGE_NUL_REJECT;
    lim->header_max_size = 102400;
    lim->header_max_count = 1000;
    conf->sasl.allow_authzid = false;
    conf->sasl.plaintext_without_tls = false;
    conf->sasl.sender_login_check = true;
    conf->sasl.authenticated_header = false;

    if (replace_string(ld, &sv->hostname, host) < 0 ||
        replace_string(ld, &sv->user, "dirmail") < 0 ||
        replace_string(ld, &sv->group, "dirmail") < 0 ||
        replace_string(ld, &sv->pid_file, "/run/dirmail/dirmaild.pid") < 0 ||
        replace_string(ld, &sv->state_dir, "/var/lib/dirmail") < 0 ||
        set_strings(ld, &l->uris, &l->uri_count, uris, COUNT(uris)) < 0 ||
        replace_string(ld, &l->base, "") < 0 || replace_string(ld, &l->profile, "dirmail") < 0 ||
        replace_string(ld, &l->subaddress_delimiter, "+") < 0 ||
        replace_string(ld, &conf->tls.min_protocol, "TLSv1.2") < 0 ||
        set_strings(ld, &conf->domains.local, &conf->domains.local_count, NULL, 0) < 0 ||
        set_strings(ld, &conf->domains.relay, &conf->domains.relay_count, NULL, 0) < 0 ||
        set_strings(ld, &conf->relay.trusted_networks, &conf->relay.trusted_network_count, trusted,
                    COUNT(trusted)) < 0 ||
        replace_string(ld, &conf->delivery.mailbox_base, "/var/vmail") < 0 ||
        set_strings(ld, &conf->sasl.mechanisms, &conf->sasl.mechanism_count, mechanisms,
                    COUNT(mechanisms)) < 0)
        return -1;
    return 0;
}

struct config *config_load(const char *path, char **error_r)
{
    struct loader ld = {.path = path};
    *error_r = NULL;
    struct config *conf = calloc(1, sizeof *conf);
    if (conf == NULL) {
        *error_r = strdup("out of memory");
        return NULL;
    }
    config_init(&ld.cf);
    /* @include "x.conf" is relative to the including file's folder, not the cwd. */
    char *dir = strdup(path);
    char *slash = dir != NULL ? strrchr(dir, '/') : NULL;
    if (slash != NULL) {
        *slash = '\0';
        ld.include_dir = dir[0] != '\0' ? dir : "/";
        config_set_include_dir(&ld.cf, ld.include_dir);
    }
    int ok = -1;
    if ((conf->path = strdup(path)) == NULL || dir == NULL) {
        nomem(&ld);
    } else if (config_read_file(&ld.cf, path) != CONFIG_TRUE) {
        char *msg = NULL;
        if (config_error_type(&ld.cf) == CONFIG_ERR_FILE_IO) {
            if (asprintf(&msg, "%s: cannot read: %s", path,
                         errno != 0 ? strerror(errno) : config_error_text(&ld.cf)) < 0)
                msg = NULL;
        } else if (asprintf(&msg, "%s:%d: %s",
                            config_error_file(&ld.cf) ? config_error_file(&ld.cf) : path,
                            config_error_line(&ld.cf), config_error_text(&ld.cf)) < 0) {
            msg = NULL;
        }
        ld.error = msg != NULL ? msg : strdup("out of memory");
    } else if (check_known(&ld, config_root_setting(&ld.cf), top_keys, "section") == 0 &&
               set_defaults(&ld, conf) == 0 && load_server(&ld, conf) == 0 &&
               load_ldap(&ld, conf) == 0 && load_tls(&ld, conf) == 0 &&
               load_domains(&ld, conf) == 0 && load_rest(&ld, conf) == 0 &&
               load_sasl(&ld, conf) == 0 && load_services(&ld, conf) == 0) {
        ok = 0;
    }
    config_destroy(&ld.cf);
    free(dir);
    if (ok < 0) {
        config_free(&conf);
        *error_r = ld.error != NULL ? ld.error : strdup("invalid configuration");
        return NULL;
    }
    return conf;
}

void config_free(struct config **confp)
{
    struct config *conf = *confp;
    if (conf == NULL)
        return;
    *confp = NULL;
    free(conf->path);
    struct config_server *sv = &conf->server;
    free(sv->hostname);
    free(sv->user);
    free(sv->group);
    free(sv->pid_file);
    free(sv->state_dir);
    struct config_ldap *l = &conf->ldap;
    free_strings(&l->uris, &l->uri_count);
    free(l->bind_dn);
    if (l->bind_password != NULL) {
        explicit_bzero(l->bind_password, strlen(l->bind_password));
        free(l->bind_password);
    }
    free(l->bind_password_file);
    free(l->base);
    free(l->profile);
    free(l->ca_file);
    free(l->subaddress_delimiter);
    for (size_t i = 0; i < CONFIG_LDAP_ATTRIBUTE_COUNT; i++)
        free(l->attributes[i]);
    for (size_t i = 0; i < CONFIG_LDAP_FILTER_COUNT; i++)
        free(l->filters[i]);
    free(l->group_classes);
    free(l->catchall);
    free(l->status_style);
    free(l->keep_style);
    free(conf->tls.cert_file);
    free(conf->tls.key_file);
    free(conf->tls.ca_file);
    free(conf->tls.min_protocol);
    free(conf->tls.ciphers);
    for (size_t i = 0; i < conf->service_count; i++)
        service_clear(&conf->services[i]);
    free(conf->services);
    free_strings(&conf->domains.local, &conf->domains.local_count);
    free_relay(&conf->domains);
    free_strings(&conf->relay.trusted_networks, &conf->relay.trusted_network_count);
    free(conf->delivery.mailbox_base);
    free_strings(&conf->sasl.mechanisms, &conf->sasl.mechanism_count);
    free(conf);
}

/* print_quoted - a libconfig string literal: \\ \" \n \r \t \f and \xNN
 * for other control bytes, so that any stored value reads back the same. */
static void print_quoted(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        switch (c) {
        case '"':
            fputs("\\\"", out);
            break;
        case '\\':
            fputs("\\\\", out);
            break;
        case '\n':
            fputs("\\n", out);
            break;
        case '\r':
            fputs("\\r", out);
            break;
        case '\t':
            fputs("\\t", out);
            break;
        case '\f':
            fputs("\\f", out);
            break;
        default:
            if (c < 0x20 || c == 0x7f)
                fprintf(out, "\\x%02x", c);
            else
                fputc(c, out);
        }
    }
    fputc('"', out);
}

static void print_str(FILE *out, const char *indent, const char *name, const char *value,
                      const char *unset_note)
{
    if (value == NULL) {
        fprintf(out, "%s# %s: not set (%s)\n", indent, name, unset_note);
        return;
    }
    fprintf(out, "%s%s = ", indent, name);
    print_quoted(out, value);
    fputs(";\n", out);
}

static void print_list(FILE *out, const char *indent, const char *name, char *const *values,
                       size_t count)
{
    fprintf(out, "%s%s = [", indent, name);
    for (size_t i = 0; i < count; i++) {
        fputs(i > 0 ? ", " : " ", out);
        print_quoted(out, values[i]);
    }
    fputs(count > 0 ? " ];\n" : "];\n", out);
}

static void print_uint(FILE *out, const char *indent, const char *name, unsigned long long v)
{
    /* libconfig reads a plain integer as 32 bits; larger values need the L suffix. */
    fprintf(out, "%s%s = %llu%s;\n", indent, name, v, v > INT_MAX ? "L" : "");
}

static void print_bool(FILE *out, const char *indent, const char *name, bool v)
{
    fprintf(out, "%s%s = %s;\n", indent, name, v ? "true" : "false");
}

/* print_relay - plain strings while no relay domain has a next hop, so the
 * common case prints as it is usually written. */
static void print_relay(FILE *out, const char *indent, const struct config_domains *d)
{
    bool hops = false;
    for (size_t i = 0; i < d->relay_count && d->relay_next_hop != NULL; i++)
        hops = hops || d->relay_next_hop[i] != NULL;
    if (!hops) {
        print_list(out, indent, "relay", d->relay, d->relay_count);
        return;
    }
    fprintf(out, "%srelay = (", indent);
    for (size_t i = 0; i < d->relay_count; i++) {
        fputs(i > 0 ? ", " : " ", out);
        if (d->relay_next_hop[i] == NULL) {
            print_quoted(out, d->relay[i]);
            continue;
        }
        fputs("{ domain = ", out);
        print_quoted(out, d->relay[i]);
        fputs("; next_hop = ", out);
        print_quoted(out, d->relay_next_hop[i]);
        fputs("; }", out);
    }
    fputs(" );\n", out);
}

void config_print(const struct config *conf, FILE *out)
{
    const char *in = "  ";
    const struct config_server *sv = &conf->server;
    fputs("# dirmail effective configuration: every setting, defaults included.\n", out);
    fputs("server = {\n", out);
    print_str(out, in, "hostname", sv->hostname, "");
    print_str(out, in, "user", sv->user, "");
    print_str(out, in, "group", sv->group, "");
    print_str(out, in, "pid_file", sv->pid_file, "");
    print_str(out, in, "state_dir", sv->state_dir, "");
    print_str(out, in, "log", log_target_names[sv->log_target], "");
    print_str(out, in, "log_level", log_level_names[sv->log_level], "");
    print_uint(out, in, "workers", sv->workers);
    print_uint(out, in, "shutdown_grace", sv->shutdown_grace);
    fputs("};\n\nldap = {\n", out);
    const struct config_ldap *l = &conf->ldap;
    print_list(out, in, "uris", l->uris, l->uri_count);
    print_str(out, in, "bind_dn", l->bind_dn, "anonymous bind");
    if (l->bind_password_file != NULL)
        print_str(out, in, "bind_password_file", l->bind_password_file, "");
    else
        print_str(out, in, "bind_password", l->bind_password != NULL ? "<hidden>" : NULL,
                  "no password");
    print_str(out, in, "base", l->base, "");
    print_str(out, in, "profile", l->profile, "");
    print_uint(out, in, "connect_timeout", l->connect_timeout);
    print_uint(out, in, "timeout", l->timeout);
    print_uint(out, in, "pool_size", l->pool_size);
    print_str(out, in, "starttls", starttls_names[l->starttls], "");
    print_str(out, in, "ca_file", l->ca_file, "the system's trusted CAs");
    print_bool(out, in, "verify_cert", l->verify_cert);
    print_str(out, in, "subaddress_delimiter", l->subaddress_delimiter, "");
    print_bool(out, in, "case_sensitive_local_part", l->case_sensitive_local_part);
    print_str(out, in, "disabled_policy", disabled_policy_names[l->disabled_policy], "");
    print_uint(out, in, "group_max_depth", l->group_max_depth);
    print_uint(out, in, "group_max_members", l->group_max_members);
    print_uint(out, in, "auth_pool_size", l->auth_pool_size);
    print_uint(out, in, "pool_wait", l->pool_wait);
    print_uint(out, in, "failback_interval", l->failback_interval);
    print_uint(out, in, "domain_cache_ttl", l->domain_cache_ttl);
    const char *profiles = "the profile's";
    fputs("  attributes = {\n", out);
    for (size_t i = 0; i < CONFIG_LDAP_ATTRIBUTE_COUNT; i++)
        print_str(out, "    ", config_ldap_attribute_names[i], l->attributes[i], profiles);
    fputs("  };\n  filters = {\n", out);
    for (size_t i = 0; i < CONFIG_LDAP_FILTER_COUNT; i++)
        print_str(out, "    ", config_ldap_filter_names[i], l->filters[i], profiles);
    fputs("  };\n", out);
    print_str(out, in, "group_classes", l->group_classes, profiles);
    print_str(out, in, "catchall", l->catchall, profiles);
    print_str(out, in, "status_style", l->status_style, profiles);
    print_str(out, in, "keep_style", l->keep_style, profiles);
    if (l->proxy_addresses < 0)
        fprintf(out, "%s# proxy_addresses: not set (%s)\n", in, profiles);
    else
        print_bool(out, in, "proxy_addresses", l->proxy_addresses > 0);
    fputs("};\n\ntls = {\n", out);
    const struct config_tls *t = &conf->tls;
    print_str(out, in, "cert_file", t->cert_file, "no TLS services, no STARTTLS");
    print_str(out, in, "key_file", t->key_file, "no TLS services, no STARTTLS");
    print_str(out, in, "ca_file", t->ca_file, "no client certificates");
    print_str(out, in, "min_protocol", t->min_protocol, "");
    print_str(out, in, "ciphers", t->ciphers, "OpenSSL's default");
    fputs("};\n\nservices = (\n", out);
    for (size_t i = 0; i < conf->service_count; i++) {
        const struct config_service *svc = &conf->services[i];
        const char *in2 = "    ";
        fputs("  {\n", out);
        print_str(out, in2, "type", service_type_names[svc->type], "");
        print_str(out, in2, "name", svc->name, "");
        fprintf(out, "%slisten = [", in2);
        for (size_t k = 0; k < svc->listen_count; k++) {
            const struct config_listen *li = &svc->listen[k];
            bool v6 = strchr(li->host, ':') != NULL;
            fprintf(out, "%s\"%s%s%s:%u\"", k > 0 ? ", " : " ", v6 ? "[" : "", li->host,
                    v6 ? "]" : "", li->port);
        }
        fputs(" ];\n", out);
        print_uint(out, in2, "max_connections", svc->max_connections);
        print_uint(out, in2, "max_connections_per_ip", svc->max_connections_per_ip);
        print_uint(out, in2, "idle_timeout", svc->idle_timeout);
        print_uint(out, in2, "session_timeout", svc->session_timeout);
        print_uint(out, in2, "data_timeout", svc->data_timeout);
        print_uint(out, in2, "data_min_rate", svc->data_min_rate);
        print_uint(out, in2, "data_rate_window", svc->data_rate_window);
        print_uint(out, in2, "overload_threshold", svc->overload_threshold);
        print_uint(out, in2, "overload_idle_timeout", svc->overload_idle_timeout);
        print_uint(out, in2, "overload_data_timeout", svc->overload_data_timeout);
        print_bool(out, in2, "forbid_unauth_pipelining", svc->forbid_unauth_pipelining);
        fputs(i + 1 < conf->service_count ? "  },\n" : "  }\n", out);
    }
    fputs(");\n\ndomains = {\n", out);
    print_list(out, in, "local", conf->domains.local, conf->domains.local_count);
    print_relay(out, in, &conf->domains);
    print_bool(out, in, "from_directory", conf->domains.from_directory);
    fputs("};\n\nrelay = {\n", out);
    print_list(out, in, "trusted_networks", conf->relay.trusted_networks,
               conf->relay.trusted_network_count);
    fputs("};\n\nqueue = {\n", out);
    print_uint(out, in, "max_age", conf->queue.max_age);
    print_uint(out, in, "retry_min", conf->queue.retry_min);
    print_uint(out, in, "retry_max", conf->queue.retry_max);
    print_uint(out, in, "scan_interval", conf->queue.scan_interval);
    print_uint(out, in, "delivery_threads", conf->queue.delivery_threads);
    print_uint(out, in, "min_free", conf->queue.min_free);
    fputs("};\n\ncache = {\n", out);
    print_uint(out, in, "positive_ttl", conf->cache.positive_ttl);
    print_uint(out, in, "negative_ttl", conf->cache.negative_ttl);
    print_uint(out, in, "auth_ttl", conf->cache.auth_ttl);
    print_uint(out, in, "stale_ttl", conf->cache.stale_ttl);
    print_uint(out, in, "size", conf->cache.size);
    fputs("};\n\ndelivery = {\n", out);
    print_str(out, in, "mailbox_base", conf->delivery.mailbox_base, "");
    print_str(out, in, "sync_method", delivery_sync_names[conf->delivery.sync_method], "");
    fputs("};\n\nlimits = {\n", out);
    const struct config_limits *lim = &conf->limits;
    print_uint(out, in, "line_length", lim->line_length);
    print_uint(out, in, "text_line_length", lim->text_line_length);
    print_uint(out, in, "message_size", lim->message_size);
    print_uint(out, in, "recipients", lim->recipients);
    print_uint(out, in, "errors", lim->errors);
    print_uint(out, in, "max_connections", lim->max_connections);
    print_uint(out, in, "pregreet_wait", lim->pregreet_wait);
    print_uint(out, in, "pregreet_pass_ttl", lim->pregreet_pass_ttl);
    print_uint(out, in, "auth_failures", lim->auth_failures);
    print_uint(out, in, "auth_failure_window", lim->auth_failure_window);
    print_str(out, in, "message_nul", message_nul_names[lim->message_nul], "");
    print_uint(out, in, "header_max_size", lim->header_max_size);
    print_uint(out, in, "header_max_count", lim->header_max_count);
    fputs("};\n\nsasl = {\n", out);
    print_list(out, in, "mechanisms", conf->sasl.mechanisms, conf->sasl.mechanism_count);
    print_bool(out, in, "allow_authzid", conf->sasl.allow_authzid);
    print_bool(out, in, "plaintext_without_tls", conf->sasl.plaintext_without_tls);
    print_bool(out, in, "sender_login_check", conf->sasl.sender_login_check);
    print_bool(out, in, "authenticated_header", conf->sasl.authenticated_header);
    fputs("};\n", out);
}

const char *config_service_type_name(enum service_type type)
{
    if ((size_t)type >= COUNT(service_type_names))
        return "unknown";
    return service_type_names[type];
}

bool config_service_implicit_tls(enum service_type type)
{
    return type == SERVICE_SUBMISSIONS || type == SERVICE_POP3S || type == SERVICE_IMAPS;
}

const char *config_delivery_sync_name(enum config_delivery_sync method)
{
    return (size_t)method < COUNT(delivery_sync_names) ? delivery_sync_names[method] : "?";
}

char *config_state_path(const struct config *conf, const char *name)
{
    char *path;
    if (asprintf(&path, "%s/%s", conf->server.state_dir, name) < 0)
        return NULL;
    return path;
}
