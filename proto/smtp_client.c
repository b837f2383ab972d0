/* proto/smtp_client.c - see smtp_client.h. */
#include "config.h"

#include "proto/smtp_client.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

void smtp_client_reply_reset(struct smtp_client_reply *r)
{
    *r = (struct smtp_client_reply){0};
}

/* append_text - "; "-joined text of the lines, cut to fit. */
static void append_text(struct smtp_client_reply *r, const char *s, size_t len)
{
    size_t have = strlen(r->text);
    if (have > 0 && len > 0 && have + 2 < sizeof r->text) {
        memcpy(r->text + have, "; ", 2);
        have += 2;
    }
    if (len > sizeof r->text - 1 - have)
        len = sizeof r->text - 1 - have;
    memcpy(r->text + have, s, len);
    r->text[have + len] = '\0';
}

/* esc_length - the length of an enhanced status code "C.S.D" at p (RFC
 * 3463 2: class 2, 4 or 5, subject and detail of 1-3 digits), followed by
 * a space or the end; 0 when there is none. */
static size_t esc_length(const char *p, size_t len)
{
    if (len < 5 || (p[0] != '2' && p[0] != '4' && p[0] != '5') || p[1] != '.')
        return 0;
    size_t i = 2;
    for (int part = 0; part < 2; part++) {
        size_t digits = 0;
        while (i < len && isdigit((unsigned char)p[i]) && digits < 4) {
            i++;
            digits++;
        }
        if (digits == 0 || digits > 3)
            return 0;
        if (part == 0) {
            if (i >= len || p[i] != '.')
                return 0;
            i++;
        }
    }
    return i == len || p[i] == ' ' ? i : 0;
}

enum smtp_client_feed smtp_client_reply_feed(struct smtp_client_reply *r, const char *line,
                                             size_t len, const char **text_r)
{
    if (len < 3 || !isdigit((unsigned char)line[0]) || !isdigit((unsigned char)line[1]) ||
        !isdigit((unsigned char)line[2]) || (len > 3 && line[3] != ' ' && line[3] != '-'))
        return SMTP_CLIENT_BAD;
    int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    if (code < 200 || code > 599 || (r->lines > 0 && code != r->code) ||
        r->lines == SMTP_CLIENT_REPLY_LINES_MAX)
        return SMTP_CLIENT_BAD;
    bool last = len == 3 || line[3] == ' ';
    const char *text = len > 4 ? line + 4 : "";
    size_t text_len = len > 4 ? len - 4 : 0;
    if (text_r != NULL)
        *text_r = text;
    /* The code's class must match the reply's (RFC 3463 2): a server that
     * says "250 5.0.0" has no enhanced code we can use. */
    size_t e = esc_length(text, text_len);
    if (e > 0 && text[0] == line[0]) {
        if (r->lines == 0 && e < sizeof r->esc) {
            memcpy(r->esc, text, e);
            r->esc[e] = '\0';
        }
        text += e;
        text_len -= e;
        while (text_len > 0 && *text == ' ') {
            text++;
            text_len--;
        }
    }
    r->code = code;
    r->lines++;
    append_text(r, text, text_len);
    if (last)
        r->complete = true;
    return last ? SMTP_CLIENT_DONE : SMTP_CLIENT_MORE;
}

void smtp_client_reply_describe(const struct smtp_client_reply *r, char *out, size_t size)
{
    if (size == 0)
        return;
    int n = snprintf(out, size, "%d%s%s%s%s", r->code, r->esc[0] != '\0' ? " " : "", r->esc,
                     r->text[0] != '\0' ? " " : "", r->text);
    if (n < 0)
        out[0] = '\0';
    /* a reply's text is the peer's: keep it printable for logs and records */
    for (char *p = out; *p != '\0'; p++) {
        if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f)
            *p = '?';
    }
}

/* keyword - whether text starts with the EHLO keyword kw (case-insensitive,
 * RFC 5321 2.4), followed by the end or a parameter; *params_r after it. */
static bool keyword(const char *text, const char *kw, const char **params_r)
{
    size_t n = strlen(kw);
    if (strncasecmp(text, kw, n) != 0 || (text[n] != '\0' && text[n] != ' '))
        return false;
    const char *p = text + n;
    while (*p == ' ')
        p++;
    if (params_r != NULL)
        *params_r = p;
    return true;
}

void smtp_client_caps_line(struct smtp_client_caps *caps, const char *text, bool first)
{
    const char *params = NULL;
    if (first)
        return; /* the server's name and greeting */
    if (keyword(text, "PIPELINING", NULL))
        caps->pipelining = true;
    else if (keyword(text, "STARTTLS", NULL))
        caps->starttls = true;
    else if (keyword(text, "8BITMIME", NULL))
        caps->eightbit = true;
    else if (keyword(text, "DSN", NULL))
        caps->dsn = true;
    else if (keyword(text, "SMTPUTF8", NULL))
        caps->smtputf8 = true;
    else if (keyword(text, "CHUNKING", NULL))
        caps->chunking = true;
    else if (keyword(text, "SIZE", &params)) {
        /* RFC 1870 4: "SIZE" alone or with 0 means no fixed limit */
        unsigned long long max = 0;
        caps->size = true;
        caps->size_max = sscanf(params, "%llu", &max) == 1 ? (uint64_t)max : 0;
    } else if (keyword(text, "AUTH", &params)) {
        char mech[32];
        int used = 0;
        while (sscanf(params, "%31s%n", mech, &used) == 1) {
            if (strcasecmp(mech, "PLAIN") == 0)
                caps->auth_plain = true;
            else if (strcasecmp(mech, "LOGIN") == 0)
                caps->auth_login = true;
            params += used;
        }
    }
}

/* fits - snprintf's n fits in size. */
static int fits(int n, size_t size)
{
    return n > 0 && (size_t)n < size ? n : -1;
}

const char *smtp_client_protocol_name(enum smtp_client_protocol protocol)
{
    return protocol == SMTP_CLIENT_LMTP ? "lmtp" : "smtp";
}

int smtp_client_hello_command(char *out, size_t size, enum smtp_client_protocol protocol, bool helo,
                              const char *name)
{
    const char *verb = protocol == SMTP_CLIENT_LMTP ? "LHLO" : helo ? "HELO" : "EHLO";
    return fits(snprintf(out, size, "%s %s\r\n", verb, name), size);
}

size_t smtp_client_final_replies(enum smtp_client_protocol protocol, size_t accepted)
{
    return protocol == SMTP_CLIENT_LMTP && accepted > 0 ? accepted : 1;
}

/* xtext - s as RFC 3461 4 xtext ("+" "=" and octets outside "!".."~" as
 * "+XX") into out; -1 when it does not fit. */
static int xtext(const char *s, char *out, size_t size)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        bool plain = *p >= '!' && *p <= '~' && *p != '+' && *p != '=';
        if (o + (plain ? 1 : 3) >= size)
            return -1;
        if (plain) {
            out[o++] = (char)*p;
        } else {
            out[o++] = '+';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    out[o] = '\0';
    return 0;
}

int smtp_client_bdat_command(char *out, size_t size, uint64_t len, bool last)
{
    return fits(
        snprintf(out, size, "BDAT %llu%s\r\n", (unsigned long long)len, last ? " LAST" : ""), size);
}

int smtp_client_mail_command(char *out, size_t size, const char *sender, uint64_t message_size,
                             bool eightbit, bool smtputf8, const char *ret, const char *envid)
{
    char size_param[32] = "", envid_x[400];
    if (envid != NULL && xtext(envid, envid_x, sizeof envid_x) < 0)
        return -1;
    envid = envid != NULL ? envid_x : NULL;
    if (message_size > 0)
        snprintf(size_param, sizeof size_param, " SIZE=%llu", (unsigned long long)message_size);
    return fits(snprintf(out, size, "MAIL FROM:<%s>%s%s%s%s%s%s%s\r\n", sender, size_param,
                         eightbit ? " BODY=8BITMIME" : "", smtputf8 ? " SMTPUTF8" : "",
                         ret != NULL ? " RET=" : "", ret != NULL ? ret : "",
                         envid != NULL ? " ENVID=" : "", envid != NULL ? envid : ""),
                size);
}

int smtp_client_rcpt_command(char *out, size_t size, const char *rcpt, const char *notify,
                             const char *orcpt)
{
    return fits(snprintf(out, size, "RCPT TO:<%s>%s%s%s%s\r\n", rcpt,
                         notify != NULL ? " NOTIFY=" : "", notify != NULL ? notify : "",
                         orcpt != NULL ? " ORCPT=" : "", orcpt != NULL ? orcpt : ""),
                size);
}

void smtp_client_dot_init(struct smtp_client_dot *d)
{
    *d = (struct smtp_client_dot){.line_start = true};
}

void smtp_client_bdat_init(struct smtp_client_dot *d)
{
    *d = (struct smtp_client_dot){.line_start = true, .bdat = true};
}

size_t smtp_client_dot_encode(struct smtp_client_dot *d, const char *in, size_t len, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (d->cr) {
            /* the CR before ends a line, whatever follows */
            d->cr = false;
            out[o++] = '\r';
            out[o++] = '\n';
            d->line_start = true;
            if (c == '\n')
                continue; /* CRLF: already written */
        }
        if (c == '\r') {
            d->cr = true;
            continue;
        }
        if (c == '\n') {
            /* a bare LF: the line ends with CRLF */
            out[o++] = '\r';
            out[o++] = '\n';
            d->line_start = true;
            continue;
        }
        if (d->line_start && c == '.' && !d->bdat)
            out[o++] = '.';
        d->line_start = false;
        out[o++] = c;
    }
    return o;
}

size_t smtp_client_dot_end(struct smtp_client_dot *d, char *out)
{
    size_t o = 0;
    if (d->cr) {
        d->cr = false;
        d->line_start = true;
        out[o++] = '\r';
        out[o++] = '\n';
    }
    if (!d->line_start) {
        out[o++] = '\r';
        out[o++] = '\n';
        d->line_start = true;
    }
    if (d->bdat)
        return o;
    memcpy(out + o, ".\r\n", 3);
    return o + 3;
}

bool smtp_client_has_8bit(const char *data, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)data[i] & 0x80)
            return true;
    }
    return false;
}

void smtp_client_hops_feed(struct smtp_client_hops *h, const char *data, size_t len)
{
    static const char field[] = "received:";
    for (size_t i = 0; i < len && !h->done; i++) {
        char ch = data[i];
        if (ch == '\n') {
            if (!h->mid_line || h->empty)
                h->done = true; /* an empty line (LF or CRLF): the body follows */
            h->mid_line = false;
            h->matched = 0;
            continue;
        }
        if (!h->mid_line) {
            h->mid_line = true;
            h->empty = ch == '\r';
            h->matched = 0;
        } else if (ch != '\r' || !h->empty) {
            h->empty = false;
        }
        if (h->matched == SIZE_MAX)
            continue; /* this line is no Received: */
        char lower = ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
        if (h->matched < sizeof field - 1 && lower == field[h->matched]) {
            if (++h->matched == sizeof field - 1) {
                h->count++;
                h->matched = SIZE_MAX;
            }
        } else if (!(h->empty && ch == '\r')) {
            h->matched = SIZE_MAX;
        }
    }
}
