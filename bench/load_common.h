/* bench/load_common.h - what the C load clients of bench/ share: the
 * monotonic clock, a TCP connection to the server with its buffered reader,
 * sending a whole buffer, SMTP/LMTP replies, and the latest end time of
 * many threads. Header only, so that each client stays one `cc` command
 * (benchlib.build_loadgen); needs only libc. */
#ifndef BENCH_LOAD_COMMON_H
#define BENCH_LOAD_COMMON_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static inline double load_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* load_note_end - latest = max(latest, t), from any thread. */
static inline void load_note_end(_Atomic double *latest, double t)
{
    double prev = atomic_load(latest);
    while (t > prev && !atomic_compare_exchange_weak(latest, &prev, t))
        ;
}

static inline int load_send_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* a client that reads large replies may define a larger buffer first */
#ifndef LOAD_CONN_BUF
#define LOAD_CONN_BUF 16384
#endif

struct load_conn {
    int fd;
    char buf[LOAD_CONN_BUF];
    size_t len, off;
};

/* load_connect - a TCP connection to host:port with Nagle off (each
 * command is sent whole, and waiting for the ACK of the last would only
 * add delay); 0, or -1 with c->fd -1. */
static inline int load_connect(struct load_conn *c, const char *host, int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    c->len = c->off = 0;
    c->fd = -1;
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        return -1;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return -1;
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    return 0;
}

/* load_getc - the next octet from the server, or -1 when it closed. */
static inline int load_getc(struct load_conn *c)
{
    while (c->off == c->len) {
        ssize_t n = recv(c->fd, c->buf, sizeof c->buf, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        c->len = (size_t)n;
        c->off = 0;
    }
    return (unsigned char)c->buf[c->off++];
}

/* load_reply - one whole SMTP or LMTP reply (RFC 5321 4.2.1: lines of a
 * multi-line reply have a '-' after the code); its code, or -1 when the
 * connection dropped. Its last line is left in line (cut to size). */
static inline int load_reply(struct load_conn *c, char *line, size_t size)
{
    for (;;) {
        size_t ll = 0;
        int ch;
        do {
            ch = load_getc(c);
            if (ch < 0)
                return -1;
            if (ll + 1 < size)
                line[ll++] = (char)ch;
        } while (ch != '\n');
        line[ll] = '\0';
        if (ll < 4)
            return -1;
        if (line[3] != '-')
            return atoi(line);
    }
}

/* load_target_option - the options every client takes: -H host, -p port,
 * -c threads (sessions or clients); 1 when opt was one of them. */
static inline int load_target_option(int opt, const char *arg, const char **host, int *port,
                                     unsigned *threads)
{
    switch (opt) {
    case 'H':
        *host = arg;
        return 1;
    case 'p':
        *port = atoi(arg);
        return 1;
    case 'c':
        *threads = (unsigned)atoi(arg);
        return 1;
    default:
        return 0;
    }
}

#endif
