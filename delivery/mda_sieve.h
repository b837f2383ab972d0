/* delivery/mda_sieve.h - the Sieve step of one delivery: which scripts run
 * (delivery.sieve_before, then the user's active ManageSieve script or else
 * the directory's dirmailSieve, then delivery.sieve_after, joined by
 * include, RFC 6609), compiled once per process through the cache of
 * compiled scripts, and run against the message; the actions come back for
 * mda.c to carry out. A script that does not compile is logged with its
 * line and column and left out: a broken script never loses mail. It
 * stores and sends nothing itself. */
#ifndef DIRMAIL_DELIVERY_MDA_SIEVE_H
#define DIRMAIL_DELIVERY_MDA_SIEVE_H

#include <stddef.h>
#include <stdint.h>

#include "conf/conf.h"
#include "delivery/sieve/sieve.h"

/* The longest script read from the directory or the user's store. */
#define MDA_SIEVE_SCRIPT_MAX (256 * 1024)

struct mda_sieve;

/* mda_sieve_limits - the engine's limits from the configuration's sieve
 * section: the one mapping, for delivery, ManageSieve and dirmailctl. */
void mda_sieve_limits(const struct config_sieve *conf, struct sieve_limits *limits);

/* mda_sieve_new - the step for a process: conf (not copied, must outlive
 * it) names the global scripts, limits the engine's limits. NULL when out
 * of memory. */
struct mda_sieve *mda_sieve_new(const struct config_delivery *conf,
                                const struct config_sieve *limits);
void mda_sieve_free(struct mda_sieve **ms);

/* One recipient's run. Strings are borrowed. */
struct mda_sieve_input {
    int root_fd;            /* the recipient's Maildir root */
    const char *dir_script; /* the directory's dirmailSieve; NULL: none */
    const char *address;    /* envelope recipient */
    const char *primary;    /* the entry's primary address (vacation's From) */
    const char *sender;     /* envelope sender, "" for <> */
    int fd;                 /* the message (CRLF), read with pread from 0 */
    uint64_t len;           /* its length; UINT64_MAX: to the end of the file */
    const char *log_id;     /* for the log lines; may be NULL */
};

enum mda_sieve_status {
    MDA_SIEVE_NONE,     /* no script for this user: the caller keeps the message */
    MDA_SIEVE_RAN,      /* result holds the actions (one implicit keep after an error) */
    MDA_SIEVE_TEMPFAIL, /* cannot be run now (*error_r): defer the delivery */
};

/* mda_sieve_run - run the scripts for in. RAN: result filled (clear it
 * with sieve_result_clear) and *msg_r the parsed message (free with
 * sieve_message_free), which the actions that send mail read. */
enum mda_sieve_status mda_sieve_run(struct mda_sieve *ms, const struct mda_sieve_input *in,
                                    struct sieve_result *result, struct sieve_message **msg_r,
                                    char **error_r);

/* mda_sieve_vacation_record - remember that the vacation reply of action
 * went to its recipient now (the user's store "dirmail-vacation" in the
 * Maildir root at root_fd). 0 or -1. */
int mda_sieve_vacation_record(int root_fd, const struct sieve_action *action);

#endif
