/* delivery/sieve/sieve_message.h - the message as the interpreter sees it:
 * a copy in memory (from a buffer or a file descriptor, so a Maildir file or
 * a spool message alike), its header fields unfolded, the envelope, the
 * size; RFC 2047 decoding and the body's MIME parts are in sieve_mime.h. */
#ifndef DIRMAIL_SIEVE_MESSAGE_H
#define DIRMAIL_SIEVE_MESSAGE_H

#include <stddef.h>

struct sieve_header {
    char *name;  /* as written */
    char *value; /* unfolded (RFC 5322 2.2.3), blanks trimmed at both ends, not decoded */
};

struct sieve_message {
    char *data; /* the whole message, owned */
    size_t len;
    struct sieve_header *headers;
    size_t nheaders, cap;
    size_t body_offset; /* first octet after the empty line (len when none) */
    size_t size;        /* RFC 5228 5.9: octets with every line ending counted as CRLF */
    /* envelope, NULL when unknown; "" is the null reverse-path */
    char *env_from, *env_to, *env_auth;
};

/* Largest message sieve_message_read_fd takes. */
#define SIEVE_MESSAGE_MAX ((size_t)256 << 20)

/* sieve_message_parse - copy data and split its header; NULL with *error_r. */
struct sieve_message *sieve_message_parse(const char *data, size_t len, char **error_r);
/* sieve_message_read_fd - read fd to its end (at most max octets) and parse. */
struct sieve_message *sieve_message_read_fd(int fd, size_t max, char **error_r);
/* sieve_message_set_envelope - copy the envelope (each may be NULL); 0 or -1. */
int sieve_message_set_envelope(struct sieve_message *msg, const char *from, const char *to,
                               const char *auth);
void sieve_message_free(struct sieve_message **msg);

#endif
