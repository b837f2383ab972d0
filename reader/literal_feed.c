/* reader/literal_feed.c - see literal_feed.h. */
#include "config.h"

#include "reader/literal_feed.h"

#include <stdint.h>

#include "reader/imap_parse.h"

enum conn_result literal_feed(struct imap_parser *parser, struct conn *conn)
{
    uint64_t left = imap_parser_literal_left(parser);
    const char *data;
    size_t len;
    enum conn_result r =
        conn_read_bytes(conn, left < SIZE_MAX ? (size_t)left : SIZE_MAX, &data, &len);
    if (r != CONN_OK)
        return r;
    imap_parser_feed_literal(parser, data, len);
    if (imap_parser_literal_left(parser) == 0)
        conn_transfer_end(conn);
    return CONN_OK;
}
