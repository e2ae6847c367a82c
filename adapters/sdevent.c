/* adapters/sdevent.c: the loopconf backend contract translated to systemd's sd-event
 * (sd_event_run, timer and io event sources). */
#define _GNU_SOURCE
#include <loopconf/adapter.h>
#include <loopconf/backend.h>
#include <loopconf/clock.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <systemd/sd-event.h>
#include <unistd.h>

/* Timer accuracy asked of sd-event: 1 µs, the finest (sd_event_add_time(3): "Use 1µs for
 * maximum accuracy"; 0 selects the default, 250 ms, which lets sd-event delay a timer by up to
 * that to coalesce wake-ups). The default is declared in .settings. */
#define SDE_ACCURACY_USEC 1

/* sd_event_exit is not a resumable stop: it ends the loop for good (SD_EVENT_FINISHED). So
 * stop() sets a flag that run() honours between iterations (backend.h, "When the library lacks
 * a concept"), and the adapter counts the active handles, which sd-event does not expose. */
struct lc_loop {
  sd_event *e;
  int live;   /* handles not yet freed */
  int active; /* armed timers, started watchers, wakeups */
  int stop;   /* stop() was called; cleared when a run() returns */
};

/* sd-event has no repeating timer: a repeating timer is re-armed by the adapter from the
 * deadline that just elapsed (the usec the handler receives) plus the period. */
struct lc_timer {
  lc_loop *loop;
  sd_event_source *src; /* created at the first start */
  uint64_t repeat_us;
  int armed, in_cb, freed;
  lc_timer_cb cb;
  void *arg;
};

struct lc_io {
  lc_loop *loop;
  int fd;
  sd_event_source *src; /* created at the first start */
  int started, in_cb, freed;
  lc_io_cb cb;
  void *arg;
};

/* sd-event has no cross-thread wakeup: an eventfd watched by an io source. */
struct lc_wakeup {
  lc_loop *loop;
  int efd;
  sd_event_source *src;
  int in_cb, freed;
  lc_wakeup_cb cb;
  void *arg;
};

/* ---- Version ------------------------------------------------------------------------------ */

static char version_buf[128];
static pthread_once_t version_once = PTHREAD_ONCE_INIT;

/* libsystemd has no version call: the loaded file's name (libsystemd.so.0.35.0 on Debian 12). */
static void version_init(void) {
  lc_version_from_library((const void *)sd_event_new, "sd-event", version_buf, sizeof version_buf);
}

static const char *sde_version(void) {
  pthread_once(&version_once, version_init);
  return version_buf;
}

/* ---- Loop --------------------------------------------------------------------------------- */

static int sde_loop_new(lc_loop **out) {
  lc_loop *loop = calloc(1, sizeof *loop);
  if (loop == NULL) return -ENOMEM;
  int err = sd_event_new(&loop->e);
  if (err < 0) {
    free(loop);
    return err;
  }
  /* sd-event opens a clock's timerfd with the first time source on that clock and keeps it
   * until the loop is freed (sd-event.c setup_clock_data). Open it now: a first timer started
   * when the process is out of fds (a server pausing its accepts on EMFILE) would fail. */
  sd_event_source *first = NULL;
  err = sd_event_add_time(loop->e, &first, CLOCK_MONOTONIC, UINT64_MAX, SDE_ACCURACY_USEC, NULL,
                          NULL);
  sd_event_source_unref(first);
  if (err < 0) {
    sd_event_unref(loop->e);
    free(loop);
    return err;
  }
  *out = loop;
  return 0;
}

static int sde_loop_free(lc_loop *loop) {
  if (loop->live > 0) return -EBUSY;
  sd_event_unref(loop->e);
  free(loop);
  return 0;
}

/* sd_event_now: the time taken right after the last wait returned (sd_event_now(3)); before
 * the first iteration, the current time. No call refreshes it. */
static int64_t sde_now(lc_loop *loop) {
  uint64_t us = 0;
  if (sd_event_now(loop->e, CLOCK_MONOTONIC, &us) < 0) return lc_clock_ns();
  return (int64_t)us * LC_US;
}

/* sd-event has no call that refreshes its cached time outside an iteration: nothing to do. */
static void sde_update_time(lc_loop *loop) { (void)loop; }

/* ONCE is sd_event_run(UINT64_MAX), NOWAIT sd_event_run(0): one iteration, which dispatches
 * one event source, the first pending by priority (sd_event_run(3), sd_event_dispatch(3)).
 * DEFAULT repeats ONCE while anything is active and stop() was not called. */
static int sde_run(lc_loop *loop, int mode) {
  if (mode != LC_RUN_DEFAULT && mode != LC_RUN_ONCE && mode != LC_RUN_NOWAIT) return -EINVAL;
  int r = 0;
  if (mode == LC_RUN_DEFAULT) {
    while (r >= 0 && !loop->stop && loop->active > 0) r = sd_event_run(loop->e, UINT64_MAX);
  } else if (loop->active > 0) {
    r = sd_event_run(loop->e, mode == LC_RUN_ONCE ? UINT64_MAX : 0);
  }
  loop->stop = 0;
  return r < 0 ? r : loop->active > 0;
}

static void sde_stop(lc_loop *loop) { loop->stop = 1; }

/* ---- Timers ------------------------------------------------------------------------------- */

static int on_time(sd_event_source *s, uint64_t usec, void *userdata) {
  lc_timer *timer = userdata;
  if (timer->repeat_us > 0) {
    sd_event_source_set_time(s, usec + timer->repeat_us); /* stays enabled (ONESHOT again) */
    sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
  } else {
    timer->armed = 0; /* a ONESHOT source is off once dispatched */
    timer->loop->active--;
  }
  timer->in_cb = 1;
  timer->cb(timer, timer->arg);
  timer->in_cb = 0;
  if (timer->freed) free(timer);
  return 0;
}

static int sde_timer_new(lc_loop *loop, lc_timer_cb cb, void *arg, lc_timer **out) {
  lc_timer *timer = calloc(1, sizeof *timer);
  if (timer == NULL) return -ENOMEM;
  timer->loop = loop;
  timer->cb = cb;
  timer->arg = arg;
  loop->live++;
  *out = timer;
  return 0;
}

/* µs rounded up, relative to sd_event_now (sd_event_add_time_relative(3)): the cached time of
 * the current iteration, not the clock. A restart moves the deadline (set_time_relative). */
static int sde_timer_start(lc_timer *timer, int64_t delay_ns, int64_t repeat_ns) {
  if (delay_ns < 0 || repeat_ns < 0) return -EINVAL;
  uint64_t us = (uint64_t)lc_ns_to_us_ceil(delay_ns);
  int err;
  if (timer->src == NULL) {
    err = sd_event_add_time_relative(timer->loop->e, &timer->src, CLOCK_MONOTONIC, us,
                                     SDE_ACCURACY_USEC, on_time, timer);
  } else {
    err = sd_event_source_set_time_relative(timer->src, us);
    if (err >= 0) err = sd_event_source_set_enabled(timer->src, SD_EVENT_ONESHOT);
  }
  if (err < 0) return err;
  timer->repeat_us = (uint64_t)lc_ns_to_us_ceil(repeat_ns);
  if (!timer->armed) {
    timer->armed = 1;
    timer->loop->active++;
  }
  return 0;
}

static int sde_timer_stop(lc_timer *timer) {
  if (!timer->armed) return 0;
  timer->armed = 0;
  timer->loop->active--;
  int err = sd_event_source_set_enabled(timer->src, SD_EVENT_OFF);
  return err < 0 ? err : 0;
}

/* Disable and unref: an off source is never dispatched, even if it was pending, and sd-event
 * defers freeing a source that is being dispatched (sd_event_source_unref(3)). */
static void sde_timer_free(lc_timer *timer) {
  sde_timer_stop(timer);
  sd_event_source_disable_unref(timer->src);
  timer->loop->live--;
  if (timer->in_cb) timer->freed = 1;
  else free(timer);
}

/* ---- I/O ---------------------------------------------------------------------------------- */

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
  (void)s;
  lc_io *io = userdata;
  unsigned ev = 0;
  if (revents & EPOLLIN) ev |= LC_READABLE;
  if (revents & EPOLLOUT) ev |= LC_WRITABLE;
  if (revents & (EPOLLERR | EPOLLHUP | EPOLLRDHUP)) ev |= LC_IO_ERROR;
  io->in_cb = 1;
  io->cb(io, fd, ev, io->arg);
  io->in_cb = 0;
  if (io->freed) free(io);
  return 0;
}

static int sde_io_new(lc_loop *loop, int fd, lc_io_cb cb, void *arg, lc_io **out) {
  if (fd < 0) return -EBADF;
  lc_io *io = calloc(1, sizeof *io);
  if (io == NULL) return -ENOMEM;
  io->loop = loop;
  io->fd = fd;
  io->cb = cb;
  io->arg = arg;
  loop->live++;
  *out = io;
  return 0;
}

/* sd-event's io sources are level-triggered epoll registrations; EPOLLRDHUP comes with
 * readability, the side of the fd a hang-up concerns. */
static int sde_io_start(lc_io *io, unsigned events) {
  if (!lc_io_events_valid(events)) return -EINVAL;
  uint32_t ep = 0;
  if (events & LC_READABLE) ep |= EPOLLIN | EPOLLRDHUP;
  if (events & LC_WRITABLE) ep |= EPOLLOUT;
  int err;
  if (io->src == NULL) {
    err = sd_event_add_io(io->loop->e, &io->src, io->fd, ep, on_io, io);
  } else {
    err = sd_event_source_set_io_events(io->src, ep);
    if (err >= 0) err = sd_event_source_set_enabled(io->src, SD_EVENT_ON);
  }
  if (err < 0) return err;
  if (!io->started) {
    io->started = 1;
    io->loop->active++;
  }
  return 0;
}

static int sde_io_stop(lc_io *io) {
  if (!io->started) return 0;
  io->started = 0;
  io->loop->active--;
  int err = sd_event_source_set_enabled(io->src, SD_EVENT_OFF);
  return err < 0 ? err : 0;
}

static void sde_io_free(lc_io *io) {
  sde_io_stop(io);
  sd_event_source_disable_unref(io->src);
  io->loop->live--;
  if (io->in_cb) io->freed = 1;
  else free(io);
}

/* ---- Wakeup ------------------------------------------------------------------------------- */

/* The counter is read before the callback, so a send during the callback brings another. */
static int on_wakeup(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
  (void)s;
  (void)revents;
  lc_wakeup *w = userdata;
  lc_eventfd_drain(fd); /* first: loopconf/adapter.h says why */
  w->in_cb = 1;
  w->cb(w, w->arg);
  w->in_cb = 0;
  if (w->freed) free(w);
  return 0;
}

static int sde_wakeup_new(lc_loop *loop, lc_wakeup_cb cb, void *arg, lc_wakeup **out) {
  lc_wakeup *w = calloc(1, sizeof *w);
  if (w == NULL) return -ENOMEM;
  w->efd = lc_eventfd_open();
  int err = w->efd < 0 ? w->efd : sd_event_add_io(loop->e, &w->src, w->efd, EPOLLIN, on_wakeup, w);
  if (err < 0) {
    if (w->efd >= 0) close(w->efd);
    free(w);
    return err;
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
static int sde_wakeup_send(lc_wakeup *w) { return lc_eventfd_signal(w->efd); }

static void sde_wakeup_free(lc_wakeup *w) {
  sd_event_source_disable_unref(w->src);
  close(w->efd);
  w->loop->live--;
  w->loop->active--;
  if (w->in_cb) w->freed = 1;
  else free(w);
}

/* ---- Entry point -------------------------------------------------------------------------- */

static const struct lc_backend sde_backend = {
    .abi_version = LC_BACKEND_ABI_VERSION,
    .name = "sdevent",
    .version = sde_version,
    .loop_new = sde_loop_new,
    .loop_free = sde_loop_free,
    .now = sde_now,
    .update_time = sde_update_time,
    .run = sde_run,
    .stop = sde_stop,
    .timer_new = sde_timer_new,
    .timer_start = sde_timer_start,
    .timer_stop = sde_timer_stop,
    .timer_free = sde_timer_free,
    .io_new = sde_io_new,
    .io_start = sde_io_start,
    .io_stop = sde_io_stop,
    .io_free = sde_io_free,
    .wakeup_new = sde_wakeup_new,
    .wakeup_send = sde_wakeup_send,
    .wakeup_free = sde_wakeup_free,
    .caps = LC_CAP_NOWAIT,
    .settings = "timer accuracy 1 us (library default 250 ms)",
};

LC_BACKEND_EXPORT const struct lc_backend *loopconf_backend(void) { return &sde_backend; }
