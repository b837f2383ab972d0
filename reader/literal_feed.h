/* reader/literal_feed.h - the connection side of the IMAP-grammar command
 * parser (reader/imap_parse.h) that the IMAP and ManageSieve sessions share:
 * the octets of the literal the parser waits for, read from a lib/conn
 * connection inside a transfer deadline. It never answers the client. */
#ifndef DIRMAIL_READER_LITERAL_FEED_H
#define DIRMAIL_READER_LITERAL_FEED_H

#include "lib/conn.h"

struct imap_parser;

/* literal_feed - feed parser what conn holds of the literal it waits for;
 * the transfer (conn_transfer_begin, begun when the literal was announced)
 * ends with its last octet. CONN_OK: something was fed, read on; CONN_AGAIN:
 * nothing yet, wait for input; anything else: the connection is gone. */
enum conn_result literal_feed(struct imap_parser *parser, struct conn *conn);

#endif
