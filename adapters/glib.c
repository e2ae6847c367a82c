/* adapters/glib.c: the loopconf backend contract translated to GLib's main loop (GMainContext,
 * GMainLoop, g_timeout_source_new, unix-fd sources). */
#include <loopconf/backend.h>

#include <errno.h>
#include <glib-unix.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>

/* One GMainContext of our own (never the global default one), the GMainLoop that run(DEFAULT)
 * runs and quit() stops, and the count of active handles GLib does not keep (backend.h,
 * "When the library lacks a concept"). */
struct lc_loop {
  GMainContext *ctx;
  GMainLoop *ml;
  int live;   /* handles not yet freed (loop_free's -EBUSY) */
  int active; /* armed timers, started watchers, wakeups: run()'s answer and DEFAULT's exit */
};

/* A timer is one GTimeoutSource while armed. A repeating timer whose first delay differs from
 * its period starts as a one-shot source and is replaced by one with the period at its first
 * expiry; from then on GLib repeats it (the callback returns G_SOURCE_CONTINUE). */
struct lc_timer {
  lc_loop *loop;
  GSource *src; /* NULL when inactive */
  guint repeat_ms;
  int switch_to_repeat; /* the armed source is the first delay of a repeating timer */
  int in_cb, freed;
  lc_timer_cb cb;
  void *arg;
};

/* A watcher is a GSource of our own with one unix fd (g_source_add_unix_fd). */
struct io_source {
  GSource base;
  lc_io *io;
  gpointer tag;
};

struct lc_io {
  lc_loop *loop;
  int fd;
  struct io_source *src; /* NULL when stopped */
  int in_cb, freed;
  lc_io_cb cb;
  void *arg;
};

/* A wakeup is a GSource of our own made ready by g_source_set_ready_time(0), which takes the
 * context lock and signals the context's wakeup fd (gmain.c): safe from any thread. */
struct wakeup_source {
  GSource base;
  lc_wakeup *w;
};

struct lc_wakeup {
  lc_loop *loop;
  struct wakeup_source *src;
  int in_cb, freed;
  lc_wakeup_cb cb;
  void *arg;
};

/* ---- Version ------------------------------------------------------------------------------ */

static char version_buf[64];

/* "glib X.Y.Z" from the running library's glib_*_version variables (not the headers'). */
static const char *gl_version(void) {
  if (!version_buf[0])
    snprintf(version_buf, sizeof version_buf, "glib %u.%u.%u", glib_major_version,
             glib_minor_version, glib_micro_version);
  return version_buf;
}

/* ---- Loop --------------------------------------------------------------------------------- */

static int gl_loop_new(lc_loop **out) {
  lc_loop *loop = calloc(1, sizeof *loop);
  if (loop == NULL) return -ENOMEM;
  loop->ctx = g_main_context_new();
  loop->ml = g_main_loop_new(loop->ctx, FALSE);
  *out = loop;
  return 0;
}

static int gl_loop_free(lc_loop *loop) {
  if (loop->live > 0) return -EBUSY;
  g_main_loop_unref(loop->ml);
  g_main_context_unref(loop->ctx);
  free(loop);
  return 0;
}

/* GLib has no per-loop time: g_source_get_time is the time cached for the current dispatch of
 * one source and exists only inside it. now() is g_get_monotonic_time() (CLOCK_MONOTONIC in
 * µs, gmain.c), read live; update_time has nothing to refresh. */
static int64_t gl_now(lc_loop *loop) {
  (void)loop;
  return g_get_monotonic_time() * LC_US;
}

static void gl_update_time(lc_loop *loop) { (void)loop; }

/* DEFAULT is g_main_loop_run until the last active handle goes (the adapter quits the loop
 * then) or stop() quits it. NOWAIT is g_main_context_iteration(FALSE). ONCE is
 * g_main_context_iteration(TRUE), called again while it dispatched nothing: a blocking
 * iteration may return without dispatching ("the wait may be interrupted for other reasons
 * than an event source becoming ready", gmain.c), e.g. for the context's wakeup fd still
 * signalled by the last quit, and the contract's ONCE waits until a callback ran. With nothing
 * active there is nothing to wait for, and run() returns 0 at once. */
static int gl_run(lc_loop *loop, int mode) {
  if (mode != LC_RUN_DEFAULT && mode != LC_RUN_ONCE && mode != LC_RUN_NOWAIT) return -EINVAL;
  if (loop->active == 0) return 0;
  if (mode == LC_RUN_DEFAULT) g_main_loop_run(loop->ml);
  else if (mode == LC_RUN_NOWAIT) g_main_context_iteration(loop->ctx, FALSE);
  else
    while (!g_main_context_iteration(loop->ctx, TRUE) && loop->active > 0) {
    }
  return loop->active > 0;
}

/* g_main_loop_quit. Not resumable before run(): g_main_loop_run sets is_running = TRUE on entry
 * (gmain.c), so a quit made while the loop was not running is lost. */
static void gl_stop(lc_loop *loop) { g_main_loop_quit(loop->ml); }

/* After a callback: DEFAULT ends when no handle is left active (checked only once the user's
 * callback has returned, since it may arm new ones). */
static void quit_if_idle(lc_loop *loop) {
  if (loop->active == 0 && g_main_loop_is_running(loop->ml)) g_main_loop_quit(loop->ml);
}

/* Detach and drop a source (safe from its own dispatch: GLib holds a reference meanwhile). */
static void source_drop(GSource *src) {
  g_source_destroy(src);
  g_source_unref(src);
}

/* ---- Timers ------------------------------------------------------------------------------- */

static gboolean on_timeout(gpointer data);

static void timer_arm(lc_timer *timer, guint ms) {
  timer->src = g_timeout_source_new(ms);
  g_source_set_callback(timer->src, on_timeout, timer, NULL);
  g_source_attach(timer->src, timer->loop->ctx);
}

static void timer_disarm(lc_timer *timer) {
  if (timer->src == NULL) return;
  source_drop(timer->src);
  timer->src = NULL;
  timer->loop->active--;
}

static gboolean on_timeout(gpointer data) {
  lc_timer *timer = data;
  lc_loop *loop = timer->loop;
  GSource *fired = timer->src;
  if (timer->repeat_ms == 0) {
    timer_disarm(timer); /* a one-shot is over before its callback, as in the other adapters */
  } else if (timer->switch_to_repeat) {
    source_drop(timer->src); /* first expiry: from now on GLib's own repeat with the period */
    timer->switch_to_repeat = 0;
    timer_arm(timer, timer->repeat_ms);
  }
  timer->in_cb = 1;
  timer->cb(timer, timer->arg);
  timer->in_cb = 0;
  int again = !timer->freed && timer->src == fired; /* not stopped, re-armed or freed */
  if (timer->freed) free(timer);
  quit_if_idle(loop);
  return again ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

static int gl_timer_new(lc_loop *loop, lc_timer_cb cb, void *arg, lc_timer **out) {
  lc_timer *timer = calloc(1, sizeof *timer);
  if (timer == NULL) return -ENOMEM;
  timer->loop = loop;
  timer->cb = cb;
  timer->arg = arg;
  loop->live++;
  *out = timer;
  return 0;
}

/* Whole milliseconds, rounded up; g_timeout_source_new counts from g_get_monotonic_time() read
 * live (gmain.c timeout_source_new). A guint of ms caps a delay at ~49.7 days. */
static guint ms_of(int64_t ns) {
  uint64_t ms = lc_ns_to_ms_ceil(ns);
  return ms > G_MAXUINT ? G_MAXUINT : (guint)ms;
}

/* Re-arming an active timer replaces its source: a restart. */
static int gl_timer_start(lc_timer *timer, int64_t delay_ns, int64_t repeat_ns) {
  if (delay_ns < 0 || repeat_ns < 0) return -EINVAL;
  timer_disarm(timer);
  timer->repeat_ms = ms_of(repeat_ns);
  guint first = ms_of(delay_ns);
  timer->switch_to_repeat = timer->repeat_ms > 0 && first != timer->repeat_ms;
  timer_arm(timer, first);
  timer->loop->active++;
  return 0;
}

static int gl_timer_stop(lc_timer *timer) {
  timer_disarm(timer);
  return 0;
}

static void gl_timer_free(lc_timer *timer) {
  timer_disarm(timer);
  timer->loop->live--;
  if (timer->in_cb) timer->freed = 1; /* on_timeout frees it when the callback returns */
  else free(timer);
}

/* ---- I/O ---------------------------------------------------------------------------------- */

/* GLib always reports G_IO_ERR, G_IO_HUP and G_IO_NVAL (poll(2) semantics, gpoll.c). */
static gboolean io_dispatch(GSource *source, GSourceFunc callback, gpointer user_data) {
  (void)callback;
  (void)user_data;
  struct io_source *s = (struct io_source *)source;
  lc_io *io = s->io;
  GIOCondition c = g_source_query_unix_fd(source, s->tag);
  unsigned revents = 0;
  if (c & G_IO_IN) revents |= LC_READABLE;
  if (c & G_IO_OUT) revents |= LC_WRITABLE;
  if (c & (G_IO_ERR | G_IO_HUP | G_IO_NVAL)) revents |= LC_IO_ERROR;
  if (revents == 0) return G_SOURCE_CONTINUE;
  io->in_cb = 1;
  io->cb(io, io->fd, revents, io->arg);
  io->in_cb = 0;
  lc_loop *loop = io->loop;
  int again = !io->freed && io->src == s;
  if (io->freed) free(io);
  quit_if_idle(loop);
  return again ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

static GSourceFuncs io_funcs = {NULL, NULL, io_dispatch, NULL, NULL, NULL};

static int gl_io_new(lc_loop *loop, int fd, lc_io_cb cb, void *arg, lc_io **out) {
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

/* A started watcher's interest is changed in place (g_source_modify_unix_fd). */
static int gl_io_start(lc_io *io, unsigned events) {
  if (!lc_io_events_valid(events)) return -EINVAL;
  GIOCondition c = 0;
  if (events & LC_READABLE) c |= G_IO_IN;
  if (events & LC_WRITABLE) c |= G_IO_OUT;
  if (io->src) {
    g_source_modify_unix_fd(&io->src->base, io->src->tag, c);
    return 0;
  }
  io->src = (struct io_source *)g_source_new(&io_funcs, sizeof *io->src);
  io->src->io = io;
  io->src->tag = g_source_add_unix_fd(&io->src->base, io->fd, c);
  g_source_attach(&io->src->base, io->loop->ctx);
  io->loop->active++;
  return 0;
}

static int gl_io_stop(lc_io *io) {
  if (io->src) {
    source_drop(&io->src->base);
    io->src = NULL;
    io->loop->active--;
  }
  return 0;
}

static void gl_io_free(lc_io *io) {
  gl_io_stop(io);
  io->loop->live--;
  if (io->in_cb) io->freed = 1;
  else free(io);
}

/* ---- Wakeup ------------------------------------------------------------------------------- */

/* Ready from the send until the dispatch resets it: sends before the callback coalesce. */
static gboolean wakeup_dispatch(GSource *source, GSourceFunc callback, gpointer user_data) {
  (void)callback;
  (void)user_data;
  lc_wakeup *w = ((struct wakeup_source *)source)->w;
  lc_loop *loop = w->loop;
  g_source_set_ready_time(source, -1);
  w->in_cb = 1;
  w->cb(w, w->arg);
  w->in_cb = 0;
  int again = !w->freed;
  if (w->freed) free(w);
  quit_if_idle(loop);
  return again ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

static GSourceFuncs wakeup_funcs = {NULL, NULL, wakeup_dispatch, NULL, NULL, NULL};

static int gl_wakeup_new(lc_loop *loop, lc_wakeup_cb cb, void *arg, lc_wakeup **out) {
  lc_wakeup *w = calloc(1, sizeof *w);
  if (w == NULL) return -ENOMEM;
  w->loop = loop;
  w->cb = cb;
  w->arg = arg;
  w->src = (struct wakeup_source *)g_source_new(&wakeup_funcs, sizeof *w->src);
  w->src->w = w;
  g_source_set_ready_time(&w->src->base, -1);
  g_source_attach(&w->src->base, loop->ctx);
  loop->live++;
  loop->active++;
  *out = w;
  return 0;
}

static int gl_wakeup_send(lc_wakeup *w) {
  g_source_set_ready_time(&w->src->base, 0);
  return 0;
}

static void gl_wakeup_free(lc_wakeup *w) {
  source_drop(&w->src->base);
  w->loop->live--;
  w->loop->active--;
  if (w->in_cb) w->freed = 1;
  else free(w);
}

/* ---- Entry point -------------------------------------------------------------------------- */

static const struct lc_backend gl_backend = {
    .abi_version = LC_BACKEND_ABI_VERSION,
    .name = "glib",
    .version = gl_version,
    .loop_new = gl_loop_new,
    .loop_free = gl_loop_free,
    .now = gl_now,
    .update_time = gl_update_time,
    .run = gl_run,
    .stop = gl_stop,
    .timer_new = gl_timer_new,
    .timer_start = gl_timer_start,
    .timer_stop = gl_timer_stop,
    .timer_free = gl_timer_free,
    .io_new = gl_io_new,
    .io_start = gl_io_start,
    .io_stop = gl_io_stop,
    .io_free = gl_io_free,
    .wakeup_new = gl_wakeup_new,
    .wakeup_send = gl_wakeup_send,
    .wakeup_free = gl_wakeup_free,
    .caps = LC_CAP_NOWAIT,
};

LC_BACKEND_EXPORT const struct lc_backend *loopconf_backend(void) { return &gl_backend; }
