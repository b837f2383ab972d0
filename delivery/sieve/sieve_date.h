/* delivery/sieve/sieve_date.h - the date extension (RFC 5260): its date
 * parts and zones for the validator, its two tests for the interpreter. */
#ifndef DIRMAIL_SIEVE_DATE_H
#define DIRMAIL_SIEVE_DATE_H

#include <stdbool.h>

#include "delivery/sieve/sieve_ast.h"

/* the interpreter's run state (sieve_interp.h), opaque here so that the
 * validator can use the date parts without the interpreter */
struct sieve_run;

/* sieve_date_part_known - "year", "month", ... "weekday" (RFC 5260 4.2). */
bool sieve_date_part_known(const char *part);
/* sieve_date_zone_minutes - "+hhmm"/"-hhmm" into minutes east of UTC. */
bool sieve_date_zone_minutes(const char *zone, int *minutes);

/* sieve_date_test - date or currentdate: the values of the date part,
 * given to match (the tests' matcher) with the key list. 1, 0 or -1. */
int sieve_date_test(struct sieve_run *run, const struct sieve_node *node,
                    int (*match)(struct sieve_run *, const struct sieve_node *, char **, size_t,
                                 const struct sieve_arg *));

#endif
