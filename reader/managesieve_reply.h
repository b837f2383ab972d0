/* reader/managesieve_reply.h - the ManageSieve server's responses (RFC 5804
 * section 1.3 and 4): one table from a reply to its status, response code
 * and text, so that no session types a status of its own, and the framing of
 * strings (quoted when they can be, a literal {n} when not). It never
 * decides which reply a command gets. */
#ifndef DIRMAIL_READER_MANAGESIEVE_REPLY_H
#define DIRMAIL_READER_MANAGESIEVE_REPLY_H

#include <stdbool.h>
#include <stddef.h>

struct conn;

enum managesieve_reply {
    MSR_READY,
    MSR_CAPABILITY_DONE,
    MSR_NOOP_DONE,
    MSR_NOOP_TAG, /* with the client's tag (managesieve_reply_write_arg) */
    MSR_LOGOUT,
    MSR_STARTTLS,
    MSR_TLS_DONE,
    MSR_LOGGED_IN,
    MSR_UNAUTHENTICATED,
    MSR_PUT_DONE,
    MSR_CHECK_DONE,
    MSR_PUT_WARNINGS,
    MSR_CHECK_WARNINGS,
    MSR_LIST_DONE,
    MSR_GET_DONE,
    MSR_ACTIVATED,
    MSR_DEACTIVATED,
    MSR_DELETED,
    MSR_RENAMED,
    MSR_HAVE_SPACE,
    /* the store's refusals (RFC 5804 1.3 response codes) */
    MSR_NONEXISTENT,
    MSR_ALREADY_EXISTS,
    MSR_ACTIVE,
    MSR_MAXSCRIPTS,
    MSR_MAXSIZE,
    MSR_BAD_NAME,
    MSR_SCRIPT_BROKEN,
    MSR_STORE_TRYLATER,
    MSR_STORE_UNSAFE,
    /* logging in */
    MSR_DIRECTORY_TRYLATER,
    MSR_AUTH_FAILED,
    MSR_AUTH_TRYLATER,
    MSR_AUTH_BAD_PROTOCOL,
    MSR_AUTH_BAD_BASE64,
    MSR_AUTH_CANCELLED,
    MSR_AUTH_NO_MECHANISM,
    MSR_AUTH_ENCRYPT_NEEDED,
    MSR_AUTH_IP_BLOCKED,
    MSR_AUTH_UNAVAILABLE,
    MSR_MAILBOX_REMOTE,
    MSR_TLS_ACTIVE,
    MSR_TLS_UNAVAILABLE,
    /* the client's mistakes */
    MSR_LOG_IN_FIRST,
    MSR_ALREADY_AUTHENTICATED,
    MSR_UNKNOWN,
    MSR_BAD_ARGS,
    MSR_LINE_TOO_LONG,
    MSR_INTERNAL,
    /* last words */
    MSR_BYE_TOO_MANY_ERRORS,
    MSR_BYE_IDLE,
    MSR_BYE_AUTH_TOO_MANY,
    MSR_BYE_TOOBIG,
    MSR_BYE_UNAVAILABLE,
};

/* managesieve_reply_write - queue the reply on conn: status, "(CODE)" when
 * it has one, the text as a string. detail, when not NULL, replaces the
 * text (a parser's or a compiler's words). */
void managesieve_reply_write(struct conn *conn, enum managesieve_reply id, const char *detail);

/* managesieve_reply_line - the reply as one line without CRLF into buf,
 * for words said before a session exists (service_say_and_close); buf. */
const char *managesieve_reply_line(enum managesieve_reply id, char *buf, size_t size);

/* managesieve_reply_write_arg - the reply with its response code and
 * the code's string argument, "(CODE string)": NOOP's TAG echoing the
 * client's (RFC 5804 2.13), REFERRAL's sieve URL (1.3). A reply whose
 * table row has no code is written as managesieve_reply_write does. */
void managesieve_reply_write_arg(struct conn *conn, enum managesieve_reply id, const char *arg,
                                 size_t arg_len);

/* managesieve_reply_is_client_error - counts toward limits.errors. */
bool managesieve_reply_is_client_error(enum managesieve_reply id);

/* managesieve_reply_is_bye - the reply ends the session. */
bool managesieve_reply_is_bye(enum managesieve_reply id);

/* managesieve_string_write - s[0..len) as a string (RFC 5804 4): quoted
 * when short and free of CR, LF and NUL, else a literal {len}. */
void managesieve_string_write(struct conn *conn, const char *s, size_t len);

#endif
