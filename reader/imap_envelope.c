/* reader/imap_envelope.c - ENVELOPE (RFC 3501 7.4.2): the raw fields of a
 * message header, and its address fields as lists of (name adl mailbox
 * host). Names and subjects stay as written, RFC 2047 words included: the
 * client decodes them. The address parser is lenient the way mail needs
 * (RFC 5322 4.4 obsolete forms, comments anywhere, missing parts): what
 * it cannot read it describes as best it can and never refuses. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "reader/imap_bodystructure.h"

/* Placeholders for an address without its local part or its domain: a
 * NIL host would mean a group (RFC 3501 7.4.2), so one must be there.
 * These are the words Dovecot uses, so that clients see the same. */
#define MISSING_MAILBOX "MISSING_MAILBOX"
#define MISSING_DOMAIN "MISSING_DOMAIN"
#define ADDRESSES_MAX 1000

struct lexer {
    const char *s;
    size_t i, len;
    bool space_before;           /* white space or a comment before the last token */
    size_t comment, comment_len; /* the last comment skipped at the top level */
};

enum tok {
    T_END,
    T_WORD,    /* atom or quoted string: text in the buf */
    T_SPECIAL, /* one of < > @ , ; : . */
};

/* skip_cfws - white space and (nested) comments (RFC 5322 3.2.2). */
static void skip_cfws(struct lexer *lx)
{
    unsigned depth = 0;
    size_t opened = 0;
    while (lx->i < lx->len) {
        char c = lx->s[lx->i];
        if (depth > 0 && c == '\\' && lx->i + 1 < lx->len) {
            lx->i += 2;
            continue;
        }
        /* The last comment is recorded only once it closes, start and
         * length together: an unclosed one must not pair a new start
         * with an older comment's length. */
        if (c == '(' && depth++ == 0) {
            opened = lx->i + 1;
        } else if (c == ')' && depth > 0 && --depth == 0) {
            lx->comment = opened;
            lx->comment_len = lx->i - opened;
        } else if (depth == 0 && c != ' ' && c != '\t' && c != '\r' && c != '\n')
            return;
        lx->i++;
    }
}

static bool special(char c)
{
    return strchr("<>@,;:.()\"[]", c) != NULL;
}

/* next - the next token; a word's text (quotes and escapes removed, a
 * domain literal kept with its brackets) replaces *text. */
static enum tok next(struct lexer *lx, struct buf *text, char *sp)
{
    size_t before = lx->i;
    skip_cfws(lx);
    lx->space_before = lx->i > before;
    buf_clear(text);
    if (lx->i >= lx->len)
        return T_END;
    char c = lx->s[lx->i];
    if (c == '"') {
        lx->i++;
        while (lx->i < lx->len && lx->s[lx->i] != '"') {
            if (lx->s[lx->i] == '\\' && lx->i + 1 < lx->len)
                lx->i++;
            buf_append(text, lx->s + lx->i, 1);
            lx->i++;
        }
        lx->i++;
        return T_WORD;
    }
    if (c == '[') {
        size_t start = lx->i;
        while (lx->i < lx->len && lx->s[lx->i] != ']')
            lx->i++;
        if (lx->i < lx->len)
            lx->i++;
        buf_append(text, lx->s + start, lx->i - start);
        return T_WORD;
    }
    if (special(c) && c != '(' && c != ')' && c != ']') {
        lx->i++;
        *sp = c;
        return T_SPECIAL;
    }
    size_t start = lx->i;
    while (lx->i < lx->len && !special(lx->s[lx->i]) && lx->s[lx->i] != ' ' && lx->s[lx->i] != '\t')
        lx->i++;
    if (lx->i == start)
        lx->i++; /* a stray ")" or "]" */
    buf_append(text, lx->s + start, lx->i - start);
    return T_WORD;
}

/* One address being gathered. */
struct addr {
    struct buf name, route, local, domain;
};

static char *text_of(const struct buf *b)
{
    return b->len > 0 ? bytes_dup(buf_ptr(b), b->len) : NULL;
}

static int addr_write(struct buf *out, struct addr *a, bool *any)
{
    char *name = text_of(&a->name), *route = text_of(&a->route);
    char *local = text_of(&a->local), *domain = text_of(&a->domain);
    int r = buf_append(out, *any ? "" : "(", *any ? 0 : 1);
    *any = true;
    r |= buf_append(out, "(", 1);
    r |= imap_nstring_write(out, name);
    r |= buf_append(out, " ", 1);
    r |= imap_nstring_write(out, route);
    r |= buf_append(out, " ", 1);
    r |= imap_nstring_write(out, local != NULL ? local : MISSING_MAILBOX);
    r |= buf_append(out, " ", 1);
    r |= imap_nstring_write(out, domain != NULL ? domain : MISSING_DOMAIN);
    r |= buf_append(out, ")", 1);
    free(name);
    free(route);
    free(local);
    free(domain);
    buf_clear(&a->name);
    buf_clear(&a->route);
    buf_clear(&a->local);
    buf_clear(&a->domain);
    return r;
}

static void word_to(struct buf *dst, const struct buf *word, const char *sep)
{
    if (dst->len > 0 && sep != NULL)
        buf_append(dst, sep, strlen(sep));
    buf_append(dst, buf_ptr(word), word->len);
}

/* addresses_write - an address-list field (RFC 5322 3.4) as the list of
 * RFC 3501 addresses; groups as (NIL NIL "name" NIL) ... (NIL NIL NIL NIL). */
static int addresses_write(struct buf *out, const char *value)
{
    if (value == NULL)
        return buf_append(out, "NIL", 3);
    struct lexer lx = {.s = value, .len = strlen(value)};
    struct buf word = BUF_INIT, phrase = BUF_INIT;
    struct buf dot = {.data = (char *)".", .len = 1};
    struct addr a = {BUF_INIT, BUF_INIT, BUF_INIT, BUF_INIT};
    bool any = false, in_group = false;
    unsigned count = 0;
    int r = 0;
    char sp = 0;
    enum tok t = next(&lx, &word, &sp);
    while (t != T_END && count < ADDRESSES_MAX && r == 0) {
        /* a phrase (display name, group name or a local part) */
        buf_clear(&phrase);
        while (t == T_WORD || (t == T_SPECIAL && sp == '.')) {
            if (t == T_WORD)
                word_to(&phrase, &word, lx.space_before ? " " : NULL);
            else
                word_to(&phrase, &dot, lx.space_before ? " " : NULL);
            t = next(&lx, &word, &sp);
        }
        if (t == T_SPECIAL && sp == ':' && !in_group) {
            bool dummy = any;
            char *g = text_of(&phrase);
            r |= buf_append(out, dummy ? "" : "(", dummy ? 0 : 1);
            any = true;
            r |= buf_append(out, "(NIL NIL ", 9);
            r |= imap_nstring_write(out, g != NULL ? g : "");
            r |= buf_append(out, " NIL)", 5);
            free(g);
            in_group = true;
            t = next(&lx, &word, &sp);
            continue;
        }
        if (t == T_SPECIAL && sp == '<') {
            /* name-addr: [phrase] "<" [route ":"] local "@" domain ">" */
            buf_append(&a.name, buf_ptr(&phrase), phrase.len);
            t = next(&lx, &word, &sp);
            if (t == T_SPECIAL && sp == '@') {
                while (t != T_END && !(t == T_SPECIAL && (sp == ':' || sp == '>'))) {
                    if (t == T_WORD)
                        buf_append(&a.route, buf_ptr(&word), word.len);
                    else
                        buf_append(&a.route, &sp, 1);
                    t = next(&lx, &word, &sp);
                }
                if (t == T_SPECIAL && sp == ':')
                    t = next(&lx, &word, &sp);
            }
            struct buf *part = &a.local;
            while (t != T_END && !(t == T_SPECIAL && sp == '>')) {
                if (t == T_SPECIAL && sp == '@' && part == &a.local)
                    part = &a.domain;
                else if (t == T_WORD)
                    buf_append(part, buf_ptr(&word), word.len);
                else
                    buf_append(part, &sp, 1);
                t = next(&lx, &word, &sp);
            }
            if (t == T_SPECIAL && sp == '>')
                t = next(&lx, &word, &sp);
            r |= addr_write(out, &a, &any);
            count++;
        } else if (t == T_SPECIAL && sp == '@') {
            /* addr-spec: phrase "@" domain, and a comment after it is
             * the name ("user@host (Name)", RFC 5322 3.4 obsolete use) */
            buf_append(&a.local, buf_ptr(&phrase), phrase.len);
            lx.comment_len = 0;
            t = next(&lx, &word, &sp);
            while (t == T_WORD || (t == T_SPECIAL && sp == '.')) {
                if (t == T_WORD)
                    buf_append(&a.domain, buf_ptr(&word), word.len);
                else
                    buf_append(&a.domain, ".", 1);
                t = next(&lx, &word, &sp);
            }
            if (lx.comment_len > 0)
                buf_append(&a.name, lx.s + lx.comment, lx.comment_len);
            r |= addr_write(out, &a, &any);
            count++;
        } else if (phrase.len > 0) {
            /* a bare word: a mailbox without its domain */
            buf_append(&a.local, buf_ptr(&phrase), phrase.len);
            r |= addr_write(out, &a, &any);
            count++;
        }
        /* up to the next address */
        while (t != T_END && !(t == T_SPECIAL && (sp == ',' || sp == ';')) &&
               !(t == T_SPECIAL && sp == '<'))
            t = next(&lx, &word, &sp);
        if (t == T_SPECIAL && sp == ';' && in_group) {
            r |= buf_append(out, "(NIL NIL NIL NIL)", 17);
            in_group = false;
        }
        if (t == T_SPECIAL && (sp == ',' || sp == ';'))
            t = next(&lx, &word, &sp);
    }
    if (in_group)
        r |= buf_append(out, "(NIL NIL NIL NIL)", 17);
    r |= any ? buf_append(out, ")", 1) : buf_append(out, "NIL", 3);
    buf_release(&word);
    buf_release(&phrase);
    buf_release(&a.name);
    buf_release(&a.route);
    buf_release(&a.local);
    buf_release(&a.domain);
    return r != 0 ? -1 : 0;
}

int imap_envelope_write(struct buf *out, const struct mime_part *part)
{
    const char *const *f = (const char *const *)part->fields;
    /* RFC 3501 7.4.2: an absent Sender or Reply-To is the From */
    const char *sender = f[MIME_F_SENDER] != NULL ? f[MIME_F_SENDER] : f[MIME_F_FROM];
    const char *reply_to = f[MIME_F_REPLY_TO] != NULL ? f[MIME_F_REPLY_TO] : f[MIME_F_FROM];
    int r = buf_append(out, "(", 1);
    r |= imap_nstring_write(out, f[MIME_F_DATE]);
    r |= buf_append(out, " ", 1);
    r |= imap_nstring_write(out, f[MIME_F_SUBJECT]);
    const char *lists[] = {f[MIME_F_FROM], sender,       reply_to,
                           f[MIME_F_TO],   f[MIME_F_CC], f[MIME_F_BCC]};
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
        r |= buf_append(out, " ", 1);
        r |= addresses_write(out, lists[i]);
    }
    r |= buf_append(out, " ", 1);
    r |= imap_nstring_write(out, f[MIME_F_IN_REPLY_TO]);
    r |= buf_append(out, " ", 1);
    r |= imap_nstring_write(out, f[MIME_F_MESSAGE_ID]);
    return r | buf_append(out, ")", 1);
}
