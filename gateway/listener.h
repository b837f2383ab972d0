/* gateway/listener.h - the listening sockets of one configuration: every
 * address of every service, IPv4 and IPv6 ("*" is both 0.0.0.0 and :: with
 * IPV6_V6ONLY) and UNIX sockets (lmtp: with their configured owner and
 * mode), non-blocking and close-on-exec. The master binds them (as root, for
 * ports below 1024 and the sockets' owners); workers inherit and accept on them. */
#ifndef DIRMAIL_LISTENER_H
#define DIRMAIL_LISTENER_H

#include <stddef.h>

#include "conf/conf.h"

struct listener {
    char *host;     /* a literal address: "127.0.0.1", "::1", "0.0.0.0", "::"; or a socket's path */
    unsigned port;  /* 0 for a UNIX socket */
    size_t service; /* index in the configuration's services */
    int fd;
};

struct listener_set {
    struct listener *items;
    size_t count;
};

/* listener_set_bind - one listener per address of every service of conf.
 * Addresses that old (may be NULL) already listens on are not bound again:
 * their socket is shared (dup), so a reload never drops a listening port
 * even for an instant. NULL on failure (nothing of the new set stays open)
 * with *error_r malloc'd. */
struct listener_set *listener_set_bind(const struct config *conf, const struct listener_set *old,
                                       char **error_r);

/* listener_set_unlink_sockets - remove the files of set's UNIX sockets that
 * keep (may be NULL) does not listen on too: a reload that dropped them, or
 * the master's exit, leaves no socket file nobody serves. */
void listener_set_unlink_sockets(const struct listener_set *set, const struct listener_set *keep);

/* listener_set_free - close this set's descriptors and free it; NULL is fine. */
void listener_set_free(struct listener_set **set);

#endif
