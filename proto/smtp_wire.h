/* proto/smtp_wire.h - the connection side that the SMTP and LMTP sessions
 * share: a reply formatted with its enhanced code and queued; the message
 * as the session reads it: DATA's lines under their own limit with the
 * transfer deadline (lib/conn.h) from the 354 to the dot, a BDAT chunk's
 * octets counted down (RFC 3030 2: read even when the chunk is refused, so
 * that they are never taken for commands), the end with the reader's
 * verdict (proto/smtp_data.h). Where the octets go and which reply is
 * given are the session's. */
#ifndef DIRMAIL_PROTO_SMTP_WIRE_H
#define DIRMAIL_PROTO_SMTP_WIRE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/line_session.h"
#include "proto/smtp_data.h"
#include "proto/smtp_reply.h"

/* smtp_wire_reply - queue the reply code esc with fmt's text (its lines
 * split at \n) on ls's connection; a reply that cannot be formatted goes
 * out as 451 4.3.0. client_error: the protocol counts it toward
 * limits.errors (ls->errors). */
void smtp_wire_reply(struct line_session *ls, bool client_error, int code, enum smtp_esc esc,
                     const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));

/* The line reader's limit while DATA is read: far above the text line
 * limit, so that a long line is still seen whole, with how it ended. */
#define SMTP_WIRE_DATA_LINE_LIMIT 65536

/* smtp_wire_data_begin - the 354 is queued: DATA lines from now on. */
void smtp_wire_data_begin(struct line_session *ls);

/* smtp_wire_bdat_read - read what is left of a chunk (*left octets)
 * into data, or drop it when discard. True when the chunk is complete (its
 * transfer deadline ended); false while more is awaited or when the
 * connection failed (the session is ending). */
bool smtp_wire_bdat_read(struct line_session *ls, uint64_t *left, struct smtp_data *data,
                         bool discard);

/* smtp_wire_finish - the message is complete: command lines again
 * (under line_limit), the transfer ended, and the reader's verdict. */
enum smtp_data_verdict smtp_wire_finish(struct line_session *ls, size_t line_limit,
                                        struct smtp_data *data);

#endif
