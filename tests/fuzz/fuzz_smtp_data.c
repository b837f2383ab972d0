/* tests/fuzz/fuzz_smtp_data.c - libFuzzer harness for the DATA reader
 * (proto/smtp_data.c). The input is split into lines the way lib/conn
 * does; invariants: the writer never sees a bare CR or LF (every LF written
 * follows a CR), never more than the size limit, and a message whose verdict
 * is OK never had a bare line ending before its end. The first byte picks
 * the size limit and whether fixups are on. */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/smtp_data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct sink {
    uint64_t written;
    bool last_cr;
};

static int sink_write(void *ctx, const void *data, size_t len)
{
    struct sink *s = ctx;
    const char *p = data;
    for (size_t i = 0; i < len; i++) {
        if (p[i] == '\n' && !s->last_cr)
            abort();
        if (s->last_cr && p[i] != '\n')
            abort();
        s->last_cr = p[i] == '\r';
    }
    s->written += len;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint64_t max = (uint64_t)(data[0] & 0x7f) * 16;
    static const struct smtp_data_fixups fix = {"Date: x\r\n", "Message-ID: <a@b>\r\n"};
    struct sink sink = {0, false};
    struct smtp_data d;
    smtp_data_init(&d, max, 80, (data[0] & 0x80) ? &fix : NULL, sink_write, &sink);
    const char *in = (const char *)data + 1;
    size_t n = size - 1, start = 0;
    bool ended = false, bad = false;
    for (size_t i = 0; i < n && !ended; i++) {
        if (in[i] != '\n')
            continue;
        size_t end = i;
        bool bare_lf = !(end > start && in[end - 1] == '\r');
        if (!bare_lf)
            end--;
        bool bare_cr = memchr(in + start, '\r', end - start) != NULL;
        if (bare_lf || bare_cr)
            bad = true;
        ended = smtp_data_line(&d, in + start, end - start, bare_lf, bare_cr);
        start = i + 1;
    }
    enum smtp_data_verdict v = smtp_data_finish(&d);
    if (ended && v == SMTP_DATA_OK && bad)
        abort();
    if (d.size <= max && v == SMTP_DATA_TOO_BIG)
        abort();
    /* fixups add at most their own length on top of the counted size */
    if (sink.written > max + 64)
        abort();
    return 0;
}
