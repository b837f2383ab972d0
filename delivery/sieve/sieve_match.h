/* delivery/sieve/sieve_match.h - comparators (RFC 4790: i;octet,
 * i;ascii-casemap, i;ascii-numeric) and match types (RFC 5228 2.7 :is
 * :contains :matches, RFC 5231 relational :value) on two strings, with the
 * match variables of RFC 5229 3.2. Every call spends from a step budget,
 * and :matches is linear in pattern times value, never exponential. */
#ifndef DIRMAIL_SIEVE_MATCH_H
#define DIRMAIL_SIEVE_MATCH_H

#include <stddef.h>

#include "delivery/sieve/sieve_ast.h"

/* ${0} .. ${9} of the last successful :matches (RFC 5229 3.2). */
#define SIEVE_CAPTURES_MAX 10
struct sieve_captures {
    char *v[SIEVE_CAPTURES_MAX];
    size_t n;
};
void sieve_captures_clear(struct sieve_captures *c);

struct sieve_budget {
    size_t used, max;
};

/* sieve_match - does value match key? 1 yes, 0 no, -1 over budget or out
 * of memory. For MATCH_MATCHES with caps non-NULL, a match replaces *caps
 * ("${0}" the whole value, then each wildcard in order). MATCH_COUNT is
 * the caller's (it counts, then compares with MATCH_VALUE). */
int sieve_match(enum sieve_match_type match, enum sieve_comparator cmp, enum sieve_relation rel,
                const char *value, const char *key, struct sieve_captures *caps,
                struct sieve_budget *budget);

#endif
