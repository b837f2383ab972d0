/* tests/unit/test_auth_protocol.c - the auth socket's wire format
 * (auth/auth_protocol.c): escaping round trips, requests and responses
 * encoded and decoded, hostile values that try to add a field or a line, and
 * the length limits. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth_protocol.h"
#include "lib/buf.h"
#include "tap_main.h"

/* line - the buffer's bytes as a string without the trailing LF. */
static char *line_of(const struct buf *b)
{
    size_t len = buf_len(b);
    if (len > 0 && buf_ptr(b)[len - 1] == '\n')
        len--;
    /* Not strndup: the buffer holds no NUL, and strndup may look one byte
     * past len for it (ASan's strict_string_checks says so). */
    char *s = malloc(len + 1);
    ck_assert_ptr_nonnull(s);
    memcpy(s, buf_ptr(b), len);
    s[len] = '\0';
    return s;
}

START_TEST(escape_round_trip)
{
    const char *values[] = {"plain", "a b",  "%", "100%", "line\nbreak", "cr\rlf", "tab\there",
                            "x=y",   "\x7f", "é", "",     "%41"};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        struct buf b = BUF_INIT;
        ck_assert_int_eq(auth_escape(&b, values[i], strlen(values[i])), 0);
        /* No escaped form contains a byte that splits tokens or lines. */
        for (size_t j = 0; j < buf_len(&b); j++) {
            unsigned char c = (unsigned char)buf_ptr(&b)[j];
            ck_assert(c > 0x20 && c != 0x7f);
        }
        char *back = auth_unescape(buf_len(&b) ? buf_ptr(&b) : "", buf_len(&b));
        ck_assert_ptr_nonnull(back);
        ck_assert_str_eq(back, values[i]);
        free(back);
        buf_release(&b);
    }
    struct buf b = BUF_INIT;
    ck_assert_int_eq(auth_escape(&b, "a b%", 4), 0);
    ck_assert_int_eq(buf_len(&b), 8);
    ck_assert_int_eq(memcmp(buf_ptr(&b), "a%20b%25", 8), 0);
    buf_release(&b);
}
END_TEST

START_TEST(unescape_refuses)
{
    const char *bad[] = {"%", "%4", "%G0", "%00", "a b", "a\nb", "%0", "x%"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(auth_unescape(bad[i], strlen(bad[i])) == NULL, "%s accepted", bad[i]);
    char *s = auth_unescape("%2a%2A", 6);
    ck_assert_str_eq(s, "**");
    free(s);
}
END_TEST

START_TEST(request_round_trip)
{
    char *args[] = {"bob", "pass word\n2 USER root", ""};
    struct auth_request req = {.id = 42, .type = AUTH_REQ_AUTH, .argc = 3};
    memcpy(req.args, args, sizeof args);
    struct buf b = BUF_INIT;
    ck_assert_int_eq(auth_request_encode(&b, &req), 0);
    char *line = line_of(&b);
    ck_assert_str_eq(line, "42 AUTH bob pass%20word%0A2%20USER%20root ");
    /* One line only: the hostile password did not make a second request. */
    ck_assert_ptr_null(memchr(buf_ptr(&b), '\n', buf_len(&b) - 1));

    struct auth_request out;
    const char *error = NULL;
    ck_assert_int_eq(auth_request_decode(line, strlen(line), &out, &error), AUTH_DECODE_OK);
    ck_assert_uint_eq(out.id, 42);
    ck_assert_int_eq(out.type, AUTH_REQ_AUTH);
    ck_assert_uint_eq(out.argc, 3);
    ck_assert_str_eq(out.args[0], "bob");
    ck_assert_str_eq(out.args[1], "pass word\n2 USER root");
    ck_assert_str_eq(out.args[2], "");
    auth_request_clear(&out);
    free(line);
    buf_release(&b);

    const char *ok[] = {"1 RESOLVE a@b", "4294967295 USER bob", "7 SENDERS bob"};
    for (size_t i = 0; i < 3; i++) {
        ck_assert_int_eq(auth_request_decode(ok[i], strlen(ok[i]), &out, &error), AUTH_DECODE_OK);
        auth_request_clear(&out);
    }
}
END_TEST

START_TEST(request_malformed)
{
    struct {
        const char *line;
        uint32_t id;
    } bad[] = {
        {"", 0},
        {"RESOLVE a@b", 0},
        {"0 RESOLVE a@b", 0},
        {"01 RESOLVE a@b", 0},
        {"4294967296 RESOLVE a@b", 0},
        {"-1 RESOLVE a@b", 0},
        {"5 resolve a@b", 5},
        {"5 DELETE a@b", 5},
        {"5 RESOLVE", 5},
        {"5 RESOLVE a@b extra", 5},
        {"5 RESOLVE  a@b", 5},
        {"5 AUTH bob pw", 5},
        {"5 RESOLVE a%00b", 5},
        {"5 RESOLVE a%zz", 5},
        {"5 RESOLVE a\rb", 0},
        {"5 USER \x01", 5},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct auth_request req;
        const char *error = NULL;
        ck_assert_msg(auth_request_decode(bad[i].line, strlen(bad[i].line), &req, &error) ==
                          AUTH_DECODE_BAD,
                      "accepted: %s", bad[i].line);
        ck_assert_ptr_nonnull(error);
        ck_assert_msg(req.id == bad[i].id, "%s: id %u", bad[i].line, req.id);
        ck_assert_ptr_null(req.args[0]);
    }
    /* A NUL inside the line. */
    struct auth_request req;
    const char *error;
    ck_assert_int_eq(auth_request_decode("1 USER a\0b", 10, &req, &error), AUTH_DECODE_BAD);
}
END_TEST

START_TEST(request_limits)
{
    /* The longest request that fits, and one octet more. */
    size_t room = AUTH_REQUEST_MAX - strlen("1 RESOLVE \n");
    char *arg = malloc(room + 2);
    memset(arg, 'a', room + 1);
    arg[room] = '\0';
    struct auth_request req = {.id = 1, .type = AUTH_REQ_RESOLVE, .argc = 1, .args = {arg}};
    struct buf b = BUF_INIT;
    ck_assert_int_eq(auth_request_encode(&b, &req), 0);
    ck_assert_uint_eq(buf_len(&b), AUTH_REQUEST_MAX);
    arg[room] = 'a';
    arg[room + 1] = '\0';
    buf_clear(&b);
    ck_assert_int_eq(auth_request_encode(&b, &req), -1);
    ck_assert_uint_eq(buf_len(&b), 0); /* unchanged on failure */
    /* Escaping counts: room/3 spaces cost three octets each. */
    memset(arg, ' ', room / 2);
    arg[room / 2] = '\0';
    ck_assert_int_eq(auth_request_encode(&b, &req), -1);
    /* The decoder refuses what the encoder would not make. */
    char *line = malloc(AUTH_REQUEST_MAX + 1);
    memcpy(line, "1 RESOLVE ", 10);
    memset(line + 10, 'a', AUTH_REQUEST_MAX - 10);
    struct auth_request out;
    const char *error;
    ck_assert_int_eq(auth_request_decode(line, AUTH_REQUEST_MAX, &out, &error), AUTH_DECODE_BAD);
    ck_assert_int_eq(auth_request_decode(line, AUTH_REQUEST_MAX - 1, &out, &error), AUTH_DECODE_OK);
    auth_request_clear(&out);
    /* Invalid requests are not encoded. */
    struct auth_request zero = {.id = 0, .type = AUTH_REQ_RESOLVE, .argc = 1, .args = {"a"}};
    ck_assert_int_eq(auth_request_encode(&b, &zero), -1);
    struct auth_request few = {.id = 1, .type = AUTH_REQ_AUTH, .argc = 1, .args = {"a"}};
    ck_assert_int_eq(auth_request_encode(&b, &few), -1);
    free(line);
    free(arg);
    buf_release(&b);
}
END_TEST

/* respond - "ID " + body, decoded for type. */
static enum auth_decode_result respond(const struct buf *body, enum auth_request_type type,
                                       struct auth_response *resp)
{
    struct buf b = BUF_INIT;
    buf_printf(&b, "9 ");
    buf_append(&b, buf_ptr(body), buf_len(body));
    const char *error = NULL;
    enum auth_decode_result r = auth_response_decode(buf_ptr(&b), buf_len(&b), type, resp, &error);
    buf_release(&b);
    return r;
}

START_TEST(recipient_round_trip)
{
    char *members[] = {"a@example.org", "b c@example.org", "evil status=active@x"};
    struct auth_recipient r = {
        .kind = AUTH_KIND_GROUP,
        .address = "team+tag@example.org",
        .local = "team+tag",
        .domain = "example.org",
        .tag = "tag",
        .matched = "team@example.org",
        .dn = "cn=Team, ou=groups,dc=example,dc=org",
        .quota = 12345678901ULL,
        .mailbox = "x\ny kind=local",
        .members = {members, 3},
        .status = AUTH_USER_HELD,
        .disabled_hold = true,
        .keep_copy = true,
    };
    struct buf body = BUF_INIT;
    ck_assert_int_eq(auth_body_recipient(&body, AUTH_FOUND, &r), 0);
    ck_assert_ptr_null(memchr(buf_ptr(&body), '\n', buf_len(&body)));
    struct auth_response resp;
    ck_assert_int_eq(respond(&body, AUTH_REQ_RESOLVE, &resp), AUTH_DECODE_OK);
    ck_assert_uint_eq(resp.id, 9);
    ck_assert_int_eq(resp.status, AUTH_FOUND);
    struct auth_recipient *d = resp.recipient;
    ck_assert_ptr_nonnull(d);
    ck_assert_int_eq(d->kind, AUTH_KIND_GROUP);
    ck_assert_str_eq(d->address, r.address);
    ck_assert_str_eq(d->tag, "tag");
    ck_assert_str_eq(d->dn, r.dn);
    ck_assert_str_eq(d->mailbox, "x\ny kind=local"); /* injected nothing */
    ck_assert(d->quota == 12345678901ULL);
    ck_assert_uint_eq(d->members.count, 3);
    ck_assert_str_eq(d->members.items[1], "b c@example.org");
    ck_assert_str_eq(d->members.items[2], "evil status=active@x");
    ck_assert_int_eq(d->status, AUTH_USER_HELD);
    ck_assert(d->disabled_hold);
    ck_assert(d->keep_copy);
    ck_assert(!d->catchall);
    ck_assert_ptr_null(d->sieve);
    ck_assert_uint_eq(d->forwards.count, 0);
    auth_response_clear(&resp);
    ck_assert_ptr_null(resp.recipient);

    /* NOTFOUND carries the kind too. */
    struct auth_recipient nf = {.kind = AUTH_KIND_NOT_OURS, .address = "x@elsewhere"};
    buf_clear(&body);
    ck_assert_int_eq(auth_body_recipient(&body, AUTH_NOTFOUND, &nf), 0);
    ck_assert_int_eq(respond(&body, AUTH_REQ_RESOLVE, &resp), AUTH_DECODE_OK);
    ck_assert_int_eq(resp.status, AUTH_NOTFOUND);
    ck_assert_int_eq(resp.recipient->kind, AUTH_KIND_NOT_OURS);
    auth_response_clear(&resp);
    buf_release(&body);
}
END_TEST

START_TEST(user_and_senders_round_trip)
{
    char *addrs[] = {"alice@example.org", "a.smith@example.org"};
    char *services[] = {"imap"};
    struct auth_user u = {.dn = "uid=alice,dc=example,dc=org",
                          .login = "alice",
                          .primary = "alice@example.org",
                          .addresses = {addrs, 2},
                          .services = {services, 1},
                          .status = AUTH_USER_ACTIVE};
    struct buf body = BUF_INIT;
    ck_assert_int_eq(auth_body_user(&body, AUTH_OK, &u), 0);
    struct auth_response resp;
    ck_assert_int_eq(respond(&body, AUTH_REQ_AUTH, &resp), AUTH_DECODE_OK);
    ck_assert_int_eq(resp.status, AUTH_OK);
    ck_assert_str_eq(resp.user->login, "alice");
    ck_assert_uint_eq(resp.user->addresses.count, 2);
    ck_assert_str_eq(resp.user->addresses.items[1], "a.smith@example.org");
    ck_assert_str_eq(resp.user->services.items[0], "imap");
    auth_response_clear(&resp);

    /* The same body does not answer a RESOLVE (OK is not a lookup status). */
    ck_assert_int_eq(respond(&body, AUTH_REQ_RESOLVE, &resp), AUTH_DECODE_BAD);

    struct auth_strlist senders = {addrs, 2};
    buf_clear(&body);
    ck_assert_int_eq(auth_body_senders(&body, &senders), 0);
    ck_assert_int_eq(respond(&body, AUTH_REQ_SENDERS, &resp), AUTH_DECODE_OK);
    ck_assert_int_eq(resp.status, AUTH_FOUND);
    ck_assert_uint_eq(resp.senders.count, 2);
    ck_assert_str_eq(resp.senders.items[0], "alice@example.org");
    auth_response_clear(&resp);

    buf_clear(&body);
    ck_assert_int_eq(auth_body_status(&body, AUTH_TEMPFAIL, "ldap down"), 0);
    ck_assert_int_eq(respond(&body, AUTH_REQ_USER, &resp), AUTH_DECODE_OK);
    ck_assert_int_eq(resp.status, AUTH_TEMPFAIL);
    ck_assert_str_eq(resp.error, "ldap down");
    ck_assert_ptr_null(resp.user);
    auth_response_clear(&resp);
    buf_release(&body);
}
END_TEST

START_TEST(response_malformed)
{
    const struct {
        const char *line;
        enum auth_request_type type;
    } bad[] = {
        {"", AUTH_REQ_RESOLVE},
        {"x FOUND kind=local", AUTH_REQ_RESOLVE},
        {"1", AUTH_REQ_RESOLVE},
        {"1 MAYBE", AUTH_REQ_RESOLVE},
        {"1 FOUND", AUTH_REQ_RESOLVE},                       /* kind required */
        {"1 FOUND kind=local kind=group", AUTH_REQ_RESOLVE}, /* repeated */
        {"1 FOUND kind=bogus", AUTH_REQ_RESOLVE},
        {"1 FOUND kind=local quota=-1", AUTH_REQ_RESOLVE},
        {"1 FOUND kind=local quota=99999999999999999999999", AUTH_REQ_RESOLVE},
        {"1 FOUND kind=local catchall=yes", AUTH_REQ_RESOLVE},
        {"1 FOUND kind=local dn=a%0", AUTH_REQ_RESOLVE},
        {"1 FOUND kind=local novalue", AUTH_REQ_RESOLVE},
        {"1 FOUND kind=local =x", AUTH_REQ_RESOLVE},
        {"1 FOUND kind=local  dn=x", AUTH_REQ_RESOLVE},
        {"1 OK", AUTH_REQ_RESOLVE},
        {"1 FOUND login=a", AUTH_REQ_AUTH},
        {"1 OK dn=x", AUTH_REQ_AUTH}, /* login required */
        {"1 TEMPFAIL error=a error=b", AUTH_REQ_AUTH},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct auth_response resp;
        const char *error = NULL;
        ck_assert_msg(auth_response_decode(bad[i].line, strlen(bad[i].line), bad[i].type, &resp,
                                           &error) == AUTH_DECODE_BAD,
                      "accepted: %s", bad[i].line);
        ck_assert_ptr_null(resp.recipient);
        ck_assert_ptr_null(resp.user);
    }
    /* Unknown keys are skipped; the id is found without decoding. */
    const char *newer = "77 FOUND kind=local shiny=new dn=x";
    struct auth_response resp;
    const char *error;
    ck_assert_int_eq(auth_response_decode(newer, strlen(newer), AUTH_REQ_RESOLVE, &resp, &error),
                     AUTH_DECODE_OK);
    ck_assert_str_eq(resp.recipient->dn, "x");
    auth_response_clear(&resp);
    ck_assert_uint_eq(auth_response_id(newer, strlen(newer)), 77);
    ck_assert_uint_eq(auth_response_id("0 OK", 4), 0);
    ck_assert_uint_eq(auth_response_id("12", 2), 0);
}
END_TEST

START_TEST(response_limit)
{
    /* A group too large for one answer: the encoder makes it, the decoder
     * refuses it (the server sends TEMPFAIL error=too-large instead). */
    size_t n = AUTH_RESPONSE_MAX / 20 + 1;
    char **items = calloc(n, sizeof *items);
    for (size_t i = 0; i < n; i++)
        items[i] = "member-of-group@x.y";
    struct auth_recipient r = {.kind = AUTH_KIND_GROUP, .members = {items, n}};
    struct buf body = BUF_INIT;
    ck_assert_int_eq(auth_body_recipient(&body, AUTH_FOUND, &r), 0);
    ck_assert_uint_gt(buf_len(&body), AUTH_RESPONSE_MAX);
    struct auth_response resp;
    ck_assert_int_eq(respond(&body, AUTH_REQ_RESOLVE, &resp), AUTH_DECODE_BAD);
    free(items);
    buf_release(&body);
}
END_TEST

static Suite *protocol_suite(void)
{
    Suite *s = suite_create("auth_protocol");
    TCase *tc = tcase_create("protocol");
    tcase_add_test(tc, escape_round_trip);
    tcase_add_test(tc, unescape_refuses);
    tcase_add_test(tc, request_round_trip);
    tcase_add_test(tc, request_malformed);
    tcase_add_test(tc, request_limits);
    tcase_add_test(tc, recipient_round_trip);
    tcase_add_test(tc, user_and_senders_round_trip);
    tcase_add_test(tc, response_malformed);
    tcase_add_test(tc, response_limit);
    suite_add_tcase(s, tc);
    return s;
}

TAP_MAIN(protocol_suite)
