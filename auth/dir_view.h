/* auth/dir_view.h - the directory client's answers (auth/dir_user.h) seen
 * as the auth protocol's structs (auth/auth_protocol.h), with borrowed
 * pointers: how the auth process answers, and how dirmail-deliver reads the
 * directory itself when dirmaild is not running, so that both decide from
 * the same shape. It copies nothing and owns nothing. */
#ifndef DIRMAIL_AUTH_DIR_VIEW_H
#define DIRMAIL_AUTH_DIR_VIEW_H

#include "auth/auth_protocol.h"
#include "auth/dir_user.h"

/* dir_view_strlist - l as an auth_strlist (the same items). */
struct auth_strlist dir_view_strlist(const struct dir_strlist *l);

/* dir_view_recipient - *r pointing into d; valid as long as d is. */
void dir_view_recipient(const struct dir_recipient *d, struct auth_recipient *r);

/* dir_view_user - *u pointing into d; valid as long as d is. */
void dir_view_user(const struct dir_user *d, struct auth_user *u);

#endif
