/* proto/sasl_exchange.c - see sasl_exchange.h.
 *
 * An exchange is idle, waiting for a response line (after CHALLENGE), or
 * busy: a Cyrus step on the pool (job_running) or a delay before an answer
 * (timer). The callback is always the last thing a function does, because
 * the protocol may free its session, and this exchange with it, inside. */
#include "config.h"

#include "proto/sasl_exchange.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/clock.h"
#include "lib/event.h"
#include "lib/log.h"
#include "lib/threadpool.h"
#include "proto/conn_limit.h"
#include "proto/service.h"

struct sasl_exchange {
    struct sasl_exchange_setup setup; /* client_ip points at client_ip below */
    char client_ip[64];
    struct sasl_session *sasl;
    char mech[SASL_EXCHANGE_MECH_MAX + 1];
    bool awaiting_response;    /* a CHALLENGE was given: response() is next */
    bool job_running;          /* a pool thread holds the exchange */
    struct event_timer *timer; /* the delay before FAILED or IP_BLOCKED */
    unsigned failures;         /* in this session */
    enum sasl_exchange_limit limit;
    char *challenge; /* base64, malloc'd by the job */
    char *user;

    /* what the pool job reads and writes */
    bool is_start;
    bool has_initial;
    unsigned char *in;
    size_t in_len;
    enum sasl_session_result result;
};

struct sasl_exchange *sasl_exchange_new(const struct sasl_exchange_setup *setup)
{
    struct sasl_exchange *sx = calloc(1, sizeof *sx);
    if (sx == NULL)
        return NULL;
    sx->setup = *setup;
    snprintf(sx->client_ip, sizeof sx->client_ip, "%s",
             setup->client_ip != NULL ? setup->client_ip : "");
    sx->setup.client_ip = sx->client_ip;
    return sx;
}

struct sasl_exchange *sasl_exchange_new_for_session(const struct service_session *ss,
                                                    struct threadpool *pool,
                                                    sasl_exchange_done_fn *done, void *context)
{
    const struct sasl_exchange_setup setup = {
        .loop = ss->loop,
        .pool = pool,
        .limits = ss->limits,
        .ip_failures_max = ss->config->limits.auth_failures,
        .ip_failure_window_s = ss->config->limits.auth_failure_window,
        .client_ip = ss->client_ip,
        .failures_max = SASL_EXCHANGE_SESSION_FAILURES,
        .delay_step_ms = SASL_EXCHANGE_DELAY_STEP_MS,
        .done = done,
        .context = context,
    };
    return sasl_exchange_new(&setup);
}

void sasl_exchange_free(struct sasl_exchange **sxp)
{
    struct sasl_exchange *sx = *sxp;
    if (sx == NULL)
        return;
    *sxp = NULL;
    event_timer_remove(&sx->timer);
    free(sx->in);
    free(sx->challenge);
    free(sx->user);
    free(sx);
}

bool sasl_exchange_busy(const struct sasl_exchange *sx)
{
    return sx != NULL && (sx->job_running || sx->timer != NULL);
}

bool sasl_exchange_stepping(const struct sasl_exchange *sx)
{
    return sx != NULL && sx->job_running;
}

const char *sasl_exchange_challenge(const struct sasl_exchange *sx)
{
    return sx->challenge != NULL ? sx->challenge : "";
}

const char *sasl_exchange_user(const struct sasl_exchange *sx)
{
    return sx->user;
}

enum sasl_exchange_limit sasl_exchange_limit(const struct sasl_exchange *sx)
{
    return sx->limit;
}

const char *sasl_exchange_outcome_name(enum sasl_exchange_outcome outcome)
{
    static const char *const names[] = {
        "pending",      "challenge",           "ok",         "failed",
        "tempfail",     "bad-protocol",        "bad-base64", "cancelled",
        "no-mechanism", "encryption-required", "ip-blocked"};
    return (size_t)outcome < sizeof names / sizeof names[0] ? names[outcome] : "?";
}

/* ---- base64 (RFC 4648 4; RFC 4954 4 allows no line breaks in it) ---- */

static char *b64_encode(const unsigned char *in, size_t len)
{
    char *out = malloc(((len + 2) / 3) * 4 + 1);
    if (out != NULL)
        EVP_EncodeBlock((unsigned char *)out, in, (int)len);
    return out;
}

/* b64_decode - strict base64 into a malloc'd buffer; -1 when not base64. */
static int b64_decode(const char *in, size_t len, unsigned char **out_r, size_t *len_r)
{
    if (len % 4 != 0)
        return -1;
    unsigned char *out = malloc(len / 4 * 3 + 1);
    if (out == NULL)
        return -1;
    int n = len == 0 ? 0 : EVP_DecodeBlock(out, (const unsigned char *)in, (int)len);
    if (n < 0) {
        free(out);
        return -1;
    }
    /* EVP_DecodeBlock counts the padding as zero octets */
    if (len >= 1 && in[len - 1] == '=')
        n--;
    if (len >= 2 && in[len - 2] == '=')
        n--;
    *out_r = out;
    *len_r = (size_t)n;
    return 0;
}

/* ---- the per-address block (proto/conn_limit.h) ---- */

/* ip_failure - count a failure against the client's address in the table
 * every worker shares; true when the address reached its limit. */
static bool ip_failure(struct sasl_exchange *sx)
{
    const struct sasl_exchange_setup *su = &sx->setup;
    if (su->limits == NULL || su->ip_failures_max == 0)
        return false;
    unsigned n = conn_limit_auth_failure(su->limits, su->client_ip, su->ip_failures_max,
                                         su->ip_failure_window_s, clock_monotonic_ms());
    return n >= su->ip_failures_max;
}

static bool ip_blocked(struct sasl_exchange *sx)
{
    const struct sasl_exchange_setup *su = &sx->setup;
    return su->limits != NULL &&
           conn_limit_auth_blocked(su->limits, su->client_ip, su->ip_failures_max,
                                   su->ip_failure_window_s, clock_monotonic_ms());
}

/* ---- the step on the pool, and its answer on the loop ---- */

static void step_work(void *arg)
{
    struct sasl_exchange *sx = arg;
    const unsigned char *out = NULL;
    size_t out_len = 0;
    if (sx->is_start)
        sx->result = sasl_session_start(sx->sasl, sx->mech, sx->has_initial ? sx->in : NULL,
                                        sx->in_len, &out, &out_len);
    else
        sx->result = sasl_session_step(sx->sasl, sx->in, sx->in_len, &out, &out_len);
    if (sx->result == SASL_SESSION_CONTINUE)
        sx->challenge = b64_encode(out != NULL ? out : (const unsigned char *)"", out_len);
}

static void delay_done(void *ctx)
{
    struct sasl_exchange *sx = ctx;
    event_timer_remove(&sx->timer);
    sx->setup.done(sx->setup.context, SASL_EXCHANGE_FAILED);
}

static void refused_done(void *ctx)
{
    struct sasl_exchange *sx = ctx;
    event_timer_remove(&sx->timer);
    sx->setup.done(sx->setup.context, SASL_EXCHANGE_IP_BLOCKED);
}

/* failed - bad credentials: count them here and for the address, and
 * answer late; PENDING while the delay runs. */
static enum sasl_exchange_outcome failed(struct sasl_exchange *sx)
{
    sx->failures++;
    bool ip_limit = ip_failure(sx);
    sx->limit = ip_limit                                 ? SASL_EXCHANGE_LIMIT_IP
                : sx->failures >= sx->setup.failures_max ? SASL_EXCHANGE_LIMIT_SESSION
                                                         : SASL_EXCHANGE_LIMIT_NONE;
    log_info("event=auth_failed client=%s mech=%s failures=%u ip_limit=%s", sx->client_ip, sx->mech,
             sx->failures, ip_limit ? "reached" : "no");
    /* a growing delay before the answer slows down guessing */
    sx->timer = event_timer_add(sx->setup.loop, (uint64_t)sx->failures * sx->setup.delay_step_ms,
                                delay_done, sx);
    return sx->timer != NULL ? SASL_EXCHANGE_PENDING : SASL_EXCHANGE_FAILED;
}

/* step_outcome - what the Cyrus result means for the protocol. */
static enum sasl_exchange_outcome step_outcome(struct sasl_exchange *sx)
{
    switch (sx->result) {
    case SASL_SESSION_CONTINUE:
        if (sx->challenge == NULL)
            return SASL_EXCHANGE_TEMPFAIL;
        sx->awaiting_response = true;
        return SASL_EXCHANGE_CHALLENGE;
    case SASL_SESSION_OK: {
        const char *user = sasl_session_user(sx->sasl);
        sx->user = strdup(user != NULL ? user : "");
        if (sx->user == NULL)
            return SASL_EXCHANGE_TEMPFAIL;
        log_info("event=auth client=%s user=%s mech=%s", sx->client_ip, sx->user, sx->mech);
        return SASL_EXCHANGE_OK;
    }
    case SASL_SESSION_FAILED:
        return failed(sx);
    case SASL_SESSION_TEMPFAIL:
        return SASL_EXCHANGE_TEMPFAIL;
    case SASL_SESSION_BAD_PROTOCOL:
        return SASL_EXCHANGE_BAD_PROTOCOL;
    case SASL_SESSION_NO_MECHANISM:
        return SASL_EXCHANGE_NO_MECHANISM;
    case SASL_SESSION_ENCRYPTION_REQUIRED:
        return SASL_EXCHANGE_ENCRYPTION_REQUIRED;
    }
    return SASL_EXCHANGE_TEMPFAIL;
}

static void step_done(void *arg)
{
    struct sasl_exchange *sx = arg;
    sx->job_running = false;
    free(sx->in);
    sx->in = NULL;
    enum sasl_exchange_outcome o = step_outcome(sx);
    if (o != SASL_EXCHANGE_PENDING)
        sx->setup.done(sx->setup.context, o);
}

/* submit - hand the step to the pool; the input is ours until step_done. */
static enum sasl_exchange_outcome submit(struct sasl_exchange *sx)
{
    if (threadpool_submit(sx->setup.pool, step_work, step_done, sx) < 0) {
        free(sx->in);
        sx->in = NULL;
        return SASL_EXCHANGE_TEMPFAIL;
    }
    sx->job_running = true;
    return SASL_EXCHANGE_PENDING;
}

/* ---- what the protocol calls ---- */

/* reset - forget the previous exchange's results (not the failure count). */
static void reset(struct sasl_exchange *sx)
{
    sx->awaiting_response = false;
    sx->limit = SASL_EXCHANGE_LIMIT_NONE;
    free(sx->challenge);
    sx->challenge = NULL;
    free(sx->in);
    sx->in = NULL;
    sx->in_len = 0;
}

enum sasl_exchange_outcome sasl_exchange_begin(struct sasl_exchange *sx, struct sasl_session *sasl,
                                               const char *mech, const char *initial_b64)
{
    if (sasl_exchange_busy(sx) || sasl == NULL)
        return SASL_EXCHANGE_TEMPFAIL;
    reset(sx);
    free(sx->user);
    sx->user = NULL;
    if (ip_blocked(sx)) {
        /* RFC 4954 6: a temporary refusal (454 in SMTP); late, so that a
         * guesser gains nothing by asking fast. Nothing is decoded or
         * checked: even the right password waits out the block. */
        log_info("event=auth_refused client=%s reason=ip-limit", sx->client_ip);
        sx->timer = event_timer_add(sx->setup.loop, sx->setup.delay_step_ms, refused_done, sx);
        return sx->timer != NULL ? SASL_EXCHANGE_PENDING : SASL_EXCHANGE_IP_BLOCKED;
    }
    sx->sasl = sasl;
    snprintf(sx->mech, sizeof sx->mech, "%s", mech);
    sx->is_start = true;
    sx->has_initial = initial_b64 != NULL;
    if (initial_b64 != NULL) {
        /* RFC 4954 4: "=" is an empty initial response, which is not the
         * same as none (the mechanism then sends no empty challenge) */
        const char *ir = strcmp(initial_b64, "=") == 0 ? "" : initial_b64;
        if (b64_decode(ir, strlen(ir), &sx->in, &sx->in_len) < 0)
            return SASL_EXCHANGE_BAD_BASE64;
    }
    return submit(sx);
}

enum sasl_exchange_outcome sasl_exchange_response(struct sasl_exchange *sx, const char *line,
                                                  size_t len)
{
    if (!sx->awaiting_response || sasl_exchange_busy(sx))
        return SASL_EXCHANGE_BAD_PROTOCOL;
    reset(sx);
    /* RFC 4954 4: "*" cancels; the next begin abandons what Cyrus holds */
    if (len == 1 && line[0] == '*')
        return SASL_EXCHANGE_CANCELLED;
    if (b64_decode(line, len, &sx->in, &sx->in_len) < 0)
        return SASL_EXCHANGE_BAD_BASE64;
    sx->is_start = false;
    return submit(sx);
}
