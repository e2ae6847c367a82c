/* loop_timer.c: loop-contract tests for timers: order, never early, drift, stop, restart, scale.
 *
 * Every test here is one body run on every backend; clause ids refer to spec/loop-contract.tsv.
 * Timing assertions are bounds with a tolerance through lc_tol_ns(); the scenarios are built so
 * that a deviating backend misses the bound by far more than the tolerance (see each comment),
 * which keeps every verdict stable on a noisy machine.
 */
#include "lc_test.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Busy-wait for ns on the test's clock: a callback that "works" without yielding. */
static void spin_ns(int64_t ns) {
  int64_t end = lc_clock_ns() + ns;
  while (lc_clock_ns() < end) {
  }
}

/* ---- A keep-awake watcher: an always-writable socket --------------------------------------
 * While it is started, the loop never sleeps: every iteration polls, sees the socket writable,
 * refreshes its cached time and calls `hook` (if any). Timers are then checked every few
 * microseconds, so a timer fires as soon as the backend believes it is due. */
struct awake {
  lc_ctx *ctx;
  int sv[2];
  lc_io *io;
  void (*hook)(void *arg); /* called from every writable callback */
  void *hook_arg;
  int64_t spin_ns; /* extra busy time per iteration (forces per-iteration lateness) */
};

static void awake_cb(lc_io *io, int fd, unsigned revents, void *arg) {
  struct awake *a = arg;
  (void)io;
  (void)fd;
  (void)revents;
  if (a->spin_ns > 0) spin_ns(a->spin_ns);
  if (a->hook) a->hook(a->hook_arg);
}

static void awake_start(lc_ctx *ctx, lc_loop *loop, struct awake *a) {
  a->ctx = ctx;
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, a->sv) != 0)
    lc_fail(ctx, "socketpair: %s", strerror(errno));
  lc_assert_ok(ctx, ctx->b->io_new(loop, a->sv[0], awake_cb, a, &a->io));
  lc_assert_ok(ctx, ctx->b->io_start(a->io, LC_WRITABLE));
}

static void awake_free(struct awake *a) {
  a->ctx->b->io_free(a->io);
  a->io = NULL;
  close(a->sv[0]);
  close(a->sv[1]);
}

/* ==========================================================================================
 * loop.timer.order: timers started in scrambled order with distinct deadlines (3 ms apart)
 * fire in deadline order. A backend running them in start (or any other) order fails.
 * ======================================================================================== */

#define ORDER_N 8

struct order_state {
  int fired[ORDER_N];
  int nfired;
};
struct order_timer {
  struct order_state *st;
  int rank; /* position in deadline order */
};

static void order_cb(lc_timer *t, void *arg) {
  struct order_timer *ot = arg;
  (void)t;
  if (ot->st->nfired < ORDER_N) ot->st->fired[ot->st->nfired] = ot->rank;
  ot->st->nfired++;
}

LC_TEST(loop_timer_order, "loop.timer.order", "LOOP-TIMER-ORDER", 0, 5000) {
  static const int rank_by_start[ORDER_N] = {4, 0, 6, 2, 7, 1, 5, 3};
  const struct lc_backend *b = ctx->b;
  lc_loop *loop = lc_loop_new_or_fail(ctx);
  struct order_state st = {{0}, 0};
  struct order_timer ot[ORDER_N];
  lc_timer *t[ORDER_N];
  for (int i = 0; i < ORDER_N; i++) {
    ot[i] = (struct order_timer){&st, rank_by_start[i]};
    lc_assert_ok(ctx, b->timer_new(loop, order_cb, &ot[i], &t[i]));
  }
  for (int i = 0; i < ORDER_N; i++)
    lc_assert_ok(ctx, b->timer_start(t[i], (rank_by_start[i] + 1) * 3 * LC_MS, 0));
  int rc = b->run(loop, LC_RUN_DEFAULT);
  assert_int_equal(rc, 0);
  assert_int_equal(st.nfired, ORDER_N);
  for (int i = 0; i < ORDER_N; i++)
    if (st.fired[i] != i)
      lc_fail(ctx, "callback #%d was the timer of deadline rank %d (expected rank %d)", i,
              st.fired[i], i);
  for (int i = 0; i < ORDER_N; i++) b->timer_free(t[i]);
  lc_loop_free_or_fail(ctx, loop);
}

/* ==========================================================================================
 * loop.timer.never_early: 80 to 400 one-shot timers, one at a time, each with a different delay
 * between 3.05 and 3.95 ms, started at a different phase (0..4 ms after the previous one
 * fired), while an always-writable socket keeps the loop iterating. Each start calls
 * update_time() first, so a backend's per-iteration time cache cannot explain an early
 * callback: what remains is the deadline arithmetic and the clock's resolution. The elapsed
 * time from just before update_time()+timer_start() to the callback must be >= the delay.
 * A backend whose clock advances in steps of J (libuv truncates to 1 ms; a coarse kernel clock
 * ticks every 1-4 ms) computes deadline = (now rounded down to a step) + delay and so fires up
 * to one step early whenever the start phase inside the step exceeds (delay rounded up to a
 * step) - delay. Delays just below 4 ms keep that difference small for J = 1, 2 or 4 ms, so
 * roughly half (J = 1 ms) to most (J = 4 ms) of the timers fire early. A machine so busy that
 * every callback is delivered late can hide that (seen once in 3 runs with both cores burnt),
 * so the test stops after 80 timers only once it has seen an early one, and otherwise measures
 * 400 before calling the backend clean (within 4 s x multiplier; fewer clean ones are
 * inconclusive: SKIP).
 * ======================================================================================== */

#define NE_N 80 /* timers measured at least */
#define NE_MAX \
  400 /* ... and up to this many while none was early: on a machine busy enough to
                    * deliver every callback late, earliness hides in the lateness, so a clean
                    * verdict needs many more samples (~1.6 s) than a dirty one */

#define NE_BUDGET (4 * LC_S) /* ... within this time x multiplier (400 take ~2.2 s when quiet) */

/* Done: enough timers measured and one was early, or NE_MAX were clean, or the time budget ran
 * out. A starved process (seen with four CPU hogs on 2 cores: 8% of a CPU, runnable 92% of the
 * time) measures only a few timers in it, every one late; lateness hides earliness (libuv's
 * 1 ms early firing stayed hidden in 206 timers that way), so fewer than NE_MAX clean ones are
 * no verdict (SKIP: inconclusive), while one early callback is evidence at any count. */
static int ne_done(int i, int early, int64_t budget_end) {
  return i >= NE_MAX || (i >= NE_N && early > 0) || lc_clock_ns() >= budget_end;
}

struct ne_state {
  lc_ctx *ctx;
  lc_loop *loop;
  lc_timer *probe;
  struct awake awake;
  int i;               /* current timer */
  int armed;           /* probe started, waiting for its callback */
  int64_t next_start;  /* when the keep-awake hook arms the next probe */
  int64_t budget_end;  /* NE_BUDGET after the first start */
  int64_t start;       /* lc_clock_ns() just before update_time + timer_start */
  int64_t delay;       /* its delay */
  int early;           /* count of early callbacks (beyond the tolerance) */
  int64_t worst_early; /* largest (delay - elapsed) seen */
  int worst_i;
  int err; /* a timer_start error, reported after run */
};

static int64_t ne_delay(int i) { return 3050 * LC_US + (int64_t)((i * 613) % 900) * LC_US; }
static int64_t ne_phase(int i) { return (int64_t)((i * 3793) % 4000) * LC_US; }

static void ne_hook(void *arg) {
  struct ne_state *st = arg;
  if (st->armed) return;
  if (ne_done(st->i, st->early, st->budget_end)) {
    st->ctx->b->io_stop(st->awake.io); /* the budget ran out between timers: run returns */
    return;
  }
  if (lc_clock_ns() < st->next_start) return;
  st->delay = ne_delay(st->i);
  st->start = lc_clock_ns();
  st->ctx->b->update_time(st->loop);
  int rc = st->ctx->b->timer_start(st->probe, st->delay, 0);
  if (rc != 0) {
    st->err = rc;
    st->i = NE_MAX;
    st->ctx->b->io_stop(st->awake.io);
    return;
  }
  st->armed = 1;
}

static void ne_timer_cb(lc_timer *t, void *arg) {
  struct ne_state *st = arg;
  int64_t elapsed = lc_clock_ns() - st->start;
  (void)t;
  int64_t early = st->delay - elapsed;
  if (early > lc_tol_ns(st->ctx, 10 * LC_US)) st->early++;
  if (early > st->worst_early) {
    st->worst_early = early;
    st->worst_i = st->i;
  }
  st->armed = 0;
  st->i++;
  st->next_start = lc_clock_ns() + ne_phase(st->i);
  if (ne_done(st->i, st->early, st->budget_end))
    st->ctx->b->io_stop(st->awake.io); /* nothing active: run returns */
}

LC_TEST(loop_timer_never_early, "loop.timer.never_early", "LOOP-TIMER-NEVER-EARLY", LC_NEEDS_IO,
        10000) {
  const struct lc_backend *b = ctx->b;
  struct ne_state st;
  memset(&st, 0, sizeof st);
  st.ctx = ctx;
  st.loop = lc_loop_new_or_fail(ctx);
  st.worst_early = INT64_MIN;
  lc_assert_ok(ctx, b->timer_new(st.loop, ne_timer_cb, &st, &st.probe));
  st.awake.hook = ne_hook;
  st.awake.hook_arg = &st;
  awake_start(ctx, st.loop, &st.awake);
  st.next_start = lc_clock_ns();
  st.budget_end = st.next_start + lc_tol_ns(ctx, NE_BUDGET);
  int rc = b->run(st.loop, LC_RUN_DEFAULT);
  if (st.err) lc_fail(ctx, "timer_start returned %d (%s)", st.err, lc_strerr(st.err));
  assert_int_equal(rc, 0);
  assert_true(ne_done(st.i, st.early, st.budget_end));
  lc_note(ctx,
          "%d/%d timers early by more than %lld ns; worst: timer %d (delay %lld ns) %lld ns "
          "%s",
          st.early, st.i, (long long)lc_tol_ns(ctx, 10 * LC_US), st.worst_i,
          (long long)ne_delay(st.worst_i),
          (long long)(st.worst_early < 0 ? -st.worst_early : st.worst_early),
          st.worst_early > 0 ? "early" : "late (none early)");
  if (st.early > 0)
    lc_fail(ctx, "%d of %d timers fired early; worst by %lld ns (delay %lld ns)", st.early, st.i,
            (long long)st.worst_early, (long long)ne_delay(st.worst_i));
  b->timer_free(st.probe);
  awake_free(&st.awake);
  lc_loop_free_or_fail(ctx, st.loop);
  if (st.i < NE_MAX) {
    char why[160];
    snprintf(why, sizeof why,
             "inconclusive: the machine was too busy, %d of %d timers measured in %.1f s (none "
             "early)",
             st.i, NE_MAX, (double)lc_tol_ns(ctx, NE_BUDGET) / LC_S);
    lc_skip(ctx, why);
  }
}

/* ==========================================================================================
 * loop.timer.never_early_stale: a timer callback busy-waits 40 ms, then starts a 20 ms timer
 * (no update_time) while the loop is kept awake. The 20 ms must elapse from the call. A backend
 * that measures the delay from the time it cached at the start of the iteration believes the
 * timer is already due and fires it ~20 ms early; the tolerance is microseconds.
 * ======================================================================================== */

#define STALE_ROUNDS 3
#define STALE_BUSY (40 * LC_MS)
#define STALE_DELAY (20 * LC_MS)

struct stale_state {
  lc_ctx *ctx;
  lc_loop *ctx_loop;
  lc_timer *busy, *probe;
  struct awake awake;
  int round;
  int64_t start;
  int64_t elapsed[STALE_ROUNDS];
  int64_t stale[STALE_ROUNDS]; /* the delay a timer measured from the loop's cached time gets */
  int err;
};

static void stale_busy_cb(lc_timer *t, void *arg) {
  struct stale_state *st = arg;
  (void)t;
  spin_ns(STALE_BUSY);
  int64_t cached = st->ctx->b->now(st->ctx_loop);
  st->start = lc_clock_ns();
  int64_t from_cache = cached + STALE_DELAY - st->start;
  st->stale[st->round] = from_cache > 0 ? from_cache : 0;
  int rc = st->ctx->b->timer_start(st->probe, STALE_DELAY, 0);
  if (rc != 0) {
    st->err = rc;
    st->ctx->b->io_stop(st->awake.io);
  }
}

static void stale_probe_cb(lc_timer *t, void *arg) {
  struct stale_state *st = arg;
  (void)t;
  st->elapsed[st->round++] = lc_clock_ns() - st->start;
  if (st->round < STALE_ROUNDS) {
    int rc = st->ctx->b->timer_start(st->busy, 1 * LC_MS, 0);
    if (rc == 0) return;
    st->err = rc;
  }
  st->ctx->b->io_stop(st->awake.io);
}

LC_TEST(loop_timer_never_early_stale, "loop.timer.never_early_stale",
        "LOOP-TIMER-NEVER-EARLY-STALE", LC_NEEDS_IO, 10000) {
  const struct lc_backend *b = ctx->b;
  struct stale_state st;
  memset(&st, 0, sizeof st);
  st.ctx = ctx;
  lc_loop *loop = lc_loop_new_or_fail(ctx);
  st.ctx_loop = loop;
  lc_assert_ok(ctx, b->timer_new(loop, stale_busy_cb, &st, &st.busy));
  lc_assert_ok(ctx, b->timer_new(loop, stale_probe_cb, &st, &st.probe));
  awake_start(ctx, loop, &st.awake);
  lc_assert_ok(ctx, b->timer_start(st.busy, 1 * LC_MS, 0));
  int rc = b->run(loop, LC_RUN_DEFAULT);
  if (st.err) lc_fail(ctx, "timer_start returned %d (%s)", st.err, lc_strerr(st.err));
  assert_int_equal(rc, 0);
  assert_int_equal(st.round, STALE_ROUNDS);
  int64_t min = INT64_MAX, stale = 0;
  for (int i = 0; i < STALE_ROUNDS; i++)
    if (st.elapsed[i] < min) {
      min = st.elapsed[i];
      stale = st.stale[i];
    }
  lc_note(ctx,
          "a %lld ms timer started after a %lld ms callback fired after %lld us (shortest "
          "of %d)",
          (long long)(STALE_DELAY / LC_MS), (long long)(STALE_BUSY / LC_MS),
          (long long)(min / LC_US), STALE_ROUNDS);
  /* Name the fault by what was observed: a timer measured from the loop's cached time
   * (now() when it was started, stale by the 40 ms callback) fires at cached + delay, i.e.
   * about at once; a uniformly early timer fires early by some fraction of its delay. */
  if (min < STALE_DELAY - lc_tol_ns(ctx, 10 * LC_US)) {
    if (min - stale < lc_tol_ns(ctx, 2 * LC_MS) && stale - min < lc_tol_ns(ctx, 2 * LC_MS))
      lc_fail(ctx,
              "a %lld ns timer started at the end of a %lld ms callback fired after %lld "
              "ns (%lld ns early), when now() + delay at the call said %lld ns: the delay was "
              "measured from the loop's cached time, stale by the callback",
              (long long)STALE_DELAY, (long long)(STALE_BUSY / LC_MS), (long long)min,
              (long long)(STALE_DELAY - min), (long long)stale);
    lc_fail(ctx,
            "a %lld ns timer started at the end of a %lld ms callback fired early, after "
            "%lld ns (%lld ns early); not explained by the loop's cached time, by which it was "
            "due after %lld ns",
            (long long)STALE_DELAY, (long long)(STALE_BUSY / LC_MS), (long long)min,
            (long long)(STALE_DELAY - min), (long long)stale);
  }
  b->timer_free(st.busy);
  b->timer_free(st.probe);
  awake_free(&st.awake);
  lc_loop_free_or_fail(ctx, loop);
}

/* ==========================================================================================
 * loop.timer.no_drift: a repeating 40 ms timer runs 12 ticks. After each tick a one-shot
 * "blocker" timer is started for 35 ms later; its callback busy-waits 15 ms, so the next tick
 * falls due in the middle of a running callback and is noticed ~10 ms late.
 *   - A backend that re-arms from the time the tick ran (next = now + period) is late by those
 *     ~10 ms on every tick: every interval between callbacks is ~50 ms.
 *   - A drift-free backend (next = previous deadline + period) keeps its deadlines; the
 *     blocker of a late tick starts after the next deadline, so ticks alternate late and on
 *     time, and every two consecutive intervals add up to two periods.
 * The verdict is the lateness gained per period over each window of two periods (tick i to
 * tick i+2: a late and an on-time tick in each when drift-free), the median of the 10
 * windows: ~+10 ms when drifting (a stall only adds to it), ~0 when drift-free; threshold
 * 5 ms. A stall of the machine touches at most the two windows around it, and so does a stall
 * longer than a period after which libev and libevent re-base the timer on "now" (all later
 * ticks shift by the stall, but each window after it is whole); the median ignores up to 4.
 * (A slope over all pairs of ticks did not: a re-base in the middle of the run shifts more
 * than half of the pairs, and a 50 ms wait for a CPU failed libevent.) The 40 ms period keeps
 * normal lateness (10 ms) far below a period. Timers only (no I/O), so it runs on every
 * backend. All durations scale with the multiplier.
 * ======================================================================================== */

#define DRIFT_TICKS 12

struct drift_state {
  lc_ctx *ctx;
  lc_timer *tick, *blocker;
  int64_t period, lead, busy;
  int ticks;
  int err;
  int64_t at[DRIFT_TICKS];
};

static void drift_tick_cb(lc_timer *t, void *arg) {
  struct drift_state *st = arg;
  st->at[st->ticks++] = lc_clock_ns();
  /* The run ends by freeing both timers, not by timer_stop (not what this test checks). */
  if (st->ticks >= DRIFT_TICKS) {
    st->ctx->b->timer_free(st->blocker);
    st->blocker = NULL;
    st->ctx->b->timer_free(t);
    st->tick = NULL;
    return;
  }
  int rc = st->ctx->b->timer_start(st->blocker, st->period - st->lead, 0);
  if (rc) {
    st->err = rc;
    st->ctx->b->timer_free(t);
    st->tick = NULL;
  }
}
static void drift_blocker_cb(lc_timer *t, void *arg) {
  struct drift_state *st = arg;
  (void)t;
  spin_ns(st->busy);
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

LC_TEST(loop_timer_no_drift, "loop.timer.no_drift", "LOOP-TIMER-NO-DRIFT", 0, 10000) {
  const struct lc_backend *b = ctx->b;
  struct drift_state st;
  memset(&st, 0, sizeof st);
  st.ctx = ctx;
  st.period = lc_tol_ns(ctx, 40 * LC_MS);
  st.lead = lc_tol_ns(ctx, 5 * LC_MS);
  st.busy = lc_tol_ns(ctx, 15 * LC_MS);
  const int64_t threshold = lc_tol_ns(ctx, 5 * LC_MS);
  lc_loop *loop = lc_loop_new_or_fail(ctx);
  lc_assert_ok(ctx, b->timer_new(loop, drift_tick_cb, &st, &st.tick));
  lc_assert_ok(ctx, b->timer_new(loop, drift_blocker_cb, &st, &st.blocker));
  b->update_time(loop);
  int64_t wait0 = lc_cpu_wait_ns();
  lc_assert_ok(ctx, b->timer_start(st.tick, st.period, st.period));
  int rc = b->run(loop, LC_RUN_DEFAULT);
  int64_t waited = lc_cpu_wait_ns() - wait0;
  if (st.err) lc_fail(ctx, "timer_start returned %d (%s)", st.err, lc_strerr(st.err));
  assert_int_equal(rc, 0);
  assert_int_equal(st.ticks, DRIFT_TICKS);
  /* Excess per period over each two-period window, median of the windows (see above). */
  enum { NWIN = DRIFT_TICKS - 2 };
  int64_t win[NWIN];
  for (int i = 0; i < NWIN; i++) win[i] = (st.at[i + 2] - st.at[i] - 2 * st.period) / 2;
  qsort(win, NWIN, sizeof *win, cmp_i64);
  int64_t med = win[NWIN / 2];
  int64_t mean = (st.at[DRIFT_TICKS - 1] - st.at[0]) / (DRIFT_TICKS - 1) - st.period;
  char ivals[DRIFT_TICKS * 12] = "";
  for (int i = 1, off = 0; i < DRIFT_TICKS && off < (int)sizeof ivals; i++)
    off += snprintf(ivals + off, sizeof ivals - (size_t)off, "%s%lld", i > 1 ? " " : "",
                    (long long)((st.at[i] - st.at[i - 1]) / LC_US));
  lc_note(ctx,
          "%d ticks of %lld us with a %lld us busy callback before each: excess per period "
          "%+lld us (median over the %d two-period windows; min %+lld, max %+lld), mean %+lld "
          "us; intervals (us) %s; waited %lld us for a CPU",
          DRIFT_TICKS, (long long)(st.period / LC_US), (long long)(st.busy / LC_US),
          (long long)(med / LC_US), NWIN, (long long)(win[0] / LC_US),
          (long long)(win[NWIN - 1] / LC_US), (long long)(mean / LC_US), ivals,
          (long long)(waited / LC_US));
  if (med > threshold)
    lc_fail(ctx,
            "repeating timer drifts: a %lld us repeating timer ticked every %lld us "
            "(median over two-period windows, %+lld us, threshold %lld us) when each tick was "
            "noticed late: the lateness of each tick carries over to the next deadline",
            (long long)(st.period / LC_US), (long long)((st.period + med) / LC_US),
            (long long)(med / LC_US), (long long)(threshold / LC_US));
  if (med < -threshold)
    lc_fail(ctx,
            "a %lld us repeating timer ticked every %lld us (median over two-period "
            "windows): ticks come early",
            (long long)(st.period / LC_US), (long long)((st.period + med) / LC_US));
  if (st.tick) b->timer_free(st.tick);
  if (st.blocker) b->timer_free(st.blocker);
  lc_loop_free_or_fail(ctx, loop);
}

/* ==========================================================================================
 * loop.timer.stop_before_due: a timer stopped by another callback before its deadline, and a
 * timer stopped right after it was started, never fire (checked 20 ms past their deadlines).
 * ======================================================================================== */

struct stopdue_state {
  lc_ctx *ctx;
  lc_timer *victim;
  int victim_fired, stopped_fired, stopper_fired;
  int stop_rc;
};

static void stopdue_victim_cb(lc_timer *t, void *arg) {
  (void)t;
  ((struct stopdue_state *)arg)->victim_fired++;
}
static void stopdue_stopped_cb(lc_timer *t, void *arg) {
  (void)t;
  ((struct stopdue_state *)arg)->stopped_fired++;
}
static void stopdue_stopper_cb(lc_timer *t, void *arg) {
  struct stopdue_state *st = arg;
  (void)t;
  st->stopper_fired++;
  st->stop_rc = st->ctx->b->timer_stop(st->victim);
}
static void stopdue_guard_cb(lc_timer *t, void *arg) {
  (void)t;
  (void)arg;
}

LC_TEST(loop_timer_stop_before_due, "loop.timer.stop_before_due", "LOOP-TIMER-STOP", 0, 5000) {
  const struct lc_backend *b = ctx->b;
  struct stopdue_state st;
  memset(&st, 0, sizeof st);
  st.ctx = ctx;
  lc_loop *loop = lc_loop_new_or_fail(ctx);
  lc_timer *stopper, *stopped, *guard;
  lc_assert_ok(ctx, b->timer_new(loop, stopdue_victim_cb, &st, &st.victim));
  lc_assert_ok(ctx, b->timer_new(loop, stopdue_stopped_cb, &st, &stopped));
  lc_assert_ok(ctx, b->timer_new(loop, stopdue_stopper_cb, &st, &stopper));
  lc_assert_ok(ctx, b->timer_new(loop, stopdue_guard_cb, &st, &guard));
  lc_assert_ok(ctx, b->timer_start(st.victim, 30 * LC_MS, 0));
  lc_assert_ok(ctx, b->timer_start(stopper, 5 * LC_MS, 0));
  lc_assert_ok(ctx, b->timer_start(stopped, 10 * LC_MS, 0));
  lc_assert_ok(ctx, b->timer_stop(stopped));
  lc_assert_ok(ctx, b->timer_stop(stopped)); /* stopping an inactive timer is a no-op */
  int rc = b->run(loop, LC_RUN_DEFAULT);
  assert_int_equal(rc, 0);
  assert_int_equal(st.stopper_fired, 1);
  assert_int_equal(st.stop_rc, 0);
  /* Give both stopped timers 20 ms past their old deadlines to misbehave. */
  lc_assert_ok(ctx, b->timer_start(guard, 50 * LC_MS, 0));
  rc = b->run(loop, LC_RUN_DEFAULT);
  assert_int_equal(rc, 0);
  if (st.victim_fired)
    lc_fail(ctx,
            "timer_stop() from another callback did not disarm a pending timer: it still fired");
  if (st.stopped_fired)
    lc_fail(ctx, "timer_stop() right after timer_start did not disarm the timer: it still fired");
  b->timer_free(st.victim);
  b->timer_free(stopped);
  b->timer_free(stopper);
  b->timer_free(guard);
  lc_loop_free_or_fail(ctx, loop);
}

/* ==========================================================================================
 * loop.timer.stop_same_pass: two timers (1 ms, 2 ms) are both overdue when run() starts (the
 * test busy-waits 10 ms first), so one pass finds both due. Each callback stops the other: only
 * one of them may run. A backend that collects due timers and then runs the collection without
 * re-checking runs both.
 * ======================================================================================== */

struct samepass_state {
  lc_ctx *ctx;
  lc_timer *t[2];
  int fired[2];
};
struct samepass_timer {
  struct samepass_state *st;
  int idx;
};

static void samepass_cb(lc_timer *t, void *arg) {
  struct samepass_timer *me = arg;
  (void)t;
  me->st->fired[me->idx]++;
  me->st->ctx->b->timer_stop(me->st->t[1 - me->idx]);
}

LC_TEST(loop_timer_stop_same_pass, "loop.timer.stop_same_pass", "LOOP-TIMER-STOP-SAME-PASS", 0,
        5000) {
  const struct lc_backend *b = ctx->b;
  struct samepass_state st;
  memset(&st, 0, sizeof st);
  st.ctx = ctx;
  struct samepass_timer me[2] = {{&st, 0}, {&st, 1}};
  lc_loop *loop = lc_loop_new_or_fail(ctx);
  for (int i = 0; i < 2; i++) lc_assert_ok(ctx, b->timer_new(loop, samepass_cb, &me[i], &st.t[i]));
  lc_assert_ok(ctx, b->timer_start(st.t[0], 1 * LC_MS, 0));
  lc_assert_ok(ctx, b->timer_start(st.t[1], 2 * LC_MS, 0));
  spin_ns(10 * LC_MS);
  int rc = b->run(loop, LC_RUN_DEFAULT);
  assert_int_equal(rc, 0);
  if (st.fired[0] + st.fired[1] != 1)
    lc_fail(ctx,
            "timer A ran %d time(s), timer B %d: a due timer disarmed with timer_stop() by a "
            "callback of the same pass still ran",
            st.fired[0], st.fired[1]);
  for (int i = 0; i < 2; i++) b->timer_free(st.t[i]);
  lc_loop_free_or_fail(ctx, loop);
}

/* ==========================================================================================
 * loop.timer.stop_in_callback: a repeating 1 ms timer stops itself in its first callback, and
 * another frees itself in its first callback; neither runs again (checked over 30 ms, i.e.
 * ~30 more periods). The free case also runs under ASan/valgrind to catch a use after free.
 * ======================================================================================== */

struct selfstop_state {
  lc_ctx *ctx;
  lc_timer *stopper;
  int stop_count, free_count;
  int stop_rc;
};

static void selfstop_cb(lc_timer *t, void *arg) {
  struct selfstop_state *st = arg;
  st->stop_count++;
  st->stop_rc = st->ctx->b->timer_stop(t);
}
/* Ends the run even on a backend that ignored the stop (the count shows it): by freeing the
 * timer, since timer_stop is what is checked. */
static void selfstop_guard_cb(lc_timer *t, void *arg) {
  struct selfstop_state *st = arg;
  (void)t;
  st->ctx->b->timer_free(st->stopper);
  st->stopper = NULL;
}
static void selffree_cb(lc_timer *t, void *arg) {
  struct selfstop_state *st = arg;
  st->free_count++;
  st->ctx->b->timer_free(t);
}

LC_TEST(loop_timer_stop_in_callback, "loop.timer.stop_in_callback", "LOOP-TIMER-STOP-SELF", 0,
        5000) {
  const struct lc_backend *b = ctx->b;
  struct selfstop_state st;
  memset(&st, 0, sizeof st);
  st.ctx = ctx;
  lc_loop *loop = lc_loop_new_or_fail(ctx);
  lc_timer *stopper, *freer, *guard;
  lc_assert_ok(ctx, b->timer_new(loop, selfstop_cb, &st, &stopper));
  lc_assert_ok(ctx, b->timer_new(loop, selffree_cb, &st, &freer));
  lc_assert_ok(ctx, b->timer_new(loop, selfstop_guard_cb, &st, &guard));
  st.stopper = stopper;
  lc_assert_ok(ctx, b->timer_start(stopper, 1 * LC_MS, 1 * LC_MS));
  lc_assert_ok(ctx, b->timer_start(freer, 1 * LC_MS, 1 * LC_MS));
  lc_assert_ok(ctx, b->timer_start(guard, 30 * LC_MS, 0));
  int rc = b->run(loop, LC_RUN_DEFAULT);
  assert_int_equal(rc, 0);
  assert_int_equal(st.stop_rc, 0);
  if (st.stop_count != 1)
    lc_fail(ctx,
            "timer_stop() from its own callback did not stop a repeating 1 ms timer: it "
            "ran %d times in 30 ms (timer_stop returned %d)",
            st.stop_count, st.stop_rc);
  if (st.free_count != 1)
    lc_fail(ctx, "a repeating timer that freed itself in its callback ran %d times", st.free_count);
  if (st.stopper) b->timer_free(st.stopper);
  b->timer_free(guard);
  lc_loop_free_or_fail(ctx, loop);
}

/* ==========================================================================================
 * loop.timer.restart: timer_start on an active timer re-arms it with the new values.
 *   A: started for 300 ms, re-started for 5 ms -> fires long before a 150 ms guard.
 *   B: started for 5 ms, re-started for 60 ms -> does not fire before ~60 ms.
 *   C: one-shot 2 ms that re-arms itself once (3 ms) from its own callback -> fires twice.
 * A backend that ignores timer_start on an active timer fires A at 300 ms (after the guard) and
 * B at 5 ms: both bounds miss by > 50 ms.
 * ======================================================================================== */

struct restart_state {
  lc_ctx *ctx;
  lc_timer *a, *b, *c, *guard;
  int64_t a_start, b_start;
  int64_t a_elapsed, b_elapsed; /* -1 until fired */
  int a_count, b_count, c_count, guard_fired;
  int64_t guard_elapsed; /* since a's restart, when the guard fired */
  int err;
};

static void restart_maybe_done(struct restart_state *st) {
  if (st->a_count && st->b_count && st->c_count >= 2) st->ctx->b->timer_stop(st->guard);
}
static void restart_a_cb(lc_timer *t, void *arg) {
  struct restart_state *st = arg;
  (void)t;
  if (st->a_count++ == 0) st->a_elapsed = lc_clock_ns() - st->a_start;
  restart_maybe_done(st);
}
static void restart_b_cb(lc_timer *t, void *arg) {
  struct restart_state *st = arg;
  (void)t;
  if (st->b_count++ == 0) st->b_elapsed = lc_clock_ns() - st->b_start;
  restart_maybe_done(st);
}
static void restart_c_cb(lc_timer *t, void *arg) {
  struct restart_state *st = arg;
  if (st->c_count++ == 0) {
    int rc = st->ctx->b->timer_start(t, 3 * LC_MS, 0);
    if (rc) st->err = rc;
  }
  restart_maybe_done(st);
}
static void restart_guard_cb(lc_timer *t, void *arg) {
  struct restart_state *st = arg;
  (void)t;
  st->guard_fired = 1;
  st->guard_elapsed = lc_clock_ns() - st->a_start;
  st->ctx->b->timer_stop(st->a); /* end the run; the verdict is decided after it */
  st->ctx->b->timer_stop(st->b);
  st->ctx->b->timer_stop(st->c);
}

LC_TEST(loop_timer_restart, "loop.timer.restart", "LOOP-TIMER-RESTART", 0, 5000) {
  const struct lc_backend *b = ctx->b;
  struct restart_state st;
  memset(&st, 0, sizeof st);
  st.ctx = ctx;
  st.a_elapsed = st.b_elapsed = -1;
  lc_loop *loop = lc_loop_new_or_fail(ctx);
  lc_assert_ok(ctx, b->timer_new(loop, restart_a_cb, &st, &st.a));
  lc_assert_ok(ctx, b->timer_new(loop, restart_b_cb, &st, &st.b));
  lc_assert_ok(ctx, b->timer_new(loop, restart_c_cb, &st, &st.c));
  lc_assert_ok(ctx, b->timer_new(loop, restart_guard_cb, &st, &st.guard));
  b->update_time(loop);
  lc_assert_ok(ctx, b->timer_start(st.a, 300 * LC_MS, 0));
  lc_assert_ok(ctx, b->timer_start(st.b, 5 * LC_MS, 0));
  lc_assert_ok(ctx, b->timer_start(st.c, 2 * LC_MS, 0));
  lc_assert_ok(ctx, b->timer_start(st.guard, 150 * LC_MS, 0));
  st.a_start = lc_clock_ns();
  lc_assert_ok(ctx, b->timer_start(st.a, 5 * LC_MS, 0));
  st.b_start = lc_clock_ns();
  lc_assert_ok(ctx, b->timer_start(st.b, 60 * LC_MS, 0));
  int rc = b->run(loop, LC_RUN_DEFAULT);
  assert_int_equal(rc, 0);
  if (st.err)
    lc_fail(ctx, "timer_start from the timer's own callback returned %d (%s)", st.err,
            lc_strerr(st.err));
  /* Say what was observed: a restart that was ignored and a timer the library delayed (timer
   * coalescing) look the same from here. */
  if (st.a_count == 0)
    lc_fail(ctx,
            "a 300 ms timer re-started for 5 ms had not fired when the 150 ms guard fired "
            "%lld us after the restart",
            (long long)(st.guard_elapsed / LC_US));
  /* Early-firing slack for coarse clocks (never-early is another clause); capped so that a
   * backend ignoring the restart (firing at 5 ms) can never pass. */
  int64_t slack = lc_tol_ns(ctx, 10 * LC_MS) < 30 * LC_MS ? lc_tol_ns(ctx, 10 * LC_MS) : 30 * LC_MS;
  if (st.b_elapsed < 60 * LC_MS - slack)
    lc_fail(ctx,
            "a 5 ms timer re-started for 60 ms fired %lld us after the restart, before "
            "the 60 ms it was re-started for (slack %lld us)",
            (long long)(st.b_elapsed / LC_US), (long long)(slack / LC_US));
  if (st.a_elapsed > 100 * LC_MS)
    lc_fail(ctx, "a timer re-started for 5 ms fired after %lld us",
            (long long)(st.a_elapsed / LC_US));
  assert_int_equal(st.a_count, 1);
  assert_int_equal(st.b_count, 1);
  if (st.c_count != 2)
    lc_fail(ctx, "a one-shot timer re-armed from its own callback ran %d times (expected 2)",
            st.c_count);
  b->timer_free(st.a);
  b->timer_free(st.b);
  b->timer_free(st.c);
  b->timer_free(st.guard);
  lc_loop_free_or_fail(ctx, loop);
}

/* ==========================================================================================
 * loop.timer.many: 100,000 timers in one loop, delays a permutation of 0..99.999 ms in 1 us
 * steps started in scrambled order. All fire exactly once, in deadline order. The deadline of
 * each is taken from the test's clock at its start; the order check allows the time the test
 * spent starting them all plus 5 ms (x multiplier) of backend resolution, so only real
 * disorder (start order, LIFO, a broken heap) fails, not a cached "now".
 * ======================================================================================== */

#define MANY_N 100000

struct many_state {
  int64_t *deadline; /* requested deadline of timer i, on the test clock */
  int *seq;          /* indices in callback order */
  int nfired;
  int dup; /* a timer fired twice */
  unsigned char *seen;
};
struct many_timer {
  struct many_state *st;
  int idx;
};

static void many_cb(lc_timer *t, void *arg) {
  struct many_timer *mt = arg;
  struct many_state *st = mt->st;
  (void)t;
  if (st->seen[mt->idx]++) {
    st->dup++;
    return;
  }
  st->seq[st->nfired++] = mt->idx;
}

LC_TEST(loop_timer_many, "loop.timer.many", "LOOP-TIMER-SCALE LOOP-TIMER-ORDER", 0, 20000) {
  const struct lc_backend *b = ctx->b;
  struct many_state st;
  memset(&st, 0, sizeof st);
  st.deadline = calloc(MANY_N, sizeof *st.deadline);
  st.seq = calloc(MANY_N, sizeof *st.seq);
  st.seen = calloc(MANY_N, 1);
  struct many_timer *mt = calloc(MANY_N, sizeof *mt);
  lc_timer **t = calloc(MANY_N, sizeof *t);
  if (!st.deadline || !st.seq || !st.seen || !mt || !t) lc_fail(ctx, "out of memory");
  lc_loop *loop = lc_loop_new_or_fail(ctx);
  for (int i = 0; i < MANY_N; i++) {
    mt[i] = (struct many_timer){&st, i};
    lc_assert_ok(ctx, b->timer_new(loop, many_cb, &mt[i], &t[i]));
  }
  int64_t t0 = lc_clock_ns();
  b->update_time(loop);
  for (int i = 0; i < MANY_N; i++) {
    /* 7919 is prime and coprime with 100000: i -> delay is a permutation. */
    int64_t delay = (int64_t)(((long long)i * 7919) % MANY_N) * LC_US;
    st.deadline[i] = lc_clock_ns() + delay;
    lc_assert_ok(ctx, b->timer_start(t[i], delay, 0));
  }
  int64_t spread = lc_clock_ns() - t0; /* how stale a cached "now" can be across the starts */
  int rc = b->run(loop, LC_RUN_DEFAULT);
  int64_t took = lc_clock_ns() - t0;
  assert_int_equal(rc, 0);
  if (st.dup) lc_fail(ctx, "%d callbacks were repeats of a one-shot timer", st.dup);
  if (st.nfired != MANY_N) lc_fail(ctx, "%d of %d timers fired", st.nfired, MANY_N);
  int64_t tol = spread + lc_tol_ns(ctx, 5 * LC_MS);
  int bad = 0, first_bad = -1;
  int64_t max_seen = INT64_MIN, worst = 0;
  for (int k = 0; k < MANY_N; k++) {
    int64_t d = st.deadline[st.seq[k]];
    if (max_seen != INT64_MIN && d < max_seen - tol) {
      if (!bad++) first_bad = k;
      if (max_seen - d > worst) worst = max_seen - d;
    }
    if (d > max_seen) max_seen = d;
  }
  lc_note(ctx, "starting %d timers took %lld us; all fired %lld ms after the first start", MANY_N,
          (long long)(spread / LC_US), (long long)(took / LC_MS));
  if (bad)
    lc_fail(ctx,
            "%d callbacks came after a timer with a later deadline (first at callback %d, "
            "worst %lld us out of order, tolerance %lld us)",
            bad, first_bad, (long long)(worst / LC_US), (long long)(tol / LC_US));
  if (took > 100 * LC_MS + spread + lc_tol_ns(ctx, 5000 * LC_MS))
    lc_fail(ctx, "the last of %d timers due within 100 ms fired after %lld ms", MANY_N,
            (long long)(took / LC_MS));
  for (int i = 0; i < MANY_N; i++) b->timer_free(t[i]);
  lc_loop_free_or_fail(ctx, loop);
  free(t);
  free(mt);
  free(st.seen);
  free(st.seq);
  free(st.deadline);
}

/* ==========================================================================================
 * loop.timer.equal_deadline_order (characteristic): ten timers started back to back from one
 * callback with the same delay (one cached "now", so the same deadline on backends that cache
 * it). The order they fire in is recorded: "start order", "reverse start order" or "other".
 * The test fails only if a timer is lost or repeated.
 * ======================================================================================== */

#define EQ_N 10

struct eq_state {
  lc_ctx *ctx;
  lc_timer *t[EQ_N];
  int order[EQ_N];
  int nfired;
  int err;
};
struct eq_timer {
  struct eq_state *st;
  int idx;
};

static void eq_cb(lc_timer *t, void *arg) {
  struct eq_timer *et = arg;
  (void)t;
  if (et->st->nfired < EQ_N) et->st->order[et->st->nfired] = et->idx;
  et->st->nfired++;
}
static void eq_starter_cb(lc_timer *t, void *arg) {
  struct eq_state *st = arg;
  (void)t;
  for (int i = 0; i < EQ_N; i++) {
    int rc = st->ctx->b->timer_start(st->t[i], 5 * LC_MS, 0);
    if (rc) st->err = rc;
  }
}

LC_TEST(loop_timer_equal_deadline_order, "loop.timer.equal_deadline_order",
        "LOOP-CHAR-EQUAL-DEADLINE-ORDER", 0, 5000) {
  const struct lc_backend *b = ctx->b;
  struct eq_state st;
  memset(&st, 0, sizeof st);
  st.ctx = ctx;
  struct eq_timer et[EQ_N];
  lc_loop *loop = lc_loop_new_or_fail(ctx);
  lc_timer *starter;
  for (int i = 0; i < EQ_N; i++) {
    et[i] = (struct eq_timer){&st, i};
    lc_assert_ok(ctx, b->timer_new(loop, eq_cb, &et[i], &st.t[i]));
  }
  lc_assert_ok(ctx, b->timer_new(loop, eq_starter_cb, &st, &starter));
  lc_assert_ok(ctx, b->timer_start(starter, 0, 0));
  int rc = b->run(loop, LC_RUN_DEFAULT);
  if (st.err) lc_fail(ctx, "timer_start returned %d (%s)", st.err, lc_strerr(st.err));
  assert_int_equal(rc, 0);
  if (st.nfired != EQ_N) lc_fail(ctx, "%d callbacks for %d one-shot timers", st.nfired, EQ_N);
  int seen[EQ_N] = {0};
  int fwd = 1, rev = 1;
  char seq[4 * EQ_N] = "";
  for (int i = 0; i < EQ_N; i++) {
    if (seen[st.order[i]]++) lc_fail(ctx, "timer %d fired twice", st.order[i]);
    fwd &= st.order[i] == i;
    rev &= st.order[i] == EQ_N - 1 - i;
    size_t len = strlen(seq);
    snprintf(seq + len, sizeof seq - len, "%s%d", i ? " " : "", st.order[i]);
  }
  if (fwd) lc_characteristic(ctx, "equal-deadline-order", "start order");
  else if (rev) lc_characteristic(ctx, "equal-deadline-order", "reverse start order");
  else lc_characteristic(ctx, "equal-deadline-order", "other (%s)", seq);
  for (int i = 0; i < EQ_N; i++) b->timer_free(st.t[i]);
  b->timer_free(starter);
  lc_loop_free_or_fail(ctx, loop);
}

/* ==========================================================================================
 * loop.timer.zero_delay_no_starve: a 0-delay timer re-arms itself from its own callback while
 * a socket is readable. The readable callback must run within 100 timer callbacks (a fair loop
 * needs 1 or 2). A backend that keeps running timers due "now" in one pass never reaches the
 * poll: after 100 callbacks the timer stops re-arming itself, and the count at which the fd
 * callback finally ran shows the starvation.
 * ======================================================================================== */

#define STARVE_LIMIT 100

struct starve_state {
  lc_ctx *ctx;
  lc_timer *timer;
  lc_io *io;
  int timer_count;
  int fd_at; /* timer_count when the fd callback ran; -1 before */
  int err;
};

static void starve_timer_cb(lc_timer *t, void *arg) {
  struct starve_state *st = arg;
  st->timer_count++;
  if (st->fd_at >= 0 || st->timer_count >= STARVE_LIMIT) return; /* stop re-arming */
  int rc = st->ctx->b->timer_start(t, 0, 0);
  if (rc) st->err = rc;
}
static void starve_io_cb(lc_io *io, int fd, unsigned revents, void *arg) {
  struct starve_state *st = arg;
  (void)fd;
  (void)revents;
  if (st->fd_at < 0) st->fd_at = st->timer_count;
  st->ctx->b->io_stop(io);
  st->ctx->b->timer_stop(st->timer);
}

LC_TEST(loop_timer_zero_delay_no_starve, "loop.timer.zero_delay_no_starve",
        "LOOP-TIMER-ZERO-NO-STARVE", LC_NEEDS_IO, 5000) {
  const struct lc_backend *b = ctx->b;
  struct starve_state st;
  memset(&st, 0, sizeof st);
  st.ctx = ctx;
  st.fd_at = -1;
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0)
    lc_fail(ctx, "socketpair: %s", strerror(errno));
  if (write(sv[1], "x", 1) != 1) lc_fail(ctx, "write: %s", strerror(errno));
  lc_loop *loop = lc_loop_new_or_fail(ctx);
  lc_assert_ok(ctx, b->timer_new(loop, starve_timer_cb, &st, &st.timer));
  lc_assert_ok(ctx, b->io_new(loop, sv[0], starve_io_cb, &st, &st.io));
  lc_assert_ok(ctx, b->timer_start(st.timer, 0, 0));
  lc_assert_ok(ctx, b->io_start(st.io, LC_READABLE));
  int rc = b->run(loop, LC_RUN_DEFAULT);
  if (st.err) lc_fail(ctx, "timer_start returned %d (%s)", st.err, lc_strerr(st.err));
  assert_int_equal(rc, 0);
  lc_note(ctx, "the readable callback ran after %d zero-delay timer callbacks", st.fd_at);
  if (st.fd_at < 0) lc_fail(ctx, "the readable callback never ran");
  if (st.fd_at >= STARVE_LIMIT)
    lc_fail(ctx,
            "a zero-delay timer re-armed from its own callback ran %d times before a "
            "readable socket got its callback: the timer pass starves I/O",
            st.fd_at);
  b->timer_free(st.timer);
  b->io_free(st.io);
  close(sv[0]);
  close(sv[1]);
  lc_loop_free_or_fail(ctx, loop);
}
