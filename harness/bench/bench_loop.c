/* bench_loop.c: loop.* benchmarks, one body each, run through the backend contract. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_suite.h"

/* Timers per iteration of the timer benchmarks, and under callgrind, where the per-timer
 * instruction count is what is reported. 100,000, not libuv's million: tevent keeps timers in
 * a sorted list (a start is O(n)), so 1,000,000 made one timer_churn iteration take ~78 s on
 * tevent and one timer_dispatch ~26 s on sd-event, and a default run of every built-in backend
 * could not fit 10 minutes. */
#define TIMERS 100000
#define CG_TIMERS 20000

static int64_t timer_count(lcbench_state *st) {
  return lcbench_is_callgrind(st) ? CG_TIMERS : TIMERS;
}

/* Deadline spread: `classes` distinct delays `step_ns` apart. Timed runs use fine steps (the
 * heap orders 1000 close deadlines). Under callgrind the steps are 1 s, far longer than it takes
 * to start all timers: backends that read the clock live while starting timers then build the
 * same heap in every run, so the instruction count does not depend on the clock. */
struct spread {
  int64_t classes, step_ns;
};

static struct spread timer_spread(lcbench_state *st, int64_t classes, int64_t step_ns) {
  if (lcbench_is_callgrind(st)) return (struct spread){classes < 3 ? classes : 3, 1000 * LC_MS};
  return (struct spread){classes, step_ns};
}

/* A deterministic scatter of i over [0, m): consecutive timers get unrelated deadlines, so the
 * heap sees inserts in no particular order. */
static int64_t scatter(int64_t i, int64_t m) { return (i * 7919 + 13) % m; }

static void count_cb(lc_timer *t, void *arg) {
  (void)t;
  (*(int64_t *)arg)++;
}

/* Create a loop and `count` inactive timers calling count_cb(counter). Returns 0 or fails st. */
static int make_timers(lcbench_state *st, const struct lc_backend *b, int64_t count,
                       int64_t *counter, lc_loop **loop, lc_timer ***timers) {
  int rc = b->loop_new(loop);
  if (rc < 0) {
    lcbench_fail(st, "loop_new: %s", strerror(-rc));
    return rc;
  }
  *timers = calloc((size_t)count, sizeof **timers);
  if (!*timers) {
    b->loop_free(*loop);
    lcbench_fail(st, "out of memory");
    return -ENOMEM;
  }
  for (int64_t i = 0; i < count; i++) {
    rc = b->timer_new(*loop, count_cb, counter, &(*timers)[i]);
    if (rc < 0) {
      for (int64_t j = 0; j < i; j++) b->timer_free((*timers)[j]);
      free(*timers);
      b->loop_free(*loop);
      lcbench_fail(st, "timer_new: %s", strerror(-rc));
      return rc;
    }
  }
  return 0;
}

static void free_timers(const struct lc_backend *b, lc_loop *loop, lc_timer **timers,
                        int64_t count) {
  for (int64_t i = 0; i < count; i++) b->timer_free(timers[i]);
  free(timers);
  b->loop_free(loop);
}

/* ---- loop.timer_churn: start then stop every one of 100,000 timers -------------------- */

static void bm_timer_churn(lcbench_state *st, void *arg) {
  const struct lc_backend *b = arg;
  int64_t count = timer_count(st), fired = 0;
  lc_loop *loop;
  lc_timer **t;
  if (make_timers(st, b, count, &fired, &loop, &t) < 0) return;
  /* Far deadlines (10 s and more): none fires, the heap holds them all. */
  struct spread sp = lcbench_is_callgrind(st) ? (struct spread){1000, 1000 * LC_MS}
                                              : (struct spread){100000, 10 * LC_US};
  int64_t n;
  int rc = 0;
  while (rc == 0 && lcbench_next_batch(st, &n)) {
    for (int64_t k = 0; k < n && rc == 0; k++) {
      for (int64_t i = 0; i < count && rc == 0; i++)
        rc = b->timer_start(t[i], 10000 * LC_MS + scatter(i, sp.classes) * sp.step_ns, 0);
      for (int64_t i = 0; i < count && rc == 0; i++) rc = b->timer_stop(t[i]);
    }
  }
  if (rc < 0) lcbench_fail(st, "timer_start/stop: %s", strerror(-rc));
  else if (fired != 0) lcbench_fail(st, "%lld stopped timers fired", (long long)fired);
  else lcbench_set_items(st, lcbench_iterations(st) * count);
  free_timers(b, loop, t, count);
}

/* ---- loop.timer_dispatch: 100,000 timers with spread deadlines, all firing -------------- */

static void bm_timer_dispatch(lcbench_state *st, void *arg) {
  const struct lc_backend *b = arg;
  int64_t count = timer_count(st), fired = 0;
  lc_loop *loop;
  lc_timer **t;
  if (make_timers(st, b, count, &fired, &loop, &t) < 0) return;
  /* Timed: deadlines 0..10 ms after the start, 1000 distinct. */
  struct spread sp = timer_spread(st, 1000, 10 * LC_US);
  const int64_t spread_ns = (sp.classes - 1) * sp.step_ns;
  int64_t n;
  int rc = 0;
  while (rc == 0 && lcbench_next_batch(st, &n)) {
    for (int64_t k = 0; k < n && rc == 0; k++) {
      fired = 0;
      for (int64_t i = 0; i < count && rc == 0; i++)
        rc = b->timer_start(t[i], scatter(i, sp.classes) * sp.step_ns, 0);
      /* Let every deadline pass (units are rounded up to at most 1 ms) so one loop iteration
       * dispatches them all: the figure is the cost of the heap, not of waiting, and the
       * instruction count under callgrind does not depend on the clock. Measured from the end
       * of the starts: a backend that reads the clock live at each start (the reference) has
       * deadlines up to the starts' own duration later, which under callgrind exceeded the old
       * 2 ms margin now and then and left a timer for a second iteration. */
      lcbench_pause(st);
      bench_sleep_until(lc_clock_ns() + spread_ns + 2 * LC_MS);
      lcbench_resume(st);
      while (rc == 0 && fired < count) {
        rc = b->run(loop, LC_RUN_DEFAULT);
        if (rc == 0 && fired < count) rc = -ETIME; /* the loop went idle early */
        if (rc > 0) rc = 0;
      }
    }
  }
  if (rc == -ETIME)
    lcbench_fail(st, "run returned idle with %lld of %lld timers fired", (long long)fired,
                 (long long)count);
  else if (rc < 0) lcbench_fail(st, "timer_start/run: %s", strerror(-rc));
  else lcbench_set_items(st, lcbench_iterations(st) * count);
  free_timers(b, loop, t, count);
}

/* ---- loop.pingpong/pairs:P: one byte bouncing on each of P socketpairs ------------------ */

struct pp;
struct pp_end {
  struct pp *pp;
  int fd;
  int is_a; /* the A end counts round trips and sends the next ping */
  lc_io *io;
};
struct pp {
  const struct lc_backend *b;
  int64_t done, launched, target;
  int err; /* first errno seen in a callback */
};

static void pp_cb(lc_io *io, int fd, unsigned revents, void *arg) {
  (void)io;
  (void)revents;
  struct pp_end *e = arg;
  struct pp *pp = e->pp;
  char c;
  ssize_t r = read(fd, &c, 1);
  if (r != 1) {
    if (r < 0 && errno == EAGAIN) return;
    if (!pp->err) pp->err = r < 0 ? errno : EPIPE;
    return;
  }
  if (e->is_a) {
    pp->done++;
    if (pp->launched >= pp->target) return; /* this pair rests until the next batch */
    pp->launched++;
  }
  if (write(fd, &c, 1) != 1 && !pp->err) pp->err = errno;
}

static void bm_pingpong(lcbench_state *st, void *arg) {
  const struct lc_backend *b = arg;
  int64_t pairs = lcbench_arg(st);
  struct pp pp = {.b = b};
  struct pp_end *ends = calloc((size_t)pairs * 2, sizeof *ends);
  lc_loop *loop = NULL;
  int rc = ends ? b->loop_new(&loop) : -ENOMEM;
  int64_t made = 0; /* ends with an fd and a watcher */
  for (int64_t p = 0; rc == 0 && p < pairs; p++) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0) {
      rc = -errno;
      break;
    }
    for (int k = 0; k < 2; k++) {
      struct pp_end *e = &ends[made];
      *e = (struct pp_end){.pp = &pp, .fd = sv[k], .is_a = k == 0};
      made++;
      rc = b->io_new(loop, e->fd, pp_cb, e, &e->io);
      if (rc == 0) rc = b->io_start(e->io, LC_READABLE);
      if (rc < 0) break;
    }
  }
  if (rc < 0) {
    lcbench_fail(st, "setting up %lld socketpairs: %s", (long long)pairs, strerror(-rc));
  } else {
    int64_t n;
    while (rc == 0 && lcbench_next_batch(st, &n)) {
      pp.target += n * pairs;
      for (int64_t p = 0; p < pairs && rc == 0; p++) { /* one ping in flight per pair */
        pp.launched++;
        if (write(ends[2 * p].fd, "x", 1) != 1) rc = -errno;
      }
      while (rc == 0 && pp.done < pp.target && !pp.err) {
        rc = b->run(loop, LC_RUN_ONCE);
        if (rc > 0) rc = 0;
        else if (rc == 0) rc = -ETIME; /* nothing active: watchers were lost */
      }
      if (pp.err) rc = -pp.err;
    }
    if (rc < 0)
      lcbench_fail(st, "ping-pong: %s", rc == -ETIME ? "the loop went idle" : strerror(-rc));
    else lcbench_set_items(st, pp.done);
  }
  for (int64_t i = 0; i < made; i++) {
    if (ends[i].io) b->io_free(ends[i].io);
    close(ends[i].fd);
  }
  if (loop) b->loop_free(loop);
  free(ends);
}

/* ---- loop.wakeup_roundtrip: two loops on two threads bouncing wakeups ----------------- */

struct wrt {
  const struct lc_backend *b;
  lc_loop *main_loop;
  lc_wakeup *main_wk; /* owned by the benchmark thread */
  lc_wakeup *peer_wk; /* owned by the peer thread */
  atomic_int quit;
  int64_t count, target;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int peer_state; /* 0 starting, 1 ready, -errno failed */
  atomic_int send_err;
};

static void wrt_main_cb(lc_wakeup *w, void *arg) {
  (void)w;
  struct wrt *x = arg;
  x->count++;
  if (x->count >= x->target) {
    x->b->stop(x->main_loop);
    return;
  }
  int rc = x->b->wakeup_send(x->peer_wk);
  if (rc < 0) {
    atomic_store(&x->send_err, rc);
    x->b->stop(x->main_loop);
  }
}

struct wrt_peer_arg {
  struct wrt *x;
  lc_loop *loop;
};

/* On the peer thread: bounce the wakeup back, or stop the peer loop when asked to quit. */
static void wrt_peer_cb(lc_wakeup *w, void *arg) {
  struct wrt_peer_arg *pa = arg;
  struct wrt *x = pa->x;
  (void)w;
  if (atomic_load(&x->quit)) {
    x->b->stop(pa->loop);
    return;
  }
  int rc = x->b->wakeup_send(x->main_wk);
  if (rc < 0) atomic_store(&x->send_err, rc);
}

static void *wrt_peer(void *arg) {
  struct wrt *x = arg;
  const struct lc_backend *b = x->b;
  struct wrt_peer_arg pa = {.x = x};
  int rc = b->loop_new(&pa.loop);
  if (rc == 0) {
    rc = b->wakeup_new(pa.loop, wrt_peer_cb, &pa, &x->peer_wk);
    if (rc < 0) b->loop_free(pa.loop);
  }
  pthread_mutex_lock(&x->mu);
  x->peer_state = rc < 0 ? rc : 1;
  pthread_cond_signal(&x->cv);
  pthread_mutex_unlock(&x->mu);
  if (rc < 0) return NULL;
  while (!atomic_load(&x->quit)) {
    rc = b->run(pa.loop, LC_RUN_DEFAULT);
    if (rc < 0) {
      atomic_store(&x->send_err, rc);
      break;
    }
  }
  /* The benchmark thread no longer sends once quit is set and it has joined us. */
  return pa.loop;
}

static void bm_wakeup_roundtrip(lcbench_state *st, void *arg) {
  const struct lc_backend *b = arg;
  struct wrt x = {.b = b};
  pthread_mutex_init(&x.mu, NULL);
  pthread_cond_init(&x.cv, NULL);
  int rc = b->loop_new(&x.main_loop);
  if (rc == 0) {
    rc = b->wakeup_new(x.main_loop, wrt_main_cb, &x, &x.main_wk);
    if (rc < 0) b->loop_free(x.main_loop);
  }
  if (rc < 0) {
    lcbench_fail(st, "loop/wakeup_new: %s", strerror(-rc));
    goto out;
  }
  pthread_t th;
  rc = -pthread_create(&th, NULL, wrt_peer, &x);
  if (rc == 0) {
    pthread_mutex_lock(&x.mu);
    while (x.peer_state == 0) pthread_cond_wait(&x.cv, &x.mu);
    pthread_mutex_unlock(&x.mu);
    if (x.peer_state < 0) {
      rc = x.peer_state;
      pthread_join(th, NULL);
    }
  }
  if (rc < 0) {
    lcbench_fail(st, "starting the peer loop: %s", strerror(-rc));
  } else {
    int64_t n;
    while (rc == 0 && lcbench_next_batch(st, &n)) {
      x.target = x.count + n;
      rc = b->wakeup_send(x.peer_wk);
      while (rc == 0 && x.count < x.target && !atomic_load(&x.send_err)) {
        rc = b->run(x.main_loop, LC_RUN_DEFAULT);
        if (rc > 0) rc = 0;
      }
      if (atomic_load(&x.send_err)) rc = atomic_load(&x.send_err);
    }
    if (rc < 0) lcbench_fail(st, "wakeup round trip: %s", strerror(-rc));
    else lcbench_set_items(st, x.count);
    atomic_store(&x.quit, 1);
    b->wakeup_send(x.peer_wk);
    void *peer_loop = NULL;
    pthread_join(th, &peer_loop);
    /* The peer thread is gone, so its loop and wakeup are free to release here. */
    if (peer_loop) {
      b->wakeup_free(x.peer_wk);
      b->loop_free(peer_loop);
    }
  }
  b->wakeup_free(x.main_wk);
  b->loop_free(x.main_loop);
out:
  pthread_cond_destroy(&x.cv);
  pthread_mutex_destroy(&x.mu);
}

/* ---- loop.wakeup_storm: several threads sending to one loop ----------------------------- */

#define STORM_THREADS 4

struct storm {
  const struct lc_backend *b;
  lc_loop *loop;
  lc_wakeup *wk;
  atomic_int finished; /* senders that are about to make their last send */
  atomic_int send_err;
  int64_t callbacks;
};

struct storm_sender {
  struct storm *s;
  int64_t sends;
};

static void *storm_send(void *arg) {
  struct storm_sender *ss = arg;
  struct storm *s = ss->s;
  for (int64_t i = 0; i < ss->sends; i++) {
    /* Announce the end before the last send: the callback that follows that send is then
     * guaranteed to see every sender finished. */
    if (i == ss->sends - 1) atomic_fetch_add(&s->finished, 1);
    int rc = s->b->wakeup_send(s->wk);
    if (rc < 0) atomic_store(&s->send_err, rc);
  }
  return NULL;
}

static void storm_cb(lc_wakeup *w, void *arg) {
  (void)w;
  struct storm *s = arg;
  s->callbacks++;
  if (atomic_load(&s->finished) == STORM_THREADS || atomic_load(&s->send_err)) s->b->stop(s->loop);
}

static void bm_wakeup_storm(lcbench_state *st, void *arg) {
  const struct lc_backend *b = arg;
  struct storm s = {.b = b};
  int rc = b->loop_new(&s.loop);
  if (rc == 0) {
    rc = b->wakeup_new(s.loop, storm_cb, &s, &s.wk);
    if (rc < 0) b->loop_free(s.loop);
  }
  if (rc < 0) {
    lcbench_fail(st, "loop/wakeup_new: %s", strerror(-rc));
    return;
  }
  int64_t n, sends = 0;
  while (rc == 0 && lcbench_next_batch(st, &n)) {
    pthread_t th[STORM_THREADS];
    struct storm_sender ss[STORM_THREADS];
    atomic_store(&s.finished, 0);
    int started = 0;
    for (int i = 0; i < STORM_THREADS; i++) {
      ss[i] = (struct storm_sender){.s = &s, .sends = n / STORM_THREADS};
      if (i < n % STORM_THREADS) ss[i].sends++;
      if (ss[i].sends == 0) ss[i].sends = 1; /* every sender makes its final send */
      sends += ss[i].sends;
      rc = -pthread_create(&th[i], NULL, storm_send, &ss[i]);
      if (rc < 0) break;
      started++;
    }
    if (rc < 0) /* senders that never started count as finished */
      atomic_fetch_add(&s.finished, STORM_THREADS - started);
    for (;;) { /* storm_cb stops the loop once every sender is done */
      int r = b->run(s.loop, LC_RUN_DEFAULT);
      if (r < 0) {
        rc = r;
        break;
      }
      if (atomic_load(&s.finished) == STORM_THREADS || atomic_load(&s.send_err)) break;
    }
    for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
    if (rc == 0 && atomic_load(&s.send_err)) rc = atomic_load(&s.send_err);
  }
  if (rc < 0) {
    lcbench_fail(st, "wakeup storm: %s", strerror(-rc));
  } else {
    lcbench_set_items(st, sends);
    lcbench_counter(st, "callbacks", (double)s.callbacks, LCBENCH_COUNTER_RATE);
    /* > 1 means sends were coalesced into fewer callbacks (allowed by the contract). */
    lcbench_counter(st, "sends_per_callback", s.callbacks ? (double)sends / (double)s.callbacks : 0,
                    LCBENCH_COUNTER_PLAIN);
  }
  b->wakeup_free(s.wk);
  b->loop_free(s.loop);
}

/* ---- loop.idle_iteration: one run(NOWAIT) with nothing ready --------------------------- */

static void never_cb(lc_timer *t, void *arg) {
  (void)t;
  (*(int *)arg) = 1;
}

static void never_io_cb(lc_io *io, int fd, unsigned revents, void *arg) {
  (void)io;
  (void)fd;
  (void)revents;
  (*(int *)arg) = 1;
}

static void bm_idle_iteration(lcbench_state *st, void *arg) {
  const struct lc_backend *b = arg;
  lc_loop *loop;
  lc_timer *t = NULL;
  lc_io *io = NULL;
  int called = 0, sv[2] = {-1, -1};
  int rc = b->loop_new(&loop);
  if (rc < 0) {
    lcbench_fail(st, "loop_new: %s", strerror(-rc));
    return;
  }
  /* Something active so the loop really polls: a far timer and, if the backend has I/O, a
   * watcher on a quiet socket. */
  rc = b->timer_new(loop, never_cb, &called, &t);
  if (rc == 0) rc = b->timer_start(t, 3600 * 1000 * LC_MS, 0);
  if (rc == 0 && b->io_new) {
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0) rc = -errno;
    if (rc == 0) rc = b->io_new(loop, sv[0], never_io_cb, &called, &io);
    if (rc == 0) rc = b->io_start(io, LC_READABLE);
  }
  if (rc < 0) {
    lcbench_fail(st, "setup: %s", strerror(-rc));
  } else {
    int64_t n;
    while (rc >= 0 && lcbench_next_batch(st, &n))
      for (int64_t i = 0; i < n && rc >= 0; i++) rc = b->run(loop, LC_RUN_NOWAIT);
    if (rc < 0) lcbench_fail(st, "run(NOWAIT): %s", strerror(-rc));
    else if (rc == 0) lcbench_fail(st, "run(NOWAIT) reported nothing active");
    else if (called) lcbench_fail(st, "a callback ran although nothing was ready");
  }
  if (io) b->io_free(io);
  if (t) b->timer_free(t);
  if (sv[0] >= 0) {
    close(sv[0]);
    close(sv[1]);
  }
  b->loop_free(loop);
}

/* ---- Registration ---------------------------------------------------------------------- */

void bench_loop_register(const struct lc_backend *b) {
  static const int64_t pairs[] = {1, 100};
  void *arg = (void *)(uintptr_t)b; /* the bodies only read through it */
  lcbench_register(&(lcbench_spec){.name = "loop.timer_churn",
                                   .fn = bm_timer_churn,
                                   .arg = arg,
                                   .unit = 'm',
                                   .batch_max = 1,
                                   .deterministic = 1});
  lcbench_register(&(lcbench_spec){.name = "loop.timer_dispatch",
                                   .fn = bm_timer_dispatch,
                                   .arg = arg,
                                   .unit = 'm',
                                   .batch_max = 1,
                                   .deterministic = 1});
  if (b->io_new && b->io_start && b->io_stop && b->io_free)
    lcbench_register(&(lcbench_spec){.name = "loop.pingpong",
                                     .fn = bm_pingpong,
                                     .arg = arg,
                                     .arg_name = "pairs",
                                     .args = pairs,
                                     .nargs = 2,
                                     .unit = 'u',
                                     .batch_max = 1000});
  if (b->wakeup_new && b->wakeup_send && b->wakeup_free) {
    lcbench_register(&(lcbench_spec){.name = "loop.wakeup_roundtrip",
                                     .fn = bm_wakeup_roundtrip,
                                     .arg = arg,
                                     .unit = 'u',
                                     .batch_max = 10000});
    lcbench_register(&(lcbench_spec){.name = "loop.wakeup_storm",
                                     .fn = bm_wakeup_storm,
                                     .arg = arg,
                                     .unit = 'n',
                                     .batch_max = 200000});
  }
  if (b->caps & LC_CAP_NOWAIT) /* an idle iteration that does not block needs NOWAIT */
    lcbench_register(&(lcbench_spec){.name = "loop.idle_iteration",
                                     .fn = bm_idle_iteration,
                                     .arg = arg,
                                     .unit = 'n',
                                     .batch_max = 10000});
}
