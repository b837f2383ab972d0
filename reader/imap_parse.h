/* reader/imap_parse.h - the IMAP command parser (RFC 3501 section 9): one
 * command, fed as the lines and literals the connection reads, into its tag,
 * name and a tree of arguments, with limits on literals, nesting, argument
 * count and total size; and sequence sets. Pure: no I/O, no session state;
 * what a command's arguments mean is the session's business. */
#ifndef DIRMAIL_READER_IMAP_PARSE_H
#define DIRMAIL_READER_IMAP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The limits of one command. A line longer than the connection's line limit
 * never reaches the parser (lib/conn.h gives CONN_TOO_LONG). */
struct imap_parse_limits {
    uint64_t literal_max;        /* one literal of any command but APPEND */
    uint64_t append_literal_max; /* APPEND's message literal */
    uint64_t discard_max; /* a refused non-synchronising literal up to this is read and dropped */
    size_t args_max;      /* arguments and list elements, at every depth together */
    unsigned depth_max;   /* parenthesised lists inside each other */
    size_t bytes_max;     /* strings of the command together, literals apart */
    /* ManageSieve's dialect of the same grammar (RFC 5804 section 4): a
     * command is its name and arguments without a tag, and every literal
     * is read at once, {n} like {n+}, since the server sends no
     * continuation (a refused one is read and dropped up to discard_max). */
    bool untagged;
};

/* Default limits (the session may use others from the configuration). */
#define IMAP_PARSE_LITERAL_MAX (64u * 1024u)
#define IMAP_PARSE_DISCARD_MAX (64ull * 1024u * 1024u)
#define IMAP_PARSE_ARGS_MAX 1000
#define IMAP_PARSE_DEPTH_MAX 8
#define IMAP_PARSE_BYTES_MAX (256u * 1024u)
/* A tag or command name longer than this is garbage. */
#define IMAP_TAG_MAX 64

enum imap_arg_type {
    IMAP_ARG_ATOM,     /* also numbers, sequence sets, FETCH items with their [section] */
    IMAP_ARG_QUOTED,   /* "..." with the backslash escapes removed */
    IMAP_ARG_LITERAL,  /* {n} or {n+}, then n octets (may hold NUL) */
    IMAP_ARG_LITERAL8, /* ~{n} or ~{n+} (RFC 3516 4.4): binary octets; no astring */
    IMAP_ARG_LIST,     /* ( ... ) */
    IMAP_ARG_NIL,      /* the atom NIL in any case */
};

/* One argument. Arguments are stored in one array in the order they were
 * written; a list's elements follow it, and end is the index just after its
 * last element (so the next sibling of args[i] is args[args[i].end]). */
struct imap_arg {
    enum imap_arg_type type;
    const char *str; /* NUL-terminated; "" for a list */
    size_t len;
    size_t count; /* a list's direct elements */
    size_t end;
};

enum imap_parse_result {
    IMAP_PARSE_DONE,      /* the command is complete: imap_parser_command */
    IMAP_PARSE_LITERAL,   /* read imap_parser_literal_left octets and feed them; when
                             imap_parser_literal_sync, send a continuation first */
    IMAP_PARSE_BAD,       /* tagged BAD with imap_parser_error; then any literal_left is
                             discarded and its following lines are DISCARDED */
    IMAP_PARSE_TOOBIG,    /* a literal over the limit: tagged NO [TOOBIG], refused before
                             it was read; as BAD for what follows */
    IMAP_PARSE_DISCARDED, /* the rest of a refused command: nothing to answer */
    IMAP_PARSE_CLOSE,     /* a non-synchronising literal too big even to discard: BYE */
};

struct imap_parser;

/* The parsed command, valid until the next feed or reset. */
struct imap_command {
    const char *tag;
    const char *name; /* upper-cased */
    const struct imap_arg *args;
    size_t argc; /* top-level arguments: args[0], args[args[0].end], ... */
    size_t nargs;
};

/* imap_parser_new - NULL when out of memory. imap_parser_free NULLs *p. */
struct imap_parser *imap_parser_new(const struct imap_parse_limits *limits);
void imap_parser_free(struct imap_parser **p);

/* imap_parser_feed_line - the next line (without its CRLF; may hold any
 * octet). At the start of a command it begins a new one. */
enum imap_parse_result imap_parser_feed_line(struct imap_parser *p, const char *line, size_t len);

/* imap_parser_feed_literal - up to imap_parser_literal_left octets of the
 * literal announced; when none are left, the command goes on with the next
 * line (RFC 3501 4.3: a literal is always followed by more of the line). */
void imap_parser_feed_literal(struct imap_parser *p, const char *data, size_t len);
uint64_t imap_parser_literal_left(const struct imap_parser *p);
/* imap_parser_literal_sync - the literal being read waits for "+ " (it was
 * {n}, not {n+}); false while discarding. */
bool imap_parser_literal_sync(const struct imap_parser *p);
/* imap_parser_discarding - the literal being read belongs to a refused command. */
bool imap_parser_discarding(const struct imap_parser *p);

/* imap_parser_expect_arguments - the next line is arguments only, without
 * tag or name (a ManageSieve SASL response is one string, RFC 5804 2.1);
 * DONE gives them with an empty name. */
void imap_parser_expect_arguments(struct imap_parser *p);

/* imap_parser_reset - forget the command in progress (a line that was too
 * long, a session state change). */
void imap_parser_reset(struct imap_parser *p);

/* imap_parser_command - after DONE. */
const struct imap_command *imap_parser_command(const struct imap_parser *p);
/* imap_parser_tag - the tag of the command in progress, "*" when it had none
 * that was valid (for BAD and TOOBIG replies). */
const char *imap_parser_tag(const struct imap_parser *p);
/* imap_parser_error - after BAD or TOOBIG: why, as text for the reply. */
const char *imap_parser_error(const struct imap_parser *p);

/* imap_arg_next - the argument after a (at the same level). */
static inline const struct imap_arg *imap_arg_next(const struct imap_command *cmd,
                                                   const struct imap_arg *a)
{
    return cmd->args + a->end;
}

/* imap_command_arg - the i-th top-level argument, NULL past the last. */
const struct imap_arg *imap_command_arg(const struct imap_command *cmd, size_t i);
/* imap_list_elem - the i-th element of list, NULL past the last. */
const struct imap_arg *imap_list_elem(const struct imap_command *cmd, const struct imap_arg *list,
                                      size_t i);

/* imap_arg_astring - a is an astring (RFC 3501 9: an atom of ASTRING-CHARs,
 * a quoted string or a literal; NIL is the string "NIL" here). */
bool imap_arg_astring(const struct imap_arg *a);
/* imap_arg_list_mailbox - an astring, or an atom with the wildcards % and *. */
bool imap_arg_list_mailbox(const struct imap_arg *a);
/* imap_arg_number - a is an atom that is a number (RFC 3501 9: nz or 0) up
 * to max; *n_r. */
bool imap_arg_number(const struct imap_arg *a, uint64_t max, uint64_t *n_r);
/* imap_arg_is - a is an atom equal to word, ASCII case-insensitively. */
bool imap_arg_is(const struct imap_arg *a, const char *word);
/* imap_arg_flag - a can be a flag: an atom, or NIL, which is the keyword
 * "NIL" where the grammar wants flag-keyword = atom (RFC 3501 9). */
bool imap_arg_flag(const struct imap_arg *a);

/* ---- sequence sets (RFC 3501 9 "sequence-set") ---- */

/* A range lo:hi with lo <= hi once resolved; 0 stands for "*" (the largest
 * number in use) until imap_seqset_contains resolves it. */
struct imap_seq_range {
    uint32_t lo, hi;
};

#define IMAP_SEQSET_RANGES_MAX 1024

struct imap_seqset {
    size_t count;
    struct imap_seq_range ranges[IMAP_SEQSET_RANGES_MAX];
};

/* imap_seqset_parse - s[0..len) into *set; false when it is no sequence set
 * (zero, a non-number, an empty element) or has more than
 * IMAP_SEQSET_RANGES_MAX elements. */
bool imap_seqset_parse(const char *s, size_t len, struct imap_seqset *set);
/* imap_seqset_contains - n is in set, "*" being star (the largest sequence
 * number or UID; RFC 3501 6.4.8: "*" is the largest even when it is smaller
 * than the other end of the range). */
bool imap_seqset_contains(const struct imap_seqset *set, uint32_t n, uint32_t star);

#endif
