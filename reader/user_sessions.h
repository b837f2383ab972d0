/* reader/user_sessions.h - how many logged-in reader sessions each user has
 * in this worker process (limits.max_sessions_per_user): a count per
 * directory entry, taken when a session first logs in and given back when
 * it ends. One process's loop thread only; it never looks at the network. */
#ifndef DIRMAIL_READER_USER_SESSIONS_H
#define DIRMAIL_READER_USER_SESSIONS_H

#include <stdbool.h>

/* user_sessions_acquire - count one more session of user (its DN, compared
 * without regard to case as LDAP compares DNs' usual attributes) unless max
 * are counted already (0: no cap). false: over the cap, or out of memory
 * (*full_r false), and nothing counted. */
bool user_sessions_acquire(const char *user, unsigned max, bool *full_r);

/* user_sessions_release - give back one session acquired for user. */
void user_sessions_release(const char *user);

/* user_sessions_count - the sessions counted for user now (for tests). */
unsigned user_sessions_count(const char *user);

#endif
