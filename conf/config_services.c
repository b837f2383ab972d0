/* conf/config_services.c - the services list: one group per listening
 * service, its defaults and listen addresses, and the checks across
 * services (unique names, no overlapping addresses, TLS needs a key). */
#include "config.h"

#include "conf/config_internal.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* The port a service listens on when its listen setting is absent. LMTP has
 * no authentication (RFC 2033): without a listen setting it listens on the
 * UNIX socket <state_dir>/lmtp.sock only (service_listen_default), whose mode
 * is its access check; this row is the port an lmtp TCP entry has in mind. */
static const struct {
    const char *host;
    unsigned port;
} service_default_listen[] = {
    [SERVICE_SMTP] = {"*", 25},          [SERVICE_SUBMISSION] = {"*", 587},
    [SERVICE_SUBMISSIONS] = {"*", 465},  [SERVICE_LMTP] = {"127.0.0.1", 24},
    [SERVICE_POP3] = {"*", 110},         [SERVICE_POP3S] = {"*", 995},
    [SERVICE_IMAP] = {"*", 143},         [SERVICE_IMAPS] = {"*", 993},
    [SERVICE_MANAGESIEVE] = {"*", 4190},
};

/* The settings a service group knows; anything else is an error. */
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
                                           "trusted_networks",
                                           "socket_user",
                                           "socket_group",
                                           "socket_mode",
                                           NULL};

/* What only an lmtp service knows (conf.h: struct config_service). */
static const char *const lmtp_only_keys[] = {"trusted_networks", "socket_user", "socket_group",
                                             "socket_mode", NULL};

/* The longest UNIX socket path (sockaddr_un.sun_path holds 108 with its NUL). */
#define UNIX_PATH_MAX 107

/* parse_listen - "127.0.0.1:2525", "[::1]:587", "*:25" into host and port;
 * the host is stored in inet_ntop's canonical form (no brackets) so that
 * duplicates are found whatever the spelling. */
static int parse_listen(struct loader *ld, const config_setting_t *s, const char *v,
                        struct config_listen *out)
{
    const char *colon = strrchr(v, ':');
    if (colon == NULL)
        return conf_fail(ld, s, "\"%s\" must be ADDRESS:PORT (\"*:25\", \"[::1]:25\")", v);
    char host[INET6_ADDRSTRLEN + 3];
    size_t hlen = (size_t)(colon - v);
    const char *h = v;
    bool bracketed = hlen >= 2 && v[0] == '[' && v[hlen - 1] == ']';
    if (bracketed) {
        h = v + 1;
        hlen -= 2;
    }
    if (hlen == 0 || hlen >= sizeof host)
        return conf_fail(ld, s, "\"%s\" has no valid address before the port", v);
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
        return conf_fail(ld, s, "\"%s\": port must be a number from 1 to 65535", v);

    unsigned char bytes[16];
    char canon[INET6_ADDRSTRLEN];
    if (strcmp(host, "*") == 0 && !bracketed) {
        snprintf(canon, sizeof canon, "*");
    } else if (bracketed) {
        if (inet_pton(AF_INET6, host, bytes) != 1 ||
            inet_ntop(AF_INET6, bytes, canon, sizeof canon) == NULL)
            return conf_fail(ld, s, "\"%s\": \"%s\" is not an IPv6 address", v, host);
    } else if (strchr(host, ':') != NULL) {
        return conf_fail(ld, s, "\"%s\": write an IPv6 address in brackets, \"[%s]:%lu\"", v, host,
                         port);
    } else if (inet_pton(AF_INET, host, bytes) != 1 ||
               inet_ntop(AF_INET, bytes, canon, sizeof canon) == NULL) {
        return conf_fail(
            ld, s, "\"%s\": \"%s\" is not an IPv4 address (host names are not allowed)", v, host);
    }
    out->host = strdup(canon);
    if (out->host == NULL)
        return conf_nomem(ld);
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

/* parse_unix_listen - an absolute path: a UNIX socket (lmtp only). The
 * path is used as written; only what cannot work is refused. */
static int parse_unix_listen(struct loader *ld, const config_setting_t *s, const char *v,
                             enum service_type type, struct config_listen *out)
{
    if (type != SERVICE_LMTP)
        return conf_fail(ld, s, "\"%s\": only an lmtp service listens on a UNIX socket", v);
    size_t len = strlen(v);
    if (len < 2 || len > UNIX_PATH_MAX || v[len - 1] == '/')
        return conf_fail(ld, s, "\"%s\": a UNIX socket path must name a file (at most %d octets)",
                         v, UNIX_PATH_MAX);
    for (const char *p = v; *p != '\0'; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return conf_fail(ld, s, "\"%s\": a control character in the path", v);
    }
    out->host = strdup(v);
    if (out->host == NULL)
        return conf_nomem(ld);
    out->port = 0;
    return 0;
}

/* parse_mode - "0660": an octal file mode of at most 0777. */
static int parse_mode(struct loader *ld, const config_setting_t *g, const char *name, unsigned *dst)
{
    const config_setting_t *s = conf_member(g, name);
    if (s == NULL)
        return 0;
    const char *v = config_setting_get_string(s);
    if (v == NULL)
        return conf_fail(ld, s, "must be an octal mode in quotes, e.g. \"0660\"");
    size_t len = strlen(v);
    bool ok = len >= 1 && len <= 4;
    for (size_t i = 0; i < len && ok; i++)
        ok = v[i] >= '0' && v[i] <= '7';
    unsigned long mode = ok ? strtoul(v, NULL, 8) : 0;
    if (!ok || mode > 0777)
        return conf_fail(ld, s, "\"%s\" must be an octal mode from \"0000\" to \"0777\"", v);
    *dst = (unsigned)mode;
    return 0;
}

void conf_service_clear(struct config_service *svc)
{
    free(svc->name);
    svc->name = NULL;
    conf_free_strings(&svc->trusted_networks, &svc->trusted_network_count);
    free(svc->socket_user);
    svc->socket_user = NULL;
    free(svc->socket_group);
    svc->socket_group = NULL;
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
    /* RFC 1939 3: a POP3 server's inactivity timer is at least 10 minutes;
     * RFC 3501 5.4: an IMAP server's at least 30 */
    svc->idle_timeout = svc->type == SERVICE_POP3 || svc->type == SERVICE_POP3S   ? 600
                        : svc->type == SERVICE_IMAP || svc->type == SERVICE_IMAPS ? 1800
                                                                                  : 300;
    svc->session_timeout = 3600;
    svc->data_timeout = 300;
    svc->data_min_rate = 1024;
    svc->data_rate_window = 30;
    svc->overload_threshold = 80;
    svc->overload_idle_timeout = 10;
    svc->overload_data_timeout = 60;
    svc->forbid_unauth_pipelining = true;
    svc->socket_mode = 0660;
}

/* service_listen_default - listen on the type's standard port; lmtp on
 * the UNIX socket <state_dir>/lmtp.sock (struct config_service says why). */
static int service_listen_default(struct loader *ld, const struct config *conf,
                                  struct config_service *svc)
{
    svc->listen = calloc(1, sizeof *svc->listen);
    if (svc->listen == NULL)
        return conf_nomem(ld);
    if (svc->type == SERVICE_LMTP) {
        svc->listen[0].host = config_state_path(conf, CONFIG_STATE_LMTP_SOCKET);
        svc->listen[0].port = 0;
    } else {
        svc->listen[0].host = strdup(service_default_listen[svc->type].host);
        svc->listen[0].port = service_default_listen[svc->type].port;
    }
    if (svc->listen[0].host == NULL)
        return conf_nomem(ld);
    svc->listen_count = 1;
    return 0;
}

/* load_service - one group of the services list. */
static int load_service(struct loader *ld, const struct config *conf, const config_setting_t *g,
                        struct config_service *svc)
{
    if (!config_setting_is_group(g))
        return conf_fail(ld, g, "must be a group { type = \"smtp\"; ... }");
    if (conf_check_known(ld, g, service_keys, "setting") < 0)
        return -1;
    const config_setting_t *t = conf_member(g, "type");
    if (t == NULL)
        return conf_fail(ld, g, "type is missing (one of: smtp, submission, ...)");
    unsigned type = 0;
    if (conf_get_enum(ld, g, "type", conf_service_type_names, COUNT(conf_service_type_names),
                      &type) < 0)
        return -1;
    svc->type = (enum service_type)type;
    service_defaults(svc);
    const config_setting_t *n = conf_member(g, "name");
    if (n != NULL) {
        if (conf_check_string(ld, n, STR_NONEMPTY) < 0)
            return -1;
        if (!name_ok(config_setting_get_string(n)))
            return conf_fail(ld, n, "must be 1 to 64 letters, digits, '-', '_' or '.'");
    }
    if (conf_replace_string(ld, &svc->name,
                            n != NULL ? config_setting_get_string(n)
                                      : conf_service_type_names[type]) < 0)
        return -1;
    if (conf_get_uint(ld, g, "max_connections", &svc->max_connections, 1, 100000) < 0 ||
        conf_get_uint(ld, g, "max_connections_per_ip", &svc->max_connections_per_ip, 1, 100000) <
            0 ||
        conf_get_uint(ld, g, "idle_timeout", &svc->idle_timeout, 1, 86400) < 0 ||
        conf_get_uint(ld, g, "session_timeout", &svc->session_timeout, 1, 604800) < 0 ||
        conf_get_uint(ld, g, "data_timeout", &svc->data_timeout, 1, 86400) < 0 ||
        conf_get_uint(ld, g, "data_min_rate", &svc->data_min_rate, 0, 1u << 30) < 0 ||
        conf_get_uint(ld, g, "data_rate_window", &svc->data_rate_window, 1, 3600) < 0 ||
        conf_get_uint(ld, g, "overload_threshold", &svc->overload_threshold, 0, 100) < 0 ||
        conf_get_uint(ld, g, "overload_idle_timeout", &svc->overload_idle_timeout, 1, 86400) < 0 ||
        conf_get_uint(ld, g, "overload_data_timeout", &svc->overload_data_timeout, 1, 86400) < 0 ||
        conf_get_bool(ld, g, "forbid_unauth_pipelining", &svc->forbid_unauth_pipelining) < 0)
        return -1;
    for (size_t k = 0; lmtp_only_keys[k] != NULL && svc->type != SERVICE_LMTP; k++) {
        const config_setting_t *only = conf_member(g, lmtp_only_keys[k]);
        if (only != NULL)
            return conf_fail(ld, only, "only an lmtp service has this setting");
    }
    if (conf_get_strings(ld, g, "trusted_networks", &svc->trusted_networks,
                         &svc->trusted_network_count, conf_cidr_check) < 0 ||
        conf_get_string(ld, g, "socket_user", &svc->socket_user, STR_NONEMPTY) < 0 ||
        conf_get_string(ld, g, "socket_group", &svc->socket_group, STR_NONEMPTY) < 0 ||
        parse_mode(ld, g, "socket_mode", &svc->socket_mode) < 0)
        return -1;

    const config_setting_t *l = conf_member(g, "listen");
    if (l == NULL)
        return service_listen_default(ld, conf, svc);
    int count = conf_string_items(ld, l);
    if (count < 0)
        return -1;
    if (count == 0)
        return conf_fail(ld, l, "must name at least one address");
    svc->listen = calloc((size_t)count, sizeof *svc->listen);
    if (svc->listen == NULL)
        return conf_nomem(ld);
    for (int i = 0; i < count; i++) {
        const config_setting_t *item = conf_string_item(l, i);
        const char *v = config_setting_get_string(item);
        if ((v[0] == '/' ? parse_unix_listen(ld, item, v, svc->type, &svc->listen[i])
                         : parse_listen(ld, item, v, &svc->listen[i])) < 0)
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
            return conf_fail(ld, conf_member(g, "type"),
                             "a %s service needs tls.cert_file and tls.key_file",
                             conf_service_type_names[a->type]);
        for (size_t j = 0; j < i; j++) {
            const struct config_service *b = &conf->services[j];
            if (strcmp(a->name, b->name) == 0) {
                const config_setting_t *at = conf_member(g, "name");
                return conf_fail(ld, at != NULL ? at : conf_member(g, "type"),
                                 "service name \"%s\" is already used by services.[%zu]%s", a->name,
                                 j, at != NULL ? "" : " (set a distinct name)");
            }
        }
        for (size_t k = 0; k < a->listen_count; k++) {
            const config_setting_t *ls = conf_member(g, "listen");
            const config_setting_t *item = ls != NULL ? conf_string_item(ls, (int)k) : g;
            for (size_t j = 0; j <= i; j++) {
                const struct config_service *b = &conf->services[j];
                size_t upto = j == i ? k : b->listen_count;
                for (size_t m = 0; m < upto; m++) {
                    if (listen_conflict(&a->listen[k], &b->listen[m]))
                        return conf_fail(
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

int conf_load_services(struct loader *ld, struct config *conf)
{
    const config_setting_t *list = config_lookup(&ld->cf, "services");
    if (list == NULL) {
        /* Like Postfix's stock master.cf: an MX on port 25 and nothing else. */
        conf->services = calloc(1, sizeof *conf->services);
        if (conf->services == NULL)
            return conf_nomem(ld);
        conf->service_count = 1;
        conf->services[0].type = SERVICE_SMTP;
        service_defaults(&conf->services[0]);
        if (conf_replace_string(ld, &conf->services[0].name, "smtp") < 0)
            return -1;
        return service_listen_default(ld, conf, &conf->services[0]);
    }
    if (!config_setting_is_list(list))
        return conf_fail(ld, list,
                         "must be a list of groups: services = ( { type = \"smtp\"; } );");
    int n = config_setting_length(list);
    if (n == 0)
        return conf_fail(ld, list, "must list at least one service");
    conf->services = calloc((size_t)n, sizeof *conf->services);
    if (conf->services == NULL)
        return conf_nomem(ld);
    for (int i = 0; i < n; i++) {
        conf->service_count++;
        if (load_service(ld, conf, config_setting_get_elem(list, (unsigned)i), &conf->services[i]) <
            0)
            return -1;
    }
    return check_services(ld, conf, list);
}

bool config_service_implicit_tls(enum service_type type)
{
    return type == SERVICE_SUBMISSIONS || type == SERVICE_POP3S || type == SERVICE_IMAPS;
}
