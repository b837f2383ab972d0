/* conf/config.c - config_load: read dirmail.conf with libconfig over every
 * setting's default, section by section (conf/config_sections.c,
 * config_ldap.c, config_services.c); and config_free. */
#include "config.h"

#include "conf/config_internal.h"

#include <errno.h>
#include <libconfig.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The sections a configuration may have; anything else is an error. */
static const char *const top_keys[] = {
    "server", "ldap",   "tls",  "services",    "domains",     "relay", "queue", "delivery",
    "cache",  "limits", "sasl", "smtp_client", "managesieve", "proxy", "sieve", NULL};

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
    static const char *const default_folders[] = {"Sent", "Drafts", "Trash", "Junk"};

    struct config_server *sv = &conf->server;
    sv->log_target = LOG_TARGET_SYSLOG;
    sv->log_level = LOG_LEVEL_INFO;
    sv->workers = 0;
    sv->shutdown_grace = 30;
    sv->restart_delay_max = 5000;
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
    /* Postfix keeps a yes for 31 days and refreshes it after 7, a no for
     * 3 days refreshed after 3 hours: dirmail keeps each for the shorter. */
    conf->relay.verify_positive_ttl = 7 * 86400;
    conf->relay.verify_negative_ttl = 3 * 3600;
    conf->relay.verify_timeout = 30;
    conf->queue.max_age = 5 * 86400;
    conf->queue.delay_warning = 4 * 3600;
    conf->queue.bounce_size_limit = 50000;
    conf->queue.retry_min = 300;
    conf->queue.retry_max = 4000;
    conf->queue.scan_interval = 60;
    conf->queue.delivery_threads = 4;
    conf->delivery.quota_warning_percent = 90;
    conf->managesieve.max_scripts = 20;
    conf->sieve.max_redirects = CONF_SIEVE_REDIRECTS_MAX;
    conf->sieve.max_actions = CONF_SIEVE_ACTIONS_MAX;
    conf->sieve.max_nesting = CONF_SIEVE_NESTING_MAX;
    conf->sieve.max_variables = CONF_SIEVE_VARIABLES_MAX;
    conf->sieve.max_string_size = CONF_SIEVE_STRING_MAX;
    conf->sieve.max_steps = CONF_SIEVE_STEPS_MAX;
    conf->managesieve.max_script_size = 64 * 1024;
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
    lim->max_sessions_per_user = 10;
    lim->message_nul = MESSAGE_NUL_REJECT;
    lim->header_max_size = 102400;
    lim->header_max_count = 1000;
    conf->sasl.allow_authzid = false;
    conf->sasl.plaintext_without_tls = false;
    conf->sasl.sender_login_check = true;
    conf->sasl.authenticated_header = false;
    conf_smtp_client_defaults(&conf->smtp_client);
    conf_proxy_defaults(&conf->proxy);

    if (conf_replace_string(ld, &sv->hostname, host) < 0 ||
        conf_replace_string(ld, &sv->user, "dirmail") < 0 ||
        conf_replace_string(ld, &sv->group, "dirmail") < 0 ||
        conf_replace_string(ld, &sv->pid_file, "/run/dirmail/dirmaild.pid") < 0 ||
        conf_replace_string(ld, &sv->state_dir, "/var/lib/dirmail") < 0 ||
        conf_set_strings(ld, &l->uris, &l->uri_count, uris, COUNT(uris)) < 0 ||
        conf_replace_string(ld, &l->base, "") < 0 ||
        conf_replace_string(ld, &l->profile, "dirmail") < 0 ||
        conf_replace_string(ld, &l->subaddress_delimiter, "+") < 0 ||
        conf_replace_string(ld, &conf->tls.min_protocol, "TLSv1.2") < 0 ||
        conf_set_strings(ld, &conf->domains.local, &conf->domains.local_count, NULL, 0) < 0 ||
        conf_set_strings(ld, &conf->domains.relay, &conf->domains.relay_count, NULL, 0) < 0 ||
        conf_set_strings(ld, &conf->relay.trusted_networks, &conf->relay.trusted_network_count,
                         trusted, COUNT(trusted)) < 0 ||
        conf_replace_string(ld, &conf->delivery.mailbox_base, "/var/vmail") < 0 ||
        conf_set_strings(ld, &conf->delivery.sieve_before, &conf->delivery.sieve_before_count, NULL,
                         0) < 0 ||
        conf_set_strings(ld, &conf->delivery.sieve_after, &conf->delivery.sieve_after_count, NULL,
                         0) < 0 ||
        conf_set_strings(ld, &conf->delivery.default_folders, &conf->delivery.default_folder_count,
                         default_folders, COUNT(default_folders)) < 0 ||
        conf_set_strings(ld, &conf->sasl.mechanisms, &conf->sasl.mechanism_count, mechanisms,
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
        conf_nomem(&ld);
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
    } else if (conf_check_known(&ld, config_root_setting(&ld.cf), top_keys, "section") == 0 &&
               set_defaults(&ld, conf) == 0 && conf_load_server(&ld, conf) == 0 &&
               conf_load_ldap(&ld, conf) == 0 && conf_load_tls(&ld, conf) == 0 &&
               conf_load_domains(&ld, conf) == 0 && conf_load_rest(&ld, conf) == 0 &&
               conf_load_sasl(&ld, conf) == 0 && conf_load_services(&ld, conf) == 0 &&
               conf_load_smtp_client(&ld, conf) == 0 && conf_load_proxy(&ld, conf) == 0) {
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
    conf_free_strings(&l->uris, &l->uri_count);
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
        conf_service_clear(&conf->services[i]);
    free(conf->services);
    conf_free_strings(&conf->domains.local, &conf->domains.local_count);
    conf_free_relay(&conf->domains);
    conf_free_strings(&conf->relay.trusted_networks, &conf->relay.trusted_network_count);
    free(conf->delivery.mailbox_base);
    conf_free_strings(&conf->delivery.sieve_before, &conf->delivery.sieve_before_count);
    conf_free_strings(&conf->delivery.sieve_after, &conf->delivery.sieve_after_count);
    conf_free_strings(&conf->delivery.default_folders, &conf->delivery.default_folder_count);
    free(conf->delivery.quota_warning_message);
    conf_free_strings(&conf->sasl.mechanisms, &conf->sasl.mechanism_count);
    conf_free_smtp_client(&conf->smtp_client);
    conf_free_proxy(&conf->proxy);
    free(conf);
}

char *config_state_path(const struct config *conf, const char *name)
{
    char *path;
    if (asprintf(&path, "%s/%s", conf->server.state_dir, name) < 0)
        return NULL;
    return path;
}
