/* proto/smtp_data.h - the message text of one SMTP transaction: DATA lines
 * (RFC 5321 4.1.1.4, 4.5.2) with dot-unstuffing and the one exact end
 * <CRLF>.<CRLF>, BDAT chunks (RFC 3030), the size and text-line limits, and
 * on submission the Date and Message-ID fields added when missing (RFC 6409
 * 8). A pure state machine over lines and bytes: it owns no socket and no
 * file, and hands every message byte to the caller's writer.
 *
 * Smuggling rule (the 2023 SMTP smuggling class): a line that ended in a bare
 * LF, or that holds a bare CR, poisons the message. It is never an end of
 * data, nor is a "." line after it: the end is only "." ended by CRLF whose
 * preceding line also ended by CRLF. The rest of the message is read and
 * dropped up to that real end, and the verdict is SMTP_DATA_BARE_EOL
 * (550 5.6.0): the message is refused whole, never split or normalised.
 *
 * Every client octet, DATA or BDAT, goes through one content_policy (NULs,
 * bare CR/LF, header limits) before the writer sees it, so both commands
 * refuse the same messages; BDAT's bare CR/LF are found there only. */
#ifndef DIRMAIL_SMTP_DATA_H
#define DIRMAIL_SMTP_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "proto/content_policy.h"

/* smtp_data_write_fn - append len message bytes; 0, or -1 (then the
 * transaction's verdict is SMTP_DATA_WRITE_FAILED and nothing more is written). */
typedef int smtp_data_write_fn(void *ctx, const void *data, size_t len);

enum smtp_data_verdict {
    SMTP_DATA_OK,
    SMTP_DATA_BARE_EOL,         /* bare CR or bare LF: 550 5.6.0 */
    SMTP_DATA_TOO_BIG,          /* over max_size: 552 5.3.4 */
    SMTP_DATA_LINE_TOO_LONG,    /* a text line over the limit (RFC 5321 4.5.3.1.6): 500 5.5.2 */
    SMTP_DATA_WRITE_FAILED,     /* the writer failed: 451 4.3.0 */
    SMTP_DATA_NUL,              /* a NUL octet, limits.message_nul = reject: 550 5.6.0 */
    SMTP_DATA_HEADER_TOO_BIG,   /* header section over limits.header_max_size: 552 5.3.4 */
    SMTP_DATA_TOO_MANY_HEADERS, /* over limits.header_max_count fields: 550 5.6.0 */
};

/* Header fields to add when the message lacks them (submission); each a
 * complete field "Date: ...\r\n", or NULL for none. Copied pointers: they
 * must live as long as the reader. */
struct smtp_data_fixups {
    const char *date;
    const char *message_id;
};

/* smtp_data_date_field - the Date field for when, local time (RFC 5322
 * 3.3, 3.6.1; RFC 6409 8.3), "Date: Thu, 01 Jan 1970 00:00:00 +0000\r\n",
 * malloc'd for the caller to free; NULL when the time cannot be shown or
 * memory ran out. */
char *smtp_data_date_field(time_t when);

/* smtp_data_message_id_field - "Message-ID: <id_left@hostname>\r\n" (RFC
 * 5322 3.6.4; RFC 6409 8.2), malloc'd for the caller to free. The msg-id is
 * one word, never folded inside, so with a long host name (up to the 253
 * octets the configuration allows) the line passes 78 but never 998. NULL
 * when it would not fit a line, a value holds a control octet, or memory
 * ran out. */
char *smtp_data_message_id_field(const char *id_left, const char *hostname);

/* BDAT: the start of a header line is held until the line is complete (or
 * this long) so that the fixups go in at a line boundary; nothing else of a
 * BDAT message is ever buffered. RFC 5322 2.1.1: a line is at most 998. */
#define SMTP_DATA_HOLD_MAX 1000

struct smtp_data {
    smtp_data_write_fn *write;
    void *ctx;
    uint64_t max_size;
    size_t text_line_max;
    uint64_t size; /* message bytes counted (what was written, or would have been) */
    struct smtp_data_fixups fixups;
    enum smtp_data_verdict verdict;
    bool prev_crlf;   /* the previous line ended with CRLF (true at the start) */
    bool in_header;   /* still in the header section (RFC 5322 2.1) */
    bool header_line; /* the previous line was a header field (for folding) */
    bool seen_date;   /* a Date: field was seen */
    bool seen_msgid;  /* a Message-ID: field was seen */
    bool done;        /* the end was seen (DATA) or the LAST chunk taken (BDAT) */

    struct content_policy content; /* sees every client octet before the writer */
    /* BDAT only: the header line being assembled, and whether the line in
     * progress is past the hold (written as it comes, scanned no further). */
    bool chunk_mid_line;
    size_t hold_len;
    char hold[SMTP_DATA_HOLD_MAX];
};

/* smtp_data_init - a reader for one message (DATA or BDAT). text_line_max
 * counts a DATA line with its CRLF (RFC 5321 4.5.3.1.6: 1000); the line
 * reader's own limit should be well above it, so that a long line is still
 * seen whole with its ending (smtp_data_line_too_long is the fallback for
 * lines even the reader refused). fixups may be NULL. Writes nothing yet. */
void smtp_data_init(struct smtp_data *d, uint64_t max_size, size_t text_line_max,
                    const struct smtp_data_fixups *fixups, smtp_data_write_fn *write, void *ctx);

/* smtp_data_content_limits - the content policy for this message (NULs and
 * header limits); without it, content_policy_init's defaults. Call before
 * the first line or chunk. */
void smtp_data_content_limits(struct smtp_data *d, const struct content_limits *limits);

/* smtp_data_line - one line of DATA text as the line reader gave it:
 * data[0..len) without its ending, bare_lf when it ended in LF alone, bare_cr
 * when data holds a CR. Returns true when this line was the end of data
 * (then read the verdict); false to read on. */
bool smtp_data_line(struct smtp_data *d, const char *data, size_t len, bool bare_lf, bool bare_cr);

/* smtp_data_line_too_long - the line reader dropped a line longer than even
 * its own limit, up to an LF whose CR it did not report: the verdict becomes
 * LINE_TOO_LONG and, since that LF may have been bare, the "." line right
 * after it is not an end (the smuggling rule); the client's next CRLF.CRLF is. */
void smtp_data_line_too_long(struct smtp_data *d);

/* smtp_data_chunk - BDAT octets, taken as they are (RFC 3030 2: no
 * dot-stuffing) but held to the same content policy as DATA, across chunk
 * boundaries: a bare CR or LF refuses the message. last says this is
 * the end of the LAST chunk. The size counts every octet on arrival; while the
 * header section lasts, each line (LF-ended, whatever precedes the LF) is
 * written once complete, so that the fixups land before the empty line that
 * ends the section, exactly as for DATA, whatever the chunk boundaries. */
void smtp_data_chunk(struct smtp_data *d, const char *data, size_t len, bool last);

/* smtp_data_finish - after the end: append the fixups still missing when the
 * message ended inside its header section. Then the verdict is final. */
enum smtp_data_verdict smtp_data_finish(struct smtp_data *d);

/* smtp_data_verdict_name - "ok", "bare-eol", ... for logs. */
const char *smtp_data_verdict_name(enum smtp_data_verdict verdict);

#endif
