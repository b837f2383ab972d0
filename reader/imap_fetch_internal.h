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
 * with CRLF line ends and in the file. */
struct imap_message_header {
    uint64_t crlf_len;
    uint64_t file_len;
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
