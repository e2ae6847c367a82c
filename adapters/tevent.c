/* adapters/tevent.c: the loopconf backend contract translated to Samba's tevent
 * (tevent_loop_once, tevent_add_timer, tevent_add_fd). */
#define _GNU_SOURCE
#include <loopconf/adapter.h>
#include <loopconf/backend.h>
#include <loopconf/clock.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/time.h>
#include <talloc.h>
#include <tevent.h>
#include <unistd.h>

/* tevent_loop_wait runs while any fd event exists, even one whose flags are 0 (tevent.c
 * tevent_common_have_events), and there is no call that stops it. So the adapter counts the
 * active handles and keeps a stop flag (backend.h, "When the library lacks a concept"). */
struct lc_loop {
  struct tevent_context *ev;
  int live, active, stop;
  /* What tevent is asked to watch, mirrored for run(NOWAIT)'s poll(2) (tv_nowait). Entry i
   * belongs to the handle whose slot field slot_of[i] points at; removal moves the last entry
   * into the hole. */
  struct pollfd *pfd;
  size_t **slot_of;
  size_t npfd, cap;
};

#define NO_SLOT SIZE_MAX

/* tevent timers are one-shot and freed by tevent after their handler (tevent_timed.c
 * tevent_common_invoke_timer_handler). A repeating timer is re-added by the adapter at the
 * elapsed deadline plus the period. */
struct lc_timer {
  lc_loop *loop;
  struct tevent_timer *te; /* NULL when inactive */
  struct timeval deadline;
  int64_t repeat_ns;
  int in_cb, freed;
  lc_timer_cb cb;
  void *arg;
};

struct lc_io {
  lc_loop *loop;
  int fd;
  struct tevent_fd *fde; /* flags 0 while stopped */
  size_t slot;           /* in loop->pfd while started, else NO_SLOT */
  int started, in_cb, freed;
  lc_io_cb cb;
  void *arg;
};

/* No cross-thread wakeup in the adapter's reach without a threaded context and one
 * tevent_immediate per send: an eventfd watched by a tevent_fd instead. */
struct lc_wakeup {
  lc_loop *loop;
  int efd;
  struct tevent_fd *fde;
  size_t slot;
  int in_cb, freed;
  lc_wakeup_cb cb;
  void *arg;
};

/* ---- Version ------------------------------------------------------------------------------ */

static char version_buf[128];
static pthread_once_t version_once = PTHREAD_ONCE_INIT;

/* tevent has no version call: the loaded file's name (libtevent.so.0.14.1 on Debian 12). */
static void version_init(void) {
  lc_version_from_library((const void *)tevent_context_init, "tevent", version_buf,
                          sizeof version_buf);
}

static const char *tv_version(void) {
  pthread_once(&version_once, version_init);
  return version_buf;
}

/* ---- Loop --------------------------------------------------------------------------------- */

/* tevent_context_init: the default backend ("standard": epoll, falling back to poll). */
static int tv_loop_new(lc_loop **out) {
  lc_loop *loop = calloc(1, sizeof *loop);
  if (loop == NULL) return -ENOMEM;
  loop->ev = tevent_context_init(NULL);
  if (loop->ev == NULL) {
    free(loop);
    return -ENOMEM;
  }
  *out = loop;
  return 0;
}

static int tv_loop_free(lc_loop *loop) {
  if (loop->live > 0) return -EBUSY;
  talloc_free(loop->ev);
  free(loop->pfd);
  free(loop->slot_of);
  free(loop);
  return 0;
}

/* Watch fd for events (POLLIN/POLLOUT) in the mirror, or change what it watches. */
static int watch_set(lc_loop *loop, int fd, short events, size_t *slot) {
  if (*slot == NO_SLOT) {
    if (loop->npfd == loop->cap) {
      size_t cap = loop->cap ? 2 * loop->cap : 16;
      struct pollfd *pfd = realloc(loop->pfd, cap * sizeof *pfd);
      if (pfd == NULL) return -ENOMEM;
      loop->pfd = pfd;
      size_t **slot_of = realloc(loop->slot_of, cap * sizeof *slot_of);
      if (slot_of == NULL) return -ENOMEM;
      loop->slot_of = slot_of;
      loop->cap = cap;
    }
    *slot = loop->npfd++;
    loop->slot_of[*slot] = slot;
  }
  loop->pfd[*slot] = (struct pollfd){.fd = fd, .events = events};
  return 0;
}

static void watch_clear(lc_loop *loop, size_t *slot) {
  if (*slot == NO_SLOT) return;
  size_t last = --loop->npfd;
  if (*slot != last) {
    loop->pfd[*slot] = loop->pfd[last];
    loop->slot_of[*slot] = loop->slot_of[last];
    *loop->slot_of[*slot] = *slot;
  }
  *slot = NO_SLOT;
}

/* tevent keeps no loop time (every timer computation calls gettimeofday, tevent_timed.c): the
 * monotonic clock, read live. Nothing to refresh. */
static int64_t tv_now(lc_loop *loop) {
  (void)loop;
  return lc_clock_ns();
}

static void tv_update_time(lc_loop *loop) { (void)loop; }

static struct timeval tv_add_ns(struct timeval tv, int64_t ns) {
  int64_t us = lc_ns_to_us_ceil(ns);
  int64_t sec = tv.tv_sec + us / 1000000;
  int64_t usec = tv.tv_usec + us % 1000000;
  if (usec >= 1000000) {
    sec++;
    usec -= 1000000;
  }
  tv.tv_sec = (time_t)sec;
  tv.tv_usec = (suseconds_t)usec;
  return tv;
}

static void on_guard(struct tevent_context *ev, struct tevent_timer *te, struct timeval now,
                     void *private_data) {
  (void)ev;
  (void)te;
  (void)now;
  *(struct tevent_timer **)private_data = NULL; /* tevent frees it after this handler */
}

/* tevent has no non-blocking iteration. tevent_loop_once (tevent_epoll.c
 * epoll_event_loop_once) runs one immediate or the first due timer and returns without
 * polling (tevent_common_loop_timer_delay, tevent_timed.c); otherwise it waits in epoll_wait
 * for the time to the next timer rounded up to whole ms, so never less than 1 ms. A zero timer
 * alone makes it return at once, but never poll: a caller that iterates with NOWAIT while it
 * has work (the task runtime with a task that keeps yielding) would never see an fd again
 * (semantics.io.yield_no_starve). So NOWAIT first polls what tevent watches, with poll(2) and a
 * zero timeout. Something ready: tevent_loop_once serves it (or what is due) without waiting;
 * a guard timer 1 ms out bounds the wait should tevent and poll disagree. Nothing ready: a
 * timer due now makes tevent_loop_once return after the first due timer, without polling. */
static int tv_nowait(lc_loop *loop) {
  int n = poll(loop->pfd, (nfds_t)loop->npfd, 0);
  if (n < 0 && errno != EINTR) return -errno;
  struct timeval now = tevent_timeval_current();
  struct tevent_timer *guard = NULL;
  guard = tevent_add_timer(loop->ev, NULL, n > 0 ? tv_add_ns(now, LC_MS) : now, on_guard, &guard);
  if (guard == NULL) return -ENOMEM;
  int r = tevent_loop_once(loop->ev);
  int err = errno;
  TALLOC_FREE(guard);
  errno = err;
  return r;
}

/* ONCE is tevent_loop_once: one immediate, one due timer, or one epoll_wait for one event
 * (tevent_epoll.c, MAXEVENTS 1). NOWAIT is tv_nowait. DEFAULT repeats ONCE while anything is
 * active. */
static int tv_run(lc_loop *loop, int mode) {
  if (mode != LC_RUN_DEFAULT && mode != LC_RUN_ONCE && mode != LC_RUN_NOWAIT) return -EINVAL;
  int r = 0;
  if (mode == LC_RUN_DEFAULT) {
    while (r == 0 && !loop->stop && loop->active > 0) r = tevent_loop_once(loop->ev);
  } else if (loop->active > 0) {
    r = mode == LC_RUN_NOWAIT ? tv_nowait(loop) : tevent_loop_once(loop->ev);
  }
  loop->stop = 0;
  if (r != 0) return errno ? -errno : -EIO;
  return loop->active > 0;
}

static void tv_stop(lc_loop *loop) { loop->stop = 1; }

/* ---- Timers ------------------------------------------------------------------------------- */

static void on_timer(struct tevent_context *ev, struct tevent_timer *te, struct timeval now,
                     void *private_data);

static int timer_add(lc_timer *timer) {
  timer->te = tevent_add_timer(timer->loop->ev, NULL, timer->deadline, on_timer, timer);
  return timer->te == NULL ? -ENOMEM : 0;
}

static void on_timer(struct tevent_context *ev, struct tevent_timer *te, struct timeval now,
                     void *private_data) {
  (void)ev;
  (void)te;
  (void)now;
  lc_timer *timer = private_data;
  timer->te = NULL; /* tevent frees it when this handler returns */
  if (timer->repeat_ns > 0) {
    timer->deadline = tv_add_ns(timer->deadline, timer->repeat_ns);
    if (timer_add(timer) != 0) timer->loop->active--;
  } else {
    timer->loop->active--;
  }
  timer->in_cb = 1;
  timer->cb(timer, timer->arg);
  timer->in_cb = 0;
  if (timer->freed) free(timer);
}

static int tv_timer_new(lc_loop *loop, lc_timer_cb cb, void *arg, lc_timer **out) {
  lc_timer *timer = calloc(1, sizeof *timer);
  if (timer == NULL) return -ENOMEM;
  timer->loop = loop;
  timer->cb = cb;
  timer->arg = arg;
  loop->live++;
  *out = timer;
  return 0;
}

static int tv_timer_stop(lc_timer *timer) {
  if (timer->te != NULL) {
    TALLOC_FREE(timer->te);
    timer->loop->active--;
  }
  return 0;
}

/* The deadline is gettimeofday() now plus the delay in µs, rounded up (what
 * tevent_timeval_current_ofs computes): tevent timers run on the realtime clock. A restart
 * replaces the timer. */
static int tv_timer_start(lc_timer *timer, int64_t delay_ns, int64_t repeat_ns) {
  if (delay_ns < 0 || repeat_ns < 0) return -EINVAL;
  tv_timer_stop(timer);
  timer->deadline = tv_add_ns(tevent_timeval_current(), delay_ns);
  timer->repeat_ns = repeat_ns;
  int err = timer_add(timer);
  if (err == 0) timer->loop->active++;
  return err;
}

static void tv_timer_free(lc_timer *timer) {
  tv_timer_stop(timer);
  timer->loop->live--;
  if (timer->in_cb) timer->freed = 1;
  else free(timer);
}

/* ---- I/O ---------------------------------------------------------------------------------- */

/* The epoll backend turns EPOLLHUP/EPOLLERR into TEVENT_FD_READ for an fde that waits for
 * reading, and reports nothing to one that waits only for writing (it clears TEVENT_FD_WRITE,
 * tevent_epoll.c epoll_handle_hup_or_err): no error bit reaches the adapter. */
static void on_fd(struct tevent_context *ev, struct tevent_fd *fde, uint16_t flags,
                  void *private_data) {
  (void)ev;
  (void)fde;
  lc_io *io = private_data;
  unsigned revents = 0;
  if (flags & TEVENT_FD_READ) revents |= LC_READABLE;
  if (flags & TEVENT_FD_WRITE) revents |= LC_WRITABLE;
  io->in_cb = 1;
  io->cb(io, io->fd, revents, io->arg);
  io->in_cb = 0;
  if (io->freed) free(io);
}

/* tevent_add_fd with no flags: registered, not watched. */
static int tv_io_new(lc_loop *loop, int fd, lc_io_cb cb, void *arg, lc_io **out) {
  if (fd < 0) return -EBADF;
  lc_io *io = calloc(1, sizeof *io);
  if (io == NULL) return -ENOMEM;
  io->loop = loop;
  io->fd = fd;
  io->cb = cb;
  io->arg = arg;
  io->slot = NO_SLOT;
  io->fde = tevent_add_fd(loop->ev, NULL, fd, 0, on_fd, io);
  if (io->fde == NULL) {
    free(io);
    return -ENOMEM;
  }
  loop->live++;
  *out = io;
  return 0;
}

static int tv_io_start(lc_io *io, unsigned events) {
  if (!lc_io_events_valid(events)) return -EINVAL;
  uint16_t flags = 0;
  short pev = 0;
  if (events & LC_READABLE) {
    flags |= TEVENT_FD_READ;
    pev |= POLLIN;
  }
  if (events & LC_WRITABLE) {
    flags |= TEVENT_FD_WRITE;
    pev |= POLLOUT;
  }
  int err = watch_set(io->loop, io->fd, pev, &io->slot);
  if (err) return err;
  tevent_fd_set_flags(io->fde, flags);
  if (!io->started) {
    io->started = 1;
    io->loop->active++;
  }
  return 0;
}

static int tv_io_stop(lc_io *io) {
  if (io->started) {
    tevent_fd_set_flags(io->fde, 0);
    watch_clear(io->loop, &io->slot);
    io->started = 0;
    io->loop->active--;
  }
  return 0;
}

/* Freeing an fde from its own handler is safe: tevent defers it while the handler is busy
 * (tevent_fd.c). */
static void tv_io_free(lc_io *io) {
  tv_io_stop(io);
  TALLOC_FREE(io->fde);
  io->loop->live--;
  if (io->in_cb) io->freed = 1;
  else free(io);
}

/* ---- Wakeup ------------------------------------------------------------------------------- */

/* The counter is read before the callback, so a send during the callback brings another. */
static void on_wakeup(struct tevent_context *ev, struct tevent_fd *fde, uint16_t flags,
                      void *private_data) {
  (void)ev;
  (void)fde;
  (void)flags;
  lc_wakeup *w = private_data;
  lc_eventfd_drain(w->efd); /* first: loopconf/adapter.h says why */
  w->in_cb = 1;
  w->cb(w, w->arg);
  w->in_cb = 0;
  if (w->freed) free(w);
}

static int tv_wakeup_new(lc_loop *loop, lc_wakeup_cb cb, void *arg, lc_wakeup **out) {
  lc_wakeup *w = calloc(1, sizeof *w);
  if (w == NULL) return -ENOMEM;
  w->efd = lc_eventfd_open();
  if (w->efd < 0) {
    int err = w->efd;
    free(w);
    return err;
  }
  w->slot = NO_SLOT;
  w->fde = tevent_add_fd(loop->ev, NULL, w->efd, TEVENT_FD_READ, on_wakeup, w);
  if (w->fde == NULL || watch_set(loop, w->efd, POLLIN, &w->slot) != 0) {
    TALLOC_FREE(w->fde);
    close(w->efd);
    free(w);
    return -ENOMEM;
  }
  w->loop = loop;
  w->cb = cb;
  w->arg = arg;
  loop->live++;
  loop->active++;
  *out = w;
  return 0;
}

/* Thread-safe: one write(2) on the eventfd. */
static int tv_wakeup_send(lc_wakeup *w) { return lc_eventfd_signal(w->efd); }

static void tv_wakeup_free(lc_wakeup *w) {
  TALLOC_FREE(w->fde);
  watch_clear(w->loop, &w->slot);
  close(w->efd);
  w->loop->live--;
  w->loop->active--;
  if (w->in_cb) w->freed = 1;
  else free(w);
}

/* ---- Entry point -------------------------------------------------------------------------- */

static const struct lc_backend tv_backend = {
    .abi_version = LC_BACKEND_ABI_VERSION,
    .name = "tevent",
    .version = tv_version,
    .loop_new = tv_loop_new,
    .loop_free = tv_loop_free,
    .now = tv_now,
    .update_time = tv_update_time,
    .run = tv_run,
    .stop = tv_stop,
    .timer_new = tv_timer_new,
    .timer_start = tv_timer_start,
    .timer_stop = tv_timer_stop,
    .timer_free = tv_timer_free,
    .io_new = tv_io_new,
    .io_start = tv_io_start,
    .io_stop = tv_io_stop,
    .io_free = tv_io_free,
    .wakeup_new = tv_wakeup_new,
    .wakeup_send = tv_wakeup_send,
    .wakeup_free = tv_wakeup_free,
    .caps = LC_CAP_NOWAIT, /* by poll(2) first: tv_nowait */
};

LC_BACKEND_EXPORT const struct lc_backend *loopconf_backend(void) { return &tv_backend; }
