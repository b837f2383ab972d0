/* reader/imap_fetch_section.c - FETCH's body items: their syntax, BODY[...]
 * and BODY.PEEK[...] with every section form of RFC 3501 6.4.5 and 9
 * (part numbers, HEADER, HEADER.FIELDS(.NOT), TEXT, MIME, <partial>), and
 * BINARY[...], BINARY.PEEK[...], BINARY.SIZE[...] of RFC 3516 4; and the
 * range of the message file each one names, from the MIME cache. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/buf.h"
#include "reader/imap_fetch_internal.h"
#include "reader/imap_mime_cache.h"

void imap_fetch_body_clear(struct imap_fetch_body *body)
{
    for (size_t k = 0; k < body->nfields; k++)
        free(body->fields[k]);
    body->nfields = 0;
}

/* parse_fields - "(From Subject)" after HEADER.FIELDS into body. */
static bool parse_fields(const char *s, size_t len, struct imap_fetch_body *body)
{
    if (len < 2 || s[0] != '(' || s[len - 1] != ')')
        return false;
    size_t i = 1;
    while (i < len - 1) {
        while (i < len - 1 && s[i] == ' ')
            i++;
        size_t start = i;
        while (i < len - 1 && s[i] != ' ')
            i++;
        if (i == start)
            break;
        const char *name = s + start;
        size_t n = i - start;
        if (n >= 2 && name[0] == '"' && name[n - 1] == '"') {
            name++;
            n -= 2;
        }
        if (body->nfields >= IMAP_FIELDS_MAX || n == 0 || memchr(name, ':', n) != NULL)
            return false;
        if ((body->fields[body->nfields] = bytes_dup(name, n)) == NULL)
            return false;
        body->nfields++;
    }
    return body->nfields > 0;
}

/* parse_part - "1.2.3" at the start of sec: the levels into body, the
 * octets taken into *used (0 when sec does not begin with a number). */
static bool parse_part(const char *sec, size_t slen, struct imap_fetch_body *body, size_t *used)
{
    size_t i = 0;
    body->depth = 0;
    while (i < slen && sec[i] >= '1' && sec[i] <= '9') {
        unsigned long n = 0;
        while (i < slen && sec[i] >= '0' && sec[i] <= '9') {
            n = n * 10 + (unsigned long)(sec[i++] - '0');
            if (n > 1000000)
                return false;
        }
        if (body->depth >= IMAP_PART_DEPTH_MAX)
            return false;
        body->part[body->depth++] = (unsigned)n;
        if (i < slen && sec[i] == '.')
            i++;
        else
            break;
    }
    /* "1." at the end, or "1.0": no section */
    if (body->depth > 0 && sec[i - 1] == '.' && (i >= slen || sec[i] < 'A'))
        return false;
    *used = i;
    return true;
}

/* parse_text - section-text after the part: HEADER, HEADER.FIELDS(.NOT),
 * TEXT, or MIME (only after a part number). */
static bool parse_text(const char *sec, size_t slen, struct imap_fetch_body *body)
{
    if (slen == 0)
        body->section = IMAP_SEC_ALL;
    else if (slen == 6 && strncasecmp(sec, "HEADER", 6) == 0)
        body->section = IMAP_SEC_HEADER;
    else if (slen == 4 && strncasecmp(sec, "TEXT", 4) == 0)
        body->section = IMAP_SEC_TEXT;
    else if (slen == 4 && strncasecmp(sec, "MIME", 4) == 0 && body->depth > 0)
        body->section = IMAP_SEC_MIME;
    else if (slen > 18 && strncasecmp(sec, "HEADER.FIELDS.NOT ", 18) == 0) {
        body->section = IMAP_SEC_FIELDS_NOT;
        return parse_fields(sec + 18, slen - 18, body);
    } else if (slen > 14 && strncasecmp(sec, "HEADER.FIELDS ", 14) == 0) {
        body->section = IMAP_SEC_FIELDS;
        return parse_fields(sec + 14, slen - 14, body);
    } else
        return false;
    return true;
}

/* parse_partial - "<offset.count>" (RFC 3501 9); BINARY.SIZE has none. */
static bool parse_partial(const char *rest, struct imap_fetch_body *body)
{
    if (*rest == '\0')
        return true;
    if (*rest != '<' || body->binary_size)
        return false;
    char *end;
    errno = 0;
    unsigned long long o = strtoull(rest + 1, &end, 10);
    if (end == rest + 1 || *end != '.' || errno != 0 || rest[1] == '-')
        return false;
    const char *cstart = end + 1;
    unsigned long long c = strtoull(cstart, &end, 10);
    if (end == cstart || *end != '>' || end[1] != '\0' || c == 0 || errno != 0 || *cstart == '-')
        return false;
    body->partial = true;
    body->offset = o;
    body->count = c;
    return true;
}

bool imap_fetch_body_parse(const char *item, struct imap_fetch_body *body)
{
    const char *open = strchr(item, '[');
    const char *close = open != NULL ? strchr(open, ']') : NULL;
    if (open == NULL || close == NULL)
        return false;
    size_t plen = (size_t)(open - item);
    const char *name;
    if (plen == 4 && strncasecmp(item, "BODY", 4) == 0) {
        name = "BODY";
    } else if (plen == 9 && strncasecmp(item, "BODY.PEEK", 9) == 0) {
        name = "BODY";
        body->peek = true;
    } else if (plen == 6 && strncasecmp(item, "BINARY", 6) == 0) {
        name = "BINARY";
        body->binary = true;
    } else if (plen == 11 && strncasecmp(item, "BINARY.PEEK", 11) == 0) {
        name = "BINARY";
        body->binary = body->peek = true;
    } else if (plen == 11 && strncasecmp(item, "BINARY.SIZE", 11) == 0) {
        name = "BINARY.SIZE";
        body->binary = body->binary_size = body->peek = true;
    } else {
        return false;
    }
    const char *sec = open + 1;
    size_t slen = (size_t)(close - sec), used = 0;
    if (!parse_part(sec, slen, body, &used))
        return false;
    if (body->binary) {
        /* RFC 3516 4: section-binary is a part number only */
        if (used != slen)
            return false;
        body->section = IMAP_SEC_ALL;
    } else {
        if (used > 0 && used < slen && sec[used - 1] != '.')
            return false;
        if (!parse_text(sec + used, slen - used, body))
            return false;
    }
    if (!parse_partial(close + 1, body))
        return false;
    int n = body->partial
                ? snprintf(body->label, sizeof body->label, "%s[%.*s]<%llu>", name, (int)slen, sec,
                           (unsigned long long)body->offset)
                : snprintf(body->label, sizeof body->label, "%s[%.*s]", name, (int)slen, sec);
    if (n < 0 || (size_t)n >= sizeof body->label) {
        /* a long HEADER.FIELDS list: the label is rebuilt from the names */
        struct buf b = BUF_INIT;
        int r = buf_printf(&b, "%s[%.*s", name, (int)used, sec);
        r |= buf_printf(&b, "%s (",
                        body->section == IMAP_SEC_FIELDS ? "HEADER.FIELDS" : "HEADER.FIELDS.NOT");
        for (size_t k = 0; k < body->nfields; k++)
            r |= buf_printf(&b, "%s%s", k > 0 ? " " : "", body->fields[k]);
        r |= buf_printf(&b, ")]");
        bool fits = r == 0 && b.len < sizeof body->label;
        if (fits) {
            memcpy(body->label, buf_ptr(&b), b.len);
            body->label[b.len] = '\0';
        }
        buf_release(&b);
        if (!fits)
            return false;
        if (body->partial)
            return false; /* too long to name */
    }
    /* the section keyword in capitals, as the client may compare */
    for (char *c = strchr(body->label, '['); *c != '\0' && *c != ' ' && *c != ']'; c++)
        if (*c >= 'a' && *c <= 'z')
            *c = (char)(*c - 32);
    return true;
}

/* span - the stream over [a, b) of the message. */
static void span(struct imap_fetch_range *r, struct mime_pos a, struct mime_pos b)
{
    r->file_from = a.raw;
    r->base = a.crlf;
    r->from = a.crlf;
    r->to = b.crlf;
}

bool imap_fetch_range(const struct imap_fetch_body *b, const struct imap_mime *mime, int fd,
                      uint64_t size, struct imap_message_header *hdr, bool *hdr_known,
                      struct imap_fetch_range *r)
{
    memset(r, 0, sizeof *r);
    r->part = -1;
    if (b->depth == 0) {
        if (!*hdr_known && b->section != IMAP_SEC_ALL) {
            if (imap_header_scan(fd, hdr) < 0)
                return false;
            *hdr_known = true;
        }
        switch (b->section) {
        case IMAP_SEC_ALL:
            r->to = size;
            break;
        case IMAP_SEC_HEADER:
            r->to = hdr->crlf_len;
            break;
        case IMAP_SEC_TEXT:
            r->file_from = hdr->file_len;
            r->base = r->from = hdr->crlf_len;
            r->to = size;
            break;
        case IMAP_SEC_FIELDS:
        case IMAP_SEC_FIELDS_NOT:
            r->fields = true;
            r->h = *hdr;
            break;
        case IMAP_SEC_MIME:
            r->nil = true;
            break;
        }
        if (r->to < r->from)
            r->to = r->from;
        return true;
    }
    int idx = mime != NULL ? imap_mime_section(mime, b->part, b->depth) : -1;
    if (idx < 0) {
        r->nil = true;
        return true;
    }
    r->part = idx;
    const struct imap_mime_part *p = &mime->parts[idx];
    if (b->section == IMAP_SEC_ALL) {
        span(r, p->body, p->end);
        return true;
    }
    if (b->section == IMAP_SEC_MIME) {
        span(r, p->header, p->body);
        return true;
    }
    /* HEADER, TEXT and HEADER.FIELDS of a part: of the message it holds
     * (RFC 3501 6.4.5: "a part of type MESSAGE/RFC822") */
    if (p->kind != MIME_MESSAGE || p->first_child < 0) {
        r->nil = true;
        return true;
    }
    const struct imap_mime_part *m = &mime->parts[p->first_child];
    if (b->section == IMAP_SEC_TEXT) {
        span(r, m->body, m->end);
    } else if (b->section == IMAP_SEC_HEADER) {
        span(r, m->header, m->body);
    } else {
        r->fields = true;
        r->h.file_start = m->header.raw;
        r->h.file_len = m->body.raw - m->header.raw;
        r->h.crlf_len = m->body.crlf - m->header.crlf;
    }
    return true;
}
