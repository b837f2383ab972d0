/* reader/pop3_maildrop.h - a user's Maildir as one POP3 session sees it
 * (RFC 1939 4-6): reached from the mailbox base safely (maildir_path), locked
 * exclusively for the TRANSACTION state so that a second POP3 session gets
 * [IN-USE], its messages numbered 1..n as they were at login (mail arriving
 * later waits for the next session), deletions marked and undone by RSET,
 * and carried out only by pop3_maildrop_update at QUIT. Messages are listed
 * and read through delivery/mailbox.h; it never writes to the network. */
#ifndef DIRMAIL_READER_POP3_MAILDROP_H
#define DIRMAIL_READER_POP3_MAILDROP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "delivery/mailbox.h"

struct pop3_maildrop;

enum pop3_maildrop_result {
    POP3_MAILDROP_OK,
    POP3_MAILDROP_IN_USE,   /* another session holds the lock */
    POP3_MAILDROP_UNSAFE,   /* the directory's mailbox path is not below the base */
    POP3_MAILDROP_TEMPFAIL, /* an I/O error */
};

/* The longest unique-id (RFC 1939 7: 1 to 70 characters 0x21..0x7e). */
#define POP3_UIDL_MAX 70

/* pop3_maildrop_open - lock and list the Maildir mailbox (the directory's
 * path, relative to base or absolute below it). A Maildir that does not
 * exist yet (never delivered to) is an empty maildrop. hostname names the
 * mailbox index's temporary files. OK and *md_r, or another result with
 * *error_r (malloc'd; NULL for IN_USE). */
enum pop3_maildrop_result pop3_maildrop_open(const char *base, const char *mailbox,
                                             const char *hostname, struct pop3_maildrop **md_r,
                                             char **error_r);

/* pop3_maildrop_close - unlock and free *md, NULL it; nothing is deleted. */
void pop3_maildrop_close(struct pop3_maildrop **md);

enum pop3_msg_state {
    POP3_MSG_OK,
    POP3_MSG_NO_SUCH, /* 0, or past the last message of the session */
    POP3_MSG_DELETED, /* marked by DELE (RFC 1939 5: such a message is not listed) */
};

/* pop3_maildrop_msg - whether message n (1-based) may be used now. */
enum pop3_msg_state pop3_maildrop_msg(const struct pop3_maildrop *md, unsigned long n);

/* The messages of the session (deleted ones included): 1..count. */
size_t pop3_maildrop_count(const struct pop3_maildrop *md);
/* pop3_maildrop_stat - the messages not marked deleted, and their octets. */
void pop3_maildrop_stat(const struct pop3_maildrop *md, size_t *count_r, uint64_t *octets_r);

/* For a message n in range: its size with CRLF line ends (RFC 1939 5,
 * LIST), and its unique-id (UIDL): the UID validity and UID of the
 * mailbox's index, which stay the same across sessions and restarts. */
uint64_t pop3_maildrop_size(const struct pop3_maildrop *md, unsigned long n);
void pop3_maildrop_uidl(const struct pop3_maildrop *md, unsigned long n,
                        char out[POP3_UIDL_MAX + 1]);

/* pop3_maildrop_delete - mark n deleted; pop3_maildrop_reset - unmark all. */
void pop3_maildrop_delete(struct pop3_maildrop *md, unsigned long n);
void pop3_maildrop_reset(struct pop3_maildrop *md);

/* pop3_maildrop_open_msg - n's file for reading: OK and *fd_r (the caller
 * closes it); GONE when another program deleted it; TEMPFAIL with *error_r. */
enum mailbox_result pop3_maildrop_open_msg(struct pop3_maildrop *md, unsigned long n, int *fd_r,
                                           char **error_r);

/* pop3_maildrop_update - the UPDATE state (RFC 1939 6): remove every
 * message marked deleted (one already gone counts as removed). *failed_r:
 * how many could not be removed (their error logged); *removed_r likewise. */
void pop3_maildrop_update(struct pop3_maildrop *md, size_t *removed_r, size_t *failed_r);

#endif
