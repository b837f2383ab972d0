/* tests/unit/test_dir_filter.c - filter templates and RFC 4515 / RFC 4514
 * escaping (auth/dir_filter.c): injection values never reach a filter raw. */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "auth/dir_filter.h"
#include "tap_main.h"

static char *expand(const char *tmpl, const char *address, const char *login)
{
    struct dir_filter_values v = {.address = address, .local = "u", .domain = "d", .login = login};
    char *out = NULL;
    const char *error = NULL;
    if (dir_filter_expand(tmpl, &v, &out, &error) < 0)
        return NULL;
    return out;
}

START_TEST(expand_plain_values)
{
    char *f = expand("(|(mail=%s)(alias=%s)(local=%u)(dom=%d)(uid=%l)(pct=100%%))",
                     "alice@example.org", "alice");
    ck_assert_ptr_nonnull(f);
    ck_assert_str_eq(f, "(|(mail=alice@example.org)(alias=alice@example.org)(local=u)(dom=d)(uid="
                        "alice)(pct=100%))");
    free(f);
}
END_TEST

START_TEST(escape_star)
{
    char *f = expand("(mail=%s)", "*", NULL);
    ck_assert_str_eq(f, "(mail=\\2A)");
    free(f);
}
END_TEST

START_TEST(escape_filter_injection)
{
    char *f = expand("(&(objectClass=person)(uid=%l))", NULL, "x)(uid=*");
    ck_assert_str_eq(f, "(&(objectClass=person)(uid=x\\29\\28uid=\\2A))");
    free(f);
    f = expand("(uid=%l)", NULL, "*)(|(objectClass=*)");
    ck_assert_str_eq(f, "(uid=\\2A\\29\\28|\\28objectClass=\\2A\\29)");
    free(f);
}
END_TEST

START_TEST(escape_backslash_sequence)
{
    /* libldap writes upper-case hex (RFC 4515 allows either). "\2a" typed by an attacker must stay
     * three literal characters. */
    char *f = expand("(uid=%l)", NULL, "\\2a");
    ck_assert_str_eq(f, "(uid=\\5C2a)");
    free(f);
}
END_TEST

START_TEST(escape_nul)
{
    char *out = NULL;
    ck_assert_int_eq(dir_filter_escape("a\0b", 3, &out), 0);
    ck_assert_str_eq(out, "a\\00b");
    free(out);
}
END_TEST

START_TEST(reject_long_value)
{
    char *big = malloc(10 * 1024 + 1);
    ck_assert_ptr_nonnull(big);
    memset(big, 'a', 10 * 1024);
    big[10 * 1024] = '\0';
    ck_assert_ptr_null(expand("(uid=%l)", NULL, big));
    char *out = NULL;
    ck_assert_int_eq(dir_filter_escape(big, strlen(big), &out), -1);
    ck_assert_ptr_null(out);
    /* At the limit it is fine. */
    big[DIR_FILTER_VALUE_MAX] = '\0';
    char *f = expand("(uid=%l)", NULL, big);
    ck_assert_ptr_nonnull(f);
    free(f);
    free(big);
}
END_TEST

START_TEST(reject_unknown_sequence)
{
    struct dir_filter_values v = {0};
    char *out = NULL;
    const char *error = NULL;
    ck_assert_int_eq(dir_filter_expand("(uid=%x)", &v, &out, &error), -1);
    ck_assert_ptr_nonnull(error);
    ck_assert_int_eq(dir_filter_expand("(uid=%", &v, &out, &error), -1);
}
END_TEST

START_TEST(null_values_expand_empty)
{
    struct dir_filter_values v = {0};
    char *out = NULL;
    const char *error = NULL;
    ck_assert_int_eq(dir_filter_expand("(mail=%u@%d)", &v, &out, &error), 0);
    ck_assert_str_eq(out, "(mail=@)");
    free(out);
}
END_TEST

START_TEST(dn_value_escaping)
{
    char *out = NULL;
    ck_assert_int_eq(dir_dn_escape_value("Smith, John", 11, &out), 0);
    ck_assert_str_eq(out, "Smith\\2C John");
    free(out);
    ck_assert_int_eq(dir_dn_escape_value("a+b=c", 5, &out), 0);
    ck_assert_ptr_null(strchr(out, '+') != NULL && strstr(out, "\\") == NULL ? out : NULL);
    ck_assert_ptr_nonnull(strstr(out, "\\"));
    free(out);
    ck_assert_int_eq(dir_dn_escape_value(" #lead", 6, &out), 0);
    ck_assert_int_eq(out[0], '\\');
    free(out);
}
END_TEST

static Suite *dir_filter_suite(void)
{
    Suite *s = suite_create("dir_filter");
    TCase *tc = tcase_create("filter");
    tcase_add_test(tc, expand_plain_values);
    tcase_add_test(tc, escape_star);
    tcase_add_test(tc, escape_filter_injection);
    tcase_add_test(tc, escape_backslash_sequence);
    tcase_add_test(tc, escape_nul);
    tcase_add_test(tc, reject_long_value);
    tcase_add_test(tc, reject_unknown_sequence);
    tcase_add_test(tc, null_values_expand_empty);
    tcase_add_test(tc, dn_value_escaping);
    suite_add_tcase(s, tc);
    return s;
}

TAP_MAIN(dir_filter_suite)
