/* reader/pop3_maildrop.c - see pop3_maildrop.h.
 *
 * The lock is flock(2) on the Maildir folder itself, held through the
 * descriptor (and the mailbox's dup of it) until the session ends: like
 * Dovecot's POP3 lock it keeps two POP3 sessions from deleting under each
 * other's numbering, and a process that dies drops it with its descriptors.
 * Delivery and IMAP take no part in it; what they change under a session is
 * seen as GONE when the message is read, never as a wrong message, because
 * the session never resyncs the mailbox (its indexes stay those of login). */
#include "config.h"

#include "reader/pop3_maildrop.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "delivery/maildir_path.h"
#include "lib/log.h"

struct pop3_maildrop {
    int fd; /* the Maildir, locked; -1 for a maildrop that does not exist yet */
    struct mailbox *mailbox;
    size_t count;  /* messages at login */
    bool *deleted; /* count of them */
};

static void set_error(char **error_r, const char *what, const char *detail)
{
    size_t len = strlen(what) + strlen(detail) + 3;
    char *e = malloc(len);
    if (e != NULL)
        snprintf(e, len, "%s: %s", what, detail);
    *error_r = e;
}

enum pop3_maildrop_result pop3_maildrop_open(const char *base, const char *mailbox,
                                             const char *hostname, struct pop3_maildrop **md_r,
                                             char **error_r)
{
    *md_r = NULL;
    *error_r = NULL;
    struct pop3_maildrop *md = calloc(1, sizeof *md);
    if (md == NULL) {
        set_error(error_r, "maildrop", "out of memory");
        return POP3_MAILDROP_TEMPFAIL;
    }
    md->fd = -1;
    char *err = NULL;
    switch (maildir_path_open(base, mailbox, false, &md->fd, &err)) {
    case MAILDIR_PATH_OK:
        break;
    case MAILDIR_PATH_MISSING:
        /* never delivered to: an empty maildrop, nothing to lock */
        free(err);
        *md_r = md;
        return POP3_MAILDROP_OK;
    case MAILDIR_PATH_UNSAFE:
        *error_r = err;
        free(md);
        return POP3_MAILDROP_UNSAFE;
    case MAILDIR_PATH_TEMPFAIL:
        *error_r = err;
        free(md);
        return POP3_MAILDROP_TEMPFAIL;
    }
    /* RFC 1939 4: exclusive access to the maildrop for the session */
    if (flock(md->fd, LOCK_EX | LOCK_NB) < 0) {
        int e = errno;
        close(md->fd);
        free(md);
        if (e == EWOULDBLOCK)
            return POP3_MAILDROP_IN_USE;
        set_error(error_r, "lock", strerror(e));
        return POP3_MAILDROP_TEMPFAIL;
    }
    /* POP3 leaves new/ alone: a message it fetched is still new to IMAP */
    switch (mailbox_open(md->fd, false, hostname, &md->mailbox, &err)) {
    case MAILBOX_OK:
        break;
    case MAILBOX_MISSING:
        free(err);
        *md_r = md;
        return POP3_MAILDROP_OK;
    case MAILBOX_GONE:
    case MAILBOX_TEMPFAIL:
        *error_r = err;
        pop3_maildrop_close(&md);
        return POP3_MAILDROP_TEMPFAIL;
    }
    md->count = mailbox_count(md->mailbox);
    md->deleted = calloc(md->count > 0 ? md->count : 1, sizeof *md->deleted);
    if (md->deleted == NULL) {
        set_error(error_r, "maildrop", "out of memory");
        pop3_maildrop_close(&md);
        return POP3_MAILDROP_TEMPFAIL;
    }
    *md_r = md;
    return POP3_MAILDROP_OK;
}

void pop3_maildrop_close(struct pop3_maildrop **mdp)
{
    struct pop3_maildrop *md = *mdp;
    if (md == NULL)
        return;
    *mdp = NULL;
    mailbox_close(&md->mailbox);
    if (md->fd >= 0)
        close(md->fd); /* the last descriptor of the folder: the lock goes */
    free(md->deleted);
    free(md);
}

enum pop3_msg_state pop3_maildrop_msg(const struct pop3_maildrop *md, unsigned long n)
{
    if (n == 0 || n > md->count)
        return POP3_MSG_NO_SUCH;
    return md->deleted[n - 1] ? POP3_MSG_DELETED : POP3_MSG_OK;
}

size_t pop3_maildrop_count(const struct pop3_maildrop *md)
{
    return md->count;
}

void pop3_maildrop_stat(const struct pop3_maildrop *md, size_t *count_r, uint64_t *octets_r)
{
    size_t count = 0;
    uint64_t octets = 0;
    for (size_t i = 0; i < md->count; i++) {
        if (md->deleted[i])
            continue;
        count++;
        octets += mailbox_msg(md->mailbox, i)->size;
    }
    *count_r = count;
    *octets_r = octets;
}

uint64_t pop3_maildrop_size(const struct pop3_maildrop *md, unsigned long n)
{
    return mailbox_msg(md->mailbox, n - 1)->size;
}

void pop3_maildrop_uidl(const struct pop3_maildrop *md, unsigned long n,
                        char out[POP3_UIDL_MAX + 1])
{
    /* Dovecot's default pop3_uidl_format (%08Xu%08Xv) in the other order:
     * unique while the index lives, and if it is ever lost the new UID
     * validity gives every message a new unique-id, never an old one's. */
    snprintf(out, POP3_UIDL_MAX + 1, "%08X%08X", (unsigned)mailbox_uidvalidity(md->mailbox),
             (unsigned)mailbox_msg(md->mailbox, n - 1)->uid);
}

void pop3_maildrop_delete(struct pop3_maildrop *md, unsigned long n)
{
    md->deleted[n - 1] = true;
}

void pop3_maildrop_reset(struct pop3_maildrop *md)
{
    for (size_t i = 0; i < md->count; i++)
        md->deleted[i] = false;
}

enum mailbox_result pop3_maildrop_open_msg(struct pop3_maildrop *md, unsigned long n, int *fd_r,
                                           char **error_r)
{
    return mailbox_msg_open(md->mailbox, n - 1, fd_r, error_r);
}

void pop3_maildrop_update(struct pop3_maildrop *md, size_t *removed_r, size_t *failed_r)
{
    size_t removed = 0, failed = 0, marked = 0;
    char *berr = NULL;
    for (size_t i = 0; i < md->count; i++)
        marked += md->deleted[i];
    *removed_r = *failed_r = 0;
    if (marked == 0)
        return; /* also a maildrop never delivered to: no mailbox */
    /* one lock and one index write for all of them */
    if (mailbox_change_begin(md->mailbox, &berr) != MAILBOX_OK) {
        log_error("event=pop3_expunge_failed error=\"%s\"", berr != NULL ? berr : "?");
        free(berr);
        *failed_r = marked;
        return;
    }
    for (size_t i = 0; i < md->count; i++) {
        if (!md->deleted[i])
            continue;
        char *err = NULL;
        enum mailbox_result r = mailbox_msg_expunge(md->mailbox, i, &err);
        if (r == MAILBOX_OK || r == MAILBOX_GONE) {
            removed++;
        } else {
            failed++;
            log_error("event=pop3_expunge_failed uid=%u error=\"%s\"",
                      (unsigned)mailbox_msg(md->mailbox, i)->uid, err != NULL ? err : "?");
        }
        free(err);
    }
    mailbox_change_end(md->mailbox);
    *removed_r = removed;
    *failed_r = failed;
}
