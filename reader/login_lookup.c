/* reader/login_lookup.c - see login_lookup.h. */
#include "config.h"

#include "reader/login_lookup.h"

#include <stdlib.h>
#include <string.h>

#include "auth/auth_client.h"
#include "delivery/local_delivery.h"
#include "proto/line_session.h"

static enum login_lookup_result judge(const struct auth_response *resp)
{
    const struct auth_user *u = resp->user;
    if (resp->status == AUTH_TEMPFAIL || resp->status == AUTH_ERROR)
        return LOGIN_LOOKUP_TEMPFAIL; /* a directory error is temporary */
    if (resp->status != AUTH_FOUND || u == NULL || u->status != AUTH_USER_ACTIVE)
        return LOGIN_LOOKUP_REFUSED;
    return u->mail_host != NULL ? LOGIN_LOOKUP_REMOTE : LOGIN_LOOKUP_LOCAL;
}

static void answered(void *ctx, const struct auth_response *resp)
{
    struct login_lookup *lk = ctx;
    struct line_session *ls = lk->ls;
    line_session_enter(ls);
    lk->request = 0;
    enum login_lookup_result r = judge(resp);
    char *def = NULL;
    const char *mailbox = NULL;
    if (r == LOGIN_LOOKUP_LOCAL) {
        mailbox = resp->user->mailbox;
        if (mailbox == NULL || mailbox[0] == '\0')
            mailbox = def = local_default_mailbox(resp->user->primary);
    }
    lk->done(lk->ctx, r, resp->user, mailbox);
    free(def);
    line_session_leave(ls);
}

bool login_lookup_start(struct login_lookup *lk, struct line_session *ls, struct auth_async *async,
                        const char *user, char **login_r, login_lookup_done_fn *done, void *ctx)
{
    *lk = (struct login_lookup){.ls = ls, .async = async, .done = done, .ctx = ctx};
    *login_r = strdup(user);
    const char *args[1] = {*login_r};
    if (*login_r != NULL)
        lk->request = auth_async_request(async, AUTH_REQ_USER, args, 1, answered, lk);
    if (lk->request == 0) {
        free(*login_r);
        *login_r = NULL;
        return false;
    }
    line_session_wait_begin(ls);
    return true;
}

void login_lookup_cancel(struct login_lookup *lk)
{
    if (lk->request != 0 && lk->async != NULL)
        auth_async_cancel(lk->async, lk->request);
    lk->request = 0;
}
