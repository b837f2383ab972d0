/* delivery/mailbox_index.c - the "dirmail-uidlist" text: see mailbox_index.h. */
#include "config.h"

#include "delivery/mailbox_index.h"
#include "lib/error.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool mailbox_index_field_valid(const char *s, size_t len)
{
    if (len == 0 || len > 255 || s[0] == '.')
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c == 0x7f || c == '/')
            return false;
    }
    return true;
}

void mailbox_index_clear(struct mailbox_index *index)
{
    for (size_t i = 0; i < index->count; i++) {
        free(index->entries[i].base);
        free(index->entries[i].name);
    }
    free(index->entries);
    memset(index, 0, sizeof(*index));
}

int mailbox_index_append(struct mailbox_index *index, uint32_t uid, const char *base,
                         const char *name, bool in_cur, uint64_t size)
{
    struct mailbox_index_entry *e;

    if (index->count == index->alloc) {
        size_t alloc = index->alloc == 0 ? 64 : index->alloc * 2;
        e = realloc(index->entries, alloc * sizeof(*e));
        if (e == NULL)
            return -1;
        index->entries = e;
        index->alloc = alloc;
    }
    e = &index->entries[index->count];
    e->base = strdup(base);
    e->name = strdup(name);
    if (e->base == NULL || e->name == NULL) {
        free(e->base);
        free(e->name);
        return -1;
    }
    e->uid = uid;
    e->in_cur = in_cur;
    e->size = size;
    e->gone = false;
    index->count++;
    return 0;
}

/* Parsing works on one line at a time: [p, end) without its LF. */
struct cursor {
    const char *p, *end;
};

/* take_field - the next field up to a space or the line's end; false when
 * empty. */
static bool take_field(struct cursor *c, const char **s_r, size_t *len_r)
{
    const char *s = c->p;

    while (c->p < c->end && *c->p != ' ')
        c->p++;
    *s_r = s;
    *len_r = (size_t)(c->p - s);
    if (c->p < c->end)
        c->p++; /* the space */
    return *len_r > 0;
}

/* take_number - a decimal field of at most max: digits only, no sign, no
 * leading zero (so each value has one spelling and format gives it back). */
static bool take_number(struct cursor *c, uint64_t max, uint64_t *value_r)
{
    const char *s;
    size_t len;
    uint64_t v = 0;

    if (!take_field(c, &s, &len) || len > 20 || (len > 1 && s[0] == '0'))
        return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (max - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *value_r = v;
    return true;
}

/* take_mtime - "<seconds>.<nanoseconds>". */
static bool take_mtime(struct cursor *c, struct timespec *ts_r)
{
    const char *s;
    size_t len;
    struct cursor sub;
    const char *dot;
    uint64_t sec, nsec;

    if (!take_field(c, &s, &len))
        return false;
    dot = memchr(s, '.', len);
    if (dot == NULL)
        return false;
    sub = (struct cursor){s, dot};
    if (!take_number(&sub, INT64_MAX, &sec) || sub.p != dot)
        return false;
    sub = (struct cursor){dot + 1, s + len};
    if (!take_number(&sub, 999999999, &nsec) || sub.p != s + len)
        return false;
    ts_r->tv_sec = (time_t)sec;
    ts_r->tv_nsec = (long)nsec;
    return true;
}

/* next_line - the line at *pos into c; false at the end of text or when the
 * line has no LF within MAILBOX_INDEX_LINE_MAX (a torn or foreign file). */
static bool next_line(const char *text, size_t len, size_t *pos, struct cursor *c, bool *torn_r)
{
    size_t left = len - *pos;
    size_t look = left < MAILBOX_INDEX_LINE_MAX ? left : MAILBOX_INDEX_LINE_MAX;
    const char *lf;

    *torn_r = false;
    if (left == 0)
        return false;
    lf = memchr(text + *pos, '\n', look);
    if (lf == NULL) {
        *torn_r = true;
        return false;
    }
    c->p = text + *pos;
    c->end = lf;
    *pos = (size_t)(lf - text) + 1;
    return true;
}

static int compare_base(const void *a, const void *b)
{
    const struct mailbox_index_entry *const *x = a, *const *y = b;
    return strcmp((*x)->base, (*y)->base);
}

/* has_duplicate_base - whether two entries share a base. */
static int has_duplicate_base(const struct mailbox_index *index, bool *dup_r)
{
    const struct mailbox_index_entry **sorted;

    *dup_r = false;
    if (index->count < 2)
        return 0;
    sorted = malloc(index->count * sizeof(*sorted));
    if (sorted == NULL)
        return -1;
    for (size_t i = 0; i < index->count; i++)
        sorted[i] = &index->entries[i];
    qsort(sorted, index->count, sizeof(*sorted), compare_base);
    for (size_t i = 1; i < index->count && !*dup_r; i++)
        *dup_r = strcmp(sorted[i - 1]->base, sorted[i]->base) == 0;
    free(sorted);
    return 0;
}

/* parse_entry - one message line into index. */
static enum mailbox_index_result parse_entry(struct cursor *c, struct mailbox_index *index,
                                             char **error_r, size_t line_no)
{
    uint64_t uid, size;
    const char *base, *sub, *name;
    size_t base_len, sub_len, name_len;
    char base_buf[256], name_buf[256];
    uint32_t prev = index->count > 0 ? index->entries[index->count - 1].uid : 0;

    if (!take_number(c, UINT32_MAX, &uid) || uid == 0 || uid <= prev || uid >= index->uidnext ||
        !take_field(c, &base, &base_len) || !mailbox_index_field_valid(base, base_len) ||
        memchr(base, ',', base_len) != NULL || memchr(base, ':', base_len) != NULL ||
        !take_number(c, INT64_MAX, &size) || !take_field(c, &sub, &sub_len) ||
        !((sub_len == 3 && memcmp(sub, "new", 3) == 0) ||
          (sub_len == 3 && memcmp(sub, "cur", 3) == 0)) ||
        !take_field(c, &name, &name_len) || c->p != c->end ||
        !mailbox_index_field_valid(name, name_len) || name_len < base_len ||
        memcmp(name, base, base_len) != 0 ||
        !(name_len == base_len || name[base_len] == ',' || name[base_len] == ':') ||
        c->end[-1] == ' ') {
        error_set(error_r, "line %zu: not a message line", line_no);
        return MAILBOX_INDEX_GARBAGE;
    }
    memcpy(base_buf, base, base_len);
    base_buf[base_len] = '\0';
    memcpy(name_buf, name, name_len);
    name_buf[name_len] = '\0';
    if (mailbox_index_append(index, (uint32_t)uid, base_buf, name_buf, sub[0] == 'c', size) < 0) {
        error_set(error_r, "out of memory");
        return MAILBOX_INDEX_NOMEM;
    }
    return MAILBOX_INDEX_PARSED;
}

enum mailbox_index_result mailbox_index_parse(const char *text, size_t len,
                                              struct mailbox_index *index,
                                              uint32_t *old_uidvalidity_r, char **error_r)
{
    struct cursor c;
    size_t pos = 0, line_no = 1;
    const char *s;
    size_t slen;
    uint64_t version, uidvalidity, uidnext;
    bool torn, dup;
    enum mailbox_index_result res = MAILBOX_INDEX_PARSED;

    memset(index, 0, sizeof(*index));
    *old_uidvalidity_r = 0;
    if (!next_line(text, len, &pos, &c, &torn) || !take_field(&c, &s, &slen) ||
        slen != strlen(MAILBOX_INDEX_MAGIC) || memcmp(s, MAILBOX_INDEX_MAGIC, slen) != 0 ||
        !take_number(&c, UINT32_MAX, &version)) {
        error_set(error_r, "line 1: not a dirmail-uidlist header");
        return MAILBOX_INDEX_GARBAGE;
    }
    if (version != MAILBOX_INDEX_VERSION) {
        if (version > MAILBOX_INDEX_VERSION && version < 100) {
            error_set(error_r, "version %" PRIu64 " is newer than %d", version,
                      MAILBOX_INDEX_VERSION);
            return MAILBOX_INDEX_NEWER;
        }
        error_set(error_r, "line 1: unknown version");
        return MAILBOX_INDEX_GARBAGE;
    }
    if (!take_number(&c, UINT32_MAX, &uidvalidity) || uidvalidity == 0) {
        error_set(error_r, "line 1: bad uidvalidity");
        return MAILBOX_INDEX_GARBAGE;
    }
    *old_uidvalidity_r = (uint32_t)uidvalidity;
    if (!take_number(&c, UINT32_MAX, &uidnext) || uidnext == 0 ||
        !take_mtime(&c, &index->new_mtime) || !take_mtime(&c, &index->cur_mtime) || c.p != c.end ||
        c.end[-1] == ' ') {
        error_set(error_r, "line 1: bad header fields");
        memset(index, 0, sizeof(*index));
        return MAILBOX_INDEX_GARBAGE;
    }
    index->uidvalidity = (uint32_t)uidvalidity;
    index->uidnext = (uint32_t)uidnext;
    while (next_line(text, len, &pos, &c, &torn)) {
        line_no++;
        res = parse_entry(&c, index, error_r, line_no);
        if (res != MAILBOX_INDEX_PARSED)
            break;
    }
    if (res == MAILBOX_INDEX_PARSED && torn) {
        error_set(error_r, "line %zu: no line end", line_no + 1);
        res = MAILBOX_INDEX_GARBAGE;
    }
    if (res == MAILBOX_INDEX_PARSED) {
        if (has_duplicate_base(index, &dup) < 0) {
            error_set(error_r, "out of memory");
            res = MAILBOX_INDEX_NOMEM;
        } else if (dup) {
            error_set(error_r, "a base name is listed twice");
            res = MAILBOX_INDEX_GARBAGE;
        }
    }
    if (res != MAILBOX_INDEX_PARSED)
        mailbox_index_clear(index);
    return res;
}

int mailbox_index_format(const struct mailbox_index *index, char **text_r, size_t *len_r)
{
    size_t alloc = 128 + index->count * 96, len = 0;
    char *text = malloc(alloc);
    int n;

    if (text == NULL)
        return -1;
    n = snprintf(text, alloc, "%s %d %" PRIu32 " %" PRIu32 " %lld.%ld %lld.%ld\n",
                 MAILBOX_INDEX_MAGIC, MAILBOX_INDEX_VERSION, index->uidvalidity, index->uidnext,
                 (long long)index->new_mtime.tv_sec, index->new_mtime.tv_nsec,
                 (long long)index->cur_mtime.tv_sec, index->cur_mtime.tv_nsec);
    if (n < 0 || (size_t)n >= alloc)
        goto fail;
    len = (size_t)n;
    for (size_t i = 0; i < index->count; i++) {
        const struct mailbox_index_entry *e = &index->entries[i];
        if (e->gone)
            continue;
        if (!mailbox_index_field_valid(e->base, strlen(e->base)) ||
            !mailbox_index_field_valid(e->name, strlen(e->name)))
            goto fail;
        if (alloc - len < MAILBOX_INDEX_LINE_MAX) {
            char *bigger = realloc(text, alloc * 2);
            if (bigger == NULL)
                goto fail;
            text = bigger;
            alloc *= 2;
        }
        n = snprintf(text + len, alloc - len, "%" PRIu32 " %s %" PRIu64 " %s %s\n", e->uid, e->base,
                     e->size, e->in_cur ? "cur" : "new", e->name);
        if (n < 0 || (size_t)n >= alloc - len || (size_t)n > MAILBOX_INDEX_LINE_MAX)
            goto fail;
        len += (size_t)n;
    }
    *text_r = text;
    *len_r = len;
    return 0;
fail:
    free(text);
    return -1;
}
