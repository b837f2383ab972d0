/* auth/auth_protocol.c - see auth_protocol.h and doc/auth-protocol.md. One
 * table per result struct drives both the encoder and the decoder, so a field
 * cannot be written under one name and read under another. */
#include "config.h"

#include "auth/auth_protocol.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const char *const type_names[] = {"RESOLVE", "AUTH", "USER", "SENDERS"};
static const size_t type_argc[] = {1, 3, 1, 1};
static const char *const status_names[] = {"FOUND", "NOTFOUND", "TEMPFAIL",
                                           "OK",    "FAILED",   "ERROR"};
static const char *const kind_names[] = {"local",    "remote-node", "forward",  "group",  "relay",
                                         "disabled", "unknown",     "not-ours", "invalid"};
static const char *const user_status_names[] = {"active", "noaccess", "held", "disabled"};

static const char *name_of(const char *const *names, size_t count, unsigned v)
{
    return v < count ? names[v] : "unknown";
}

const char *auth_request_type_name(enum auth_request_type type)
{
    return name_of(type_names, COUNT(type_names), type);
}
const char *auth_status_name(enum auth_status status)
{
    return name_of(status_names, COUNT(status_names), status);
}
const char *auth_kind_name(enum auth_kind kind)
{
    return name_of(kind_names, COUNT(kind_names), kind);
}
const char *auth_user_status_name(enum auth_user_status status)
{
    return name_of(user_status_names, COUNT(user_status_names), status);
}

/* lookup_name - index of the len-byte word in names, or -1. */
static int lookup_name(const char *const *names, size_t count, const char *word, size_t len)
{
    for (size_t i = 0; i < count; i++) {
        if (strlen(names[i]) == len && memcmp(names[i], word, len) == 0)
            return (int)i;
    }
    return -1;
}

/* must_escape - a byte that could end a token (SP), a line (LF, CR) or the
 * string (NUL), or that is the escape character itself. */
static bool must_escape(unsigned char c)
{
    return c <= 0x20 || c == 0x7f || c == '%';
}

int auth_escape(struct buf *out, const char *value, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)value[i];
        if (!must_escape(c))
            continue;
        char esc[3] = {'%', hex[c >> 4], hex[c & 15]};
        if (buf_append(out, value + start, i - start) < 0 || buf_append(out, esc, 3) < 0)
            return -1;
        start = i + 1;
    }
    return buf_append(out, value + start, len - start);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

char *auth_unescape(const char *text, size_t len)
{
    char *s = malloc(len + 1);
    if (s == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '%') {
            int hi = i + 2 < len ? hexval(text[i + 1]) : -1;
            int lo = i + 2 < len ? hexval(text[i + 2]) : -1;
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                free(s);
                errno = EINVAL;
                return NULL;
            }
            s[n++] = (char)(hi << 4 | lo);
            i += 2;
        } else if (must_escape(c)) {
            free(s);
            errno = EINVAL;
            return NULL;
        } else {
            s[n++] = (char)c;
        }
    }
    s[n] = '\0';
    return s;
}

/* ---- requests ---- */

int auth_request_encode(struct buf *out, const struct auth_request *req)
{
    if (req->id == 0 || (size_t)req->type >= COUNT(type_names) || req->argc != type_argc[req->type])
        return -1;
    /* Built apart and appended whole, so that out is unchanged on failure. */
    struct buf line = BUF_INIT;
    int ret = -1;
    if (buf_printf(&line, "%lu %s", (unsigned long)req->id, type_names[req->type]) < 0)
        goto out;
    for (size_t i = 0; i < req->argc; i++) {
        if (req->args[i] == NULL || buf_append(&line, " ", 1) < 0 ||
            auth_escape(&line, req->args[i], strlen(req->args[i])) < 0)
            goto out;
    }
    if (buf_append(&line, "\n", 1) < 0 || buf_len(&line) > AUTH_REQUEST_MAX)
        goto out;
    ret = buf_append(out, buf_ptr(&line), buf_len(&line));
out:
    buf_release(&line);
    return ret;
}

/* parse_id - a decimal id 1..UINT32_MAX without sign or leading zeros. */
static bool parse_id(const char *s, size_t len, uint32_t *id_r)
{
    if (len == 0 || len > 10 || s[0] == '0')
        return false;
    unsigned long long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v > UINT32_MAX)
        return false;
    *id_r = (uint32_t)v;
    return true;
}

/* next_token - the bytes up to the next SP (or the end) from *pos. */
static bool next_token(const char *line, size_t len, size_t *pos, const char **tok, size_t *tlen)
{
    if (*pos > len)
        return false;
    const char *sp = memchr(line + *pos, ' ', len - *pos);
    size_t end = sp != NULL ? (size_t)(sp - line) : len;
    *tok = line + *pos;
    *tlen = end - *pos;
    *pos = end + 1; /* past the SP; past len when this was the last token */
    return true;
}

void auth_request_clear(struct auth_request *req)
{
    for (size_t i = 0; i < AUTH_REQUEST_ARGS; i++) {
        free(req->args[i]);
        req->args[i] = NULL;
    }
    req->argc = 0;
}

enum auth_decode_result auth_request_decode(const char *line, size_t len, struct auth_request *req,
                                            const char **error_r)
{
    memset(req, 0, sizeof *req);
    size_t pos = 0, tlen;
    const char *tok;
    if (len + 1 > AUTH_REQUEST_MAX) {
        *error_r = "request too long";
        return AUTH_DECODE_BAD;
    }
    if (memchr(line, '\0', len) != NULL || memchr(line, '\r', len) != NULL) {
        *error_r = "control byte in request";
        return AUTH_DECODE_BAD;
    }
    if (!next_token(line, len, &pos, &tok, &tlen) || !parse_id(tok, tlen, &req->id)) {
        req->id = 0;
        *error_r = "bad request id";
        return AUTH_DECODE_BAD;
    }
    int type = -1;
    if (pos <= len && next_token(line, len, &pos, &tok, &tlen))
        type = lookup_name(type_names, COUNT(type_names), tok, tlen);
    if (type < 0) {
        *error_r = "unknown request";
        return AUTH_DECODE_BAD;
    }
    req->type = (enum auth_request_type)type;
    while (pos <= len) {
        if (req->argc == type_argc[type]) {
            *error_r = "too many arguments";
            goto bad;
        }
        next_token(line, len, &pos, &tok, &tlen);
        char *arg = auth_unescape(tok, tlen);
        if (arg == NULL) {
            if (errno == ENOMEM) {
                auth_request_clear(req);
                return AUTH_DECODE_NOMEM;
            }
            *error_r = "bad escape in argument";
            goto bad;
        }
        req->args[req->argc++] = arg;
    }
    if (req->argc != type_argc[type]) {
        *error_r = "too few arguments";
        goto bad;
    }
    return AUTH_DECODE_OK;
bad:
    auth_request_clear(req);
    return AUTH_DECODE_BAD;
}

/* ---- response fields: one table per struct ---- */

enum field_type { F_STR, F_LIST, F_ULL, F_BOOL, F_KIND, F_STATUS, F_HOLD };

struct field {
    const char *key;
    enum field_type type;
    size_t offset;
    bool required;
};

#define RF(key, type, member, req)                                                                 \
    {                                                                                              \
        key, type, offsetof(struct auth_recipient, member), req                                    \
    }
static const struct field recipient_fields[] = {
    RF("kind", F_KIND, kind, true),
    RF("address", F_STR, address, false),
    RF("local", F_STR, local, false),
    RF("domain", F_STR, domain, false),
    RF("tag", F_STR, tag, false),
    RF("matched", F_STR, matched, false),
    RF("catchall", F_BOOL, catchall, false),
    RF("dn", F_STR, dn, false),
    RF("primary", F_STR, primary, false),
    RF("mailbox", F_STR, mailbox, false),
    RF("quota", F_ULL, quota, false),
    RF("sieve", F_STR, sieve, false),
    RF("mail_host", F_STR, mail_host, false),
    RF("forward", F_LIST, forwards, false),
    RF("keep_copy", F_BOOL, keep_copy, false),
    RF("member", F_LIST, members, false),
    RF("status", F_STATUS, status, false),
    RF("disabled_action", F_HOLD, disabled_hold, false),
    RF("next_hop", F_STR, next_hop, false),
};

#define UF(key, type, member, req)                                                                 \
    {                                                                                              \
        key, type, offsetof(struct auth_user, member), req                                         \
    }
static const struct field user_fields[] = {
    UF("dn", F_STR, dn, false),
    UF("login", F_STR, login, true),
    UF("primary", F_STR, primary, false),
    UF("address", F_LIST, addresses, false),
    UF("sender", F_LIST, senders, false),
    UF("service", F_LIST, services, false),
    UF("mailbox", F_STR, mailbox, false),
    UF("quota", F_ULL, quota, false),
    UF("sieve", F_STR, sieve, false),
    UF("mail_host", F_STR, mail_host, false),
    UF("status", F_STATUS, status, false),
};

static const struct field senders_fields[] = {
    {"sender", F_LIST, 0, false},
};

/* put_field - append " key=escaped" (nothing for a NULL string or false). */
static int put_field(struct buf *out, const char *key, const char *value)
{
    if (value == NULL)
        return 0;
    if (buf_printf(out, " %s=", key) < 0)
        return -1;
    return auth_escape(out, value, strlen(value));
}

static int encode_fields(struct buf *out, const struct field *fields, size_t count, const void *obj)
{
    const char *base = obj;
    for (size_t i = 0; i < count; i++) {
        const struct field *f = &fields[i];
        const void *p = base + f->offset;
        int ret = 0;
        switch (f->type) {
        case F_STR:
            ret = put_field(out, f->key, *(char *const *)p);
            break;
        case F_LIST: {
            const struct auth_strlist *l = p;
            for (size_t j = 0; j < l->count && ret == 0; j++)
                ret = put_field(out, f->key, l->items[j]);
            break;
        }
        case F_ULL:
            if (*(const unsigned long long *)p != 0)
                ret = buf_printf(out, " %s=%llu", f->key, *(const unsigned long long *)p);
            break;
        case F_BOOL:
            if (*(const bool *)p)
                ret = buf_printf(out, " %s=1", f->key);
            break;
        case F_KIND:
            ret = put_field(out, f->key, auth_kind_name(*(const enum auth_kind *)p));
            break;
        case F_STATUS:
            ret = put_field(out, f->key, auth_user_status_name(*(const enum auth_user_status *)p));
            break;
        case F_HOLD:
            if (*(const bool *)p)
                ret = buf_printf(out, " %s=hold", f->key);
            break;
        }
        if (ret < 0)
            return -1;
    }
    return 0;
}

int auth_body_status(struct buf *out, enum auth_status status, const char *error)
{
    if (buf_printf(out, "%s", auth_status_name(status)) < 0)
        return -1;
    return put_field(out, "error", error);
}

int auth_body_recipient(struct buf *out, enum auth_status status, const struct auth_recipient *r)
{
    if (auth_body_status(out, status, NULL) < 0)
        return -1;
    return r == NULL ? 0 : encode_fields(out, recipient_fields, COUNT(recipient_fields), r);
}

int auth_body_user(struct buf *out, enum auth_status status, const struct auth_user *u)
{
    if (auth_body_status(out, status, NULL) < 0)
        return -1;
    return u == NULL ? 0 : encode_fields(out, user_fields, COUNT(user_fields), u);
}

int auth_body_senders(struct buf *out, const struct auth_strlist *senders)
{
    if (auth_body_status(out, AUTH_FOUND, NULL) < 0)
        return -1;
    return encode_fields(out, senders_fields, COUNT(senders_fields), senders);
}

/* ---- response decoding ---- */

void auth_strlist_clear(struct auth_strlist *l)
{
    for (size_t i = 0; i < l->count; i++)
        free(l->items[i]);
    free(l->items);
    l->items = NULL;
    l->count = 0;
}

int auth_strlist_add(struct auth_strlist *l, const char *s, size_t len)
{
    /* s need not be NUL-terminated (a slice of a line): copy len bytes. */
    char *copy = malloc(len + 1);
    if (copy != NULL) {
        memcpy(copy, s, len);
        copy[len] = '\0';
    }
    char **items = copy != NULL ? realloc(l->items, (l->count + 1) * sizeof *items) : NULL;
    if (items == NULL) {
        free(copy);
        return -1;
    }
    l->items = items;
    l->items[l->count++] = copy;
    return 0;
}

static void free_fields(const struct field *fields, size_t count, void *obj)
{
    char *base = obj;
    for (size_t i = 0; i < count; i++) {
        void *p = base + fields[i].offset;
        if (fields[i].type == F_STR) {
            free(*(char **)p);
            *(char **)p = NULL;
        } else if (fields[i].type == F_LIST) {
            auth_strlist_clear(p);
        }
    }
}

void auth_recipient_free(struct auth_recipient **r)
{
    if (*r == NULL)
        return;
    free_fields(recipient_fields, COUNT(recipient_fields), *r);
    free(*r);
    *r = NULL;
}

void auth_user_free(struct auth_user **u)
{
    if (*u == NULL)
        return;
    free_fields(user_fields, COUNT(user_fields), *u);
    free(*u);
    *u = NULL;
}

void auth_response_clear(struct auth_response *resp)
{
    auth_recipient_free(&resp->recipient);
    auth_user_free(&resp->user);
    auth_strlist_clear(&resp->senders);
    free(resp->error);
    resp->error = NULL;
}

uint32_t auth_response_id(const char *line, size_t len)
{
    const char *sp = memchr(line, ' ', len);
    uint32_t id = 0;
    if (sp == NULL || !parse_id(line, (size_t)(sp - line), &id))
        return 0;
    return id;
}

/* decode_value - store one key=value into obj per f. seen counts single
 * fields so a repeat is an error. -1 bad, -2 out of memory. */
static int decode_value(const struct field *f, void *obj, const char *v, size_t vlen)
{
    void *p = (char *)obj + f->offset;
    char *s = auth_unescape(v, vlen);
    if (s == NULL)
        return errno == ENOMEM ? -2 : -1;
    int ret = 0, idx;
    switch (f->type) {
    case F_STR:
        if (*(char **)p != NULL) {
            ret = -1;
            break;
        }
        *(char **)p = s;
        return 0;
    case F_LIST:
        ret = auth_strlist_add(p, s, strlen(s)) < 0 ? -2 : 0;
        break;
    case F_ULL: {
        char *end;
        errno = 0;
        unsigned long long q = strtoull(s, &end, 10);
        if (s[0] < '0' || s[0] > '9' || *end != '\0' || errno != 0)
            ret = -1;
        else
            *(unsigned long long *)p = q;
        break;
    }
    case F_BOOL:
        if (strcmp(s, "1") == 0)
            *(bool *)p = true;
        else if (strcmp(s, "0") == 0)
            *(bool *)p = false;
        else
            ret = -1;
        break;
    case F_KIND:
        idx = lookup_name(kind_names, COUNT(kind_names), s, strlen(s));
        if (idx < 0)
            ret = -1;
        else
            *(enum auth_kind *)p = (enum auth_kind)idx;
        break;
    case F_STATUS:
        idx = lookup_name(user_status_names, COUNT(user_status_names), s, strlen(s));
        if (idx < 0)
            ret = -1;
        else
            *(enum auth_user_status *)p = (enum auth_user_status)idx;
        break;
    case F_HOLD:
        if (strcmp(s, "hold") == 0)
            *(bool *)p = true;
        else if (strcmp(s, "reject") == 0)
            *(bool *)p = false;
        else
            ret = -1;
        break;
    }
    free(s);
    return ret;
}

/* status_answers - may status answer a request of type? */
static bool status_answers(enum auth_status status, enum auth_request_type type)
{
    if (status == AUTH_TEMPFAIL || status == AUTH_ERROR)
        return true;
    if (type == AUTH_REQ_AUTH)
        return status == AUTH_OK || status == AUTH_FAILED;
    return status == AUTH_FOUND || status == AUTH_NOTFOUND;
}

enum auth_decode_result auth_response_decode(const char *line, size_t len,
                                             enum auth_request_type type,
                                             struct auth_response *resp, const char **error_r)
{
    memset(resp, 0, sizeof *resp);
    size_t pos = 0, tlen;
    const char *tok;
    if (len + 1 > AUTH_RESPONSE_MAX || memchr(line, '\0', len) != NULL) {
        *error_r = len + 1 > AUTH_RESPONSE_MAX ? "response too long" : "NUL in response";
        return AUTH_DECODE_BAD;
    }
    if (!next_token(line, len, &pos, &tok, &tlen) || !parse_id(tok, tlen, &resp->id)) {
        *error_r = "bad response id";
        return AUTH_DECODE_BAD;
    }
    int status = -1;
    if (pos <= len && next_token(line, len, &pos, &tok, &tlen))
        status = lookup_name(status_names, COUNT(status_names), tok, tlen);
    if (status < 0 || !status_answers((enum auth_status)status, type)) {
        *error_r = "unexpected status";
        return AUTH_DECODE_BAD;
    }
    resp->status = (enum auth_status)status;

    /* Which struct the fields go into. */
    const struct field *fields = NULL;
    size_t count = 0;
    void *obj = NULL;
    if (type == AUTH_REQ_RESOLVE && (status == AUTH_FOUND || status == AUTH_NOTFOUND)) {
        resp->recipient = calloc(1, sizeof *resp->recipient);
        obj = resp->recipient;
        fields = recipient_fields, count = COUNT(recipient_fields);
    } else if ((type == AUTH_REQ_USER && status == AUTH_FOUND) ||
               (type == AUTH_REQ_AUTH && status == AUTH_OK)) {
        resp->user = calloc(1, sizeof *resp->user);
        obj = resp->user;
        fields = user_fields, count = COUNT(user_fields);
    } else if (type == AUTH_REQ_SENDERS && status == AUTH_FOUND) {
        obj = &resp->senders;
        fields = senders_fields, count = COUNT(senders_fields);
    }
    if (fields != NULL && obj == NULL)
        goto nomem;
    bool seen[COUNT(recipient_fields)] = {false};
    while (pos <= len) {
        next_token(line, len, &pos, &tok, &tlen);
        const char *eq = memchr(tok, '=', tlen);
        if (eq == NULL || eq == tok) {
            *error_r = "field without key=value";
            goto bad;
        }
        size_t klen = (size_t)(eq - tok), vlen = tlen - klen - 1;
        if (klen == 5 && memcmp(tok, "error", 5) == 0) {
            if (resp->error != NULL) {
                *error_r = "repeated field";
                goto bad;
            }
            if ((resp->error = auth_unescape(eq + 1, vlen)) == NULL) {
                if (errno == ENOMEM)
                    goto nomem;
                *error_r = "bad error field";
                goto bad;
            }
            continue;
        }
        size_t i;
        for (i = 0; i < count; i++) {
            if (strlen(fields[i].key) == klen && memcmp(fields[i].key, tok, klen) == 0)
                break;
        }
        if (i == count)
            continue; /* a field a newer server added */
        if (fields[i].type != F_LIST && seen[i]) {
            *error_r = "repeated field";
            goto bad;
        }
        seen[i] = true;
        int ret = decode_value(&fields[i], obj, eq + 1, vlen);
        if (ret == -2)
            goto nomem;
        if (ret < 0) {
            *error_r = "bad field value";
            goto bad;
        }
    }
    for (size_t i = 0; i < count; i++) {
        if (fields[i].required && !seen[i]) {
            *error_r = "required field missing";
            goto bad;
        }
    }
    return AUTH_DECODE_OK;
bad:
    auth_response_clear(resp);
    return AUTH_DECODE_BAD;
nomem:
    auth_response_clear(resp);
    return AUTH_DECODE_NOMEM;
}
