/* tests/unit/test_pop3_parse.c - the POP3 command parser (reader/pop3_parse.c)
 * and the RETR/TOP stream (reader/pop3_stream.c): verbs and their argument
 * rules, the 255-octet limit (RFC 2449 4), PASS keeping its spaces, and
 * dot-stuffing, bare LF to CRLF and TOP's cut (RFC 1939 3, 7). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "reader/pop3_parse.h"
#include "reader/pop3_stream.h"
#include "tests/unit/tap_main.h"

static enum pop3_parse_result parse(const char *line, struct pop3_command *cmd)
{
    return pop3_parse_line(line, strlen(line), cmd);
}

START_TEST(verbs_and_arguments)
{
    struct pop3_command cmd;
    ck_assert_int_eq(parse("stat", &cmd), POP3_PARSE_OK);
    ck_assert_int_eq(cmd.verb, POP3_VERB_STAT);
    ck_assert_int_eq(parse("TOP 3 10", &cmd), POP3_PARSE_OK);
    ck_assert_uint_eq(cmd.msg, 3);
    ck_assert_uint_eq(cmd.lines, 10);
    ck_assert_int_eq(parse("LIST", &cmd), POP3_PARSE_OK);
    ck_assert_uint_eq(cmd.argc, 0);
    ck_assert_int_eq(parse("RETR x", &cmd), POP3_PARSE_BAD_NUMBER);
    ck_assert_int_eq(parse("RETR -1", &cmd), POP3_PARSE_BAD_NUMBER);
    ck_assert_int_eq(parse("RETR", &cmd), POP3_PARSE_BAD_ARGS);
    ck_assert_int_eq(parse("STAT 1", &cmd), POP3_PARSE_BAD_ARGS);
    ck_assert_int_eq(parse("APOP a b", &cmd), POP3_PARSE_UNKNOWN);
    ck_assert_int_eq(parse("PASS two words ", &cmd), POP3_PARSE_OK);
    ck_assert_str_eq(cmd.args[0], "two words ");
    ck_assert_int_eq(parse("AUTH PLAIN AGFsaWNl", &cmd), POP3_PARSE_OK);
    ck_assert_uint_eq(cmd.argc, 2);
    ck_assert_int_eq(parse("USER a\tb", &cmd), POP3_PARSE_BAD_LINE);
}
END_TEST

START_TEST(line_limit)
{
    struct pop3_command cmd;
    char line[300];
    memset(line, 'a', sizeof line);
    memcpy(line, "USER ", 5);
    ck_assert_int_eq(pop3_parse_line(line, POP3_LINE_MAX - 2, &cmd), POP3_PARSE_OK);
    ck_assert_int_eq(pop3_parse_line(line, POP3_LINE_MAX - 1, &cmd), POP3_PARSE_BAD_LINE);
    ck_assert_int_eq(pop3_parse_line(line, 0, &cmd), POP3_PARSE_BAD_LINE);
}
END_TEST

static const char *stream(const char *in, bool limited, uint64_t lines, char *out)
{
    struct pop3_stream st;
    pop3_stream_init(&st, limited, lines);
    size_t o = 0;
    /* one octet at a time: the state must carry across chunks */
    for (size_t i = 0; in[i] != '\0'; i++)
        o += pop3_stream_feed(&st, in + i, 1, out + o);
    o += pop3_stream_finish(&st, out + o);
    out[o] = '\0';
    return out;
}

START_TEST(dot_stuffing_and_line_ends)
{
    char out[256];
    ck_assert_str_eq(stream("A: b\n\n.x\nend", false, 0, out), "A: b\r\n\r\n..x\r\nend\r\n.\r\n");
    ck_assert_str_eq(stream("A: b\r\n\r\n.\r\n", false, 0, out), "A: b\r\n\r\n..\r\n.\r\n");
    ck_assert_str_eq(stream("A: b\n\none\ntwo\n", true, 0, out), "A: b\r\n\r\n.\r\n");
    ck_assert_str_eq(stream("A: b\n\none\ntwo\n", true, 1, out), "A: b\r\n\r\none\r\n.\r\n");
    ck_assert_str_eq(stream("A: b\n", true, 0, out), "A: b\r\n.\r\n");
}
END_TEST

/* feed_chunks - in[0..len) fed in chunks of at most max octets at random
 * (1: octet by octet, the reference, where no run is longer than an octet;
 * 0: all at once). */
static size_t feed_chunks(const char *in, size_t len, size_t max, bool limited, uint64_t lines,
                          unsigned *seed, char *out)
{
    struct pop3_stream st;
    pop3_stream_init(&st, limited, lines);
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        size_t n = max == 0 ? len - i : max == 1 ? 1 : 1 + (size_t)rand_r(seed) % max;
        if (n > len - i)
            n = len - i;
        o += pop3_stream_feed(&st, in + i, n, out + o);
        i += n;
    }
    return o + pop3_stream_finish(&st, out + o);
}

START_TEST(chunking_does_not_change_the_stream)
{
    static const char alphabet[] = "ab.\r\n\n: ";
    static char in[4096], ref[2 * 4096 + 8], got[2 * 4096 + 8];
    unsigned seed = 1939;
    for (int round = 0; round < 300; round++) {
        size_t len = 1 + (size_t)rand_r(&seed) % (sizeof in - 1);
        for (size_t i = 0; i < len; i++)
            in[i] = alphabet[rand_r(&seed) % (sizeof alphabet - 1)];
        bool limited = round % 3 != 0;
        uint64_t lines = (uint64_t)(rand_r(&seed) % 8);
        size_t r = feed_chunks(in, len, 1, limited, lines, &seed, ref);
        size_t whole = feed_chunks(in, len, 0, limited, lines, &seed, got);
        ck_assert_uint_eq(whole, r);
        ck_assert_mem_eq(got, ref, r);
        size_t some = feed_chunks(in, len, 64, limited, lines, &seed, got);
        ck_assert_uint_eq(some, r);
        ck_assert_mem_eq(got, ref, r);
    }
}
END_TEST

static Suite *pop3_parse_suite(void)
{
    Suite *s = suite_create("pop3_parse");
    TCase *tc = tcase_create("pop3_parse");
    tcase_add_test(tc, verbs_and_arguments);
    tcase_add_test(tc, line_limit);
    tcase_add_test(tc, dot_stuffing_and_line_ends);
    tcase_add_test(tc, chunking_does_not_change_the_stream);
    suite_add_tcase(s, tc);
    return s;
}

TAP_MAIN(pop3_parse_suite)
