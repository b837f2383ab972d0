/* tools/dirmailctl_route.h - "dirmailctl route ADDRESS": the route the queue
 * runner would choose for a recipient (local mailbox, another node, a next
 * hop, the MX hosts, an expansion, a deferral or failure) and why, with the
 * destination's TLS policy and, for the SMTP client's destinations, the
 * addresses in the order they would be tried. It asks the auth process and
 * the DNS exactly as the runner does, and sends nothing. */
#ifndef DIRMAIL_TOOLS_DIRMAILCTL_ROUTE_H
#define DIRMAIL_TOOLS_DIRMAILCTL_ROUTE_H

#include "auth/auth_client.h"
#include "conf/conf.h"

/* dirmailctl_route - print the route of address to stdout; the exit status
 * (0, 75 when the directory or the DNS fails temporarily). */
int dirmailctl_route(const struct config *conf, struct auth_client *client, const char *address);

#endif
