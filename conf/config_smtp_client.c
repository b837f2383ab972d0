/* conf/config_smtp_client.c - the smtp_client section: how the queue
 * runner's SMTP client reaches other nodes and next hops (smarthost, TLS
 * policy, timeouts, connection limits, DNS forwarders), its defaults and
 * their checks. */
#include "config.h"

#include "conf/config_internal.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

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
                                               NULL};

static const char *const tls_security_names[] = {
    [TLS_SECURITY_NONE] = "none",
    [TLS_SECURITY_MAY] = "may",
    [TLS_SECURITY_ENCRYPT] = "encrypt",
    [TLS_SECURITY_VERIFY] = "verify",
};

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

int conf_load_smtp_client(struct loader *ld, struct config *conf)
{
    int bad = 0;
    const config_setting_t *g = conf_section(ld, "smtp_client", smtp_client_keys, &bad);
    if (bad < 0)
        return -1;
    struct config_smtp_client *c = &conf->smtp_client;
    unsigned level = c->tls_security;
    if (conf_get_string(ld, g, "helo_name", &c->helo_name, STR_NONEMPTY) < 0 ||
        conf_get_string(ld, g, "relayhost", &c->relayhost, STR_NONEMPTY) < 0 ||
        conf_get_enum(ld, g, "tls_security", tls_security_names, COUNT(tls_security_names),
                      &level) < 0 ||
        conf_get_string(ld, g, "tls_ca_file", &c->tls_ca_file, STR_ABSPATH) < 0 ||
        conf_get_string(ld, g, "tls_verify_name", &c->tls_verify_name, STR_NONEMPTY) < 0 ||
        conf_get_uint(ld, g, "port", &c->port, 1, 65535) < 0 ||
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
        conf_get_strings(ld, g, "dns_forwarders", &c->dns_forwarders, &c->dns_forwarder_count,
                         forwarder_check) < 0)
        return -1;
    c->tls_security = (enum config_tls_security)level;
    const config_setting_t *rh = conf_member(g, "relayhost");
    if (rh != NULL && conf_next_hop_check(ld, rh) < 0)
        return -1;
    return 0;
}

void conf_free_smtp_client(struct config_smtp_client *c)
{
    free(c->helo_name);
    free(c->relayhost);
    free(c->tls_ca_file);
    free(c->tls_verify_name);
    conf_free_strings(&c->dns_forwarders, &c->dns_forwarder_count);
}
