/* mutant.c: a backend that wraps a correct backend and breaks one behaviour, to prove that the
 * loop tier catches it (the suite's own verdict power, issue 8).
 *
 * It is loaded like any out-of-tree adapter (`loopconf run --adapter <build>/mutant/lc_mutant.so`)
 * and configured from the environment, which every cell's child process inherits:
 *   LOOPCONF_MUTANT_OF  path of the backend module to wrap (e.g. <build>/backends/lcb_reference.so)
 *   LOOPCONF_MUTANT     the fault, one of the names in `faults` below; "none" wraps every
 *                       operation without changing it (the control run).
 * The wrapped backend is dlopen'ed with RTLD_LOCAL, so any backend module can be wrapped. Every
 * handle is wrapped in every mode, so the control run exercises the same trampolines as the
 * faulty ones. harness/mutant/mutant_check.sh runs the loop tier over each fault and requires a
 * verdict that names it.
 */
#define _GNU_SOURCE
#include <loopconf/backend.h>
#include <loopconf/backend_check.h>

#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum fault {
  F_NONE,
  F_EARLY_TIMER,       /* timers fire after 3/4 of their delay */
  F_LOST_WAKEUP,       /* every second wakeup_send is dropped */
  F_IGNORE_STOP,       /* stop() does nothing */
  F_IGNORE_TIMER_STOP, /* timer_stop() returns 0 and does nothing */
  F_DUPLICATE_IO,      /* each io callback is made twice (unless the first stopped it) */
  F_STARVE_IO,         /* only the first watcher called back is served while it is active */
  F_NOWAIT_BLOCKS,     /* run(NOWAIT) sleeps 50 ms first */
  F_DRIFT,             /* repeats re-armed from the time the tick ran, not the deadline */
  F_BACKWARDS_NOW,     /* every 8th now() is 5 ms behind the previous one */
  F_REVERSE_EQUAL,     /* timers started later get an earlier deadline (< 1 ms difference) */
  F_COUNT
};
static const char *const faults[F_COUNT] = {"none",          "early-timer",       "lost-wakeup",
                                            "ignore-stop",   "ignore-timer-stop", "duplicate-io",
                                            "starve-io",     "nowait-blocks",     "drift",
                                            "backwards-now", "reverse-equal"};

static enum fault fault;
static const struct lc_backend *in; /* the wrapped backend */

struct lc_loop {
  void *in;
  unsigned long now_calls;
  struct lc_io *favourite; /* F_STARVE_IO: the only watcher served while it is active */
};
struct lc_timer {
  void *in;
  lc_timer_cb cb;
  void *arg;
  int64_t repeat; /* F_DRIFT: the wrapper repeats the timer itself */
};
struct lc_io {
  void *in;
  lc_loop *loop;
  lc_io_cb cb;
  void *arg;
  int active;
  int depth; /* inside its callback */
  int dead;  /* freed from its own callback: free after the callback returns */
};
struct lc_wakeup {
  void *in;
  lc_wakeup_cb cb;
  void *arg;
  atomic_ulong sends;
};

/* ---- Loop ---------------------------------------------------------------------------------- */

static int m_loop_new(lc_loop **out) {
  lc_loop *l = calloc(1, sizeof *l);
  if (!l) return -ENOMEM;
  int rc = in->loop_new((lc_loop **)&l->in);
  if (rc != 0) {
    free(l);
    return rc;
  }
  *out = l;
  return 0;
}

static int m_loop_free(lc_loop *l) {
  int rc = in->loop_free(l->in);
  if (rc == 0) free(l);
  return rc;
}

static int64_t m_now(lc_loop *l) {
  int64_t v = in->now(l->in);
  if (fault == F_BACKWARDS_NOW && ++l->now_calls % 8 == 0) v -= 5 * LC_MS;
  return v;
}

static void m_update_time(lc_loop *l) { in->update_time(l->in); }

static int m_run(lc_loop *l, int mode) {
  if (fault == F_NOWAIT_BLOCKS && mode == LC_RUN_NOWAIT) {
    struct timespec ts = {0, 50 * 1000 * 1000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
  }
  return in->run(l->in, mode);
}

static void m_stop(lc_loop *l) {
  if (fault == F_IGNORE_STOP) return;
  in->stop(l->in);
}

/* ---- Timers -------------------------------------------------------------------------------- */

static void timer_tramp(lc_timer *inner, void *arg) {
  struct lc_timer *t = arg;
  (void)inner;
  /* Re-armed before the callback, from now: lateness accumulates (libuv's uv_timer_again). A
   * timer_stop/timer_start/timer_free in the callback acts on the re-armed timer. */
  if (fault == F_DRIFT && t->repeat > 0) in->timer_start(t->in, t->repeat, 0);
  t->cb(t, t->arg);
}

static int m_timer_new(lc_loop *l, lc_timer_cb cb, void *arg, lc_timer **out) {
  lc_timer *t = calloc(1, sizeof *t);
  if (!t) return -ENOMEM;
  t->cb = cb;
  t->arg = arg;
  int rc = in->timer_new(l->in, timer_tramp, t, (lc_timer **)&t->in);
  if (rc != 0) {
    free(t);
    return rc;
  }
  *out = t;
  return 0;
}

static int m_timer_start(lc_timer *t, int64_t delay, int64_t repeat) {
  if (delay < 0 || repeat < 0) return -EINVAL;
  if (fault == F_EARLY_TIMER) delay = delay / 4 * 3;
  if (fault == F_REVERSE_EQUAL) {
    static unsigned long seq;
    delay += (int64_t)(64 - seq++ % 64) * 10 * LC_US;
  }
  if (fault == F_DRIFT) {
    t->repeat = repeat;
    repeat = 0;
  }
  return in->timer_start(t->in, delay, repeat);
}

static int m_timer_stop(lc_timer *t) {
  if (fault == F_IGNORE_TIMER_STOP) return 0;
  t->repeat = 0;
  return in->timer_stop(t->in);
}

static void m_timer_free(lc_timer *t) {
  in->timer_free(t->in);
  free(t);
}

/* ---- I/O ----------------------------------------------------------------------------------- */

static void io_tramp(lc_io *inner, int fd, unsigned revents, void *arg) {
  struct lc_io *w = arg;
  (void)inner;
  if (fault == F_STARVE_IO) {
    if (w->loop->favourite && w->loop->favourite != w) return;
    w->loop->favourite = w;
  }
  w->depth++;
  w->cb(w, fd, revents, w->arg);
  if (fault == F_DUPLICATE_IO && !w->dead && w->active) w->cb(w, fd, revents, w->arg);
  w->depth--;
  if (w->dead && w->depth == 0) free(w);
}

static int m_io_new(lc_loop *l, int fd, lc_io_cb cb, void *arg, lc_io **out) {
  lc_io *w = calloc(1, sizeof *w);
  if (!w) return -ENOMEM;
  w->loop = l;
  w->cb = cb;
  w->arg = arg;
  int rc = in->io_new(l->in, fd, io_tramp, w, (lc_io **)&w->in);
  if (rc != 0) {
    free(w);
    return rc;
  }
  *out = w;
  return 0;
}

static int m_io_start(lc_io *w, unsigned events) {
  int rc = in->io_start(w->in, events);
  if (rc == 0) w->active = 1;
  return rc;
}

static int m_io_stop(lc_io *w) {
  w->active = 0;
  if (w->loop->favourite == w) w->loop->favourite = NULL;
  return in->io_stop(w->in);
}

static void m_io_free(lc_io *w) {
  in->io_free(w->in);
  w->active = 0;
  if (w->loop->favourite == w) w->loop->favourite = NULL;
  if (w->depth > 0) w->dead = 1;
  else free(w);
}

/* ---- Wakeups ------------------------------------------------------------------------------- */

static void wakeup_tramp(lc_wakeup *inner, void *arg) {
  struct lc_wakeup *k = arg;
  (void)inner;
  k->cb(k, k->arg);
}

static int m_wakeup_new(lc_loop *l, lc_wakeup_cb cb, void *arg, lc_wakeup **out) {
  lc_wakeup *k = calloc(1, sizeof *k);
  if (!k) return -ENOMEM;
  k->cb = cb;
  k->arg = arg;
  atomic_init(&k->sends, 0);
  int rc = in->wakeup_new(l->in, wakeup_tramp, k, (lc_wakeup **)&k->in);
  if (rc != 0) {
    free(k);
    return rc;
  }
  *out = k;
  return 0;
}

static int m_wakeup_send(lc_wakeup *k) {
  if (fault == F_LOST_WAKEUP && atomic_fetch_add(&k->sends, 1) % 2 == 1) return 0;
  return in->wakeup_send(k->in);
}

static void m_wakeup_free(lc_wakeup *k) {
  in->wakeup_free(k->in);
  free(k);
}

/* ---- Entry --------------------------------------------------------------------------------- */

static char version_buf[256];
static const char *m_version(void) { return version_buf; }

static struct lc_backend mutant = {
    .abi_version = LC_BACKEND_ABI_VERSION,
    .name = "mutant",
    .version = m_version,
    .loop_new = m_loop_new,
    .loop_free = m_loop_free,
    .now = m_now,
    .update_time = m_update_time,
    .run = m_run,
    .stop = m_stop,
    .timer_new = m_timer_new,
    .timer_start = m_timer_start,
    .timer_stop = m_timer_stop,
    .timer_free = m_timer_free,
};

LC_BACKEND_EXPORT const struct lc_backend *loopconf_backend(void) {
  if (in) return &mutant;
  const char *of = getenv("LOOPCONF_MUTANT_OF"), *name = getenv("LOOPCONF_MUTANT");
  if (!of || !*of) {
    fprintf(stderr, "mutant: set LOOPCONF_MUTANT_OF to the backend module to wrap\n");
    return NULL;
  }
  if (!name || !*name) name = "none";
  int f = -1;
  for (int i = 0; i < F_COUNT; i++)
    if (strcmp(name, faults[i]) == 0) f = i;
  if (f < 0) {
    fprintf(stderr, "mutant: LOOPCONF_MUTANT='%s' is not one of:", name);
    for (int i = 0; i < F_COUNT; i++) fprintf(stderr, " %s", faults[i]);
    fprintf(stderr, "\n");
    return NULL;
  }
  void *h = dlopen(of, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    fprintf(stderr, "mutant: cannot load %s: %s\n", of, dlerror());
    return NULL;
  }
  lc_backend_entry_fn entry;
  void *sym = dlsym(h, "loopconf_backend");
  if (!sym) {
    fprintf(stderr, "mutant: %s does not export loopconf_backend()\n", of);
    return NULL;
  }
  memcpy(&entry, &sym, sizeof entry);
  const struct lc_backend *b = entry();
  char why[256];
  if (lc_backend_validate(b, why, sizeof why) < 0) { /* the one rule every loader applies */
    fprintf(stderr, "mutant: %s: %s\n", of, why);
    return NULL;
  }
  fault = (enum fault)f;
  mutant.caps = b->caps; /* what the wrapped backend declares (ABI 2), unchanged */
  mutant.settings = b->settings;
  if (b->io_new) {
    mutant.io_new = m_io_new;
    mutant.io_start = m_io_start;
    mutant.io_stop = m_io_stop;
    mutant.io_free = m_io_free;
  }
  if (b->wakeup_new) {
    mutant.wakeup_new = m_wakeup_new;
    mutant.wakeup_send = m_wakeup_send;
    mutant.wakeup_free = m_wakeup_free;
  }
  snprintf(version_buf, sizeof version_buf, "%s of %s (%s)", faults[f], b->name, b->version());
  in = b;
  return &mutant;
}
