/* delivery/maildir_quota.h - the Maildir++ quota file "maildirsize" in a
 * Maildir's root (Courier's README.maildirquota): a quota line "<bytes>S,<n>C"
 * followed by "<bytes> <count>" lines whose sums are the usage. It reads,
 * appends and recalculates that file; it never decides what a delivery does
 * with the answer (maildir.c does). */
#ifndef DIRMAIL_DELIVERY_MAILDIR_QUOTA_H
#define DIRMAIL_DELIVERY_MAILDIR_QUOTA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A file this large is recalculated (and so shrunk to two lines). */
#define MAILDIR_QUOTA_MAX_FILE 5120
/* Over quota and the file is older than this: recalculate before refusing. */
#define MAILDIR_QUOTA_STALE_SECONDS (15 * 60)

struct maildir_quota_limit {
    uint64_t bytes;    /* 0 = no byte limit */
    uint64_t messages; /* 0 = no message limit */
};

struct maildir_quota_usage {
    int64_t bytes; /* signed: the file's lines are deltas and may go negative */
    int64_t messages;
    bool stale; /* the file is older than MAILDIR_QUOTA_STALE_SECONDS */
};

/* maildir_quota_read - the usage of the Maildir open at root_fd. Reads
 * maildirsize; recalculates it (scanning new/ and cur/ of the root and of every
 * ".Folder", sizes from ",S=" or stat) when it is missing, unparsable, at least
 * MAILDIR_QUOTA_MAX_FILE bytes, its quota line differs from limit, or recalc
 * is true. hostname makes the temporary file name unique. 0, or -1 with
 * *error_r (malloc'd) on an I/O error. */
int maildir_quota_read(int root_fd, const struct maildir_quota_limit *limit, const char *hostname,
                       bool recalc, struct maildir_quota_usage *usage_r, char **error_r);

/* maildir_quota_scan_fn - one message file: its name and size. Nonzero
 * stops the scan. */
typedef int maildir_quota_scan_fn(void *ctx, const char *name, int64_t size);

/* maildir_quota_scan - fn for every message file in sub ("new" or "cur") of
 * the Maildir (or Maildir++ folder) open at maildir_fd, in readdir order:
 * names starting with "." are skipped; the size is the name's ",S="
 * (maildir_name_size), or without one the file's (lstat: what is not a
 * regular file, or is gone meanwhile, is skipped). A missing sub is empty.
 * 0, -1 with *error_r (malloc'd) on an I/O error, or fn's nonzero value.
 * The quota recalculation counts with it; readers list with it. */
int maildir_quota_scan(int maildir_fd, const char *sub, maildir_quota_scan_fn *fn, void *ctx,
                       char **error_r);

/* maildir_quota_exceeded - whether adding bytes and messages to usage goes
 * over limit. */
bool maildir_quota_exceeded(const struct maildir_quota_limit *limit,
                            const struct maildir_quota_usage *usage, uint64_t bytes,
                            uint64_t messages);

/* maildir_quota_add - append "<bytes> <messages>" to maildirsize in one
 * write(2) with O_APPEND (so concurrent deliveries do not interleave), when
 * the file exists; a missing file is left missing (the next read rebuilds it).
 * 0, or -1 with *error_r. Not fsync'd: the file is an estimate that a
 * recalculation repairs, as the Maildir++ spec intends. */
int maildir_quota_add(int root_fd, int64_t bytes, int64_t messages, char **error_r);

/* maildir_quota_format_limit - "<bytes>S,<n>C" (parts with 0 left out, "0S"
 * when there is no limit) into buf. 0, or -1 when it does not fit. */
int maildir_quota_format_limit(char *buf, size_t size, const struct maildir_quota_limit *limit);

#endif
