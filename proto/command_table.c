/* proto/command_table.c - see command_table.h. */
#include "config.h"

#include "proto/command_table.h"

enum command_match command_table_match(const void *rows, size_t count, size_t row_size, int verb,
                                       unsigned state, const void **row_r)
{
    const char *p = rows;

    *row_r = NULL;
    for (size_t i = 0; i < count; i++, p += row_size) {
        const struct command_row *row = (const struct command_row *)(const void *)p;
        if (row->verb != verb)
            continue;
        *row_r = row;
        return row->states & COMMAND_STATE(state) ? COMMAND_RUN : COMMAND_NOT_NOW;
    }
    return COMMAND_UNKNOWN;
}
