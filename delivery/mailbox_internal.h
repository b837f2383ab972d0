/* delivery/mailbox_internal.h - what the mailbox layer's files share: the
 * open folder's state and the listing of new/ and cur/ (mailbox.c: listing
 * and sync; mailbox_file.c: the index file and its lock; mailbox_msg.c: one
 * message's file and change batches). */
#ifndef DIRMAIL_DELIVERY_MAILBOX_INTERNAL_H
#define DIRMAIL_DELIVERY_MAILBOX_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#include "delivery/mailbox.h"
#include "delivery/mailbox_index.h"

/* A listing is retried when new/ or cur/ changed while it was read (a
 * rename during readdir may hide an entry); after this many it is used
 * (a message looked for again by its base: as many tries). */
#define SCAN_TRIES 3

struct mailbox {
    int fd;      /* the folder */
    int root_fd; /* the Maildir holding maildirsize: fd, or ".." of a Maildir++ folder */
    bool move_new;
    char *hostname;
    struct mailbox_index index;
    struct stat index_st; /* the index file as last read or written */
    bool index_st_valid;
    /* that file, kept open so that its inode number cannot be given to a
     * newer index while we compare against it (doc/mailbox.md) */
    int index_fd;
    struct timespec last_scan; /* when this handle's last listing began; {0,0}: never */
    bool force_scan;           /* our own changes could not be told apart: list next time */
    bool msgs_stale;           /* msgs must be rebuilt from index at the next sync */
    /* a change batch (mailbox_change_begin): the held lock, whether the
     * index and the directories were exactly as we last knew them when it
     * began, and whether anything was renamed or removed in it */
    int lock_fd;
    bool batch_explained;
    bool batch_changed;
    struct mailbox_msg *msgs; /* index.entries as the API shows them */
    char **old_names;         /* names replaced by set_flags, freed at sync */
    size_t old_count;
};

/* One file of a listing. */
struct listed {
    char *name;
    size_t base_len;
    bool in_cur;
    bool used;
};

struct listing {
    struct listed *items;
    size_t count, alloc;
};

/* mailbox_listing_clear - free l's names and items; l is empty after. */
void mailbox_listing_clear(struct listing *l);

/* mailbox_flags_of - the DFPRST flags in name's ":2," info part. */
unsigned mailbox_flags_of(const char *name);

/* mailbox_list_dir - append cur/'s (in_cur) or new/'s message files to l;
 * a missing folder is empty. */
/* mailbox_lock_index - the index's OFD lock: its fd, or -1 with *error_r. */
int mailbox_lock_index(struct mailbox *mb, char **error_r);

/* mailbox_index_unchanged - whether the index file is still the one read or
 * written last (*missing_r: there is none). */
bool mailbox_index_unchanged(struct mailbox *mb, bool *missing_r);

/* mailbox_load_index - read the index file unless it is the one read or
 * written last (a missing or unreadable one is made afresh, *dirty_r: it
 * must be written; lock_fd held). */
enum mailbox_result mailbox_load_index(struct mailbox *mb, int lock_fd, bool *dirty_r,
                                       char **error_r);

/* mailbox_write_index - mb's index to the file (temporary file + rename),
 * fsync'd with the folder when durable (new UIDs were given). */
enum mailbox_result mailbox_write_index(struct mailbox *mb, bool durable, char **error_r);

/* mailbox_index_distrust - the index file rewritten as it is, with its
 * mtimes unknown, so that every handle lists the folder at its next sync;
 * ours will too (lock held). For a change of ours mixed with someone
 * else's: the index we hold may lack UIDs theirs has, so it is not written. */
enum mailbox_result mailbox_index_distrust(struct mailbox *mb, char **error_r);

/* mailbox_dir_mtimes - the mtimes of new/ and cur/ ({0,0} for a missing
 * one; *any_r when either exists). */
enum mailbox_result mailbox_dir_mtimes(struct mailbox *mb, struct timespec ts[2], bool *any_r,
                                       char **error_r);

/* mailbox_batch_enter, mailbox_batch_leave - a change of one message inside
 * the caller's batch or, when there is none, a batch of its own; leave
 * records whether the change was made (mailbox.c). */
enum mailbox_result mailbox_batch_enter(struct mailbox *mb, bool *own_r, char **error_r);
void mailbox_batch_leave(struct mailbox *mb, bool own, bool changed);

enum mailbox_result mailbox_list_dir(struct mailbox *mb, bool in_cur, struct listing *l,
                                     char **error_r);

#endif
