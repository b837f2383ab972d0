/* delivery/sieve/sieve_vacation.c - the vacation action (RFC 5230) and
 * the decision whether to answer at all, from what the message shows (RFC
 * 3834 2 and 5230 4.5/4.6): never to the null sender or a mailer daemon or
 * list address, never to list, bulk or auto-submitted mail, never to the
 * user's own mail, only when the user is a visible recipient, and once per
 * sender and period (the caller's vacation_seen). */
#include "config.h"

#include "delivery/sieve/sieve_interp.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "delivery/sieve/sieve_address.h"
#include "delivery/sieve/sieve_mime.h"
#include "lib/buf.h"

static const char *header(const struct sieve_message *m, const char *name)
{
    for (size_t i = 0; i < m->nheaders; i++)
        if (strcasecmp(m->headers[i].name, name) == 0)
            return m->headers[i].value;
    return NULL;
}

/* automatic_sender - RFC 3834 2 and RFC 5230 4.6: addresses that are
 * programs or lists, to which an automatic reply only does harm. */
static bool automatic_sender(const char *sender)
{
    const char *at = strrchr(sender, '@');
    size_t n = at != NULL ? (size_t)(at - sender) : strlen(sender);
    static const char *const names[] = {"mailer-daemon", "listserv", "majordomo", "postmaster"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (n == strlen(names[i]) && strncasecmp(sender, names[i], n) == 0)
            return true;
    if (n >= 6 && strncasecmp(sender, "owner-", 6) == 0)
        return true;
    if (n >= 8 && strncasecmp(sender + n - 8, "-request", 8) == 0)
        return true;
    return false;
}

/* automatic_message - list, bulk or auto-submitted mail (RFC 3834 2, 5). */
static bool automatic_message(const struct sieve_message *m)
{
    const char *as = header(m, "Auto-Submitted");
    if (as != NULL && strncasecmp(as, "no", 2) != 0)
        return true;
    if (as != NULL && as[2] != '\0' && as[2] != ' ' && as[2] != ';' && as[2] != '(')
        return true;
    const char *prec = header(m, "Precedence");
    if (prec != NULL && (strcasecmp(prec, "bulk") == 0 || strcasecmp(prec, "list") == 0 ||
                         strcasecmp(prec, "junk") == 0))
        return true;
    static const char *const list[] = {"List-Id",          "List-Help", "List-Subscribe",
                                       "List-Unsubscribe", "List-Post", "List-Owner",
                                       "List-Archive"};
    for (size_t i = 0; i < sizeof list / sizeof list[0]; i++)
        if (header(m, list[i]) != NULL)
            return true;
    return false;
}

struct mine {
    const char *const *addrs;
    size_t n;
    char *const *extra; /* :addresses */
    size_t nextra;
    const char *env_to;
};

static bool is_mine(const struct mine *me, const char *addr)
{
    for (size_t i = 0; i < me->n; i++)
        if (strcasecmp(me->addrs[i], addr) == 0)
            return true;
    for (size_t i = 0; i < me->nextra; i++)
        if (strcasecmp(me->extra[i], addr) == 0)
            return true;
    return me->n == 0 && me->env_to != NULL && strcasecmp(me->env_to, addr) == 0;
}

/* addressed_to_me - RFC 5230 4.5: one of the user's addresses in To, Cc,
 * Bcc, Resent-To, Resent-Cc or Resent-Bcc. */
static int addressed_to_me(const struct sieve_message *m, const struct mine *me)
{
    static const char *const fields[] = {"To", "Cc", "Bcc", "Resent-To", "Resent-Cc", "Resent-Bcc"};
    for (size_t h = 0; h < m->nheaders; h++) {
        bool wanted = false;
        for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++)
            wanted = wanted || strcasecmp(m->headers[h].name, fields[f]) == 0;
        if (!wanted)
            continue;
        char **addrs;
        size_t na;
        if (sieve_address_list(m->headers[h].value, &addrs, &na) < 0)
            return -1;
        bool hit = false;
        for (size_t a = 0; a < na; a++) {
            hit = hit || is_mine(me, addrs[a]);
            free(addrs[a]);
        }
        free(addrs);
        if (hit)
            return 1;
    }
    return 0;
}

static char *sha256_hex(const char *s)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_Digest(s, strlen(s), md, &len, EVP_sha256(), NULL) != 1)
        return NULL;
    char *hex = malloc(len * 2 + 1);
    if (hex == NULL)
        return NULL;
    for (unsigned i = 0; i < len; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    return hex;
}

static char *opt(struct sieve_run *run, const struct sieve_node *node, int slot, bool *failed)
{
    if (node->slot[slot] == NULL)
        return NULL;
    char *v = sieve_run_expand(run, node, node->slot[slot]->strs[0]);
    if (v == NULL)
        *failed = true;
    return v;
}

int sieve_vacation_execute(struct sieve_run *run, const struct sieve_node *node)
{
    const struct sieve_message *m = run->msg;
    const struct sieve_env *env = run->env;
    const char *sender = m->env_from;
    if (sender == NULL || sender[0] == '\0' || automatic_sender(sender) || automatic_message(m))
        return 0;

    struct sieve_action act = {.kind = SIEVE_ACT_VACATION};
    bool failed = false;
    char **extra = NULL;
    size_t nextra = 0;
    if (node->slot[SLOT_ADDRESSES] != NULL) {
        const struct sieve_arg *a = node->slot[SLOT_ADDRESSES];
        extra = calloc(a->nstrs + 1, sizeof *extra);
        failed = extra == NULL;
        for (size_t i = 0; !failed && i < a->nstrs; i++) {
            extra[i] = sieve_run_expand(run, node, a->strs[i]);
            failed = extra[i] == NULL;
            nextra += !failed;
        }
    }
    struct mine me = {env->user_addresses, env->user_address_count, extra, nextra, m->env_to};
    int to_me = failed ? -1 : addressed_to_me(m, &me);
    bool from_me = is_mine(&me, sender);
    for (size_t i = 0; i < nextra; i++)
        free(extra[i]);
    free(extra);
    if (to_me < 0 || failed) {
        sieve_run_fail(run, node, "out of memory");
        return -1;
    }
    if (to_me == 0 || from_me)
        return 0;

    act.reason = sieve_run_expand(run, node, node->pos[0]->strs[0]);
    act.subject = opt(run, node, SLOT_SUBJECT, &failed);
    act.from = opt(run, node, SLOT_FROM, &failed);
    char *handle = opt(run, node, SLOT_HANDLE, &failed);
    act.mime = node->slot[SLOT_MIME] != NULL;
    if (act.reason == NULL || failed)
        goto fail;
    /* RFC 5230 4.1: :days 1 at least; :seconds (RFC 6131) may be 0 */
    if (node->slot[SLOT_SECONDS] != NULL)
        act.period = (unsigned long)node->slot[SLOT_SECONDS]->num;
    else {
        unsigned long days =
            node->slot[SLOT_DAYS] != NULL ? (unsigned long)node->slot[SLOT_DAYS]->num : 7;
        if (days < 1)
            days = 1;
        if (days > 365)
            days = 365;
        act.period = days * 86400;
    }
    /* RFC 5230 4.2: without :handle, replies that differ in their text are
     * tracked apart */
    if (handle == NULL) {
        if (asprintf(&handle, "%s%s%s%s", act.reason, act.subject != NULL ? act.subject : "",
                     act.from != NULL ? act.from : "<default-from>",
                     act.mime ? "<MIME>" : "<NO-MIME>") < 0)
            handle = NULL;
        if (handle == NULL)
            goto fail;
    }
    act.key = sha256_hex(handle);
    free(handle);
    handle = NULL;
    if (act.key == NULL)
        goto fail;
    if (env->vacation_seen != NULL) {
        int seen = env->vacation_seen(env->ctx, act.key, sender, act.period);
        if (seen < 0) {
            run->tempfail = true;
            sieve_run_fail(run, node, "cannot read the vacation state");
            goto out;
        }
        if (seen > 0)
            goto out;
    }
    if (act.subject == NULL) {
        /* RFC 5230 4.5: "Auto:" and the original subject */
        const char *orig = header(m, "Subject");
        char *dec = sieve_mime_decode_header(orig != NULL ? orig : "");
        if (dec == NULL || asprintf(&act.subject, "Auto: %s", dec) < 0)
            act.subject = NULL;
        free(dec);
        if (act.subject == NULL)
            goto fail;
    }
    if (act.from == NULL && env->user_address_count > 0)
        act.from = strdup(env->user_addresses[0]);
    const char *mid = header(m, "Message-ID");
    act.in_reply_to = mid != NULL ? strdup(mid) : NULL;
    act.target = strdup(sender);
    if (act.target == NULL)
        goto fail;
    return sieve_run_add_action(run, node, &act);
fail:
    sieve_run_fail(run, node, "out of memory");
out:
    free(handle);
    free(act.reason);
    free(act.subject);
    free(act.from);
    free(act.key);
    free(act.in_reply_to);
    free(act.target);
    return run->failed ? -1 : 0;
}
