/* delivery/sieve/sieve_lex.c - the Sieve lexer (RFC 5228 section 8.1).
 * Lines may end in CRLF (the RFC) or LF (scripts written on Unix); a bare
 * CR or a NUL octet is an error, as in the grammar. */
#include "config.h"

#include "delivery/sieve/sieve_lex.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "delivery/sieve/sieve_ast.h"
#include "lib/buf.h"

void sieve_lex_init(struct sieve_lexer *lx, const char *text, size_t len, size_t string_max,
                    struct sieve_errors *errors)
{
    memset(lx, 0, sizeof *lx);
    lx->text = lx->pos = text;
    lx->end = text + len;
    lx->line = lx->column = 1;
    lx->string_max = string_max;
    lx->errors = errors;
}

void sieve_lex_clear(struct sieve_lexer *lx)
{
    free(lx->value);
    lx->value = NULL;
}

const char *sieve_tok_name(enum sieve_tok tok)
{
    static const char *const names[] = {
        [TOK_EOF] = "end of script", [TOK_ERROR] = "error",   [TOK_IDENT] = "identifier",
        [TOK_TAG] = "tag",           [TOK_NUMBER] = "number", [TOK_STRING] = "string",
        [TOK_LBRACKET] = "'['",      [TOK_RBRACKET] = "']'",  [TOK_LPAREN] = "'('",
        [TOK_RPAREN] = "')'",        [TOK_LBRACE] = "'{'",    [TOK_RBRACE] = "'}'",
        [TOK_COMMA] = "','",         [TOK_SEMICOLON] = "';'",
    };
    return names[tok];
}

static int peek(const struct sieve_lexer *lx, size_t ahead)
{
    return lx->pos + ahead < lx->end ? (unsigned char)lx->pos[ahead] : -1;
}

/* advance - step over one octet, or over CRLF as one line end. */
static void advance(struct sieve_lexer *lx)
{
    if (lx->pos >= lx->end)
        return;
    if (*lx->pos == '\r' && peek(lx, 1) == '\n')
        lx->pos++;
    if (*lx->pos == '\n') {
        lx->line++;
        lx->column = 1;
    } else {
        lx->column++;
    }
    lx->pos++;
}

static bool at_line_end(const struct sieve_lexer *lx)
{
    return peek(lx, 0) == '\n' || (peek(lx, 0) == '\r' && peek(lx, 1) == '\n');
}

static enum sieve_tok fail_at(struct sieve_lexer *lx, unsigned line, unsigned column,
                              const char *msg)
{
    sieve_errors_add(lx->errors, line, column, "%s", msg);
    lx->tok = TOK_ERROR;
    return TOK_ERROR;
}

static bool is_alpha(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
static bool is_digit(int c)
{
    return c >= '0' && c <= '9';
}

/* skip_space - white space and both comment forms; -1 on an unterminated
 * bracket comment, a bare CR or a NUL (error added). */
static int skip_space(struct sieve_lexer *lx)
{
    for (;;) {
        int c = peek(lx, 0);
        if (c == ' ' || c == '\t' || c == '\n' || (c == '\r' && peek(lx, 1) == '\n')) {
            advance(lx);
        } else if (c == '#') {
            while (lx->pos < lx->end && !at_line_end(lx))
                advance(lx);
        } else if (c == '/' && peek(lx, 1) == '*') {
            unsigned l = lx->line, col = lx->column;
            advance(lx);
            advance(lx);
            while (lx->pos < lx->end && !(peek(lx, 0) == '*' && peek(lx, 1) == '/'))
                advance(lx);
            if (lx->pos >= lx->end) {
                fail_at(lx, l, col, "unterminated comment: '/*' without '*/'");
                return -1;
            }
            advance(lx);
            advance(lx);
        } else if (c == '\r') {
            fail_at(lx, lx->line, lx->column, "bare CR (a line ends in CRLF or LF)");
            return -1;
        } else if (c == 0) {
            fail_at(lx, lx->line, lx->column, "NUL octet in script");
            return -1;
        } else {
            return 0;
        }
    }
}

static enum sieve_tok take_string(struct sieve_lexer *lx, struct buf *b)
{
    if (buf_append(b, "", 1) < 0) {
        buf_release(b);
        return fail_at(lx, lx->tok_line, lx->tok_column, "out of memory");
    }
    free(lx->value);
    lx->value_len = buf_len(b) - 1;
    lx->value = malloc(buf_len(b));
    if (lx->value == NULL) {
        buf_release(b);
        return fail_at(lx, lx->tok_line, lx->tok_column, "out of memory");
    }
    memcpy(lx->value, buf_ptr(b), buf_len(b));
    buf_release(b);
    lx->tok = TOK_STRING;
    return TOK_STRING;
}

static enum sieve_tok too_long(struct sieve_lexer *lx, struct buf *b)
{
    char msg[96];
    buf_release(b);
    snprintf(msg, sizeof msg, "string longer than %zu octets", lx->string_max);
    return fail_at(lx, lx->tok_line, lx->tok_column, msg);
}

/* lex_quoted - RFC 5228 2.4.2: "\\" and "\"" are the escapes; any other
 * backslash is dropped ("\a" is "a"). CRLF (or LF) may appear inside. */
static enum sieve_tok lex_quoted(struct sieve_lexer *lx)
{
    struct buf b = BUF_INIT;
    advance(lx);
    for (;;) {
        int c = peek(lx, 0);
        if (c < 0) {
            buf_release(&b);
            return fail_at(lx, lx->tok_line, lx->tok_column, "unterminated quoted string");
        }
        if (c == '"') {
            advance(lx);
            return take_string(lx, &b);
        }
        if (c == '\\') {
            advance(lx);
            c = peek(lx, 0);
            if (c < 0)
                continue;
        }
        if (c == 0) {
            buf_release(&b);
            return fail_at(lx, lx->line, lx->column, "NUL octet in string");
        }
        if (c == '\r' && peek(lx, 1) != '\n') {
            buf_release(&b);
            return fail_at(lx, lx->line, lx->column, "bare CR in string");
        }
        int rc = at_line_end(lx) ? buf_append(&b, "\r\n", 2) : buf_append(&b, lx->pos, 1);
        if (rc < 0) {
            buf_release(&b);
            return fail_at(lx, lx->tok_line, lx->tok_column, "out of memory");
        }
        advance(lx);
        if (buf_len(&b) > lx->string_max)
            return too_long(lx, &b);
    }
}

/* lex_multiline - after "text:": blanks, an optional hash comment, the line
 * end; then lines up to one holding only "."; a leading ".." is unstuffed
 * to "." (RFC 5228 8.1). Each line keeps its CRLF. */
static enum sieve_tok lex_multiline(struct sieve_lexer *lx)
{
    struct buf b = BUF_INIT;
    while (peek(lx, 0) == ' ' || peek(lx, 0) == '\t')
        advance(lx);
    if (peek(lx, 0) == '#') {
        while (lx->pos < lx->end && !at_line_end(lx))
            advance(lx);
    }
    if (!at_line_end(lx))
        return fail_at(lx, lx->line, lx->column, "text: must be followed by a line end");
    advance(lx);
    for (;;) {
        if (lx->pos >= lx->end) {
            buf_release(&b);
            return fail_at(lx, lx->tok_line, lx->tok_column,
                           "unterminated multi-line string: no line holding only '.'");
        }
        if (peek(lx, 0) == '.') {
            if (peek(lx, 1) < 0 || peek(lx, 1) == '\n' ||
                (peek(lx, 1) == '\r' && peek(lx, 2) == '\n')) {
                advance(lx);
                advance(lx);
                return take_string(lx, &b);
            }
            if (peek(lx, 1) == '.')
                advance(lx);
        }
        while (lx->pos < lx->end && !at_line_end(lx)) {
            int c = peek(lx, 0);
            if (c == 0 || c == '\r') {
                buf_release(&b);
                return fail_at(lx, lx->line, lx->column,
                               c == 0 ? "NUL octet in string" : "bare CR in string");
            }
            if (buf_append(&b, lx->pos, 1) < 0) {
                buf_release(&b);
                return fail_at(lx, lx->tok_line, lx->tok_column, "out of memory");
            }
            advance(lx);
        }
        if (buf_append(&b, "\r\n", 2) < 0) {
            buf_release(&b);
            return fail_at(lx, lx->tok_line, lx->tok_column, "out of memory");
        }
        advance(lx);
        if (buf_len(&b) > lx->string_max)
            return too_long(lx, &b);
    }
}

static enum sieve_tok lex_word(struct sieve_lexer *lx, enum sieve_tok kind)
{
    const char *start = lx->pos;
    while (lx->pos < lx->end && (is_alpha(peek(lx, 0)) || is_digit(peek(lx, 0))))
        advance(lx);
    size_t n = (size_t)(lx->pos - start);
    if (kind == TOK_IDENT && n == 4 && strncasecmp(start, "text", 4) == 0 && peek(lx, 0) == ':') {
        advance(lx);
        return lex_multiline(lx);
    }
    if (n > 64)
        return fail_at(lx, lx->tok_line, lx->tok_column, "identifier longer than 64 characters");
    free(lx->value);
    lx->value = bytes_dup(start, n);
    if (lx->value == NULL)
        return fail_at(lx, lx->tok_line, lx->tok_column, "out of memory");
    lx->value_len = n;
    lx->tok = kind;
    return kind;
}

/* lex_number - digits with an optional K, M or G (2^10, 2^20, 2^30; the
 * ABNF is case-insensitive). Above 2^63 is an error, never a wrap. */
static enum sieve_tok lex_number(struct sieve_lexer *lx)
{
    uint64_t v = 0;
    bool over = false;
    while (is_digit(peek(lx, 0))) {
        unsigned d = (unsigned)(peek(lx, 0) - '0');
        if (v > (UINT64_C(1) << 63) / 10)
            over = true;
        v = v * 10 + d;
        advance(lx);
    }
    int q = peek(lx, 0);
    unsigned shift = 0;
    if (q == 'K' || q == 'k')
        shift = 10;
    else if (q == 'M' || q == 'm')
        shift = 20;
    else if (q == 'G' || q == 'g')
        shift = 30;
    if (shift != 0) {
        advance(lx);
        if (v > ((UINT64_C(1) << 63) >> shift))
            over = true;
        v <<= shift;
    }
    if (over || v > (UINT64_C(1) << 63))
        return fail_at(lx, lx->tok_line, lx->tok_column, "number too large");
    if (is_alpha(peek(lx, 0)))
        return fail_at(lx, lx->line, lx->column, "unexpected character after number");
    lx->number = v;
    lx->tok = TOK_NUMBER;
    return TOK_NUMBER;
}

enum sieve_tok sieve_lex_next(struct sieve_lexer *lx)
{
    if (skip_space(lx) < 0)
        return TOK_ERROR;
    lx->tok_line = lx->line;
    lx->tok_column = lx->column;
    int c = peek(lx, 0);
    if (c < 0)
        return lx->tok = TOK_EOF;
    static const struct {
        char c;
        enum sieve_tok tok;
    } punct[] = {{'[', TOK_LBRACKET}, {']', TOK_RBRACKET}, {'(', TOK_LPAREN}, {')', TOK_RPAREN},
                 {'{', TOK_LBRACE},   {'}', TOK_RBRACE},   {',', TOK_COMMA},  {';', TOK_SEMICOLON}};
    for (size_t i = 0; i < sizeof punct / sizeof punct[0]; i++)
        if (c == punct[i].c) {
            advance(lx);
            return lx->tok = punct[i].tok;
        }
    if (c == '"')
        return lex_quoted(lx);
    if (is_digit(c))
        return lex_number(lx);
    if (is_alpha(c))
        return lex_word(lx, TOK_IDENT);
    if (c == ':') {
        advance(lx);
        if (!is_alpha(peek(lx, 0)))
            return fail_at(lx, lx->tok_line, lx->tok_column, "':' must start a tag name");
        return lex_word(lx, TOK_TAG);
    }
    char msg[64];
    if (c >= 0x21 && c < 0x7f)
        snprintf(msg, sizeof msg, "unexpected character '%c'", c);
    else
        snprintf(msg, sizeof msg, "unexpected octet 0x%02x", (unsigned)c);
    return fail_at(lx, lx->tok_line, lx->tok_column, msg);
}

bool sieve_is_identifier(const char *s, size_t len)
{
    if (len == 0 || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || s[0] == '_'))
        return false;
    for (size_t i = 1; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return false;
    }
    return true;
}
