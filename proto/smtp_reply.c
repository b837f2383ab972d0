/* proto/smtp_reply.c - enhanced status codes and reply formatting (see
 * smtp_reply.h).
 *
 * Bare CR or LF in DATA: Exchange answers 550 5.6.11, a code that neither RFC
 * 3463, RFC 5248's initial registry nor RFC 6531 defines (we could not find it
 * registered with IANA); Postfix answers 5.5.2. The session should use
 * SMTP_ESC_MEDIA_OTHER (X.6.0, RFC 3463 "Other or undefined media error": the
 * message content is what is wrong) with a text that names the cause, so every
 * code we send is a registered one. */
#include "config.h"

#include "proto/smtp_reply.h"

#include <stdio.h>
#include <string.h>

/* The table: subject and detail of each constant, in enum order. */
static const struct {
    unsigned char subject;
    unsigned char detail;
} esc_table[SMTP_ESC_COUNT] = {
    [SMTP_ESC_NONE] = {0, 0},
    [SMTP_ESC_OTHER] = {0, 0},
    [SMTP_ESC_ADDRESS_OTHER] = {1, 0},
    [SMTP_ESC_BAD_DEST_MAILBOX] = {1, 1},
    [SMTP_ESC_BAD_DEST_SYSTEM] = {1, 2},
    [SMTP_ESC_BAD_DEST_SYNTAX] = {1, 3},
    [SMTP_ESC_DEST_VALID] = {1, 5},
    [SMTP_ESC_MAILBOX_MOVED] = {1, 6},
    [SMTP_ESC_BAD_SENDER_SYNTAX] = {1, 7},
    [SMTP_ESC_BAD_SENDER_SYSTEM] = {1, 8},
    [SMTP_ESC_NULL_MX] = {1, 10},
    [SMTP_ESC_MAILBOX_OTHER] = {2, 0},
    [SMTP_ESC_MAILBOX_DISABLED] = {2, 1},
    [SMTP_ESC_MAILBOX_FULL] = {2, 2},
    [SMTP_ESC_MESSAGE_TOO_LONG] = {2, 3},
    [SMTP_ESC_SYSTEM_OTHER] = {3, 0},
    [SMTP_ESC_SYSTEM_FULL] = {3, 1},
    [SMTP_ESC_NOT_ACCEPTING] = {3, 2},
    [SMTP_ESC_MESSAGE_TOO_BIG] = {3, 4},
    [SMTP_ESC_SYSTEM_MISCONFIGURED] = {3, 5},
    [SMTP_ESC_NETWORK_OTHER] = {4, 0},
    [SMTP_ESC_NO_ANSWER] = {4, 1},
    [SMTP_ESC_BAD_CONNECTION] = {4, 2},
    [SMTP_ESC_ROUTING_FAILURE] = {4, 4},
    [SMTP_ESC_DIRECTORY_FAILURE] = {4, 3},
    [SMTP_ESC_CONGESTION] = {4, 5},
    [SMTP_ESC_ROUTING_LOOP] = {4, 6},
    [SMTP_ESC_DELIVERY_EXPIRED] = {4, 7},
    [SMTP_ESC_PROTOCOL_OTHER] = {5, 0},
    [SMTP_ESC_INVALID_COMMAND] = {5, 1},
    [SMTP_ESC_SYNTAX_ERROR] = {5, 2},
    [SMTP_ESC_TOO_MANY_RECIPIENTS] = {5, 3},
    [SMTP_ESC_INVALID_ARGUMENTS] = {5, 4},
    [SMTP_ESC_WRONG_PROTOCOL] = {5, 5},
    [SMTP_ESC_AUTH_LINE_TOO_LONG] = {5, 6},
    [SMTP_ESC_MEDIA_OTHER] = {6, 0},
    [SMTP_ESC_MEDIA_NOT_SUPPORTED] = {6, 1},
    [SMTP_ESC_CONVERSION_REQUIRED] = {6, 3},
    [SMTP_ESC_NON_ASCII_ADDRESS] = {6, 7},
    [SMTP_ESC_SECURITY_OTHER] = {7, 0},
    [SMTP_ESC_NOT_AUTHORIZED] = {7, 1},
    [SMTP_ESC_AUTH_SUCCEEDED] = {7, 0},
    [SMTP_ESC_AUTH_INVALID] = {7, 8},
    [SMTP_ESC_AUTH_TOO_WEAK] = {7, 9},
    [SMTP_ESC_ENCRYPTION_NEEDED] = {7, 10},
    [SMTP_ESC_ENCRYPTION_FOR_MECH] = {7, 11},
    [SMTP_ESC_PASSWORD_TRANSITION] = {7, 12},
    [SMTP_ESC_ACCOUNT_DISABLED] = {7, 13},
};

int smtp_esc_text(enum smtp_esc esc, int code, char *out, size_t size)
{
    int n;

    if (code < 200 || code > 599 || (unsigned)esc >= SMTP_ESC_COUNT)
        return -1;
    if (size > 0)
        out[0] = '\0';
    /* RFC 3463 2: the class is 2, 4 or 5; a 3xx reply (354) has none. */
    if (esc == SMTP_ESC_NONE || code / 100 == 3)
        return 0;
    n = snprintf(out, size, "%d.%u.%u", code / 100, esc_table[esc].subject, esc_table[esc].detail);
    if (n < 0 || (size_t)n >= size)
        return -1;
    return n;
}

/* reply_line - append one "CODE<sep>[ESC ]text\r\n" line. */
static int reply_line(char *out, size_t size, size_t *off, int code, char sep, const char *esc,
                      const char *text, size_t len)
{
    size_t room = size - *off;
    int n = snprintf(out + *off, room, "%03d%c%s%s%.*s\r\n", code, sep, esc,
                     esc[0] != '\0' && len > 0 ? " " : "", (int)len, text);
    if (n < 0 || (size_t)n >= room || n > SMTP_REPLY_LINE_MAX)
        return -1;
    *off += (size_t)n;
    return 0;
}

int smtp_reply_format(char *out, size_t size, int code, enum smtp_esc esc, const char *text)
{
    char esc_text[SMTP_ESC_TEXT_MAX];
    size_t off = 0;

    if (size == 0)
        return -1;
    out[0] = '\0';
    if (smtp_esc_text(esc, code, esc_text, sizeof(esc_text)) < 0)
        return -1;
    for (const char *p = text; *p != '\0'; p++) {
        /* RFC 5321 4.2: reply text is printable; a CR here would let a
         * caller's string forge a reply line. */
        unsigned char ch = (unsigned char)*p;
        if ((ch < 32 && ch != '\n' && ch != '\t') || ch == 127)
            return -1;
    }
    const char *line = text;
    for (;;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl != NULL ? (size_t)(nl - line) : strlen(line);
        if (len > SMTP_REPLY_LINE_MAX)
            return -1;
        if (reply_line(out, size, &off, code, nl != NULL ? '-' : ' ', esc_text, line, len) < 0) {
            out[0] = '\0';
            return -1;
        }
        if (nl == NULL)
            break;
        line = nl + 1;
    }
    return (int)off;
}

/* The reply for each parse failure, in one place. */
static const struct smtp_reply parse_replies[] = {
    [SMTP_PARSE_UNKNOWN_COMMAND] = {500, SMTP_ESC_SYNTAX_ERROR, "Command unrecognized"},
    [SMTP_PARSE_BAD_LINE] = {500, SMTP_ESC_SYNTAX_ERROR, "Invalid characters in command"},
    /* RFC 5321 4.5.3.1.10 "500 Line too long" */
    [SMTP_PARSE_TOO_LONG] = {500, SMTP_ESC_SYNTAX_ERROR, "Line too long"},
    [SMTP_PARSE_SYNTAX] = {501, SMTP_ESC_INVALID_ARGUMENTS, "Syntax error in arguments"},
    [SMTP_PARSE_BAD_SENDER] = {501, SMTP_ESC_BAD_SENDER_SYNTAX, "Bad sender address syntax"},
    [SMTP_PARSE_BAD_RECIPIENT] = {501, SMTP_ESC_BAD_DEST_SYNTAX, "Bad recipient address syntax"},
    /* RFC 5321 4.5.3.1.10 "501 Path too long" */
    [SMTP_PARSE_SENDER_TOO_LONG] = {501, SMTP_ESC_BAD_SENDER_SYNTAX, "Path too long"},
    [SMTP_PARSE_RECIPIENT_TOO_LONG] = {501, SMTP_ESC_BAD_DEST_SYNTAX, "Path too long"},
    [SMTP_PARSE_UTF8_ADDRESS] = {553, SMTP_ESC_NON_ASCII_ADDRESS,
                                 "Non-ASCII address requires SMTPUTF8"},
    /* RFC 5321 4.1.1.11 */
    [SMTP_PARSE_UNKNOWN_PARAM] = {555, SMTP_ESC_INVALID_ARGUMENTS,
                                  "Parameter not recognized or not implemented"},
    [SMTP_PARSE_BAD_PARAM] = {501, SMTP_ESC_INVALID_ARGUMENTS, "Invalid parameter value"},
    [SMTP_PARSE_DUPLICATE_PARAM] = {501, SMTP_ESC_INVALID_ARGUMENTS, "Duplicate parameter"},
};

const struct smtp_reply *smtp_reply_parse_error(enum smtp_parse_result result)
{
    if (result == SMTP_PARSE_OK ||
        (size_t)result >= sizeof(parse_replies) / sizeof(parse_replies[0]))
        return NULL;
    return &parse_replies[result];
}

/* The client may try again later, whether writing, beginning or
 * committing the message failed. */
#define CANNOT_QUEUE "Cannot queue the message now, try again later"

/* The reply that refuses a message, for each verdict of the DATA/BDAT reader
 * (content policy included), in one place for both commands. */
static const struct smtp_reply data_replies[] = {
    [SMTP_DATA_BARE_EOL] = {550, SMTP_ESC_MEDIA_OTHER, "Bare CR or LF in message text not allowed"},
    [SMTP_DATA_TOO_BIG] = {552, SMTP_ESC_MESSAGE_TOO_BIG, "Message size exceeds fixed maximum"},
    /* RFC 5321 4.5.3.1.10 "500 Line too long" */
    [SMTP_DATA_LINE_TOO_LONG] = {500, SMTP_ESC_SYNTAX_ERROR, "Line too long in message text"},
    [SMTP_DATA_WRITE_FAILED] = {451, SMTP_ESC_SYSTEM_OTHER, CANNOT_QUEUE},
    [SMTP_DATA_NUL] = {550, SMTP_ESC_MEDIA_OTHER, "message contains NUL characters"},
    /* X.3.4 as for the message size: a limit of this system, not a fault of
     * the content's form (RFC 3463 3.4) */
    [SMTP_DATA_HEADER_TOO_BIG] = {552, SMTP_ESC_MESSAGE_TOO_BIG,
                                  "Message header section exceeds fixed maximum size"},
    [SMTP_DATA_TOO_MANY_HEADERS] = {550, SMTP_ESC_MEDIA_OTHER, "Too many header fields"},
};

const struct smtp_reply *smtp_reply_data_error(enum smtp_data_verdict verdict)
{
    if (verdict == SMTP_DATA_OK ||
        (size_t)verdict >= sizeof(data_replies) / sizeof(data_replies[0]) ||
        data_replies[verdict].code == 0)
        return NULL;
    return &data_replies[verdict];
}

static const struct smtp_reply tempfail_replies[] = {
    [SMTP_TEMPFAIL_QUEUE] = {451, SMTP_ESC_SYSTEM_OTHER, CANNOT_QUEUE},
    [SMTP_TEMPFAIL_MEMORY] = {451, SMTP_ESC_SYSTEM_OTHER, "Out of memory"},
};

const struct smtp_reply *smtp_reply_tempfail(enum smtp_tempfail failure)
{
    if ((size_t)failure >= sizeof(tempfail_replies) / sizeof(tempfail_replies[0]))
        return &tempfail_replies[SMTP_TEMPFAIL_QUEUE];
    return &tempfail_replies[failure];
}

/* RFC 3463 3.4 X.3.1 "Mail system full"; the text is RFC 5321's for 452. */
static const struct smtp_reply storage_replies[] = {
    [SMTP_STORAGE_FULL] = {452, SMTP_ESC_SYSTEM_FULL, "Insufficient system storage"},
    [SMTP_STORAGE_UNKNOWN] = {451, SMTP_ESC_SYSTEM_OTHER,
                              "Cannot check the system storage now, try again later"},
};

const struct smtp_reply *smtp_reply_storage(enum smtp_storage storage)
{
    if ((size_t)storage >= sizeof(storage_replies) / sizeof(storage_replies[0]))
        return &storage_replies[SMTP_STORAGE_UNKNOWN];
    return &storage_replies[storage];
}

static const struct smtp_reply transfer_replies[] = {
    [SMTP_TRANSFER_NO_RECIPIENTS] = {554, SMTP_ESC_INVALID_COMMAND, "No valid recipients"},
    [SMTP_TRANSFER_BAD_SEQUENCE] = {503, SMTP_ESC_INVALID_COMMAND, "Bad sequence of commands"},
    [SMTP_TRANSFER_START_DATA] = {354, SMTP_ESC_NONE, "End data with <CR><LF>.<CR><LF>"},
};

const struct smtp_reply *smtp_reply_transfer(enum smtp_transfer_reply which)
{
    return &transfer_replies[which];
}

/* The AUTH replies to an exchange that ends short of a login (RFC 4954 4,
 * 6), for SMTP and LMTP alike. */
static const struct smtp_reply sasl_replies[SESSION_SASL_REFUSAL_COUNT] = {
    [SESSION_SASL_FAILED] = {535, SMTP_ESC_AUTH_INVALID, "Authentication credentials invalid"},
    [SESSION_SASL_FAILED_ADDRESS_LIMIT] = {535, SMTP_ESC_AUTH_INVALID,
                                           "Authentication credentials invalid"},
    [SESSION_SASL_FAILED_SESSION_LIMIT] = {535, SMTP_ESC_AUTH_INVALID,
                                           "Authentication credentials invalid"},
    /* the directory or the auth process could not answer: never 535 */
    [SESSION_SASL_TEMPFAIL] = {454, SMTP_ESC_SECURITY_OTHER, "Temporary authentication failure"},
    [SESSION_SASL_BAD_PROTOCOL] = {501, SMTP_ESC_SYNTAX_ERROR, "Malformed authentication response"},
    [SESSION_SASL_BAD_BASE64] = {501, SMTP_ESC_SYNTAX_ERROR, "Invalid base64 data"},
    [SESSION_SASL_CANCELLED] = {501, SMTP_ESC_OTHER, "Authentication cancelled"},
    [SESSION_SASL_NO_MECHANISM] = {504, SMTP_ESC_INVALID_ARGUMENTS,
                                   "Unrecognized authentication mechanism"},
    [SESSION_SASL_ENCRYPTION_REQUIRED] = {538, SMTP_ESC_ENCRYPTION_FOR_MECH,
                                          "Encryption required for requested authentication "
                                          "mechanism"},
    /* RFC 4954 6: 454 for a temporary refusal */
    [SESSION_SASL_ADDRESS_BLOCKED] = {454, SMTP_ESC_SECURITY_OTHER,
                                      "Too many authentication failures from your address, try "
                                      "again later"},
    [SESSION_SASL_LINE_TOO_LONG] = {500, SMTP_ESC_AUTH_LINE_TOO_LONG,
                                    "Authentication line too long"},
};

const struct smtp_reply *smtp_reply_sasl_refusal(enum session_sasl_refusal why)
{
    return (size_t)why < SESSION_SASL_REFUSAL_COUNT ? &sasl_replies[why]
                                                    : &sasl_replies[SESSION_SASL_TEMPFAIL];
}
