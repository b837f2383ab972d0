/* conf/config_smtp_client.c - the smtp_client section: how the queue
 * runner's SMTP client reaches other nodes and next hops (smarthost, TLS
 * policy, timeouts, connection limits, DNS forwarders), its defaults and
 * their checks. */
#include "config.h"

#include "conf/config_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const smtp_client_keys[] = {"helo_name",
                                               "relayhost",
                                               "tls_security",
                                               "tls_ca_file",
                                               "tls_verify_name",
                                               "port",
                                               "connect_timeout",
                                               "helo_timeout",
                                               "mail_timeout",
                                               "rcpt_timeout",
                                               "data_timeout",
                                               "data_done_timeout",
                                               "quit_timeout",
                                               "idle_time",
                                               "max_connections",
                                               "destination_connections",
                                               "destination_backoff",
                                               "dns_forwarders",
                                               "destinations",
                                               "hop_limit",
                                               "node_protocol",
                                               "lmtp_port",
                                               NULL};

static const char *const destination_keys[] = {
    "match",     "tls_security",       "tls_ca_file", "tls_verify_name",
    "auth_user", "auth_password_file", NULL};

static const char *const tls_security_names[] = {
    [TLS_SECURITY_NONE] = "none",
    [TLS_SECURITY_MAY] = "may",
    [TLS_SECURITY_ENCRYPT] = "encrypt",
    [TLS_SECURITY_VERIFY] = "verify",
};

static const char *const node_protocol_names[] = {"smtp", "lmtp"};

const char *config_tls_security_name(enum config_tls_security level)
{
    return (unsigned)level < COUNT(tls_security_names) ? tls_security_names[level] : "?";
}

/* The defaults are Postfix's smtp_*_timeout values (RFC 5321 4.5.3.2 asks
 * for at least 5 minutes for MAIL and RCPT, 2 for DATA, 3 per data block,
 * 10 for the final dot; 30 s to connect is Postfix's smtp_connect_timeout). */
void conf_smtp_client_defaults(struct config_smtp_client *c)
{
    c->tls_security = TLS_SECURITY_MAY;
    c->port = 25;
    c->lmtp_port = 24; /* Postfix's lmtp(8) default */
    c->connect_timeout = 30;
    c->helo_timeout = 300;
    c->mail_timeout = 300;
    c->rcpt_timeout = 300;
    c->data_timeout = 180;
    c->data_done_timeout = 600;
    c->quit_timeout = 300;
    c->idle_time = 5;
    c->max_connections = 100;
    c->destination_connections = 20;
    c->destination_backoff = 60;
    c->hop_limit = 50;
}

/* forwarder_check - "ADDRESS" or "ADDRESS@PORT" (libunbound's
 * ub_ctx_set_fwd form), ADDRESS an IPv4 or IPv6 literal. */
static int forwarder_check(struct loader *ld, const config_setting_t *item, const char *value,
                           char *canon, size_t canon_size)
{
    char addr[64];
    const char *at = strchr(value, '@');
    size_t len = at != NULL ? (size_t)(at - value) : strlen(value);
    unsigned char bytes[16];
    if (len == 0 || len >= sizeof addr)
        return conf_fail(ld, item, "\"%s\": not an address (write \"127.0.0.1@53\")", value);
    memcpy(addr, value, len);
    addr[len] = '\0';
    if (inet_pton(AF_INET, addr, bytes) != 1 && inet_pton(AF_INET6, addr, bytes) != 1)
        return conf_fail(ld, item, "\"%s\": \"%s\" is not an IP address", value, addr);
    if (at != NULL) {
        char *end = NULL;
        unsigned long port = strtoul(at + 1, &end, 10);
        if (at[1] == '\0' || *end != '\0' || port < 1 || port > 65535)
            return conf_fail(ld, item, "\"%s\": port must be a number from 1 to 65535", value);
    }
    if (strlen(value) >= canon_size)
        return conf_fail(ld, item, "\"%s\": too long", value);
    memcpy(canon, value, strlen(value) + 1);
    return 0;
}

/* read_password - the first line of the file at path, which only its owner
 * may read (a password readable by others is a configuration error, as
 * ssh refuses a key others can read). Read here, by the master as root,
 * before any process drops its privileges. 0, or -1 (error recorded). */
static int read_password(struct loader *ld, const config_setting_t *s, const char *path,
                         char **password_r)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    /* dirmailctl and dirmail-deliver, run as a user, read the same file
     * and never relay: for them the password is no concern of theirs. */
    if (fd < 0 && errno == EACCES && geteuid() != 0)
        return 0;
    if (fd < 0)
        return conf_fail(ld, s, "%s: %s", path, strerror(errno));
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return conf_fail(ld, s, "%s: not a regular file", path);
    }
    if ((st.st_mode & 077) != 0) {
        close(fd);
        return conf_fail(ld, s, "%s: readable by others (mode %03o): chmod 600 it", path,
                         (unsigned)(st.st_mode & 0777));
    }
    char buf[1024];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n < 0)
        return conf_fail(ld, s, "%s: %s", path, strerror(errno));
    buf[n] = '\0';
    size_t len = strcspn(buf, "\r\n");
    if (len == 0 || (size_t)n == sizeof buf - 1)
        return conf_fail(ld, s, "%s: the first line must be the password (at most 1000 octets)",
                         path);
    buf[len] = '\0';
    *password_r = strdup(buf);
    explicit_bzero(buf, sizeof buf);
    return *password_r != NULL ? 0 : conf_nomem(ld);
}

/* load_destinations - smtp_client.destinations: a list of
 * { match = "..."; tls_security = "..."; ... }. */
static int load_destinations(struct loader *ld, const config_setting_t *g,
                             struct config_smtp_client *c)
{
    const config_setting_t *s = conf_member(g, "destinations");
    if (s == NULL)
        return 0;
    if (!config_setting_is_list(s))
        return conf_fail(ld, s,
                         "must be a list ( { match = \"exchange.example.org\"; "
                         "tls_security = \"verify\"; } )");
    size_t n = (size_t)config_setting_length(s);
    c->destinations = calloc(n + 1, sizeof *c->destinations);
    if (c->destinations == NULL)
        return conf_nomem(ld);
    for (size_t i = 0; i < n; i++) {
        const config_setting_t *item = config_setting_get_elem(s, (unsigned)i);
        struct config_smtp_destination *d = &c->destinations[i];
        c->destination_count++;
        d->tls_security = c->tls_security;
        unsigned level = d->tls_security;
        if (!config_setting_is_group(item))
            return conf_fail(ld, item, "must be { match = \"...\"; ... }");
        if (conf_check_known(ld, item, destination_keys, "setting") < 0 ||
            conf_get_string(ld, item, "match", &d->match, STR_NONEMPTY) < 0 ||
            conf_get_enum(ld, item, "tls_security", tls_security_names, COUNT(tls_security_names),
                          &level) < 0 ||
            conf_get_string(ld, item, "tls_ca_file", &d->tls_ca_file, STR_ABSPATH) < 0 ||
            conf_get_string(ld, item, "tls_verify_name", &d->tls_verify_name, STR_NONEMPTY) < 0 ||
            conf_get_string(ld, item, "auth_user", &d->auth_user, STR_NONEMPTY) < 0 ||
            conf_get_string(ld, item, "auth_password_file", &d->auth_password_file, STR_ABSPATH) <
                0)
            return -1;
        d->tls_security = (enum config_tls_security)level;
        if (d->match == NULL)
            return conf_fail(ld, item, "match is missing");
        for (size_t j = 0; j < i; j++) {
            if (strcasecmp(c->destinations[j].match, d->match) == 0)
                return conf_fail(ld, item, "\"%s\" is listed twice", d->match);
        }
        if ((d->auth_user == NULL) != (d->auth_password_file == NULL))
            return conf_fail(ld, item, "auth_user and auth_password_file go together");
        /* RFC 4954 4: PLAIN and LOGIN send the password as it is, so
         * only over TLS, and a "may" connection can end up in clear. */
        if (d->auth_user != NULL && d->tls_security != TLS_SECURITY_ENCRYPT &&
            d->tls_security != TLS_SECURITY_VERIFY)
            return conf_fail(ld, item,
                             "AUTH needs tls_security \"encrypt\" or \"verify\": "
                             "the password is never sent in clear");
        if (d->auth_password_file != NULL &&
            read_password(ld, conf_member(item, "auth_password_file"), d->auth_password_file,
                          &d->auth_password) < 0)
            return -1;
    }
    return 0;
}

/* verify_policy_check - recipient verification probes in clear
 * (gateway/recipient_verify.c): a relay domain may use it only when its
 * next hop's TLS policy allows clear text. */
static int verify_policy_check(struct loader *ld, const struct config *conf)
{
    const struct config_domains *d = &conf->domains;
    const struct config_smtp_client *c = &conf->smtp_client;
    for (size_t i = 0; d->relay_verify != NULL && i < d->relay_count; i++) {
        if (!d->relay_verify[i])
            continue;
        /* destinations match the next hop as written, or the domain for MX */
        const char *name = d->relay_next_hop[i] != NULL ? d->relay_next_hop[i] : d->relay[i];
        const struct config_smtp_destination *row = config_smtp_destination_find(c, name);
        enum config_tls_security level = row != NULL ? row->tls_security : c->tls_security;
        if (level == TLS_SECURITY_ENCRYPT || level == TLS_SECURITY_VERIFY)
            return conf_fail(ld, conf_member(config_root_setting(&ld->cf), "domains"),
                             "relay domain %s: verify = \"next_hop\" probes in clear, but its "
                             "next hop's tls_security is %s",
                             d->relay[i], config_tls_security_name(level));
    }
    return 0;
}

int conf_load_smtp_client(struct loader *ld, struct config *conf)
{
    int bad = 0;
    const config_setting_t *g = conf_section(ld, "smtp_client", smtp_client_keys, &bad);
    if (bad < 0)
        return -1;
    struct config_smtp_client *c = &conf->smtp_client;
    unsigned level = c->tls_security, node_protocol = c->node_protocol_lmtp ? 1 : 0;
    if (conf_get_string(ld, g, "helo_name", &c->helo_name, STR_NONEMPTY) < 0 ||
        conf_get_string(ld, g, "relayhost", &c->relayhost, STR_NONEMPTY) < 0 ||
        conf_get_enum(ld, g, "tls_security", tls_security_names, COUNT(tls_security_names),
                      &level) < 0 ||
        conf_get_string(ld, g, "tls_ca_file", &c->tls_ca_file, STR_ABSPATH) < 0 ||
        conf_get_string(ld, g, "tls_verify_name", &c->tls_verify_name, STR_NONEMPTY) < 0 ||
        conf_get_uint(ld, g, "port", &c->port, 1, 65535) < 0 ||
        conf_get_uint(ld, g, "lmtp_port", &c->lmtp_port, 1, 65535) < 0 ||
        conf_get_uint(ld, g, "connect_timeout", &c->connect_timeout, 1, 3600) < 0 ||
        conf_get_uint(ld, g, "helo_timeout", &c->helo_timeout, 1, 3600) < 0 ||
        conf_get_uint(ld, g, "mail_timeout", &c->mail_timeout, 1, 3600) < 0 ||
        conf_get_uint(ld, g, "rcpt_timeout", &c->rcpt_timeout, 1, 3600) < 0 ||
        conf_get_uint(ld, g, "data_timeout", &c->data_timeout, 1, 3600) < 0 ||
        conf_get_uint(ld, g, "data_done_timeout", &c->data_done_timeout, 1, 3600) < 0 ||
        conf_get_uint(ld, g, "quit_timeout", &c->quit_timeout, 1, 3600) < 0 ||
        conf_get_uint(ld, g, "idle_time", &c->idle_time, 0, 3600) < 0 ||
        conf_get_uint(ld, g, "max_connections", &c->max_connections, 1, 10000) < 0 ||
        conf_get_uint(ld, g, "destination_connections", &c->destination_connections, 1, 10000) <
            0 ||
        conf_get_uint(ld, g, "destination_backoff", &c->destination_backoff, 0, 86400) < 0 ||
        conf_get_uint(ld, g, "hop_limit", &c->hop_limit, 1, 1000) < 0 ||
        conf_get_enum(ld, g, "node_protocol", node_protocol_names, COUNT(node_protocol_names),
                      &node_protocol) < 0 ||
        conf_get_strings(ld, g, "dns_forwarders", &c->dns_forwarders, &c->dns_forwarder_count,
                         forwarder_check) < 0)
        return -1;
    c->tls_security = (enum config_tls_security)level;
    c->node_protocol_lmtp = node_protocol == 1;
    const config_setting_t *rh = conf_member(g, "relayhost");
    if (rh != NULL && conf_next_hop_check(ld, rh) < 0)
        return -1;
    if (load_destinations(ld, g, c) < 0)
        return -1;
    return verify_policy_check(ld, conf);
}

void conf_free_smtp_client(struct config_smtp_client *c)
{
    free(c->helo_name);
    free(c->relayhost);
    free(c->tls_ca_file);
    free(c->tls_verify_name);
    conf_free_strings(&c->dns_forwarders, &c->dns_forwarder_count);
    for (size_t i = 0; i < c->destination_count; i++) {
        struct config_smtp_destination *d = &c->destinations[i];
        free(d->match);
        free(d->tls_ca_file);
        free(d->tls_verify_name);
        free(d->auth_user);
        if (d->auth_password != NULL)
            explicit_bzero(d->auth_password, strlen(d->auth_password));
        free(d->auth_password);
        free(d->auth_password_file);
    }
    free(c->destinations);
    c->destinations = NULL;
    c->destination_count = 0;
}

const struct config_smtp_destination *
config_smtp_destination_find(const struct config_smtp_client *c, const char *name)
{
    for (size_t i = 0; i < c->destination_count; i++) {
        if (strcasecmp(c->destinations[i].match, name) == 0)
            return &c->destinations[i];
    }
    return NULL;
}
