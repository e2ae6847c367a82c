/* semantics_timeout.c: asyncio-semantics tests of wait_for and timeout scopes.
 *
 * One body per scenario, run on every backend through lc_run(ctx->b, ...). Each asserts the
 * behaviour with cmocka and writes an event trace that harness/oracle/oracle.py compares with
 * the scenario's asyncio twin (harness/oracle/<scenario>.py). Clauses: spec/semantics.tsv.
 * Tasks only record what they see; the assertions run after lc_run returns.
 */
#include "lc_test.h"
#include "lc_trace.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* An inner task for wait_for: sleeps sleep_ms; when cancelled, traces it, runs a cleanup that
 * sleeps cleanup_ms, then either re-raises (-ECANCELED) or, with swallow, withdraws the
 * request and returns swallow_value. */
struct inner {
  int sleep_ms, cleanup_ms, value;
  int swallow, swallow_value;
  int started, cancelled, cleanup_done;
};

static int inner_fn(void *arg, intptr_t *result) {
  struct inner *in = arg;
  in->started = 1;
  lc_trace("inner start");
  int rc = lc_sleep((int64_t)in->sleep_ms * LC_MS);
  if (rc == 0) {
    lc_trace_at("inner done");
    *result = in->value;
    return 0;
  }
  in->cancelled = 1;
  lc_trace_at("inner cancelled");
  if (in->cleanup_ms) {
    lc_sleep((int64_t)in->cleanup_ms * LC_MS); /* cleanup may await */
    in->cleanup_done = 1;
    lc_trace_at("inner cleanup done");
  }
  if (in->swallow) {
    lc_uncancel(lc_current_task());
    lc_trace("inner swallowed the cancel, returns %d", in->swallow_value);
    *result = in->swallow_value;
    return 0;
  }
  return rc;
}

struct wstate {
  struct inner in, in2;
  int rc, rc2;
  intptr_t v, v2;
  int64_t elapsed_ns;
};

/* ==========================================================================================
 * semantics.waitfor.ok: an inner that finishes in time gives its value and is not cancelled.
 * ======================================================================================== */

static int wo_main(void *arg, intptr_t *result) {
  struct wstate *st = arg;
  lc_task *t = lc_spawn(inner_fn, &st->in, "inner");
  if (!t) return -errno;
  st->rc = lc_wait_for(t, 200 * LC_MS, &st->v);
  lc_trace_at("wait_for -> %s %ld", lc_trace_code(st->rc), (long)st->v);
  lc_task_unref(t);
  *result = 0;
  return 0;
}

LC_TEST(sem_waitfor_ok, "semantics.waitfor.ok", "WAITFOR-IN-TIME", 0, 10000) {
  struct wstate st;
  memset(&st, 0, sizeof st);
  st.in = (struct inner){.sleep_ms = 10, .value = 5};
  lc_trace_reports rep = {0};
  assert_int_equal(lc_trace_run(ctx, NULL, &rep, wo_main, &st, NULL), 0);
  assert_int_equal(st.rc, 0);
  assert_int_equal(st.v, 5);
  assert_int_equal(st.in.cancelled, 0);
  assert_int_equal(rep.n, 0);
}

/* ==========================================================================================
 * semantics.waitfor.timeout_waits_cleanup: on expiry (30 ms) wait_for cancels the inner and
 * waits for its 20 ms cleanup before returning -ETIMEDOUT, so it overruns to about 50 ms.
 * ======================================================================================== */

static int wt_main(void *arg, intptr_t *result) {
  struct wstate *st = arg;
  lc_task *t = lc_spawn(inner_fn, &st->in, "inner");
  if (!t) return -errno;
  int64_t t0 = lc_clock_ns();
  st->rc = lc_wait_for(t, 30 * LC_MS, &st->v);
  st->elapsed_ns = lc_clock_ns() - t0;
  lc_trace_at("wait_for -> %s, inner cleanup done: %s", lc_trace_code(st->rc),
              st->in.cleanup_done ? "yes" : "no");
  lc_task_unref(t);
  *result = 0;
  return 0;
}

LC_TEST(sem_waitfor_timeout, "semantics.waitfor.timeout_waits_cleanup",
        "WAITFOR-TIMEOUT WAITFOR-WAITS-CLEANUP", 0, 10000) {
  struct wstate st;
  memset(&st, 0, sizeof st);
  st.in = (struct inner){.sleep_ms = 1000, .cleanup_ms = 20};
  lc_trace_reports rep = {0};
  assert_int_equal(lc_trace_run(ctx, NULL, &rep, wt_main, &st, NULL), 0);
  assert_int_equal(st.rc, -ETIMEDOUT);
  assert_int_equal(st.in.cleanup_done, 1);
  if (st.elapsed_ns < 50 * LC_MS) /* 30 ms timeout + 20 ms cleanup: it must overrun */
    lc_fail(ctx, "wait_for returned after %.1f ms, before the inner's cleanup could finish",
            (double)st.elapsed_ns / LC_MS);
  if (st.elapsed_ns > 50 * LC_MS + lc_tol_ns(ctx, 200 * LC_MS))
    lc_fail(ctx, "wait_for returned after %.1f ms (expected about 50)",
            (double)st.elapsed_ns / LC_MS);
  assert_int_equal(rep.n, 0);
}

/* ==========================================================================================
 * semantics.waitfor.zero_timeout: timeout 0 cancels at once: an inner that has not started
 * never runs and wait_for returns -ETIMEDOUT; an inner already done gives its value.
 * ======================================================================================== */

static int seven_fn(void *arg, intptr_t *result) {
  (void)arg;
  *result = 7;
  return 0;
}

static int wz_main(void *arg, intptr_t *result) {
  struct wstate *st = arg;
  lc_task *t = lc_spawn(inner_fn, &st->in, "inner");
  if (!t) return -errno;
  st->rc = lc_wait_for(t, 0, &st->v);
  lc_trace("wait_for(not started, 0) -> %s, inner ran: %s", lc_trace_code(st->rc),
           st->in.started ? "yes" : "no");
  lc_task *u = lc_spawn(seven_fn, NULL, "u");
  if (!u) return -errno;
  lc_yield(); /* u finishes */
  st->rc2 = lc_wait_for(u, 0, &st->v2);
  lc_trace("wait_for(done, 0) -> %s %ld", lc_trace_code(st->rc2), (long)st->v2);
  lc_task_unref(t);
  lc_task_unref(u);
  *result = 0;
  return 0;
}

LC_TEST(sem_waitfor_zero, "semantics.waitfor.zero_timeout", "WAITFOR-ZERO", 0, 10000) {
  struct wstate st;
  memset(&st, 0, sizeof st);
  st.in = (struct inner){.sleep_ms = 1000};
  lc_trace_reports rep = {0};
  assert_int_equal(lc_trace_run(ctx, NULL, &rep, wz_main, &st, NULL), 0);
  assert_int_equal(st.rc, -ETIMEDOUT);
  assert_int_equal(st.in.started, 0);
  assert_int_equal(st.rc2, 0);
  assert_int_equal(st.v2, 7);
  assert_int_equal(rep.n, 0);
}

/* ==========================================================================================
 * semantics.waitfor.swallowed_cancel: an inner that swallows the timeout's cancellation (and
 * says so with uncancel) and returns 7 makes wait_for return 7, not -ETIMEDOUT.
 * ======================================================================================== */

LC_TEST(sem_waitfor_swallow, "semantics.waitfor.swallowed_cancel", "WAITFOR-SWALLOWED", 0, 10000) {
  struct wstate st;
  memset(&st, 0, sizeof st);
  st.in = (struct inner){.sleep_ms = 1000, .swallow = 1, .swallow_value = 7};
  lc_trace_reports rep = {0};
  assert_int_equal(lc_trace_run(ctx, NULL, &rep, wo_main, &st, NULL), 0);
  /* wo_main's timeout is 200 ms: the inner is cancelled then and returns 7. */
  assert_int_equal(st.rc, 0);
  assert_int_equal(st.v, 7);
  assert_int_equal(st.in.cancelled, 1);
  assert_int_equal(rep.n, 0);
}

/* ==========================================================================================
 * semantics.waitfor.outer_cancel: cancelling the task inside wait_for cancels the inner,
 * waits for it, and gives -ECANCELED (not -ETIMEDOUT).
 * ======================================================================================== */

static int wc_waiter(void *arg, intptr_t *result) {
  struct wstate *st = arg;
  lc_task *t = lc_spawn(inner_fn, &st->in, "inner");
  if (!t) return -errno;
  st->rc = lc_wait_for(t, 1000 * LC_MS, &st->v);
  lc_trace_at("w: wait_for -> %s", lc_trace_code(st->rc));
  lc_task_unref(t);
  *result = 0;
  return st->rc;
}

static int wc_main(void *arg, intptr_t *result) {
  struct wstate *st = arg;
  lc_task *w = lc_spawn(wc_waiter, st, "w");
  if (!w) return -errno;
  lc_sleep(10 * LC_MS);
  lc_trace_at("main: cancel(w) -> %d", lc_cancel(w));
  st->rc2 = lc_await(w, NULL);
  lc_trace_at("main: await w -> %s", lc_trace_code(st->rc2));
  lc_task_unref(w);
  *result = 0;
  return 0;
}

LC_TEST(sem_waitfor_outer_cancel, "semantics.waitfor.outer_cancel", "WAITFOR-OUTER-CANCEL", 0,
        10000) {
  struct wstate st;
  memset(&st, 0, sizeof st);
  st.in = (struct inner){.sleep_ms = 2000, .cleanup_ms = 10};
  lc_trace_reports rep = {0};
  assert_int_equal(lc_trace_run(ctx, NULL, &rep, wc_main, &st, NULL), 0);
  assert_int_equal(st.rc, -ECANCELED);
  assert_int_equal(st.rc2, -ECANCELED);
  assert_int_equal(st.in.cancelled, 1);
  assert_int_equal(st.in.cleanup_done, 1);
  assert_int_equal(rep.n, 0);
}

/* ---- timeout scopes ---------------------------------------------------------------------- */

struct tstate {
  int rc[6];
  int expired[6];
  int cancelling_after;
  int resched_rc;
  int64_t margin_ns;
};

/* ==========================================================================================
 * semantics.timeout.expire: a 50 ms scope's deadline is fixed at entry: after 20 ms of sleep
 * the next sleep is cancelled at about 50 ms, the scope turns it into -ETIMEDOUT, says it
 * expired, and leaves no cancel request behind.
 * ======================================================================================== */

static int te_main(void *arg, intptr_t *result) {
  struct tstate *st = arg;
  lc_timeout to;
  /* 50 ms at multiplier 1: the 30 ms between the end of the first sleep and the deadline is
   * the margin a slow machine may eat, so it grows with the multiplier. */
  int rc = lc_timeout_enter(&to, 20 * LC_MS + st->margin_ns);
  if (rc) return rc;
  rc = lc_sleep(20 * LC_MS);
  st->rc[2] = rc;
  lc_trace_at("sleep(20ms) -> %s", lc_trace_code(rc));
  rc = lc_sleep(1000 * LC_MS);
  st->rc[0] = rc;
  lc_trace_at("sleep(1s) -> %s", lc_trace_code(rc));
  st->rc[1] = lc_timeout_exit(&to, rc);
  st->expired[1] = lc_timeout_expired(&to);
  st->cancelling_after = lc_cancelling(lc_current_task());
  lc_trace_at("scope -> %s, expired=%d, cancelling=%d", lc_trace_code(st->rc[1]), st->expired[1],
              st->cancelling_after);
  *result = 0;
  return 0;
}

LC_TEST(sem_timeout_expire, "semantics.timeout.expire", "TIMEOUT-EXPIRE TIMEOUT-FIXED-DEADLINE", 0,
        10000) {
  struct tstate st;
  memset(&st, 0, sizeof st);
  st.margin_ns = lc_tol_ns(ctx, 30 * LC_MS);
  lc_trace_reports rep = {0};
  assert_int_equal(lc_trace_run(ctx, NULL, &rep, te_main, &st, NULL), 0);
  if (st.rc[2] != 0)
    lc_fail(ctx,
            "the 20 ms sleep before the deadline returned %s: it overran the %.0f ms margin "
            "(a slow machine: raise the time multiplier)",
            lc_trace_code(st.rc[2]), (double)st.margin_ns / LC_MS);
  assert_int_equal(st.rc[0], -ECANCELED);
  assert_int_equal(st.rc[1], -ETIMEDOUT);
  assert_int_equal(st.expired[1], 1);
  assert_int_equal(st.cancelling_after, 0);
  assert_int_equal(rep.n, 0);
}

/* ==========================================================================================
 * semantics.timeout.nested: an inner scope's expiry is reported by the inner scope only
 * (outer not expired, work goes on); when the outer expires first, the inner scope passes
 * -ECANCELED through and the outer reports -ETIMEDOUT.
 * ======================================================================================== */

static int tn_main(void *arg, intptr_t *result) {
  struct tstate *st = arg;
  lc_timeout outer, inner;
  /* Part 1: outer 100 ms, inner 20 ms. */
  int rc = lc_timeout_enter(&outer, 100 * LC_MS);
  if (!rc) rc = lc_timeout_enter(&inner, 20 * LC_MS);
  if (rc) return rc;
  rc = lc_sleep(1000 * LC_MS);
  st->rc[0] = lc_timeout_exit(&inner, rc);
  lc_trace_at("inner(20ms) -> %s, inner expired=%d, outer expired=%d", lc_trace_code(st->rc[0]),
              lc_timeout_expired(&inner), lc_timeout_expired(&outer));
  rc = lc_sleep(1000 * LC_MS);
  st->rc[1] = lc_timeout_exit(&outer, rc);
  st->expired[1] = lc_timeout_expired(&outer);
  lc_trace_at("outer(100ms) -> %s, outer expired=%d", lc_trace_code(st->rc[1]), st->expired[1]);
  /* Part 2: outer 20 ms, inner 100 ms: the outer fires first. */
  rc = lc_timeout_enter(&outer, 20 * LC_MS);
  if (!rc) rc = lc_timeout_enter(&inner, 100 * LC_MS);
  if (rc) return rc;
  rc = lc_sleep(1000 * LC_MS);
  st->rc[2] = lc_timeout_exit(&inner, rc);
  st->expired[2] = lc_timeout_expired(&inner);
  lc_trace_at("inner(100ms) -> %s, inner expired=%d", lc_trace_code(st->rc[2]), st->expired[2]);
  st->rc[3] = lc_timeout_exit(&outer, st->rc[2]);
  st->expired[3] = lc_timeout_expired(&outer);
  st->cancelling_after = lc_cancelling(lc_current_task());
  lc_trace_at("outer(20ms) -> %s, outer expired=%d, cancelling=%d", lc_trace_code(st->rc[3]),
              st->expired[3], st->cancelling_after);
  *result = 0;
  return 0;
}

LC_TEST(sem_timeout_nested, "semantics.timeout.nested", "TIMEOUT-NESTED", 0, 10000) {
  struct tstate st;
  memset(&st, 0, sizeof st);
  lc_trace_reports rep = {0};
  assert_int_equal(lc_trace_run(ctx, NULL, &rep, tn_main, &st, NULL), 0);
  assert_int_equal(st.rc[0], -ETIMEDOUT);
  assert_int_equal(st.rc[1], -ETIMEDOUT);
  assert_int_equal(st.expired[1], 1);
  assert_int_equal(st.rc[2], -ECANCELED); /* not the inner's timeout */
  assert_int_equal(st.expired[2], 0);
  assert_int_equal(st.rc[3], -ETIMEDOUT);
  assert_int_equal(st.cancelling_after, 0);
  assert_int_equal(rep.n, 0);
}

/* ==========================================================================================
 * semantics.timeout.reschedule: a 20 ms scope moved to 60 ms fires at 60 ms; one moved to
 * "never" does not fire; moving a scope after it expired is refused.
 * ======================================================================================== */

static int tr_main(void *arg, intptr_t *result) {
  struct tstate *st = arg;
  lc_timeout to;
  int rc = lc_timeout_enter(&to, 20 * LC_MS);
  if (rc) return rc;
  rc = lc_timeout_reschedule(&to, lc_now() + 60 * LC_MS);
  lc_trace("reschedule(+60ms) -> %s", lc_trace_code(rc));
  rc = lc_sleep(1000 * LC_MS);
  st->rc[0] = lc_timeout_exit(&to, rc);
  st->expired[0] = lc_timeout_expired(&to);
  lc_trace_at("scope -> %s, expired=%d", lc_trace_code(st->rc[0]), st->expired[0]);
  st->resched_rc = lc_timeout_reschedule(&to, lc_now() + 60 * LC_MS);
  lc_trace("reschedule after expiry refused: %s", st->resched_rc < 0 ? "yes" : "no");
  rc = lc_timeout_enter(&to, 20 * LC_MS);
  if (rc) return rc;
  rc = lc_timeout_reschedule(&to, INT64_MAX);
  lc_trace("reschedule(never) -> %s", lc_trace_code(rc));
  rc = lc_sleep(40 * LC_MS);
  lc_trace_at("sleep(40ms) -> %s", lc_trace_code(rc));
  st->rc[1] = lc_timeout_exit(&to, rc);
  st->expired[1] = lc_timeout_expired(&to);
  lc_trace_at("scope -> %s, expired=%d", lc_trace_code(st->rc[1]), st->expired[1]);
  *result = 0;
  return 0;
}

LC_TEST(sem_timeout_reschedule, "semantics.timeout.reschedule", "TIMEOUT-RESCHEDULE", 0, 10000) {
  struct tstate st;
  memset(&st, 0, sizeof st);
  lc_trace_reports rep = {0};
  int64_t t0 = lc_clock_ns();
  assert_int_equal(lc_trace_run(ctx, NULL, &rep, tr_main, &st, NULL), 0);
  int64_t el = lc_clock_ns() - t0;
  assert_int_equal(st.rc[0], -ETIMEDOUT);
  assert_int_equal(st.expired[0], 1);
  assert_true(st.resched_rc < 0);
  assert_int_equal(st.rc[1], 0);
  assert_int_equal(st.expired[1], 0);
  if (el < 100 * LC_MS)
    lc_fail(ctx, "the rescheduled scope fired early (run took %.1f ms)", (double)el / LC_MS);
  assert_int_equal(rep.n, 0);
}

/* ==========================================================================================
 * semantics.timeout.cancel_inside: a cancellation from another task during a scope stays a
 * cancellation: the scope gives -ECANCELED, not -ETIMEDOUT, and did not expire.
 * ======================================================================================== */

static int tc_canceller(void *arg, intptr_t *result) {
  lc_task *victim = arg;
  lc_sleep(20 * LC_MS);
  lc_trace_at("canceller: cancel(main) -> %d", lc_cancel(victim));
  *result = 0;
  return 0;
}

static int tc_main(void *arg, intptr_t *result) {
  struct tstate *st = arg;
  lc_task *c = lc_spawn(tc_canceller, lc_current_task(), "canceller");
  if (!c) return -errno;
  lc_timeout to;
  int rc = lc_timeout_enter(&to, 100 * LC_MS);
  if (rc) return rc;
  rc = lc_sleep(1000 * LC_MS);
  st->rc[0] = lc_timeout_exit(&to, rc);
  st->expired[0] = lc_timeout_expired(&to);
  lc_trace_at("scope -> %s, expired=%d", lc_trace_code(st->rc[0]), st->expired[0]);
  lc_trace("main uncancel -> %d", lc_uncancel(lc_current_task()));
  lc_await(c, NULL);
  lc_task_unref(c);
  *result = 0;
  return 0;
}

LC_TEST(sem_timeout_cancel_inside, "semantics.timeout.cancel_inside", "TIMEOUT-OTHER-CANCEL", 0,
        10000) {
  struct tstate st;
  memset(&st, 0, sizeof st);
  lc_trace_reports rep = {0};
  assert_int_equal(lc_trace_run(ctx, NULL, &rep, tc_main, &st, NULL), 0);
  assert_int_equal(st.rc[0], -ECANCELED);
  assert_int_equal(st.expired[0], 0);
  assert_int_equal(rep.n, 0);
}
