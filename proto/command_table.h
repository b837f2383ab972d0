/* proto/command_table.h - the command-table mechanism of every line
 * protocol's session (SMTP now; LMTP, POP3, IMAP and ManageSieve next): one
 * row per verb naming the session states it is allowed in, and the lookup
 * that says whether a parsed verb runs now, is refused for now (a bad
 * sequence), or is no command of the table. Each protocol owns its verbs,
 * states, handlers and refusal texts. */
#ifndef DIRMAIL_PROTO_COMMAND_TABLE_H
#define DIRMAIL_PROTO_COMMAND_TABLE_H

#include <stddef.h>

/* The part of a row the lookup reads. A protocol's own row type begins
 * with it and adds its typed handler, so that handlers need no casts. */
struct command_row {
    int verb;        /* the protocol's verb (its enum) */
    unsigned states; /* 1u << state for every state the verb is allowed in */
};

/* The bit of a state in command_row.states. */
#define COMMAND_STATE(st) (1u << (st))

enum command_match {
    COMMAND_RUN,     /* allowed in this state: call the row's handler */
    COMMAND_NOT_NOW, /* a command of the table, not in this state (SMTP: 503) */
    COMMAND_UNKNOWN, /* no row for the verb (SMTP: 500) */
};

/* command_table_match - the first of count rows (row_size octets apart,
 * each beginning with a struct command_row) for verb, judged for state.
 * *row_r is that row for RUN and NOT_NOW, NULL for UNKNOWN. */
enum command_match command_table_match(const void *rows, size_t count, size_t row_size, int verb,
                                       unsigned state, const void **row_r);

#endif
