/* auth/sasl_proxy.h - the proxy login's credential (doc/proxy.md): the
 * password a front node sends a back node as its configured identity,
 * "SECRET ip=ADDR port=N", made and checked here. Pure: it compares the
 * secret in constant time and never logs or keeps it. */
#ifndef DIRMAIL_AUTH_SASL_PROXY_H
#define DIRMAIL_AUTH_SASL_PROXY_H

#include <stdbool.h>
#include <stddef.h>

/* The longest forwarded address: an IPv6 text address. */
#define SASL_PROXY_IP_MAX 46

/* The client a front node logs in for, as its password forwards it. */
struct sasl_proxy_client {
    char ip[SASL_PROXY_IP_MAX + 1];
    unsigned port;
};

/* sasl_proxy_password - "SECRET ip=ADDR port=N" into buf; false when it
 * does not fit (the caller then sends nothing). */
bool sasl_proxy_password(char *buf, size_t size, const char *secret, const char *ip, unsigned port);

/* sasl_proxy_check - pass (len bytes, not NUL-terminated) holds secret
 * and a well-formed client address (an IPv4 or IPv6 literal, a port of
 * 0..65535), which go to *client_r. */
bool sasl_proxy_check(const char *secret, const char *pass, size_t len,
                      struct sasl_proxy_client *client_r);

#endif
