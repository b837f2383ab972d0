/* lib/address.h - RFC 5321 section 4.1.2 paths, mailboxes and domains (with
 * RFC 6531 UTF-8 when the caller says SMTPUTF8 was given): parses what a client
 * sends into a fixed-size struct and renders it back in canonical form. Pure
 * functions: no allocation, no global state, no policy (what an address may do
 * is the relay policy's question; this module only says what it is). */
#ifndef DIRMAIL_ADDRESS_H
#define DIRMAIL_ADDRESS_H

#include <stdbool.h>
#include <stddef.h>

/* RFC 5321 4.5.3.1.1-3, counted in octets on the wire: the local part as sent
 * (quotes and backslashes included), the domain as sent (brackets included),
 * and the whole path including its angle brackets and any source route. */
#define ADDRESS_LOCAL_MAX 64
#define ADDRESS_DOMAIN_MAX 255
#define ADDRESS_PATH_MAX 256
/* RFC 1035 2.3.4: one label of a domain name. */
#define ADDRESS_LABEL_MAX 63
/* The longest address_render() output: quoted local part, "@", domain, NUL. */
#define ADDRESS_RENDER_MAX (ADDRESS_LOCAL_MAX + 1 + ADDRESS_DOMAIN_MAX + 1)

enum address_result {
    ADDRESS_OK = 0,
    ADDRESS_SYNTAX,           /* not a path / mailbox / domain of RFC 5321 4.1.2 */
    ADDRESS_TOO_LONG,         /* a limit of RFC 5321 4.5.3.1 (or a 63-octet label) exceeded */
    ADDRESS_UTF8_NOT_ALLOWED, /* non-ASCII octets without ADDRESS_OPT_UTF8 (RFC 6531) */
};

/* Options (a bitmask) for the parse functions. */
enum {
    /* SMTPUTF8 was given (RFC 6531 3.3): UTF-8 allowed in local part and domain. */
    ADDRESS_OPT_UTF8 = 1u << 0,
    /* Accept the bare "<Postmaster>" (any case) of RFC 5321 4.1.1.3 (RCPT only). */
    ADDRESS_OPT_POSTMASTER = 1u << 1,
};

/* A parsed address. local and local_canon never contain NUL, CR, LF or other
 * control characters (the grammar excludes them); domain is lowercased ASCII
 * (non-ASCII UTF-8 labels are kept as sent), or for an address literal its
 * normalised form "[192.0.2.1]" / "[IPv6:2001:db8::1]" (inet_ntop's text). */
struct address {
    char local[ADDRESS_LOCAL_MAX + 1];       /* unquoted: "a\"b"@x gives a"b */
    char local_canon[ADDRESS_LOCAL_MAX + 1]; /* dot-string if it is one, else minimally quoted */
    char domain[ADDRESS_DOMAIN_MAX + 1];     /* empty for <>, and for <Postmaster> */
    size_t local_len;
    size_t domain_len;
    bool is_null;          /* "<>" */
    bool is_postmaster;    /* "<Postmaster>" without a domain (ADDRESS_OPT_POSTMASTER) */
    bool quoted;           /* the local part was sent as a Quoted-string */
    bool literal;          /* the domain is an address literal */
    int literal_family;    /* AF_INET or AF_INET6 when literal, else 0 */
    bool had_source_route; /* "<@a,@b:user@domain>": parsed, checked, ignored (RFC 5321 C) */
    bool utf8;             /* some octet is non-ASCII (only with ADDRESS_OPT_UTF8) */
};

/* address_parse_path - parse a Reverse-path or Forward-path ("<...>") at the
 * start of in[0..len). With used_r NULL the path must fill the input exactly;
 * otherwise *used_r is set to the octets the path took (up to and including
 * '>') and what follows is the caller's. addr is fully rewritten, also on
 * error (then it holds nothing useful). "<>" parses (is_null): whether a null
 * path is acceptable is the command's question. */
enum address_result address_parse_path(const char *in, size_t len, unsigned opts,
                                       struct address *addr, size_t *used_r);

/* address_parse_mailbox - parse a bare Mailbox "local@domain" filling the
 * whole input (no brackets, no source route), e.g. a decoded AUTH= parameter.
 * The limits are those of a path holding it. */
enum address_result address_parse_mailbox(const char *in, size_t len, unsigned opts,
                                          struct address *addr);

/* address_parse_domain - parse a Domain or an address literal filling the
 * whole input (an EHLO argument); sets domain, domain_len, literal,
 * literal_family and utf8, clears the rest. */
enum address_result address_parse_domain(const char *in, size_t len, unsigned opts,
                                         struct address *addr);

/* address_render - write the canonical mailbox local_canon@domain (no angle
 * brackets; "" for the null path; local_canon alone for <Postmaster>) with a
 * NUL into out[0..size). Returns its length, or -1 when it does not fit
 * (ADDRESS_RENDER_MAX always fits). */
int address_render(const struct address *addr, char *out, size_t size);

/* address_result_str - a short constant text for logs ("syntax", ...). */
const char *address_result_str(enum address_result result);

#endif
