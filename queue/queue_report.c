/* queue/queue_report.c - see queue_report.h.
 *
 * The original in a report: all of it as message/rfc822 when the sender
 * asked RET=FULL or gave no RET and it is at most size_limit octets, else
 * its header section as text/rfc822-headers. This is Postfix's rule
 * (bounce_size_limit, 50000 by default): a large message is not sent back
 * whole to a sender who has it, RET=FULL included (RFC 3461 4.3 lets the
 * MTA return less). RET=HDRS is always the header section. */
#include "config.h"

#include "queue/queue_report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/error.h"
#include "queue/queue_inject.h"

/* Longest header section a bounce carries (as queue_expand's scan). */
#define HEADER_MAX (256 * 1024)

/* read_original - the part of the spooled id that a report carries (see
 * the file's comment), malloc'd into *orig. 0, or -1 and *error_r. */
static int read_original(struct queue *queue, unsigned size_limit, const char *id,
                         const struct queue_envelope *env, struct dsn_original *orig,
                         char **error_r)
{
    int fd;
    uint64_t msg_len;
    if (queue_open_message(queue, id, &fd, &msg_len, error_r) < 0)
        return -1;
    orig->headers_only = env->ret == QUEUE_RET_HDRS || msg_len > size_limit;
    uint64_t cap = orig->headers_only ? HEADER_MAX : size_limit;
    size_t want = msg_len < cap ? (size_t)msg_len : (size_t)cap;
    char *text = malloc(want + 1);
    size_t len = 0;
    if (text == NULL) {
        close(fd);
        error_set(error_r, "out of memory");
        return -1;
    }
    while (len < want) {
        ssize_t n = read(fd, text + len, want - len);
        if (n <= 0) {
            error_set(error_r, "read %s: %s", id, n == 0 ? "short file" : "read error");
            close(fd);
            free(text);
            return -1;
        }
        len += (size_t)n;
    }
    close(fd);
    if (orig->headers_only) {
        size_t head = dsn_header_section_len(text, len);
        if (head == len && len < msg_len) {
            /* A header section over HEADER_MAX: up to its last whole line. */
            while (head > 0 && text[head - 1] != '\n')
                head--;
        }
        len = head;
    }
    text[len] = '\0';
    orig->text = text;
    orig->len = len;
    return 0;
}

int queue_report_inject(struct queue *queue, const char *hostname, unsigned size_limit,
                        const char *id, const struct queue_envelope *env, enum dsn_kind kind,
                        const struct dsn_rcpt *drcpts, size_t count, char new_id[QUEUE_ID_SIZE],
                        char **error_r)
{
    struct dsn_report report = {
        .kind = kind,
        .hostname = hostname != NULL ? hostname : "localhost",
        .env = env,
        .rcpts = drcpts,
        .count = count,
        .now = time(NULL),
    };
    struct queue_envelope *denv = NULL;
    struct queue_inject *inj = NULL;
    char *text = NULL;
    size_t len = 0;
    int ret = -1;
    *error_r = NULL;
    if (read_original(queue, size_limit, id, env, &report.original, error_r) < 0)
        return -1;
    if ((inj = queue_inject_begin(queue, QUEUE_ORIGIN_BOUNCE, error_r)) == NULL)
        goto out;
    report.message_id = queue_inject_id(inj);
    if (dsn_build(&report, &text, &len, error_r) < 0 ||
        queue_inject_write(inj, text, len, error_r) < 0)
        goto out;
    /* From the null sender (RFC 3461 6.2, RFC 5321 4.5.5), so that no
     * report is ever made about it. */
    denv = queue_envelope_new();
    if (denv == NULL || queue_envelope_add_recipient(denv, env->sender, 0, NULL, error_r) < 0) {
        if (*error_r == NULL)
            error_set(error_r, "out of memory");
        goto out;
    }
    if (queue_inject_commit(&inj, denv, error_r) < 0)
        goto out;
    memcpy(new_id, denv->id, QUEUE_ID_SIZE);
    ret = 0;
out:
    queue_inject_abort(&inj);
    queue_envelope_free(&denv);
    free(text);
    free((char *)report.original.text);
    return ret;
}
