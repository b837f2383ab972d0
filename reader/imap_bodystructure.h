/* reader/imap_bodystructure.h - the IMAP descriptions of a parsed message
 * (RFC 3501 7.4.2, RFC 9051 7.5.2): ENVELOPE, BODY and BODYSTRUCTURE with
 * its extension data, written as IMAP text from lib/mime's tree. It reads
 * no file and knows nothing of sessions: imap_mime_cache keeps the result. */
#ifndef DIRMAIL_READER_IMAP_BODYSTRUCTURE_H
#define DIRMAIL_READER_IMAP_BODYSTRUCTURE_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"
#include "lib/mime.h"

/* imap_envelope_write - the ENVELOPE of the message whose header part is
 * (the root, or the child of a message/rfc822 part) into out. -1 out of
 * memory. */
int imap_envelope_write(struct buf *out, const struct mime_part *part);

/* imap_bodystructure_write - part idx of msg as BODYSTRUCTURE (extended:
 * with extension data) or BODY (not extended) into out. -1 out of memory. */
int imap_bodystructure_write(struct buf *out, const struct mime_message *msg, int idx,
                             bool extended);

/* imap_nstring_write - s as an IMAP nstring: NIL, a quoted string, or a
 * literal when it holds CR, LF, NUL or 8-bit octets (RFC 3501 4.3). */
int imap_nstring_write(struct buf *out, const char *s);

#endif
