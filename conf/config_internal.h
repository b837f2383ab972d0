/* conf/config_internal.h - what the files of conf/ share and nothing outside
 * conf/ may include: the loader state, the checked getters, the value
 * validators, the section loaders and the names of the enum values. */
#ifndef DIRMAIL_CONF_CONFIG_INTERNAL_H
#define DIRMAIL_CONF_CONFIG_INTERNAL_H

#include <libconfig.h>
#include <stdbool.h>
#include <stddef.h>

#include "conf/conf.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* What a string setting must look like. */
enum {
    STR_NONEMPTY = 1 << 0, /* "" is an error */
    STR_ABSPATH = 1 << 1,  /* files are opened after chdir/privilege drop: no relative paths */
};

/* One load of one file: config_load owns it; the error is the caller's. */
struct loader {
    config_t cf;
    const char *path;
    const char *include_dir; /* the folder @include names are relative to, or NULL */
    char *error;             /* the first error, "FILE:LINE: setting PATH: text" */
};

/* -- conf/config_names.c: the words dirmail.conf uses for enum values -- */

extern const char *const conf_service_type_names[SERVICE_MANAGESIEVE + 1];
extern const char *const conf_starttls_names[LDAP_STARTTLS_REQUIRE + 1];
extern const char *const conf_log_target_names[LOG_TARGET_SYSLOG + 1];
extern const char *const conf_log_level_names[LOG_LEVEL_DEBUG + 1];
extern const char *const conf_delivery_sync_names[DELIVERY_SYNC_SYNCFS + 1];
extern const char *const conf_message_nul_names[MESSAGE_NUL_ACCEPT + 1];
extern const char *const conf_disabled_policy_names[LDAP_DISABLED_HOLD + 1];

/* -- conf/config_get.c: reading settings, with types and ranges checked --
 * Every function that can fail records the first error in ld and returns -1
 * (conf_get_integer returns 1 when the setting was there, 0 when absent). A
 * group argument may be NULL: the section is absent, so nothing is set. */

__attribute__((format(printf, 3, 4))) int conf_fail(struct loader *ld, const config_setting_t *s,
                                                    const char *fmt, ...);
int conf_nomem(struct loader *ld);
int conf_check_known(struct loader *ld, const config_setting_t *group, const char *const *names,
                     const char *what);
const config_setting_t *conf_section(struct loader *ld, const char *name, const char *const *keys,
                                     int *bad_r);
const config_setting_t *conf_member(const config_setting_t *group, const char *name);
int conf_replace_string(struct loader *ld, char **dst, const char *value);
int conf_check_string(struct loader *ld, const config_setting_t *s, unsigned flags);
int conf_get_string(struct loader *ld, const config_setting_t *group, const char *name, char **dst,
                    unsigned flags);
int conf_get_integer(struct loader *ld, const config_setting_t *group, const char *name,
                     long long min, long long max, long long *value_r);
int conf_get_uint(struct loader *ld, const config_setting_t *group, const char *name, unsigned *dst,
                  unsigned min, unsigned max);
int conf_get_bool(struct loader *ld, const config_setting_t *group, const char *name, bool *dst);
int conf_get_enum(struct loader *ld, const config_setting_t *group, const char *name,
                  const char *const *names, size_t count, unsigned *dst);
int conf_string_items(struct loader *ld, const config_setting_t *s);
const config_setting_t *conf_string_item(const config_setting_t *s, int i);
void conf_free_strings(char ***list, size_t *count);
int conf_set_strings(struct loader *ld, char ***list, size_t *count, const char *const *values,
                     size_t n);

/* A check of one item of a string list: 0 with the item's canonical form
 * in canon, or -1 (error recorded). */
typedef int check_item_fn(struct loader *ld, const config_setting_t *item, const char *value,
                          char *canon, size_t canon_size);
int conf_get_strings(struct loader *ld, const config_setting_t *group, const char *name,
                     char ***list, size_t *count, check_item_fn *check);

/* -- conf/config_check.c: what one value must look like -- */

check_item_fn conf_domain_check, conf_uri_check, conf_mechanism_check, conf_cidr_check;
bool conf_descr_ok(const char *v, size_t len);
int conf_template_check(struct loader *ld, const config_setting_t *s, const char *allowed,
                        bool filter);
int conf_delimiter_check(struct loader *ld, const config_setting_t *s);
int conf_next_hop_check(struct loader *ld, const config_setting_t *s);

/* -- the section loaders: each reads its section over the defaults -- */

/* conf/config_smtp_client.c: the smtp_client section */
void conf_smtp_client_defaults(struct config_smtp_client *c);
int conf_load_smtp_client(struct loader *ld, struct config *conf);
void conf_free_smtp_client(struct config_smtp_client *c);

/* conf/config_proxy.c: the proxy section */
void conf_proxy_defaults(struct config_proxy *c);
int conf_load_proxy(struct loader *ld, struct config *conf);
void conf_free_proxy(struct config_proxy *c);

/* conf/config_sections.c */
int conf_load_server(struct loader *ld, struct config *conf);
int conf_load_tls(struct loader *ld, struct config *conf);
int conf_load_domains(struct loader *ld, struct config *conf);
int conf_load_sasl(struct loader *ld, struct config *conf);
int conf_load_rest(struct loader *ld, struct config *conf); /* relay queue cache delivery limits */
void conf_free_relay(struct config_domains *d);

/* conf/config_ldap.c */
int conf_load_ldap(struct loader *ld, struct config *conf);

/* conf/config_services.c; the services are checked against the tls section. */
int conf_load_services(struct loader *ld, struct config *conf);
void conf_service_clear(struct config_service *svc);

#endif
