/* lib/buf.c - the length-tracked byte buffer (see buf.h). */
#include "config.h"

#include "lib/buf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The smallest allocation: most protocol lines fit, and an idle connection
 * whose buffers were released costs nothing. */
#define BUF_MIN_ALLOC 256

struct buf *buf_new(void)
{
    return calloc(1, sizeof(struct buf));
}

void buf_release(struct buf *buf)
{
    free(buf->data);
    buf->data = NULL;
    buf->head = buf->len = buf->cap = 0;
}

void buf_free(struct buf **buf)
{
    if (*buf == NULL)
        return;
    buf_release(*buf);
    free(*buf);
    *buf = NULL;
}

int buf_reserve(struct buf *buf, size_t n)
{
    if (buf->cap - buf->head - buf->len >= n)
        return 0;
    /* Moving the data to the front is enough when the consumed space makes
     * the room (the usual case for a reader that consumes line by line). */
    if (buf->cap - buf->len >= n) {
        if (buf->len > 0)
            memmove(buf->data, buf->data + buf->head, buf->len);
        buf->head = 0;
        return 0;
    }
    if (n > SIZE_MAX / 2 - buf->len)
        return -1;
    size_t need = buf->len + n;
    size_t cap = buf->cap < BUF_MIN_ALLOC ? BUF_MIN_ALLOC : buf->cap;
    while (cap < need)
        cap *= 2;
    char *data = malloc(cap);
    if (data == NULL)
        return -1;
    if (buf->len > 0)
        memcpy(data, buf->data + buf->head, buf->len);
    free(buf->data);
    buf->data = data;
    buf->head = 0;
    buf->cap = cap;
    return 0;
}

char *buf_tail(struct buf *buf)
{
    return buf->data == NULL ? NULL : buf->data + buf->head + buf->len;
}

size_t buf_room(const struct buf *buf)
{
    return buf->cap - buf->head - buf->len;
}

void buf_commit(struct buf *buf, size_t n)
{
    if (n > buf_room(buf))
        abort(); /* a caller wrote past the reserved room: memory is already corrupt */
    buf->len += n;
}

int buf_append(struct buf *buf, const void *data, size_t len)
{
    if (len == 0)
        return 0;
    if (buf_reserve(buf, len) < 0)
        return -1;
    memcpy(buf_tail(buf), data, len);
    buf->len += len;
    return 0;
}

int buf_vprintf(struct buf *buf, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    /* Reserve one byte more than the text for vsnprintf's NUL, which is
     * written into the spare room and not counted as data. */
    char probe[1];
    int n = vsnprintf(probe, sizeof probe, fmt, ap2);
    va_end(ap2);
    if (n < 0 || (size_t)n == SIZE_MAX)
        return -1;
    if (buf_reserve(buf, (size_t)n + 1) < 0)
        return -1;
    int m = vsnprintf(buf_tail(buf), (size_t)n + 1, fmt, ap);
    if (m != n)
        return -1;
    buf->len += (size_t)n;
    return 0;
}

int buf_printf(struct buf *buf, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int ret = buf_vprintf(buf, fmt, ap);
    va_end(ap);
    return ret;
}

void buf_consume(struct buf *buf, size_t n)
{
    if (n >= buf->len) {
        /* head is kept so that the consumed bytes stay readable until the
         * next append (conn returns lines that point into the buffer). */
        buf->head += buf->len;
        buf->len = 0;
        return;
    }
    buf->head += n;
    buf->len -= n;
}

void buf_clear(struct buf *buf)
{
    buf_consume(buf, buf->len);
}

char *bytes_dup(const char *p, size_t n)
{
    char *copy = malloc(n + 1);
    if (copy == NULL)
        return NULL;
    if (n > 0)
        memcpy(copy, p, n);
    copy[n] = '\0';
    return copy;
}
