/* reader/imap_idle.c - IDLE (RFC 2177): a session that waits for DONE and is
 * told at once of what other sessions and deliveries change in its folder.
 *
 * The changes are found through inotify, never by polling: one inotify
 * instance per worker process (an instance per session would exhaust
 * fs.inotify.max_user_instances, 128 by default, long before thousands of
 * idle clients), with a watch on the selected folder's new/ and cur/. Two
 * sessions on one folder share its watch descriptors (the kernel returns
 * the same one for the same directory on one instance), so a watch is
 * removed only when its last session stops idling. new/ sees deliveries,
 * cur/ sees flag changes (a rename) and expunges (an unlink); the index
 * itself is not watched, since every change to it follows one of those and
 * every sync here would otherwise wake the others for nothing. An event
 * runs the session's ordinary sync (imap_folder_update), so what IDLE
 * reports is what NOOP would. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "lib/array.h"
#include "lib/conn.h"
#include "lib/event.h"
#include "lib/log.h"
#include "reader/imap_session_internal.h"

/* What a change to a Maildir folder does to new/ or cur/. */
#define WATCH_EVENTS                                                                               \
    (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF |         \
     IN_ONLYDIR | IN_DONT_FOLLOW)

/* One session's watch on one directory. */
struct idle_watch {
    int wd;
    struct imap *p;
    bool pending; /* an event came for it since the last update */
};

/* The worker's watches: its one thread owns them. */
static struct {
    int fd;
    struct event_io *io;
    struct idle_watch *w;
    size_t count, alloc;
} watches = {.fd = -1};

static bool wd_in_use(int wd)
{
    for (size_t i = 0; i < watches.count; i++)
        if (watches.w[i].wd == wd)
            return true;
    return false;
}

/* drop - p's entries, and the watches no one else shares. A watch whose
 * directory went away (IN_IGNORED) stays listed until its sessions stop:
 * removing it then fails harmlessly, and the kernel does not hand its
 * number out again soon (idr_alloc_cyclic). */
static void drop(struct imap *p)
{
    for (size_t i = 0; i < watches.count;) {
        struct idle_watch *w = &watches.w[i];
        if (w->p == p) {
            int gone = w->wd;
            *w = watches.w[--watches.count];
            if (!wd_in_use(gone))
                inotify_rm_watch(watches.fd, gone);
            continue;
        }
        i++;
    }
    if (watches.count == 0 && watches.fd >= 0) {
        /* nobody idles: give the instance back rather than hold it forever */
        event_io_remove(&watches.io);
        close(watches.fd);
        watches.fd = -1;
        free(watches.w);
        watches.w = NULL;
        watches.alloc = 0;
    }
}

/* tell - an idling session learns what changed, as NOOP would tell it. */
static void tell(struct imap *p)
{
    line_session_enter(&p->ls);
    /* inotify saw a change: list the folder even if the mtimes did not
     * move (a second change in the clock tick of the last one) */
    if (p->mailbox != NULL)
        mailbox_want_scan(p->mailbox);
    imap_folder_update(p, true);
    line_session_flush(&p->ls);
    line_session_leave(&p->ls);
}

static void inotify_readable(void *ctx, unsigned events)
{
    (void)ctx;
    (void)events;
    char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
    for (;;) {
        ssize_t n = read(watches.fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        for (char *at = buf; at < buf + n;) {
            const struct inotify_event *ev = (const struct inotify_event *)at;
            at += sizeof *ev + ev->len;
            if (ev->mask & IN_Q_OVERFLOW) {
                /* events were lost: everyone looks */
                for (size_t i = 0; i < watches.count; i++)
                    watches.w[i].pending = true;
                continue;
            }
            for (size_t i = 0; i < watches.count; i++)
                if (watches.w[i].wd == ev->wd)
                    watches.w[i].pending = true;
        }
    }
    /* Each pending session once. Telling one session can end it, and its
     * end removes its entries, so look for the next pending one afresh. */
    for (;;) {
        struct imap *p = NULL;
        for (size_t i = 0; i < watches.count && p == NULL; i++) {
            if (watches.w[i].pending)
                p = watches.w[i].p;
        }
        if (p == NULL)
            break;
        for (size_t i = 0; i < watches.count; i++)
            if (watches.w[i].p == p)
                watches.w[i].pending = false;
        tell(p);
    }
}

static bool watches_open(struct event_loop *loop)
{
    if (watches.fd >= 0)
        return true;
    watches.fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (watches.fd < 0)
        return false;
    watches.io = event_io_add(loop, watches.fd, EVENT_READ, inotify_readable, NULL);
    if (watches.io == NULL) {
        close(watches.fd);
        watches.fd = -1;
        return false;
    }
    return true;
}

/* watch - p's watch on subdir of the folder at dir_fd. */
static bool watch(struct imap *p, int dir_fd, const char *subdir)
{
    if (ARRAY_RESERVE(&watches.w, &watches.alloc, watches.count + 1, 16) < 0)
        return false;
    /* through /proc, since inotify takes a path and the folder is an fd
     * opened without following symlinks; IN_DONT_FOLLOW keeps subdir so */
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d/%s", dir_fd, subdir);
    int wd = inotify_add_watch(watches.fd, path, WATCH_EVENTS);
    if (wd < 0)
        return false;
    watches.w[watches.count++] = (struct idle_watch){wd, p, false};
    return true;
}

void imap_idle_stop(struct imap *p)
{
    if (p->busy == IMAP_IDLING)
        p->busy = IMAP_IDLE_INPUT;
    if (watches.fd >= 0)
        drop(p);
}

/* cmd_idle - RFC 2177 3: "+" and updates until DONE. In the authenticated
 * state there is no folder to watch, and the client waits for DONE alone. */
void imap_cmd_idle(struct imap *p, const struct imap_command *cmd)
{
    if (cmd->argc != 0) {
        imap_bad(p, "Usage: IDLE");
        return;
    }
    if (p->state == IMAP_SELECTED) {
        int fd = -1;
        errno = 0;
        bool ok = imap_folder_open_dir(p, p->selected, strlen(p->selected), &fd) == 0 &&
                  watches_open(p->ss->loop) && watch(p, fd, "new") && watch(p, fd, "cur");
        int saved = errno != 0 ? errno : ENOENT;
        if (fd >= 0)
            close(fd);
        if (!ok) {
            /* ENOSPC: fs.inotify.max_user_watches; EMFILE: max_user_instances */
            log_warning("event=imap_idle_watch_failed client=%s user=%s error=\"%s\"",
                        p->ss->client_ip, p->login, strerror(saved));
            if (watches.fd >= 0)
                drop(p);
            imap_tagged(p, "NO", "[LIMIT] Cannot watch the mailbox for changes now");
            return;
        }
    }
    p->busy = IMAP_IDLING;
    conn_printf(p->conn, "+ idling\r\n");
    /* what changed between the sync before IDLE and the watch starting */
    imap_folder_update(p, true);
}

/* imap_idle_line - a line from an idling client: DONE ends the IDLE
 * (RFC 2177 3, ASCII case-insensitive as every IMAP atom), anything else
 * ends it with BAD. */
void imap_idle_line(struct imap *p, const struct conn_line *line)
{
    imap_idle_stop(p);
    if (line->len == 4 && strncasecmp(line->data, "DONE", 4) == 0)
        imap_tagged(p, "OK", "IDLE terminated");
    else
        imap_bad(p, "Expected DONE");
}
