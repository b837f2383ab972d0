/* lib/header.h - building one header field of RFC 5322 (2.2, 3.2.2) from
 * words: each line is kept to 78 characters where a fold between words can
 * do it and never passes 998 (2.1.1), every line ends in CRLF, and no word
 * can end the field early. Memory comes from the inputs, never a fixed
 * buffer. It builds text only: it never parses a message. */
#ifndef DIRMAIL_HEADER_H
#define DIRMAIL_HEADER_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"

/* RFC 5322 2.1.1, counted without the CRLF: lines SHOULD stay within
 * HEADER_LINE_SOFT characters and MUST stay within HEADER_LINE_MAX. */
#define HEADER_LINE_SOFT 78
#define HEADER_LINE_MAX 998

/* One field being built. Only the functions below touch it. */
struct header_field {
    struct buf text;
    size_t line;    /* octets on the current line so far, CRLF not counted */
    bool has_word;  /* the current line holds a word after the name or TAB */
    bool fold_next; /* header_field_break: the next word opens a new line */
    bool failed;
};

/* header_field_begin - start the field "name:". name must be a field name
 * (RFC 5322 2.2: printable ASCII but ":"); anything else fails the field. */
void header_field_begin(struct header_field *f, const char *name);

/* header_field_word - append one word, preceded by folding white space: a
 * space, or CRLF TAB when the word would take the line past
 * HEADER_LINE_SOFT and would fit within it on a line of its own, or when
 * it would take the line past HEADER_LINE_MAX. The word itself is never
 * folded inside (it may hold spaces, e.g. a date-time or a comment; an
 * addr-spec or a msg-id must stay whole), so a long word may leave a line
 * over HEADER_LINE_SOFT. The first word after the name always stays on the
 * name's line (nothing is gained by folding there, and readers of
 * one-line fields such as Delivered-To expect it). A word holding a control
 * octet (CR, LF, TAB, NUL... or DEL) fails the field: it could end the field
 * and start a forged one. */
void header_field_word(struct header_field *f, const char *word);
void header_field_wordf(struct header_field *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* header_field_glue - append text right after the last word, without white
 * space (the ";" before a Received date); it is never folded. */
void header_field_glue(struct header_field *f, const char *text);

/* header_field_break - the next word opens a new line (a layout choice:
 * one clause of a Received field per line). */
void header_field_break(struct header_field *f);

/* header_field_end - the complete field with its final CRLF as a malloc'd,
 * NUL-terminated string the caller frees, its length in *len_r when len_r is
 * not NULL. NULL when a line would pass HEADER_LINE_MAX (a word too long for
 * any line), a word or the name was refused, or memory ran out. Either way
 * f's memory is released and f may be begun again. */
char *header_field_end(struct header_field *f, size_t *len_r);

#endif
