/* lib/mime_fields.h - the structured header fields a reader sorts and
 * searches by: address lists (RFC 5322 3.4) and dates (3.3), read with
 * GMime 3's parsers, which are tolerant of the broken forms real mail has.
 * It interprets field values only; finding the field is lib/mime.h's. */
#ifndef DIRMAIL_LIB_MIME_FIELDS_H
#define DIRMAIL_LIB_MIME_FIELDS_H

#include <stdbool.h>
#include <stdint.h>

/* mime_address_text - an address list's unfolded value as one line of
 * UTF-8 the way a reader shows it: RFC 2047 words decoded, comments taken
 * out (a comment after a bare address is its name, "Name <a@b>"), groups as
 * "name: a@b, c@d;". malloc'd; NULL when the value holds no address (or
 * memory is short). */
char *mime_address_text(const char *value);

/* The first address of an address list; a group is its name as the
 * mailbox, with no name or domain (as RFC 3501 7.4.2 writes a group). */
struct mime_mailbox {
    char *name;   /* display name, decoded; "" when none */
    char *local;  /* the part before the last "@" (the whole address without one) */
    char *domain; /* after it; "" when none */
};

/* mime_first_mailbox - the first address of an address list's unfolded
 * value; false when there is none (or memory is short). The strings are
 * malloc'd: mime_mailbox_clear frees them. */
bool mime_first_mailbox(const char *value, struct mime_mailbox *mb);
void mime_mailbox_clear(struct mime_mailbox *mb);

/* mime_date_parse - an RFC 5322 date-time (obsolete forms and missing
 * parts as GMime accepts them): seconds since the epoch, and the offset of
 * the zone it is written in (seconds east of UTC). false when it is none. */
bool mime_date_parse(const char *value, int64_t *utc_r, int *offset_r);

#endif
