/* tests/unit/test_queue.c - queue/queue.c: commit, scan, mark, remove, crash
 * recovery, cleanup. The envelope and status record text formats
 * (queue/queue_envelope.c) are tested in test_queue_envelope.c. */
#include "config.h"

#include "queue/queue.h"
#include "queue/queue_envelope.h"
#include "tap_main.h"
#include "temp_dir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[256];

static void setup(void)
{
    temp_dir_make(dir, sizeof(dir), "test_queue");
}

static void teardown(void)
{
    temp_dir_remove(dir);
}

/* sub - dir/<folder>/<id><suffix> (two alternating static buffers). */
static char *sub(const char *folder, const char *id, const char *suffix)
{
    static char buf[2][512];
    static int which;

    which ^= 1;
    snprintf(buf[which], sizeof(buf[which]), "%s/%s%s%s%s", dir, folder, *id != '\0' ? "/" : "", id,
             suffix);
    return buf[which];
}

static int count_dir(const char *name)
{
    DIR *d = opendir(sub(name, "", ""));
    struct dirent *de;
    int n = 0;

    if (d == NULL)
        return -1;
    while ((de = readdir(d)) != NULL)
        if (de->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

static struct queue *open_queue(void)
{
    struct queue *q = NULL;
    char *error = NULL;

    ck_assert_msg(queue_open(dir, &q, &error) == 0, "queue_open: %s", error);
    return q;
}

static struct queue_envelope *sample_envelope(void)
{
    struct queue_envelope *env = queue_envelope_new();
    char *error = NULL;

    ck_assert_ptr_nonnull(env);
    ck_assert_int_eq(queue_envelope_set(&env->sender, "sender@example.net"), 0);
    ck_assert_int_eq(queue_envelope_set(&env->client_address, "192.0.2.1"), 0);
    ck_assert_int_eq(queue_envelope_set(&env->client_helo, "client.example.net"), 0);
    ck_assert_int_eq(queue_envelope_add_recipient(env, "one@example.org",
                                                  QUEUE_NOTIFY_SUCCESS | QUEUE_NOTIFY_FAILURE,
                                                  "rfc822;one@example.org", &error),
                     0);
    ck_assert_int_eq(queue_envelope_add_recipient(env, "two@example.org", 0, NULL, &error), 0);
    return env;
}

/* commit_message - queue body with a sample envelope; returns the id (static). */
static const char *commit_message(struct queue *q, const char *body)
{
    static char id[QUEUE_ID_SIZE];
    struct queue_msg *msg;
    struct queue_envelope *env = sample_envelope();
    char *error = NULL;
    size_t len = strlen(body);

    msg = queue_msg_begin(q, &error);
    ck_assert_msg(msg != NULL, "begin: %s", error);
    memcpy(id, queue_msg_id(msg), QUEUE_ID_SIZE);
    /* in two pieces, one larger than the writer's buffer when body is */
    ck_assert_int_eq(queue_msg_write(msg, body, len / 2, &error), 0);
    ck_assert_int_eq(queue_msg_write(msg, body + len / 2, len - len / 2, &error), 0);
    ck_assert_msg(queue_msg_commit(&msg, env, &error) == 0, "commit: %s", error);
    ck_assert_ptr_null(msg);
    ck_assert_str_eq(env->id, id);
    ck_assert_uint_eq(env->size, len);
    queue_envelope_free(&env);
    return id;
}

/* read_fd - at most max octets from fd (the message part of a spool file). */
static char *read_fd(int fd, uint64_t max, size_t *len_r)
{
    size_t cap = 1024, len = 0;
    char *data = malloc(cap);
    ssize_t n;

    while (len < max &&
           (n = read(fd, data + len, max - len < cap - len - 1 ? max - len : cap - len - 1)) > 0) {
        len += (size_t)n;
        if (cap - len < 2)
            data = realloc(data, cap *= 2);
    }
    data[len] = '\0';
    *len_r = len;
    return data;
}

START_TEST(test_commit_scan_load)
{
    struct queue *q = open_queue();
    struct queue_envelope *env = NULL;
    const char *body = "Subject: x\r\n\r\nhello\r\n";
    char id[QUEUE_ID_SIZE], **ids = NULL, *error = NULL, *data;
    size_t count = 0, len;
    uint64_t msg_len;
    int fd;

    memcpy(id, commit_message(q, body), QUEUE_ID_SIZE);
    ck_assert(queue_id_valid(id));
    ck_assert_int_eq(count_dir("tmp"), 0);
    ck_assert_int_eq(queue_scan(q, &ids, &count, &error), 0);
    ck_assert_uint_eq(count, 1);
    ck_assert_str_eq(ids[0], id);
    queue_ids_free(&ids, count);
    ck_assert_ptr_null(ids);

    ck_assert_int_eq(queue_load_envelope(q, id, &env, &error), 0);
    ck_assert_str_eq(env->id, id);
    ck_assert_str_eq(env->sender, "sender@example.net");
    ck_assert_str_eq(env->client_helo, "client.example.net");
    ck_assert_ptr_null(env->auth_user);
    ck_assert_uint_eq(env->size, strlen(body));
    ck_assert_uint_eq(env->rcpt_count, 2);
    ck_assert_str_eq(env->rcpts[0].orcpt, "rfc822;one@example.org");
    ck_assert_uint_eq(env->rcpts[0].notify, QUEUE_NOTIFY_SUCCESS | QUEUE_NOTIFY_FAILURE);
    ck_assert_int_eq(env->rcpts[1].state, QUEUE_RCPT_PENDING);
    ck_assert_int_gt(env->arrival, 0);
    queue_envelope_free(&env);

    ck_assert_int_eq(queue_open_message(q, id, &fd, &msg_len, &error), 0);
    ck_assert_uint_eq(msg_len, strlen(body));
    data = read_fd(fd, msg_len, &len);
    close(fd);
    ck_assert_str_eq(data, body);
    free(data);

    /* One file: the message, the envelope after it, the trailer last. */
    ck_assert_int_eq(count_dir("active"), 1);
    fd = open(sub("active", id, ""), O_RDONLY);
    ck_assert_int_ge(fd, 0);
    data = read_fd(fd, UINT64_MAX, &len);
    close(fd);
    ck_assert_mem_eq(data, body, strlen(body));
    ck_assert_ptr_nonnull(strstr(data + strlen(body), "sender@example.net"));
    ck_assert_int_eq(strncmp(data + len - 39, "DMQ1 ", 5), 0);
    ck_assert_int_eq(data[len - 1], '\n');
    free(data);

    ck_assert_int_eq(queue_load_envelope(q, "../../etc/passwd", &env, &error), -1);
    free(error);
    queue_close(&q);
    ck_assert_ptr_null(q);
}
END_TEST

START_TEST(test_large_message)
{
    struct queue *q = open_queue();
    size_t size = 300000, len;
    char *body = malloc(size + 1), *data, *error = NULL;
    const char *id;
    uint64_t msg_len;
    int fd;

    for (size_t i = 0; i < size; i++)
        body[i] = (char)('a' + i % 26);
    body[size] = '\0';
    id = commit_message(q, body);
    ck_assert_int_eq(queue_open_message(q, id, &fd, &msg_len, &error), 0);
    ck_assert_uint_eq(msg_len, size);
    data = read_fd(fd, msg_len, &len);
    close(fd);
    ck_assert_uint_eq(len, size);
    ck_assert_mem_eq(data, body, size);
    free(data);
    free(body);
    queue_close(&q);
}
END_TEST

START_TEST(test_ids_unique_and_sorted)
{
    struct queue *q = open_queue();
    char prev[QUEUE_ID_SIZE] = "", *error = NULL;

    for (int i = 0; i < 2000; i++) {
        struct queue_msg *msg = queue_msg_begin(q, &error);
        ck_assert_ptr_nonnull(msg);
        ck_assert(queue_id_valid(queue_msg_id(msg)));
        ck_assert_msg(strcmp(prev, queue_msg_id(msg)) < 0, "%s then %s", prev, queue_msg_id(msg));
        memcpy(prev, queue_msg_id(msg), QUEUE_ID_SIZE);
        queue_msg_abort(&msg);
        ck_assert_ptr_null(msg);
    }
    ck_assert_int_eq(count_dir("tmp"), 0); /* abort removes the partial file */
    ck_assert(!queue_id_valid("0123"));
    ck_assert(!queue_id_valid("0123456789abcdef0123456/"));
    ck_assert(!queue_id_valid("0123456789ABCDEF0123456"));
    ck_assert(queue_id_valid("0123456789abcdef0123456"));
    queue_close(&q);
}
END_TEST

START_TEST(test_commits_from_processes)
{
    enum { CHILDREN = 4, EACH = 50 };
    struct queue *q;
    char **ids = NULL, *error = NULL;
    size_t count = 0;
    pid_t pids[CHILDREN];

    q = open_queue();
    queue_close(&q);
    for (int c = 0; c < CHILDREN; c++) {
        pids[c] = fork();
        ck_assert_int_ge(pids[c], 0);
        if (pids[c] == 0) {
            struct queue *cq = open_queue();
            for (int i = 0; i < EACH; i++)
                commit_message(cq, "x\r\n");
            queue_close(&cq);
            _exit(0);
        }
    }
    for (int c = 0; c < CHILDREN; c++) {
        int status;
        ck_assert_int_eq(waitpid(pids[c], &status, 0), pids[c]);
        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    q = open_queue();
    ck_assert_int_eq(queue_scan(q, &ids, &count, &error), 0);
    ck_assert_uint_eq(count, CHILDREN * EACH);
    for (size_t i = 1; i < count; i++)
        ck_assert(strcmp(ids[i - 1], ids[i]) < 0); /* sorted, no duplicates */
    queue_ids_free(&ids, count);
    queue_close(&q);
}
END_TEST

/* commit_thread - EACH commits on the shared struct queue; the ids written
 * into arg's slots. Failures are counted, not asserted (not on this thread). */
enum { THREADS = 8, THREAD_EACH = 40 };
struct thread_commits {
    struct queue *q;
    char ids[THREAD_EACH][QUEUE_ID_SIZE];
    int failures;
};

static void *commit_thread(void *arg)
{
    struct thread_commits *t = arg;

    for (int i = 0; i < THREAD_EACH; i++) {
        char *error = NULL;
        struct queue_envelope *env = sample_envelope();
        struct queue_msg *msg = queue_msg_begin(t->q, &error);

        if (msg == NULL || queue_msg_write(msg, "threaded\r\n", 10, &error) < 0 ||
            queue_msg_commit(&msg, env, &error) < 0) {
            t->failures++;
            queue_msg_abort(&msg);
        } else {
            memcpy(t->ids[i], env->id, QUEUE_ID_SIZE);
        }
        free(error);
        queue_envelope_free(&env);
    }
    return NULL;
}

/* Group commit: threads committing on one struct queue at once (as the SMTP
 * pool threads do) all get distinct ids, and every id is scannable and
 * loads once queue_msg_commit has returned. */
START_TEST(test_commits_from_threads)
{
    static struct thread_commits t[THREADS];
    pthread_t th[THREADS];
    struct queue *q = open_queue();
    char **ids = NULL, *error = NULL;
    size_t count = 0;

    for (int i = 0; i < THREADS; i++) {
        t[i].q = q;
        ck_assert_int_eq(pthread_create(&th[i], NULL, commit_thread, &t[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        ck_assert_int_eq(pthread_join(th[i], NULL), 0);
        ck_assert_int_eq(t[i].failures, 0);
    }
    ck_assert_int_eq(queue_sync(q, &error), 0); /* nothing pending: at once */
    ck_assert_int_eq(queue_scan(q, &ids, &count, &error), 0);
    ck_assert_uint_eq(count, THREADS * THREAD_EACH);
    for (size_t i = 1; i < count; i++)
        ck_assert(strcmp(ids[i - 1], ids[i]) < 0);
    for (int i = 0; i < THREADS; i++) {
        struct queue_envelope *env = NULL;
        ck_assert_msg(queue_load_envelope(q, t[i].ids[THREAD_EACH - 1], &env, &error) == 0,
                      "load: %s", error);
        ck_assert_uint_eq(env->size, 10);
        queue_envelope_free(&env);
    }
    queue_ids_free(&ids, count);
    queue_close(&q);
}
END_TEST

START_TEST(test_mark_and_remove)
{
    struct queue *q = open_queue();
    struct queue_envelope *env = NULL;
    char id[QUEUE_ID_SIZE], **ids = NULL, *error = NULL;
    size_t count;

    memcpy(id, commit_message(q, "body\r\n"), QUEUE_ID_SIZE);
    ck_assert_int_eq(queue_mark_recipient(q, id, 0, QUEUE_RCPT_DELIVERED, 0, NULL, &error), 0);
    ck_assert_int_eq(queue_mark_recipient(q, id, 1, QUEUE_RCPT_DEFERRED, 12345,
                                          "451 4.4.3 directory down", &error),
                     0);
    ck_assert_int_eq(queue_load_envelope(q, id, &env, &error), 0);
    ck_assert_int_eq(env->rcpts[0].state, QUEUE_RCPT_DELIVERED);
    ck_assert_int_eq(env->rcpts[1].state, QUEUE_RCPT_DEFERRED);
    ck_assert_int_eq(env->rcpts[1].when, 12345);
    ck_assert_str_eq(env->rcpts[1].reply, "451 4.4.3 directory down");
    ck_assert(!queue_envelope_all_final(env));
    queue_envelope_free(&env);

    /* A final state never regresses, whatever is appended later. */
    ck_assert_int_eq(queue_mark_recipient(q, id, 0, QUEUE_RCPT_DEFERRED, 1, "x", &error), 0);
    ck_assert_int_eq(queue_mark_recipient(q, id, 1, QUEUE_RCPT_FAILED, 0, "550 5.1.1 gone", &error),
                     0);
    ck_assert_int_eq(queue_load_envelope(q, id, &env, &error), 0);
    ck_assert_int_eq(env->rcpts[0].state, QUEUE_RCPT_DELIVERED);
    ck_assert_int_eq(env->rcpts[1].state, QUEUE_RCPT_FAILED);
    ck_assert_str_eq(env->rcpts[1].reply, "550 5.1.1 gone");
    ck_assert(queue_envelope_all_final(env));
    queue_envelope_free(&env);

    ck_assert_int_eq(queue_mark_recipient(q, id, 0, QUEUE_RCPT_PENDING, 0, NULL, &error), -1);
    free(error);
    error = NULL;
    ck_assert_int_eq(queue_remove(q, id, &error), 0);
    ck_assert_int_eq(queue_scan(q, &ids, &count, &error), 0);
    ck_assert_uint_eq(count, 0);
    queue_ids_free(&ids, count);
    ck_assert_int_eq(count_dir("active"), 0);
    ck_assert_int_eq(queue_load_envelope(q, id, &env, &error), -1);
    free(error);
    queue_close(&q);
}
END_TEST

/* A runner killed between mark and remove: the message is still there after
 * a restart, with the delivered recipient marked (so it is not re-delivered). */
START_TEST(test_crash_between_mark_and_remove)
{
    struct queue *q;
    struct queue_envelope *env = NULL;
    char id[QUEUE_ID_SIZE], **ids = NULL, *error = NULL;
    size_t count = 0;
    int pipefd[2], status;
    pid_t pid;

    ck_assert_int_eq(pipe(pipefd), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct queue *cq = open_queue();
        const char *cid = commit_message(cq, "body\r\n");
        if (queue_mark_recipient(cq, cid, 0, QUEUE_RCPT_DELIVERED, 0, NULL, NULL) < 0)
            _exit(1);
        if (write(pipefd[1], cid, QUEUE_ID_SIZE) != QUEUE_ID_SIZE)
            _exit(1);
        /* Closing descriptors changes nothing on disk; remove never happens. */
        queue_close(&cq);
        kill(getpid(), SIGKILL);
        _exit(1);
    }
    close(pipefd[1]);
    ck_assert_int_eq(read(pipefd[0], id, QUEUE_ID_SIZE), QUEUE_ID_SIZE);
    close(pipefd[0]);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFSIGNALED(status));

    q = open_queue();
    ck_assert_int_eq(queue_cleanup(q, 3600, NULL, &error), 0);
    ck_assert_int_eq(queue_scan(q, &ids, &count, &error), 0);
    ck_assert_uint_eq(count, 1);
    ck_assert_str_eq(ids[0], id);
    queue_ids_free(&ids, count);
    ck_assert_int_eq(queue_load_envelope(q, id, &env, &error), 0);
    ck_assert_int_eq(env->rcpts[0].state, QUEUE_RCPT_DELIVERED);
    ck_assert_int_eq(env->rcpts[1].state, QUEUE_RCPT_PENDING);
    queue_envelope_free(&env);
    queue_close(&q);
}
END_TEST

START_TEST(test_torn_status_line_ignored)
{
    struct queue *q = open_queue();
    struct queue_envelope *env = NULL;
    char id[QUEUE_ID_SIZE], *error = NULL;
    FILE *f;

    memcpy(id, commit_message(q, "body\r\n"), QUEUE_ID_SIZE);
    ck_assert_int_eq(queue_mark_recipient(q, id, 1, QUEUE_RCPT_DEFERRED, 99, "", &error), 0);
    f = fopen(sub("active", id, ".st"), "a");
    ck_assert_ptr_nonnull(f);
    fputs("0 deliv", f); /* a crash mid-append */
    fclose(f);
    ck_assert_int_eq(queue_load_envelope(q, id, &env, &error), 0);
    ck_assert_int_eq(env->rcpts[0].state, QUEUE_RCPT_PENDING);
    ck_assert_int_eq(env->rcpts[1].state, QUEUE_RCPT_DEFERRED);
    ck_assert_str_eq(env->rcpts[1].reply, "");
    queue_envelope_free(&env);
    /* a corrupt complete line is an error, not silently "pending" */
    f = fopen(sub("active", id, ".st"), "a");
    fputs("ered\n7 delivered 1\n", f);
    fclose(f);
    ck_assert_int_eq(queue_load_envelope(q, id, &env, &error), -1);
    free(error);
    queue_close(&q);
}
END_TEST

static void make_old_file(const char *path)
{
    struct timespec times[2] = {{1000000000, 0}, {1000000000, 0}};
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "x", 1), 1);
    close(fd);
    ck_assert_int_eq(utimensat(AT_FDCWD, path, times, 0), 0);
}

START_TEST(test_cleanup)
{
    struct queue *q = open_queue();
    struct queue_msg *fresh;
    char id[QUEUE_ID_SIZE], **ids = NULL, *error = NULL;
    size_t count = 0;
    unsigned removed = 0;
    const char *orphan_st = "00000000000010000000002";

    memcpy(id, commit_message(q, "kept\r\n"), QUEUE_ID_SIZE);
    ck_assert_int_eq(queue_mark_recipient(q, id, 0, QUEUE_RCPT_DEFERRED, 99, "", &error), 0);
    make_old_file(sub("tmp", "00000000000010000000009", ""));
    make_old_file(sub("tmp", "00000000000010000000008", ""));
    make_old_file(sub("active", orphan_st, ".st"));
    fresh = queue_msg_begin(q, &error); /* another process receiving right now */
    ck_assert_ptr_nonnull(fresh);

    /* a status file alone is no message */
    ck_assert_int_eq(queue_scan(q, &ids, &count, &error), 0);
    ck_assert_uint_eq(count, 1);
    ck_assert_str_eq(ids[0], id);
    queue_ids_free(&ids, count);

    ck_assert_int_eq(queue_cleanup(q, 60, &removed, &error), 0);
    ck_assert_uint_eq(removed, 3);
    ck_assert_int_eq(count_dir("tmp"), 1); /* the fresh one */
    ck_assert_int_eq(count_dir("active"), 2);
    ck_assert_int_eq(access(sub("active", id, ""), F_OK), 0);
    ck_assert_int_eq(access(sub("active", id, ".st"), F_OK), 0);
    queue_msg_abort(&fresh);
    queue_close(&q);
}
END_TEST

/* A tmp/ file whose writer is dead (the pid in its id) goes at the next
 * cleanup however young: a kill of the whole tree leaves none behind past
 * the restart. A live writer's file stays (the grace protects it). */
START_TEST(test_cleanup_dead_writers)
{
    struct queue *q = open_queue();
    struct queue_msg *fresh;
    char *error = NULL;
    unsigned removed = 0;
    int status;
    pid_t child;

    child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        struct queue_msg *m = queue_msg_begin(q, &error);
        _exit(m != NULL && queue_msg_write(m, "half a message\r\n", 16, &error) == 0 ? 0 : 1);
    }
    ck_assert_int_eq(waitpid(child, &status, 0), child);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    fresh = queue_msg_begin(q, &error);
    ck_assert_ptr_nonnull(fresh);
    ck_assert_int_eq(count_dir("tmp"), 2);

    ck_assert_int_eq(queue_cleanup(q, 3600, &removed, &error), 0);
    ck_assert_uint_eq(removed, 1);
    ck_assert_int_eq(count_dir("tmp"), 1);
    ck_assert_int_eq(access(sub("tmp", queue_msg_id(fresh), ""), F_OK), 0);
    queue_msg_abort(&fresh);
    queue_close(&q);
}
END_TEST

/* A removed message's file is emptied into free/ and the next message
 * reuses it (same inode, nothing of the old content); free/ is never
 * scanned as messages, and cleanup deletes what stayed there too long. */
START_TEST(test_removed_files_reused)
{
    struct queue *q = open_queue();
    char old_id[QUEUE_ID_SIZE], id[QUEUE_ID_SIZE], **ids = NULL, *error = NULL, *data;
    struct stat st_old, st;
    size_t count = 0, len;
    uint64_t msg_len;
    unsigned removed = 0;
    int fd;

    memcpy(old_id, commit_message(q, "Subject: old\r\n\r\na long body, longer than the next\r\n"),
           QUEUE_ID_SIZE);
    ck_assert_int_eq(stat(sub("active", old_id, ""), &st_old), 0);
    ck_assert_int_eq(queue_remove(q, old_id, &error), 0);
    ck_assert_int_eq(access(sub("active", old_id, ""), F_OK), -1);
    ck_assert_int_eq(stat(sub("free", old_id, ""), &st), 0);
    ck_assert_int_eq(st.st_size, 0);
    ck_assert_int_eq(queue_scan(q, &ids, &count, &error), 0);
    ck_assert_uint_eq(count, 0);
    queue_ids_free(&ids, count);

    memcpy(id, commit_message(q, "new\r\n"), QUEUE_ID_SIZE);
    ck_assert_int_eq(count_dir("free"), 0);
    ck_assert_int_eq(stat(sub("active", id, ""), &st), 0);
    ck_assert_uint_eq(st.st_ino, st_old.st_ino);
    ck_assert_int_eq(queue_open_message(q, id, &fd, &msg_len, &error), 0);
    data = read_fd(fd, UINT64_MAX, &len);
    close(fd);
    ck_assert_uint_eq(msg_len, 5);
    ck_assert_ptr_null(strstr(data, "long body"));
    free(data);

    /* a file left in free/ past the grace goes */
    ck_assert_int_eq(queue_remove(q, id, &error), 0);
    ck_assert_int_eq(count_dir("free"), 1);
    make_old_file(sub("free", id, ""));
    ck_assert_int_eq(queue_cleanup(q, 60, &removed, &error), 0);
    ck_assert_uint_eq(removed, 1);
    ck_assert_int_eq(count_dir("free"), 0);
    queue_close(&q);
}
END_TEST

/* A spool file whose trailer does not add up is refused, never half read. */
START_TEST(test_bad_trailer_refused)
{
    struct queue *q = open_queue();
    struct queue_envelope *env = NULL;
    char id[QUEUE_ID_SIZE], *error = NULL;
    uint64_t msg_len;
    struct stat st;
    int fd;

    memcpy(id, commit_message(q, "Subject: t\r\n\r\nbody\r\n"), QUEUE_ID_SIZE);
    ck_assert_int_eq(stat(sub("active", id, ""), &st), 0);
    /* cut one octet out of the envelope: lengths no longer match */
    fd = open(sub("active", id, ""), O_RDWR);
    ck_assert_int_ge(fd, 0);
    {
        size_t size = (size_t)st.st_size;
        char *data = malloc(size);
        ck_assert_int_eq(pread(fd, data, size, 0), (ssize_t)size);
        memmove(data + 30, data + 31, size - 31);
        ck_assert_int_eq(ftruncate(fd, (off_t)size - 1), 0);
        ck_assert_int_eq(pwrite(fd, data, size - 1, 0), (ssize_t)size - 1);
        free(data);
    }
    close(fd);
    ck_assert_int_eq(queue_load_envelope(q, id, &env, &error), -1);
    ck_assert_ptr_nonnull(strstr(error, "trailer"));
    free(error);
    error = NULL;
    ck_assert_int_eq(queue_open_message(q, id, &fd, &msg_len, &error), -1);
    free(error);
    error = NULL;
    /* too short to hold a trailer at all */
    ck_assert_int_eq(truncate(sub("active", id, ""), 10), 0);
    ck_assert_int_eq(queue_load_envelope(q, id, &env, &error), -1);
    ck_assert_ptr_nonnull(strstr(error, "trailer"));
    free(error);
    queue_close(&q);
}
END_TEST

/* queue_free_space is what statvfs says an unprivileged user may still
 * write on the spool's file system (other writers on the same file system
 * may move it a little between the two calls). */
START_TEST(test_free_space)
{
    struct queue *q = open_queue();
    struct statvfs st;
    uint64_t free_bytes = 0;
    char *error = NULL;

    ck_assert_msg(queue_free_space(q, &free_bytes, &error) == 0, "queue_free_space: %s", error);
    ck_assert_int_eq(statvfs(dir, &st), 0);
    uint64_t want = (uint64_t)st.f_bavail * st.f_frsize;
    uint64_t diff = free_bytes > want ? free_bytes - want : want - free_bytes;
    ck_assert_msg(diff <= 64u * 1024 * 1024, "queue_free_space %llu, statvfs %llu",
                  (unsigned long long)free_bytes, (unsigned long long)want);
    queue_close(&q);
}
END_TEST

static Suite *queue_suite(void)
{
    Suite *s = suite_create("queue");
    TCase *tc = tcase_create("spool");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_commit_scan_load);
    tcase_add_test(tc, test_large_message);
    tcase_add_test(tc, test_ids_unique_and_sorted);
    tcase_add_test(tc, test_commits_from_processes);
    tcase_add_test(tc, test_commits_from_threads);
    tcase_add_test(tc, test_mark_and_remove);
    tcase_add_test(tc, test_crash_between_mark_and_remove);
    tcase_add_test(tc, test_torn_status_line_ignored);
    tcase_add_test(tc, test_cleanup);
    tcase_add_test(tc, test_cleanup_dead_writers);
    tcase_add_test(tc, test_bad_trailer_refused);
    tcase_add_test(tc, test_removed_files_reused);
    tcase_add_test(tc, test_free_space);
    suite_add_tcase(s, tc);
    return s;
}

TAP_MAIN(queue_suite)
