/* adapters/libevent.c: the loopconf backend contract translated to libevent 2.1 (struct event). */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <loopconf/adapter.h>
#include <loopconf/backend.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/event_struct.h> /* struct event is embedded, initialised with event_assign */

/* One event_base plus the number of user handles not yet freed (for loop_free's -EBUSY). */
struct lc_loop {
  struct event_base *base;
  int live;
  /* now(): the libevent time last converted, its conversion, and the last value returned. */
  int64_t seen_us;
  int64_t seen_ns;
  int64_t last_ns;
  int have_now;
};

/* Every handle owns one struct event, assigned from *_new on so event_del is always valid. */
struct lc_timer {
  struct event ev;
  lc_loop *loop;
  lc_timer_cb cb;
  void *arg;
  struct timeval period; /* repeat interval, for the switch below */
  int to_periodic;       /* first expiry pending with a delay different from the period */
};

struct lc_io {
  struct event ev;
  lc_loop *loop;
  lc_io_cb cb;
  void *arg;
};

struct lc_wakeup {
  struct event ev;
  lc_loop *loop;
  int efd; /* eventfd written by wakeup_send, watched by ev */
  lc_wakeup_cb cb;
  void *arg;
};

/* libevent reports failure as -1 and sets errno only when a system call failed. */
static int fail_errno(void) { return errno != 0 ? -errno : -EIO; }

static struct timeval ns_to_timeval_ceil(int64_t ns) {
  int64_t us = lc_ns_to_us_ceil(ns);
  struct timeval tv = {.tv_sec = (time_t)(us / 1000000), .tv_usec = (suseconds_t)(us % 1000000)};
  return tv;
}

/* ---- Version ------------------------------------------------------------------------------ */

static char version_buf[64];
static pthread_once_t version_once = PTHREAD_ONCE_INIT;

static void version_init(void) {
  snprintf(version_buf, sizeof version_buf, "libevent %s", event_get_version());
}

/* "libevent X.Y.Z-stable" from the running library. */
static const char *leb_version(void) {
  pthread_once(&version_once, version_init);
  return version_buf;
}

/* ---- Loop --------------------------------------------------------------------------------- */

/* event_base_new(): libevent's defaults, including its coarse monotonic clock (evutil_time.c
 * evutil_configure_monotonic_time_ picks CLOCK_MONOTONIC_COARSE without
 * EVENT_BASE_FLAG_PRECISE_TIMER). */
static int leb_loop_new(lc_loop **out) {
  lc_loop *loop = calloc(1, sizeof *loop);
  if (loop == NULL) return -ENOMEM;
  loop->base = event_base_new();
  if (loop->base == NULL) {
    free(loop);
    return -ENOMEM;
  }
  *out = loop;
  return 0;
}

static int leb_loop_free(lc_loop *loop) {
  if (loop->live > 0) return -EBUSY;
  event_base_free(loop->base);
  free(loop);
  return 0;
}

/* event_base_gettimeofday_cached gives realtime-based time: inside the loop the cached
 * monotonic time plus tv_clock_diff (re-synchronised with gettimeofday every 5 s, event.c
 * gettime), outside it a live gettimeofday. libevent 2.1 has no public accessor for the base's
 * monotonic time. Each new libevent value is converted once with the realtime-to-monotonic
 * offset of that moment and returned until libevent's time changes, and the result is never
 * below the previous one: inside the loop the value is the 4 ms-coarse clock shifted by the
 * coarse clock's lag at the last re-synchronisation, outside it a precise clock, so moving
 * between the two could otherwise step back by up to a coarse tick. (Converting on every call,
 * as this adapter once did, stepped back by up to ~8 ms.) */
static int64_t leb_now(lc_loop *loop) {
  struct timeval tv;
  event_base_gettimeofday_cached(loop->base, &tv);
  int64_t us = (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
  if (!loop->have_now || us != loop->seen_us) {
    loop->seen_us = us;
    loop->seen_ns = us * 1000 + lc_realtime_to_monotonic_ns();
  }
  int64_t v = loop->seen_ns;
  if (loop->have_now && v < loop->last_ns) v = loop->last_ns;
  loop->last_ns = v;
  loop->have_now = 1;
  return v;
}

/* A no-op outside the loop, where libevent keeps no cached time (event.h). */
static void leb_update_time(lc_loop *loop) { event_base_update_cache_time(loop->base); }

/* NOWAIT is EVLOOP_NONBLOCK|EVLOOP_ONCE: EVLOOP_NONBLOCK alone keeps iterating as long as the
 * last pass ran callbacks (event.c event_base_loop sets `done` only when nothing was active),
 * so a level-triggered fd that stays ready would never let it return, although event.h says
 * "then exit". The pair is how libevent users ask for one pass without blocking.
 * event_base_loop returns 1 when nothing was pending; otherwise "handles remain" is libevent's
 * own criterion for going on (event.c event_base_loop: added, virtual or active events). */
static int leb_run(lc_loop *loop, int mode) {
  int flags;
  switch (mode) {
  case LC_RUN_DEFAULT: flags = 0; break;
  case LC_RUN_ONCE: flags = EVLOOP_ONCE; break;
  case LC_RUN_NOWAIT: flags = EVLOOP_NONBLOCK | EVLOOP_ONCE; break;
  default: return -EINVAL;
  }
  errno = 0;
  int r = event_base_loop(loop->base, flags);
  if (r < 0) return fail_errno();
  if (r == 1) return 0;
  unsigned what = EVENT_BASE_COUNT_ADDED | EVENT_BASE_COUNT_ACTIVE | EVENT_BASE_COUNT_VIRTUAL;
  return event_base_get_num_events(loop->base, what) > 0 ? 1 : 0;
}

/* event_base_loopexit(NULL): "exit after running all currently active callbacks", and unlike
 * event_base_loopbreak it is not forgotten by a later event_base_loop (which clears
 * event_break, event.c). It allocates a one-shot event; should that fail, loopbreak is the
 * only way left to stop. */
static void leb_stop(lc_loop *loop) {
  if (event_base_loopexit(loop->base, NULL) != 0) event_base_loopbreak(loop->base);
}

/* ---- Timers ------------------------------------------------------------------------------- */

/* A repeating timer whose first delay differs from its period starts as a one-shot; at the
 * first expiry it becomes EV_PERSIST with the period, and libevent repeats it from then on.
 * This switch exists because event_add's one timeval is both the first delay and the period of
 * a persistent event (event.c event_add_nolock_ sets ev_io_timeout from it). An event_add
 * failure here (heap growth) cannot be reported; the timer then simply stops repeating. */
static void on_timer(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  lc_timer *timer = arg;
  if (timer->to_periodic) {
    timer->to_periodic = 0;
    event_assign(&timer->ev, timer->loop->base, -1, EV_PERSIST, on_timer, timer);
    event_add(&timer->ev, &timer->period);
  }
  timer->cb(timer, timer->arg);
}

static int leb_timer_new(lc_loop *loop, lc_timer_cb cb, void *arg, lc_timer **out) {
  lc_timer *timer = calloc(1, sizeof *timer);
  if (timer == NULL) return -ENOMEM;
  if (event_assign(&timer->ev, loop->base, -1, 0, on_timer, timer) != 0) {
    free(timer);
    return -EINVAL;
  }
  timer->loop = loop;
  timer->cb = cb;
  timer->arg = arg;
  loop->live++;
  *out = timer;
  return 0;
}

/* Delay and period in microseconds, rounded up, counted from libevent's cached time (not
 * refreshed here). event_del first: it is a no-op on an idle timer and cancels an expiry
 * already due, as event_add on a pending timer does too; the flags can change only while the
 * event is not pending (event_assign). */
static int leb_timer_start(lc_timer *timer, int64_t delay_ns, int64_t repeat_ns) {
  if (delay_ns < 0 || repeat_ns < 0) return -EINVAL;
  struct timeval delay = ns_to_timeval_ceil(delay_ns);
  short flags = 0;
  event_del(&timer->ev);
  timer->period = ns_to_timeval_ceil(repeat_ns);
  timer->to_periodic = 0;
  if (repeat_ns > 0) {
    if (delay.tv_sec == timer->period.tv_sec && delay.tv_usec == timer->period.tv_usec)
      flags = EV_PERSIST;
    else timer->to_periodic = 1;
  }
  event_assign(&timer->ev, timer->loop->base, -1, flags, on_timer, timer);
  errno = 0;
  if (event_add(&timer->ev, &delay) != 0) return fail_errno();
  return 0;
}

/* event_del also removes an event already made active, so no callback follows. */
static int leb_timer_stop(lc_timer *timer) {
  errno = 0;
  if (event_del(&timer->ev) != 0) return fail_errno();
  return 0;
}

/* libevent keeps no pointer to a deleted event, so freeing from its own callback is safe. */
static void leb_timer_free(lc_timer *timer) {
  event_del(&timer->ev);
  timer->loop->live--;
  free(timer);
}

/* ---- I/O ---------------------------------------------------------------------------------- */

/* EV_CLOSED is the peer hang-up (EPOLLRDHUP). libevent's epoll backend reports EPOLLERR and a
 * bare EPOLLHUP as EV_READ|EV_WRITE (epoll.c epoll_dispatch): no error bit exists for them. */
static void on_io(evutil_socket_t fd, short what, void *arg) {
  lc_io *io = arg;
  unsigned revents = 0;
  if (what & EV_READ) revents |= LC_READABLE;
  if (what & EV_WRITE) revents |= LC_WRITABLE;
  if (what & EV_CLOSED) revents |= LC_IO_ERROR;
  io->cb(io, (int)fd, revents, io->arg);
}

/* libevent treats fd -1 as "no fd" (a pure timeout or user event), so a negative fd is refused
 * here with -EBADF rather than turned into a watcher that can never fire. */
static int leb_io_new(lc_loop *loop, int fd, lc_io_cb cb, void *arg, lc_io **out) {
  if (fd < 0) return -EBADF;
  lc_io *io = calloc(1, sizeof *io);
  if (io == NULL) return -ENOMEM;
  if (event_assign(&io->ev, loop->base, fd, EV_READ | EV_PERSIST, on_io, io) != 0) {
    free(io);
    return -EINVAL;
  }
  io->loop = loop;
  io->cb = cb;
  io->arg = arg;
  loop->live++;
  *out = io;
  return 0;
}

/* A persistent, level-triggered event; the interest changes only while the event is deleted.
 * Hang-ups (EV_CLOSED) are asked for together with readability, the side they concern. */
static int leb_io_start(lc_io *io, unsigned events) {
  if (!lc_io_events_valid(events)) return -EINVAL;
  short what = EV_PERSIST;
  if (events & LC_READABLE) what |= EV_READ | EV_CLOSED;
  if (events & LC_WRITABLE) what |= EV_WRITE;
  event_del(&io->ev);
  event_assign(&io->ev, io->loop->base, event_get_fd(&io->ev), what, on_io, io);
  errno = 0;
  if (event_add(&io->ev, NULL) != 0) return fail_errno();
  return 0;
}

static int leb_io_stop(lc_io *io) {
  errno = 0;
  if (event_del(&io->ev) != 0) return fail_errno();
  return 0;
}

static void leb_io_free(lc_io *io) {
  event_del(&io->ev);
  io->loop->live--;
  free(io);
}

/* ---- Wakeup ------------------------------------------------------------------------------- */

/* Drained first (loopconf/adapter.h says why). */
static void on_wakeup(evutil_socket_t fd, short what, void *arg) {
  (void)what;
  lc_wakeup *wakeup = arg;
  lc_eventfd_drain((int)fd);
  wakeup->cb(wakeup, wakeup->arg);
}

/* An eventfd watched by a persistent EV_READ event, which is how libevent itself wakes a base
 * from another thread (event.c evthread_make_base_notifiable). Not event_active() from the
 * other thread: an event that is only ever activated is never "added", so event_base_loop
 * would return for lack of events (event.c event_haveevents) while the contract says a wakeup
 * keeps the loop alive; and evthread_use_pthreads() would turn on locking in every base of
 * the process, changing what the benchmarks measure. */
static int leb_wakeup_new(lc_loop *loop, lc_wakeup_cb cb, void *arg, lc_wakeup **out) {
  lc_wakeup *wakeup = calloc(1, sizeof *wakeup);
  if (wakeup == NULL) return -ENOMEM;
  wakeup->efd = lc_eventfd_open();
  if (wakeup->efd < 0) {
    int err = wakeup->efd;
    free(wakeup);
    return err;
  }
  event_assign(&wakeup->ev, loop->base, wakeup->efd, EV_READ | EV_PERSIST, on_wakeup, wakeup);
  errno = 0;
  if (event_add(&wakeup->ev, NULL) != 0) {
    int err = fail_errno();
    close(wakeup->efd);
    free(wakeup);
    return err;
  }
  wakeup->loop = loop;
  wakeup->cb = cb;
  wakeup->arg = arg;
  loop->live++;
  *out = wakeup;
  return 0;
}

/* Thread-safe: one write(2). */
static int leb_wakeup_send(lc_wakeup *wakeup) { return lc_eventfd_signal(wakeup->efd); }

static void leb_wakeup_free(lc_wakeup *wakeup) {
  event_del(&wakeup->ev);
  close(wakeup->efd);
  wakeup->loop->live--;
  free(wakeup);
}

/* ---- Entry point -------------------------------------------------------------------------- */

static const struct lc_backend leb_backend = {
    .abi_version = LC_BACKEND_ABI_VERSION,
    .name = "libevent",
    .version = leb_version,
    .loop_new = leb_loop_new,
    .loop_free = leb_loop_free,
    .now = leb_now,
    .update_time = leb_update_time,
    .run = leb_run,
    .stop = leb_stop,
    .timer_new = leb_timer_new,
    .timer_start = leb_timer_start,
    .timer_stop = leb_timer_stop,
    .timer_free = leb_timer_free,
    .io_new = leb_io_new,
    .io_start = leb_io_start,
    .io_stop = leb_io_stop,
    .io_free = leb_io_free,
    .wakeup_new = leb_wakeup_new,
    .wakeup_send = leb_wakeup_send,
    .wakeup_free = leb_wakeup_free,
    .caps = LC_CAP_NOWAIT,
};

/* The module's only export: the libevent backend table. */
LC_BACKEND_EXPORT const struct lc_backend *loopconf_backend(void) { return &leb_backend; }
