/* delivery/sieve/sieve_parse.c - recursive descent over RFC 5228 8.2:
 *   command = identifier arguments (";" / block)
 *   arguments = *argument [ test / test-list ]
 *   argument = string-list / number / tag
 *   test = identifier arguments ; test-list = "(" test *("," test) ")"
 * The first error stops the parse: after it the tokens say little. */
#include "config.h"

#include "delivery/sieve/sieve_parse.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "delivery/sieve/sieve_lex.h"
#include "lib/array.h"

struct parser {
    struct sieve_lexer lx;
    const struct sieve_limits *limits;
    struct sieve_errors *errors;
};

bool sieve_errors_add(struct sieve_errors *errors, unsigned line, unsigned column, const char *fmt,
                      ...)
{
    char *msg = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    if (msg == NULL || ARRAY_RESERVE(&errors->items, &errors->cap, errors->count + 1, 4) < 0) {
        free(msg);
        return false;
    }
    errors->items[errors->count++] = (struct sieve_error){line, column, msg};
    return true;
}

void sieve_errors_clear(struct sieve_errors *errors)
{
    for (size_t i = 0; i < errors->count; i++)
        free(errors->items[i].message);
    free(errors->items);
    memset(errors, 0, sizeof *errors);
}

void sieve_arg_clear(struct sieve_arg *arg)
{
    free(arg->tag);
    for (size_t i = 0; i < arg->nstrs; i++)
        free(arg->strs[i]);
    free(arg->strs);
}

void sieve_node_free(struct sieve_node *node)
{
    if (node == NULL)
        return;
    free(node->name);
    for (size_t i = 0; i < node->nargs; i++)
        sieve_arg_clear(&node->args[i]);
    free(node->args);
    for (size_t i = 0; i < node->ntests; i++)
        sieve_node_free(node->tests[i]);
    free(node->tests);
    for (size_t i = 0; i < node->nblock; i++)
        sieve_node_free(node->block[i]);
    free(node->block);
    free(node);
}

static int error_here(struct parser *p, const char *what)
{
    if (p->lx.tok == TOK_ERROR)
        return -1;
    sieve_errors_add(p->errors, p->lx.tok_line, p->lx.tok_column, "%s, found %s", what,
                     sieve_tok_name(p->lx.tok));
    return -1;
}

static int oom(struct parser *p)
{
    sieve_errors_add(p->errors, p->lx.tok_line, p->lx.tok_column, "out of memory");
    return -1;
}

static int push_node(struct parser *p, struct sieve_node ***v, size_t *n, size_t *cap,
                     struct sieve_node *node)
{
    if (ARRAY_RESERVE(v, cap, *n + 1, 4) < 0) {
        sieve_node_free(node);
        return oom(p);
    }
    (*v)[(*n)++] = node;
    return 0;
}

/* take_string - append the current STRING token's text to arg. */
static int take_string(struct parser *p, struct sieve_arg *arg, size_t *cap)
{
    if (ARRAY_RESERVE(&arg->strs, cap, arg->nstrs + 1, 2) < 0)
        return oom(p);
    arg->strs[arg->nstrs++] = p->lx.value;
    p->lx.value = NULL;
    return 0;
}

static int parse_string_list(struct parser *p, struct sieve_arg *arg)
{
    size_t cap = 0;
    arg->kind = SIEVE_ARG_STRLIST;
    for (;;) {
        if (sieve_lex_next(&p->lx) != TOK_STRING)
            return error_here(p, "expected a string in the string list");
        if (take_string(p, arg, &cap) < 0)
            return -1;
        sieve_lex_next(&p->lx);
        if (p->lx.tok == TOK_RBRACKET)
            return sieve_lex_next(&p->lx) == TOK_ERROR ? -1 : 0;
        if (p->lx.tok != TOK_COMMA)
            return error_here(p, "expected ',' or ']' in the string list");
    }
}

static struct sieve_node *parse_test(struct parser *p, size_t depth);

/* parse_arguments - arguments and an optional test or test list into node;
 * leaves the token after them current. */
static int parse_arguments(struct parser *p, struct sieve_node *node, size_t depth)
{
    size_t cap = 0;
    for (;;) {
        enum sieve_tok t = p->lx.tok;
        if (t != TOK_TAG && t != TOK_NUMBER && t != TOK_STRING && t != TOK_LBRACKET)
            break;
        if (ARRAY_RESERVE(&node->args, &cap, node->nargs + 1, 4) < 0)
            return oom(p);
        struct sieve_arg *arg = &node->args[node->nargs++];
        memset(arg, 0, sizeof *arg);
        arg->line = p->lx.tok_line;
        arg->column = p->lx.tok_column;
        if (t == TOK_TAG) {
            arg->kind = SIEVE_ARG_TAG;
            arg->tag = p->lx.value;
            p->lx.value = NULL;
        } else if (t == TOK_NUMBER) {
            arg->kind = SIEVE_ARG_NUMBER;
            arg->num = p->lx.number;
        } else if (t == TOK_STRING) {
            size_t scap = 0;
            arg->kind = SIEVE_ARG_STRING;
            if (take_string(p, arg, &scap) < 0)
                return -1;
        } else {
            if (parse_string_list(p, arg) < 0)
                return -1;
            continue;
        }
        if (sieve_lex_next(&p->lx) == TOK_ERROR)
            return -1;
    }
    size_t tcap = 0;
    if (p->lx.tok == TOK_IDENT) {
        struct sieve_node *test = parse_test(p, depth + 1);
        if (test == NULL)
            return -1;
        return push_node(p, &node->tests, &node->ntests, &tcap, test);
    }
    if (p->lx.tok == TOK_LPAREN) {
        node->test_list = true;
        for (;;) {
            if (sieve_lex_next(&p->lx) != TOK_IDENT)
                return error_here(p, "expected a test in the test list");
            struct sieve_node *test = parse_test(p, depth + 1);
            if (test == NULL || push_node(p, &node->tests, &node->ntests, &tcap, test) < 0)
                return -1;
            if (p->lx.tok == TOK_RPAREN)
                return sieve_lex_next(&p->lx) == TOK_ERROR ? -1 : 0;
            if (p->lx.tok != TOK_COMMA)
                return error_here(p, "expected ',' or ')' in the test list");
        }
    }
    return 0;
}

/* new_node - a node named by the current IDENT token. */
static struct sieve_node *new_node(struct parser *p, size_t depth)
{
    if (depth > p->limits->nesting_max) {
        sieve_errors_add(p->errors, p->lx.tok_line, p->lx.tok_column,
                         "nested deeper than %zu levels", p->limits->nesting_max);
        return NULL;
    }
    struct sieve_node *node = calloc(1, sizeof *node);
    if (node == NULL) {
        oom(p);
        return NULL;
    }
    node->name = p->lx.value;
    p->lx.value = NULL;
    node->line = p->lx.tok_line;
    node->column = p->lx.tok_column;
    return node;
}

static struct sieve_node *parse_test(struct parser *p, size_t depth)
{
    struct sieve_node *node = new_node(p, depth);
    if (node == NULL)
        return NULL;
    if (sieve_lex_next(&p->lx) == TOK_ERROR || parse_arguments(p, node, depth) < 0) {
        sieve_node_free(node);
        return NULL;
    }
    return node;
}

static int parse_commands(struct parser *p, struct sieve_node ***v, size_t *n, size_t depth,
                          enum sieve_tok until);

static struct sieve_node *parse_command(struct parser *p, size_t depth)
{
    struct sieve_node *node = new_node(p, depth);
    if (node == NULL)
        return NULL;
    if (sieve_lex_next(&p->lx) == TOK_ERROR || parse_arguments(p, node, depth) < 0)
        goto fail;
    if (p->lx.tok == TOK_SEMICOLON) {
        if (sieve_lex_next(&p->lx) == TOK_ERROR)
            goto fail;
        return node;
    }
    if (p->lx.tok == TOK_LBRACE) {
        node->has_block = true;
        if (sieve_lex_next(&p->lx) == TOK_ERROR ||
            parse_commands(p, &node->block, &node->nblock, depth + 1, TOK_RBRACE) < 0)
            goto fail;
        if (sieve_lex_next(&p->lx) == TOK_ERROR)
            goto fail;
        return node;
    }
    error_here(p, "expected ';' or '{' after the command's arguments");
fail:
    sieve_node_free(node);
    return NULL;
}

static int parse_commands(struct parser *p, struct sieve_node ***v, size_t *n, size_t depth,
                          enum sieve_tok until)
{
    size_t cap = 0;
    while (p->lx.tok != until) {
        if (p->lx.tok != TOK_IDENT)
            return error_here(p, until == TOK_EOF ? "expected a command"
                                                  : "expected a command or '}'");
        struct sieve_node *cmd = parse_command(p, depth);
        if (cmd == NULL || push_node(p, v, n, &cap, cmd) < 0)
            return -1;
    }
    return 0;
}

int sieve_parse(const char *text, size_t len, const struct sieve_limits *limits,
                struct sieve_errors *errors, struct sieve_node ***commands, size_t *ncommands)
{
    struct parser p = {.limits = limits, .errors = errors};
    struct sieve_node **v = NULL;
    size_t n = 0;
    sieve_lex_init(&p.lx, text, len, limits->string_max, errors);
    int rc = -1;
    if (sieve_lex_next(&p.lx) != TOK_ERROR)
        rc = parse_commands(&p, &v, &n, 0, TOK_EOF);
    sieve_lex_clear(&p.lx);
    if (rc < 0) {
        for (size_t i = 0; i < n; i++)
            sieve_node_free(v[i]);
        free(v);
        return -1;
    }
    *commands = v;
    *ncommands = n;
    return 0;
}
