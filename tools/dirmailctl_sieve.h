/* tools/dirmailctl_sieve.h - "dirmailctl sieve": check a script (errors as
 * FILE:LINE:COLUMN: message) or run one against a message file and print
 * its actions, one a line. Needs no configuration and no running dirmaild. */
#ifndef DIRMAIL_DIRMAILCTL_SIEVE_H
#define DIRMAIL_DIRMAILCTL_SIEVE_H

#include "conf/conf.h"

/* dirmailctl_sieve - argv after "sieve", compiled and run under limits (the
 * configuration's sieve section; NULL: the engine's defaults); returns the
 * exit code (sysexits). */
int dirmailctl_sieve(int argc, char **argv, const struct config_sieve *limits);

#endif
