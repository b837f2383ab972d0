/* reader/imap_message.c - a message file as an IMAP client sees it (see
 * imap_fetch_internal.h). Files are stored with LF line ends (doc/mailbox.md);
 * every LF not after a CR is sent as CRLF, the rule the mailbox layer's
 * CRLF size counts by, so a literal's announced size and its octets agree. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "lib/fdio.h"
#include "reader/imap_fetch_internal.h"

#define READ_CHUNK 16384

int imap_header_scan(int fd, struct imap_message_header *h)
{
    char buf[READ_CHUNK];
    uint64_t off = 0, crlf = 0;
    bool prev_cr = false;
    size_t line_len = 0; /* octets of the current line before its CR/LF */
    for (;;) {
        ssize_t n = pread(fd, buf, sizeof buf, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        for (ssize_t i = 0; i < n; i++) {
            char c = buf[i];
            crlf += c == '\n' && !prev_cr ? 2 : 1;
            if (c == '\n') {
                if (line_len == 0) {
                    h->file_start = 0;
                    h->crlf_len = crlf;
                    h->file_len = off + (uint64_t)i + 1;
                    return 0;
                }
                line_len = 0;
            } else if (c != '\r') {
                line_len++;
            }
            prev_cr = c == '\r';
        }
        off += (uint64_t)n;
    }
    /* no blank line: all of it is header (RFC 3501 6.4.5) */
    h->file_start = 0;
    h->crlf_len = crlf;
    h->file_len = off;
    return 0;
}

static bool field_named(const char *line, size_t len, const char *const *fields, size_t count)
{
    const char *colon = memchr(line, ':', len);
    if (colon == NULL)
        return false;
    size_t n = (size_t)(colon - line);
    while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\t'))
        n--;
    for (size_t i = 0; i < count; i++) {
        if (strlen(fields[i]) == n && strncasecmp(line, fields[i], n) == 0)
            return true;
    }
    return false;
}

int imap_header_fields(int fd, const struct imap_message_header *h, const char *const *fields,
                       size_t count, bool exclude, char **out_r, size_t *len_r)
{
    size_t in_len = h->file_len < IMAP_HEADER_READ_MAX ? (size_t)h->file_len : IMAP_HEADER_READ_MAX;
    char *in = malloc(in_len + 1);
    char *out = malloc(2 * in_len + 3);
    if (in == NULL || out == NULL) {
        free(in);
        free(out);
        return -1;
    }
    if (fd_pread_all(fd, in, in_len, h->file_start) != (ssize_t)in_len) {
        free(in);
        free(out);
        return -1;
    }
    size_t o = 0;
    bool keep = false;
    for (size_t i = 0; i < in_len;) {
        const char *lf = memchr(in + i, '\n', in_len - i);
        size_t end = lf != NULL ? (size_t)(lf - in) : in_len;
        size_t len = end - i;
        if (len > 0 && in[i + len - 1] == '\r')
            len--;
        if (len == 0)
            break; /* the blank line */
        /* a line that starts with white space continues the field above */
        if (in[i] != ' ' && in[i] != '\t')
            keep = field_named(in + i, len, fields, count) != exclude;
        if (keep) {
            memcpy(out + o, in + i, len);
            o += len;
            out[o++] = '\r';
            out[o++] = '\n';
        }
        i = end + 1;
    }
    out[o++] = '\r';
    out[o++] = '\n';
    free(in);
    *out_r = out;
    *len_r = o;
    return 0;
}

int imap_crlf_stream_begin(struct imap_crlf_stream *s, int fd, uint64_t file_off, uint64_t base,
                           uint64_t from, uint64_t to)
{
    if (from < base)
        return -1;
    s->fd = fd;
    s->file_off = file_off;
    s->pos = base;
    s->from = from;
    s->to = to;
    s->prev_cr = false;
    return 0;
}

ssize_t imap_crlf_stream_read(struct imap_crlf_stream *s, char *out, size_t in_max)
{
    char in[READ_CHUNK];
    if (in_max > sizeof in)
        in_max = sizeof in;
    size_t o = 0;
    while (s->pos < s->to && o == 0) {
        ssize_t n = pread(s->fd, in, in_max, (off_t)s->file_off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1; /* shorter than the size announced */
        ssize_t i = 0;
        for (; i < n && s->pos < s->to; i++) {
            char c = in[i];
            if (c == '\n' && !s->prev_cr) {
                if (s->pos >= s->from)
                    out[o++] = '\r';
                s->pos++;
                if (s->pos >= s->to) {
                    /* the range ends between CR and LF: the LF is not read */
                    break;
                }
            }
            if (s->pos >= s->from)
                out[o++] = c;
            s->pos++;
            s->prev_cr = c == '\r';
        }
        s->file_off += (uint64_t)i;
    }
    return (ssize_t)o;
}
