/* reader/proxy_session.c - where the POP3 and IMAP sessions hand a login
 * to the proxy (reader/proxy.h): the login on the user's node starts, the
 * session waits with input paused, and then either its state is freed and
 * the splice takes the connection, or the client gets a temporary error
 * (RFC 3206 [SYS/TEMP], RFC 5530 [UNAVAILABLE]; a back node's [IN-USE] is
 * passed on) and the session goes on where it was, as after any refusal. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "auth/sasl_server.h"
#include "lib/log.h"
#include "reader/imap_session_internal.h"
#include "reader/pop3_internal.h"
#include "reader/proxy.h"

/* second_hop - the session itself came in through another node's proxy
 * login: proxying it on would loop between nodes whose names for each
 * other disagree with the directory's dirmailMailHost. Logged. */
static bool second_hop(const struct service_session *ss, const struct sasl_session *sasl,
                       const char *user, const char *host)
{
    const char *authid = sasl != NULL ? sasl_session_authid(sasl) : NULL;
    if (authid == NULL || strcmp(authid, ss->config->proxy.identity) != 0)
        return false;
    log_error("event=proxy_loop service=%s proxy=%s user=%s host=%s error=\"a proxied login "
              "would be proxied again: server.hostname and dirmailMailHost disagree\"",
              ss->service->name, ss->client_ip, user, host);
    return true;
}

static void pop3_proxied(void *ctx, enum proxy_result result)
{
    struct pop3 *p = ctx;
    if (result == PROXY_OK) {
        struct proxy_login *pl = p->proxy;
        p->proxy = NULL;
        proxy_splice_start(&pl, pop3_session_hand_over(p));
        return;
    }
    line_session_enter(&p->ls);
    proxy_login_free(&p->proxy);
    free(p->login);
    p->login = NULL;
    pop3_session_reply(p,
                       result == PROXY_IN_USE ? POP3_REPLY_IN_USE : POP3_REPLY_MAILBOX_NODE_DOWN);
    pop3_session_wait_end(p, ST_AUTHORIZATION);
    line_session_leave(&p->ls);
}

bool pop3_proxy_begin(struct pop3 *p, const char *host)
{
    if (!proxy_enabled(p->ss->config))
        return false;
    if (!second_hop(p->ss, p->sasl, p->login, host))
        p->proxy = proxy_login_start(p->ss, PROXY_POP3, host, p->login, NULL, pop3_proxied, p);
    if (p->proxy == NULL) {
        free(p->login);
        p->login = NULL;
        pop3_session_reply(p, POP3_REPLY_MAILBOX_NODE_DOWN);
        pop3_session_wait_end(p, ST_AUTHORIZATION);
    }
    return true;
}

static void imap_proxied(void *ctx, enum proxy_result result)
{
    struct imap *p = ctx;
    if (result == PROXY_OK) {
        struct proxy_login *pl = p->proxy;
        p->proxy = NULL;
        proxy_splice_start(&pl, imap_session_hand_over(p));
        return;
    }
    line_session_enter(&p->ls);
    proxy_login_free(&p->proxy);
    free(p->login);
    p->login = NULL;
    imap_tagged(p, "NO", "[UNAVAILABLE] The mailbox's server is unavailable, try again later");
    imap_resume(p);
    line_session_leave(&p->ls);
}

bool imap_proxy_begin(struct imap *p, const char *host)
{
    if (!proxy_enabled(p->ss->config))
        return false;
    if (!second_hop(p->ss, p->sasl, p->login, host))
        p->proxy = proxy_login_start(p->ss, PROXY_IMAP, host, p->login, p->tag, imap_proxied, p);
    if (p->proxy == NULL) {
        free(p->login);
        p->login = NULL;
        imap_tagged(p, "NO", "[UNAVAILABLE] The mailbox's server is unavailable, try again later");
        imap_resume(p);
    }
    return true;
}
