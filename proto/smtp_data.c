/* proto/smtp_data.c - see smtp_data.h. */
#include "config.h"

#include "proto/smtp_data.h"

#include "lib/header.h"

#include <string.h>
#include <strings.h>

char *smtp_data_date_field(time_t when)
{
    struct tm tm;
    char date[64];
    /* RFC 5322 3.3 date-time; the names are the C locale's English ones,
     * which the daemon never changes (no setlocale). */
    if (localtime_r(&when, &tm) == NULL ||
        strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S %z", &tm) == 0)
        return NULL;
    struct header_field f;
    header_field_begin(&f, "Date");
    header_field_word(&f, date);
    return header_field_end(&f, NULL);
}

char *smtp_data_message_id_field(const char *id_left, const char *hostname)
{
    struct header_field f;
    header_field_begin(&f, "Message-ID");
    header_field_wordf(&f, "<%s@%s>", id_left, hostname);
    return header_field_end(&f, NULL);
}

void smtp_data_init(struct smtp_data *d, uint64_t max_size, size_t text_line_max,
                    const struct smtp_data_fixups *fixups, smtp_data_write_fn *write, void *ctx)
{
    memset(d, 0, sizeof *d);
    d->text_line_max = text_line_max;
    d->write = write;
    d->ctx = ctx;
    d->max_size = max_size;
    if (fixups != NULL)
        d->fixups = *fixups;
    d->verdict = SMTP_DATA_OK;
    d->prev_crlf = true;
    d->in_header = true;
    content_policy_init(&d->content, NULL);
}

void smtp_data_content_limits(struct smtp_data *d, const struct content_limits *limits)
{
    content_policy_init(&d->content, limits);
}

/* from_content - the reader's verdict for the content policy's. */
static enum smtp_data_verdict from_content(enum content_verdict v)
{
    switch (v) {
    case CONTENT_OK:
        return SMTP_DATA_OK;
    case CONTENT_NUL:
        return SMTP_DATA_NUL;
    case CONTENT_BARE_EOL:
        return SMTP_DATA_BARE_EOL;
    case CONTENT_HEADER_TOO_BIG:
        return SMTP_DATA_HEADER_TOO_BIG;
    case CONTENT_TOO_MANY_HEADERS:
        return SMTP_DATA_TOO_MANY_HEADERS;
    case CONTENT_WRITE_FAILED:
        break;
    }
    return SMTP_DATA_WRITE_FAILED;
}

/* count - add len octets to the size; false when that is over the limit. */
static bool count(struct smtp_data *d, size_t len)
{
    if (d->size + len < d->size || d->size + len > d->max_size) {
        if (d->verdict == SMTP_DATA_OK)
            d->verdict = SMTP_DATA_TOO_BIG;
        d->size = d->max_size + 1;
        return false;
    }
    d->size += len;
    return true;
}

/* put - pass len client octets already counted through the content policy
 * to the writer, unless the message is refused. */
static void put(struct smtp_data *d, const void *data, size_t len)
{
    if (d->verdict != SMTP_DATA_OK || len == 0)
        return;
    d->verdict = from_content(content_policy_feed(&d->content, data, len, d->write, d->ctx));
}

/* emit - count and write len bytes unless the message is already refused. */
static void emit(struct smtp_data *d, const void *data, size_t len)
{
    if (count(d, len))
        put(d, data, len);
}

/* emit_fixup - an added field: written, not counted against the client's size. */
static void emit_fixup(struct smtp_data *d, const char *field)
{
    if (field == NULL || d->verdict != SMTP_DATA_OK)
        return;
    if (d->write(d->ctx, field, strlen(field)) < 0)
        d->verdict = SMTP_DATA_WRITE_FAILED;
}

static void emit_missing_fixups(struct smtp_data *d)
{
    if (!d->seen_date)
        emit_fixup(d, d->fixups.date);
    if (!d->seen_msgid)
        emit_fixup(d, d->fixups.message_id);
    d->seen_date = d->seen_msgid = true;
}

/* field_is - the line starts the header field name (RFC 5322 2.2; obsolete
 * syntax allows white space before the colon, 4.5). */
static bool field_is(const char *data, size_t len, const char *name)
{
    size_t n = strlen(name);
    if (len < n + 1 || strncasecmp(data, name, n) != 0)
        return false;
    size_t i = n;
    while (i < len && (data[i] == ' ' || data[i] == '\t'))
        i++;
    return i < len && data[i] == ':';
}

/* scan_header - follow the header section to know which fields it has, and
 * add the missing ones just before the empty line that ends it. */
static void scan_header(struct smtp_data *d, const char *data, size_t len)
{
    if (!d->in_header)
        return;
    if (len == 0) {
        d->in_header = false;
        emit_missing_fixups(d);
        return;
    }
    if (data[0] == ' ' || data[0] == '\t')
        return; /* a folded continuation of the field above */
    if (field_is(data, len, "Date"))
        d->seen_date = true;
    else if (field_is(data, len, "Message-ID"))
        d->seen_msgid = true;
    else if (memchr(data, ':', len) == NULL) {
        /* Not a field: the body starts without an empty line; RFC 5322
         * requires one, so put the fields (and that line) before it. */
        d->in_header = false;
        emit_missing_fixups(d);
        emit_fixup(d, (d->fixups.date != NULL || d->fixups.message_id != NULL) ? "\r\n" : NULL);
    }
}

bool smtp_data_line(struct smtp_data *d, const char *data, size_t len, bool bare_lf, bool bare_cr)
{
    if (d->done)
        return true;
    bool crlf = !bare_lf;
    /* RFC 5321 4.1.1.4: the end is CRLF "." CRLF exactly. */
    if (len == 1 && data[0] == '.' && crlf && d->prev_crlf) {
        d->done = true;
        return true;
    }
    d->prev_crlf = crlf;
    if (bare_lf || bare_cr) {
        if (d->verdict == SMTP_DATA_OK)
            d->verdict = SMTP_DATA_BARE_EOL;
        return false;
    }
    if (len + 2 > d->text_line_max && d->verdict == SMTP_DATA_OK)
        d->verdict = SMTP_DATA_LINE_TOO_LONG;
    /* RFC 5321 4.5.2: drop the first of a line's leading dots. */
    if (len > 0 && data[0] == '.') {
        data++;
        len--;
    }
    if (d->verdict == SMTP_DATA_OK)
        scan_header(d, data, len);
    emit(d, data, len);
    emit(d, "\r\n", 2);
    return false;
}

void smtp_data_line_too_long(struct smtp_data *d)
{
    if (d->verdict == SMTP_DATA_OK)
        d->verdict = SMTP_DATA_LINE_TOO_LONG;
    d->prev_crlf = false;
}

/* hold_flush - a held header line is complete (or too long to hold): let
 * scan_header see it without its line ending, then write it as it came. */
static void hold_flush(struct smtp_data *d)
{
    size_t len = d->hold_len;
    if (len > 0 && d->hold[len - 1] == '\n') {
        len--;
        if (len > 0 && d->hold[len - 1] == '\r')
            len--;
    }
    if (d->verdict == SMTP_DATA_OK)
        scan_header(d, d->hold, len);
    put(d, d->hold, d->hold_len);
    d->hold_len = 0;
}

void smtp_data_chunk(struct smtp_data *d, const char *data, size_t len, bool last)
{
    if (d->done)
        return;
    if (!count(d, len))
        len = 0;
    while (len > 0) {
        if (!d->in_header || d->verdict != SMTP_DATA_OK) {
            put(d, data, len);
            break;
        }
        const char *lf = memchr(data, '\n', len);
        size_t line = lf != NULL ? (size_t)(lf - data) + 1 : len;
        if (d->chunk_mid_line) {
            /* the rest of a line too long to hold: written through */
            put(d, data, line);
            d->chunk_mid_line = lf == NULL;
        } else {
            size_t room = sizeof d->hold - d->hold_len;
            size_t take = line < room ? line : room;
            memcpy(d->hold + d->hold_len, data, take);
            d->hold_len += take;
            if (take < line || (lf == NULL && d->hold_len == sizeof d->hold)) {
                /* Longer than any header line may be (RFC 5322 2.1.1): decide
                 * on its start, write it, and pass the rest through. */
                hold_flush(d);
                put(d, data + take, line - take);
                d->chunk_mid_line = lf == NULL;
            } else if (lf != NULL) {
                hold_flush(d);
            }
        }
        data += line;
        len -= line;
    }
    if (last) {
        d->done = true;
        if (d->hold_len > 0 && d->verdict == SMTP_DATA_OK) {
            /* The message ends in a header line without its line ending:
             * the fields go before it, at the last line boundary, unless
             * it continues the field above (then finish adds none). */
            if (d->hold[0] != ' ' && d->hold[0] != '\t')
                emit_missing_fixups(d);
            else
                d->seen_date = d->seen_msgid = true;
            d->in_header = false;
        }
        put(d, d->hold, d->hold_len);
        d->hold_len = 0;
    }
}

enum smtp_data_verdict smtp_data_finish(struct smtp_data *d)
{
    if (d->verdict == SMTP_DATA_OK)
        d->verdict = from_content(content_policy_end(&d->content));
    if (d->verdict == SMTP_DATA_OK && d->in_header) {
        /* The message ended inside its header section (RFC 5322 allows a
         * message without a body): the fields go at its end. */
        d->in_header = false;
        emit_missing_fixups(d);
    }
    return d->verdict;
}

const char *smtp_data_verdict_name(enum smtp_data_verdict verdict)
{
    switch (verdict) {
    case SMTP_DATA_OK:
        return "ok";
    case SMTP_DATA_BARE_EOL:
        return "bare-eol";
    case SMTP_DATA_TOO_BIG:
        return "too-big";
    case SMTP_DATA_LINE_TOO_LONG:
        return "line-too-long";
    case SMTP_DATA_WRITE_FAILED:
        return "write-failed";
    case SMTP_DATA_NUL:
        return "nul";
    case SMTP_DATA_HEADER_TOO_BIG:
        return "header-too-big";
    case SMTP_DATA_TOO_MANY_HEADERS:
        return "too-many-headers";
    }
    return "unknown";
}
