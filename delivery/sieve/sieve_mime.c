/* delivery/sieve/sieve_mime.c - RFC 2047 decoding and the minimal MIME walk
 * of RFC 2045/2046 for the body test. Not a MIME library: parameters are
 * read as token or quoted string (no RFC 2231 continuations), and
 * message/rfc822 parts are leaves, not descended. A multipart's prologue
 * and epilogue are given as parts of the multipart's own type. */
#include "config.h"

#include "delivery/sieve/sieve_mime.h"

#include <errno.h>
#include <iconv.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/buf.h"

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int b64val(int c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* base64 - decode, skipping what is not of the alphabet (line ends). */
static void base64(struct buf *out, const char *s, size_t n)
{
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '=')
            break;
        int v = b64val((unsigned char)s[i]);
        if (v < 0)
            continue;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            char c = (char)((acc >> bits) & 0xff);
            buf_append(out, &c, 1);
        }
    }
}

/* quoted_printable - RFC 2045 6.7 (header: RFC 2047 4.2, "_" is a space). */
static void quoted_printable(struct buf *out, const char *s, size_t n, bool header)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '=' && i + 2 < n + 0 && hexval((unsigned char)s[i + 1]) >= 0 &&
            hexval((unsigned char)s[i + 2]) >= 0) {
            c = (char)(hexval((unsigned char)s[i + 1]) * 16 + hexval((unsigned char)s[i + 2]));
            i += 2;
        } else if (c == '=' && !header && i + 1 < n && (s[i + 1] == '\n' || s[i + 1] == '\r')) {
            i++; /* soft line break */
            if (s[i] == '\r' && i + 1 < n && s[i + 1] == '\n')
                i++;
            continue;
        } else if (c == '=' && !header && i + 1 == n) {
            continue;
        } else if (c == '_' && header) {
            c = ' ';
        }
        buf_append(out, &c, 1);
    }
}

char *sieve_mime_to_utf8(const char *charset, const char *text, size_t len)
{
    char *out = NULL;
    if (charset != NULL && *charset != '\0' && strcasecmp(charset, "utf-8") != 0 &&
        strcasecmp(charset, "us-ascii") != 0) {
        iconv_t cd = iconv_open("UTF-8", charset);
        if (cd != (iconv_t)-1) {
            size_t cap = len * 4 + 16;
            out = malloc(cap);
            if (out != NULL) {
                char *in = (char *)text, *o = out;
                size_t inleft = len, outleft = cap - 1;
                if (iconv(cd, &in, &inleft, &o, &outleft) == (size_t)-1 || inleft != 0) {
                    free(out);
                    out = NULL;
                } else {
                    *o = '\0';
                }
            }
            iconv_close(cd);
            if (out != NULL)
                return out;
        }
    }
    out = malloc(len + 1);
    if (out != NULL) {
        memcpy(out, text, len);
        out[len] = '\0';
    }
    return out;
}

/* encoded_word - at p: "=?charset?B|Q?text?=" (RFC 2047 2) decoded into
 * out, the octets taken in *used; false when p is no such word. */
static bool encoded_word(const char *p, const char *end, struct buf *out, size_t *used)
{
    if (end - p < 8 || p[0] != '=' || p[1] != '?')
        return false;
    const char *cs = p + 2;
    const char *q1 = memchr(cs, '?', (size_t)(end - cs));
    if (q1 == NULL || q1 == cs || q1 + 3 >= end || q1[2] != '?')
        return false;
    char enc = q1[1];
    if (enc != 'B' && enc != 'b' && enc != 'Q' && enc != 'q')
        return false;
    const char *text = q1 + 3;
    const char *stop = text;
    while (stop + 1 < end && !(stop[0] == '?' && stop[1] == '='))
        stop++;
    if (stop + 1 >= end)
        return false;
    for (const char *c = text; c < stop; c++)
        if (*c == ' ' || *c == '\t')
            return false;
    char charset[64];
    size_t cslen = (size_t)(q1 - cs);
    if (cslen >= sizeof charset)
        return false;
    memcpy(charset, cs, cslen);
    charset[cslen] = '\0';
    char *star = strchr(charset, '*'); /* RFC 2231 5: charset*language */
    if (star != NULL)
        *star = '\0';
    struct buf raw = BUF_INIT;
    if (enc == 'B' || enc == 'b')
        base64(&raw, text, (size_t)(stop - text));
    else
        quoted_printable(&raw, text, (size_t)(stop - text), true);
    char *utf8 =
        sieve_mime_to_utf8(charset, buf_ptr(&raw) != NULL ? buf_ptr(&raw) : "", buf_len(&raw));
    buf_release(&raw);
    if (utf8 == NULL)
        return false;
    buf_append(out, utf8, strlen(utf8));
    free(utf8);
    *used = (size_t)(stop + 2 - p);
    return true;
}

char *sieve_mime_decode_header(const char *value)
{
    if (strstr(value, "=?") == NULL)
        return strdup(value);
    struct buf out = BUF_INIT;
    const char *p = value, *end = value + strlen(value);
    bool last_was_word = false;
    while (p < end) {
        size_t used;
        if (encoded_word(p, end, &out, &used)) {
            p += used;
            last_was_word = true;
            /* blanks up to a next encoded word are dropped (RFC 2047 6.2) */
            const char *q = p;
            while (q < end && (*q == ' ' || *q == '\t'))
                q++;
            struct buf probe = BUF_INIT;
            size_t u2;
            if (q > p && encoded_word(q, end, &probe, &u2))
                p = q;
            buf_release(&probe);
            continue;
        }
        last_was_word = false;
        buf_append(&out, p, 1);
        p++;
    }
    (void)last_was_word;
    buf_append(&out, "", 1);
    char *r = strdup(buf_ptr(&out) != NULL ? buf_ptr(&out) : "");
    buf_release(&out);
    return r;
}

/* param - the value of parameter name in a Content-Type value, into out. */
static bool param(const char *ct, const char *name, char *out, size_t outsz)
{
    size_t nlen = strlen(name);
    for (const char *p = strchr(ct, ';'); p != NULL; p = strchr(p + 1, ';')) {
        const char *q = p + 1;
        while (*q == ' ' || *q == '\t')
            q++;
        if (strncasecmp(q, name, nlen) != 0)
            continue;
        q += nlen;
        while (*q == ' ' || *q == '\t')
            q++;
        if (*q != '=')
            continue;
        q++;
        while (*q == ' ' || *q == '\t')
            q++;
        size_t n = 0;
        if (*q == '"') {
            q++;
            while (q[n] != '\0' && q[n] != '"')
                n++;
        } else {
            while (q[n] != '\0' && q[n] != ';' && q[n] != ' ' && q[n] != '\t')
                n++;
        }
        if (n == 0 || n >= outsz)
            return false;
        memcpy(out, q, n);
        out[n] = '\0';
        return true;
    }
    return false;
}

struct part_head {
    char type[128]; /* "text/plain" */
    char charset[64];
    char boundary[128];
    char encoding[32];
};

static void read_part_head(const char *h, size_t hlen, struct part_head *ph, bool digest)
{
    strcpy(ph->type, digest ? "message/rfc822" : "text/plain");
    ph->charset[0] = ph->boundary[0] = ph->encoding[0] = '\0';
    struct sieve_message *m = sieve_message_parse(h, hlen, NULL);
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->nheaders; i++) {
        const char *v = m->headers[i].value;
        if (strcasecmp(m->headers[i].name, "Content-Type") == 0) {
            size_t n = strcspn(v, "; \t");
            if (n > 0 && n < sizeof ph->type && memchr(v, '/', n) != NULL) {
                for (size_t k = 0; k < n; k++)
                    ph->type[k] = (char)((v[k] >= 'A' && v[k] <= 'Z') ? v[k] + 32 : v[k]);
                ph->type[n] = '\0';
            }
            param(v, "charset", ph->charset, sizeof ph->charset);
            param(v, "boundary", ph->boundary, sizeof ph->boundary);
        } else if (strcasecmp(m->headers[i].name, "Content-Transfer-Encoding") == 0) {
            size_t n = strcspn(v, " \t;");
            if (n < sizeof ph->encoding) {
                memcpy(ph->encoding, v, n);
                ph->encoding[n] = '\0';
            }
        }
    }
    sieve_message_free(&m);
}

/* boundary_line - does the line at p open with "--boundary"? 2 if it is the
 * closing delimiter, 1 a part delimiter, 0 not one. */
static int boundary_line(const char *p, const char *end, const char *b, size_t blen)
{
    if ((size_t)(end - p) < blen + 2 || p[0] != '-' || p[1] != '-' || memcmp(p + 2, b, blen) != 0)
        return 0;
    p += 2 + blen;
    if (end - p >= 2 && p[0] == '-' && p[1] == '-')
        return 2;
    return 1;
}

static int walk(const char *data, size_t len, bool digest, unsigned depth, sieve_mime_part_fn fn,
                void *ctx);

static int walk_leaf(const struct part_head *ph, const char *body, size_t blen,
                     sieve_mime_part_fn fn, void *ctx)
{
    struct buf dec = BUF_INIT;
    if (strcasecmp(ph->encoding, "base64") == 0)
        base64(&dec, body, blen);
    else if (strcasecmp(ph->encoding, "quoted-printable") == 0)
        quoted_printable(&dec, body, blen, false);
    else
        buf_append(&dec, body, blen);
    const char *d = buf_ptr(&dec) != NULL ? buf_ptr(&dec) : "";
    char *text = strncmp(ph->type, "text/", 5) == 0
                     ? sieve_mime_to_utf8(ph->charset, d, buf_len(&dec))
                     : sieve_mime_to_utf8(NULL, d, buf_len(&dec));
    buf_release(&dec);
    if (text == NULL)
        return -1;
    int rc = fn(ctx, ph->type, text, strlen(text));
    free(text);
    return rc;
}

/* text_part - a multipart's prologue or epilogue, as it is written. */
static int text_part(const char *type, const char *text, size_t len, sieve_mime_part_fn fn,
                     void *ctx)
{
    char *copy = bytes_dup(text, len);
    if (copy == NULL)
        return -1;
    int rc = fn(ctx, type, copy, len);
    free(copy);
    return rc;
}

/* walk - one entity (header and body) of len octets. */
static int walk(const char *data, size_t len, bool digest, unsigned depth, sieve_mime_part_fn fn,
                void *ctx)
{
    const char *end = data + len, *body = end;
    for (const char *p = data; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (nl == NULL)
            break;
        if (nl == p || (nl == p + 1 && *p == '\r')) {
            body = nl + 1;
            break;
        }
        p = nl + 1;
    }
    if (body == end && len > 0 &&
        (data[0] == '\n' || (data[0] == '\r' && len > 1 && data[1] == '\n')))
        body = data + (data[0] == '\n' ? 1 : 2);
    struct part_head ph;
    read_part_head(data, (size_t)(body - data), &ph, digest);
    if (strncmp(ph.type, "multipart/", 10) != 0 || ph.boundary[0] == '\0')
        return walk_leaf(&ph, body, (size_t)(end - body), fn, ctx);
    if (depth >= SIEVE_MIME_DEPTH_MAX)
        return 0;
    bool child_digest = strcmp(ph.type, "multipart/digest") == 0;
    size_t blen = strlen(ph.boundary);
    const char *part = NULL;
    for (const char *p = body; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *next = nl != NULL ? nl + 1 : end;
        int kind = boundary_line(p, nl != NULL ? nl : end, ph.boundary, blen);
        if (kind != 0) {
            if (part == NULL && p > body) {
                /* RFC 5173 5.2: a multipart's prologue is searched when its
                 * own type is asked for */
                int rc = text_part(ph.type, body, (size_t)(p - body), fn, ctx);
                if (rc != 0)
                    return rc;
            }
            if (part != NULL) {
                /* the line end before the delimiter belongs to it (RFC 2046 5.1.1) */
                const char *pe = p;
                if (pe > part && pe[-1] == '\n')
                    pe--;
                if (pe > part && pe[-1] == '\r')
                    pe--;
                int rc = walk(part, (size_t)(pe - part), child_digest, depth + 1, fn, ctx);
                if (rc != 0)
                    return rc;
            }
            if (kind == 2)
                return next < end ? text_part(ph.type, next, (size_t)(end - next), fn, ctx) : 0;
            part = next;
        }
        p = next;
    }
    if (part != NULL && part < end)
        return walk(part, (size_t)(end - part), child_digest, depth + 1, fn, ctx);
    return 0;
}

int sieve_mime_walk(const struct sieve_message *msg, sieve_mime_part_fn fn, void *ctx)
{
    return walk(msg->data, msg->len, false, 0, fn, ctx);
}
