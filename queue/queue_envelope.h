/* queue/queue_envelope.h - a queued message's envelope (sender, recipients
 * with their DSN parameters and delivery state, the client's facts) and its
 * two text formats: the envelope file and the per-message status records.
 * Pure data and parsing: no I/O, so the parsers can be fuzzed on a buffer.
 *
 * Envelope file, one "key value" record per line, LF-terminated:
 *     DIRMAIL-QUEUE 1                    first line, the format version
 *     id 0005f1c2a3b4c0012340001
 *     arrival 1700000000                 seconds since the epoch
 *     size 5120                          message bytes as received (CRLF)
 *     sender user@example.org            "" (the line "sender ") is <>
 *     envid, ret, client-address, client-helo, auth-user, tls-version,
 *     tls-cipher                         optional, at most once each
 *     rcpt someone@example.net           one per recipient, in order
 *     rcpt-notify success,failure        optional, for the rcpt above it
 *     rcpt-orcpt rfc822;someone@x        optional, for the rcpt above it
 *     end 1                              last line: the recipient count
 * A value is one token: every byte outside "!".."~" and "%" itself is written
 * %XX (uppercase hex), so no value (an address, a HELO name) can contain a
 * space, CR or LF and so never start a record of its own; %00 is refused.
 * The parser refuses unknown keys, repeated keys, lines over
 * QUEUE_ENV_MAX_LINE, more than QUEUE_ENV_MAX_RECIPIENTS recipients, and
 * anything after "end".
 *
 * Status records (appended to the message's status file, see queue.h):
 *     <index> delivered <time>
 *     <index> deferred <next-retry-time> <reply>
 *     <index> failed <time> <reply>
 *     <index> warned <time>          a delay warning (RFC 3464 "delayed"
 *                                    DSN) was queued for it: never again
 *     - held <time>                  the whole message is on hold
 *                                    (dirmailctl queue hold): never attempted
 *     - released <time>              ... until a later release; the last of
 *                                    the two records wins
 * with <reply> escaped as above. A last line without LF is an append a crash
 * interrupted before its fsync (never acknowledged): ignored. Once a
 * recipient is delivered or failed, later records for it are ignored. */
#ifndef DIRMAIL_GATEWAY_QUEUE_ENVELOPE_H
#define DIRMAIL_GATEWAY_QUEUE_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* A queue id: 13 hex digits of microseconds since the epoch, 6 of the pid, 4
 * of a per-process counter (lowercase). Fixed width, so ids sort by time;
 * only [0-9a-f], so safe as a file name and in a 250 reply. */
#define QUEUE_ID_LEN 23
#define QUEUE_ID_SIZE (QUEUE_ID_LEN + 1)

#define QUEUE_ENV_MAX_LINE 4096
#define QUEUE_ENV_MAX_RECIPIENTS 100000

/* RFC 3461 4.1 NOTIFY: a bit set; 0 means the client gave no NOTIFY. */
enum queue_notify {
    QUEUE_NOTIFY_NEVER = 1,
    QUEUE_NOTIFY_SUCCESS = 2,
    QUEUE_NOTIFY_FAILURE = 4,
    QUEUE_NOTIFY_DELAY = 8,
};

/* RFC 3461 4.3 RET. */
enum queue_ret { QUEUE_RET_UNSET, QUEUE_RET_FULL, QUEUE_RET_HDRS };

enum queue_rcpt_state {
    QUEUE_RCPT_PENDING,   /* never tried */
    QUEUE_RCPT_DEFERRED,  /* tried, retry at next_retry */
    QUEUE_RCPT_DELIVERED, /* final */
    QUEUE_RCPT_FAILED,    /* final: bounce with reply */
};

struct queue_recipient {
    char *address;
    unsigned notify; /* enum queue_notify bits */
    char *orcpt;     /* RFC 3461 4.2 ORCPT as given ("rfc822;user@x"), or NULL */
    enum queue_rcpt_state state;
    time_t when;       /* DEFERRED: next retry; DELIVERED/FAILED: when it became final */
    char *reply;       /* DEFERRED/FAILED: the last reply, or NULL */
    bool delay_warned; /* a "warned" record: its delay warning is queued */
};

/* Every string is owned by the envelope (malloc'd) and freed by
 * queue_envelope_free; NULL means absent. */
struct queue_envelope {
    char id[QUEUE_ID_SIZE]; /* set by queue_msg_commit */
    time_t arrival;         /* 0: queue_msg_commit sets now */
    uint64_t size;          /* set by queue_msg_commit */
    char *sender;           /* "" is the null sender <> */
    char *envid;            /* RFC 3461 ENVID */
    enum queue_ret ret;
    char *client_address;
    char *client_helo;
    char *auth_user;
    char *tls_version;
    char *tls_cipher;
    struct queue_recipient *rcpts;
    size_t rcpt_count;
    size_t rcpt_alloc;
    bool held;         /* a "held" record not followed by "released" */
    time_t held_since; /* held: when */
};

/* queue_envelope_new - an empty envelope (sender ""), or NULL out of memory. */
struct queue_envelope *queue_envelope_new(void);

/* queue_envelope_free - free env and everything it owns; NULLs *env. */
void queue_envelope_free(struct queue_envelope **env);

/* queue_envelope_set - replace the string *field of an envelope with a copy
 * of value (NULL clears it). 0, or -1 out of memory (field unchanged). */
int queue_envelope_set(char **field, const char *value);

/* queue_envelope_add_recipient - append a PENDING recipient (copies address
 * and orcpt). 0, or -1 with *error_r (out of memory, too many recipients). */
int queue_envelope_add_recipient(struct queue_envelope *env, const char *address, unsigned notify,
                                 const char *orcpt, char **error_r);

/* queue_envelope_format - the envelope file text (without recipient states:
 * those live in the status records) as a malloc'd buffer *text_r of *len_r
 * bytes. 0, or -1 with *error_r (out of memory, no recipients). */
int queue_envelope_format(const struct queue_envelope *env, char **text_r, size_t *len_r,
                          char **error_r);

/* queue_envelope_parse - parse len bytes of envelope file text. On success 0
 * and a new envelope in *env_r (all recipients PENDING); on any violation -1
 * and *error_r ("line N: what"). */
int queue_envelope_parse(const char *text, size_t len, struct queue_envelope **env_r,
                         char **error_r);

/* queue_status_format - one status record line (with its LF) for recipient
 * index, as a malloc'd string. when is the next retry for DEFERRED, the time
 * of the result otherwise; reply may be NULL. NULL on out of memory or when
 * state is PENDING. */
char *queue_status_format(size_t index, enum queue_rcpt_state state, time_t when,
                          const char *reply);

/* queue_status_format_warned - the "warned" record line (with its LF) for
 * recipient index, malloc'd; NULL out of memory. */
char *queue_status_format_warned(size_t index, time_t when);

/* queue_status_format_hold - the message-level "held" (or, held false,
 * "released") record line with its LF, malloc'd; NULL out of memory. */
char *queue_status_format_hold(bool held, time_t when);

/* queue_status_apply - apply len bytes of status records to env's
 * recipients. 0, or -1 with *error_r when a complete line is malformed or
 * names a recipient env does not have. */
int queue_status_apply(struct queue_envelope *env, const char *text, size_t len, char **error_r);

/* queue_envelope_all_final - every recipient is DELIVERED or FAILED. */
bool queue_envelope_all_final(const struct queue_envelope *env);

/* queue_rcpt_state_name - "pending", "deferred", "delivered", "failed". */
const char *queue_rcpt_state_name(enum queue_rcpt_state state);

#endif
