/* delivery/sieve/sieve_result.c - a result as text, one action a line with
 * tab-separated fields (kind, target, then key=value): for logs, for
 * "dirmailctl sieve test" and for the tests' expected actions. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "delivery/sieve/sieve.h"
#include "lib/buf.h"

static void append_escaped(struct buf *b, const char *s)
{
    for (; s != NULL && *s != '\0'; s++) {
        if (*s == '\r')
            continue;
        if (*s == '\n')
            buf_append(b, "\\n", 2);
        else if (*s == '\t')
            buf_append(b, "\\t", 2);
        else
            buf_append(b, s, 1);
    }
}

char *sieve_result_format(const struct sieve_result *r)
{
    struct buf b = BUF_INIT;
    buf_append(&b, "", 0);
    if (r->status != SIEVE_RUN_OK)
        buf_printf(&b, "%s\t%s\n", r->status == SIEVE_RUN_TEMPFAIL ? "tempfail" : "error",
                   r->error != NULL ? r->error : "?");
    for (size_t i = 0; i < r->count; i++) {
        const struct sieve_action *a = &r->actions[i];
        buf_printf(&b, "%s\t", sieve_action_kind_name(a->kind));
        append_escaped(&b, a->target);
        if (a->implicit)
            buf_printf(&b, "\timplicit");
        if (a->copy)
            buf_printf(&b, "\tcopy");
        if (a->create)
            buf_printf(&b, "\tcreate");
        if (a->flag_count > 0) {
            buf_printf(&b, "\tflags=");
            for (size_t f = 0; f < a->flag_count; f++)
                buf_printf(&b, "%s%s", f > 0 ? " " : "", a->flags[f]);
        }
        if (a->kind == SIEVE_ACT_VACATION) {
            buf_printf(&b, "\tperiod=%lu\tsubject=", a->period);
            append_escaped(&b, a->subject);
            buf_printf(&b, "\tmime=%d\tfrom=", a->mime ? 1 : 0);
            append_escaped(&b, a->from);
            buf_printf(&b, "\treason=");
            append_escaped(&b, a->reason);
        }
        buf_append(&b, "\n", 1);
    }
    buf_append(&b, "", 1);
    char *out = buf_ptr(&b) != NULL ? strdup(buf_ptr(&b)) : NULL;
    buf_release(&b);
    return out;
}
