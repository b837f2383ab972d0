/* delivery/maildir_file.h - the small text files of a Maildir or folder
 * (subscriptions, special use, keywords, \Recent): read whole up to a cap,
 * replaced whole by temporary file, fsync and rename. Shared by the reader
 * (IMAP) and the delivery agent; never parses what the files say. */
#ifndef DIRMAIL_DELIVERY_MAILDIR_FILE_H
#define DIRMAIL_DELIVERY_MAILDIR_FILE_H

#include <stddef.h>

/* A small file longer than this is read only this far. */
#define MAILDIR_FILE_MAX (256u * 1024u)

/* maildir_file_read - the text of file name in dir_fd (malloc'd, the
 * caller's, NUL-terminated; "" when there is none or dir_fd is -1); NULL
 * on an error (errno). A symlink is an error (O_NOFOLLOW). */
char *maildir_file_read(int dir_fd, const char *name);

/* maildir_file_replace - text[0..len) as file name's new content in
 * dir_fd: a temporary file of this writer (two writers never share one),
 * fsync, rename, fsync of the folder. 0, or -1 with errno. */
int maildir_file_replace(int dir_fd, const char *name, const char *text, size_t len);

#endif
