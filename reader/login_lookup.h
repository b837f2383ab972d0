/* reader/login_lookup.h - what follows good credentials in a POP3 or IMAP
 * login: the auth process's USER answer for the login, judged in one place.
 * A directory error is temporary (RFC 3206 [SYS/TEMP], RFC 5530
 * [UNAVAILABLE]), never a refusal; a user not found or not active is refused
 * like bad credentials; a user whose mailbox is on another node is told
 * apart (the proxy's case); else the mailbox path, the directory's or the
 * default from the address. What the session makes of each is its own. */
#ifndef DIRMAIL_READER_LOGIN_LOOKUP_H
#define DIRMAIL_READER_LOGIN_LOOKUP_H

#include <stdbool.h>
#include <stdint.h>

#include "auth/auth_protocol.h"

struct auth_async;
struct line_session;

enum login_lookup_result {
    LOGIN_LOOKUP_LOCAL,    /* mailbox: its path, NULL when no default could be made */
    LOGIN_LOOKUP_REMOTE,   /* user->mail_host names the node that holds it */
    LOGIN_LOOKUP_REFUSED,  /* not found or not active */
    LOGIN_LOOKUP_TEMPFAIL, /* the directory or the auth process could not answer */
};

/* The answer, on the loop; user and mailbox are valid during the call only.
 * It runs between line_session_enter and _leave of the session. */
typedef void login_lookup_done_fn(void *ctx, enum login_lookup_result result,
                                  const struct auth_user *user, const char *mailbox);

/* One session's lookup, embedded in it. */
struct login_lookup {
    struct line_session *ls;
    struct auth_async *async;
    uint32_t request; /* outstanding, 0: none */
    login_lookup_done_fn *done;
    void *ctx;
};

/* login_lookup_start - copy user into *login_r (the session's login from
 * now on) and ask for it; the session waits (line_session_wait_begin) for
 * done. false when it could not be asked (*login_r NULL again): the caller
 * answers that as a temporary failure. */
bool login_lookup_start(struct login_lookup *lk, struct line_session *ls, struct auth_async *async,
                        const char *user, char **login_r, login_lookup_done_fn *done, void *ctx);

/* login_lookup_cancel - the session ends: done is never called. */
void login_lookup_cancel(struct login_lookup *lk);

#endif
