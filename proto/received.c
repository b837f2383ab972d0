/* proto/received.c - see received.h. */
#include "config.h"

#include "proto/received.h"

#include "lib/header.h"

#include <string.h>

/* RFC 3848: SMTP, ESMTP or LMTP, then S for TLS and A for authentication. */
static const char *with_protocol(const struct received_info *i)
{
    if (i->lmtp) {
        if (i->tls_version != NULL)
            return i->authenticated ? "LMTPSA" : "LMTPS";
        return i->authenticated ? "LMTPA" : "LMTP";
    }
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

char *received_format(const struct received_info *i, size_t *len_r)
{
    char date[64];
    struct tm tm;
    if (localtime_r(&i->when, &tm) == NULL ||
        strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S %z", &tm) == 0)
        return NULL;
    /* One clause per line as before; header_field_word folds further
     * between words when a long host name, HELO or address would take a
     * line past 78 (RFC 5322 2.1.1, 3.2.2; the FWS of RFC 5321 4.4's
     * Stamp grammar lies between every pair of words used here). */
    struct header_field f;
    header_field_begin(&f, "Received");
    /* RFC 5321 4.4: "from" names the HELO and the TCP-info in a comment;
     * an IPv6 literal carries its "IPv6:" tag. */
    header_field_word(&f, "from");
    header_field_word(&f, word_safe(i->helo) ? i->helo : "unknown");
    if (i->client_ip == NULL) {
        header_field_word(&f, "(local");
        header_field_word(&f, "socket)");
    } else {
        bool v6 = strchr(i->client_ip, ':') != NULL;
        header_field_wordf(&f, "([%s%s])", v6 ? "IPv6:" : "", i->client_ip);
    }
    header_field_break(&f);
    header_field_word(&f, "by");
    header_field_word(&f, i->hostname);
    header_field_word(&f, "(dirmail)");
    header_field_word(&f, "with");
    header_field_word(&f, with_protocol(i));
    header_field_word(&f, "id");
    header_field_word(&f, i->queue_id);
    if (i->tls_version != NULL) {
        header_field_break(&f);
        header_field_wordf(&f, "(version=%s", i->tls_version);
        header_field_wordf(&f, "cipher=%s)", i->tls_cipher != NULL ? i->tls_cipher : "unknown");
    }
    if (word_safe(i->auth_user)) {
        header_field_break(&f);
        header_field_word(&f, "(authenticated");
        header_field_word(&f, "as");
        header_field_wordf(&f, "%s)", i->auth_user);
    }
    if (i->for_rcpt != NULL) {
        header_field_break(&f);
        header_field_word(&f, "for");
        header_field_wordf(&f, "<%s>", i->for_rcpt);
    }
    header_field_glue(&f, ";");
    header_field_break(&f);
    header_field_word(&f, date);
    return header_field_end(&f, len_r);
}

char *received_format_fitting(struct received_info *info, size_t *len_r)
{
    char *field = received_format(info, len_r);
    if (field == NULL) {
        /* a HELO word or address too long for any header line (RFC 5322
         * 2.1.1: 998): the trace field goes without them */
        info->for_rcpt = NULL;
        info->helo = NULL;
        field = received_format(info, len_r);
    }
    return field;
}
