/* delivery/maildir_path.h - the way from the configured mailbox base to a
 * user's Maildir: the untrusted mailbox path from the directory is walked one
 * component at a time with openat(O_NOFOLLOW), so nothing it says can make us
 * open or create anything outside the base. Shared by the writer (maildir.h)
 * and the readers; it never reads or writes a message. */
#ifndef DIRMAIL_DELIVERY_MAILDIR_PATH_H
#define DIRMAIL_DELIVERY_MAILDIR_PATH_H

#include <stdbool.h>
#include <stddef.h>

enum maildir_path_result {
    MAILDIR_PATH_OK,
    MAILDIR_PATH_MISSING,  /* without create: a component does not exist */
    MAILDIR_PATH_UNSAFE,   /* not below base, a bad component, a symlink or not a
                              folder: permanent, the directory's entry is wrong */
    MAILDIR_PATH_TEMPFAIL, /* the base cannot be opened, an I/O error */
};

/* maildir_path_relative - mailbox below base: mailbox itself when relative,
 * the part after "base/" when absolute, NULL when absolute and not below
 * base. */
const char *maildir_path_relative(const char *base, const char *mailbox);

/* maildir_path_component_valid - whether s[0..len) is a path component we
 * open or create below base: not empty, ".", ".." or longer than NAME_MAX,
 * no "/" and no control byte. */
bool maildir_path_component_valid(const char *s, size_t len);

/* maildir_path_open_at - open the folder name below dir_fd, never through a
 * symlink: OK and *fd_r; MISSING (nothing set: the caller may create it);
 * UNSAFE (a symlink or not a folder) or TEMPFAIL (errno kept) with
 * *error_r. */
enum maildir_path_result maildir_path_open_at(int dir_fd, const char *name, int *fd_r,
                                              char **error_r);

/* maildir_path_step_fn - open (or create) the folder name below dir_fd for
 * the walk, never through a symlink: OK and *fd_r, or another result and
 * *error_r. */
typedef enum maildir_path_result maildir_path_step_fn(void *ctx, int dir_fd, const char *name,
                                                      int *fd_r, char **error_r);

/* maildir_path_walk - open base (trusted, must exist), then each component
 * of mailbox below it with step (one trailing "/" is allowed). OK and *fd_r
 * (the caller closes it), or the first failure with *error_r (malloc'd). */
enum maildir_path_result maildir_path_walk(const char *base, const char *mailbox,
                                           maildir_path_step_fn *step, void *ctx, int *fd_r,
                                           char **error_r);

/* maildir_path_open - maildir_path_walk opening each component with
 * O_NOFOLLOW. With create, a missing one is made (mode 0700) and its parent
 * fsync'd at once; without, it gives MAILDIR_PATH_MISSING (a mailbox never
 * delivered to). */
enum maildir_path_result maildir_path_open(const char *base, const char *mailbox, bool create,
                                           int *fd_r, char **error_r);

#endif
