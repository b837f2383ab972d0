/* proto/content_policy.h - the one check of message content that DATA and
 * BDAT share: NUL octets (refused, stripped or accepted), bare CR and bare LF,
 * and the size and field count of the header section. A filter over the
 * message octets in order, however they were cut into lines or chunks; it
 * buffers nothing, owns no file and never chooses a reply (smtp_reply does).
 *
 * Bare CR and bare LF are always refused, for BDAT as for DATA: RFC 5321
 * 2.3.8 allows CR and LF only together as CRLF, and a message taken by BDAT
 * (RFC 3030 2 leaves line endings to the client) may be sent on by DATA,
 * where a bare "\n.\n" would end the next hop's DATA early (SMTP smuggling).
 * Refusing, not normalising, is the DATA reader's rule too (smtp_data.h).
 * BODY=BINARYMIME (RFC 3030 3) would need this check off; dirmail does not
 * offer it. */
#ifndef DIRMAIL_CONTENT_POLICY_H
#define DIRMAIL_CONTENT_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What to do with a NUL octet (limits.message_nul). RFC 2045 2.7 and 2.8
 * exclude NUL from 7bit and 8bit data alike (the only bodies we offer: 8BITMIME,
 * RFC 6152), RFC 5322 4.1 keeps it only as obsolete syntax, and many programs
 * down the line read a NUL as the end of a string. */
enum content_nul {
    CONTENT_NUL_REJECT, /* 550 5.6.0, nothing queued (the default) */
    CONTENT_NUL_STRIP,  /* queued without its NUL octets */
    CONTENT_NUL_ACCEPT, /* queued as it came */
};

/* content_nul_name - "reject", "strip", "accept" (the configuration's words). */
const char *content_nul_name(enum content_nul nul);

struct content_limits {
    enum content_nul nul;
    uint64_t header_max_size;  /* octets of the header section, its ending empty line included */
    unsigned header_max_count; /* header fields (a folded field counts once) */
};

/* The defaults of conf (limits.*) and of a reader nobody configured. */
#define CONTENT_HEADER_MAX_SIZE_DEFAULT 102400
#define CONTENT_HEADER_MAX_COUNT_DEFAULT 1000

struct config_limits;

/* content_limits_from_config - out from limits.message_nul, header_max_size
 * and header_max_count. */
void content_limits_from_config(struct content_limits *out, const struct config_limits *lim);

enum content_verdict {
    CONTENT_OK,
    CONTENT_NUL,              /* a NUL octet under CONTENT_NUL_REJECT: 550 5.6.0 */
    CONTENT_BARE_EOL,         /* a CR not before LF, or an LF not after CR: 550 5.6.0 */
    CONTENT_HEADER_TOO_BIG,   /* header section over header_max_size: 552 5.3.4 */
    CONTENT_TOO_MANY_HEADERS, /* more than header_max_count fields: 550 5.6.0 */
    CONTENT_WRITE_FAILED,     /* the writer failed: 451 4.3.0 */
};

/* content_write_fn - append len octets to the message; 0, or -1. */
typedef int content_write_fn(void *ctx, const void *data, size_t len);

/* Where a header line is (RFC 5322 2.2, 3.6.8 field names, 4.5 obsolete
 * white space before the colon). */
enum content_header_state {
    CONTENT_H_LINE_START, /* at the start of a line of the header section */
    CONTENT_H_NAME,       /* in a field name */
    CONTENT_H_NAME_WSP,   /* white space after the name, before its colon */
    CONTENT_H_VALUE,      /* in a field body or a folded continuation line */
    CONTENT_H_BODY,       /* the header section is over */
};

struct content_policy {
    struct content_limits limits;
    enum content_verdict verdict; /* the first refusal, kept */
    bool cr;                      /* the last octet taken was a CR: an LF must follow */
    enum content_header_state header;
    uint64_t header_size;
    unsigned header_count;
};

/* content_policy_init - a check for one message; limits NULL gives the defaults. */
void content_policy_init(struct content_policy *p, const struct content_limits *limits);

/* content_policy_feed - take data[0..len), the next octets of the message
 * (any cut: a CR may end one call and its LF start the next), and write what
 * the policy keeps through write(ctx, ...): all of it, or without its NULs
 * under CONTENT_NUL_STRIP. After a refusal nothing more is written. Returns
 * the verdict so far. */
enum content_verdict content_policy_feed(struct content_policy *p, const char *data, size_t len,
                                         content_write_fn *write, void *ctx);

/* content_policy_end - the message is complete: a CR left at its very end is
 * bare. Returns the final verdict. */
enum content_verdict content_policy_end(struct content_policy *p);

/* content_verdict_name - "ok", "nul", "bare-eol", ... for logs. */
const char *content_verdict_name(enum content_verdict v);

#endif
