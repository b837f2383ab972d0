/* queue/queue_envelope.c - envelope and status record text: format, parse. */
#include "config.h"

#include "queue/queue_envelope.h"
#include "lib/error.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ENVELOPE_MAGIC "DIRMAIL-QUEUE 1"

/* A growable text buffer for formatting; oom sticks once set. */
struct text {
    char *data;
    size_t len, cap;
    bool oom;
};

static void text_add(struct text *t, const char *data, size_t len)
{
    if (t->oom)
        return;
    if (t->cap - t->len < len + 1) {
        size_t cap = t->cap == 0 ? 256 : t->cap;
        char *p;

        while (cap - t->len < len + 1) {
            if (cap > SIZE_MAX / 2) {
                t->oom = true;
                return;
            }
            cap *= 2;
        }
        p = realloc(t->data, cap);
        if (p == NULL) {
            t->oom = true;
            return;
        }
        t->data = p;
        t->cap = cap;
    }
    memcpy(t->data + t->len, data, len);
    t->len += len;
    t->data[t->len] = '\0';
}

static void text_str(struct text *t, const char *s)
{
    text_add(t, s, strlen(s));
}

/* text_escaped - a value as one token: bytes outside "!".."~" and "%" become
 * %XX, so a hostile value cannot carry a space, CR or LF into the file. */
static void text_escaped(struct text *t, const char *value)
{
    static const char hex[] = "0123456789ABCDEF";

    for (const unsigned char *p = (const unsigned char *)value; *p != '\0'; p++) {
        if (*p <= 0x20 || *p >= 0x7f || *p == '%') {
            char esc[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            text_add(t, esc, 3);
        } else {
            text_add(t, (const char *)p, 1);
        }
    }
}

static void text_record(struct text *t, const char *key, const char *value)
{
    if (value == NULL)
        return;
    text_str(t, key);
    text_add(t, " ", 1);
    text_escaped(t, value);
    text_add(t, "\n", 1);
}

struct queue_envelope *queue_envelope_new(void)
{
    struct queue_envelope *env = calloc(1, sizeof(*env));

    if (env == NULL)
        return NULL;
    env->sender = strdup("");
    if (env->sender == NULL) {
        free(env);
        return NULL;
    }
    return env;
}

void queue_envelope_free(struct queue_envelope **envp)
{
    struct queue_envelope *env = *envp;

    if (env == NULL)
        return;
    for (size_t i = 0; i < env->rcpt_count; i++) {
        free(env->rcpts[i].address);
        free(env->rcpts[i].orcpt);
        free(env->rcpts[i].reply);
    }
    free(env->rcpts);
    free(env->sender);
    free(env->envid);
    free(env->client_address);
    free(env->client_helo);
    free(env->auth_user);
    free(env->tls_version);
    free(env->tls_cipher);
    free(env);
    *envp = NULL;
}

int queue_envelope_set(char **field, const char *value)
{
    char *copy = NULL;

    if (value != NULL && (copy = strdup(value)) == NULL)
        return -1;
    free(*field);
    *field = copy;
    return 0;
}

int queue_envelope_add_recipient(struct queue_envelope *env, const char *address, unsigned notify,
                                 const char *orcpt, char **error_r)
{
    struct queue_recipient *r;

    if (env->rcpt_count >= QUEUE_ENV_MAX_RECIPIENTS) {
        error_set(error_r, "too many recipients");
        return -1;
    }
    if (env->rcpt_count == env->rcpt_alloc) {
        size_t alloc = env->rcpt_alloc == 0 ? 4 : env->rcpt_alloc * 2;
        struct queue_recipient *p = reallocarray(env->rcpts, alloc, sizeof(*p));
        if (p == NULL) {
            error_set(error_r, "out of memory");
            return -1;
        }
        env->rcpts = p;
        env->rcpt_alloc = alloc;
    }
    r = &env->rcpts[env->rcpt_count];
    memset(r, 0, sizeof(*r));
    r->notify = notify;
    if (queue_envelope_set(&r->address, address) < 0 || queue_envelope_set(&r->orcpt, orcpt) < 0) {
        free(r->address);
        free(r->orcpt);
        error_set(error_r, "out of memory");
        return -1;
    }
    env->rcpt_count++;
    return 0;
}

static void text_notify(struct text *t, unsigned notify)
{
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {{QUEUE_NOTIFY_NEVER, "never"},
                 {QUEUE_NOTIFY_SUCCESS, "success"},
                 {QUEUE_NOTIFY_FAILURE, "failure"},
                 {QUEUE_NOTIFY_DELAY, "delay"}};
    bool first = true;

    text_str(t, "rcpt-notify ");
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if ((notify & names[i].bit) == 0)
            continue;
        if (!first)
            text_add(t, ",", 1);
        text_str(t, names[i].name);
        first = false;
    }
    text_add(t, "\n", 1);
}

int queue_envelope_format(const struct queue_envelope *env, char **text_r, size_t *len_r,
                          char **error_r)
{
    struct text t = {NULL, 0, 0, false};
    char num[64];

    if (env->rcpt_count == 0) {
        error_set(error_r, "envelope without recipients");
        return -1;
    }
    text_str(&t, ENVELOPE_MAGIC "\n");
    text_record(&t, "id", env->id);
    snprintf(num, sizeof(num), "%lld", (long long)env->arrival);
    text_record(&t, "arrival", num);
    snprintf(num, sizeof(num), "%" PRIu64, env->size);
    text_record(&t, "size", num);
    text_record(&t, "sender", env->sender != NULL ? env->sender : "");
    text_record(&t, "envid", env->envid);
    if (env->ret != QUEUE_RET_UNSET)
        text_record(&t, "ret", env->ret == QUEUE_RET_FULL ? "full" : "hdrs");
    text_record(&t, "client-address", env->client_address);
    text_record(&t, "client-helo", env->client_helo);
    text_record(&t, "auth-user", env->auth_user);
    text_record(&t, "tls-version", env->tls_version);
    text_record(&t, "tls-cipher", env->tls_cipher);
    for (size_t i = 0; i < env->rcpt_count; i++) {
        const struct queue_recipient *r = &env->rcpts[i];

        text_record(&t, "rcpt", r->address != NULL ? r->address : "");
        if (r->notify != 0)
            text_notify(&t, r->notify);
        text_record(&t, "rcpt-orcpt", r->orcpt);
    }
    snprintf(num, sizeof(num), "%zu", env->rcpt_count);
    text_record(&t, "end", num);
    if (t.oom) {
        free(t.data);
        error_set(error_r, "out of memory");
        return -1;
    }
    *text_r = t.data;
    *len_r = t.len;
    return 0;
}

/* unescape - decode a value token of len bytes into a new string; NULL when
 * it has a raw byte outside "!".."~", a bad %XX or %00 (or out of memory). */
static char *unescape(const char *s, size_t len, const char **why_r)
{
    char *out = malloc(len + 1), *o = out;

    if (out == NULL) {
        *why_r = "out of memory";
        return NULL;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        int hi, lo;

        if (c <= 0x20 || c >= 0x7f) {
            *why_r = "raw byte outside printable ASCII in a value";
            free(out);
            return NULL;
        }
        if (c != '%') {
            *o++ = (char)c;
            continue;
        }
#define HEXVAL(ch)                                                                                 \
    ((ch) >= '0' && (ch) <= '9' ? (ch) - '0' : (ch) >= 'A' && (ch) <= 'F' ? (ch) - 'A' + 10 : -1)
        if (i + 2 >= len) {
            *why_r = "truncated %XX escape";
            free(out);
            return NULL;
        }
        hi = HEXVAL(s[i + 1]);
        lo = HEXVAL(s[i + 2]);
#undef HEXVAL
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
            *why_r = "bad %XX escape (or %00)";
            free(out);
            return NULL;
        }
        *o++ = (char)(hi * 16 + lo);
        i += 2;
    }
    *o = '\0';
    return out;
}

/* parse_u64 - a whole token of decimal digits (no sign, no leading junk). */
static bool parse_u64(const char *s, size_t len, uint64_t *value_r)
{
    uint64_t v = 0;

    if (len == 0 || len > 20)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *value_r = v;
    return true;
}

static bool parse_time(const char *s, size_t len, time_t *value_r)
{
    uint64_t v;

    if (!parse_u64(s, len, &v) || v > INT64_MAX / 2)
        return false;
    *value_r = (time_t)v;
    return true;
}

/* parse_notify - "never" or a comma list of success, failure, delay. */
static bool parse_notify(const char *s, unsigned *notify_r)
{
    unsigned notify = 0;

    if (strcmp(s, "never") == 0) {
        *notify_r = QUEUE_NOTIFY_NEVER;
        return true;
    }
    while (*s != '\0') {
        size_t n = strcspn(s, ",");
        unsigned bit;

        if (n == 7 && strncmp(s, "success", 7) == 0)
            bit = QUEUE_NOTIFY_SUCCESS;
        else if (n == 7 && strncmp(s, "failure", 7) == 0)
            bit = QUEUE_NOTIFY_FAILURE;
        else if (n == 5 && strncmp(s, "delay", 5) == 0)
            bit = QUEUE_NOTIFY_DELAY;
        else
            return false;
        if ((notify & bit) != 0)
            return false;
        notify |= bit;
        s += n;
        if (*s == ',' && *++s == '\0')
            return false;
    }
    if (notify == 0)
        return false;
    *notify_r = notify;
    return true;
}

/* Keys that may appear once, and where their value goes. */
enum env_key {
    KEY_ID,
    KEY_ARRIVAL,
    KEY_SIZE,
    KEY_SENDER,
    KEY_ENVID,
    KEY_RET,
    KEY_CLIENT_ADDRESS,
    KEY_CLIENT_HELO,
    KEY_AUTH_USER,
    KEY_TLS_VERSION,
    KEY_TLS_CIPHER,
    KEY_RCPT,
    KEY_RCPT_NOTIFY,
    KEY_RCPT_ORCPT,
    KEY_END,
    KEY_COUNT
};

static const char *const key_names[KEY_COUNT] = {
    "id",         "arrival",        "size",        "sender",     "envid",
    "ret",        "client-address", "client-helo", "auth-user",  "tls-version",
    "tls-cipher", "rcpt",           "rcpt-notify", "rcpt-orcpt", "end",
};

static bool id_chars_valid(const char *id)
{
    if (strlen(id) != QUEUE_ID_LEN)
        return false;
    for (const char *p = id; *p != '\0'; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    return true;
}

/* parse_record - one record "key value" into env; the value is already
 * unescaped. seen tracks once-only keys and the per-recipient ones. */
static const char *parse_record(struct queue_envelope *env, enum env_key key, char *value,
                                unsigned *seen, unsigned *rcpt_seen)
{
    char **field = NULL;
    uint64_t num;

    if (key != KEY_RCPT && key != KEY_RCPT_NOTIFY && key != KEY_RCPT_ORCPT) {
        if ((*seen & (1u << key)) != 0)
            return "repeated key";
        *seen |= 1u << key;
    }
    switch (key) {
    case KEY_ID:
        if (!id_chars_valid(value))
            return "bad queue id";
        memcpy(env->id, value, QUEUE_ID_SIZE);
        return NULL;
    case KEY_ARRIVAL:
        return parse_time(value, strlen(value), &env->arrival) ? NULL : "bad arrival time";
    case KEY_SIZE:
        return parse_u64(value, strlen(value), &env->size) ? NULL : "bad size";
    case KEY_RET:
        if (strcmp(value, "full") == 0)
            env->ret = QUEUE_RET_FULL;
        else if (strcmp(value, "hdrs") == 0)
            env->ret = QUEUE_RET_HDRS;
        else
            return "bad ret";
        return NULL;
    case KEY_SENDER:
        field = &env->sender;
        break;
    case KEY_ENVID:
        field = &env->envid;
        break;
    case KEY_CLIENT_ADDRESS:
        field = &env->client_address;
        break;
    case KEY_CLIENT_HELO:
        field = &env->client_helo;
        break;
    case KEY_AUTH_USER:
        field = &env->auth_user;
        break;
    case KEY_TLS_VERSION:
        field = &env->tls_version;
        break;
    case KEY_TLS_CIPHER:
        field = &env->tls_cipher;
        break;
    case KEY_RCPT:
        if (env->rcpt_count >= QUEUE_ENV_MAX_RECIPIENTS)
            return "too many recipients";
        if (queue_envelope_add_recipient(env, value, 0, NULL, NULL) < 0)
            return "out of memory";
        *rcpt_seen = 0;
        return NULL;
    case KEY_RCPT_NOTIFY:
    case KEY_RCPT_ORCPT:
        if (env->rcpt_count == 0)
            return "recipient parameter before any rcpt";
        if ((*rcpt_seen & (1u << key)) != 0)
            return "repeated recipient parameter";
        *rcpt_seen |= 1u << key;
        if (key == KEY_RCPT_NOTIFY)
            return parse_notify(value, &env->rcpts[env->rcpt_count - 1].notify) ? NULL
                                                                                : "bad notify";
        field = &env->rcpts[env->rcpt_count - 1].orcpt;
        break;
    case KEY_END:
        if (!parse_u64(value, strlen(value), &num) || num != env->rcpt_count)
            return "recipient count does not match";
        return NULL;
    case KEY_COUNT:
        break;
    }
    if (field == NULL)
        return "unknown key";
    free(*field);
    *field = value;
    return ""; /* value now belongs to the envelope */
}

int queue_envelope_parse(const char *text, size_t len, struct queue_envelope **env_r,
                         char **error_r)
{
    struct queue_envelope *env;
    const char *p = text, *end = text + len;
    unsigned seen = 0, rcpt_seen = 0, line_no = 0;
    bool ended = false;
    const char *why = NULL;

    *env_r = NULL;
    env = queue_envelope_new();
    if (env == NULL) {
        error_set(error_r, "out of memory");
        return -1;
    }
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *sp;
        size_t line_len, key_len;
        enum env_key key;
        char *value;

        line_no++;
        if (nl == NULL) {
            why = "last line has no newline";
            break;
        }
        line_len = (size_t)(nl - p);
        if (line_len > QUEUE_ENV_MAX_LINE) {
            why = "line too long";
            break;
        }
        if (ended) {
            why = "data after end";
            break;
        }
        if (line_no == 1) {
            if (line_len != strlen(ENVELOPE_MAGIC) || memcmp(p, ENVELOPE_MAGIC, line_len) != 0) {
                why = "not a dirmail queue envelope (version 1)";
                break;
            }
            p = nl + 1;
            continue;
        }
        sp = memchr(p, ' ', line_len);
        if (sp == NULL) {
            why = "record without a value";
            break;
        }
        key_len = (size_t)(sp - p);
        for (key = 0; key < KEY_COUNT; key++)
            if (strlen(key_names[key]) == key_len && memcmp(key_names[key], p, key_len) == 0)
                break;
        if (key == KEY_COUNT) {
            why = "unknown key";
            break;
        }
        value = unescape(sp + 1, (size_t)(nl - sp - 1), &why);
        if (value == NULL)
            break;
        why = parse_record(env, key, value, &seen, &rcpt_seen);
        if (why != NULL && *why == '\0') {
            why = NULL; /* the value was taken over */
        } else {
            free(value);
            if (why != NULL)
                break;
        }
        if (key == KEY_END)
            ended = true;
        p = nl + 1;
    }
    if (why == NULL && line_no == 0)
        why = "empty envelope";
    if (why == NULL && !ended)
        why = "no end record (truncated)";
    if (why == NULL && ((seen & (1u << KEY_ID)) == 0 || (seen & (1u << KEY_SENDER)) == 0 ||
                        (seen & (1u << KEY_SIZE)) == 0 || (seen & (1u << KEY_ARRIVAL)) == 0))
        why = "id, arrival, size or sender missing";
    if (why == NULL && env->rcpt_count == 0)
        why = "no recipients";
    if (why != NULL) {
        error_set(error_r, "line %u: %s", line_no, why);
        queue_envelope_free(&env);
        return -1;
    }
    *env_r = env;
    return 0;
}

static const char *const state_names[] = {"pending", "deferred", "delivered", "failed"};

const char *queue_rcpt_state_name(enum queue_rcpt_state state)
{
    return (unsigned)state < 4 ? state_names[state] : "unknown";
}

char *queue_status_format(size_t index, enum queue_rcpt_state state, time_t when, const char *reply)
{
    struct text t = {NULL, 0, 0, false};
    char head[96];

    if (state == QUEUE_RCPT_PENDING || (unsigned)state > QUEUE_RCPT_FAILED)
        return NULL;
    snprintf(head, sizeof(head), "%zu %s %lld", index, state_names[state], (long long)when);
    text_str(&t, head);
    if (state != QUEUE_RCPT_DELIVERED) {
        text_add(&t, " ", 1);
        text_escaped(&t, reply != NULL ? reply : "");
    }
    text_add(&t, "\n", 1);
    if (t.oom) {
        free(t.data);
        return NULL;
    }
    return t.data;
}

char *queue_status_format_warned(size_t index, time_t when)
{
    char *line = NULL;
    if (asprintf(&line, "%zu warned %lld\n", index, (long long)when) < 0)
        return NULL;
    return line;
}

char *queue_status_format_hold(bool held, time_t when)
{
    char *line = NULL;
    if (asprintf(&line, "- %s %lld\n", held ? "held" : "released", (long long)when) < 0)
        return NULL;
    return line;
}

/* apply_hold - a message-level record ("-" for its index): held or
 * released. false when it is neither. */
static bool apply_hold(struct queue_envelope *env, const char *word, size_t len, time_t when)
{
    if (len == 4 && memcmp(word, "held", 4) == 0) {
        env->held = true;
        env->held_since = when;
        return true;
    }
    if (len == 8 && memcmp(word, "released", 8) == 0) {
        env->held = false;
        env->held_since = 0;
        return true;
    }
    return false;
}

int queue_status_apply(struct queue_envelope *env, const char *text, size_t len, char **error_r)
{
    const char *p = text, *end = text + len;
    unsigned line_no = 0;

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *f[4];
        size_t flen[4], nfields = 0;
        const char *q;
        uint64_t index;
        time_t when;
        enum queue_rcpt_state state;
        struct queue_recipient *r;
        char *reply = NULL;
        const char *why = NULL;

        line_no++;
        if (nl == NULL)
            break; /* interrupted append, never acknowledged */
        if ((size_t)(nl - p) > QUEUE_ENV_MAX_LINE) {
            error_set(error_r, "status line %u: too long", line_no);
            return -1;
        }
        for (q = p; q < nl && nfields < 4;) {
            const char *sp = memchr(q, ' ', (size_t)(nl - q));
            const char *stop = sp != NULL ? sp : nl;

            f[nfields] = q;
            flen[nfields++] = (size_t)(stop - q);
            q = sp != NULL ? sp + 1 : nl;
            if (sp != NULL && q == nl) {
                if (nfields == 4) {
                    q = nl + 1; /* a fifth field: malformed below */
                    break;
                }
                f[nfields] = q; /* trailing space: an empty last field (empty reply) */
                flen[nfields++] = 0;
            }
        }
        if (nfields == 3 && flen[0] == 1 && f[0][0] == '-' && q == nl &&
            parse_time(f[2], flen[2], &when)) {
            if (!apply_hold(env, f[1], flen[1], when)) {
                error_set(error_r, "status line %u: bad message record", line_no);
                return -1;
            }
            p = nl + 1;
            continue;
        }
        if (nfields < 3 || q != nl || !parse_u64(f[0], flen[0], &index) ||
            !parse_time(f[2], flen[2], &when)) {
            error_set(error_r, "status line %u: malformed", line_no);
            return -1;
        }
        if (nfields == 3 && flen[1] == 6 && memcmp(f[1], "warned", 6) == 0) {
            if (index >= env->rcpt_count) {
                error_set(error_r, "status line %u: no recipient %" PRIu64, line_no, index);
                return -1;
            }
            env->rcpts[index].delay_warned = true; /* not a state: the state stays */
            p = nl + 1;
            continue;
        }
        for (state = QUEUE_RCPT_DEFERRED; state <= QUEUE_RCPT_FAILED; state++)
            if (strlen(state_names[state]) == flen[1] &&
                memcmp(state_names[state], f[1], flen[1]) == 0)
                break;
        if (state > QUEUE_RCPT_FAILED || (state == QUEUE_RCPT_DELIVERED) != (nfields == 3)) {
            error_set(error_r, "status line %u: bad state", line_no);
            return -1;
        }
        if (index >= env->rcpt_count) {
            error_set(error_r, "status line %u: no recipient %" PRIu64, line_no, index);
            return -1;
        }
        if (nfields == 4 && (reply = unescape(f[3], flen[3], &why)) == NULL) {
            error_set(error_r, "status line %u: %s", line_no, why);
            return -1;
        }
        r = &env->rcpts[index];
        if (r->state == QUEUE_RCPT_DELIVERED || r->state == QUEUE_RCPT_FAILED) {
            free(reply); /* final states never change */
        } else {
            r->state = state;
            r->when = when;
            free(r->reply);
            r->reply = reply;
        }
        p = nl + 1;
    }
    return 0;
}

bool queue_envelope_all_final(const struct queue_envelope *env)
{
    for (size_t i = 0; i < env->rcpt_count; i++)
        if (env->rcpts[i].state != QUEUE_RCPT_DELIVERED && env->rcpts[i].state != QUEUE_RCPT_FAILED)
            return false;
    return true;
}
