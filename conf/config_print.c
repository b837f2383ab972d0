/* conf/config_print.c - config_print: the effective configuration, every
 * setting with its default filled in, written in dirmail.conf syntax for
 * dirmaild --check-config; the bind password shows as "<hidden>". */
#include "config.h"

#include "conf/config_internal.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

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
        hops =
            hops || d->relay_next_hop[i] != NULL || (d->relay_verify != NULL && d->relay_verify[i]);
    if (!hops) {
        print_list(out, indent, "relay", d->relay, d->relay_count);
        return;
    }
    fprintf(out, "%srelay = (", indent);
    for (size_t i = 0; i < d->relay_count; i++) {
        bool verify = d->relay_verify != NULL && d->relay_verify[i];
        fputs(i > 0 ? ", " : " ", out);
        if (d->relay_next_hop[i] == NULL && !verify) {
            print_quoted(out, d->relay[i]);
            continue;
        }
        fputs("{ domain = ", out);
        print_quoted(out, d->relay[i]);
        if (d->relay_next_hop[i] != NULL) {
            fputs("; next_hop = ", out);
            print_quoted(out, d->relay_next_hop[i]);
        }
        if (verify)
            fputs("; verify = \"next_hop\"", out);
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
    print_str(out, in, "log", conf_log_target_names[sv->log_target], "");
    print_str(out, in, "log_level", conf_log_level_names[sv->log_level], "");
    print_uint(out, in, "workers", sv->workers);
    print_uint(out, in, "shutdown_grace", sv->shutdown_grace);
    print_uint(out, in, "restart_delay_max", sv->restart_delay_max);
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
    print_str(out, in, "starttls", conf_starttls_names[l->starttls], "");
    print_str(out, in, "ca_file", l->ca_file, "the system's trusted CAs");
    print_bool(out, in, "verify_cert", l->verify_cert);
    print_str(out, in, "subaddress_delimiter", l->subaddress_delimiter, "");
    print_bool(out, in, "case_sensitive_local_part", l->case_sensitive_local_part);
    print_str(out, in, "disabled_policy", conf_disabled_policy_names[l->disabled_policy], "");
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
        print_str(out, in2, "type", conf_service_type_names[svc->type], "");
        print_str(out, in2, "name", svc->name, "");
        fprintf(out, "%slisten = [", in2);
        for (size_t k = 0; k < svc->listen_count; k++) {
            const struct config_listen *li = &svc->listen[k];
            bool v6 = strchr(li->host, ':') != NULL;
            if (config_listen_is_unix(li))
                fprintf(out, "%s\"%s\"", k > 0 ? ", " : " ", li->host);
            else
                fprintf(out, "%s\"%s%s%s:%u\"", k > 0 ? ", " : " ", v6 ? "[" : "", li->host,
                        v6 ? "]" : "", li->port);
        }
        fputs(" ];\n", out);
        if (svc->type == SERVICE_LMTP) {
            print_list(out, in2, "trusted_networks", svc->trusted_networks,
                       svc->trusted_network_count);
            print_str(out, in2, "socket_user", svc->socket_user, "server.user");
            print_str(out, in2, "socket_group", svc->socket_group, "server.group");
            fprintf(out, "%ssocket_mode = \"%04o\";\n", in2, svc->socket_mode);
        }
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
    print_uint(out, in, "verify_positive_ttl", conf->relay.verify_positive_ttl);
    print_uint(out, in, "verify_negative_ttl", conf->relay.verify_negative_ttl);
    print_uint(out, in, "verify_timeout", conf->relay.verify_timeout);
    fputs("};\n\nqueue = {\n", out);
    print_uint(out, in, "max_age", conf->queue.max_age);
    print_uint(out, in, "delay_warning", conf->queue.delay_warning);
    print_uint(out, in, "bounce_size_limit", conf->queue.bounce_size_limit);
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
    print_str(out, in, "sync_method", conf_delivery_sync_names[conf->delivery.sync_method], "");
    print_bool(out, in, "quota_permanent", conf->delivery.quota_permanent);
    print_list(out, in, "sieve_before", conf->delivery.sieve_before,
               conf->delivery.sieve_before_count);
    print_list(out, in, "sieve_after", conf->delivery.sieve_after,
               conf->delivery.sieve_after_count);
    print_list(out, in, "default_folders", conf->delivery.default_folders,
               conf->delivery.default_folder_count);
    print_uint(out, in, "quota_warning_percent", conf->delivery.quota_warning_percent);
    print_str(out, in, "quota_warning_message", conf->delivery.quota_warning_message, "");
    fputs("};\n\nmanagesieve = {\n", out);
    print_uint(out, in, "max_scripts", conf->managesieve.max_scripts);
    print_uint(out, in, "max_script_size", conf->managesieve.max_script_size);
    fputs("};\n\nsieve = {\n", out);
    print_uint(out, in, "max_redirects", conf->sieve.max_redirects);
    print_uint(out, in, "max_actions", conf->sieve.max_actions);
    print_uint(out, in, "max_nesting", conf->sieve.max_nesting);
    print_uint(out, in, "max_variables", conf->sieve.max_variables);
    print_uint(out, in, "max_string_size", conf->sieve.max_string_size);
    print_uint(out, in, "max_steps", conf->sieve.max_steps);
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
    print_uint(out, in, "max_sessions_per_user", lim->max_sessions_per_user);
    print_str(out, in, "message_nul", conf_message_nul_names[lim->message_nul], "");
    print_uint(out, in, "header_max_size", lim->header_max_size);
    print_uint(out, in, "header_max_count", lim->header_max_count);
    fputs("};\n\nsasl = {\n", out);
    print_list(out, in, "mechanisms", conf->sasl.mechanisms, conf->sasl.mechanism_count);
    print_bool(out, in, "allow_authzid", conf->sasl.allow_authzid);
    print_bool(out, in, "plaintext_without_tls", conf->sasl.plaintext_without_tls);
    print_bool(out, in, "sender_login_check", conf->sasl.sender_login_check);
    print_bool(out, in, "authenticated_header", conf->sasl.authenticated_header);
    fputs("};\n\nsmtp_client = {\n", out);
    const struct config_smtp_client *sc = &conf->smtp_client;
    print_str(out, in, "helo_name", sc->helo_name, "server.hostname");
    print_str(out, in, "relayhost", sc->relayhost, "MX lookup");
    print_str(out, in, "node_protocol", sc->node_protocol_lmtp ? "lmtp" : "smtp", "");
    print_str(out, in, "tls_security", config_tls_security_name(sc->tls_security), "");
    print_str(out, in, "tls_ca_file", sc->tls_ca_file, "the system's store");
    print_str(out, in, "tls_verify_name", sc->tls_verify_name, "the next hop's host name");
    print_uint(out, in, "port", sc->port);
    print_uint(out, in, "lmtp_port", sc->lmtp_port);
    print_uint(out, in, "connect_timeout", sc->connect_timeout);
    print_uint(out, in, "helo_timeout", sc->helo_timeout);
    print_uint(out, in, "mail_timeout", sc->mail_timeout);
    print_uint(out, in, "rcpt_timeout", sc->rcpt_timeout);
    print_uint(out, in, "data_timeout", sc->data_timeout);
    print_uint(out, in, "data_done_timeout", sc->data_done_timeout);
    print_uint(out, in, "quit_timeout", sc->quit_timeout);
    print_uint(out, in, "idle_time", sc->idle_time);
    print_uint(out, in, "max_connections", sc->max_connections);
    print_uint(out, in, "destination_connections", sc->destination_connections);
    print_uint(out, in, "destination_backoff", sc->destination_backoff);
    print_uint(out, in, "hop_limit", sc->hop_limit);
    print_list(out, in, "dns_forwarders", sc->dns_forwarders, sc->dns_forwarder_count);
    if (sc->destination_count > 0) {
        /* the password stays in its file: only the file's name is shown */
        fprintf(out, "%sdestinations = (\n", in);
        for (size_t i = 0; i < sc->destination_count; i++) {
            const struct config_smtp_destination *d = &sc->destinations[i];
            fprintf(out, "%s%s{ match = ", in, in);
            print_quoted(out, d->match);
            fprintf(out, "; tls_security = \"%s\";", config_tls_security_name(d->tls_security));
            if (d->tls_ca_file != NULL) {
                fputs(" tls_ca_file = ", out);
                print_quoted(out, d->tls_ca_file);
                fputc(';', out);
            }
            if (d->tls_verify_name != NULL) {
                fputs(" tls_verify_name = ", out);
                print_quoted(out, d->tls_verify_name);
                fputc(';', out);
            }
            if (d->auth_user != NULL) {
                fputs(" auth_user = ", out);
                print_quoted(out, d->auth_user);
                fputs("; auth_password_file = ", out);
                print_quoted(out, d->auth_password_file);
                fputc(';', out);
            }
            fprintf(out, " }%s\n", i + 1 < sc->destination_count ? "," : "");
        }
        fprintf(out, "%s);\n", in);
    }
    fputs("};\n\nproxy = {\n", out);
    const struct config_proxy *px = &conf->proxy;
    print_str(out, in, "identity", px->identity, "");
    print_str(out, in, "secret", px->secret != NULL ? "<hidden>" : NULL, "no proxying");
    print_list(out, in, "trusted_networks", px->trusted_networks, px->trusted_network_count);
    print_uint(out, in, "pop3_port", px->pop3_port);
    print_uint(out, in, "imap_port", px->imap_port);
    print_str(out, in, "tls", config_proxy_tls_name(px->tls), "");
    print_str(out, in, "ca_file", px->ca_file, "the system's store");
    print_uint(out, in, "timeout", px->timeout);
    print_uint(out, in, "idle_timeout", px->idle_timeout);
    fputs("};\n", out);
}
