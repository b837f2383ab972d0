/* reader/imap_esearch.c - how SEARCH answers (imap_search.c finds the
 * messages): the classic "* SEARCH n n n" line written as the numbers come,
 * or, after RETURN (...), RFC 4731's "* ESEARCH (TAG "t") [UID] MIN MAX
 * COUNT ALL" with ALL as a compact sequence set; RETURN () means ALL
 * (section 3.1). MIN, MAX and ALL are left out when nothing matched,
 * COUNT 0 is not. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/array.h"
#include "lib/conn.h"
#include "reader/imap_session_internal.h"

bool imap_search_return(struct imap *p, const struct imap_command *cmd, const struct imap_arg **a,
                        unsigned *ret_r)
{
    *ret_r = 0;
    if (*a == NULL || !imap_arg_is(*a, "RETURN"))
        return true;
    const struct imap_arg *opts = imap_arg_next(cmd, *a);
    if (opts >= cmd->args + cmd->nargs || opts->type != IMAP_ARG_LIST) {
        imap_bad(p, "Usage: SEARCH RETURN (options) keys");
        return false;
    }
    static const struct {
        const char *name;
        unsigned bit;
    } names[] = {{"MIN", IMAP_SEARCH_MIN},
                 {"MAX", IMAP_SEARCH_MAX},
                 {"COUNT", IMAP_SEARCH_COUNT},
                 {"ALL", IMAP_SEARCH_ALL}};
    for (size_t i = 0; i < opts->count; i++) {
        const struct imap_arg *o = imap_list_elem(cmd, opts, i);
        unsigned bit = 0;
        for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
            if (imap_arg_is(o, names[k].name))
                bit = names[k].bit;
        if (bit == 0) {
            imap_bad(p, "Unknown SEARCH return option");
            return false;
        }
        *ret_r |= bit;
    }
    *ret_r |= IMAP_SEARCH_EXTENDED | (opts->count == 0 ? IMAP_SEARCH_ALL : 0);
    *a = imap_arg_next(cmd, opts);
    return true;
}

void imap_search_out_begin(struct imap_search_out *o, struct imap *p, unsigned ret, bool uid)
{
    memset(o, 0, sizeof *o);
    o->p = p;
    o->ret = ret;
    o->uid = uid;
    if (!(ret & IMAP_SEARCH_EXTENDED))
        conn_printf(p->conn, "* SEARCH");
}

void imap_search_out_add(struct imap_search_out *o, uint32_t n)
{
    if (!(o->ret & IMAP_SEARCH_EXTENDED)) {
        conn_printf(o->p->conn, " %u", (unsigned)n);
        return;
    }
    if (o->count == 0)
        o->min = n;
    o->max = n;
    o->count++;
    if (!(o->ret & IMAP_SEARCH_ALL))
        return;
    /* ALL as ranges: the numbers come in increasing order */
    if (o->ranges > 0 && o->range[o->ranges - 1].hi + 1 == n) {
        o->range[o->ranges - 1].hi = n;
        return;
    }
    if (ARRAY_RESERVE(&o->range, &o->alloc, o->ranges + 1, 16) < 0) {
        o->failed = true;
        return;
    }
    o->range[o->ranges++] = (struct imap_seq_range){n, n};
}

bool imap_search_out_end(struct imap_search_out *o)
{
    struct conn *conn = o->p->conn;
    bool ok = !o->failed;
    if (o->ret & IMAP_SEARCH_EXTENDED) {
        /* RFC 4731 3.1: the tag of the command this answers */
        conn_printf(conn, "* ESEARCH (TAG \"%s\")%s", o->p->tag, o->uid ? " UID" : "");
        if ((o->ret & IMAP_SEARCH_MIN) && o->count > 0)
            conn_printf(conn, " MIN %u", (unsigned)o->min);
        if ((o->ret & IMAP_SEARCH_MAX) && o->count > 0)
            conn_printf(conn, " MAX %u", (unsigned)o->max);
        if (o->ret & IMAP_SEARCH_COUNT)
            conn_printf(conn, " COUNT %zu", o->count);
        if ((o->ret & IMAP_SEARCH_ALL) && o->count > 0 && ok) {
            conn_printf(conn, " ALL ");
            for (size_t i = 0; i < o->ranges; i++) {
                const struct imap_seq_range *r = &o->range[i];
                if (r->lo == r->hi)
                    conn_printf(conn, "%s%u", i > 0 ? "," : "", (unsigned)r->lo);
                else
                    conn_printf(conn, "%s%u:%u", i > 0 ? "," : "", (unsigned)r->lo,
                                (unsigned)r->hi);
            }
        }
    }
    conn_printf(conn, "\r\n");
    free(o->range);
    o->range = NULL;
    return ok;
}
