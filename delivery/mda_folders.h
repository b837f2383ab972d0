/* delivery/mda_folders.h - the folders a Maildir has from its first
 * delivery (delivery.default_folders) and their RFC 6154 SPECIAL-USE marks
 * in the file "dirmail-special-use" of the Maildir root, which the IMAP
 * LIST reads (doc/mailbox.md); and whether a Sieve folder exists. It never
 * writes a message. */
#ifndef DIRMAIL_DELIVERY_MDA_FOLDERS_H
#define DIRMAIL_DELIVERY_MDA_FOLDERS_H

#include <stdbool.h>
#include <stddef.h>

#include "delivery/maildir_result.h"

/* The file in the Maildir root: one "<folder> <\Attribute>" a line; IMAP
 * (CREATE with USE, RENAME, DELETE) writes it too. Bigger is refused. */
#define MDA_SPECIAL_USE_FILE "dirmail-special-use"
#define MDA_SPECIAL_USE_MAX (256 * 1024)

/* The marker in the Maildir root that the default folders were made: it
 * names them, one a line. Not the marks file, which IMAP may write before
 * the first delivery. */
#define MDA_FOLDERS_MADE_FILE "dirmail-default-folders"

/* mda_folders_ensure - at a Maildir's first delivery (root_fd: its root;
 * no MDA_FOLDERS_MADE_FILE yet) make each of the count folders (Maildir++,
 * with cur/new/tmp), merge their marks into the marks file (the lines there
 * kept; a folder's line added unless a line names it or gives its
 * attribute to another folder), then write the marker (each a temporary
 * file, fsync, rename, fsync of the root), so that a crash half-way makes
 * them again next time. Later deliveries find the marker and do nothing. */
enum maildir_result mda_folders_ensure(int root_fd, char *const *folders, size_t count,
                                       char **error_r);

/* mda_folders_special_use - the RFC 6154 attribute of a default folder
 * name ("Sent" -> "\Sent"; also "Sent Messages", "Deleted Messages",
 * "Spam", "Archive"), NULL for any other. */
const char *mda_folders_special_use(const char *folder);

/* mda_folder_name - a Sieve mailbox name as a Maildir++ folder: "INBOX"
 * (any case) is NULL, the INBOX; "INBOX.x" is "x" (the IMAP namespace's
 * prefix, RFC 3501 5.1); "/" separators become "." (hierarchy, as IMAP
 * LIST shows it). malloc'd into *folder_r; false when it is not a usable
 * folder name (maildir_folder_valid) or out of memory. */
bool mda_folder_name(const char *mailbox, char **folder_r);

/* mda_folder_exists - 1 when ".<folder>" is a folder of the Maildir at
 * root_fd (NULL, the INBOX, always), 0 when not, -1 on an I/O error. */
int mda_folder_exists(int root_fd, const char *folder);

#endif
