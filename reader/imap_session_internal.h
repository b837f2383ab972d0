/* reader/imap_session_internal.h - what the files of the IMAP session share
 * and no one else sees: the session struct, the reply helpers, and the
 * command handlers each file provides (imap_session.c: the conversation
 * and the command table; imap_auth.c: login; imap_folder.c: folders, SELECT and the
 * client's view of the selected one with its untagged updates; imap_fetch.c:
 * FETCH, STORE, SEARCH and the message stream). */
#ifndef DIRMAIL_READER_IMAP_SESSION_INTERNAL_H
#define DIRMAIL_READER_IMAP_SESSION_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "delivery/mailbox.h"
#include "proto/line_session.h"
#include "proto/sasl_exchange.h"
#include "proto/service.h"
#include "proto/session_sasl.h"
#include "reader/imap_parse.h"
#include "reader/login_lookup.h"

struct proxy_login;
struct sasl_exchange;
struct sasl_session;

/* RFC 3501 section 3. */
enum imap_state {
    IMAP_NOT_AUTHENTICATED,
    IMAP_AUTHENTICATED,
    IMAP_SELECTED,
    IMAP_LOGOUT,
};

/* What the session is doing besides reading commands (waiting for an
 * answer and closing are the driver's, proto/line_session.h). */
enum imap_busy {
    IMAP_IDLE_INPUT, /* reading the next command or its literals */
    IMAP_SENDING,    /* streaming FETCH output */
};

/* A command line is at most this long; RFC 7162 3.2.1 asks for at least
 * 8192 octets, long UID sets need more. */
#define IMAP_LINE_MAX 65536

/* The client's view of the selected folder (RFC 3501 2.3.1): message
 * sequence number n is view[n - 1]. It changes only when the session tells
 * the client (EXISTS, EXPUNGE, FETCH FLAGS). */
struct imap_view_msg {
    uint32_t uid;
    unsigned flags; /* enum mailbox_flag, as last told */
};

struct imap_fetch_job;

struct imap {
    struct line_session ls;   /* the connection's plumbing (proto/line_session.h) */
    struct session_sasl auth; /* AUTHENTICATE, and LOGIN as PLAIN */
    struct service_session *ss;
    struct conn *conn;
    enum imap_state state;
    enum imap_busy busy;
    struct imap_parser *parser;
    char tag[IMAP_TAG_MAX + 1]; /* the command being answered */
    struct sasl_session *sasl;
    char *login;
    struct login_lookup lookup; /* the USER answer after the credentials */
    struct proxy_login *proxy;  /* logging in on the user's node (reader/proxy.h) */
    char *maildir;              /* the user's Maildir below delivery.mailbox_base */
    int root_fd;                /* the user's Maildir (INBOX), -1 while it does not exist */

    /* the selected folder */
    struct mailbox *mailbox;
    char *selected; /* its name as the client wrote it */
    bool read_only;
    struct imap_view_msg *view;
    size_t view_count, view_alloc;

    struct imap_fetch_job *fetch; /* a FETCH being streamed */
};

/* Replies. tagged - "<tag> <status> <text>". */
void imap_tagged(struct imap *p, const char *status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void imap_untagged(struct imap *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* imap_bad - a tagged BAD; counts the client's errors. */
void imap_bad(struct imap *p, const char *text);
/* imap_resume - a command that paused input (SENDING) is finished: read on. */
void imap_resume(struct imap *p);
/* imap_end - end the session once nothing of it is on the stack. */
void imap_end(struct imap *p);

/* imap_session.c: the session's plumbing, for the other files. */
/* imap_close_with - an untagged BYE with text (none when NULL), then close. */
void imap_close_with(struct imap *p, const char *bye);

/* imap_session_hand_over - p freed but its connection (still attached,
 * input paused) and service session left to the caller: the proxy's. */
struct service_session *imap_session_hand_over(struct imap *p);

/* proxy_session.c: imap_proxy_begin - the logged-in user's mailbox is on
 * host: continue there (input paused; the tagged answer follows). false
 * when this node does not proxy. */
bool imap_proxy_begin(struct imap *p, const char *host);

/* imap_auth.c */
struct threadpool;
struct conn_line;
struct threadpool *imap_auth_acquire(const struct service_session *ss);
void imap_auth_release(void);
/* imap_auth_cancel - an outstanding USER request is not to be answered. */
void imap_auth_cancel(struct imap *p);
/* The SASL exchange's part of the session (proto/session_sasl.h). */
extern const struct session_sasl_proto imap_sasl_proto;
void imap_capabilities(struct imap *p, char *buf, size_t size);
/* imap_sasl_renew - a SASL session for the connection as it is now. */
void imap_sasl_renew(struct imap *p);
void imap_cmd_starttls(struct imap *p, const struct imap_command *cmd);
void imap_cmd_authenticate(struct imap *p, const struct imap_command *cmd);
void imap_cmd_login(struct imap *p, const struct imap_command *cmd);

/* imap_folder.c */
void imap_cmd_select(struct imap *p, const struct imap_command *cmd);
void imap_cmd_create(struct imap *p, const struct imap_command *cmd);
void imap_cmd_delete(struct imap *p, const struct imap_command *cmd);
void imap_cmd_rename(struct imap *p, const struct imap_command *cmd);
void imap_cmd_close(struct imap *p, const struct imap_command *cmd);
void imap_cmd_unselect(struct imap *p, const struct imap_command *cmd);
void imap_cmd_expunge(struct imap *p, const struct imap_command *cmd);
void imap_cmd_uid_expunge(struct imap *p, const struct imap_command *cmd, size_t first);
/* imap_folder_deselect - leave the selected folder without expunging. */
void imap_folder_deselect(struct imap *p);
/* imap_folder_update - tell the client what changed in the selected folder
 * (RFC 3501 7.4.1): new messages (EXISTS), flag changes (FETCH) and, when
 * expunges are allowed after this command, EXPUNGE. */
void imap_folder_update(struct imap *p, bool expunges_allowed);
/* imap_folder_index - the mailbox index of the view's message seq (1-based),
 * or -1 when it is gone from the folder. */
long imap_folder_index(struct imap *p, size_t seq);
/* A folder name is at most this long (a Maildir++ directory name is the
 * name with a "." before it, within NAME_MAX). */
#define IMAP_FOLDER_NAME_MAX 200
/* imap_folder_dir - the Maildir++ directory of folder name (not INBOX)
 * into buf: "." then the name. false when the name cannot be one: empty
 * parts, a "/", a control octet, too long (names are kept as the client's
 * modified UTF-7). */
bool imap_folder_dir(const char *name, size_t len, char *buf, size_t size);
/* imap_folder_is_inbox - name is INBOX, in any case (RFC 3501 5.1). */
bool imap_folder_is_inbox(const char *name);
/* imap_mailbox_arg - argument i of cmd as a mailbox name (an astring
 * without NUL), else NULL. */
const struct imap_arg *imap_mailbox_arg(const struct imap_command *cmd, size_t i);
/* imap_folder_mailbox - the folder name as a struct mailbox: OK, MISSING
 * (no such folder) or TEMPFAIL (logged). */
enum mailbox_result imap_folder_mailbox(struct imap *p, const char *name, size_t len, bool move_new,
                                        struct mailbox **mb_r);
/* imap_flags_text - "\Seen \Deleted" for flags into buf. */
const char *imap_flags_text(unsigned flags, char *buf, size_t size);
/* imap_flag_parse - one flag atom into its bit; 0 when it is none we keep. */
unsigned imap_flag_parse(const struct imap_arg *a, bool *known_r);

/* imap_list.c */
void imap_cmd_list(struct imap *p, const struct imap_command *cmd);
void imap_cmd_lsub(struct imap *p, const struct imap_command *cmd);
void imap_cmd_subscribe(struct imap *p, const struct imap_command *cmd);
void imap_cmd_status(struct imap *p, const struct imap_command *cmd);

/* imap_copy.c */
void imap_cmd_append(struct imap *p, const struct imap_command *cmd);
void imap_cmd_copy(struct imap *p, const struct imap_command *cmd, size_t first, bool uid);

/* imap_fetch.c */
void imap_cmd_fetch(struct imap *p, const struct imap_command *cmd, size_t first, bool uid);
void imap_cmd_store(struct imap *p, const struct imap_command *cmd, size_t first, bool uid);
void imap_cmd_search(struct imap *p, const struct imap_command *cmd, size_t first, bool uid);
/* imap_fetch_more - stream on; true when the FETCH is complete. */
bool imap_fetch_more(struct imap *p);
void imap_fetch_free(struct imap_fetch_job **job);

#endif
