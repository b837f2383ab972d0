/* lib/header.c - see header.h. */
#include "config.h"

#include "lib/header.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* printable - no control octet: nothing that could end a line (RFC 5322
 * 2.2: a field body holds no CR or LF but as folding) or hide in one. */
static bool printable(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return false;
    }
    return true;
}

static void put(struct header_field *f, const char *data, size_t len)
{
    if (!f->failed && buf_append(&f->text, data, len) < 0)
        f->failed = true;
}

void header_field_begin(struct header_field *f, const char *name)
{
    size_t len = strlen(name);
    *f = (struct header_field){.text = BUF_INIT, .line = len + 1};
    /* RFC 5322 2.2: ftext is %d33-57 / %d59-126. */
    bool ok = len > 0 && len < HEADER_LINE_MAX;
    for (size_t i = 0; ok && i < len; i++)
        ok = name[i] >= 33 && name[i] <= 126 && name[i] != ':';
    if (!ok) {
        f->failed = true;
        return;
    }
    put(f, name, len);
    put(f, ":", 1);
}

void header_field_word(struct header_field *f, const char *word)
{
    if (f->failed)
        return;
    size_t len = strlen(word);
    if (len == 0 || !printable(word, len)) {
        f->failed = true;
        return;
    }
    /* Fold (RFC 5322 3.2.2: CRLF then WSP, between words) when asked, when
     * it brings this word within the soft limit, or when only folding keeps
     * the line within the hard one. */
    bool fold = false;
    if (f->has_word) {
        bool past_soft = f->line + 1 + len > HEADER_LINE_SOFT;
        bool past_max = f->line + 1 + len > HEADER_LINE_MAX;
        fold = f->fold_next || (past_soft && 1 + len <= HEADER_LINE_SOFT) || past_max;
    } else if (f->line + 1 + len > HEADER_LINE_MAX) {
        fold = true; /* the name's line: only when it would not fit at all */
    }
    if (fold) {
        put(f, "\r\n\t", 3);
        f->line = 1;
    } else {
        put(f, " ", 1);
        f->line++;
    }
    if (f->line + len > HEADER_LINE_MAX) {
        f->failed = true; /* no line can hold it */
        return;
    }
    put(f, word, len);
    f->line += len;
    f->has_word = true;
    f->fold_next = false;
}

void header_field_wordf(struct header_field *f, const char *fmt, ...)
{
    if (f->failed)
        return;
    va_list ap;
    va_start(ap, fmt);
    char *word = NULL;
    int n = vasprintf(&word, fmt, ap);
    va_end(ap);
    if (n < 0) {
        f->failed = true;
        return;
    }
    header_field_word(f, word);
    free(word);
}

void header_field_glue(struct header_field *f, const char *text)
{
    if (f->failed)
        return;
    size_t len = strlen(text);
    if (!printable(text, len) || f->line + len > HEADER_LINE_MAX) {
        f->failed = true;
        return;
    }
    put(f, text, len);
    f->line += len;
}

void header_field_break(struct header_field *f)
{
    f->fold_next = true;
}

char *header_field_end(struct header_field *f, size_t *len_r)
{
    char *out = NULL;
    put(f, "\r\n", 2);
    if (!f->failed) {
        size_t len = buf_len(&f->text);
        out = malloc(len + 1);
        if (out != NULL) {
            memcpy(out, buf_ptr(&f->text), len);
            out[len] = '\0';
            if (len_r != NULL)
                *len_r = len;
        }
    }
    buf_release(&f->text);
    *f = (struct header_field){.text = BUF_INIT};
    return out;
}
