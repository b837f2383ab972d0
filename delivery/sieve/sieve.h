/* delivery/sieve/sieve.h - the Sieve engine's public face (RFC 5228 and the
 * extensions listed in doc/sieve.md): compile a script once into a checked
 * tree, run it against one message and get back the list of actions. It
 * files nothing and sends nothing: the caller carries out the actions. */
#ifndef DIRMAIL_SIEVE_H
#define DIRMAIL_SIEVE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct sieve_message;
struct sieve_cache;

/* What a script may cost. Every field is a hard limit; exceeding one at
 * compile time is a compile error, at run time a runtime error (implicit
 * keep, RFC 5228 2.10.6). */
struct sieve_limits {
    size_t script_max;    /* octets of script text */
    size_t string_max;    /* octets of one string, also after variable expansion */
    size_t nesting_max;   /* blocks and tests nested in each other */
    size_t actions_max;   /* actions one run may produce */
    size_t redirects_max; /* redirect actions one run may produce */
    size_t steps_max;     /* interpreter budget: nodes visited plus octets compared */
    size_t variables_max; /* distinct variables (RFC 5229) */
};

/* The defaults of the limits; the configuration's sieve section
 * (conf/conf.h, doc/dirmail.conf.5) starts from the same numbers. */
#define SIEVE_DEFAULT_SCRIPT_MAX (1u << 20)
#define SIEVE_DEFAULT_STRING_MAX (64u << 10)
#define SIEVE_DEFAULT_NESTING_MAX 32u
#define SIEVE_DEFAULT_ACTIONS_MAX 32u
#define SIEVE_DEFAULT_REDIRECTS_MAX 4u
#define SIEVE_DEFAULT_STEPS_MAX 10000000u
#define SIEVE_DEFAULT_VARIABLES_MAX 128u

/* sieve_limits_default - the SIEVE_DEFAULT_* limits (tools and tests
 * without a configuration; delivery and ManageSieve take the configured
 * ones, mda_sieve_limits). */
void sieve_limits_default(struct sieve_limits *limits);

/* sieve_extensions_format - the require names of every extension (and
 * comparator) this engine supports, separated by single spaces, into buf
 * (NUL-terminated): ManageSieve's SIEVE capability (RFC 5804 1.7), so that
 * the list is written once, in the validator's table. The length the whole
 * list needs; it was cut short when that is size or more. */
size_t sieve_extensions_format(char *buf, size_t size);

/* One compile error: 1-based line and column of where it was found. */
struct sieve_error {
    unsigned line, column;
    char *message;
};
struct sieve_errors {
    struct sieve_error *items;
    size_t count, cap;
};
/* sieve_errors_clear - free every message; the list is empty after. */
void sieve_errors_clear(struct sieve_errors *errors);

struct sieve_script;

/* sieve_compile - lex, parse and validate text (len octets). The compiled
 * script, or NULL with at least one entry appended to errors (an entry
 * at line 0 means out of memory). The caller frees with sieve_script_free. */
struct sieve_script *sieve_compile(const char *text, size_t len, const struct sieve_limits *limits,
                                   struct sieve_errors *errors);
void sieve_script_free(struct sieve_script **script);
/* sieve_script_warnings - what the script compiled with but is likely a
 * mistake, each at its line and column (ManageSieve's OK (WARNINGS), RFC
 * 5804 1.3; dirmailctl sieve check): today an address test on a header
 * field that holds no addresses (RFC 5228 5.1). Owned by the script. */
const struct sieve_errors *sieve_script_warnings(const struct sieve_script *script);

/* What the caller provides for one run. Every callback may be NULL. */
struct sieve_env {
    void *ctx;
    /* mailbox_exists - 1 when the folder exists, 0 when not, -1 when that
     * cannot be told now (the run then ends SIEVE_RUN_TEMPFAIL). */
    int (*mailbox_exists)(void *ctx, const char *folder);
    /* vacation_seen - has the user already answered sender under key (hex
     * SHA-256 of the :handle or of the reason) within period seconds? 1
     * yes, 0 no, -1 cannot tell now (tempfail). The caller records the
     * reply when it has queued it (sieve_vacation_store_record). */
    int (*vacation_seen)(void *ctx, const char *key, const char *sender, unsigned long period);
    /* The user's own addresses: the first is the default :from of a
     * vacation reply; any of them in To/Cc/Bcc makes a reply possible. */
    const char *const *user_addresses;
    size_t user_address_count;
    time_t now; /* 0: time(NULL) */
    /* include_fetch - the text of the user's (global false) or the global
     * script name (RFC 6609) into *text (malloc'd, the engine frees it) and
     * *len: 1 found, 0 no such script, -1 cannot tell now (tempfail). */
    int (*include_fetch)(void *ctx, const char *name, bool global, char **text, size_t *len);
    /* Where included scripts are compiled (sieve_cache.h); NULL: compiled
     * at each include. */
    struct sieve_cache *include_cache;
};

enum sieve_action_kind {
    SIEVE_ACT_KEEP,     /* store in INBOX (explicit keep or the implicit keep) */
    SIEVE_ACT_FILEINTO, /* store in folder */
    SIEVE_ACT_DISCARD,  /* recorded so a log can say why nothing was stored */
    SIEVE_ACT_REDIRECT, /* resend to address, envelope sender kept (RFC 5228 4.2) */
    SIEVE_ACT_REJECT,   /* refuse with reason: a DSN (RFC 5429 2.1) */
    SIEVE_ACT_EREJECT,  /* refuse with reason at the protocol level if possible */
    SIEVE_ACT_VACATION, /* send the auto-reply below (RFC 5230) */
};

struct sieve_action {
    enum sieve_action_kind kind;
    char *target;  /* folder (FILEINTO), address (REDIRECT, VACATION: the recipient), reason */
    bool copy;     /* :copy (RFC 3894): does not cancel the implicit keep */
    bool create;   /* :create (RFC 5490) */
    bool implicit; /* KEEP: the implicit keep of RFC 5228 2.10.2 */
    char **flags;  /* IMAP flags to store with (RFC 5232), lower-cased system flags */
    size_t flag_count;
    /* VACATION only: the reply, resolved */
    char *subject, *from, *reason, *key, *in_reply_to;
    bool mime;
    unsigned long period; /* seconds */
};

enum sieve_run_status {
    SIEVE_RUN_OK,
    SIEVE_RUN_ERROR,    /* runtime error (limit, conflict): the actions are one implicit keep */
    SIEVE_RUN_TEMPFAIL, /* a callback could not answer: try the delivery again later */
};

struct sieve_result {
    enum sieve_run_status status;
    struct sieve_action *actions;
    size_t count, cap;
    char *error; /* the runtime error, for the log */
};

/* sieve_run - run script against msg. Fills result (which the caller
 * clears with sieve_result_clear) and returns its status. The action list
 * always ends with what to store: on any error it is exactly one implicit
 * keep, so a broken script never loses mail. */
enum sieve_run_status sieve_run(const struct sieve_script *script, const struct sieve_message *msg,
                                const struct sieve_env *env, struct sieve_result *result);
void sieve_result_clear(struct sieve_result *result);

/* sieve_result_format - the result as text, one action a line: kind,
 * target, then "implicit", "copy", "create", "flags=..." and for vacation
 * period, subject, mime, from and reason, separated by tabs; an error
 * first as "error<TAB>why". malloc'd, NULL when out of memory. */
char *sieve_result_format(const struct sieve_result *result);

/* sieve_action_kind_name - "keep", "fileinto", ... for logs and tests. */
const char *sieve_action_kind_name(enum sieve_action_kind kind);

#endif
