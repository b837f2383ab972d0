/* queue/queue.c - the durable spool: see queue.h for the layout and the
 * order of fsyncs that makes "accepted means durable" true. */
#include "config.h"

#include "queue/queue.h"
#include "lib/error.h"
#include "lib/fdio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
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
#define MAX_ENVELOPE_FILE (64u * 1024 * 1024)
#define MAX_STATUS_FILE (64u * 1024 * 1024)
/* free/ (see queue.h): files kept at most, names a process claims from at
 * once, and how long an empty free/ is not read again. */
#define FREE_MAX 4096
#define FREE_BATCH 64
#define FREE_RESCAN_SECONDS 1

struct queue {
    char *dir;
    int dir_fd, tmp_fd, active_fd, free_fd;
    /* Group commit of active/ (see queue_sync): staged counts messages
     * renamed into active/, synced is the value of staged when the last
     * successful fsync of active/ began, syncing says one is running. */
    pthread_mutex_t lock;
    pthread_cond_t synced_cond;
    uint64_t staged, synced;
    bool syncing;
    /* Under lock: names read from free/ not yet tried, when free/ was last
     * found empty, and how many files this process put there since
     * queue_cleanup last counted them. */
    char free_names[FREE_BATCH][QUEUE_ID_SIZE];
    size_t free_count;
    time_t free_empty_at;
    size_t free_added;
};

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
static DIR *open_dir_stream(int dir_fd)
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
static int rename_noreplace(int from_fd, const char *from, int to_fd, const char *to)
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
    dir = open_dir_stream(q->free_fd);
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
        if (rename_noreplace(q->free_fd, name, q->tmp_fd, id) == 0) {
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

/* The trailer that ends every spool file: where the envelope starts (the
 * message's length) and how long it is. Fixed length, so a reader finds it
 * with one pread at the end; a file whose trailer does not add up is not a
 * spool file (see queue.h). */
#define TRAILER_LEN 39
#define TRAILER_FORMAT "DMQ1 %016" PRIx64 " %016" PRIx64 "\n"

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
    if (fd_write_all(msg->fd, text, text_len) < 0 || fd_write_all(msg->fd, trailer, TRAILER_LEN) < 0) {
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
    if (rename_noreplace(q->tmp_fd, msg->id, q->active_fd, msg->id) < 0) {
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

/* suffix_id - when name is "<id><suffix>", copy the id into id and return true. */
static bool suffix_id(const char *name, const char *suffix, char id[QUEUE_ID_SIZE])
{
    size_t len = strlen(name), slen = strlen(suffix);

    if (len != QUEUE_ID_LEN + slen || strcmp(name + QUEUE_ID_LEN, suffix) != 0)
        return false;
    memcpy(id, name, QUEUE_ID_LEN);
    id[QUEUE_ID_LEN] = '\0';
    return queue_id_valid(id);
}

/* A list of ids while scanning. */
struct id_list {
    char (*ids)[QUEUE_ID_SIZE];
    size_t count, alloc;
};

static int id_list_add(struct id_list *list, const char *id)
{
    if (list->count == list->alloc) {
        size_t alloc = list->alloc == 0 ? 64 : list->alloc * 2;
        char(*p)[QUEUE_ID_SIZE] = reallocarray(list->ids, alloc, sizeof(*p));
        if (p == NULL)
            return -1;
        list->ids = p;
        list->alloc = alloc;
    }
    memcpy(list->ids[list->count++], id, QUEUE_ID_SIZE);
    return 0;
}

static int id_cmp(const void *a, const void *b)
{
    return memcmp(a, b, QUEUE_ID_SIZE);
}

static bool id_list_has(const struct id_list *list, const char *id)
{
    return list->count > 0 && bsearch(id, list->ids, list->count, QUEUE_ID_SIZE, id_cmp) != NULL;
}

/* list_active - the ids in active/ with a spool file and with an .st. */
static int list_active(struct queue *q, struct id_list *msgs, struct id_list *sts, char **error_r)
{
    DIR *dir = open_dir_stream(q->active_fd);
    struct dirent *de;
    char id[QUEUE_ID_SIZE];

    if (dir == NULL) {
        error_set(error_r, "open %s/active: %s", q->dir, strerror(errno));
        return -1;
    }
    while ((errno = 0, de = readdir(dir)) != NULL) {
        struct id_list *list = NULL;

        if (suffix_id(de->d_name, "", id))
            list = msgs;
        else if (suffix_id(de->d_name, ".st", id))
            list = sts;
        if (list != NULL && id_list_add(list, id) < 0) {
            error_set(error_r, "out of memory");
            closedir(dir);
            return -1;
        }
    }
    if (errno != 0) {
        error_set(error_r, "readdir %s/active: %s", q->dir, strerror(errno));
        closedir(dir);
        return -1;
    }
    closedir(dir);
    if (msgs->count > 1)
        qsort(msgs->ids, msgs->count, QUEUE_ID_SIZE, id_cmp);
    if (sts->count > 1)
        qsort(sts->ids, sts->count, QUEUE_ID_SIZE, id_cmp);
    return 0;
}

int queue_scan(struct queue *queue, char ***ids_r, size_t *count_r, char **error_r)
{
    struct id_list msgs = {0}, sts = {0};
    char **ids = NULL;
    size_t count = 0;
    int ret = -1;

    *ids_r = NULL;
    *count_r = 0;
    if (list_active(queue, &msgs, &sts, error_r) < 0)
        goto out;
    ids = calloc(msgs.count + 1, sizeof(*ids));
    if (ids == NULL) {
        error_set(error_r, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < msgs.count; i++) {
        ids[count] = strdup(msgs.ids[i]);
        if (ids[count] == NULL) {
            queue_ids_free(&ids, count);
            error_set(error_r, "out of memory");
            goto out;
        }
        count++;
    }
    *ids_r = ids;
    *count_r = count;
    ret = 0;
out:
    free(msgs.ids);
    free(sts.ids);
    return ret;
}

void queue_ids_free(char ***ids, size_t count)
{
    if (*ids == NULL)
        return;
    for (size_t i = 0; i < count; i++)
        free((*ids)[i]);
    free(*ids);
    *ids = NULL;
}

/* old_enough - the file name in dir_fd was last written before cutoff (a
 * vanished file is "not old": someone else is handling it). A writer keeps
 * writing to tmp/<id> while a session is in DATA, so the grace must exceed
 * the DATA timeouts (RFC 5321 4.5.3.2: 3 minutes per block, 10 for the end). */
static bool old_enough(int dir_fd, const char *name, time_t cutoff)
{
    struct stat st;

    if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return false;
    return st.st_mtime < cutoff;
}

static void remove_old(int dir_fd, const char *name, time_t cutoff, unsigned *removed)
{
    if (old_enough(dir_fd, name, cutoff) && unlinkat(dir_fd, name, 0) == 0)
        (*removed)++;
}

/* writer_gone - whether the process that named tmp/<name> (the pid in a
 * queue id, new_id) no longer exists: its file can never be committed, so
 * it goes at once instead of after the grace. A pid reused since only
 * keeps the file until the grace; EPERM is a live process of another user. */
static bool writer_gone(const char *name)
{
    char pid_hex[7];
    long pid;

    if (!queue_id_valid(name))
        return false;
    memcpy(pid_hex, name + 13, 6);
    pid_hex[6] = '\0';
    pid = strtol(pid_hex, NULL, 16);
    if (pid <= 0 || pid == (long)getpid())
        return false;
    return kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

/* sweep_old - remove_old on every entry of the spool folder dir_fd (name for
 * the error); with writers, also what writer_gone says is dead. 0 and
 * *kept_r (may be NULL): the entries left; or -1. */
static int sweep_old(struct queue *queue, int dir_fd, const char *name, time_t cutoff,
                     bool writers, unsigned *removed, size_t *kept_r, char **error_r)
{
    DIR *dir = open_dir_stream(dir_fd);
    struct dirent *de;
    size_t kept = 0;

    if (dir == NULL) {
        error_set(error_r, "open %s/%s: %s", queue->dir, name, strerror(errno));
        return -1;
    }
    while ((de = readdir(dir)) != NULL) {
        unsigned before = *removed;

        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (writers && writer_gone(de->d_name)) {
            if (unlinkat(dir_fd, de->d_name, 0) == 0)
                (*removed)++;
        } else {
            remove_old(dir_fd, de->d_name, cutoff, removed);
        }
        if (*removed == before)
            kept++;
    }
    closedir(dir);
    if (kept_r != NULL)
        *kept_r = kept;
    return 0;
}

int queue_cleanup(struct queue *queue, unsigned grace_seconds, unsigned *removed_r, char **error_r)
{
    struct id_list msgs = {0}, sts = {0};
    time_t cutoff = time(NULL) - (time_t)grace_seconds;
    unsigned removed = 0;
    char name[QUEUE_ID_SIZE + 8];
    size_t free_kept;
    int ret = -1;

    /* tmp/: nothing there was ever acknowledged. free/: files kept for
     * reuse and not reused within the grace; what stays is what this
     * process may keep adding up to (FREE_MAX). */
    if (sweep_old(queue, queue->tmp_fd, "tmp", cutoff, true, &removed, NULL, error_r) < 0 ||
        sweep_old(queue, queue->free_fd, "free", cutoff, false, &removed, &free_kept, error_r) < 0)
        return -1;
    pthread_mutex_lock(&queue->lock);
    queue->free_added = free_kept;
    pthread_mutex_unlock(&queue->lock);

    /* active/: status files whose message was removed (queue_remove takes
     * the message out of active/ first). */
    if (list_active(queue, &msgs, &sts, error_r) < 0)
        goto out;
    for (size_t i = 0; i < sts.count; i++) {
        if (!id_list_has(&msgs, sts.ids[i])) {
            snprintf(name, sizeof(name), "%s.st", sts.ids[i]);
            remove_old(queue->active_fd, name, cutoff, &removed);
        }
    }
    if (removed_r != NULL)
        *removed_r = removed;
    ret = 0;
out:
    free(msgs.ids);
    free(sts.ids);
    return ret;
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

int queue_mark_recipients(struct queue *queue, const char *id, const struct queue_mark *marks,
                          size_t count, char **error_r)
{
    char name[QUEUE_ID_SIZE + 8], *text = NULL;
    size_t len = 0;
    bool created = false;
    int fd, ret = -1;

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
    snprintf(name, sizeof(name), "%s.st", id);
    fd = openat(queue->active_fd, name, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        fd = openat(queue->active_fd, name,
                    O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        created = fd >= 0;
    }
    if (fd < 0) {
        error_set(error_r, "open active/%s: %s", name, strerror(errno));
        free(text);
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
    free(text);
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
    if (keep && rename_noreplace(queue->active_fd, id, queue->free_fd, id) == 0) {
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
