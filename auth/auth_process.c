/* auth/auth_process.c - see auth_process.h. */
#include "config.h"

#include "auth/auth_process.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/event.h"
#include "lib/log.h"

#define ACCEPT_BATCH 32

struct auth_server {
    struct event_loop *loop;
    int listen_fd;
    uid_t allowed_uid;
    struct event_io *io;
    struct event_signal *sigterm;
    unsigned long accepted;
};

/* client_accepted - log who connected. No request protocol yet: the socket
 * is closed right away, which a caller reads as "auth unavailable". */
static void client_accepted(struct auth_server *srv, int fd)
{
    struct ucred cred;
    socklen_t len = sizeof cred;
    srv->accepted++;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
        log_error("event=auth_connect error=\"SO_PEERCRED: %s\"", strerror(errno));
    } else if (cred.uid != 0 && cred.uid != srv->allowed_uid) {
        /* The socket's mode should have stopped this already. */
        log_warning("event=auth_refused peer_pid=%ld peer_uid=%lu reason=uid", (long)cred.pid,
                    (unsigned long)cred.uid);
    } else {
        log_info("event=auth_connect peer_pid=%ld peer_uid=%lu requests=not-implemented",
                 (long)cred.pid, (unsigned long)cred.uid);
    }
    close(fd);
}

static void accept_ready(void *ctx, unsigned events)
{
    struct auth_server *srv = ctx;
    for (unsigned n = 0; n < ACCEPT_BATCH; n++) {
        int fd = accept4(srv->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            /* EAGAIN: drained, or a process of the other generation took it. */
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
                log_error("event=auth_accept_failed error=\"%s\"", strerror(errno));
            return;
        }
        client_accepted(srv, fd);
    }
}

static void on_sigterm(void *ctx, int signo)
{
    struct auth_server *srv = ctx;
    log_info("event=auth_stopping connections=%lu", srv->accepted);
    event_loop_stop(srv->loop);
}

int auth_process_run(const struct config *conf, int listen_fd, uid_t allowed_uid)
{
    struct auth_server srv = {.listen_fd = listen_fd, .allowed_uid = allowed_uid};
    int status = 1;
    srv.loop = event_loop_new();
    if (srv.loop == NULL) {
        log_error("event=auth_failed error=\"event loop: %s\"", strerror(errno));
        return 1;
    }
    srv.sigterm = event_signal_add(srv.loop, SIGTERM, on_sigterm, &srv);
    srv.io = event_io_add(srv.loop, listen_fd, EVENT_READ, accept_ready, &srv);
    if (srv.sigterm == NULL || srv.io == NULL) {
        log_error("event=auth_failed error=\"%s\"", strerror(errno));
    } else {
        log_info("event=auth_started fd=%d", listen_fd);
        status = event_loop_run(srv.loop) == 0 ? 0 : 1;
    }
    event_io_remove(&srv.io);
    event_signal_remove(&srv.sigterm);
    event_loop_free(&srv.loop);
    return status;
}
