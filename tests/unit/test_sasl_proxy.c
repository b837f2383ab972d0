/* tests/unit/test_sasl_proxy.c - the proxy login's credential
 * (auth/sasl_proxy.c): what a front node writes is what a back node
 * accepts, and nothing else is: a wrong or truncated secret, a missing or
 * malformed address or port, trailing bytes, a NUL inside. */
#include "config.h"

#include <string.h>

#include "auth/sasl_proxy.h"
#include "tests/unit/tap_main.h"

#define SECRET "0123456789abcdef0123456789abcdef"

static bool check(const char *pass, struct sasl_proxy_client *c)
{
    return sasl_proxy_check(SECRET, pass, strlen(pass), c);
}

START_TEST(written_then_accepted)
{
    char buf[256];
    struct sasl_proxy_client c;
    ck_assert(sasl_proxy_password(buf, sizeof buf, SECRET, "192.0.2.1", 40123));
    ck_assert_str_eq(buf, SECRET " ip=192.0.2.1 port=40123");
    ck_assert(check(buf, &c));
    ck_assert_str_eq(c.ip, "192.0.2.1");
    ck_assert_uint_eq(c.port, 40123);
    ck_assert(sasl_proxy_password(buf, sizeof buf, SECRET, "2001:db8::7", 0));
    ck_assert(check(buf, &c));
    ck_assert_str_eq(c.ip, "2001:db8::7");
    ck_assert_uint_eq(c.port, 0);
    /* too small a buffer writes nothing usable */
    ck_assert(!sasl_proxy_password(buf, 20, SECRET, "192.0.2.1", 1));
}
END_TEST

START_TEST(everything_else_refused)
{
    struct sasl_proxy_client c;
    ck_assert(!check(SECRET, &c));
    ck_assert(!check(SECRET " ", &c));
    ck_assert(!check("0123456789abcdef0123456789abcdee ip=192.0.2.1 port=1", &c));
    ck_assert(!check("0123456789abcdef0123456789abcde ip=192.0.2.1 port=1", &c));
    ck_assert(!check(SECRET "0 ip=192.0.2.1 port=1", &c));
    ck_assert(!check(SECRET " ip=192.0.2.1", &c));
    ck_assert(!check(SECRET " port=1 ip=192.0.2.1", &c));
    ck_assert(!check(SECRET " ip=192.0.2.1 port=1 ", &c));
    ck_assert(!check(SECRET " ip=192.0.2.1 port=1 x=y", &c));
    ck_assert(!check(SECRET " ip=192.0.2.1 port=65536", &c));
    ck_assert(!check(SECRET " ip=192.0.2.1 port=-1", &c));
    ck_assert(!check(SECRET " ip=192.0.2.1 port=", &c));
    ck_assert(!check(SECRET " ip=host.example port=1", &c));
    ck_assert(!check(SECRET " ip= port=1", &c));
    ck_assert(!check(SECRET "  ip=192.0.2.1 port=1", &c));
    /* a NUL inside: the length, not the C string, is what counts */
    const char nul[] = SECRET " ip=192.0.2.1 port=1\0junk";
    ck_assert(!sasl_proxy_check(SECRET, nul, sizeof nul - 1, &c));
    ck_assert(sasl_proxy_check(SECRET, nul, strlen(nul), &c));
}
END_TEST

static Suite *sasl_proxy_suite(void)
{
    Suite *s = suite_create("sasl_proxy");
    TCase *tc = tcase_create("sasl_proxy");
    tcase_add_test(tc, written_then_accepted);
    tcase_add_test(tc, everything_else_refused);
    suite_add_tcase(s, tc);
    return s;
}

TAP_MAIN(sasl_proxy_suite)
