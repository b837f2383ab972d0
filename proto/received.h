/* proto/received.h - the Received trace field the gateway prepends to every
 * message it accepts (RFC 5321 4.4, with-protocol names of RFC 3848 and the
 * TLS facts as a comment). Formatting only: it never reads the message. */
#ifndef DIRMAIL_RECEIVED_H
#define DIRMAIL_RECEIVED_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct received_info {
    const char *helo;        /* as the client gave it (one word), or NULL */
    const char *client_ip;   /* "192.0.2.1" or "2001:db8::1"; NULL: a UNIX socket */
    const char *hostname;    /* ours */
    bool esmtp;              /* EHLO rather than HELO */
    bool lmtp;               /* an LMTP session (RFC 3848: LMTP, LMTPS, LMTPA, LMTPSA) */
    const char *tls_version; /* NULL without TLS */
    const char *tls_cipher;
    const char *auth_user; /* shown only when not NULL (admin's choice) */
    bool authenticated;    /* for the with-protocol (ESMTPA/ESMTPSA) */
    const char *queue_id;
    const char *for_rcpt; /* the one recipient, or NULL (never list several) */
    time_t when;
};

/* received_format - the complete field, folded, with its final CRLF, as a
 * malloc'd string the caller frees (its length in *len_r when not NULL).
 * Lines are folded to 78 where a break between words can do it and never
 * pass 998 (RFC 5322 2.1.1). NULL when a line would still pass 998 (a HELO
 * word or address too long for any line: the caller may try again without
 * them), when a value could break the field (a control octet in the host
 * name, address, TLS facts or queue id), or out of memory. */
char *received_format(const struct received_info *info, size_t *len_r);

/* received_format_fitting - received_format, and when that gives NULL once
 * more without the HELO word and the recipient (info is changed so): a
 * value too long for any header line is left out, never cut short. NULL
 * only for a value that breaks the field, or out of memory. */
char *received_format_fitting(struct received_info *info, size_t *len_r);

#endif
