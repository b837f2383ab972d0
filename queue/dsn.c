/* queue/dsn.c - see dsn.h.
 *
 * The report is built in three pieces (the words, the delivery-status
 * fields, the original) before the boundary is chosen, so that the
 * boundary can be checked against all of them: RFC 2046 5.1.1 requires
 * that it occur in none of the encapsulated parts, and a random one could
 * still be found in an original that quotes an earlier bounce of ours. */
#include "config.h"

#include "queue/dsn.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/error.h"
#include "lib/header.h"

/* Tries at a boundary before giving up: each is 96 random bits, so a
 * second try is already a message that contains the first on purpose. */
#define BOUNDARY_TRIES 8
/* A value written into one field or line is cut to this (a reply line is
 * at most 512, an address 256): the line stays under DSN_LINE_MAX. */
#define VALUE_MAX 900

static const char *const action_names[] = {"failed", "delayed", "delivered", "relayed", "expanded"};

const char *dsn_action_name(enum dsn_action action)
{
    return (unsigned)action < sizeof action_names / sizeof action_names[0] ? action_names[action]
                                                                           : "failed";
}

bool dsn_notify_wants(unsigned notify, enum dsn_kind kind)
{
    if (notify & QUEUE_NOTIFY_NEVER)
        return false;
    switch (kind) {
    case DSN_KIND_FAILURE:
        return notify == 0 || (notify & QUEUE_NOTIFY_FAILURE) != 0;
    case DSN_KIND_DELAY:
        return notify == 0 || (notify & QUEUE_NOTIFY_DELAY) != 0;
    case DSN_KIND_SUCCESS:
        return (notify & QUEUE_NOTIFY_SUCCESS) != 0;
    }
    return false;
}

size_t dsn_header_section_len(const char *text, size_t len)
{
    /* The section ends at the first empty line (RFC 5322 2.1); a message
     * that opens with one has an empty section. */
    if (len >= 2 && text[0] == '\r' && text[1] == '\n')
        return 2;
    for (size_t i = 0; i + 3 < len; i++) {
        if (text[i] == '\r' && text[i + 1] == '\n' && text[i + 2] == '\r' && text[i + 3] == '\n')
            return i + 4;
    }
    return len;
}

/* has_8bit - whether text[0..len) holds an octet above 127. */
static bool has_8bit(const char *text, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)text[i] & 0x80)
            return true;
    }
    return false;
}

/* rfc5322_date - when as an RFC 5322 3.3 date-time in local time. */
static void rfc5322_date(char *out, size_t size, time_t when)
{
    struct tm tm;
    if (localtime_r(&when, &tm) == NULL ||
        strftime(out, size, "%a, %d %b %Y %H:%M:%S %z", &tm) == 0)
        snprintf(out, size, "Thu, 01 Jan 1970 00:00:00 +0000");
}

/* line - append one line "fmt..." CRLF to b, its text cut to VALUE_MAX
 * octets (see VALUE_MAX: never reached by what the queue records). */
static int line(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int line(struct buf *b, const char *fmt, ...)
{
    char text[VALUE_MAX + 1];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    size_t len = (size_t)n < sizeof text ? (size_t)n : sizeof text - 1;
    /* A CR or LF inside a value would start a line of its own (a forged
     * field): the queue's values never hold one, but the report is not
     * the place to trust that. */
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '\r' || text[i] == '\n')
            text[i] = ' ';
    }
    if (buf_append(b, text, len) < 0 || buf_append(b, "\r\n", 2) < 0)
        return -1;
    return 0;
}

/* The parts of a reply "[NNN ]C.S.D text": the reply code (made up from
 * the class when the reply has none: 250, 451, 550 as RFC 5321 4.2.3 uses
 * them), the enhanced code and the text. */
struct reply_parts {
    char code[4];
    char status[16];
    const char *text;
};

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* reply_split - split reply (NULL: a success, 2.0.0) into parts; an
 * action other than failed without a readable code gets the class its
 * action implies. */
static void reply_split(const char *reply, enum dsn_action action, struct reply_parts *p)
{
    const char *r = reply != NULL ? reply : "";
    p->code[0] = '\0';
    if (is_digit(r[0]) && is_digit(r[1]) && is_digit(r[2]) && (r[3] == ' ' || r[3] == '-')) {
        memcpy(p->code, r, 3);
        p->code[3] = '\0';
        r += 4;
    }
    /* RFC 3463 2: class "." subject "." detail, 1-3 digits each. */
    size_t n = 0;
    int dots = 0, digits = 0;
    bool ok = (r[0] == '2' || r[0] == '4' || r[0] == '5') && r[1] == '.';
    while (ok && r[n] != '\0' && r[n] != ' ' && n < sizeof p->status - 1) {
        if (r[n] == '.') {
            ok = digits > 0 && ++dots <= 2;
            digits = 0;
        } else {
            ok = is_digit(r[n]) && ++digits <= 3;
        }
        n++;
    }
    ok = ok && dots == 2 && digits > 0 && (r[n] == '\0' || r[n] == ' ');
    if (ok) {
        memcpy(p->status, r, n);
        p->status[n] = '\0';
        p->text = r[n] == ' ' ? r + n + 1 : r + n;
    } else {
        const char *status = action == DSN_ACTION_FAILED    ? "5.0.0"
                             : action == DSN_ACTION_DELAYED ? "4.0.0"
                                                            : "2.0.0";
        snprintf(p->status, sizeof p->status, "%s", status);
        p->text = reply != NULL ? reply : "";
    }
    if (p->code[0] == '\0') {
        const char *code = p->status[0] == '5' ? "550" : p->status[0] == '4' ? "451" : "250";
        memcpy(p->code, code, 4);
    }
}

/* address_type - the RFC 3464 2.3.2 address type of address: "rfc822",
 * or RFC 6533 3's "utf-8" for an internationalised one. */
static const char *address_type(const char *address)
{
    return has_8bit(address, strlen(address)) ? "utf-8" : "rfc822";
}

/* add_words - the human-readable part's body. */
static int add_words(struct buf *b, const struct dsn_report *r)
{
    const struct queue_envelope *env = r->env;
    char until[64] = "";
    int ret = 0;
    ret |= line(b, "This is the mail system at %s.", r->hostname);
    ret |= line(b, "%s", "");
    switch (r->kind) {
    case DSN_KIND_FAILURE:
        ret |= line(b, "Your message could not be delivered to the recipients listed below.");
        ret |= line(b, "The mail system has given up on them; the reason is given for each.");
        ret |= line(b, "The message, or its header section, is attached.");
        break;
    case DSN_KIND_DELAY:
        for (size_t k = 0; k < r->count; k++) {
            if (r->rcpts[k].retry_until != 0) {
                rfc5322_date(until, sizeof until, r->rcpts[k].retry_until);
                break;
            }
        }
        ret |= line(b, "Your message has not yet been delivered to the recipients listed below.");
        if (until[0] != '\0')
            ret |= line(b, "The mail system is still trying and will keep trying until %s.", until);
        else
            ret |= line(b, "The mail system is still trying.");
        ret |= line(b, "This is a warning only: you need not send the message again.");
        break;
    case DSN_KIND_SUCCESS:
        ret |= line(b, "Your message was delivered to the recipients listed below, as you asked.");
        break;
    }
    ret |= line(b, "%s", "");
    for (size_t k = 0; k < r->count; k++) {
        const struct dsn_rcpt *d = &r->rcpts[k];
        const struct queue_recipient *rc = &env->rcpts[d->index];
        struct reply_parts p;
        reply_split(d->reply, d->action, &p);
        if (rc->orcpt != NULL && strchr(rc->orcpt, ';') != NULL &&
            strcasecmp(strchr(rc->orcpt, ';') + 1, rc->address) != 0)
            ret |= line(b, "<%s> (sent to %s): %s", rc->address, strchr(rc->orcpt, ';') + 1,
                        dsn_action_name(d->action));
        else
            ret |= line(b, "<%s>: %s", rc->address, dsn_action_name(d->action));
        if (d->reply != NULL && d->reply[0] != '\0' && d->remote_mta != NULL)
            ret |= line(b, "    %s %s (the answer of %s)", p.status, p.text, d->remote_mta);
        else if (d->reply != NULL && d->reply[0] != '\0')
            ret |= line(b, "    %s %s", p.status, p.text);
    }
    return ret != 0 ? -1 : 0;
}

/* add_fields - the message/delivery-status body (RFC 3464 2.1): the
 * per-message fields, then one block per recipient, each after an empty
 * line. */
static int add_fields(struct buf *b, const struct dsn_report *r)
{
    const struct queue_envelope *env = r->env;
    char date[64];
    int ret = 0;
    ret |= line(b, "Reporting-MTA: dns; %s", r->hostname);
    if (env->envid != NULL)
        ret |= line(b, "Original-Envelope-Id: %s", env->envid);
    rfc5322_date(date, sizeof date, env->arrival);
    ret |= line(b, "Arrival-Date: %s", date);
    for (size_t k = 0; k < r->count; k++) {
        const struct dsn_rcpt *d = &r->rcpts[k];
        const struct queue_recipient *rc = &env->rcpts[d->index];
        struct reply_parts p;
        reply_split(d->reply, d->action, &p);
        ret |= line(b, "%s", "");
        /* RFC 3464 2.3.1: only when the sender gave ORCPT; it is stored
         * as "type;address", xtext already decoded (proto/smtp_parse). */
        if (rc->orcpt != NULL)
            ret |= line(b, "Original-Recipient: %s", rc->orcpt);
        ret |= line(b, "Final-Recipient: %s; %s", address_type(rc->address), rc->address);
        ret |= line(b, "Action: %s", dsn_action_name(d->action));
        ret |= line(b, "Status: %s", p.status);
        if (d->remote_mta != NULL)
            ret |= line(b, "Remote-MTA: dns; %s", d->remote_mta);
        /* RFC 3464 2.3.6: the peer's own reply when a peer gave it */
        if (d->diagnostic != NULL && d->diagnostic[0] != '\0')
            ret |= line(b, "Diagnostic-Code: smtp; %s", d->diagnostic);
        else if (d->reply != NULL && d->reply[0] != '\0')
            ret |= line(b, "Diagnostic-Code: smtp; %s %s %s", p.code, p.status, p.text);
        if (d->last_attempt != 0) {
            rfc5322_date(date, sizeof date, d->last_attempt);
            ret |= line(b, "Last-Attempt-Date: %s", date);
        }
        if (d->action == DSN_ACTION_DELAYED && d->retry_until != 0) {
            rfc5322_date(date, sizeof date, d->retry_until);
            ret |= line(b, "Will-Retry-Until: %s", date);
        }
    }
    return ret != 0 ? -1 : 0;
}

/* new_boundary - a boundary (RFC 2046 5.1.1: at most 70 characters of
 * bchars) found in none of the n texts. -1 when every try was found. */
static int new_boundary(char *out, size_t size, const char *id, const struct buf *const *texts,
                        size_t n, const struct dsn_original *orig)
{
    for (int tries = 0; tries < BOUNDARY_TRIES; tries++) {
        unsigned char rnd[12];
        if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
            /* No entropy to be had: the pid, time and try still differ
             * from one report to the next, and the check below holds. */
            unsigned long long mix =
                (unsigned long long)time(NULL) ^ ((unsigned long long)getpid() << 32);
            for (size_t i = 0; i < sizeof rnd; i++)
                rnd[i] =
                    (unsigned char)(mix >> (8 * (i % 8))) ^ (unsigned char)(tries * 31 + (int)i);
        }
        char hex[sizeof rnd * 2 + 1];
        for (size_t i = 0; i < sizeof rnd; i++)
            snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
        /* "=_" never occurs in quoted-printable or base64 output, so most
         * encoded originals cannot hold it at all. */
        snprintf(out, size, "=_dirmail_%.23s_%s", id, hex);
        size_t blen = strlen(out);
        bool found = orig->text != NULL && orig->len >= blen &&
                     memmem(orig->text, orig->len, out, blen) != NULL;
        for (size_t i = 0; i < n && !found; i++)
            found = memmem(buf_ptr(texts[i]), buf_len(texts[i]), out, blen) != NULL;
        if (!found)
            return 0;
    }
    return -1;
}

/* add_header - the notification's own header section. */
static int add_header(struct buf *b, const struct dsn_report *r, const char *boundary, bool eight)
{
    static const char *const subjects[] = {"Undelivered Mail Returned to Sender",
                                           "Delayed Mail (still being retried)",
                                           "Successful Mail Delivery Report"};
    char date[64];
    struct header_field f;
    size_t len = 0;
    rfc5322_date(date, sizeof date, r->now);
    header_field_begin(&f, "To");
    header_field_wordf(&f, "<%s>", r->env->sender);
    char *to = header_field_end(&f, &len);
    if (to == NULL)
        return -1;
    int ret = 0;
    ret |= line(b, "From: Mail Delivery System <MAILER-DAEMON@%s>", r->hostname);
    ret |= buf_append(b, to, len);
    free(to);
    ret |= line(b, "Subject: %s", subjects[r->kind]);
    ret |= line(b, "Date: %s", date);
    ret |= line(b, "Message-ID: <%s.dsn@%s>", r->message_id, r->hostname);
    /* RFC 3834 5: an automatic response, never to be answered automatically. */
    ret |= line(b, "Auto-Submitted: auto-replied");
    ret |= line(b, "MIME-Version: 1.0");
    ret |= line(b, "Content-Type: multipart/report; report-type=delivery-status;");
    ret |= line(b, "\tboundary=\"%s\"", boundary);
    ret |= line(b, "Content-Transfer-Encoding: %s", eight ? "8bit" : "7bit");
    ret |= line(b, "%s", "");
    ret |= line(b, "This is a MIME-encapsulated message.");
    ret |= line(b, "%s", "");
    return ret != 0 ? -1 : 0;
}

int dsn_build(const struct dsn_report *r, char **text_r, size_t *len_r, char **error_r)
{
    struct buf words = BUF_INIT, fields = BUF_INIT, out = BUF_INIT;
    char boundary[80];
    int ret = -1;
    *text_r = NULL;
    if (r->count == 0 || r->env == NULL || (unsigned)r->kind > DSN_KIND_SUCCESS) {
        error_set(error_r, "nothing to report");
        return -1;
    }
    for (size_t k = 0; k < r->count; k++) {
        if (r->rcpts[k].index >= r->env->rcpt_count) {
            error_set(error_r, "recipient %zu outside the envelope", r->rcpts[k].index);
            return -1;
        }
    }
    const struct buf *parts[] = {&words, &fields};
    const struct dsn_original *orig = &r->original;
    size_t head_len = orig->text != NULL ? dsn_header_section_len(orig->text, orig->len) : 0;
    bool orig_8bit = orig->text != NULL && has_8bit(orig->text, orig->len);
    bool head_8bit = orig->text != NULL && has_8bit(orig->text, head_len);
    if (add_words(&words, r) < 0 || add_fields(&fields, r) < 0) {
        error_set(error_r, "out of memory");
        goto out;
    }
    if (new_boundary(boundary, sizeof boundary, r->message_id, parts, 2, orig) < 0) {
        error_set(error_r, "no boundary found that the message does not contain");
        goto out;
    }
    bool words_8bit = has_8bit(buf_ptr(&words), buf_len(&words));
    bool fields_8bit = has_8bit(buf_ptr(&fields), buf_len(&fields));
    int fail = add_header(&out, r, boundary, orig_8bit || words_8bit || fields_8bit);
    fail |= line(&out, "--%s", boundary);
    fail |= line(&out, "Content-Description: Notification");
    fail |= line(&out, "Content-Type: text/plain; charset=%s", words_8bit ? "utf-8" : "us-ascii");
    if (words_8bit)
        fail |= line(&out, "Content-Transfer-Encoding: 8bit");
    fail |= line(&out, "%s", "");
    fail |= buf_append(&out, buf_ptr(&words), buf_len(&words));
    fail |= line(&out, "%s", "");
    fail |= line(&out, "--%s", boundary);
    fail |= line(&out, "Content-Description: Delivery report");
    /* RFC 6533 6.1: a report that names an internationalised address. */
    fail |= line(&out, "Content-Type: message/%sdelivery-status", fields_8bit ? "global-" : "");
    fail |= line(&out, "%s", "");
    fail |= buf_append(&out, buf_ptr(&fields), buf_len(&fields));
    if (orig->text != NULL) {
        /* RFC 6522 3 / RFC 6533 3: message/rfc822 carries the whole
         * message, text/rfc822-headers its header section; the global
         * types when the header section itself is 8-bit (RFC 6532). */
        size_t len = orig->headers_only ? head_len : orig->len;
        bool eight = orig->headers_only ? head_8bit : orig_8bit;
        const char *type = orig->headers_only
                               ? (head_8bit ? "message/global-headers" : "text/rfc822-headers")
                               : (head_8bit ? "message/global" : "message/rfc822");
        fail |= line(&out, "%s", "");
        fail |= line(&out, "--%s", boundary);
        fail |= line(&out, "Content-Description: %s",
                     orig->headers_only ? "Undelivered message headers" : "Undelivered message");
        fail |= line(&out, "Content-Type: %s", type);
        if (eight)
            fail |= line(&out, "Content-Transfer-Encoding: 8bit");
        fail |= line(&out, "%s", "");
        fail |= buf_append(&out, orig->text, len);
        /* The closing delimiter must start a line of its own. */
        if (len < 2 || memcmp(orig->text + len - 2, "\r\n", 2) != 0)
            fail |= line(&out, "%s", "");
    }
    fail |= line(&out, "%s", "");
    fail |= line(&out, "--%s--", boundary);
    if (fail != 0) {
        error_set(error_r, "out of memory");
        goto out;
    }
    *len_r = buf_len(&out);
    *text_r = malloc(*len_r + 1);
    if (*text_r == NULL) {
        error_set(error_r, "out of memory");
        goto out;
    }
    memcpy(*text_r, buf_ptr(&out), *len_r);
    (*text_r)[*len_r] = '\0';
    ret = 0;
out:
    buf_release(&words);
    buf_release(&fields);
    buf_release(&out);
    return ret;
}
