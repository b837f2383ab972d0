/* reader/pop3_parse.c - see pop3_parse.h. */
#include "config.h"

#include "reader/pop3_parse.h"

#include <string.h>
#include <strings.h>

/* The argument rule of each verb; how many it takes and what they are. */
enum arg_kind {
    ARGS_NONE,    /* STAT NOOP RSET QUIT CAPA STLS */
    ARGS_WORD,    /* USER name */
    ARGS_REST,    /* PASS string (spaces are part of it) */
    ARGS_OPT_MSG, /* LIST [msg], UIDL [msg] */
    ARGS_MSG,     /* RETR msg, DELE msg */
    ARGS_MSG_N,   /* TOP msg n */
    ARGS_MECH_IR, /* AUTH mechanism [initial-response] (RFC 5034 4) */
};

static const struct {
    const char *name;
    enum pop3_verb verb;
    enum arg_kind args;
} verbs[] = {
    {"USER", POP3_VERB_USER, ARGS_WORD},    {"PASS", POP3_VERB_PASS, ARGS_REST},
    {"QUIT", POP3_VERB_QUIT, ARGS_NONE},    {"STAT", POP3_VERB_STAT, ARGS_NONE},
    {"LIST", POP3_VERB_LIST, ARGS_OPT_MSG}, {"RETR", POP3_VERB_RETR, ARGS_MSG},
    {"DELE", POP3_VERB_DELE, ARGS_MSG},     {"NOOP", POP3_VERB_NOOP, ARGS_NONE},
    {"RSET", POP3_VERB_RSET, ARGS_NONE},    {"TOP", POP3_VERB_TOP, ARGS_MSG_N},
    {"UIDL", POP3_VERB_UIDL, ARGS_OPT_MSG}, {"CAPA", POP3_VERB_CAPA, ARGS_NONE},
    {"STLS", POP3_VERB_STLS, ARGS_NONE},    {"AUTH", POP3_VERB_AUTH, ARGS_MECH_IR},
};

const char *pop3_verb_name(enum pop3_verb verb)
{
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++) {
        if (verbs[i].verb == verb)
            return verbs[i].name;
    }
    return "?";
}

/* number - a decimal number of 1 to 9 digits (no sign, no space: RFC 1939
 * 3 allows nothing else), into *out. */
static bool number(const char *s, unsigned long *out)
{
    size_t len = strlen(s);
    if (len == 0 || len > 9)
        return false;
    unsigned long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    *out = v;
    return true;
}

/* split - cut text into words at runs of spaces (RFC 1939 says one space;
 * a few clients send two), at most max of them; *more when words remain. */
static size_t split(char *text, const char **words, size_t max, bool *more)
{
    size_t n = 0;
    char *p = text;
    *more = false;
    for (;;) {
        while (*p == ' ')
            p++;
        if (*p == '\0')
            return n;
        if (n == max) {
            *more = true;
            return n;
        }
        words[n++] = p;
        while (*p != '\0' && *p != ' ')
            p++;
        if (*p == ' ')
            *p++ = '\0';
    }
}

enum pop3_parse_result pop3_parse_line(const char *line, size_t len, struct pop3_command *cmd)
{
    memset(cmd, 0, sizeof *cmd);
    if (len == 0 || len > POP3_LINE_MAX - 2)
        return POP3_PARSE_BAD_LINE;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)line[i];
        /* control bytes never belong in a command (a tab is no separator) */
        if (c < 0x20 || c == 0x7f)
            return POP3_PARSE_BAD_LINE;
    }
    memcpy(cmd->text, line, len);
    cmd->text[len] = '\0';

    char *rest = cmd->text;
    size_t wlen = strcspn(rest, " ");
    if (wlen < 3 || wlen > 4) /* RFC 2449 3: keywords are three or four characters */
        return POP3_PARSE_UNKNOWN;
    size_t v = 0;
    while (v < sizeof verbs / sizeof verbs[0] &&
           !(strlen(verbs[v].name) == wlen && strncasecmp(verbs[v].name, rest, wlen) == 0))
        v++;
    if (v == sizeof verbs / sizeof verbs[0])
        return POP3_PARSE_UNKNOWN;
    cmd->verb = verbs[v].verb;
    rest += wlen;
    if (*rest == ' ')
        *rest++ = '\0';

    if (verbs[v].args == ARGS_REST) {
        /* PASS: everything after the one space, which may be empty only
         * if nothing follows at all */
        if (*rest == '\0')
            return POP3_PARSE_BAD_ARGS;
        cmd->args[0] = rest;
        cmd->argc = 1;
        return POP3_PARSE_OK;
    }
    bool more = false;
    cmd->argc = split(rest, cmd->args, POP3_ARGS_MAX, &more);
    if (more)
        return POP3_PARSE_BAD_ARGS;
    switch (verbs[v].args) {
    case ARGS_NONE:
        return cmd->argc == 0 ? POP3_PARSE_OK : POP3_PARSE_BAD_ARGS;
    case ARGS_WORD:
        return cmd->argc == 1 ? POP3_PARSE_OK : POP3_PARSE_BAD_ARGS;
    case ARGS_OPT_MSG:
        if (cmd->argc > 1)
            return POP3_PARSE_BAD_ARGS;
        if (cmd->argc == 1 && !number(cmd->args[0], &cmd->msg))
            return POP3_PARSE_BAD_NUMBER;
        return POP3_PARSE_OK;
    case ARGS_MSG:
        if (cmd->argc != 1)
            return POP3_PARSE_BAD_ARGS;
        return number(cmd->args[0], &cmd->msg) ? POP3_PARSE_OK : POP3_PARSE_BAD_NUMBER;
    case ARGS_MSG_N:
        if (cmd->argc != 2)
            return POP3_PARSE_BAD_ARGS;
        return number(cmd->args[0], &cmd->msg) && number(cmd->args[1], &cmd->lines)
                   ? POP3_PARSE_OK
                   : POP3_PARSE_BAD_NUMBER;
    case ARGS_MECH_IR:
        /* RFC 4422 3.1: a mechanism name is at most 20 characters; AUTH
         * without one asks for the list (RFC 5034 4, as CAPA's SASL) */
        if (cmd->argc >= 1 && strlen(cmd->args[0]) > 20)
            return POP3_PARSE_BAD_ARGS;
        return POP3_PARSE_OK;
    case ARGS_REST:
        break;
    }
    return POP3_PARSE_BAD_ARGS;
}
