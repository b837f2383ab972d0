/* lib/conn_internal.h - what the connection's files share: its state
 * (conn.c: buffers, reading, writing, TLS; conn_deadline.c: deadlines). */
#ifndef DIRMAIL_LIB_CONN_INTERNAL_H
#define DIRMAIL_LIB_CONN_INTERNAL_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "lib/buf.h"
#include "lib/conn.h"
#include "lib/event.h"

struct conn {
    int fd;
    size_t line_limit;
    struct buf in, out;
    bool discarding; /* inside a too-long line: drop bytes up to the next LF */
    size_t scanned;  /* bytes of in already searched for LF */
    bool eof;
    bool failed;

    char peer_ip[INET6_ADDRSTRLEN];
    char local_ip[INET6_ADDRSTRLEN];
    unsigned peer_port, local_port;

    struct event_loop *loop;
    struct event_io *io;
    conn_handler *handler;
    void *ctx;
    /* One timer for the running deadline: the line deadline between
     * commands, the transfer deadline inside a transfer (conn.h). */
    struct event_timer *deadline_timer, *session_timer;
    event_timer_cb *deadline_cb;         /* what deadline_timer calls */
    struct conn_deadlines own;           /* what conn_set_timeouts sets */
    const struct conn_deadlines *limits; /* &own, or the caller's (conn_set_deadlines) */
    uint64_t session_ms;
    uint64_t deadline_start; /* loop ms: when the running deadline started */
    bool in_transfer;
    uint64_t transfer_end; /* loop ms: the transfer deadline, as extended */
    uint64_t window_start; /* loop ms: the rate window now being counted */
    uint64_t window_bytes; /* bytes read in that window */
    bool input_paused;
    bool want_write;   /* a flush stopped on EAGAIN / WANT_WRITE */
    bool *destroyed_r; /* set by conn_free while a callback runs */

    SSL *ssl;
    bool read_wants_write; /* SSL_read returned WANT_WRITE */
    bool write_wants_read; /* SSL_write returned WANT_READ */
    size_t retry_len;      /* length of a stalled SSL_write, repeated as is */

    char error[256];
};

/* conn_set_error - the text conn_error reports. */
void conn_set_error(struct conn *conn, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* conn_deadline_start - start the running deadline (line or transfer)
 * afresh from now; nothing before conn_attach. */
void conn_deadline_start(struct conn *conn);

/* conn_deadlines_apply - (re)arm the running deadline and the session
 * timer after attach or a change of settings; -1 when a timer cannot be
 * added (conn failed). */
int conn_deadlines_apply(struct conn *conn);

#endif
