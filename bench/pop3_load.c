/* bench/pop3_load.c - the POP3 load client of bench/pop3: C clients (one
 * thread each) run whole sessions back to back for T seconds: connect, read
 * the greeting, USER and PASS, LIST, RETR of every message listed, QUIT,
 * one command at a time as a mail client does. Client i logs in only as
 * the users whose line number is i modulo C, so that no two clients ask for
 * one maildrop at once (a POP3 server locks it: RFC 1939 4).
 *
 *     pop3_load -H 127.0.0.1 -p PORT -c CLIENTS -t SECONDS -u USERS
 *
 * USERS holds "login password" lines. Prints one line: sessions= failed=
 * messages= octets= seconds=, seconds running from the start to the end of
 * the last session (sessions started before T are finished). Needs nothing
 * but libc (built by bench/pop3 with cc -O2 -pthread). */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOAD_CONN_BUF 65536 /* RETRs of up to 90 KB */
#include "load_common.h"

static const char *host = "127.0.0.1";
static int port = 110;
static unsigned clients = 10;
static double seconds = 30;
static char **logins, **passwords;
static size_t user_count;

static atomic_ulong sessions_ok, sessions_failed, messages, octets;
static double start_time;
static _Atomic double last_end;

/* status_line - one line; 1 for +OK, 0 for -ERR or anything else, -1 on
 * a dropped connection. */
static int status_line(struct load_conn *c, char *line, size_t size)
{
    size_t ll = 0;
    for (;;) {
        int got = load_getc(c);
        if (got < 0)
            return -1;
        char ch = (char)got;
        if (ll + 1 < size)
            line[ll++] = ch;
        if (ch == '\n')
            break;
    }
    line[ll] = '\0';
    return strncmp(line, "+OK", 3) == 0;
}

/* body - a multi-line body up to its ".CRLF" line (RFC 1939 3), copying
 * it to out (up to out_size, the rest counted only) when out is not NULL;
 * the octets read, or -1. */
static long body(struct load_conn *c, char *out, size_t out_size)
{
    enum { LS, MID, CR, DOT, DOTCR } st = LS;
    long n = 0;
    for (;;) {
        int got = load_getc(c);
        if (got < 0)
            return -1;
        char ch = (char)got;
        if (out != NULL && (size_t)n + 1 < out_size)
            out[n] = ch;
        n++;
        switch (st) {
        case LS:
            st = ch == '.' ? DOT : ch == '\r' ? CR : MID;
            break;
        case MID:
            st = ch == '\r' ? CR : MID;
            break;
        case CR:
            st = ch == '\n' ? LS : ch == '\r' ? CR : MID;
            break;
        case DOT:
            st = ch == '\r' ? DOTCR : MID;
            break;
        case DOTCR:
            if (ch == '\n') {
                if (out != NULL)
                    out[(size_t)n < out_size ? (size_t)n : out_size - 1] = '\0';
                return n;
            }
            st = MID;
            break;
        }
    }
}

static int command(struct load_conn *c, const char *fmt, const char *arg)
{
    char cmd[512];
    int len = snprintf(cmd, sizeof cmd, fmt, arg);
    if (len < 0 || (size_t)len >= sizeof cmd)
        return -1;
    return load_send_all(c->fd, cmd, (size_t)len);
}

/* session - one whole session as login; 0 when every step answered +OK. */
static int session(size_t user)
{
    struct load_conn *c = calloc(1, sizeof *c);
    char line[1024];
    static __thread char listing[65536];
    int rc = -1;
    if (c == NULL)
        return -1;
    if (load_connect(c, host, port) < 0)
        goto out;
    if (status_line(c, line, sizeof line) != 1)
        goto out;
    if (command(c, "USER %s\r\n", logins[user]) < 0 || status_line(c, line, sizeof line) != 1)
        goto out;
    if (command(c, "PASS %s\r\n", passwords[user]) < 0 || status_line(c, line, sizeof line) != 1) {
        fprintf(stderr, "pop3_load: %s: %s", logins[user], line);
        goto out;
    }
    if (command(c, "LIST\r\n", "") < 0 || status_line(c, line, sizeof line) != 1 ||
        body(c, listing, sizeof listing) < 0)
        goto out;
    unsigned long count = 0;
    for (char *p = listing; *p != '\0' && *p != '.';) {
        count++;
        p = strchr(p, '\n');
        if (p == NULL)
            break;
        p++;
    }
    for (unsigned long i = 1; i <= count; i++) {
        char num[24];
        snprintf(num, sizeof num, "%lu", i);
        if (command(c, "RETR %s\r\n", num) < 0 || status_line(c, line, sizeof line) != 1)
            goto out;
        long n = body(c, NULL, 0);
        if (n < 0)
            goto out;
        atomic_fetch_add(&messages, 1);
        atomic_fetch_add(&octets, (unsigned long)n);
    }
    if (command(c, "QUIT\r\n", "") < 0 || status_line(c, line, sizeof line) != 1)
        goto out;
    rc = 0;
out:
    if (c->fd >= 0)
        close(c->fd);
    free(c);
    return rc;
}

static void *client(void *arg)
{
    size_t id = (size_t)arg;
    size_t user = id;
    while (load_now() - start_time < seconds) {
        if (session(user) == 0)
            atomic_fetch_add(&sessions_ok, 1);
        else
            atomic_fetch_add(&sessions_failed, 1);
        user += clients;
        if (user >= user_count)
            user = id;
    }
    load_note_end(&last_end, load_now());
    return NULL;
}

static void read_users(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        perror(path);
        exit(2);
    }
    char l[512], a[256], b[256];
    while (fgets(l, sizeof l, f) != NULL) {
        if (sscanf(l, "%255s %255s", a, b) != 2)
            continue;
        logins = realloc(logins, (user_count + 1) * sizeof *logins);
        passwords = realloc(passwords, (user_count + 1) * sizeof *passwords);
        if (logins == NULL || passwords == NULL)
            exit(2);
        logins[user_count] = strdup(a);
        passwords[user_count] = strdup(b);
        user_count++;
    }
    fclose(f);
}

int main(int argc, char **argv)
{
    const char *users = NULL;
    int opt;
    while ((opt = getopt(argc, argv, "H:p:c:t:u:")) != -1) {
        switch (opt) {
        case 't':
            seconds = atof(optarg);
            break;
        case 'u':
            users = optarg;
            break;
        default:
            if (load_target_option(opt, optarg, &host, &port, &clients))
                break;
            fprintf(stderr, "usage: pop3_load -H host -p port -c clients -t seconds -u users\n");
            return 2;
        }
    }
    if (users == NULL || clients == 0)
        return 2;
    read_users(users);
    if (user_count < clients) {
        fprintf(stderr, "pop3_load: %zu users for %u clients: two would share a maildrop\n",
                user_count, clients);
        return 2;
    }
    pthread_t *t = calloc(clients, sizeof *t);
    start_time = load_now();
    for (size_t i = 0; i < clients; i++)
        pthread_create(&t[i], NULL, client, (void *)i);
    for (size_t i = 0; i < clients; i++)
        pthread_join(t[i], NULL);
    printf("sessions=%lu failed=%lu messages=%lu octets=%lu seconds=%.3f\n",
           atomic_load(&sessions_ok), atomic_load(&sessions_failed), atomic_load(&messages),
           atomic_load(&octets), atomic_load(&last_end) - start_time);
    free(t);
    return 0;
}
