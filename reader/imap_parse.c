/* reader/imap_parse.c - see imap_parse.h.
 *
 * The parser is a state machine over what the connection delivers: a line
 * starts a command (tag, name, arguments) or continues one after a literal;
 * a literal's octets are appended as they arrive. Arguments go into one
 * array in the order written and their text into one buffer; pointers are
 * made only when the command is complete, since both grow meanwhile. */
#include "config.h"

#include "reader/imap_parse.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum parser_state {
    P_START,           /* the next line begins a command */
    P_ARGS,            /* the next line continues the arguments after a literal */
    P_LITERAL,         /* reading a literal's octets */
    P_DISCARD_LITERAL, /* reading and dropping a refused command's literal */
    P_DISCARD_LINE,    /* the line after a dropped literal: still the refused command */
};

struct parser_arg {
    enum imap_arg_type type;
    size_t off; /* into text */
    size_t len;
    size_t count;
    size_t end;
};

struct imap_parser {
    struct imap_parse_limits limits;
    enum parser_state state;
    char tag[IMAP_TAG_MAX + 1];
    char name[IMAP_TAG_MAX + 1];
    const char *error;
    struct parser_arg *args;
    size_t nargs, args_alloc;
    char *text; /* every string, each NUL-terminated */
    size_t text_len, text_alloc, text_counted;
    size_t open[IMAP_PARSE_DEPTH_MAX + 1]; /* the lists still open: their indexes */
    unsigned depth;
    size_t top_count; /* top-level arguments */
    uint64_t literal_left;
    bool literal_sync;
    bool need_sep; /* an argument ended: a space, ")" or the end must come next */
    struct imap_arg *out;
    size_t out_alloc;
    struct imap_command cmd;
};

struct imap_parser *imap_parser_new(const struct imap_parse_limits *limits)
{
    struct imap_parser *p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    p->limits = *limits;
    if (p->limits.depth_max > IMAP_PARSE_DEPTH_MAX)
        p->limits.depth_max = IMAP_PARSE_DEPTH_MAX;
    imap_parser_reset(p);
    return p;
}

void imap_parser_free(struct imap_parser **pp)
{
    struct imap_parser *p = *pp;
    if (p == NULL)
        return;
    *pp = NULL;
    free(p->args);
    free(p->text);
    free(p->out);
    free(p);
}

void imap_parser_reset(struct imap_parser *p)
{
    p->state = P_START;
    memcpy(p->tag, "*", 2);
    p->name[0] = '\0';
    p->error = NULL;
    p->nargs = 0;
    p->text_len = 0;
    p->text_counted = 0;
    p->depth = 0;
    p->top_count = 0;
    p->literal_left = 0;
    p->literal_sync = false;
    p->need_sep = false;
}

/* RFC 3501 9: atom-specials are "(" ")" "{" SP CTL list-wildcards
 * quoted-specials resp-specials. */
static bool is_atom_char(unsigned char c)
{
    if (c <= 0x20 || c >= 0x7f)
        return false;
    return strchr("(){%*\"\\]", c) == NULL;
}

/* ASTRING-CHAR = ATOM-CHAR / resp-specials; a tag is that without "+". */
static bool is_tag_char(unsigned char c)
{
    return (is_atom_char(c) || c == ']') && c != '+';
}

static enum imap_parse_result bad(struct imap_parser *p, const char *why)
{
    p->error = why;
    p->state = P_START;
    p->literal_left = 0;
    return IMAP_PARSE_BAD;
}

/* text_add - append len octets to the text buffer. false when out of
 * memory or (counted: not a literal) over bytes_max. */
static bool text_add(struct imap_parser *p, const char *s, size_t len, bool counted)
{
    if (counted) {
        if (len > p->limits.bytes_max - p->text_counted)
            return false;
        p->text_counted += len;
    }
    if (len + 1 > p->text_alloc - p->text_len) {
        size_t want = p->text_alloc > 0 ? p->text_alloc : 1024;
        while (want - p->text_len < len + 1)
            want *= 2;
        char *t = realloc(p->text, want);
        if (t == NULL)
            return false;
        p->text = t;
        p->text_alloc = want;
    }
    memcpy(p->text + p->text_len, s, len);
    p->text_len += len;
    return true;
}

/* arg_begin - a new argument in the open list (or at the top); NULL with
 * p->error set when over args_max or out of memory. */
static struct parser_arg *arg_begin(struct imap_parser *p, enum imap_arg_type type)
{
    if (p->nargs >= p->limits.args_max) {
        p->error = "Too many arguments";
        return NULL;
    }
    if (p->nargs == p->args_alloc) {
        size_t want = p->args_alloc > 0 ? p->args_alloc * 2 : 32;
        struct parser_arg *a = realloc(p->args, want * sizeof *a);
        if (a == NULL) {
            p->error = "Out of memory";
            return NULL;
        }
        p->args = a;
        p->args_alloc = want;
    }
    if (p->depth > 0)
        p->args[p->open[p->depth - 1]].count++;
    else
        p->top_count++;
    struct parser_arg *a = &p->args[p->nargs++];
    a->type = type;
    a->off = p->text_len;
    a->len = 0;
    a->count = 0;
    a->end = p->nargs;
    return a;
}

/* arg_finish - the argument's text is complete: terminate it. */
static bool arg_finish(struct imap_parser *p, struct parser_arg *a)
{
    a->len = p->text_len - a->off;
    return text_add(p, "", 1, false) || (p->error = "Out of memory", false);
}

/* quoted - RFC 3501 9: DQUOTE *QUOTED-CHAR DQUOTE, where a backslash quotes
 * only DQUOTE and backslash. 8-bit octets are kept (clients send UTF-8). */
static enum imap_parse_result quoted(struct imap_parser *p, const char *line, size_t len,
                                     size_t *pos)
{
    struct parser_arg *a = arg_begin(p, IMAP_ARG_QUOTED);
    if (a == NULL)
        return bad(p, p->error);
    size_t i = *pos + 1;
    for (;;) {
        if (i >= len)
            return bad(p, "Unterminated quoted string");
        unsigned char c = (unsigned char)line[i];
        if (c == '"')
            break;
        if (c == '\\') {
            if (i + 1 >= len || (line[i + 1] != '"' && line[i + 1] != '\\'))
                return bad(p, "Bad escape in quoted string");
            c = (unsigned char)line[++i];
        } else if (c == '\0' || c == '\r' || c == '\n') {
            return bad(p, "Control character in quoted string");
        }
        char ch = (char)c;
        if (!text_add(p, &ch, 1, true))
            return bad(p, "Command too long");
        i++;
    }
    if (!arg_finish(p, a))
        return bad(p, p->error);
    *pos = i + 1;
    return IMAP_PARSE_DONE;
}

/* literal - "{" number ["+"] "}" at the very end of the line (RFC 3501
 * 4.3, RFC 7888 section 3). The size limit is checked before anything is
 * read: a synchronising literal is refused before its continuation is sent,
 * so the client never sends it; a non-synchronising one is already on its
 * way, so (RFC 7888 section 4 and 5) it is read and dropped before the
 * refusal, or, beyond discard_max, the connection is closed. */
static enum imap_parse_result literal(struct imap_parser *p, const char *line, size_t len,
                                      size_t pos, enum imap_arg_type type)
{
    size_t i = pos + 1;
    uint64_t n = 0;
    size_t digits = 0;
    while (i < len && line[i] >= '0' && line[i] <= '9') {
        if (++digits > 19)
            return bad(p, "Literal size too large");
        n = n * 10 + (uint64_t)(line[i] - '0');
        i++;
    }
    bool plus = i < len && line[i] == '+';
    if (plus)
        i++;
    plus = plus || p->limits.untagged;
    if (digits == 0 || i >= len || line[i] != '}')
        return bad(p, "Bad literal");
    if (i + 1 != len)
        return bad(p, "A literal must end the line");
    uint64_t max =
        strcmp(p->name, "APPEND") == 0 ? p->limits.append_literal_max : p->limits.literal_max;
    if (n > max) {
        p->error = "Literal too big";
        if (!plus) {
            p->state = P_START;
            return IMAP_PARSE_TOOBIG;
        }
        if (n > p->limits.discard_max) {
            p->state = P_START;
            return IMAP_PARSE_CLOSE;
        }
        p->literal_left = n;
        p->state = P_DISCARD_LITERAL;
        return IMAP_PARSE_TOOBIG;
    }
    struct parser_arg *a = arg_begin(p, type);
    if (a == NULL)
        return bad(p, p->error);
    p->literal_left = n;
    p->literal_sync = !plus;
    p->state = P_LITERAL; /* even {0}: imap_parser_feed_literal ends it */
    return IMAP_PARSE_LITERAL;
}

/* atom - an atom, a number, NIL, a flag, a sequence set, a list-mailbox with
 * wildcards, or a FETCH item such as BODY.PEEK[HEADER.FIELDS (A B)]<0.100>:
 * inside brackets spaces and parentheses belong to the item. */
static enum imap_parse_result atom(struct imap_parser *p, const char *line, size_t len, size_t *pos)
{
    struct parser_arg *a = arg_begin(p, IMAP_ARG_ATOM);
    if (a == NULL)
        return bad(p, p->error);
    size_t i = *pos;
    bool bracket = false, brackets_open = true;
rescan:
    for (; i < len; i++) {
        unsigned char c = (unsigned char)line[i];
        if (bracket) {
            if (c < 0x20 || c >= 0x7f)
                return bad(p, "Bad character in section");
            if (c == ']')
                bracket = false;
            continue;
        }
        if (c == '[' && brackets_open) {
            bracket = true;
            continue;
        }
        if (c == ' ' || c == ')' || c == '(')
            break;
        /* a flag is "\" atom (RFC 3501 9 "flag") */
        if (!is_atom_char(c) && c != '%' && c != '*' && c != ']' && c != '\\')
            return bad(p, c >= 0x80 ? "8-bit character in atom" : "Bad character in atom");
    }
    /* "[" is an ATOM-CHAR (RFC 3501 9): a mailbox such as "a[b" is an atom
     * too, only a FETCH item closes its bracket */
    if (bracket) {
        bracket = brackets_open = false;
        i = *pos;
        goto rescan;
    }
    if (i < len && line[i] == '(')
        return bad(p, "Missing space before (");
    if (!text_add(p, line + *pos, i - *pos, true))
        return bad(p, "Command too long");
    if (!arg_finish(p, a))
        return bad(p, p->error);
    if (a->len == 3 && strncasecmp(p->text + a->off, "NIL", 3) == 0)
        a->type = IMAP_ARG_NIL;
    *pos = i;
    return IMAP_PARSE_DONE;
}

/* finish - the command is complete: make the public view of it. */
static enum imap_parse_result finish(struct imap_parser *p)
{
    if (p->out_alloc < p->nargs + 1) {
        struct imap_arg *o = realloc(p->out, (p->nargs + 1) * sizeof *o);
        if (o == NULL)
            return bad(p, "Out of memory");
        p->out = o;
        p->out_alloc = p->nargs + 1;
    }
    for (size_t i = 0; i < p->nargs; i++) {
        const struct parser_arg *a = &p->args[i];
        p->out[i] = (struct imap_arg){a->type, a->type == IMAP_ARG_LIST ? "" : p->text + a->off,
                                      a->len, a->count, a->end};
    }
    p->cmd.tag = p->tag;
    p->cmd.name = p->name;
    p->cmd.args = p->out;
    p->cmd.argc = p->top_count;
    p->cmd.nargs = p->nargs;
    p->state = P_START;
    return IMAP_PARSE_DONE;
}

/* arguments - the arguments on line from pos on. */
static enum imap_parse_result arguments(struct imap_parser *p, const char *line, size_t len,
                                        size_t pos)
{
    while (pos < len) {
        char c = line[pos];
        if (p->need_sep) {
            if (c == ')') {
                /* handled below */
            } else if (c != ' ') {
                return bad(p, "Missing space between arguments");
            } else {
                pos++;
                p->need_sep = false;
                if (pos == len)
                    break; /* a trailing space, as some clients send */
                c = line[pos];
                if (c == ' ')
                    return bad(p, "Double space");
            }
        }
        enum imap_parse_result r = IMAP_PARSE_DONE;
        if (c == '(') {
            if (p->depth >= p->limits.depth_max)
                return bad(p, "Lists nested too deep");
            size_t index = p->nargs;
            struct parser_arg *a = arg_begin(p, IMAP_ARG_LIST);
            if (a == NULL)
                return bad(p, p->error);
            p->open[p->depth++] = index;
            pos++;
            continue;
        }
        if (c == ')') {
            if (p->depth == 0)
                return bad(p, "Unexpected )");
            struct parser_arg *list = &p->args[p->open[--p->depth]];
            list->end = p->nargs;
            pos++;
            p->need_sep = true;
            continue;
        }
        if (c == '"')
            r = quoted(p, line, len, &pos);
        else if (c == '{')
            return literal(p, line, len, pos, IMAP_ARG_LITERAL);
        else if (c == '~' && pos + 1 < len && line[pos + 1] == '{')
            /* RFC 3516 4.4 literal8 "~{n}" (with RFC 7888's "+" too) */
            return literal(p, line, len, pos + 1, IMAP_ARG_LITERAL8);
        else
            r = atom(p, line, len, &pos);
        if (r != IMAP_PARSE_DONE)
            return r;
        p->need_sep = true;
    }
    if (p->depth > 0)
        return bad(p, "Unclosed (");
    return finish(p);
}

/* command_start - tag SP command-name [SP arguments] (RFC 3501 9 "command"). */
static enum imap_parse_result command_start(struct imap_parser *p, const char *line, size_t len)
{
    imap_parser_reset(p);
    size_t i = 0;
    if (p->limits.untagged) {
        if (len == 0)
            return bad(p, "Empty command");
        goto name;
    }
    while (i < len && is_tag_char((unsigned char)line[i]))
        i++;
    if (i == 0)
        return bad(p, len == 0 ? "Empty command" : "Bad tag");
    if (i > IMAP_TAG_MAX)
        return bad(p, "Tag too long");
    if (i < len && line[i] != ' ')
        return bad(p, "Bad tag");
    memcpy(p->tag, line, i);
    p->tag[i] = '\0';
    if (i == len)
        return bad(p, "Missing command");
    i++;
name:;
    size_t start = i;
    while (i < len && ((line[i] >= 'A' && line[i] <= 'Z') || (line[i] >= 'a' && line[i] <= 'z') ||
                       (line[i] >= '0' && line[i] <= '9')))
        i++;
    if (i == start || i - start > IMAP_TAG_MAX || (i < len && line[i] != ' '))
        return bad(p, "Bad command name");
    for (size_t k = start; k < i; k++) {
        char c = line[k];
        p->name[k - start] = (char)(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
    }
    p->name[i - start] = '\0';
    if (i == len)
        return finish(p);
    return arguments(p, line, len, i + 1);
}

/* ends_with_nonsync - the size of a "{n+}" (untagged: also "{n}") that
 * ends line, or -1. */
static int64_t ends_with_nonsync(const struct imap_parser *p, const char *line, size_t len)
{
    if (len < 3 || line[len - 1] != '}')
        return -1;
    size_t i = len - 1;
    if (line[len - 2] == '+')
        i--;
    else if (!p->limits.untagged)
        return -1;
    uint64_t n = 0, scale = 1;
    size_t digits = 0;
    while (i > 0 && line[i - 1] >= '0' && line[i - 1] <= '9') {
        if (++digits > 18)
            return -1;
        n += (uint64_t)(line[i - 1] - '0') * scale;
        scale *= 10;
        i--;
    }
    if (digits == 0 || i == 0 || line[i - 1] != '{')
        return -1;
    return (int64_t)n;
}

enum imap_parse_result imap_parser_feed_line(struct imap_parser *p, const char *line, size_t len)
{
    enum imap_parse_result r;
    switch (p->state) {
    case P_ARGS:
        r = arguments(p, line, len, 0);
        break;
    case P_DISCARD_LINE: {
        /* still the refused command: its next non-synchronising literal is
         * on its way too; a synchronising one waits for a "+" never sent */
        int64_t n = ends_with_nonsync(p, line, len);
        if (n >= 0 && (uint64_t)n <= p->limits.discard_max) {
            p->literal_left = (uint64_t)n;
            p->state = n > 0 ? P_DISCARD_LITERAL : P_DISCARD_LINE;
            return IMAP_PARSE_LITERAL;
        }
        p->state = P_START;
        return n >= 0 ? IMAP_PARSE_CLOSE : IMAP_PARSE_DISCARDED;
    }
    case P_LITERAL:
    case P_DISCARD_LITERAL:
        /* a line while octets were due is the session's bug; start over */
    case P_START:
    default:
        r = command_start(p, line, len);
        break;
    }
    if (r == IMAP_PARSE_BAD) {
        /* RFC 7888 section 4: a refused line's non-synchronising literal
         * is coming anyway; drop it rather than run it as commands */
        int64_t n = ends_with_nonsync(p, line, len);
        if (n > 0 && (uint64_t)n <= p->limits.discard_max) {
            p->literal_left = (uint64_t)n;
            p->state = P_DISCARD_LITERAL;
        } else if (n == 0) {
            p->state = P_DISCARD_LINE;
        } else if (n > 0) {
            return IMAP_PARSE_CLOSE;
        }
    }
    return r;
}

void imap_parser_feed_literal(struct imap_parser *p, const char *data, size_t len)
{
    if (p->state != P_LITERAL && p->state != P_DISCARD_LITERAL)
        return;
    if (len > p->literal_left)
        len = (size_t)p->literal_left;
    p->literal_left -= len;
    if (p->state == P_DISCARD_LITERAL) {
        if (p->literal_left == 0)
            p->state = P_DISCARD_LINE;
        return;
    }
    if (len > 0 && !text_add(p, data, len, false)) {
        /* out of memory: drop the rest and refuse the command */
        p->error = "Out of memory";
        p->state = p->literal_left > 0 ? P_DISCARD_LITERAL : P_DISCARD_LINE;
        return;
    }
    if (p->literal_left == 0) {
        struct parser_arg *a = &p->args[p->nargs - 1];
        arg_finish(p, a);
        p->state = P_ARGS;
        p->need_sep = true;
    }
}

void imap_parser_expect_arguments(struct imap_parser *p)
{
    imap_parser_reset(p);
    p->state = P_ARGS;
}

uint64_t imap_parser_literal_left(const struct imap_parser *p)
{
    return p->literal_left;
}

bool imap_parser_literal_sync(const struct imap_parser *p)
{
    return p->state == P_LITERAL && p->literal_sync;
}

bool imap_parser_discarding(const struct imap_parser *p)
{
    return p->state == P_DISCARD_LITERAL || p->state == P_DISCARD_LINE;
}

const struct imap_command *imap_parser_command(const struct imap_parser *p)
{
    return &p->cmd;
}

const char *imap_parser_tag(const struct imap_parser *p)
{
    return p->tag;
}

const char *imap_parser_error(const struct imap_parser *p)
{
    return p->error != NULL ? p->error : "Bad command";
}

const struct imap_arg *imap_command_arg(const struct imap_command *cmd, size_t i)
{
    if (i >= cmd->argc)
        return NULL;
    const struct imap_arg *a = cmd->args;
    while (i-- > 0)
        a = imap_arg_next(cmd, a);
    return a;
}

const struct imap_arg *imap_list_elem(const struct imap_command *cmd, const struct imap_arg *list,
                                      size_t i)
{
    if (list->type != IMAP_ARG_LIST || i >= list->count)
        return NULL;
    const struct imap_arg *a = list + 1;
    while (i-- > 0)
        a = imap_arg_next(cmd, a);
    return a;
}

bool imap_arg_astring(const struct imap_arg *a)
{
    if (a->type == IMAP_ARG_QUOTED || a->type == IMAP_ARG_LITERAL || a->type == IMAP_ARG_NIL)
        return true;
    if (a->type != IMAP_ARG_ATOM)
        return false;
    for (size_t i = 0; i < a->len; i++) {
        unsigned char c = (unsigned char)a->str[i];
        if (!is_atom_char(c) && c != ']')
            return false;
    }
    return true;
}

bool imap_arg_list_mailbox(const struct imap_arg *a)
{
    if (a->type != IMAP_ARG_ATOM)
        return imap_arg_astring(a);
    for (size_t i = 0; i < a->len; i++) {
        unsigned char c = (unsigned char)a->str[i];
        if (!is_atom_char(c) && c != ']' && c != '%' && c != '*')
            return false;
    }
    return true;
}

bool imap_arg_number(const struct imap_arg *a, uint64_t max, uint64_t *n_r)
{
    if (a->type != IMAP_ARG_ATOM || a->len == 0 || a->len > 19)
        return false;
    uint64_t n = 0;
    for (size_t i = 0; i < a->len; i++) {
        if (a->str[i] < '0' || a->str[i] > '9')
            return false;
        n = n * 10 + (uint64_t)(a->str[i] - '0');
    }
    if (n > max)
        return false;
    *n_r = n;
    return true;
}

bool imap_arg_is(const struct imap_arg *a, const char *word)
{
    return (a->type == IMAP_ARG_ATOM || a->type == IMAP_ARG_NIL) && strlen(word) == a->len &&
           strncasecmp(a->str, word, a->len) == 0;
}

bool imap_arg_flag(const struct imap_arg *a)
{
    return a->type == IMAP_ARG_ATOM || a->type == IMAP_ARG_NIL;
}

/* seq_number - nz-number / "*" (as 0) at s[*i]. */
static bool seq_number(const char *s, size_t len, size_t *i, uint32_t *n_r)
{
    if (*i < len && s[*i] == '*') {
        (*i)++;
        *n_r = 0;
        return true;
    }
    uint64_t n = 0;
    size_t start = *i;
    while (*i < len && s[*i] >= '0' && s[*i] <= '9') {
        n = n * 10 + (uint64_t)(s[*i] - '0');
        if (n > UINT32_MAX)
            return false;
        (*i)++;
    }
    if (*i == start || n == 0 || s[start] == '0')
        return false;
    *n_r = (uint32_t)n;
    return true;
}

bool imap_seqset_parse(const char *s, size_t len, struct imap_seqset *set)
{
    set->count = 0;
    size_t i = 0;
    for (;;) {
        if (set->count >= IMAP_SEQSET_RANGES_MAX)
            return false;
        struct imap_seq_range *r = &set->ranges[set->count];
        if (!seq_number(s, len, &i, &r->lo))
            return false;
        r->hi = r->lo;
        if (i < len && s[i] == ':') {
            i++;
            if (!seq_number(s, len, &i, &r->hi))
                return false;
        }
        /* RFC 3501 9: "4:2" is "2:4"; "*" stays 0 until resolved */
        if (r->lo != 0 && r->hi != 0 && r->lo > r->hi) {
            uint32_t t = r->lo;
            r->lo = r->hi;
            r->hi = t;
        }
        set->count++;
        if (i == len)
            return true;
        if (s[i] != ',')
            return false;
        i++;
    }
}

bool imap_seqset_contains(const struct imap_seqset *set, uint32_t n, uint32_t star)
{
    for (size_t k = 0; k < set->count; k++) {
        uint32_t lo = set->ranges[k].lo != 0 ? set->ranges[k].lo : star;
        uint32_t hi = set->ranges[k].hi != 0 ? set->ranges[k].hi : star;
        if (lo > hi) {
            uint32_t t = lo;
            lo = hi;
            hi = t;
        }
        if (n >= lo && n <= hi)
            return true;
    }
    return false;
}
