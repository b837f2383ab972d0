/* delivery/sieve/sieve_parse.h - the parser: RFC 5228 section 8.2's grammar
 * over the lexer's tokens into the tree of sieve_ast.h, with the nesting
 * limit. It checks the grammar only; what a command means is the
 * validator's. */
#ifndef DIRMAIL_SIEVE_PARSE_H
#define DIRMAIL_SIEVE_PARSE_H

#include "delivery/sieve/sieve_ast.h"

/* sieve_parse - the top-level commands into *commands (malloc'd array of
 * *ncommands nodes); 0, or -1 with errors added (nothing to free). */
int sieve_parse(const char *text, size_t len, const struct sieve_limits *limits,
                struct sieve_errors *errors, struct sieve_node ***commands, size_t *ncommands);

#endif
