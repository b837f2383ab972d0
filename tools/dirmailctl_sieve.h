/* tools/dirmailctl_sieve.h - "dirmailctl sieve": check a script (errors as
 * FILE:LINE:COLUMN: message) or run one against a message file and print
 * its actions, one a line. Needs no configuration and no running dirmaild. */
#ifndef DIRMAIL_DIRMAILCTL_SIEVE_H
#define DIRMAIL_DIRMAILCTL_SIEVE_H

/* dirmailctl_sieve - argv after "sieve"; returns the exit code (sysexits). */
int dirmailctl_sieve(int argc, char **argv);

#endif
