/* proto/content_policy.c - see content_policy.h. */
#include "config.h"

#include "proto/content_policy.h"

#include <string.h>

#include "conf/conf.h"

void content_limits_from_config(struct content_limits *out, const struct config_limits *lim)
{
    switch (lim->message_nul) {
    case MESSAGE_NUL_STRIP:
        out->nul = CONTENT_NUL_STRIP;
        break;
    case MESSAGE_NUL_ACCEPT:
        out->nul = CONTENT_NUL_ACCEPT;
        break;
    case MESSAGE_NUL_REJECT:
    default:
        out->nul = CONTENT_NUL_REJECT;
        break;
    }
    out->header_max_size = lim->header_max_size;
    out->header_max_count = lim->header_max_count;
}

void content_policy_init(struct content_policy *p, const struct content_limits *limits)
{
    memset(p, 0, sizeof *p);
    if (limits != NULL) {
        p->limits = *limits;
    } else {
        p->limits.nul = CONTENT_NUL_REJECT;
        p->limits.header_max_size = CONTENT_HEADER_MAX_SIZE_DEFAULT;
        p->limits.header_max_count = CONTENT_HEADER_MAX_COUNT_DEFAULT;
    }
    p->verdict = CONTENT_OK;
    p->header = CONTENT_H_LINE_START;
}

/* is_ftext - a field-name octet (RFC 5322 3.6.8: printable US-ASCII but ':'). */
static bool is_ftext(unsigned char c)
{
    return c >= 33 && c <= 126 && c != ':';
}

static bool is_wsp(unsigned char c)
{
    return c == ' ' || c == '\t';
}

/* header_octet - follow the header section over one octet (its CR and LF
 * already known to be a proper CRLF) and apply its limits. */
static void header_octet(struct content_policy *p, unsigned char c)
{
    if (p->header == CONTENT_H_BODY)
        return;
    /* Every octet up to and including the empty line's LF counts; a line
     * that turns out not to be a field counts up to where that showed. */
    if (++p->header_size > p->limits.header_max_size) {
        p->verdict = CONTENT_HEADER_TOO_BIG;
        return;
    }
    bool field = false;
    switch (p->header) {
    case CONTENT_H_LINE_START:
        if (c == '\r')
            break; /* an empty line when its LF follows, bare otherwise */
        if (c == '\n')
            p->header = CONTENT_H_BODY; /* RFC 5322 2.1: the empty line ends it */
        else if (is_wsp(c))
            p->header = CONTENT_H_VALUE; /* folded (RFC 5322 2.2.3) */
        else if (is_ftext(c))
            p->header = CONTENT_H_NAME;
        else
            p->header = CONTENT_H_BODY; /* a body without the empty line */
        break;
    case CONTENT_H_NAME:
        if (c == ':')
            field = true;
        else if (is_wsp(c))
            p->header = CONTENT_H_NAME_WSP; /* obsolete "Name :" (RFC 5322 4.5) */
        else if (!is_ftext(c))
            p->header = CONTENT_H_BODY;
        break;
    case CONTENT_H_NAME_WSP:
        if (c == ':')
            field = true;
        else if (!is_wsp(c))
            p->header = CONTENT_H_BODY;
        break;
    case CONTENT_H_VALUE:
        if (c == '\n')
            p->header = CONTENT_H_LINE_START;
        break;
    case CONTENT_H_BODY:
        break;
    }
    if (field) {
        p->header = CONTENT_H_VALUE;
        if (++p->header_count > p->limits.header_max_count)
            p->verdict = CONTENT_TOO_MANY_HEADERS;
    }
}

/* put - write a run of kept octets; false (and the verdict) when the writer failed. */
static bool put(struct content_policy *p, const char *data, size_t len, content_write_fn *write,
                void *ctx)
{
    if (len == 0 || write(ctx, data, len) == 0)
        return true;
    p->verdict = CONTENT_WRITE_FAILED;
    return false;
}

enum content_verdict content_policy_feed(struct content_policy *p, const char *data, size_t len,
                                         content_write_fn *write, void *ctx)
{
    if (p->verdict != CONTENT_OK)
        return p->verdict;
    size_t run = 0; /* data[run..i) is kept and not yet written */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)data[i];
        /* RFC 5321 2.3.8: CR and LF only as CRLF. p->cr carries a CR across
         * calls, so a CRLF cut between two BDAT chunks is a proper one. This
         * comes before the NUL rule: "CR NUL LF" is judged as sent, bare as
         * DATA's line reader finds it, never made a CRLF by stripping. */
        if (p->cr != (c == '\n')) {
            p->verdict = CONTENT_BARE_EOL;
            return p->verdict;
        }
        p->cr = c == '\r';
        if (c == '\0') {
            if (p->limits.nul == CONTENT_NUL_REJECT) {
                p->verdict = CONTENT_NUL;
                return p->verdict;
            }
            if (p->limits.nul == CONTENT_NUL_STRIP) {
                /* gone as if never sent, from the header limits too */
                if (!put(p, data + run, i - run, write, ctx))
                    return p->verdict;
                run = i + 1;
                continue;
            }
        }
        header_octet(p, c);
        if (p->verdict != CONTENT_OK)
            return p->verdict;
    }
    put(p, data + run, len - run, write, ctx);
    return p->verdict;
}

enum content_verdict content_policy_end(struct content_policy *p)
{
    if (p->verdict == CONTENT_OK && p->cr)
        p->verdict = CONTENT_BARE_EOL;
    return p->verdict;
}

const char *content_nul_name(enum content_nul nul)
{
    switch (nul) {
    case CONTENT_NUL_REJECT:
        return "reject";
    case CONTENT_NUL_STRIP:
        return "strip";
    case CONTENT_NUL_ACCEPT:
        return "accept";
    }
    return "unknown";
}

const char *content_verdict_name(enum content_verdict v)
{
    switch (v) {
    case CONTENT_OK:
        return "ok";
    case CONTENT_NUL:
        return "nul";
    case CONTENT_BARE_EOL:
        return "bare-eol";
    case CONTENT_HEADER_TOO_BIG:
        return "header-too-big";
    case CONTENT_TOO_MANY_HEADERS:
        return "too-many-headers";
    case CONTENT_WRITE_FAILED:
        return "write-failed";
    }
    return "unknown";
}
