/* gateway/queue_expand.c - see queue_expand.h.
 *
 * Exactly once is the runner's: it marks the original recipient DELIVERED
 * only after queue_expand_commit returned, so a kill in between expands
 * again after the restart (duplicates, never a loss). */
#include "config.h"

#include "gateway/queue_expand.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "lib/error.h"
#include "lib/header.h"
#include "queue/queue_inject.h"

/* Longest header section read for the forwarding loop check. */
#define HEADER_SCAN_MAX (256 * 1024)

/* read_head - up to HEADER_SCAN_MAX octets from the start of the spooled
 * id, NUL-terminated, malloc'd, *len_r. NULL on any failure. */
static char *read_head(struct queue *queue, const char *id, size_t *len_r)
{
    int fd;
    uint64_t msg_len;
    char *error = NULL;
    if (queue_open_message(queue, id, &fd, &msg_len, &error) < 0) {
        free(error);
        return NULL;
    }
    size_t scan_max = msg_len < HEADER_SCAN_MAX ? (size_t)msg_len : HEADER_SCAN_MAX;
    char *head = malloc(scan_max + 1);
    size_t len = 0;
    while (head != NULL && len < scan_max) {
        ssize_t n = read(fd, head + len, scan_max - len);
        if (n < 0) {
            free(head);
            head = NULL;
        } else if (n == 0) {
            break;
        } else {
            len += (size_t)n;
        }
    }
    close(fd);
    if (head != NULL) {
        head[len] = '\0';
        *len_r = len;
    }
    return head;
}

/* names_delivered_to - whether the header section head[0..len) has a
 * "Delivered-To: <address>" line, the value's surrounding blanks aside. */
static bool names_delivered_to(const char *head, size_t len, const char *address)
{
    size_t alen = strlen(address);
    for (const char *line = head; line < head + len;) {
        const char *eol = memchr(line, '\n', (size_t)(head + len - line));
        size_t llen = eol != NULL ? (size_t)(eol - line) : (size_t)(head + len - line);
        if (llen > 0 && line[llen - 1] == '\r')
            llen--;
        if (llen == 0)
            return false; /* end of the header section */
        if (llen > 13 && strncasecmp(line, "Delivered-To:", 13) == 0) {
            const char *v = line + 13;
            size_t vlen = llen - 13;
            while (vlen > 0 && (*v == ' ' || *v == '\t')) {
                v++;
                vlen--;
            }
            while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
                vlen--;
            if (vlen == alen && strncasecmp(v, address, alen) == 0)
                return true;
        }
        if (eol == NULL)
            break;
        line = eol + 1;
    }
    return false;
}

enum queue_expand_loop queue_expand_loop_check(struct queue *queue, const char *id,
                                               const char *address)
{
    size_t len;
    char *head = read_head(queue, id, &len);
    if (head == NULL)
        return QUEUE_EXPAND_UNREADABLE;
    bool seen = names_delivered_to(head, len, address);
    free(head);
    return seen ? QUEUE_EXPAND_LOOP : QUEUE_EXPAND_FIRST;
}

/* expansion_envelope - the new message's envelope, or NULL and *error_r
 * (may stay NULL: out of memory). */
static struct queue_envelope *expansion_envelope(const struct queue_envelope *env, size_t index,
                                                 const struct auth_strlist *targets, char **error_r)
{
    const struct queue_recipient *orig = &env->rcpts[index];
    struct queue_envelope *nenv = queue_envelope_new();
    char *orcpt = NULL;
    if (nenv == NULL || queue_envelope_set(&nenv->sender, env->sender) < 0 ||
        queue_envelope_set(&nenv->envid, env->envid) < 0 ||
        (orig->orcpt == NULL && asprintf(&orcpt, "rfc822;%s", orig->address) < 0)) {
        queue_envelope_free(&nenv);
        return NULL;
    }
    nenv->ret = env->ret;
    for (size_t i = 0; i < targets->count; i++) {
        if (queue_envelope_add_recipient(nenv, targets->items[i], orig->notify,
                                         orig->orcpt != NULL ? orig->orcpt : orcpt, error_r) < 0) {
            queue_envelope_free(&nenv);
            break;
        }
    }
    free(orcpt);
    return nenv;
}

int queue_expand_commit(struct queue *queue, const char *id, const struct queue_envelope *env,
                        size_t index, const struct auth_strlist *targets,
                        char new_id[QUEUE_ID_SIZE], char **error_r)
{
    *error_r = NULL;
    struct queue_envelope *nenv = expansion_envelope(env, index, targets, error_r);
    if (nenv == NULL)
        return -1;
    /* One word on one line (lib/header): names_delivered_to reads it back
     * as such. An envelope address (at most 64 + 1 + 255 octets, RFC 5321
     * 4.5.3.1) always fits the 998-octet line, so a NULL here is memory (or
     * a corrupt envelope) and the expansion is deferred. */
    struct header_field dt;
    size_t header_len = 0;
    header_field_begin(&dt, "Delivered-To");
    header_field_word(&dt, env->rcpts[index].address);
    char *header = header_field_end(&dt, &header_len);
    struct queue_inject *inj = NULL;
    int ret = -1;
    if (header != NULL &&
        (inj = queue_inject_begin(queue, QUEUE_ORIGIN_EXPANSION, error_r)) != NULL &&
        queue_inject_write(inj, header, header_len, error_r) == 0 &&
        queue_inject_copy(inj, id, error_r) == 0 && queue_inject_commit(&inj, nenv, error_r) == 0) {
        memcpy(new_id, nenv->id, QUEUE_ID_SIZE);
        ret = 0;
    }
    queue_inject_abort(&inj);
    queue_envelope_free(&nenv);
    free(header);
    return ret;
}
