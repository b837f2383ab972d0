/* delivery/sieve/sieve_match.c - comparators and match types. :matches is
 * the classic iterative wildcard match: on a mismatch only the last "*"
 * seen takes one more character, which finds a match whenever there is one
 * and gives each earlier "*" its shortest extent, as RFC 5229 3.2's
 * example expects ("[*] *" on "[a] [b] c" gives "a" and "[b] c"). */
#include "config.h"

#include "delivery/sieve/sieve_match.h"
#include "lib/buf.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void sieve_captures_clear(struct sieve_captures *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->v[i]);
    c->n = 0;
}

/* fold - i;ascii-casemap maps a-z to A-Z (RFC 4790 9.2), which matters
 * for ordering (:value): "[" sorts after "B" but before "b". */
static unsigned char fold(enum sieve_comparator cmp, unsigned char c)
{
    if (cmp == CMP_CASEMAP && c >= 'a' && c <= 'z')
        return (unsigned char)(c - 32);
    return c;
}

static bool spend(struct sieve_budget *b, size_t n)
{
    b->used += n;
    return b->used <= b->max;
}

/* utf8_len - octets of the character starting with c ("?" is one character). */
static size_t utf8_len(const unsigned char *s, size_t left)
{
    size_t n = s[0] < 0x80             ? 1
               : (s[0] & 0xe0) == 0xc0 ? 2
               : (s[0] & 0xf0) == 0xe0 ? 3
               : (s[0] & 0xf8) == 0xf0 ? 4
                                       : 1;
    if (n > left)
        return 1;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 1;
    return n;
}

/* numeric - RFC 4790 9.1: the leading digits' value; none is infinity. */
static int numeric_cmp(const char *a, const char *b)
{
    bool ainf = !(*a >= '0' && *a <= '9'), binf = !(*b >= '0' && *b <= '9');
    if (ainf || binf)
        return ainf == binf ? 0 : ainf ? 1 : -1;
    while (*a == '0')
        a++;
    while (*b == '0')
        b++;
    size_t la = 0, lb = 0;
    while (a[la] >= '0' && a[la] <= '9')
        la++;
    while (b[lb] >= '0' && b[lb] <= '9')
        lb++;
    if (la != lb)
        return la < lb ? -1 : 1;
    int c = memcmp(a, b, la);
    return c < 0 ? -1 : c > 0 ? 1 : 0;
}

static int order(enum sieve_comparator cmp, const char *a, const char *b)
{
    if (cmp == CMP_NUMERIC)
        return numeric_cmp(a, b);
    for (;; a++, b++) {
        unsigned char x = fold(cmp, (unsigned char)*a), y = fold(cmp, (unsigned char)*b);
        if (x != y)
            return x < y ? -1 : 1;
        if (x == 0)
            return 0;
    }
}

static bool relation_holds(enum sieve_relation rel, int c)
{
    switch (rel) {
    case REL_GT:
        return c > 0;
    case REL_GE:
        return c >= 0;
    case REL_LT:
        return c < 0;
    case REL_LE:
        return c <= 0;
    case REL_EQ:
        return c == 0;
    case REL_NE:
        return c != 0;
    }
    return false;
}

static int contains(enum sieve_comparator cmp, const char *value, const char *key,
                    struct sieve_budget *b)
{
    size_t vl = strlen(value), kl = strlen(key);
    if (kl == 0)
        return 1;
    for (size_t i = 0; i + kl <= vl; i++) {
        size_t j = 0;
        while (j < kl && fold(cmp, (unsigned char)value[i + j]) == fold(cmp, (unsigned char)key[j]))
            j++;
        if (!spend(b, j + 1))
            return -1;
        if (j == kl)
            return 1;
    }
    return 0;
}

/* A :matches pattern, its "\" escapes resolved (RFC 5228 2.7.1). */
enum { P_LIT, P_ONE, P_STAR };
struct pat {
    unsigned char *kind, *ch;
    size_t n;
};

static int compile_pattern(const char *key, struct pat *p)
{
    size_t kl = strlen(key);
    p->kind = malloc(kl + 1);
    p->ch = malloc(kl + 1);
    p->n = 0;
    if (p->kind == NULL || p->ch == NULL)
        return -1;
    for (size_t i = 0; i < kl; i++) {
        unsigned char c = (unsigned char)key[i];
        if (c == '\\' && i + 1 < kl) {
            p->kind[p->n] = P_LIT;
            p->ch[p->n++] = (unsigned char)key[++i];
        } else if (c == '*') {
            if (p->n > 0 && p->kind[p->n - 1] == P_STAR)
                continue; /* "**" is "*" */
            p->kind[p->n] = P_STAR;
            p->ch[p->n++] = 0;
        } else {
            p->kind[p->n] = c == '?' ? P_ONE : P_LIT;
            p->ch[p->n++] = c;
        }
    }
    return 0;
}

static int glob(enum sieve_comparator cmp, const char *value, const char *key,
                struct sieve_captures *caps, struct sieve_budget *b)
{
    struct pat p;
    int result = -1;
    size_t vl = strlen(value);
    size_t *at = NULL;
    if (compile_pattern(key, &p) < 0 || (at = calloc(p.n + 1, sizeof *at)) == NULL)
        goto out;
    size_t vi = 0, pi = 0, star_pi = SIZE_MAX, star_vi = 0;
    result = 0;
    while (vi < vl || pi < p.n) {
        if (!spend(b, 1)) {
            result = -1;
            goto out;
        }
        if (pi < p.n && p.kind[pi] == P_STAR) {
            at[pi] = vi;
            star_pi = pi++;
            star_vi = vi;
            continue;
        }
        if (pi < p.n && vi < vl) {
            size_t step = 0;
            if (p.kind[pi] == P_ONE)
                step = utf8_len((const unsigned char *)value + vi, vl - vi);
            else if (fold(cmp, p.ch[pi]) == fold(cmp, (unsigned char)value[vi]))
                step = 1;
            if (step > 0) {
                at[pi++] = vi;
                vi += step;
                continue;
            }
        }
        if (star_pi == SIZE_MAX || star_vi >= vl)
            goto out;
        /* the last star takes one more character and the rest starts over */
        star_vi += utf8_len((const unsigned char *)value + star_vi, vl - star_vi);
        vi = star_vi;
        pi = star_pi + 1;
    }
    result = 1;
    if (caps != NULL) {
        sieve_captures_clear(caps);
        caps->v[caps->n++] = strdup(value);
        for (size_t i = 0; i < p.n && caps->n < SIEVE_CAPTURES_MAX; i++) {
            if (p.kind[i] == P_LIT)
                continue;
            size_t start = at[i];
            size_t end = p.kind[i] == P_ONE
                             ? start + utf8_len((const unsigned char *)value + start, vl - start)
                         : i + 1 < p.n ? at[i + 1]
                                       : vl;
            caps->v[caps->n++] = bytes_dup(value + start, end - start);
        }
        for (size_t i = 0; i < caps->n; i++)
            if (caps->v[i] == NULL)
                result = -1;
    }
out:
    free(p.kind);
    free(p.ch);
    free(at);
    return result;
}

int sieve_match(enum sieve_match_type match, enum sieve_comparator cmp, enum sieve_relation rel,
                const char *value, const char *key, struct sieve_captures *caps,
                struct sieve_budget *budget)
{
    switch (match) {
    case MATCH_IS:
        if (!spend(budget, strlen(key) + 1))
            return -1;
        return order(cmp, value, key) == 0;
    case MATCH_CONTAINS:
        return contains(cmp, value, key, budget);
    case MATCH_MATCHES:
        return glob(cmp, value, key, caps, budget);
    case MATCH_VALUE:
    case MATCH_COUNT:
        if (!spend(budget, strlen(key) + 1))
            return -1;
        return relation_holds(rel, order(cmp, value, key));
    }
    return 0;
}
