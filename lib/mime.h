/* lib/mime.h - the MIME structure of one message in memory (RFC 2045, 2046,
 * 5322): its tree of entities with each one's header and body as byte
 * ranges of the raw text (and as the same ranges with CRLF line ends), line
 * counts, and the header fields IMAP describes, parsed with GMime 3 (content
 * types and dispositions with RFC 2231 parameters). Tolerant of broken mail
 * the way real servers are: a missing boundary ends its part at the end of
 * the enclosing one, nothing is ever refused. Knows no protocol. */
#ifndef DIRMAIL_MIME_H
#define DIRMAIL_MIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

/* Entities in one message, and how deep multiparts and messages may nest;
 * past either, the rest is one opaque part (Dovecot keeps similar bounds). */
#define MIME_PARTS_MAX 1000
#define MIME_DEPTH_MAX 32
/* A header field value kept for the structure is cut at this length. */
#define MIME_FIELD_MAX 8192

enum mime_kind {
    MIME_LEAF,      /* a body of its own */
    MIME_MULTIPART, /* children: its parts */
    MIME_MESSAGE,   /* message/rfc822 (or global): one child, the message inside */
};

/* A position in the message: in the raw text and with every LF that has no
 * CR before it counted as CRLF (what an IMAP client sees). */
struct mime_pos {
    uint64_t raw, crlf;
};

struct mime_param {
    char *name;  /* as written, NUL-terminated */
    char *value; /* RFC 2231 continuations joined and decoded to UTF-8 */
};

struct mime_params {
    struct mime_param *list;
    size_t count;
};

/* The header fields of an entity's header that RFC 3501 7.4.2 describes;
 * NULL when absent. Values are unfolded (RFC 5322 2.2.3), raw octets. */
enum mime_field {
    MIME_F_DATE,
    MIME_F_SUBJECT,
    MIME_F_FROM,
    MIME_F_SENDER,
    MIME_F_REPLY_TO,
    MIME_F_TO,
    MIME_F_CC,
    MIME_F_BCC,
    MIME_F_IN_REPLY_TO,
    MIME_F_MESSAGE_ID,
    MIME_F_CONTENT_TYPE,
    MIME_F_CONTENT_ENCODING,
    MIME_F_CONTENT_ID,
    MIME_F_CONTENT_DESCRIPTION,
    MIME_F_CONTENT_DISPOSITION,
    MIME_F_CONTENT_LANGUAGE,
    MIME_F_CONTENT_LOCATION,
    MIME_F_CONTENT_MD5,
    MIME_F_COUNT
};

struct mime_part {
    enum mime_kind kind;
    struct mime_pos header; /* where its header begins */
    struct mime_pos body;   /* where its body begins (after the blank line) */
    struct mime_pos end;    /* where its body ends */
    uint64_t body_lines;    /* line ends in the body */
    char *type, *subtype;   /* lower case; text/plain when absent or unreadable */
    struct mime_params params;
    char *disposition; /* NULL when absent */
    struct mime_params disposition_params;
    char *fields[MIME_F_COUNT];
    /* the tree, as indices into the message's parts; -1 for none */
    int parent, first_child, next_sibling;
    unsigned child_count;
};

struct mime_message {
    struct mime_part *parts; /* parts[0] is the message itself */
    size_t count;
};

/* mime_init - start GMime, once per process (every function here does). */
void mime_init(void);

/* mime_parse - the structure of the len octets at data (need not be
 * NUL-terminated). Never fails on content; NULL only when out of memory. */
struct mime_message *mime_parse(const char *data, size_t len);
void mime_message_free(struct mime_message **msgp);

/* mime_part_is - part's type is type/subtype (ASCII case-insensitive;
 * subtype NULL matches any). */
bool mime_part_is(const struct mime_part *part, const char *type, const char *subtype);

/* mime_part_param - the value of part's Content-Type parameter name, NULL
 * when it has none. */
const char *mime_part_param(const struct mime_part *part, const char *name);

/* mime_header_find - the first field called name in the header at
 * data[start, end), unfolded, malloc'd (bytes_dup); NULL when absent. */
char *mime_header_find(const char *data, size_t start, size_t end, const char *name);

/* mime_header_end - where the header that begins at data[start] ends
 * (after its blank line; end when there is none). */
size_t mime_header_end(const char *data, size_t start, size_t end);

/* ---- decoding (lib/mime_text.c), for BINARY and SEARCH ---- */

enum mime_decode_result {
    MIME_DECODED,
    MIME_UNKNOWN_ENCODING, /* not 7bit/8bit/binary/base64/quoted-printable */
    MIME_DECODE_NOMEM,
};

/* mime_decode_transfer - the len octets at data with the content transfer
 * encoding (RFC 2045 6; NULL: none) removed, appended to out. */
enum mime_decode_result mime_decode_transfer(const char *data, size_t len, const char *encoding,
                                             struct buf *out);

/* mime_to_utf8 - text in charset (NULL or unknown: taken as UTF-8 where it
 * is valid, else as Latin-1, the way readers show such mail) as UTF-8,
 * appended to out. -1 out of memory. */
int mime_to_utf8(const char *data, size_t len, const char *charset, struct buf *out);

/* mime_header_decode - an unfolded header value with its RFC 2047 words
 * decoded, in UTF-8 (8-bit octets outside words as mime_to_utf8 takes
 * them); malloc'd, NULL out of memory. */
char *mime_header_decode(const char *value);

/* mime_casefold - UTF-8 text folded for case-insensitive comparison
 * (Unicode simple case folding; invalid sequences replaced); malloc'd. */
char *mime_casefold(const char *text, size_t len, size_t *len_r);

#endif
