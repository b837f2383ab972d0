/* lib/mime_7bit.h - an 8-bit message made 7-bit for a peer that does not
 * offer 8BITMIME (RFC 6152 section 3, RFC 1652 section 3): every leaf body
 * with 8-bit octets is re-encoded quoted-printable through GMime 3, the
 * rest is left as it is. What cannot be converted that way is refused,
 * never sent half-converted: 8-bit octets in a header field (they would
 * need RFC 2047 words, a change of meaning we do not make), inside a
 * message/ part (RFC 2046 5.2.1 allows it no encoding of its own), in a
 * multipart's preamble or epilogue, or a body that is "binary". Knows no
 * protocol. */
#ifndef DIRMAIL_MIME_7BIT_H
#define DIRMAIL_MIME_7BIT_H

#include <stdint.h>

enum mime_7bit_result {
    MIME_7BIT_CONVERTED, /* out_fd holds the 7-bit message */
    MIME_7BIT_REFUSED,   /* cannot be made 7-bit: *why_r says why */
    MIME_7BIT_ERROR,     /* out of memory, a read or write failed: try again later */
};

/* mime_7bit_convert - the first len octets of in_fd (read with pread: its
 * offset is untouched) as a 7-bit message, written to out_fd from its
 * current offset with CRLF line ends. *why_r is a static text (REFUSED,
 * ERROR). */
enum mime_7bit_result mime_7bit_convert(int in_fd, uint64_t len, int out_fd, const char **why_r);

#endif
