/* reader/imap_bodystructure.c - BODY and BODYSTRUCTURE (RFC 3501 7.4.2,
 * RFC 9051 7.5.2) from lib/mime's tree; ENVELOPE is imap_envelope.c's. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "reader/imap_bodystructure.h"

int imap_nstring_write(struct buf *out, const char *s)
{
    if (s == NULL)
        return buf_append(out, "NIL", 3);
    size_t len = strlen(s);
    bool literal = false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\r' || c == '\n' || c >= 0x80)
            literal = true;
    }
    if (literal) {
        /* RFC 3501 4.3: 8-bit text only in a literal */
        if (buf_printf(out, "{%zu}\r\n", len) < 0)
            return -1;
        return buf_append(out, s, len);
    }
    if (buf_append(out, "\"", 1) < 0)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if ((s[i] == '"' || s[i] == '\\') && buf_append(out, "\\", 1) < 0)
            return -1;
        if (buf_append(out, s + i, 1) < 0)
            return -1;
    }
    return buf_append(out, "\"", 1);
}

/* attribute_char - RFC 2231 7: may stand unescaped in an extended value. */
static bool attribute_char(unsigned char c)
{
    return c > 0x20 && c < 0x7f && strchr("*'%()<>@,;:\\\"/[]?=", c) == NULL;
}

/* param_write - one parameter: as GMime decoded it (RFC 2231 continuations
 * joined, charsets converted) when the value is ASCII, which RFC 9051
 * 7.5.2 asks servers to do; else, since an IMAP4rev1 string has no
 * charset, in RFC 2231's own form name*=utf-8''%XX, which clients decode. */
static int param_write(struct buf *out, const struct mime_param *p)
{
    bool ascii = true;
    for (const char *c = p->value; *c != '\0'; c++)
        ascii = ascii && (unsigned char)*c < 0x80;
    if (ascii) {
        int r = imap_nstring_write(out, p->name);
        r |= buf_append(out, " ", 1);
        return r | imap_nstring_write(out, p->value);
    }
    struct buf name = BUF_INIT, value = BUF_INIT;
    int r = buf_printf(&name, "%s*", p->name) | buf_append(&value, "utf-8''", 7);
    for (const unsigned char *c = (const unsigned char *)p->value; *c != '\0'; c++)
        r |= attribute_char(*c) ? buf_append(&value, c, 1) : buf_printf(&value, "%%%02X", *c);
    r |= buf_append(&name, "", 1) | buf_append(&value, "", 1);
    if (r == 0) {
        r |= imap_nstring_write(out, buf_ptr(&name));
        r |= buf_append(out, " ", 1);
        r |= imap_nstring_write(out, buf_ptr(&value));
    }
    buf_release(&name);
    buf_release(&value);
    return r;
}

static const char *find_param(const struct mime_params *ps, const char *name)
{
    for (size_t i = 0; i < ps->count; i++)
        if (strcasecmp(ps->list[i].name, name) == 0)
            return ps->list[i].value;
    return NULL;
}

static int params_write(struct buf *out, const struct mime_params *ps, bool default_charset)
{
    if (ps->count == 0 && !default_charset)
        return buf_append(out, "NIL", 3);
    int r = buf_append(out, "(", 1);
    const char *sep = "";
    if (default_charset) {
        /* RFC 2045 5.2 / RFC 2046 4.1.2: text without a charset is US-ASCII */
        r |= buf_append(out, "\"charset\" \"us-ascii\"", 20);
        sep = " ";
    }
    for (size_t i = 0; i < ps->count; i++) {
        r |= buf_printf(out, "%s", sep);
        r |= param_write(out, &ps->list[i]);
        sep = " ";
    }
    r |= buf_append(out, ")", 1);
    return r;
}

/* language_write - Content-Language (RFC 3282) as a list of strings. */
static int language_write(struct buf *out, const char *value)
{
    if (value == NULL || value[0] == '\0')
        return buf_append(out, "NIL", 3);
    char *copy = strdup(value);
    if (copy == NULL)
        return -1;
    char *tags[32];
    size_t n = 0;
    for (char *save = NULL, *t = strtok_r(copy, ", \t", &save); t != NULL && n < 32;
         t = strtok_r(NULL, ", \t", &save))
        tags[n++] = t;
    /* always the list form, as the servers clients know write it */
    int r = 0;
    if (n == 0)
        r = buf_append(out, "NIL", 3);
    else {
        r |= buf_append(out, "(", 1);
        for (size_t i = 0; i < n; i++) {
            if (i > 0)
                r |= buf_append(out, " ", 1);
            r |= imap_nstring_write(out, tags[i]);
        }
        r |= buf_append(out, ")", 1);
    }
    free(copy);
    return r;
}

/* extension_write - body-ext-1part / body-ext-mpart after the MD5 (or the
 * parameters): disposition, language, location (RFC 3501 7.4.2). */
static int extension_write(struct buf *out, const struct mime_part *p)
{
    int r = buf_append(out, " ", 1);
    if (p->disposition == NULL) {
        r |= buf_append(out, "NIL", 3);
    } else {
        r |= buf_append(out, "(", 1);
        r |= imap_nstring_write(out, p->disposition);
        r |= buf_append(out, " ", 1);
        r |= params_write(out, &p->disposition_params, false);
        r |= buf_append(out, ")", 1);
    }
    r |= buf_append(out, " ", 1);
    r |= language_write(out, p->fields[MIME_F_CONTENT_LANGUAGE]);
    r |= buf_append(out, " ", 1);
    r |= imap_nstring_write(out, p->fields[MIME_F_CONTENT_LOCATION]);
    return r;
}

static uint64_t size_of(const struct mime_part *p)
{
    return p->end.crlf - p->body.crlf;
}

int imap_bodystructure_write(struct buf *out, const struct mime_message *msg, int idx,
                             bool extended)
{
    const struct mime_part *p = &msg->parts[idx];
    int r = buf_append(out, "(", 1);
    if (p->kind == MIME_MULTIPART) {
        for (int c = p->first_child; c >= 0; c = msg->parts[c].next_sibling)
            r |= imap_bodystructure_write(out, msg, c, extended);
        if (p->first_child < 0)
            /* a multipart without one delimiter: RFC 3501's grammar needs a
             * part, so its body is described as an empty text part */
            r |= buf_printf(out,
                            "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
                            "0 0%s)",
                            extended ? " NIL NIL NIL NIL" : "");
        r |= buf_append(out, " ", 1);
        r |= imap_nstring_write(out, p->subtype);
        if (extended) {
            r |= buf_append(out, " ", 1);
            r |= params_write(out, &p->params, false);
            r |= extension_write(out, p);
        }
        return r | buf_append(out, ")", 1);
    }
    bool no_charset = mime_part_is(p, "text", NULL) && find_param(&p->params, "charset") == NULL;
    r |= imap_nstring_write(out, p->type);
    r |= buf_append(out, " ", 1);
    r |= imap_nstring_write(out, p->subtype);
    r |= buf_append(out, " ", 1);
    r |= params_write(out, &p->params, no_charset);
    r |= buf_append(out, " ", 1);
    r |= imap_nstring_write(out, p->fields[MIME_F_CONTENT_ID]);
    r |= buf_append(out, " ", 1);
    r |= imap_nstring_write(out, p->fields[MIME_F_CONTENT_DESCRIPTION]);
    r |= buf_append(out, " ", 1);
    const char *enc = p->fields[MIME_F_CONTENT_ENCODING];
    r |= imap_nstring_write(out, enc != NULL && enc[0] != '\0' ? enc : "7bit");
    r |= buf_printf(out, " %llu", (unsigned long long)size_of(p));
    if (p->kind == MIME_MESSAGE && p->first_child >= 0) {
        /* RFC 3501 7.4.2: message/rfc822 adds the envelope, the body of
         * the message inside and its lines */
        r |= buf_append(out, " ", 1);
        r |= imap_envelope_write(out, &msg->parts[p->first_child]);
        r |= buf_append(out, " ", 1);
        r |= imap_bodystructure_write(out, msg, p->first_child, extended);
        r |= buf_printf(out, " %llu", (unsigned long long)p->body_lines);
    } else if (mime_part_is(p, "text", NULL)) {
        r |= buf_printf(out, " %llu", (unsigned long long)p->body_lines);
    }
    if (extended) {
        r |= buf_append(out, " ", 1);
        r |= imap_nstring_write(out, p->fields[MIME_F_CONTENT_MD5]);
        r |= extension_write(out, p);
    }
    return r | buf_append(out, ")", 1);
}
