/* tests/unit/test_sieve_compile.c - delivery/sieve's compiler: a table of
 * scripts that must not compile, one for each class of lexer, parser and
 * validator error, each with the line and column it is reported at and a
 * part of its message; and the compile-time limits (string, script size)
 * with the string limit holding after variable expansion too. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "delivery/sieve/sieve.h"
#include "delivery/sieve/sieve_message.h"
#include "tests/unit/tap_main.h"

static const char MSG_PLAIN[] = "From: alice@example.com\r\nTo: me@example.org\r\n"
                                "Subject: s\r\n\r\nbody\r\n";

struct error_case {
    const char *script;
    unsigned line, column;
    const char *message; /* a part of it */
};

static const struct error_case error_cases[] = {
    /* lexer */
    {"keep;\n\"abc", 2, 1, "unterminated quoted string"},
    {"keep; /* x\n\n", 1, 7, "unterminated comment"},
    {"require \"reject\";\nreject text:\nline\n", 2, 8, "unterminated multi-line"},
    {"require \"reject\"; reject text: junk\n.\n;", 1, 32, "text: must be followed"},
    {"keep;\n  @", 2, 3, "unexpected character '@'"},
    {"if size :over 99999999999999999999 { }", 1, 15, "number too large"},
    {"if size :over 10X { }", 1, 17, "after number"},
    {"keep\r;", 1, 5, "bare CR"},
    {"if header : \"a\" \"b\" {}", 1, 11, "':' must start a tag"},
    /* parser */
    {"keep", 1, 5, "expected ';' or '{'"},
    {"keep;\nif true { keep;", 2, 16, "expected a command or '}'"},
    {"if header :is [\"a\" \"b\"] {}", 1, 20, "expected ',' or ']'"},
    {"if anyof (true; ) {}", 1, 15, "expected ',' or ')'"},
    {"if anyof () {}", 1, 11, "expected a test in the test list"},
    {"\"x\";", 1, 1, "expected a command"},
    {"if true { if true { if true { keep; } } }", 1, 24, "nested deeper"},
    /* validator */
    {"frobnicate;", 1, 1, "unknown command \"frobnicate\""},
    {"if frob { keep; }", 1, 4, "unknown test \"frob\""},
    {"require \"nope\";", 1, 9, "unknown extension \"nope\""},
    {"fileinto \"x\";", 1, 1, "fileinto needs require \"fileinto\""},
    {"require \"fileinto\";\nfileinto :copy \"x\";", 2, 10, "tag :copy needs require \"copy\""},
    {"keep :bogus;", 1, 6, "unknown tag :bogus"},
    {"redirect [\"a@b.c\", \"d@e.f\"];", 1, 10, "wrong type"},
    {"redirect;", 1, 1, "positional argument"},
    {"keep;\nelsif true { keep; }", 2, 1, "elsif without a preceding if"},
    {"keep;\nrequire \"fileinto\";", 2, 1, "require must come before"},
    {"if true { require \"fileinto\"; }", 1, 11, "require must come before"},
    {"if true;", 1, 1, "if needs a block"},
    {"keep { }", 1, 1, "keep takes no block"},
    {"if keep { }", 1, 4, "is a command, not a test"},
    {"true;", 1, 1, "is a test, not a command"},
    {"if size 10 { }", 1, 4, "size takes 0 positional"},
    {"if size :over 1 :under 2 { }", 1, 4, "size needs exactly one of :over and :under"},
    {"if header :is :contains \"a\" \"b\" { }", 1, 15, "more than one match type"},
    {"if header :comparator \"i;klingon\" \"a\" \"b\" { }", 1, 23, "unknown comparator"},
    {"if header :comparator \"i;ascii-numeric\" \"a\" \"b\" { }", 1, 23,
     "require \"comparator-i;ascii-numeric\""},
    {"require \"relational\"; if header :value \"xx\" \"a\" \"b\" { }", 1, 40,
     "unknown relational operator"},
    {"require \"comparator-i;ascii-numeric\"; if header :contains :comparator "
     "\"i;ascii-numeric\" \"a\" \"b\" { }",
     1, 42, "supports only :is"},
    {"require \"vacation-seconds\"; vacation :days 1 :seconds 1 \"x\";", 1, 29,
     ":days and :seconds exclude"},
    {"require \"variables\"; set \"1a\" \"x\";", 1, 26, "not a variable name"},
    {"require \"variables\"; set :lower :upper \"a\" \"x\";", 1, 22, "same precedence"},
    {"require \"envelope\"; if envelope \"cc\" \"x\" { }", 1, 33, "unknown envelope part"},
    {"require \"index\"; if header :last \"a\" \"b\" { }", 1, 21, ":last needs :index"},
    {"if not (true) { }", 1, 4, "not needs exactly one test"},
    {"if anyof true { }", 1, 4, "needs a test list"},
    {"require \"include\"; include \"a/b\";", 1, 28, "not a script name"},
    {"require \"include\"; include :personal :global \"a\";", 1, 20, "exclude each other"},
    {"require \"include\"; global \"x\";", 1, 20, "needs require \"variables\""},
    {"return;", 1, 1, "return needs require \"include\""},
    {"require \"date\"; if date \"date\" \"century\" \"x\" { }", 1, 32, "unknown date part"},
    {"require \"date\"; if date :zone \"CET\" \"date\" \"year\" \"x\" { }", 1, 31, "not +hhmm"},
    {"require \"encoded-character\"; keep :flags \"${unicode:110000}\";", 1, 0,
     "encoded-character"},
};

START_TEST(test_error_table)
{
    const struct error_case *c = &error_cases[_i];
    struct sieve_limits limits;
    sieve_limits_default(&limits);
    limits.nesting_max = 2;
    struct sieve_errors errors = {0};
    struct sieve_script *s = sieve_compile(c->script, strlen(c->script), &limits, &errors);
    ck_assert_msg(s == NULL, "compiled: %s", c->script);
    ck_assert_uint_ge(errors.count, 1);
    const struct sieve_error *e = &errors.items[0];
    ck_assert_msg(strstr(e->message, c->message) != NULL, "%s: message \"%s\", want \"%s\"",
                  c->script, e->message, c->message);
    ck_assert_msg(e->line == c->line && (c->column == 0 || e->column == c->column),
                  "%s: at %u:%u, want %u:%u (%s)", c->script, e->line, e->column, c->line,
                  c->column, e->message);
    sieve_errors_clear(&errors);
}
END_TEST

/* Warnings: the script compiles and runs; each warning has its place. */
START_TEST(test_warnings)
{
    struct sieve_limits limits;
    sieve_limits_default(&limits);
    struct sieve_errors errors = {0};
    const char *text = "require \"variables\"; set \"h\" \"x\";\n"
                       "if address :is \"to\" \"a@b\" { keep; }\n"
                       "if address :is [\"Subject\", \"X-Original-To\"] \"a@b\" { keep; }\n"
                       "if address :is \"${h}\" \"a@b\" { keep; }\n";
    struct sieve_script *s = sieve_compile(text, strlen(text), &limits, &errors);
    ck_assert_ptr_nonnull(s);
    ck_assert_uint_eq(errors.count, 0);
    const struct sieve_errors *w = sieve_script_warnings(s);
    ck_assert_uint_eq(w->count, 1); /* Subject; not to, X-Original-To, nor a variable */
    ck_assert_uint_eq(w->items[0].line, 3);
    ck_assert_uint_eq(w->items[0].column, 16);
    ck_assert_ptr_nonnull(strstr(w->items[0].message, "\"Subject\" holds no addresses"));
    sieve_script_free(&s);
    const char *clean = "if address :is \"from\" \"a@b\" { keep; }";
    s = sieve_compile(clean, strlen(clean), &limits, &errors);
    ck_assert_ptr_nonnull(s);
    ck_assert_uint_eq(sieve_script_warnings(s)->count, 0);
    sieve_script_free(&s);
}
END_TEST

START_TEST(test_string_and_script_limits)
{
    struct sieve_limits limits;
    sieve_limits_default(&limits);
    limits.string_max = 8;
    struct sieve_errors errors = {0};
    const char *s1 = "redirect \"123456789@x\";";
    ck_assert_ptr_null(sieve_compile(s1, strlen(s1), &limits, &errors));
    ck_assert_ptr_nonnull(strstr(errors.items[0].message, "longer than 8"));
    sieve_errors_clear(&errors);
    limits.script_max = 4;
    ck_assert_ptr_null(sieve_compile("keep;", 5, &limits, &errors));
    ck_assert_ptr_nonnull(strstr(errors.items[0].message, "script longer"));
    sieve_errors_clear(&errors);
    /* a variable cannot grow a string past the limit at run time either */
    sieve_limits_default(&limits);
    limits.string_max = 16;
    const char *s2 = "require [\"variables\", \"fileinto\"]; set \"a\" \"0123456789\"; "
                     "fileinto \"${a}${a}\";";
    struct sieve_script *s = sieve_compile(s2, strlen(s2), &limits, &errors);
    ck_assert_ptr_nonnull(s);
    struct sieve_message *m = sieve_message_parse(MSG_PLAIN, strlen(MSG_PLAIN), NULL);
    struct sieve_result r;
    ck_assert_int_eq(sieve_run(s, m, NULL, &r), SIEVE_RUN_ERROR);
    ck_assert_uint_eq(r.count, 1);
    ck_assert(r.actions[0].implicit);
    sieve_result_clear(&r);
    sieve_message_free(&m);
    sieve_script_free(&s);
}
END_TEST

static Suite *sieve_compile_suite(void)
{
    Suite *s = suite_create("sieve_compile");
    TCase *tc = tcase_create("errors");
    tcase_add_loop_test(tc, test_error_table, 0, (int)(sizeof error_cases / sizeof error_cases[0]));
    tcase_add_test(tc, test_string_and_script_limits);
    tcase_add_test(tc, test_warnings);
    suite_add_tcase(s, tc);
    return s;
}

TAP_MAIN(sieve_compile_suite)
