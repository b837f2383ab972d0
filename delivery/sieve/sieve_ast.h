/* delivery/sieve/sieve_ast.h - the tree a script compiles to (RFC 5228
 * section 8.2 grammar: commands, tests, arguments) and the fields the
 * validator resolves on it; the parser builds it, the validator checks and
 * annotates it, the interpreter only reads it. */
#ifndef DIRMAIL_SIEVE_AST_H
#define DIRMAIL_SIEVE_AST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "delivery/sieve/sieve.h"

enum sieve_arg_kind { SIEVE_ARG_TAG, SIEVE_ARG_NUMBER, SIEVE_ARG_STRING, SIEVE_ARG_STRLIST };

struct sieve_arg {
    enum sieve_arg_kind kind;
    unsigned line, column;
    char *tag;    /* TAG: the name without ':' */
    uint64_t num; /* NUMBER, K/M/G applied */
    char **strs;  /* STRING (one) and STRLIST */
    size_t nstrs;
};

/* Extensions, as a bit set (validator's table names them). */
enum sieve_ext {
    SIEVE_EXT_FILEINTO = 1u << 0,
    SIEVE_EXT_ENVELOPE = 1u << 1,
    SIEVE_EXT_ENCODED_CHARACTER = 1u << 2,
    SIEVE_EXT_COPY = 1u << 3,
    SIEVE_EXT_IMAP4FLAGS = 1u << 4,
    SIEVE_EXT_SUBADDRESS = 1u << 5,
    SIEVE_EXT_VARIABLES = 1u << 6,
    SIEVE_EXT_RELATIONAL = 1u << 7,
    SIEVE_EXT_BODY = 1u << 8,
    SIEVE_EXT_REJECT = 1u << 9,
    SIEVE_EXT_EREJECT = 1u << 10,
    SIEVE_EXT_VACATION = 1u << 11,
    SIEVE_EXT_VACATION_SECONDS = 1u << 12,
    SIEVE_EXT_MAILBOX = 1u << 13,
    SIEVE_EXT_CMP_NUMERIC = 1u << 14,
    SIEVE_EXT_DATE = 1u << 15,
    SIEVE_EXT_INDEX = 1u << 16,
    SIEVE_EXT_INCLUDE = 1u << 17,
};

enum sieve_match_type { MATCH_IS, MATCH_CONTAINS, MATCH_MATCHES, MATCH_COUNT, MATCH_VALUE };
enum sieve_relation { REL_GT, REL_GE, REL_LT, REL_LE, REL_EQ, REL_NE };
enum sieve_comparator { CMP_CASEMAP, CMP_OCTET, CMP_NUMERIC };
enum sieve_addr_part { PART_ALL, PART_LOCAL, PART_DOMAIN, PART_USER, PART_DETAIL };
enum sieve_body_transform { BODY_TEXT, BODY_RAW, BODY_CONTENT };

/* What a command or test is, once validated. */
enum sieve_cmd_id {
    CMD_UNKNOWN,
    CMD_REQUIRE,
    CMD_IF,
    CMD_ELSIF,
    CMD_ELSE,
    CMD_STOP,
    CMD_KEEP,
    CMD_DISCARD,
    CMD_REDIRECT,
    CMD_FILEINTO,
    CMD_REJECT,
    CMD_EREJECT,
    CMD_VACATION,
    CMD_SET,
    CMD_SETFLAG,
    CMD_ADDFLAG,
    CMD_REMOVEFLAG,
    CMD_INCLUDE,
    CMD_RETURN,
    CMD_GLOBAL,
    TEST_ADDRESS,
    TEST_HEADER,
    TEST_EXISTS,
    TEST_SIZE,
    TEST_ALLOF,
    TEST_ANYOF,
    TEST_NOT,
    TEST_TRUE,
    TEST_FALSE,
    TEST_ENVELOPE,
    TEST_BODY,
    TEST_STRING,
    TEST_HASFLAG,
    TEST_MAILBOXEXISTS,
    TEST_DATE,
    TEST_CURRENTDATE,
};

/* Tagged arguments that carry a value or a flag, by slot. */
enum sieve_tag_slot {
    SLOT_COPY,
    SLOT_CREATE,
    SLOT_OVER,
    SLOT_UNDER,
    SLOT_DAYS,
    SLOT_SECONDS,
    SLOT_SUBJECT,
    SLOT_FROM,
    SLOT_ADDRESSES,
    SLOT_MIME,
    SLOT_HANDLE,
    SLOT_FLAGS,
    SLOT_CONTENT,
    SLOT_ZONE,
    SLOT_ORIGINALZONE,
    SLOT_INDEX,
    SLOT_LAST,
    SLOT_LOWER,
    SLOT_UPPER,
    SLOT_LOWERFIRST,
    SLOT_UPPERFIRST,
    SLOT_QUOTEWILDCARD,
    SLOT_LENGTH,
    SLOT_PERSONAL,
    SLOT_GLOBAL,
    SLOT_ONCE,
    SLOT_OPTIONAL,
    SLOT_COUNT_
};

struct sieve_node {
    char *name;
    unsigned line, column;
    struct sieve_arg *args;
    size_t nargs;
    struct sieve_node **tests; /* a test, or a test-list's tests */
    size_t ntests;
    bool test_list;            /* the tests came in "( ... )" */
    struct sieve_node **block; /* commands inside "{ ... }" */
    size_t nblock;
    bool has_block;

    /* Set by the validator. */
    enum sieve_cmd_id id;
    enum sieve_match_type match;
    enum sieve_relation rel;
    enum sieve_comparator cmp;
    enum sieve_addr_part part;
    enum sieve_body_transform transform;
    const struct sieve_arg *pos[3]; /* positional arguments in order */
    size_t npos;
    const struct sieve_arg *slot[SLOT_COUNT_]; /* tagged: the tag itself or its value */
    bool has_else_chain; /* if/elsif: the next command is elsif/else of the same chain */
};

struct sieve_script {
    struct sieve_node **commands;
    size_t ncommands;
    unsigned exts; /* enum sieve_ext bits named by require */
    struct sieve_limits limits;
    size_t variable_count;        /* distinct variable names the script sets (upper bound) */
    struct sieve_errors warnings; /* what compiled but is doubtful (sieve_script_warnings) */
};

/* sieve_node_free - free a node and everything under it. */
void sieve_node_free(struct sieve_node *node);
void sieve_arg_clear(struct sieve_arg *arg);

/* sieve_errors_add - append "message" at line:column; false when out of memory. */
bool sieve_errors_add(struct sieve_errors *errors, unsigned line, unsigned column, const char *fmt,
                      ...) __attribute__((format(printf, 4, 5)));

#endif
