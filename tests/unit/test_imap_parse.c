/* tests/unit/test_imap_parse.c - the IMAP command parser (reader/imap_parse.c):
 * tags and names, atoms, quoted strings, literals {n} and {n+} (RFC 3501
 * 4.3, RFC 7888) and literal8 ~{n} (RFC 3516 4.4) with their limits
 * checked before any octet is read, lists
 * and their nesting limit, NIL, FETCH items with brackets, the argument
 * limit, garbage, and sequence sets with "*" (RFC 3501 9, 6.4.8); and the
 * untagged dialect ManageSieve uses (RFC 5804 4). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "reader/imap_parse.h"
#include "tests/unit/tap_main.h"

static const struct imap_parse_limits limits = {
    .literal_max = 100,
    .append_literal_max = 1000,
    .discard_max = 5000,
    .args_max = 20,
    .depth_max = 3,
    .bytes_max = 2000,
};

static struct imap_parser *parser(void)
{
    struct imap_parser *p = imap_parser_new(&limits);
    ck_assert_ptr_nonnull(p);
    return p;
}

static enum imap_parse_result line(struct imap_parser *p, const char *s)
{
    return imap_parser_feed_line(p, s, strlen(s));
}

START_TEST(tag_name_atoms)
{
    struct imap_parser *p = parser();
    ck_assert_int_eq(line(p, "a1 noop"), IMAP_PARSE_DONE);
    const struct imap_command *c = imap_parser_command(p);
    ck_assert_str_eq(c->tag, "a1");
    ck_assert_str_eq(c->name, "NOOP");
    ck_assert_uint_eq(c->argc, 0);
    ck_assert_int_eq(line(p, "x.2 SELECT INBOX"), IMAP_PARSE_DONE);
    c = imap_parser_command(p);
    ck_assert_uint_eq(c->argc, 1);
    ck_assert_int_eq(c->args[0].type, IMAP_ARG_ATOM);
    ck_assert_str_eq(c->args[0].str, "INBOX");
    ck_assert(imap_arg_astring(&c->args[0]));
    ck_assert_int_eq(line(p, "t LIST \"\" %"), IMAP_PARSE_DONE);
    c = imap_parser_command(p);
    ck_assert_uint_eq(c->argc, 2);
    ck_assert_int_eq(c->args[0].type, IMAP_ARG_QUOTED);
    ck_assert_uint_eq(c->args[0].len, 0);
    ck_assert(!imap_arg_astring(&c->args[1]));
    ck_assert(imap_arg_list_mailbox(&c->args[1]));
    ck_assert_int_eq(line(p, "t STATUS x nil"), IMAP_PARSE_DONE);
    ck_assert_int_eq(imap_parser_command(p)->args[1].type, IMAP_ARG_NIL);
    imap_parser_free(&p);
    ck_assert_ptr_null(p);
}
END_TEST

START_TEST(quoted_strings)
{
    struct imap_parser *p = parser();
    ck_assert_int_eq(line(p, "a LOGIN \"al ice\" \"p\\\"w\\\\d\""), IMAP_PARSE_DONE);
    const struct imap_command *c = imap_parser_command(p);
    ck_assert_str_eq(imap_command_arg(c, 0)->str, "al ice");
    ck_assert_str_eq(imap_command_arg(c, 1)->str, "p\"w\\d");
    ck_assert_ptr_null(imap_command_arg(c, 2));
    ck_assert_int_eq(line(p, "a LOGIN \"open"), IMAP_PARSE_BAD);
    ck_assert_str_eq(imap_parser_tag(p), "a");
    ck_assert_str_eq(imap_parser_error(p), "Unterminated quoted string");
    ck_assert_int_eq(line(p, "a LOGIN \"bad\\x\""), IMAP_PARSE_BAD);
    ck_assert_int_eq(line(p, "a LOGIN \"x\"\"y\""), IMAP_PARSE_BAD);
    imap_parser_free(&p);
}
END_TEST

START_TEST(literals)
{
    struct imap_parser *p = parser();
    /* synchronising: the continuation is the session's to send */
    ck_assert_int_eq(line(p, "a LOGIN {5}"), IMAP_PARSE_LITERAL);
    ck_assert(imap_parser_literal_sync(p));
    ck_assert_uint_eq(imap_parser_literal_left(p), 5);
    imap_parser_feed_literal(p, "al", 2);
    imap_parser_feed_literal(p, "\0ce", 3);
    ck_assert_uint_eq(imap_parser_literal_left(p), 0);
    ck_assert_int_eq(line(p, " {3+}"), IMAP_PARSE_LITERAL);
    ck_assert(!imap_parser_literal_sync(p));
    imap_parser_feed_literal(p, "pwdEXTRA", 8); /* only 3 are taken */
    ck_assert_int_eq(line(p, ""), IMAP_PARSE_DONE);
    const struct imap_command *c = imap_parser_command(p);
    ck_assert_uint_eq(c->argc, 2);
    ck_assert_int_eq(c->args[0].type, IMAP_ARG_LITERAL);
    ck_assert_uint_eq(c->args[0].len, 5);
    ck_assert(memcmp(c->args[0].str, "al\0ce", 5) == 0);
    ck_assert_str_eq(c->args[1].str, "pwd");
    /* {0} still needs its (empty) feed */
    ck_assert_int_eq(line(p, "a LOGIN {0}"), IMAP_PARSE_LITERAL);
    imap_parser_feed_literal(p, "", 0);
    ck_assert_int_eq(line(p, " x"), IMAP_PARSE_DONE);
    ck_assert_uint_eq(imap_parser_command(p)->args[0].len, 0);
    /* something other than a space after a literal */
    ck_assert_int_eq(line(p, "a LOGIN {1}"), IMAP_PARSE_LITERAL);
    imap_parser_feed_literal(p, "x", 1);
    ck_assert_int_eq(line(p, "y"), IMAP_PARSE_BAD);
    ck_assert_int_eq(line(p, "a LOGIN {5} x"), IMAP_PARSE_BAD);
    ck_assert_int_eq(line(p, "a LOGIN {x}"), IMAP_PARSE_BAD);
    ck_assert_int_eq(line(p, "a LOGIN {99999999999999999999}"), IMAP_PARSE_BAD);
    imap_parser_free(&p);
}
END_TEST

START_TEST(literal8)
{
    struct imap_parser *p = parser();
    ck_assert_int_eq(line(p, "a APPEND INBOX ~{3}"), IMAP_PARSE_LITERAL);
    ck_assert(imap_parser_literal_sync(p));
    imap_parser_feed_literal(p, "\0\1\2", 3);
    ck_assert_int_eq(line(p, ""), IMAP_PARSE_DONE);
    const struct imap_command *c = imap_parser_command(p);
    ck_assert_int_eq(c->args[1].type, IMAP_ARG_LITERAL8);
    ck_assert(memcmp(c->args[1].str, "\0\1\2", 3) == 0);
    ck_assert(!imap_arg_astring(&c->args[1])); /* binary is no string */
    ck_assert_int_eq(line(p, "a APPEND INBOX ~{2+}"), IMAP_PARSE_LITERAL);
    ck_assert(!imap_parser_literal_sync(p));
    imap_parser_feed_literal(p, "ab", 2);
    ck_assert_int_eq(line(p, ""), IMAP_PARSE_DONE);
    /* the APPEND limit holds for it too; "~" alone is an atom */
    ck_assert_int_eq(line(p, "a APPEND INBOX ~{1001}"), IMAP_PARSE_TOOBIG);
    ck_assert_int_eq(line(p, "a SELECT ~x"), IMAP_PARSE_DONE);
    ck_assert_int_eq(line(p, "a SELECT ~{1} x"), IMAP_PARSE_BAD);
    imap_parser_free(&p);
}
END_TEST

START_TEST(literal_limits)
{
    struct imap_parser *p = parser();
    /* synchronising over the limit: refused before the continuation, so
     * the client sends nothing more of it */
    ck_assert_int_eq(line(p, "a LOGIN {101}"), IMAP_PARSE_TOOBIG);
    ck_assert_uint_eq(imap_parser_literal_left(p), 0);
    ck_assert_int_eq(line(p, "b NOOP"), IMAP_PARSE_DONE);
    ck_assert_str_eq(imap_parser_command(p)->tag, "b");
    /* APPEND's message has its own, larger limit */
    ck_assert_int_eq(line(p, "a APPEND INBOX {1000}"), IMAP_PARSE_LITERAL);
    imap_parser_reset(p);
    ck_assert_int_eq(line(p, "a APPEND INBOX {1001}"), IMAP_PARSE_TOOBIG);
    /* non-synchronising over the limit: its octets and the rest of the
     * command are dropped, never run as commands */
    ck_assert_int_eq(line(p, "a LOGIN {200+}"), IMAP_PARSE_TOOBIG);
    ck_assert(imap_parser_discarding(p));
    ck_assert_uint_eq(imap_parser_literal_left(p), 200);
    char junk[200];
    memset(junk, 'x', sizeof junk);
    memcpy(junk, "c DELETE INBOX\r\n", 16);
    imap_parser_feed_literal(p, junk, sizeof junk);
    ck_assert_int_eq(line(p, " {3+}"), IMAP_PARSE_LITERAL);
    imap_parser_feed_literal(p, "abc", 3);
    ck_assert_int_eq(line(p, " rest"), IMAP_PARSE_DISCARDED);
    ck_assert(!imap_parser_discarding(p));
    ck_assert_int_eq(line(p, "d NOOP"), IMAP_PARSE_DONE);
    /* too big even to drop: close */
    ck_assert_int_eq(line(p, "a LOGIN {5001+}"), IMAP_PARSE_CLOSE);
    /* a bad line whose literal is already coming: dropped as well */
    ck_assert_int_eq(line(p, "a LOGIN \"x {4+}"), IMAP_PARSE_BAD);
    ck_assert(imap_parser_discarding(p));
    imap_parser_feed_literal(p, "e OK", 4);
    ck_assert_int_eq(line(p, ""), IMAP_PARSE_DISCARDED);
    imap_parser_free(&p);
}
END_TEST

START_TEST(lists_and_nesting)
{
    struct imap_parser *p = parser();
    ck_assert_int_eq(line(p, "a STORE 1:* +FLAGS.SILENT (\\Seen \\Deleted)"), IMAP_PARSE_DONE);
    const struct imap_command *c = imap_parser_command(p);
    ck_assert_uint_eq(c->argc, 3);
    const struct imap_arg *list = imap_command_arg(c, 2);
    ck_assert_int_eq(list->type, IMAP_ARG_LIST);
    ck_assert_uint_eq(list->count, 2);
    ck_assert_str_eq(imap_list_elem(c, list, 1)->str, "\\Deleted");
    ck_assert_ptr_null(imap_list_elem(c, list, 2));
    ck_assert_int_eq(line(p, "a X ((a) (b c)) d"), IMAP_PARSE_DONE);
    c = imap_parser_command(p);
    ck_assert_uint_eq(c->argc, 2);
    list = imap_command_arg(c, 0);
    ck_assert_uint_eq(list->count, 2);
    ck_assert_uint_eq(imap_list_elem(c, list, 1)->count, 2);
    ck_assert_str_eq(imap_command_arg(c, 1)->str, "d");
    ck_assert_int_eq(line(p, "a X ()"), IMAP_PARSE_DONE);
    ck_assert_uint_eq(imap_parser_command(p)->args[0].count, 0);
    ck_assert_int_eq(line(p, "a X (((x)))"), IMAP_PARSE_DONE);
    ck_assert_int_eq(line(p, "a X ((((x))))"), IMAP_PARSE_BAD);
    ck_assert_str_eq(imap_parser_error(p), "Lists nested too deep");
    ck_assert_int_eq(line(p, "a X (a"), IMAP_PARSE_BAD);
    ck_assert_int_eq(line(p, "a X a)"), IMAP_PARSE_BAD);
    ck_assert_int_eq(line(p, "a X (a)(b)"), IMAP_PARSE_BAD);
    /* a list continued after a literal */
    ck_assert_int_eq(line(p, "a X (a {2}"), IMAP_PARSE_LITERAL);
    imap_parser_feed_literal(p, "bc", 2);
    ck_assert_int_eq(line(p, " d)"), IMAP_PARSE_DONE);
    ck_assert_uint_eq(imap_parser_command(p)->args[0].count, 3);
    imap_parser_free(&p);
}
END_TEST

START_TEST(fetch_items_with_sections)
{
    struct imap_parser *p = parser();
    ck_assert_int_eq(
        line(p, "a FETCH 1 (UID BODY.PEEK[HEADER.FIELDS (From Subject)]<0.100> BODY[])"),
        IMAP_PARSE_DONE);
    const struct imap_command *c = imap_parser_command(p);
    const struct imap_arg *items = imap_command_arg(c, 1);
    ck_assert_uint_eq(items->count, 3);
    ck_assert_str_eq(imap_list_elem(c, items, 1)->str,
                     "BODY.PEEK[HEADER.FIELDS (From Subject)]<0.100>");
    ck_assert_str_eq(imap_list_elem(c, items, 2)->str, "BODY[]");
    /* "[" is an ATOM-CHAR: no "]" makes it an atom, which FETCH refuses */
    ck_assert_int_eq(line(p, "a FETCH 1 BODY[TEXT"), IMAP_PARSE_DONE);
    ck_assert_str_eq(imap_command_arg(imap_parser_command(p), 1)->str, "BODY[TEXT");
    ck_assert_int_eq(line(p, "a FETCH 1 BODY[HEADER.FIELDS (A B)"), IMAP_PARSE_DONE);
    c = imap_parser_command(p);
    ck_assert_uint_eq(c->argc, 3);
    ck_assert_str_eq(imap_command_arg(c, 1)->str, "BODY[HEADER.FIELDS");
    /* imaptest's atoms script: every ATOM-CHAR that is no letter */
    ck_assert_int_eq(line(p, "a SELECT !#$&'+,-.0123456789:;<=>?@^_`|[}"), IMAP_PARSE_DONE);
    c = imap_parser_command(p);
    ck_assert_uint_eq(c->argc, 1);
    ck_assert(imap_arg_astring(imap_command_arg(c, 0)));
    ck_assert_int_eq(line(p, "a LIST \"\" a[b}%*"), IMAP_PARSE_DONE);
    ck_assert(imap_arg_list_mailbox(imap_command_arg(imap_parser_command(p), 1)));
    /* NIL where a flag is wanted is the keyword "NIL" */
    ck_assert_int_eq(line(p, "a STORE 1 +FLAGS NIL"), IMAP_PARSE_DONE);
    c = imap_parser_command(p);
    ck_assert(imap_arg_flag(imap_command_arg(c, 2)));
    ck_assert_str_eq(imap_command_arg(c, 2)->str, "NIL");
    ck_assert_int_eq(line(p, "a STORE 1 +FLAGS \"x\""), IMAP_PARSE_DONE);
    ck_assert(!imap_arg_flag(imap_command_arg(imap_parser_command(p), 2)));
    imap_parser_free(&p);
}
END_TEST

START_TEST(garbage)
{
    struct imap_parser *p = parser();
    ck_assert_int_eq(line(p, ""), IMAP_PARSE_BAD);
    ck_assert_str_eq(imap_parser_tag(p), "*");
    ck_assert_int_eq(line(p, "a"), IMAP_PARSE_BAD);
    ck_assert_str_eq(imap_parser_tag(p), "a");
    ck_assert_int_eq(line(p, "+ NOOP"), IMAP_PARSE_BAD);
    ck_assert_str_eq(imap_parser_tag(p), "*");
    ck_assert_int_eq(line(p, "a{ NOOP"), IMAP_PARSE_BAD);
    ck_assert_int_eq(line(p, "a  NOOP"), IMAP_PARSE_BAD);
    ck_assert_int_eq(line(p, "a NO-OP"), IMAP_PARSE_BAD);
    ck_assert_int_eq(line(p, "a SELECT in\x01x"), IMAP_PARSE_BAD);
    ck_assert_int_eq(line(p, "a SELECT \xc3\xa9"), IMAP_PARSE_BAD);
    ck_assert_int_eq(line(p, "a SELECT a\"b"), IMAP_PARSE_BAD);
    ck_assert_int_eq(imap_parser_feed_line(p, "a SELECT \"x\0y\"", 14), IMAP_PARSE_BAD);
    char tag[IMAP_TAG_MAX + 10];
    memset(tag, 't', sizeof tag);
    memcpy(tag + IMAP_TAG_MAX + 1, " NOOP", 6);
    ck_assert_int_eq(line(p, tag), IMAP_PARSE_BAD);
    ck_assert_str_eq(imap_parser_error(p), "Tag too long");
    /* a trailing space is forgiven */
    ck_assert_int_eq(line(p, "a CHECK "), IMAP_PARSE_DONE);
    imap_parser_free(&p);
}
END_TEST

START_TEST(argument_and_size_limits)
{
    struct imap_parser *p = parser();
    ck_assert_int_eq(line(p, "a X 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20"),
                     IMAP_PARSE_DONE);
    ck_assert_int_eq(line(p, "a X 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21"),
                     IMAP_PARSE_BAD);
    ck_assert_str_eq(imap_parser_error(p), "Too many arguments");
    ck_assert_int_eq(line(p, "a X (((())))"), IMAP_PARSE_BAD);
    char big[2100];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    memcpy(big, "a X ", 4);
    ck_assert_int_eq(line(p, big), IMAP_PARSE_BAD);
    ck_assert_str_eq(imap_parser_error(p), "Command too long");
    imap_parser_free(&p);
}
END_TEST

START_TEST(numbers)
{
    struct imap_parser *p = parser();
    ck_assert_int_eq(line(p, "a X 42 4x 99999999999"), IMAP_PARSE_DONE);
    const struct imap_command *c = imap_parser_command(p);
    uint64_t n;
    ck_assert(imap_arg_number(imap_command_arg(c, 0), UINT32_MAX, &n));
    ck_assert_uint_eq(n, 42);
    ck_assert(!imap_arg_number(imap_command_arg(c, 1), UINT32_MAX, &n));
    ck_assert(!imap_arg_number(imap_command_arg(c, 2), UINT32_MAX, &n));
    ck_assert(imap_arg_is(imap_command_arg(c, 0), "42"));
    imap_parser_free(&p);
}
END_TEST

static bool seqset(const char *s, struct imap_seqset *set)
{
    return imap_seqset_parse(s, strlen(s), set);
}

START_TEST(sequence_sets)
{
    static struct imap_seqset set;
    ck_assert(seqset("1", &set));
    ck_assert(imap_seqset_contains(&set, 1, 10));
    ck_assert(!imap_seqset_contains(&set, 2, 10));
    ck_assert(seqset("2:4,7,9:*", &set));
    ck_assert_uint_eq(set.count, 3);
    ck_assert(imap_seqset_contains(&set, 3, 10));
    ck_assert(!imap_seqset_contains(&set, 5, 10));
    ck_assert(imap_seqset_contains(&set, 10, 10));
    ck_assert(!imap_seqset_contains(&set, 11, 10));
    ck_assert(seqset("4:2", &set));
    ck_assert(imap_seqset_contains(&set, 3, 10));
    /* "*" is the largest even below the other end: 5:* with 3 messages is 3:5 */
    ck_assert(seqset("5:*", &set));
    ck_assert(imap_seqset_contains(&set, 3, 3));
    ck_assert(!imap_seqset_contains(&set, 2, 3));
    ck_assert(seqset("*", &set));
    ck_assert(imap_seqset_contains(&set, 7, 7));
    ck_assert(!seqset("0", &set));
    ck_assert(!seqset("1,", &set));
    ck_assert(!seqset(",1", &set));
    ck_assert(!seqset("1::2", &set));
    ck_assert(!seqset("01", &set));
    ck_assert(!seqset("4294967296", &set));
    ck_assert(seqset("4294967295", &set));
    ck_assert(!seqset("", &set));
    ck_assert(!seqset("a", &set));
    /* the count limit */
    size_t n = IMAP_SEQSET_RANGES_MAX + 1;
    char *many = malloc(n * 2);
    ck_assert_ptr_nonnull(many);
    for (size_t i = 0; i < n; i++) {
        many[2 * i] = '1';
        many[2 * i + 1] = ',';
    }
    ck_assert(!imap_seqset_parse(many, n * 2 - 1, &set));
    ck_assert(imap_seqset_parse(many, (n - 1) * 2 - 1, &set));
    free(many);
}
END_TEST

START_TEST(managesieve_dialect)
{
    struct imap_parse_limits ml = limits;
    ml.untagged = true;
    struct imap_parser *p = imap_parser_new(&ml);
    ck_assert_ptr_nonnull(p);
    /* no tag: the first word is the command */
    ck_assert_int_eq(line(p, "putscript \"a b\" {5+}"), IMAP_PARSE_LITERAL);
    ck_assert(!imap_parser_literal_sync(p));
    imap_parser_feed_literal(p, "keep;", 5);
    ck_assert_int_eq(line(p, ""), IMAP_PARSE_DONE);
    const struct imap_command *c = imap_parser_command(p);
    ck_assert_str_eq(c->name, "PUTSCRIPT");
    ck_assert_uint_eq(c->argc, 2);
    ck_assert_str_eq(c->args[0].str, "a b");
    ck_assert_str_eq(c->args[1].str, "keep;");
    /* {n} is read at once too: there is no continuation to wait for */
    ck_assert_int_eq(line(p, "CHECKSCRIPT {3}"), IMAP_PARSE_LITERAL);
    ck_assert(!imap_parser_literal_sync(p));
    imap_parser_feed_literal(p, "x;y", 3);
    ck_assert_int_eq(line(p, ""), IMAP_PARSE_DONE);
    /* a {n} over the limit is on its way: dropped, then the next command */
    ck_assert_int_eq(line(p, "PUTSCRIPT \"s\" {150}"), IMAP_PARSE_TOOBIG);
    ck_assert(imap_parser_discarding(p));
    char junk[150];
    memset(junk, 'x', sizeof junk);
    imap_parser_feed_literal(p, junk, sizeof junk);
    ck_assert_int_eq(line(p, ""), IMAP_PARSE_DISCARDED);
    ck_assert_int_eq(line(p, "NOOP"), IMAP_PARSE_DONE);
    ck_assert_int_eq(line(p, "PUTSCRIPT \"s\" {6000}"), IMAP_PARSE_CLOSE);
    /* a SASL response: arguments only */
    imap_parser_expect_arguments(p);
    ck_assert_int_eq(line(p, "\"AGEAYg==\""), IMAP_PARSE_DONE);
    c = imap_parser_command(p);
    ck_assert_str_eq(c->name, "");
    ck_assert_uint_eq(c->argc, 1);
    ck_assert_str_eq(c->args[0].str, "AGEAYg==");
    ck_assert_int_eq(line(p, ""), IMAP_PARSE_BAD);
    imap_parser_free(&p);
}
END_TEST

static Suite *imap_parse_suite(void)
{
    Suite *s = suite_create("imap_parse");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, tag_name_atoms);
    tcase_add_test(tc, quoted_strings);
    tcase_add_test(tc, literals);
    tcase_add_test(tc, literal8);
    tcase_add_test(tc, literal_limits);
    tcase_add_test(tc, lists_and_nesting);
    tcase_add_test(tc, fetch_items_with_sections);
    tcase_add_test(tc, garbage);
    tcase_add_test(tc, argument_and_size_limits);
    tcase_add_test(tc, numbers);
    tcase_add_test(tc, sequence_sets);
    tcase_add_test(tc, managesieve_dialect);
    suite_add_tcase(s, tc);
    return s;
}

TAP_MAIN(imap_parse_suite)
