/* tests/unit/test_sieve_include.c - delivery/sieve's include (RFC 6609):
 * scripts served by an include_fetch callback, globals shared and locals
 * not, return, stop, loops, :once, :optional, :global, a broken included
 * script and a fetch that cannot answer (a temporary failure). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "delivery/sieve/sieve.h"
#include "delivery/sieve/sieve_message.h"
#include "tests/unit/tap_main.h"

#define IK "keep\tINBOX\timplicit\n"

static const char MSG_PLAIN[] = "From: alice@example.com\r\nTo: me@example.org\r\n"
                                "Subject: [acme] hello\r\n\r\nbody\r\n";

static char *run_script(const char *script, const struct sieve_env *env)
{
    struct sieve_limits limits;
    sieve_limits_default(&limits);
    struct sieve_errors errors = {0};
    struct sieve_script *s = sieve_compile(script, strlen(script), &limits, &errors);
    ck_assert_msg(s != NULL, "does not compile: %s", script);
    struct sieve_message *m = sieve_message_parse(MSG_PLAIN, strlen(MSG_PLAIN), NULL);
    ck_assert_ptr_nonnull(m);
    struct sieve_result r;
    sieve_run(s, m, env, &r);
    char *text = sieve_result_format(&r);
    ck_assert_ptr_nonnull(text);
    sieve_result_clear(&r);
    sieve_message_free(&m);
    sieve_script_free(&s);
    return text;
}

/* The scripts include_fetch serves: personal ones, and "spam" as global. */
static const struct {
    const char *name;
    bool global;
    const char *text;
} include_scripts[] = {
    {"sub", false,
     "require [\"include\", \"variables\", \"fileinto\"]; global \"x\"; set \"y\" \"local\"; "
     "fileinto \"${x}\";"},
    {"ret", false, "require \"include\"; return; discard;"},
    {"halt", false, "stop;"},
    {"loop", false, "require \"include\"; include \"loop\";"},
    {"count", false, "require [\"include\", \"variables\"]; global \"n\"; set \"n\" \"${n}x\";"},
    {"broken", false, "frobnicate;"},
    {"spam", true,
     "require \"fileinto\"; if header :contains \"subject\" \"acme\" "
     "{ fileinto \"Junk\"; }"},
};

static int fetch_script(void *ctx, const char *name, bool global, char **text, size_t *len)
{
    (void)ctx;
    if (strcmp(name, "down") == 0)
        return -1;
    for (size_t i = 0; i < sizeof include_scripts / sizeof include_scripts[0]; i++)
        if (strcmp(include_scripts[i].name, name) == 0 && include_scripts[i].global == global) {
            *text = strdup(include_scripts[i].text);
            ck_assert_ptr_nonnull(*text);
            *len = strlen(*text);
            return 1;
        }
    return 0;
}

START_TEST(test_include)
{
    static const struct {
        const char *script, *expect;
    } cases[] = {
        /* globals are shared, other variables are not */
        {"require [\"include\", \"variables\", \"fileinto\"]; global \"x\"; "
         "set \"x\" \"from-main\"; include \"sub\"; fileinto \"main-${y}\";",
         "fileinto\tfrom-main\nfileinto\tmain-\n"},
        {"require \"include\"; include \"ret\";", IK},
        {"require \"include\"; include \"halt\"; discard;", IK},
        {"require \"include\"; include \"loop\";",
         "error\tline 1: include: \"loop\" includes itself (RFC 6609 3.2)\n" IK},
        {"require [\"include\", \"variables\", \"fileinto\"]; global \"n\"; "
         "include :once \"count\"; include :once \"count\"; fileinto \"n${n}\";",
         "fileinto\tnx\n"},
        {"require [\"include\", \"variables\", \"fileinto\"]; global \"n\"; "
         "include \"count\"; include \"count\"; fileinto \"n${n}\";",
         "fileinto\tnxx\n"},
        {"require \"include\"; include \"none\";",
         "error\tline 1: include: no personal script \"none\"\n" IK},
        {"require \"include\"; include :optional \"none\";", IK},
        {"require \"include\"; include :global \"spam\";", "fileinto\tJunk\n"},
        {"require \"include\"; include \"spam\";",
         "error\tline 1: include: no personal script \"spam\"\n" IK},
        {"require \"include\"; include \"broken\";",
         "error\tline 1: include: the included script \"broken\" does not compile: 1:1: "
         "unknown command \"frobnicate\"\n" IK},
        {"require \"include\"; include \"down\";",
         "tempfail\tline 1: include: cannot fetch the personal script \"down\" now\n" IK},
    };
    struct sieve_env env = {.include_fetch = fetch_script};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = run_script(cases[i].script, &env);
        ck_assert_msg(strcmp(got, cases[i].expect) == 0, "%s:\n got: %s\nwant: %s", cases[i].script,
                      got, cases[i].expect);
        free(got);
    }
}
END_TEST

static Suite *sieve_include_suite(void)
{
    Suite *s = suite_create("sieve_include");
    TCase *tc = tcase_create("include");
    tcase_add_test(tc, test_include);
    suite_add_tcase(s, tc);
    return s;
}

TAP_MAIN(sieve_include_suite)
