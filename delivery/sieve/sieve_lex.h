/* delivery/sieve/sieve_lex.h - RFC 5228 section 8.1 tokens from script
 * text: identifiers, tags, numbers with K/M/G, quoted strings with their
 * escapes, "text:" multi-line strings with dot-unstuffing, the punctuation;
 * comments and white space are skipped. It knows no command. */
#ifndef DIRMAIL_SIEVE_LEX_H
#define DIRMAIL_SIEVE_LEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "delivery/sieve/sieve.h"

enum sieve_tok {
    TOK_EOF,
    TOK_ERROR,
    TOK_IDENT,
    TOK_TAG,
    TOK_NUMBER,
    TOK_STRING,
    TOK_LBRACKET,
    TOK_RBRACKET,
    TOK_LPAREN,
    TOK_RPAREN,
    TOK_LBRACE,
    TOK_RBRACE,
    TOK_COMMA,
    TOK_SEMICOLON,
};

struct sieve_lexer {
    const char *text, *end, *pos;
    unsigned line, column; /* of pos */
    size_t string_max;
    struct sieve_errors *errors;
    /* the current token */
    enum sieve_tok tok;
    unsigned tok_line, tok_column;
    char *value; /* IDENT, TAG (without ':'), STRING: malloc'd, the parser may take it */
    size_t value_len;
    uint64_t number; /* NUMBER */
};

void sieve_lex_init(struct sieve_lexer *lx, const char *text, size_t len, size_t string_max,
                    struct sieve_errors *errors);
/* sieve_lex_next - advance to the next token; TOK_ERROR has added its error. */
enum sieve_tok sieve_lex_next(struct sieve_lexer *lx);
void sieve_lex_clear(struct sieve_lexer *lx);
/* sieve_is_identifier - RFC 5228 8.1 identifier (also a variable name). */
bool sieve_is_identifier(const char *s, size_t len);
/* sieve_tok_name - how a token is called in an error message. */
const char *sieve_tok_name(enum sieve_tok tok);

#endif
