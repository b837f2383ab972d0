/* bench/smtp_load.c - the SMTP load client of bench/smtp: S sessions (one
 * thread each) send N messages in total, each to one recipient taken in turn
 * from a list (smtp-source sends every message of a run to one fixed -t
 * recipient, and the benchmark wants random users and aliases). Each session
 * connects, EHLOs, then sends up to -m messages on the connection, one
 * command at a time as smtp-source does (-P: MAIL, RCPT and DATA pipelined,
 * RFC 2920), and waits for the final reply before the next message; then
 * QUIT and a new connection.
 *
 *     smtp_load -H 127.0.0.1 -p PORT -c SESSIONS -n MESSAGES -f RCPTS
 *               [-s SIZE] [-m PER_CONNECTION] [-F SENDER] [-P]
 *
 * Prints one line: sent= accepted= failed= seconds= rate= where seconds runs
 * from the start to the last 250 after the end of data. Needs nothing but
 * libc (built by bench/smtp with cc -O2 -pthread). */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "load_common.h"

static const char *host = "127.0.0.1";
static int port = 25;
static unsigned sessions = 20, per_connection = 10;
static unsigned long total = 1000;
static size_t size = 5120;
static const char *sender = "load@sender.example";
static int pipelining;
static char **rcpts;
static size_t rcpt_count;
static char *body;
static size_t body_len;

static atomic_ulong next_msg, accepted, failed;
static double start_time;
static _Atomic double last_250;

/* read_reply - one whole (possibly multi-line) reply; its code or -1. */
static int read_reply(struct load_conn *c)
{
    char line[1024];
    return load_reply(c, line, sizeof line);
}

static int open_session(struct load_conn *c)
{
    if (load_connect(c, host, port) < 0)
        return -1;
    if (read_reply(c) != 220 || load_send_all(c->fd, "EHLO load.example\r\n", 19) < 0 ||
        read_reply(c) != 250) {
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    return 0;
}

static void close_session(struct load_conn *c)
{
    if (c->fd < 0)
        return;
    if (load_send_all(c->fd, "QUIT\r\n", 6) == 0)
        (void)read_reply(c);
    close(c->fd);
    c->fd = -1;
}

/* one_message - 0 accepted, 1 refused (session still usable), -1 broken. */
static int one_message(struct load_conn *c, const char *rcpt)
{
    char cmd[1024];
    int n = snprintf(cmd, sizeof cmd, "MAIL FROM:<%s> SIZE=%zu\r\nRCPT TO:<%s>\r\nDATA\r\n", sender,
                     body_len, rcpt);
    if (n < 0 || (size_t)n >= sizeof cmd)
        return -1;
    int mail, rc, data;
    if (pipelining) {
        if (load_send_all(c->fd, cmd, (size_t)n) < 0)
            return -1;
        mail = read_reply(c);
        rc = read_reply(c);
        data = read_reply(c);
    } else {
        /* one command, one reply, as smtp-source does */
        const char *p = cmd;
        int *codes[3] = {&mail, &rc, &data};
        for (int k = 0; k < 3; k++) {
            const char *e = strstr(p, "\r\n") + 2;
            if (load_send_all(c->fd, p, (size_t)(e - p)) < 0)
                return -1;
            *codes[k] = read_reply(c);
            p = e;
        }
    }
    if (mail < 0 || rc < 0 || data < 0)
        return -1;
    if (data != 354) {
        if (load_send_all(c->fd, "RSET\r\n", 6) < 0 || read_reply(c) < 0)
            return -1;
        fprintf(stderr, "smtp_load: %s: MAIL %d RCPT %d DATA %d\n", rcpt, mail, rc, data);
        return 1;
    }
    char head[1024];
    n = snprintf(head, sizeof head,
                 "From: <%s>\r\nTo: <%s>\r\nSubject: bench message\r\n"
                 "Message-ID: <%lu.%d@load.example>\r\n\r\n",
                 sender, rcpt, (unsigned long)atomic_load(&next_msg), c->fd);
    /* the headers take the place of the first whole body lines */
    size_t skip = n > 0 ? ((size_t)n + 77) / 78 * 78 : 0;
    if (skip > body_len)
        skip = body_len;
    if (n < 0 || (size_t)n >= sizeof head || load_send_all(c->fd, head, (size_t)n) < 0 ||
        load_send_all(c->fd, body + skip, body_len - skip) < 0 ||
        load_send_all(c->fd, ".\r\n", 3) < 0)
        return -1;
    int end = read_reply(c);
    if (end < 0)
        return -1;
    if (end != 250) {
        fprintf(stderr, "smtp_load: %s: end of data %d\n", rcpt, end);
        return 1;
    }
    load_note_end(&last_250, load_now() - start_time);
    return 0;
}

static void *session(void *arg)
{
    (void)arg;
    struct load_conn c = {.fd = -1};
    unsigned on_conn = 0;
    for (;;) {
        unsigned long i = atomic_fetch_add(&next_msg, 1);
        if (i >= total)
            break;
        if (c.fd < 0 || on_conn >= per_connection) {
            close_session(&c);
            on_conn = 0;
            if (open_session(&c) < 0) {
                fprintf(stderr, "smtp_load: connect/greeting/EHLO failed\n");
                atomic_fetch_add(&failed, 1);
                usleep(10000);
                continue;
            }
        }
        int r = one_message(&c, rcpts[i % rcpt_count]);
        on_conn++;
        if (r == 0) {
            atomic_fetch_add(&accepted, 1);
        } else {
            atomic_fetch_add(&failed, 1);
            if (r < 0) {
                fprintf(stderr, "smtp_load: session broke\n");
                close(c.fd);
                c.fd = -1;
            }
        }
    }
    close_session(&c);
    return NULL;
}

/* make_body - size octets of 78-octet lines (the headers replace the first ones). */
static void make_body(void)
{
    body = malloc(size + 80);
    if (body == NULL)
        exit(2);
    size_t len = 0;
    while (len < size) {
        for (int k = 0; k < 76; k++)
            body[len + (size_t)k] = (char)('a' + (len / 78 + (size_t)k) % 26);
        body[len + 76] = '\r';
        body[len + 77] = '\n';
        len += 78;
    }
    body_len = size - size % 78; /* whole lines only */
}

static void read_rcpts(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        perror(path);
        exit(2);
    }
    char line[512];
    size_t alloc = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '\0')
            continue;
        if (rcpt_count == alloc) {
            alloc = alloc ? alloc * 2 : 1024;
            rcpts = realloc(rcpts, alloc * sizeof *rcpts);
            if (rcpts == NULL)
                exit(2);
        }
        if ((rcpts[rcpt_count++] = strdup(line)) == NULL)
            exit(2);
    }
    fclose(f);
    if (rcpt_count == 0) {
        fprintf(stderr, "smtp_load: no recipients in %s\n", path);
        exit(2);
    }
}

int main(int argc, char **argv)
{
    const char *file = NULL;
    int opt;
    while ((opt = getopt(argc, argv, "H:p:c:n:f:s:m:F:P")) != -1) {
        switch (opt) {
        case 'n':
            total = strtoul(optarg, NULL, 10);
            break;
        case 'f':
            file = optarg;
            break;
        case 's':
            size = strtoul(optarg, NULL, 10);
            break;
        case 'm':
            per_connection = (unsigned)atoi(optarg);
            break;
        case 'F':
            sender = optarg;
            break;
        case 'P':
            pipelining = 1;
            break;
        default:
            if (load_target_option(opt, optarg, &host, &port, &sessions))
                break;
            fprintf(stderr, "usage: smtp_load -H host -p port -c sessions -n messages -f rcpts "
                            "[-s size] [-m per-connection] [-F sender] [-P]\n");
            return 2;
        }
    }
    if (file == NULL || sessions == 0 || per_connection == 0 || size < 1024) {
        fprintf(stderr, "smtp_load: -f, -c > 0, -m > 0 and -s >= 1024 required\n");
        return 2;
    }
    read_rcpts(file);
    make_body();
    pthread_t *th = calloc(sessions, sizeof *th);
    if (th == NULL)
        return 2;
    start_time = load_now();
    for (unsigned i = 0; i < sessions; i++)
        if (pthread_create(&th[i], NULL, session, NULL) != 0) {
            fprintf(stderr, "smtp_load: pthread_create failed\n");
            return 2;
        }
    for (unsigned i = 0; i < sessions; i++)
        pthread_join(th[i], NULL);
    double secs = atomic_load(&last_250);
    unsigned long ok = atomic_load(&accepted);
    printf("sent=%lu accepted=%lu failed=%lu seconds=%.3f rate=%.1f\n", total, ok,
           atomic_load(&failed), secs, secs > 0 ? (double)ok / secs : 0.0);
    return 0;
}
