/* delivery/mailbox_internal.h - what the mailbox layer's files share: the
 * open folder's state and the listing of new/ and cur/ (mailbox.c: index and
 * sync; mailbox_msg.c: one message's file). */
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
enum mailbox_result mailbox_list_dir(struct mailbox *mb, bool in_cur, struct listing *l,
                                     char **error_r);

#endif
