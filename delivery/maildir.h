/* delivery/maildir.h - writes one message into one Maildir (cr.yp.to/proto/maildir.html)
 * or one of its Maildir++ folders: tmp/ write, fsync, link into new/, fsync new/.
 * Creates the Maildir on first delivery; checks the Maildir++ quota (maildir_quota.h).
 * It never decides who the recipient is, never reads the directory, never follows a
 * symlink below the configured base, and never writes outside that base.
 *
 * Line endings: SMTP hands us CRLF; the file on disk has LF line endings, as
 * Postfix's and Dovecot's Maildirs do (IMAP/POP3 readers convert back). Every
 * CRLF pair becomes LF; a CR not followed by LF is kept as is (the gateway
 * already refuses bare CR in DATA), and a bare LF stays LF (so LF-only input
 * from dirmail-deliver is stored unchanged). The ",S=<size>" in the file name is the size
 * of the file on disk (after conversion, with the prepended trace headers), which
 * is what Maildir++ quota accounting and readers expect; ",W=<size>" after it
 * (Dovecot's convention) is the size with every LF as CRLF, what POP3 and
 * IMAP report (left out only when the name would get too long).
 *
 * What is fsync'd when (a caller may record the delivery as done only after
 * maildir_delivery_finish returned MAILDIR_DELIVERED):
 *   - a folder this module creates (the mailbox path, cur/new/tmp): its
 *     parent, in maildir_delivery_finish after new/ (the message's own fsync
 *     commits the mkdirs too on a journalled file system, so this finds
 *     nothing left to write). Another thread's delivery that walks through
 *     such a folder before its creator got there fsyncs that parent too
 *     (the process keeps a table of them), so no delivery counts before
 *     the path to it is durable. A Maildir++ folder's parent is fsync'd
 *     right after its mkdir;
 *   - the message: its file in tmp/ (after the last write), then new/ after
 *     the link. Should the fsync of new/ fail, the new/ entry is unlinked
 *     again so that the retry does not leave two copies;
 *   - not fsync'd: the tmp/ unlink (a crash leaves at most a stale tmp/
 *     name for the same inode, which readers ignore) and the maildirsize
 *     append (an estimate that recalculation repairs).
 * Every delivery pays its own two fsyncs (a caller may order those of several
 * deliveries so that they share journal commits: maildir_delivery_finish). */
#ifndef DIRMAIL_DELIVERY_MAILDIR_H
#define DIRMAIL_DELIVERY_MAILDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "delivery/maildir_result.h"

/* Where one delivery goes. Nothing here is copied; it must outlive the delivery. */
struct maildir_target {
    /* The configured mailbox base (config_delivery.mailbox_base): trusted, must
     * exist. Everything is created and opened below it. */
    const char *base;
    /* The mailbox path from the directory: untrusted. Relative to base; an
     * absolute path is accepted only when it lies below base ("base/..."). No
     * "..", ".", empty component or symlink anywhere below base; one trailing
     * "/" is allowed ("user/Maildir/" as qmail-ldap writes it). */
    const char *mailbox;
    /* Maildir++ folder name without the leading dot ("Lists.dev" is the
     * subfolder dev of Lists, stored as ".Lists.dev"); NULL or "" is the INBOX.
     * Refused: "/", a leading, trailing or doubled ".", control bytes. */
    const char *folder;
    /* Flags to store the message with, as Maildir info letters ("S",
     * "FS", and the folder's keyword letters a-z, maildir_keywords.h;
     * others are ignored): the file is linked into cur/ as
     * "<name>:2,<flags>" instead of into new/. NULL or "": none, new/. */
    const char *flags;
    /* Our host name for unique file names; NULL: gethostname(). */
    const char *hostname;
    /* Maildir++ quota for the whole Maildir (all folders); 0 = no limit. */
    uint64_t quota_bytes;
    uint64_t quota_messages;
    /* Whether exceeding the quota is a permanent failure (5.2.2 bounce) or a
     * temporary one (4.2.2, retried): the site's choice. */
    bool quota_permanent;
    /* The caller makes the file system durable itself (syncfs, fs_sync.h)
     * after maildir_delivery_written and again after maildir_delivery_link:
     * link and finish then skip their fsyncs. May be changed until link. */
    bool sync_by_caller;
    /* NULL: every attempt gets a new unique name (maildir_unique_name).
     * Otherwise a key that names this one delivery across attempts and
     * crashes (letters and digits, maildir_stable_name), and stable_time the
     * time part of the name: an attempt that finds the name already linked
     * in new/ answers MAILDIR_ALREADY_DELIVERED instead of a second copy. */
    const char *stable_key;
    long long stable_time;
    /* With stable_key: before writing, also look for the name in new/ and
     * cur/ (a reader may have moved it, with flags). One readdir of each,
     * so only for an attempt that may follow an unrecorded one. */
    bool check_delivered;
    /* The message as given, without the Return-Path and Delivered-To this
     * module adds for a final delivery (RFC 5321 4.4): IMAP APPEND and COPY
     * store a message a client already has. */
    bool no_trace_fields;
};

struct maildir_delivery;

/* maildir_delivery_begin - open (creating as needed) the Maildir and folder and
 * a new file in its tmp/, and write the trace headers:
 *     Return-Path: <sender>        (RFC 5321 4.4; "" or NULL sender gives <>)
 *     Delivered-To: recipient
 * sender and recipient must not contain CR, LF or other control bytes
 * (MAILDIR_PERMFAIL). On MAILDIR_DELIVERED (meaning "ready") *delivery_r is set;
 * otherwise *error_r is a malloc'd message the caller frees. A Maildir already
 * over its quota gives MAILDIR_QUOTA_EXCEEDED here. With check_delivered,
 * a delivery found already in new/ or cur/ is still "ready": its writes are
 * dropped, and link and finish answer MAILDIR_ALREADY_DELIVERED (finish's
 * path_r naming the earlier file), so callers need no second path.
 *
 * Maildir convention: files in tmp/ that nobody touched for 36 hours are a
 * crashed writer's; begin removes them, looking at each tmp/ at most once an
 * hour (a process-wide table of the folders it looked at). */
enum maildir_result maildir_delivery_begin(const struct maildir_target *target, const char *sender,
                                           const char *recipient,
                                           struct maildir_delivery **delivery_r, char **error_r);

/* maildir_delivery_write - append message bytes (CRLF line endings, chunks of
 * any size, a CRLF may be split between chunks). MAILDIR_DELIVERED on success;
 * on failure the delivery must still be finished or aborted. */
enum maildir_result maildir_delivery_write(struct maildir_delivery *delivery, const void *data,
                                           size_t len, char **error_r);

/* maildir_delivery_written - no more bytes will come: flush them and start
 * the file's write-back (first step of finishing, see below). */
enum maildir_result maildir_delivery_written(struct maildir_delivery *delivery, char **error_r);

/* maildir_delivery_link - written, then fsync the file, check the quota with
 * the final size and link it into new/ as "<unique>,S=<size>". Not durable
 * yet (new/ is not fsync'd): finish or abort the delivery after it; abort
 * takes the link back. */
enum maildir_result maildir_delivery_link(struct maildir_delivery *delivery, char **error_r);

/* maildir_delivery_finish - whatever of written and link is not done yet,
 * then fsync new/ and unlink from tmp/. Frees the delivery and NULLs
 * *delivery whatever the result; on failure nothing is left in tmp/ or new/.
 * When path_r is not NULL and the result is MAILDIR_DELIVERED (or
 * MAILDIR_ALREADY_DELIVERED), *path_r is the malloc'd path of the new (or
 * earlier) file relative to base (for logs and tests).
 *
 * Batching: a caller holding several deliveries calls written on each, then
 * link on each, then finish on each. On a journalled file system the first
 * fsync of each round commits what the others changed too, so the rest find
 * little or nothing left to write: a batch costs about two journal commits
 * instead of two per message. Every delivery still gets its own fsyncs, so
 * the order is as safe as one at a time on any file system. */
enum maildir_result maildir_delivery_finish(struct maildir_delivery **delivery, char **path_r,
                                            char **error_r);

/* maildir_delivery_dir_fd - the delivery's new/ folder (for fs_sync). */
int maildir_delivery_dir_fd(const struct maildir_delivery *delivery);

/* maildir_delivery_abort - drop the delivery and its tmp/ file; NULL is fine. */
void maildir_delivery_abort(struct maildir_delivery **delivery);

/* maildir_deliver_fd - the whole delivery reading the message from fd: len
 * octets from its current offset, or to EOF when len is MAILDIR_TO_EOF (CRLF
 * line endings). A read error, or EOF before len octets, is TEMPFAIL. */
#define MAILDIR_TO_EOF UINT64_MAX
enum maildir_result maildir_deliver_fd(const struct maildir_target *target, const char *sender,
                                       const char *recipient, int fd, uint64_t len, char **path_r,
                                       char **error_r);

/* maildir_deliver_fd_begin - maildir_deliver_fd up to maildir_delivery_written:
 * on MAILDIR_DELIVERED (meaning "written") *delivery_r is to be linked and
 * finished (or aborted) by the caller, in a batch with others. */
enum maildir_result maildir_deliver_fd_begin(const struct maildir_target *target,
                                             const char *sender, const char *recipient, int fd,
                                             uint64_t len, struct maildir_delivery **delivery_r,
                                             char **error_r);

/* maildir_result_permanent - true when the result must not be retried:
 * PERMFAIL, and QUOTA_EXCEEDED when target->quota_permanent. */
bool maildir_result_permanent(enum maildir_result result, const struct maildir_target *target);

#endif
