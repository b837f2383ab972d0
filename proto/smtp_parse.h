/* proto/smtp_parse.h - one SMTP command line (RFC 5321 4.1.1, without its
 * CRLF) into a verb and its checked arguments and ESMTP parameters. It owns the
 * verb table and the parameter grammar; it never decides whether a command is
 * allowed now (the session's state machine) nor what an address may do (policy). */
#ifndef DIRMAIL_SMTP_PARSE_H
#define DIRMAIL_SMTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/address.h"

/* The longest line the parser takes. RFC 5321 4.5.3.1.4 allows 512 octets
 * with CRLF and lets extensions raise it (RFC 3461 4 and RFC 4954 5 widen MAIL
 * and RCPT for ENVID, ORCPT and AUTH=); the line reader decides how much to
 * allow, and anything longer than this is SMTP_PARSE_TOO_LONG here. */
#define SMTP_PARSE_LINE_MAX 1024
/* RFC 3461 4.4: ENVID at most 100 characters; 4.2: ORCPT at most 500. */
#define SMTP_ENVID_MAX 100
#define SMTP_ORCPT_MAX 500
/* RFC 4422 3.1: a SASL mechanism name is 1 to 20 characters. */
#define SMTP_AUTH_MECH_MAX 20

enum smtp_verb {
    SMTP_VERB_UNKNOWN = 0,
    SMTP_VERB_EHLO,
    SMTP_VERB_HELO,
    SMTP_VERB_MAIL,
    SMTP_VERB_RCPT,
    SMTP_VERB_DATA,
    SMTP_VERB_BDAT,
    SMTP_VERB_RSET,
    SMTP_VERB_NOOP,
    SMTP_VERB_QUIT,
    SMTP_VERB_HELP,
    SMTP_VERB_VRFY,
    SMTP_VERB_EXPN,
    SMTP_VERB_STARTTLS,
    SMTP_VERB_AUTH,
    SMTP_VERB_LHLO, /* LMTP's greeting (RFC 2033 4.1); only with SMTP_PARSE_LMTP */
};

/* What a parse says; smtp_reply_parse_error() (smtp_reply.h) maps each
 * failure to its reply, so the session never types a code for these. */
enum smtp_parse_result {
    SMTP_PARSE_OK = 0,
    SMTP_PARSE_UNKNOWN_COMMAND,    /* 500 5.5.2 */
    SMTP_PARSE_BAD_LINE,           /* 500 5.5.2: NUL, CR, LF or another control octet */
    SMTP_PARSE_TOO_LONG,           /* 500 5.5.2: longer than SMTP_PARSE_LINE_MAX */
    SMTP_PARSE_SYNTAX,             /* 501 5.5.4: missing, extra or malformed arguments */
    SMTP_PARSE_BAD_SENDER,         /* 501 5.1.7: MAIL FROM path syntax */
    SMTP_PARSE_BAD_RECIPIENT,      /* 501 5.1.3: RCPT TO path syntax (and RCPT TO:<>) */
    SMTP_PARSE_SENDER_TOO_LONG,    /* 501 5.1.7: RFC 5321 4.5.3.1 limits ("Path too long") */
    SMTP_PARSE_RECIPIENT_TOO_LONG, /* 501 5.1.3 */
    SMTP_PARSE_UTF8_ADDRESS,       /* 553 5.6.7: non-ASCII address without SMTPUTF8 (RFC 6531) */
    SMTP_PARSE_UNKNOWN_PARAM,      /* 555 5.5.4: parameter not known or not advertised */
    SMTP_PARSE_BAD_PARAM,          /* 501 5.5.4: a known parameter with a bad value */
    SMTP_PARSE_DUPLICATE_PARAM,    /* 501 5.5.4 */
};

/* Options for smtp_parse_line: the extensions this session advertised (a
 * parameter of an extension not advertised is unknown, RFC 5321 4.1.1.11),
 * and whether the transaction's MAIL carried SMTPUTF8 (for RCPT). */
enum {
    SMTP_PARSE_EXT_SIZE = 1u << 0,       /* SIZE= (RFC 1870) */
    SMTP_PARSE_EXT_8BITMIME = 1u << 1,   /* BODY=7BIT|8BITMIME (RFC 6152) */
    SMTP_PARSE_EXT_BINARYMIME = 1u << 2, /* BODY=BINARYMIME (RFC 3030) */
    SMTP_PARSE_EXT_SMTPUTF8 = 1u << 3,   /* SMTPUTF8 (RFC 6531) */
    SMTP_PARSE_EXT_DSN = 1u << 4,        /* RET ENVID NOTIFY ORCPT (RFC 3461) */
    SMTP_PARSE_EXT_AUTH = 1u << 5,       /* AUTH= (RFC 4954 5) */
    SMTP_PARSE_EXT_ALL = (1u << 6) - 1,
    SMTP_PARSE_TX_SMTPUTF8 = 1u << 8, /* the current MAIL had SMTPUTF8 */
    /* The line is LMTP (RFC 2033): LHLO is a command, and EHLO and HELO
     * are not (4.1: "the LHLO command ... replaces EHLO"); unknown (500). */
    SMTP_PARSE_LMTP = 1u << 9,
};

enum smtp_body { SMTP_BODY_NONE = 0, SMTP_BODY_7BIT, SMTP_BODY_8BITMIME, SMTP_BODY_BINARYMIME };
enum smtp_ret { SMTP_RET_NONE = 0, SMTP_RET_FULL, SMTP_RET_HDRS };
/* NOTIFY (RFC 3461 4.1): 0 = not given; NEVER never comes with the others. */
enum {
    SMTP_NOTIFY_NEVER = 1u << 0,
    SMTP_NOTIFY_SUCCESS = 1u << 1,
    SMTP_NOTIFY_FAILURE = 1u << 2,
    SMTP_NOTIFY_DELAY = 1u << 3,
};

/* ESMTP parameters of MAIL (size..auth) and RCPT (notify, orcpt). */
struct smtp_params {
    bool has_size;
    uint64_t size; /* RFC 1870 size-value; above UINT64_MAX it saturates (then 552) */
    enum smtp_body body;
    bool smtputf8;
    enum smtp_ret ret;
    bool has_envid;
    char envid[SMTP_ENVID_MAX + 1]; /* xtext-decoded; printable ASCII only */
    bool has_auth;
    struct address auth; /* AUTH=<> is auth.is_null; else the decoded mailbox */
    unsigned notify;
    bool has_orcpt;
    char orcpt_type[SMTP_ORCPT_MAX + 1]; /* addr-type as sent, e.g. "rfc822" (lowercased) */
    char orcpt[SMTP_ORCPT_MAX + 1];      /* decoded for rfc822; as sent for other types */
    bool orcpt_decoded;                  /* orcpt holds the xtext-decoded rfc822 address */
};

/* A parsed command. Everything is copied out of the line: the line may be
 * reused as soon as smtp_parse_line returns. */
struct smtp_command {
    enum smtp_verb verb;
    /* EHLO/HELO: the argument as sent; VRFY/EXPN/HELP/NOOP: the text after the
     * verb (may be empty for HELP/NOOP); AUTH: the initial response ("" for
     * none, "=" for an empty one). NUL-terminated, arg_len octets. */
    char arg[SMTP_PARSE_LINE_MAX + 1];
    size_t arg_len;
    /* EHLO/HELO: whether arg is a Domain or address literal (RFC 5321 4.1.1.1);
     * if so, helo holds it normalised. Clients with bad names are common, so a
     * non-domain is not a parse error: the policy decides. */
    bool helo_valid;
    struct address helo;
    /* MAIL: the reverse-path; RCPT: the forward-path. */
    struct address path;
    struct smtp_params params;
    /* BDAT (RFC 3030 2) */
    uint64_t chunk_size;
    bool last;
    /* AUTH (RFC 4954 4): the mechanism, uppercased */
    char mech[SMTP_AUTH_MECH_MAX + 1];
    bool has_initial_response;
};

/* smtp_parse_line - parse line[0..len) (no CRLF) into *cmd (fully rewritten).
 * cmd->verb is set whenever the verb was recognised, also on error, so that
 * the session can count errors per command. */
enum smtp_parse_result smtp_parse_line(const char *line, size_t len, unsigned opts,
                                       struct smtp_command *cmd);

/* smtp_verb_ends_group - true for a command after which a pipelining client
 * must wait for the reply before it sends more (RFC 2920 3.1: EHLO, DATA,
 * VRFY, EXPN, TURN, QUIT, NOOP "may only appear as the last command in a
 * group"; RFC 3207 4 STARTTLS; RFC 4954 4 AUTH; HELO, which offers no
 * pipelining at all). BDAT ends a group only with LAST (RFC 3030 4.2:
 * its reply must be awaited before QUIT or the next MAIL), which the
 * caller judges once the chunk has been read. */
bool smtp_verb_ends_group(enum smtp_verb verb);

/* smtp_verb_name - the verb in upper case ("MAIL"), "" for UNKNOWN. */
const char *smtp_verb_name(enum smtp_verb verb);
/* smtp_parse_result_str - a short constant text for logs. */
const char *smtp_parse_result_str(enum smtp_parse_result result);

/* smtp_xtext_decode - decode RFC 3461 4 xtext in[0..len) into out[0..size)
 * with a NUL. Returns the decoded length, or -1 when it is not xtext or does
 * not fit. Decoded octets may be anything; callers check what they allow. */
int smtp_xtext_decode(const char *in, size_t len, char *out, size_t size);

#endif
