/* tests/unit/test_sieve_store.c - delivery/sieve_store: script names (RFC
 * 5804 1.6), the quota, put/get/rename/delete and the active symlink, on a
 * real folder; names that try to leave the store. */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "delivery/sieve_store.h"
#include "tests/unit/tap_main.h"

static char base[PATH_MAX];

static void setup(void)
{
    snprintf(base, sizeof base, "/tmp/test-sieve-store-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(base));
}

static void teardown(void)
{
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
    ck_assert_int_eq(system(cmd), 0);
}

static struct sieve_store *open_store(unsigned max_scripts, size_t max_size)
{
    const struct sieve_store_limits limits = {max_scripts, max_size};
    struct sieve_store *st = NULL;
    char *err = NULL;
    ck_assert_int_eq(sieve_store_open(base, "example.org/u/", &limits, &st, &err), SIEVE_STORE_OK);
    return st;
}

#define NAME(s) s, strlen(s)

START_TEST(names)
{
    ck_assert(sieve_store_name_valid(NAME("rules")));
    ck_assert(sieve_store_name_valid(NAME("R\xc3\xa9gles \xe2\x9c\x93")));
    ck_assert(!sieve_store_name_valid(NAME("")));
    ck_assert(!sieve_store_name_valid(NAME("a/b")));
    ck_assert(!sieve_store_name_valid(NAME("../x")));
    ck_assert(!sieve_store_name_valid(NAME(".active")));
    ck_assert(!sieve_store_name_valid(NAME("tab\there")));
    ck_assert(!sieve_store_name_valid(NAME("del\x7f")));
    ck_assert(!sieve_store_name_valid(NAME("c1\xc2\x85")));     /* NEL, a C1 control */
    ck_assert(!sieve_store_name_valid(NAME("ls\xe2\x80\xa8"))); /* U+2028 */
    ck_assert(!sieve_store_name_valid(NAME("\xc0\xaf")));       /* overlong "/" */
    ck_assert(!sieve_store_name_valid(NAME("\xed\xa0\x80")));   /* a surrogate */
    ck_assert(!sieve_store_name_valid(NAME("cut\xe2\x9c")));    /* truncated */
    ck_assert(!sieve_store_name_valid("nul\0x", 5));
    char longname[SIEVE_STORE_NAME_MAX + 2];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    ck_assert(!sieve_store_name_valid(longname, SIEVE_STORE_NAME_MAX + 1));
    ck_assert(sieve_store_name_valid(longname, SIEVE_STORE_NAME_MAX));
}
END_TEST

START_TEST(empty_store_creates_nothing)
{
    struct sieve_store *st = open_store(3, 100);
    struct sieve_store_entry *list;
    size_t count;
    char *err = NULL, *active = NULL, *text;
    size_t len;
    ck_assert_int_eq(sieve_store_list(st, &list, &count, &err), SIEVE_STORE_OK);
    ck_assert_uint_eq(count, 0);
    ck_assert_int_eq(sieve_store_active(st, &active, &err), SIEVE_STORE_OK);
    ck_assert_ptr_null(active);
    ck_assert_int_eq(sieve_store_get(st, NAME("x"), &text, &len, &err), SIEVE_STORE_NONEXISTENT);
    ck_assert_int_eq(sieve_store_set_active(st, "", 0, &err), SIEVE_STORE_OK);
    sieve_store_free(&st);
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/example.org", base);
    struct stat sb;
    ck_assert_int_ne(stat(path, &sb), 0);
}
END_TEST

START_TEST(put_get_rename_delete_active)
{
    struct sieve_store *st = open_store(3, 100);
    char *err = NULL, *text = NULL, *active = NULL;
    size_t len;
    ck_assert_int_eq(sieve_store_put(st, NAME("a"), NAME("keep;"), &err), SIEVE_STORE_OK);
    ck_assert_int_eq(sieve_store_get(st, NAME("a"), &text, &len, &err), SIEVE_STORE_OK);
    ck_assert_uint_eq(len, 5);
    ck_assert_str_eq(text, "keep;");
    free(text);
    ck_assert_int_eq(sieve_store_set_active(st, NAME("a"), &err), SIEVE_STORE_OK);
    char link[PATH_MAX + 64], target[64];
    snprintf(link, sizeof link, "%s/example.org/u/sieve/.active", base);
    ssize_t n = readlink(link, target, sizeof target - 1);
    ck_assert_int_eq(n, 7);
    target[n] = '\0';
    ck_assert_str_eq(target, "a.sieve");
    ck_assert_int_eq(sieve_store_delete(st, NAME("a"), &err), SIEVE_STORE_ACTIVE);
    ck_assert_int_eq(sieve_store_put(st, NAME("b"), NAME("discard;"), &err), SIEVE_STORE_OK);
    ck_assert_int_eq(sieve_store_rename(st, NAME("a"), NAME("b"), &err), SIEVE_STORE_EXISTS);
    ck_assert_int_eq(sieve_store_rename(st, NAME("a"), NAME("c"), &err), SIEVE_STORE_OK);
    ck_assert_int_eq(sieve_store_active(st, &active, &err), SIEVE_STORE_OK);
    ck_assert_str_eq(active, "c");
    free(active);
    ck_assert_int_eq(sieve_store_get(st, NAME("a"), &text, &len, &err), SIEVE_STORE_NONEXISTENT);
    ck_assert_int_eq(sieve_store_set_active(st, NAME("zz"), &err), SIEVE_STORE_NONEXISTENT);
    ck_assert_int_eq(sieve_store_set_active(st, "", 0, &err), SIEVE_STORE_OK);
    ck_assert_int_eq(sieve_store_delete(st, NAME("c"), &err), SIEVE_STORE_OK);
    ck_assert_int_eq(sieve_store_delete(st, NAME("c"), &err), SIEVE_STORE_NONEXISTENT);
    struct sieve_store_entry *list;
    size_t count;
    ck_assert_int_eq(sieve_store_list(st, &list, &count, &err), SIEVE_STORE_OK);
    ck_assert_uint_eq(count, 1);
    ck_assert_str_eq(list[0].name, "b");
    ck_assert(!list[0].active);
    sieve_store_list_free(&list, count);
    sieve_store_free(&st);
}
END_TEST

START_TEST(quota)
{
    struct sieve_store *st = open_store(2, 10);
    char *err = NULL;
    ck_assert_int_eq(sieve_store_have_space(st, NAME("a"), 11, &err), SIEVE_STORE_MAXSIZE);
    ck_assert_int_eq(sieve_store_put(st, NAME("a"), NAME("01234567890"), &err),
                     SIEVE_STORE_MAXSIZE);
    ck_assert_int_eq(sieve_store_put(st, NAME("a"), NAME("keep;"), &err), SIEVE_STORE_OK);
    ck_assert_int_eq(sieve_store_put(st, NAME("b"), NAME("keep;"), &err), SIEVE_STORE_OK);
    ck_assert_int_eq(sieve_store_have_space(st, NAME("c"), 1, &err), SIEVE_STORE_MAXSCRIPTS);
    ck_assert_int_eq(sieve_store_put(st, NAME("c"), NAME("keep;"), &err), SIEVE_STORE_MAXSCRIPTS);
    ck_assert_int_eq(sieve_store_put(st, NAME("a"), NAME("discard;"), &err), SIEVE_STORE_OK);
    ck_assert_int_eq(sieve_store_put(st, NAME("../a"), NAME("keep;"), &err), SIEVE_STORE_BAD_NAME);
    sieve_store_free(&st);
}
END_TEST

START_TEST(dangling_and_foreign_links_are_no_active_script)
{
    struct sieve_store *st = open_store(3, 100);
    char *err = NULL, *active = NULL;
    ck_assert_int_eq(sieve_store_put(st, NAME("a"), NAME("keep;"), &err), SIEVE_STORE_OK);
    char link[PATH_MAX + 64];
    snprintf(link, sizeof link, "%s/example.org/u/sieve/.active", base);
    ck_assert_int_eq(symlink("/etc/passwd", link), 0);
    ck_assert_int_eq(sieve_store_active(st, &active, &err), SIEVE_STORE_OK);
    ck_assert_ptr_null(active);
    unlink(link);
    ck_assert_int_eq(symlink("gone.sieve", link), 0);
    ck_assert_int_eq(sieve_store_active(st, &active, &err), SIEVE_STORE_OK);
    ck_assert_ptr_null(active);
    sieve_store_free(&st);
}
END_TEST

START_TEST(unsafe_mailbox)
{
    const struct sieve_store_limits limits = {3, 100};
    struct sieve_store *st = NULL;
    char *err = NULL;
    ck_assert_int_eq(sieve_store_open(base, "/etc", &limits, &st, &err), SIEVE_STORE_UNSAFE);
    free(err);
    ck_assert_ptr_null(st);
}
END_TEST

static Suite *sieve_store_suite(void)
{
    Suite *s = suite_create("sieve_store");
    TCase *tc = tcase_create("store");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, names);
    tcase_add_test(tc, empty_store_creates_nothing);
    tcase_add_test(tc, put_get_rename_delete_active);
    tcase_add_test(tc, quota);
    tcase_add_test(tc, dangling_and_foreign_links_are_no_active_script);
    tcase_add_test(tc, unsafe_mailbox);
    suite_add_tcase(s, tc);
    return s;
}

TAP_MAIN(sieve_store_suite)
