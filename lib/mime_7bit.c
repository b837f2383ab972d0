/* lib/mime_7bit.c - see mime_7bit.h.
 *
 * GMime parses the message into its tree (reading the file through a
 * bounded stream, so a large message is not copied into memory), each leaf
 * part whose best 7-bit encoding is not 7bit gets quoted-printable
 * (GMime re-encodes it when the tree is written; untouched parts are
 * written as they came), and the tree is written back with CRLF line
 * ends. The output is then checked octet by octet: whatever GMime kept
 * that is still 8-bit refuses the conversion, so nothing 8-bit can reach a
 * 7-bit peer whatever the tree looked like. */
#include "config.h"

#include "lib/mime_7bit.h"

#include <gmime/gmime.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "lib/mime.h"

/* The output is checked in pieces of this size. */
#define CHECK_PIECE 65536

static bool has_8bit(const char *s)
{
    for (; s != NULL && *s != '\0'; s++) {
        if ((unsigned char)*s & 0x80)
            return true;
    }
    return false;
}

/* headers_8bit - whether a header field of object has an 8-bit octet. */
static bool headers_8bit(GMimeObject *object)
{
    GMimeHeaderList *list = g_mime_object_get_header_list(object);
    int count = list != NULL ? g_mime_header_list_get_count(list) : 0;
    for (int i = 0; i < count; i++) {
        GMimeHeader *h = g_mime_header_list_get_header_at(list, i);
        if (has_8bit(g_mime_header_get_name(h)) || has_8bit(g_mime_header_get_raw_value(h)))
            return true;
    }
    return false;
}

/* needs_encoding - whether the leaf part's content is not 7-bit as it is. */
static bool needs_encoding(GMimePart *part)
{
    GMimeContentEncoding enc = g_mime_part_get_content_encoding(part);
    if (enc == GMIME_CONTENT_ENCODING_BASE64 || enc == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE ||
        enc == GMIME_CONTENT_ENCODING_UUENCODE)
        return false;
    /* DEFAULT when 7bit will do: only a choice of QP or base64 means not */
    GMimeContentEncoding best =
        g_mime_part_get_best_content_encoding(part, GMIME_ENCODING_CONSTRAINT_7BIT);
    return best == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE || best == GMIME_CONTENT_ENCODING_BASE64;
}

/* convert - object and what it holds made 7-bit; false with *why_r when
 * that cannot be done. */
static bool convert(GMimeObject *object, int depth, const char **why_r)
{
    if (depth > MIME_DEPTH_MAX) {
        *why_r = "MIME parts nested too deep to convert";
        return false;
    }
    if (headers_8bit(object)) {
        *why_r = "8-bit octets in a header field";
        return false;
    }
    if (GMIME_IS_MESSAGE(object)) {
        GMimeObject *top = g_mime_message_get_mime_part(GMIME_MESSAGE(object));
        return top == NULL || convert(top, depth + 1, why_r);
    }
    if (GMIME_IS_MULTIPART(object)) {
        GMimeMultipart *mp = GMIME_MULTIPART(object);
        if (has_8bit(g_mime_multipart_get_prologue(mp)) ||
            has_8bit(g_mime_multipart_get_epilogue(mp))) {
            *why_r = "8-bit octets outside the parts of a multipart";
            return false;
        }
        int count = g_mime_multipart_get_count(mp);
        for (int i = 0; i < count; i++) {
            if (!convert(g_mime_multipart_get_part(mp, i), depth + 1, why_r))
                return false;
        }
        return true;
    }
    if (GMIME_IS_MESSAGE_PART(object)) {
        /* RFC 2046 5.2.1: no encoding but 7bit, 8bit or binary; its 8-bit
         * content cannot be re-encoded in place */
        GMimeMessage *inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(object));
        if (inner == NULL)
            return true;
        GMimeStream *s = g_mime_stream_mem_new();
        g_mime_object_write_to_stream(GMIME_OBJECT(inner), NULL, s);
        GByteArray *bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(s));
        bool eight = false;
        for (guint i = 0; i < bytes->len && !eight; i++)
            eight = bytes->data[i] & 0x80;
        g_object_unref(s);
        if (eight) {
            *why_r = "8-bit octets inside a message part";
            return false;
        }
        return true;
    }
    if (GMIME_IS_PART(object)) {
        GMimePart *part = GMIME_PART(object);
        if (g_mime_part_get_content_encoding(part) == GMIME_CONTENT_ENCODING_BINARY) {
            *why_r = "a binary body";
            return false;
        }
        if (!needs_encoding(part))
            return true;
        g_mime_part_set_content_encoding(part, GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE);
        /* 8-bit text that named no charset: RFC 1428's unknown-8bit */
        GMimeContentType *ct = g_mime_object_get_content_type(object);
        if (ct != NULL && g_mime_content_type_is_type(ct, "text", "*") &&
            g_mime_content_type_get_parameter(ct, "charset") == NULL)
            g_mime_content_type_set_parameter(ct, "charset", "unknown-8bit");
        return true;
    }
    return true;
}

/* output_7bit - whether every octet of fd from offset start on is 7-bit. */
static bool output_7bit(int fd, off_t start)
{
    char piece[CHECK_PIECE];
    ssize_t n;
    for (off_t off = start; (n = pread(fd, piece, sizeof piece, off)) > 0; off += n) {
        for (ssize_t i = 0; i < n; i++) {
            if ((unsigned char)piece[i] & 0x80)
                return false;
        }
    }
    return n == 0;
}

enum mime_7bit_result mime_7bit_convert(int in_fd, uint64_t len, int out_fd, const char **why_r)
{
    mime_init();
    *why_r = "out of memory";
    off_t start = lseek(out_fd, 0, SEEK_CUR);
    int in = dup(in_fd), out = dup(out_fd);
    if (in < 0 || out < 0 || start < 0) {
        if (in >= 0)
            close(in);
        if (out >= 0)
            close(out);
        *why_r = "no file descriptor for the conversion";
        return MIME_7BIT_ERROR;
    }
    GMimeStream *is = g_mime_stream_fs_new_with_bounds(in, 0, (gint64)len);
    GMimeParser *parser = g_mime_parser_new_with_stream(is);
    g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
    GMimeMessage *message = g_mime_parser_construct_message(parser, NULL);
    enum mime_7bit_result result = MIME_7BIT_ERROR;
    GMimeStream *os = g_mime_stream_fs_new(out);
    if (message == NULL) {
        *why_r = "the message cannot be parsed";
        result = MIME_7BIT_REFUSED;
    } else if (convert(GMIME_OBJECT(message), 0, why_r)) {
        GMimeObject *top = g_mime_message_get_mime_part(message);
        /* a message that was not MIME becomes MIME (RFC 2045 4) */
        if (top != NULL && GMIME_IS_PART(top) &&
            g_mime_object_get_header(GMIME_OBJECT(message), "MIME-Version") == NULL)
            g_mime_object_set_header(GMIME_OBJECT(message), "MIME-Version", "1.0", NULL);
        GMimeFormatOptions *fo = g_mime_format_options_new();
        g_mime_format_options_set_newline_format(fo, GMIME_NEWLINE_FORMAT_DOS);
        ssize_t w = g_mime_object_write_to_stream(GMIME_OBJECT(message), fo, os);
        g_mime_format_options_free(fo);
        if (w < 0 || g_mime_stream_flush(os) < 0) {
            *why_r = "writing the converted message failed";
        } else if (!output_7bit(out_fd, start)) {
            *why_r = "8-bit octets GMime could not re-encode";
            result = MIME_7BIT_REFUSED;
        } else {
            result = MIME_7BIT_CONVERTED;
            *why_r = NULL;
        }
    } else {
        result = MIME_7BIT_REFUSED;
    }
    /* the output's offset is the caller's: after what was written */
    g_object_unref(os);
    if (message != NULL)
        g_object_unref(message);
    g_object_unref(parser);
    g_object_unref(is);
    return result;
}
