/* lib/privdrop.h - giving up root: resolve the mail user and group once
 * (while /etc/passwd is still readable), then drop to them irrevocably
 * (supplementary groups, gid, uid) and prove that root cannot be regained.
 * Used by the workers and by the auth process; it never raises privileges. */
#ifndef DIRMAIL_PRIVDROP_H
#define DIRMAIL_PRIVDROP_H

#include <sys/types.h>

struct privdrop_ids {
    char *user; /* malloc'd */
    uid_t uid;
    gid_t gid;
};

/* privdrop_resolve - look up user (and group; NULL: the user's primary group).
 * 0, or -1 with *error_r a malloc'd message. Free with privdrop_ids_clear. */
int privdrop_resolve(const char *user, const char *group, struct privdrop_ids *ids_r,
                     char **error_r);
void privdrop_ids_clear(struct privdrop_ids *ids);

enum privdrop_result {
    PRIVDROP_DROPPED,      /* we were root and now run as ids, for good */
    PRIVDROP_ALREADY_USER, /* not root, and already running as ids->uid */
    PRIVDROP_NOT_ROOT,     /* not root and another user: nothing could be done (tests) */
    PRIVDROP_FAILED,       /* *error_r says why; the caller must exit */
};

/* privdrop_apply - when running as root: initgroups, setresgid, setresuid to
 * ids, then check that setuid(0)/setgid(0) fail. Refuses ids that are root
 * itself. When not root, changes nothing and says so in the result. */
enum privdrop_result privdrop_apply(const struct privdrop_ids *ids, char **error_r);

/* privdrop_apply_logged - privdrop_apply, with the one log line every child
 * writes about it (event=privdrop, privdrop_skipped or privdrop_failed).
 * 0, or -1 after a failure: the caller must exit without touching input. */
int privdrop_apply_logged(const struct privdrop_ids *ids);

/* privdrop_child_begin - what every child of the master does once it has
 * closed what it must not keep: drop to ids (privdrop_apply_logged), then
 * ask for SIGTERM when the master dies (a credential change clears that
 * wish, so it comes after) and check that master, the pid the child saw
 * before, is still its parent. 0, or -1 (logged): the child should exit. */
int privdrop_child_begin(const struct privdrop_ids *ids, pid_t master);

#endif
