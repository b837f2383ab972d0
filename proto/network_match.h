/* proto/network_match.h - whether a client address lies in a list of
 * configured networks (CIDR or a bare address, as conf_cidr_check stores
 * them): the SMTP gateway's relay.trusted_networks and the lmtp service's
 * own. Pure: it reads the text it is given, never the configuration. */
#ifndef DIRMAIL_PROTO_NETWORK_MATCH_H
#define DIRMAIL_PROTO_NETWORK_MATCH_H

#include <stdbool.h>
#include <stddef.h>

/* network_list_contains - ip (text, IPv4 or IPv6; an IPv4-mapped IPv6
 * address counts as IPv4) lies in one of networks[0..count). False for
 * text that is no address ("unix" included). */
bool network_list_contains(char *const *networks, size_t count, const char *ip);

#endif
