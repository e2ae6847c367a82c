/* adapters/libev.c: the loopconf backend contract translated to libev (ev_timer, ev_io, ev_async). */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <loopconf/adapter.h>
#include <loopconf/backend.h>

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <ev.h>

/* One libev loop plus the number of user handles not yet freed (for loop_free's -EBUSY). */
struct lc_loop {
  struct ev_loop *ev;
  int live;
  /* now(): the ev_now() value last converted, its conversion, and the last value returned. */
  double seen_rt;
  int64_t seen_ns;
  int64_t last_ns;
  int have_now;
};

/* Each handle embeds its watcher first, so the watcher pointer libev passes back converts
 * to the handle with a cast. */
struct lc_timer {
  ev_timer w;
  lc_loop *loop;
  lc_timer_cb cb;
  void *arg;
};

struct lc_io {
  ev_io w;
  lc_loop *loop;
  lc_io_cb cb;
  void *arg;
};

struct lc_wakeup {
  ev_async w;
  lc_loop *loop;
  lc_wakeup_cb cb;
  void *arg;
};

/* ---- Time conversions --------------------------------------------------------------------- */

/* ns -> libev seconds, never below the request. Up to 2^53 ns (104 days) the ns value converts
 * exactly, so fma() gives the exact sign of s*1e9 - ns and we step up by ulps until it is >= 0.
 * Beyond that, one whole second is added: lengthening a 104-day timer by 1 s does not matter. */
static double ns_to_s_ceil(int64_t ns) {
  if (ns <= 0) return 0.0;
  if (ns > (INT64_C(1) << 53)) return (double)(ns / 1000000000) + 1.0;
  double s = (double)ns / 1e9;
  while (fma(s, 1e9, -(double)ns) < 0.0) s = nextafter(s, INFINITY);
  return s;
}

/* ---- Version ------------------------------------------------------------------------------ */

static char version_buf[64];
static pthread_once_t version_once = PTHREAD_ONCE_INIT;

static void version_init(void) {
  snprintf(version_buf, sizeof version_buf, "libev %d.%d", ev_version_major(), ev_version_minor());
}

/* "libev X.Y" from the running library. */
static const char *evb_version(void) {
  pthread_once(&version_once, version_init);
  return version_buf;
}

/* ---- Loop --------------------------------------------------------------------------------- */

/* ev_loop_new(EVFLAG_AUTO): libev's default backend choice. It returns NULL when no backend
 * can be initialised, which in practice means the fds or memory ran out. */
static int evb_loop_new(lc_loop **out) {
  lc_loop *loop = calloc(1, sizeof *loop);
  if (loop == NULL) return -ENOMEM;
  errno = 0;
  loop->ev = ev_loop_new(EVFLAG_AUTO);
  if (loop->ev == NULL) {
    int err = errno != 0 ? -errno : -ENOMEM;
    free(loop);
    return err;
  }
  *out = loop;
  return 0;
}

static int evb_loop_free(lc_loop *loop) {
  if (loop->live > 0) return -EBUSY;
  ev_loop_destroy(loop->ev);
  free(loop);
  return 0;
}

/* ev_now() is the cached time of the iteration, but in CLOCK_REALTIME seconds (ev.c ev_now
 * returns ev_rt_now, which time_update derives from the monotonic mn_now plus rtmn_diff); libev
 * has no public accessor for mn_now. The contract wants the monotonic clock, so each new
 * ev_now() value (one per libev time update: ev_run's time_update, ev_now_update) is converted
 * once with the realtime-to-monotonic offset of that moment, and the same value is returned
 * until libev updates its time again. The result is never below the previous one: two clocks
 * read at different instants, and a double of ~1.7e9 s with ulps of ~240 ns, can otherwise
 * put a later conversion a few hundred ns below an earlier one. The value keeps libev's
 * staleness and resolution. (Converting on every call, as this adapter once did, stepped back
 * by up to ~60 us: the offset moved with every preemption between its two clock reads.) */
static int64_t evb_now(lc_loop *loop) {
  double rt = ev_now(loop->ev);
  if (!loop->have_now || rt != loop->seen_rt) {
    loop->seen_rt = rt;
    loop->seen_ns = (int64_t)(rt * 1e9) + lc_realtime_to_monotonic_ns();
  }
  int64_t v = loop->seen_ns;
  if (loop->have_now && v < loop->last_ns) v = loop->last_ns;
  loop->last_ns = v;
  loop->have_now = 1;
  return v;
}

static void evb_update_time(lc_loop *loop) { ev_now_update(loop->ev); }

/* ev_run returns the number of active watchers (ev.c ev_run: "return activecnt"). */
static int evb_run(lc_loop *loop, int mode) {
  int flags;
  switch (mode) {
  case LC_RUN_DEFAULT: flags = 0; break;
  case LC_RUN_ONCE: flags = EVRUN_ONCE; break;
  case LC_RUN_NOWAIT: flags = EVRUN_NOWAIT; break;
  default: return -EINVAL;
  }
  return ev_run(loop->ev, flags) != 0 ? 1 : 0;
}

/* ev_break(EVBREAK_ONE) ends ev_run after the current iteration. Called outside ev_run it is
 * lost: ev_run starts by resetting loop_done (ev.c ev_run). Forwarded as is. */
static void evb_stop(lc_loop *loop) { ev_break(loop->ev, EVBREAK_ONE); }

/* ---- Timers ------------------------------------------------------------------------------- */

static void on_timer(struct ev_loop *ev, ev_timer *w, int revents) {
  (void)ev;
  (void)revents;
  lc_timer *timer = (lc_timer *)w;
  timer->cb(timer, timer->arg);
}

static int evb_timer_new(lc_loop *loop, lc_timer_cb cb, void *arg, lc_timer **out) {
  lc_timer *timer = calloc(1, sizeof *timer);
  if (timer == NULL) return -ENOMEM;
  ev_timer_init(&timer->w, on_timer, 0.0, 0.0);
  timer->loop = loop;
  timer->cb = cb;
  timer->arg = arg;
  loop->live++;
  *out = timer;
  return 0;
}

/* The delay counts from the cached mn_now (not refreshed here). libev ignores ev_timer_start on
 * an active watcher (ev.c ev_timer_start returns at once) and forbids ev_timer_set on one
 * (ev.pod, "WATCHER STATES"), so on an active timer the new values are dropped: the contract's
 * re-arm (LOOP-TIMER-RESTART) deviates here on purpose, to show libev's behaviour. */
static int evb_timer_start(lc_timer *timer, int64_t delay_ns, int64_t repeat_ns) {
  if (delay_ns < 0 || repeat_ns < 0) return -EINVAL;
  if (!ev_is_active(&timer->w))
    ev_timer_set(&timer->w, ns_to_s_ceil(delay_ns), ns_to_s_ceil(repeat_ns));
  ev_timer_start(timer->loop->ev, &timer->w);
  return 0;
}

/* ev_timer_stop also clears a pending (already due) event, so no callback follows. */
static int evb_timer_stop(lc_timer *timer) {
  ev_timer_stop(timer->loop->ev, &timer->w);
  return 0;
}

/* After stop the watcher is neither active nor pending: libev holds no pointer to it. */
static void evb_timer_free(lc_timer *timer) {
  ev_timer_stop(timer->loop->ev, &timer->w);
  timer->loop->live--;
  free(timer);
}

/* ---- I/O ---------------------------------------------------------------------------------- */

/* EV_ERROR: libev could not watch the fd (e.g. closed while watched, ev.c fd_kill) and has
 * stopped the watcher. libev's epoll backend reports EPOLLERR/EPOLLHUP as EV_READ|EV_WRITE
 * (ev_epoll.c epoll_poll), so hang-ups arrive as readiness, not as errors. */
static void on_io(struct ev_loop *ev, ev_io *w, int events) {
  (void)ev;
  lc_io *io = (lc_io *)w;
  unsigned revents = 0;
  if (events & EV_READ) revents |= LC_READABLE;
  if (events & EV_WRITE) revents |= LC_WRITABLE;
  if (events & EV_ERROR) revents |= LC_IO_ERROR;
  io->cb(io, w->fd, revents, io->arg);
}

/* libev accepts any fd here and asserts fd >= 0 only in ev_io_start, so a negative fd is
 * refused up front with -EBADF instead of an abort. Several watchers per fd are allowed. */
static int evb_io_new(lc_loop *loop, int fd, lc_io_cb cb, void *arg, lc_io **out) {
  if (fd < 0) return -EBADF;
  lc_io *io = calloc(1, sizeof *io);
  if (io == NULL) return -ENOMEM;
  ev_io_init(&io->w, on_io, fd, 0);
  io->loop = loop;
  io->cb = cb;
  io->arg = arg;
  loop->live++;
  *out = io;
  return 0;
}

/* libev changes a watcher's events only while it is stopped: stop, set, start. */
static int evb_io_start(lc_io *io, unsigned events) {
  if (!lc_io_events_valid(events)) return -EINVAL;
  int evevents = 0;
  if (events & LC_READABLE) evevents |= EV_READ;
  if (events & LC_WRITABLE) evevents |= EV_WRITE;
  ev_io_stop(io->loop->ev, &io->w);
  ev_io_set(&io->w, io->w.fd, evevents);
  ev_io_start(io->loop->ev, &io->w);
  return 0;
}

static int evb_io_stop(lc_io *io) {
  ev_io_stop(io->loop->ev, &io->w);
  return 0;
}

static void evb_io_free(lc_io *io) {
  ev_io_stop(io->loop->ev, &io->w);
  io->loop->live--;
  free(io);
}

/* ---- Wakeup ------------------------------------------------------------------------------- */

static void on_async(struct ev_loop *ev, ev_async *w, int revents) {
  (void)ev;
  (void)revents;
  lc_wakeup *wakeup = (lc_wakeup *)w;
  wakeup->cb(wakeup, wakeup->arg);
}

/* A started ev_async counts as an active watcher, so it keeps ev_run alive. */
static int evb_wakeup_new(lc_loop *loop, lc_wakeup_cb cb, void *arg, lc_wakeup **out) {
  lc_wakeup *wakeup = calloc(1, sizeof *wakeup);
  if (wakeup == NULL) return -ENOMEM;
  ev_async_init(&wakeup->w, on_async);
  ev_async_start(loop->ev, &wakeup->w);
  wakeup->loop = loop;
  wakeup->cb = cb;
  wakeup->arg = arg;
  loop->live++;
  *out = wakeup;
  return 0;
}

/* ev_async_send is libev's thread-safe call; sends before the callback coalesce. */
static int evb_wakeup_send(lc_wakeup *wakeup) {
  ev_async_send(wakeup->loop->ev, &wakeup->w);
  return 0;
}

static void evb_wakeup_free(lc_wakeup *wakeup) {
  ev_async_stop(wakeup->loop->ev, &wakeup->w);
  wakeup->loop->live--;
  free(wakeup);
}

/* ---- Entry point -------------------------------------------------------------------------- */

static const struct lc_backend evb_backend = {
    .abi_version = LC_BACKEND_ABI_VERSION,
    .name = "libev",
    .version = evb_version,
    .loop_new = evb_loop_new,
    .loop_free = evb_loop_free,
    .now = evb_now,
    .update_time = evb_update_time,
    .run = evb_run,
    .stop = evb_stop,
    .timer_new = evb_timer_new,
    .timer_start = evb_timer_start,
    .timer_stop = evb_timer_stop,
    .timer_free = evb_timer_free,
    .io_new = evb_io_new,
    .io_start = evb_io_start,
    .io_stop = evb_io_stop,
    .io_free = evb_io_free,
    .wakeup_new = evb_wakeup_new,
    .wakeup_send = evb_wakeup_send,
    .wakeup_free = evb_wakeup_free,
    .caps = LC_CAP_NOWAIT,
};

/* The module's only export: the libev backend table. */
LC_BACKEND_EXPORT const struct lc_backend *loopconf_backend(void) { return &evb_backend; }
