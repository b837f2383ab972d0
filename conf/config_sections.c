/* conf/config_sections.c - the loaders of the plain sections: server, tls,
 * domains (with relay next hops), relay, queue, cache, delivery, limits,
 * sasl. The ldap section and the services list have files of their own. */
#include "config.h"

#include "conf/config_internal.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Kept as the string OpenSSL is given, so this loader's alone. */
static const char *const tls_protocol_names[] = {"TLSv1.2", "TLSv1.3"};

/* The settings each section knows; anything else is an error. */
static const char *const server_keys[] = {
    "hostname",  "user",    "group",          "pid_file",          "state_dir", "log",
    "log_level", "workers", "shutdown_grace", "restart_delay_max", NULL};
static const char *const relay_domain_keys[] = {"domain", "next_hop", "verify", NULL};
static const char *const tls_keys[] = {"cert_file",    "key_file", "ca_file",
                                       "min_protocol", "ciphers",  NULL};
static const char *const domains_keys[] = {"local", "relay", "from_directory", NULL};
static const char *const relay_keys[] = {"trusted_networks", "verify_positive_ttl",
                                         "verify_negative_ttl", "verify_timeout", NULL};
static const char *const queue_keys[] = {"max_age",          "delay_warning", "bounce_size_limit",
                                         "retry_min",        "retry_max",     "scan_interval",
                                         "delivery_threads", "min_free",      NULL};
static const char *const cache_keys[] = {"positive_ttl", "negative_ttl", "auth_ttl",
                                         "stale_ttl",    "size",         NULL};
static const char *const delivery_keys[] = {
    "mailbox_base",          "sync_method",           "quota_permanent",
    "sieve_before",          "sieve_after",           "default_folders",
    "quota_warning_percent", "quota_warning_message", NULL};

/* abspath_check - a file opened after the privilege drop: absolute. */
static int abspath_check(struct loader *ld, const config_setting_t *item, const char *value,
                         char *canon, size_t canon_size)
{
    if (value[0] != '/')
        return conf_fail(ld, item, "\"%s\": not an absolute path", value);
    if ((size_t)snprintf(canon, canon_size, "%s", value) >= canon_size)
        return conf_fail(ld, item, "\"%s\": path too long", value);
    return 0;
}

/* folder_check - a Maildir++ folder name (no "/", no leading, trailing or
 * doubled dot, no control byte). */
static int folder_check(struct loader *ld, const config_setting_t *item, const char *value,
                        char *canon, size_t canon_size)
{
    size_t len = strlen(value);
    bool ok = len > 0 && len < 200 && value[0] != '.' && value[len - 1] != '.' &&
              strstr(value, "..") == NULL && strcasecmp(value, "INBOX") != 0;
    for (const char *p = value; ok && *p != '\0'; p++)
        ok = (unsigned char)*p >= 0x20 && *p != 0x7f && *p != '/';
    if (!ok)
        return conf_fail(ld, item, "\"%s\": not a Maildir++ folder name", value);
    snprintf(canon, canon_size, "%s", value);
    return 0;
}
static const char *const managesieve_keys[] = {"max_scripts", "max_script_size", NULL};
static const char *const sieve_keys[] = {
    "max_redirects",   "max_actions", "max_nesting", "max_variables",
    "max_string_size", "max_steps",   NULL};

/* load_sieve - the sieve section. The upper bounds protect the process:
 * the parser recurses once per nesting level, a string is held whole, and
 * a run's steps are CPU time on a worker thread. */
static int load_sieve(struct loader *ld, const config_setting_t *g, struct config_sieve *s)
{
    long long string_size = 0, steps = 0;
    int string_got = conf_get_integer(ld, g, "max_string_size", 1024, 1 << 20, &string_size);
    int steps_got = conf_get_integer(ld, g, "max_steps", 1000, 1000000000, &steps);
    if (string_got < 0 || steps_got < 0 ||
        conf_get_uint(ld, g, "max_redirects", &s->max_redirects, 0, 64) < 0 ||
        conf_get_uint(ld, g, "max_actions", &s->max_actions, 1, 1024) < 0 ||
        conf_get_uint(ld, g, "max_nesting", &s->max_nesting, 1, 128) < 0 ||
        conf_get_uint(ld, g, "max_variables", &s->max_variables, 1, 4096) < 0)
        return -1;
    if (string_got > 0)
        s->max_string_size = (size_t)string_size;
    if (steps_got > 0)
        s->max_steps = (unsigned long long)steps;
    return 0;
}
static const char *const limits_keys[] = {"line_length",
                                          "text_line_length",
                                          "message_size",
                                          "recipients",
                                          "errors",
                                          "max_connections",
                                          "pregreet_wait",
                                          "pregreet_pass_ttl",
                                          "auth_failures",
                                          "auth_failure_window",
                                          "message_nul",
                                          "header_max_size",
                                          "header_max_count",
                                          "max_sessions_per_user",
                                          NULL};
static const char *const sasl_keys[] = {
    "mechanisms",         "allow_authzid",        "plaintext_without_tls",
    "sender_login_check", "authenticated_header", NULL};

int conf_load_server(struct loader *ld, struct config *conf)
{
    int bad = 0;
    const config_setting_t *g = conf_section(ld, "server", server_keys, &bad);
    if (bad < 0)
        return -1;
    struct config_server *sv = &conf->server;
    const config_setting_t *h = conf_member(g, "hostname");
    if (h != NULL) {
        char canon[256];
        if (conf_check_string(ld, h, STR_NONEMPTY) < 0 ||
            conf_domain_check(ld, h, config_setting_get_string(h), canon, sizeof canon) < 0 ||
            conf_replace_string(ld, &sv->hostname, canon) < 0)
            return -1;
    }
    unsigned target = sv->log_target, level = sv->log_level;
    if (conf_get_string(ld, g, "user", &sv->user, STR_NONEMPTY) < 0 ||
        conf_get_string(ld, g, "group", &sv->group, STR_NONEMPTY) < 0 ||
        conf_get_string(ld, g, "pid_file", &sv->pid_file, STR_ABSPATH) < 0 ||
        conf_get_string(ld, g, "state_dir", &sv->state_dir, STR_ABSPATH) < 0 ||
        conf_get_enum(ld, g, "log", conf_log_target_names, COUNT(conf_log_target_names), &target) <
            0 ||
        conf_get_enum(ld, g, "log_level", conf_log_level_names, COUNT(conf_log_level_names),
                      &level) < 0 ||
        conf_get_uint(ld, g, "workers", &sv->workers, 0, 256) < 0 ||
        conf_get_uint(ld, g, "shutdown_grace", &sv->shutdown_grace, 0, 3600) < 0 ||
        conf_get_uint(ld, g, "restart_delay_max", &sv->restart_delay_max, 100, 600000) < 0)
        return -1;
    sv->log_target = (enum log_target)target;
    sv->log_level = (enum log_level)level;
    return 0;
}

int conf_load_tls(struct loader *ld, struct config *conf)
{
    int bad = 0;
    const config_setting_t *g = conf_section(ld, "tls", tls_keys, &bad);
    if (bad < 0)
        return -1;
    struct config_tls *t = &conf->tls;
    unsigned proto = 0;
    if (conf_get_string(ld, g, "cert_file", &t->cert_file, STR_ABSPATH) < 0 ||
        conf_get_string(ld, g, "key_file", &t->key_file, STR_ABSPATH) < 0 ||
        conf_get_string(ld, g, "ca_file", &t->ca_file, STR_ABSPATH) < 0 ||
        conf_get_enum(ld, g, "min_protocol", tls_protocol_names, COUNT(tls_protocol_names),
                      &proto) < 0 ||
        conf_get_string(ld, g, "ciphers", &t->ciphers, STR_NONEMPTY) < 0)
        return -1;
    if (conf_member(g, "min_protocol") != NULL &&
        conf_replace_string(ld, &t->min_protocol, tls_protocol_names[proto]) < 0)
        return -1;
    if (t->cert_file != NULL && t->key_file == NULL)
        return conf_fail(ld, conf_member(g, "cert_file"), "tls.key_file must be set as well");
    if (t->key_file != NULL && t->cert_file == NULL)
        return conf_fail(ld, conf_member(g, "key_file"), "tls.cert_file must be set as well");
    return 0;
}

void conf_free_relay(struct config_domains *d)
{
    for (size_t i = 0; i < d->relay_count && d->relay_next_hop != NULL; i++)
        free(d->relay_next_hop[i]);
    free(d->relay_next_hop);
    d->relay_next_hop = NULL;
    free(d->relay_verify);
    d->relay_verify = NULL;
    conf_free_strings(&d->relay, &d->relay_count);
}

/* load_relay_domains - domains.relay: one domain, or a list whose items are
 * a domain or { domain = "..."; next_hop = "[mx.example]:25"; } (Postfix's
 * relay_domains and transport_maps in one place). */
static int load_relay_domains(struct loader *ld, const config_setting_t *g,
                              struct config_domains *d)
{
    const config_setting_t *s = conf_member(g, "relay");
    if (s == NULL)
        return 0;
    bool one = config_setting_type(s) == CONFIG_TYPE_STRING;
    if (!one && !config_setting_is_array(s) && !config_setting_is_list(s))
        return conf_fail(ld, s,
                         "must be a domain or a list ( \"a.example\", { domain = \"b.example\"; "
                         "next_hop = \"[mx.b.example]:25\"; } )");
    size_t n = one ? 1 : (size_t)config_setting_length(s);
    conf_free_relay(d);
    d->relay = calloc(n + 1, sizeof *d->relay);
    d->relay_next_hop = calloc(n + 1, sizeof *d->relay_next_hop);
    d->relay_verify = calloc(n + 1, sizeof *d->relay_verify);
    if (d->relay == NULL || d->relay_next_hop == NULL || d->relay_verify == NULL)
        return conf_nomem(ld);
    for (size_t i = 0; i < n; i++) {
        const config_setting_t *item = one ? s : config_setting_get_elem(s, (unsigned)i);
        const config_setting_t *dom = item, *hop = NULL, *verify = NULL;
        if (config_setting_is_group(item)) {
            if (conf_check_known(ld, item, relay_domain_keys, "setting") < 0)
                return -1;
            dom = conf_member(item, "domain");
            hop = conf_member(item, "next_hop");
            verify = conf_member(item, "verify");
            if (dom == NULL)
                return conf_fail(ld, item, "domain is missing");
        } else if (config_setting_type(item) != CONFIG_TYPE_STRING) {
            return conf_fail(ld, item,
                             "must be a domain or { domain = \"...\"; next_hop = \"...\"; }");
        }
        char canon[512];
        if (conf_check_string(ld, dom, STR_NONEMPTY) < 0 ||
            conf_domain_check(ld, dom, config_setting_get_string(dom), canon, sizeof canon) < 0)
            return -1;
        for (size_t j = 0; j < i; j++) {
            if (strcmp(d->relay[j], canon) == 0)
                return conf_fail(ld, dom, "\"%s\" is listed twice", config_setting_get_string(dom));
        }
        if (hop != NULL &&
            (conf_check_string(ld, hop, STR_NONEMPTY) < 0 || conf_next_hop_check(ld, hop) < 0))
            return -1;
        if (verify != NULL) {
            /* "none" (the default) or "next_hop": Postfix's
             * reject_unverified_recipient for a domain whose mailboxes are
             * not in the directory */
            const char *v = config_setting_type(verify) == CONFIG_TYPE_STRING
                                ? config_setting_get_string(verify)
                                : NULL;
            if (v == NULL || (strcmp(v, "none") != 0 && strcmp(v, "next_hop") != 0))
                return conf_fail(ld, verify, "must be \"none\" or \"next_hop\"");
            const char *h = hop != NULL ? config_setting_get_string(hop) : NULL;
            if (strcmp(v, "next_hop") == 0 && h != NULL && strncasecmp(h, "lmtp:", 5) == 0)
                return conf_fail(ld, verify, "an LMTP next hop cannot be verified");
            d->relay_verify[i] = strcmp(v, "next_hop") == 0;
        }
        if ((d->relay[i] = strdup(canon)) == NULL)
            return conf_nomem(ld);
        d->relay_count++;
        if (hop != NULL && (d->relay_next_hop[i] = strdup(config_setting_get_string(hop))) == NULL)
            return conf_nomem(ld);
    }
    return 0;
}

int conf_load_domains(struct loader *ld, struct config *conf)
{
    int bad = 0;
    const config_setting_t *g = conf_section(ld, "domains", domains_keys, &bad);
    if (bad < 0)
        return -1;
    struct config_domains *d = &conf->domains;
    if (conf_get_strings(ld, g, "local", &d->local, &d->local_count, conf_domain_check) < 0 ||
        load_relay_domains(ld, g, d) < 0 ||
        conf_get_bool(ld, g, "from_directory", &d->from_directory) < 0)
        return -1;
    for (size_t i = 0; i < d->relay_count; i++) {
        for (size_t j = 0; j < d->local_count; j++) {
            if (strcmp(d->relay[i], d->local[j]) == 0)
                return conf_fail(ld, conf_string_item(conf_member(g, "relay"), (int)i),
                                 "\"%s\" is also in domains.local", d->relay[i]);
        }
    }
    return 0;
}

/* conf_load_sasl - the sasl section. Which listed mechanisms Cyrus can actually
 * serve is decided by auth/sasl_server.c at startup, not here: conf does not
 * link Cyrus SASL. */
int conf_load_sasl(struct loader *ld, struct config *conf)
{
    int bad = 0;
    const config_setting_t *g = conf_section(ld, "sasl", sasl_keys, &bad);
    if (bad < 0)
        return -1;
    struct config_sasl *sa = &conf->sasl;
    if (conf_get_strings(ld, g, "mechanisms", &sa->mechanisms, &sa->mechanism_count,
                         conf_mechanism_check))
        return -1;
    if (conf_get_bool(ld, g, "allow_authzid", &sa->allow_authzid) < 0 ||
        conf_get_bool(ld, g, "plaintext_without_tls", &sa->plaintext_without_tls) < 0 ||
        conf_get_bool(ld, g, "sender_login_check", &sa->sender_login_check) < 0 ||
        conf_get_bool(ld, g, "authenticated_header", &sa->authenticated_header) < 0)
        return -1;
    return 0;
}

int conf_load_rest(struct loader *ld, struct config *conf)
{
    int bad = 0;
    const config_setting_t *relay = conf_section(ld, "relay", relay_keys, &bad);
    const config_setting_t *queue = conf_section(ld, "queue", queue_keys, &bad);
    const config_setting_t *cache = conf_section(ld, "cache", cache_keys, &bad);
    const config_setting_t *delivery = conf_section(ld, "delivery", delivery_keys, &bad);
    const config_setting_t *limits = conf_section(ld, "limits", limits_keys, &bad);
    const config_setting_t *msieve = conf_section(ld, "managesieve", managesieve_keys, &bad);
    const config_setting_t *sieve = conf_section(ld, "sieve", sieve_keys, &bad);
    if (bad < 0 || load_sieve(ld, sieve, &conf->sieve) < 0)
        return -1;
    struct config_relay *r = &conf->relay;
    if (conf_get_strings(ld, relay, "trusted_networks", &r->trusted_networks,
                         &r->trusted_network_count, conf_cidr_check) < 0 ||
        conf_get_uint(ld, relay, "verify_positive_ttl", &r->verify_positive_ttl, 1, 365 * 86400) <
            0 ||
        conf_get_uint(ld, relay, "verify_negative_ttl", &r->verify_negative_ttl, 1, 365 * 86400) <
            0 ||
        conf_get_uint(ld, relay, "verify_timeout", &r->verify_timeout, 1, 600) < 0)
        return -1;

    struct config_queue *q = &conf->queue;
    /* max_age and delay_warning from 1 second: below the retry times they
     * mean a single attempt, which a host that must never hold mail (and
     * a test of expiry) wants. */
    if (conf_get_uint(ld, queue, "max_age", &q->max_age, 1, 60 * 86400) < 0 ||
        conf_get_uint(ld, queue, "delay_warning", &q->delay_warning, 0, 60 * 86400) < 0 ||
        conf_get_uint(ld, queue, "bounce_size_limit", &q->bounce_size_limit, 0, 1u << 30) < 0 ||
        conf_get_uint(ld, queue, "retry_min", &q->retry_min, 1, 86400) < 0 ||
        conf_get_uint(ld, queue, "retry_max", &q->retry_max, 1, 86400) < 0 ||
        conf_get_uint(ld, queue, "scan_interval", &q->scan_interval, 1, 3600) < 0 ||
        conf_get_uint(ld, queue, "delivery_threads", &q->delivery_threads, 1, 64) < 0)
        return -1;
    /* Checked against limits.message_size below, once that is read. */
    long long min_free = 0;
    int min_free_got = conf_get_integer(ld, queue, "min_free", 0, (long long)1 << 50, &min_free);
    if (min_free_got < 0)
        return -1;
    if (q->retry_max < q->retry_min)
        return conf_fail(ld,
                         conf_member(queue, "retry_max") ? conf_member(queue, "retry_max")
                                                         : conf_member(queue, "retry_min"),
                         "queue.retry_max (%u) must not be less than queue.retry_min (%u)",
                         q->retry_max, q->retry_min);

    unsigned sync_method = conf->delivery.sync_method;
    if (conf_get_string(ld, delivery, "mailbox_base", &conf->delivery.mailbox_base, STR_ABSPATH) <
            0 ||
        conf_get_enum(ld, delivery, "sync_method", conf_delivery_sync_names,
                      COUNT(conf_delivery_sync_names), &sync_method) < 0 ||
        conf_get_bool(ld, delivery, "quota_permanent", &conf->delivery.quota_permanent) < 0 ||
        conf_get_strings(ld, delivery, "sieve_before", &conf->delivery.sieve_before,
                         &conf->delivery.sieve_before_count, abspath_check) < 0 ||
        conf_get_strings(ld, delivery, "sieve_after", &conf->delivery.sieve_after,
                         &conf->delivery.sieve_after_count, abspath_check) < 0 ||
        conf_get_strings(ld, delivery, "default_folders", &conf->delivery.default_folders,
                         &conf->delivery.default_folder_count, folder_check) < 0 ||
        conf_get_uint(ld, delivery, "quota_warning_percent", &conf->delivery.quota_warning_percent,
                      0, 100) < 0 ||
        conf_get_string(ld, delivery, "quota_warning_message",
                        &conf->delivery.quota_warning_message, STR_ABSPATH) < 0)
        return -1;
    conf->delivery.sync_method = (enum config_delivery_sync)sync_method;

    /* A script is compiled whole in memory: the Sieve engine's own limit
     * (1 MiB, delivery/sieve) caps it. */
    long long script_size = 0;
    int script_got = conf_get_integer(ld, msieve, "max_script_size", 1, 1 << 20, &script_size);
    if (script_got < 0 ||
        conf_get_uint(ld, msieve, "max_scripts", &conf->managesieve.max_scripts, 1, 10000) < 0)
        return -1;
    if (script_got > 0)
        conf->managesieve.max_script_size = (size_t)script_size;

    struct config_cache *c = &conf->cache;
    if (conf_get_uint(ld, cache, "positive_ttl", &c->positive_ttl, 0, 86400) < 0 ||
        conf_get_uint(ld, cache, "negative_ttl", &c->negative_ttl, 0, 86400) < 0 ||
        conf_get_uint(ld, cache, "auth_ttl", &c->auth_ttl, 0, 3600) < 0 ||
        conf_get_uint(ld, cache, "stale_ttl", &c->stale_ttl, 0, 7 * 86400) < 0 ||
        conf_get_uint(ld, cache, "size", &c->size, 0, 10000000) < 0)
        return -1;

    struct config_limits *lim = &conf->limits;
    long long size = 0;
    /* RFC 5321 4.5.3.1.4: a command line is at least 512 octets; 4.5.3.1.6: a
     * text line is at least 1000 octets. Smaller limits break conforming clients. */
    if (conf_get_uint(ld, limits, "line_length", &lim->line_length, 512, 65536) < 0 ||
        conf_get_uint(ld, limits, "text_line_length", &lim->text_line_length, 1000, 1048576) < 0 ||
        conf_get_uint(ld, limits, "recipients", &lim->recipients, 100, 100000) < 0 ||
        conf_get_uint(ld, limits, "errors", &lim->errors, 1, 1000) < 0 ||
        conf_get_uint(ld, limits, "max_connections", &lim->max_connections, 1, 1000000) < 0 ||
        conf_get_uint(ld, limits, "pregreet_wait", &lim->pregreet_wait, 0, 30000) < 0 ||
        conf_get_uint(ld, limits, "pregreet_pass_ttl", &lim->pregreet_pass_ttl, 0, 30 * 86400) <
            0 ||
        conf_get_uint(ld, limits, "auth_failures", &lim->auth_failures, 0, 100000) < 0 ||
        conf_get_uint(ld, limits, "auth_failure_window", &lim->auth_failure_window, 1, 86400) < 0 ||
        conf_get_uint(ld, limits, "max_sessions_per_user", &lim->max_sessions_per_user, 0, 100000) <
            0 ||
        conf_get_uint(ld, limits, "header_max_count", &lim->header_max_count, 10, 1000000) < 0)
        return -1;
    int got = conf_get_integer(ld, limits, "message_size", 1024, (long long)1 << 40, &size);
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
        return conf_fail(ld, conf_member(queue, "min_free"),
                         "queue.min_free (%lld) must be 0 or at least limits.message_size (%zu)",
                         min_free, lim->message_size);
    else
        q->min_free = (uint64_t)min_free;
    /* 1 KiB at least: a usual message's trace and origin fields take that */
    got = conf_get_integer(ld, limits, "header_max_size", 1024, (long long)1 << 40, &size);
    if (got < 0)
        return -1;
    if (got > 0)
        lim->header_max_size = (size_t)size;
    unsigned nul = lim->message_nul;
    if (conf_get_enum(ld, limits, "message_nul", conf_message_nul_names,
                      COUNT(conf_message_nul_names), &nul) < 0)
        return -1;
    lim->message_nul = (enum config_message_nul)nul;
    return 0;
}
