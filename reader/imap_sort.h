/* reader/imap_sort.h - what SORT and THREAD (RFC 5256) order messages by:
 * each message's keys read from its header (base subject, sent date,
 * first addresses, the thread fields), and the base subject extraction of
 * RFC 5256 2.1. It reads headers and never replies; the commands are
 * imap_sort.c's SORT and imap_thread.c's THREAD. */
#ifndef DIRMAIL_READER_IMAP_SORT_H
#define DIRMAIL_READER_IMAP_SORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct imap;

/* The keys of one message. Strings are malloc'd ("" when the field is
 * missing), compared as bytes: the subject and addresses are ASCII upper-
 * cased (i;ascii-casemap, RFC 5256 2.1), the display names Unicode-folded. */
struct imap_sort_msg {
    uint32_t seq, uid;
    int64_t sent;                    /* the Date: field, else the internal date (RFC 5256 2.2) */
    int64_t arrival;                 /* the internal date */
    uint64_t size;                   /* RFC822.SIZE */
    char *subject;                   /* the base subject */
    bool reply;                      /* the subject was a reply or forward (RFC 5256 2.1) */
    char *from, *to, *cc;            /* the first address's mailbox (local part) */
    char *display_from, *display_to; /* RFC 5957: its name, else its address */
    char *message_id, *references, *in_reply_to; /* unfolded, as written */
};

/* imap_sort_load - the keys of the view's message seq; false when it is
 * gone or cannot be read (it is then left out, as an expunged one). */
bool imap_sort_load(struct imap *p, uint32_t seq, struct imap_sort_msg *m);
void imap_sort_msg_clear(struct imap_sort_msg *m);

/* imap_sort_matches - the keys of the messages the search keys from keys
 * on match (SORT's and THREAD's), *count_r of them, in sequence order;
 * NULL when the reply is sent. imap_sort_matches_free frees them. */
struct imap_command;
struct imap_arg;
struct imap_sort_msg *imap_sort_matches(struct imap *p, const struct imap_command *cmd,
                                        const struct imap_arg *keys, size_t *count_r);
void imap_sort_matches_free(struct imap_sort_msg *msgs, size_t count);

#endif
