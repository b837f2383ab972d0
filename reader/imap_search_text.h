/* reader/imap_search_text.h - SEARCH's header and body substring keys over
 * one message decoded the way a reader sees it (RFC 2047 words, transfer
 * encodings, charsets to UTF-8, Unicode case folding). The caller keeps one
 * context per message and resets it for the next. */
#ifndef DIRMAIL_READER_IMAP_SEARCH_TEXT_H
#define DIRMAIL_READER_IMAP_SEARCH_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* One message's text as made so far; zeroed is empty. */
struct imap_search_text {
    char *header; /* raw, bounded by IMAP_HEADER_READ_MAX */
    size_t header_len;
    char *header_text; /* every field decoded and folded */
    size_t header_text_len;
    char *body; /* the text parts decoded and folded */
    size_t body_len;
};

void imap_search_text_reset(struct imap_search_text *t);

/* imap_search_needle - a search string folded as the text is (malloc'd). */
char *imap_search_needle(const char *s, size_t len, size_t *len_r);

/* How a field's value is matched. */
enum imap_search_field {
    IMAP_SEARCH_TEXT,      /* its text, RFC 2047 words decoded */
    IMAP_SEARCH_ADDRESSES, /* its address list as mime_address_text writes it
                            * (comments out), as Dovecot matches FROM/TO/CC/BCC;
                            * a value without an address as text */
};

/* imap_search_header - a field called name of message fd holds the folded
 * needle once decoded (an empty needle: the field is there). */
bool imap_search_header(struct imap_search_text *t, int fd, const char *name,
                        enum imap_search_field how, const char *needle, size_t nlen);

/* imap_search_field - the first field called name of message fd, unfolded
 * and undecoded, malloc'd; NULL when there is none. */
char *imap_search_field(struct imap_search_text *t, int fd, const char *name);
/* imap_search_body - the text parts (BODY), with the header too (TEXT),
 * hold the folded needle. */
bool imap_search_body(struct imap_search_text *t, int fd, bool with_header, const char *needle,
                      size_t nlen);

#endif
