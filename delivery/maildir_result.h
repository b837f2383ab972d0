/* delivery/maildir_result.h - what one step of a Maildir delivery ends with,
 * shared by the writer (maildir.c) and its folder code (maildir_dirs.c). */
#ifndef DIRMAIL_DELIVERY_MAILDIR_RESULT_H
#define DIRMAIL_DELIVERY_MAILDIR_RESULT_H

enum maildir_result {
    MAILDIR_DELIVERED,
    MAILDIR_TEMPFAIL,       /* I/O error, disk full (ENOSPC, EDQUOT), out of memory */
    MAILDIR_QUOTA_EXCEEDED, /* Maildir++ quota; permanent or not per maildir_target */
    MAILDIR_PERMFAIL,       /* bad mailbox path (escapes the base, symlink, not a folder) */
    /* Only with maildir_target.stable_key: this very delivery is already in
     * new/ or cur/ (an earlier attempt whose result was never recorded);
     * that entry is durable now and nothing new was written. A success. */
    MAILDIR_ALREADY_DELIVERED,
};

/* maildir_result_name - "delivered", "tempfail", "quota-exceeded", "permfail",
 * "already-delivered". */
const char *maildir_result_name(enum maildir_result result);

#endif
