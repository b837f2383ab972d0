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
#include <sys/types.h>
#include <time.h>

#include "delivery/mailbox.h"
#include "delivery/maildir_file.h"
#include "delivery/maildir_keywords.h"
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
    IMAP_IDLING,     /* in IDLE (RFC 2177): the next line is DONE */
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

/* imap_flags_text's buffer: the system flags and 26 keywords. */
#define IMAP_FLAGS_TEXT_MAX (64 + MAILBOX_KEYWORDS_MAX * (MAILDIR_KEYWORD_MAX + 1))

/* The messages a session claimed as \Recent (imap_recent.c): UID ranges
 * [lo, hi), in increasing order. */
#define IMAP_RECENT_RANGES 8
struct imap_recent {
    uint32_t lo[IMAP_RECENT_RANGES], hi[IMAP_RECENT_RANGES];
    size_t count;
};

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
    struct login_lookup lookup;     /* the USER answer after the credentials */
    struct proxy_login *proxy;      /* logging in on the user's node (reader/proxy.h) */
    char *maildir;                  /* the user's Maildir below delivery.mailbox_base */
    unsigned long long quota_bytes; /* the directory's quota, 0: none */
    int root_fd;                    /* the user's Maildir (INBOX), -1 while it does not exist */

    /* the selected folder */
    struct mailbox *mailbox;
    char *selected; /* its name as the client wrote it */
    bool read_only;
    struct imap_view_msg *view;
    size_t view_count, view_alloc;
    struct maildir_keywords *keywords; /* the selected folder's */
    struct imap_recent recent;

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
/* imap_folder_find_uid - the mailbox index of uid, or -1. */
long imap_folder_find_uid(const struct mailbox *mb, uint32_t uid);
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
/* imap_folder_root - p->root_fd, the user's Maildir: opened when another
 * session or a delivery made it since login, made when create. false when
 * there is none (or it cannot be opened, logged). */
bool imap_folder_root(struct imap *p, bool create);
/* imap_folder_refusal - the tagged NO for a folder that did not open
 * (MISSING: NONEXISTENT; else UNAVAILABLE, temporary). */
void imap_folder_refusal(struct imap *p, enum mailbox_result r);
/* imap_folder_open_dir - the folder's directory for name: 0 and *fd_r; 1
 * when it does not exist; -1 on an error (errno). */
int imap_folder_open_dir(struct imap *p, const char *name, size_t len, int *fd_r);
/* imap_folder_mailbox - the folder name as a struct mailbox: OK, MISSING
 * (no such folder) or TEMPFAIL (logged). */
enum mailbox_result imap_folder_mailbox(struct imap *p, const char *name, size_t len, bool move_new,
                                        struct mailbox **mb_r);
/* imap_flags_text - "\Seen \Deleted $Label1" for flags (keywords by the
 * selected folder's names), with \Recent when message uid is recent in
 * this session (uid 0: not asked), into buf (IMAP_FLAGS_TEXT_MAX). */
const char *imap_flags_text(const struct imap *p, unsigned flags, uint32_t uid, char *buf,
                            size_t size);
/* imap_flags_tell - RFC 3501 7.2.6 and 7.1: FLAGS and PERMANENTFLAGS, with
 * the selected folder's keywords; \\* while letters for new ones are left. */
void imap_flags_tell(struct imap *p);
/* imap_flags_have_keyword - flags hold the selected folder's keyword name. */
bool imap_flags_have_keyword(const struct imap *p, unsigned flags, const char *name, size_t len);
/* imap_flag_parse - one flag atom into its bit, a keyword of the selected
 * folder given its letter now when it has none; 0 when it is none we keep. */
unsigned imap_flag_parse(struct imap *p, const struct imap_arg *a, bool *known_r);

/* imap_list_ext.c: LIST with RFC 5258's selection and return options */
void imap_cmd_list(struct imap *p, const struct imap_command *cmd);

/* imap_special_use.c */
struct imap_special_use;
/* imap_special_use_load - the Maildir's special-use file; NULL on an error. */
struct imap_special_use *imap_special_use_load(struct imap *p);
void imap_special_use_free(struct imap_special_use **su);
/* imap_special_use_of - the attributes of folder name ("\Sent"), "" when
 * none, into buf. */
const char *imap_special_use_of(const struct imap_special_use *su, const char *name, char *buf,
                                size_t size);
/* imap_special_use_attribute - word as one of the attributes a folder can
 * be given, NULL when it is none (RFC 6154 2; \All and \Flagged are
 * virtual folders we do not have). */
const char *imap_special_use_attribute(const char *word, size_t len);
/* imap_special_use_set - folder name gets attrs (from
 * imap_special_use_attribute). 0 or -1 (errno). */
int imap_special_use_set(struct imap *p, const char *name, const char *const *attrs, size_t count);
/* imap_special_use_rename - the entries of folder from are to's (removed
 * when to is NULL). 0 or -1 (errno). */
int imap_special_use_rename(struct imap *p, const char *from, const char *to);

/* imap_esearch.c: the SEARCH answer, classic or RFC 4731's ESEARCH */
enum {
    IMAP_SEARCH_MIN = 1u << 0,
    IMAP_SEARCH_MAX = 1u << 1,
    IMAP_SEARCH_COUNT = 1u << 2,
    IMAP_SEARCH_ALL = 1u << 3,
    IMAP_SEARCH_EXTENDED = 1u << 4, /* RETURN was given: answer with ESEARCH */
};
struct imap_search_out {
    struct imap *p;
    unsigned ret;
    bool uid, failed;
    uint32_t min, max;
    size_t count;
    struct imap_seq_range *range; /* ALL's */
    size_t ranges, alloc;
};
/* imap_search_return - RFC 4731 2: "RETURN (options)" at *a, stepped over,
 * into *ret_r (0 without it). false: a BAD was sent. */
bool imap_search_return(struct imap *p, const struct imap_command *cmd, const struct imap_arg **a,
                        unsigned *ret_r);
void imap_search_out_begin(struct imap_search_out *o, struct imap *p, unsigned ret, bool uid);
/* imap_search_out_add - the next match (increasing). */
void imap_search_out_add(struct imap_search_out *o, uint32_t n);
/* imap_search_out_end - the line's end; false when ALL ran out of memory. */
bool imap_search_out_end(struct imap_search_out *o);

/* imap_quota.c */
void imap_cmd_getquota(struct imap *p, const struct imap_command *cmd);
void imap_cmd_getquotaroot(struct imap *p, const struct imap_command *cmd);
void imap_cmd_setquota(struct imap *p, const struct imap_command *cmd);

/* imap_recent.c */
/* imap_recent_claim - RFC 3501 2.3.2: the messages with UIDs in [from, to)
 * that no session claimed yet become recent in p (a read-write p claims
 * them for good; a read-only one only sees them). dir_fd: the folder. */
void imap_recent_claim(struct imap *p, int dir_fd, uint32_t from, uint32_t to);
bool imap_recent_has(const struct imap *p, uint32_t uid);
/* imap_recent_count - the view's messages recent in p. */
size_t imap_recent_count(const struct imap *p);
/* imap_recent_first_unclaimed - the folder's first UID no session claimed
 * (STATUS RECENT counts from there). */
uint32_t imap_recent_first_unclaimed(int dir_fd);

/* imap_idle.c */
void imap_cmd_idle(struct imap *p, const struct imap_command *cmd);
/* imap_idle_line - a client line while IMAP_IDLING. */
void imap_idle_line(struct imap *p, const struct conn_line *line);
/* imap_idle_stop - IDLE is over (DONE, deselect, the session's end). */
void imap_idle_stop(struct imap *p);

/* imap_list.c */
/* imap_list_matches - name against a LIST pattern (RFC 3501 6.3.8: "*"
 * anything, "%" anything but "."); INBOX in any case. */
bool imap_list_matches(const char *pattern, const char *name);
/* imap_quoted - name as an IMAP quoted string into buf (names hold no CR/LF). */
const char *imap_quoted(const char *name, char *buf, size_t size);
/* The subscriptions file in the Maildir root. */
#define SUBSCRIPTIONS "subscriptions"
/* imap_file_line - the next non-empty line of text from *pos into line
 * (longer ones are skipped); false at the end. */
bool imap_file_line(const char *text, size_t *pos, char *line, size_t size);
void imap_cmd_lsub(struct imap *p, const struct imap_command *cmd);
void imap_cmd_subscribe(struct imap *p, const struct imap_command *cmd);
void imap_cmd_status(struct imap *p, const struct imap_command *cmd);
/* imap_status_items_valid - items is a STATUS list of items we know. */
bool imap_status_items_valid(const struct imap_command *cmd, const struct imap_arg *items);
/* imap_status_write - the untagged STATUS of folder name (valid items);
 * OK, MISSING or TEMPFAIL (nothing written). */
enum mailbox_result imap_status_write(struct imap *p, const char *name,
                                      const struct imap_command *cmd, const struct imap_arg *items);

/* imap_copy.c */
void imap_cmd_append(struct imap *p, const struct imap_command *cmd);
/* imap_cmd_copy - COPY, or with move MOVE (RFC 6851), and their UID forms. */
void imap_cmd_copy(struct imap *p, const struct imap_command *cmd, size_t first, bool uid,
                   bool move);

/* imap_fetch.c */
void imap_cmd_fetch(struct imap *p, const struct imap_command *cmd, size_t first, bool uid);
void imap_cmd_store(struct imap *p, const struct imap_command *cmd, size_t first, bool uid);
void imap_cmd_search(struct imap *p, const struct imap_command *cmd, size_t first, bool uid);
/* imap_search_charset - "CHARSET name" at *a (SEARCH: optional; SORT and
 * THREAD: the name alone, required), stepped over; false when the reply is
 * sent (BAD, or NO [BADCHARSET] for one other than US-ASCII and UTF-8). */
bool imap_search_charset(struct imap *p, const struct imap_command *cmd, const struct imap_arg **a,
                         bool required);
/* imap_search_run - the sequence numbers (increasing; malloc'd, *seqs_r)
 * of the messages the search keys from a to the command's end match;
 * false when the reply is sent (BAD for bad keys, NO out of memory). */
bool imap_search_run(struct imap *p, const struct imap_command *cmd, const struct imap_arg *a,
                     uint32_t **seqs_r, size_t *count_r);
/* imap_cmd_sort, imap_cmd_thread - RFC 5256 (imap_sort.c, imap_thread.c). */
void imap_cmd_sort(struct imap *p, const struct imap_command *cmd, size_t first, bool uid);
void imap_cmd_thread(struct imap *p, const struct imap_command *cmd, size_t first, bool uid);
/* imap_fetch_more - stream on; true when the FETCH is complete. */
bool imap_fetch_more(struct imap *p);
void imap_fetch_free(struct imap_fetch_job **job);

#endif
