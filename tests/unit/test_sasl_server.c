/* tests/unit/test_sasl_server.c - auth/sasl_server.c driven by Cyrus SASL's
 * own client (sasl_client_*), in process, with a table of logins as the
 * password check: PLAIN with and without initial response, LOGIN, wrong and
 * empty passwords, unknown users, a check that cannot answer, authzid policy,
 * what is advertised with and without TLS, and that no password is logged. */
#include <config.h>

#include <check.h>
#include <sasl/sasl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/sasl_server.h"
#include "lib/log.h"
#include "log_capture.h"
#include "tap_main.h"

#define CB(fn) ((int (*)(void))(void (*)(void))(fn))

/* The directory of this test: "down" stands for a login whose check cannot
 * reach the directory. */
static const struct {
    const char *login, *password;
} users[] = {{"alice", "s3cret-Alice"}, {"bob@example.org", "pw with spaces"}};

static struct {
    int calls;
    char login[256];
    char service[64];
} seen;

static enum sasl_check_result table_check(void *context, const char *login, const char *password,
                                          const char *service)
{
    ck_assert_ptr_eq(context, &seen);
    seen.calls++;
    snprintf(seen.login, sizeof seen.login, "%s", login);
    snprintf(seen.service, sizeof seen.service, "%s", service);
    ck_assert_uint_gt(strlen(password), 0);
    if (strcmp(login, "down") == 0)
        return SASL_CHECK_TEMPFAIL;
    for (size_t i = 0; i < sizeof users / sizeof users[0]; i++) {
        if (strcmp(login, users[i].login) == 0)
            return strcmp(password, users[i].password) == 0 ? SASL_CHECK_OK : SASL_CHECK_FAILED;
    }
    return SASL_CHECK_FAILED;
}

static char *default_mechs[] = {"PLAIN", "LOGIN"};

static void glue_up(bool allow_authzid, bool plaintext_without_tls, char **mechs, size_t count)
{
    struct config_sasl conf = {.mechanisms = mechs,
                               .mechanism_count = count,
                               .allow_authzid = allow_authzid,
                               .plaintext_without_tls = plaintext_without_tls};
    const char *error = NULL;
    ck_assert_msg(sasl_glue_init(&conf, table_check, &seen, &error) == 0, "%s", error);
}

static void setup(void)
{
    memset(&seen, 0, sizeof seen);
    log_init(LOG_TARGET_STDERR, "test_sasl_server", LOG_LEVEL_DEBUG);
}

static void teardown(void)
{
    sasl_glue_done();
    sasl_client_done();
}

/* Cyrus client callbacks: the credentials one exchange sends. */
struct creds {
    const char *authname, *authzid, *password;
    sasl_secret_t *secret;
};

static int client_simple(void *context, int id, const char **result, unsigned *len)
{
    const struct creds *c = context;
    const char *v = id == SASL_CB_AUTHNAME ? c->authname : id == SASL_CB_USER ? c->authzid : NULL;
    if (v == NULL)
        v = "";
    *result = v;
    if (len != NULL)
        *len = (unsigned)strlen(v);
    return SASL_OK;
}

static int client_secret(sasl_conn_t *conn, void *context, int id, sasl_secret_t **psecret)
{
    struct creds *c = context;
    size_t n = strlen(c->password);
    free(c->secret);
    c->secret = malloc(sizeof *c->secret + n + 1);
    ck_assert_ptr_nonnull(c->secret);
    c->secret->len = n;
    memcpy(c->secret->data, c->password, n + 1);
    *psecret = c->secret;
    return SASL_OK;
}

static int no_confpath(void *context, char **path)
{
    static char none[] = "/dev/null"; /* Cyrus 2.1.28 never frees it */
    *path = none;
    return SASL_OK;
}

static void client_up(void)
{
    static const sasl_callback_t global[] = {{SASL_CB_GETCONFPATH, CB(no_confpath), NULL},
                                             {SASL_CB_LIST_END, NULL, NULL}};
    ck_assert_int_eq(sasl_client_init(global), SASL_OK);
}

/* exchange - authenticate with Cyrus's client against a new session of
 * service over TLS or not; returns the server's final result and counts the
 * challenges the server sent in *challenges_r. */
static enum sasl_session_result exchange(struct sasl_session *s, const char *mech, bool initial,
                                         struct creds *c, int *challenges_r)
{
    sasl_callback_t cbs[] = {{SASL_CB_AUTHNAME, CB(client_simple), c},
                             {SASL_CB_USER, CB(client_simple), c},
                             {SASL_CB_PASS, CB(client_secret), c},
                             {SASL_CB_LIST_END, NULL, NULL}};
    sasl_conn_t *cc = NULL;
    ck_assert_int_eq(sasl_client_new("smtp", "mx.example.org", NULL, NULL, cbs, 0, &cc), SASL_OK);
    const char *cout = NULL, *chosen = NULL;
    unsigned coutlen = 0;
    int rc = sasl_client_start(cc, mech, NULL, initial ? &cout : NULL, initial ? &coutlen : NULL,
                               &chosen);
    ck_assert_msg(rc == SASL_OK || rc == SASL_CONTINUE, "client start: %s", sasl_errdetail(cc));
    ck_assert_str_eq(chosen, mech);
    const unsigned char *out = NULL;
    size_t outlen = 0;
    enum sasl_session_result r =
        sasl_session_start(s, mech, initial ? (const unsigned char *)(cout ? cout : "") : NULL,
                           initial ? coutlen : 0, &out, &outlen);
    int challenges = 0;
    while (r == SASL_SESSION_CONTINUE && challenges < 10) {
        challenges++;
        rc = sasl_client_step(cc, (const char *)out, (unsigned)outlen, NULL, &cout, &coutlen);
        ck_assert_msg(rc == SASL_OK || rc == SASL_CONTINUE, "client step: %s", sasl_errdetail(cc));
        r = sasl_session_step(s, (const unsigned char *)(cout ? cout : ""), coutlen, &out, &outlen);
    }
    sasl_dispose(&cc);
    free(c->secret);
    c->secret = NULL;
    if (challenges_r != NULL)
        *challenges_r = challenges;
    return r;
}

static struct sasl_session *tls_session(const char *service)
{
    const char *error = NULL;
    struct sasl_session *s = sasl_session_new(service, "mx.example.org", "192.0.2.1;587",
                                              "198.51.100.7;40000", true, 256, &error);
    ck_assert_msg(s != NULL, "%s", error);
    return s;
}

/* login_as - one full exchange on a fresh TLS session. */
static enum sasl_session_result login_as(const char *mech, bool initial, const char *authname,
                                         const char *authzid, const char *password, char *user_r,
                                         size_t user_size)
{
    struct sasl_session *s = tls_session("submission");
    struct creds c = {.authname = authname, .authzid = authzid, .password = password};
    enum sasl_session_result r = exchange(s, mech, initial, &c, NULL);
    if (user_r != NULL)
        snprintf(user_r, user_size, "%s", sasl_session_user(s) ? sasl_session_user(s) : "");
    if (r != SASL_SESSION_OK)
        ck_assert_ptr_null(sasl_session_user(s));
    sasl_session_free(&s);
    ck_assert_ptr_null(s);
    return r;
}

START_TEST(plain_with_initial_response)
{
    glue_up(false, false, default_mechs, 2);
    client_up();
    char user[256];
    ck_assert_int_eq(login_as("PLAIN", true, "alice", NULL, "s3cret-Alice", user, sizeof user),
                     SASL_SESSION_OK);
    ck_assert_str_eq(user, "alice");
    ck_assert_int_eq(seen.calls, 1);
    ck_assert_str_eq(seen.login, "alice");
    ck_assert_str_eq(seen.service, "submission");
    ck_assert_int_eq(
        login_as("PLAIN", true, "bob@example.org", NULL, "pw with spaces", user, sizeof user),
        SASL_SESSION_OK);
    ck_assert_str_eq(user, "bob@example.org");
}
END_TEST

START_TEST(plain_without_initial_response)
{
    glue_up(false, false, default_mechs, 2);
    client_up();
    struct sasl_session *s = tls_session("imap");
    struct creds c = {.authname = "alice", .password = "s3cret-Alice"};
    int challenges = -1;
    ck_assert_int_eq(exchange(s, "PLAIN", false, &c, &challenges), SASL_SESSION_OK);
    ck_assert_int_eq(challenges, 1); /* the empty "+ " / "334 " */
    ck_assert_str_eq(sasl_session_user(s), "alice");
    ck_assert_str_eq(sasl_session_authid(s), "alice");
    ck_assert_str_eq(sasl_session_mechanism(s), "PLAIN");
    ck_assert_str_eq(seen.service, "imap");
    sasl_session_free(&s);
}
END_TEST

START_TEST(login_two_challenges)
{
    glue_up(false, false, default_mechs, 2);
    client_up();
    struct sasl_session *s = tls_session("pop3");
    /* Watch the challenges themselves: "Username:" then "Password:". */
    const unsigned char *out = NULL;
    size_t outlen = 0;
    ck_assert_int_eq(sasl_session_start(s, "login", NULL, 0, &out, &outlen), SASL_SESSION_CONTINUE);
    ck_assert_int_eq((int)outlen, 9);
    ck_assert_int_eq(memcmp(out, "Username:", 9), 0);
    ck_assert_int_eq(sasl_session_step(s, (const unsigned char *)"alice", 5, &out, &outlen),
                     SASL_SESSION_CONTINUE);
    ck_assert_int_eq(memcmp(out, "Password:", 9), 0);
    ck_assert_int_eq(seen.calls, 0);
    ck_assert_int_eq(sasl_session_step(s, (const unsigned char *)"s3cret-Alice", 12, &out, &outlen),
                     SASL_SESSION_OK);
    ck_assert_str_eq(sasl_session_user(s), "alice");
    /* After the end, a further step is a protocol error, not a second login. */
    ck_assert_int_eq(sasl_session_step(s, (const unsigned char *)"x", 1, &out, &outlen),
                     SASL_SESSION_BAD_PROTOCOL);
    sasl_session_free(&s);

    /* And through Cyrus's client. */
    s = tls_session("pop3");
    struct creds c = {.authname = "alice", .password = "s3cret-Alice"};
    int challenges = 0;
    ck_assert_int_eq(exchange(s, "LOGIN", false, &c, &challenges), SASL_SESSION_OK);
    ck_assert_int_eq(challenges, 2);
    sasl_session_free(&s);
    c.password = "wrong";
    s = tls_session("pop3");
    ck_assert_int_eq(exchange(s, "LOGIN", false, &c, &challenges), SASL_SESSION_FAILED);
    sasl_session_free(&s);
}
END_TEST

START_TEST(wrong_password_and_unknown_user)
{
    glue_up(false, false, default_mechs, 2);
    client_up();
    ck_assert_int_eq(login_as("PLAIN", true, "alice", NULL, "s3cret-alice", NULL, 0),
                     SASL_SESSION_FAILED);
    ck_assert_int_eq(login_as("PLAIN", false, "nobody", NULL, "s3cret-Alice", NULL, 0),
                     SASL_SESSION_FAILED);
    ck_assert_int_eq(login_as("LOGIN", false, "nobody", NULL, "x", NULL, 0), SASL_SESSION_FAILED);
    ck_assert_int_eq(seen.calls, 3);
}
END_TEST

START_TEST(empty_password_never_checked)
{
    glue_up(false, false, default_mechs, 2);
    client_up();
    struct sasl_session *s = tls_session("smtp");
    const unsigned char *out;
    size_t outlen;
    /* RFC 4616: [authzid] NUL authcid NUL passwd. */
    ck_assert_int_eq(
        sasl_session_start(s, "PLAIN", (const unsigned char *)"\0alice\0", 7, &out, &outlen),
        SASL_SESSION_FAILED);
    ck_assert_int_eq(sasl_session_start(s, "LOGIN", NULL, 0, &out, &outlen), SASL_SESSION_CONTINUE);
    ck_assert_int_eq(sasl_session_step(s, (const unsigned char *)"alice", 5, &out, &outlen),
                     SASL_SESSION_CONTINUE);
    enum sasl_session_result r = sasl_session_step(s, (const unsigned char *)"", 0, &out, &outlen);
    ck_assert_msg(r == SASL_SESSION_FAILED || r == SASL_SESSION_BAD_PROTOCOL, "%s",
                  sasl_session_result_name(r));
    /* A NUL inside the password cannot be checked as a C string (Cyrus's
     * PLAIN calls a third NUL malformed). */
    r = sasl_session_start(s, "PLAIN", (const unsigned char *)"\0alice\0s3cret\0-Alice", 20, &out,
                           &outlen);
    ck_assert_msg(r == SASL_SESSION_FAILED || r == SASL_SESSION_BAD_PROTOCOL, "%s",
                  sasl_session_result_name(r));
    ck_assert_int_eq(seen.calls, 0);
    ck_assert_ptr_null(sasl_session_user(s));
    sasl_session_free(&s);
}
END_TEST

START_TEST(tempfail_is_not_a_bad_password)
{
    glue_up(false, false, default_mechs, 2);
    client_up();
    ck_assert_int_eq(login_as("PLAIN", true, "down", NULL, "whatever", NULL, 0),
                     SASL_SESSION_TEMPFAIL);
    ck_assert_int_eq(login_as("PLAIN", false, "down", NULL, "whatever", NULL, 0),
                     SASL_SESSION_TEMPFAIL);
    ck_assert_int_eq(login_as("LOGIN", false, "down", NULL, "whatever", NULL, 0),
                     SASL_SESSION_TEMPFAIL);
    ck_assert_int_eq(seen.calls, 3);
}
END_TEST

START_TEST(authzid_refused_by_default)
{
    glue_up(false, false, default_mechs, 2);
    client_up();
    ck_assert_int_eq(login_as("PLAIN", true, "alice", "bob@example.org", "s3cret-Alice", NULL, 0),
                     SASL_SESSION_FAILED);
    /* The same identity as authzid is no proxying. */
    char user[256];
    ck_assert_int_eq(login_as("PLAIN", true, "alice", "alice", "s3cret-Alice", user, sizeof user),
                     SASL_SESSION_OK);
    ck_assert_str_eq(user, "alice");
    /* A refused authzid with a wrong password is still just a failure. */
    ck_assert_int_eq(login_as("PLAIN", true, "alice", "bob@example.org", "nope", NULL, 0),
                     SASL_SESSION_FAILED);
}
END_TEST

START_TEST(authzid_allowed_when_configured)
{
    glue_up(true, false, default_mechs, 2);
    client_up();
    struct sasl_session *s = tls_session("imap");
    struct creds c = {
        .authname = "alice", .authzid = "bob@example.org", .password = "s3cret-Alice"};
    ck_assert_int_eq(exchange(s, "PLAIN", true, &c, NULL), SASL_SESSION_OK);
    ck_assert_str_eq(sasl_session_user(s), "bob@example.org");
    ck_assert_str_eq(sasl_session_authid(s), "alice");
    sasl_session_free(&s);
    /* The password checked is still the login's. */
    c.password = "pw with spaces";
    s = tls_session("imap");
    ck_assert_int_eq(exchange(s, "PLAIN", true, &c, NULL), SASL_SESSION_FAILED);
    sasl_session_free(&s);
}
END_TEST

START_TEST(mechanisms_advertised)
{
    char *configured[] = {"LOGIN", "CRAM-MD5", "PLAIN", "SCRAM-SHA-256", "DIGEST-MD5", "ANONYMOUS"};
    glue_up(false, false, configured, 6);
    struct sasl_session *s = tls_session("submission");
    /* Cyrus has the others installed, but they need a secret store: never offered. */
    ck_assert_str_eq(sasl_session_mechanisms(s), "LOGIN PLAIN");
    const unsigned char *out;
    size_t outlen;
    ck_assert_int_eq(sasl_session_start(s, "CRAM-MD5", NULL, 0, &out, &outlen),
                     SASL_SESSION_NO_MECHANISM);
    ck_assert_int_eq(
        sasl_session_start(s, "ANONYMOUS", (const unsigned char *)"x", 1, &out, &outlen),
        SASL_SESSION_NO_MECHANISM);
    ck_assert_int_eq(sasl_session_start(s, "NO-SUCH-MECH", NULL, 0, &out, &outlen),
                     SASL_SESSION_NO_MECHANISM);
    sasl_session_free(&s);
}
END_TEST

START_TEST(default_mechanisms_advertised)
{
    glue_up(false, false, default_mechs, 2);
    struct sasl_session *s = tls_session("imap");
    ck_assert_str_eq(sasl_session_mechanisms(s), "PLAIN LOGIN");
    sasl_session_free(&s);
}
END_TEST

START_TEST(plaintext_withheld_without_tls)
{
    glue_up(false, false, default_mechs, 2);
    const char *error = NULL;
    struct sasl_session *s =
        sasl_session_new("smtp", "mx.example.org", NULL, NULL, false, 0, &error);
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(sasl_session_mechanisms(s), "");
    const unsigned char *out;
    size_t outlen;
    ck_assert_int_eq(sasl_session_start(s, "PLAIN", (const unsigned char *)"\0alice\0s3cret-Alice",
                                        19, &out, &outlen),
                     SASL_SESSION_ENCRYPTION_REQUIRED);
    ck_assert_int_eq(sasl_session_start(s, "LOGIN", NULL, 0, &out, &outlen),
                     SASL_SESSION_ENCRYPTION_REQUIRED);
    ck_assert_int_eq(seen.calls, 0);
    sasl_session_free(&s);
}
END_TEST

START_TEST(plaintext_allowed_without_tls_when_configured)
{
    glue_up(false, true, default_mechs, 2);
    client_up();
    const char *error = NULL;
    struct sasl_session *s = sasl_session_new("imap", "mx.example.org", "127.0.0.1;143",
                                              "127.0.0.1;5000", false, 0, &error);
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(sasl_session_mechanisms(s), "PLAIN LOGIN");
    struct creds c = {.authname = "alice", .password = "s3cret-Alice"};
    ck_assert_int_eq(exchange(s, "PLAIN", true, &c, NULL), SASL_SESSION_OK);
    sasl_session_free(&s);
}
END_TEST

START_TEST(no_mechanisms_configured)
{
    char *configured[] = {"CRAM-MD5"};
    glue_up(false, true, configured, 1);
    struct sasl_session *s = tls_session("smtp");
    ck_assert_str_eq(sasl_session_mechanisms(s), "");
    const unsigned char *out;
    size_t outlen;
    ck_assert_int_eq(sasl_session_start(s, "PLAIN", NULL, 0, &out, &outlen),
                     SASL_SESSION_NO_MECHANISM);
    sasl_session_free(&s);
}
END_TEST

START_TEST(malformed_responses)
{
    glue_up(false, false, default_mechs, 2);
    struct sasl_session *s = tls_session("smtp");
    const unsigned char *out;
    size_t outlen;
    /* No NUL separators at all. */
    ck_assert_int_eq(
        sasl_session_start(s, "PLAIN", (const unsigned char *)"alice s3cret", 12, &out, &outlen),
        SASL_SESSION_BAD_PROTOCOL);
    /* Longer than any honest response. */
    size_t big = SASL_SESSION_INPUT_MAX + 1;
    unsigned char *buf = calloc(1, big);
    ck_assert_ptr_nonnull(buf);
    ck_assert_int_eq(sasl_session_start(s, "PLAIN", buf, big, &out, &outlen),
                     SASL_SESSION_BAD_PROTOCOL);
    ck_assert_int_eq(sasl_session_start(s, "PLAIN", NULL, 0, &out, &outlen), SASL_SESSION_CONTINUE);
    ck_assert_int_eq(sasl_session_step(s, buf, big, &out, &outlen), SASL_SESSION_BAD_PROTOCOL);
    free(buf);
    /* Step without start. */
    ck_assert_int_eq(sasl_session_step(s, (const unsigned char *)"x", 1, &out, &outlen),
                     SASL_SESSION_BAD_PROTOCOL);
    /* A new start abandons an exchange half way (the client's "*"). */
    ck_assert_int_eq(sasl_session_start(s, "LOGIN", NULL, 0, &out, &outlen), SASL_SESSION_CONTINUE);
    ck_assert_int_eq(sasl_session_start(s, "PLAIN", (const unsigned char *)"\0alice\0s3cret-Alice",
                                        19, &out, &outlen),
                     SASL_SESSION_OK);
    ck_assert_int_eq(seen.calls, 1);
    sasl_session_free(&s);
}
END_TEST

START_TEST(passwords_never_logged)
{
    static struct log_capture cap;
    log_capture_begin(&cap);
    glue_up(false, false, default_mechs, 2);
    client_up();
    ck_assert_int_eq(login_as("PLAIN", true, "alice", NULL, "s3cret-Alice", NULL, 0),
                     SASL_SESSION_OK);
    ck_assert_int_eq(login_as("LOGIN", false, "alice", NULL, "Wr0ng-Pass", NULL, 0),
                     SASL_SESSION_FAILED);
    ck_assert_int_eq(login_as("PLAIN", false, "down", NULL, "Temp-Pass", NULL, 0),
                     SASL_SESSION_TEMPFAIL);
    const char *text = log_capture_end(&cap);
    ck_assert_ptr_nonnull(strstr(text, "event=sasl_auth"));
    ck_assert_ptr_nonnull(strstr(text, "result=tempfail login=- "));
    ck_assert_ptr_null(strstr(text, "s3cret"));
    ck_assert_ptr_null(strstr(text, "Wr0ng"));
    ck_assert_ptr_null(strstr(text, "Temp-Pass"));
}
END_TEST

static Suite *sasl_suite(void)
{
    Suite *s = suite_create("sasl_server");
    TCase *tc = tcase_create("sasl_server");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, plain_with_initial_response);
    tcase_add_test(tc, plain_without_initial_response);
    tcase_add_test(tc, login_two_challenges);
    tcase_add_test(tc, wrong_password_and_unknown_user);
    tcase_add_test(tc, empty_password_never_checked);
    tcase_add_test(tc, tempfail_is_not_a_bad_password);
    tcase_add_test(tc, authzid_refused_by_default);
    tcase_add_test(tc, authzid_allowed_when_configured);
    tcase_add_test(tc, mechanisms_advertised);
    tcase_add_test(tc, default_mechanisms_advertised);
    tcase_add_test(tc, plaintext_withheld_without_tls);
    tcase_add_test(tc, plaintext_allowed_without_tls_when_configured);
    tcase_add_test(tc, no_mechanisms_configured);
    tcase_add_test(tc, malformed_responses);
    tcase_add_test(tc, passwords_never_logged);
    suite_add_tcase(s, tc);
    return s;
}

TAP_MAIN(sasl_suite)
