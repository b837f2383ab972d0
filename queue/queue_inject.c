/* queue/queue_inject.c - see queue_inject.h. */
#include "config.h"

#include "queue/queue_inject.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/error.h"

/* The read size of queue_inject_copy. */
#define COPY_CHUNK 65536

struct queue_inject {
    struct queue *queue;
    struct queue_msg *msg;
    enum queue_origin origin;
};

struct queue_inject *queue_inject_begin(struct queue *queue, enum queue_origin origin,
                                        char **error_r)
{
    struct queue_inject *inj = malloc(sizeof *inj);
    if (inj == NULL) {
        error_set(error_r, "out of memory");
        return NULL;
    }
    *inj = (struct queue_inject){.queue = queue, .origin = origin};
    inj->msg = queue_msg_begin(queue, error_r);
    if (inj->msg == NULL) {
        free(inj);
        return NULL;
    }
    return inj;
}

const char *queue_inject_id(const struct queue_inject *inj)
{
    return queue_msg_id(inj->msg);
}

int queue_inject_write(struct queue_inject *inj, const void *data, size_t len, char **error_r)
{
    return queue_msg_write(inj->msg, data, len, error_r);
}

int queue_inject_copy(struct queue_inject *inj, const char *id, char **error_r)
{
    int fd;
    uint64_t left;
    if (queue_open_message(inj->queue, id, &fd, &left, error_r) < 0)
        return -1;
    char *buf = malloc(COPY_CHUNK);
    int ret = buf != NULL ? 0 : -1;
    if (buf == NULL)
        error_set(error_r, "out of memory");
    while (ret == 0 && left > 0) {
        ssize_t n = read(fd, buf, left < COPY_CHUNK ? (size_t)left : COPY_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            error_set(error_r, "read %s: %s", id, n == 0 ? "short file" : strerror(errno));
            ret = -1;
            break;
        }
        left -= (uint64_t)n;
        ret = queue_msg_write(inj->msg, buf, (size_t)n, error_r);
    }
    free(buf);
    close(fd);
    return ret;
}

/* origin_facts - the client facts of a message made here: the same for
 * every message of origin, so that a trace or a log tells where it came
 * from. 0, or -1 out of memory. */
static int origin_facts(struct queue_envelope *env, enum queue_origin origin)
{
    if (origin == QUEUE_ORIGIN_CLIENT)
        return 0;
    char helo[32];
    snprintf(helo, sizeof helo, "dirmail-%s", queue_origin_name(origin));
    if (env->client_address == NULL && queue_envelope_set(&env->client_address, "127.0.0.1") < 0)
        return -1;
    if (env->client_helo == NULL && queue_envelope_set(&env->client_helo, helo) < 0)
        return -1;
    return 0;
}

int queue_inject_commit(struct queue_inject **inj, struct queue_envelope *env, char **error_r)
{
    struct queue_inject *i = *inj;
    int ret = -1;
    *inj = NULL;
    if (i == NULL) {
        error_set(error_r, "no message");
        return -1;
    }
    if (env->sender == NULL || env->rcpt_count == 0)
        error_set(error_r, "envelope without %s", env->sender == NULL ? "sender" : "recipients");
    else if (origin_facts(env, i->origin) < 0)
        error_set(error_r, "out of memory");
    else
        ret = queue_msg_commit(&i->msg, env, error_r);
    queue_msg_abort(&i->msg); /* NULL after a commit, which frees it in every case */
    free(i);
    return ret;
}

void queue_inject_abort(struct queue_inject **inj)
{
    if (*inj == NULL)
        return;
    queue_msg_abort(&(*inj)->msg);
    free(*inj);
    *inj = NULL;
}

const char *queue_origin_name(enum queue_origin origin)
{
    switch (origin) {
    case QUEUE_ORIGIN_CLIENT:
        return "client";
    case QUEUE_ORIGIN_EXPANSION:
        return "expansion";
    case QUEUE_ORIGIN_BOUNCE:
        return "bounce";
    case QUEUE_ORIGIN_DELIVERY:
        return "delivery";
    }
    return "?";
}
