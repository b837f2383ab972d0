/* conf/config_ldap.c - the ldap section: servers, bind identity (the
 * password read from its file here, before privileges drop), pools, and the
 * overrides of the directory profile. Profiles themselves are auth's. */
#include "config.h"

#include "conf/config_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/log.h"

/* The longest password file we accept: a password, not a document. */
#define PASSWORD_FILE_MAX 4096

/* Kept as the string it is (auth/dir_profile.c knows the profiles), so the
 * names are this loader's alone, not conf/config_names.c's. */
static const char *const profile_names[] = {"dirmail", "qmail-ldap", "inetlocalmailrecipient",
                                            "active-directory"};

/* The settings the ldap section knows; anything else is an error. */
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

/* read_password_file - the whole file, less one trailing newline (what
 * `echo secret > file` leaves). It is read here, by root in the master,
 * before privileges are dropped. */
static int read_password_file(struct loader *ld, const config_setting_t *s, const char *path,
                              char **password_r)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return conf_fail(ld, s, "cannot open \"%s\": %s", path, strerror(errno));
    struct stat st;
    int ret = 0;
    char *buf = NULL;
    if (fstat(fd, &st) < 0) {
        ret = conf_fail(ld, s, "cannot stat \"%s\": %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        ret = conf_fail(ld, s, "\"%s\" is not a regular file", path);
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
        ret = conf_fail(ld, s, "\"%s\" is larger than %d bytes", path, PASSWORD_FILE_MAX);
        goto out;
    }
    buf = malloc(PASSWORD_FILE_MAX + 2);
    if (buf == NULL) {
        ret = conf_nomem(ld);
        goto out;
    }
    size_t len = 0;
    for (;;) {
        ssize_t r = read(fd, buf + len, PASSWORD_FILE_MAX + 1 - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            ret = conf_fail(ld, s, "cannot read \"%s\": %s", path, strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        len += (size_t)r;
        if (len > PASSWORD_FILE_MAX) {
            ret = conf_fail(ld, s, "\"%s\" is larger than %d bytes", path, PASSWORD_FILE_MAX);
            goto out;
        }
    }
    if (len > 0 && buf[len - 1] == '\n')
        len--;
    buf[len] = '\0';
    if (memchr(buf, '\0', len) != NULL) {
        ret = conf_fail(ld, s, "\"%s\" contains a NUL byte", path);
        goto out;
    }
    if (len == 0) {
        ret = conf_fail(ld, s,
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

/* load_names - a group of string overrides (ldap.attributes, ldap.filters)
 * whose keys are exactly names[0..count); check validates each value. */
static int load_names(struct loader *ld, const config_setting_t *ldap, const char *group,
                      const char *const *names, size_t count, char **values,
                      int (*check)(struct loader *, const config_setting_t *))
{
    const config_setting_t *g = conf_member(ldap, group);
    if (g == NULL)
        return 0;
    if (!config_setting_is_group(g))
        return conf_fail(ld, g, "must be a group: %s = { %s = \"...\"; };", group, names[0]);
    const char *known[CONFIG_LDAP_ATTRIBUTE_COUNT + CONFIG_LDAP_FILTER_COUNT + 1];
    for (size_t i = 0; i < count && i + 1 < COUNT(known); i++)
        known[i] = names[i];
    known[count < COUNT(known) ? count : COUNT(known) - 1] = NULL;
    if (conf_check_known(ld, g, known, "name") < 0)
        return -1;
    for (size_t i = 0; i < count; i++) {
        const config_setting_t *s = conf_member(g, names[i]);
        if (s == NULL)
            continue;
        if (conf_check_string(ld, s, 0) < 0 || check(ld, s) < 0 ||
            conf_replace_string(ld, &values[i], config_setting_get_string(s)) < 0)
            return -1;
    }
    return 0;
}

/* attribute_check - "" (the profile has no such attribute) or one name. */
static int attribute_check(struct loader *ld, const config_setting_t *s)
{
    const char *v = config_setting_get_string(s);
    if (v[0] != '\0' && !conf_descr_ok(v, strlen(v)))
        return conf_fail(ld, s, "\"%s\" is not an attribute name (RFC 4512 descr or OID)", v);
    return 0;
}

static int filter_check(struct loader *ld, const config_setting_t *s)
{
    return conf_template_check(ld, s, "sudl", true);
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
    const config_setting_t *s = conf_member(g, "group_classes");
    if (s != NULL) {
        if (conf_check_string(ld, s, 0) < 0)
            return -1;
        const char *v = config_setting_get_string(s);
        for (const char *p = v; *p != '\0';) {
            size_t len = strcspn(p, " ");
            if (len > 0 && !conf_descr_ok(p, len))
                return conf_fail(ld, s, "\"%.*s\" is not an objectClass name", (int)len, p);
            p += len + (p[len] == ' ');
        }
        if (conf_replace_string(ld, &l->group_classes, v) < 0)
            return -1;
    }
    s = conf_member(g, "catchall");
    if (s != NULL &&
        (conf_check_string(ld, s, 0) < 0 || conf_template_check(ld, s, "d", false) < 0 ||
         conf_replace_string(ld, &l->catchall, config_setting_get_string(s)) < 0))
        return -1;
    unsigned status = 0, keep = 0;
    bool proxy = false;
    if (conf_get_enum(ld, g, "status_style", config_ldap_status_styles,
                      COUNT(config_ldap_status_styles), &status) < 0 ||
        conf_get_enum(ld, g, "keep_style", config_ldap_keep_styles, COUNT(config_ldap_keep_styles),
                      &keep) < 0 ||
        conf_get_bool(ld, g, "proxy_addresses", &proxy) < 0)
        return -1;
    if (conf_member(g, "status_style") != NULL &&
        conf_replace_string(ld, &l->status_style, config_ldap_status_styles[status]) < 0)
        return -1;
    if (conf_member(g, "keep_style") != NULL &&
        conf_replace_string(ld, &l->keep_style, config_ldap_keep_styles[keep]) < 0)
        return -1;
    if (conf_member(g, "proxy_addresses") != NULL)
        l->proxy_addresses = proxy ? 1 : 0;
    return 0;
}

int conf_load_ldap(struct loader *ld, struct config *conf)
{
    int bad = 0;
    const config_setting_t *g = conf_section(ld, "ldap", ldap_keys, &bad);
    if (bad < 0)
        return -1;
    struct config_ldap *l = &conf->ldap;
    unsigned profile = 0, starttls = l->starttls;
    const config_setting_t *uris = conf_member(g, "uris");
    if (uris != NULL && conf_string_items(ld, uris) == 0)
        return conf_fail(ld, uris, "must name at least one LDAP server");
    if (conf_get_strings(ld, g, "uris", &l->uris, &l->uri_count, conf_uri_check) < 0 ||
        conf_get_string(ld, g, "bind_dn", &l->bind_dn, STR_NONEMPTY) < 0 ||
        conf_get_string(ld, g, "base", &l->base, 0) < 0 ||
        conf_get_enum(ld, g, "profile", profile_names, COUNT(profile_names), &profile) < 0 ||
        conf_get_uint(ld, g, "connect_timeout", &l->connect_timeout, 1, 300) < 0 ||
        conf_get_uint(ld, g, "timeout", &l->timeout, 1, 300) < 0 ||
        conf_get_uint(ld, g, "pool_size", &l->pool_size, 1, 64) < 0 ||
        conf_get_enum(ld, g, "starttls", conf_starttls_names, COUNT(conf_starttls_names),
                      &starttls) < 0 ||
        conf_get_string(ld, g, "ca_file", &l->ca_file, STR_ABSPATH) < 0 ||
        conf_get_bool(ld, g, "verify_cert", &l->verify_cert) < 0)
        return -1;
    if (conf_member(g, "profile") != NULL &&
        conf_replace_string(ld, &l->profile, profile_names[profile]) < 0)
        return -1;
    l->starttls = (enum config_ldap_starttls)starttls;

    const config_setting_t *pw = conf_member(g, "bind_password");
    const config_setting_t *pwfile = conf_member(g, "bind_password_file");
    if (pw != NULL && pwfile != NULL)
        return conf_fail(ld, pwfile, "bind_password and bind_password_file are mutually exclusive");
    if (pw != NULL) {
        if (conf_check_string(ld, pw, 0) < 0)
            return -1;
        if (config_setting_get_string(pw)[0] == '\0')
            return conf_fail(ld, pw,
                             "must not be empty (an empty password is an unauthenticated "
                             "bind, RFC 4513 5.1.2); leave it out for an anonymous bind");
        if (conf_replace_string(ld, &l->bind_password, config_setting_get_string(pw)) < 0)
            return -1;
    }
    if (pwfile != NULL) {
        if (conf_check_string(ld, pwfile, STR_ABSPATH) < 0 ||
            conf_replace_string(ld, &l->bind_password_file, config_setting_get_string(pwfile)) <
                0 ||
            read_password_file(ld, pwfile, l->bind_password_file, &l->bind_password) < 0)
            return -1;
    }
    if ((pw != NULL || pwfile != NULL) && l->bind_dn == NULL)
        return conf_fail(ld, pw != NULL ? pw : pwfile, "a password needs ldap.bind_dn");

    unsigned disabled = l->disabled_policy;
    const config_setting_t *delim = conf_member(g, "subaddress_delimiter");
    if ((delim != NULL &&
         (conf_check_string(ld, delim, 0) < 0 || conf_delimiter_check(ld, delim) < 0)) ||
        conf_get_string(ld, g, "subaddress_delimiter", &l->subaddress_delimiter, 0) < 0 ||
        conf_get_bool(ld, g, "case_sensitive_local_part", &l->case_sensitive_local_part) < 0 ||
        conf_get_enum(ld, g, "disabled_policy", conf_disabled_policy_names,
                      COUNT(conf_disabled_policy_names), &disabled) < 0 ||
        conf_get_uint(ld, g, "group_max_depth", &l->group_max_depth, 1, 64) < 0 ||
        conf_get_uint(ld, g, "group_max_members", &l->group_max_members, 1, 100000) < 0 ||
        conf_get_uint(ld, g, "auth_pool_size", &l->auth_pool_size, 1, 64) < 0 ||
        conf_get_uint(ld, g, "pool_wait", &l->pool_wait, 1, 300) < 0 ||
        conf_get_uint(ld, g, "failback_interval", &l->failback_interval, 1, 86400) < 0 ||
        conf_get_uint(ld, g, "domain_cache_ttl", &l->domain_cache_ttl, 0, 86400) < 0)
        return -1;
    l->disabled_policy = (enum config_ldap_disabled_policy)disabled;
    /* These two follow the settings they default to unless set themselves. */
    if (conf_member(g, "auth_pool_size") == NULL)
        l->auth_pool_size = l->pool_size;
    if (conf_member(g, "pool_wait") == NULL)
        l->pool_wait = l->timeout;
    return load_profile_overrides(ld, g, l);
}
