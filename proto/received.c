/* proto/received.c - see received.h. */
#include "config.h"

#include "proto/received.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct out {
    char *buf;
    size_t size, len;
    bool failed;
};

static void add(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(struct out *o, const char *fmt, ...)
{
    if (o->failed)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->buf + o->len, o->size - o->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= o->size - o->len) {
        o->failed = true;
        return;
    }
    o->len += (size_t)n;
}

/* RFC 3848: SMTP, ESMTP, then S for TLS and A for authentication. */
static const char *with_protocol(const struct received_info *i)
{
    if (!i->esmtp)
        return "SMTP";
    if (i->tls_version != NULL)
        return i->authenticated ? "ESMTPSA" : "ESMTPS";
    return i->authenticated ? "ESMTPA" : "ESMTP";
}

/* word_safe - text may stand in the field as one token: no white space or
 * control octet (which could end the field and start a forged one), no
 * parenthesis or backslash (which could close our comment). The session's
 * parser already holds EHLO to one word; this is the field's own guard. */
static bool word_safe(const char *text)
{
    if (text == NULL || text[0] == '\0')
        return false;
    for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++) {
        if (*p <= 0x20 || *p == 0x7f || *p == '(' || *p == ')' || *p == '\\')
            return false;
    }
    return true;
}

int received_format(char *out, size_t size, const struct received_info *i)
{
    struct out o = {out, size, 0, size == 0};
    char date[64];
    struct tm tm;
    if (localtime_r(&i->when, &tm) == NULL ||
        strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S %z", &tm) == 0)
        return -1;
    /* RFC 5321 4.4: "from" names the HELO and the TCP-info in a comment;
     * an IPv6 literal carries its "IPv6:" tag. */
    bool v6 = strchr(i->client_ip, ':') != NULL;
    add(&o, "Received: from %s ([%s%s])\r\n", word_safe(i->helo) ? i->helo : "unknown",
        v6 ? "IPv6:" : "", i->client_ip);
    add(&o, "\tby %s (dirmail) with %s id %s", i->hostname, with_protocol(i), i->queue_id);
    if (i->tls_version != NULL)
        add(&o, "\r\n\t(version=%s cipher=%s)", i->tls_version,
            i->tls_cipher != NULL ? i->tls_cipher : "unknown");
    if (word_safe(i->auth_user))
        add(&o, "\r\n\t(authenticated as %s)", i->auth_user);
    if (i->for_rcpt != NULL)
        add(&o, "\r\n\tfor <%s>", i->for_rcpt);
    add(&o, ";\r\n\t%s\r\n", date);
    return o.failed ? -1 : (int)o.len;
}
