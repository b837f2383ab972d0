/* tests/sasl_client_test.c - test-only driver (not installed) of the SASL
 * glue with the real directory as its password check: Cyrus SASL's own
 * client authenticates against auth/sasl_server.c, whose check is
 * dir_authenticate against the LDAP server dirmail.conf names. The only
 * program that links the SASL glue together with libldap; dirmail's workers
 * ask the auth process instead.
 *
 *   sasl_client_test -c dirmail.conf
 * reads commands from stdin, one a line, with one directory client for all
 * (so a test can stop slapd between two lines):
 *   mechs tls|plain                                   advertised mechanisms
 *   auth MECH ir|noir tls|plain SERVICE LOGIN AUTHZID|- PASSWORD
 * and answers each with key=value lines ending in "end". */
#include "config.h"

#include <sasl/sasl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "auth/directory.h"
#include "auth/sasl_server.h"
#include "conf/conf.h"
#include "lib/log.h"

#define CB(fn) ((int (*)(void))(void (*)(void))(fn))

/* directory_check - the production check's answer, from LDAP directly. */
static enum sasl_check_result directory_check(void *context, const char *login,
                                              const char *password, const char *service)
{
    struct dir_user *u = NULL;
    enum dir_auth_reason reason = DIR_AUTH_REASON_NONE;
    enum dir_auth_result r = dir_authenticate(context, login, password, service, &u, &reason);
    if (r == DIR_AUTH_OK) {
        dir_user_free(&u);
        return SASL_CHECK_OK;
    }
    printf("check_reason=%s\n", r == DIR_AUTH_TEMPFAIL ? "tempfail" : dir_auth_reason_name(reason));
    return r == DIR_AUTH_TEMPFAIL ? SASL_CHECK_TEMPFAIL : SASL_CHECK_FAILED;
}

struct creds {
    const char *login, *authzid, *password;
    sasl_secret_t *secret;
};

static int client_simple(void *context, int id, const char **result, unsigned *len)
{
    const struct creds *c = context;
    const char *v = id == SASL_CB_AUTHNAME ? c->login : id == SASL_CB_USER ? c->authzid : NULL;
    *result = v != NULL ? v : "";
    if (len != NULL)
        *len = (unsigned)strlen(*result);
    return SASL_OK;
}

static int client_secret(sasl_conn_t *conn, void *context, int id, sasl_secret_t **psecret)
{
    struct creds *c = context;
    size_t n = strlen(c->password);
    free(c->secret);
    c->secret = malloc(sizeof *c->secret + n + 1);
    if (c->secret == NULL)
        return SASL_NOMEM;
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

static struct sasl_session *session(const char *service, bool tls)
{
    const char *error = NULL;
    struct sasl_session *s = sasl_session_new(service, "mx.example.org", "127.0.0.1;587",
                                              "127.0.0.1;40000", tls, tls ? 256 : 0, &error);
    if (s == NULL)
        printf("error=%s\n", error);
    return s;
}

/* cmd_auth - one exchange through Cyrus's client; prints result and user. */
static void cmd_auth(const char *mech, bool initial, bool tls, const char *service, struct creds *c)
{
    struct sasl_session *s = session(service, tls);
    if (s == NULL)
        return;
    sasl_callback_t cbs[] = {{SASL_CB_AUTHNAME, CB(client_simple), c},
                             {SASL_CB_USER, CB(client_simple), c},
                             {SASL_CB_PASS, CB(client_secret), c},
                             {SASL_CB_LIST_END, NULL, NULL}};
    sasl_conn_t *cc = NULL;
    const char *cout = NULL, *chosen = NULL;
    unsigned coutlen = 0;
    if (sasl_client_new(service, "mx.example.org", NULL, NULL, cbs, 0, &cc) != SASL_OK) {
        printf("error=sasl_client_new\n");
        sasl_session_free(&s);
        return;
    }
    int rc = sasl_client_start(cc, mech, NULL, initial ? &cout : NULL, initial ? &coutlen : NULL,
                               &chosen);
    enum sasl_session_result r = SASL_SESSION_BAD_PROTOCOL;
    int challenges = 0;
    if (rc == SASL_OK || rc == SASL_CONTINUE) {
        const unsigned char *out = NULL;
        size_t outlen = 0;
        r = sasl_session_start(s, mech, initial ? (const unsigned char *)(cout ? cout : "") : NULL,
                               initial ? coutlen : 0, &out, &outlen);
        while (r == SASL_SESSION_CONTINUE && challenges++ < 10) {
            rc = sasl_client_step(cc, (const char *)out, (unsigned)outlen, NULL, &cout, &coutlen);
            if (rc != SASL_OK && rc != SASL_CONTINUE) {
                printf("error=client_step\n");
                break;
            }
            r = sasl_session_step(s, (const unsigned char *)(cout ? cout : ""), coutlen, &out,
                                  &outlen);
        }
    } else {
        printf("error=client_start %s\n", sasl_errdetail(cc));
    }
    printf("result=%s\nchallenges=%d\n", sasl_session_result_name(r), challenges);
    if (r == SASL_SESSION_OK)
        printf("user=%s\nauthid=%s\n", sasl_session_user(s), sasl_session_authid(s));
    sasl_dispose(&cc);
    free(c->secret);
    c->secret = NULL;
    sasl_session_free(&s);
}

static void batch(void)
{
    char line[2048];
    while (fgets(line, sizeof line, stdin) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        char *save = NULL;
        char *f[7] = {0};
        size_t n = 0;
        while (n < 7 && (f[n] = strtok_r(n == 0 ? line : NULL, " ", &save)) != NULL)
            n++;
        if (n == 2 && strcmp(f[0], "mechs") == 0) {
            struct sasl_session *s = session("smtp", strcmp(f[1], "tls") == 0);
            if (s != NULL)
                printf("mechanisms=%s\n", sasl_session_mechanisms(s));
            sasl_session_free(&s);
        } else if (n == 7 && strcmp(f[0], "auth") == 0) {
            /* The password is the rest of the line, spaces and all. */
            char *pw = strtok_r(NULL, "", &save);
            struct creds c = {.login = f[5],
                              .authzid = strcmp(f[6], "-") == 0 ? NULL : f[6],
                              .password = pw != NULL ? pw : ""};
            cmd_auth(f[1], strcmp(f[2], "ir") == 0, strcmp(f[3], "tls") == 0, f[4], &c);
        } else {
            printf("error=usage\n");
        }
        printf("end\n");
        fflush(stdout);
    }
}

int main(int argc, char **argv)
{
    const char *conf_path = NULL;
    int c;
    log_init(LOG_TARGET_STDERR, "sasl_client_test", LOG_LEVEL_INFO);
    while ((c = getopt(argc, argv, "c:")) != -1) {
        if (c != 'c')
            return EX_USAGE;
        conf_path = optarg;
    }
    if (conf_path == NULL) {
        fprintf(stderr, "usage: sasl_client_test -c CONF < commands\n");
        return EX_USAGE;
    }
    char *error = NULL;
    struct config *conf = config_load(conf_path, &error);
    if (conf == NULL) {
        fprintf(stderr, "sasl_client_test: %s\n", error);
        free(error);
        return EX_CONFIG;
    }
    log_init(LOG_TARGET_STDERR, "sasl_client_test", conf->server.log_level);
    struct directory_options opts;
    const char *err;
    if (directory_options_from_config(conf, &opts, &err) < 0) {
        fprintf(stderr, "sasl_client_test: %s\n", err);
        config_free(&conf);
        return EX_CONFIG;
    }
    struct directory *dir = directory_new(&opts, &err);
    directory_options_clear(&opts);
    if (dir == NULL) {
        fprintf(stderr, "sasl_client_test: %s\n", err);
        config_free(&conf);
        return EX_CONFIG;
    }
    int rc = 0;
    static const sasl_callback_t client_global[] = {{SASL_CB_GETCONFPATH, CB(no_confpath), NULL},
                                                    {SASL_CB_LIST_END, NULL, NULL}};
    if (sasl_glue_init(&conf->sasl, directory_check, dir, &err) < 0) {
        fprintf(stderr, "sasl_client_test: %s\n", err);
        rc = EX_SOFTWARE;
    } else if (sasl_client_init(client_global) != SASL_OK) {
        fprintf(stderr, "sasl_client_test: sasl_client_init failed\n");
        rc = EX_SOFTWARE;
    } else {
        batch();
    }
    sasl_glue_done();
    sasl_client_done();
    directory_free(&dir);
    config_free(&conf);
    return rc;
}
