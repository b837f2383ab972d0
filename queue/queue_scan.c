/* queue/queue_scan.c - the spool's listing and cleanup: the ids in active/
 * that the runner's work list starts from, and what crashed writers and
 * interrupted removals leave behind (tmp/, free/, orphaned status files). */
#include "config.h"

#include "queue/queue_internal.h"
#include "lib/error.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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
    DIR *dir = queue_dir_stream(q->active_fd);
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
static int sweep_old(struct queue *queue, int dir_fd, const char *name, time_t cutoff, bool writers,
                     unsigned *removed, size_t *kept_r, char **error_r)
{
    DIR *dir = queue_dir_stream(dir_fd);
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
