/* reader/managesieve_reply.c - see managesieve_reply.h. The texts are for
 * people; clients act on the status and the response code (RFC 5804 1.3). */
#include "config.h"

#include "reader/managesieve_reply.h"

#include <stdio.h>
#include <string.h>

#include "lib/conn.h"

/* Quoted strings longer than this go as literals (RFC 5804 4 recommends
 * literals for long text; 1024 is what clients read as one line). */
#define QUOTED_MAX 1024

static const struct {
    const char *status; /* OK, NO, BYE */
    const char *code;   /* NULL: none */
    const char *text;
    bool client_error;
} replies[] = {
    [MSR_READY] = {"OK", NULL, "dirmail ManageSieve server ready", false},
    [MSR_CAPABILITY_DONE] = {"OK", NULL, "Capability completed", false},
    [MSR_NOOP_DONE] = {"OK", NULL, "NOOP completed", false},
    [MSR_NOOP_TAG] = {"OK", "TAG", "NOOP completed", false},
    [MSR_LOGOUT] = {"OK", NULL, "Logout completed", false},
    [MSR_STARTTLS] = {"OK", NULL, "Begin TLS negotiation now", false},
    [MSR_TLS_DONE] = {"OK", NULL, "TLS negotiation successful", false},
    [MSR_LOGGED_IN] = {"OK", NULL, "Logged in", false},
    [MSR_UNAUTHENTICATED] = {"OK", NULL, "Unauthenticate completed", false},
    [MSR_PUT_DONE] = {"OK", NULL, "Putscript completed", false},
    [MSR_CHECK_DONE] = {"OK", NULL, "Script is valid", false},
    /* RFC 5804 1.3: stored or valid, the text the engine's warnings */
    [MSR_PUT_WARNINGS] = {"OK", "WARNINGS", "Putscript completed with warnings", false},
    [MSR_CHECK_WARNINGS] = {"OK", "WARNINGS", "Script is valid with warnings", false},
    [MSR_LIST_DONE] = {"OK", NULL, "Listscripts completed", false},
    [MSR_GET_DONE] = {"OK", NULL, "Getscript completed", false},
    [MSR_ACTIVATED] = {"OK", NULL, "Setactive completed", false},
    [MSR_DEACTIVATED] = {"OK", NULL, "No script is active now", false},
    [MSR_DELETED] = {"OK", NULL, "Deletescript completed", false},
    [MSR_RENAMED] = {"OK", NULL, "Renamescript completed", false},
    [MSR_HAVE_SPACE] = {"OK", NULL, "Putscript would succeed", false},
    [MSR_NONEXISTENT] = {"NO", "NONEXISTENT", "There is no script by that name", false},
    [MSR_ALREADY_EXISTS] = {"NO", "ALREADYEXISTS", "A script by that name exists already", false},
    [MSR_ACTIVE] = {"NO", "ACTIVE", "The active script cannot be deleted", false},
    [MSR_MAXSCRIPTS] = {"NO", "QUOTA/MAXSCRIPTS", "Too many scripts", false},
    [MSR_MAXSIZE] = {"NO", "QUOTA/MAXSIZE", "Script too big", false},
    [MSR_BAD_NAME] = {"NO", NULL, "Invalid script name", true},
    [MSR_SCRIPT_BROKEN] = {"NO", NULL, "The script does not compile", false},
    [MSR_STORE_TRYLATER] = {"NO", "TRYLATER", "The script store is unavailable, try again later",
                            false},
    [MSR_STORE_UNSAFE] = {"NO", NULL, "The mail home's path is invalid, tell the administrator",
                          false},
    [MSR_DIRECTORY_TRYLATER] = {"NO", "TRYLATER", "The directory is unavailable, try again later",
                                false},
    [MSR_AUTH_FAILED] = {"NO", NULL, "Authentication failed", false},
    [MSR_AUTH_TRYLATER] = {"NO", "TRYLATER", "Temporary authentication failure, try again later",
                           false},
    [MSR_AUTH_BAD_PROTOCOL] = {"NO", NULL, "Bad SASL response", true},
    [MSR_AUTH_BAD_BASE64] = {"NO", NULL, "Bad base64", true},
    [MSR_AUTH_CANCELLED] = {"NO", NULL, "Authentication cancelled", false},
    [MSR_AUTH_NO_MECHANISM] = {"NO", NULL, "Unsupported authentication mechanism", true},
    [MSR_AUTH_ENCRYPT_NEEDED] = {"NO", "ENCRYPT-NEEDED", "Use STARTTLS first", true},
    [MSR_AUTH_IP_BLOCKED] = {"NO", "TRYLATER", "Too many failed logins from your address", false},
    [MSR_AUTH_UNAVAILABLE] = {"NO", "TRYLATER", "Authentication is not available now", false},
    /* RFC 5804 1.3: with the server's sieve URL (managesieve_reply_write_arg) */
    [MSR_MAILBOX_REMOTE] = {"NO", "REFERRAL", "Your scripts are kept on another server", false},
    [MSR_TLS_ACTIVE] = {"NO", NULL, "TLS is already active", true},
    [MSR_TLS_UNAVAILABLE] = {"NO", NULL, "TLS is not available", true},
    [MSR_LOG_IN_FIRST] = {"NO", NULL, "Log in first", true},
    [MSR_ALREADY_AUTHENTICATED] = {"NO", NULL, "Already authenticated", true},
    [MSR_UNKNOWN] = {"NO", NULL, "Unknown command", true},
    [MSR_BAD_ARGS] = {"NO", NULL, "Bad arguments", true},
    [MSR_LINE_TOO_LONG] = {"NO", NULL, "Line too long", true},
    [MSR_INTERNAL] = {"NO", "TRYLATER", "Out of memory, try again later", false},
    [MSR_BYE_TOO_MANY_ERRORS] = {"BYE", NULL, "Too many errors", false},
    [MSR_BYE_IDLE] = {"BYE", NULL, "Idle for too long", false},
    [MSR_BYE_AUTH_TOO_MANY] = {"BYE", NULL, "Too many failed logins", false},
    [MSR_BYE_TOOBIG] = {"BYE", "QUOTA/MAXSIZE", "Literal too big to read", false},
    [MSR_BYE_UNAVAILABLE] = {"BYE", "TRYLATER", "Service temporarily unavailable", false},
};

void managesieve_string_write(struct conn *conn, const char *s, size_t len)
{
    bool quotable = len <= QUOTED_MAX && memchr(s, '\r', len) == NULL &&
                    memchr(s, '\n', len) == NULL && memchr(s, '\0', len) == NULL;
    if (!quotable) {
        conn_printf(conn, "{%zu}\r\n", len);
        conn_write(conn, s, len);
        return;
    }
    conn_write(conn, "\"", 1);
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '"' && s[i] != '\\')
            continue;
        /* RFC 5804 4: QUOTED-SPECIALS are escaped with a backslash */
        conn_write(conn, s + start, i - start);
        conn_write(conn, "\\", 1);
        start = i;
    }
    conn_write(conn, s + start, len - start);
    conn_write(conn, "\"", 1);
}

void managesieve_reply_write(struct conn *conn, enum managesieve_reply id, const char *detail)
{
    const char *text = detail != NULL ? detail : replies[id].text;
    conn_write(conn, replies[id].status, strlen(replies[id].status));
    if (replies[id].code != NULL)
        conn_printf(conn, " (%s)", replies[id].code);
    conn_write(conn, " ", 1);
    managesieve_string_write(conn, text, strlen(text));
    conn_write(conn, "\r\n", 2);
}

const char *managesieve_reply_line(enum managesieve_reply id, char *buf, size_t size)
{
    /* the table's texts hold no quote or backslash: quoted as they are */
    snprintf(buf, size, "%s%s%s%s \"%s\"", replies[id].status, replies[id].code != NULL ? " (" : "",
             replies[id].code != NULL ? replies[id].code : "", replies[id].code != NULL ? ")" : "",
             replies[id].text);
    return buf;
}

void managesieve_reply_write_arg(struct conn *conn, enum managesieve_reply id, const char *arg,
                                 size_t arg_len)
{
    if (replies[id].code == NULL) {
        managesieve_reply_write(conn, id, NULL);
        return;
    }
    conn_printf(conn, "%s (%s ", replies[id].status, replies[id].code);
    managesieve_string_write(conn, arg, arg_len);
    conn_write(conn, ") ", 2);
    managesieve_string_write(conn, replies[id].text, strlen(replies[id].text));
    conn_write(conn, "\r\n", 2);
}

bool managesieve_reply_is_client_error(enum managesieve_reply id)
{
    return replies[id].client_error;
}

bool managesieve_reply_is_bye(enum managesieve_reply id)
{
    return strcmp(replies[id].status, "BYE") == 0;
}
