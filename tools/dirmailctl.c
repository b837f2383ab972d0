/* tools/dirmailctl.c - the administrator's tool. It asks the auth process of
 * a running dirmaild, over <state_dir>/auth.sock, how an address resolves or
 * whether a password is right; it never talks to LDAP itself (only the auth
 * process holds the directory credentials) and never links libldap.
 * Exit codes follow sysexits(3) so that scripts can tell the three answers
 * apart: 0 found/ok, 1 not found/refused, 75 temporary failure, 64 usage. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "auth/auth_client.h"
#include "conf/conf.h"
#include "tools/dirmailctl_sieve.h"
#include "tools/dirmailctl_queue.h"
#include "tools/dirmailctl_route.h"

#define DEFAULT_CONFIG SYSCONFDIR "/dirmail/dirmail.conf"

enum {
    EXIT_OK = 0,
    EXIT_NOTFOUND = 1,
    EXIT_USAGE = 64,    /* EX_USAGE */
    EXIT_SOFTWARE = 70, /* EX_SOFTWARE: out of memory, a reply we cannot read */
    EXIT_TEMPFAIL = 75, /* EX_TEMPFAIL */
    EXIT_CONFIG = 78,   /* EX_CONFIG */
};

/* Longest password read; a longer line is an error, not silently cut. */
#define PASSWORD_MAX 1024

static void usage(FILE *out)
{
    fprintf(out, "usage: dirmailctl [-c FILE] lookup ADDRESS\n"
                 "       dirmailctl [-c FILE] auth LOGIN [SERVICE]\n"
                 "       dirmailctl sieve check FILE...\n"
                 "       dirmailctl sieve test [-f SENDER] [-t RECIPIENT] [-a ADDRESS]... SCRIPT "
                 "MESSAGE\n"
                 "       dirmailctl [-c FILE] queue list|show ID [--json]\n"
                 "       dirmailctl [-c FILE] queue delete|bounce|retry|hold|release ID\n"
                 "       dirmailctl [-c FILE] queue flush [ID]\n"
                 "       dirmailctl [-c FILE] route ADDRESS\n"
                 "  -c FILE  configuration file (default " DEFAULT_CONFIG ")\n"
                 "  -h, --help  this help\n"
                 "  --version   the version of dirmail\n"
                 "exit status: 0 found/ok, 1 not found/failed, 75 temporary failure, 64 usage\n");
}

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* fail - one line on stderr, prefixed with the program name. */
static void fail(const char *fmt, ...)
{
    va_list ap;
    fputs("dirmailctl: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* The terminal state to restore if a signal ends us while echo is off. */
static struct termios saved_tty;
static volatile sig_atomic_t tty_changed;

static void restore_tty_and_die(int sig)
{
    if (tty_changed)
        (void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tty);
    signal(sig, SIG_DFL);
    raise(sig);
}

/* read_line - one line from fp into buf without its newline (and a CR before
 * it). 0, or -1 with *error_r: end of input before any byte, or a line that
 * does not fit. */
static int read_line(FILE *fp, char *buf, size_t size, const char **error_r)
{
    size_t len = 0;
    int c;
    while ((c = getc(fp)) != EOF && c != '\n') {
        if (len + 1 >= size) {
            *error_r = "password too long";
            return -1;
        }
        buf[len++] = (char)c;
    }
    if (ferror(fp)) {
        *error_r = "cannot read the password";
        return -1;
    }
    if (c == EOF && len == 0) {
        *error_r = "no password on standard input";
        return -1;
    }
    if (len > 0 && buf[len - 1] == '\r')
        len--;
    buf[len] = '\0';
    return 0;
}

/* read_password - from the terminal without echo (prompt on stderr), or one
 * line from a pipe or file. 0, or -1 with *error_r. */
static int read_password(char *buf, size_t size, const char **error_r)
{
    if (!isatty(STDIN_FILENO))
        return read_line(stdin, buf, size, error_r);

    if (tcgetattr(STDIN_FILENO, &saved_tty) < 0) {
        *error_r = "cannot read the terminal settings";
        return -1;
    }
    struct termios quiet = saved_tty;
    quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL);
    struct sigaction sa = {.sa_handler = restore_tty_and_die};
    sigemptyset(&sa.sa_mask);
    static const int sigs[] = {SIGINT, SIGTERM, SIGQUIT, SIGHUP, SIGTSTP};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        (void)sigaction(sigs[i], &sa, NULL);

    /* Echo off first, prompt after: TCSAFLUSH drops what was typed before
     * the prompt, and nothing typed after it can be echoed. */
    tty_changed = 1;
    if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) < 0) {
        tty_changed = 0;
        *error_r = "cannot turn off the terminal's echo";
        return -1;
    }
    fputs("Password: ", stderr);
    fflush(stderr);
    int ret = read_line(stdin, buf, size, error_r);
    (void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tty);
    tty_changed = 0;
    fputc('\n', stderr);
    return ret;
}

/* print_value - "key: value" on one line whatever the directory holds:
 * control bytes are shown as \xNN so a value can never start a new field. */
static void print_value(const char *key, const char *value)
{
    printf("%s: ", key);
    for (const unsigned char *p = (const unsigned char *)value; *p != '\0'; p++) {
        if (*p < 0x20 || *p == 0x7f)
            printf("\\x%02x", *p);
        else
            putchar(*p);
    }
    putchar('\n');
}

/* print_list - one "key: value" line per item. */
static void print_list(const char *key, const struct auth_strlist *l)
{
    for (size_t i = 0; i < l->count; i++)
        print_value(key, l->items[i]);
}

static void print_str(const char *key, const char *value)
{
    if (value != NULL)
        print_value(key, value);
}

/* print_recipient - what dirmail does with mail to r, one "key: value" line
 * per field, the way the delivery code sees it (fields absent from the entry
 * are left out; lists repeat their key). */
static void print_recipient(const struct auth_recipient *r)
{
    print_str("address", r->address);
    printf("kind: %s\n", auth_kind_name(r->kind));
    print_str("dn", r->dn);
    print_str("matched", r->matched);
    if (r->catchall)
        printf("catchall: yes\n");
    print_str("tag", r->tag);
    print_str("primary", r->primary);
    if (r->dn != NULL)
        printf("status: %s\n", auth_user_status_name(r->status));
    if (r->kind == AUTH_KIND_DISABLED)
        printf("disabled_action: %s\n", r->disabled_hold ? "hold" : "reject");
    print_str("mailbox", r->mailbox);
    if (r->quota != 0)
        printf("quota: %llu\n", r->quota);
    if (r->sieve != NULL)
        printf("sieve: %zu bytes\n", strlen(r->sieve));
    print_str("mail_host", r->mail_host);
    print_list("forward", &r->forwards);
    if (r->kind == AUTH_KIND_FORWARD)
        printf("keep_copy: %s\n", r->keep_copy ? "yes" : "no");
    print_list("member", &r->members);
    if (r->kind == AUTH_KIND_RELAY)
        printf("next_hop: %s\n", r->next_hop != NULL ? r->next_hop : "MX");
}

/* The auth socket's path, for error messages. */
static const char *socket_path;

/* tempfail - report a temporary failure the way every command does; when
 * the socket is not there, say so (dirmaild is probably not running). */
static int tempfail(const char *what, const char *arg, const struct auth_response *resp)
{
    const char *why = resp->error != NULL
                          ? resp->error
                          : "the directory did not answer (dirmaild's log says why)";
    struct stat st;
    if (socket_path != NULL && stat(socket_path, &st) < 0)
        fail("%s %.256s: temporary failure: %s: %s: %s (is dirmaild running?)", what, arg, why,
             socket_path, strerror(errno));
    else
        fail("%s %.256s: temporary failure: %s", what, arg, why);
    return EXIT_TEMPFAIL;
}

/* cmd_lookup - dirmailctl lookup ADDRESS. */
static int cmd_lookup(struct auth_client *client, char **args, size_t argc)
{
    const char *address = args[0];
    const char *const rargs[] = {address};
    struct auth_response resp = {0};
    int status;
    switch (auth_client_request(client, AUTH_REQ_RESOLVE, rargs, 1, &resp)) {
    case AUTH_FOUND:
        print_recipient(resp.recipient);
        status = EXIT_OK;
        break;
    case AUTH_NOTFOUND:
        /* NOTFOUND still says why (unknown, not_ours, invalid): print it. */
        if (resp.recipient != NULL)
            print_recipient(resp.recipient);
        fail("lookup %.256s: not found", address);
        status = EXIT_NOTFOUND;
        break;
    case AUTH_TEMPFAIL:
        status = tempfail("lookup", address, &resp);
        break;
    default:
        fail("lookup %.256s: request refused: %s", address,
             resp.error != NULL ? resp.error : auth_status_name(resp.status));
        status = EXIT_USAGE;
        break;
    }
    auth_response_clear(&resp);
    return status;
}

/* cmd_auth - dirmailctl auth LOGIN [SERVICE]; the password comes from stdin. */
static int cmd_auth(struct auth_client *client, char **args, size_t argc)
{
    const char *login = args[0];
    const char *service = argc > 1 ? args[1] : "";
    char password[PASSWORD_MAX + 2];
    const char *error;
    if (read_password(password, sizeof password, &error) < 0) {
        explicit_bzero(password, sizeof password);
        fail("auth %.256s: %s", login, error);
        return EXIT_USAGE;
    }
    const char *const rargs[] = {login, password, service};
    struct auth_response resp = {0};
    int status;
    enum auth_status st = auth_client_request(client, AUTH_REQ_AUTH, rargs, 3, &resp);
    explicit_bzero(password, sizeof password);
    switch (st) {
    case AUTH_OK:
        printf("ok: %s", login);
        if (resp.user != NULL && resp.user->dn != NULL)
            printf(" (%s)", resp.user->dn);
        putchar('\n');
        status = EXIT_OK;
        break;
    case AUTH_FAILED:
        /* Why is in dirmaild's log, as for any client: a tool that told
         * "unknown user" from "wrong password" would be an oracle. */
        fail("auth %.256s: authentication failed", login);
        status = EXIT_NOTFOUND;
        break;
    case AUTH_TEMPFAIL:
        status = tempfail("auth", login, &resp);
        break;
    default:
        fail("auth %.256s: request refused: %s", login,
             resp.error != NULL ? resp.error : auth_status_name(resp.status));
        status = EXIT_USAGE;
        break;
    }
    auth_response_clear(&resp);
    return status;
}

struct command {
    const char *name;
    size_t min_args, max_args;
    int (*run)(struct auth_client *client, char **args, size_t argc);
};

static const struct command commands[] = {
    {"lookup", 1, 1, cmd_lookup},
    {"auth", 1, 2, cmd_auth},
};

/* request_timeout_ms - how long to wait for the auth process: longer than
 * it may spend on the directory itself (every URI's connect and operation
 * timeouts), so that its own TEMPFAIL, with a reason, arrives first. */
static unsigned request_timeout_ms(const struct config *conf)
{
    unsigned long per_uri = (unsigned long)conf->ldap.connect_timeout + conf->ldap.timeout;
    unsigned long uris = conf->ldap.uri_count > 0 ? conf->ldap.uri_count : 1;
    unsigned long ms = (per_uri * uris + 5) * 1000;
    return ms > 600000 ? 600000 : (unsigned)ms;
}

int main(int argc, char **argv)
{
    const char *path = DEFAULT_CONFIG;
    bool path_given = false;
    static const struct option long_options[] = {
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    int opt;
    /* '+': options end at the command, so "auth -x" is a login. */
    while ((opt = getopt_long(argc, argv, "+c:h", long_options, NULL)) != -1) {
        switch (opt) {
        case 'c':
            path = optarg;
            path_given = true;
            break;
        case 'h':
            usage(stdout);
            return EXIT_OK;
        case 'V':
            printf("dirmailctl (" PACKAGE_NAME ") " PACKAGE_VERSION "\n");
            return EXIT_OK;
        default:
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *name = argv[optind];
    /* sieve needs neither the configuration nor the auth process; given
     * one (-c), it checks under the configured limits, as delivery runs */
    if (strcmp(name, "sieve") == 0) {
        struct config *conf = NULL;
        if (path_given) {
            char *error = NULL;
            if ((conf = config_load(path, &error)) == NULL) {
                fail("%s", error != NULL ? error : "out of memory");
                free(error);
                return EXIT_CONFIG;
            }
        }
        int status = dirmailctl_sieve(argc - optind - 1, argv + optind + 1,
                                      conf != NULL ? &conf->sieve : NULL);
        config_free(&conf);
        return status;
    }
    size_t nargs = (size_t)(argc - optind - 1);
    if (strcmp(name, "queue") == 0) {
        /* the spool itself, not the auth socket */
        char *error = NULL;
        struct config *conf = config_load(path, &error);
        if (conf == NULL) {
            fail("%s", error != NULL ? error : "out of memory");
            free(error);
            return EXIT_CONFIG;
        }
        int status = dirmailctl_queue(conf, argv + optind + 1, nargs);
        config_free(&conf);
        return status;
    }
    bool route = strcmp(name, "route") == 0;
    if (route && nargs != 1) {
        fail("route: wrong number of arguments");
        usage(stderr);
        return EXIT_USAGE;
    }
    const struct command *cmd = NULL;
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(commands[i].name, name) == 0)
            cmd = &commands[i];
    if (cmd == NULL && !route) {
        fail("unknown command \"%s\"", name);
        usage(stderr);
        return EXIT_USAGE;
    }
    if (cmd != NULL && (nargs < cmd->min_args || nargs > cmd->max_args)) {
        fail("%s: wrong number of arguments", name);
        usage(stderr);
        return EXIT_USAGE;
    }

    char *error = NULL;
    struct config *conf = config_load(path, &error);
    if (conf == NULL) {
        fail("%s", error != NULL ? error : "out of memory");
        free(error);
        return EXIT_CONFIG;
    }
    char *sock = config_state_path(conf, CONFIG_STATE_AUTH_SOCKET);
    if (sock == NULL) {
        fail("out of memory");
        config_free(&conf);
        return EXIT_CONFIG;
    }
    socket_path = sock;
    struct auth_client *client = auth_client_new(sock, request_timeout_ms(conf));
    if (client == NULL) {
        fail("out of memory");
        config_free(&conf);
        free(sock);
        return EXIT_SOFTWARE;
    }
    int status = route ? dirmailctl_route(conf, client, argv[optind + 1])
                       : cmd->run(client, argv + optind + 1, nargs);
    config_free(&conf);
    auth_client_free(&client);
    socket_path = NULL;
    free(sock);
    return status;
}
