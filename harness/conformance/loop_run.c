/* loop_run.c: loop-contract tests for run() modes, its return value, and stop().
 *
 * One body per scenario, run on every backend; clause ids refer to spec/loop-contract.tsv.
 * Far timers act as guards: a backend that blocks or ignores a stop runs into them, so a
 * deviation shows as a FAIL with a reason instead of a cell timeout.
 */
#include "lc_test.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void spin_ns(int64_t ns) {
  int64_t end = lc_clock_ns() + ns;
  while (lc_clock_ns() < end) {
  }
}

static void count_cb(lc_timer *t, void *arg) {
  (void)t;
  ++*(int *)arg;
}

/* ==========================================================================================
 * loop.run.nowait: run(LC_RUN_NOWAIT) with only a 2 s timer pending returns at once (bound:
 * 50 ms x multiplier) with 1 (still active), without calling it. On an empty loop it returns
 * 0. A backend that waits for the timer blocks 2 s and misses the bound by 40x.
 * ======================================================================================== */

LC_TEST(loop_run_nowait, "loop.run.nowait", "LOOP-RUN-NOWAIT LOOP-RUN-RETVAL", LC_NEEDS_NOWAIT,
        10000) {
  const struct lc_backend *b = ctx->b;
  lc_loop *loop = lc_loop_new_or_fail(ctx);
  int fired = 0;
  lc_timer *t;
  lc_assert_ok(ctx, b->timer_new(loop, count_cb, &fired, &t));
  assert_int_equal(b->run(loop, LC_RUN_NOWAIT), 0); /* nothing active */
  lc_assert_ok(ctx, b->timer_start(t, 2000 * LC_MS, 0));
  int64_t start = lc_clock_ns();
  int rc = b->run(loop, LC_RUN_NOWAIT);
  int64_t took = lc_clock_ns() - start;
  if (took > lc_tol_ns(ctx, 50 * LC_MS))
    lc_fail(ctx, "run(NOWAIT) with a 2 s timer pending took %lld ms", (long long)(took / LC_MS));
  assert_int_equal(fired, 0);
  assert_int_equal(rc, 1);
  b->timer_free(t);
  lc_loop_free_or_fail(ctx, loop);
}

/* ==========================================================================================
 * loop.run.returns_when_idle: run(LC_RUN_DEFAULT) returns 0 when nothing is active: on an
 * empty loop, with only a stopped timer (or stopped watcher), after the last one-shot timer
 * fired, after a repeating timer stopped itself. run(LC_RUN_ONCE) returns 1 while a timer is
 * still pending after the iteration. Each bound is far below the pending timers that a
 * backend miscounting "active" would wait for (1 s).
 * ======================================================================================== */

struct idle_rep {
  lc_ctx *ctx;
  int ticks;
};
static void idle_rep_cb(lc_timer *t, void *arg) {
  struct idle_rep *r = arg;
  if (++r->ticks == 3) r->ctx->b->timer_stop(t);
}

static void idle_io_cb(lc_io *io, int fd, unsigned revents, void *arg) {
  (void)io;
  (void)fd;
  (void)revents;
  ++*(int *)arg;
}

LC_TEST(loop_run_returns_when_idle, "loop.run.returns_when_idle", "LOOP-RUN-EMPTY LOOP-RUN-RETVAL",
        0, 10000) {
  const struct lc_backend *b = ctx->b;
  lc_loop *loop = lc_loop_new_or_fail(ctx);
  int64_t bound = lc_tol_ns(ctx, 300 * LC_MS);
  int fast = 0, slow = 0;
  lc_timer *tf, *ts, *tr;
  lc_assert_ok(ctx, b->timer_new(loop, count_cb, &fast, &tf));
  lc_assert_ok(ctx, b->timer_new(loop, count_cb, &slow, &ts));
  struct idle_rep rep = {ctx, 0};
  lc_assert_ok(ctx, b->timer_new(loop, idle_rep_cb, &rep, &tr));

  int64_t start = lc_clock_ns();
  int rc = b->run(loop, LC_RUN_DEFAULT);
  if (rc != 0) lc_fail(ctx, "run(DEFAULT) on an empty loop returned %d", rc);
  if (lc_clock_ns() - start > bound) lc_fail(ctx, "run(DEFAULT) on an empty loop blocked");

  /* A stopped timer (and a stopped watcher) does not keep the loop alive. */
  lc_assert_ok(ctx, b->timer_start(ts, 1000 * LC_MS, 0));
  lc_assert_ok(ctx, b->timer_stop(ts));
  lc_io *io = NULL;
  int sv[2] = {-1, -1};
  if (b->io_new) {
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0)
      lc_fail(ctx, "socketpair: %s", strerror(errno));
    lc_assert_ok(ctx, b->io_new(loop, sv[0], idle_io_cb, &slow, &io));
    lc_assert_ok(ctx, b->io_start(io, LC_WRITABLE));
    lc_assert_ok(ctx, b->io_stop(io));
  }
  start = lc_clock_ns();
  rc = b->run(loop, LC_RUN_DEFAULT);
  if (rc != 0) lc_fail(ctx, "run(DEFAULT) with only stopped handles returned %d", rc);
  if (lc_clock_ns() - start > bound)
    lc_fail(ctx,
            "run(DEFAULT) with only a stopped timer (and watcher) blocked for %lld ms: "
            "timer_stop()/io_stop() left a handle active",
            (long long)((lc_clock_ns() - start) / LC_MS));
  assert_int_equal(slow, 0);

  /* After the last one-shot fires. */
  lc_assert_ok(ctx, b->timer_start(tf, 5 * LC_MS, 0));
  rc = b->run(loop, LC_RUN_DEFAULT);
  if (rc != 0) lc_fail(ctx, "run(DEFAULT) after the last one-shot timer fired returned %d", rc);
  assert_int_equal(fast, 1);

  /* After a repeating timer stopped itself. */
  lc_assert_ok(ctx, b->timer_start(tr, 1 * LC_MS, 1 * LC_MS));
  rc = b->run(loop, LC_RUN_DEFAULT);
  if (rc != 0) lc_fail(ctx, "run(DEFAULT) after a repeating timer stopped itself returned %d", rc);
  assert_int_equal(rep.ticks, 3);

  /* ONCE: one iteration; the 2 ms timer fires, the 1 s timer keeps the loop active -> 1. */
  lc_assert_ok(ctx, b->timer_start(tf, 2 * LC_MS, 0));
  lc_assert_ok(ctx, b->timer_start(ts, 1000 * LC_MS, 0));
  start = lc_clock_ns();
  rc = b->run(loop, LC_RUN_ONCE);
  if (lc_clock_ns() - start > bound)
    lc_fail(ctx, "run(ONCE) took %lld ms with a 2 ms timer due",
            (long long)((lc_clock_ns() - start) / LC_MS));
  if (rc != 1) lc_fail(ctx, "run(ONCE) with a 1 s timer still pending returned %d", rc);
  assert_int_equal(fast, 2);
  assert_int_equal(slow, 0);
  lc_assert_ok(ctx, b->timer_stop(ts));
  rc = b->run(loop, (b->caps & LC_CAP_NOWAIT) ? LC_RUN_NOWAIT : LC_RUN_ONCE);
  if (rc != 0)
    lc_fail(ctx, "run(%s) after the last timer was stopped returned %d",
            (b->caps & LC_CAP_NOWAIT) ? "NOWAIT" : "ONCE", rc);

  if (io) b->io_free(io);
  if (sv[0] >= 0) {
    close(sv[0]);
    close(sv[1]);
  }
  b->timer_free(tf);
  b->timer_free(ts);
  b->timer_free(tr);
  lc_loop_free_or_fail(ctx, loop);
}

/* ==========================================================================================
 * loop.run.stop_from_callback: three timers (1, 2, 3 ms) are all overdue when run() starts
 * (the test busy-waits 10 ms); whichever runs first calls stop(). A 1 s timer keeps the loop
 * active. run() must return (with 1) before that 1 s timer. Recorded as a characteristic:
 * whether the other two callbacks already due in that pass still ran before run() returned.
 * ======================================================================================== */

struct stopcb_state {
  lc_ctx *ctx;
  lc_loop *loop;
  int calls;      /* callbacks of the three due timers */
  int after_stop; /* of which after stop() */
  int keeper_fired;
};
static void stopcb_cb(lc_timer *t, void *arg) {
  struct stopcb_state *st = arg;
  (void)t;
  if (st->calls++ == 0) st->ctx->b->stop(st->loop);
  else st->after_stop++;
}
static void stopcb_keeper_cb(lc_timer *t, void *arg) {
  (void)t;
  ((struct stopcb_state *)arg)->keeper_fired = 1;
}

LC_TEST(loop_run_stop_from_callback, "loop.run.stop_from_callback",
        "LOOP-RUN-STOP LOOP-CHAR-STOP-SAME-PASS", 0, 10000) {
  const struct lc_backend *b = ctx->b;
  struct stopcb_state st;
  memset(&st, 0, sizeof st);
  st.ctx = ctx;
  st.loop = lc_loop_new_or_fail(ctx);
  lc_timer *t[3], *keeper;
  for (int i = 0; i < 3; i++) lc_assert_ok(ctx, b->timer_new(st.loop, stopcb_cb, &st, &t[i]));
  lc_assert_ok(ctx, b->timer_new(st.loop, stopcb_keeper_cb, &st, &keeper));
  for (int i = 0; i < 3; i++) lc_assert_ok(ctx, b->timer_start(t[i], (i + 1) * LC_MS, 0));
  lc_assert_ok(ctx, b->timer_start(keeper, 1000 * LC_MS, 0));
  spin_ns(10 * LC_MS);
  int rc = b->run(st.loop, LC_RUN_DEFAULT);
  if (st.keeper_fired)
    lc_fail(ctx, "stop() from a callback was ignored: run() went on to a timer 1 s later");
  if (st.calls == 0) lc_fail(ctx, "none of three overdue timers ran");
  if (rc != 1) lc_fail(ctx, "run() stopped with a timer pending returned %d (expected 1)", rc);
  lc_characteristic(ctx, "stop-rest-of-pass",
                    "%s (%d of 2 other due callbacks ran before run() "
                    "returned)",
                    st.after_stop == 2 ? "ran"
                    : st.after_stop    ? "partial"
                                       : "skipped",
                    st.after_stop);
  for (int i = 0; i < 3; i++) b->timer_free(t[i]);
  b->timer_free(keeper);
  lc_loop_free_or_fail(ctx, st.loop);
}

/* ==========================================================================================
 * loop.run.stop_before_run: stop() called while run() is not running makes the next run()
 * return after at most one iteration (backend.h, stop). With a 1 ms repeating timer active, a
 * backend that forgets the request runs until a 200 ms guard. The request is then used up: a
 * second run() goes on until the guard ends it.
 * ======================================================================================== */

struct stopbr_state {
  lc_ctx *ctx;
  lc_timer *ticker;
  int ticks;
  int guard_fired;
};
static void stopbr_tick_cb(lc_timer *t, void *arg) {
  (void)t;
  ((struct stopbr_state *)arg)->ticks++;
}
static void stopbr_guard_cb(lc_timer *t, void *arg) {
  struct stopbr_state *st = arg;
  (void)t;
  st->guard_fired = 1;
  /* Freed, not stopped: the run must end even if timer_stop is broken (not checked here). */
  st->ctx->b->timer_free(st->ticker);
  st->ticker = NULL;
}

LC_TEST(loop_run_stop_before_run, "loop.run.stop_before_run", "LOOP-RUN-STOP-OUTSIDE", 0, 10000) {
  const struct lc_backend *b = ctx->b;
  struct stopbr_state st;
  memset(&st, 0, sizeof st);
  st.ctx = ctx;
  lc_loop *loop = lc_loop_new_or_fail(ctx);
  lc_timer *guard;
  lc_assert_ok(ctx, b->timer_new(loop, stopbr_tick_cb, &st, &st.ticker));
  lc_assert_ok(ctx, b->timer_new(loop, stopbr_guard_cb, &st, &guard));
  lc_assert_ok(ctx, b->timer_start(st.ticker, 1 * LC_MS, 1 * LC_MS));
  lc_assert_ok(ctx, b->timer_start(guard, 200 * LC_MS, 0));
  b->stop(loop);
  int64_t start = lc_clock_ns();
  int rc = b->run(loop, LC_RUN_DEFAULT);
  int64_t took = lc_clock_ns() - start;
  if (st.guard_fired)
    lc_fail(ctx,
            "stop() called before run() was lost: run() went on for %lld ms (%d ticks of a "
            "1 ms timer) until a guard timer ended it",
            (long long)(took / LC_MS), st.ticks);
  if (rc != 1) lc_fail(ctx, "run() after stop() with timers pending returned %d (expected 1)", rc);
  lc_note(ctx, "run() after stop() returned after %lld us and %d tick(s)", (long long)(took / 1000),
          st.ticks);
  if (st.ticks > 1)
    lc_fail(ctx, "run() after stop() ran %d iterations with a due timer (at most one allowed)",
            st.ticks);
  /* The request is used up: the next run() continues until the guard stops the ticker. */
  rc = b->run(loop, LC_RUN_DEFAULT);
  if (!st.guard_fired)
    lc_fail(ctx, "a second run() also returned early (%d): the stop request stuck", rc);
  assert_int_equal(rc, 0);
  if (st.ticker) b->timer_free(st.ticker);
  b->timer_free(guard);
  lc_loop_free_or_fail(ctx, loop);
}

/* ==========================================================================================
 * loop.run.once_due_timer: run(LC_RUN_ONCE) on a loop whose timer is already due runs it and
 * returns; it does not go on to wait for I/O after that callback. A 1 ms timer is started and
 * the test spins 10 ms, so it is due by any clock; a 1 s guard timer is the only other
 * handle. A backend that polls after running the due timer waits for the guard (~1 s) and
 * misses the bound (100 ms x multiplier) by ~10x; with no guard it would block for good,
 * which is how a runtime driving run(ONCE) hangs.
 * ======================================================================================== */

LC_TEST(loop_run_once_due_timer, "loop.run.once_due_timer", "LOOP-RUN-ONCE-DUE-TIMER", 0, 10000) {
  const struct lc_backend *b = ctx->b;
  lc_loop *loop = lc_loop_new_or_fail(ctx);
  int due_fired = 0, guard_fired = 0;
  lc_timer *due, *guard;
  lc_assert_ok(ctx, b->timer_new(loop, count_cb, &due_fired, &due));
  lc_assert_ok(ctx, b->timer_new(loop, count_cb, &guard_fired, &guard));
  lc_assert_ok(ctx, b->timer_start(guard, 1000 * LC_MS, 0));
  lc_assert_ok(ctx, b->timer_start(due, 1 * LC_MS, 0));
  spin_ns(10 * LC_MS);
  int64_t start = lc_clock_ns();
  int rc = b->run(loop, LC_RUN_ONCE);
  int64_t took = lc_clock_ns() - start;
  lc_note(ctx, "run(ONCE) took %lld us; due timer fired %d, 1 s guard fired %d",
          (long long)(took / 1000), due_fired, guard_fired);
  if (due_fired != 1) lc_fail(ctx, "run(ONCE) with a timer already due ran it %d times", due_fired);
  if (took > lc_tol_ns(ctx, 100 * LC_MS))
    lc_fail(ctx,
            "run(ONCE) ran the due timer, then waited %lld ms more for I/O (guard timer fired: "
            "%s): a callback already ran, so it should have returned",
            (long long)(took / LC_MS), guard_fired ? "yes" : "no");
  assert_int_equal(rc, 1); /* the guard is still active */
  b->timer_free(due);
  b->timer_free(guard);
  lc_loop_free_or_fail(ctx, loop);
}
