/* tests/unit/test_queue_envelope.c - queue/queue_envelope.c: the envelope
 * file and status record formats. Round trips of hostile values, every
 * refusal the header promises, the size limits at and past their edge, and
 * random mutations checked against the parsers' contracts. (The spool that
 * stores these texts is tested in test_queue.c.) */
#include "config.h"

#include "queue/queue_envelope.h"
#include "tap_main.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct queue_envelope *sample_envelope(void)
{
    struct queue_envelope *env = queue_envelope_new();
    char *error = NULL;

    ck_assert_ptr_nonnull(env);
    ck_assert_int_eq(queue_envelope_set(&env->sender, "sender@example.net"), 0);
    ck_assert_int_eq(queue_envelope_set(&env->client_address, "192.0.2.1"), 0);
    ck_assert_int_eq(queue_envelope_set(&env->client_helo, "client.example.net"), 0);
    ck_assert_int_eq(queue_envelope_add_recipient(env, "one@example.org",
                                                  QUEUE_NOTIFY_SUCCESS | QUEUE_NOTIFY_FAILURE,
                                                  "rfc822;one@example.org", &error),
                     0);
    ck_assert_int_eq(queue_envelope_add_recipient(env, "two@example.org", 0, NULL, &error), 0);
    return env;
}

START_TEST(test_envelope_round_trip_hostile)
{
    struct queue_envelope *env = queue_envelope_new(), *back = NULL;
    const char *hostile = "a b\r\nrcpt evil@x\r\nend 1\n%41%\x01\x7f\xc3\xa9";
    char *text = NULL, *error = NULL;
    size_t len, lines = 0;

    ck_assert_ptr_nonnull(env);
    memcpy(env->id, "0123456789abcdef0123456", QUEUE_ID_SIZE);
    env->arrival = 1700000000;
    env->size = 42;
    env->ret = QUEUE_RET_HDRS;
    ck_assert_int_eq(queue_envelope_set(&env->sender, ""), 0); /* null sender */
    ck_assert_int_eq(queue_envelope_set(&env->envid, hostile), 0);
    ck_assert_int_eq(queue_envelope_set(&env->client_address, "[IPv6:::1]"), 0);
    ck_assert_int_eq(queue_envelope_set(&env->client_helo, hostile), 0);
    ck_assert_int_eq(queue_envelope_set(&env->auth_user, "us er"), 0);
    ck_assert_int_eq(queue_envelope_set(&env->tls_version, "TLSv1.3"), 0);
    ck_assert_int_eq(queue_envelope_set(&env->tls_cipher, "TLS_AES_256_GCM_SHA384"), 0);
    ck_assert_int_eq(
        queue_envelope_add_recipient(env, hostile, QUEUE_NOTIFY_NEVER, hostile, &error), 0);
    ck_assert_int_eq(queue_envelope_add_recipient(env, "", QUEUE_NOTIFY_DELAY, "", &error), 0);
    ck_assert_int_eq(queue_envelope_format(env, &text, &len, &error), 0);
    ck_assert_uint_eq(strlen(text), len);
    for (size_t i = 0; i < len; i++) {
        ck_assert_msg(text[i] == '\n' || (text[i] >= 0x20 && text[i] < 0x7f), "byte %zu", i);
        lines += text[i] == '\n';
    }
    /* magic id arrival size sender envid ret addr helo auth tlsv tlsc
     * (rcpt notify orcpt) x2 end */
    ck_assert_uint_eq(lines, 19);
    ck_assert_ptr_null(strstr(text, "\nrcpt evil"));

    ck_assert_msg(queue_envelope_parse(text, len, &back, &error) == 0, "parse: %s", error);
    ck_assert_str_eq(back->id, env->id);
    ck_assert_int_eq(back->arrival, 1700000000);
    ck_assert_uint_eq(back->size, 42);
    ck_assert_int_eq(back->ret, QUEUE_RET_HDRS);
    ck_assert_str_eq(back->sender, "");
    ck_assert_str_eq(back->envid, hostile);
    ck_assert_str_eq(back->client_helo, hostile);
    ck_assert_str_eq(back->auth_user, "us er");
    ck_assert_str_eq(back->tls_cipher, "TLS_AES_256_GCM_SHA384");
    ck_assert_uint_eq(back->rcpt_count, 2);
    ck_assert_str_eq(back->rcpts[0].address, hostile);
    ck_assert_str_eq(back->rcpts[0].orcpt, hostile);
    ck_assert_uint_eq(back->rcpts[0].notify, QUEUE_NOTIFY_NEVER);
    ck_assert_str_eq(back->rcpts[1].address, "");
    ck_assert_str_eq(back->rcpts[1].orcpt, "");
    ck_assert_uint_eq(back->rcpts[1].notify, QUEUE_NOTIFY_DELAY);
    queue_envelope_free(&back);
    queue_envelope_free(&env);
    ck_assert_ptr_null(env);
    free(text);
}
END_TEST

static const char *const good_envelope = "DIRMAIL-QUEUE 1\n"
                                         "id 0123456789abcdef0123456\n"
                                         "arrival 5\n"
                                         "size 7\n"
                                         "sender a@b\n"
                                         "rcpt c@d\n"
                                         "rcpt-notify success,delay\n"
                                         "end 1\n";

/* assert_str_same - both NULL, or equal strings. */
static void assert_str_same(const char *a, const char *b, const char *what)
{
    ck_assert_msg((a == NULL) == (b == NULL), "%s: %s vs %s", what, a ? a : "NULL", b ? b : "NULL");
    if (a != NULL)
        ck_assert_msg(strcmp(a, b) == 0, "%s: \"%s\" vs \"%s\"", what, a, b);
}

/* assert_envelopes_equal - a and b hold the same envelope, field by field. */
static void assert_envelopes_equal(const struct queue_envelope *a, const struct queue_envelope *b)
{
    ck_assert_str_eq(a->id, b->id);
    ck_assert_int_eq(a->arrival, b->arrival);
    ck_assert_uint_eq(a->size, b->size);
    ck_assert_int_eq(a->ret, b->ret);
    assert_str_same(a->sender, b->sender, "sender");
    assert_str_same(a->envid, b->envid, "envid");
    assert_str_same(a->client_address, b->client_address, "client_address");
    assert_str_same(a->client_helo, b->client_helo, "client_helo");
    assert_str_same(a->auth_user, b->auth_user, "auth_user");
    assert_str_same(a->tls_version, b->tls_version, "tls_version");
    assert_str_same(a->tls_cipher, b->tls_cipher, "tls_cipher");
    ck_assert_uint_eq(a->rcpt_count, b->rcpt_count);
    for (size_t i = 0; i < a->rcpt_count; i++) {
        assert_str_same(a->rcpts[i].address, b->rcpts[i].address, "rcpt");
        assert_str_same(a->rcpts[i].orcpt, b->rcpts[i].orcpt, "orcpt");
        ck_assert_uint_eq(a->rcpts[i].notify, b->rcpts[i].notify);
    }
}

/* check_parse_contract - queue_envelope_parse's promise for any input: 0 with
 * an envelope and no error, or -1 with an error and no envelope. What it
 * accepts is well formed: a valid id, 1..QUEUE_ENV_MAX_RECIPIENTS pending
 * recipients, and it formats to text that parses back to the same envelope
 * (and formats to the same text again).
 * Returns the parse result; *env_r keeps the envelope on success. */
static int check_parse_contract(const char *buf, size_t n, struct queue_envelope **env_r)
{
    struct queue_envelope *env = (struct queue_envelope *)1, *again = NULL;
    char *error = NULL, *text = NULL, *text2 = NULL;
    size_t len = 0, len2 = 0;
    int r = queue_envelope_parse(buf, n, &env, &error);

    ck_assert_msg(r == 0 || r == -1, "parse returned %d", r);
    if (r == -1) {
        ck_assert_ptr_null(env);
        ck_assert_ptr_nonnull(error);
        ck_assert_msg(strncmp(error, "line ", 5) == 0, "error \"%s\"", error);
        free(error);
        *env_r = NULL;
        return r;
    }
    ck_assert_ptr_nonnull(env);
    ck_assert_ptr_null(error);
    ck_assert_uint_eq(strlen(env->id), QUEUE_ID_LEN);
    ck_assert_uint_eq(strspn(env->id, "0123456789abcdef"), QUEUE_ID_LEN);
    ck_assert_uint_ge(env->rcpt_count, 1);
    ck_assert_uint_le(env->rcpt_count, QUEUE_ENV_MAX_RECIPIENTS);
    ck_assert_ptr_nonnull(env->sender);
    for (size_t i = 0; i < env->rcpt_count; i++) {
        ck_assert_ptr_nonnull(env->rcpts[i].address);
        ck_assert_int_eq(env->rcpts[i].state, QUEUE_RCPT_PENDING);
    }
    ck_assert_msg(queue_envelope_format(env, &text, &len, &error) == 0, "format: %s", error);
    ck_assert_msg(queue_envelope_parse(text, len, &again, &error) == 0,
                  "what the parser accepted formats to text it refuses: %s", error);
    assert_envelopes_equal(env, again);
    ck_assert_int_eq(queue_envelope_format(again, &text2, &len2, &error), 0);
    ck_assert_uint_eq(len2, len);
    ck_assert_msg(memcmp(text, text2, len) == 0, "not a fixed point:\n%s\n--\n%s", text, text2);
    free(text);
    free(text2);
    queue_envelope_free(&again);
    *env_r = env;
    return r;
}

/* check_status_contract - queue_status_apply's promise: 0 and no error, or -1
 * and an error; never a recipient in a state outside the enum, a deferred or
 * failed one without its reply, or a final one changed back. */
static void check_status_contract(struct queue_envelope *env, const char *st, size_t n)
{
    enum queue_rcpt_state before[8];
    char *error = NULL;
    size_t count = env->rcpt_count < 8 ? env->rcpt_count : 8;
    int r;

    for (size_t i = 0; i < count; i++)
        before[i] = env->rcpts[i].state;
    r = queue_status_apply(env, st, n, &error);
    ck_assert_msg(r == 0 || r == -1, "status_apply returned %d", r);
    if (r == 0)
        ck_assert_ptr_null(error);
    else
        ck_assert_ptr_nonnull(error);
    free(error);
    for (size_t i = 0; i < count; i++) {
        const struct queue_recipient *rc = &env->rcpts[i];
        ck_assert_int_le(rc->state, QUEUE_RCPT_FAILED);
        if (rc->state == QUEUE_RCPT_DEFERRED || rc->state == QUEUE_RCPT_FAILED)
            ck_assert_ptr_nonnull(rc->reply);
        if (before[i] == QUEUE_RCPT_DELIVERED || before[i] == QUEUE_RCPT_FAILED)
            ck_assert_int_eq(rc->state, before[i]);
    }
}

static int parse_str(const char *text)
{
    struct queue_envelope *env = NULL;
    int r = check_parse_contract(text, strlen(text), &env);

    queue_envelope_free(&env);
    return r;
}

/* replace - good_envelope with the first "from" replaced by "to" (static). */
static const char *replace(const char *from, const char *to)
{
    static char buf[4096];
    const char *p = strstr(good_envelope, from);

    ck_assert_ptr_nonnull(p);
    snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(p - good_envelope), good_envelope, to,
             p + strlen(from));
    return buf;
}

START_TEST(test_envelope_parser_rejects)
{
    char *longline;

    ck_assert_int_eq(parse_str(good_envelope), 0);
    ck_assert_int_eq(parse_str(""), -1);
    ck_assert_int_eq(parse_str(replace("DIRMAIL-QUEUE 1", "DIRMAIL-QUEUE 2")), -1);
    ck_assert_int_eq(parse_str(replace("sender a@b", "sender a%00b")), -1);
    ck_assert_int_eq(parse_str(replace("sender a@b", "sender a\rb")), -1);
    ck_assert_int_eq(parse_str(replace("sender a@b", "sender a b")), -1);
    ck_assert_int_eq(parse_str(replace("sender a@b", "sender a%4")), -1);
    ck_assert_int_eq(parse_str(replace("sender a@b", "sender a%zz")), -1);
    ck_assert_int_eq(parse_str(replace("sender a@b", "sender a%0D%0Ab")), 0);
    ck_assert_int_eq(parse_str(replace("sender a@b", "sender a@b\nsender c@d")), -1);
    ck_assert_int_eq(parse_str(replace("sender a@b", "bogus a@b")), -1);
    ck_assert_int_eq(parse_str(replace("sender a@b", "sender")), -1);
    ck_assert_int_eq(parse_str(replace("sender a@b\n", "")), -1);
    ck_assert_int_eq(parse_str(replace("end 1", "end 2")), -1);
    ck_assert_int_eq(parse_str(replace("end 1\n", "")), -1);
    ck_assert_int_eq(parse_str(replace("end 1\n", "end 1")), -1);
    ck_assert_int_eq(parse_str(replace("end 1\n", "end 1\nrcpt x@y\n")), -1);
    ck_assert_int_eq(parse_str(replace("size 7", "size -7")), -1);
    ck_assert_int_eq(parse_str(replace("size 7", "size 99999999999999999999999")), -1);
    ck_assert_int_eq(parse_str(replace("success,delay", "success,,delay")), -1);
    ck_assert_int_eq(parse_str(replace("success,delay", "never,success")), -1);
    ck_assert_int_eq(parse_str(replace("success,delay", "success,success")), -1);
    ck_assert_int_eq(parse_str(replace("rcpt c@d\nrcpt-notify success,delay\n",
                                       "rcpt-notify success\nrcpt c@d\n")),
                     -1);
    ck_assert_int_eq(parse_str(replace("id 0123456789abcdef0123456", "id ../../etc/passwd")), -1);
    longline = malloc(QUEUE_ENV_MAX_LINE + 64);
    memset(longline, 'a', QUEUE_ENV_MAX_LINE + 10);
    longline[QUEUE_ENV_MAX_LINE + 10] = '\0';
    {
        char *text;
        ck_assert_int_ge(asprintf(&text, "%s", replace("a@b", longline)), 0);
        ck_assert_int_eq(parse_str(text), -1);
        free(text);
    }
    free(longline);
}
END_TEST

/* Random mutations of a valid envelope and of status records: the parsers
 * may refuse them, but every answer keeps the contracts above (and ASan/UBSan
 * watch the memory). Some mutants must be accepted and some refused, or the
 * loop tested nothing. */
START_TEST(test_parsers_mutations)
{
    static const char alphabet[] = "% \n\r\0a0-,;Aend rcpt1";
    static const char st[] = "0 delivered 5\n0 deferred 9 451%20x\n0 failed 3 \n1 failed 4 x\n";
    size_t len = strlen(good_envelope), st_len = strlen(st);
    char *buf = malloc(len + 8), *stbuf = malloc(st_len + 1);
    unsigned seed = 12345;
    int accepted = 0, refused = 0, st_refused = 0;

    ck_assert_ptr_nonnull(buf);
    ck_assert_ptr_nonnull(stbuf);
    for (int i = 0; i < 20000; i++) {
        struct queue_envelope *env = NULL;
        size_t n = len;

        memcpy(buf, good_envelope, len);
        for (int m = 0; m < 1 + i % 4; m++) {
            seed = seed * 1103515245u + 12345u;
            size_t pos = (seed >> 8) % n;
            seed = seed * 1103515245u + 12345u;
            buf[pos] = alphabet[(seed >> 8) % (sizeof(alphabet) - 1)];
        }
        if (i % 3 == 0)
            n = (seed >> 4) % (len + 1);
        if (check_parse_contract(buf, n, &env) != 0) {
            refused++;
            continue;
        }
        accepted++;
        /* status records: a prefix of good ones, then a mutated copy */
        check_status_contract(env, st, (seed >> 3) % (st_len + 1));
        memcpy(stbuf, st, st_len + 1);
        seed = seed * 1103515245u + 12345u;
        stbuf[(seed >> 8) % st_len] = alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
        {
            char *error = NULL;
            struct queue_envelope *fresh = NULL;
            ck_assert_int_eq(check_parse_contract(good_envelope, len, &fresh), 0);
            if (queue_status_apply(fresh, stbuf, st_len, &error) != 0)
                st_refused++;
            free(error);
            queue_envelope_free(&fresh);
        }
        check_status_contract(env, stbuf, st_len);
        queue_envelope_free(&env);
    }
    ck_assert_int_gt(accepted, 100);
    ck_assert_int_gt(refused, 100);
    ck_assert_int_gt(st_refused, 10);
    free(buf);
    free(stbuf);
}
END_TEST

START_TEST(test_status_records)
{
    struct queue_envelope *env = sample_envelope();
    char *line, *error = NULL;

    line = queue_status_format(1, QUEUE_RCPT_FAILED, 7, "550 5.1.1 no\r\nsuch");
    ck_assert_str_eq(line, "1 failed 7 550%205.1.1%20no%0D%0Asuch\n");
    ck_assert_int_eq(queue_status_apply(env, line, strlen(line), &error), 0);
    ck_assert_str_eq(env->rcpts[1].reply, "550 5.1.1 no\r\nsuch");
    free(line);
    ck_assert_ptr_null(queue_status_format(0, QUEUE_RCPT_PENDING, 0, NULL));
    ck_assert_int_eq(queue_status_apply(env, "2 delivered 1\n", 14, &error), -1);
    free(error);
    ck_assert_int_eq(queue_status_apply(env, "0 delivered 1 x\n", 16, &error), -1);
    free(error);
    ck_assert_int_eq(queue_status_apply(env, "0 deferred 1 a b\n", 17, &error), -1);
    free(error);
    ck_assert_int_eq(queue_status_apply(env, "0 deferred 1 a b c\n", 19, &error), -1);
    free(error);
    ck_assert_int_eq(queue_status_apply(env, "0 deferred 1 \n", 14, &error), 0);
    ck_assert_int_eq(queue_status_apply(env, "0 bogus 1\n", 10, &error), -1);
    free(error);
    queue_envelope_free(&env);
}
END_TEST

/* parse_buf - queue_envelope_parse on len bytes (which may hold NULs). */
static int parse_buf(const char *text, size_t len)
{
    struct queue_envelope *env = NULL;
    int r = check_parse_contract(text, len, &env);

    queue_envelope_free(&env);
    return r;
}

/* Raw bytes the format never writes are refused wherever they appear: a NUL
 * (the parser works on a length, not a C string), a byte above 0x7e, a tab. */
START_TEST(test_envelope_raw_bytes_refused)
{
    static const char nul[] = "DIRMAIL-QUEUE 1\nid 0123456789abcdef0123456\narrival 5\nsize 7\n"
                              "sender a\0b\nrcpt c@d\nend 1\n";
    static const char nul_key[] = "DIRMAIL-QUEUE 1\nid 0123456789abcdef0123456\narrival 5\nsize 7\n"
                                  "sender a@b\nrc\0t c@d\nend 1\n";

    ck_assert_int_eq(parse_buf(nul, sizeof(nul) - 1), -1);
    ck_assert_int_eq(parse_buf(nul_key, sizeof(nul_key) - 1), -1);
    ck_assert_int_eq(parse_str(replace("sender a@b", "sender a\xc3\xa9")), -1);
    ck_assert_int_eq(parse_str(replace("sender a@b", "sender a\tb")), -1);
    ck_assert_int_eq(parse_str(replace("sender a@b", "sender a\x7f")), -1);
    ck_assert_int_eq(parse_str(replace("sender a@b", "sender a%e9")), -1); /* lowercase hex */
    ck_assert_int_eq(parse_str(replace("sender a@b", "sender a%E9")), 0);
    /* CRLF line ends are not the format's: the CR is a raw byte in a value */
    ck_assert_int_eq(parse_str(replace("end 1\n", "end 1\r\n")), -1);
    /* the magic line exactly, not a prefix of it */
    ck_assert_int_eq(parse_str(replace("DIRMAIL-QUEUE 1\n", "DIRMAIL-QUEUE 1 \n")), -1);
    ck_assert_int_eq(parse_str(replace("DIRMAIL-QUEUE 1\n", "DIRMAIL-QUEUE\n")), -1);
    /* a queue id must be 23 lowercase hex digits */
    ck_assert_int_eq(parse_str(replace("id 0123456789abcdef0123456", "id 0123456789ABCDEF0123456")),
                     -1);
    ck_assert_int_eq(parse_str(replace("id 0123456789abcdef0123456", "id 0123456789abcdef012345")),
                     -1);
    ck_assert_int_eq(
        parse_str(replace("id 0123456789abcdef0123456", "id 0123456789abcdef01234567")), -1);
    /* required records */
    ck_assert_int_eq(parse_str(replace("arrival 5\n", "")), -1);
    ck_assert_int_eq(parse_str(replace("size 7\n", "")), -1);
    ck_assert_int_eq(parse_str(replace("id 0123456789abcdef0123456\n", "")), -1);
    ck_assert_int_eq(parse_str(replace("id 0123456789abcdef0123456\n",
                                       "id 0123456789abcdef0123456\nid 0123456789abcdef0123456\n")),
                     -1);
    ck_assert_int_eq(parse_str(replace("rcpt c@d\n", "rcpt-orcpt rfc822;c@d\nrcpt c@d\n")), -1);
    ck_assert_int_eq(parse_str(replace("rcpt c@d\n", "rcpt c@d\nrcpt-orcpt a\nrcpt-orcpt b\n")),
                     -1);
    ck_assert_int_eq(parse_str(replace("size 7", "size 18446744073709551615")), 0);
    ck_assert_int_eq(parse_str(replace("size 7", "size 18446744073709551616")), -1);
    ck_assert_int_eq(parse_str(replace("arrival 5", "arrival +5")), -1);
    ck_assert_int_eq(parse_str(replace("rcpt c@d\n", "ret full\nret hdrs\nrcpt c@d\n")), -1);
    ck_assert_int_eq(parse_str(replace("rcpt c@d\n", "ret some\nrcpt c@d\n")), -1);
}
END_TEST

/* QUEUE_ENV_MAX_LINE is the longest line (without its LF) the parsers take:
 * at the limit accepted, one byte over refused, in envelopes and in status
 * records alike. */
START_TEST(test_envelope_line_limit)
{
    size_t vlen = QUEUE_ENV_MAX_LINE - strlen("sender ");
    char *value = malloc(vlen + 2), *text, *st;
    struct queue_envelope *env = NULL;
    char *error = NULL;

    ck_assert_ptr_nonnull(value);
    /* "sender " + vlen bytes: exactly QUEUE_ENV_MAX_LINE */
    memset(value, 'a', vlen + 1);
    value[vlen] = '\0';
    ck_assert_int_ge(asprintf(&text,
                              "DIRMAIL-QUEUE 1\nid 0123456789abcdef0123456\narrival 5\n"
                              "size 7\nsender %s\nrcpt c@d\nend 1\n",
                              value),
                     0);
    ck_assert_int_eq(parse_str(text), 0);
    free(text);
    value[vlen] = 'a';
    value[vlen + 1] = '\0';
    ck_assert_int_ge(asprintf(&text,
                              "DIRMAIL-QUEUE 1\nid 0123456789abcdef0123456\narrival 5\n"
                              "size 7\nsender %s\nrcpt c@d\nend 1\n",
                              value),
                     0);
    ck_assert_int_eq(parse_str(text), -1);
    free(text);

    /* a status record: "0 deferred 9 " + reply */
    ck_assert_int_eq(queue_envelope_parse(good_envelope, strlen(good_envelope), &env, &error), 0);
    vlen = QUEUE_ENV_MAX_LINE - strlen("0 deferred 9 ");
    memset(value, 'r', vlen + 1);
    value[vlen] = '\0';
    ck_assert_int_ge(asprintf(&st, "0 deferred 9 %s\n", value), 0);
    ck_assert_msg(queue_status_apply(env, st, strlen(st), &error) == 0, "status: %s", error);
    ck_assert_uint_eq(strlen(env->rcpts[0].reply), vlen);
    free(st);
    value[vlen] = 'r';
    value[vlen + 1] = '\0';
    ck_assert_int_ge(asprintf(&st, "0 deferred 10 %s\n", value), 0);
    ck_assert_int_eq(queue_status_apply(env, st, strlen(st), &error), -1);
    ck_assert_ptr_nonnull(strstr(error, "too long"));
    free(error);
    free(st);
    queue_envelope_free(&env);
    free(value);
}
END_TEST

/* envelope_with - good_envelope's head and n recipients "r<i>@x" (malloc'd). */
static char *envelope_with(size_t n, size_t *len_r)
{
    size_t cap = 256 + n * 24, len;
    char *text = malloc(cap);

    ck_assert_ptr_nonnull(text);
    len = (size_t)snprintf(text, cap,
                           "DIRMAIL-QUEUE 1\nid 0123456789abcdef0123456\narrival 5\nsize 7\n"
                           "sender a@b\n");
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(text + len, cap - len, "rcpt r%zu@x\n", i);
    len += (size_t)snprintf(text + len, cap - len, "end %zu\n", n);
    ck_assert_uint_lt(len, cap);
    *len_r = len;
    return text;
}

/* QUEUE_ENV_MAX_RECIPIENTS recipients are taken, one more is not: by the
 * parser and by queue_envelope_add_recipient. */
START_TEST(test_envelope_recipient_limit)
{
    struct queue_envelope *env = NULL;
    char *error = NULL, *text;
    size_t len;

    text = envelope_with(QUEUE_ENV_MAX_RECIPIENTS, &len);
    ck_assert_msg(queue_envelope_parse(text, len, &env, &error) == 0, "parse: %s", error);
    ck_assert_uint_eq(env->rcpt_count, QUEUE_ENV_MAX_RECIPIENTS);
    ck_assert_str_eq(env->rcpts[QUEUE_ENV_MAX_RECIPIENTS - 1].address, "r99999@x");
    ck_assert_int_eq(queue_envelope_add_recipient(env, "one-more@x", 0, NULL, &error), -1);
    ck_assert_str_eq(error, "too many recipients");
    free(error);
    error = NULL;
    ck_assert_uint_eq(env->rcpt_count, QUEUE_ENV_MAX_RECIPIENTS);
    queue_envelope_free(&env);
    free(text);

    text = envelope_with(QUEUE_ENV_MAX_RECIPIENTS + 1, &len);
    ck_assert_int_eq(queue_envelope_parse(text, len, &env, &error), -1);
    ck_assert_ptr_null(env);
    ck_assert_ptr_nonnull(strstr(error, "too many recipients"));
    free(error);
    free(text);

    /* no recipients at all: neither written nor read */
    env = queue_envelope_new();
    ck_assert_ptr_nonnull(env);
    ck_assert_int_eq(queue_envelope_format(env, &text, &len, &error), -1);
    ck_assert_str_eq(error, "envelope without recipients");
    free(error);
    queue_envelope_free(&env);
    ck_assert_int_eq(parse_str("DIRMAIL-QUEUE 1\nid 0123456789abcdef0123456\narrival 5\nsize 7\n"
                               "sender a@b\nend 0\n"),
                     -1);
}
END_TEST

/* Status records: a torn last line is ignored, final states never change,
 * queue_envelope_all_final says when every recipient is done. */
START_TEST(test_status_torn_and_final)
{
    struct queue_envelope *env = sample_envelope();
    char *error = NULL;
    static const char torn[] = "0 deferred 100 451%20later\n1 delivered 7";

    ck_assert_int_eq(queue_status_apply(env, torn, strlen(torn), &error), 0);
    ck_assert_int_eq(env->rcpts[0].state, QUEUE_RCPT_DEFERRED);
    ck_assert_int_eq(env->rcpts[0].when, 100);
    ck_assert_str_eq(env->rcpts[0].reply, "451 later");
    ck_assert_int_eq(env->rcpts[1].state, QUEUE_RCPT_PENDING); /* the torn line */
    ck_assert(!queue_envelope_all_final(env));

    ck_assert_int_eq(queue_status_apply(env, "1 delivered 7\n0 failed 8 550\n", 29, &error), 0);
    ck_assert(queue_envelope_all_final(env));
    /* later records for a final recipient are ignored */
    ck_assert_int_eq(queue_status_apply(env, "1 deferred 9 x\n0 delivered 9\n", 29, &error), 0);
    ck_assert_int_eq(env->rcpts[0].state, QUEUE_RCPT_FAILED);
    ck_assert_str_eq(env->rcpts[0].reply, "550");
    ck_assert_int_eq(env->rcpts[0].when, 8);
    ck_assert_int_eq(env->rcpts[1].state, QUEUE_RCPT_DELIVERED);
    ck_assert_int_eq(env->rcpts[1].when, 7);
    ck_assert_str_eq(queue_rcpt_state_name(QUEUE_RCPT_PENDING), "pending");
    ck_assert_str_eq(queue_rcpt_state_name(QUEUE_RCPT_FAILED), "failed");
    ck_assert_str_eq(queue_rcpt_state_name((enum queue_rcpt_state)9), "unknown");
    /* each state's record, formatted, applies back to the same state */
    for (enum queue_rcpt_state s = QUEUE_RCPT_DEFERRED; s <= QUEUE_RCPT_FAILED; s++) {
        struct queue_envelope *e = sample_envelope();
        char *line = queue_status_format(1, s, 1234, "4.0.0 a b\r\n%");
        ck_assert_ptr_nonnull(line);
        ck_assert_int_eq(queue_status_apply(e, line, strlen(line), &error), 0);
        ck_assert_int_eq(e->rcpts[1].state, s);
        ck_assert_int_eq(e->rcpts[1].when, 1234);
        if (s == QUEUE_RCPT_DELIVERED)
            ck_assert_ptr_null(e->rcpts[1].reply);
        else
            ck_assert_str_eq(e->rcpts[1].reply, "4.0.0 a b\r\n%");
        free(line);
        queue_envelope_free(&e);
    }
    queue_envelope_free(&env);
}
END_TEST

START_TEST(test_status_warned_record)
{
    struct queue_envelope *env = sample_envelope();
    char *error = NULL;
    char *line = queue_status_format_warned(1, 1700000000);
    ck_assert_str_eq(line, "1 warned 1700000000\n");
    static const char before[] = "1 deferred 100 4.4.0%20wait\n";
    ck_assert_int_eq(queue_status_apply(env, before, strlen(before), &error), 0);
    ck_assert_int_eq(queue_status_apply(env, line, strlen(line), &error), 0);
    /* a flag beside the state, which it leaves as it was */
    ck_assert(env->rcpts[1].delay_warned);
    ck_assert(!env->rcpts[0].delay_warned);
    ck_assert_int_eq(env->rcpts[1].state, QUEUE_RCPT_DEFERRED);
    ck_assert_int_eq(env->rcpts[1].when, 100);
    ck_assert_str_eq(env->rcpts[1].reply, "4.4.0 wait");
    free(line);
    /* refused: a recipient it does not have, a reply after it */
    ck_assert_int_eq(queue_status_apply(env, "2 warned 5\n", 11, &error), -1);
    free(error);
    error = NULL;
    ck_assert_int_eq(queue_status_apply(env, "0 warned 5 x\n", 13, &error), -1);
    free(error);
    queue_envelope_free(&env);
}
END_TEST

START_TEST(test_status_hold_records)
{
    struct queue_envelope *env = sample_envelope();
    char *error = NULL;
    char *held = queue_status_format_hold(true, 1700000000);
    char *released = queue_status_format_hold(false, 1700000100);
    ck_assert_str_eq(held, "- held 1700000000\n");
    ck_assert_str_eq(released, "- released 1700000100\n");
    ck_assert(!env->held);
    ck_assert_int_eq(queue_status_apply(env, held, strlen(held), &error), 0);
    ck_assert(env->held);
    ck_assert_int_eq(env->held_since, 1700000000);
    /* the recipients' states are untouched */
    ck_assert_int_eq(env->rcpts[0].state, QUEUE_RCPT_PENDING);
    /* the last of the two wins */
    ck_assert_int_eq(queue_status_apply(env, released, strlen(released), &error), 0);
    ck_assert(!env->held);
    ck_assert_int_eq(queue_status_apply(env, held, strlen(held), &error), 0);
    ck_assert(env->held);
    /* a torn hold record (no LF) was never acknowledged: ignored */
    ck_assert_int_eq(queue_status_apply(env, "- released 5", 12, &error), 0);
    ck_assert(env->held);
    /* refused: another word, a fourth field, no time */
    static const char *const bad[] = {"- frozen 5\n", "- held 5 x\n", "- held\n", "- held x\n"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ck_assert_msg(queue_status_apply(env, bad[i], strlen(bad[i]), &error) == -1, "%s", bad[i]);
        free(error);
        error = NULL;
    }
    free(held);
    free(released);
    queue_envelope_free(&env);
}
END_TEST

static Suite *queue_envelope_suite(void)
{
    Suite *s = suite_create("queue_envelope");
    TCase *tc = tcase_create("envelope");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_envelope_round_trip_hostile);
    tcase_add_test(tc, test_envelope_parser_rejects);
    tcase_add_test(tc, test_envelope_raw_bytes_refused);
    tcase_add_test(tc, test_envelope_line_limit);
    tcase_add_test(tc, test_envelope_recipient_limit);
    tcase_add_test(tc, test_parsers_mutations);
    suite_add_tcase(s, tc);

    tc = tcase_create("status");
    tcase_add_test(tc, test_status_records);
    tcase_add_test(tc, test_status_torn_and_final);
    tcase_add_test(tc, test_status_warned_record);
    tcase_add_test(tc, test_status_hold_records);
    suite_add_tcase(s, tc);
    return s;
}

TAP_MAIN(queue_envelope_suite)
