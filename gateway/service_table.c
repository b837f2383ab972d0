/* gateway/service_table.c - see service_table.h. Rows without a protocol yet
 * start service_unavailable_start: an honest refusal, never a fake server. */
#include "config.h"

#include "gateway/service_table.h"

#include <stddef.h>

#include "delivery/lmtp_session.h"
#include "gateway/smtp_session.h"
#include "reader/imap_session.h"
#include "reader/managesieve_session.h"
#include "reader/pop3_session.h"

/* Refusals: SMTP and LMTP may answer 421 instead of the greeting (RFC 5321
 * section 3.1 and 4.2.5; RFC 2033 section 4.1 keeps SMTP's replies); POP3
 * gets -ERR with the [SYS/TEMP] response code (RFC 3206 section 4); IMAP an
 * untagged BYE with [UNAVAILABLE] (RFC 5530 section 3) instead of OK. */
#define SMTP_BUSY "421 4.7.0 %h Too many connections, try again later"
#define SMTP_UNAVAILABLE "421 4.3.2 %h Service not available yet"
#define POP3_BUSY "-ERR [SYS/TEMP] Too many connections"
#define POP3_UNAVAILABLE "-ERR [SYS/TEMP] Service not available yet"
#define IMAP_BUSY "* BYE [UNAVAILABLE] Too many connections"
#define IMAP_UNAVAILABLE "* BYE [UNAVAILABLE] Service not available yet"
/* ManageSieve: BYE with TRYLATER (RFC 5804 1.3) instead of the greeting. */
#define MSIEVE_BUSY "BYE (TRYLATER) \"Too many connections\""
#define MSIEVE_UNAVAILABLE "BYE (TRYLATER) \"Service not available yet\""

static const struct service_proto protos[] = {
    {SERVICE_SMTP, "smtp", smtp_session_start, smtp_session_shutdown, SMTP_BUSY, SMTP_UNAVAILABLE},
    {SERVICE_SUBMISSION, "smtp", smtp_session_start, smtp_session_shutdown, SMTP_BUSY,
     SMTP_UNAVAILABLE},
    {SERVICE_SUBMISSIONS, "smtp", smtp_session_start, smtp_session_shutdown, SMTP_BUSY,
     SMTP_UNAVAILABLE},
    {SERVICE_LMTP, "lmtp", lmtp_session_start, lmtp_session_shutdown, SMTP_BUSY, SMTP_UNAVAILABLE},
    {SERVICE_POP3, "pop3", pop3_session_start, pop3_session_shutdown, POP3_BUSY, POP3_UNAVAILABLE},
    {SERVICE_POP3S, "pop3", pop3_session_start, pop3_session_shutdown, POP3_BUSY, POP3_UNAVAILABLE},
    {SERVICE_IMAP, "imap", imap_session_start, imap_session_shutdown, IMAP_BUSY, IMAP_UNAVAILABLE},
    {SERVICE_IMAPS, "imap", imap_session_start, imap_session_shutdown, IMAP_BUSY, IMAP_UNAVAILABLE},
    {SERVICE_MANAGESIEVE, "managesieve", managesieve_session_start, managesieve_session_shutdown,
     MSIEVE_BUSY, MSIEVE_UNAVAILABLE},
};

const struct service_proto *service_table_lookup(enum service_type type)
{
    for (size_t i = 0; i < sizeof protos / sizeof protos[0]; i++) {
        if (protos[i].type == type)
            return &protos[i];
    }
    return NULL;
}

void service_table_shutdown(void)
{
    size_t count = sizeof protos / sizeof protos[0];
    for (size_t i = 0; i < count; i++) {
        if (protos[i].shutdown == NULL)
            continue;
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++)
            seen = protos[j].shutdown == protos[i].shutdown;
        if (!seen)
            protos[i].shutdown();
    }
}
