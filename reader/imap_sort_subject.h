/* reader/imap_sort_subject.h - RFC 5256 2.1's base subject, by which SORT
 * SUBJECT orders and THREAD groups: the Re:, Fwd:, [blob] and (fwd) a
 * subject gathers in replies taken off. Text in, text out: no header
 * reading, no decoding (the caller decodes RFC 2047 first). */
#ifndef DIRMAIL_READER_IMAP_SORT_SUBJECT_H
#define DIRMAIL_READER_IMAP_SORT_SUBJECT_H

#include <stdbool.h>

/* imap_sort_base_subject - RFC 5256 2.1 of a subject already decoded to
 * UTF-8: the base subject, ASCII upper-cased, malloc'd (NULL out of
 * memory); *reply_r says whether a Re:, Fwd:, (fwd) or [fwd: ...] went. */
char *imap_sort_base_subject(const char *subject, bool *reply_r);

#endif
