/* reader/imap_search.c - SEARCH and UID SEARCH for the IMAP session (RFC
 * 3501 6.4.4) with the basic keys: flags, NEW/OLD/RECENT, sequence and UID
 * sets, sizes, internal and sent dates, and header, body and text substrings, which
 * imap_search_text.c matches after MIME decoding, case-insensitively in
 * Unicode. The key list is checked once for syntax before any message is
 * read. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/conn.h"
#include "lib/mime_fields.h"
#include "reader/imap_fetch_internal.h"
#include "reader/imap_search_text.h"
#include "reader/imap_session_internal.h"

/* Keys inside each other (NOT, OR, parentheses) are bounded by the parser's
 * depth for lists; NOT and OR chains get this bound. */
#define SEARCH_DEPTH_MAX 32

struct search_ctx {
    struct imap *p;
    const struct imap_command *cmd;
    bool check; /* syntax only: no message */
    size_t seq; /* the message */
    long index; /* in the mailbox */
    int fd;     /* opened when a key needs the file, else -1 */
    bool fd_failed;
    bool bad;
    const char *why;
    struct imap_search_text text; /* the message's decoded text, as far as made */
};

static const struct imap_arg *key_at(struct search_ctx *c, const struct imap_arg *a,
                                     const struct imap_arg *end, bool *match, unsigned depth);

static bool fail(struct search_ctx *c, const char *why)
{
    c->bad = true;
    c->why = why;
    return false;
}

static int file(struct search_ctx *c)
{
    if (c->fd < 0 && !c->fd_failed) {
        char *err = NULL;
        if (mailbox_msg_open(c->p->mailbox, (size_t)c->index, &c->fd, &err) != MAILBOX_OK) {
            c->fd = -1;
            c->fd_failed = true;
        }
        free(err);
    }
    return c->fd;
}

/* day_of - the day number of instant t seen from a zone offset seconds
 * east of UTC (floor division: days before 1970 are negative). */
static int64_t day_of(int64_t t, int offset)
{
    int64_t local = t + offset;
    return local >= 0 ? local / 86400 : -((-local + 86399) / 86400);
}

/* search_day - RFC 3501 9 "date" (1-Feb-1994, also quoted) as a day
 * number (days since 1-Jan-1970); false when it is none. */
static bool search_day(const struct imap_arg *a, int64_t *day_r)
{
    static const char *const months[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                         "jul", "aug", "sep", "oct", "nov", "dec"};
    if (a == NULL || !imap_arg_astring(a) || a->len > 11 || a->len < 10)
        return false;
    int day, year;
    char mon[4];
    if (sscanf(a->str, "%2d-%3s-%4d", &day, mon, &year) != 3 || day < 1 || day > 31 || year < 1900)
        return false;
    int m = -1;
    for (int i = 0; i < 12; i++)
        if (strcasecmp(mon, months[i]) == 0)
            m = i;
    if (m < 0)
        return false;
    struct tm tm = {.tm_mday = day, .tm_mon = m, .tm_year = year - 1900};
    *day_r = day_of((int64_t)timegm(&tm), 0);
    return true;
}

/* internal_day - the day of the message's internal date in the server's
 * time zone, the zone FETCH INTERNALDATE writes it in (Dovecot does the
 * same: a Maildir keeps the instant, not the zone it was APPENDed in). */
static bool internal_day(struct search_ctx *c, int64_t *day_r)
{
    struct stat st;
    int fd = file(c);
    if (fd < 0 || fstat(fd, &st) != 0)
        return false;
    struct tm tm;
    time_t t = st.st_mtime;
    if (localtime_r(&t, &tm) == NULL)
        return false;
    *day_r = day_of((int64_t)t, (int)tm.tm_gmtoff);
    return true;
}

/* sent_day - the day of the Date: field as written, in its own zone (RFC
 * 3501 6.4.4 SENTON: "disregarding time and timezone"); a message without a
 * date that can be read is taken as sent at its internal date, as RFC 5256
 * 2.2 does for SORT DATE. */
static bool sent_day(struct search_ctx *c, int64_t *day_r)
{
    int fd = file(c);
    if (fd < 0)
        return false;
    char *value = imap_search_field(&c->text, fd, "Date");
    int64_t utc;
    int offset;
    bool ok = value != NULL && mime_date_parse(value, &utc, &offset);
    free(value);
    if (ok)
        *day_r = day_of(utc, offset);
    return ok || internal_day(c, day_r);
}

/* needle_match - the search string s against the message's text. */
static bool needle_match(struct search_ctx *c, const char *name, enum imap_search_field how,
                         bool with_header, const struct imap_arg *s)
{
    int fd = file(c);
    if (fd < 0)
        return false;
    size_t nlen;
    char *needle = imap_search_needle(s->str, s->len, &nlen);
    if (needle == NULL)
        return false;
    bool found = name != NULL ? imap_search_header(&c->text, fd, name, how, needle, nlen)
                              : imap_search_body(&c->text, fd, with_header, needle, nlen);
    free(needle);
    return found;
}

/* string_arg - the astring after a key. */
static const struct imap_arg *string_arg(struct search_ctx *c, const struct imap_arg *a,
                                         const struct imap_arg *end)
{
    if (a >= end || !imap_arg_astring(a)) {
        fail(c, "Missing string in SEARCH key");
        return NULL;
    }
    return a;
}

static bool flag_key(const char *k, unsigned flags, bool *match)
{
    static const struct {
        const char *name;
        unsigned bit;
        bool set;
    } keys[] = {
        {"SEEN", MAILBOX_FLAG_SEEN, true},        {"UNSEEN", MAILBOX_FLAG_SEEN, false},
        {"DELETED", MAILBOX_FLAG_TRASHED, true},  {"UNDELETED", MAILBOX_FLAG_TRASHED, false},
        {"FLAGGED", MAILBOX_FLAG_FLAGGED, true},  {"UNFLAGGED", MAILBOX_FLAG_FLAGGED, false},
        {"ANSWERED", MAILBOX_FLAG_REPLIED, true}, {"UNANSWERED", MAILBOX_FLAG_REPLIED, false},
        {"DRAFT", MAILBOX_FLAG_DRAFT, true},      {"UNDRAFT", MAILBOX_FLAG_DRAFT, false},
    };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        if (strcasecmp(k, keys[i].name) == 0) {
            *match = ((flags & keys[i].bit) != 0) == keys[i].set;
            return true;
        }
    }
    return false;
}

/* key_at - evaluate the key at a (before end); the argument after it, or
 * NULL on a syntax error (c->bad). */
static const struct imap_arg *key_at(struct search_ctx *c, const struct imap_arg *a,
                                     const struct imap_arg *end, bool *match, unsigned depth)
{
    struct imap *p = c->p;
    const struct imap_command *cmd = c->cmd;
    *match = false;
    if (depth > SEARCH_DEPTH_MAX)
        return fail(c, "SEARCH keys nested too deep"), NULL;
    if (a >= end)
        return fail(c, "Missing SEARCH key"), NULL;
    const struct mailbox_msg *m = c->check ? NULL : mailbox_msg(p->mailbox, (size_t)c->index);
    unsigned flags = m != NULL ? m->flags : 0;
    if (a->type == IMAP_ARG_LIST) {
        /* parenthesised: all of the keys inside */
        const struct imap_arg *k = a + 1, *lend = cmd->args + a->end;
        bool all = true;
        if (k >= lend)
            return fail(c, "Empty SEARCH list"), NULL;
        while (k < lend) {
            bool mk;
            k = key_at(c, k, lend, &mk, depth + 1);
            if (k == NULL)
                return NULL;
            all = all && mk;
        }
        *match = all;
        return imap_arg_next(cmd, a);
    }
    if (a->type != IMAP_ARG_ATOM)
        return fail(c, "Bad SEARCH key"), NULL;
    const char *k = a->str;
    const struct imap_arg *next = imap_arg_next(cmd, a);
    bool recent = m != NULL && imap_recent_has(p, m->uid);
    if (strcasecmp(k, "ALL") == 0 || strcasecmp(k, "OLD") == 0) {
        *match = toupper(k[0]) == 'A' || !recent;
        return next;
    }
    if (strcasecmp(k, "NEW") == 0 || strcasecmp(k, "RECENT") == 0) {
        *match = recent && (toupper(k[0]) == 'R' || (flags & MAILBOX_FLAG_SEEN) == 0);
        return next;
    }
    if (flag_key(k, flags, match))
        return next;
    if (strcasecmp(k, "KEYWORD") == 0 || strcasecmp(k, "UNKEYWORD") == 0) {
        const struct imap_arg *s = string_arg(c, next, end);
        if (s == NULL)
            return NULL;
        if (!c->check)
            *match = imap_flags_have_keyword(p, flags, s->str, s->len) == (toupper(k[0]) == 'K');
        return imap_arg_next(cmd, s);
    }
    if (strcasecmp(k, "NOT") == 0) {
        bool inner;
        const struct imap_arg *r = key_at(c, next, end, &inner, depth + 1);
        *match = !inner;
        return r;
    }
    if (strcasecmp(k, "OR") == 0) {
        bool m1, m2;
        const struct imap_arg *r = key_at(c, next, end, &m1, depth + 1);
        if (r == NULL)
            return NULL;
        r = key_at(c, r, end, &m2, depth + 1);
        *match = m1 || m2;
        return r;
    }
    if (strcasecmp(k, "UID") == 0) {
        static struct imap_seqset set;
        if (next >= end || next->type != IMAP_ARG_ATOM ||
            !imap_seqset_parse(next->str, next->len, &set))
            return fail(c, "Bad UID set in SEARCH"), NULL;
        if (!c->check)
            *match = imap_seqset_contains(&set, m->uid, p->view[p->view_count - 1].uid);
        return imap_arg_next(cmd, next);
    }
    if (strcasecmp(k, "LARGER") == 0 || strcasecmp(k, "SMALLER") == 0) {
        uint64_t n;
        if (next >= end || !imap_arg_number(next, UINT64_MAX / 2, &n))
            return fail(c, "Bad number in SEARCH"), NULL;
        if (!c->check)
            *match = toupper((unsigned char)k[0]) == 'L' ? m->size > n : m->size < n;
        return imap_arg_next(cmd, next);
    }
    /* BEFORE/ON/SINCE: the internal date; SENT*: the Date: field */
    bool sent = strncasecmp(k, "SENT", 4) == 0;
    const char *when = sent ? k + 4 : k;
    if (strcasecmp(when, "BEFORE") == 0 || strcasecmp(when, "ON") == 0 ||
        strcasecmp(when, "SINCE") == 0) {
        int64_t day, msg_day;
        if (next >= end || !search_day(next, &day))
            return fail(c, "Bad date in SEARCH"), NULL;
        if (!c->check && (sent ? sent_day(c, &msg_day) : internal_day(c, &msg_day))) {
            char u = (char)toupper((unsigned char)when[0]);
            *match = u == 'B' ? msg_day < day : u == 'O' ? msg_day == day : msg_day >= day;
        }
        return imap_arg_next(cmd, next);
    }
    static const char *const header_keys[] = {"FROM", "TO", "CC", "BCC", "SUBJECT"};
    for (size_t i = 0; i < sizeof header_keys / sizeof header_keys[0]; i++) {
        if (strcasecmp(k, header_keys[i]) != 0)
            continue;
        const struct imap_arg *s = string_arg(c, next, end);
        if (s == NULL)
            return NULL;
        if (!c->check)
            /* FROM, TO, CC, BCC: the addresses, not the field's text */
            *match = needle_match(c, header_keys[i],
                                  i < 4 ? IMAP_SEARCH_ADDRESSES : IMAP_SEARCH_TEXT, false, s);
        return imap_arg_next(cmd, s);
    }
    if (strcasecmp(k, "HEADER") == 0) {
        const struct imap_arg *name = string_arg(c, next, end);
        const struct imap_arg *s =
            name != NULL ? string_arg(c, imap_arg_next(cmd, name), end) : NULL;
        if (s == NULL)
            return NULL;
        if (!c->check)
            *match = needle_match(c, name->str, IMAP_SEARCH_TEXT, false, s);
        return imap_arg_next(cmd, s);
    }
    if (strcasecmp(k, "BODY") == 0 || strcasecmp(k, "TEXT") == 0) {
        const struct imap_arg *s = string_arg(c, next, end);
        if (s == NULL)
            return NULL;
        if (!c->check)
            *match =
                needle_match(c, NULL, IMAP_SEARCH_TEXT, toupper((unsigned char)k[0]) == 'T', s);
        return imap_arg_next(cmd, s);
    }
    /* a sequence set */
    static struct imap_seqset set;
    if (imap_seqset_parse(a->str, a->len, &set)) {
        if (!c->check)
            *match = imap_seqset_contains(&set, (uint32_t)c->seq, (uint32_t)p->view_count);
        return next;
    }
    return fail(c, "Unknown SEARCH key"), NULL;
}

bool imap_search_charset(struct imap *p, const struct imap_command *cmd, const struct imap_arg **a,
                         bool required)
{
    const struct imap_arg *end = cmd->args + cmd->nargs;
    if (*a == NULL || *a >= end || (!required && !imap_arg_is(*a, "CHARSET"))) {
        if (required)
            imap_bad(p, "Missing charset");
        return !required;
    }
    const struct imap_arg *cs = required ? *a : imap_arg_next(cmd, *a);
    if (cs >= end || !imap_arg_astring(cs)) {
        imap_bad(p, "Usage: SEARCH [CHARSET name] keys");
        return false;
    }
    if (strcasecmp(cs->str, "US-ASCII") != 0 && strcasecmp(cs->str, "UTF-8") != 0) {
        imap_tagged(p, "NO", "[BADCHARSET (US-ASCII UTF-8)] Unsupported charset");
        return false;
    }
    *a = imap_arg_next(cmd, cs);
    return true;
}

bool imap_search_run(struct imap *p, const struct imap_command *cmd, const struct imap_arg *a,
                     uint32_t **seqs_r, size_t *count_r)
{
    const struct imap_arg *end = cmd->args + cmd->nargs;
    struct search_ctx c = {.p = p, .cmd = cmd, .check = true, .fd = -1};
    if (a == NULL || a >= end) {
        imap_bad(p, "Missing search keys");
        return false;
    }
    for (const struct imap_arg *k = a; k != NULL && k < end;) {
        bool m;
        k = key_at(&c, k, end, &m, 0);
    }
    if (c.bad) {
        imap_bad(p, c.why);
        return false;
    }
    uint32_t *seqs = malloc((p->view_count > 0 ? p->view_count : 1) * sizeof *seqs);
    if (seqs == NULL) {
        imap_tagged(p, "NO", "[UNAVAILABLE] Out of memory");
        return false;
    }
    size_t count = 0;
    c.check = false;
    for (size_t seq = 1; seq <= p->view_count; seq++) {
        c.seq = seq;
        c.index = imap_folder_index(p, seq);
        if (c.index < 0)
            continue;
        c.fd = -1;
        c.fd_failed = false;
        bool all = true;
        for (const struct imap_arg *k = a; k != NULL && k < end && all;) {
            bool m;
            k = key_at(&c, k, end, &m, 0);
            all = m;
        }
        if (c.fd >= 0)
            close(c.fd);
        imap_search_text_reset(&c.text);
        if (all)
            seqs[count++] = (uint32_t)seq;
    }
    *seqs_r = seqs;
    *count_r = count;
    return true;
}

void imap_cmd_search(struct imap *p, const struct imap_command *cmd, size_t first, bool uid)
{
    const struct imap_arg *a = imap_command_arg(cmd, first);
    unsigned ret;
    if (!imap_search_return(p, cmd, &a, &ret) || !imap_search_charset(p, cmd, &a, false))
        return;
    uint32_t *seqs;
    size_t count;
    if (!imap_search_run(p, cmd, a, &seqs, &count))
        return;
    struct imap_search_out out;
    imap_search_out_begin(&out, p, ret, uid);
    for (size_t i = 0; i < count; i++)
        imap_search_out_add(&out, uid ? p->view[seqs[i] - 1].uid : seqs[i]);
    free(seqs);
    if (imap_search_out_end(&out))
        imap_tagged(p, "OK", "%sSearch completed", uid ? "UID " : "");
    else
        imap_tagged(p, "NO", "[UNAVAILABLE] Out of memory");
}
