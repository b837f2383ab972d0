/* proto/network_match.c - see network_match.h. */
#include "config.h"

#include "proto/network_match.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

/* cidr_match - ip (binary, family) inside "addr/len" (or a bare address). */
static bool cidr_match(const char *cidr, int family, const unsigned char *ip)
{
    char text[INET6_ADDRSTRLEN + 8];
    size_t n = strlen(cidr);
    if (n >= sizeof text)
        return false;
    memcpy(text, cidr, n + 1);
    int bits = family == AF_INET ? 32 : 128;
    char *slash = strchr(text, '/');
    if (slash != NULL) {
        *slash = '\0';
        char *end;
        long v = strtol(slash + 1, &end, 10);
        if (*end != '\0' || v < 0 || v > bits)
            return false;
        bits = (int)v;
    }
    unsigned char net[16];
    if (inet_pton(family, text, net) != 1)
        return false;
    int full = bits / 8, rest = bits % 8;
    if (memcmp(net, ip, (size_t)full) != 0)
        return false;
    if (rest == 0)
        return true;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (net[full] & mask) == (ip[full] & mask);
}

bool network_list_contains(char *const *networks, size_t count, const char *ip)
{
    unsigned char bin[16];
    int family = AF_INET;
    if (inet_pton(AF_INET, ip, bin) != 1) {
        family = AF_INET6;
        if (inet_pton(AF_INET6, ip, bin) != 1)
            return false;
        /* an IPv4 client on a dual-stack socket: match it as IPv4 */
        static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (memcmp(bin, mapped, 12) == 0) {
            memmove(bin, bin + 12, 4);
            family = AF_INET;
        }
    }
    for (size_t i = 0; i < count; i++) {
        if (cidr_match(networks[i], family, bin))
            return true;
    }
    return false;
}
