/* proto/delivery_status.c - the table of recipient delivery statuses (see
 * delivery_status.h). The texts are the ones the queue runner has always
 * recorded: logs, status files and tests read them. */
#include "config.h"

#include "proto/delivery_status.h"

#include <stdio.h>
#include <string.h>

#include "proto/smtp_reply.h"

/* code: the reply that says it to an SMTP or LMTP client (RFC 5321 4.2.2,
 * 4.2.3; LMTP's replies after DATA, RFC 2033 4.2): 452/552 for a full
 * mailbox (storage), 450 for a mailbox held, 451 for our own trouble, 550
 * for a mailbox that is not there or takes no mail, 554 for a loop. */
static const struct {
    bool permanent;
    int code;
    enum smtp_esc esc;
    const char *text; /* at most one "%s" */
} status_table[DELIVERY_STATUS_COUNT] = {
    [DELIVERY_STATUS_MAILBOX_FULL] = {false, 452, SMTP_ESC_MAILBOX_FULL, "mailbox full: %s"},
    [DELIVERY_STATUS_MAILBOX_FULL_PERM] = {true, 552, SMTP_ESC_MAILBOX_FULL, "mailbox full: %s"},
    [DELIVERY_STATUS_MAILBOX_UNUSABLE] = {true, 550, SMTP_ESC_SYSTEM_MISCONFIGURED,
                                          "mailbox unusable: %s"},
    [DELIVERY_STATUS_DELIVERY_FAILED] = {false, 451, SMTP_ESC_SYSTEM_OTHER, "delivery failed: %s"},
    [DELIVERY_STATUS_NO_MEMORY] = {false, 451, SMTP_ESC_SYSTEM_OTHER, "out of memory"},
    [DELIVERY_STATUS_NO_MAILBOX_PATH] = {false, 451, SMTP_ESC_SYSTEM_MISCONFIGURED,
                                         "no mailbox path can be derived from the entry's "
                                         "address"},
    [DELIVERY_STATUS_MESSAGE_UNREADABLE] = {false, 451, SMTP_ESC_SYSTEM_OTHER,
                                            "cannot read the queued message: %s"},
    [DELIVERY_STATUS_MESSAGE_UNREADABLE_NO_REASON] = {false, 451, SMTP_ESC_SYSTEM_OTHER,
                                                      "cannot read the queued message"},
    [DELIVERY_STATUS_EXPANSION_FAILED] = {false, 451, SMTP_ESC_SYSTEM_OTHER,
                                          "cannot queue the expansion: %s"},
    [DELIVERY_STATUS_FORWARDING_LOOP] = {true, 554, SMTP_ESC_ROUTING_LOOP,
                                         "mail forwarding loop for %s"},
    [DELIVERY_STATUS_AWAITING_TRANSPORT] = {false, 451, SMTP_ESC_NETWORK_OTHER,
                                            "awaiting outbound transport (%s)"},
    [DELIVERY_STATUS_NO_SUCH_RECIPIENT] = {true, 550, SMTP_ESC_BAD_DEST_MAILBOX,
                                           "<%s>: no such recipient here"},
    [DELIVERY_STATUS_DIRECTORY_UNAVAILABLE] = {false, 451, SMTP_ESC_DIRECTORY_FAILURE,
                                               "directory unavailable: %s"},
    [DELIVERY_STATUS_MAILBOX_HELD] = {false, 450, SMTP_ESC_MAILBOX_DISABLED, "mailbox held"},
    [DELIVERY_STATUS_DISABLED_HELD] = {false, 450, SMTP_ESC_MAILBOX_DISABLED,
                                       "mailbox disabled, mail held"},
    [DELIVERY_STATUS_MAILBOX_DISABLED] = {true, 550, SMTP_ESC_MAILBOX_DISABLED,
                                          "<%s>: mailbox disabled"},
    [DELIVERY_STATUS_BAD_NEXT_HOP] = {false, 451, SMTP_ESC_SYSTEM_MISCONFIGURED,
                                      "next hop unusable: %s"},
    [DELIVERY_STATUS_CONNECT_FAILED] = {false, 451, SMTP_ESC_NO_ANSWER, "%s"},
    [DELIVERY_STATUS_CONNECTION_LOST] = {false, 451, SMTP_ESC_BAD_CONNECTION, "%s"},
    [DELIVERY_STATUS_DNS_TEMPFAIL] = {false, 451, SMTP_ESC_DIRECTORY_FAILURE,
                                      "DNS lookup failed: %s"},
    [DELIVERY_STATUS_DNS_NO_HOST] = {true, 550, SMTP_ESC_BAD_DEST_SYSTEM,
                                     "no such domain or host: %s"},
    [DELIVERY_STATUS_NULL_MX] = {true, 556, SMTP_ESC_NULL_MX,
                                 "domain accepts no mail (null MX, RFC 7505): %s"},
    [DELIVERY_STATUS_TLS_UNAVAILABLE] = {false, 451, SMTP_ESC_ENCRYPTION_NEEDED,
                                         "TLS required, but %s"},
    /* our credentials, not the sender's fault: retried, never bounced
     * (what Postfix's smtp_sasl_auth_soft_bounce does by default) */
    [DELIVERY_STATUS_NEXT_HOP_AUTH] = {false, 451, SMTP_ESC_AUTH_INVALID,
                                       "AUTH to the next hop failed: %s"},
    [DELIVERY_STATUS_TOO_BIG_FOR_PEER] = {true, 552, SMTP_ESC_MESSAGE_TOO_BIG,
                                          "message too big for the next hop: %s"},
    [DELIVERY_STATUS_8BIT_TO_7BIT] = {true, 554, SMTP_ESC_CONVERSION_REQUIRED,
                                      "8-bit message, 8BITMIME not offered by %s"},
    [DELIVERY_STATUS_7BIT_FAILED] = {false, 451, SMTP_ESC_SYSTEM_OTHER,
                                     "cannot convert the message to 7-bit: %s"},
    /* RFC 5321 6.3: a message that went round too often is in a loop */
    [DELIVERY_STATUS_TOO_MANY_HOPS] = {true, 554, SMTP_ESC_ROUTING_LOOP,
                                       "too many Received header fields (%s): mail loop"},
    /* RFC 6531 3.2: such a message is not sent to a server without
     * SMTPUTF8 (no downgrade: RFC 6857's is optional and lossy) */
    [DELIVERY_STATUS_UTF8_TO_ASCII] = {true, 553, SMTP_ESC_NON_ASCII_ADDRESS,
                                       "non-ASCII address, SMTPUTF8 not offered by %s"},
    [DELIVERY_STATUS_SHUTDOWN] = {false, 421, SMTP_ESC_NOT_ACCEPTING, "shutting down"},
    /* queue.max_age passed, the argument the last reply: temporary by its
     * code (RFC 3463 3.5, X.4.7), final by the runner's decision (the DSN
     * says Action: failed, Status: 4.4.7, as sendmail's does). */
    [DELIVERY_STATUS_EXPIRED] = {false, 451, SMTP_ESC_DELIVERY_EXPIRED,
                                 "delivery time expired: %s"},
    /* dirmailctl queue delete and bounce */
    [DELIVERY_STATUS_ADMIN_DELETED] = {true, 550, SMTP_ESC_OTHER, "deleted by the administrator"},
    [DELIVERY_STATUS_ADMIN_RETURNED] = {true, 550, SMTP_ESC_OTHER,
                                        "returned to the sender by the administrator"},
    /* Temporary: the directory may be mid-move, or this node's replica
     * behind; the client keeps the message and tries again. */
    [DELIVERY_STATUS_MAILBOX_ELSEWHERE] = {false, 451, SMTP_ESC_NETWORK_OTHER,
                                           "mailbox on node %s, not here"},
    [DELIVERY_STATUS_NOT_A_MAILBOX] = {true, 550, SMTP_ESC_BAD_DEST_MAILBOX,
                                       "<%s>: not a mailbox here (a forward, group or relay "
                                       "address goes through the SMTP gateway)"},
    [DELIVERY_STATUS_DOMAIN_NOT_HERE] = {true, 550, SMTP_ESC_BAD_DEST_SYSTEM,
                                         "<%s>: domain not handled here"},
    /* RFC 5429 2.1, 2.2: ereject refuses at the protocol level, as the
     * policy refusal it is (550 5.7.1) */
    [DELIVERY_STATUS_SIEVE_REJECTED] = {true, 550, SMTP_ESC_NOT_AUTHORIZED,
                                        "rejected by the recipient's filter: %s"},
    [DELIVERY_STATUS_SIEVE_TEMPFAIL] = {false, 451, SMTP_ESC_SYSTEM_OTHER,
                                        "filter could not be run now: %s"},
};

int delivery_status_reply_code(enum delivery_status status)
{
    return (unsigned)status < DELIVERY_STATUS_COUNT ? status_table[status].code : 451;
}

bool delivery_status_permanent(enum delivery_status status)
{
    return (unsigned)status < DELIVERY_STATUS_COUNT && status_table[status].permanent;
}

/* append - as much of s[0..len) as fits before the NUL. */
static void append(char *out, size_t size, size_t *off, const char *s, size_t len)
{
    if (*off + 1 >= size)
        return;
    if (len > size - 1 - *off)
        len = size - 1 - *off;
    memcpy(out + *off, s, len);
    *off += len;
    out[*off] = '\0';
}

int delivery_status_format(char *out, size_t size, enum delivery_status status, const char *arg)
{
    char esc[SMTP_ESC_TEXT_MAX];
    size_t off = 0;

    if (size == 0)
        return -1;
    out[0] = '\0';
    if ((unsigned)status >= DELIVERY_STATUS_COUNT ||
        smtp_esc_text(status_table[status].esc, status_table[status].code, esc, sizeof esc) <= 0)
        return -1;
    const char *text = status_table[status].text;
    const char *hole = strstr(text, "%s");
    append(out, size, &off, esc, strlen(esc));
    append(out, size, &off, " ", 1);
    if (hole == NULL) {
        append(out, size, &off, text, strlen(text));
    } else {
        append(out, size, &off, text, (size_t)(hole - text));
        if (arg != NULL)
            append(out, size, &off, arg, strlen(arg));
        append(out, size, &off, hole + 2, strlen(hole + 2));
    }
    return (int)off;
}

/* esc_valid - esc is "C.S.D" of class cls: 1-3 digits each after the
 * class (RFC 3463 2). */
static bool esc_valid(const char *esc, char cls)
{
    if (esc == NULL || esc[0] != cls || esc[1] != '.')
        return false;
    const char *p = esc + 2;
    for (int part = 0; part < 2; part++) {
        size_t digits = 0;
        while (p[digits] >= '0' && p[digits] <= '9')
            digits++;
        if (digits == 0 || digits > 3)
            return false;
        p += digits;
        if (part == 0 && *p++ != '.')
            return false;
    }
    return *p == '\0';
}

int delivery_status_format_remote(char *out, size_t size, bool permanent, const char *esc,
                                  const char *text)
{
    char fallback[SMTP_ESC_TEXT_MAX];
    size_t off = 0;
    if (size == 0)
        return -1;
    out[0] = '\0';
    if (!esc_valid(esc, permanent ? '5' : '4')) {
        if (smtp_esc_text(SMTP_ESC_OTHER, permanent ? 550 : 450, fallback, sizeof fallback) <= 0)
            return -1;
        esc = fallback;
    }
    append(out, size, &off, esc, strlen(esc));
    append(out, size, &off, " ", 1);
    append(out, size, &off, text, strlen(text));
    return (int)off;
}

/* The words around a peer's reply in a result: written and read here only. */
static const char peer_intro[] = "host ";
static const char peer_said[] = " said: ";
static const char peer_command[] = " (in reply to ";

int delivery_status_format_peer(char *out, size_t size, bool permanent, const char *esc,
                                const char *peer, const char *said, const char *command)
{
    char text[DELIVERY_STATUS_TEXT_MAX];
    if (snprintf(text, sizeof text, "%s%s%s%s%s%s)", peer_intro, peer, peer_said, said,
                 peer_command, command) < 0)
        text[0] = '\0';
    return delivery_status_format_remote(out, size, permanent, esc, text);
}

bool delivery_status_peer_parts(const char *result, char *mta, size_t mta_size, char *said,
                                size_t said_size)
{
    const char *p = strchr(result, ' ');
    if (p == NULL || strncmp(p + 1, peer_intro, sizeof peer_intro - 1) != 0 || mta_size == 0 ||
        said_size == 0)
        return false;
    const char *peer = p + 1 + sizeof peer_intro - 1;
    const char *end = strstr(peer, peer_said);
    if (end == NULL)
        return false;
    /* "name[address]:port"; a UNIX socket ("unix:/path") has no name */
    size_t name_len = strcspn(peer, "[");
    if (name_len > (size_t)(end - peer) || strncmp(peer, "unix:", 5) == 0)
        name_len = 0;
    if (name_len >= mta_size)
        name_len = mta_size - 1;
    memcpy(mta, peer, name_len);
    mta[name_len] = '\0';
    /* the reply runs to the last " (in reply to ", or to the end when the
     * result was cut before it */
    const char *reply = end + sizeof peer_said - 1, *stop = NULL;
    for (const char *q = strstr(reply, peer_command); q != NULL; q = strstr(q + 1, peer_command))
        stop = q;
    size_t len = stop != NULL ? (size_t)(stop - reply) : strlen(reply);
    if (len >= said_size)
        len = said_size - 1;
    memcpy(said, reply, len);
    said[len] = '\0';
    return true;
}
