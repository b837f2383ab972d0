/* delivery/sieve/sieve_vacation_store.h - vacation's once-per-period memory
 * (RFC 5230 4.1) as one small file per reply key and sender under a
 * directory the caller names (the user's state); what a vacation_seen
 * callback can be. It never sends or decides anything. */
#ifndef DIRMAIL_SIEVE_VACATION_STORE_H
#define DIRMAIL_SIEVE_VACATION_STORE_H

#include <time.h>

/* sieve_vacation_store_seen - 1 when sender was answered under key less
 * than period seconds before now, 0 when not, -1 when the store cannot be
 * read (a temporary failure: the caller retries rather than answer twice). */
int sieve_vacation_store_seen(const char *dir, const char *key, const char *sender,
                              unsigned long period, time_t now);

/* sieve_vacation_store_record - remember that sender was answered at now
 * (written to a temporary file and renamed, so a crash leaves the old or
 * the new record). 0 or -1 (errno). */
int sieve_vacation_store_record(const char *dir, const char *key, const char *sender, time_t now);

#endif
