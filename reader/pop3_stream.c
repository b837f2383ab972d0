/* reader/pop3_stream.c - see pop3_stream.h. */
#include "config.h"

#include "reader/pop3_stream.h"

#include <string.h>

void pop3_stream_init(struct pop3_stream *st, bool limited, uint64_t body_lines)
{
    memset(st, 0, sizeof *st);
    st->at_line_start = true;
    st->limited = limited;
    st->body_lines_left = body_lines;
    /* TOP msg 0 of a message that is all header still sends all of it */
}

/* line_end - a line ended (its CRLF written): count it for TOP. */
static void line_end(struct pop3_stream *st)
{
    if (!st->in_body) {
        /* RFC 5322 2.1: the first empty line ends the header section */
        if (!st->line_has_text) {
            st->in_body = true;
            if (st->limited && st->body_lines_left == 0)
                st->done = true;
        }
    } else if (st->limited && --st->body_lines_left == 0) {
        st->done = true;
    }
    st->at_line_start = true;
    st->last_cr = false;
    st->line_has_text = false;
}

/* pop3_stream_feed - a line's octets before its LF are copied as one run
 * (memchr finds the LF), so the per-octet work is the library's: RETR's
 * conversion was a fifth of the worker's CPU when it went octet by octet. */
size_t pop3_stream_feed(struct pop3_stream *st, const char *in, size_t len, char *out)
{
    size_t o = 0, i = 0;
    while (i < len && !st->done) {
        const char *lf = memchr(in + i, '\n', len - i);
        size_t run = (lf != NULL ? (size_t)(lf - in) : len) - i;
        if (run > 0) {
            /* RFC 1939 3: a line that begins with "." gets another in front */
            if (st->at_line_start && in[i] == '.')
                out[o++] = '.';
            memcpy(out + o, in + i, run);
            o += run;
            /* a line of CRs alone is empty (TOP's header end); two octets,
             * or a CR after a CR, or anything but a CR are text */
            if (run >= 2 || in[i] != '\r' || st->last_cr)
                st->line_has_text = true;
            st->last_cr = in[i + run - 1] == '\r';
            st->at_line_start = false;
            i += run;
        }
        if (lf == NULL)
            break;
        /* a CRLF already has its CR out; a bare LF gets one */
        if (!st->last_cr)
            out[o++] = '\r';
        out[o++] = '\n';
        line_end(st);
        i++;
    }
    return o;
}

size_t pop3_stream_finish(struct pop3_stream *st, char *out)
{
    size_t o = 0;
    if (!st->done && !st->at_line_start) {
        if (!st->last_cr)
            out[o++] = '\r';
        out[o++] = '\n';
    }
    memcpy(out + o, ".\r\n", 3);
    return o + 3;
}
