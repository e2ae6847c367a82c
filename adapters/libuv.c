/* adapters/libuv.c: the loopconf backend contract translated to libuv (uv_timer_t, uv_poll_t, uv_async_t). */
#define _POSIX_C_SOURCE 200809L /* uv.h needs POSIX types (pthread_rwlock_t) under -std=c11 */
#include <loopconf/backend.h>

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

/* One uv loop plus the number of user handles not yet freed (for loop_free's -EBUSY). */
struct lc_loop {
  uv_loop_t uv;
  int live;
};

/* Each handle embeds its uv handle first, so a uv_handle_t* converts back with a cast. */
struct lc_timer {
  uv_timer_t uv;
  lc_loop *loop;
  lc_timer_cb cb;
  void *arg;
};

struct lc_io {
  uv_poll_t uv;
  lc_loop *loop;
  int fd;
  lc_io_cb cb;
  void *arg;
};

struct lc_wakeup {
  uv_async_t uv;
  lc_loop *loop;
  lc_wakeup_cb cb;
  void *arg;
};

/* ---- Version ------------------------------------------------------------------------------ */

static char version_buf[64];
static pthread_once_t version_once = PTHREAD_ONCE_INIT;

static void version_init(void) {
  snprintf(version_buf, sizeof version_buf, "libuv %s", uv_version_string());
}

/* "libuv X.Y.Z" from the running library. */
static const char *uvb_version(void) {
  pthread_once(&version_once, version_init);
  return version_buf;
}

/* ---- Loop --------------------------------------------------------------------------------- */

/* uv_loop_init with libuv's defaults (no uv_loop_configure). */
static int uvb_loop_new(lc_loop **out) {
  lc_loop *loop = calloc(1, sizeof *loop);
  if (loop == NULL) return -ENOMEM;
  int err = uv_loop_init(&loop->uv);
  if (err < 0) {
    free(loop);
    return err;
  }
  *out = loop;
  return 0;
}

/* Refuses while user handles exist; otherwise lets libuv run the close callbacks still pending
 * (handles freed since the last run), then closes the loop. A stop() never followed by run()
 * leaves uv_run's stop flag set: uv_run then returns at once, clearing it, hence a second call. */
static int uvb_loop_free(lc_loop *loop) {
  if (loop->live > 0) return -EBUSY;
  if (uv_run(&loop->uv, UV_RUN_NOWAIT) != 0) uv_run(&loop->uv, UV_RUN_NOWAIT);
  int err = uv_loop_close(&loop->uv);
  if (err < 0) return err;
  free(loop);
  return 0;
}

/* uv_now is the cached loop time in whole milliseconds of CLOCK_MONOTONIC (src/unix/core.c,
 * uv__update_time); converted as is, so its resolution and staleness show. */
static int64_t uvb_now(lc_loop *loop) { return (int64_t)uv_now(&loop->uv) * 1000000; }

static void uvb_update_time(lc_loop *loop) { uv_update_time(&loop->uv); }

/* uv_run returns non-zero while handles (or pending closes) keep the loop alive. */
static int uvb_run(lc_loop *loop, int mode) {
  uv_run_mode uvmode;
  switch (mode) {
  case LC_RUN_DEFAULT: uvmode = UV_RUN_DEFAULT; break;
  case LC_RUN_ONCE: uvmode = UV_RUN_ONCE; break;
  case LC_RUN_NOWAIT: uvmode = UV_RUN_NOWAIT; break;
  default: return -EINVAL;
  }
  return uv_run(&loop->uv, uvmode) != 0 ? 1 : 0;
}

static void uvb_stop(lc_loop *loop) { uv_stop(&loop->uv); }

/* Close callback shared by all handle types: the memory is released only here. */
static void on_close_free(uv_handle_t *handle) { free(handle); }

/* ---- Timers ------------------------------------------------------------------------------- */

static void on_timer(uv_timer_t *handle) {
  lc_timer *timer = (lc_timer *)handle;
  timer->cb(timer, timer->arg);
}

static int uvb_timer_new(lc_loop *loop, lc_timer_cb cb, void *arg, lc_timer **out) {
  lc_timer *timer = calloc(1, sizeof *timer);
  if (timer == NULL) return -ENOMEM;
  int err = uv_timer_init(&loop->uv, &timer->uv);
  if (err < 0) {
    free(timer);
    return err;
  }
  timer->loop = loop;
  timer->cb = cb;
  timer->arg = arg;
  loop->live++;
  *out = timer;
  return 0;
}

/* uv_timer_start takes whole ms (rounded up here) and counts from the cached uv_now, which is
 * deliberately not refreshed. On an active timer libuv stops and re-arms it (src/timer.c). */
static int uvb_timer_start(lc_timer *timer, int64_t delay_ns, int64_t repeat_ns) {
  if (delay_ns < 0 || repeat_ns < 0) return -EINVAL;
  return uv_timer_start(&timer->uv, on_timer, lc_ns_to_ms_ceil(delay_ns),
                        lc_ns_to_ms_ceil(repeat_ns));
}

static int uvb_timer_stop(lc_timer *timer) { return uv_timer_stop(&timer->uv); }

/* uv_close stops the timer now; the memory goes in the close callback at the end of the
 * iteration (or in loop_free), so this is safe from any callback. */
static void uvb_timer_free(lc_timer *timer) {
  timer->loop->live--;
  uv_close((uv_handle_t *)&timer->uv, on_close_free);
}

/* ---- I/O ---------------------------------------------------------------------------------- */

/* status < 0: libuv saw POLLERR, reported UV_EBADF and already stopped the handle
 * (src/unix/poll.c, uv__poll_io). UV_DISCONNECT is the peer hang-up (EPOLLRDHUP). */
static void on_poll(uv_poll_t *handle, int status, int events) {
  lc_io *io = (lc_io *)handle;
  unsigned revents = 0;
  if (status < 0) {
    revents = LC_IO_ERROR;
  } else {
    if (events & UV_READABLE) revents |= LC_READABLE;
    if (events & UV_WRITABLE) revents |= LC_WRITABLE;
    if (events & UV_DISCONNECT) revents |= LC_IO_ERROR;
  }
  io->cb(io, io->fd, revents, io->arg);
}

/* uv_poll_init refuses a second poll handle on the same fd (UV_EEXIST) and switches the fd to
 * non-blocking mode: both are libuv's behaviour, forwarded. */
static int uvb_io_new(lc_loop *loop, int fd, lc_io_cb cb, void *arg, lc_io **out) {
  lc_io *io = calloc(1, sizeof *io);
  if (io == NULL) return -ENOMEM;
  int err = uv_poll_init(&loop->uv, &io->uv, fd);
  if (err < 0) { /* uv_poll_init fails before it registers the handle: plain free is right */
    free(io);
    return err;
  }
  io->loop = loop;
  io->fd = fd;
  io->cb = cb;
  io->arg = arg;
  loop->live++;
  *out = io;
  return 0;
}

/* uv_poll_start replaces the earlier interest. Hang-ups are asked for (UV_DISCONNECT) together
 * with readability, the side of the fd they concern. */
static int uvb_io_start(lc_io *io, unsigned events) {
  if (!lc_io_events_valid(events)) return -EINVAL;
  int uvevents = 0;
  if (events & LC_READABLE) uvevents |= UV_READABLE | UV_DISCONNECT;
  if (events & LC_WRITABLE) uvevents |= UV_WRITABLE;
  return uv_poll_start(&io->uv, uvevents, on_poll);
}

static int uvb_io_stop(lc_io *io) { return uv_poll_stop(&io->uv); }

static void uvb_io_free(lc_io *io) {
  io->loop->live--;
  uv_close((uv_handle_t *)&io->uv, on_close_free);
}

/* ---- Wakeup ------------------------------------------------------------------------------- */

static void on_async(uv_async_t *handle) {
  lc_wakeup *wakeup = (lc_wakeup *)handle;
  wakeup->cb(wakeup, wakeup->arg);
}

/* uv_async_init: active and referenced at once, so it keeps uv_run alive. */
static int uvb_wakeup_new(lc_loop *loop, lc_wakeup_cb cb, void *arg, lc_wakeup **out) {
  lc_wakeup *wakeup = calloc(1, sizeof *wakeup);
  if (wakeup == NULL) return -ENOMEM;
  int err = uv_async_init(&loop->uv, &wakeup->uv, on_async);
  if (err < 0) {
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

/* uv_async_send is the one thread-safe libuv call; sends before the callback coalesce. */
static int uvb_wakeup_send(lc_wakeup *wakeup) { return uv_async_send(&wakeup->uv); }

static void uvb_wakeup_free(lc_wakeup *wakeup) {
  wakeup->loop->live--;
  uv_close((uv_handle_t *)&wakeup->uv, on_close_free);
}

/* ---- Entry point -------------------------------------------------------------------------- */

static const struct lc_backend uvb_backend = {
    .abi_version = LC_BACKEND_ABI_VERSION,
    .name = "libuv",
    .version = uvb_version,
    .loop_new = uvb_loop_new,
    .loop_free = uvb_loop_free,
    .now = uvb_now,
    .update_time = uvb_update_time,
    .run = uvb_run,
    .stop = uvb_stop,
    .timer_new = uvb_timer_new,
    .timer_start = uvb_timer_start,
    .timer_stop = uvb_timer_stop,
    .timer_free = uvb_timer_free,
    .io_new = uvb_io_new,
    .io_start = uvb_io_start,
    .io_stop = uvb_io_stop,
    .io_free = uvb_io_free,
    .wakeup_new = uvb_wakeup_new,
    .wakeup_send = uvb_wakeup_send,
    .wakeup_free = uvb_wakeup_free,
    .caps = LC_CAP_NOWAIT,
};

/* The module's only export: the libuv backend table. */
LC_BACKEND_EXPORT const struct lc_backend *loopconf_backend(void) { return &uvb_backend; }
