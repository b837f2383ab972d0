/* reader/imap_search_text.c - SEARCH's substring keys over a message as a
 * reader sees it (RFC 3501 6.4.4, RFC 9051 6.4.4.1): header values with
 * their RFC 2047 words decoded, text parts with their transfer encoding
 * removed and their charset converted to UTF-8, both folded for case-
 * insensitive comparison. A message's decoded text is made once per SEARCH
 * and kept in the key's context for the other keys. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/fdio.h"
#include "lib/mime.h"
#include "lib/mime_fields.h"
#include "reader/imap_fetch_internal.h"
#include "reader/imap_search_text.h"

/* A message's decoded body text is searched up to this many octets. */
#define BODY_TEXT_MAX (64u * 1024u * 1024u)

void imap_search_text_reset(struct imap_search_text *t)
{
    free(t->header);
    free(t->body);
    free(t->header_text);
    *t = (struct imap_search_text){0};
}

/* load_header - the header's raw octets (bounded). */
static bool load_header(struct imap_search_text *t, int fd)
{
    if (t->header != NULL)
        return true;
    struct imap_message_header h;
    if (imap_header_scan(fd, &h) < 0)
        return false;
    size_t len = h.file_len < IMAP_HEADER_READ_MAX ? (size_t)h.file_len : IMAP_HEADER_READ_MAX;
    char *data = malloc(len + 1);
    if (data == NULL)
        return false;
    ssize_t got = fd_pread_all(fd, data, len, 0);
    if (got < 0) {
        free(data);
        return false;
    }
    data[got] = '\0';
    t->header = data;
    t->header_len = (size_t)got;
    return true;
}

static bool folded_contains(const char *text, size_t len, const char *needle, size_t nlen)
{
    size_t flen;
    char *folded = mime_casefold(text, len, &flen);
    bool found = folded != NULL && memmem(folded, flen, needle, nlen) != NULL;
    free(folded);
    return found;
}

/* field_at - the field that begins at header[i]: its name's length and
 * where it (with its continuation lines) ends. */
static size_t field_at(const char *h, size_t len, size_t i, size_t *name_len)
{
    size_t e = i;
    for (;;) {
        const char *lf = memchr(h + e, '\n', len - e);
        e = lf != NULL ? (size_t)(lf - h) + 1 : len;
        if (e >= len || (h[e] != ' ' && h[e] != '\t'))
            break;
    }
    const char *colon = memchr(h + i, ':', e - i);
    *name_len = colon != NULL ? (size_t)(colon - (h + i)) : 0;
    return e;
}

bool imap_search_header(struct imap_search_text *t, int fd, const char *name,
                        enum imap_search_field how, const char *needle, size_t nlen)
{
    if (!load_header(t, fd))
        return false;
    size_t want = strlen(name);
    for (size_t i = 0; i < t->header_len;) {
        if (t->header[i] == '\n' ||
            (t->header[i] == '\r' && i + 1 < t->header_len && t->header[i + 1] == '\n'))
            break; /* the blank line */
        size_t n;
        size_t e = field_at(t->header, t->header_len, i, &n);
        size_t k = n;
        while (k > 0 && (t->header[i + k - 1] == ' ' || t->header[i + k - 1] == '\t'))
            k--;
        if (n > 0 && k == want && strncasecmp(t->header + i, name, want) == 0) {
            if (nlen == 0)
                return true; /* RFC 3501 6.4.4: the field is there */
            char *value = mime_header_find(t->header, i, e, name);
            char *decoded = NULL;
            if (value != NULL && how == IMAP_SEARCH_ADDRESSES)
                decoded = mime_address_text(value);
            if (value != NULL && decoded == NULL)
                decoded = mime_header_decode(value);
            bool found = decoded != NULL && folded_contains(decoded, strlen(decoded), needle, nlen);
            free(value);
            free(decoded);
            if (found)
                return true;
        }
        i = e;
    }
    return false;
}

char *imap_search_field(struct imap_search_text *t, int fd, const char *name)
{
    if (!load_header(t, fd))
        return NULL;
    return mime_header_find(t->header, 0, mime_header_end(t->header, 0, t->header_len), name);
}

/* decode_fields - every field of the header h[0, len) decoded (RFC 2047),
 * one a line, appended to out. */
static void decode_fields(const char *h, size_t len, struct buf *out)
{
    for (size_t i = 0; i < len;) {
        if (h[i] == '\n' || h[i] == '\r')
            break;
        size_t n;
        size_t e = field_at(h, len, i, &n);
        char *raw = bytes_dup(h + i, e - i);
        /* unfolded, then decoded as one text */
        size_t o = 0;
        for (size_t k = 0; raw != NULL && raw[k] != '\0'; k++)
            if (raw[k] != '\r' && raw[k] != '\n')
                raw[o++] = raw[k];
        if (raw != NULL)
            raw[o] = '\0';
        char *decoded = raw != NULL ? mime_header_decode(raw) : NULL;
        if (decoded != NULL) {
            buf_append(out, decoded, strlen(decoded));
            buf_append(out, "\n", 1);
        }
        free(raw);
        free(decoded);
        i = e;
    }
}

/* header_text - the message's header decoded and folded. */
static bool header_text(struct imap_search_text *t, int fd)
{
    if (t->header_text != NULL)
        return true;
    if (!load_header(t, fd))
        return false;
    struct buf out = BUF_INIT;
    decode_fields(t->header, t->header_len, &out);
    size_t flen = 0;
    t->header_text = mime_casefold(out.len > 0 ? buf_ptr(&out) : "", out.len, &flen);
    t->header_text_len = flen;
    buf_release(&out);
    return t->header_text != NULL;
}

/* body_text - the text parts of the message decoded to UTF-8, and the
 * headers of the messages inside it, folded. */
static bool body_text(struct imap_search_text *t, int fd)
{
    if (t->body != NULL)
        return true;
    struct stat st;
    if (fstat(fd, &st) < 0)
        return false;
    size_t len = (size_t)st.st_size;
    void *map = len > 0 ? mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
    if (len > 0 && map == MAP_FAILED)
        return false;
    const char *data = len > 0 ? map : "";
    struct mime_message *msg = mime_parse(data, len);
    struct buf text = BUF_INIT;
    for (size_t i = 0; msg != NULL && i < msg->count && text.len < BODY_TEXT_MAX; i++) {
        const struct mime_part *p = &msg->parts[i];
        if (p->parent >= 0 && msg->parts[p->parent].kind == MIME_MESSAGE)
            /* a message inside: its header is text of this body */
            decode_fields(data + p->header.raw, (size_t)(p->body.raw - p->header.raw), &text);
        if (p->kind != MIME_LEAF || !mime_part_is(p, "text", NULL))
            continue;
        struct buf plain = BUF_INIT;
        enum mime_decode_result r =
            mime_decode_transfer(data + p->body.raw, (size_t)(p->end.raw - p->body.raw),
                                 p->fields[MIME_F_CONTENT_ENCODING], &plain);
        if (r == MIME_UNKNOWN_ENCODING)
            r = buf_append(&plain, data + p->body.raw, (size_t)(p->end.raw - p->body.raw)) == 0
                    ? MIME_DECODED
                    : MIME_DECODE_NOMEM;
        if (r == MIME_DECODED)
            mime_to_utf8(plain.len > 0 ? buf_ptr(&plain) : "", plain.len,
                         mime_part_param(p, "charset"), &text);
        buf_append(&text, "\n", 1);
        buf_release(&plain);
    }
    mime_message_free(&msg);
    if (len > 0)
        munmap(map, len);
    size_t flen = 0;
    t->body = mime_casefold(text.len > 0 ? buf_ptr(&text) : "", text.len, &flen);
    t->body_len = flen;
    buf_release(&text);
    return t->body != NULL;
}

bool imap_search_body(struct imap_search_text *t, int fd, bool with_header, const char *needle,
                      size_t nlen)
{
    if (nlen == 0)
        return true;
    if (with_header && header_text(t, fd) &&
        memmem(t->header_text, t->header_text_len, needle, nlen) != NULL)
        return true;
    return body_text(t, fd) && memmem(t->body, t->body_len, needle, nlen) != NULL;
}

char *imap_search_needle(const char *s, size_t len, size_t *len_r)
{
    return mime_casefold(s, len, len_r);
}
