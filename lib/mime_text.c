/* lib/mime_text.c - a MIME part's text as a reader means it: transfer
 * encodings removed (GMime's base64 and quoted-printable decoders), its
 * charset converted to UTF-8 (GMime's iconv with its charset aliases),
 * RFC 2047 words in header values decoded, and UTF-8 folded for case-
 * insensitive matching (GLib's Unicode tables). */
#include "config.h"

#include <gmime/gmime.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/mime.h"

/* Input is decoded in pieces of this size (the decoders keep their state). */
#define PIECE 16384

/* qp_unpadded - quoted-printable text with the white space at each line's
 * end deleted, as RFC 2045 6.7 (3) says a decoder must ("it will
 * necessarily have been added by intermediate transport agents"); GMime's
 * decoder keeps it, so "=" then a space is no soft line break to it.
 * malloc'd (bytes_dup's rules); NULL out of memory. */
static char *qp_unpadded(const char *data, size_t len, size_t *len_r)
{
    char *out = malloc(len + 1);
    if (out == NULL)
        return NULL;
    size_t o = 0, line = 0; /* line: where the current line began in out */
    for (size_t i = 0; i < len; i++) {
        bool eol = data[i] == '\n' || (data[i] == '\r' && i + 1 < len && data[i + 1] == '\n');
        if (eol) {
            while (o > line && (out[o - 1] == ' ' || out[o - 1] == '\t'))
                o--;
            if (data[i] == '\r')
                out[o++] = data[i++];
            out[o++] = data[i];
            line = o;
        } else {
            out[o++] = data[i];
        }
    }
    while (o > line && (out[o - 1] == ' ' || out[o - 1] == '\t'))
        o--;
    out[o] = '\0';
    *len_r = o;
    return out;
}

enum mime_decode_result mime_decode_transfer(const char *data, size_t len, const char *encoding,
                                             struct buf *out)
{
    mime_init();
    GMimeContentEncoding enc = encoding != NULL && encoding[0] != '\0'
                                   ? g_mime_content_encoding_from_string(encoding)
                                   : GMIME_CONTENT_ENCODING_7BIT;
    switch (enc) {
    case GMIME_CONTENT_ENCODING_DEFAULT:
        return MIME_UNKNOWN_ENCODING;
    case GMIME_CONTENT_ENCODING_BASE64:
    case GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE:
    case GMIME_CONTENT_ENCODING_UUENCODE:
        break;
    default:
        return buf_append(out, data, len) == 0 ? MIME_DECODED : MIME_DECODE_NOMEM;
    }
    char *unpadded = NULL;
    if (enc == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE) {
        unpadded = qp_unpadded(data, len, &len);
        if (unpadded == NULL)
            return MIME_DECODE_NOMEM;
        data = unpadded;
    }
    GMimeEncoding state;
    g_mime_encoding_init_decode(&state, enc);
    for (size_t off = 0; off < len || len == 0;) {
        size_t n = len - off < PIECE ? len - off : PIECE;
        bool last = off + n == len;
        size_t room = g_mime_encoding_outlen(&state, n);
        if (buf_reserve(out, room) < 0) {
            free(unpadded);
            return MIME_DECODE_NOMEM;
        }
        size_t got = last ? g_mime_encoding_flush(&state, data + off, n, buf_tail(out))
                          : g_mime_encoding_step(&state, data + off, n, buf_tail(out));
        buf_commit(out, got);
        off += n;
        if (last)
            break;
    }
    free(unpadded);
    return MIME_DECODED;
}

/* latin1_to_utf8 - each octet as the code point of the same number. */
static int latin1_to_utf8(const char *data, size_t len, struct buf *out)
{
    if (buf_reserve(out, 2 * len) < 0)
        return -1;
    char *t = buf_tail(out);
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)data[i];
        if (c < 0x80) {
            t[o++] = (char)c;
        } else {
            t[o++] = (char)(0xc0 | (c >> 6));
            t[o++] = (char)(0x80 | (c & 0x3f));
        }
    }
    buf_commit(out, o);
    return 0;
}

int mime_to_utf8(const char *data, size_t len, const char *charset, struct buf *out)
{
    mime_init();
    if (charset != NULL && charset[0] != '\0' && strcasecmp(charset, "utf-8") != 0 &&
        strcasecmp(charset, "us-ascii") != 0) {
        iconv_t cd = g_mime_iconv_open("UTF-8", charset);
        if (cd != (iconv_t)-1) {
            char *conv = g_mime_iconv_strndup(cd, data, len);
            g_mime_iconv_close(cd);
            if (conv != NULL) {
                int r = buf_append(out, conv, strlen(conv));
                g_free(conv);
                return r;
            }
        }
    }
    /* no charset, an unknown one, or text that is not what it says */
    if (g_utf8_validate(data, (gssize)len, NULL))
        return buf_append(out, data, len);
    return latin1_to_utf8(data, len, out);
}

char *mime_header_decode(const char *value)
{
    mime_init();
    struct buf raw = BUF_INIT;
    size_t len = strlen(value);
    /* 8-bit octets outside encoded words: UTF-8 when valid, else Latin-1 */
    if (mime_to_utf8(value, len, NULL, &raw) < 0 || buf_append(&raw, "", 1) < 0) {
        buf_release(&raw);
        return NULL;
    }
    char *decoded = g_mime_utils_header_decode_text(NULL, buf_ptr(&raw));
    buf_release(&raw);
    if (decoded == NULL)
        return NULL;
    char *copy = strdup(decoded);
    g_free(decoded);
    return copy;
}

char *mime_casefold(const char *text, size_t len, size_t *len_r)
{
    gchar *valid = g_utf8_make_valid(text, (gssize)len);
    gchar *folded = valid != NULL ? g_utf8_casefold(valid, -1) : NULL;
    g_free(valid);
    if (folded == NULL)
        return NULL;
    char *copy = strdup(folded);
    g_free(folded);
    if (copy != NULL)
        *len_r = strlen(copy);
    return copy;
}
