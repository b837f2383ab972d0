/* bench/lmtp_load.c - the LMTP load client of bench/deliver: S sessions
 * (one thread each) hand over a fixed list of transactions as fast as the
 * server takes them. Each session connects, LHLO, then per transaction
 * pipelines MAIL FROM, one RCPT TO per recipient and DATA (RFC 2920, as
 * Postfix's LMTP client does), sends the message and reads one reply per
 * accepted recipient (RFC 2033 4.2); after -n transactions it QUITs and
 * connects again. Transactions are taken from a shared counter, so the run
 * ends when the list is used up.
 *
 *     lmtp_load -H 127.0.0.1 -p PORT -c SESSIONS -M MESSAGES -T TRANSACTIONS
 *               [-n PER_CONNECTION] [-f SENDER]
 *
 * MESSAGES is a folder of files 0.eml, 1.eml, ... (LF line ends; converted
 * to CRLF and dot-stuffed once, before the clock starts). TRANSACTIONS has
 * one line per transaction: "MESSAGE-NUMBER RCPT [RCPT...]". Prints one
 * line: transactions= delivered= failed= refused= seconds= cpu=, where
 * delivered counts 2xx replies after the data, failed every other reply to
 * the data, refused RCPTs not accepted, seconds the time from the first
 * connection to the last reply, and cpu this client's own user+system
 * seconds (to show that the client is not the bottleneck). The first
 * unexpected reply is printed on stderr. Needs only libc. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "load_common.h"

enum { MAX_RCPTS = 64, REPLY_MAX = 2048 };

struct message {
    char *data; /* CRLF, dot-stuffed, ending in ".\r\n" */
    size_t len;
};

struct transaction {
    size_t message;
    char *rcpts[MAX_RCPTS];
    size_t nrcpts;
};

static const char *host = "127.0.0.1";
static int port = 24;
static unsigned sessions = 20;
static unsigned per_connection = 100;
static const char *sender = "load@sender.example";
static struct message *messages;
static size_t message_count;
static struct transaction *transactions;
static size_t transaction_count;

static atomic_size_t next_transaction;
static atomic_ulong done, delivered, failed, refused;
static atomic_flag complained = ATOMIC_FLAG_INIT;
static double start_time;
static _Atomic double last_end;

static void complain(const char *what, const char *reply)
{
    if (!atomic_flag_test_and_set(&complained))
        fprintf(stderr, "lmtp_load: %s: %s", what, reply);
}

static int connect_session(struct load_conn *c)
{
    char line[REPLY_MAX];
    if (load_connect(c, host, port) < 0)
        return -1;
    int code = load_reply(c, line, sizeof line);
    if (code != 220) {
        complain("greeting", code < 0 ? "connection closed\n" : line);
        return -1;
    }
    static const char lhlo[] = "LHLO load.bench.example\r\n";
    if (load_send_all(c->fd, lhlo, sizeof lhlo - 1) < 0)
        return -1;
    code = load_reply(c, line, sizeof line);
    if (code != 250) {
        complain("LHLO", code < 0 ? "connection closed\n" : line);
        return -1;
    }
    return 0;
}

static void quit_session(struct load_conn *c)
{
    char line[REPLY_MAX];
    if (load_send_all(c->fd, "QUIT\r\n", 6) == 0)
        load_reply(c, line, sizeof line);
    close(c->fd);
    c->fd = -1;
}

/* one_transaction - 0 when the session may go on, -1 when it broke. */
static int one_transaction(struct load_conn *c, const struct transaction *t)
{
    static __thread char cmd[MAX_RCPTS * 320 + 400];
    char line[REPLY_MAX];
    size_t len = (size_t)snprintf(cmd, sizeof cmd, "MAIL FROM:<%s>\r\n", sender);
    for (size_t i = 0; i < t->nrcpts; i++)
        len += (size_t)snprintf(cmd + len, sizeof cmd - len, "RCPT TO:<%s>\r\n", t->rcpts[i]);
    len += (size_t)snprintf(cmd + len, sizeof cmd - len, "DATA\r\n");
    if (load_send_all(c->fd, cmd, len) < 0)
        return -1;
    int code = load_reply(c, line, sizeof line);
    if (code != 250) {
        complain("MAIL", code < 0 ? "connection closed\n" : line);
        return -1;
    }
    unsigned long accepted = 0;
    for (size_t i = 0; i < t->nrcpts; i++) {
        code = load_reply(c, line, sizeof line);
        if (code < 0)
            return -1;
        if (code / 100 == 2) {
            accepted++;
        } else {
            complain("RCPT", line);
            atomic_fetch_add(&refused, 1);
        }
    }
    code = load_reply(c, line, sizeof line);
    if (code != 354) {
        /* no recipient accepted: the DATA is refused (RFC 2920 3.1) */
        if (code < 0)
            return -1;
        if (accepted > 0)
            complain("DATA", line);
        return load_send_all(c->fd, "RSET\r\n", 6) == 0 && load_reply(c, line, sizeof line) == 250
                   ? 0
                   : -1;
    }
    const struct message *m = &messages[t->message];
    if (load_send_all(c->fd, m->data, m->len) < 0)
        return -1;
    for (unsigned long i = 0; i < accepted; i++) {
        code = load_reply(c, line, sizeof line);
        if (code < 0)
            return -1;
        if (code / 100 == 2) {
            atomic_fetch_add(&delivered, 1);
        } else {
            complain("after DATA", line);
            atomic_fetch_add(&failed, 1);
        }
    }
    return 0;
}

static void *session(void *arg)
{
    (void)arg;
    struct load_conn *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->fd = -1;
    unsigned on_this = 0;
    for (;;) {
        size_t i = atomic_fetch_add(&next_transaction, 1);
        if (i >= transaction_count)
            break;
        if (c->fd < 0) {
            if (connect_session(c) < 0) {
                if (c->fd >= 0)
                    close(c->fd);
                c->fd = -1;
                atomic_fetch_add(&failed, transactions[i].nrcpts);
                continue;
            }
            on_this = 0;
        }
        if (one_transaction(c, &transactions[i]) < 0) {
            complain("session", "connection broke\n");
            close(c->fd);
            c->fd = -1;
            continue;
        }
        atomic_fetch_add(&done, 1);
        if (++on_this >= per_connection)
            quit_session(c);
    }
    if (c->fd >= 0)
        quit_session(c);
    load_note_end(&last_end, load_now());
    free(c);
    return NULL;
}

/* wire_form - LF text as CRLF, lines starting with a dot doubled (RFC 5321
 * 4.5.2), then the end of data line. */
static struct message wire_form(const char *text, size_t len)
{
    struct message m;
    m.data = malloc(len * 2 + 8);
    if (m.data == NULL)
        exit(2);
    size_t o = 0;
    int at_line_start = 1;
    for (size_t i = 0; i < len; i++) {
        if (at_line_start && text[i] == '.')
            m.data[o++] = '.';
        if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r'))
            m.data[o++] = '\r';
        m.data[o++] = text[i];
        at_line_start = text[i] == '\n';
    }
    if (!at_line_start) {
        m.data[o++] = '\r';
        m.data[o++] = '\n';
    }
    memcpy(m.data + o, ".\r\n", 3);
    m.len = o + 3;
    return m;
}

static void read_messages(const char *dir)
{
    for (;;) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%zu.eml", dir, message_count);
        FILE *f = fopen(path, "rb");
        if (f == NULL)
            break;
        fseek(f, 0, SEEK_END);
        long size = ftell(f);
        rewind(f);
        char *text = malloc((size_t)size + 1);
        if (text == NULL || fread(text, 1, (size_t)size, f) != (size_t)size)
            exit(2);
        fclose(f);
        messages = realloc(messages, (message_count + 1) * sizeof *messages);
        if (messages == NULL)
            exit(2);
        messages[message_count++] = wire_form(text, (size_t)size);
        free(text);
    }
    if (message_count == 0) {
        fprintf(stderr, "lmtp_load: no %s/0.eml\n", dir);
        exit(2);
    }
}

static void read_transactions(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        perror(path);
        exit(2);
    }
    char *l = NULL;
    size_t cap = 0;
    while (getline(&l, &cap, f) > 0) {
        struct transaction t = {0};
        char *save = NULL;
        char *tok = strtok_r(l, " \t\n", &save);
        if (tok == NULL)
            continue;
        t.message = strtoul(tok, NULL, 10);
        if (t.message >= message_count) {
            fprintf(stderr, "lmtp_load: message %zu of %zu\n", t.message, message_count);
            exit(2);
        }
        while ((tok = strtok_r(NULL, " \t\n", &save)) != NULL && t.nrcpts < MAX_RCPTS)
            t.rcpts[t.nrcpts++] = strdup(tok);
        if (t.nrcpts == 0)
            continue;
        transactions = realloc(transactions, (transaction_count + 1) * sizeof *transactions);
        if (transactions == NULL)
            exit(2);
        transactions[transaction_count++] = t;
    }
    free(l);
    fclose(f);
}

int main(int argc, char **argv)
{
    const char *mdir = NULL, *tfile = NULL;
    int opt;
    while ((opt = getopt(argc, argv, "H:p:c:M:T:n:f:")) != -1) {
        switch (opt) {
        case 'M':
            mdir = optarg;
            break;
        case 'T':
            tfile = optarg;
            break;
        case 'n':
            per_connection = (unsigned)atoi(optarg);
            break;
        case 'f':
            sender = optarg;
            break;
        default:
            if (load_target_option(opt, optarg, &host, &port, &sessions))
                break;
            fprintf(stderr, "usage: lmtp_load -H host -p port -c sessions -M messages-dir "
                            "-T transactions [-n per-connection] [-f sender]\n");
            return 2;
        }
    }
    if (mdir == NULL || tfile == NULL || sessions == 0 || per_connection == 0)
        return 2;
    read_messages(mdir);
    read_transactions(tfile);
    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    pthread_t *t = calloc(sessions, sizeof *t);
    if (t == NULL)
        return 2;
    start_time = load_now();
    for (size_t i = 0; i < sessions; i++)
        pthread_create(&t[i], NULL, session, NULL);
    for (size_t i = 0; i < sessions; i++)
        pthread_join(t[i], NULL);
    getrusage(RUSAGE_SELF, &ru1);
    double cpu = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec) +
                 (double)(ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
                 (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec) / 1e6 +
                 (double)(ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e6;
    printf("transactions=%lu delivered=%lu failed=%lu refused=%lu seconds=%.3f cpu=%.3f\n",
           atomic_load(&done), atomic_load(&delivered), atomic_load(&failed), atomic_load(&refused),
           atomic_load(&last_end) - start_time, cpu);
    free(t);
    return 0;
}
