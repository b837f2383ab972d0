/* tests/fuzz/fuzz_conn_read_line.c - libFuzzer harness for lib/conn's line
 * reader (conn_read_line), which every protocol's network bytes go through.
 * The input's first two bytes pick the line limit (1..512), the third the
 * size of the pieces the rest is written in to one end of a socketpair; the
 * other end is read with conn_read_line after each piece, and at the end
 * after the writer shut down. Invariant: what the reader returns is exactly
 * what a plain model of conn.h's contract gives for the whole stream,
 * whatever the pieces: each LF-terminated line of at most limit bytes
 * (ending included) is one CONN_OK line, without its LF and the CR before it,
 * its flags telling the truth; a longer line is one CONN_TOO_LONG; bytes
 * after the last LF are no line (one CONN_TOO_LONG if limit or more of
 * them), then CONN_EOF. */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/conn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One expected result of the model. */
struct expect {
    enum conn_result result; /* CONN_OK or CONN_TOO_LONG */
    size_t start, len;       /* CONN_OK: the line's data in the input */
};

/* model - what conn_read_line must return for in[0..n) with limit. */
static size_t model(const char *in, size_t n, size_t limit, struct expect *out)
{
    size_t count = 0, start = 0;

    for (size_t i = 0; i < n; i++) {
        if (in[i] != '\n')
            continue;
        size_t total = i - start + 1;
        if (total > limit) {
            out[count++] = (struct expect){CONN_TOO_LONG, 0, 0};
        } else {
            size_t len = total - 1;
            if (len > 0 && in[start + len - 1] == '\r')
                len--;
            out[count++] = (struct expect){CONN_OK, start, len};
        }
        start = i + 1;
    }
    if (n - start >= limit)
        out[count++] = (struct expect){CONN_TOO_LONG, 0, 0};
    return count;
}

/* check_line - the line returned against the model's. */
static void check_line(const struct conn_line *line, const char *in, const struct expect *e,
                       size_t limit)
{
    if (line->len != e->len || memcmp(line->data, in + e->start, e->len) != 0)
        abort();
    if (line->len + 1 > limit || line->data[line->len] != '\0')
        abort();
    bool crlf = in[e->start + e->len] == '\r';
    if (line->bare_lf != !crlf)
        abort();
    if (line->bare_cr != (memchr(line->data, '\r', line->len) != NULL))
        abort();
    if (line->has_nul != (memchr(line->data, '\0', line->len) != NULL))
        abort();
}

/* drain - read lines until CONN_AGAIN (or the end); each must be the next
 * expected one. Returns the last result. */
static enum conn_result drain(struct conn *conn, const char *in, const struct expect *want,
                              size_t nwant, size_t *next, size_t limit)
{
    for (;;) {
        struct conn_line line;
        enum conn_result r = conn_read_line(conn, &line);
        if (r == CONN_AGAIN || r == CONN_EOF || r == CONN_ERROR)
            return r;
        if (*next >= nwant || want[*next].result != r)
            abort();
        if (r == CONN_OK)
            check_line(&line, in, &want[*next], limit);
        (*next)++;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    size_t limit = 1 + (((size_t)data[0] | (size_t)data[1] << 8) % 512);
    size_t piece = 1 + data[2] % 97;
    const char *in = (const char *)data + 3;
    size_t n = size - 3, next = 0;
    struct expect *want = malloc((n + 1) * sizeof *want);
    int sv[2];

    if (want == NULL)
        return 0;
    size_t nwant = model(in, n, limit, want);
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        abort();
    struct conn *conn = conn_new(sv[0], limit);
    if (conn == NULL)
        abort();
    for (size_t off = 0; off < n; off += piece) {
        size_t len = n - off < piece ? n - off : piece;
        /* the socket buffer holds far more than -max_len: never blocks */
        if (write(sv[1], in + off, len) != (ssize_t)len)
            abort();
        if (drain(conn, in, want, nwant, &next, limit) != CONN_AGAIN)
            abort();
    }
    shutdown(sv[1], SHUT_WR);
    if (drain(conn, in, want, nwant, &next, limit) != CONN_EOF)
        abort();
    if (next != nwant)
        abort();
    /* EOF stays EOF */
    {
        struct conn_line line;
        if (conn_read_line(conn, &line) != CONN_EOF)
            abort();
    }
    conn_free(&conn);
    close(sv[1]);
    free(want);
    return 0;
}
