/* delivery/mda_notify.c - see mda_notify.h.
 *
 * Every header value that came from a script (a vacation's :from,
 * :subject) or from a message is made one line first: CR, LF and other
 * control bytes become spaces, so no script can add a field of its own. A
 * subject that is not ASCII is sent as RFC 2047 encoded words. */
#include "config.h"

#include "delivery/mda_notify.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "delivery/sieve/sieve_message.h"
#include "lib/buf.h"
#include "lib/error.h"
#include "lib/header.h"
#include "queue/queue_envelope.h"
#include "queue/queue_inject.h"

/* append_line_safe - value as one header line's worth: control bytes out. */
static int append_line_safe(struct buf *out, const char *value)
{
    for (const char *p = value; *p != '\0'; p++) {
        char c = (unsigned char)*p < 0x20 || *p == 0x7f ? ' ' : *p;
        if (buf_append(out, &c, 1) < 0)
            return -1;
    }
    return 0;
}

/* append_encoded - RFC 2047 4.1 "B" encoded words of UTF-8 text, each at
 * most 75 characters (45 octets of text: 60 of base64), split only before a
 * UTF-8 lead byte, folded onto continuation lines. */
static int append_encoded(struct buf *out, const char *text)
{
    size_t len = strlen(text), pos = 0;
    bool first = true;
    while (pos < len) {
        size_t n = len - pos > 45 ? 45 : len - pos;
        while (n > 1 && pos + n < len && ((unsigned char)text[pos + n] & 0xC0) == 0x80)
            n--;
        unsigned char b64[64];
        int m = EVP_EncodeBlock(b64, (const unsigned char *)text + pos, (int)n);
        if (buf_printf(out, "%s=?UTF-8?B?%.*s?=", first ? "" : "\r\n ", m, (const char *)b64) < 0)
            return -1;
        first = false;
        pos += n;
    }
    return 0;
}

/* append_subject - "Subject: ..." with its CRLF. */
static int append_subject(struct buf *out, const char *subject)
{
    char *clean = NULL;
    struct buf tmp = BUF_INIT;
    if (append_line_safe(&tmp, subject) < 0 || buf_append(&tmp, "", 1) < 0) {
        buf_release(&tmp);
        return -1;
    }
    clean = (char *)buf_ptr(&tmp);
    bool ascii = true;
    for (const char *p = clean; *p != '\0'; p++)
        ascii = ascii && (unsigned char)*p < 0x80;
    int rc = buf_printf(out, "Subject: ");
    if (rc == 0)
        rc = ascii && strlen(clean) < 900 ? buf_printf(out, "%s", clean)
                                          : append_encoded(out, clean);
    if (rc == 0)
        rc = buf_printf(out, "\r\n");
    buf_release(&tmp);
    return rc;
}

/* append_body - text with every line end as CRLF (a CR alone is dropped). */
static int append_body(struct buf *out, const char *text)
{
    for (const char *p = text; *p != '\0'; p++) {
        if (*p == '\r')
            continue;
        if (*p == '\n' ? buf_append(out, "\r\n", 2) < 0 : buf_append(out, p, 1) < 0)
            return -1;
    }
    if (text[0] != '\0' && text[strlen(text) - 1] != '\n')
        return buf_append(out, "\r\n", 2);
    return 0;
}

/* append_trace - Date and Message-ID of a message made here. */
static int append_trace(struct buf *out, const char *hostname, const char *id_part)
{
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S %z", &tm);
    return buf_printf(out, "Date: %s\r\nMessage-ID: <%lld.%s.%ld@%s>\r\n", date, (long long)now,
                      id_part, (long)getpid(), hostname != NULL ? hostname : "localhost");
}

/* commit - begin, write text, commit to one recipient from sender. */
static int commit(struct queue *queue, const char *sender, const char *to, const struct buf *head,
                  int fd, uint64_t len, char new_id[QUEUE_ID_SIZE], char **error_r)
{
    struct queue_envelope *env = queue_envelope_new();
    if (env == NULL || queue_envelope_set(&env->sender, sender) < 0 ||
        queue_envelope_add_recipient(env, to, 0, NULL, error_r) < 0) {
        if (*error_r == NULL)
            error_set(error_r, "out of memory");
        queue_envelope_free(&env);
        return -1;
    }
    struct queue_inject *inj = queue_inject_begin(queue, QUEUE_ORIGIN_DELIVERY, error_r);
    int rc = inj != NULL ? queue_inject_write(inj, buf_ptr(head), buf_len(head), error_r) : -1;
    char chunk[65536];
    for (uint64_t off = 0; rc == 0 && fd >= 0 && off < len;) {
        size_t want = len - off < sizeof chunk ? (size_t)(len - off) : sizeof chunk;
        ssize_t n = pread(fd, chunk, want, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            error_set(error_r, "read the message: %s", strerror(errno));
            rc = -1;
            break;
        }
        if (n == 0) {
            if (len != UINT64_MAX) {
                error_set(error_r, "read the message: short");
                rc = -1;
            }
            break;
        }
        rc = queue_inject_write(inj, chunk, (size_t)n, error_r);
        off += (uint64_t)n;
    }
    if (rc == 0)
        rc = queue_inject_commit(&inj, env, error_r);
    if (rc == 0)
        memcpy(new_id, env->id, QUEUE_ID_SIZE);
    queue_inject_abort(&inj);
    queue_envelope_free(&env);
    return rc;
}

int mda_notify_redirect(struct queue *queue, int fd, uint64_t len, const char *sender,
                        const char *rcpt, const char *to, char new_id[QUEUE_ID_SIZE],
                        char **error_r)
{
    *error_r = NULL;
    /* the loop check of the next delivery (mda.h) reads it back */
    struct header_field dt;
    size_t header_len = 0;
    header_field_begin(&dt, "Delivered-To");
    header_field_word(&dt, rcpt);
    char *header = header_field_end(&dt, &header_len);
    struct buf head = BUF_INIT;
    if (header == NULL || buf_append(&head, header, header_len) < 0) {
        free(header);
        buf_release(&head);
        error_set(error_r, "out of memory");
        return -1;
    }
    free(header);
    int rc = commit(queue, sender, to, &head, fd, len, new_id, error_r);
    buf_release(&head);
    return rc;
}

/* header_value - the first field name of msg, or NULL. */
static const char *header_value(const struct sieve_message *msg, const char *name)
{
    for (size_t i = 0; i < msg->nheaders; i++)
        if (strcasecmp(msg->headers[i].name, name) == 0)
            return msg->headers[i].value;
    return NULL;
}

/* append_addressing - From, To, Subject, Date and Message-ID of a message
 * made here (from as given, e.g. "Name <a@b>", made one line). */
static int append_addressing(struct buf *out, const char *from, const char *to, const char *subject,
                             const char *hostname, const char *kind)
{
    int rc = buf_printf(out, "From: ");
    if (rc == 0)
        rc = append_line_safe(out, from);
    if (rc == 0)
        rc = buf_printf(out, "\r\nTo: <");
    if (rc == 0)
        rc = append_line_safe(out, to);
    if (rc == 0)
        rc = buf_printf(out, ">\r\n");
    if (rc == 0)
        rc = append_subject(out, subject);
    if (rc == 0)
        rc = append_trace(out, hostname, kind);
    return rc;
}

/* commit_notice - head built (rc: how that went) from the null sender to to. */
static int commit_notice(struct queue *queue, const char *to, struct buf *head, int rc,
                         char new_id[QUEUE_ID_SIZE], char **error_r)
{
    if (rc < 0)
        error_set(error_r, "out of memory");
    else
        rc = commit(queue, "", to, head, -1, 0, new_id, error_r);
    buf_release(head);
    return rc;
}

int mda_notify_vacation(struct queue *queue, const char *hostname, const struct sieve_action *act,
                        const char *from_default, const struct sieve_message *orig,
                        char new_id[QUEUE_ID_SIZE], char **error_r)
{
    *error_r = NULL;
    struct buf head = BUF_INIT;
    const char *from = act->from != NULL && act->from[0] != '\0' ? act->from : from_default;
    const char *msgid = header_value(orig, "Message-ID");
    int rc = append_addressing(&head, from, act->target,
                               act->subject != NULL ? act->subject : "Auto: (no subject)", hostname,
                               "vacation");
    if (rc == 0 && msgid != NULL) {
        /* RFC 5230 5.7, RFC 3834 3.1.4 */
        rc = buf_printf(&head, "In-Reply-To: ");
        if (rc == 0)
            rc = append_line_safe(&head, msgid);
        if (rc == 0)
            rc = buf_printf(&head, "\r\nReferences: ");
        if (rc == 0)
            rc = append_line_safe(&head, msgid);
        if (rc == 0)
            rc = buf_printf(&head, "\r\n");
    }
    /* RFC 3834 5: marks the reply so that no responder answers it */
    if (rc == 0)
        rc = buf_printf(&head, "Auto-Submitted: auto-replied (vacation)\r\nMIME-Version: 1.0\r\n");
    /* :mime (RFC 5230 4.8): the reason is a MIME entity, its own header
     * fields first */
    if (rc == 0 && !act->mime)
        rc = buf_printf(&head, "Content-Type: text/plain; charset=UTF-8\r\n"
                               "Content-Transfer-Encoding: 8bit\r\n\r\n");
    if (rc == 0)
        rc = append_body(&head, act->reason != NULL ? act->reason : "");
    return commit_notice(queue, act->target, &head, rc, new_id, error_r);
}

int mda_notify_user(struct queue *queue, const char *hostname, const char *to, const char *subject,
                    const char *body, char new_id[QUEUE_ID_SIZE], char **error_r)
{
    *error_r = NULL;
    struct buf head = BUF_INIT;
    char from[300];
    snprintf(from, sizeof from, "Mail Delivery System <MAILER-DAEMON@%s>",
             hostname != NULL ? hostname : "localhost");
    int rc = append_addressing(&head, from, to, subject, hostname, "notice");
    if (rc == 0)
        rc = buf_printf(&head, "Auto-Submitted: auto-generated\r\nMIME-Version: 1.0\r\n"
                               "Content-Type: text/plain; charset=UTF-8\r\n"
                               "Content-Transfer-Encoding: 8bit\r\n\r\n");
    if (rc == 0)
        rc = append_body(&head, body);
    return commit_notice(queue, to, &head, rc, new_id, error_r);
}
