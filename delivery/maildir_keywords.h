/* delivery/maildir_keywords.h - the keywords of one Maildir folder (IMAP
 * flags without a backslash, RFC 3501 2.3.2) as Dovecot keeps them: the
 * letters a-z of a file name's info part name the keywords on the lines
 * "<index> <keyword>" of the folder's "dovecot-keywords" (index 0 is 'a').
 * One implementation for the IMAP reader and the delivery agent (Sieve's
 * imap4flags); what a keyword means to a session is the caller's. */
#ifndef DIRMAIL_DELIVERY_MAILDIR_KEYWORDS_H
#define DIRMAIL_DELIVERY_MAILDIR_KEYWORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "delivery/mailbox.h"

#define MAILDIR_KEYWORDS_FILE "dovecot-keywords"
/* A keyword is at most this long (so that IMAP's FLAGS with all 26 fits a line). */
#define MAILDIR_KEYWORD_MAX 64

/* The keywords of a folder: name[i] is letter 'a' + i. Made with
 * maildir_keywords_clear (or zeroed with size -1); its names are its own,
 * freed by maildir_keywords_clear. */
struct maildir_keywords {
    char *name[MAILBOX_KEYWORDS_MAX];
    size_t count; /* letters given: the next new one is 'a' + count */
    ino_t ino;    /* the file as last read */
    off_t size;
    struct timespec mtime;
    int dir_fd; /* the folder, for the file and its lock (the caller's) */
};

/* maildir_keyword_valid - s[0..len) can be a keyword: an IMAP atom
 * without a backslash, at most MAILDIR_KEYWORD_MAX long. */
bool maildir_keyword_valid(const char *s, size_t len);

/* maildir_keywords_load - read the folder's keywords again when the file
 * changed since kw was read; *changed_r when a name did. 0, or -1 (errno). */
int maildir_keywords_load(int folder_fd, struct maildir_keywords *kw, bool *changed_r);

/* maildir_keywords_find - the index of keyword name (case-insensitive), -1. */
int maildir_keywords_find(const struct maildir_keywords *kw, const char *name, size_t len);

/* maildir_keywords_assign - the index of name, given the next letter (and
 * the file rewritten) the first time, under a flock of the folder so that
 * two writers never give one letter two names; letters are never reused.
 * -1 with errno ENOSPC when all 26 are given, EINVAL when it is no
 * keyword, else an I/O error. */
int maildir_keywords_assign(int folder_fd, struct maildir_keywords *kw, const char *name,
                            size_t len);

/* maildir_keywords_clear - forget every name (kw stays usable). */
void maildir_keywords_clear(struct maildir_keywords *kw);

#endif
