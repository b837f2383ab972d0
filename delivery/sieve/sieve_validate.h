/* delivery/sieve/sieve_validate.h - the validator: every command and test
 * checked against one table of what Sieve knows (its arguments, tests,
 * block and the extension that must be required), encoded-character
 * expanded (RFC 5228 2.4.2.4), and the tree annotated for the interpreter. */
#ifndef DIRMAIL_SIEVE_VALIDATE_H
#define DIRMAIL_SIEVE_VALIDATE_H

#include "delivery/sieve/sieve_ast.h"

/* sieve_validate - check script->commands; 0, or -1 with errors added. */
int sieve_validate(struct sieve_script *script, struct sieve_errors *errors);

/* sieve_ext_name - the require name of one extension bit. */
const char *sieve_ext_name(unsigned ext);

#endif
