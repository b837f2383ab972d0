/* tests/queue_crash_writer.c - helper for integration/test_queue_crash.py.
 *   queue_crash_writer write DIR   commit messages in a loop; after each
 *                                  commit returns print "<id> <seq>" and flush
 *   queue_crash_writer check DIR   for every id queue_scan finds, load the
 *                                  envelope and message and print
 *                                  "<id> <size> <seq>", or fail (exit 1)
 *   queue_crash_writer cleanup DIR queue_cleanup with no grace; print the
 *                                  number of files removed
 * Message <seq> is "X-Seq: <seq>\r\n\r\n" followed by seq % 5000 + 1 lines
 * "<seq> line <k>\r\n", so the checker can rebuild it and compare. */
#include "config.h"

#include "queue/queue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int build_message(unsigned long seq, char **text_r, size_t *len_r)
{
    FILE *f = open_memstream(text_r, len_r);

    if (f == NULL)
        return -1;
    fprintf(f, "X-Seq: %lu\r\n\r\n", seq);
    for (unsigned long k = 0; k < seq % 5000 + 1; k++)
        fprintf(f, "%lu line %lu\r\n", seq, k);
    return fclose(f) == 0 ? 0 : -1;
}

static int run_write(struct queue *q)
{
    for (unsigned long seq = 0;; seq++) {
        struct queue_envelope *env = queue_envelope_new();
        struct queue_msg *msg;
        char *text = NULL, *error = NULL;
        size_t len, off;

        if (env == NULL || build_message(seq, &text, &len) < 0 ||
            queue_envelope_add_recipient(env, "user@example.org", 0, NULL, &error) < 0)
            return 1;
        msg = queue_msg_begin(q, &error);
        if (msg == NULL) {
            fprintf(stderr, "begin: %s\n", error);
            return 1;
        }
        for (off = 0; off < len; off += 1000) {
            size_t n = len - off < 1000 ? len - off : 1000;
            if (queue_msg_write(msg, text + off, n, &error) < 0) {
                fprintf(stderr, "write: %s\n", error);
                return 1;
            }
        }
        if (queue_msg_commit(&msg, env, &error) < 0) {
            fprintf(stderr, "commit: %s\n", error);
            return 1;
        }
        printf("%s %lu\n", env->id, seq);
        fflush(stdout);
        queue_envelope_free(&env);
        free(text);
    }
}

static int run_check(struct queue *q)
{
    char **ids = NULL, *error = NULL;
    size_t count = 0;
    int bad = 0;

    if (queue_scan(q, &ids, &count, &error) < 0) {
        fprintf(stderr, "scan: %s\n", error);
        return 1;
    }
    for (size_t i = 0; i < count; i++) {
        struct queue_envelope *env = NULL;
        char *data = NULL, *expected = NULL, buf[65536];
        size_t len = 0, expected_len;
        unsigned long seq;
        FILE *f;
        ssize_t n;
        int fd;

        uint64_t left;

        if (queue_load_envelope(q, ids[i], &env, &error) < 0 ||
            queue_open_message(q, ids[i], &fd, &left, &error) < 0) {
            printf("BAD %s %s\n", ids[i], error != NULL ? error : "?");
            free(error);
            error = NULL;
            queue_envelope_free(&env);
            bad = 1;
            continue;
        }
        f = open_memstream(&data, &len);
        while (left > 0 && (n = read(fd, buf, left < sizeof(buf) ? left : sizeof(buf))) > 0) {
            fwrite(buf, 1, (size_t)n, f);
            left -= (uint64_t)n;
        }
        fclose(f);
        close(fd);
        if (sscanf(data, "X-Seq: %lu", &seq) != 1 ||
            build_message(seq, &expected, &expected_len) < 0 || expected_len != len ||
            memcmp(expected, data, len) != 0 || env->size != len || env->rcpt_count != 1) {
            printf("BAD %s content\n", ids[i]);
            bad = 1;
        } else {
            printf("%s %zu %lu\n", ids[i], len, seq);
        }
        free(data);
        free(expected);
        queue_envelope_free(&env);
    }
    queue_ids_free(&ids, count);
    return bad;
}

int main(int argc, char **argv)
{
    struct queue *q = NULL;
    char *error = NULL;
    int ret;

    if (argc != 3 || (strcmp(argv[1], "write") != 0 && strcmp(argv[1], "check") != 0 &&
                      strcmp(argv[1], "cleanup") != 0)) {
        fprintf(stderr, "usage: queue_crash_writer write|check|cleanup DIR\n");
        return 2;
    }
    if (queue_open(argv[2], &q, &error) < 0) {
        fprintf(stderr, "queue_open: %s\n", error);
        free(error);
        return 1;
    }
    if (strcmp(argv[1], "cleanup") == 0) {
        unsigned removed = 0;
        ret = queue_cleanup(q, 0, &removed, &error) < 0 ? 1 : 0;
        if (ret != 0)
            fprintf(stderr, "cleanup: %s\n", error);
        free(error);
        printf("%u\n", removed);
    } else {
        ret = strcmp(argv[1], "write") == 0 ? run_write(q) : run_check(q);
    }
    queue_close(&q);
    return ret;
}
