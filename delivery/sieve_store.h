/* delivery/sieve_store.h - one user's Sieve scripts on disk, as ManageSieve
 * (RFC 5804) and dirmailctl see them: MAILHOME/sieve/NAME.sieve, the active
 * one named by the symlink MAILHOME/sieve/.active (doc/managesieve.md). It
 * lists, reads, writes durably, renames, deletes and activates scripts and
 * checks the per-user quota; it never compiles a script nor speaks a protocol.
 *
 * MAILHOME is the user's Maildir, reached from the mailbox base with
 * maildir_path (nothing the directory says leads outside the base), and a
 * script name never becomes a path of its own: it is checked by
 * sieve_store_name_valid before any file is named after it. Every call
 * blocks on the file system: a session runs them on its thread pool. */
#ifndef DIRMAIL_DELIVERY_SIEVE_STORE_H
#define DIRMAIL_DELIVERY_SIEVE_STORE_H

#include <stdbool.h>
#include <stddef.h>

/* The longest script name in octets of UTF-8: NAME.sieve and the temporary
 * names stay within NAME_MAX. */
#define SIEVE_STORE_NAME_MAX 200
/* The active script's symlink and the scripts' suffix. */
#define SIEVE_STORE_ACTIVE_LINK ".active"
#define SIEVE_STORE_FILE_SUFFIX ".sieve"

enum sieve_store_result {
    SIEVE_STORE_OK,
    SIEVE_STORE_NONEXISTENT, /* no script of that name (RFC 5804 NONEXISTENT) */
    SIEVE_STORE_EXISTS,      /* the new name of a rename is taken (ALREADYEXISTS) */
    SIEVE_STORE_ACTIVE,      /* the active script cannot be deleted (ACTIVE) */
    SIEVE_STORE_MAXSCRIPTS,  /* one more script is over the count (QUOTA/MAXSCRIPTS) */
    SIEVE_STORE_MAXSIZE,     /* the script is over the size (QUOTA/MAXSIZE) */
    SIEVE_STORE_BAD_NAME,    /* not a script name (sieve_store_name_valid) */
    SIEVE_STORE_UNSAFE,      /* the directory's mailbox path is not below the base */
    SIEVE_STORE_TEMPFAIL,    /* an I/O error: try again later */
};

struct sieve_store_limits {
    unsigned max_scripts;
    size_t max_script_size;
};

struct sieve_store;

/* sieve_store_open - the store of the user whose Maildir is mailbox (the
 * directory's path, relative to base or absolute below it). Nothing is
 * created until a script is written: a user without one has an empty
 * store. OK and *st_r, or UNSAFE/TEMPFAIL with *error_r (malloc'd). */
enum sieve_store_result sieve_store_open(const char *base, const char *mailbox,
                                         const struct sieve_store_limits *limits,
                                         struct sieve_store **st_r, char **error_r);

/* sieve_store_free - close *st and NULL it; NULL is fine. */
void sieve_store_free(struct sieve_store **st);

/* sieve_store_name_valid - name[0..len) may name a script (RFC 5804 1.6):
 * 1 to SIEVE_STORE_NAME_MAX octets of well-formed UTF-8 without control
 * characters (C0, DEL, C1, U+2028, U+2029) and without "/"; and, so that
 * it never meets the store's own files, not beginning with ".". */
bool sieve_store_name_valid(const char *name, size_t len);

struct sieve_store_entry {
    char *name; /* NUL-terminated */
    bool active;
};

/* sieve_store_list - every script, sorted by name: OK with *entries_r and
 * *count_r (free with sieve_store_list_free), or TEMPFAIL with *error_r. */
enum sieve_store_result sieve_store_list(struct sieve_store *st,
                                         struct sieve_store_entry **entries_r, size_t *count_r,
                                         char **error_r);
void sieve_store_list_free(struct sieve_store_entry **entries, size_t count);

/* sieve_store_get - the text of script name: OK with *text_r (malloc'd,
 * NUL-terminated after *len_r octets), NONEXISTENT, BAD_NAME or TEMPFAIL. */
enum sieve_store_result sieve_store_get(struct sieve_store *st, const char *name, size_t name_len,
                                        char **text_r, size_t *len_r, char **error_r);

/* sieve_store_have_space - whether a script name of size octets would fit
 * (RFC 5804 2.5): OK, MAXSIZE, MAXSCRIPTS (a new name past the count),
 * BAD_NAME or TEMPFAIL. */
enum sieve_store_result sieve_store_have_space(struct sieve_store *st, const char *name,
                                               size_t name_len, size_t size, char **error_r);

/* sieve_store_put - write (or replace) script name with text, after the
 * quota checks of sieve_store_have_space: a temporary file, fsync, rename,
 * fsync of the folder, so that a crash leaves the old script or the new. */
enum sieve_store_result sieve_store_put(struct sieve_store *st, const char *name, size_t name_len,
                                        const char *text, size_t text_len, char **error_r);

/* sieve_store_delete - remove script name: OK, NONEXISTENT, ACTIVE (it is
 * the active script, RFC 5804 2.10), BAD_NAME or TEMPFAIL. */
enum sieve_store_result sieve_store_delete(struct sieve_store *st, const char *name,
                                           size_t name_len, char **error_r);

/* sieve_store_rename - give script from the name to (RFC 5804 2.11): OK,
 * NONEXISTENT, EXISTS, BAD_NAME or TEMPFAIL. The active script stays
 * active under its new name; at no instant is there no script of either
 * name. */
enum sieve_store_result sieve_store_rename(struct sieve_store *st, const char *from,
                                           size_t from_len, const char *to, size_t to_len,
                                           char **error_r);

/* sieve_store_set_active - make script name the active one, replacing the
 * symlink atomically; name_len 0 deactivates (RFC 5804 2.8). OK,
 * NONEXISTENT, BAD_NAME or TEMPFAIL. */
enum sieve_store_result sieve_store_set_active(struct sieve_store *st, const char *name,
                                               size_t name_len, char **error_r);

/* sieve_store_active - the active script's name into *name_r (malloc'd),
 * or NULL when there is none: OK or TEMPFAIL. A symlink that names no
 * script file of ours is no active script. */
enum sieve_store_result sieve_store_active(struct sieve_store *st, char **name_r, char **error_r);

/* sieve_store_result_name - "ok", "nonexistent", ... for logs and tests. */
const char *sieve_store_result_name(enum sieve_store_result r);

#endif
