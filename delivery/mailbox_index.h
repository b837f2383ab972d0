/* delivery/mailbox_index.h - the text of a folder's UID index file,
 * "dirmail-uidlist": its UIDVALIDITY, next UID, the new/ and cur/ mtimes it
 * was written for, and one line per message (UID, base name, CRLF size, where
 * the file was last seen). Parsing and formatting only, no I/O, so that the
 * reader can be fuzzed; mailbox.c owns the file, its lock and its meaning. */
#ifndef DIRMAIL_DELIVERY_MAILBOX_INDEX_H
#define DIRMAIL_DELIVERY_MAILBOX_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* The format, version 1 (every line ends with LF, fields separated by one
 * space, numbers decimal without sign):
 *
 *   dirmail-uidlist 1 <uidvalidity> <uidnext> <new-mtime> <cur-mtime>
 *   <uid> <base> <crlf-size> <new|cur> <file name>
 *   ...
 *
 * An mtime is "<seconds>.<nanoseconds>", "0.0" when the scan that wrote the
 * file could not trust it (mailbox.c). The message lines come in increasing
 * UID order, every UID below uidnext, every base once; the file name begins
 * with its base (maildir_name_has_base). A later version (IMAP's MODSEQ,
 * keywords, cached header fields) gets a new number: this reader answers
 * MAILBOX_INDEX_NEWER for it and the caller leaves the file alone. */
#define MAILBOX_INDEX_MAGIC "dirmail-uidlist"
#define MAILBOX_INDEX_VERSION 1
/* No line is longer (with its LF): a base and a file name are at most
 * NAME_MAX (255) each. */
#define MAILBOX_INDEX_LINE_MAX 1024

struct mailbox_index_entry {
    uint32_t uid;
    char *base;    /* malloc'd */
    char *name;    /* malloc'd: the file name where it was last seen */
    bool in_cur;   /* in cur/, else new/ */
    uint64_t size; /* with CRLF line ends */
    bool gone;     /* expunged by this process since the last sync: not written */
};

struct mailbox_index {
    uint32_t uidvalidity;
    uint32_t uidnext;
    struct timespec new_mtime; /* {0, 0}: not to be trusted */
    struct timespec cur_mtime;
    struct mailbox_index_entry *entries; /* in UID order */
    size_t count;
    size_t alloc;
};

enum mailbox_index_result {
    MAILBOX_INDEX_PARSED,
    MAILBOX_INDEX_GARBAGE, /* not an index we can read: *error_r says where */
    MAILBOX_INDEX_NEWER,   /* the header names a later version */
    MAILBOX_INDEX_NOMEM,
};

/* mailbox_index_parse - text[0..len) (any bytes) into *index (cleared
 * first; on anything but PARSED it is left empty). When the header line is
 * readable, *old_uidvalidity_r is its UIDVALIDITY (else 0), so that a
 * rebuild can choose a bigger one. *error_r (malloc'd) with every result but
 * PARSED. */
enum mailbox_index_result mailbox_index_parse(const char *text, size_t len,
                                              struct mailbox_index *index,
                                              uint32_t *old_uidvalidity_r, char **error_r);

/* mailbox_index_format - the file's text for index into *text_r (malloc'd)
 * and *len_r. 0, or -1 when out of memory or an entry cannot be written
 * (a field with a space, a control byte or a "/", too long). Entries marked
 * gone are left out. */
int mailbox_index_format(const struct mailbox_index *index, char **text_r, size_t *len_r);

/* mailbox_index_append - a copy of base and name as the last entry (the
 * caller keeps UID order). 0, or -1 when out of memory. */
int mailbox_index_append(struct mailbox_index *index, uint32_t uid, const char *base,
                         const char *name, bool in_cur, uint64_t size);

/* mailbox_index_field_valid - whether s[0..len) can be a base or file name
 * field: 1 to 255 octets, none of them a space, control byte, DEL or "/",
 * and not starting with ".". Files with other names are not listed. */
bool mailbox_index_field_valid(const char *s, size_t len);

/* mailbox_index_clear - free the entries; the header fields become 0. */
void mailbox_index_clear(struct mailbox_index *index);

#endif
