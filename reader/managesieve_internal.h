/* reader/managesieve_internal.h - what the two halves of one ManageSieve
 * session share and nothing else includes: managesieve_session.c owns the
 * session's part in the line-session driver (the command parser, the
 * command table), STARTTLS and AUTHENTICATE; managesieve_scripts.c the
 * script commands and their store jobs on the worker's thread pool. */
#ifndef DIRMAIL_READER_MANAGESIEVE_INTERNAL_H
#define DIRMAIL_READER_MANAGESIEVE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "delivery/sieve_store.h"
#include "proto/line_session.h"
#include "proto/service.h"
#include "proto/session_sasl.h"
#include "reader/imap_parse.h"
#include "reader/login_lookup.h"
#include "reader/managesieve_reply.h"

struct sasl_session;
struct threadpool;

/* RFC 5804 section 2: before and after a login. */
enum msieve_state {
    MSIEVE_NOT_AUTHENTICATED,
    MSIEVE_AUTHENTICATED,
};

/* A command line is at most this long: scripts come as literals, so lines
 * are short; it is above SASL_EXCHANGE_LINE_LIMIT, so that a SASL response
 * line as long as the exchange allows fits. */
#define MSIEVE_LINE_MAX 8192

enum msieve_op {
    MSIEVE_OP_LIST,
    MSIEVE_OP_GET,
    MSIEVE_OP_PUT,
    MSIEVE_OP_HAVESPACE,
    MSIEVE_OP_DELETE,
    MSIEVE_OP_RENAME,
    MSIEVE_OP_SETACTIVE,
};

/* One store operation on the pool: the loop thread fills the inputs,
 * leaves the job alone while job_running, and reads the outputs after. */
struct msieve_job {
    enum msieve_op op;
    char *name, *name2; /* owned; name2: RENAMESCRIPT's new name */
    size_t name_len, name2_len;
    char *text;     /* PUTSCRIPT's script (owned) */
    char *warnings; /* PUTSCRIPT's compile warnings for its OK (owned; NULL: none) */
    size_t text_len;
    uint64_t size; /* HAVESPACE */
    enum sieve_store_result result;
    char *error;
    struct sieve_store_entry *entries; /* LISTSCRIPTS */
    size_t count;
    char *script; /* GETSCRIPT */
    size_t script_len;
};

struct msieve {
    struct line_session ls;   /* ls.tls, ls.errors; ls.job_running: a store job holds it */
    struct session_sasl auth; /* auth.reading_response: the next string is a SASL response */
    struct login_lookup lookup;
    struct service_session *ss;
    struct conn *conn;
    enum msieve_state state;
    struct imap_parser *parser;
    struct sasl_session *sasl;
    char *login;
    char *mailbox; /* the user's Maildir, the directory's path */
    struct msieve_job job;
};

/* ---- managesieve_session.c, for managesieve_scripts.c ---- */

struct threadpool *msieve_pool(void);
/* msieve_reply - queue a reply from the table (detail: other text, or
 * NULL); counts the client's errors. */
void msieve_reply(struct msieve *p, enum managesieve_reply id, const char *detail);
/* msieve_string_arg - argument i of cmd as a string (quoted or literal),
 * else NULL. */
const struct imap_arg *msieve_string_arg(const struct imap_command *cmd, size_t i);

/* ---- managesieve_scripts.c ---- */

void msieve_cmd_havespace(struct msieve *p, const struct imap_command *cmd);
void msieve_cmd_putscript(struct msieve *p, const struct imap_command *cmd);
void msieve_cmd_checkscript(struct msieve *p, const struct imap_command *cmd);
void msieve_cmd_listscripts(struct msieve *p, const struct imap_command *cmd);
void msieve_cmd_setactive(struct msieve *p, const struct imap_command *cmd);
void msieve_cmd_getscript(struct msieve *p, const struct imap_command *cmd);
void msieve_cmd_deletescript(struct msieve *p, const struct imap_command *cmd);
void msieve_cmd_renamescript(struct msieve *p, const struct imap_command *cmd);
/* msieve_job_clear - free what the job holds (not while job_running). */
void msieve_job_clear(struct msieve_job *job);

#endif
