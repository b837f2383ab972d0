/* delivery/maildir_name.c - Maildir file names: see maildir_name.h. */
#include "config.h"

#include "delivery/maildir_name.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

/* The Q part of unique names: distinct for every file this process names,
 * even two in the same microsecond from two threads. */
static atomic_ulong unique_counter;

/* append_host - hostname after the len octets already in buf, as the
 * Maildir spec asks: "/" and ":" become \057 and \072 (":" separates the
 * info part, "/" would be a path). The host part is cut to
 * MAILDIR_UNIQUE_HOST_MAX: a host name may have 253 octets (RFC 1035
 * 2.3.4), and with the time, pid and counter before it and the ",S=<size>"
 * and ":2,<flags>" still to come the name would pass NAME_MAX, so that no
 * file could be made at all. What comes before the host keeps the name
 * unique on this host; the host part only tells hosts sharing a Maildir
 * apart, which its first octets still do. */
static int append_host(char *buf, size_t size, size_t len, const char *hostname)
{
    size_t host_end = len + MAILDIR_UNIQUE_HOST_MAX;

    for (const char *h = hostname; *h != '\0'; h++) {
        const char *piece = *h == '/' ? "\\057" : *h == ':' ? "\\072" : NULL;
        size_t plen = piece != NULL ? 4 : 1;

        if (len + plen > host_end)
            break; /* never half an escape */
        if (len + plen >= size)
            return -1;
        if (piece != NULL)
            memcpy(buf + len, piece, 4);
        else
            buf[len] = *h;
        len += plen;
    }
    buf[len] = '\0';
    return 0;
}

int maildir_unique_name(char *buf, size_t size, const char *hostname)
{
    struct timeval tv;
    unsigned long q = atomic_fetch_add(&unique_counter, 1);
    int n;

    gettimeofday(&tv, NULL);
    n = snprintf(buf, size, "%lld.M%ldP%ldQ%lu.", (long long)tv.tv_sec, (long)tv.tv_usec,
                 (long)getpid(), q);
    if (n < 0 || (size_t)n >= size)
        return -1;
    return append_host(buf, size, (size_t)n, hostname);
}

int maildir_stable_name(char *buf, size_t size, long long when, const char *key,
                        const char *hostname)
{
    size_t key_len = strlen(key);
    int n;

    if (key_len == 0 || key_len > MAILDIR_STABLE_KEY_MAX)
        return -1;
    for (const char *k = key; *k != '\0'; k++) {
        if (!((*k >= '0' && *k <= '9') || (*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z')))
            return -1;
    }
    n = snprintf(buf, size, "%lld.%s.", when, key);
    if (n < 0 || (size_t)n >= size)
        return -1;
    return append_host(buf, size, (size_t)n, hostname);
}

bool maildir_name_has_base(const char *name, const char *base)
{
    size_t len = strlen(base);

    return strncmp(name, base, len) == 0 &&
           (name[len] == '\0' || name[len] == ',' || name[len] == ':');
}

/* name_field - the number after field (",S=" or ",W=") in name, before any
 * info part, or -1. */
static int64_t name_field(const char *name, const char *field)
{
    const char *info = strchr(name, ':');
    const char *p = strstr(name, field);
    int64_t size = 0;

    if (p == NULL || (info != NULL && p > info))
        return -1;
    p += 3;
    if (*p < '0' || *p > '9')
        return -1;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (size > (INT64_MAX - 9) / 10)
            return -1;
        size = size * 10 + (*p - '0');
    }
    return size;
}

int64_t maildir_name_size(const char *name)
{
    return name_field(name, ",S=");
}

int64_t maildir_name_crlf_size(const char *name)
{
    return name_field(name, ",W=");
}
