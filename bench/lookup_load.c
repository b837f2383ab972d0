/* bench/lookup_load.c - load generator for bench/lookup: CALLERS threads, each
 * with its own connection to the auth socket, send RESOLVE requests one at a
 * time (send, wait for the answer, send the next) in the documented line
 * protocol (doc/auth-protocol.md) and time every round trip. Prints one line
 * of key=value figures. Written against the wire format rather than
 * auth_client so that it measures the server, not a client library, and can
 * be built with -O2 apart from a sanitizer build tree.
 *
 *   lookup_load -s SOCKET -f ADDRESSES [-c CALLERS] [-t SECONDS | -n COUNT]
 *               [-k FIRST_K] [-r]
 *
 * ADDRESSES has one address a line. Without -r the callers take them in file
 * order (a shared counter: every request a different address; the script
 * shuffles the file); with -r each caller picks at random among the first
 * FIRST_K (default all). -t runs for SECONDS, -n sends COUNT requests in all. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_CALLERS 256
#define RESPONSE_BUF (1024 * 1024 + 64)

static const char *socket_path;
static char **addresses;
static size_t address_count;
static size_t first_k;
static bool random_pick;
static double seconds;
static long total_count = -1;

static atomic_size_t next_index;
static atomic_long remaining;
static atomic_bool stop;
static pthread_barrier_t start_barrier;

struct caller {
    pthread_t thread;
    unsigned index;
    uint64_t *lat_ns; /* one per request */
    size_t lat_len, lat_cap;
    unsigned long found, notfound, tempfail, other;
    const char *error; /* fatal: connection failed or closed */
    uint64_t rng;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* xorshift64 - a per-thread generator, no lock, good enough to pick keys. */
static uint64_t xorshift64(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static int connect_socket(void)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    if (strlen(socket_path) >= sizeof sun.sun_path)
        return -1;
    memcpy(sun.sun_path, socket_path, strlen(socket_path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sun, sizeof sun) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int record(struct caller *c, uint64_t ns)
{
    if (c->lat_len == c->lat_cap) {
        size_t cap = c->lat_cap ? c->lat_cap * 2 : 65536;
        uint64_t *p = realloc(c->lat_ns, cap * sizeof *p);
        if (p == NULL)
            return -1;
        c->lat_ns = p;
        c->lat_cap = cap;
    }
    c->lat_ns[c->lat_len++] = ns;
    return 0;
}

/* take - the next address, or NULL when the run is over. */
static const char *take(struct caller *c)
{
    if (atomic_load_explicit(&stop, memory_order_relaxed))
        return NULL;
    if (total_count >= 0 && atomic_fetch_sub(&remaining, 1) <= 0)
        return NULL;
    if (random_pick)
        return addresses[xorshift64(&c->rng) % first_k];
    size_t i = atomic_fetch_add(&next_index, 1);
    return addresses[i % address_count];
}

static void *caller_run(void *arg)
{
    struct caller *c = arg;
    char *buf = malloc(RESPONSE_BUF);
    char req[600];
    int fd = connect_socket();
    if (buf == NULL || fd < 0)
        c->error = buf == NULL ? "out of memory" : "cannot connect to the auth socket";
    pthread_barrier_wait(&start_barrier);
    if (c->error != NULL)
        goto out;
    uint32_t id = 0;
    const char *address;
    while ((address = take(c)) != NULL) {
        if (++id == 0)
            id = 1;
        int len = snprintf(req, sizeof req, "%u RESOLVE %s\n", id, address);
        if (len < 0 || (size_t)len >= sizeof req) {
            c->error = "address too long";
            break;
        }
        uint64_t t0 = now_ns();
        if (write_all(fd, req, (size_t)len) < 0) {
            c->error = "write to the auth socket failed";
            break;
        }
        size_t have = 0;
        char *lf = NULL;
        while (lf == NULL) {
            if (have == RESPONSE_BUF) {
                c->error = "response too long";
                goto out;
            }
            ssize_t n = read(fd, buf + have, RESPONSE_BUF - have);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                c->error = "the auth process closed the connection";
                goto out;
            }
            lf = memchr(buf + have, '\n', (size_t)n);
            have += (size_t)n;
        }
        uint64_t t1 = now_ns();
        if (record(c, t1 - t0) < 0) {
            c->error = "out of memory";
            break;
        }
        /* "ID STATUS ..." (one request in flight: the rest of the line is
         * not needed for the figures). */
        *lf = '\0';
        char *sp = strchr(buf, ' ');
        if (sp == NULL || strtoul(buf, NULL, 10) != id) {
            c->error = "response with the wrong id";
            break;
        }
        const char *status = sp + 1;
        size_t slen = strcspn(status, " ");
        if (slen == 5 && memcmp(status, "FOUND", 5) == 0)
            c->found++;
        else if (slen == 8 && memcmp(status, "NOTFOUND", 8) == 0)
            c->notfound++;
        else if (slen == 8 && memcmp(status, "TEMPFAIL", 8) == 0)
            c->tempfail++;
        else
            c->other++;
        /* Pipelining is not used, so nothing follows the LF. */
        if ((size_t)(lf - buf) + 1 != have) {
            c->error = "unexpected bytes after the response";
            break;
        }
    }
out:
    if (c->error != NULL)
        atomic_store(&stop, true);
    if (fd >= 0)
        close(fd);
    free(buf);
    return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int load_addresses(const char *path)
{
    FILE *fp = fopen(path, "r");
    if (fp == NULL)
        return -1;
    char *line = NULL;
    size_t cap = 0, alloc = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, fp)) > 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        if (n == 0)
            continue;
        if (address_count == alloc) {
            alloc = alloc ? alloc * 2 : 1024;
            char **p = realloc(addresses, alloc * sizeof *p);
            if (p == NULL)
                goto fail;
            addresses = p;
        }
        if ((addresses[address_count] = strdup(line)) == NULL)
            goto fail;
        address_count++;
    }
    free(line);
    fclose(fp);
    return address_count > 0 ? 0 : -1;
fail:
    free(line);
    fclose(fp);
    return -1;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: lookup_load -s SOCKET -f ADDRESSES [-c CALLERS] [-t SECONDS | -n COUNT] "
            "[-k FIRST_K] [-r]\n");
    exit(64);
}

int main(int argc, char **argv)
{
    const char *file = NULL;
    unsigned callers = 1;
    int opt;
    while ((opt = getopt(argc, argv, "s:f:c:t:n:k:r")) != -1) {
        switch (opt) {
        case 's':
            socket_path = optarg;
            break;
        case 'f':
            file = optarg;
            break;
        case 'c':
            callers = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 't':
            seconds = strtod(optarg, NULL);
            break;
        case 'n':
            total_count = strtol(optarg, NULL, 10);
            break;
        case 'k':
            first_k = strtoul(optarg, NULL, 10);
            break;
        case 'r':
            random_pick = true;
            break;
        default:
            usage();
        }
    }
    if (socket_path == NULL || file == NULL || callers == 0 || callers > MAX_CALLERS ||
        (seconds <= 0 && total_count < 0) || optind != argc)
        usage();
    if (load_addresses(file) < 0) {
        fprintf(stderr, "lookup_load: %s: cannot read addresses\n", file);
        return 1;
    }
    if (first_k == 0 || first_k > address_count)
        first_k = address_count;
    atomic_store(&remaining, total_count);

    struct caller *cs = calloc(callers, sizeof *cs);
    if (cs == NULL || pthread_barrier_init(&start_barrier, NULL, callers + 1) != 0) {
        fprintf(stderr, "lookup_load: out of memory\n");
        return 1;
    }
    for (unsigned i = 0; i < callers; i++) {
        cs[i].index = i;
        cs[i].rng = 0x9e3779b97f4a7c15ull * (i + 1) ^ (uint64_t)now_ns();
        if (pthread_create(&cs[i].thread, NULL, caller_run, &cs[i]) != 0) {
            fprintf(stderr, "lookup_load: cannot start thread %u\n", i);
            return 1;
        }
    }
    pthread_barrier_wait(&start_barrier);
    uint64_t t0 = now_ns();
    if (seconds > 0) {
        struct timespec ts = {.tv_sec = (time_t)seconds,
                              .tv_nsec = (long)((seconds - (double)(time_t)seconds) * 1e9)};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
            ;
        atomic_store(&stop, true);
    }
    size_t total = 0;
    unsigned long found = 0, notfound = 0, tempfail = 0, other = 0;
    const char *error = NULL;
    for (unsigned i = 0; i < callers; i++) {
        pthread_join(cs[i].thread, NULL);
        total += cs[i].lat_len;
        found += cs[i].found;
        notfound += cs[i].notfound;
        tempfail += cs[i].tempfail;
        other += cs[i].other;
        if (cs[i].error != NULL && error == NULL)
            error = cs[i].error;
    }
    double elapsed = (double)(now_ns() - t0) / 1e9;
    uint64_t *all = malloc((total ? total : 1) * sizeof *all);
    if (all == NULL) {
        fprintf(stderr, "lookup_load: out of memory\n");
        return 1;
    }
    size_t k = 0;
    for (unsigned i = 0; i < callers; i++) {
        memcpy(all + k, cs[i].lat_ns, cs[i].lat_len * sizeof *all);
        k += cs[i].lat_len;
        free(cs[i].lat_ns);
    }
    qsort(all, total, sizeof *all, cmp_u64);
#define PCT(p) (total ? (double)all[(size_t)((double)(total - 1) * (p))] / 1000.0 : 0.0)
    printf("callers=%u requests=%zu seconds=%.3f rate=%.0f p50_us=%.1f p90_us=%.1f p99_us=%.1f "
           "found=%lu notfound=%lu tempfail=%lu other=%lu\n",
           callers, total, elapsed, total / elapsed, PCT(0.50), PCT(0.90), PCT(0.99), found,
           notfound, tempfail, other);
    free(all);
    free(cs);
    for (size_t i = 0; i < address_count; i++)
        free(addresses[i]);
    free(addresses);
    if (error != NULL) {
        fprintf(stderr, "lookup_load: %s\n", error);
        return 1;
    }
    return 0;
}
