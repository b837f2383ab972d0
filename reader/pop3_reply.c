/* reader/pop3_reply.c - see pop3_reply.h. The response codes are those of
 * RFC 2449 8 and RFC 3206; CAPA announces RESP-CODES and AUTH-RESP-CODE, so
 * a client may act on them: [AUTH] means the credentials were wrong (ask the
 * user again), [SYS/TEMP] that trying again later may work (keep the
 * password), [IN-USE] that another session holds the maildrop. */
#include "config.h"

#include "reader/pop3_reply.h"

#include <stddef.h>

static const struct {
    const char *line;
    bool client_error;
} replies[] = {
    [POP3_REPLY_GREETING] = {"+OK dirmail POP3 server ready\r\n", false},
    [POP3_REPLY_BYE] = {"+OK Logging out\r\n", false},
    [POP3_REPLY_OK] = {"+OK\r\n", false},
    [POP3_REPLY_USER_OK] = {"+OK Send PASS\r\n", false},
    [POP3_REPLY_LOGGED_IN] = {"+OK Logged in\r\n", false},
    [POP3_REPLY_CAPA] = {"+OK Capability list follows\r\n", false},
    [POP3_REPLY_STLS] = {"+OK Begin TLS negotiation now\r\n", false},
    [POP3_REPLY_DELETED] = {"+OK Marked to be deleted\r\n", false},
    [POP3_REPLY_FOLLOWS] = {"+OK\r\n", false},

    [POP3_REPLY_UNKNOWN] = {"-ERR Unknown command\r\n", true},
    [POP3_REPLY_NOT_NOW] = {"-ERR Command not valid in this state\r\n", true},
    [POP3_REPLY_BAD_ARGS] = {"-ERR Invalid arguments\r\n", true},
    [POP3_REPLY_BAD_NUMBER] = {"-ERR Invalid number\r\n", true},
    [POP3_REPLY_BAD_LINE] = {"-ERR Invalid command line\r\n", true},
    [POP3_REPLY_TOO_LONG] = {"-ERR Command line too long\r\n", true},
    [POP3_REPLY_NO_SUCH_MESSAGE] = {"-ERR No such message\r\n", true},
    [POP3_REPLY_ALREADY_DELETED] = {"-ERR Message is deleted\r\n", true},
    [POP3_REPLY_USER_FIRST] = {"-ERR Send USER first\r\n", true},
    [POP3_REPLY_TOO_MANY_ERRORS] = {"-ERR Too many errors, closing connection\r\n", false},

    [POP3_REPLY_TLS_ACTIVE] = {"-ERR TLS is already active\r\n", true},
    [POP3_REPLY_TLS_UNAVAILABLE] = {"-ERR TLS not available\r\n", true},

    /* RFC 2595 2: a server may refuse USER/PASS before STLS; [AUTH] so that
     * the client does not retry the same way (Dovecot words it alike) */
    [POP3_REPLY_PLAINTEXT_DISALLOWED] = {"-ERR [AUTH] Plaintext authentication disallowed "
                                         "on non-secure connections, use STLS\r\n",
                                         true},
    [POP3_REPLY_AUTH_UNAVAILABLE] = {"-ERR Authentication not available\r\n", true},
    [POP3_REPLY_AUTH_FAILED] = {"-ERR [AUTH] Authentication failed\r\n", false},
    /* RFC 3206 4: the directory or the auth process could not answer */
    [POP3_REPLY_AUTH_TEMPFAIL] = {"-ERR [SYS/TEMP] Temporary authentication failure, "
                                  "try again later\r\n",
                                  false},
    [POP3_REPLY_AUTH_TOO_MANY] = {"-ERR [AUTH] Too many authentication failures\r\n", false},
    [POP3_REPLY_AUTH_IP_BLOCKED] = {"-ERR [SYS/TEMP] Too many authentication failures from "
                                    "your address, try again later\r\n",
                                    false},
    [POP3_REPLY_AUTH_BAD_BASE64] = {"-ERR Invalid base64 data\r\n", true},
    [POP3_REPLY_AUTH_BAD_PROTOCOL] = {"-ERR Malformed authentication response\r\n", true},
    [POP3_REPLY_AUTH_CANCELLED] = {"-ERR Authentication cancelled\r\n", false},
    [POP3_REPLY_AUTH_NO_MECHANISM] = {"-ERR Unrecognized authentication mechanism\r\n", true},
    [POP3_REPLY_AUTH_ENCRYPTION] = {"-ERR [AUTH] Encryption required for this mechanism, "
                                    "use STLS\r\n",
                                    true},
    [POP3_REPLY_AUTH_LINE_TOO_LONG] = {"-ERR Authentication line too long\r\n", true},

    /* RFC 2449 8.1.2: the maildrop is locked by another session */
    [POP3_REPLY_IN_USE] = {"-ERR [IN-USE] Mailbox is in use by another POP3 session\r\n", false},
    /* RFC 3206 4: IN-USE, the login was good but the user is busy elsewhere */
    [POP3_REPLY_TOO_MANY_SESSIONS] = {"-ERR [IN-USE] Too many sessions for this user\r\n", false},
    [POP3_REPLY_MAILBOX_TEMPFAIL] = {"-ERR [SYS/TEMP] Cannot open the mailbox, "
                                     "try again later\r\n",
                                     false},
    [POP3_REPLY_MAILBOX_UNSAFE] = {"-ERR [SYS/PERM] The mailbox's path is invalid, "
                                   "tell the administrator\r\n",
                                   false},
    [POP3_REPLY_MAILBOX_REMOTE] = {"-ERR [SYS/TEMP] The mailbox is on another server, "
                                   "which this one cannot reach yet\r\n",
                                   false},
    /* the proxy could not log in on the mailbox's node (reader/proxy.h) */
    [POP3_REPLY_MAILBOX_NODE_DOWN] = {"-ERR [SYS/TEMP] The mailbox's server is unavailable, "
                                      "try again later\r\n",
                                      false},
    [POP3_REPLY_MESSAGE_GONE] = {"-ERR Message was removed by another program\r\n", false},
    [POP3_REPLY_MESSAGE_TEMPFAIL] = {"-ERR [SYS/TEMP] Cannot read the message, "
                                     "try again later\r\n",
                                     false},
    /* RFC 1939 6: QUIT in UPDATE that could not remove everything */
    [POP3_REPLY_UPDATE_FAILED] = {"-ERR [SYS/TEMP] Some deleted messages not removed\r\n", false},
    [POP3_REPLY_INTERNAL] = {"-ERR [SYS/TEMP] Internal error, try again later\r\n", false},
};

const char *pop3_reply_line(enum pop3_reply id)
{
    if ((size_t)id >= sizeof replies / sizeof replies[0] || replies[id].line == NULL)
        return replies[POP3_REPLY_INTERNAL].line;
    return replies[id].line;
}

bool pop3_reply_ok(enum pop3_reply id)
{
    return pop3_reply_line(id)[0] == '+';
}

bool pop3_reply_is_client_error(enum pop3_reply id)
{
    return (size_t)id < sizeof replies / sizeof replies[0] && replies[id].client_error;
}
