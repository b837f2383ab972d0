/* lib/event.h - the event loop each dirmail process runs: epoll for sockets,
 * one-shot timers, and signals delivered as ordinary events (signalfd), so no
 * work ever happens inside a signal handler. Single-threaded; not thread-safe. */
#ifndef DIRMAIL_EVENT_H
#define DIRMAIL_EVENT_H

#include <signal.h>
#include <stdint.h>

enum {
    EVENT_READ = 1u << 0,
    EVENT_WRITE = 1u << 1,
    EVENT_ERROR = 1u << 2, /* EPOLLERR / EPOLLHUP: reported with READ */
};

struct event_loop;
struct event_io;
struct event_timer;
struct event_signal;

typedef void event_io_cb(void *ctx, unsigned events);
typedef void event_timer_cb(void *ctx);
typedef void event_signal_cb(void *ctx, int signo);

/* event_loop_new - NULL on failure (errno set). */
struct event_loop *event_loop_new(void);
/* event_loop_free - the caller has removed every io, timer and signal first. */
void event_loop_free(struct event_loop **loop);

/* event_loop_run - dispatch until event_loop_stop; 0, or -1 on an epoll error. */
int event_loop_run(struct event_loop *loop);
void event_loop_stop(struct event_loop *loop);

/* event_now_ms - monotonic milliseconds, cached once per loop iteration. */
uint64_t event_now_ms(struct event_loop *loop);

/* event_io_add - watch fd for events (EVENT_READ|EVENT_WRITE); NULL on failure. */
struct event_io *event_io_add(struct event_loop *loop, int fd, unsigned events, event_io_cb *cb,
                              void *ctx);
int event_io_modify(struct event_io *io, unsigned events);
/* event_io_remove - stop watching (the fd is not closed) and NULL *io. Safe
 * from inside the callback. */
void event_io_remove(struct event_io **io);

/* event_timer_add - call cb once after msecs; NULL on failure. */
struct event_timer *event_timer_add(struct event_loop *loop, uint64_t msecs, event_timer_cb *cb,
                                    void *ctx);
/* event_timer_reset - fire msecs from now instead (also re-arms a fired timer). */
void event_timer_reset(struct event_timer *timer, uint64_t msecs);
void event_timer_remove(struct event_timer **timer);

/* event_signal_add - block signo for the process and deliver it through the
 * loop. NULL on failure.
 * The signal is blocked with sigprocmask, and a blocked mask is inherited
 * across fork and exec: a child that wants the signals delivered normally
 * (a child that execs, or that does not run this loop) must restore the mask
 * with event_signal_saved_mask before it execs or runs its own handlers. A
 * forked child that keeps running an event loop frees the parent's loop and
 * makes its own. */
struct event_signal *event_signal_add(struct event_loop *loop, int signo, event_signal_cb *cb,
                                      void *ctx);
/* event_signal_remove - stop delivering; the signal is unblocked again when
 * no other registration wants it and it was not blocked before the first
 * event_signal_add. */
void event_signal_remove(struct event_signal **sig);

/* event_signal_saved_mask - the process's signal mask as it was before
 * event_signal_add first blocked a signal (the current mask if it never did).
 * After fork: sigprocmask(SIG_SETMASK, &saved, NULL). */
void event_signal_saved_mask(sigset_t *mask_r);

#endif
