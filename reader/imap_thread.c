/* reader/imap_thread.c - THREAD and UID THREAD (RFC 5256 3) with the
 * ORDEREDSUBJECT and REFERENCES algorithms over the keys imap_sort.h
 * reads, and the thread list of RFC 5256 4 written out. Message-IDs are
 * looked up in one sorted table made before the links, so no hash table. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "lib/conn.h"
#include "reader/imap_session_internal.h"
#include "reader/imap_sort.h"

/* References are followed up to this many per message; a longer chain is
 * cut at its last ones (the nearest ancestors). */
#define THREAD_REFS_MAX 256
/* The tree is walked recursively this deep at most (each level a small
 * frame); below that a thread is sorted no further, its dummies stay, and
 * it is written flat (write_flat). */
#define THREAD_DEPTH_MAX 500

struct container {
    long msg; /* index into the messages, -1: a dummy */
    long parent, child, next;
    int64_t date; /* its message's sent date, or its first child's */
};

struct threads {
    struct imap_sort_msg *msgs;
    size_t nmsgs;
    struct container *c;
    size_t n;
    long *roots;
    size_t nroots;
};

/* ---- the message-id table ---- */

struct id_entry {
    const char *id; /* points into a message's fields */
    size_t len;
    long container;
};

/* next_id - the next "<...>" of s from *pos: its start and length. */
static bool next_id(const char *s, size_t *pos, const char **id_r, size_t *len_r)
{
    const char *lt = strchr(s + *pos, '<');
    const char *gt = lt != NULL ? strchr(lt + 1, '>') : NULL;
    if (gt == NULL)
        return false;
    *id_r = lt + 1;
    *len_r = (size_t)(gt - lt - 1);
    *pos = (size_t)(gt + 1 - s);
    return true;
}

static int id_cmp(const void *x, const void *y)
{
    const struct id_entry *a = x, *b = y;
    size_t n = a->len < b->len ? a->len : b->len;
    int r = memcmp(a->id, b->id, n);
    return r != 0 ? r : a->len < b->len ? -1 : a->len > b->len;
}

static long id_find(struct id_entry *ids, size_t n, const char *id, size_t len)
{
    struct id_entry key = {id, len, -1};
    struct id_entry *e = bsearch(&key, ids, n, sizeof *ids, id_cmp);
    return e != NULL ? (long)(e - ids) : -1;
}

/* ---- links ---- */

/* is_ancestor - a is c or above it. */
static bool is_ancestor(const struct threads *t, long a, long c)
{
    for (size_t steps = 0; c >= 0 && steps <= t->n; steps++, c = t->c[c].parent)
        if (c == a)
            return true;
    return false;
}

static void unlink_child(struct threads *t, long c)
{
    long p = t->c[c].parent;
    if (p < 0)
        return;
    long *at = &t->c[p].child;
    while (*at >= 0 && *at != c)
        at = &t->c[*at].next;
    if (*at == c)
        *at = t->c[c].next;
    t->c[c].parent = -1;
    t->c[c].next = -1;
}

/* add_child - c last among p's children. */
static void add_child(struct threads *t, long p, long c)
{
    unlink_child(t, c);
    t->c[c].parent = p;
    t->c[c].next = -1;
    long *at = &t->c[p].child;
    while (*at >= 0)
        at = &t->c[*at].next;
    *at = c;
}

static long new_container(struct threads *t, long msg)
{
    t->c[t->n] = (struct container){.msg = msg, .parent = -1, .child = -1, .next = -1};
    return (long)t->n++;
}

/* ---- sorting siblings by sent date (RFC 5256 REFERENCES steps 4, 6) ---- */

static int by_date(const void *x, const void *y, void *arg)
{
    const struct threads *t = arg;
    const struct container *a = &t->c[*(const long *)x];
    const struct container *b = &t->c[*(const long *)y];
    if (a->date != b->date)
        return a->date < b->date ? -1 : 1;
    /* ties: sequence order; a dummy by its first child's */
    const struct container *ma = a, *mb = b;
    while (ma->msg < 0 && ma->child >= 0)
        ma = &t->c[ma->child];
    while (mb->msg < 0 && mb->child >= 0)
        mb = &t->c[mb->child];
    uint32_t sa = ma->msg >= 0 ? t->msgs[ma->msg].seq : 0;
    uint32_t sb = mb->msg >= 0 ? t->msgs[mb->msg].seq : 0;
    return sa < sb ? -1 : sa > sb;
}

/* sort_children - c's children (and theirs) by date; c's date is its
 * message's, or a dummy's its first child's. false: out of memory. */
static bool sort_children(struct threads *t, long c, unsigned depth)
{
    size_t n = 0;
    for (long k = t->c[c].child; k >= 0; k = t->c[k].next) {
        if (depth < THREAD_DEPTH_MAX && !sort_children(t, k, depth + 1))
            return false;
        n++;
    }
    if (n > 1) {
        long *kids = malloc(n * sizeof *kids);
        if (kids == NULL)
            return false;
        size_t i = 0;
        for (long k = t->c[c].child; k >= 0; k = t->c[k].next)
            kids[i++] = k;
        qsort_r(kids, n, sizeof *kids, by_date, t);
        t->c[c].child = kids[0];
        for (i = 0; i < n; i++)
            t->c[kids[i]].next = i + 1 < n ? kids[i + 1] : -1;
        free(kids);
    }
    if (t->c[c].msg >= 0)
        t->c[c].date = t->msgs[t->c[c].msg].sent;
    else if (t->c[c].child >= 0)
        t->c[c].date = t->c[t->c[c].child].date;
    return true;
}

/* ---- REFERENCES ---- */

/* prune - RFC 5256 REFERENCES step 3 for c's children: dummies without
 * children go, those with children give them to c (a root dummy with
 * several children stays: that is decided by the caller). */
static void prune(struct threads *t, long c, unsigned depth)
{
    long k = t->c[c].child;
    while (k >= 0) {
        long next = t->c[k].next;
        if (depth < THREAD_DEPTH_MAX)
            prune(t, k, depth + 1);
        if (t->c[k].msg < 0) {
            /* its children take its place, in order */
            long first = t->c[k].child;
            long *at = &t->c[c].child;
            while (*at != k)
                at = &t->c[*at].next;
            long last = -1;
            for (long g = first; g >= 0; g = t->c[g].next) {
                t->c[g].parent = c;
                last = g;
            }
            if (first >= 0) {
                *at = first;
                t->c[last].next = next;
            } else {
                *at = next;
            }
        }
        k = next;
    }
}

static const char *subject_of(const struct threads *t, long c)
{
    if (t->c[c].msg < 0)
        c = t->c[c].child;
    return c >= 0 && t->c[c].msg >= 0 ? t->msgs[t->c[c].msg].subject : "";
}

static bool is_reply(const struct threads *t, long c)
{
    return t->c[c].msg >= 0 && t->msgs[t->c[c].msg].reply;
}

/* by_subject - root positions by their subject, then position. */
static int by_subject(const void *x, const void *y, void *arg)
{
    const struct threads *t = arg;
    long a = *(const long *)x, b = *(const long *)y;
    int r = strcmp(subject_of(t, t->roots[a]), subject_of(t, t->roots[b]));
    return r != 0 ? r : a < b ? -1 : a > b;
}

/* group_subjects - RFC 5256 REFERENCES step 5: roots of one base subject
 * join one thread. The roots sorted by subject stand for its subject
 * table: chosen[i] is the position of the root the table keeps for root
 * i's subject (5.B: a dummy over a message, a message that is no reply
 * over one that is, else the first). */
static bool group_subjects(struct threads *t)
{
    size_t n = t->nroots;
    long *sorted = malloc((n > 0 ? n : 1) * sizeof *sorted);
    long *chosen = malloc((n > 0 ? n : 1) * sizeof *chosen);
    if (sorted == NULL || chosen == NULL) {
        free(sorted);
        free(chosen);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        sorted[i] = (long)i;
        chosen[i] = -1;
    }
    qsort_r(sorted, n, sizeof *sorted, by_subject, t);
    for (size_t g = 0; g < n;) {
        const char *s = subject_of(t, t->roots[sorted[g]]);
        size_t h = g + 1;
        while (h < n && strcmp(subject_of(t, t->roots[sorted[h]]), s) == 0)
            h++;
        long best = sorted[g];
        for (size_t j = g + 1; j < h; j++) {
            long b = t->roots[best], r = t->roots[sorted[j]];
            if ((t->c[r].msg < 0 && t->c[b].msg >= 0) ||
                (t->c[b].msg >= 0 && t->c[r].msg >= 0 && is_reply(t, b) && !is_reply(t, r)))
                best = sorted[j];
        }
        for (size_t j = g; j < h && s[0] != '\0'; j++)
            chosen[sorted[j]] = best;
        g = h;
    }
    free(sorted);
    /* 5.C: each other root joins its subject's choice */
    for (size_t i = 0; i < t->nroots; i++) {
        if (chosen[i] < 0 || chosen[i] == (long)i || t->roots[i] < 0)
            continue;
        long *slot = &t->roots[chosen[i]];
        long old = *slot, c = t->roots[i];
        t->roots[i] = -1;
        if (t->c[old].msg < 0 && t->c[c].msg < 0) {
            while (t->c[c].child >= 0)
                add_child(t, old, t->c[c].child);
        } else if (t->c[old].msg < 0) {
            add_child(t, old, c);
        } else if (is_reply(t, c) && !is_reply(t, old)) {
            add_child(t, old, c);
        } else {
            long d = new_container(t, -1);
            add_child(t, d, old);
            add_child(t, d, c);
            *slot = d;
        }
    }
    free(chosen);
    size_t kept = 0;
    for (size_t i = 0; i < n; i++)
        if (t->roots[i] >= 0)
            t->roots[kept++] = t->roots[i];
    t->nroots = kept;
    return true;
}

static bool thread_references(struct threads *t)
{
    /* every id named, sorted, one container each (step 1) */
    size_t nids = 0, cap = t->nmsgs * 2 + 1;
    struct id_entry *ids = malloc(cap * sizeof *ids);
    if (ids == NULL)
        return false;
    for (size_t m = 0; m < t->nmsgs; m++) {
        const char *fields[] = {t->msgs[m].message_id, t->msgs[m].references,
                                t->msgs[m].in_reply_to};
        for (size_t f = 0; f < 3; f++) {
            size_t pos = 0, len;
            const char *id;
            for (unsigned k = 0; k < THREAD_REFS_MAX && next_id(fields[f], &pos, &id, &len); k++) {
                if (nids == cap) {
                    struct id_entry *more = realloc(ids, cap * 2 * sizeof *ids);
                    if (more == NULL) {
                        free(ids);
                        return false;
                    }
                    ids = more;
                    cap *= 2;
                }
                ids[nids++] = (struct id_entry){id, len, -1};
            }
        }
    }
    qsort(ids, nids, sizeof *ids, id_cmp);
    size_t u = 0;
    for (size_t i = 0; i < nids; i++)
        if (u == 0 || id_cmp(&ids[u - 1], &ids[i]) != 0)
            ids[u++] = ids[i];
    nids = u;
    /* containers: one an id, one a message without its own id, and room
     * for step 5's dummies (at most one a root) */
    t->c = malloc((nids + 2 * t->nmsgs + 1) * sizeof *t->c);
    t->roots = malloc((nids + t->nmsgs + 1) * sizeof *t->roots);
    if (t->c == NULL || t->roots == NULL) {
        free(ids);
        return false;
    }
    for (size_t i = 0; i < nids; i++)
        ids[i].container = new_container(t, -1);
    for (size_t m = 0; m < t->nmsgs; m++) {
        struct imap_sort_msg *msg = &t->msgs[m];
        /* 1.B: its own container, unless its id is missing or taken */
        size_t pos = 0, len;
        const char *id;
        long own = -1;
        if (next_id(msg->message_id, &pos, &id, &len)) {
            long e = id_find(ids, nids, id, len);
            if (e >= 0 && t->c[ids[e].container].msg < 0)
                own = ids[e].container;
        }
        if (own < 0)
            own = new_container(t, -1);
        t->c[own].msg = (long)m;
        /* 1.A: the References chain, else In-Reply-To's first id */
        const char *refs = msg->references;
        pos = 0;
        if (!next_id(refs, &pos, &id, &len))
            refs = msg->in_reply_to;
        long prev = -1;
        pos = 0;
        for (unsigned k = 0; k < THREAD_REFS_MAX && next_id(refs, &pos, &id, &len); k++) {
            long c = ids[id_find(ids, nids, id, len)].container;
            if (prev >= 0 && c != prev && t->c[c].parent < 0 && !is_ancestor(t, c, prev))
                add_child(t, prev, c);
            prev = c;
            if (refs == msg->in_reply_to)
                break;
        }
        /* 1.C: the last reference is its parent, whatever it had */
        if (prev >= 0 && prev != own && !is_ancestor(t, own, prev))
            add_child(t, prev, own);
        else if (prev == -1 || prev == own || is_ancestor(t, own, prev))
            unlink_child(t, own);
    }
    free(ids);
    /* 2, 3: the roots, pruned; a dummy root with one child gives way to it */
    long top = new_container(t, -1);
    for (size_t i = 0; i + 1 < t->n; i++)
        if (t->c[i].parent < 0)
            add_child(t, top, (long)i);
    for (long k = t->c[top].child; k >= 0;) {
        long next = t->c[k].next;
        prune(t, k, 0);
        k = next;
    }
    t->nroots = 0;
    for (long k = t->c[top].child; k >= 0; k = t->c[k].next) {
        if (t->c[k].msg < 0 && t->c[k].child < 0)
            continue;
        long r = k;
        if (t->c[k].msg < 0 && t->c[t->c[k].child].next < 0)
            r = t->c[k].child;
        t->roots[t->nroots++] = r;
    }
    for (size_t i = 0; i < t->nroots; i++) {
        t->c[t->roots[i]].parent = -1;
        t->c[t->roots[i]].next = -1;
    }
    /* 4: the roots by date */
    for (size_t i = 0; i < t->nroots; i++)
        if (!sort_children(t, t->roots[i], 0))
            return false;
    qsort_r(t->roots, t->nroots, sizeof *t->roots, by_date, t);
    /* 5, 6 */
    if (!group_subjects(t))
        return false;
    for (size_t i = 0; i < t->nroots; i++)
        if (!sort_children(t, t->roots[i], 0))
            return false;
    return true;
}

/* ---- ORDEREDSUBJECT ---- */

static int by_subject_date(const void *x, const void *y)
{
    const struct imap_sort_msg *a = x, *b = y;
    int r = strcmp(a->subject, b->subject);
    if (r != 0)
        return r;
    if (a->sent != b->sent)
        return a->sent < b->sent ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static bool thread_orderedsubject(struct threads *t)
{
    qsort(t->msgs, t->nmsgs, sizeof *t->msgs, by_subject_date);
    t->c = malloc((t->nmsgs + 1) * sizeof *t->c);
    t->roots = malloc((t->nmsgs + 1) * sizeof *t->roots);
    if (t->c == NULL || t->roots == NULL)
        return false;
    for (size_t m = 0; m < t->nmsgs; m++) {
        long c = new_container(t, (long)m);
        t->c[c].date = t->msgs[m].sent;
        if (m > 0 && strcmp(t->msgs[m].subject, t->msgs[m - 1].subject) == 0)
            add_child(t, t->roots[t->nroots - 1], c);
        else
            t->roots[t->nroots++] = c;
    }
    /* threads by their first message's date (RFC 5256 3) */
    qsort_r(t->roots, t->nroots, sizeof *t->roots, by_date, t);
    return true;
}

/* ---- the answer (RFC 5256 4) ---- */

/* next_in - the node after c in a pre-order walk of root's subtree, or -1. */
static long next_in(const struct threads *t, long root, long c)
{
    if (t->c[c].child >= 0)
        return t->c[c].child;
    while (c != root && t->c[c].next < 0)
        c = t->c[c].parent;
    return c == root ? -1 : t->c[c].next;
}

/* write_flat - the messages below c as siblings: a thread deeper than
 * THREAD_DEPTH_MAX (mail can be made to nest without end) is written on
 * without recursion, keeping every message if not every link. lead: what
 * goes before the first (a space after c's own number). */
static void write_flat(struct imap *p, const struct threads *t, long c, bool uid, const char *lead)
{
    size_t count = 0;
    for (long k = next_in(t, c, c); k >= 0; k = next_in(t, c, k))
        count += t->c[k].msg >= 0;
    if (count > 0)
        conn_printf(p->conn, "%s", lead);
    for (long k = next_in(t, c, c); k >= 0; k = next_in(t, c, k)) {
        if (t->c[k].msg < 0)
            continue;
        const struct imap_sort_msg *m = &t->msgs[t->c[k].msg];
        conn_printf(p->conn, count > 1 ? "(%u)" : "%u", (unsigned)(uid ? m->uid : m->seq));
    }
}

/* write_node - RFC 5256 4's thread-members or thread-nested for c: an only
 * child follows its parent after a space (iterated, not recursed), two or
 * more are each in parentheses. */
static void write_node(struct imap *p, const struct threads *t, long c, bool uid, unsigned depth)
{
    for (;;) {
        const struct container *n = &t->c[c];
        if (n->msg >= 0) {
            const struct imap_sort_msg *m = &t->msgs[n->msg];
            conn_printf(p->conn, "%u", (unsigned)(uid ? m->uid : m->seq));
        }
        if (n->child < 0)
            return;
        const char *lead = n->msg >= 0 ? " " : "";
        if (depth >= THREAD_DEPTH_MAX) {
            write_flat(p, t, c, uid, lead);
            return;
        }
        conn_printf(p->conn, "%s", lead);
        if (n->msg >= 0 && t->c[n->child].next < 0) {
            c = n->child;
            continue;
        }
        for (long k = n->child; k >= 0; k = t->c[k].next) {
            conn_printf(p->conn, "(");
            write_node(p, t, k, uid, depth + 1);
            conn_printf(p->conn, ")");
        }
        return;
    }
}

void imap_cmd_thread(struct imap *p, const struct imap_command *cmd, size_t first, bool uid)
{
    const struct imap_arg *a = imap_command_arg(cmd, first);
    bool references;
    if (a != NULL && imap_arg_is(a, "REFERENCES"))
        references = true;
    else if (a != NULL && imap_arg_is(a, "ORDEREDSUBJECT"))
        references = false;
    else {
        imap_bad(p, "Usage: THREAD REFERENCES|ORDEREDSUBJECT charset keys");
        return;
    }
    a = imap_arg_next(cmd, a);
    if (!imap_search_charset(p, cmd, &a, true))
        return;
    struct threads t = {0};
    t.msgs = imap_sort_matches(p, cmd, a, &t.nmsgs);
    if (t.msgs == NULL)
        return;
    bool ok = references ? thread_references(&t) : thread_orderedsubject(&t);
    if (ok) {
        conn_printf(p->conn, "* THREAD ");
        for (size_t i = 0; i < t.nroots; i++) {
            conn_printf(p->conn, "(");
            write_node(p, &t, t.roots[i], uid, 0);
            conn_printf(p->conn, ")");
        }
        conn_printf(p->conn, "\r\n");
    }
    imap_sort_matches_free(t.msgs, t.nmsgs);
    free(t.c);
    free(t.roots);
    if (ok)
        imap_tagged(p, "OK", "%sThread completed", uid ? "UID " : "");
    else
        imap_tagged(p, "NO", "[UNAVAILABLE] Out of memory");
}
