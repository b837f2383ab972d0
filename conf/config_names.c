/* conf/config_names.c - the names dirmail.conf uses for enum values, for
 * the loaders and the printer alike, and the public lookups by value. */
#include "config.h"

#include "conf/config_internal.h"

const char *const conf_service_type_names[] = {
    [SERVICE_SMTP] = "smtp",
    [SERVICE_SUBMISSION] = "submission",
    [SERVICE_SUBMISSIONS] = "submissions",
    [SERVICE_LMTP] = "lmtp",
    [SERVICE_POP3] = "pop3",
    [SERVICE_POP3S] = "pop3s",
    [SERVICE_IMAP] = "imap",
    [SERVICE_IMAPS] = "imaps",
    [SERVICE_MANAGESIEVE] = "managesieve",
};

const char *const conf_starttls_names[] = {
    [LDAP_STARTTLS_NO] = "no", [LDAP_STARTTLS_TRY] = "try", [LDAP_STARTTLS_REQUIRE] = "require"};
const char *const conf_log_target_names[] = {
    [LOG_TARGET_STDERR] = "stderr", [LOG_TARGET_SYSLOG] = "syslog"};
const char *const conf_log_level_names[] = {[LOG_LEVEL_ERROR] = "error",
                                            [LOG_LEVEL_WARNING] = "warning",
                                            [LOG_LEVEL_INFO] = "info",
                                            [LOG_LEVEL_DEBUG] = "debug"};
const char *const conf_delivery_sync_names[] = {[DELIVERY_SYNC_AUTO] = "auto",
                                                [DELIVERY_SYNC_FSYNC] = "fsync",
                                                [DELIVERY_SYNC_SYNCFS] = "syncfs"};
const char *const conf_message_nul_names[] = {[MESSAGE_NUL_REJECT] = "reject",
                                              [MESSAGE_NUL_STRIP] = "strip",
                                              [MESSAGE_NUL_ACCEPT] = "accept"};
const char *const conf_disabled_policy_names[] = {
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

const char *config_service_type_name(enum service_type type)
{
    if ((size_t)type >= COUNT(conf_service_type_names))
        return "unknown";
    return conf_service_type_names[type];
}

const char *config_delivery_sync_name(enum config_delivery_sync method)
{
    return (size_t)method < COUNT(conf_delivery_sync_names) ? conf_delivery_sync_names[method]
                                                            : "?";
}
