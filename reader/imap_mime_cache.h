/* reader/imap_mime_cache.h - what FETCH needs of a message's MIME structure
 * (the part tree with its offsets, ENVELOPE, BODY, BODYSTRUCTURE), parsed
 * once with lib/mime and kept per message in the folder's
 * "dirmail-mimecache/" (doc/imap.md), so that a later FETCH of the same
 * message, in any session, reads no MIME. A cache file is bounded, checked
 * in full when read, and valid only for the file (size, inode) it was made
 * from; anything else is parsed again. */
#ifndef DIRMAIL_READER_IMAP_MIME_CACHE_H
#define DIRMAIL_READER_IMAP_MIME_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/mime.h"

/* The cache directory in a folder, and the most one entry may hold. */
#define IMAP_MIME_CACHE_DIR "dirmail-mimecache"
#define IMAP_MIME_CACHE_MAX (256u * 1024u)

/* A leaf's Content-Transfer-Encoding as BINARY (RFC 3516) needs it. */
enum imap_mime_encoding {
    IMAP_MIME_IDENTITY, /* 7bit, 8bit, binary, none */
    IMAP_MIME_BASE64,
    IMAP_MIME_QP,
    IMAP_MIME_UNKNOWN,
};

struct imap_mime_part {
    enum mime_kind kind;
    enum imap_mime_encoding encoding;
    int parent, first_child, next_sibling;
    struct mime_pos header, body, end;
};

struct imap_mime {
    struct imap_mime_part *parts; /* parts[0]: the message */
    size_t count;
    char *envelope, *body, *bodystructure; /* IMAP text, NUL-terminated */
    size_t envelope_len, body_len, bodystructure_len;
};

/* imap_mime_get - the structure of message file fd (named base in the
 * folder folder_fd; folder_fd -1: no cache), from the cache or parsed and
 * then cached. 0, or -1 when the file cannot be read or memory is short. */
int imap_mime_get(int folder_fd, const char *base, int fd, struct imap_mime **mime_r);
void imap_mime_free(struct imap_mime **mimep);

/* imap_mime_from_parse - the cache form of a parsed message (for tests and
 * the fuzzer as well). NULL when out of memory. */
struct imap_mime *imap_mime_from_parse(const struct mime_message *msg);
/* imap_mime_encode / imap_mime_decode - the cache file's text; decode
 * checks everything (offsets within size, a tree) and returns NULL for
 * anything else. encode's result is malloc'd, NULL when over the bound. */
char *imap_mime_encode(const struct imap_mime *mime, uint64_t size, uint64_t ino, size_t *len_r);
struct imap_mime *imap_mime_decode(const char *data, size_t len, uint64_t size, uint64_t ino);

/* imap_mime_section - the part a section's part number names ("1.2.3",
 * RFC 3501 6.4.5): the index into parts, or -1 when there is none. */
int imap_mime_section(const struct imap_mime *mime, const unsigned *path, size_t depth);

#endif
