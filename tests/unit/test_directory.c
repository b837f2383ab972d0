/* tests/unit/test_directory.c - directory_options_from_config (auth/directory_options.c):
 * every ldap.* and domains.relay setting of dirmail.conf reaches the
 * directory client, and conf's list of override names is dir_profile's. */
#include "config.h"

#include <check.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/dir_profile.h"
#include "auth/directory.h"
#include "conf/conf.h"
#include "tap_main.h"

/* load - a struct config from text (through a temporary file). */
static struct config *load(const char *text)
{
    char path[] = "/tmp/dirmail-test-directory-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    FILE *f = fdopen(fd, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_ge(fputs(text, f), 0);
    ck_assert_int_eq(fclose(f), 0);
    char *error = NULL;
    struct config *conf = config_load(path, &error);
    unlink(path);
    ck_assert_msg(conf != NULL, "%s", error != NULL ? error : "");
    return conf;
}

/* The string fields of struct dir_profile run from attr_mail to catchall;
 * counting them from the struct (not from a list) means a field added to the
 * profile without a dirmail.conf name fails this test. */
#define PROFILE_STRINGS                                                                            \
    ((offsetof(struct dir_profile, catchall) - offsetof(struct dir_profile, attr_mail)) /          \
         sizeof(char *) +                                                                          \
     1)

static char **profile_string(struct dir_profile *p, size_t i)
{
    return (char **)((char *)p + offsetof(struct dir_profile, attr_mail) + i * sizeof(char *));
}

START_TEST(override_names_agree)
{
    struct dir_profile p;
    const char *error = NULL;
    ck_assert_int_eq(dir_profile_init(&p, "dirmail", &error), 0);
    char key[64], value[64];
    size_t set = 0;
    /* Every name conf accepts is one dir_profile_set accepts... */
    for (size_t i = 0; i < CONFIG_LDAP_ATTRIBUTE_COUNT; i++, set++) {
        snprintf(key, sizeof key, "attr.%s", config_ldap_attribute_names[i]);
        snprintf(value, sizeof value, "sentinel%zu", set);
        ck_assert_msg(dir_profile_set(&p, key, value, &error) == 0, "%s refused", key);
    }
    for (size_t i = 0; i < CONFIG_LDAP_FILTER_COUNT; i++, set++) {
        snprintf(key, sizeof key, "filter.%s", config_ldap_filter_names[i]);
        snprintf(value, sizeof value, "sentinel%zu", set);
        ck_assert_msg(dir_profile_set(&p, key, value, &error) == 0, "%s refused", key);
    }
    ck_assert_int_eq(dir_profile_set(&p, "group_classes", "sentinelg", &error), 0);
    ck_assert_int_eq(dir_profile_set(&p, "catchall", "sentinelc", &error), 0);
    /* ...and together they reach every string of the profile. */
    for (size_t i = 0; i < PROFILE_STRINGS; i++) {
        const char *v = *profile_string(&p, i);
        ck_assert_msg(strncmp(v, "sentinel", 8) == 0,
                      "profile string %zu (\"%s\") has no dirmail.conf name", i, v);
    }
    ck_assert_uint_eq(PROFILE_STRINGS, set + 2);
    for (size_t i = 0; i < 4; i++)
        ck_assert_int_eq(dir_profile_set(&p, "status_style", config_ldap_status_styles[i], &error),
                         0);
    for (size_t i = 0; i < 3; i++)
        ck_assert_int_eq(dir_profile_set(&p, "keep_style", config_ldap_keep_styles[i], &error), 0);
    ck_assert_int_eq(dir_profile_set(&p, "attr.nonsense", "x", &error), -1);
    dir_profile_clear(&p);
}
END_TEST

START_TEST(options_from_config)
{
    struct config *conf =
        load("server = { hostname = \"node1.example.org\"; };\n"
             "ldap = { profile = \"qmail-ldap\"; timeout = 4; pool_size = 3;\n"
             "  subaddress_delimiter = \"-\"; case_sensitive_local_part = true;\n"
             "  disabled_policy = \"hold\"; group_max_depth = 3; group_max_members = 20;\n"
             "  auth_pool_size = 2; failback_interval = 9; domain_cache_ttl = 11;\n"
             "  attributes = { mail = \"otherMail\"; quota = \"\"; };\n"
             "  filters = { login = \"(cn=%l)\"; };\n"
             "  group_classes = \"posixGroup\"; catchall = \"@%d\"; status_style = \"none\";\n"
             "  keep_style = \"boolean\"; proxy_addresses = true; };\n"
             "domains = { local = \"example.org\";\n"
             "  relay = ( \"plain.example\", { domain = \"hop.example\"; next_hop = "
             "\"[mx.hop.example]:2525\"; } ); };\n");
    struct directory_options o;
    const char *error = NULL;
    ck_assert_int_eq(directory_options_from_config(conf, &o, &error), 0);
    config_free(&conf);
    ck_assert_str_eq(o.profile.name, "qmail-ldap");
    ck_assert_str_eq(o.profile.attr_mail, "otherMail");
    ck_assert_str_eq(o.profile.attr_quota, "");
    ck_assert_str_eq(o.profile.attr_alias, "mailAlternateAddress"); /* the profile's */
    ck_assert_str_eq(o.profile.filter_login, "(cn=%l)");
    ck_assert_str_eq(o.profile.filter_recipient, "(|(mail=%s)(mailAlternateAddress=%s))");
    ck_assert_str_eq(o.profile.group_classes, "posixGroup");
    ck_assert_str_eq(o.profile.catchall, "@%d");
    ck_assert_int_eq(o.profile.status_style, DIR_STATUS_NONE);
    ck_assert_int_eq(o.profile.keep_style, DIR_KEEP_BOOLEAN);
    ck_assert(o.profile.proxy_addresses);
    ck_assert_str_eq(o.subaddress_delimiters, "-");
    ck_assert(o.case_sensitive_local);
    ck_assert_int_eq(o.disabled_action, DIR_DISABLED_HOLD);
    ck_assert_uint_eq(o.group_depth, 3);
    ck_assert_uint_eq(o.group_members_max, 20);
    ck_assert_uint_eq(o.pool_size, 3);
    ck_assert_uint_eq(o.auth_pool_size, 2);
    ck_assert_uint_eq(o.timeout_ms, 4000);
    ck_assert_uint_eq(o.pool_wait_ms, 4000); /* follows the timeout */
    ck_assert_uint_eq(o.retry_preferred_ms, 9000);
    ck_assert_uint_eq(o.domain_cache_ttl, 11);
    ck_assert_str_eq(o.node_name, "node1.example.org");
    ck_assert_uint_eq(o.relay_domain_count, 2);
    ck_assert_str_eq(o.relay_domains[1], "hop.example");
    ck_assert_ptr_null(o.relay_next_hops[0]);
    ck_assert_str_eq(o.relay_next_hops[1], "[mx.hop.example]:2525");

    /* directory_new keeps a deep copy: the options can go first. */
    struct directory *dir = directory_new(&o, &error);
    ck_assert_ptr_nonnull(dir);
    directory_options_clear(&o);
    /* A relay domain is answered from the configuration, no LDAP server needed. */
    struct dir_recipient *r = NULL;
    ck_assert_int_eq(dir_resolve(dir, "someone@HOP.example", &r), DIR_FOUND);
    ck_assert_int_eq(r->kind, DIR_KIND_RELAY);
    ck_assert_str_eq(r->next_hop, "[mx.hop.example]:2525");
    dir_recipient_free(&r);
    ck_assert_int_eq(dir_resolve(dir, "someone@plain.example", &r), DIR_FOUND);
    ck_assert_int_eq(r->kind, DIR_KIND_RELAY);
    ck_assert_ptr_null(r->next_hop);
    dir_recipient_free(&r);
    directory_free(&dir);
    ck_assert_ptr_null(dir);
}
END_TEST

START_TEST(defaults_from_empty_config)
{
    struct config *conf = load("");
    struct directory_options o;
    const char *error = NULL;
    ck_assert_int_eq(directory_options_from_config(conf, &o, &error), 0);
    config_free(&conf);
    ck_assert_str_eq(o.profile.attr_mail, "mail");
    ck_assert_str_eq(o.subaddress_delimiters, "+");
    ck_assert(!o.case_sensitive_local);
    ck_assert_int_eq(o.disabled_action, DIR_DISABLED_REJECT);
    ck_assert_uint_eq(o.group_depth, 8);
    ck_assert_uint_eq(o.group_members_max, 1000);
    ck_assert_uint_eq(o.auth_pool_size, 4);
    ck_assert_uint_eq(o.pool_wait_ms, 5000);
    ck_assert_uint_eq(o.retry_preferred_ms, 30000);
    ck_assert_uint_eq(o.domain_cache_ttl, 60);
    ck_assert_uint_eq(o.relay_domain_count, 0);
    directory_options_clear(&o);
}
END_TEST

static Suite *directory_suite(void)
{
    Suite *s = suite_create("directory");
    TCase *tc = tcase_create("options");
    tcase_add_test(tc, override_names_agree);
    tcase_add_test(tc, options_from_config);
    tcase_add_test(tc, defaults_from_empty_config);
    suite_add_tcase(s, tc);
    return s;
}

TAP_MAIN(directory_suite)
