/* delivery/maildir_dirs.h - the Maildir writer's folders: opened or created
 * without following symlinks, their parents' fsyncs deferred to the end of
 * the delivery and shared between the deliveries of this process (so that
 * none counts a message delivered below a folder not yet durable); the
 * walk from the mailbox base, the stale-tmp/ sweep, and the search of new/
 * or cur/ for an earlier delivery by its base name. */
#ifndef DIRMAIL_DELIVERY_MAILDIR_DIRS_H
#define DIRMAIL_DELIVERY_MAILDIR_DIRS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <unistd.h>

#include "delivery/maildir_result.h"

#define MAX_DEFERRED_SYNCS 8

/* Folders whose new entries still need an fsync: done in
 * maildir_delivery_finish after the message's own fsyncs rather than right
 * after each mkdir. On a journalled file system the message's fsync then
 * commits the mkdirs too, and these fsyncs find nothing left to write,
 * where an fsync right after each mkdir cost a journal commit apiece (and
 * a first delivery creates two or three folders). */
struct maildir_dir_syncs {
    int fds[MAX_DEFERRED_SYNCS];
    size_t count;
    /* the folders this delivery created and published in unsynced[] */
    struct folder_key {
        dev_t dev;
        ino_t ino;
    } created[MAX_DEFERRED_SYNCS * 3];
    size_t created_count;
};

/* maildir_fd_close - close *fd if open and mark it closed. */
static inline void maildir_fd_close(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

/* maildir_dir_open - open (creating with mode 0700 when missing) the folder
 * name below dir_fd, never through a symlink. *parent_sync_r tells the
 * caller that dir_fd must be fsync'd before the delivery counts: this call
 * created the folder (recorded in syncs when given), or another delivery
 * did and has not fsync'd dir_fd yet. */
enum maildir_result maildir_dir_open(int dir_fd, const char *name, int *fd_r, bool *parent_sync_r,
                                     struct maildir_dir_syncs *syncs, char **error_r);

/* maildir_dir_sync - fsync a directory after creating entries in it. */
enum maildir_result maildir_dir_sync(int fd, const char *what, char **error_r);

/* maildir_dir_defer_sync - dir_fd must be fsync'd before the delivery
 * counts: done by maildir_dir_run_syncs (at once past MAX_DEFERRED_SYNCS). */
enum maildir_result maildir_dir_defer_sync(struct maildir_dir_syncs *syncs, int dir_fd,
                                           const char *what, char **error_r);

/* maildir_dir_syncs_done - the deferred folders are durable (fsync'd, or by
 * the caller's syncfs): the folders syncs created stop counting as not
 * durable for other deliveries. */
void maildir_dir_syncs_done(struct maildir_dir_syncs *syncs);

/* maildir_dir_run_syncs - fsync every deferred folder, innermost first,
 * then maildir_dir_syncs_done. */
enum maildir_result maildir_dir_run_syncs(struct maildir_dir_syncs *syncs, char **error_r);

/* maildir_dir_close_syncs - for a delivery that ends without run_syncs
 * (failure, abort): the parents are still fsync'd, best effort. */
void maildir_dir_close_syncs(struct maildir_dir_syncs *syncs);

/* maildir_dir_open_mailbox - walk the untrusted mailbox path below base,
 * creating what is missing (nothing outside base, maildir_path.h). */
enum maildir_result maildir_dir_open_mailbox(const char *base, const char *mailbox, int *fd_r,
                                             struct maildir_dir_syncs *syncs, char **error_r);

/* maildir_folder_valid - a Maildir++ folder name without its leading dot:
 * dot-separated non-empty parts, no "/", no control bytes. */
bool maildir_folder_valid(const char *folder);

/* maildir_dir_open_folder - the Maildir++ folder ".<folder>" of the Maildir
 * at root_fd into *box_fd_r, created with its "maildirfolder" marker on
 * first use (and the root fsync'd then). Its cur/new/tmp are the caller's
 * (maildir_dir_open_subdirs). */
enum maildir_result maildir_dir_open_folder(int root_fd, const char *folder, int *box_fd_r,
                                            char **error_r);

/* maildir_dir_open_subdirs - open new/ and tmp/ of the Maildir at box_fd
 * (either output may be NULL), creating cur, new and tmp the first time. */
enum maildir_result maildir_dir_open_subdirs(int box_fd, int *new_fd_r, int *tmp_fd_r,
                                             struct maildir_dir_syncs *syncs, char **error_r);

/* maildir_dir_sweep_tmp - remove the files of crashed writers from tmp/
 * (open at tmp_fd), at most once an hour per folder; best effort. */
void maildir_dir_sweep_tmp(int tmp_fd);

/* maildir_dir_find_base - whether sub/ ("new" or "cur") of box_fd holds the
 * message named base (any flags): 1 with *name_r (malloc'd "sub/<name>")
 * after fsyncing sub/, 0 when not there, -1 on an error (*error_r). */
int maildir_dir_find_base(int box_fd, const char *sub, const char *base, char **name_r,
                          char **error_r);

#endif
