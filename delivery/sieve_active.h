/* delivery/sieve_active.h - reads a user's active ManageSieve script: the
 * symlink MAILHOME/sieve/.active names NAME.sieve beside it (the store's
 * layout, delivery/sieve_store.h writes it). It refuses anything outside
 * MAILHOME/sieve or over the size limit; it never writes. */
#ifndef DIRMAIL_DELIVERY_SIEVE_ACTIVE_H
#define DIRMAIL_DELIVERY_SIEVE_ACTIVE_H

#include <stddef.h>

/* The folder below the Maildir root that holds the scripts, and the link. */
#define SIEVE_ACTIVE_DIR "sieve"
#define SIEVE_ACTIVE_LINK ".active"

enum sieve_active_result {
    SIEVE_ACTIVE_FOUND,    /* *text_r, *len_r, *name_r set */
    SIEVE_ACTIVE_NONE,     /* no sieve/ folder or no .active link: no active script */
    SIEVE_ACTIVE_REFUSED,  /* a link or file we will not read (error_r says why) */
    SIEVE_ACTIVE_TEMPFAIL, /* an I/O error: try the delivery again later */
};

/* sieve_active_load - the active script of the Maildir whose root is open
 * at root_fd: the link's target must be one file name ending ".sieve" (no
 * "/", not hidden), a regular file reached without symlinks, at most max
 * octets. *text_r (NUL-terminated, malloc'd) and *name_r (the script's
 * name without ".sieve", malloc'd) are the caller's to free; *error_r
 * (malloc'd) for REFUSED and TEMPFAIL. */
enum sieve_active_result sieve_active_load(int root_fd, size_t max, char **text_r, size_t *len_r,
                                           char **name_r, char **error_r);

#endif
