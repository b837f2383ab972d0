/* lib/buf.h - the one length-tracked byte buffer for network data: append,
 * printf, consume from the front, reserve room to read into. It holds bytes,
 * not strings (NUL bytes are data); it never interprets what it holds. */
#ifndef DIRMAIL_BUF_H
#define DIRMAIL_BUF_H

#include <stdarg.h>
#include <stddef.h>

/* The unconsumed bytes are data[head .. head+len). Read the fields; change
 * them only through the functions below. A zeroed struct (BUF_INIT) is an
 * empty buffer that owns no memory. */
struct buf {
    char *data;
    size_t head; /* offset of the first unconsumed byte */
    size_t len;  /* unconsumed bytes */
    size_t cap;  /* allocated bytes */
};

#define BUF_INIT                                                                                   \
    {                                                                                              \
        NULL, 0, 0, 0                                                                              \
    }

/* buf_new - a heap-allocated empty buffer; NULL when out of memory. */
struct buf *buf_new(void);
/* buf_free - release a buffer from buf_new and NULL *buf. */
void buf_free(struct buf **buf);
/* buf_release - release the memory of an embedded buffer; it is empty after. */
void buf_release(struct buf *buf);

/* buf_ptr - the first unconsumed byte (NULL when nothing was ever allocated). */
static inline const char *buf_ptr(const struct buf *buf)
{
    return buf->data == NULL ? NULL : buf->data + buf->head;
}
static inline size_t buf_len(const struct buf *buf)
{
    return buf->len;
}

/* buf_reserve - make room for at least n more bytes after the data (moving
 * the data to the front or growing). 0, or -1 when out of memory or when the
 * size would overflow (the buffer is unchanged then). */
int buf_reserve(struct buf *buf, size_t n);
/* buf_tail / buf_commit - write up to the reserved room at buf_tail() (e.g.
 * with read(2)), then declare n of those bytes as data. */
char *buf_tail(struct buf *buf);
size_t buf_room(const struct buf *buf);
void buf_commit(struct buf *buf, size_t n);

/* buf_append - copy len bytes to the end. 0 or -1 (out of memory; unchanged). */
int buf_append(struct buf *buf, const void *data, size_t len);
/* buf_printf - append formatted text (no NUL is added to the data). 0, or -1
 * on an encoding error or out of memory (unchanged then). */
int buf_printf(struct buf *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *buf, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* buf_consume - drop n bytes (at most buf_len) from the front. The memory
 * stays valid (and its contents intact) until the next call that adds data. */
void buf_consume(struct buf *buf, size_t n);
/* buf_clear - drop all data, keep the memory. */
void buf_clear(struct buf *buf);

/* bytes_dup - a NUL-terminated malloc'd copy of the n bytes at p, which
 * need not be NUL-terminated themselves (strndup may read on to a NUL past
 * them, which is what ASan's strict string checks report); NULL when out
 * of memory. */
char *bytes_dup(const char *p, size_t n);

#endif
