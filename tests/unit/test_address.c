/* tests/unit/test_address.c - lib/address: what each RFC 5321 4.1.2 form
 * parses to, the open-relay battery (exactly which local part and domain come
 * out), and the 4.5.3.1 limits at their edges. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "lib/address.h"
#include "tests/unit/tap_main.h"

static struct address a;

static enum address_result path(const char *s)
{
    return address_parse_path(s, strlen(s), 0, &a, NULL);
}

static enum address_result path_opts(const char *s, unsigned opts)
{
    return address_parse_path(s, strlen(s), opts, &a, NULL);
}

/* repeat - a string of n copies of ch (n < 600). */
static const char *repeat(char ch, size_t n)
{
    static char buf[4][600];
    static int which;
    char *b = buf[which++ % 4];
    memset(b, ch, n);
    b[n] = '\0';
    return b;
}

/* build - concatenate into a static buffer. */
static const char *build(const char *p1, const char *p2, const char *p3, const char *p4)
{
    static char buf[2048];
    snprintf(buf, sizeof(buf), "%s%s%s%s", p1, p2, p3, p4);
    return buf;
}

START_TEST(plain_mailbox_parses_to_local_and_domain)
{
    ck_assert_int_eq(path("<john.doe@Example.ORG>"), ADDRESS_OK);
    ck_assert_str_eq(a.local, "john.doe");
    ck_assert_str_eq(a.local_canon, "john.doe");
    ck_assert_str_eq(a.domain, "example.org");
    ck_assert_uint_eq(a.local_len, 8);
    ck_assert_uint_eq(a.domain_len, 11);
    ck_assert(!a.quoted && !a.literal && !a.is_null && !a.had_source_route && !a.utf8);
}
END_TEST

START_TEST(local_part_keeps_its_case)
{
    /* RFC 5321 2.4: the local part is case-sensitive; only the domain folds. */
    ck_assert_int_eq(path("<John.Doe@EXAMPLE.org>"), ADDRESS_OK);
    ck_assert_str_eq(a.local, "John.Doe");
    ck_assert_str_eq(a.domain, "example.org");
}
END_TEST

START_TEST(null_path_is_null)
{
    ck_assert_int_eq(path("<>"), ADDRESS_OK);
    ck_assert(a.is_null);
    ck_assert_str_eq(a.local, "");
    ck_assert_str_eq(a.domain, "");
}
END_TEST

START_TEST(all_atext_is_a_dot_string)
{
    ck_assert_int_eq(path("<!#$%&'*+-/=?^_`{|}~09az.AZ@x.example>"), ADDRESS_OK);
    ck_assert_str_eq(a.local, "!#$%&'*+-/=?^_`{|}~09az.AZ");
    ck_assert_str_eq(a.local_canon, a.local);
    ck_assert(!a.quoted);
}
END_TEST

START_TEST(bad_dot_strings_are_refused)
{
    ck_assert_int_eq(path("<.john@example.org>"), ADDRESS_SYNTAX);
    ck_assert_int_eq(path("<john.@example.org>"), ADDRESS_SYNTAX);
    ck_assert_int_eq(path("<jo..hn@example.org>"), ADDRESS_SYNTAX);
    ck_assert_int_eq(path("<@example.org>"), ADDRESS_SYNTAX);
    ck_assert_int_eq(path("<jo hn@example.org>"), ADDRESS_SYNTAX);
    ck_assert_int_eq(path("<jo(hn@example.org>"), ADDRESS_SYNTAX);
    ck_assert_int_eq(path("<jo,hn@example.org>"), ADDRESS_SYNTAX);
}
END_TEST

START_TEST(quoted_local_part_is_unquoted_and_canonicalised)
{
    ck_assert_int_eq(path("<\"john doe\"@example.org>"), ADDRESS_OK);
    ck_assert(a.quoted);
    ck_assert_str_eq(a.local, "john doe");
    ck_assert_str_eq(a.local_canon, "\"john doe\"");

    /* Quoting that is not needed disappears from the canonical form. */
    ck_assert_int_eq(path("<\"john.doe\"@example.org>"), ADDRESS_OK);
    ck_assert(a.quoted);
    ck_assert_str_eq(a.local, "john.doe");
    ck_assert_str_eq(a.local_canon, "john.doe");

    /* Quoted pairs: \" and \\ stay escaped, \x becomes x. */
    ck_assert_int_eq(path("<\"a\\\"b\\\\c\\d\"@example.org>"), ADDRESS_OK);
    ck_assert_str_eq(a.local, "a\"b\\cd");
    ck_assert_str_eq(a.local_canon, "\"a\\\"b\\\\cd\"");

    ck_assert_int_eq(path("<\"\"@example.org>"), ADDRESS_OK);
    ck_assert_str_eq(a.local, "");
    ck_assert_str_eq(a.local_canon, "\"\"");
}
END_TEST

START_TEST(bad_quoted_strings_are_refused)
{
    ck_assert_int_eq(path("<\"unterminated@example.org>"), ADDRESS_SYNTAX);
    ck_assert_int_eq(path("<\"tab\there\"@example.org>"), ADDRESS_SYNTAX);
    ck_assert_int_eq(path("<\"a\"b@example.org>"), ADDRESS_SYNTAX);
    ck_assert_int_eq(path("<a\"b\"@example.org>"), ADDRESS_SYNTAX);
    ck_assert_int_eq(path("<\"a\\\tb\"@example.org>"), ADDRESS_SYNTAX);
}
END_TEST

START_TEST(source_route_is_parsed_and_ignored)
{
    ck_assert_int_eq(path("<@a.example,@b.example:user@c.example>"), ADDRESS_OK);
    ck_assert(a.had_source_route);
    ck_assert_str_eq(a.local, "user");
    ck_assert_str_eq(a.domain, "c.example");

    ck_assert_int_eq(path("<@a.example:user@c.example>"), ADDRESS_OK);
    ck_assert_str_eq(a.domain, "c.example");

    ck_assert_int_eq(path("<@a.example>"), ADDRESS_SYNTAX);
    ck_assert_int_eq(path("<@a.example,user@c.example>"), ADDRESS_SYNTAX);
    ck_assert_int_eq(path("<@:user@c.example>"), ADDRESS_SYNTAX);
    ck_assert_int_eq(path("<@a.example,:user@c.example>"), ADDRESS_SYNTAX);
    ck_assert_int_eq(path("<@[192.0.2.1]:user@c.example>"), ADDRESS_SYNTAX);
}
END_TEST

START_TEST(domains_follow_the_grammar)
{
    ck_assert_int_eq(path("<u@localhost>"), ADDRESS_OK);
    ck_assert_str_eq(a.domain, "localhost");
    ck_assert_int_eq(path("<u@a-b.c0.example>"), ADDRESS_OK);
    ck_assert_int_eq(path("<u@123.example>"), ADDRESS_OK);
    ck_assert_int_eq(path("<u@-a.example>"), ADDRESS_SYNTAX);
    ck_assert_int_eq(path("<u@a-.example>"), ADDRESS_SYNTAX);
    ck_assert_int_eq(path("<u@a..example>"), ADDRESS_SYNTAX);
    ck_assert_int_eq(path("<u@.example>"), ADDRESS_SYNTAX);
    ck_assert_int_eq(path("<u@a_b.example>"), ADDRESS_SYNTAX);
    ck_assert_int_eq(path("<u@>"), ADDRESS_SYNTAX);
    ck_assert_int_eq(path("<u>"), ADDRESS_SYNTAX);
    ck_assert_int_eq(path("<u@example.org@other.example>"), ADDRESS_SYNTAX);
}
END_TEST

START_TEST(trailing_dot_domain_is_refused)
{
    ck_assert_int_eq(path("<user@example.org.>"), ADDRESS_SYNTAX);
    ck_assert_int_eq(path("<USER@EXAMPLE.ORG.>"), ADDRESS_SYNTAX);
}
END_TEST

START_TEST(ipv4_literal_is_checked_and_normalised)
{
    ck_assert_int_eq(path("<u@[192.0.2.1]>"), ADDRESS_OK);
    ck_assert(a.literal);
    ck_assert_int_eq(a.literal_family, AF_INET);
    ck_assert_str_eq(a.domain, "[192.0.2.1]");
    ck_assert_int_eq(path("<u@[192.0.2.256]>"), ADDRESS_SYNTAX);
    ck_assert_int_eq(path("<u@[192.0.2]>"), ADDRESS_SYNTAX);
    ck_assert_int_eq(path("<u@[192.0.2.01]>"), ADDRESS_SYNTAX);
    ck_assert_int_eq(path("<u@[]>"), ADDRESS_SYNTAX);
    ck_assert_int_eq(path("<u@[192.0.2.1>"), ADDRESS_SYNTAX);
    ck_assert_int_eq(path("<u@[ 192.0.2.1]>"), ADDRESS_SYNTAX);
}
END_TEST

START_TEST(ipv6_literal_is_checked_and_normalised)
{
    ck_assert_int_eq(path("<u@[IPv6:2001:DB8:0:0:0:0:0:1]>"), ADDRESS_OK);
    ck_assert(a.literal);
    ck_assert_int_eq(a.literal_family, AF_INET6);
    ck_assert_str_eq(a.domain, "[IPv6:2001:db8::1]");
    ck_assert_int_eq(path("<u@[ipv6:::1]>"), ADDRESS_OK);
    ck_assert_str_eq(a.domain, "[IPv6:::1]");
    ck_assert_int_eq(path("<u@[IPv6:::ffff:192.0.2.1]>"), ADDRESS_OK);
    ck_assert_int_eq(path("<u@[IPv6:2001:db8::g]>"), ADDRESS_SYNTAX);
    ck_assert_int_eq(path("<u@[IPv6:192.0.2.1]>"), ADDRESS_SYNTAX);
    ck_assert_int_eq(path("<u@[2001:db8::1]>"), ADDRESS_SYNTAX);
    /* General-address-literal with another tag: none is defined. */
    ck_assert_int_eq(path("<u@[x400:whatever]>"), ADDRESS_SYNTAX);
}
END_TEST

START_TEST(path_needs_its_brackets)
{
    ck_assert_int_eq(path("user@example.org"), ADDRESS_SYNTAX);
    ck_assert_int_eq(path("<user@example.org"), ADDRESS_SYNTAX);
    ck_assert_int_eq(path("user@example.org>"), ADDRESS_SYNTAX);
    ck_assert_int_eq(path("<user@example.org> "), ADDRESS_SYNTAX);
    ck_assert_int_eq(path("<<user@example.org>>"), ADDRESS_SYNTAX);
    ck_assert_int_eq(path(""), ADDRESS_SYNTAX);
    ck_assert_int_eq(path("<"), ADDRESS_SYNTAX);
}
END_TEST

START_TEST(used_tells_where_the_path_ends)
{
    size_t used = 0;
    const char *s = "<\"a>b\"@example.org> SIZE=10";
    ck_assert_int_eq(address_parse_path(s, strlen(s), 0, &a, &used), ADDRESS_OK);
    ck_assert_uint_eq(used, 19);
    ck_assert_str_eq(a.local, "a>b");
    s = "<> BODY=8BITMIME";
    ck_assert_int_eq(address_parse_path(s, strlen(s), 0, &a, &used), ADDRESS_OK);
    ck_assert_uint_eq(used, 2);
}
END_TEST

START_TEST(postmaster_only_when_asked)
{
    ck_assert_int_eq(path("<Postmaster>"), ADDRESS_SYNTAX);
    ck_assert_int_eq(path_opts("<PostMaster>", ADDRESS_OPT_POSTMASTER), ADDRESS_OK);
    ck_assert(a.is_postmaster);
    ck_assert_str_eq(a.local, "PostMaster");
    ck_assert_str_eq(a.local_canon, "postmaster");
    ck_assert_str_eq(a.domain, "");
    ck_assert_int_eq(path_opts("<postmaster@Example.org>", ADDRESS_OPT_POSTMASTER), ADDRESS_OK);
    ck_assert(!a.is_postmaster);
    ck_assert_str_eq(a.domain, "example.org");
    ck_assert_int_eq(path_opts("<postmasterx>", ADDRESS_OPT_POSTMASTER), ADDRESS_SYNTAX);
}
END_TEST

START_TEST(utf8_needs_smtputf8)
{
    const char *local = "<j\xc3\xb6rg@example.org>"; /* jörg */
    const char *dom = "<u@b\xc3\xbc"
                      "cher.example>"; /* bücher */
    const char *quoted = "<\"j\xc3\xb6 rg\"@example.org>";
    ck_assert_int_eq(path(local), ADDRESS_UTF8_NOT_ALLOWED);
    ck_assert_int_eq(path(dom), ADDRESS_UTF8_NOT_ALLOWED);
    ck_assert_int_eq(path(quoted), ADDRESS_UTF8_NOT_ALLOWED);
    ck_assert_int_eq(path_opts(local, ADDRESS_OPT_UTF8), ADDRESS_OK);
    ck_assert(a.utf8);
    ck_assert_str_eq(a.local, "j\xc3\xb6rg");
    ck_assert_str_eq(a.local_canon, "j\xc3\xb6rg");
    ck_assert_int_eq(path_opts(dom, ADDRESS_OPT_UTF8), ADDRESS_OK);
    ck_assert_str_eq(a.domain, "b\xc3\xbc"
                               "cher.example");
    ck_assert(a.utf8);
    ck_assert_int_eq(path_opts(quoted, ADDRESS_OPT_UTF8), ADDRESS_OK);
    ck_assert_str_eq(a.local_canon, "\"j\xc3\xb6 rg\"");
}
END_TEST

START_TEST(malformed_utf8_is_refused_even_with_smtputf8)
{
    ck_assert_int_eq(path_opts("<j\xc3@example.org>", ADDRESS_OPT_UTF8), ADDRESS_SYNTAX);
    ck_assert_int_eq(path_opts("<j\xc0\xaf@example.org>", ADDRESS_OPT_UTF8), ADDRESS_SYNTAX);
    ck_assert_int_eq(path_opts("<j\xed\xa0\x80@example.org>", ADDRESS_OPT_UTF8), ADDRESS_SYNTAX);
    ck_assert_int_eq(path_opts("<j\xf4\x90\x80\x80@example.org>", ADDRESS_OPT_UTF8),
                     ADDRESS_SYNTAX);
    ck_assert_int_eq(path_opts("<j\xff@example.org>", ADDRESS_OPT_UTF8), ADDRESS_SYNTAX);
    /* quoted-pairSMTP stays ASCII (RFC 6531 does not widen it) */
    ck_assert_int_eq(path_opts("<\"\\\xc3\xb6\"@example.org>", ADDRESS_OPT_UTF8), ADDRESS_SYNTAX);
}
END_TEST

/* The open-relay battery: what comes out is all the relay policy sees, so
 * each trick must leave the foreign part inside the local part (where it can
 * only fail a lookup) or in the domain (where it is foreign). */
START_TEST(relay_percent_hack_stays_local)
{
    ck_assert_int_eq(path("<user%foreign.example@ourdomain.example>"), ADDRESS_OK);
    ck_assert_str_eq(a.local, "user%foreign.example");
    ck_assert_str_eq(a.domain, "ourdomain.example");
}
END_TEST

START_TEST(relay_source_route_gives_final_domain)
{
    ck_assert_int_eq(path("<@ourdomain.example:user@foreign.example>"), ADDRESS_OK);
    ck_assert_str_eq(a.local, "user");
    ck_assert_str_eq(a.domain, "foreign.example");
    ck_assert(a.had_source_route);
}
END_TEST

START_TEST(relay_quoted_at_stays_local)
{
    ck_assert_int_eq(path("<\"user@foreign.example\"@ourdomain.example>"), ADDRESS_OK);
    ck_assert_str_eq(a.local, "user@foreign.example");
    ck_assert_str_eq(a.local_canon, "\"user@foreign.example\"");
    ck_assert_str_eq(a.domain, "ourdomain.example");
    ck_assert(a.quoted);
    ck_assert_int_eq(path("<\"user%foreign\"@ourdomain.example>"), ADDRESS_OK);
    ck_assert_str_eq(a.local, "user%foreign");
    ck_assert_str_eq(a.local_canon, "user%foreign");
    ck_assert_str_eq(a.domain, "ourdomain.example");
}
END_TEST

START_TEST(relay_bang_path_stays_local)
{
    ck_assert_int_eq(path("<foreign.example!user@ourdomain.example>"), ADDRESS_OK);
    ck_assert_str_eq(a.local, "foreign.example!user");
    ck_assert_str_eq(a.domain, "ourdomain.example");
    ck_assert_int_eq(path("<\"foreign!user\"@ourdomain.example>"), ADDRESS_OK);
    ck_assert_str_eq(a.local, "foreign!user");
    ck_assert_str_eq(a.local_canon, "foreign!user");
}
END_TEST

START_TEST(relay_ip_literal_is_a_literal)
{
    ck_assert_int_eq(path("<user@[1.2.3.4]>"), ADDRESS_OK);
    ck_assert(a.literal);
    ck_assert_str_eq(a.local, "user");
    ck_assert_str_eq(a.domain, "[1.2.3.4]");
}
END_TEST

START_TEST(relay_case_and_trailing_dot)
{
    ck_assert_int_eq(path("<USER@OURDOMAIN.EXAMPLE>"), ADDRESS_OK);
    ck_assert_str_eq(a.local, "USER");
    ck_assert_str_eq(a.domain, "ourdomain.example");
    ck_assert_int_eq(path("<USER@OURDOMAIN.EXAMPLE.>"), ADDRESS_SYNTAX);
    ck_assert_int_eq(path("<user@ourdomain.example.>"), ADDRESS_SYNTAX);
    ck_assert_str_eq(a.domain, ""); /* nothing left behind on error */
}
END_TEST

START_TEST(local_part_limit_is_64_octets)
{
    ck_assert_int_eq(path(build("<", repeat('l', 64), "@example.org>", "")), ADDRESS_OK);
    ck_assert_uint_eq(a.local_len, 64);
    ck_assert_int_eq(path(build("<", repeat('l', 65), "@example.org>", "")), ADDRESS_TOO_LONG);
    /* Counted as sent: the quotes count. */
    ck_assert_int_eq(path(build("<\"", repeat('q', 62), "\"@example.org>", "")), ADDRESS_OK);
    ck_assert_uint_eq(a.local_len, 62);
    ck_assert_int_eq(path(build("<\"", repeat('q', 63), "\"@example.org>", "")), ADDRESS_TOO_LONG);
}
END_TEST

/* domain_of - a valid domain of exactly n octets (63-octet labels). */
static const char *domain_of(size_t n)
{
    static char d[600];
    size_t o = 0;
    while (o < n) {
        size_t label = n - o > 63 ? 63 : n - o;
        if (label > 1 && n - o - label == 1)
            label--; /* never leave a 1-octet remainder after a dot */
        memset(d + o, 'd', label);
        o += label;
        if (o < n)
            d[o++] = '.';
        if (o == n && d[o - 1] == '.')
            d[o - 1] = 'd';
    }
    d[n] = '\0';
    return d;
}

START_TEST(domain_limit_is_255_octets)
{
    ck_assert_uint_eq(strlen(domain_of(255)), 255);
    ck_assert_int_eq(address_parse_domain(domain_of(255), 255, 0, &a), ADDRESS_OK);
    ck_assert_uint_eq(a.domain_len, 255);
    ck_assert_int_eq(address_parse_domain(domain_of(256), 256, 0, &a), ADDRESS_TOO_LONG);
    ck_assert_int_eq(address_parse_domain(repeat('x', 63), 63, 0, &a), ADDRESS_OK);
    ck_assert_int_eq(address_parse_domain(repeat('x', 64), 64, 0, &a), ADDRESS_TOO_LONG);
}
END_TEST

START_TEST(path_limit_is_256_octets)
{
    /* "<" + 59 + "@" + 194 + ">" = 256 */
    const char *p256 = build("<", repeat('l', 59), "@", domain_of(194));
    char buf[2100]; /* room for anything build() returns */
    snprintf(buf, sizeof(buf), "%s>", p256);
    ck_assert_uint_eq(strlen(buf), 256);
    ck_assert_int_eq(path(buf), ADDRESS_OK);
    snprintf(buf, sizeof(buf), "%s>", build("<", repeat('l', 60), "@", domain_of(194)));
    ck_assert_uint_eq(strlen(buf), 257);
    ck_assert_int_eq(path(buf), ADDRESS_TOO_LONG);
    /* The source route counts too. */
    snprintf(buf, sizeof(buf), "<@r.example:%s>", build(repeat('l', 48), "@", domain_of(194), ""));
    ck_assert_uint_eq(strlen(buf), 256);
    ck_assert_int_eq(path(buf), ADDRESS_OK);
    snprintf(buf, sizeof(buf), "<@r.example:%s>", build(repeat('l', 49), "@", domain_of(194), ""));
    ck_assert_int_eq(path(buf), ADDRESS_TOO_LONG);
}
END_TEST

START_TEST(bare_mailbox_parses)
{
    const char *s = "Someone@Example.ORG";
    ck_assert_int_eq(address_parse_mailbox(s, strlen(s), 0, &a), ADDRESS_OK);
    ck_assert_str_eq(a.local, "Someone");
    ck_assert_str_eq(a.domain, "example.org");
    s = "<someone@example.org>";
    ck_assert_int_eq(address_parse_mailbox(s, strlen(s), 0, &a), ADDRESS_SYNTAX);
    s = "someone@example.org x";
    ck_assert_int_eq(address_parse_mailbox(s, strlen(s), 0, &a), ADDRESS_SYNTAX);
}
END_TEST

START_TEST(domain_alone_for_ehlo)
{
    ck_assert_int_eq(address_parse_domain("Mail.Example.ORG", 16, 0, &a), ADDRESS_OK);
    ck_assert_str_eq(a.domain, "mail.example.org");
    ck_assert_int_eq(address_parse_domain("[192.0.2.7]", 11, 0, &a), ADDRESS_OK);
    ck_assert(a.literal);
    ck_assert_int_eq(address_parse_domain("192.0.2.7", 9, 0, &a),
                     ADDRESS_OK); /* digits are labels */
    ck_assert_int_eq(address_parse_domain("my_pc", 5, 0, &a), ADDRESS_SYNTAX);
    ck_assert_int_eq(address_parse_domain("", 0, 0, &a), ADDRESS_SYNTAX);
}
END_TEST

START_TEST(nul_octet_never_passes)
{
    const char s[] = "<us\0er@example.org>";
    ck_assert_int_eq(address_parse_path(s, sizeof(s) - 1, ADDRESS_OPT_UTF8, &a, NULL),
                     ADDRESS_SYNTAX);
    const char q[] = "<\"us\0er\"@example.org>";
    ck_assert_int_eq(address_parse_path(q, sizeof(q) - 1, ADDRESS_OPT_UTF8, &a, NULL),
                     ADDRESS_SYNTAX);
}
END_TEST

START_TEST(render_gives_canonical_mailbox)
{
    char out[ADDRESS_RENDER_MAX];
    ck_assert_int_eq(path("<\"john.doe\"@EXAMPLE.org>"), ADDRESS_OK);
    ck_assert_int_eq(address_render(&a, out, sizeof(out)), 20);
    ck_assert_str_eq(out, "john.doe@example.org");
    ck_assert_int_eq(path("<@r.example:\"a b\"@[IPv6:2001:db8:0::1]>"), ADDRESS_OK);
    ck_assert_int_gt(address_render(&a, out, sizeof(out)), 0);
    ck_assert_str_eq(out, "\"a b\"@[IPv6:2001:db8::1]");
    ck_assert_int_eq(path("<>"), ADDRESS_OK);
    ck_assert_int_eq(address_render(&a, out, sizeof(out)), 0);
    ck_assert_str_eq(out, "");
    ck_assert_int_eq(path_opts("<POSTMASTER>", ADDRESS_OPT_POSTMASTER), ADDRESS_OK);
    ck_assert_int_eq(address_render(&a, out, sizeof(out)), 10);
    ck_assert_str_eq(out, "postmaster");
    ck_assert_int_eq(path("<a@b.example>"), ADDRESS_OK);
    ck_assert_int_eq(address_render(&a, out, 5), -1);
}
END_TEST

START_TEST(rendered_form_parses_back_to_itself)
{
    static const char *inputs[] = {
        "<\"a\\\"b\\\\c\"@example.org>",
        "<\"\"@example.org>",
        "<\"x y\"@[10.0.0.1]>",
        "<a.b+c@sub.example.org>",
        "<\"user@foreign\"@ourdomain.example>",
    };
    for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
        char out[ADDRESS_RENDER_MAX], again[ADDRESS_RENDER_MAX + 2];
        struct address b;
        ck_assert_int_eq(path(inputs[i]), ADDRESS_OK);
        ck_assert_int_gt(address_render(&a, out, sizeof(out)), 0);
        snprintf(again, sizeof(again), "<%s>", out);
        ck_assert_int_eq(address_parse_path(again, strlen(again), 0, &b, NULL), ADDRESS_OK);
        ck_assert_str_eq(b.local, a.local);
        ck_assert_str_eq(b.domain, a.domain);
        ck_assert_str_eq(b.local_canon, a.local_canon);
    }
}
END_TEST

START_TEST(result_names_for_logs)
{
    ck_assert_str_eq(address_result_str(ADDRESS_OK), "ok");
    ck_assert_str_eq(address_result_str(ADDRESS_SYNTAX), "syntax");
    ck_assert_str_eq(address_result_str(ADDRESS_TOO_LONG), "too-long");
    ck_assert_str_eq(address_result_str(ADDRESS_UTF8_NOT_ALLOWED), "utf8-without-smtputf8");
}
END_TEST

static Suite *address_suite(void)
{
    Suite *s = suite_create("address");
    TCase *tc = tcase_create("forms");
    tcase_add_test(tc, plain_mailbox_parses_to_local_and_domain);
    tcase_add_test(tc, local_part_keeps_its_case);
    tcase_add_test(tc, null_path_is_null);
    tcase_add_test(tc, all_atext_is_a_dot_string);
    tcase_add_test(tc, bad_dot_strings_are_refused);
    tcase_add_test(tc, quoted_local_part_is_unquoted_and_canonicalised);
    tcase_add_test(tc, bad_quoted_strings_are_refused);
    tcase_add_test(tc, source_route_is_parsed_and_ignored);
    tcase_add_test(tc, domains_follow_the_grammar);
    tcase_add_test(tc, trailing_dot_domain_is_refused);
    tcase_add_test(tc, ipv4_literal_is_checked_and_normalised);
    tcase_add_test(tc, ipv6_literal_is_checked_and_normalised);
    tcase_add_test(tc, path_needs_its_brackets);
    tcase_add_test(tc, used_tells_where_the_path_ends);
    tcase_add_test(tc, postmaster_only_when_asked);
    tcase_add_test(tc, utf8_needs_smtputf8);
    tcase_add_test(tc, malformed_utf8_is_refused_even_with_smtputf8);
    tcase_add_test(tc, bare_mailbox_parses);
    tcase_add_test(tc, domain_alone_for_ehlo);
    tcase_add_test(tc, nul_octet_never_passes);
    suite_add_tcase(s, tc);

    tc = tcase_create("open_relay_battery");
    tcase_add_test(tc, relay_percent_hack_stays_local);
    tcase_add_test(tc, relay_source_route_gives_final_domain);
    tcase_add_test(tc, relay_quoted_at_stays_local);
    tcase_add_test(tc, relay_bang_path_stays_local);
    tcase_add_test(tc, relay_ip_literal_is_a_literal);
    tcase_add_test(tc, relay_case_and_trailing_dot);
    suite_add_tcase(s, tc);

    tc = tcase_create("limits");
    tcase_add_test(tc, local_part_limit_is_64_octets);
    tcase_add_test(tc, domain_limit_is_255_octets);
    tcase_add_test(tc, path_limit_is_256_octets);
    suite_add_tcase(s, tc);

    tc = tcase_create("render");
    tcase_add_test(tc, render_gives_canonical_mailbox);
    tcase_add_test(tc, rendered_form_parses_back_to_itself);
    tcase_add_test(tc, result_names_for_logs);
    suite_add_tcase(s, tc);
    return s;
}

TAP_MAIN(address_suite)
