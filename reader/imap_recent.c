/* reader/imap_recent.c - \Recent (RFC 3501 2.3.2): a message is recent in
 * exactly one session, the first to select its folder read-write after it
 * arrived. The folder keeps the first UID no session has claimed yet in
 * "dirmail-recent" (one decimal line); a read-write session claims the
 * messages from there up under a flock of the folder directory and moves
 * the line past them, so no two sessions claim one message. EXAMINE and
 * STATUS see the unclaimed ones as recent and claim nothing (6.3.2). A
 * session keeps what it claimed as a few UID ranges (claims only grow
 * upwards); past IMAP_RECENT_RANGES the oldest range is forgotten, which
 * only makes those messages old for it sooner. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "lib/log.h"
#include "reader/imap_session_internal.h"

#define RECENT_FILE "dirmail-recent"

/* read_first - the first unclaimed UID; 1 when the file is missing. */
static uint32_t read_first(int dir_fd)
{
    char *text = maildir_file_read(dir_fd, RECENT_FILE);
    uint32_t first = 1;
    if (text != NULL) {
        char *end;
        unsigned long v = strtoul(text, &end, 10);
        if (end != text && v > 0 && v <= UINT32_MAX)
            first = (uint32_t)v;
    }
    free(text);
    return first;
}

uint32_t imap_recent_first_unclaimed(int dir_fd)
{
    return read_first(dir_fd);
}

static void remember(struct imap_recent *r, uint32_t lo, uint32_t hi)
{
    if (lo >= hi)
        return;
    if (r->count > 0 && r->hi[r->count - 1] == lo) {
        r->hi[r->count - 1] = hi;
        return;
    }
    if (r->count == IMAP_RECENT_RANGES) {
        memmove(r->lo, r->lo + 1, (IMAP_RECENT_RANGES - 1) * sizeof r->lo[0]);
        memmove(r->hi, r->hi + 1, (IMAP_RECENT_RANGES - 1) * sizeof r->hi[0]);
        r->count--;
    }
    r->lo[r->count] = lo;
    r->hi[r->count] = hi;
    r->count++;
}

void imap_recent_claim(struct imap *p, int dir_fd, uint32_t from, uint32_t to)
{
    if (from >= to || dir_fd < 0)
        return;
    if (p->read_only) {
        uint32_t first = read_first(dir_fd);
        remember(&p->recent, from > first ? from : first, to);
        return;
    }
    int lock = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (lock < 0 || flock(lock, LOCK_EX) < 0) {
        /* no claim: the messages are old for this session, never recent twice */
        log_warning("event=imap_recent_failed client=%s user=%s error=\"%s\"", p->ss->client_ip,
                    p->login, strerror(errno));
        if (lock >= 0)
            close(lock);
        return;
    }
    uint32_t first = read_first(dir_fd);
    if (to > first) {
        char line[16];
        int n = snprintf(line, sizeof line, "%u\n", (unsigned)to);
        if (maildir_file_replace(dir_fd, RECENT_FILE, line, (size_t)n) == 0)
            remember(&p->recent, from > first ? from : first, to);
        else
            log_warning("event=imap_recent_failed client=%s user=%s error=\"%s\"", p->ss->client_ip,
                        p->login, strerror(errno));
    }
    flock(lock, LOCK_UN);
    close(lock);
}

bool imap_recent_has(const struct imap *p, uint32_t uid)
{
    for (size_t i = 0; i < p->recent.count; i++)
        if (uid >= p->recent.lo[i] && uid < p->recent.hi[i])
            return true;
    return false;
}

size_t imap_recent_count(const struct imap *p)
{
    size_t n = 0;
    for (size_t i = 0; p->recent.count > 0 && i < p->view_count; i++)
        n += imap_recent_has(p, p->view[i].uid);
    return n;
}
