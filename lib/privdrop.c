/* lib/privdrop.c - see privdrop.h. Order matters: supplementary groups
 * and the gid go first, while we still have the right to change them. */
#include "config.h"

#include "lib/privdrop.h"
#include "lib/error.h"
#include "lib/log.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

int privdrop_resolve(const char *user, const char *group, struct privdrop_ids *ids_r,
                     char **error_r)
{
    memset(ids_r, 0, sizeof *ids_r);
    errno = 0;
    struct passwd *pw = getpwnam(user);
    if (pw == NULL) {
        error_set(error_r, "user %s: %s", user, errno != 0 ? strerror(errno) : "no such user");
        return -1;
    }
    ids_r->uid = pw->pw_uid;
    ids_r->gid = pw->pw_gid;
    if (group != NULL && group[0] != '\0') {
        errno = 0;
        struct group *gr = getgrnam(group);
        if (gr == NULL) {
            error_set(error_r, "group %s: %s", group,
                      errno != 0 ? strerror(errno) : "no such group");
            return -1;
        }
        ids_r->gid = gr->gr_gid;
    }
    ids_r->user = strdup(user);
    if (ids_r->user == NULL) {
        error_set(error_r, "out of memory");
        return -1;
    }
    return 0;
}

void privdrop_ids_clear(struct privdrop_ids *ids)
{
    free(ids->user);
    ids->user = NULL;
}

enum privdrop_result privdrop_apply(const struct privdrop_ids *ids, char **error_r)
{
    if (geteuid() != 0) {
        if (geteuid() == ids->uid && getuid() == ids->uid)
            return PRIVDROP_ALREADY_USER;
        return PRIVDROP_NOT_ROOT;
    }
    if (ids->uid == 0 || ids->gid == 0) {
        error_set(error_r, "refusing to run as root: user %s has uid %lu gid %lu", ids->user,
                  (unsigned long)ids->uid, (unsigned long)ids->gid);
        return PRIVDROP_FAILED;
    }
    /* initgroups replaces root's supplementary groups (which could include
     * disk, shadow...) with exactly the mail user's. */
    if (initgroups(ids->user, ids->gid) < 0) {
        error_set(error_r, "initgroups(%s): %s", ids->user, strerror(errno));
        return PRIVDROP_FAILED;
    }
    if (setresgid(ids->gid, ids->gid, ids->gid) < 0) {
        error_set(error_r, "setresgid(%lu): %s", (unsigned long)ids->gid, strerror(errno));
        return PRIVDROP_FAILED;
    }
    if (setresuid(ids->uid, ids->uid, ids->uid) < 0) {
        error_set(error_r, "setresuid(%lu): %s", (unsigned long)ids->uid, strerror(errno));
        return PRIVDROP_FAILED;
    }
    /* Prove it: a drop that can be undone is no drop (saved set-user-ID). */
    uid_t ruid, euid, suid;
    gid_t rgid, egid, sgid;
    if (getresuid(&ruid, &euid, &suid) < 0 || getresgid(&rgid, &egid, &sgid) < 0 ||
        ruid != ids->uid || euid != ids->uid || suid != ids->uid || rgid != ids->gid ||
        egid != ids->gid || sgid != ids->gid) {
        error_set(error_r, "ids after the drop are not %lu/%lu", (unsigned long)ids->uid,
                  (unsigned long)ids->gid);
        return PRIVDROP_FAILED;
    }
    if (setuid(0) != -1 || seteuid(0) != -1 || setgid(0) != -1) {
        error_set(error_r, "root could be regained after the drop");
        return PRIVDROP_FAILED;
    }
    return PRIVDROP_DROPPED;
}

int privdrop_apply_logged(const struct privdrop_ids *ids)
{
    char *error = NULL;
    switch (privdrop_apply(ids, &error)) {
    case PRIVDROP_DROPPED:
        log_info("event=privdrop user=%s uid=%lu gid=%lu", ids->user, (unsigned long)ids->uid,
                 (unsigned long)ids->gid);
        return 0;
    case PRIVDROP_ALREADY_USER:
        return 0;
    case PRIVDROP_NOT_ROOT:
        log_info("event=privdrop_skipped reason=not-root user=%s uid=%lu", ids->user,
                 (unsigned long)getuid());
        return 0;
    case PRIVDROP_FAILED:
        break;
    }
    log_error("event=privdrop_failed error=\"%s\"", error != NULL ? error : "out of memory");
    free(error);
    return -1;
}

int privdrop_child_begin(const struct privdrop_ids *ids, pid_t master)
{
    if (privdrop_apply_logged(ids) < 0)
        return -1;
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != master) {
        log_error("event=child_failed error=\"master is gone\"");
        return -1;
    }
    return 0;
}
