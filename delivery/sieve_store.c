/* delivery/sieve_store.c - see sieve_store.h.
 *
 * Every file is opened relative to the sieve folder's descriptor with
 * O_NOFOLLOW, and every name is NAME.sieve for a checked NAME, so neither a
 * script name nor a symlink someone planted leads outside the store. Writes
 * follow the Maildir rule: a temporary file, fsync, rename, fsync of the
 * folder. The active symlink is replaced by renaming a new one over it, and
 * a rename links the new name before the old one goes, so a delivery that
 * reads the store at any instant finds a whole script or none. */
#include "config.h"

#include "delivery/sieve_store.h"

#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "delivery/maildir_path.h"
#include "lib/buf.h"
#include "lib/error.h"

#define SIEVE_DIR "sieve"
/* The longest script we read back: what the configuration may allow. */
#define READ_MAX (1u << 20)

struct sieve_store {
    char *base, *mailbox;
    struct sieve_store_limits limits;
    int dir_fd; /* MAILHOME/sieve, -1 while it does not exist */
};

/* A name for temporary files unique among this host's processes and threads. */
static unsigned long temp_counter;

static int open_sieve_dir(int home_fd, bool create, int *fd_r, char **error_r)
{
    int fd = openat(home_fd, SIEVE_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && create) {
        if (mkdirat(home_fd, SIEVE_DIR, 0700) < 0 && errno != EEXIST) {
            error_set(error_r, "mkdir %s: %s", SIEVE_DIR, strerror(errno));
            return -1;
        }
        if (fsync(home_fd) < 0) {
            error_set(error_r, "fsync mail home: %s", strerror(errno));
            return -1;
        }
        fd = openat(home_fd, SIEVE_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (fd < 0 && errno == ENOENT) {
        *fd_r = -1;
        return 0;
    }
    if (fd < 0) {
        error_set(error_r, "open %s: %s", SIEVE_DIR, strerror(errno));
        return -1;
    }
    *fd_r = fd;
    return 0;
}

/* reach - open the sieve folder (creating it and the mail home with create). */
static enum sieve_store_result reach(struct sieve_store *st, bool create, char **error_r)
{
    if (st->dir_fd >= 0)
        return SIEVE_STORE_OK;
    int home = -1;
    char *err = NULL;
    enum maildir_path_result r = maildir_path_open(st->base, st->mailbox, create, &home, &err);
    if (r == MAILDIR_PATH_MISSING) {
        free(err);
        return SIEVE_STORE_OK; /* nothing stored yet */
    }
    if (r != MAILDIR_PATH_OK) {
        if (error_r != NULL)
            *error_r = err;
        else
            free(err);
    }
    if (r == MAILDIR_PATH_UNSAFE)
        return SIEVE_STORE_UNSAFE;
    if (r != MAILDIR_PATH_OK)
        return SIEVE_STORE_TEMPFAIL;
    int rc = open_sieve_dir(home, create, &st->dir_fd, error_r);
    close(home);
    return rc < 0 ? SIEVE_STORE_TEMPFAIL : SIEVE_STORE_OK;
}

enum sieve_store_result sieve_store_open(const char *base, const char *mailbox,
                                         const struct sieve_store_limits *limits,
                                         struct sieve_store **st_r, char **error_r)
{
    struct sieve_store *st = calloc(1, sizeof *st);
    if (st == NULL || (st->base = strdup(base)) == NULL ||
        (st->mailbox = strdup(mailbox)) == NULL) {
        if (st != NULL)
            free(st->base);
        free(st);
        error_set(error_r, "out of memory");
        return SIEVE_STORE_TEMPFAIL;
    }
    st->limits = *limits;
    st->dir_fd = -1;
    enum sieve_store_result r = reach(st, false, error_r);
    if (r != SIEVE_STORE_OK) {
        sieve_store_free(&st);
        return r;
    }
    *st_r = st;
    return SIEVE_STORE_OK;
}

void sieve_store_free(struct sieve_store **stp)
{
    struct sieve_store *st = *stp;
    if (st == NULL)
        return;
    *stp = NULL;
    if (st->dir_fd >= 0)
        close(st->dir_fd);
    free(st->base);
    free(st->mailbox);
    free(st);
}

/* utf8_next - the code point at s[*i] (RFC 3629: no overlong forms, no
 * surrogates, at most U+10FFFF); -1 when malformed. */
static long utf8_next(const unsigned char *s, size_t len, size_t *i)
{
    unsigned char c = s[*i];
    size_t n;
    long cp, min;
    if (c < 0x80) {
        (*i)++;
        return c;
    } else if ((c & 0xe0) == 0xc0) {
        n = 1, cp = c & 0x1f, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
        n = 2, cp = c & 0x0f, min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
        n = 3, cp = c & 0x07, min = 0x10000;
    } else {
        return -1;
    }
    if (len - *i <= n)
        return -1;
    for (size_t k = 1; k <= n; k++) {
        if ((s[*i + k] & 0xc0) != 0x80)
            return -1;
        cp = (cp << 6) | (s[*i + k] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return -1;
    *i += n + 1;
    return cp;
}

bool sieve_store_name_valid(const char *name, size_t len)
{
    if (len == 0 || len > SIEVE_STORE_NAME_MAX || name[0] == '.')
        return false;
    const unsigned char *s = (const unsigned char *)name;
    for (size_t i = 0; i < len;) {
        long cp = utf8_next(s, len, &i);
        /* RFC 5804 1.6: no control characters (Cc), no line or paragraph
         * separator; "/" because the name is a file name here */
        if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029 ||
            cp == '/')
            return false;
    }
    return true;
}

/* file_name - NAME.sieve into buf (SIEVE_STORE_NAME_MAX + suffix + NUL). */
static bool file_name(const char *name, size_t len, char *buf, size_t size)
{
    if (!sieve_store_name_valid(name, len))
        return false;
    int n = snprintf(buf, size, "%.*s%s", (int)len, name, SIEVE_STORE_FILE_SUFFIX);
    return n > 0 && (size_t)n < size;
}

#define FILE_NAME_SIZE (SIEVE_STORE_NAME_MAX + sizeof SIEVE_STORE_FILE_SUFFIX)

/* script_name_of - NAME when entry is "NAME.sieve" for a valid NAME. */
static bool script_name_of(const char *entry, size_t *len_r)
{
    size_t n = strlen(entry), sl = strlen(SIEVE_STORE_FILE_SUFFIX);
    if (n <= sl || strcmp(entry + n - sl, SIEVE_STORE_FILE_SUFFIX) != 0)
        return false;
    *len_r = n - sl;
    return sieve_store_name_valid(entry, n - sl);
}

/* exists - 1 when NAME.sieve is a regular file of the store, 0 when not. */
static int exists(struct sieve_store *st, const char *file, char **error_r)
{
    if (st->dir_fd < 0)
        return 0;
    struct stat sb;
    if (fstatat(st->dir_fd, file, &sb, AT_SYMLINK_NOFOLLOW) == 0)
        return S_ISREG(sb.st_mode) ? 1 : 0;
    if (errno == ENOENT)
        return 0;
    error_set(error_r, "stat %s: %s", file, strerror(errno));
    return -1;
}

/* existing_script - NAME.sieve into file (FILE_NAME_SIZE) for a script
 * that is there: OK, BAD_NAME, NONEXISTENT, or TEMPFAIL (*error_r set). */
static enum sieve_store_result existing_script(struct sieve_store *st, const char *name,
                                               size_t name_len, char *file, char **error_r)
{
    if (!file_name(name, name_len, file, FILE_NAME_SIZE))
        return SIEVE_STORE_BAD_NAME;
    int e = exists(st, file, error_r);
    if (e <= 0)
        return e < 0 ? SIEVE_STORE_TEMPFAIL : SIEVE_STORE_NONEXISTENT;
    return SIEVE_STORE_OK;
}

enum sieve_store_result sieve_store_active(struct sieve_store *st, char **name_r, char **error_r)
{
    *name_r = NULL;
    if (st->dir_fd < 0)
        return SIEVE_STORE_OK;
    char target[FILE_NAME_SIZE + 1];
    ssize_t n = readlinkat(st->dir_fd, SIEVE_STORE_ACTIVE_LINK, target, sizeof target);
    if (n < 0) {
        if (errno == ENOENT || errno == EINVAL) /* none, or not a symlink */
            return SIEVE_STORE_OK;
        error_set(error_r, "readlink %s: %s", SIEVE_STORE_ACTIVE_LINK, strerror(errno));
        return SIEVE_STORE_TEMPFAIL;
    }
    if ((size_t)n >= sizeof target)
        return SIEVE_STORE_OK;
    target[n] = '\0';
    size_t len;
    if (memchr(target, '\0', (size_t)n) != NULL || !script_name_of(target, &len))
        return SIEVE_STORE_OK;
    int e = exists(st, target, error_r);
    if (e < 0)
        return SIEVE_STORE_TEMPFAIL;
    if (e == 0)
        return SIEVE_STORE_OK; /* dangling: no active script */
    *name_r = bytes_dup(target, len);
    if (*name_r == NULL) {
        error_set(error_r, "out of memory");
        return SIEVE_STORE_TEMPFAIL;
    }
    return SIEVE_STORE_OK;
}

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const struct sieve_store_entry *)a)->name,
                  ((const struct sieve_store_entry *)b)->name);
}

void sieve_store_list_free(struct sieve_store_entry **entries, size_t count)
{
    if (*entries == NULL)
        return;
    for (size_t i = 0; i < count; i++)
        free((*entries)[i].name);
    free(*entries);
    *entries = NULL;
}

enum sieve_store_result sieve_store_list(struct sieve_store *st,
                                         struct sieve_store_entry **entries_r, size_t *count_r,
                                         char **error_r)
{
    *entries_r = NULL;
    *count_r = 0;
    if (st->dir_fd < 0)
        return SIEVE_STORE_OK;
    char *active = NULL;
    if (sieve_store_active(st, &active, error_r) != SIEVE_STORE_OK)
        return SIEVE_STORE_TEMPFAIL;
    int fd = openat(st->dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (d == NULL) {
        error_set(error_r, "opendir %s: %s", SIEVE_DIR, strerror(errno));
        if (fd >= 0)
            close(fd);
        free(active);
        return SIEVE_STORE_TEMPFAIL;
    }
    struct sieve_store_entry *list = NULL;
    size_t count = 0, alloc = 0;
    enum sieve_store_result r = SIEVE_STORE_OK;
    struct dirent *de;
    errno = 0;
    while ((de = readdir(d)) != NULL) {
        size_t len;
        if (!script_name_of(de->d_name, &len) || exists(st, de->d_name, NULL) != 1)
            continue;
        if (count == alloc) {
            size_t want = alloc > 0 ? alloc * 2 : 16;
            struct sieve_store_entry *l = realloc(list, want * sizeof *l);
            if (l == NULL) {
                r = SIEVE_STORE_TEMPFAIL;
                break;
            }
            list = l;
            alloc = want;
        }
        list[count].name = bytes_dup(de->d_name, len);
        if (list[count].name == NULL) {
            r = SIEVE_STORE_TEMPFAIL;
            break;
        }
        list[count].active = active != NULL && strcmp(active, list[count].name) == 0;
        count++;
        errno = 0;
    }
    if (r == SIEVE_STORE_OK && errno != 0) {
        error_set(error_r, "readdir %s: %s", SIEVE_DIR, strerror(errno));
        r = SIEVE_STORE_TEMPFAIL;
    } else if (r != SIEVE_STORE_OK) {
        error_set(error_r, "out of memory");
    }
    closedir(d);
    free(active);
    if (r != SIEVE_STORE_OK) {
        sieve_store_list_free(&list, count);
        return r;
    }
    if (count > 1)
        qsort(list, count, sizeof *list, entry_cmp);
    *entries_r = list;
    *count_r = count;
    return SIEVE_STORE_OK;
}

enum sieve_store_result sieve_store_get(struct sieve_store *st, const char *name, size_t name_len,
                                        char **text_r, size_t *len_r, char **error_r)
{
    char file[FILE_NAME_SIZE];
    if (!file_name(name, name_len, file, sizeof file))
        return SIEVE_STORE_BAD_NAME;
    if (st->dir_fd < 0)
        return SIEVE_STORE_NONEXISTENT;
    int fd = openat(st->dir_fd, file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT || errno == ELOOP)
            return SIEVE_STORE_NONEXISTENT;
        error_set(error_r, "open %s: %s", file, strerror(errno));
        return SIEVE_STORE_TEMPFAIL;
    }
    struct stat sb;
    enum sieve_store_result r = SIEVE_STORE_TEMPFAIL;
    char *text = NULL;
    if (fstat(fd, &sb) < 0) {
        error_set(error_r, "stat %s: %s", file, strerror(errno));
    } else if (!S_ISREG(sb.st_mode)) {
        r = SIEVE_STORE_NONEXISTENT;
    } else if ((uint64_t)sb.st_size > READ_MAX) {
        error_set(error_r, "%s is larger than %u octets", file, READ_MAX);
    } else if ((text = malloc((size_t)sb.st_size + 1)) == NULL) {
        error_set(error_r, "out of memory");
    } else {
        size_t got = 0, want = (size_t)sb.st_size;
        while (got < want) {
            ssize_t n = read(fd, text + got, want - got);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            got += (size_t)n;
        }
        if (got == want) {
            text[got] = '\0';
            *text_r = text;
            *len_r = got;
            text = NULL;
            r = SIEVE_STORE_OK;
        } else {
            error_set(error_r, "read %s: %s", file, got < want ? "short read" : strerror(errno));
        }
    }
    free(text);
    close(fd);
    return r;
}

/* count_scripts - how many scripts the store holds; -1 on an I/O error. */
static long count_scripts(struct sieve_store *st, char **error_r)
{
    struct sieve_store_entry *list;
    size_t count;
    if (sieve_store_list(st, &list, &count, error_r) != SIEVE_STORE_OK)
        return -1;
    sieve_store_list_free(&list, count);
    return (long)count;
}

enum sieve_store_result sieve_store_have_space(struct sieve_store *st, const char *name,
                                               size_t name_len, size_t size, char **error_r)
{
    char file[FILE_NAME_SIZE];
    if (!file_name(name, name_len, file, sizeof file))
        return SIEVE_STORE_BAD_NAME;
    if (size > st->limits.max_script_size)
        return SIEVE_STORE_MAXSIZE;
    int e = exists(st, file, error_r);
    if (e < 0)
        return SIEVE_STORE_TEMPFAIL;
    if (e == 1)
        return SIEVE_STORE_OK; /* a replacement: the count stays */
    long count = count_scripts(st, error_r);
    if (count < 0)
        return SIEVE_STORE_TEMPFAIL;
    return (unsigned long)count >= st->limits.max_scripts ? SIEVE_STORE_MAXSCRIPTS : SIEVE_STORE_OK;
}

/* sync_dir - the folder's entries are durable. */
static enum sieve_store_result sync_dir(struct sieve_store *st, char **error_r)
{
    if (fsync(st->dir_fd) == 0)
        return SIEVE_STORE_OK;
    error_set(error_r, "fsync %s: %s", SIEVE_DIR, strerror(errno));
    return SIEVE_STORE_TEMPFAIL;
}

/* finish - the end of a change that made the entry made: undone after a
 * failure r, made durable after a success. */
static enum sieve_store_result finish(struct sieve_store *st, enum sieve_store_result r,
                                      const char *made, char **error_r)
{
    if (r == SIEVE_STORE_OK)
        return sync_dir(st, error_r);
    unlinkat(st->dir_fd, made, 0);
    return r;
}

/* remove_entry - unlink name durably; gone when it was not there. */
static enum sieve_store_result remove_entry(struct sieve_store *st, const char *name,
                                            enum sieve_store_result gone, char **error_r)
{
    if (unlinkat(st->dir_fd, name, 0) == 0)
        return sync_dir(st, error_r);
    if (errno == ENOENT)
        return gone;
    error_set(error_r, "unlink %s: %s", name, strerror(errno));
    return SIEVE_STORE_TEMPFAIL;
}

/* is_active - whether script name is the active one: 1, 0, or -1 (TEMPFAIL). */
static int is_active(struct sieve_store *st, const char *name, size_t len, char **error_r)
{
    char *active = NULL;
    if (sieve_store_active(st, &active, error_r) != SIEVE_STORE_OK)
        return -1;
    int yes = active != NULL && strlen(active) == len && memcmp(active, name, len) == 0;
    free(active);
    return yes;
}

/* temp_name - a name of the store's own (it begins with ".", which no
 * script name does) that no other process or thread uses now. */
static void temp_name(char *buf, size_t size)
{
    unsigned long n = __atomic_fetch_add(&temp_counter, 1, __ATOMIC_RELAXED);
    snprintf(buf, size, ".tmp.%ld.%lu", (long)getpid(), n);
}

static enum sieve_store_result write_all(int fd, const char *text, size_t len, char **error_r)
{
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fd, text + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            error_set(error_r, "write: %s", strerror(errno));
            return SIEVE_STORE_TEMPFAIL;
        }
        off += (size_t)n;
    }
    if (fsync(fd) < 0) {
        error_set(error_r, "fsync: %s", strerror(errno));
        return SIEVE_STORE_TEMPFAIL;
    }
    return SIEVE_STORE_OK;
}

enum sieve_store_result sieve_store_put(struct sieve_store *st, const char *name, size_t name_len,
                                        const char *text, size_t text_len, char **error_r)
{
    enum sieve_store_result r = sieve_store_have_space(st, name, name_len, text_len, error_r);
    if (r != SIEVE_STORE_OK)
        return r;
    if ((r = reach(st, true, error_r)) != SIEVE_STORE_OK)
        return r;
    if (st->dir_fd < 0) {
        error_set(error_r, "%s folder vanished", SIEVE_DIR);
        return SIEVE_STORE_TEMPFAIL;
    }
    char file[FILE_NAME_SIZE], tmp[64];
    file_name(name, name_len, file, sizeof file);
    temp_name(tmp, sizeof tmp);
    int fd = openat(st->dir_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        error_set(error_r, "create %s: %s", tmp, strerror(errno));
        return SIEVE_STORE_TEMPFAIL;
    }
    r = write_all(fd, text, text_len, error_r);
    if (close(fd) < 0 && r == SIEVE_STORE_OK) {
        error_set(error_r, "close %s: %s", tmp, strerror(errno));
        r = SIEVE_STORE_TEMPFAIL;
    }
    if (r == SIEVE_STORE_OK && renameat(st->dir_fd, tmp, st->dir_fd, file) < 0) {
        error_set(error_r, "rename %s: %s", file, strerror(errno));
        r = SIEVE_STORE_TEMPFAIL;
    }
    return finish(st, r, tmp, error_r);
}

enum sieve_store_result sieve_store_delete(struct sieve_store *st, const char *name,
                                           size_t name_len, char **error_r)
{
    char file[FILE_NAME_SIZE];
    enum sieve_store_result found = existing_script(st, name, name_len, file, error_r);
    if (found != SIEVE_STORE_OK)
        return found;
    int active = is_active(st, name, name_len, error_r);
    if (active != 0)
        return active < 0 ? SIEVE_STORE_TEMPFAIL : SIEVE_STORE_ACTIVE;
    return remove_entry(st, file, SIEVE_STORE_NONEXISTENT, error_r);
}

/* point_active - the active symlink names file: a new symlink under a
 * temporary name renamed over the old one. */
static enum sieve_store_result point_active(struct sieve_store *st, const char *file,
                                            char **error_r)
{
    char tmp[64];
    temp_name(tmp, sizeof tmp);
    if (symlinkat(file, st->dir_fd, tmp) < 0) {
        error_set(error_r, "symlink %s: %s", tmp, strerror(errno));
        return SIEVE_STORE_TEMPFAIL;
    }
    if (renameat(st->dir_fd, tmp, st->dir_fd, SIEVE_STORE_ACTIVE_LINK) < 0) {
        error_set(error_r, "rename %s: %s", SIEVE_STORE_ACTIVE_LINK, strerror(errno));
        unlinkat(st->dir_fd, tmp, 0);
        return SIEVE_STORE_TEMPFAIL;
    }
    return SIEVE_STORE_OK;
}

enum sieve_store_result sieve_store_rename(struct sieve_store *st, const char *from,
                                           size_t from_len, const char *to, size_t to_len,
                                           char **error_r)
{
    char old_file[FILE_NAME_SIZE], new_file[FILE_NAME_SIZE];
    if (!file_name(to, to_len, new_file, sizeof new_file))
        return SIEVE_STORE_BAD_NAME;
    enum sieve_store_result found = existing_script(st, from, from_len, old_file, error_r);
    if (found != SIEVE_STORE_OK)
        return found;
    if (strcmp(old_file, new_file) == 0)
        return SIEVE_STORE_OK;
    int was_active = is_active(st, from, from_len, error_r);
    if (was_active < 0)
        return SIEVE_STORE_TEMPFAIL;
    /* link first: it fails with EEXIST when the new name is taken, and the
     * script has a name all the time */
    if (linkat(st->dir_fd, old_file, st->dir_fd, new_file, 0) < 0) {
        if (errno == EEXIST)
            return SIEVE_STORE_EXISTS;
        if (errno == ENOENT)
            return SIEVE_STORE_NONEXISTENT;
        error_set(error_r, "link %s: %s", new_file, strerror(errno));
        return SIEVE_STORE_TEMPFAIL;
    }
    enum sieve_store_result r = SIEVE_STORE_OK;
    if (was_active)
        r = point_active(st, new_file, error_r);
    if (r == SIEVE_STORE_OK && unlinkat(st->dir_fd, old_file, 0) < 0 && errno != ENOENT) {
        error_set(error_r, "unlink %s: %s", old_file, strerror(errno));
        r = SIEVE_STORE_TEMPFAIL;
    }
    return finish(st, r, new_file, error_r);
}

enum sieve_store_result sieve_store_set_active(struct sieve_store *st, const char *name,
                                               size_t name_len, char **error_r)
{
    if (name_len == 0) {
        if (st->dir_fd < 0)
            return SIEVE_STORE_OK;
        return remove_entry(st, SIEVE_STORE_ACTIVE_LINK, SIEVE_STORE_OK, error_r);
    }
    char file[FILE_NAME_SIZE];
    enum sieve_store_result r = existing_script(st, name, name_len, file, error_r);
    if (r != SIEVE_STORE_OK)
        return r;
    r = point_active(st, file, error_r);
    return r == SIEVE_STORE_OK ? sync_dir(st, error_r) : r;
}

const char *sieve_store_result_name(enum sieve_store_result r)
{
    static const char *const names[] = {
        [SIEVE_STORE_OK] = "ok",
        [SIEVE_STORE_NONEXISTENT] = "nonexistent",
        [SIEVE_STORE_EXISTS] = "exists",
        [SIEVE_STORE_ACTIVE] = "active",
        [SIEVE_STORE_MAXSCRIPTS] = "maxscripts",
        [SIEVE_STORE_MAXSIZE] = "maxsize",
        [SIEVE_STORE_BAD_NAME] = "bad_name",
        [SIEVE_STORE_UNSAFE] = "unsafe",
        [SIEVE_STORE_TEMPFAIL] = "tempfail",
    };
    return (size_t)r < sizeof names / sizeof names[0] ? names[r] : "?";
}
