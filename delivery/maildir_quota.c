/* delivery/maildir_quota.c - Maildir++ "maildirsize" read, append, recalculate. */
#include "config.h"

#include "delivery/maildir_quota.h"
#include "delivery/maildir_name.h"
#include "lib/error.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define QUOTA_FILE "maildirsize"

int maildir_quota_format_limit(char *buf, size_t size, const struct maildir_quota_limit *limit)
{
    int n;

    if (limit->bytes > 0 && limit->messages > 0)
        n = snprintf(buf, size, "%" PRIu64 "S,%" PRIu64 "C", limit->bytes, limit->messages);
    else if (limit->messages > 0)
        n = snprintf(buf, size, "%" PRIu64 "C", limit->messages);
    else
        n = snprintf(buf, size, "%" PRIu64 "S", limit->bytes);
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

bool maildir_quota_exceeded(const struct maildir_quota_limit *limit,
                            const struct maildir_quota_usage *usage, uint64_t bytes,
                            uint64_t messages)
{
    int64_t used_bytes = usage->bytes < 0 ? 0 : usage->bytes;
    int64_t used_messages = usage->messages < 0 ? 0 : usage->messages;

    if (limit->bytes > 0 && (uint64_t)used_bytes + bytes > limit->bytes)
        return true;
    if (limit->messages > 0 && (uint64_t)used_messages + messages > limit->messages)
        return true;
    return false;
}

int maildir_quota_scan(int maildir_fd, const char *sub, maildir_quota_scan_fn *fn, void *ctx,
                       char **error_r)
{
    int fd = openat(maildir_fd, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR *dir;
    struct dirent *de;
    int stop = 0;

    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        error_set(error_r, "open %s: %s", sub, strerror(errno));
        return -1;
    }
    dir = fdopendir(fd);
    if (dir == NULL) {
        error_set(error_r, "fdopendir %s: %s", sub, strerror(errno));
        close(fd);
        return -1;
    }
    while (stop == 0 && (errno = 0, de = readdir(dir)) != NULL) {
        int64_t size;
        struct stat st;

        if (de->d_name[0] == '.')
            continue;
        size = maildir_name_size(de->d_name);
        if (size < 0) {
            if (fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                continue; /* expunged meanwhile */
            if (!S_ISREG(st.st_mode))
                continue;
            size = st.st_size;
        }
        stop = fn(ctx, de->d_name, size);
    }
    if (stop == 0 && errno != 0) {
        error_set(error_r, "readdir %s: %s", sub, strerror(errno));
        closedir(dir);
        return -1;
    }
    closedir(dir);
    return stop;
}

/* count_message - maildir_quota_scan's callback for the usage. */
static int count_message(void *ctx, const char *name, int64_t size)
{
    struct maildir_quota_usage *usage = ctx;

    (void)name;
    usage->bytes += size;
    usage->messages++;
    return 0;
}

/* sum_maildir - add new/ and cur/ of the Maildir at fd. */
static int sum_maildir(int fd, struct maildir_quota_usage *usage, char **error_r)
{
    if (maildir_quota_scan(fd, "new", count_message, usage, error_r) < 0)
        return -1;
    return maildir_quota_scan(fd, "cur", count_message, usage, error_r);
}

/* recalculate - scan the whole Maildir and replace maildirsize with the quota
 * line and one line of totals (written in tmp/ and renamed over it). Every
 * ".Folder" counts, Trash included, as Dovecot counts it. */
static int recalculate(int root_fd, const struct maildir_quota_limit *limit, const char *hostname,
                       struct maildir_quota_usage *usage_r, char **error_r)
{
    struct maildir_quota_usage usage = {0, 0, false};
    char limit_text[64], name[256], tmp_path[300], text[160];
    int dup_fd, fd, n;
    DIR *dir;
    struct dirent *de;

    if (sum_maildir(root_fd, &usage, error_r) < 0)
        return -1;
    dup_fd = openat(root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dup_fd < 0 || (dir = fdopendir(dup_fd)) == NULL) {
        error_set(error_r, "open maildir: %s", strerror(errno));
        if (dup_fd >= 0)
            close(dup_fd);
        return -1;
    }
    while ((errno = 0, de = readdir(dir)) != NULL) {
        int folder_fd;

        if (de->d_name[0] != '.' || strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        folder_fd = openat(root_fd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (folder_fd < 0)
            continue; /* a file or symlink named ".x" is no folder */
        if (sum_maildir(folder_fd, &usage, error_r) < 0) {
            close(folder_fd);
            closedir(dir);
            return -1;
        }
        close(folder_fd);
    }
    closedir(dir);

    if (maildir_quota_format_limit(limit_text, sizeof(limit_text), limit) < 0 ||
        maildir_unique_name(name, sizeof(name), hostname) < 0)
        return error_set(error_r, "quota: name too long"), -1;
    n = snprintf(text, sizeof(text), "%s\n%" PRId64 " %" PRId64 "\n", limit_text, usage.bytes,
                 usage.messages);
    if (n < 0 || (size_t)n >= sizeof(text) ||
        snprintf(tmp_path, sizeof(tmp_path), "tmp/%s", name) >= (int)sizeof(tmp_path))
        return error_set(error_r, "quota: line too long"), -1;
    fd = openat(root_fd, tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        error_set(error_r, "create %s: %s", tmp_path, strerror(errno));
        return -1;
    }
    if (write(fd, text, (size_t)n) != n) {
        int err = errno == 0 ? ENOSPC : errno;
        close(fd);
        unlinkat(root_fd, tmp_path, 0);
        error_set(error_r, "write %s: %s", tmp_path, strerror(err));
        errno = err;
        return -1;
    }
    close(fd);
    if (renameat(root_fd, tmp_path, root_fd, QUOTA_FILE) < 0) {
        int err = errno;
        unlinkat(root_fd, tmp_path, 0);
        error_set(error_r, "rename %s: %s", QUOTA_FILE, strerror(err));
        errno = err;
        return -1;
    }
    *usage_r = usage;
    return 0;
}

/* parse_signed - one decimal, optionally negative, ending at *end_r. */
static bool parse_signed(const char *p, int64_t *value_r, const char **end_r)
{
    bool neg = false;
    int64_t v = 0;

    if (*p == '-') {
        neg = true;
        p++;
    }
    if (*p < '0' || *p > '9')
        return false;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > (INT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (*p - '0');
    }
    *value_r = neg ? -v : v;
    *end_r = p;
    return true;
}

/* parse_file - 1 when text (len bytes, NUL-terminated) is a maildirsize whose
 * quota line equals limit_text, with the summed usage; 0 when it must be
 * recalculated. A last line without "\n" is an interrupted append: ignored. */
static int parse_file(const char *text, size_t len, const char *limit_text,
                      struct maildir_quota_usage *usage)
{
    const char *line = text, *end = text + len, *nl;

    nl = memchr(line, '\n', len);
    if (nl == NULL || (size_t)(nl - line) != strlen(limit_text) ||
        memcmp(line, limit_text, (size_t)(nl - line)) != 0)
        return 0;
    for (line = nl + 1; line < end; line = nl + 1) {
        int64_t bytes, count;
        const char *p;

        nl = memchr(line, '\n', (size_t)(end - line));
        if (nl == NULL)
            break;
        while (line < nl && *line == ' ')
            line++;
        if (!parse_signed(line, &bytes, &p) || *p != ' ')
            return 0;
        while (*p == ' ')
            p++;
        if (!parse_signed(p, &count, &p))
            return 0;
        while (*p == ' ')
            p++;
        if (p != nl)
            return 0;
        if ((bytes > 0 && usage->bytes > INT64_MAX - bytes) ||
            (bytes < 0 && usage->bytes < INT64_MIN - bytes))
            return 0;
        usage->bytes += bytes;
        usage->messages += count;
    }
    return 1;
}

int maildir_quota_read(int root_fd, const struct maildir_quota_limit *limit, const char *hostname,
                       bool recalc, struct maildir_quota_usage *usage_r, char **error_r)
{
    char limit_text[64], text[MAILDIR_QUOTA_MAX_FILE + 1];
    struct stat st;
    ssize_t len;
    int fd;

    if (maildir_quota_format_limit(limit_text, sizeof(limit_text), limit) < 0)
        return error_set(error_r, "quota: bad limit"), -1;
    if (recalc)
        return recalculate(root_fd, limit, hostname, usage_r, error_r);
    fd = openat(root_fd, QUOTA_FILE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return recalculate(root_fd, limit, hostname, usage_r, error_r);
        error_set(error_r, "open %s: %s", QUOTA_FILE, strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) < 0) {
        error_set(error_r, "fstat %s: %s", QUOTA_FILE, strerror(errno));
        close(fd);
        return -1;
    }
    if (!S_ISREG(st.st_mode) || st.st_size >= MAILDIR_QUOTA_MAX_FILE) {
        close(fd);
        return recalculate(root_fd, limit, hostname, usage_r, error_r);
    }
    len = read(fd, text, MAILDIR_QUOTA_MAX_FILE);
    close(fd);
    if (len < 0) {
        error_set(error_r, "read %s: %s", QUOTA_FILE, strerror(errno));
        return -1;
    }
    text[len] = '\0';
    usage_r->bytes = 0;
    usage_r->messages = 0;
    usage_r->stale = st.st_mtime + MAILDIR_QUOTA_STALE_SECONDS < time(NULL);
    if (len >= MAILDIR_QUOTA_MAX_FILE || memchr(text, '\0', (size_t)len) != NULL ||
        parse_file(text, (size_t)len, limit_text, usage_r) == 0)
        return recalculate(root_fd, limit, hostname, usage_r, error_r);
    return 0;
}

int maildir_quota_add(int root_fd, int64_t bytes, int64_t messages, char **error_r)
{
    char line[64];
    int fd, n;

    fd = openat(root_fd, QUOTA_FILE, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        error_set(error_r, "open %s: %s", QUOTA_FILE, strerror(errno));
        return -1;
    }
    n = snprintf(line, sizeof(line), "%" PRId64 " %" PRId64 "\n", bytes, messages);
    if (n < 0 || (size_t)n >= sizeof(line) || write(fd, line, (size_t)n) != n) {
        error_set(error_r, "append %s: %s", QUOTA_FILE, strerror(errno));
        close(fd);
        return -1;
    }
    close(fd);
    return 0;
}
