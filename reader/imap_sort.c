/* reader/imap_sort.c - SORT and UID SORT (RFC 5256 3, with RFC 5957's
 * DISPLAYFROM and DISPLAYTO) over the messages a SEARCH would find, and
 * the sort keys THREAD shares (imap_sort.h): a message's header is read
 * once for all of its keys. Ties keep sequence order (RFC 5256 3). */
#include "config.h"

#include "reader/imap_sort.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/conn.h"
#include "lib/mime.h"
#include "lib/mime_fields.h"
#include "reader/imap_search_text.h"
#include "reader/imap_session_internal.h"
#include "reader/imap_sort_subject.h"

/* A SORT names at most this many criteria (there are ten keys). */
#define SORT_CRITERIA_MAX 16

/* ---- a message's keys ---- */

static char *upper(char *s)
{
    for (char *c = s; c != NULL && *c != '\0'; c++)
        *c = (char)toupper((unsigned char)*c);
    return s;
}

/* address_keys - the first address's mailbox (ASCII upper-cased) and its
 * display form (RFC 5957: the name, else the address; folded). */
static void address_keys(const char *value, char **mailbox_r, char **display_r)
{
    struct mime_mailbox mb;
    if (value == NULL || !mime_first_mailbox(value, &mb)) {
        *mailbox_r = strdup("");
        if (display_r != NULL)
            *display_r = strdup("");
        return;
    }
    if (display_r != NULL) {
        char *shown = NULL;
        if (mb.name[0] != '\0')
            shown = strdup(mb.name);
        else if (mb.domain[0] != '\0' && asprintf(&shown, "%s@%s", mb.local, mb.domain) < 0)
            shown = NULL;
        else if (mb.domain[0] == '\0')
            shown = strdup(mb.local);
        size_t len;
        *display_r = shown != NULL ? mime_casefold(shown, strlen(shown), &len) : NULL;
        free(shown);
    }
    *mailbox_r = upper(mb.local);
    mb.local = NULL;
    mime_mailbox_clear(&mb);
}

static char *field_or_empty(struct imap_search_text *t, int fd, const char *name)
{
    char *v = imap_search_field(t, fd, name);
    return v != NULL ? v : strdup("");
}

bool imap_sort_load(struct imap *p, uint32_t seq, struct imap_sort_msg *m)
{
    *m = (struct imap_sort_msg){.seq = seq, .uid = p->view[seq - 1].uid};
    long index = imap_folder_index(p, seq);
    const struct mailbox_msg *msg = index >= 0 ? mailbox_msg(p->mailbox, (size_t)index) : NULL;
    int fd = -1;
    char *err = NULL;
    if (msg == NULL || mailbox_msg_open(p->mailbox, (size_t)index, &fd, &err) != MAILBOX_OK) {
        free(err);
        return false;
    }
    m->size = msg->size;
    struct stat st;
    m->arrival = fstat(fd, &st) == 0 ? (int64_t)st.st_mtime : 0;
    struct imap_search_text t = {0};
    char *date = imap_search_field(&t, fd, "Date");
    int offset;
    if (date == NULL || !mime_date_parse(date, &m->sent, &offset))
        m->sent = m->arrival;
    free(date);
    char *subject = imap_search_field(&t, fd, "Subject");
    char *decoded = subject != NULL ? mime_header_decode(subject) : strdup("");
    m->subject = decoded != NULL ? imap_sort_base_subject(decoded, &m->reply) : NULL;
    free(subject);
    free(decoded);
    char *v = imap_search_field(&t, fd, "From");
    address_keys(v, &m->from, &m->display_from);
    free(v);
    v = imap_search_field(&t, fd, "To");
    address_keys(v, &m->to, &m->display_to);
    free(v);
    v = imap_search_field(&t, fd, "Cc");
    address_keys(v, &m->cc, NULL);
    free(v);
    m->message_id = field_or_empty(&t, fd, "Message-ID");
    m->references = field_or_empty(&t, fd, "References");
    m->in_reply_to = field_or_empty(&t, fd, "In-Reply-To");
    imap_search_text_reset(&t);
    close(fd);
    if (m->subject == NULL || m->from == NULL || m->display_from == NULL || m->to == NULL ||
        m->display_to == NULL || m->cc == NULL || m->message_id == NULL || m->references == NULL ||
        m->in_reply_to == NULL) {
        imap_sort_msg_clear(m);
        return false;
    }
    return true;
}

void imap_sort_msg_clear(struct imap_sort_msg *m)
{
    free(m->subject);
    free(m->from);
    free(m->to);
    free(m->cc);
    free(m->display_from);
    free(m->display_to);
    free(m->message_id);
    free(m->references);
    free(m->in_reply_to);
    *m = (struct imap_sort_msg){0};
}

/* ---- SORT ---- */

enum sort_key {
    SORT_ARRIVAL,
    SORT_CC,
    SORT_DATE,
    SORT_FROM,
    SORT_SIZE,
    SORT_SUBJECT,
    SORT_TO,
    SORT_DISPLAYFROM,
    SORT_DISPLAYTO,
};

struct sort_criterion {
    enum sort_key key;
    bool reverse;
};

struct sort_order {
    struct sort_criterion c[SORT_CRITERIA_MAX];
    size_t n;
};

static int cmp_int(int64_t a, int64_t b)
{
    return a < b ? -1 : a > b;
}

static int compare_key(enum sort_key key, const struct imap_sort_msg *a,
                       const struct imap_sort_msg *b)
{
    switch (key) {
    case SORT_ARRIVAL:
        return cmp_int(a->arrival, b->arrival);
    case SORT_DATE:
        return cmp_int(a->sent, b->sent);
    case SORT_SIZE:
        return cmp_int((int64_t)a->size, (int64_t)b->size);
    case SORT_SUBJECT:
        return strcmp(a->subject, b->subject);
    case SORT_FROM:
        return strcmp(a->from, b->from);
    case SORT_TO:
        return strcmp(a->to, b->to);
    case SORT_CC:
        return strcmp(a->cc, b->cc);
    case SORT_DISPLAYFROM:
        return strcmp(a->display_from, b->display_from);
    case SORT_DISPLAYTO:
        return strcmp(a->display_to, b->display_to);
    }
    return 0;
}

static int compare_msgs(const void *x, const void *y, void *arg)
{
    const struct imap_sort_msg *a = x, *b = y;
    const struct sort_order *o = arg;
    for (size_t i = 0; i < o->n; i++) {
        int r = compare_key(o->c[i].key, a, b);
        if (r != 0)
            return o->c[i].reverse ? -r : r;
    }
    return cmp_int(a->seq, b->seq);
}

/* parse_order - RFC 5256 3 sort-criteria, a list; false when it is bad. */
static bool parse_order(const struct imap_command *cmd, const struct imap_arg *list,
                        struct sort_order *o)
{
    static const struct {
        const char *name;
        enum sort_key key;
    } keys[] = {
        {"ARRIVAL", SORT_ARRIVAL},
        {"CC", SORT_CC},
        {"DATE", SORT_DATE},
        {"FROM", SORT_FROM},
        {"SIZE", SORT_SIZE},
        {"SUBJECT", SORT_SUBJECT},
        {"TO", SORT_TO},
        {"DISPLAYFROM", SORT_DISPLAYFROM},
        {"DISPLAYTO", SORT_DISPLAYTO},
    };
    if (list == NULL || list->type != IMAP_ARG_LIST)
        return false;
    const struct imap_arg *end = cmd->args + list->end;
    bool reverse = false;
    o->n = 0;
    for (const struct imap_arg *a = list + 1; a < end; a = imap_arg_next(cmd, a)) {
        if (imap_arg_is(a, "REVERSE")) {
            reverse = true;
            continue;
        }
        size_t k = 0;
        while (k < sizeof keys / sizeof keys[0] && !imap_arg_is(a, keys[k].name))
            k++;
        if (k == sizeof keys / sizeof keys[0] || o->n == SORT_CRITERIA_MAX)
            return false;
        o->c[o->n++] = (struct sort_criterion){keys[k].key, reverse};
        reverse = false;
    }
    return o->n > 0 && !reverse;
}

/* imap_sort_matches - the keys of the messages that match, or NULL with
 * the reply sent. */
struct imap_sort_msg *imap_sort_matches(struct imap *p, const struct imap_command *cmd,
                                        const struct imap_arg *keys, size_t *count_r)
{
    uint32_t *seqs;
    size_t count;
    if (!imap_search_run(p, cmd, keys, &seqs, &count))
        return NULL;
    struct imap_sort_msg *msgs = calloc(count > 0 ? count : 1, sizeof *msgs);
    if (msgs == NULL) {
        free(seqs);
        imap_tagged(p, "NO", "[UNAVAILABLE] Out of memory");
        return NULL;
    }
    size_t n = 0;
    for (size_t i = 0; i < count; i++)
        if (imap_sort_load(p, seqs[i], &msgs[n]))
            n++;
    free(seqs);
    *count_r = n;
    return msgs;
}

void imap_sort_matches_free(struct imap_sort_msg *msgs, size_t count)
{
    for (size_t i = 0; i < count; i++)
        imap_sort_msg_clear(&msgs[i]);
    free(msgs);
}

void imap_cmd_sort(struct imap *p, const struct imap_command *cmd, size_t first, bool uid)
{
    const struct imap_arg *a = imap_command_arg(cmd, first);
    struct sort_order order;
    if (!parse_order(cmd, a, &order)) {
        imap_bad(p, "Usage: SORT (criteria) charset keys");
        return;
    }
    a = imap_arg_next(cmd, a);
    if (!imap_search_charset(p, cmd, &a, true))
        return;
    size_t count;
    struct imap_sort_msg *msgs = imap_sort_matches(p, cmd, a, &count);
    if (msgs == NULL)
        return;
    qsort_r(msgs, count, sizeof *msgs, compare_msgs, &order);
    conn_printf(p->conn, "* SORT");
    for (size_t i = 0; i < count; i++)
        conn_printf(p->conn, " %u", (unsigned)(uid ? msgs[i].uid : msgs[i].seq));
    conn_printf(p->conn, "\r\n");
    imap_sort_matches_free(msgs, count);
    imap_tagged(p, "OK", "%sSort completed", uid ? "UID " : "");
}
