/* delivery/sieve/sieve_tests.c - the tests: each collects the values it
 * looks at (header values RFC 2047-decoded, address parts, envelope parts,
 * body parts, strings, flags) and one function matches them against the
 * key list by the node's match type and comparator (RFC 5228 2.7). */
#include "config.h"

#include "delivery/sieve/sieve_interp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "delivery/sieve/sieve_address.h"
#include "delivery/sieve/sieve_date.h"
#include "delivery/sieve/sieve_mime.h"
#include "lib/array.h"
#include "lib/buf.h"

struct values {
    char **v;
    size_t n, cap;
    bool oom;
};

static void values_add(struct values *vs, char *s)
{
    if (s == NULL || ARRAY_RESERVE(&vs->v, &vs->cap, vs->n + 1, 8) < 0) {
        free(s);
        vs->oom = true;
        return;
    }
    vs->v[vs->n++] = s;
}

static void values_clear(struct values *vs)
{
    for (size_t i = 0; i < vs->n; i++)
        free(vs->v[i]);
    free(vs->v);
    memset(vs, 0, sizeof *vs);
}

/* match_values - any value against any key; :count compares how many
 * values there are (RFC 5231 4.1). Captures are kept only when variables
 * is required and the match type is :matches. */
static int match_values(struct sieve_run *run, const struct sieve_node *node,
                        const struct values *vs, const struct sieve_arg *keys)
{
    if (vs->oom) {
        sieve_run_fail(run, node, "out of memory");
        return -1;
    }
    bool want_caps = node->match == MATCH_MATCHES && (run->script->exts & SIEVE_EXT_VARIABLES);
    char count[32];
    if (node->match == MATCH_COUNT)
        snprintf(count, sizeof count, "%zu", vs->n);
    for (size_t k = 0; k < keys->nstrs; k++) {
        char *key = sieve_run_expand(run, node, keys->strs[k]);
        if (key == NULL)
            return -1;
        int m = 0;
        if (node->match == MATCH_COUNT) {
            m = sieve_match(MATCH_COUNT, node->cmp, node->rel, count, key, NULL, &run->budget);
        } else {
            for (size_t i = 0; i < vs->n && m == 0; i++)
                m = sieve_match(node->match, node->cmp, node->rel, vs->v[i], key,
                                want_caps ? &run->caps : NULL, &run->budget);
        }
        free(key);
        if (m < 0) {
            sieve_run_fail(run, node, "match took more than %zu steps", run->budget.max);
            return -1;
        }
        if (m > 0)
            return 1;
    }
    return 0;
}

static int match_array(struct sieve_run *run, const struct sieve_node *node, char **v, size_t n,
                       const struct sieve_arg *keys)
{
    struct values vs = {v, n, n, false};
    for (size_t i = 0; i < n; i++)
        if (v[i] == NULL)
            vs.oom = true;
    return match_values(run, node, &vs, keys);
}

/* occurrence - does :index/:last pick the i-th of n fields (RFC 5260 6)? */
static bool occurrence(const struct sieve_node *node, size_t i, size_t n)
{
    const struct sieve_arg *idx = node->slot[SLOT_INDEX];
    if (idx == NULL)
        return true;
    if (idx->num > n)
        return false;
    size_t want = node->slot[SLOT_LAST] != NULL ? n - (size_t)idx->num : (size_t)idx->num - 1;
    return i == want;
}

/* header_values - the fields named name, decoded, with :index applied. */
static void header_values(struct sieve_run *run, const struct sieve_node *node, const char *name,
                          bool addresses, struct values *vs)
{
    const struct sieve_message *m = run->msg;
    size_t n = 0, seen = 0;
    for (size_t i = 0; i < m->nheaders; i++)
        if (strcasecmp(m->headers[i].name, name) == 0)
            n++;
    for (size_t i = 0; i < m->nheaders; i++) {
        if (strcasecmp(m->headers[i].name, name) != 0)
            continue;
        if (!occurrence(node, seen++, n))
            continue;
        char *dec = sieve_mime_decode_header(m->headers[i].value);
        if (dec == NULL) {
            vs->oom = true;
            return;
        }
        if (!addresses) {
            values_add(vs, dec);
            continue;
        }
        char **addrs;
        size_t na;
        if (sieve_address_list(dec, &addrs, &na) < 0) {
            free(dec);
            vs->oom = true;
            return;
        }
        free(dec);
        for (size_t a = 0; a < na; a++) {
            char *part = sieve_address_part(addrs[a], node->part);
            if (part != NULL)
                values_add(vs, part);
            free(addrs[a]);
        }
        free(addrs);
    }
}

static int test_header_or_address(struct sieve_run *run, const struct sieve_node *node)
{
    struct values vs = {0};
    for (size_t i = 0; i < node->pos[0]->nstrs; i++) {
        char *name = sieve_run_expand(run, node, node->pos[0]->strs[i]);
        if (name == NULL) {
            values_clear(&vs);
            return -1;
        }
        header_values(run, node, name, node->id == TEST_ADDRESS, &vs);
        free(name);
    }
    int rc = match_values(run, node, &vs, node->pos[1]);
    values_clear(&vs);
    return rc;
}

/* test_envelope - RFC 5228 5.4: the null reverse-path matches as "" for
 * every address part. */
static int test_envelope(struct sieve_run *run, const struct sieve_node *node)
{
    struct values vs = {0};
    for (size_t i = 0; i < node->pos[0]->nstrs; i++) {
        char *part = sieve_run_expand(run, node, node->pos[0]->strs[i]);
        if (part == NULL) {
            values_clear(&vs);
            return -1;
        }
        const char *v = strcasecmp(part, "from") == 0   ? run->msg->env_from
                        : strcasecmp(part, "to") == 0   ? run->msg->env_to
                        : strcasecmp(part, "auth") == 0 ? run->msg->env_auth
                                                        : NULL;
        free(part);
        if (v == NULL)
            continue;
        if (v[0] == '\0') {
            values_add(&vs, strdup(""));
            continue;
        }
        char *p = sieve_address_part(v, node->part);
        if (p != NULL)
            values_add(&vs, p);
    }
    int rc = match_values(run, node, &vs, node->pos[1]);
    values_clear(&vs);
    return rc;
}

static int test_exists(struct sieve_run *run, const struct sieve_node *node)
{
    for (size_t i = 0; i < node->pos[0]->nstrs; i++) {
        char *name = sieve_run_expand(run, node, node->pos[0]->strs[i]);
        if (name == NULL)
            return -1;
        bool found = false;
        for (size_t h = 0; h < run->msg->nheaders && !found; h++)
            found = strcasecmp(run->msg->headers[h].name, name) == 0;
        free(name);
        if (!found)
            return 0;
    }
    return 1;
}

struct body_walk {
    struct sieve_run *run;
    const struct sieve_node *node;
    char **types; /* :content's list, expanded; NULL for :text */
    size_t ntypes;
    int result;
};

/* type_matches - RFC 5173 5.2: "" is every type, "text" a main type,
 * "text/html" exactly that; compared without case. */
static bool type_matches(const char *type, const char *want)
{
    if (want[0] == '\0')
        return true;
    if (strchr(want, '/') == NULL) {
        size_t n = strlen(want);
        return strncasecmp(type, want, n) == 0 && type[n] == '/';
    }
    return strcasecmp(type, want) == 0;
}

static int body_part(void *ctx, const char *type, const char *text, size_t len)
{
    struct body_walk *w = ctx;
    bool wanted = false;
    if (w->types == NULL)
        wanted = strncmp(type, "text/", 5) == 0;
    for (size_t i = 0; i < w->ntypes && !wanted; i++)
        wanted = type_matches(type, w->types[i]);
    if (!wanted)
        return 0;
    char *copy = bytes_dup(text, len);
    struct values vs = {0};
    values_add(&vs, copy);
    w->result = match_values(w->run, w->node, &vs, w->node->pos[0]);
    values_clear(&vs);
    return w->result != 0 ? 1 : 0;
}

static int test_body(struct sieve_run *run, const struct sieve_node *node)
{
    if (node->transform == BODY_RAW) {
        struct values vs = {0};
        const struct sieve_message *m = run->msg;
        values_add(&vs, bytes_dup(m->data + m->body_offset, m->len - m->body_offset));
        int rc = match_values(run, node, &vs, node->pos[0]);
        values_clear(&vs);
        return rc;
    }
    struct body_walk w = {run, node, NULL, 0, 0};
    if (node->transform == BODY_CONTENT) {
        const struct sieve_arg *t = node->slot[SLOT_CONTENT];
        w.types = calloc(t->nstrs + 1, sizeof *w.types);
        if (w.types == NULL) {
            sieve_run_fail(run, node, "out of memory");
            return -1;
        }
        for (size_t i = 0; i < t->nstrs; i++) {
            w.types[i] = sieve_run_expand(run, node, t->strs[i]);
            if (w.types[i] == NULL)
                break;
            w.ntypes++;
        }
    }
    int rc = run->failed ? -1 : sieve_mime_walk(run->msg, body_part, &w);
    for (size_t i = 0; i < w.ntypes; i++)
        free(w.types[i]);
    free(w.types);
    if (rc < 0 || w.result < 0) {
        sieve_run_fail(run, node, "body: out of memory");
        return -1;
    }
    return w.result;
}

static int test_string(struct sieve_run *run, const struct sieve_node *node)
{
    struct values vs = {0};
    for (size_t i = 0; i < node->pos[0]->nstrs; i++) {
        char *s = sieve_run_expand(run, node, node->pos[0]->strs[i]);
        if (s == NULL) {
            values_clear(&vs);
            return -1;
        }
        /* :count counts only non-empty strings (RFC 5229 5) */
        if (node->match == MATCH_COUNT && s[0] == '\0')
            free(s);
        else
            values_add(&vs, s);
    }
    int rc = match_values(run, node, &vs, node->pos[1]);
    values_clear(&vs);
    return rc;
}

static void split_flags(const char *flags, struct values *vs)
{
    for (const char *p = flags; *p != '\0';) {
        size_t len = strcspn(p, " ");
        if (len > 0)
            values_add(vs, bytes_dup(p, len));
        p += len;
        while (*p == ' ')
            p++;
    }
}

/* test_hasflag - RFC 5232 4: each flag of the variables (or the internal
 * one) against each flag of the keys. */
static int test_hasflag(struct sieve_run *run, const struct sieve_node *node)
{
    struct values vs = {0};
    if (node->pos[0] != NULL) {
        for (size_t i = 0; i < node->pos[0]->nstrs; i++)
            split_flags(sieve_run_variable(run, node->pos[0]->strs[i]), &vs);
    } else {
        split_flags(run->flags != NULL ? run->flags : "", &vs);
    }
    int rc = match_values(run, node, &vs, node->pos[1]);
    values_clear(&vs);
    return rc;
}

static int test_mailboxexists(struct sieve_run *run, const struct sieve_node *node)
{
    for (size_t i = 0; i < node->pos[0]->nstrs; i++) {
        char *name = sieve_run_expand(run, node, node->pos[0]->strs[i]);
        if (name == NULL)
            return -1;
        int e = run->env->mailbox_exists != NULL ? run->env->mailbox_exists(run->env->ctx, name)
                : strcasecmp(name, "INBOX") == 0 ? 1
                                                 : 0;
        free(name);
        if (e < 0) {
            run->tempfail = true;
            sieve_run_fail(run, node, "cannot tell now whether the folder exists");
            return -1;
        }
        if (e == 0)
            return 0;
    }
    return 1;
}

int sieve_test_eval(struct sieve_run *run, const struct sieve_node *t)
{
    if (++run->budget.used > run->budget.max) {
        sieve_run_fail(run, t, "script took more than %zu steps", run->budget.max);
        return -1;
    }
    switch (t->id) {
    case TEST_TRUE:
        return 1;
    case TEST_FALSE:
        return 0;
    case TEST_NOT: {
        int r = sieve_test_eval(run, t->tests[0]);
        return r < 0 ? -1 : !r;
    }
    case TEST_ALLOF:
    case TEST_ANYOF:
        /* evaluated left to right, stopping when the answer is known (5.2, 5.3) */
        for (size_t i = 0; i < t->ntests; i++) {
            int r = sieve_test_eval(run, t->tests[i]);
            if (r < 0)
                return -1;
            if (t->id == TEST_ANYOF && r)
                return 1;
            if (t->id == TEST_ALLOF && !r)
                return 0;
        }
        return t->id == TEST_ALLOF ? 1 : 0;
    case TEST_SIZE:
        if (t->slot[SLOT_OVER] != NULL)
            return run->msg->size > t->slot[SLOT_OVER]->num;
        return run->msg->size < t->slot[SLOT_UNDER]->num;
    case TEST_EXISTS:
        return test_exists(run, t);
    case TEST_HEADER:
    case TEST_ADDRESS:
        return test_header_or_address(run, t);
    case TEST_ENVELOPE:
        return test_envelope(run, t);
    case TEST_BODY:
        return test_body(run, t);
    case TEST_STRING:
        return test_string(run, t);
    case TEST_HASFLAG:
        return test_hasflag(run, t);
    case TEST_MAILBOXEXISTS:
        return test_mailboxexists(run, t);
    case TEST_DATE:
    case TEST_CURRENTDATE:
        return sieve_date_test(run, t, match_array);
    default:
        sieve_run_fail(run, t, "test not supported");
        return -1;
    }
}
