/* tests/unit/test_sieve_active.c - the reader of a user's active ManageSieve
 * script (delivery/sieve_active.h): the script .active names is read; no
 * sieve/ folder, no link or a dangling one is "none"; a link out of sieve/,
 * to a hidden or non-".sieve" name, a plain file as .active, a script that
 * is a symlink or a folder, and one over the limit are refused. */
#include "config.h"

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "delivery/sieve_active.h"
#include "tap_main.h"
#include "temp_dir.h"

static char root[256];
static int root_fd = -1;

static void setup(void)
{
    temp_dir_make(root, sizeof root, "test_sieve_active");
    root_fd = open(root, O_RDONLY | O_DIRECTORY);
    ck_assert_int_ge(root_fd, 0);
}

static void teardown(void)
{
    close(root_fd);
    temp_dir_remove(root);
}

static void put(const char *rel, const char *text)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static void link_to(const char *target, const char *rel)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    unlink(path);
    ck_assert_int_eq(symlink(target, path), 0);
}

/* load - the result, and the text when found (freed here). */
static enum sieve_active_result load(size_t max, char *text_out, size_t size)
{
    char *text = NULL, *name = NULL, *error = NULL;
    size_t len = 0;
    enum sieve_active_result r = sieve_active_load(root_fd, max, &text, &len, &name, &error);
    if (r == SIEVE_ACTIVE_FOUND) {
        ck_assert_uint_eq(strlen(text), len);
        snprintf(text_out, size, "%s|%s", name, text);
    } else if (r == SIEVE_ACTIVE_REFUSED || r == SIEVE_ACTIVE_TEMPFAIL) {
        ck_assert_ptr_nonnull(error);
    }
    free(text);
    free(name);
    free(error);
    return r;
}

static void mkdir_sieve(void)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/sieve", root);
    ck_assert_int_eq(mkdir(path, 0700), 0);
}

START_TEST(active_script_is_read)
{
    char got[256] = "";
    mkdir_sieve();
    put("sieve/vacation.sieve", "keep;\n");
    link_to("vacation.sieve", "sieve/.active");
    ck_assert_int_eq(load(1024, got, sizeof got), SIEVE_ACTIVE_FOUND);
    ck_assert_str_eq(got, "vacation|keep;\n");
}
END_TEST

START_TEST(none_without_folder_link_or_target)
{
    char got[256];
    ck_assert_int_eq(load(1024, got, sizeof got), SIEVE_ACTIVE_NONE); /* no sieve/ */
    mkdir_sieve();
    put("sieve/a.sieve", "keep;\n");
    ck_assert_int_eq(load(1024, got, sizeof got), SIEVE_ACTIVE_NONE); /* no .active */
    link_to("gone.sieve", "sieve/.active");
    ck_assert_int_eq(load(1024, got, sizeof got), SIEVE_ACTIVE_NONE); /* dangling */
}
END_TEST

START_TEST(outside_or_odd_targets_are_refused)
{
    char got[256];
    mkdir_sieve();
    put("outside.sieve", "discard;\n");
    put("sieve/notes.txt", "discard;\n");
    put("sieve/.hidden.sieve", "discard;\n");
    static const char *const targets[] = {"../outside.sieve", "/etc/passwd", "notes.txt",
                                          ".hidden.sieve",    ".sieve",      "sub/x.sieve"};
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        link_to(targets[i], "sieve/.active");
        ck_assert_msg(load(1024, got, sizeof got) == SIEVE_ACTIVE_REFUSED, "%s", targets[i]);
    }
    /* the script itself a symlink (to outside sieve/), or a folder */
    link_to("../outside.sieve", "sieve/evil.sieve");
    link_to("evil.sieve", "sieve/.active");
    ck_assert_int_eq(load(1024, got, sizeof got), SIEVE_ACTIVE_REFUSED);
    char path[1024];
    snprintf(path, sizeof path, "%s/sieve/dir.sieve", root);
    ck_assert_int_eq(mkdir(path, 0700), 0);
    link_to("dir.sieve", "sieve/.active");
    ck_assert_int_eq(load(1024, got, sizeof got), SIEVE_ACTIVE_REFUSED);
    /* .active a plain file: the store never writes one */
    snprintf(path, sizeof path, "%s/sieve/.active", root);
    unlink(path);
    put("sieve/.active", "discard;\n");
    ck_assert_int_eq(load(1024, got, sizeof got), SIEVE_ACTIVE_REFUSED);
}
END_TEST

START_TEST(over_the_limit_is_refused)
{
    char got[256];
    mkdir_sieve();
    put("sieve/big.sieve", "# twenty octets ...\n");
    link_to("big.sieve", "sieve/.active");
    ck_assert_int_eq(load(19, got, sizeof got), SIEVE_ACTIVE_REFUSED);
    ck_assert_int_eq(load(20, got, sizeof got), SIEVE_ACTIVE_FOUND);
}
END_TEST

static Suite *sieve_active_suite(void)
{
    Suite *s = suite_create("sieve_active");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, active_script_is_read);
    tcase_add_test(tc, none_without_folder_link_or_target);
    tcase_add_test(tc, outside_or_odd_targets_are_refused);
    tcase_add_test(tc, over_the_limit_is_refused);
    suite_add_tcase(s, tc);
    return s;
}

TAP_MAIN(sieve_active_suite)
