/* conf/config_proxy.c - the proxy section: how a front node logs a POP3 or
 * IMAP user in on the node that holds their mailbox (ports, TLS, the CA,
 * timeouts) and which front nodes a back node trusts with that login
 * (identity, shared secret, networks); doc/proxy.md. */
#include "config.h"

#include "conf/config_internal.h"

#include <stdlib.h>
#include <string.h>

static const char *const proxy_keys[] = {"identity",     "secret", "trusted_networks", "pop3_port",
                                         "imap_port",    "tls",    "ca_file",          "timeout",
                                         "idle_timeout", NULL};

static const char *const proxy_tls_names[] = {
    [PROXY_TLS_STARTTLS] = "starttls",
    [PROXY_TLS_IMPLICIT] = "implicit",
    [PROXY_TLS_NONE] = "none",
};

/* The shortest secret accepted: 128 bits written as hex. */
#define PROXY_SECRET_MIN 32

const char *config_proxy_tls_name(enum config_proxy_tls tls)
{
    return (unsigned)tls < COUNT(proxy_tls_names) ? proxy_tls_names[tls] : "?";
}

void conf_proxy_defaults(struct config_proxy *c)
{
    c->pop3_port = 110;
    c->imap_port = 143;
    c->tls = PROXY_TLS_STARTTLS;
    c->timeout = 30;
    c->idle_timeout = 1800; /* RFC 3501 5.4: at least 30 minutes of IMAP inactivity */
}

/* token_ok - a word without space or control octet: the proxy login's
 * password is "SECRET ip=ADDR port=N" (doc/proxy.md), so neither the
 * identity nor the secret may hold a space. */
static bool token_ok(const char *v)
{
    for (const unsigned char *p = (const unsigned char *)v; *p != '\0'; p++) {
        if (*p <= 0x20 || *p == 0x7f)
            return false;
    }
    return v[0] != '\0';
}

int conf_load_proxy(struct loader *ld, struct config *conf)
{
    int bad = 0;
    const config_setting_t *g = conf_section(ld, "proxy", proxy_keys, &bad);
    if (bad < 0)
        return -1;
    struct config_proxy *c = &conf->proxy;
    if (conf_replace_string(ld, &c->identity, "dirmail-proxy") < 0)
        return -1;
    unsigned tls = c->tls;
    if (conf_get_string(ld, g, "identity", &c->identity, STR_NONEMPTY) < 0 ||
        conf_get_string(ld, g, "secret", &c->secret, STR_NONEMPTY) < 0 ||
        conf_get_strings(ld, g, "trusted_networks", &c->trusted_networks, &c->trusted_network_count,
                         conf_cidr_check) < 0 ||
        conf_get_uint(ld, g, "pop3_port", &c->pop3_port, 1, 65535) < 0 ||
        conf_get_uint(ld, g, "imap_port", &c->imap_port, 1, 65535) < 0 ||
        conf_get_enum(ld, g, "tls", proxy_tls_names, COUNT(proxy_tls_names), &tls) < 0 ||
        conf_get_string(ld, g, "ca_file", &c->ca_file, STR_ABSPATH) < 0 ||
        conf_get_uint(ld, g, "timeout", &c->timeout, 1, 3600) < 0 ||
        conf_get_uint(ld, g, "idle_timeout", &c->idle_timeout, 1, 86400) < 0)
        return -1;
    c->tls = (enum config_proxy_tls)tls;
    if (!token_ok(c->identity))
        return conf_fail(ld, conf_member(g, "identity"), "must be one word without spaces");
    if (c->secret != NULL && (!token_ok(c->secret) || strlen(c->secret) < PROXY_SECRET_MIN))
        return conf_fail(ld, conf_member(g, "secret"),
                         "must be one word of at least %d characters (openssl rand -hex 32)",
                         PROXY_SECRET_MIN);
    if (c->secret != NULL && strlen(c->secret) > 128)
        return conf_fail(ld, conf_member(g, "secret"), "must be at most 128 characters");
    return 0;
}

void conf_free_proxy(struct config_proxy *c)
{
    free(c->identity);
    if (c->secret != NULL) {
        explicit_bzero(c->secret, strlen(c->secret));
        free(c->secret);
    }
    conf_free_strings(&c->trusted_networks, &c->trusted_network_count);
    free(c->ca_file);
}
