/* auth/auth_protocol.h - the auth socket's wire format (doc/auth-protocol.md):
 * encode and decode requests and responses as pure functions on buffers, with
 * the length limits and the escaping that keeps a value inside its field. It
 * owns the client-side result structs; it does no I/O and links no libldap. */
#ifndef DIRMAIL_AUTH_PROTOCOL_H
#define DIRMAIL_AUTH_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

/* Longest request line, LF included: an address (254) or a login and a
 * password fit many times over; anything longer is an attack or a bug. */
#define AUTH_REQUEST_MAX 4096
/* Longest response line, LF included. A group of a thousand members with
 * long addresses escaped is ~300 KiB; an answer that would not fit is sent as
 * TEMPFAIL error=too-large (and logged), never cut short. */
#define AUTH_RESPONSE_MAX (1024 * 1024)
/* Arguments of the widest request (AUTH login password service). */
#define AUTH_REQUEST_ARGS 3

enum auth_request_type {
    AUTH_REQ_RESOLVE, /* RESOLVE address */
    AUTH_REQ_AUTH,    /* AUTH login password service ("" service: no service check) */
    AUTH_REQ_USER,    /* USER address-or-login */
    AUTH_REQ_SENDERS, /* SENDERS login */
};

/* Answers: RESOLVE, USER and SENDERS answer FOUND / NOTFOUND / TEMPFAIL; AUTH
 * answers OK / FAILED / TEMPFAIL; ERROR means the request was malformed. */
enum auth_status {
    AUTH_FOUND,
    AUTH_NOTFOUND,
    AUTH_TEMPFAIL,
    AUTH_OK,
    AUTH_FAILED,
    AUTH_ERROR,
};

/* A request; args are owned (malloc'd) after a decode, borrowed for encode. */
struct auth_request {
    uint32_t id; /* chosen by the client, nonzero; echoed in the response */
    enum auth_request_type type;
    char *args[AUTH_REQUEST_ARGS];
    size_t argc;
};

/* The same shapes as auth/dir_user.h's, so that callers outside the auth
 * process need neither libldap nor the directory's headers. */
struct auth_strlist {
    char **items;
    size_t count;
};

enum auth_kind {
    AUTH_KIND_LOCAL,
    AUTH_KIND_REMOTE_NODE,
    AUTH_KIND_FORWARD,
    AUTH_KIND_GROUP,
    AUTH_KIND_RELAY,
    AUTH_KIND_DISABLED,
    AUTH_KIND_UNKNOWN,
    AUTH_KIND_NOT_OURS,
    AUTH_KIND_INVALID,
};

enum auth_user_status { AUTH_USER_ACTIVE, AUTH_USER_NOACCESS, AUTH_USER_HELD, AUTH_USER_DISABLED };

struct auth_recipient {
    enum auth_kind kind;
    char *address;
    char *local;
    char *domain;
    char *tag;
    char *matched;
    bool catchall;
    char *dn;
    char *primary;
    char *mailbox;
    unsigned long long quota;
    char *sieve;
    char *mail_host;
    struct auth_strlist forwards;
    bool keep_copy;
    struct auth_strlist members;
    enum auth_user_status status;
    bool disabled_hold; /* DISABLED: hold the mail instead of rejecting it */
    char *next_hop;
};

struct auth_user {
    char *dn;
    char *login;
    char *primary;
    struct auth_strlist addresses;
    struct auth_strlist senders;
    struct auth_strlist services;
    char *mailbox;
    unsigned long long quota;
    char *sieve;
    char *mail_host;
    enum auth_user_status status;
};

/* A decoded response. Which pointer is set depends on the request's type and
 * the status: recipient for RESOLVE FOUND/NOTFOUND, user for USER FOUND and
 * AUTH OK, senders for SENDERS FOUND. error: the server's reason on
 * TEMPFAIL/ERROR (may be NULL). All owned; auth_response_clear frees. */
struct auth_response {
    uint32_t id;
    enum auth_status status;
    struct auth_recipient *recipient;
    struct auth_user *user;
    struct auth_strlist senders;
    char *error;
};

const char *auth_request_type_name(enum auth_request_type type);
const char *auth_status_name(enum auth_status status);
const char *auth_kind_name(enum auth_kind kind);
const char *auth_user_status_name(enum auth_user_status status);

/* auth_escape - append value so that it holds no byte that could end a field
 * or a line: bytes 0x00-0x20, 0x7f and '%' become %XX (uppercase hex).
 * 0, or -1 when out of memory. */
int auth_escape(struct buf *out, const char *value, size_t len);

/* auth_unescape - the inverse, into a new NUL-terminated string. %00 is
 * refused (values are C strings), as are a bad %XX and any byte that
 * auth_escape would have escaped. NULL on error (or out of memory). */
char *auth_unescape(const char *text, size_t len);

/* auth_request_encode - append "ID VERB ARGS\n". 0, or -1 when the request is
 * invalid (id 0, wrong number of args, NULL arg), longer than
 * AUTH_REQUEST_MAX, or out of memory; out is unchanged then. */
int auth_request_encode(struct buf *out, const struct auth_request *req);

enum auth_decode_result {
    AUTH_DECODE_OK,
    AUTH_DECODE_BAD, /* malformed: *error_r says why; req->id is set if it parsed */
    AUTH_DECODE_NOMEM,
};

/* auth_request_decode - parse one request line (without its LF; len bytes,
 * NUL bytes are an error). On OK, req owns its args (auth_request_clear). */
enum auth_decode_result auth_request_decode(const char *line, size_t len, struct auth_request *req,
                                            const char **error_r);
void auth_request_clear(struct auth_request *req);

/* Response bodies: "STATUS key=value ..." without the id and without the LF,
 * so the auth process can cache a body and answer any id with it. Each returns
 * 0, or -1 when out of memory (out may hold a partial body then: discard). */
int auth_body_status(struct buf *out, enum auth_status status, const char *error);
int auth_body_recipient(struct buf *out, enum auth_status status, const struct auth_recipient *r);
int auth_body_user(struct buf *out, enum auth_status status, const struct auth_user *u);
int auth_body_senders(struct buf *out, const struct auth_strlist *senders);

/* auth_response_id - the id at the start of a response line; 0 if none. */
uint32_t auth_response_id(const char *line, size_t len);

/* auth_response_decode - parse a response line (without LF) to a request of
 * type. Unknown keys are ignored (newer servers may add fields); a repeated
 * single-valued key, a bad escape, a status that does not answer type, or a
 * missing required field is BAD. */
enum auth_decode_result auth_response_decode(const char *line, size_t len,
                                             enum auth_request_type type,
                                             struct auth_response *resp, const char **error_r);
void auth_response_clear(struct auth_response *resp);

void auth_strlist_clear(struct auth_strlist *l);
/* auth_strlist_add - append a copy of s (len bytes). 0 or -1. */
int auth_strlist_add(struct auth_strlist *l, const char *s, size_t len);
void auth_recipient_free(struct auth_recipient **r);
void auth_user_free(struct auth_user **u);

#endif
