/* delivery/mda_notify.h - the messages local delivery sends, each put into
 * the gateway's queue through queue_inject (origin "delivery"), the one
 * way in: a Sieve redirect (the message as received, our Delivered-To
 * first for loop detection, from the original envelope sender: RFC 5228
 * 4.2), a vacation reply (RFC 5230 5, RFC 3834 3: from the null sender,
 * Auto-Submitted: auto-replied) and a notice to the user (the quota
 * warning). Whether to send is the caller's; it only builds and queues. */
#ifndef DIRMAIL_DELIVERY_MDA_NOTIFY_H
#define DIRMAIL_DELIVERY_MDA_NOTIFY_H

#include <stdint.h>

#include "delivery/sieve/sieve.h"
#include "queue/queue.h"

struct sieve_message;

/* mda_notify_redirect - queue len octets of fd (from offset 0, CRLF; len
 * UINT64_MAX: to its end) for to, with "Delivered-To: rcpt" first, from
 * sender. 0 with new_id set (durable), or -1 and *error_r. */
int mda_notify_redirect(struct queue *queue, int fd, uint64_t len, const char *sender,
                        const char *rcpt, const char *to, char new_id[QUEUE_ID_SIZE],
                        char **error_r);

/* mda_notify_vacation - queue the reply of a vacation action (target: to
 * whom; from, subject, reason, mime as resolved by the engine) to orig,
 * whose Message-ID it answers. from_default: the user's address when the
 * action names none. 0 with new_id set, or -1 and *error_r. */
int mda_notify_vacation(struct queue *queue, const char *hostname, const struct sieve_action *act,
                        const char *from_default, const struct sieve_message *orig,
                        char new_id[QUEUE_ID_SIZE], char **error_r);

/* mda_notify_user - queue a text/plain notice with subject and body (UTF-8,
 * any line ends) to the user at to, from the null sender with From:
 * MAILER-DAEMON@hostname. 0 with new_id set, or -1 and *error_r. */
int mda_notify_user(struct queue *queue, const char *hostname, const char *to, const char *subject,
                    const char *body, char new_id[QUEUE_ID_SIZE], char **error_r);

#endif
