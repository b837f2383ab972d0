/* queue/queue.c - the durable spool: see queue.h for the layout and the
 * order of fsyncs that makes "accepted means durable" true. This file opens
 * the spool and writes messages into it; queue_scan.c lists and cleans it,
 * queue_record.c reads committed messages, marks and removes them. */
#include "config.h"

#include "queue/queue_internal.h"
#include "lib/error.h"
#include "lib/fdio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define WRITE_BUFFER_SIZE 65536
struct queue_msg {
    struct queue *queue;
    char id[QUEUE_ID_SIZE];
    int fd;
    uint64_t size;
    bool failed;
    size_t buf_len;
    char buf[WRITE_BUFFER_SIZE];
};

static atomic_uint id_counter;

static void close_fd(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

/* open_subdir - open (creating, mode 0700) a folder of the spool. */
static int open_subdir(int dir_fd, const char *name, bool *created)
{
    if (mkdirat(dir_fd, name, 0700) == 0)
        *created = true;
    else if (errno != EEXIST)
        return -1;
    return openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

int queue_open(const char *dir, struct queue **queue_r, char **error_r)
{
    struct queue *q;
    bool created = false;

    *queue_r = NULL;
    q = calloc(1, sizeof(*q));
    if (q == NULL || (q->dir = strdup(dir)) == NULL) {
        free(q);
        error_set(error_r, "out of memory");
        return -1;
    }
    q->dir_fd = q->tmp_fd = q->active_fd = q->free_fd = -1;
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->synced_cond, NULL);
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        error_set(error_r, "mkdir %s: %s", dir, strerror(errno));
        goto fail;
    }
    q->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (q->dir_fd < 0) {
        error_set(error_r, "open %s: %s", dir, strerror(errno));
        goto fail;
    }
    q->tmp_fd = open_subdir(q->dir_fd, "tmp", &created);
    if (q->tmp_fd >= 0)
        q->active_fd = open_subdir(q->dir_fd, "active", &created);
    if (q->active_fd >= 0)
        q->free_fd = open_subdir(q->dir_fd, "free", &created);
    if (q->tmp_fd < 0 || q->active_fd < 0 || q->free_fd < 0) {
        error_set(error_r, "open %s/tmp, active or free: %s", dir, strerror(errno));
        goto fail;
    }
    /* The folders themselves must survive a crash before the first message. */
    if (created && fsync(q->dir_fd) < 0) {
        error_set(error_r, "fsync %s: %s", dir, strerror(errno));
        goto fail;
    }
    *queue_r = q;
    return 0;

fail:
    queue_close(&q);
    return -1;
}

void queue_close(struct queue **queue)
{
    struct queue *q = *queue;

    if (q == NULL)
        return;
    if (q->staged != q->synced && q->active_fd >= 0)
        (void)fsync(q->active_fd);
    close_fd(&q->dir_fd);
    close_fd(&q->tmp_fd);
    close_fd(&q->active_fd);
    close_fd(&q->free_fd);
    pthread_cond_destroy(&q->synced_cond);
    pthread_mutex_destroy(&q->lock);
    free(q->dir);
    free(q);
    *queue = NULL;
}

int queue_free_space(struct queue *queue, uint64_t *bytes_r, char **error_r)
{
    struct statvfs st;

    if (fstatvfs(queue->dir_fd, &st) < 0) {
        error_set(error_r, "fstatvfs %s: %s", queue->dir, strerror(errno));
        return -1;
    }
    /* f_bavail, not f_bfree: the workers run as the mail user, for whom
     * the blocks reserved for root do not exist. */
    uint64_t blocks = (uint64_t)st.f_bavail;
    uint64_t size = (uint64_t)(st.f_frsize != 0 ? st.f_frsize : st.f_bsize);
    *bytes_r = size != 0 && blocks > UINT64_MAX / size ? UINT64_MAX : blocks * size;
    return 0;
}

bool queue_id_valid(const char *id)
{
    size_t i;

    for (i = 0; id[i] != '\0'; i++)
        if (i >= QUEUE_ID_LEN ||
            !((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
            return false;
    return i == QUEUE_ID_LEN;
}

/* new_id - 13 hex digits of microseconds, 6 of the pid, 4 of a counter: two
 * processes differ by pid, two ids of one process by time or counter, and a
 * restarted process by time. Creating tmp/<id> with O_EXCL and renaming
 * with RENAME_NOREPLACE catch the impossible rest (a clock stepped back onto
 * a reused pid). */
static void new_id(char id[QUEUE_ID_SIZE])
{
    struct timeval tv;
    unsigned long long usec;
    unsigned count = atomic_fetch_add(&id_counter, 1);

    gettimeofday(&tv, NULL);
    usec = (unsigned long long)tv.tv_sec * 1000000ull + (unsigned long long)tv.tv_usec;
    snprintf(id, QUEUE_ID_SIZE, "%013llx%06lx%04x", usec & 0xfffffffffffffull,
             (unsigned long)getpid() & 0xffffffUL, count & 0xffffu);
}

/* open_dir_stream - a DIR over the spool folder dir_fd (its own fd, so that
 * dir_fd stays open); NULL with errno on failure. */
DIR *queue_dir_stream(int dir_fd)
{
    int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;

    if (dir == NULL && fd >= 0) {
        int err = errno;
        close(fd);
        errno = err;
    }
    return dir;
}

/* rename_noreplace - rename within the spool, refusing to replace (an id
 * collision must fail, not overwrite a committed message). Falls back to
 * rename() on file systems without RENAME_NOREPLACE; ids are unique anyway. */
int queue_rename_noreplace(int from_fd, const char *from, int to_fd, const char *to)
{
#ifdef RENAME_NOREPLACE
    if (renameat2(from_fd, from, to_fd, to, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS)
        return -1;
#endif
    return renameat(from_fd, from, to_fd, to);
}

/* free_refill - with lock held and no names left: read up to FREE_BATCH
 * names from free/, unless it was found empty less than
 * FREE_RESCAN_SECONDS ago (a readdir per message would cost more than the
 * inode it saves). */
static void free_refill(struct queue *q)
{
    time_t now = time(NULL);
    DIR *dir;
    struct dirent *de;

    if (q->free_empty_at != 0 && now - q->free_empty_at < FREE_RESCAN_SECONDS)
        return;
    dir = queue_dir_stream(q->free_fd);
    if (dir == NULL) {
        q->free_empty_at = now;
        return;
    }
    while (q->free_count < FREE_BATCH && (de = readdir(dir)) != NULL) {
        if (queue_id_valid(de->d_name))
            memcpy(q->free_names[q->free_count++], de->d_name, QUEUE_ID_SIZE);
    }
    closedir(dir);
    q->free_empty_at = q->free_count == 0 ? now : 0;
}

/* claim_free - a file of free/ renamed to tmp/<id> and opened for writing,
 * or -1 when there is none (create a new one). Other processes claim from
 * the same folder: a name another took first fails its rename, and the
 * next is tried. */
static int claim_free(struct queue *q, const char *id)
{
    char name[QUEUE_ID_SIZE];

    pthread_mutex_lock(&q->lock);
    for (;;) {
        if (q->free_count == 0)
            free_refill(q);
        if (q->free_count == 0) {
            pthread_mutex_unlock(&q->lock);
            return -1;
        }
        memcpy(name, q->free_names[--q->free_count], QUEUE_ID_SIZE);
        pthread_mutex_unlock(&q->lock);
        if (queue_rename_noreplace(q->free_fd, name, q->tmp_fd, id) == 0) {
            int fd = openat(q->tmp_fd, id, O_WRONLY | O_TRUNC | O_NOFOLLOW | O_CLOEXEC);
            if (fd >= 0)
                return fd;
            unlinkat(q->tmp_fd, id, 0);
            return -1;
        }
        pthread_mutex_lock(&q->lock);
    }
}

struct queue_msg *queue_msg_begin(struct queue *queue, char **error_r)
{
    struct queue_msg *msg = malloc(sizeof(*msg));

    if (msg == NULL) {
        error_set(error_r, "out of memory");
        return NULL;
    }
    msg->queue = queue;
    msg->size = 0;
    msg->failed = false;
    msg->buf_len = 0;
    for (int tries = 0;; tries++) {
        new_id(msg->id);
        /* A file the runner freed, when there is one: on ext4 without a
         * journal a new inode costs a scan past every recently deleted
         * one, the largest single cost of an accept in bench/smtp. */
        msg->fd = claim_free(queue, msg->id);
        if (msg->fd >= 0)
            return msg;
        msg->fd = openat(queue->tmp_fd, msg->id,
                         O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (msg->fd >= 0)
            return msg;
        if (errno != EEXIST || tries > 8) {
            error_set(error_r, "create tmp/%s: %s", msg->id, strerror(errno));
            free(msg);
            return NULL;
        }
    }
}

const char *queue_msg_id(const struct queue_msg *msg)
{
    return msg->id;
}

static int msg_flush(struct queue_msg *msg, char **error_r)
{
    if (msg->buf_len > 0 && fd_write_all(msg->fd, msg->buf, msg->buf_len) < 0) {
        error_set(error_r, "write tmp/%s: %s", msg->id, strerror(errno));
        msg->failed = true;
        return -1;
    }
    msg->buf_len = 0;
    return 0;
}

int queue_msg_write(struct queue_msg *msg, const void *data, size_t len, char **error_r)
{
    const char *p = data;

    if (msg->failed) {
        error_set(error_r, "message %s already failed", msg->id);
        return -1;
    }
    msg->size += len;
    if (len >= sizeof(msg->buf)) {
        if (msg_flush(msg, error_r) < 0)
            return -1;
        if (fd_write_all(msg->fd, p, len) < 0) {
            error_set(error_r, "write tmp/%s: %s", msg->id, strerror(errno));
            msg->failed = true;
            return -1;
        }
        return 0;
    }
    if (sizeof(msg->buf) - msg->buf_len < len && msg_flush(msg, error_r) < 0)
        return -1;
    memcpy(msg->buf + msg->buf_len, p, len);
    msg->buf_len += len;
    return 0;
}

void queue_msg_abort(struct queue_msg **msgp)
{
    struct queue_msg *msg = *msgp;

    if (msg == NULL)
        return;
    close_fd(&msg->fd);
    unlinkat(msg->queue->tmp_fd, msg->id, 0);
    free(msg);
    *msgp = NULL;
}

int queue_msg_stage(struct queue_msg **msgp, struct queue_envelope *env, char **error_r)
{
    struct queue_msg *msg = *msgp;
    struct queue *q = msg->queue;
    char trailer[TRAILER_LEN + 1];
    char *text = NULL;
    size_t text_len;

    memcpy(env->id, msg->id, QUEUE_ID_SIZE);
    env->size = msg->size;
    if (env->arrival == 0)
        env->arrival = time(NULL);

    if (msg->failed) {
        error_set(error_r, "message %s had a write error", msg->id);
        goto fail;
    }
    if (msg_flush(msg, error_r) < 0)
        goto fail;
    if (queue_envelope_format(env, &text, &text_len, error_r) < 0)
        goto fail;
    snprintf(trailer, sizeof(trailer), TRAILER_FORMAT, msg->size, (uint64_t)text_len);
    if (fd_write_all(msg->fd, text, text_len) < 0 ||
        fd_write_all(msg->fd, trailer, TRAILER_LEN) < 0) {
        error_set(error_r, "write tmp/%s: %s", msg->id, strerror(errno));
        goto fail;
    }
    free(text);
    text = NULL;
    if (fsync(msg->fd) < 0) {
        error_set(error_r, "fsync tmp/%s: %s", msg->id, strerror(errno));
        goto fail;
    }
    close_fd(&msg->fd);
    /* One rename publishes message and envelope together; queue_sync's
     * fsync of active/ makes the new entry durable. */
    if (queue_rename_noreplace(q->tmp_fd, msg->id, q->active_fd, msg->id) < 0) {
        error_set(error_r, "rename %s into active/: %s", msg->id, strerror(errno));
        goto fail;
    }
    pthread_mutex_lock(&q->lock);
    q->staged++;
    pthread_mutex_unlock(&q->lock);
    free(msg);
    *msgp = NULL;
    return 0;

fail:
    free(text);
    close_fd(&msg->fd);
    unlinkat(q->tmp_fd, msg->id, 0);
    free(msg);
    *msgp = NULL;
    return -1;
}

/* queue_sync - group commit: the caller needs an fsync of active/ that
 * began after every rename it staged (counted in staged when it calls).
 * When one is already running it may have begun before those renames, so
 * the caller waits for it and then checks again; otherwise it runs one
 * itself for everything staged so far. Under load one fsync of active/
 * thus covers every session that finished its files while the previous
 * one ran. A failed fsync advances nothing: each waiter then tries its own,
 * so no caller gets 0 without a successful fsync begun after its renames. */
int queue_sync(struct queue *queue, char **error_r)
{
    int ret = 0;

    pthread_mutex_lock(&queue->lock);
    uint64_t want = queue->staged;
    while (queue->synced < want) {
        if (queue->syncing) {
            pthread_cond_wait(&queue->synced_cond, &queue->lock);
            continue;
        }
        uint64_t upto = queue->staged;
        queue->syncing = true;
        pthread_mutex_unlock(&queue->lock);
        int r = fsync(queue->active_fd), err = errno;
        pthread_mutex_lock(&queue->lock);
        queue->syncing = false;
        if (r == 0 && upto > queue->synced)
            queue->synced = upto;
        pthread_cond_broadcast(&queue->synced_cond);
        if (r < 0) {
            error_set(error_r, "fsync %s/active: %s", queue->dir, strerror(err));
            ret = -1;
            break;
        }
    }
    pthread_mutex_unlock(&queue->lock);
    return ret;
}

int queue_msg_commit(struct queue_msg **msg, struct queue_envelope *env, char **error_r)
{
    struct queue *q = (*msg)->queue;

    if (queue_msg_stage(msg, env, error_r) < 0)
        return -1;
    return queue_sync(q, error_r);
}
