/* delivery/sieve/sieve_vacation_store.c - the record's file is named by
 * the SHA-256 of key and the lower-cased sender, so no sender text reaches
 * a file name; it holds the time of the last reply in decimal. */
#include "config.h"

#include "delivery/sieve/sieve_vacation_store.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/fdio.h"

static int record_path(const char *dir, const char *key, const char *sender, char *out,
                       size_t outsz)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char h[32];
    unsigned int n = 0;
    int ok = md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
             EVP_DigestUpdate(md, key, strlen(key)) == 1 && EVP_DigestUpdate(md, "\n", 1) == 1;
    for (const char *p = sender; ok && *p != '\0'; p++) {
        char c = (char)tolower((unsigned char)*p);
        ok = EVP_DigestUpdate(md, &c, 1) == 1;
    }
    ok = ok && EVP_DigestFinal_ex(md, h, &n) == 1 && n == 32;
    EVP_MD_CTX_free(md);
    if (!ok) {
        errno = ENOMEM;
        return -1;
    }
    char hex[65];
    for (unsigned i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", h[i]);
    int len = snprintf(out, outsz, "%s/%s", dir, hex);
    if (len < 0 || (size_t)len >= outsz) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

int sieve_vacation_store_seen(const char *dir, const char *key, const char *sender,
                              unsigned long period, time_t now)
{
    char path[4096], text[32];
    if (record_path(dir, key, sender, path, sizeof path) < 0)
        return -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : -1;
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    if (n < 0)
        return -1;
    text[n] = '\0';
    char *end;
    long long then = strtoll(text, &end, 10);
    if (end == text)
        return 0; /* a torn or foreign file: as if never answered */
    return now >= then && (unsigned long long)(now - then) < period ? 1 : 0;
}

int sieve_vacation_store_record(const char *dir, const char *key, const char *sender, time_t now)
{
    char path[4096], tmp[4200], text[32];
    if (record_path(dir, key, sender, path, sizeof path) < 0)
        return -1;
    int len = snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    if (len < 0 || (size_t)len >= sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    int n = snprintf(text, sizeof text, "%lld\n", (long long)now);
    int wrc = fd_write_all(fd, text, (size_t)n);
    int crc = close(fd);
    if (wrc < 0 || crc < 0) {
        int e = errno;
        unlink(tmp);
        errno = e;
        return -1;
    }
    if (rename(tmp, path) < 0) {
        int e = errno;
        unlink(tmp);
        errno = e;
        return -1;
    }
    return 0;
}
