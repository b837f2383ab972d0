/* delivery/sieve/sieve_mime.h - what Sieve needs of MIME: RFC 2047 encoded
 * words in header values decoded to UTF-8 (B and Q, any charset glibc's
 * iconv knows), and the body's parts for the body extension (RFC 5173): a
 * walk through multipart types (nested, bounded depth) to the leaf parts, each
 * transfer-decoded and, for text/ types, converted to UTF-8. */
#ifndef DIRMAIL_SIEVE_MIME_H
#define DIRMAIL_SIEVE_MIME_H

#include <stddef.h>

#include "delivery/sieve/sieve_message.h"

/* sieve_mime_decode_header - value with its encoded words decoded (white
 * space between two adjacent encoded words dropped, RFC 2047 6.2); an
 * encoded word that does not decode stays as written. malloc'd, NULL when
 * out of memory. */
char *sieve_mime_decode_header(const char *value);

/* sieve_mime_to_utf8 - len octets in charset as malloc'd NUL-terminated
 * UTF-8; an unknown charset or bad sequence leaves the octets as they are. */
char *sieve_mime_to_utf8(const char *charset, const char *text, size_t len);

/* Called for each leaf part: its content type ("text/plain", lower case)
 * and its decoded text; return non-zero to stop the walk (with that value). */
typedef int (*sieve_mime_part_fn)(void *ctx, const char *type, const char *text, size_t len);

/* Deepest nesting of multipart the walk descends; deeper parts are skipped. */
#define SIEVE_MIME_DEPTH_MAX 8

/* sieve_mime_walk - call fn for each leaf part of msg's body; returns what
 * fn returned to stop, 0 at the end, -1 out of memory. */
int sieve_mime_walk(const struct sieve_message *msg, sieve_mime_part_fn fn, void *ctx);

#endif
