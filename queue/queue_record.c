/* queue/queue_record.c - committed messages: their envelope and body read
 * back from the spool file's trailer, the recipients' status records
 * (marks), and removal (the file recycled through free/ when there is room). */
#include "config.h"

#include "queue/queue_internal.h"
#include "lib/error.h"
#include "lib/fdio.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_ENVELOPE_FILE (64u * 1024 * 1024)
#define MAX_STATUS_FILE (64u * 1024 * 1024)

/* read_file - the whole file name in dir_fd (at most max bytes) into a
 * malloc'd NUL-terminated buffer. 0, 1 when it does not exist, -1 (errno). */
static int read_file(int dir_fd, const char *name, size_t max, char **data_r, size_t *len_r)
{
    struct stat st;
    char *data;
    size_t len = 0;
    int fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

    if (fd < 0)
        return errno == ENOENT ? 1 : -1;
    if (fstat(fd, &st) < 0 || (uint64_t)st.st_size > max) {
        if (errno == 0)
            errno = EFBIG;
        close(fd);
        return -1;
    }
    data = malloc((size_t)st.st_size + 1);
    if (data == NULL) {
        close(fd);
        errno = ENOMEM;
        return -1;
    }
    while (len < (size_t)st.st_size) {
        ssize_t n = read(fd, data + len, (size_t)st.st_size - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int err = n == 0 ? EIO : errno;
            free(data);
            close(fd);
            errno = err;
            return -1;
        }
        len += (size_t)n;
    }
    close(fd);
    data[len] = '\0';
    *data_r = data;
    *len_r = len;
    return 0;
}

/* open_spool_file - open active/<id> and read its trailer: *body_len_r is
 * the message's length (where the envelope starts), *env_len_r the
 * envelope's. The fd is at offset 0. -1 and *error_r on any mismatch. */
static int open_spool_file(struct queue *queue, const char *id, int *fd_r, uint64_t *body_len_r,
                           uint64_t *env_len_r, char **error_r)
{
    char trailer[TRAILER_LEN + 1];
    struct stat st;
    uint64_t body_len, env_len;
    int fd;

    *fd_r = -1;
    if (!queue_id_valid(id)) {
        error_set(error_r, "invalid queue id");
        return -1;
    }
    fd = openat(queue->active_fd, id, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        error_set(error_r, "open active/%s: %s", id,
                  errno == ENOENT ? "no such message" : strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) < 0 || st.st_size < TRAILER_LEN ||
        pread(fd, trailer, TRAILER_LEN, st.st_size - TRAILER_LEN) != TRAILER_LEN) {
        error_set(error_r, "active/%s: no spool trailer", id);
        close(fd);
        return -1;
    }
    trailer[TRAILER_LEN] = '\0';
    if (sscanf(trailer, "DMQ1 %16" SCNx64 " %16" SCNx64 "\n", &body_len, &env_len) != 2 ||
        trailer[TRAILER_LEN - 1] != '\n' || env_len > MAX_ENVELOPE_FILE ||
        body_len > (uint64_t)st.st_size ||
        env_len != (uint64_t)st.st_size - TRAILER_LEN - body_len) {
        error_set(error_r, "active/%s: bad spool trailer", id);
        close(fd);
        return -1;
    }
    *fd_r = fd;
    *body_len_r = body_len;
    *env_len_r = env_len;
    return 0;
}

int queue_load_envelope(struct queue *queue, const char *id, struct queue_envelope **env_r,
                        char **error_r)
{
    char name[QUEUE_ID_SIZE + 8], *text = NULL, *parse_error = NULL;
    size_t len;
    uint64_t body_len, env_len;
    struct queue_envelope *env = NULL;
    int fd, r;

    *env_r = NULL;
    if (open_spool_file(queue, id, &fd, &body_len, &env_len, error_r) < 0)
        return -1;
    text = malloc((size_t)env_len + 1);
    if (text == NULL) {
        close(fd);
        error_set(error_r, "out of memory");
        return -1;
    }
    for (len = 0; len < env_len;) {
        ssize_t n = pread(fd, text + len, (size_t)env_len - len, (off_t)(body_len + len));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            error_set(error_r, "read active/%s: %s", id, n == 0 ? "short file" : strerror(errno));
            free(text);
            close(fd);
            return -1;
        }
        len += (size_t)n;
    }
    close(fd);
    text[len] = '\0';
    if (queue_envelope_parse(text, len, &env, &parse_error) < 0) {
        error_set(error_r, "active/%s: %s", id, parse_error != NULL ? parse_error : "?");
        free(parse_error);
        free(text);
        return -1;
    }
    free(text);
    if (strcmp(env->id, id) != 0 || env->size != body_len) {
        error_set(error_r, "active/%s: envelope names id %s and size %" PRIu64, id, env->id,
                  env->size);
        queue_envelope_free(&env);
        return -1;
    }
    snprintf(name, sizeof(name), "%s.st", id);
    r = read_file(queue->active_fd, name, MAX_STATUS_FILE, &text, &len);
    if (r < 0) {
        error_set(error_r, "read active/%s: %s", name, strerror(errno));
        queue_envelope_free(&env);
        return -1;
    }
    if (r == 0) {
        if (queue_status_apply(env, text, len, &parse_error) < 0) {
            error_set(error_r, "active/%s: %s", name, parse_error != NULL ? parse_error : "?");
            free(parse_error);
            free(text);
            queue_envelope_free(&env);
            return -1;
        }
        free(text);
    }
    *env_r = env;
    return 0;
}

int queue_open_message(struct queue *queue, const char *id, int *fd_r, uint64_t *len_r,
                       char **error_r)
{
    uint64_t env_len;

    return open_spool_file(queue, id, fd_r, len_r, &env_len, error_r);
}

/* append_status - append len bytes of complete records to id's status
 * file in one write and fsync it (and active/ when the file is new). 0, or
 * -1 and *error_r. */
static int append_status(struct queue *queue, const char *id, const char *text, size_t len,
                         char **error_r)
{
    char name[QUEUE_ID_SIZE + 8];
    bool created = false;
    int fd, ret = -1;

    snprintf(name, sizeof(name), "%s.st", id);
    fd = openat(queue->active_fd, name, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        fd = openat(queue->active_fd, name,
                    O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        created = fd >= 0;
    }
    if (fd < 0) {
        error_set(error_r, "open active/%s: %s", name, strerror(errno));
        return -1;
    }
    /* One write: O_APPEND keeps the records whole even if two runners race.
     * A crash mid-write leaves a torn last line, which the reader ignores. */
    if (len > 0 && fd_write_all(fd, text, len) < 0) {
        error_set(error_r, "append active/%s: %s", name, strerror(errno));
        goto out;
    }
    if (fsync(fd) < 0 || (created && fsync(queue->active_fd) < 0)) {
        error_set(error_r, "fsync active/%s: %s", name, strerror(errno));
        goto out;
    }
    ret = 0;
out:
    close(fd);
    return ret;
}

int queue_mark_recipients(struct queue *queue, const char *id, const struct queue_mark *marks,
                          size_t count, char **error_r)
{
    char *text = NULL;
    size_t len = 0;

    if (!queue_id_valid(id)) {
        error_set(error_r, "invalid queue id");
        return -1;
    }
    for (size_t i = 0; i < count; i++) {
        time_t when = marks[i].when != 0 ? marks[i].when : time(NULL);
        char *line = marks[i].warned ? queue_status_format_warned(marks[i].index, when)
                                     : queue_status_format(marks[i].index, marks[i].state, when,
                                                           marks[i].reply);
        size_t line_len;
        char *p;

        if (line == NULL) {
            error_set(error_r, "bad recipient state or out of memory");
            free(text);
            return -1;
        }
        line_len = strlen(line);
        p = realloc(text, len + line_len + 1);
        if (p == NULL) {
            free(line);
            free(text);
            error_set(error_r, "out of memory");
            return -1;
        }
        text = p;
        memcpy(text + len, line, line_len + 1);
        len += line_len;
        free(line);
    }
    int ret = append_status(queue, id, text, len, error_r);
    free(text);
    return ret;
}

int queue_mark_hold(struct queue *queue, const char *id, bool held, char **error_r)
{
    int fd;
    uint64_t body_len, env_len;

    /* Only a message that exists: a status file alone would be debris. */
    if (open_spool_file(queue, id, &fd, &body_len, &env_len, error_r) < 0)
        return -1;
    close(fd);
    char *line = queue_status_format_hold(held, time(NULL));
    if (line == NULL) {
        error_set(error_r, "out of memory");
        return -1;
    }
    int ret = append_status(queue, id, line, strlen(line), error_r);
    free(line);
    return ret;
}

int queue_mark_recipient(struct queue *queue, const char *id, size_t index,
                         enum queue_rcpt_state state, time_t when, const char *reply,
                         char **error_r)
{
    struct queue_mark mark = {.index = index, .state = state, .when = when, .reply = reply};

    return queue_mark_recipients(queue, id, &mark, 1, error_r);
}

int queue_remove_stage(struct queue *queue, const char *id, char **error_r)
{
    if (!queue_id_valid(id)) {
        error_set(error_r, "invalid queue id");
        return -1;
    }
    /* The spool file leaves active/ first and durably: once it is gone the
     * message no longer exists, and its .st is an orphan queue_cleanup may
     * delete. The fsync of active/ is queue_sync's group commit, shared
     * with every thread removing or committing on this struct queue. */
    pthread_mutex_lock(&queue->lock);
    bool keep = queue->free_added < FREE_MAX;
    pthread_mutex_unlock(&queue->lock);
    /* Kept for reuse (queue_msg_begin): renamed out of active/, which is
     * the removal, then emptied; a crash in between leaves a full file in
     * free/, emptied when it is claimed. */
    if (keep && queue_rename_noreplace(queue->active_fd, id, queue->free_fd, id) == 0) {
        int fd = openat(queue->free_fd, id, O_WRONLY | O_TRUNC | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0)
            close(fd);
        pthread_mutex_lock(&queue->lock);
        queue->free_added++;
        if (queue->free_count < FREE_BATCH)
            memcpy(queue->free_names[queue->free_count++], id, QUEUE_ID_SIZE);
        pthread_mutex_unlock(&queue->lock);
    } else if (unlinkat(queue->active_fd, id, 0) < 0) {
        error_set(error_r, "unlink active/%s: %s", id, strerror(errno));
        return -1;
    }
    pthread_mutex_lock(&queue->lock);
    queue->staged++;
    pthread_mutex_unlock(&queue->lock);
    return 0;
}

void queue_remove_status(struct queue *queue, const char *id)
{
    char name[QUEUE_ID_SIZE + 8];

    if (!queue_id_valid(id))
        return;
    snprintf(name, sizeof(name), "%s.st", id);
    /* Best effort: a leftover .st without its message is removed by
     * queue_cleanup. */
    (void)unlinkat(queue->active_fd, name, 0);
}

int queue_remove(struct queue *queue, const char *id, char **error_r)
{
    if (queue_remove_stage(queue, id, error_r) < 0 || queue_sync(queue, error_r) < 0)
        return -1;
    queue_remove_status(queue, id);
    return 0;
}
