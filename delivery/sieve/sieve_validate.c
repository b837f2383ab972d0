/* delivery/sieve/sieve_validate.c - one table of commands and tests and one
 * of tagged arguments; a command is checked by looking itself up, so adding
 * an extension's command is adding a row. Identifiers and tags compare
 * case-insensitively (RFC 5228 8.1). */
#include "config.h"

#include "delivery/sieve/sieve_validate.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "delivery/sieve/sieve_address.h"
#include "delivery/sieve/sieve_date.h"
#include "delivery/sieve/sieve_lex.h"
#include "lib/buf.h"

static const struct {
    const char *name;
    unsigned ext;
} extensions[] = {
    {"fileinto", SIEVE_EXT_FILEINTO},
    {"envelope", SIEVE_EXT_ENVELOPE},
    {"encoded-character", SIEVE_EXT_ENCODED_CHARACTER},
    {"copy", SIEVE_EXT_COPY},
    {"imap4flags", SIEVE_EXT_IMAP4FLAGS},
    {"subaddress", SIEVE_EXT_SUBADDRESS},
    {"variables", SIEVE_EXT_VARIABLES},
    {"relational", SIEVE_EXT_RELATIONAL},
    {"body", SIEVE_EXT_BODY},
    {"reject", SIEVE_EXT_REJECT},
    {"ereject", SIEVE_EXT_EREJECT},
    {"vacation", SIEVE_EXT_VACATION},
    {"vacation-seconds", SIEVE_EXT_VACATION_SECONDS | SIEVE_EXT_VACATION},
    {"mailbox", SIEVE_EXT_MAILBOX},
    {"comparator-i;ascii-numeric", SIEVE_EXT_CMP_NUMERIC},
    {"comparator-i;octet", 0},
    {"comparator-i;ascii-casemap", 0},
    {"date", SIEVE_EXT_DATE},
    {"index", SIEVE_EXT_INDEX},
    {"include", SIEVE_EXT_INCLUDE},
};

const char *sieve_ext_name(unsigned ext)
{
    /* the name of the lowest bit: for a command that needs two extensions,
     * the first one missing */
    ext &= ~ext + 1;
    for (size_t i = 0; i < sizeof extensions / sizeof extensions[0]; i++)
        if (extensions[i].ext == ext)
            return extensions[i].name;
    for (size_t i = 0; i < sizeof extensions / sizeof extensions[0]; i++)
        if (extensions[i].ext & ext)
            return extensions[i].name;
    return "?";
}

size_t sieve_extensions_format(char *buf, size_t size)
{
    size_t n = 0;
    for (size_t i = 0; i < sizeof extensions / sizeof extensions[0]; i++) {
        int w = snprintf(buf + (n < size ? n : size), n < size ? size - n : 0, "%s%s",
                         i > 0 ? " " : "", extensions[i].name);
        if (w > 0)
            n += (size_t)w;
    }
    if (size > 0 && n == 0)
        buf[0] = '\0';
    return n;
}

/* Groups of tags a command may take, and what they set. */
enum {
    G_MATCH = 1u << 0, /* :is :contains :matches, :count :value (relational) */
    G_COMPARATOR = 1u << 1,
    G_ADDRPART = 1u << 2, /* :all :localpart :domain, :user :detail (subaddress) */
    G_INDEX = 1u << 3,    /* :index N :last (RFC 5260 6) */
    G_BODY = 1u << 4,     /* :raw :text :content */
    G_ZONE = 1u << 5,     /* :zone :originalzone */
};

enum tag_kind { TK_FLAG, TK_NUMBER, TK_STRING, TK_STRLIST };

struct tag_def {
    const char *name;
    enum tag_kind kind;
    unsigned group; /* 0: a command's own tag, listed in its row */
    int slot;       /* enum sieve_tag_slot, or -1 for group tags resolved below */
    unsigned ext;
};

static const struct tag_def tags[] = {
    {"is", TK_FLAG, G_MATCH, -1, 0},
    {"contains", TK_FLAG, G_MATCH, -1, 0},
    {"matches", TK_FLAG, G_MATCH, -1, 0},
    {"count", TK_STRING, G_MATCH, -1, SIEVE_EXT_RELATIONAL},
    {"value", TK_STRING, G_MATCH, -1, SIEVE_EXT_RELATIONAL},
    {"comparator", TK_STRING, G_COMPARATOR, -1, 0},
    {"all", TK_FLAG, G_ADDRPART, -1, 0},
    {"localpart", TK_FLAG, G_ADDRPART, -1, 0},
    {"domain", TK_FLAG, G_ADDRPART, -1, 0},
    {"user", TK_FLAG, G_ADDRPART, -1, SIEVE_EXT_SUBADDRESS},
    {"detail", TK_FLAG, G_ADDRPART, -1, SIEVE_EXT_SUBADDRESS},
    {"index", TK_NUMBER, G_INDEX, SLOT_INDEX, SIEVE_EXT_INDEX},
    {"last", TK_FLAG, G_INDEX, SLOT_LAST, SIEVE_EXT_INDEX},
    {"raw", TK_FLAG, G_BODY, -1, 0},
    {"text", TK_FLAG, G_BODY, -1, 0},
    {"content", TK_STRLIST, G_BODY, SLOT_CONTENT, 0},
    {"zone", TK_STRING, G_ZONE, SLOT_ZONE, 0},
    {"originalzone", TK_FLAG, G_ZONE, SLOT_ORIGINALZONE, 0},
    {"copy", TK_FLAG, 0, SLOT_COPY, SIEVE_EXT_COPY},
    {"create", TK_FLAG, 0, SLOT_CREATE, SIEVE_EXT_MAILBOX},
    {"flags", TK_STRLIST, 0, SLOT_FLAGS, SIEVE_EXT_IMAP4FLAGS},
    {"over", TK_NUMBER, 0, SLOT_OVER, 0},
    {"under", TK_NUMBER, 0, SLOT_UNDER, 0},
    {"days", TK_NUMBER, 0, SLOT_DAYS, 0},
    {"seconds", TK_NUMBER, 0, SLOT_SECONDS, SIEVE_EXT_VACATION_SECONDS},
    {"subject", TK_STRING, 0, SLOT_SUBJECT, 0},
    {"from", TK_STRING, 0, SLOT_FROM, 0},
    {"addresses", TK_STRLIST, 0, SLOT_ADDRESSES, 0},
    {"mime", TK_FLAG, 0, SLOT_MIME, 0},
    {"handle", TK_STRING, 0, SLOT_HANDLE, 0},
    {"lower", TK_FLAG, 0, SLOT_LOWER, 0},
    {"upper", TK_FLAG, 0, SLOT_UPPER, 0},
    {"lowerfirst", TK_FLAG, 0, SLOT_LOWERFIRST, 0},
    {"upperfirst", TK_FLAG, 0, SLOT_UPPERFIRST, 0},
    {"quotewildcard", TK_FLAG, 0, SLOT_QUOTEWILDCARD, 0},
    {"length", TK_FLAG, 0, SLOT_LENGTH, 0},
    {"personal", TK_FLAG, 0, SLOT_PERSONAL, 0},
    {"global", TK_FLAG, 0, SLOT_GLOBAL, 0},
    {"once", TK_FLAG, 0, SLOT_ONCE, 0},
    {"optional", TK_FLAG, 0, SLOT_OPTIONAL, 0},
};

/* A row per command and test. pos: the positional arguments, 's' a string,
 * 'l' a string list (a single string is one), 'n' a number; an upper-case
 * letter is optional and comes first (imap4flags' variable name). */
struct cmd_def {
    const char *name;
    enum sieve_cmd_id id;
    bool is_test;
    unsigned ext;
    const char *pos;
    unsigned groups;
    const char *own_tags; /* space-separated, each in tags[] */
    int tests;            /* 0 none, 1 one test, 2 a test list (may be empty) */
    bool block;
};

static const struct cmd_def commands[] = {
    {"require", CMD_REQUIRE, false, 0, "l", 0, "", 0, false},
    {"if", CMD_IF, false, 0, "", 0, "", 1, true},
    {"elsif", CMD_ELSIF, false, 0, "", 0, "", 1, true},
    {"else", CMD_ELSE, false, 0, "", 0, "", 0, true},
    {"stop", CMD_STOP, false, 0, "", 0, "", 0, false},
    {"keep", CMD_KEEP, false, 0, "", 0, "flags", 0, false},
    {"discard", CMD_DISCARD, false, 0, "", 0, "", 0, false},
    {"redirect", CMD_REDIRECT, false, 0, "s", 0, "copy", 0, false},
    {"fileinto", CMD_FILEINTO, false, SIEVE_EXT_FILEINTO, "s", 0, "copy create flags", 0, false},
    {"reject", CMD_REJECT, false, SIEVE_EXT_REJECT, "s", 0, "", 0, false},
    {"ereject", CMD_EREJECT, false, SIEVE_EXT_EREJECT, "s", 0, "", 0, false},
    {"vacation", CMD_VACATION, false, SIEVE_EXT_VACATION, "s", 0,
     "days seconds subject from addresses mime handle", 0, false},
    {"set", CMD_SET, false, SIEVE_EXT_VARIABLES, "ss", 0,
     "lower upper lowerfirst upperfirst quotewildcard length", 0, false},
    {"setflag", CMD_SETFLAG, false, SIEVE_EXT_IMAP4FLAGS, "Sl", 0, "", 0, false},
    {"addflag", CMD_ADDFLAG, false, SIEVE_EXT_IMAP4FLAGS, "Sl", 0, "", 0, false},
    {"removeflag", CMD_REMOVEFLAG, false, SIEVE_EXT_IMAP4FLAGS, "Sl", 0, "", 0, false},
    {"include", CMD_INCLUDE, false, SIEVE_EXT_INCLUDE, "s", 0, "personal global once optional", 0,
     false},
    {"return", CMD_RETURN, false, SIEVE_EXT_INCLUDE, "", 0, "", 0, false},
    {"global", CMD_GLOBAL, false, SIEVE_EXT_INCLUDE | SIEVE_EXT_VARIABLES, "l", 0, "", 0, false},
    {"address", TEST_ADDRESS, true, 0, "ll", G_MATCH | G_COMPARATOR | G_ADDRPART | G_INDEX, "", 0,
     false},
    {"header", TEST_HEADER, true, 0, "ll", G_MATCH | G_COMPARATOR | G_INDEX, "", 0, false},
    {"exists", TEST_EXISTS, true, 0, "l", 0, "", 0, false},
    {"size", TEST_SIZE, true, 0, "", 0, "over under", 0, false},
    {"allof", TEST_ALLOF, true, 0, "", 0, "", 2, false},
    {"anyof", TEST_ANYOF, true, 0, "", 0, "", 2, false},
    {"not", TEST_NOT, true, 0, "", 0, "", 1, false},
    {"true", TEST_TRUE, true, 0, "", 0, "", 0, false},
    {"false", TEST_FALSE, true, 0, "", 0, "", 0, false},
    {"envelope", TEST_ENVELOPE, true, SIEVE_EXT_ENVELOPE, "ll", G_MATCH | G_COMPARATOR | G_ADDRPART,
     "", 0, false},
    {"body", TEST_BODY, true, SIEVE_EXT_BODY, "l", G_MATCH | G_COMPARATOR | G_BODY, "", 0, false},
    {"string", TEST_STRING, true, SIEVE_EXT_VARIABLES, "ll", G_MATCH | G_COMPARATOR, "", 0, false},
    {"hasflag", TEST_HASFLAG, true, SIEVE_EXT_IMAP4FLAGS, "Ll", G_MATCH | G_COMPARATOR, "", 0,
     false},
    {"mailboxexists", TEST_MAILBOXEXISTS, true, SIEVE_EXT_MAILBOX, "l", 0, "", 0, false},
    {"date", TEST_DATE, true, SIEVE_EXT_DATE, "sll", G_MATCH | G_COMPARATOR | G_ZONE | G_INDEX, "",
     0, false},
    {"currentdate", TEST_CURRENTDATE, true, SIEVE_EXT_DATE, "sl", G_MATCH | G_COMPARATOR | G_ZONE,
     "", 0, false},
};

struct validator {
    struct sieve_script *script;
    struct sieve_errors *errors;
    bool failed;
};

static void verror(struct validator *v, unsigned line, unsigned col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void verror(struct validator *v, unsigned line, unsigned col, const char *fmt, ...)
{
    char *msg = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    sieve_errors_add(v->errors, line, col, "%s", msg != NULL ? msg : "out of memory");
    free(msg);
    v->failed = true;
}

static const struct cmd_def *find_command(const char *name)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcasecmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

static const struct tag_def *find_tag(const char *name)
{
    for (size_t i = 0; i < sizeof tags / sizeof tags[0]; i++)
        if (strcasecmp(tags[i].name, name) == 0)
            return &tags[i];
    return NULL;
}

static bool own_tag(const struct cmd_def *def, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = def->own_tags; *p != '\0';) {
        const char *e = strchr(p, ' ');
        size_t len = e != NULL ? (size_t)(e - p) : strlen(p);
        if (len == n && strncasecmp(p, name, n) == 0)
            return true;
        p += len + (e != NULL);
    }
    return false;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static void skip_blank(const char **p, const char *end)
{
    while (*p < end && (**p == ' ' || **p == '\t' || **p == '\r' || **p == '\n'))
        (*p)++;
}

static void put_utf8(struct buf *b, unsigned long cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xc0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xe0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        u[0] = (char)(0xf0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[3] = (char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    buf_append(b, u, n);
}

/* encoded_one - at p (just after "${"), "hex:" or "unicode:" then blank
 * separated values then "}": the expansion into b and the end in *endp, 1;
 * 0 when the syntax does not fit (the text stays as it is, 2.4.2.4);
 * -1 for a unicode value outside Unicode or a NUL (an error). */
static int encoded_one(const char *p, const char *end, struct buf *b, const char **endp)
{
    bool unicode;
    if ((size_t)(end - p) >= 4 && strncasecmp(p, "hex:", 4) == 0) {
        unicode = false;
        p += 4;
    } else if ((size_t)(end - p) >= 8 && strncasecmp(p, "unicode:", 8) == 0) {
        unicode = true;
        p += 8;
    } else {
        return 0;
    }
    struct buf out = BUF_INIT;
    skip_blank(&p, end);
    while (p < end && *p != '}') {
        unsigned long v = 0;
        size_t digits = 0;
        while (p < end && hexval(*p) >= 0) {
            v = v * 16 + (unsigned long)hexval(*p);
            p++;
            if (++digits > 8)
                break;
        }
        if (digits == 0 || (!unicode && digits > 2) || (unicode && digits > 6) ||
            (p < end && *p != '}' && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')) {
            buf_release(&out);
            return 0;
        }
        if (v == 0 || (unicode && (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)))) {
            buf_release(&out);
            return -1;
        }
        if (unicode)
            put_utf8(&out, v);
        else {
            char c = (char)v;
            buf_append(&out, &c, 1);
        }
        skip_blank(&p, end);
    }
    if (p >= end) {
        buf_release(&out);
        return 0;
    }
    buf_append(b, buf_ptr(&out) != NULL ? buf_ptr(&out) : "", buf_len(&out));
    buf_release(&out);
    *endp = p + 1;
    return 1;
}

/* expand_encoded - RFC 5228 2.4.2.4 over one string, in place. */
static void expand_encoded(struct validator *v, const struct sieve_arg *arg, char **s)
{
    if (strstr(*s, "${") == NULL)
        return;
    struct buf b = BUF_INIT;
    const char *p = *s, *end = *s + strlen(*s);
    while (p < end) {
        if (p + 1 < end && p[0] == '$' && p[1] == '{') {
            const char *after;
            int rc = encoded_one(p + 2, end, &b, &after);
            if (rc < 0) {
                verror(v, arg->line, arg->column, "%s%sencoded-character: invalid or NUL value", "",
                       "");
                buf_release(&b);
                return;
            }
            if (rc > 0) {
                p = after;
                continue;
            }
        }
        buf_append(&b, p, 1);
        p++;
    }
    buf_append(&b, "", 1);
    char *n = strdup(buf_ptr(&b));
    buf_release(&b);
    if (n != NULL) {
        free(*s);
        *s = n;
    }
}

static void expand_tree(struct validator *v, struct sieve_node *node)
{
    for (size_t i = 0; i < node->nargs; i++)
        for (size_t j = 0; j < node->args[i].nstrs; j++)
            expand_encoded(v, &node->args[i], &node->args[i].strs[j]);
    for (size_t i = 0; i < node->ntests; i++)
        expand_tree(v, node->tests[i]);
    for (size_t i = 0; i < node->nblock; i++)
        expand_tree(v, node->block[i]);
}

static bool is_string(const struct sieve_arg *a)
{
    return a->kind == SIEVE_ARG_STRING;
}

static bool string_list_ok(const struct sieve_arg *a)
{
    return a->kind == SIEVE_ARG_STRING || a->kind == SIEVE_ARG_STRLIST;
}

/* group_tag - resolve a tag of a group onto node; false on a conflict. */
static bool group_tag(struct validator *v, struct sieve_node *node, const struct tag_def *t,
                      const struct sieve_arg *tag, const struct sieve_arg *value, bool *seen)
{
    static const char *const rels[] = {"gt", "ge", "lt", "le", "eq", "ne"};
    unsigned g = t->group;
    int idx = g == G_MATCH ? 0 : g == G_COMPARATOR ? 1 : g == G_ADDRPART ? 2 : g == G_BODY ? 3 : 4;
    if (t->slot < 0 || g == G_BODY) {
        if (seen[idx]) {
            verror(v, tag->line, tag->column, "more than one %s argument (:%s)",
                   g == G_MATCH        ? "match type"
                   : g == G_COMPARATOR ? "comparator"
                   : g == G_ADDRPART   ? "address part"
                                       : "body transform",
                   t->name);
            return false;
        }
        seen[idx] = true;
    }
    const char *n = t->name;
    if (g == G_MATCH) {
        node->match = strcmp(n, "is") == 0         ? MATCH_IS
                      : strcmp(n, "contains") == 0 ? MATCH_CONTAINS
                      : strcmp(n, "matches") == 0  ? MATCH_MATCHES
                      : strcmp(n, "count") == 0    ? MATCH_COUNT
                                                   : MATCH_VALUE;
        if (value != NULL) {
            size_t i;
            for (i = 0; i < 6; i++)
                if (strcasecmp(value->strs[0], rels[i]) == 0)
                    break;
            if (i == 6) {
                verror(v, value->line, value->column,
                       "unknown relational operator \"%.64s\"%s (gt ge lt le eq ne)",
                       value->strs[0], "");
                return false;
            }
            node->rel = (enum sieve_relation)i;
        }
    } else if (g == G_COMPARATOR) {
        const char *c = value->strs[0];
        if (strcasecmp(c, "i;ascii-casemap") == 0)
            node->cmp = CMP_CASEMAP;
        else if (strcasecmp(c, "i;octet") == 0)
            node->cmp = CMP_OCTET;
        else if (strcasecmp(c, "i;ascii-numeric") == 0 && (v->script->exts & SIEVE_EXT_CMP_NUMERIC))
            node->cmp = CMP_NUMERIC;
        else {
            verror(v, value->line, value->column, "unknown comparator \"%.64s\"%s", c,
                   strcasecmp(c, "i;ascii-numeric") == 0
                       ? " (require \"comparator-i;ascii-numeric\")"
                       : "");
            return false;
        }
    } else if (g == G_ADDRPART) {
        node->part = strcmp(n, "all") == 0         ? PART_ALL
                     : strcmp(n, "localpart") == 0 ? PART_LOCAL
                     : strcmp(n, "domain") == 0    ? PART_DOMAIN
                     : strcmp(n, "user") == 0      ? PART_USER
                                                   : PART_DETAIL;
    } else if (g == G_BODY) {
        node->transform = strcmp(n, "raw") == 0    ? BODY_RAW
                          : strcmp(n, "text") == 0 ? BODY_TEXT
                                                   : BODY_CONTENT;
    }
    return true;
}

static void validate_block(struct validator *v, struct sieve_node **cmds, size_t n, bool top);

/* validate_args - tags and positional arguments of node against def. */
static void validate_args(struct validator *v, struct sieve_node *node, const struct cmd_def *def)
{
    bool seen[5] = {false};
    for (size_t i = 0; i < node->nargs; i++) {
        struct sieve_arg *a = &node->args[i];
        if (a->kind != SIEVE_ARG_TAG) {
            if (node->npos >= 3) {
                verror(v, a->line, a->column, "too many arguments for %s%s", def->name, "");
                return;
            }
            node->pos[node->npos++] = a;
            continue;
        }
        const struct tag_def *t = find_tag(a->tag);
        if (t == NULL || !(t->group != 0 ? (def->groups & t->group) != 0 : own_tag(def, a->tag))) {
            verror(v, a->line, a->column, "unknown tag :%.64s for %s", a->tag, def->name);
            return;
        }
        if (t->ext != 0 && (v->script->exts & t->ext) != t->ext) {
            verror(v, a->line, a->column, "tag :%s needs require \"%s\"", t->name,
                   sieve_ext_name(t->ext));
            return;
        }
        const struct sieve_arg *value = NULL;
        if (t->kind != TK_FLAG) {
            value = i + 1 < node->nargs ? &node->args[i + 1] : NULL;
            bool ok = value != NULL && (t->kind == TK_NUMBER   ? value->kind == SIEVE_ARG_NUMBER
                                        : t->kind == TK_STRING ? is_string(value)
                                                               : string_list_ok(value));
            if (!ok) {
                verror(v, a->line, a->column, "tag :%s needs a %s after it", t->name,
                       t->kind == TK_NUMBER   ? "number"
                       : t->kind == TK_STRING ? "string"
                                              : "string list");
                return;
            }
            i++;
        }
        if (t->slot >= 0) {
            if (node->slot[t->slot] != NULL) {
                verror(v, a->line, a->column, "tag :%s given twice%s", t->name, "");
                return;
            }
            node->slot[t->slot] = t->kind == TK_FLAG ? a : value;
        }
        if (t->group != 0 && t->group != G_INDEX && t->group != G_ZONE &&
            !group_tag(v, node, t, a, value, seen))
            return;
    }
    /* positional arguments against the signature */
    const char *sig = def->pos;
    size_t optional = (sig[0] >= 'A' && sig[0] <= 'Z') ? 1 : 0;
    size_t need = strlen(sig);
    if (node->npos != need && !(optional && node->npos == need - 1)) {
        char want[32];
        snprintf(want, sizeof want, "%zu", need);
        verror(v, node->line, node->column, "%s takes %s positional argument(s)", def->name, want);
        return;
    }
    if (optional && node->npos == need - 1) {
        /* the optional first one is absent: shift the signature */
        sig++;
    }
    for (size_t i = 0; i < node->npos; i++) {
        char want = sig[i] | 0x20;
        const struct sieve_arg *a = node->pos[i];
        bool ok = want == 'n'   ? a->kind == SIEVE_ARG_NUMBER
                  : want == 's' ? is_string(a)
                  : want == 'l' ? string_list_ok(a)
                                : false;
        if (!ok) {
            verror(v, a->line, a->column, "%s: argument %s has the wrong type", def->name,
                   i == 0   ? "1"
                   : i == 1 ? "2"
                            : "3");
            return;
        }
    }
    if (optional && node->npos == need - 1) {
        /* keep pos[] aligned with the full signature: pos[0] is the optional one */
        for (size_t i = node->npos; i > 0; i--)
            node->pos[i] = node->pos[i - 1];
        node->pos[0] = NULL;
        node->npos++;
    }
}

/* check_semantics - what the table cannot say, per RFC. */
static void check_semantics(struct validator *v, struct sieve_node *node)
{
    if ((node->match == MATCH_CONTAINS || node->match == MATCH_MATCHES) && node->cmp == CMP_NUMERIC)
        verror(v, node->line, node->column,
               "%s: i;ascii-numeric supports only :is, :count and :value (RFC 4790 9.1)%s",
               node->name, "");
    switch (node->id) {
    case TEST_SIZE:
        if ((node->slot[SLOT_OVER] == NULL) == (node->slot[SLOT_UNDER] == NULL))
            verror(v, node->line, node->column, "size needs exactly one of :over and :under%s%s",
                   "", "");
        break;
    case CMD_VACATION:
        if (node->slot[SLOT_DAYS] != NULL && node->slot[SLOT_SECONDS] != NULL)
            verror(v, node->line, node->column,
                   "vacation: :days and :seconds exclude each other%s%s", "", "");
        break;
    case CMD_SET: {
        const char *name = node->pos[0]->strs[0];
        if (!sieve_is_identifier(name, strlen(name)))
            verror(v, node->pos[0]->line, node->pos[0]->column,
                   "set: \"%.64s\" is not a variable name%s", name, "");
        static const int levels[][2] = {{SLOT_LOWER, SLOT_UPPER},
                                        {SLOT_LOWERFIRST, SLOT_UPPERFIRST}};
        for (size_t i = 0; i < 2; i++)
            if (node->slot[levels[i][0]] != NULL && node->slot[levels[i][1]] != NULL)
                verror(v, node->line, node->column,
                       "set: two modifiers of the same precedence (RFC 5229 4.1)%s%s", "", "");
        v->script->variable_count++;
        break;
    }
    case CMD_INCLUDE: {
        /* RFC 6609 3.2: the name is a constant script name */
        const char *name = node->pos[0]->strs[0];
        if (name[0] == '\0' || strchr(name, '/') != NULL || strstr(name, "${") != NULL)
            verror(v, node->pos[0]->line, node->pos[0]->column,
                   "include: \"%.64s\" is not a script name", name);
        if (node->slot[SLOT_PERSONAL] != NULL && node->slot[SLOT_GLOBAL] != NULL)
            verror(v, node->line, node->column,
                   "include: :personal and :global exclude each other");
        break;
    }
    case CMD_GLOBAL:
        for (size_t i = 0; i < node->pos[0]->nstrs; i++) {
            const char *name = node->pos[0]->strs[i];
            if (!sieve_is_identifier(name, strlen(name)))
                verror(v, node->pos[0]->line, node->pos[0]->column,
                       "global: \"%.64s\" is not a variable name", name);
        }
        break;
    case TEST_ENVELOPE:
        for (size_t i = 0; i < node->pos[0]->nstrs; i++) {
            const char *p = node->pos[0]->strs[i];
            if (strcasecmp(p, "from") != 0 && strcasecmp(p, "to") != 0 &&
                strcasecmp(p, "auth") != 0 && strstr(p, "${") == NULL)
                verror(v, node->pos[0]->line, node->pos[0]->column,
                       "envelope: unknown envelope part \"%.64s\"%s", p, "");
        }
        break;
    case TEST_DATE:
    case TEST_CURRENTDATE: {
        const struct sieve_arg *part = node->pos[node->id == TEST_DATE ? 1 : 0];
        int minutes;
        if (strstr(part->strs[0], "${") == NULL && !sieve_date_part_known(part->strs[0]))
            verror(v, part->line, part->column, "%s: unknown date part \"%.64s\"", node->name,
                   part->strs[0]);
        const struct sieve_arg *zone = node->slot[SLOT_ZONE];
        if (zone != NULL && strstr(zone->strs[0], "${") == NULL &&
            !sieve_date_zone_minutes(zone->strs[0], &minutes))
            verror(v, zone->line, zone->column, "%s: zone \"%.64s\" is not +hhmm or -hhmm",
                   node->name, zone->strs[0]);
        if (zone != NULL && node->slot[SLOT_ORIGINALZONE] != NULL)
            verror(v, node->line, node->column, "%s: :zone and :originalzone exclude each other",
                   node->name);
        if (node->id == TEST_CURRENTDATE)
            break;
        /* date takes :index too */
        __attribute__((fallthrough));
    }
    case TEST_ADDRESS:
    case TEST_HEADER:
        /* RFC 5228 5.1 restricts address to fields that hold addresses;
         * Pigeonhole accepts any, so it is a warning, and the test runs */
        for (size_t i = 0; node->id == TEST_ADDRESS && i < node->pos[0]->nstrs; i++) {
            const char *h = node->pos[0]->strs[i];
            if (strstr(h, "${") == NULL && !sieve_address_header_known(h))
                sieve_errors_add(&v->script->warnings, node->pos[0]->line, node->pos[0]->column,
                                 "address: \"%.64s\" holds no addresses (RFC 5228 5.1)", h);
        }
        if (node->slot[SLOT_LAST] != NULL && node->slot[SLOT_INDEX] == NULL)
            verror(v, node->line, node->column, "%s: :last needs :index (RFC 5260 6)%s", node->name,
                   "");
        if (node->slot[SLOT_INDEX] != NULL && node->slot[SLOT_INDEX]->num == 0)
            verror(v, node->line, node->column, "%s: :index counts from 1%s", node->name, "");
        break;
    default:
        break;
    }
}

static void validate_node(struct validator *v, struct sieve_node *node, bool as_test)
{
    const struct cmd_def *def = find_command(node->name);
    if (def == NULL) {
        verror(v, node->line, node->column, "unknown %s \"%.64s\"", as_test ? "test" : "command",
               node->name);
        return;
    }
    if (def->is_test != as_test) {
        verror(v, node->line, node->column,
               as_test ? "%s is a command, not a test%s" : "%s is a test, not a command%s",
               def->name, "");
        return;
    }
    if (def->ext != 0 && (v->script->exts & def->ext) != def->ext) {
        verror(v, node->line, node->column, "%s needs require \"%s\"", def->name,
               sieve_ext_name(def->ext & ~v->script->exts));
        return;
    }
    node->id = def->id;
    node->match = MATCH_IS;
    node->cmp = CMP_CASEMAP;
    node->part = PART_ALL;
    node->transform = BODY_TEXT;
    validate_args(v, node, def);
    if (v->failed)
        return;
    if (def->tests == 0 && node->ntests > 0) {
        verror(v, node->tests[0]->line, node->tests[0]->column, "%s takes no test%s", def->name,
               "");
        return;
    }
    if (def->tests == 1 && (node->ntests != 1 || node->test_list)) {
        verror(v, node->line, node->column, "%s needs exactly one test%s", def->name,
               node->test_list ? " (not a test list)" : "");
        return;
    }
    if (def->tests == 2 && !node->test_list) {
        verror(v, node->line, node->column, "%s needs a test list in parentheses%s", def->name, "");
        return;
    }
    if (def->block != node->has_block) {
        verror(v, node->line, node->column,
               def->block ? "%s needs a block%s" : "%s takes no block%s", def->name, "");
        return;
    }
    check_semantics(v, node);
    for (size_t i = 0; i < node->ntests && !v->failed; i++)
        validate_node(v, node->tests[i], true);
    if (node->has_block && !v->failed)
        validate_block(v, node->block, node->nblock, false);
}

static void validate_block(struct validator *v, struct sieve_node **cmds, size_t n, bool top)
{
    bool past_require = false;
    for (size_t i = 0; i < n && !v->failed; i++) {
        struct sieve_node *c = cmds[i];
        bool is_require = strcasecmp(c->name, "require") == 0;
        if (is_require && (!top || past_require)) {
            verror(v, c->line, c->column, "require must come before every other command%s%s", "",
                   "");
            return;
        }
        if (!is_require)
            past_require = true;
        else {
            c->id = CMD_REQUIRE; /* handled by collect_requires */
            continue;
        }
        if (strcasecmp(c->name, "elsif") == 0 || strcasecmp(c->name, "else") == 0) {
            struct sieve_node *prev = i > 0 ? cmds[i - 1] : NULL;
            if (prev == NULL || (prev->id != CMD_IF && prev->id != CMD_ELSIF)) {
                verror(v, c->line, c->column, "%s without a preceding if or elsif%s", c->name, "");
                return;
            }
            prev->has_else_chain = true;
        }
        validate_node(v, c, false);
    }
}

/* collect_requires - the leading require commands name the extensions. */
static void collect_requires(struct validator *v)
{
    struct sieve_script *s = v->script;
    for (size_t i = 0; i < s->ncommands; i++) {
        struct sieve_node *c = s->commands[i];
        if (strcasecmp(c->name, "require") != 0)
            break;
        if (c->nargs != 1 || !string_list_ok(&c->args[0]) || c->ntests != 0 || c->has_block) {
            verror(v, c->line, c->column, "require takes one string list%s%s", "", "");
            return;
        }
        for (size_t j = 0; j < c->args[0].nstrs; j++) {
            const char *name = c->args[0].strs[j];
            size_t k;
            for (k = 0; k < sizeof extensions / sizeof extensions[0]; k++)
                if (strcmp(extensions[k].name, name) == 0)
                    break;
            if (k == sizeof extensions / sizeof extensions[0]) {
                verror(v, c->args[0].line, c->args[0].column, "unknown extension \"%.64s\"%s", name,
                       "");
                return;
            }
            s->exts |= extensions[k].ext;
        }
    }
}

int sieve_validate(struct sieve_script *script, struct sieve_errors *errors)
{
    struct validator v = {script, errors, false};
    collect_requires(&v);
    if (!v.failed && (script->exts & SIEVE_EXT_ENCODED_CHARACTER))
        for (size_t i = 0; i < script->ncommands; i++)
            expand_tree(&v, script->commands[i]);
    if (!v.failed)
        validate_block(&v, script->commands, script->ncommands, true);
    return v.failed ? -1 : 0;
}
