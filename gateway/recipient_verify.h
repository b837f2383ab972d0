/* gateway/recipient_verify.h - recipient verification against a relay
 * domain's next hop (domains.relay's verify = "next_hop", Postfix's
 * reject_unverified_recipient): at RCPT time the next hop is asked with a
 * probe (EHLO, MAIL FROM:<>, RCPT TO, QUIT; nothing is ever sent), and its
 * answer is kept in a per-process cache, positive and negative answers for
 * their own lifetimes. Asynchronous on the worker's event loop. */
#ifndef DIRMAIL_GATEWAY_RECIPIENT_VERIFY_H
#define DIRMAIL_GATEWAY_RECIPIENT_VERIFY_H

#include <stddef.h>

struct config;
struct event_loop;

enum recipient_verify_result {
    RECIPIENT_VERIFIED,      /* the next hop took the RCPT */
    RECIPIENT_REJECTED,      /* it answered 5xx: the address does not exist there */
    RECIPIENT_VERIFY_FAILED, /* a 4xx, no answer, DNS trouble: try again later */
};

/* What the SMTP reply quotes: the next hop's own reply, or why there was none. */
#define RECIPIENT_VERIFY_TEXT_MAX 400

/* done - the answer for the address; text is valid during the call only. */
typedef void recipient_verify_done_fn(void *ctx, enum recipient_verify_result result,
                                      const char *text);

struct recipient_verify;
struct recipient_probe;

/* recipient_verify_new - the verifier of this process (a worker), on loop;
 * NULL when out of memory. The DNS resolver is made at the first probe. */
struct recipient_verify *recipient_verify_new(struct event_loop *loop, const struct config *conf);
void recipient_verify_free(struct recipient_verify **rv);

/* recipient_verify_domain - whether domain (lower case) is a configured
 * relay domain with verify = "next_hop"; *next_hop_r its next hop or NULL
 * (MX lookup). */
int recipient_verify_domain(const struct config *conf, const char *domain, const char **next_hop_r);

/* recipient_verify_start - the answer for address at next_hop (NULL: the
 * MX of domain). A cached answer is given at once (returns NULL, done
 * called before the return); otherwise a probe starts and done comes later
 * from the loop (the probe handle may be cancelled until then). Out of
 * memory is RECIPIENT_VERIFY_FAILED at once. */
struct recipient_probe *recipient_verify_start(struct recipient_verify *rv, const char *address,
                                               const char *domain, const char *next_hop,
                                               recipient_verify_done_fn *done, void *ctx);

/* recipient_verify_cancel - done is never called for *probe; NULLs it. */
void recipient_verify_cancel(struct recipient_probe **probe);

#endif
