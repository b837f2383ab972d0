/* delivery/fs_sync.h - whether one syncfs(2) makes everything written to a
 * file system durable (it journals its metadata), and the syncfs itself.
 * Local delivery (local_delivery.h) uses them to settle a batch of Maildir
 * deliveries with one journal commit and cache flush instead of one per
 * file and folder. */
#ifndef DIRMAIL_DELIVERY_FS_SYNC_H
#define DIRMAIL_DELIVERY_FS_SYNC_H

#include <stdbool.h>

/* fs_sync_journalled - true when the file system of fd journals its
 * metadata, so that a successful syncfs(2) leaves every file and folder
 * written before it on stable storage: XFS, btrfs, and ext4 with a journal
 * (the device has an entry in /proc/fs/jbd2). False for every other file
 * system and whenever it cannot be told: ext4 without a journal writes its
 * folders' blocks after syncfs's cache flush (fs/sync.c), so there only
 * fsync is safe. *what_r (may be NULL) names the file system for the log. */
bool fs_sync_journalled(int fd, const char **what_r);

/* fs_sync - syncfs(2) on the file system of fd. 0, or -1 and *error_r: a
 * write-back error since fd was opened or the last fs_sync on it (Linux
 * 5.8 and later report those), so what was written may not be durable. */
int fs_sync(int fd, char **error_r);

#endif
