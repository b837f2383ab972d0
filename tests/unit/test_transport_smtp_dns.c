/* tests/unit/test_transport_smtp_dns.c - relay/smtp_dns.c
 * without a DNS server: next hops parsed (host, host:port, [host]:port,
 * IPv4 and IPv6 literals, comma-separated failover, smtp: and lmtp:, the
 * malformed ones refused), and a resolution of literal hops answered from
 * the event loop, never inside the call, in the order given. The MX and
 * A/AAAA paths are proved against dnsmasq by test_relay.py. */
#include "config.h"

#include "relay/smtp_dns.h"
#include "lib/event.h"
#include "tap_main.h"

#include <string.h>

START_TEST(test_hops_parse)
{
    struct smtp_hop h[SMTP_HOPS_MAX];
    ck_assert_int_eq(smtp_hops_parse("mx.example", 25, SMTP_LMTP_PORT, false, false, h), 1);
    ck_assert_str_eq(h[0].host, "mx.example");
    ck_assert(h[0].mx && !h[0].literal);
    ck_assert_uint_eq(h[0].port, 25);

    ck_assert_int_eq(smtp_hops_parse("smtp:mx.example:2525", 25, SMTP_LMTP_PORT, false, false, h),
                     1);
    ck_assert(h[0].mx);
    ck_assert_uint_eq(h[0].port, 2525);

    /* a node's mail host: the host itself */
    ck_assert_int_eq(smtp_hops_parse("node2.example:2525", 25, SMTP_LMTP_PORT, false, true, h), 1);
    ck_assert(!h[0].mx);

    ck_assert_int_eq(smtp_hops_parse("[mx.example]:587, [192.0.2.1], [ipv6:2001:db8::1]:26", 25,
                                     SMTP_LMTP_PORT, false, false, h),
                     3);
    ck_assert(!h[0].mx && !h[0].literal);
    ck_assert_uint_eq(h[0].port, 587);
    ck_assert_str_eq(h[1].host, "192.0.2.1");
    ck_assert(h[1].literal && !h[1].mx);
    ck_assert_uint_eq(h[1].port, 25);
    ck_assert_str_eq(h[2].host, "2001:db8::1");
    ck_assert(h[2].literal);
    ck_assert_uint_eq(h[2].port, 26);

    /* LMTP: its own default port, never an MX lookup, a UNIX socket */
    ck_assert_int_eq(smtp_hops_parse("lmtp:store.example", 25, SMTP_LMTP_PORT, false, false, h), 1);
    ck_assert(h[0].lmtp && !h[0].mx && !h[0].local);
    ck_assert_uint_eq(h[0].port, SMTP_LMTP_PORT);
    ck_assert_int_eq(smtp_hops_parse("lmtp:[192.0.2.3]:2424,lmtp:b.example", 25, SMTP_LMTP_PORT,
                                     false, false, h),
                     2);
    ck_assert(h[0].lmtp && h[0].literal && h[1].lmtp);
    ck_assert_uint_eq(h[0].port, 2424);
    ck_assert_int_eq(
        smtp_hops_parse("lmtp:unix:/run/dovecot/lmtp", 25, SMTP_LMTP_PORT, false, false, h), 1);
    ck_assert(h[0].lmtp && h[0].local && !h[0].mx);
    ck_assert_str_eq(h[0].host, "/run/dovecot/lmtp");
    ck_assert_int_eq(smtp_hops_parse("lmtp:unix:relative", 25, SMTP_LMTP_PORT, false, false, h),
                     -1);
    /* a node spoken to in LMTP: no prefix, the LMTP port */
    ck_assert_int_eq(smtp_hops_parse("node2.example", 25, 2424, true, true, h), 1);
    ck_assert(h[0].lmtp && !h[0].mx);
    ck_assert_uint_eq(h[0].port, 2424);
    ck_assert_int_eq(smtp_hops_parse("smtp:node2.example", 25, SMTP_LMTP_PORT, true, true, h), 1);
    ck_assert(!h[0].lmtp);
    /* one protocol per next hop */
    ck_assert_int_eq(
        smtp_hops_parse("lmtp:a.example,smtp:b.example", 25, SMTP_LMTP_PORT, false, false, h), -1);
    ck_assert_int_eq(smtp_hops_parse("[mx.example", 25, SMTP_LMTP_PORT, false, false, h), -1);
    ck_assert_int_eq(smtp_hops_parse("[mx.example]x", 25, SMTP_LMTP_PORT, false, false, h), -1);
    ck_assert_int_eq(smtp_hops_parse("mx.example:0", 25, SMTP_LMTP_PORT, false, false, h), -1);
    ck_assert_int_eq(smtp_hops_parse("mx.example:70000", 25, SMTP_LMTP_PORT, false, false, h), -1);
    ck_assert_int_eq(smtp_hops_parse("", 25, SMTP_LMTP_PORT, false, false, h), -1);
    ck_assert_int_eq(smtp_hops_parse(" , ", 25, SMTP_LMTP_PORT, false, false, h), -1);
    ck_assert_int_eq(smtp_hops_parse("a,b,c,d,e,f,g,h,i", 25, SMTP_LMTP_PORT, false, false, h), -1);
}
END_TEST

static struct event_loop *loop;
static int done_count;
static enum smtp_dns_status done_status;
static struct smtp_target done_targets[SMTP_TARGETS_MAX];
static size_t done_n;

static void on_done(void *ctx, enum smtp_dns_status status, const struct smtp_target *targets,
                    size_t count, const char *error)
{
    (void)ctx;
    (void)error;
    done_count++;
    done_status = status;
    done_n = count;
    memcpy(done_targets, targets, count * sizeof *targets);
    event_loop_stop(loop);
}

START_TEST(test_literals_answered_from_the_loop)
{
    static char fwd[] = "127.0.0.1@9";
    char *forwarders[] = {fwd};
    char *error = NULL;
    loop = event_loop_new();
    ck_assert_ptr_nonnull(loop);
    struct smtp_dns *dns = smtp_dns_new(loop, forwarders, 1, &error);
    ck_assert_msg(dns != NULL, "smtp_dns_new: %s", error);
    struct smtp_hop h[SMTP_HOPS_MAX];
    ck_assert_int_eq(
        smtp_hops_parse("[192.0.2.7]:2525,[ipv6:::1]", 25, SMTP_LMTP_PORT, false, false, h), 2);
    done_count = 0;
    struct smtp_dns_query *q = smtp_dns_resolve(dns, h, 2, on_done, NULL);
    ck_assert_ptr_nonnull(q);
    ck_assert_int_eq(done_count, 0); /* never inside the call */
    ck_assert_int_eq(event_loop_run(loop), 0);
    ck_assert_int_eq(done_count, 1);
    ck_assert_int_eq(done_status, SMTP_DNS_OK);
    ck_assert_uint_eq(done_n, 2);
    ck_assert_str_eq(done_targets[0].addr, "192.0.2.7");
    ck_assert_uint_eq(done_targets[0].port, 2525);
    ck_assert_str_eq(done_targets[1].addr, "::1");
    ck_assert_uint_eq(done_targets[1].port, 25);

    /* cancelled: never told */
    q = smtp_dns_resolve(dns, h, 1, on_done, NULL);
    ck_assert_ptr_nonnull(q);
    smtp_dns_cancel(dns, q);
    smtp_dns_free(&dns);
    ck_assert_ptr_null(dns);
    ck_assert_int_eq(done_count, 1);
    event_loop_free(&loop);
}
END_TEST

static Suite *dns_suite(void)
{
    Suite *s = suite_create("transport_smtp_dns");
    TCase *tc = tcase_create("hops");
    tcase_add_test(tc, test_hops_parse);
    tcase_add_test(tc, test_literals_answered_from_the_loop);
    suite_add_tcase(s, tc);
    return s;
}

TAP_MAIN(dns_suite)
