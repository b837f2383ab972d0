/* tests/unit/test_dir_profile.c - the four profiles, overrides, address
 * normalisation and the entry-to-user model (auth/dir_profile.c,
 * auth/dir_user.c). */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "auth/dir_profile.h"
#include "auth/dir_user.h"
#include "tap_main.h"

START_TEST(profiles_exist)
{
    const char *names[] = {"dirmail", "qmail-ldap", "inetlocalmailrecipient", "active-directory"};
    for (size_t i = 0; i < 4; i++) {
        struct dir_profile p;
        const char *error = NULL;
        ck_assert_int_eq(dir_profile_init(&p, names[i], &error), 0);
        ck_assert_str_eq(p.name, names[i]);
        ck_assert_str_ne(p.filter_recipient, "");
        ck_assert_str_ne(p.filter_login, "");
        ck_assert_ptr_nonnull(strstr(p.filter_recipient, "%s"));
        ck_assert_ptr_nonnull(strstr(p.filter_login, "%l"));
        dir_profile_clear(&p);
    }
    struct dir_profile p;
    const char *error = NULL;
    ck_assert_int_eq(dir_profile_init(&p, "nonsense", &error), -1);
    ck_assert_ptr_nonnull(error);
}
END_TEST

START_TEST(profile_attributes)
{
    struct dir_profile p;
    const char *error;
    ck_assert_int_eq(dir_profile_init(&p, "qmail-ldap", &error), 0);
    ck_assert_str_eq(p.attr_alias, "mailAlternateAddress");
    ck_assert_str_eq(p.attr_mailbox, "mailMessageStore");
    ck_assert_str_eq(p.attr_status, "accountStatus");
    ck_assert_str_eq(p.catchall, "catchall@%d");
    dir_profile_clear(&p);
    ck_assert_int_eq(dir_profile_init(&p, "active-directory", &error), 0);
    ck_assert(p.proxy_addresses);
    ck_assert_int_eq(p.status_style, DIR_STATUS_AD_UAC);
    ck_assert_ptr_nonnull(strstr(p.filter_login, "sAMAccountName"));
    dir_profile_clear(&p);
}
END_TEST

START_TEST(profile_overrides)
{
    struct dir_profile p, q;
    const char *error;
    ck_assert_int_eq(dir_profile_init(&p, "dirmail", &error), 0);
    ck_assert_int_eq(dir_profile_set(&p, "attr.mail", "rfc822Mailbox", &error), 0);
    ck_assert_int_eq(dir_profile_set(&p, "filter.login", "(cn=%l)", &error), 0);
    ck_assert_int_eq(dir_profile_set(&p, "status_style", "qmail", &error), 0);
    ck_assert_int_eq(dir_profile_set(&p, "no.such", "x", &error), -1);
    ck_assert_int_eq(dir_profile_copy(&q, &p), 0);
    dir_profile_clear(&p);
    ck_assert_str_eq(q.attr_mail, "rfc822Mailbox");
    ck_assert_str_eq(q.filter_login, "(cn=%l)");
    ck_assert_int_eq(q.status_style, DIR_STATUS_QMAIL);
    dir_profile_clear(&q);
}
END_TEST

START_TEST(address_normalisation)
{
    struct dir_address a;
    ck_assert_int_eq(dir_address_parse("Alice+Lists@Example.ORG.", "+", false, &a), 0);
    ck_assert_str_eq(a.address, "alice+lists@example.org");
    ck_assert_str_eq(a.base_local, "alice");
    ck_assert_str_eq(a.tag, "lists");
    ck_assert_str_eq(a.domain, "example.org");
    dir_address_clear(&a);
    ck_assert_int_eq(dir_address_parse("Bob@example.org", "+", true, &a), 0);
    ck_assert_str_eq(a.local, "Bob");
    ck_assert_ptr_null(a.tag);
    dir_address_clear(&a);
    ck_assert_int_eq(dir_address_parse("a-b@x.org", "+-", false, &a), 0);
    ck_assert_str_eq(a.tag, "b");
    dir_address_clear(&a);
    ck_assert_int_eq(dir_address_parse("+tag@x.org", "+", false, &a), 0);
    ck_assert_ptr_null(a.tag);
    dir_address_clear(&a);
    ck_assert_int_eq(dir_address_parse("no-at-sign", "+", false, &a), -1);
    ck_assert_int_eq(dir_address_parse("a@", "+", false, &a), -1);
    ck_assert_int_eq(dir_address_parse("a b@x.org", "+", false, &a), -1);
    ck_assert_int_eq(dir_address_parse("a@x..org", "+", false, &a), -1);
    ck_assert_int_eq(dir_address_parse("a\n@x.org", "+", false, &a), -1);
}
END_TEST

/* entry - a fake search result entry from name/value pairs. */
static struct ldap_pool_entry *entry(const char *dn, const char *const *pairs)
{
    struct ldap_pool_entry *e = calloc(1, sizeof *e);
    e->dn = strdup(dn);
    for (size_t i = 0; pairs[i] != NULL; i += 2) {
        struct ldap_pool_attr *a = NULL;
        for (size_t j = 0; j < e->attr_count; j++) {
            if (strcmp(e->attrs[j].name, pairs[i]) == 0)
                a = &e->attrs[j];
        }
        if (a == NULL) {
            e->attrs = realloc(e->attrs, (e->attr_count + 1) * sizeof *e->attrs);
            a = &e->attrs[e->attr_count++];
            memset(a, 0, sizeof *a);
            a->name = strdup(pairs[i]);
        }
        a->values = realloc(a->values, (a->count + 1) * sizeof *a->values);
        a->values[a->count++] = strdup(pairs[i + 1]);
    }
    return e;
}

static void entry_free(struct ldap_pool_entry *e)
{
    struct ldap_pool_result r = {.entries = e, .count = 1};
    struct ldap_pool_result *rp = malloc(sizeof *rp);
    *rp = r;
    ldap_pool_result_free(&rp);
}

START_TEST(ad_user_model)
{
    struct dir_profile p;
    const char *error;
    ck_assert_int_eq(dir_profile_init(&p, "active-directory", &error), 0);
    const char *pairs[] = {"mail",
                           "alice@example.org",
                           "proxyAddresses",
                           "smtp:A.Liddell@example.org",
                           "proxyAddresses",
                           "SMTP:Alice@Example.org",
                           "proxyAddresses",
                           "X400:c=US;a= ;",
                           "sAMAccountName",
                           "alice",
                           "userAccountControl",
                           "514",
                           NULL};
    struct ldap_pool_entry *e = entry("cn=Alice,dc=corp", pairs);
    struct dir_user *u = dir_user_from_entry(&p, e, "node1", "alice");
    ck_assert_ptr_nonnull(u);
    ck_assert_str_eq(u->primary, "alice@example.org");
    ck_assert_int_eq(u->addresses.count, 2);
    ck_assert_str_eq(u->addresses.items[1], "a.liddell@example.org");
    ck_assert_str_eq(u->login, "alice");
    ck_assert_int_eq(u->status, DIR_STATUS_DISABLED);
    dir_user_free(&u);
    ck_assert_ptr_null(u);
    free(e->attrs[3].values[0]);
    e->attrs[3].values[0] = strdup("66048"); /* 0x10200: enabled, password never expires */
    ck_assert_int_eq(dir_user_status(&p, e), DIR_STATUS_ACTIVE);
    entry_free(e);
    dir_profile_clear(&p);
}
END_TEST

START_TEST(dirmail_status_and_services)
{
    struct dir_profile p;
    const char *error;
    ck_assert_int_eq(dir_profile_init(&p, "dirmail", &error), 0);
    const char *pairs[] = {"mail",
                           "bob@example.org",
                           "dirmailStatus",
                           "hlod",
                           "dirmailService",
                           "imap",
                           "dirmailService",
                           "submission",
                           "dirmailMailHost",
                           "Node1",
                           NULL};
    struct ldap_pool_entry *e = entry("uid=bob", pairs);
    /* A typo in the status holds mail, it never bounces it. */
    ck_assert_int_eq(dir_user_status(&p, e), DIR_STATUS_HELD);
    struct dir_user *u = dir_user_from_entry(&p, e, "node1", NULL);
    ck_assert_ptr_null(u->mail_host); /* our own node */
    ck_assert(dir_user_service_allowed(u, "imaps"));
    ck_assert(dir_user_service_allowed(u, "submissions"));
    ck_assert(!dir_user_service_allowed(u, "pop3"));
    dir_user_free(&u);
    entry_free(e);
    dir_profile_clear(&p);
}
END_TEST

/* A Sieve script up to DIR_SIEVE_MAX is passed on; a longer one is left
 * out, so the auth answer stays within its limit (the user's mail goes to
 * INBOX). */
START_TEST(sieve_script_size_limit)
{
    struct dir_profile p;
    const char *error;
    ck_assert_int_eq(dir_profile_init(&p, "dirmail", &error), 0);
    char *script = malloc(DIR_SIEVE_MAX + 2);
    ck_assert_ptr_nonnull(script);
    memset(script, '#', DIR_SIEVE_MAX);
    script[DIR_SIEVE_MAX] = '\0';
    const char *pairs[] = {"mail", "sue@example.org", "dirmailSieve", script, NULL};
    struct ldap_pool_entry *e = entry("uid=sue", pairs);
    struct dir_user *u = dir_user_from_entry(&p, e, "node1", NULL);
    ck_assert_ptr_nonnull(u->sieve);
    ck_assert_uint_eq(strlen(u->sieve), DIR_SIEVE_MAX);
    dir_user_free(&u);
    entry_free(e);
    script[DIR_SIEVE_MAX] = '#';
    script[DIR_SIEVE_MAX + 1] = '\0';
    e = entry("uid=sue", pairs);
    u = dir_user_from_entry(&p, e, "node1", NULL);
    ck_assert_ptr_nonnull(u);
    ck_assert_ptr_null(u->sieve);
    dir_user_free(&u);
    entry_free(e);
    free(script);
    dir_profile_clear(&p);
}
END_TEST

static Suite *dir_profile_suite(void)
{
    Suite *s = suite_create("dir_profile");
    TCase *tc = tcase_create("profile");
    tcase_add_test(tc, profiles_exist);
    tcase_add_test(tc, profile_attributes);
    tcase_add_test(tc, sieve_script_size_limit);
    tcase_add_test(tc, profile_overrides);
    tcase_add_test(tc, address_normalisation);
    tcase_add_test(tc, ad_user_model);
    tcase_add_test(tc, dirmail_status_and_services);
    suite_add_tcase(s, tc);
    return s;
}

TAP_MAIN(dir_profile_suite)
