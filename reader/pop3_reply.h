/* reader/pop3_reply.h - every fixed POP3 reply in one table: its status
 * (+OK / -ERR), its response code (RFC 2449 8, RFC 3206: [IN-USE],
 * [LOGIN-DELAY], [SYS/TEMP], [SYS/PERM], [AUTH]) and its text, so that no
 * handler types a code by hand. Replies that carry numbers (STAT, LIST, a
 * RETR's size) are written by their handlers. It never writes to the network. */
#ifndef DIRMAIL_READER_POP3_REPLY_H
#define DIRMAIL_READER_POP3_REPLY_H

#include <stdbool.h>
#include <stddef.h>

enum pop3_reply {
    POP3_REPLY_GREETING,
    POP3_REPLY_BYE,
    POP3_REPLY_OK,
    POP3_REPLY_USER_OK,
    POP3_REPLY_LOGGED_IN,
    POP3_REPLY_CAPA,
    POP3_REPLY_STLS,
    POP3_REPLY_DELETED,
    POP3_REPLY_FOLLOWS,
    /* the client's mistakes */
    POP3_REPLY_UNKNOWN,
    POP3_REPLY_NOT_NOW,
    POP3_REPLY_BAD_ARGS,
    POP3_REPLY_BAD_NUMBER,
    POP3_REPLY_BAD_LINE,
    POP3_REPLY_TOO_LONG,
    POP3_REPLY_NO_SUCH_MESSAGE,
    POP3_REPLY_ALREADY_DELETED,
    POP3_REPLY_USER_FIRST,
    POP3_REPLY_TOO_MANY_ERRORS,
    /* TLS */
    POP3_REPLY_TLS_ACTIVE,
    POP3_REPLY_TLS_UNAVAILABLE,
    /* authentication (RFC 5034, RFC 3206 [AUTH] and [SYS/TEMP]) */
    POP3_REPLY_PLAINTEXT_DISALLOWED,
    POP3_REPLY_AUTH_UNAVAILABLE,
    POP3_REPLY_AUTH_FAILED,
    POP3_REPLY_AUTH_TEMPFAIL,
    POP3_REPLY_AUTH_TOO_MANY,
    POP3_REPLY_AUTH_IP_BLOCKED,
    POP3_REPLY_AUTH_BAD_BASE64,
    POP3_REPLY_AUTH_BAD_PROTOCOL,
    POP3_REPLY_AUTH_CANCELLED,
    POP3_REPLY_AUTH_NO_MECHANISM,
    POP3_REPLY_AUTH_ENCRYPTION,
    POP3_REPLY_AUTH_LINE_TOO_LONG,
    /* the maildrop */
    POP3_REPLY_IN_USE,
    POP3_REPLY_TOO_MANY_SESSIONS,
    POP3_REPLY_MAILBOX_TEMPFAIL,
    POP3_REPLY_MAILBOX_UNSAFE,
    POP3_REPLY_MAILBOX_REMOTE,
    POP3_REPLY_MAILBOX_NODE_DOWN,
    POP3_REPLY_MESSAGE_GONE,
    POP3_REPLY_MESSAGE_TEMPFAIL,
    POP3_REPLY_UPDATE_FAILED,
    POP3_REPLY_INTERNAL,
};

/* pop3_reply_ok - whether id is a +OK. */
bool pop3_reply_ok(enum pop3_reply id);

/* pop3_reply_line - id's whole line with its CRLF ("-ERR [IN-USE] ...\r\n"). */
const char *pop3_reply_line(enum pop3_reply id);

/* pop3_reply_is_client_error - a -ERR that blames the client (counted
 * toward limits.errors), not one whose cause is ours or the directory's. */
bool pop3_reply_is_client_error(enum pop3_reply id);

#endif
