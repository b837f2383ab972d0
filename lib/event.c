/* lib/event.c - epoll event loop with one-shot timers (a binary heap keyed by
 * monotonic deadline) and signals through signalfd (see event.h).
 *
 * Removal is safe from any callback: an io or signal removed while the loop
 * dispatches is unlinked at once and freed after the dispatch round, so an
 * event already fetched for it is skipped. Due timers are moved to a list
 * before their callbacks run, so a callback may remove or reset any timer. */
#include "config.h"

#include "lib/event.h"
#include "lib/clock.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#define EVENT_MAX_EVENTS 64

struct event_io {
    struct event_loop *loop;
    int fd;
    unsigned events;
    event_io_cb *cb;
    void *ctx;
    bool removed;
    struct event_io *next_free; /* on loop->dead_ios once removed */
};

struct event_timer {
    struct event_loop *loop;
    uint64_t deadline;
    uint64_t seq;      /* ties broken by arming order: equal deadlines fire FIFO */
    size_t heap_index; /* SIZE_MAX when not in the heap */
    bool due;          /* on loop->due list, about to fire */
    struct event_timer *due_prev, *due_next;
    event_timer_cb *cb;
    void *ctx;
};

struct event_signal {
    struct event_loop *loop;
    int signo;
    event_signal_cb *cb;
    void *ctx;
    bool removed;
    struct event_signal *next;
    struct event_signal *next_free; /* on loop->dead_signals once removed */
};

struct event_loop {
    int epfd;
    bool stop;
    uint64_t now;
    uint64_t timer_seq;

    struct event_timer **heap;
    size_t heap_len, heap_cap;
    struct event_timer *due_head, *due_tail;

    int sigfd;
    sigset_t sigmask;
    struct event_io *sig_io;
    struct event_signal *signals;
    unsigned dispatching; /* depth: frees are deferred while > 0 */

    struct event_io *dead_ios;
    struct event_signal *dead_signals;
};

/* The mask before the first signal was blocked (process-wide, see event.h). */
static sigset_t saved_mask;
static bool saved_mask_valid;

struct event_loop *event_loop_new(void)
{
    struct event_loop *loop = calloc(1, sizeof *loop);
    if (loop == NULL)
        return NULL;
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (loop->epfd < 0) {
        int saved = errno;
        free(loop);
        errno = saved;
        return NULL;
    }
    loop->sigfd = -1;
    sigemptyset(&loop->sigmask);
    loop->now = clock_monotonic_ms();
    return loop;
}

static void free_dead(struct event_loop *loop)
{
    while (loop->dead_ios != NULL) {
        struct event_io *io = loop->dead_ios;
        loop->dead_ios = io->next_free;
        free(io);
    }
    while (loop->dead_signals != NULL) {
        struct event_signal *sig = loop->dead_signals;
        loop->dead_signals = sig->next_free;
        free(sig);
    }
}

void event_loop_free(struct event_loop **loopp)
{
    struct event_loop *loop = *loopp;
    if (loop == NULL)
        return;
    while (loop->signals != NULL) {
        struct event_signal *sig = loop->signals;
        event_signal_remove(&sig);
    }
    if (loop->sig_io != NULL)
        event_io_remove(&loop->sig_io);
    if (loop->sigfd >= 0)
        close(loop->sigfd);
    free_dead(loop);
    /* Timers the caller forgot are detached so that their pointers are not
     * left pointing into a freed loop's heap; they are the caller's leak. */
    free(loop->heap);
    close(loop->epfd);
    free(loop);
    *loopp = NULL;
}

uint64_t event_now_ms(struct event_loop *loop)
{
    return loop->now;
}

void event_loop_stop(struct event_loop *loop)
{
    loop->stop = true;
}

/* ---- io ---- */

static uint32_t epoll_mask(unsigned events)
{
    uint32_t mask = 0;
    if (events & EVENT_READ)
        mask |= EPOLLIN;
    if (events & EVENT_WRITE)
        mask |= EPOLLOUT;
    return mask;
}

struct event_io *event_io_add(struct event_loop *loop, int fd, unsigned events, event_io_cb *cb,
                              void *ctx)
{
    struct event_io *io = calloc(1, sizeof *io);
    if (io == NULL)
        return NULL;
    io->loop = loop;
    io->fd = fd;
    io->events = events;
    io->cb = cb;
    io->ctx = ctx;
    struct epoll_event ev = {.events = epoll_mask(events), .data.ptr = io};
    if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        int saved = errno;
        free(io);
        errno = saved;
        return NULL;
    }
    return io;
}

int event_io_modify(struct event_io *io, unsigned events)
{
    if (io->events == events)
        return 0;
    struct epoll_event ev = {.events = epoll_mask(events), .data.ptr = io};
    if (epoll_ctl(io->loop->epfd, EPOLL_CTL_MOD, io->fd, &ev) < 0)
        return -1;
    io->events = events;
    return 0;
}

void event_io_remove(struct event_io **iop)
{
    struct event_io *io = *iop;
    if (io == NULL)
        return;
    *iop = NULL;
    struct event_loop *loop = io->loop;
    /* ENOENT/EBADF when the caller closed the fd first: nothing left to undo. */
    (void)epoll_ctl(loop->epfd, EPOLL_CTL_DEL, io->fd, NULL);
    io->removed = true;
    if (loop->dispatching > 0) {
        io->next_free = loop->dead_ios;
        loop->dead_ios = io;
    } else {
        free(io);
    }
}

/* ---- timers: a binary min-heap on (deadline, seq) ---- */

static bool timer_before(const struct event_timer *a, const struct event_timer *b)
{
    return a->deadline < b->deadline || (a->deadline == b->deadline && a->seq < b->seq);
}

static void heap_set(struct event_loop *loop, size_t i, struct event_timer *t)
{
    loop->heap[i] = t;
    t->heap_index = i;
}

static void heap_up(struct event_loop *loop, size_t i)
{
    struct event_timer *t = loop->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!timer_before(t, loop->heap[parent]))
            break;
        heap_set(loop, i, loop->heap[parent]);
        i = parent;
    }
    heap_set(loop, i, t);
}

static void heap_down(struct event_loop *loop, size_t i)
{
    struct event_timer *t = loop->heap[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= loop->heap_len)
            break;
        if (child + 1 < loop->heap_len && timer_before(loop->heap[child + 1], loop->heap[child]))
            child++;
        if (!timer_before(loop->heap[child], t))
            break;
        heap_set(loop, i, loop->heap[child]);
        i = child;
    }
    heap_set(loop, i, t);
}

static int heap_push(struct event_loop *loop, struct event_timer *t)
{
    if (loop->heap_len == loop->heap_cap) {
        size_t cap = loop->heap_cap == 0 ? 16 : loop->heap_cap * 2;
        struct event_timer **heap = realloc(loop->heap, cap * sizeof *heap);
        if (heap == NULL)
            return -1;
        loop->heap = heap;
        loop->heap_cap = cap;
    }
    heap_set(loop, loop->heap_len++, t);
    heap_up(loop, t->heap_index);
    return 0;
}

static void heap_remove(struct event_loop *loop, struct event_timer *t)
{
    size_t i = t->heap_index;
    t->heap_index = SIZE_MAX;
    struct event_timer *last = loop->heap[--loop->heap_len];
    if (i == loop->heap_len)
        return;
    heap_set(loop, i, last);
    if (i > 0 && timer_before(last, loop->heap[(i - 1) / 2]))
        heap_up(loop, i);
    else
        heap_down(loop, i);
}

static void due_unlink(struct event_loop *loop, struct event_timer *t)
{
    if (t->due_prev != NULL)
        t->due_prev->due_next = t->due_next;
    else
        loop->due_head = t->due_next;
    if (t->due_next != NULL)
        t->due_next->due_prev = t->due_prev;
    else
        loop->due_tail = t->due_prev;
    t->due_prev = t->due_next = NULL;
    t->due = false;
}

/* timer_disarm - take t out of the heap or the due list, whichever holds it. */
static void timer_disarm(struct event_timer *t)
{
    if (t->heap_index != SIZE_MAX)
        heap_remove(t->loop, t);
    if (t->due)
        due_unlink(t->loop, t);
}

/* timer_arm - the deadline is taken from a fresh clock, not the cached
 * iteration time, so a timer armed after slow work does not fire early. */
static int timer_arm(struct event_timer *t, uint64_t msecs)
{
    uint64_t now = clock_monotonic_ms();
    t->deadline = msecs > UINT64_MAX - now ? UINT64_MAX : now + msecs;
    t->seq = t->loop->timer_seq++;
    return heap_push(t->loop, t);
}

struct event_timer *event_timer_add(struct event_loop *loop, uint64_t msecs, event_timer_cb *cb,
                                    void *ctx)
{
    struct event_timer *t = calloc(1, sizeof *t);
    if (t == NULL)
        return NULL;
    t->loop = loop;
    t->cb = cb;
    t->ctx = ctx;
    t->heap_index = SIZE_MAX;
    if (timer_arm(t, msecs) < 0) {
        free(t);
        errno = ENOMEM;
        return NULL;
    }
    return t;
}

void event_timer_reset(struct event_timer *t, uint64_t msecs)
{
    timer_disarm(t);
    /* The heap only grows on push; a timer that was in it freed a slot, and
     * one that fired may need one: on allocation failure the timer stays
     * disarmed, which the caller cannot observe otherwise, so abort. */
    if (timer_arm(t, msecs) < 0)
        abort();
}

void event_timer_remove(struct event_timer **tp)
{
    struct event_timer *t = *tp;
    if (t == NULL)
        return;
    *tp = NULL;
    timer_disarm(t);
    free(t);
}

/* next_timeout - milliseconds epoll_wait may sleep: -1 without timers. */
static int next_timeout(struct event_loop *loop)
{
    if (loop->heap_len == 0)
        return -1;
    uint64_t now = clock_monotonic_ms();
    uint64_t deadline = loop->heap[0]->deadline;
    if (deadline <= now)
        return 0;
    uint64_t wait = deadline - now;
    return wait > 0x7fffffff ? 0x7fffffff : (int)wait;
}

static void dispatch_timers(struct event_loop *loop)
{
    /* Collect first: a callback that re-arms its timer for 0 ms must not make
     * this round fire it again and again. */
    while (loop->heap_len > 0 && loop->heap[0]->deadline <= loop->now) {
        struct event_timer *t = loop->heap[0];
        heap_remove(loop, t);
        t->due = true;
        t->due_next = NULL;
        t->due_prev = loop->due_tail;
        if (loop->due_tail != NULL)
            loop->due_tail->due_next = t;
        else
            loop->due_head = t;
        loop->due_tail = t;
    }
    while (loop->due_head != NULL && !loop->stop) {
        struct event_timer *t = loop->due_head;
        due_unlink(loop, t);
        t->cb(t->ctx);
    }
    /* On stop, still-due timers go back to the heap for the next run. */
    while (loop->due_head != NULL) {
        struct event_timer *t = loop->due_head;
        due_unlink(loop, t);
        if (heap_push(loop, t) < 0)
            abort();
    }
}

/* ---- signals ---- */

static void signal_read(void *ctx, unsigned events)
{
    struct event_loop *loop = ctx;
    struct signalfd_siginfo info;
    for (;;) {
        ssize_t n = read(loop->sigfd, &info, sizeof info);
        if (n != (ssize_t)sizeof info)
            break; /* EAGAIN: drained */
        for (struct event_signal *sig = loop->signals; sig != NULL; sig = sig->next) {
            if (!sig->removed && sig->signo == (int)info.ssi_signo)
                sig->cb(sig->ctx, sig->signo);
        }
    }
}

static bool signal_wanted(struct event_loop *loop, int signo)
{
    for (struct event_signal *sig = loop->signals; sig != NULL; sig = sig->next) {
        if (!sig->removed && sig->signo == signo)
            return true;
    }
    return false;
}

struct event_signal *event_signal_add(struct event_loop *loop, int signo, event_signal_cb *cb,
                                      void *ctx)
{
    struct event_signal *sig = calloc(1, sizeof *sig);
    if (sig == NULL)
        return NULL;
    if (!saved_mask_valid) {
        if (sigprocmask(SIG_BLOCK, NULL, &saved_mask) < 0)
            goto fail;
        saved_mask_valid = true;
    }
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, signo);
    if (sigprocmask(SIG_BLOCK, &one, NULL) < 0)
        goto fail;
    sigaddset(&loop->sigmask, signo);
    int fd = signalfd(loop->sigfd, &loop->sigmask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0)
        goto fail;
    loop->sigfd = fd;
    if (loop->sig_io == NULL) {
        loop->sig_io = event_io_add(loop, fd, EVENT_READ, signal_read, loop);
        if (loop->sig_io == NULL)
            goto fail;
    }
    sig->loop = loop;
    sig->signo = signo;
    sig->cb = cb;
    sig->ctx = ctx;
    sig->next = loop->signals;
    loop->signals = sig;
    return sig;
fail:;
    int saved = errno;
    free(sig);
    errno = saved;
    return NULL;
}

void event_signal_remove(struct event_signal **sigp)
{
    struct event_signal *sig = *sigp;
    if (sig == NULL)
        return;
    *sigp = NULL;
    struct event_loop *loop = sig->loop;
    for (struct event_signal **p = &loop->signals; *p != NULL; p = &(*p)->next) {
        if (*p == sig) {
            *p = sig->next;
            break;
        }
    }
    sig->removed = true;
    if (!signal_wanted(loop, sig->signo)) {
        sigdelset(&loop->sigmask, sig->signo);
        if (loop->sigfd >= 0)
            (void)signalfd(loop->sigfd, &loop->sigmask, SFD_NONBLOCK | SFD_CLOEXEC);
        if (saved_mask_valid && !sigismember(&saved_mask, sig->signo)) {
            sigset_t one;
            sigemptyset(&one);
            sigaddset(&one, sig->signo);
            (void)sigprocmask(SIG_UNBLOCK, &one, NULL);
        }
    }
    if (loop->dispatching > 0) {
        /* signal_read may be walking the list through this entry's next. */
        sig->next_free = loop->dead_signals;
        loop->dead_signals = sig;
    } else {
        free(sig);
    }
}

void event_signal_saved_mask(sigset_t *mask_r)
{
    if (saved_mask_valid)
        *mask_r = saved_mask;
    else
        (void)sigprocmask(SIG_BLOCK, NULL, mask_r);
}

/* ---- the loop ---- */

int event_loop_run(struct event_loop *loop)
{
    struct epoll_event events[EVENT_MAX_EVENTS];
    loop->stop = false;
    while (!loop->stop) {
        int n = epoll_wait(loop->epfd, events, EVENT_MAX_EVENTS, next_timeout(loop));
        if (n < 0 && errno != EINTR)
            return -1;
        loop->now = clock_monotonic_ms();
        loop->dispatching++;
        for (int i = 0; i < n && !loop->stop; i++) {
            struct event_io *io = events[i].data.ptr;
            if (io->removed)
                continue;
            unsigned ev = 0;
            if (events[i].events & EPOLLIN)
                ev |= EVENT_READ;
            if (events[i].events & EPOLLOUT)
                ev |= EVENT_WRITE;
            if (events[i].events & (EPOLLERR | EPOLLHUP))
                ev |= EVENT_ERROR | EVENT_READ;
            io->cb(io->ctx, ev);
        }
        if (!loop->stop)
            dispatch_timers(loop);
        loop->dispatching--;
        if (loop->dispatching == 0)
            free_dead(loop);
    }
    return 0;
}
