/* reader/pop3_parse.h - the POP3 command parser: one command line (RFC 1939
 * section 3, RFC 2449 section 4, RFC 5034 section 4) into its verb and
 * checked arguments, message numbers as numbers. Pure: no I/O, no session
 * state; whether a verb is allowed now is the command table's business. */
#ifndef DIRMAIL_READER_POP3_PARSE_H
#define DIRMAIL_READER_POP3_PARSE_H

#include <stdbool.h>
#include <stddef.h>

/* RFC 2449 4: a command line is at most 255 octets with its CRLF (which
 * also holds for AUTH with an initial response, RFC 5034 4). */
#define POP3_LINE_MAX 255
/* The most arguments a command takes (TOP msg n, AUTH mech initial). */
#define POP3_ARGS_MAX 2

enum pop3_verb {
    POP3_VERB_USER,
    POP3_VERB_PASS,
    POP3_VERB_QUIT,
    POP3_VERB_STAT,
    POP3_VERB_LIST,
    POP3_VERB_RETR,
    POP3_VERB_DELE,
    POP3_VERB_NOOP,
    POP3_VERB_RSET,
    POP3_VERB_TOP,
    POP3_VERB_UIDL,
    POP3_VERB_CAPA,
    POP3_VERB_STLS,
    POP3_VERB_AUTH,
};

enum pop3_parse_result {
    POP3_PARSE_OK,
    POP3_PARSE_UNKNOWN,    /* no such command (APOP included: not offered) */
    POP3_PARSE_BAD_ARGS,   /* missing, extra or malformed arguments */
    POP3_PARSE_BAD_NUMBER, /* a message number or line count that is no number */
    POP3_PARSE_BAD_LINE,   /* empty, or a NUL or control byte where none may be */
};

struct pop3_command {
    enum pop3_verb verb;
    size_t argc;
    /* The arguments, NUL-terminated, pointing into text. PASS has at most
     * one: the rest of the line, spaces included (RFC 1939 7 allows them). */
    const char *args[POP3_ARGS_MAX];
    /* LIST/RETR/DELE/TOP/UIDL: the message number (when argc > 0), and
     * TOP's line count. */
    unsigned long msg;
    unsigned long lines;
    char text[POP3_LINE_MAX + 1];
};

/* pop3_parse_line - parse line[0..len) (without its CRLF; len may exceed
 * the limit only if the caller did not enforce it: BAD_LINE then) into cmd.
 * On a result other than OK, cmd->verb is set when the verb was known. */
enum pop3_parse_result pop3_parse_line(const char *line, size_t len, struct pop3_command *cmd);

/* pop3_verb_name - "USER", "PASS", ... for logs. */
const char *pop3_verb_name(enum pop3_verb verb);

#endif
