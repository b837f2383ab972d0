/* tests/dir_query.c - test-only driver of the directory client (not
 * installed): resolve an address, check a login (password on stdin) or list
 * sender addresses, printing key=value lines. Exit 0 found / ok, 1 not found
 * / refused, 75 (EX_TEMPFAIL) temporary failure, 64 usage.
 *
 *   dir_query -c dirmail.conf [-o key=value]... resolve ADDRESS
 *   dir_query -c dirmail.conf [-o key=value]... auth LOGIN [SERVICE]
 *   dir_query -c dirmail.conf [-o key=value]... senders LOGIN
 *   dir_query -c dirmail.conf [-o key=value]... user LOGIN-OR-ADDRESS
 *   dir_query -c dirmail.conf [-o key=value]... batch
 * batch reads commands from stdin, one a line ("resolve ADDRESS", "auth LOGIN
 * SERVICE PASSWORD", "senders LOGIN", "user KEY"), with one directory client
 * for all of them (so a test can stop and restart slapd between two lines),
 * and ends each answer with "exit=N" and "elapsed_ms=N".
 * Every setting comes from dirmail.conf (directory_options_from_config); -o
 * changes one afterwards by directory_options_set's name, for a value
 * dirmail.conf does not express (a sub-second interval, say). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "auth/directory.h"
#include "conf/conf.h"
#include "lib/log.h"

static void print_list(const char *key, const struct dir_strlist *l)
{
    for (size_t i = 0; i < l->count; i++)
        printf("%s=%s\n", key, l->items[i]);
}

static void print_opt(const char *key, const char *value)
{
    if (value != NULL)
        printf("%s=%s\n", key, value);
}

static void print_user(const struct dir_user *u)
{
    print_opt("dn", u->dn);
    print_opt("login", u->login);
    print_opt("primary", u->primary);
    print_list("address", &u->addresses);
    print_list("sender", &u->senders);
    print_list("service", &u->services);
    print_opt("mailbox", u->mailbox);
    print_opt("mail_host", u->mail_host);
    printf("quota=%llu\nstatus=%s\n", u->quota, dir_status_name(u->status));
    printf("sieve=%s\n", u->sieve != NULL ? "yes" : "no");
}

static int cmd_resolve(struct directory *dir, const char *address)
{
    struct dir_recipient *r;
    enum dir_result res = dir_resolve(dir, address, &r);
    if (res == DIR_TEMPFAIL) {
        printf("result=tempfail\n");
        return EX_TEMPFAIL;
    }
    printf("result=%s\nkind=%s\n", res == DIR_FOUND ? "found" : "notfound", dir_kind_name(r->kind));
    print_opt("address", r->address);
    print_opt("domain", r->domain);
    print_opt("tag", r->tag);
    print_opt("matched", r->matched);
    printf("catchall=%s\n", r->catchall ? "yes" : "no");
    print_opt("dn", r->dn);
    print_opt("primary", r->primary);
    print_opt("mailbox", r->mailbox);
    print_opt("mail_host", r->mail_host);
    print_opt("next_hop", r->next_hop);
    if (r->dn != NULL)
        printf("quota=%llu\nstatus=%s\n", r->quota, dir_status_name(r->status));
    if (r->kind == DIR_KIND_FORWARD)
        printf("keep_copy=%s\n", r->keep_copy ? "yes" : "no");
    if (r->kind == DIR_KIND_DISABLED)
        printf("disabled_action=%s\n", r->disabled_action == DIR_DISABLED_HOLD ? "hold" : "reject");
    print_list("forward", &r->forwards);
    print_list("member", &r->members);
    dir_recipient_free(&r);
    return res == DIR_FOUND ? 0 : 1;
}

static int cmd_auth(struct directory *dir, const char *login, const char *service,
                    const char *given_password)
{
    char password[1024];
    if (given_password != NULL)
        snprintf(password, sizeof password, "%s", given_password);
    else if (fgets(password, sizeof password, stdin) == NULL)
        password[0] = '\0';
    password[strcspn(password, "\r\n")] = '\0';
    struct dir_user *u;
    enum dir_auth_reason reason;
    enum dir_auth_result res = dir_authenticate(dir, login, password, service, &u, &reason);
    explicit_bzero(password, sizeof password);
    if (res == DIR_AUTH_TEMPFAIL) {
        printf("result=tempfail\n");
        return EX_TEMPFAIL;
    }
    if (res == DIR_AUTH_FAILED) {
        printf("result=failed\nreason=%s\n", dir_auth_reason_name(reason));
        return 1;
    }
    printf("result=ok\n");
    print_user(u);
    dir_user_free(&u);
    return 0;
}

static int cmd_user(struct directory *dir, const char *key)
{
    struct dir_user *u;
    enum dir_result res = dir_user_fetch(dir, key, &u);
    if (res != DIR_FOUND) {
        printf("result=%s\n", res == DIR_NOTFOUND ? "notfound" : "tempfail");
        return res == DIR_NOTFOUND ? 1 : EX_TEMPFAIL;
    }
    printf("result=found\n");
    print_user(u);
    dir_user_free(&u);
    return 0;
}

static int cmd_senders(struct directory *dir, const char *login)
{
    struct dir_strlist *l;
    enum dir_result res = dir_sender_addresses(dir, login, &l);
    if (res != DIR_FOUND) {
        printf("result=%s\n", res == DIR_NOTFOUND ? "notfound" : "tempfail");
        return res == DIR_NOTFOUND ? 1 : EX_TEMPFAIL;
    }
    printf("result=found\n");
    print_list("sender", l);
    dir_strlist_free(&l);
    return 0;
}

static int usage(void)
{
    fprintf(stderr, "usage: dir_query -c CONF [-o key=value]... [-n N] "
                    "resolve ADDRESS | auth LOGIN [SERVICE] | senders LOGIN | user KEY | batch\n");
    return EX_USAGE;
}

/* run - one command; returns its exit code. */
static int run(struct directory *dir, const char *cmd, const char *arg, const char *arg2,
               const char *password)
{
    if (strcmp(cmd, "resolve") == 0)
        return cmd_resolve(dir, arg);
    if (strcmp(cmd, "auth") == 0)
        return cmd_auth(dir, arg, arg2 != NULL && strcmp(arg2, "-") == 0 ? NULL : arg2, password);
    if (strcmp(cmd, "senders") == 0)
        return cmd_senders(dir, arg);
    if (strcmp(cmd, "user") == 0)
        return cmd_user(dir, arg);
    return usage();
}

static long elapsed_ms(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (long)((t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000);
}

/* batch - commands from stdin, one directory client for all. */
static int batch(struct directory *dir)
{
    char line[2048];
    while (fgets(line, sizeof line, stdin) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        char *save = NULL;
        char *cmd = strtok_r(line, " ", &save);
        char *arg = cmd != NULL ? strtok_r(NULL, " ", &save) : NULL;
        char *arg2 = arg != NULL ? strtok_r(NULL, " ", &save) : NULL;
        char *password = arg2 != NULL ? strtok_r(NULL, "", &save) : NULL;
        if (cmd == NULL || arg == NULL) {
            printf("exit=%d\nelapsed_ms=0\n", EX_USAGE);
            fflush(stdout);
            continue;
        }
        if (strcmp(cmd, "auth") == 0 && password == NULL)
            password = "";
        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        int rc = run(dir, cmd, arg, arg2, password);
        printf("exit=%d\nelapsed_ms=%ld\n", rc, elapsed_ms(&t0));
        fflush(stdout);
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *conf_path = NULL;
    char *overrides[64];
    size_t override_count = 0;
    int c;
    log_init(LOG_TARGET_STDERR, "dir_query", LOG_LEVEL_INFO);
    while ((c = getopt(argc, argv, "c:o:")) != -1) {
        switch (c) {
        case 'c':
            conf_path = optarg;
            break;
        case 'o':
            if (override_count == sizeof overrides / sizeof overrides[0])
                return usage();
            overrides[override_count++] = optarg;
            break;
        default:
            return usage();
        }
    }
    if (conf_path == NULL || optind >= argc)
        return usage();
    const char *cmd = argv[optind];
    const char *arg = optind + 1 < argc ? argv[optind + 1] : NULL;
    const char *arg2 = optind + 2 < argc ? argv[optind + 2] : NULL;
    if (strcmp(cmd, "batch") != 0 && arg == NULL)
        return usage();

    char *error = NULL;
    struct config *conf = config_load(conf_path, &error);
    if (conf == NULL) {
        fprintf(stderr, "dir_query: %s\n", error);
        free(error);
        return EX_CONFIG;
    }
    log_init(LOG_TARGET_STDERR, "dir_query", conf->server.log_level);
    struct directory_options opts;
    const char *err;
    if (directory_options_from_config(conf, &opts, &err) < 0) {
        fprintf(stderr, "dir_query: %s\n", err);
        config_free(&conf);
        return EX_CONFIG;
    }
    config_free(&conf);
    for (size_t i = 0; i < override_count; i++) {
        char *eq = strchr(overrides[i], '=');
        if (eq == NULL) {
            directory_options_clear(&opts);
            return usage();
        }
        *eq = '\0';
        if (directory_options_set(&opts, overrides[i], eq + 1, &err) < 0) {
            fprintf(stderr, "dir_query: -o %s: %s\n", overrides[i], err);
            directory_options_clear(&opts);
            return EX_CONFIG;
        }
    }
    struct directory *dir = directory_new(&opts, &err);
    directory_options_clear(&opts);
    if (dir == NULL) {
        fprintf(stderr, "dir_query: %s\n", err);
        return EX_CONFIG;
    }
    int rc;
    if (strcmp(cmd, "batch") == 0) {
        rc = batch(dir);
    } else {
        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        rc = run(dir, cmd, arg, arg2, NULL);
        printf("elapsed_ms=%ld\n", elapsed_ms(&t0));
    }
    directory_free(&dir);
    return rc;
}
