/* loop_ready.c: loop-contract tests for how many callbacks ready watchers get, whether a
 * readiness report is true, and what run(NOWAIT) costs over many calls.
 *
 * The older io tests watch one fd at a time, so a backend that serves only the first of
 * several ready fds, calls each one twice, or reports readiness that is not there passed them.
 * Every run() here is bounded by a timer of its own that only ends the iteration (it never
 * relies on stop() or timer_stop()), and the watchers are freed, not stopped, at the end.
 */
#include "lc_test.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void make_pair(lc_ctx *ctx, int sv[2]) {
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0)
    lc_fail(ctx, "socketpair: %s", strerror(errno));
}

static void noop_timer_cb(lc_timer *t, void *arg) {
  (void)t;
  ++*(int *)arg;
}

/* ==========================================================================================
 * loop.io.one_callback_per_iteration: six watchers whose fds stay ready the whole time (three
 * writable sockets, three readable ones whose byte is never read), twelve run(ONCE) calls.
 * Level-triggered means each watcher is called in every iteration, and one iteration reports
 * each ready fd once: every watcher gets exactly one callback per run(ONCE). A backend that
 * calls a watcher twice per report, or that serves the first ready fd and starves the rest,
 * misses by a whole callback in every iteration.
 * ======================================================================================== */

#define OPI_WATCHERS 6
#define OPI_ITERATIONS 12

struct opi_state {
  int count[OPI_WATCHERS]; /* callbacks in the current iteration */
};
struct opi_watcher {
  struct opi_state *st;
  int idx;
};

static void opi_cb(lc_io *io, int fd, unsigned revents, void *arg) {
  struct opi_watcher *me = arg;
  (void)io;
  (void)fd;
  (void)revents;
  me->st->count[me->idx]++;
}

LC_TEST(loop_io_one_callback_per_iteration, "loop.io.one_callback_per_iteration",
        "LOOP-IO-ONCE-PER-ITERATION", LC_NEEDS_IO, 10000) {
  const struct lc_backend *b = ctx->b;
  struct opi_state st;
  memset(&st, 0, sizeof st);
  struct opi_watcher me[OPI_WATCHERS];
  int sv[OPI_WATCHERS][2];
  lc_io *w[OPI_WATCHERS];
  lc_loop *loop = lc_loop_new_or_fail(ctx);
  for (int i = 0; i < OPI_WATCHERS; i++) {
    make_pair(ctx, sv[i]);
    me[i].st = &st;
    me[i].idx = i;
    int readable = i % 2;
    if (readable && write(sv[i][1], "x", 1) != 1) lc_fail(ctx, "write: %s", strerror(errno));
    lc_assert_ok(ctx, b->io_new(loop, sv[i][0], opi_cb, &me[i], &w[i]));
    lc_assert_ok(ctx, b->io_start(w[i], readable ? LC_READABLE : LC_WRITABLE));
  }
  /* Bounds each run(ONCE) if the backend reports nothing at all. */
  int guard_fired = 0;
  lc_timer *guard;
  lc_assert_ok(ctx, b->timer_new(loop, noop_timer_cb, &guard_fired, &guard));

  int dup_iters = 0, max_count = 0, missed = 0, served_after_first = 0;
  int never_after_first[OPI_WATCHERS];
  for (int i = 0; i < OPI_WATCHERS; i++) never_after_first[i] = 1;
  int first_dup_watcher = -1, first_dup_iter = -1;
  for (int it = 0; it < OPI_ITERATIONS; it++) {
    memset(st.count, 0, sizeof st.count);
    lc_assert_ok(ctx, b->timer_start(guard, lc_tol_ns(ctx, 500 * LC_MS), 0));
    b->run(loop, LC_RUN_ONCE);
    int dup = 0;
    for (int i = 0; i < OPI_WATCHERS; i++) {
      if (st.count[i] > max_count) max_count = st.count[i];
      if (st.count[i] > 1) {
        dup = 1;
        if (first_dup_watcher < 0) {
          first_dup_watcher = i;
          first_dup_iter = it;
        }
      }
      if (st.count[i] == 0) missed++;
      if (it > 0 && st.count[i] > 0) {
        never_after_first[i] = 0;
        served_after_first++;
      }
    }
    dup_iters += dup;
  }
  b->timer_free(guard);
  for (int i = 0; i < OPI_WATCHERS; i++) {
    b->io_free(w[i]);
    close(sv[i][0]);
    close(sv[i][1]);
  }
  lc_loop_free_or_fail(ctx, loop);

  char starved[64] = "";
  size_t len = 0;
  int n_starved = 0;
  for (int i = 0; i < OPI_WATCHERS; i++)
    if (never_after_first[i]) {
      n_starved++;
      len += (size_t)snprintf(starved + len, sizeof starved - len, "%s%d", len ? "," : "", i);
    }
  lc_note(ctx,
          "%d iterations x %d always-ready watchers: %d iteration(s) with a duplicate "
          "(max %d callbacks), %d missed callbacks, guard fired %d",
          OPI_ITERATIONS, OPI_WATCHERS, dup_iters, max_count, missed, guard_fired);
  if (dup_iters > 0 && missed > 0)
    lc_fail(ctx,
            "io callbacks duplicated and starved: in %d of %d run(ONCE) iterations a "
            "watcher got up to %d callbacks, and %d (watcher, iteration) pairs got none although "
            "the fd stayed ready",
            dup_iters, OPI_ITERATIONS, max_count, missed);
  if (dup_iters > 0)
    lc_fail(ctx,
            "io callbacks duplicated: in %d of %d run(ONCE) iterations a ready watcher got "
            "more than one callback (up to %d; first: watcher %d in iteration %d); one "
            "iteration reports a ready fd once",
            dup_iters, OPI_ITERATIONS, max_count, first_dup_watcher, first_dup_iter);
  if (n_starved > 0 && served_after_first > 0)
    lc_fail(ctx,
            "io watchers starved: watcher(s) %s of %d always-ready watchers got no "
            "callback in iterations 2-%d while the others were served",
            starved, OPI_WATCHERS, OPI_ITERATIONS);
  if (missed > 0)
    lc_fail(ctx,
            "ready io watchers missed iterations: %d of %d (watcher, iteration) pairs got "
            "no callback although every fd stayed ready (level-triggered: one callback per "
            "iteration each)",
            missed, OPI_WATCHERS * OPI_ITERATIONS);
}

/* ==========================================================================================
 * loop.io.readable_has_data: six sockets watched for READABLE; in each of 30 rounds one byte
 * is written to one of them (two in every fifth round) and run(ONCE) runs one iteration. Each
 * readable callback reads what is there: it must find data (read() > 0). A backend that
 * reports readiness nobody produced (calls every readable watcher, or reports a drained fd
 * again) makes read() fail with EAGAIN. Also checked: the written socket was reported in that
 * iteration (otherwise the round's 200 ms guard ends it).
 * ======================================================================================== */

#define RHD_WATCHERS 6
#define RHD_ROUNDS 30

struct rhd_state {
  int calls, with_data, spurious;
  int first_spurious_round, round;
  int got[RHD_WATCHERS];
};
struct rhd_watcher {
  struct rhd_state *st;
  int idx;
};

static void rhd_cb(lc_io *io, int fd, unsigned revents, void *arg) {
  struct rhd_watcher *me = arg;
  struct rhd_state *st = me->st;
  (void)io;
  (void)revents;
  st->calls++;
  char buf[64];
  ssize_t n = read(fd, buf, sizeof buf);
  if (n > 0) {
    st->with_data++;
    st->got[me->idx] += (int)n;
  } else {
    if (st->spurious++ == 0) st->first_spurious_round = st->round;
  }
}

LC_TEST(loop_io_readable_has_data, "loop.io.readable_has_data", "LOOP-IO-NO-SPURIOUS", LC_NEEDS_IO,
        10000) {
  const struct lc_backend *b = ctx->b;
  struct rhd_state st;
  memset(&st, 0, sizeof st);
  struct rhd_watcher me[RHD_WATCHERS];
  int sv[RHD_WATCHERS][2];
  lc_io *w[RHD_WATCHERS];
  lc_loop *loop = lc_loop_new_or_fail(ctx);
  for (int i = 0; i < RHD_WATCHERS; i++) {
    make_pair(ctx, sv[i]);
    me[i].st = &st;
    me[i].idx = i;
    lc_assert_ok(ctx, b->io_new(loop, sv[i][0], rhd_cb, &me[i], &w[i]));
    lc_assert_ok(ctx, b->io_start(w[i], LC_READABLE));
  }
  int guard_fired = 0;
  lc_timer *guard;
  lc_assert_ok(ctx, b->timer_new(loop, noop_timer_cb, &guard_fired, &guard));
  int unserved = 0, first_unserved = -1;
  for (int r = 0; r < RHD_ROUNDS; r++) {
    st.round = r;
    int a = r % RHD_WATCHERS, c = (r + 3) % RHD_WATCHERS;
    int before_a = st.got[a], before_c = st.got[c];
    if (write(sv[a][1], "x", 1) != 1) lc_fail(ctx, "write: %s", strerror(errno));
    if (r % 5 == 4 && write(sv[c][1], "y", 1) != 1) lc_fail(ctx, "write: %s", strerror(errno));
    lc_assert_ok(ctx, b->timer_start(guard, lc_tol_ns(ctx, 200 * LC_MS), 0));
    b->run(loop, LC_RUN_ONCE);
    int served = st.got[a] > before_a && (r % 5 != 4 || st.got[c] > before_c);
    if (!served && unserved++ == 0) first_unserved = r;
    /* Drain whatever is left so every round starts from empty sockets. */
    char buf[64];
    for (int i = 0; i < RHD_WATCHERS; i++)
      while (read(sv[i][0], buf, sizeof buf) > 0) {
      }
  }
  b->timer_free(guard);
  for (int i = 0; i < RHD_WATCHERS; i++) {
    b->io_free(w[i]);
    close(sv[i][0]);
    close(sv[i][1]);
  }
  lc_loop_free_or_fail(ctx, loop);
  lc_note(ctx,
          "%d rounds: %d readable callbacks, %d found data, %d found none; %d round(s) "
          "where a written socket was not reported",
          RHD_ROUNDS, st.calls, st.with_data, st.spurious, unserved);
  if (st.spurious > 0)
    lc_fail(ctx,
            "spurious readiness: %d of %d readable callbacks found nothing to read "
            "(read() failed with EAGAIN; first in round %d of %d, where only %s written to)",
            st.spurious, st.calls, st.first_spurious_round + 1, RHD_ROUNDS,
            st.first_spurious_round % 5 == 4 ? "two sockets were" : "one socket was");
  if (unserved > 0)
    lc_fail(ctx,
            "a socket written to before run(ONCE) got no readable callback in that "
            "iteration in %d of %d rounds (first: round %d)",
            unserved, RHD_ROUNDS, first_unserved + 1);
}

/* ==========================================================================================
 * loop.run.nowait_cost: run(LC_RUN_NOWAIT) with a 2 s timer pending (and, with io, a watcher
 * on a socket that never becomes readable) is called 1,000 times; the 90th percentile of one
 * call's duration must stay below 500 us x multiplier (a compliant call costs a few us: one
 * non-blocking poll). A backend that stalls in every call, or in one call out of ten, misses
 * it whatever the multiplier short of 100x; loop.run.nowait's single call with a 50 ms bound
 * let a 50 ms stall through at multiplier 2. Stops early once the calls have taken 2 s.
 * ======================================================================================== */

#define NWC_CALLS 1000

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

static void nwc_io_cb(lc_io *io, int fd, unsigned revents, void *arg) {
  (void)io;
  (void)fd;
  (void)revents;
  ++*(int *)arg;
}

LC_TEST(loop_run_nowait_cost, "loop.run.nowait_cost", "LOOP-RUN-NOWAIT-CHEAP", LC_NEEDS_NOWAIT,
        10000) {
  const struct lc_backend *b = ctx->b;
  lc_loop *loop = lc_loop_new_or_fail(ctx);
  int fired = 0, io_calls = 0;
  lc_timer *t;
  lc_assert_ok(ctx, b->timer_new(loop, noop_timer_cb, &fired, &t));
  lc_assert_ok(ctx, b->timer_start(t, 2000 * LC_MS, 0));
  lc_io *io = NULL;
  int sv[2] = {-1, -1};
  if (b->io_new) {
    make_pair(ctx, sv);
    lc_assert_ok(ctx, b->io_new(loop, sv[0], nwc_io_cb, &io_calls, &io));
    lc_assert_ok(ctx, b->io_start(io, LC_READABLE));
  }
  static int64_t took[NWC_CALLS];
  int n = 0, bad_rc = 0, last_rc = 1;
  int64_t total = 0;
  for (; n < NWC_CALLS && total < 2000 * LC_MS; n++) {
    int64_t t0 = lc_clock_ns();
    int rc = b->run(loop, LC_RUN_NOWAIT);
    took[n] = lc_clock_ns() - t0;
    total += took[n];
    if (rc != 1) {
      bad_rc++;
      last_rc = rc;
    }
  }
  if (io) b->io_free(io);
  if (sv[0] >= 0) {
    close(sv[0]);
    close(sv[1]);
  }
  b->timer_free(t);
  lc_loop_free_or_fail(ctx, loop);
  qsort(took, (size_t)n, sizeof took[0], cmp_i64);
  int64_t p50 = took[n / 2], p90 = took[n * 9 / 10], worst = took[n - 1];
  lc_note(ctx,
          "%d run(NOWAIT) calls in %lld us: median %lld ns, 90th percentile %lld ns, "
          "worst %lld ns",
          n, (long long)(total / LC_US), (long long)p50, (long long)p90, (long long)worst);
  if (p90 > lc_tol_ns(ctx, 500 * LC_US))
    lc_fail(ctx,
            "run(NOWAIT) blocks: over %d calls with nothing ready, the 90th percentile of "
            "one call was %lld us (median %lld us; bound 500 us x multiplier), %lld ms in all",
            n, (long long)(p90 / LC_US), (long long)(p50 / LC_US), (long long)(total / LC_MS));
  if (fired) lc_fail(ctx, "a 2 s timer fired during %d run(NOWAIT) calls", n);
  if (io_calls)
    lc_fail(ctx, "a socket nobody wrote to got %d readable callbacks during run(NOWAIT)", io_calls);
  if (bad_rc)
    lc_fail(ctx,
            "run(NOWAIT) with a 2 s timer pending returned %d (expected 1) in %d of %d "
            "calls",
            last_rc, bad_rc, n);
}
