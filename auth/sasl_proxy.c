/* auth/sasl_proxy.c - see sasl_proxy.h. */
#include "config.h"

#include "auth/sasl_proxy.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

bool sasl_proxy_password(char *buf, size_t size, const char *secret, const char *ip, unsigned port)
{
    int n = snprintf(buf, size, "%s ip=%s port=%u", secret, ip, port);
    return n > 0 && (size_t)n < size;
}

/* field - "NAME=VALUE" at p (up to end) into value; the end of it. */
static const char *field(const char *p, const char *end, const char *name, char *value, size_t size)
{
    size_t nl = strlen(name);
    if ((size_t)(end - p) < nl + 1 || memcmp(p, name, nl) != 0 || p[nl] != '=')
        return NULL;
    p += nl + 1;
    const char *stop = memchr(p, ' ', (size_t)(end - p));
    if (stop == NULL)
        stop = end;
    size_t vl = (size_t)(stop - p);
    if (vl == 0 || vl >= size || memchr(p, '\0', vl) != NULL)
        return NULL;
    memcpy(value, p, vl);
    value[vl] = '\0';
    return stop;
}

bool sasl_proxy_check(const char *secret, const char *pass, size_t len,
                      struct sasl_proxy_client *client_r)
{
    const char *end = pass + len;
    const char *sp = memchr(pass, ' ', len);
    size_t sl = strlen(secret);
    /* the length is no secret (the configuration says at least 32); its
     * bytes are compared in constant time */
    if (sp == NULL || (size_t)(sp - pass) != sl || CRYPTO_memcmp(pass, secret, sl) != 0)
        return false;
    char ip[SASL_PROXY_IP_MAX + 1], port[8];
    const char *p = field(sp + 1, end, "ip", ip, sizeof ip);
    if (p == NULL || p == end || *p != ' ')
        return false;
    p = field(p + 1, end, "port", port, sizeof port);
    if (p != end)
        return false;
    unsigned char bytes[16];
    if (inet_pton(strchr(ip, ':') != NULL ? AF_INET6 : AF_INET, ip, bytes) != 1)
        return false;
    unsigned long v = 0;
    for (const char *q = port; *q != '\0'; q++) {
        if (*q < '0' || *q > '9')
            return false;
        v = v * 10 + (unsigned long)(*q - '0');
    }
    if (v > 65535)
        return false;
    memcpy(client_r->ip, ip, sizeof ip);
    client_r->port = (unsigned)v;
    return true;
}
