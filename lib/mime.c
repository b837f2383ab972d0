/* lib/mime.c - the MIME tree of a message (see mime.h). The boundaries are
 * found here, over the raw octets, because IMAP needs every entity's exact
 * extent in the file (BODY[1.2.MIME], BODY[2.TEXT]) and GMime's parser keeps
 * no offsets for multipart bodies or part headers; what a field means
 * (content types, RFC 2231 parameters, dispositions) is GMime's. */
#include "config.h"

#include <gmime/gmime.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/buf.h"
#include "lib/mime.h"

static const char *const field_names[MIME_F_COUNT] = {
    [MIME_F_DATE] = "Date",
    [MIME_F_SUBJECT] = "Subject",
    [MIME_F_FROM] = "From",
    [MIME_F_SENDER] = "Sender",
    [MIME_F_REPLY_TO] = "Reply-To",
    [MIME_F_TO] = "To",
    [MIME_F_CC] = "Cc",
    [MIME_F_BCC] = "Bcc",
    [MIME_F_IN_REPLY_TO] = "In-Reply-To",
    [MIME_F_MESSAGE_ID] = "Message-ID",
    [MIME_F_CONTENT_TYPE] = "Content-Type",
    [MIME_F_CONTENT_ENCODING] = "Content-Transfer-Encoding",
    [MIME_F_CONTENT_ID] = "Content-ID",
    [MIME_F_CONTENT_DESCRIPTION] = "Content-Description",
    [MIME_F_CONTENT_DISPOSITION] = "Content-Disposition",
    [MIME_F_CONTENT_LANGUAGE] = "Content-Language",
    [MIME_F_CONTENT_LOCATION] = "Content-Location",
    [MIME_F_CONTENT_MD5] = "Content-MD5",
};

static pthread_once_t gmime_once = PTHREAD_ONCE_INIT;

static void gmime_start(void)
{
    g_mime_init();
}

void mime_init(void)
{
    pthread_once(&gmime_once, gmime_start);
}

struct parser {
    const char *data;
    size_t len;
    struct mime_message *msg;
    size_t alloc;
    bool oom;
};

static struct mime_pos raw_at(size_t pos)
{
    return (struct mime_pos){.raw = pos, .crlf = 0};
}

static int by_raw(const void *a, const void *b)
{
    uint64_t x = (*(struct mime_pos *const *)a)->raw, y = (*(struct mime_pos *const *)b)->raw;
    return x < y ? -1 : x > y;
}

/* count_crlf - every position's CRLF form: the raw offset plus the LFs
 * without a CR before it, in one pass over the message (positions sorted),
 * so that many parts cost no more than one. false out of memory. */
static bool count_crlf(struct parser *ps)
{
    size_t n = 3 * ps->msg->count;
    struct mime_pos **all = malloc(n * sizeof *all);
    if (all == NULL)
        return false;
    for (size_t i = 0; i < ps->msg->count; i++) {
        all[3 * i] = &ps->msg->parts[i].header;
        all[3 * i + 1] = &ps->msg->parts[i].body;
        all[3 * i + 2] = &ps->msg->parts[i].end;
    }
    qsort(all, n, sizeof *all, by_raw);
    uint64_t bare = 0;
    size_t at = 0;
    for (size_t k = 0; k < n; k++) {
        for (; at < all[k]->raw; at++)
            if (ps->data[at] == '\n' && (at == 0 || ps->data[at - 1] != '\r'))
                bare++;
        all[k]->crlf = all[k]->raw + bare;
    }
    free(all);
    return true;
}

/* line_end - the offset after the line that begins at i (after its LF). */
static size_t line_end(const char *data, size_t i, size_t end)
{
    const char *lf = memchr(data + i, '\n', end - i);
    return lf != NULL ? (size_t)(lf - data) + 1 : end;
}

static bool blank_line(const char *data, size_t i, size_t end)
{
    return (i < end && data[i] == '\n') || (i + 1 < end && data[i] == '\r' && data[i + 1] == '\n');
}

size_t mime_header_end(const char *data, size_t start, size_t end)
{
    for (size_t i = start; i < end; i = line_end(data, i, end)) {
        if (blank_line(data, i, end))
            return line_end(data, i, end);
    }
    return end;
}

/* unfold - the value of a field from data[v, e) with its line breaks
 * removed (RFC 5322 2.2.3) and the white space around it trimmed. */
static char *unfold(const char *data, size_t v, size_t e)
{
    if (e - v > MIME_FIELD_MAX)
        e = v + MIME_FIELD_MAX;
    char *out = malloc(e - v + 1);
    if (out == NULL)
        return NULL;
    size_t o = 0;
    for (size_t i = v; i < e; i++) {
        if (data[i] == '\r' || data[i] == '\n')
            continue;
        if (data[i] == '\0')
            out[o++] = ' '; /* a NUL would end the string early */
        else
            out[o++] = data[i];
    }
    size_t s = 0;
    while (s < o && (out[s] == ' ' || out[s] == '\t'))
        s++;
    while (o > s && (out[o - 1] == ' ' || out[o - 1] == '\t'))
        o--;
    memmove(out, out + s, o - s);
    out[o - s] = '\0';
    return out;
}

/* each_field - call fn for every field of the header data[start, end):
 * its name [n, colon) and value [colon + 1, e). */
static void each_field(const char *data, size_t start, size_t end,
                       void (*fn)(void *ctx, size_t n, size_t colon, size_t e), void *ctx)
{
    size_t i = start;
    while (i < end && !blank_line(data, i, end)) {
        size_t e = line_end(data, i, end);
        while (e < end && (data[e] == ' ' || data[e] == '\t'))
            e = line_end(data, e, end);
        const char *colon = memchr(data + i, ':', e - i);
        if (colon != NULL)
            fn(ctx, i, (size_t)(colon - data), e);
        i = e;
    }
}

struct find_ctx {
    const char *data;
    const char *name;
    size_t name_len;
    char *value;
    char **fields; /* all the fields of field_names instead, when set */
};

static bool name_is(const char *data, size_t n, size_t colon, const char *name, size_t len)
{
    size_t k = colon;
    while (k > n && (data[k - 1] == ' ' || data[k - 1] == '\t'))
        k--;
    return k - n == len && strncasecmp(data + n, name, len) == 0;
}

static void find_one(void *vctx, size_t n, size_t colon, size_t e)
{
    struct find_ctx *c = vctx;
    if (c->fields != NULL) {
        for (size_t f = 0; f < MIME_F_COUNT; f++) {
            if (c->fields[f] == NULL &&
                name_is(c->data, n, colon, field_names[f], strlen(field_names[f])))
                c->fields[f] = unfold(c->data, colon + 1, e);
        }
        return;
    }
    if (c->value == NULL && name_is(c->data, n, colon, c->name, c->name_len))
        c->value = unfold(c->data, colon + 1, e);
}

char *mime_header_find(const char *data, size_t start, size_t end, const char *name)
{
    struct find_ctx c = {.data = data, .name = name, .name_len = strlen(name)};
    each_field(data, start, end, find_one, &c);
    return c.value;
}

static char *lower_dup(const char *s)
{
    char *d = strdup(s != NULL ? s : "");
    for (char *p = d; p != NULL && *p != '\0'; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p + 32);
    return d;
}

static void params_from(GMimeParamList *list, struct mime_params *out)
{
    int n = list != NULL ? g_mime_param_list_length(list) : 0;
    out->list = n > 0 ? calloc((size_t)n, sizeof *out->list) : NULL;
    out->count = 0;
    for (int i = 0; i < n && out->list != NULL; i++) {
        GMimeParam *param = g_mime_param_list_get_parameter_at(list, i);
        const char *name = g_mime_param_get_name(param);
        const char *value = g_mime_param_get_value(param);
        if (name == NULL || value == NULL)
            continue;
        out->list[out->count].name = strdup(name);
        out->list[out->count].value = strdup(value);
        out->count++;
    }
}

/* content_type - the part's type from its Content-Type (RFC 2045 5.2: text/
 * plain when absent or unreadable; message/rfc822 as the default inside
 * multipart/digest, RFC 2046 5.1.5). */
static void content_type(struct mime_part *part, bool in_digest)
{
    const char *raw = part->fields[MIME_F_CONTENT_TYPE];
    const char *slash = raw != NULL ? strchr(raw, '/') : NULL;
    GMimeContentType *ct = slash != NULL ? g_mime_content_type_parse(NULL, raw) : NULL;
    const char *type = ct != NULL ? g_mime_content_type_get_media_type(ct) : NULL;
    const char *subtype = ct != NULL ? g_mime_content_type_get_media_subtype(ct) : NULL;
    if (type == NULL || subtype == NULL || type[0] == '\0' || subtype[0] == '\0' ||
        strchr(type, '/') != NULL) {
        part->type = strdup(in_digest ? "message" : "text");
        part->subtype = strdup(in_digest ? "rfc822" : "plain");
        if (ct != NULL && !in_digest)
            params_from(g_mime_content_type_get_parameters(ct), &part->params);
    } else {
        part->type = lower_dup(type);
        part->subtype = lower_dup(subtype);
        params_from(g_mime_content_type_get_parameters(ct), &part->params);
    }
    if (ct != NULL)
        g_object_unref(ct);
    const char *disp = part->fields[MIME_F_CONTENT_DISPOSITION];
    if (disp != NULL && disp[0] != '\0') {
        GMimeContentDisposition *cd = g_mime_content_disposition_parse(NULL, disp);
        if (cd != NULL) {
            const char *d = g_mime_content_disposition_get_disposition(cd);
            part->disposition = d != NULL && d[0] != '\0' ? strdup(d) : NULL;
            if (part->disposition != NULL)
                params_from(g_mime_content_disposition_get_parameters(cd),
                            &part->disposition_params);
            g_object_unref(cd);
        }
    }
}

bool mime_part_is(const struct mime_part *part, const char *type, const char *subtype)
{
    return part->type != NULL && strcasecmp(part->type, type) == 0 &&
           (subtype == NULL || (part->subtype != NULL && strcasecmp(part->subtype, subtype) == 0));
}

static const char *param(const struct mime_params *ps, const char *name)
{
    for (size_t i = 0; i < ps->count; i++)
        if (strcasecmp(ps->list[i].name, name) == 0)
            return ps->list[i].value;
    return NULL;
}

const char *mime_part_param(const struct mime_part *part, const char *name)
{
    return param(&part->params, name);
}

static int new_part(struct parser *ps, int parent)
{
    if (ps->msg->count >= MIME_PARTS_MAX)
        return -1;
    if (ps->msg->count == ps->alloc) {
        size_t n = ps->alloc == 0 ? 8 : 2 * ps->alloc;
        struct mime_part *np = realloc(ps->msg->parts, n * sizeof *np);
        if (np == NULL) {
            ps->oom = true;
            return -1;
        }
        ps->msg->parts = np;
        ps->alloc = n;
    }
    int idx = (int)ps->msg->count++;
    struct mime_part *p = &ps->msg->parts[idx];
    memset(p, 0, sizeof *p);
    p->parent = parent;
    p->first_child = -1;
    p->next_sibling = -1;
    if (parent >= 0) {
        struct mime_part *up = &ps->msg->parts[parent];
        if (up->first_child < 0) {
            up->first_child = idx;
        } else {
            int k = up->first_child;
            while (ps->msg->parts[k].next_sibling >= 0)
                k = ps->msg->parts[k].next_sibling;
            ps->msg->parts[k].next_sibling = idx;
        }
        up->child_count++;
    }
    return idx;
}

/* count_lines - the line ends in the body: a part's last line ends in the
 * CRLF before the next delimiter, which belongs to the delimiter (RFC 2046
 * 5.1.1), so it is not counted; the servers clients know count the same. */
static uint64_t count_lines(const char *data, size_t start, size_t end)
{
    uint64_t n = 0;
    for (const char *p = data + start; (p = memchr(p, '\n', (size_t)(data + end - p))) != NULL; p++)
        n++;
    return n;
}

/* delimiter - the line at i is "--boundary" (close: "--boundary--"). */
static bool delimiter(const char *data, size_t i, size_t end, const char *b, size_t blen,
                      bool *close_r)
{
    if (end - i < blen + 2 || data[i] != '-' || data[i + 1] != '-' ||
        memcmp(data + i + 2, b, blen) != 0)
        return false;
    size_t k = i + 2 + blen;
    *close_r = end - k >= 2 && data[k] == '-' && data[k + 1] == '-';
    return true;
}

/* before_break - where a part ends that a delimiter at d follows: the line
 * break before the delimiter belongs to it (RFC 2046 5.1.1). */
static size_t before_break(const char *data, size_t start, size_t d)
{
    if (d > start && data[d - 1] == '\n') {
        d--;
        if (d > start && data[d - 1] == '\r')
            d--;
    }
    return d;
}

static void parse_entity(struct parser *ps, int idx, size_t start, size_t end, unsigned depth,
                         bool in_digest);

/* parse_multipart - the parts between the delimiters of the body
 * [start, end) of multipart idx. A part without a delimiter after it
 * runs to the end (missing close delimiter). */
static void parse_multipart(struct parser *ps, int idx, size_t start, size_t end, unsigned depth)
{
    struct mime_part *mp = &ps->msg->parts[idx];
    const char *boundary = param(&mp->params, "boundary");
    bool digest = mime_part_is(mp, "multipart", "digest");
    size_t blen = boundary != NULL ? strlen(boundary) : 0;
    size_t part_start = 0;
    bool in_part = false;
    for (size_t i = start; i < end && blen > 0;) {
        size_t next = line_end(ps->data, i, end);
        bool close;
        if (delimiter(ps->data, i, end, boundary, blen, &close)) {
            if (in_part) {
                int child = new_part(ps, idx);
                if (child < 0)
                    return;
                parse_entity(ps, child, part_start, before_break(ps->data, part_start, i),
                             depth + 1, digest);
                boundary = param(&ps->msg->parts[idx].params, "boundary");
            }
            if (close)
                return;
            in_part = true;
            part_start = next;
        }
        i = next;
    }
    if (in_part) {
        int child = new_part(ps, idx);
        if (child >= 0)
            parse_entity(ps, child, part_start, end, depth + 1, digest);
    }
}

/* parse_entity - part idx spans [start, end): its header, then its body
 * as a leaf, a multipart or a message inside. */
static void parse_entity(struct parser *ps, int idx, size_t start, size_t end, unsigned depth,
                         bool in_digest)
{
    size_t body = mime_header_end(ps->data, start, end);
    struct mime_part *p = &ps->msg->parts[idx];
    p->header = raw_at(start);
    p->body = raw_at(body);
    p->end = raw_at(end);
    p->body_lines = count_lines(ps->data, body, end);
    struct find_ctx c = {.data = ps->data, .fields = p->fields};
    each_field(ps->data, start, body, find_one, &c);
    content_type(p, in_digest);
    if (depth >= MIME_DEPTH_MAX) {
        p->kind = MIME_LEAF;
    } else if (mime_part_is(p, "multipart", NULL) && param(&p->params, "boundary") != NULL) {
        p->kind = MIME_MULTIPART;
        parse_multipart(ps, idx, body, end, depth);
    } else if (mime_part_is(p, "message", "rfc822") || mime_part_is(p, "message", "global")) {
        p->kind = MIME_MESSAGE;
        int child = new_part(ps, idx);
        if (child >= 0)
            parse_entity(ps, child, body, end, depth + 1, false);
        else
            ps->msg->parts[idx].kind = MIME_LEAF;
    } else {
        p->kind = MIME_LEAF;
    }
}

struct mime_message *mime_parse(const char *data, size_t len)
{
    mime_init();
    struct parser ps = {.data = data, .len = len};
    ps.msg = calloc(1, sizeof *ps.msg);
    if (ps.msg == NULL)
        return NULL;
    int root = new_part(&ps, -1);
    if (root >= 0)
        parse_entity(&ps, root, 0, len, 0, false);
    if (ps.oom || root < 0 || !count_crlf(&ps)) {
        mime_message_free(&ps.msg);
        return NULL;
    }
    return ps.msg;
}

static void params_free(struct mime_params *ps)
{
    for (size_t i = 0; i < ps->count; i++) {
        free(ps->list[i].name);
        free(ps->list[i].value);
    }
    free(ps->list);
}

void mime_message_free(struct mime_message **msgp)
{
    struct mime_message *msg = *msgp;
    if (msg == NULL)
        return;
    *msgp = NULL;
    for (size_t i = 0; i < msg->count; i++) {
        struct mime_part *p = &msg->parts[i];
        free(p->type);
        free(p->subtype);
        free(p->disposition);
        params_free(&p->params);
        params_free(&p->disposition_params);
        for (size_t f = 0; f < MIME_F_COUNT; f++)
            free(p->fields[f]);
    }
    free(msg->parts);
    free(msg);
}
