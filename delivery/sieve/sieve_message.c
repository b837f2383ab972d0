/* delivery/sieve/sieve_message.c - splitting a message's header into
 * fields. Lines end in CRLF or LF. A header line that is neither a field
 * nor a continuation ends the header (the rest is body), as a reader
 * tolerant of broken mail does; a message is never refused for its form. */
#include "config.h"

#include "delivery/sieve/sieve_message.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/array.h"
#include "lib/buf.h"
#include "lib/error.h"

static size_t line_end(const char *p, const char *end, size_t *eol_len)
{
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (nl == NULL) {
        *eol_len = 0;
        return (size_t)(end - p);
    }
    size_t n = (size_t)(nl - p);
    *eol_len = 1;
    if (n > 0 && p[n - 1] == '\r') {
        n--;
        *eol_len = 2;
    }
    return n;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static int add_field(struct sieve_message *m, const char *line, size_t n, const char *colon,
                     struct buf *value)
{
    size_t name_len = (size_t)(colon - line);
    while (name_len > 0 && is_blank(line[name_len - 1]))
        name_len--;
    const char *v = buf_ptr(value) != NULL ? buf_ptr(value) : "";
    size_t vlen = buf_len(value);
    while (vlen > 0 && (is_blank(*v) || *v == '\r' || *v == '\n')) {
        v++;
        vlen--;
    }
    while (vlen > 0 && (is_blank(v[vlen - 1]) || v[vlen - 1] == '\r' || v[vlen - 1] == '\n'))
        vlen--;
    if (ARRAY_RESERVE(&m->headers, &m->cap, m->nheaders + 1, 16) < 0)
        return -1;
    struct sieve_header *h = &m->headers[m->nheaders];
    h->name = bytes_dup(line, name_len);
    h->value = bytes_dup(v, vlen);
    if (h->name == NULL || h->value == NULL) {
        free(h->name);
        free(h->value);
        return -1;
    }
    m->nheaders++;
    (void)n;
    return 0;
}

/* split_header - fields up to the empty line; continuation lines are
 * joined without their line end (unfolding, RFC 5322 2.2.3). */
static int split_header(struct sieve_message *m)
{
    const char *p = m->data, *end = m->data + m->len;
    while (p < end) {
        size_t eol, n = line_end(p, end, &eol);
        if (n == 0) {
            p += eol;
            break;
        }
        const char *colon = memchr(p, ':', n);
        bool name_ok = colon != NULL && colon > p;
        for (const char *q = p; name_ok && q < colon; q++)
            if ((unsigned char)*q <= 32 && !is_blank(*q))
                name_ok = false;
        if (!name_ok || is_blank(*p))
            break; /* neither a field nor (here) a continuation: body starts */
        struct buf value = BUF_INIT;
        if (buf_append(&value, colon + 1, n - (size_t)(colon + 1 - p)) < 0)
            return -1;
        const char *line = p;
        p += n + eol;
        while (p < end && is_blank(*p)) {
            size_t ceol, cn = line_end(p, end, &ceol);
            if (buf_append(&value, p, cn) < 0) {
                buf_release(&value);
                return -1;
            }
            p += cn + ceol;
        }
        int rc = add_field(m, line, n, colon, &value);
        buf_release(&value);
        if (rc < 0)
            return -1;
    }
    m->body_offset = (size_t)(p - m->data);
    return 0;
}

struct sieve_message *sieve_message_parse(const char *data, size_t len, char **error_r)
{
    struct sieve_message *m = calloc(1, sizeof *m);
    if (m == NULL || (m->data = malloc(len + 1)) == NULL) {
        free(m);
        error_set(error_r, "out of memory");
        return NULL;
    }
    memcpy(m->data, data, len);
    m->data[len] = '\0';
    m->len = len;
    m->size = len;
    for (size_t i = 0; i < len; i++)
        if (data[i] == '\n' && (i == 0 || data[i - 1] != '\r'))
            m->size++;
    if (split_header(m) < 0) {
        sieve_message_free(&m);
        error_set(error_r, "out of memory");
        return NULL;
    }
    return m;
}

struct sieve_message *sieve_message_read_fd(int fd, size_t max, char **error_r)
{
    struct buf b = BUF_INIT;
    char chunk[65536];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            error_set(error_r, "read: %s", strerror(errno));
            buf_release(&b);
            return NULL;
        }
        if (n == 0)
            break;
        if (buf_len(&b) + (size_t)n > max) {
            error_set(error_r, "message larger than %zu octets", max);
            buf_release(&b);
            return NULL;
        }
        if (buf_append(&b, chunk, (size_t)n) < 0) {
            error_set(error_r, "out of memory");
            buf_release(&b);
            return NULL;
        }
    }
    struct sieve_message *m =
        sieve_message_parse(buf_ptr(&b) != NULL ? buf_ptr(&b) : "", buf_len(&b), error_r);
    buf_release(&b);
    return m;
}

static int set_copy(char **dst, const char *src)
{
    free(*dst);
    *dst = NULL;
    if (src == NULL)
        return 0;
    *dst = strdup(src);
    return *dst == NULL ? -1 : 0;
}

int sieve_message_set_envelope(struct sieve_message *msg, const char *from, const char *to,
                               const char *auth)
{
    if (set_copy(&msg->env_from, from) < 0 || set_copy(&msg->env_to, to) < 0 ||
        set_copy(&msg->env_auth, auth) < 0)
        return -1;
    return 0;
}

void sieve_message_free(struct sieve_message **msg)
{
    struct sieve_message *m = *msg;
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->nheaders; i++) {
        free(m->headers[i].name);
        free(m->headers[i].value);
    }
    free(m->headers);
    free(m->data);
    free(m->env_from);
    free(m->env_to);
    free(m->env_auth);
    free(m);
    *msg = NULL;
}
