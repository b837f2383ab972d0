/* delivery/mailbox.h - one Maildir folder as the readers see it: its
 * messages in UID order, each with a UID that never changes and is never
 * reused (kept in a small index file per folder, "dirmail-uidlist"), its size
 * with CRLF line ends and its flags from the file name (":2,DFPRST"). It
 * moves new/ files to cur/ as readers do and survives other sessions renaming
 * or deleting files under it. It never decides what a protocol answers; POP3,
 * IMAP, and later Sieve's fileinto and IMAP APPEND, share it.
 *
 * Concurrency (doc/mailbox.md): every listing holds an OFD lock on
 * "dirmail-uidlist.lock" around reading, merging and writing the index
 * (temporary file + rename), and new UIDs are given only under it; the
 * delivery side only links into new/. A session's own renames and unlinks
 * are made under that lock too and written through to the index, so that
 * the other sessions learn them by reading the index, not by listing the
 * folder. The folder is listed again only when the mtimes of new/ and cur/
 * differ from those the index recorded, when the index cannot vouch for
 * them (written less than two seconds after them) and this handle has not
 * listed the folder for two seconds, or when a change of ours could not be
 * told apart from someone else's. A file that vanished or was renamed under
 * us is looked up again by its base, else GONE. */
#ifndef DIRMAIL_DELIVERY_MAILBOX_H
#define DIRMAIL_DELIVERY_MAILBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mailbox;

enum mailbox_result {
    MAILBOX_OK,
    MAILBOX_GONE,     /* the message was deleted by another process */
    MAILBOX_MISSING,  /* the folder does not exist (never delivered to) */
    MAILBOX_TEMPFAIL, /* an I/O error; *error_r says which */
};

/* Flags as the Maildir info part writes them (":2," then these letters in
 * ASCII order), so that a mailbox moves between dirmail, Dovecot and
 * Courier. */
enum mailbox_flag {
    MAILBOX_FLAG_DRAFT = 1u << 0,   /* D */
    MAILBOX_FLAG_FLAGGED = 1u << 1, /* F */
    MAILBOX_FLAG_PASSED = 1u << 2,  /* P (forwarded) */
    MAILBOX_FLAG_REPLIED = 1u << 3, /* R (answered) */
    MAILBOX_FLAG_SEEN = 1u << 4,    /* S */
    MAILBOX_FLAG_TRASHED = 1u << 5, /* T (deleted) */
};

/* Keywords as Dovecot keeps them in a Maildir: the letters a-z of the info
 * part, each naming the keyword on its line of the folder's
 * "dovecot-keywords" (delivery/maildir_keywords.h). Letter 'a' + i is bit
 * MAILBOX_FLAG_KEYWORD(i) of the flags, above the DFPRST ones. */
#define MAILBOX_KEYWORDS_MAX 26
#define MAILBOX_FLAG_KEYWORD(i) (1u << (6 + (i)))
#define MAILBOX_FLAG_KEYWORDS (0x3ffffffu << 6)

/* One message of an open folder. The strings belong to the mailbox and live
 * until the next mailbox_sync or mailbox_close. */
struct mailbox_msg {
    uint32_t uid;
    const char *base;   /* the file name before ",S=" / ":2,": the key of the index */
    const char *name;   /* the file name now, in subdir */
    const char *subdir; /* "new" or "cur" */
    uint64_t size;      /* with CRLF line ends (the name's ",W=", else computed once) */
    unsigned flags;     /* enum mailbox_flag and MAILBOX_FLAG_KEYWORD bits */
};

/* mailbox_open - open the Maildir folder at maildir_fd (a Maildir root or a
 * Maildir++ ".Folder"; the mailbox keeps its own dup), read its index and list
 * it (mailbox_sync). With move_new, files in new/ are renamed to cur/ (with
 * ":2," appended) as a reader that has seen them does. hostname makes the
 * index's temporary file name unique. OK and *mailbox_r, or another result
 * with *error_r (malloc'd). */
enum mailbox_result mailbox_open(int maildir_fd, bool move_new, const char *hostname,
                                 struct mailbox **mailbox_r, char **error_r);

/* mailbox_close - free mailbox and set *mailbox to NULL; NULL is a no-op. */
void mailbox_close(struct mailbox **mailbox);

/* mailbox_sync - list the folder again: files that appeared get the next
 * UIDs (in the order of their base names, which begin with the delivery
 * time), files that vanished leave the list, renamed ones keep their UID. The
 * index is written (temporary file + rename) when it changed, and not
 * rescanned when the mtimes of new/ and cur/ say nothing did. */
enum mailbox_result mailbox_sync(struct mailbox *mailbox, char **error_r);

/* mailbox_want_scan - the next mailbox_sync lists the folder whatever the
 * mtimes say (IDLE after inotify said something changed: a change in the
 * same clock tick as the last one recorded leaves the mtime as it was). */
void mailbox_want_scan(struct mailbox *mailbox);

/* mailbox_change_begin, mailbox_change_end - around a run of
 * mailbox_msg_set_flags and mailbox_msg_expunge (a STORE, an EXPUNGE, a
 * POP3 UPDATE): the lock is taken once and the index written once at the
 * end; without them each call is its own run. The message list does not
 * change in between. begin: OK or TEMPFAIL with *error_r. */
enum mailbox_result mailbox_change_begin(struct mailbox *mailbox, char **error_r);
void mailbox_change_end(struct mailbox *mailbox);

uint32_t mailbox_uidvalidity(const struct mailbox *mailbox);
/* mailbox_folder_fd - the folder's directory (the mailbox's own): where
 * readers keep their per-folder caches beside the index. */
int mailbox_folder_fd(const struct mailbox *mailbox);
uint32_t mailbox_uidnext(const struct mailbox *mailbox);

/* mailbox_count - the messages listed by the last sync, in UID order. */
size_t mailbox_count(const struct mailbox *mailbox);
const struct mailbox_msg *mailbox_msg(const struct mailbox *mailbox, size_t index);

/* mailbox_msg_open - open message index for reading: OK and *fd_r (the
 * caller closes it); GONE when it was deleted meanwhile (a rename by another
 * session is followed by looking for its base again). */
enum mailbox_result mailbox_msg_open(struct mailbox *mailbox, size_t index, int *fd_r,
                                     char **error_r);

/* mailbox_msg_set_flags - rename message index's file to carry flags (in
 * cur/). GONE when it was deleted meanwhile. */
enum mailbox_result mailbox_msg_set_flags(struct mailbox *mailbox, size_t index, unsigned flags,
                                          char **error_r);

/* mailbox_msg_expunge - delete message index's file (ENOENT is OK: someone
 * else did) and keep maildirsize's usage right. Its UID is never given
 * again. */
enum mailbox_result mailbox_msg_expunge(struct mailbox *mailbox, size_t index, char **error_r);

#endif
