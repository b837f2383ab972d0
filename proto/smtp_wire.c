/* proto/smtp_wire.c - see smtp_wire.h. */
#include "config.h"

#include "proto/smtp_wire.h"

#include <stdio.h>

/* One read of a BDAT chunk. */
#define BDAT_READ_MAX 65536

void smtp_wire_data_begin(struct line_session *ls)
{
    conn_set_line_limit(ls->conn, SMTP_WIRE_DATA_LINE_LIMIT);
    /* from the 354 to the dot: data_timeout with its minimum rate, not the
     * per-line idle deadline (a long message is many lines) */
    conn_transfer_begin(ls->conn);
}

bool smtp_wire_bdat_read(struct line_session *ls, uint64_t *left, struct smtp_data *data,
                         bool discard)
{
    while (*left > 0) {
        const char *bytes;
        size_t len;
        size_t want = *left > BDAT_READ_MAX ? BDAT_READ_MAX : (size_t)*left;
        enum conn_result r = conn_read_bytes(ls->conn, want, &bytes, &len);
        if (r == CONN_AGAIN)
            return false;
        if (r != CONN_OK) {
            line_session_end(ls);
            return false;
        }
        *left -= len;
        if (!discard)
            smtp_data_chunk(data, bytes, len, false);
    }
    conn_transfer_end(ls->conn);
    return true;
}

enum smtp_data_verdict smtp_wire_finish(struct line_session *ls, size_t line_limit,
                                        struct smtp_data *data)
{
    conn_set_line_limit(ls->conn, line_limit);
    conn_transfer_end(ls->conn);
    return smtp_data_finish(data);
}

void smtp_wire_reply(struct line_session *ls, bool client_error, int code, enum smtp_esc esc,
                     const char *fmt, va_list ap)
{
    char text[SMTP_REPLY_LINE_MAX * 16];
    char out[sizeof text + 256];
    int n = vsnprintf(text, sizeof text, fmt, ap);
    if (n < 0 || (size_t)n >= sizeof text ||
        (n = smtp_reply_format(out, sizeof out, code, esc, text)) < 0)
        n = smtp_reply_format(out, sizeof out, 451, SMTP_ESC_SYSTEM_OTHER, "Internal error");
    conn_write(ls->conn, out, (size_t)n);
    if (client_error)
        ls->errors++;
}
