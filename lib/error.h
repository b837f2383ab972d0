/* lib/error.h - the one way dirmail functions report why they failed: a
 * malloc'd message in the caller's char **error_r, which the caller frees.
 * Only formatting lives here; what an error means is the caller's business. */
#ifndef DIRMAIL_ERROR_H
#define DIRMAIL_ERROR_H

/* error_set - set *error_r to a malloc'd formatted message, or to NULL when
 * even that allocation fails (callers then say "out of memory"). error_r may
 * be NULL: the message is not wanted. */
void error_set(char **error_r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
