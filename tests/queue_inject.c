/* tests/queue_inject.c - test helper: put messages into a spool through
 * queue_inject (queue/queue_inject.h), as the SMTP session does after DATA,
 * so that the runner tests need no SMTP server.
 *   queue_inject [-n COUNT] SPOOL SENDER RCPT...  < MESSAGE
 * MESSAGE is read from stdin as it would arrive in DATA (CRLF line endings,
 * unstuffed). With -n, COUNT messages are committed, each the MESSAGE with
 * "X-Inject-Seq: <k>\r\n" (k from 0) in front, so a test can tell them apart.
 * Prints one "<id> <k>" line per message once queue_inject_commit returned. A
 * SENDER of "" is the null sender. Exits 0, or 1 with the error on stderr. */
#include "config.h"

#include "queue/queue_inject.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int read_all(char **text_r, size_t *len_r)
{
    size_t len = 0, alloc = 65536;
    char *text = malloc(alloc);
    if (text == NULL)
        return -1;
    for (;;) {
        if (len == alloc) {
            char *more = realloc(text, alloc * 2);
            if (more == NULL) {
                free(text);
                return -1;
            }
            text = more;
            alloc *= 2;
        }
        ssize_t n = read(STDIN_FILENO, text + len, alloc - len);
        if (n < 0) {
            free(text);
            return -1;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    *text_r = text;
    *len_r = len;
    return 0;
}

/* inject_one - commit one message; prints its id. */
static int inject_one(struct queue *q, const char *sender, char **rcpts, int rcpt_count,
                      const char *text, size_t len, long seq)
{
    struct queue_envelope *env = queue_envelope_new();
    char *error = NULL;
    if (env == NULL || queue_envelope_set(&env->sender, sender) < 0 ||
        queue_envelope_set(&env->client_address, "127.0.0.1") < 0 ||
        queue_envelope_set(&env->client_helo, "queue-inject") < 0) {
        fprintf(stderr, "queue_inject: out of memory\n");
        queue_envelope_free(&env);
        return -1;
    }
    for (int i = 0; i < rcpt_count; i++) {
        if (queue_envelope_add_recipient(env, rcpts[i], 0, NULL, &error) < 0)
            goto fail;
    }
    struct queue_inject *msg = queue_inject_begin(q, QUEUE_ORIGIN_CLIENT, &error);
    if (msg == NULL)
        goto fail;
    if (seq >= 0) {
        char header[64];
        int n = snprintf(header, sizeof header, "X-Inject-Seq: %ld\r\n", seq);
        if (n < 0 || (size_t)n >= sizeof header ||
            queue_inject_write(msg, header, (size_t)n, &error) < 0) {
            queue_inject_abort(&msg);
            goto fail;
        }
    }
    if (queue_inject_write(msg, text, len, &error) < 0) {
        queue_inject_abort(&msg);
        goto fail;
    }
    if (queue_inject_commit(&msg, env, &error) < 0)
        goto fail;
    printf("%s %ld\n", env->id, seq);
    fflush(stdout);
    queue_envelope_free(&env);
    return 0;
fail:
    fprintf(stderr, "queue_inject: %s\n", error != NULL ? error : "out of memory");
    free(error);
    queue_envelope_free(&env);
    return -1;
}

int main(int argc, char **argv)
{
    long count = -1;
    int opt;
    while ((opt = getopt(argc, argv, "n:")) != -1) {
        if (opt != 'n')
            goto usage;
        count = strtol(optarg, NULL, 10);
        if (count <= 0)
            goto usage;
    }
    if (argc - optind < 3)
        goto usage;
    const char *spool = argv[optind], *sender = argv[optind + 1];
    char **rcpts = argv + optind + 2;
    int rcpt_count = argc - optind - 2;

    char *text, *error = NULL;
    size_t len;
    if (read_all(&text, &len) < 0) {
        perror("queue_inject: stdin");
        return 1;
    }
    struct queue *q;
    if (queue_open(spool, &q, &error) < 0) {
        fprintf(stderr, "queue_inject: %s\n", error);
        free(error);
        free(text);
        return 1;
    }
    int status = 0;
    if (count < 0) {
        status = inject_one(q, sender, rcpts, rcpt_count, text, len, -1) < 0;
    } else {
        for (long k = 0; k < count && status == 0; k++)
            status = inject_one(q, sender, rcpts, rcpt_count, text, len, k) < 0;
    }
    queue_close(&q);
    free(text);
    return status;
usage:
    fprintf(stderr, "usage: queue_inject [-n COUNT] SPOOL SENDER RCPT... < MESSAGE\n");
    return 2;
}
