/* proto/session_sasl.c - see session_sasl.h. */
#include "config.h"

#include "proto/session_sasl.h"

#include <stdio.h>

#include "lib/log.h"

static enum session_sasl_refusal refusal_of(const struct session_sasl *sa,
                                            enum sasl_exchange_outcome o)
{
    switch (o) {
    case SASL_EXCHANGE_FAILED:
        switch (sasl_exchange_limit(sa->sx)) {
        case SASL_EXCHANGE_LIMIT_IP:
            return SESSION_SASL_FAILED_ADDRESS_LIMIT;
        case SASL_EXCHANGE_LIMIT_SESSION:
            return SESSION_SASL_FAILED_SESSION_LIMIT;
        case SASL_EXCHANGE_LIMIT_NONE:
            break;
        }
        return SESSION_SASL_FAILED;
    case SASL_EXCHANGE_BAD_PROTOCOL:
        return SESSION_SASL_BAD_PROTOCOL;
    case SASL_EXCHANGE_BAD_BASE64:
        return SESSION_SASL_BAD_BASE64;
    case SASL_EXCHANGE_CANCELLED:
        return SESSION_SASL_CANCELLED;
    case SASL_EXCHANGE_NO_MECHANISM:
        return SESSION_SASL_NO_MECHANISM;
    case SASL_EXCHANGE_ENCRYPTION_REQUIRED:
        return SESSION_SASL_ENCRYPTION_REQUIRED;
    case SASL_EXCHANGE_IP_BLOCKED:
        return SESSION_SASL_ADDRESS_BLOCKED;
    case SASL_EXCHANGE_PENDING:
    case SASL_EXCHANGE_CHALLENGE:
    case SASL_EXCHANGE_OK:
    case SASL_EXCHANGE_TEMPFAIL:
        break;
    }
    return SESSION_SASL_TEMPFAIL;
}

/* refuse - the protocol's reply; true when the session ends after it. */
static bool refuse(struct session_sasl *sa, enum session_sasl_refusal why)
{
    sa->proto->refuse(sa->ls->ctx, why);
    if (!(sa->proto->ends & SESSION_SASL_BIT(why)))
        return false;
    line_session_close(sa->ls);
    return true;
}

/* outcome - the one place an exchange's outcome becomes a reply and the
 * session's next step. From a command or a response line (async false) the
 * driver's read loop goes on by itself; from the exchange's callback (async
 * true) the wait ends here. */
static void outcome(struct session_sasl *sa, enum sasl_exchange_outcome o, bool async)
{
    switch (o) {
    case SASL_EXCHANGE_PENDING:
        line_session_wait_begin(sa->ls);
        return;
    case SASL_EXCHANGE_CHALLENGE:
        sa->proto->challenge(sa->ls->ctx, sasl_exchange_challenge(sa->sx));
        conn_set_line_limit(sa->ls->conn, SASL_EXCHANGE_LINE_LIMIT);
        sa->reading_response = true;
        break;
    case SASL_EXCHANGE_OK:
        if (sa->proto->success(sa->ls->ctx))
            return;
        break;
    default:
        if (refuse(sa, refusal_of(sa, o)))
            return;
        break;
    }
    if (async)
        line_session_wait_end(sa->ls);
}

static void exchange_done(void *ctx, enum sasl_exchange_outcome o)
{
    struct session_sasl *sa = ctx;
    struct line_session *ls = sa->ls;
    line_session_enter(ls);
    if (!ls->ending)
        outcome(sa, o, true);
    line_session_leave(ls);
}

int session_sasl_init(struct session_sasl *sa, struct line_session *ls,
                      const struct session_sasl_proto *proto, struct threadpool *pool,
                      size_t line_limit)
{
    sa->ls = ls;
    sa->line_limit = line_limit;
    sa->proto = proto;
    sa->reading_response = false;
    sa->sx = sasl_exchange_new_for_session(ls->ss, pool, exchange_done, sa);
    ls->sx = sa->sx;
    return sa->sx != NULL ? 0 : -1;
}

void session_sasl_free(struct session_sasl *sa)
{
    sasl_exchange_free(&sa->sx);
    if (sa->ls != NULL)
        sa->ls->sx = NULL;
}

void session_sasl_begin(struct session_sasl *sa, struct sasl_session *sasl, const char *mech,
                        const char *initial_b64)
{
    outcome(sa, sasl_exchange_begin(sa->sx, sasl, mech, initial_b64), false);
}

void session_sasl_line(struct session_sasl *sa, enum conn_result r, const struct conn_line *line)
{
    conn_set_line_limit(sa->ls->conn, sa->line_limit);
    sa->reading_response = false;
    if (r == CONN_TOO_LONG) {
        refuse(sa, SESSION_SASL_LINE_TOO_LONG);
        return;
    }
    /* a line with a NUL or a bare CR is never base64 (nor "*") */
    enum sasl_exchange_outcome o = line->has_nul || line->bare_cr
                                       ? SASL_EXCHANGE_BAD_BASE64
                                       : sasl_exchange_response(sa->sx, line->data, line->len);
    outcome(sa, o, false);
}

void session_sasl_renew(const struct session_sasl *sa, struct sasl_session **sasl,
                        const char *service)
{
    const struct line_session *ls = sa->ls;
    sasl_session_free(sasl);
    char local[96], remote[96];
    snprintf(local, sizeof local, "%s;%u", conn_local_ip(ls->conn), conn_local_port(ls->conn));
    snprintf(remote, sizeof remote, "%s;%u", ls->ss->client_ip, ls->ss->client_port);
    const char *err = NULL;
    /* the negotiated cipher's strength: SASL refuses mechanisms or
     * authzids that ask for more (Cyrus's minssf/maxssf) */
    *sasl = sasl_session_new(service, ls->ss->hostname, local, remote, ls->tls,
                             ls->tls ? (unsigned)conn_tls_bits(ls->conn) : 0, &err);
    if (*sasl == NULL)
        log_error("%sevent=sasl_session_failed client=%s error=\"%s\"", ls->log_id,
                  ls->ss->client_ip, err != NULL ? err : "?");
}
