/* queue/queue.h - the durable spool under <state_dir>/queue: accept a
 * message and its envelope so that it survives any crash once commit returns,
 * hand committed messages to the runner, record per-recipient results, remove
 * finished messages. It never routes or delivers anything (the runner does).
 *
 * Layout (all directories mode 0700, owned by the mail user: the caller runs
 * as that user, or chowns the folder before the privilege drop):
 *     tmp/<id>          message being received (as received: CRLF, unstuffed)
 *     active/<id>       committed spool file: the message, then its envelope
 *                       (queue_envelope.h format), then a fixed 39-octet
 *                       trailer "DMQ1 <message length> <envelope length>\n"
 *                       (16 hex digits each); its presence is what makes
 *                       the message exist
 *     active/<id>.st    status records, appended per recipient result
 *     free/<old id>     emptied files of removed messages, kept for reuse
 *
 * Reuse: queue_remove renames a message's file into free/ (up to 4096 at a
 * time) instead of unlinking it, and queue_msg_begin takes one from there
 * (renamed to tmp/<id>, truncated) before it creates a new file. On ext4
 * without a journal a new inode costs a scan past every recently deleted
 * one, which was the largest cost of an accept under load; elsewhere it
 * saves the inode's allocation and freeing. A file in free/ is no message:
 * scans ignore the folder, and queue_cleanup deletes what was not reused
 * within its grace.
 *
 * One file per message: one inode, one fsync and one rename per commit,
 * where a separate envelope file cost a second of each. The envelope goes
 * after the message because it is complete only at the end of DATA (its
 * size); the trailer lets a reader find it with one pread.
 *
 * Commit: flush tmp/<id>, append the envelope and the trailer, fsync it,
 * rename it into active/ (RENAME_NOREPLACE), fsync active/. Only after that
 * fsync does commit return, and only then may the 250 name the id (RFC 5321
 * 6.1). A crash before the rename leaves a file in tmp/, never acknowledged,
 * which queue_cleanup deletes; the file is complete before it is renamed,
 * so active/ never holds a partial one.
 *
 * Per-recipient results are appended to <id>.st and fsync'd (plus active/ the
 * first time the file is created) rather than rewriting the envelope: one
 * small append and one fsync, where a rewrite costs a write, an fsync, a
 * rename and a directory fsync, and an append cannot lose the envelope it
 * sits beside. A torn last line is an unacknowledged append and is ignored.
 * Results are recorded before the message is removed, so a crash between
 * mark and remove leaves it scannable with those recipients final: nothing
 * already delivered is delivered again. queue_remove takes <id> out of
 * active/ first (into free/, or unlinked) and fsyncs active/, then unlinks
 * the .st.
 *
 * Throughput (group commit): queue_msg_commit is queue_msg_stage followed by
 * queue_sync. Several threads may commit on one struct queue at once (the
 * SMTP sessions' pool threads do): their file fsyncs run in parallel, which
 * the file system's journal merges, and queue_sync shares one fsync of
 * active/ among every message staged (or removed) before it began, each
 * caller waiting for an fsync that began after its own rename or unlink. A
 * caller holding several finished messages may also stage each one and call
 * queue_sync once. N messages then cost N file fsyncs (concurrent) and far
 * fewer than N directory fsyncs.
 *
 * Threads: queue_msg_begin/write/stage/commit/abort, queue_sync and the
 * functions on committed ids may be called from several threads on one
 * struct queue (a struct queue_msg belongs to one thread at a time);
 * queue_open and queue_close may not run concurrently with anything else.
 * Several processes may share one spool (ids carry the pid). */
#ifndef DIRMAIL_GATEWAY_QUEUE_H
#define DIRMAIL_GATEWAY_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "queue/queue_envelope.h"

struct queue;
struct queue_msg;

/* queue_open - open the spool at dir, creating dir, tmp/ and active/ (0700)
 * when missing. 0 and *queue_r, or -1 and *error_r (malloc'd). */
int queue_open(const char *dir, struct queue **queue_r, char **error_r);

/* queue_close - close the spool; NULLs *queue. Staged but unsynced messages
 * are synced first (so nothing staged is lost by forgetting queue_sync). */
void queue_close(struct queue **queue);

/* queue_cleanup - at start: delete files in tmp/ and free/, and status files in
 * active/ whose message is gone (an .st alone), last written
 * more than grace_seconds ago: none was ever acknowledged. The grace protects
 * messages other processes are receiving now, so it must exceed the DATA
 * timeouts (RFC 5321 4.5.3.2: 10 minutes; one hour is a safe choice). A
 * file in tmp/ whose writer (the pid in its id) no longer runs goes at once,
 * whatever its age: after a crash of the whole tree, at the next start.
 * *removed_r (may be NULL) counts deleted files. 0, or -1 and *error_r. */
int queue_cleanup(struct queue *queue, unsigned grace_seconds, unsigned *removed_r, char **error_r);

/* queue_free_space - the octets free on the spool's file system for an
 * unprivileged user (fstatvfs on the spool folder: f_bavail * f_frsize, not
 * counting the blocks reserved for root), so that the SMTP session can
 * refuse a message with 452 4.3.1 before the disk fills up rather than
 * fail in the middle of it. 0 and *bytes_r, or -1 and *error_r (a temporary
 * failure: the caller answers 4xx, never 5xx). Thread-safe. */
int queue_free_space(struct queue *queue, uint64_t *bytes_r, char **error_r);

/* queue_msg_begin ... queue_msg_abort: the spool's side of writing a
 * message. Everything that makes mail goes through queue/queue_inject.h
 * instead (the one inject path); these are for it and the spool's tests. */

/* queue_msg_begin - start a message: a new id and tmp/<id>. NULL and
 * *error_r on failure. The id is known from here on (for the Received
 * header). */
struct queue_msg *queue_msg_begin(struct queue *queue, char **error_r);

/* queue_msg_id - the message's id (QUEUE_ID_LEN characters). */
const char *queue_msg_id(const struct queue_msg *msg);

/* queue_msg_write - append message bytes (buffered). 0, or -1 and *error_r;
 * after a failure only queue_msg_abort is allowed. */
int queue_msg_write(struct queue_msg *msg, const void *data, size_t len, char **error_r);

/* queue_msg_stage - write env after the message, fsync the file and move it
 * into active/; env->id and env->size are set from the message (and
 * env->arrival when 0). The message is NOT yet durable: call queue_sync
 * before acknowledging it. Frees the writer and NULLs *msg in every case;
 * on failure (-1, *error_r) every file of the message is removed. */
int queue_msg_stage(struct queue_msg **msg, struct queue_envelope *env, char **error_r);

/* queue_sync - make every message staged before the call durable: wait for
 * (or run) an fsync of active/ begun after the last of them was staged; 0
 * at once when nothing is pending. Thread-safe (group commit, above). On -1 (*error_r) the caller
 * must not acknowledge the staged messages (answer 451; they may still be delivered: at worst
 * twice, never lost). */
int queue_sync(struct queue *queue, char **error_r);

/* queue_msg_commit - queue_msg_stage then queue_sync: when it returns 0 the
 * message is durable and env->id is the id for the 250 reply. */
int queue_msg_commit(struct queue_msg **msg, struct queue_envelope *env, char **error_r);

/* queue_msg_abort - drop an unfinished message and its tmp file; NULL is fine. */
void queue_msg_abort(struct queue_msg **msg);

/* queue_scan - the ids of every committed message, oldest first, including
 * those a dead process was delivering. *ids_r is a malloc'd array of
 * malloc'd strings freed with queue_ids_free. 0, or -1 and *error_r. */
int queue_scan(struct queue *queue, char ***ids_r, size_t *count_r, char **error_r);
void queue_ids_free(char ***ids, size_t count);

/* queue_id_valid - id has the queue id form (so it is safe in a path). */
bool queue_id_valid(const char *id);

/* queue_load_envelope - the envelope of id with every recorded recipient
 * result applied. 0 and *env_r (free with queue_envelope_free), or -1 and
 * *error_r. */
int queue_load_envelope(struct queue *queue, const char *id, struct queue_envelope **env_r,
                        char **error_r);

/* queue_open_message - a read-only fd on the spool file of id, at offset 0,
 * and *len_r, the message's length: read exactly that many octets (the
 * envelope follows them). 0, or -1 and *error_r. */
int queue_open_message(struct queue *queue, const char *id, int *fd_r, uint64_t *len_r,
                       char **error_r);

/* One recipient result for queue_mark_recipients. */
struct queue_mark {
    size_t index;                /* into the envelope's rcpts */
    enum queue_rcpt_state state; /* DELIVERED, DEFERRED or FAILED */
    time_t when;                 /* DEFERRED: next retry; otherwise 0 means now */
    const char *reply;           /* DEFERRED/FAILED: the reply to keep for the bounce or log */
    bool warned; /* instead of a state: a "warned" record (its delay warning is queued) */
};

/* queue_mark_recipients - append the results to id's status file in one
 * write and fsync it: when 0 is returned they survive a crash. -1 and
 * *error_r otherwise (the caller must then treat the results as not
 * recorded: a delivered recipient may be delivered again, never lost). */
int queue_mark_recipients(struct queue *queue, const char *id, const struct queue_mark *marks,
                          size_t count, char **error_r);

/* queue_mark_recipient - one result; see queue_mark_recipients. */
int queue_mark_recipient(struct queue *queue, const char *id, size_t index,
                         enum queue_rcpt_state state, time_t when, const char *reply,
                         char **error_r);

/* queue_mark_hold - append a message-level "held" record (held true) or
 * "released" record to id's status file and fsync it: a held message is
 * never attempted until it is released (queue_envelope.h), across
 * restarts. 0, or -1 and *error_r (no such message, I/O). */
int queue_mark_hold(struct queue *queue, const char *id, bool held, char **error_r);

/* queue_remove - delete a message whose recipients are all final; durable
 * (a group-committed fsync of active/) when 0 is returned. 0, or -1 and
 * *error_r. */
int queue_remove(struct queue *queue, const char *id, char **error_r);

/* queue_remove_stage - queue_remove in two halves, for a caller removing
 * several messages: take each one's spool file out of active/ with
 * queue_remove_stage,
 * call queue_sync once (every removal is durable when it returns 0), then
 * queue_remove_status for each (its status file; best effort, queue_cleanup
 * removes leftovers). 0, or -1 and *error_r (nothing was removed). */
int queue_remove_stage(struct queue *queue, const char *id, char **error_r);
void queue_remove_status(struct queue *queue, const char *id);

#endif
