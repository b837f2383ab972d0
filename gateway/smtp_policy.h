/* gateway/smtp_policy.h - the SMTP gateway's decisions in one place: the RCPT
 * table (directory answer x client rights -> accept or the exact refusal),
 * trusted networks (relay.trusted_networks), and the envelope sender an
 * authenticated user may use. Pure functions over answers the session
 * already has: it never asks the directory and never writes a reply. */
#ifndef DIRMAIL_SMTP_POLICY_H
#define DIRMAIL_SMTP_POLICY_H

#include <stdbool.h>

#include "auth/auth_protocol.h"
#include "conf/conf.h"
#include "proto/smtp_reply.h"

enum smtp_rcpt_decision {
    SMTP_RCPT_ACCEPT,       /* 250 2.1.5 */
    SMTP_RCPT_UNKNOWN,      /* 550 5.1.1: local domain, no such recipient (also address tricks) */
    SMTP_RCPT_DISABLED,     /* 550 5.2.1: the entry takes no mail */
    SMTP_RCPT_RELAY_DENIED, /* 554 5.7.1: not our domain, client neither authenticated nor trusted
                             */
    SMTP_RCPT_TEMPFAIL,     /* 451 4.4.3: the directory could not answer */
};

/* smtp_policy_rcpt - the decision for a RESOLVE answer (status, and r when
 * the status carries a recipient; NULL otherwise). may_relay: the client is
 * authenticated or in a trusted network. Only NOT_OURS is ever widened by
 * may_relay: an address the directory calls unknown or invalid in one of our
 * domains stays refused whoever asks (RFC 5321 3.6.1 / the percent hack). */
enum smtp_rcpt_decision smtp_policy_rcpt(enum auth_status status, const struct auth_recipient *r,
                                         bool may_relay);

/* smtp_policy_rcpt_reply - the reply for a decision (a constant). */
const struct smtp_reply *smtp_policy_rcpt_reply(enum smtp_rcpt_decision d);

/* smtp_policy_trusted - ip (text) lies in one of relay->trusted_networks. */
bool smtp_policy_trusted(const struct config_relay *relay, const char *ip);

enum smtp_sender_decision {
    SMTP_SENDER_OK,
    SMTP_SENDER_NOT_OWNED, /* 553 5.7.1 */
    SMTP_SENDER_TEMPFAIL,  /* 451 4.4.3 */
};

/* smtp_policy_sender - may the authenticated user whose SENDERS answer is
 * (status, senders) use address (rendered, "" for <>) as envelope sender?
 * <> is always allowed (bounces from a client's own tools); addresses compare
 * case-insensitively (domains are, and the directory's matching is). */
enum smtp_sender_decision smtp_policy_sender(enum auth_status status,
                                             const struct auth_strlist *senders,
                                             const char *address);

const struct smtp_reply *smtp_policy_sender_reply(enum smtp_sender_decision d);

#endif
