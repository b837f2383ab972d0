/* reader/proxy.h - a POP3 or IMAP session whose user's mailbox lives on
 * another node (dirmailMailHost) continues there (doc/proxy.md): the login
 * on the back node as the configured proxy identity for the user
 * (proxy_login.c: resolve, connect, TLS, the protocol's few lines), then
 * the splice that copies bytes both ways (proxy_splice.c). Everything runs
 * on the worker's event loop; only the name lookup runs on its pool. It
 * never reads the client's password and never parses what it splices. */
#ifndef DIRMAIL_READER_PROXY_H
#define DIRMAIL_READER_PROXY_H

#include <stdbool.h>

#include "proto/service.h"

enum proxy_protocol {
    PROXY_POP3,
    PROXY_IMAP,
};

enum proxy_result {
    PROXY_OK,          /* logged in: proxy_splice_start */
    PROXY_UNAVAILABLE, /* down, unreachable, TLS failed, refused the proxy, timed out */
    PROXY_IN_USE,      /* POP3: the back node's maildrop is locked ([IN-USE]) */
};

struct proxy_login;

/* proxy_host_name - the host of dirmailMailHost, which the SMTP client
 * reads as "host", "host:port" or "[address]:port" (doc/relay.md): the
 * port there is SMTP's, never POP3's, IMAP's or ManageSieve's. malloc'd
 * (the caller's); NULL when memory is short. */
char *proxy_host_name(const char *mail_host);

/* proxy_login_done_fn - the login ended; called from the event loop, never
 * from within proxy_login_start. ctx's owner frees the login (or splices
 * it) from here or later. */
typedef void proxy_login_done_fn(void *ctx, enum proxy_result result);

/* proxy_enabled - the configuration lets this node proxy (proxy.secret). */
bool proxy_enabled(const struct config *conf);

/* proxy_login_start - log user in on host's proto port for the client of
 * ss (its address forwarded). tag: IMAP, the client's tag for the login
 * command, so that the back node's tagged answer is the client's. NULL
 * when nothing could be started (then done is never called). */
struct proxy_login *proxy_login_start(struct service_session *ss, enum proxy_protocol proto,
                                      const char *host, const char *user, const char *tag,
                                      proxy_login_done_fn *done, void *ctx);

/* proxy_login_free - abandon or free *pl (done is not called); NULLs it. */
void proxy_login_free(struct proxy_login **pl);

/* proxy_splice_start - after PROXY_OK: the client (ss, whose protocol
 * state is already freed; its conn is still attached) gets the back node's
 * success reply, then every byte either way until one side closes. Owns ss
 * from now on and calls ss->finished when done; takes *pl (NULLed). */
void proxy_splice_start(struct proxy_login **pl, struct service_session *ss);

/* ---- proxy_login.c, for proxy_splice.c ---- */

/* proxy_login_take - the back node's connection (attached to the loop, no
 * handler of the login's any more), the success line (with CRLF; the
 * caller frees both) and the host, then the login is freed. */
struct conn *proxy_login_take(struct proxy_login **pl, char **reply_r, char **host_r);

#endif
