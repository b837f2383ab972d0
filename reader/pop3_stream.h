/* reader/pop3_stream.h - a message file as a POP3 multi-line response body
 * (RFC 1939 3): line ends made CRLF (Maildir files hold bare LF), a dot
 * doubled at the start of a line, TOP's cut after the header and n body
 * lines, and the CRLF that ends an unterminated last line. Chunk by chunk, so
 * that RETR of a large message never holds it in memory; pure, no I/O. */
#ifndef DIRMAIL_READER_POP3_STREAM_H
#define DIRMAIL_READER_POP3_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pop3_stream {
    bool at_line_start; /* the next octet begins a line */
    bool last_cr;       /* the last octet written was a CR (inside a line) */
    bool line_has_text; /* the current line holds an octet other than CR */
    bool in_body;       /* the empty line after the header was passed */
    bool limited;       /* TOP: only body_lines_left lines of the body */
    bool done;          /* TOP's cut reached: the rest is dropped */
    uint64_t body_lines_left;
};

/* pop3_stream_init - a whole message (RETR), or its header and the first
 * body_lines lines of its body when limited (TOP msg n). */
void pop3_stream_init(struct pop3_stream *st, bool limited, uint64_t body_lines);

/* The most octets pop3_stream_feed writes for len octets in: a bare LF and
 * a leading dot both become two. */
#define POP3_STREAM_OUT_MAX(len) (2 * (len))

/* pop3_stream_feed - convert in[0..len) into out (room for
 * POP3_STREAM_OUT_MAX(len)); returns the octets written. After done, input
 * is ignored. */
size_t pop3_stream_feed(struct pop3_stream *st, const char *in, size_t len, char *out);

/* pop3_stream_finish - the end of the response after the last chunk: a
 * CRLF if the last line had no end, then ".\r\n", into out (room for 5);
 * returns the octets written. */
size_t pop3_stream_finish(struct pop3_stream *st, char *out);

#endif
