/* delivery/mailbox_file.c - a folder's index file "dirmail-uidlist" and its
 * lock: read (kept open, so that the same inode number is the same file),
 * written through a temporary file and a rename, rebuilt with a larger
 * UIDVALIDITY when lost, and marked untrusted. Listing and merging is
 * mailbox.c's. See mailbox.h and doc/mailbox.md. */
#include "config.h"

#include "delivery/mailbox_internal.h"
#include "delivery/mailbox_index.h"
#include "lib/error.h"
#include "lib/fdio.h"
#include "lib/log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define INDEX_NAME "dirmail-uidlist"
#define LOCK_NAME "dirmail-uidlist.lock"
#define ACCOUNT_UIDVALIDITY_NAME "dirmail-uidvalidity"
/* The index file is refused beyond this (a million messages fit). */
#define INDEX_MAX_BYTES (256u << 20)

/* lock_index - the OFD lock (per open file, so that two sessions in one
 * process exclude each other too, and closing another descriptor of the
 * file does not drop it). The lock fd, or -1 with *error_r. */
int mailbox_lock_index(struct mailbox *mb, char **error_r)
{
    int fd = openat(mb->fd, LOCK_NAME, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};

    if (fd < 0) {
        error_set(error_r, "open %s: %s", LOCK_NAME, strerror(errno));
        return -1;
    }
#ifdef F_OFD_SETLKW
    while (fcntl(fd, F_OFD_SETLKW, &fl) < 0) {
#else
    while (fcntl(fd, F_SETLKW, &fl) < 0) {
#endif
        if (errno != EINTR) {
            error_set(error_r, "lock %s: %s", LOCK_NAME, strerror(errno));
            close(fd);
            return -1;
        }
    }
    return fd;
}

/* new_uidvalidity - from the time, bigger than old when old is known. */
static uint32_t new_uidvalidity(uint32_t old)
{
    uint32_t now = (uint32_t)time(NULL);

    if (old != 0 && now <= old)
        now = old + 1;
    return now == 0 ? 1 : now;
}

/* read_uint32_line - the decimal line at the start of fd, 0 if none. */
static uint32_t read_uint32_line(int fd)
{
    char text[16];
    ssize_t n = pread(fd, text, sizeof(text) - 1, 0);
    if (n <= 0)
        return 0;
    text[n] = '\0';
    char *end;
    unsigned long kept = strtoul(text, &end, 10);
    return end != text && *end == '\n' && kept <= UINT32_MAX ? (uint32_t)kept : 0;
}

/* account_uidvalidity - value, or more if needed to be bigger than any
 * UIDVALIDITY the Maildir (root and folders) gave before, kept in the
 * root's "dirmail-uidvalidity" under a flock. A folder deleted and made
 * again within one second has no lock file left to hold its floor, and the
 * time alone would give its old UIDVALIDITY back to a client that still
 * knows the old UIDs (RFC 3501 2.3.1.1). Best effort, like that floor. */
static uint32_t account_uidvalidity(int folder_fd, uint32_t value)
{
    /* a Maildir++ folder has "maildirfolder" and lives in the root */
    bool sub = faccessat(folder_fd, "maildirfolder", F_OK, AT_SYMLINK_NOFOLLOW) == 0;
    int root_fd =
        sub ? openat(folder_fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC) : dup(folder_fd);
    int fd = root_fd < 0 ? -1
                         : openat(root_fd, ACCOUNT_UIDVALIDITY_NAME,
                                  O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (root_fd >= 0)
        close(root_fd);
    int locked = fd < 0 ? -1 : 0;
    while (fd >= 0 && (locked = flock(fd, LOCK_EX)) < 0 && errno == EINTR)
        ;
    if (locked < 0) {
        log_warning("event=mailbox_uidvalidity_not_kept error=\"%s: %s\"", ACCOUNT_UIDVALIDITY_NAME,
                    strerror(errno));
        if (fd >= 0)
            close(fd);
        return value;
    }
    uint32_t last = read_uint32_line(fd);
    if (last >= value && last < UINT32_MAX)
        value = last + 1;
    char text[16];
    int len = snprintf(text, sizeof(text), "%" PRIu32 "\n", value);
    if (pwrite(fd, text, (size_t)len, 0) != len || ftruncate(fd, len) < 0)
        log_warning("event=mailbox_uidvalidity_not_kept error=\"%s: %s\"", ACCOUNT_UIDVALIDITY_NAME,
                    strerror(errno));
    close(fd); /* and the flock with it */
    return value;
}

/* fresh_index - an empty index with a new UIDVALIDITY, bigger than old and
 * than the last one this folder was given. That one is also kept in the
 * lock file (lock_fd, held): an index that is lost or unreadable says
 * nothing about its UIDVALIDITY, and the time alone is not enough (two
 * rebuilds in one second, a clock set back), while RFC 3501 section 2.3.1.1
 * requires a new UIDVALIDITY to be larger whenever UIDs may have changed.
 * Keeping it there is best effort: a failed write only loses that floor. */
static void fresh_index(struct mailbox *mb, uint32_t old, int lock_fd)
{
    uint32_t kept = read_uint32_line(lock_fd);
    if (kept > old)
        old = kept;
    mailbox_index_clear(&mb->index);
    mb->index.uidvalidity = account_uidvalidity(mb->fd, new_uidvalidity(old));
    mb->index.uidnext = 1;
    char text[16];
    int len = snprintf(text, sizeof(text), "%" PRIu32 "\n", mb->index.uidvalidity);
    if (pwrite(lock_fd, text, (size_t)len, 0) != len || ftruncate(lock_fd, len) < 0)
        log_warning("event=mailbox_uidvalidity_not_kept error=\"%s\"", strerror(errno));
}

/* keep_index_fd - fd (or -1) is now the index file we know. */
static void keep_index_fd(struct mailbox *mb, int fd)
{
    if (mb->index_fd >= 0)
        close(mb->index_fd);
    mb->index_fd = fd;
}

bool mailbox_index_unchanged(struct mailbox *mb, bool *missing_r)
{
    struct stat st;

    *missing_r = false;
    if (fstatat(mb->fd, INDEX_NAME, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        *missing_r = errno == ENOENT;
        return false;
    }
    /* the index is only ever replaced by a rename, and the file we compare
     * with is held open (index_fd), so its inode number is not reused: the
     * same number is the same file */
    return mb->index_st_valid && mb->index_fd >= 0 && st.st_ino == mb->index_st.st_ino &&
           st.st_dev == mb->index_st.st_dev;
}

/* read_text - the whole of fd (st its fstat) into *text_r, *len_r. 0, or
 * -1 with *error_r. */
static int read_text(int fd, const struct stat *st, char **text_r, size_t *len_r, char **error_r)
{
    char *text = malloc((size_t)st->st_size + 1);
    size_t len = 0;

    if (text == NULL) {
        error_set(error_r, "out of memory");
        return -1;
    }
    ssize_t n = fd_pread_all(fd, text, (size_t)st->st_size, 0);
    if (n < 0) {
        error_set(error_r, "read %s: %s", INDEX_NAME, strerror(errno));
        free(text);
        return -1;
    }
    len = (size_t)n;
    *text_r = text;
    *len_r = len;
    return 0;
}

/* load_index - read the index file unless it is the one read or written
 * last. *dirty_r when it must be written (missing or rebuilt). */
enum mailbox_result mailbox_load_index(struct mailbox *mb, int lock_fd, bool *dirty_r,
                                       char **error_r)
{
    struct stat st;
    char *text = NULL, *perr = NULL;
    size_t len = 0;
    uint32_t old = mb->index.uidvalidity;
    struct mailbox_index parsed;
    bool missing;

    if (mailbox_index_unchanged(mb, &missing))
        return MAILBOX_OK;
    int fd = openat(mb->fd, INDEX_NAME, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno != ENOENT) {
            error_set(error_r, "open %s: %s", INDEX_NAME, strerror(errno));
            return MAILBOX_TEMPFAIL;
        }
        if (!mb->index_st_valid && mb->index.uidvalidity == 0)
            fresh_index(mb, 0, lock_fd);
        /* else someone removed it: keep ours, it is written again */
        *dirty_r = true;
        mb->index_st_valid = false;
        mb->msgs_stale = true;
        keep_index_fd(mb, -1);
        return MAILBOX_OK;
    }
    if (fstat(fd, &st) < 0) {
        error_set(error_r, "fstat %s: %s", INDEX_NAME, strerror(errno));
        close(fd);
        return MAILBOX_TEMPFAIL;
    }
    mb->msgs_stale = true;
    if (st.st_size <= INDEX_MAX_BYTES && read_text(fd, &st, &text, &len, error_r) < 0) {
        close(fd);
        return MAILBOX_TEMPFAIL;
    }
    switch (text == NULL ? MAILBOX_INDEX_GARBAGE
                         : mailbox_index_parse(text, len, &parsed, &old, &perr)) {
    case MAILBOX_INDEX_PARSED:
        mailbox_index_clear(&mb->index);
        mb->index = parsed;
        mb->index_st = st;
        mb->index_st_valid = true;
        keep_index_fd(mb, fd);
        fd = -1;
        break;
    case MAILBOX_INDEX_NEWER:
        error_set(error_r, "%s: %s", INDEX_NAME, perr != NULL ? perr : "newer version");
        free(perr);
        free(text);
        close(fd);
        return MAILBOX_TEMPFAIL;
    case MAILBOX_INDEX_NOMEM:
        error_set(error_r, "out of memory");
        free(perr);
        free(text);
        close(fd);
        return MAILBOX_TEMPFAIL;
    case MAILBOX_INDEX_GARBAGE: {
        char qbuf[128];
        if (mb->index.uidvalidity > old)
            old = mb->index.uidvalidity;
        fresh_index(mb, old, lock_fd);
        log_warning("event=mailbox_index_rebuilt reason=%s uidvalidity=%" PRIu32,
                    log_quote(qbuf, sizeof(qbuf), perr != NULL ? perr : "too big"),
                    mb->index.uidvalidity);
        mb->index_st_valid = false;
        *dirty_r = true;
        break;
    }
    }
    if (fd >= 0)
        close(fd);
    free(perr);
    free(text);
    return MAILBOX_OK;
}

/* write_index - the index to a temporary file, then renamed over the old
 * one. durable (new UIDs were given): fsync'd, and the folder after the
 * rename, so that a crash never brings back an older uidnext. */
enum mailbox_result mailbox_write_index(struct mailbox *mb, bool durable, char **error_r)
{
    char tmp[512], *text;
    size_t len, done = 0;
    int fd;

    if (mailbox_index_format(&mb->index, &text, &len) < 0) {
        error_set(error_r, "format %s: out of memory", INDEX_NAME);
        return MAILBOX_TEMPFAIL;
    }
    snprintf(tmp, sizeof(tmp), INDEX_NAME ".%ld.%s.tmp", (long)getpid(), mb->hostname);
    fd = openat(mb->fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        error_set(error_r, "create %s: %s", tmp, strerror(errno));
        free(text);
        return MAILBOX_TEMPFAIL;
    }
    while (done < len) {
        ssize_t n = write(fd, text + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            break;
        done += (size_t)n;
    }
    free(text);
    if (done < len || (durable && fsync(fd) < 0) || fstat(fd, &mb->index_st) < 0 ||
        renameat(mb->fd, tmp, mb->fd, INDEX_NAME) < 0) {
        error_set(error_r, "write %s: %s", INDEX_NAME, strerror(errno));
        close(fd);
        unlinkat(mb->fd, tmp, 0);
        mb->index_st_valid = false;
        keep_index_fd(mb, -1);
        return MAILBOX_TEMPFAIL;
    }
    keep_index_fd(mb, fd);
    mb->index_st_valid = true;
    if (durable && fsync(mb->fd) < 0) {
        error_set(error_r, "fsync folder: %s", strerror(errno));
        return MAILBOX_TEMPFAIL;
    }
    return MAILBOX_OK;
}

enum mailbox_result mailbox_index_distrust(struct mailbox *mb, char **error_r)
{
    int fd = openat(mb->fd, INDEX_NAME, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    char *text = NULL, *perr = NULL;
    size_t len = 0;
    uint32_t old;
    struct mailbox_index disk, ours;
    enum mailbox_result res = MAILBOX_OK;

    /* ours stays as it is until our next sync, which lists the folder */
    mb->force_scan = true;
    if (fd < 0)
        return MAILBOX_OK; /* missing: whoever syncs next lists and writes it */
    if (fstat(fd, &st) < 0) {
        error_set(error_r, "fstat %s: %s", INDEX_NAME, strerror(errno));
        close(fd);
        return MAILBOX_TEMPFAIL;
    }
    if (st.st_size > INDEX_MAX_BYTES) {
        close(fd);
        return MAILBOX_OK; /* refused by every reader: the next sync rebuilds it */
    }
    if (read_text(fd, &st, &text, &len, error_r) < 0) {
        close(fd);
        return MAILBOX_TEMPFAIL;
    }
    close(fd);
    if (mailbox_index_parse(text, len, &disk, &old, &perr) != MAILBOX_INDEX_PARSED) {
        free(text);
        free(perr);
        return MAILBOX_OK; /* garbage: the next sync rebuilds it */
    }
    free(text);
    /* its UIDs and uidnext as they are (never ours, which may lack some),
     * only the mtimes made unknown */
    disk.new_mtime = disk.cur_mtime = (struct timespec){0, 0};
    ours = mb->index;
    mb->index = disk;
    res = mailbox_write_index(mb, false, error_r);
    mb->index = ours;
    mailbox_index_clear(&disk);
    mb->index_st_valid = false; /* the file is not our in-memory index */
    return res;
}
