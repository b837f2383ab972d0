/* reader/imap_fetch_internal.h - what FETCH and SEARCH share inside the IMAP
 * session: a message file as the client sees it (imap_message.c: CRLF line
 * ends, the header's extent, its fields, a stream of any range of it) and
 * the messages a sequence set names. */
#ifndef DIRMAIL_READER_IMAP_FETCH_INTERNAL_H
#define DIRMAIL_READER_IMAP_FETCH_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "reader/imap_parse.h"

struct imap;

/* A header of more octets than this is read only this far for
 * HEADER.FIELDS and header SEARCH keys. */
#define IMAP_HEADER_READ_MAX (1024u * 1024u)

/* The header section with its blank line (RFC 3501 6.4.5 HEADER): its size
 * with CRLF line ends and in the file, which it begins at file_start (0
 * for the message's own; a part's MIME header or an attached message's
 * header elsewhere). */
struct imap_message_header {
    uint64_t crlf_len;
    uint64_t file_len;
    uint64_t file_start;
};

/* imap_header_scan - read fd from its start to the blank line (the whole
 * file when there is none). 0 or -1 (errno). */
int imap_header_scan(int fd, struct imap_message_header *h);

/* imap_header_fields - the header's fields named in fields (ASCII
 * case-insensitive), or all but those with exclude, with CRLF and the blank
 * line (RFC 3501 6.4.5 HEADER.FIELDS), malloc'd into *out_r and *len_r. */
int imap_header_fields(int fd, const struct imap_message_header *h, const char *const *fields,
                       size_t count, bool exclude, char **out_r, size_t *len_r);

/* A range [from, to) of a message as the client sees it, read from the file
 * beginning at file offset file_off, which is position base with CRLF. */
struct imap_crlf_stream {
    int fd;
    uint64_t file_off;
    uint64_t pos, from, to;
    bool prev_cr;
};

int imap_crlf_stream_begin(struct imap_crlf_stream *s, int fd, uint64_t file_off, uint64_t base,
                           uint64_t from, uint64_t to);
/* imap_crlf_stream_read - up to 2 * in_max octets into out; 0 at the end of
 * the range, -1 when the file ends before it or cannot be read. */
ssize_t imap_crlf_stream_read(struct imap_crlf_stream *s, char *out, size_t in_max);

/* FETCH body items (RFC 3501 6.4.5, RFC 3516): field names in one
 * HEADER.FIELDS, levels of a part number. */
#define IMAP_FIELDS_MAX 64
#define IMAP_PART_DEPTH_MAX 32

enum imap_section {
    IMAP_SEC_ALL,    /* BODY[] or BODY[1.2]: the message or the part's body */
    IMAP_SEC_HEADER, /* of the message or of a message/rfc822 part */
    IMAP_SEC_TEXT,
    IMAP_SEC_FIELDS,
    IMAP_SEC_FIELDS_NOT,
    IMAP_SEC_MIME, /* a part's MIME header (part numbers only) */
};

struct imap_fetch_body {
    enum imap_section section;
    unsigned part[IMAP_PART_DEPTH_MAX]; /* the part number, depth levels */
    size_t depth;
    bool peek;
    bool binary;      /* BINARY[...]: content transfer encoding removed */
    bool binary_size; /* BINARY.SIZE[...]: its size only */
    char label[160];  /* how the response names it: BODY[1.TEXT]<0>, RFC822 */
    bool partial;
    uint64_t offset, count;
    char *fields[IMAP_FIELDS_MAX]; /* HEADER.FIELDS names, malloc'd */
    size_t nfields;
};

/* imap_fetch_body_parse - BODY[section]<partial>, BODY.PEEK[...],
 * BINARY[...], BINARY.PEEK[...] and BINARY.SIZE[...] into body. false on
 * bad syntax (body's fields are freed by imap_fetch_body_clear either way). */
bool imap_fetch_body_parse(const char *item, struct imap_fetch_body *body);
void imap_fetch_body_clear(struct imap_fetch_body *body);

struct imap_mime;

/* What a body item names in the message file. */
struct imap_fetch_range {
    bool nil;    /* no such part, or no such section of it */
    bool fields; /* HEADER.FIELDS(.NOT) of the header h */
    struct imap_message_header h;
    int part; /* index into the MIME parts; -1: the message itself */
    /* the section: CRLF positions [from, to) of a stream that begins at
     * file offset file_from, CRLF position base */
    uint64_t file_from, base, from, to;
};

/* imap_fetch_range - the range body names in message fd of size (CRLF)
 * octets; mime is needed for part numbers and may be NULL otherwise;
 * *hdr is the message's header, scanned here once (*hdr_known). false
 * when the file cannot be read. */
bool imap_fetch_range(const struct imap_fetch_body *body, const struct imap_mime *mime, int fd,
                      uint64_t size, struct imap_message_header *hdr, bool *hdr_known,
                      struct imap_fetch_range *r);

/* imap_messages - the view's sequence numbers set names (UIDs with uid),
 * malloc'd. -1 when out of memory. */
int imap_messages(struct imap *p, const struct imap_seqset *set, bool uid, size_t **seqs_r,
                  size_t *count_r);
/* imap_seqset_valid - every sequence number in set (not "*") names a
 * message the client knows; always true for UIDs. */
bool imap_seqset_valid(const struct imap *p, const struct imap_seqset *set, bool uid);
/* imap_seqset_arg - argument i of cmd as a sequence set. */
bool imap_seqset_arg(const struct imap_command *cmd, size_t i, struct imap_seqset *set);

#endif
