/* semantics_cancel.c: asyncio-semantics tests of cancellation, shield and lc_run's shutdown.
 *
 * One body per scenario, run on every backend through lc_run(ctx->b, ...). Each asserts the
 * behaviour with cmocka and writes an event trace that harness/oracle/oracle.py compares with
 * the scenario's asyncio twin (harness/oracle/<scenario>.py). Clauses: spec/semantics.tsv.
 * Tasks only record what they see; the assertions run after lc_run returns.
 */
#include "lc_test.h"
#include "lc_trace.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* A worker: sleeps sleep_ms; if cancelled, runs a cleanup that sleeps cleanup_ms, then
 * returns -ECANCELED; with swallow it returns swallow_value instead (uncancelling `uncancel`
 * times first). */
struct worker {
  const char *name;
  int sleep_ms, cleanup_ms, value;
  int swallow, swallow_value, uncancel;
  int after_await_ran; /* code after the cancelled await ran (must not) */
  int cancelled, cleanup_done, cancelling_seen;
};

static int worker_fn(void *arg, intptr_t *result) {
  struct worker *w = arg;
  lc_trace("%s start", w->name);
  int rc = lc_sleep((int64_t)w->sleep_ms * LC_MS);
  if (rc == 0) {
    w->after_await_ran = 1;
    lc_trace_at("%s done", w->name);
    *result = w->value;
    return 0;
  }
  w->cancelled = 1;
  w->cancelling_seen = lc_cancelling(lc_current_task());
  lc_trace_at("%s cancelled, cancelling=%d", w->name, w->cancelling_seen);
  if (w->cleanup_ms) {
    int crc = lc_sleep((int64_t)w->cleanup_ms * LC_MS); /* cleanup may await */
    w->cleanup_done = 1;
    lc_trace_at("%s cleanup done -> %s", w->name, lc_trace_code(crc));
  }
  for (int i = 0; i < w->uncancel; i++)
    lc_trace("%s uncancel -> %d", w->name, lc_uncancel(lc_current_task()));
  if (w->swallow) {
    *result = w->swallow_value;
    return 0;
  }
  return rc;
}

struct cstate {
  struct worker w, w2;
  int rc, rc2, rc3;
  intptr_t v, v2;
  int cancel_again, cancelled_flag, cancelling_after;
  lc_task *shielded; /* shield scenarios: the task the waiter shields */
};

/* ==========================================================================================
 * semantics.cancel.cleanup_runs: cancel() is delivered at the task's await as -ECANCELED; the
 * code after that await does not run; the cleanup runs and may itself await; the task ends
 * cancelled; cancel() on a done task returns 0.
 * ======================================================================================== */

static int cc_main(void *arg, intptr_t *result) {
  struct cstate *st = arg;
  lc_task *t = lc_spawn(worker_fn, &st->w, "t");
  if (!t) return -errno;
  lc_sleep(10 * LC_MS);
  lc_trace_at("cancel(t) -> %d", lc_cancel(t));
  st->rc = lc_await(t, NULL);
  st->cancelled_flag = lc_task_cancelled(t);
  lc_trace_at("await t -> %s, cancelled=%d", lc_trace_code(st->rc), st->cancelled_flag);
  st->cancel_again = lc_cancel(t);
  lc_trace("cancel(t) again -> %d", st->cancel_again);
  lc_task_unref(t);
  *result = 0;
  return 0;
}

LC_TEST(sem_cancel_cleanup, "semantics.cancel.cleanup_runs", "CANCEL-DELIVERED CANCEL-CLEANUP", 0,
        10000) {
  struct cstate st;
  memset(&st, 0, sizeof st);
  st.w = (struct worker){.name = "t", .sleep_ms = 1000, .cleanup_ms = 10};
  lc_trace_reports rep = {0};
  assert_int_equal(lc_trace_run(ctx, NULL, &rep, cc_main, &st, NULL), 0);
  assert_int_equal(st.rc, -ECANCELED);
  assert_int_equal(st.w.after_await_ran, 0);
  assert_int_equal(st.w.cleanup_done, 1);
  assert_int_equal(st.cancelled_flag, 1);
  assert_int_equal(st.cancel_again, 0);
  assert_int_equal(rep.n, 0);
}

/* ==========================================================================================
 * semantics.cancel.count_uncancel: two cancel() calls give cancelling() == 2; a task that
 * withdraws both with uncancel and returns 5 finishes normally, not cancelled, unreported.
 * ======================================================================================== */

static int cu_main(void *arg, intptr_t *result) {
  struct cstate *st = arg;
  lc_task *t = lc_spawn(worker_fn, &st->w, "t");
  if (!t) return -errno;
  lc_sleep(5 * LC_MS);
  int a = lc_cancel(t), b = lc_cancel(t);
  lc_trace("cancel(t) twice -> %d %d, cancelling(t)=%d", a, b, lc_cancelling(t));
  st->rc = lc_await(t, &st->v);
  st->cancelled_flag = lc_task_cancelled(t);
  st->cancelling_after = lc_cancelling(t);
  lc_trace("await t -> %s %ld, cancelled=%d, cancelling=%d", lc_trace_code(st->rc), (long)st->v,
           st->cancelled_flag, st->cancelling_after);
  lc_task_unref(t);
  *result = 0;
  return 0;
}

LC_TEST(sem_cancel_count, "semantics.cancel.count_uncancel", "CANCEL-COUNT CANCEL-UNCANCEL", 0,
        10000) {
  struct cstate st;
  memset(&st, 0, sizeof st);
  st.w = (struct worker){
      .name = "t", .sleep_ms = 1000, .swallow = 1, .swallow_value = 5, .uncancel = 2};
  lc_trace_reports rep = {0};
  assert_int_equal(lc_trace_run(ctx, NULL, &rep, cu_main, &st, NULL), 0);
  assert_int_equal(st.w.cancelling_seen, 2);
  assert_int_equal(st.rc, 0);
  assert_int_equal(st.v, 5);
  assert_int_equal(st.cancelled_flag, 0);
  assert_int_equal(st.cancelling_after, 0);
  assert_int_equal(rep.n, 0); /* withdrawn properly: no swallowed-cancel report */
}

/* ==========================================================================================
 * semantics.cancel.swallow_reported: a task that swallows its cancellation without uncancel
 * finishes normally with cancelling() still 1, and the runtime reports it by name
 * (LC_REPORT_SWALLOWED_CANCEL: asyncio does not report it, the runtime makes it visible).
 * ======================================================================================== */

LC_TEST(sem_cancel_swallow, "semantics.cancel.swallow_reported", "CANCEL-SWALLOW-REPORTED", 0,
        10000) {
  struct cstate st;
  memset(&st, 0, sizeof st);
  st.w = (struct worker){.name = "t", .sleep_ms = 1000, .swallow = 1, .swallow_value = 3};
  lc_trace_reports rep = {0};
  assert_int_equal(lc_trace_run(ctx, NULL, &rep, cu_main, &st, NULL), 0);
  assert_int_equal(st.rc, 0);
  assert_int_equal(st.v, 3);
  assert_int_equal(st.cancelling_after, 2);
  assert_int_equal(lc_trace_reports_count(&rep, LC_REPORT_SWALLOWED_CANCEL, "t"), 1);
  assert_int_equal(rep.n, 1);
}

/* ==========================================================================================
 * semantics.cancel.await_propagates: cancelling a task blocked in lc_await(c) cancels c too;
 * the awaiter gets -ECANCELED only after c's cleanup finished.
 * ======================================================================================== */

static int ca_waiter(void *arg, intptr_t *result) {
  struct cstate *st = arg;
  lc_task *c = lc_spawn(worker_fn, &st->w, "c");
  if (!c) return -errno;
  st->rc = lc_await(c, NULL);
  lc_trace_at("w: await c -> %s, c cleanup done: %s", lc_trace_code(st->rc),
              st->w.cleanup_done ? "yes" : "no");
  lc_task_unref(c);
  *result = 0;
  return st->rc;
}

static int ca_main(void *arg, intptr_t *result) {
  struct cstate *st = arg;
  lc_task *w = lc_spawn(ca_waiter, st, "w");
  if (!w) return -errno;
  lc_sleep(10 * LC_MS);
  lc_trace_at("main: cancel(w) -> %d", lc_cancel(w));
  st->rc2 = lc_await(w, NULL);
  lc_trace_at("main: await w -> %s", lc_trace_code(st->rc2));
  lc_task_unref(w);
  *result = 0;
  return 0;
}

LC_TEST(sem_cancel_await, "semantics.cancel.await_propagates", "CANCEL-AWAIT-PROPAGATES", 0,
        10000) {
  struct cstate st;
  memset(&st, 0, sizeof st);
  st.w = (struct worker){.name = "c", .sleep_ms = 1000, .cleanup_ms = 10};
  lc_trace_reports rep = {0};
  assert_int_equal(lc_trace_run(ctx, NULL, &rep, ca_main, &st, NULL), 0);
  assert_int_equal(st.w.cancelled, 1);
  assert_int_equal(st.rc, -ECANCELED);
  assert_int_equal(st.rc2, -ECANCELED);
  assert_int_equal(rep.n, 0);
}

/* ==========================================================================================
 * semantics.shield.outer_cancel: cancelling the task in lc_shield(inner) gives it -ECANCELED
 * at once, while the inner runs on to completion and keeps its result.
 * ======================================================================================== */

static int so_waiter(void *arg, intptr_t *result) {
  struct cstate *st = arg;
  *result = 0;
  st->rc = lc_shield(st->shielded, NULL);
  lc_trace_at("w: shield -> %s, w cancelling=%d", lc_trace_code(st->rc),
              lc_cancelling(lc_current_task()));
  return st->rc;
}

static int so_main(void *arg, intptr_t *result) {
  struct cstate *st = arg;
  lc_task *inner = lc_spawn(worker_fn, &st->w, "inner");
  if (!inner) return -errno;
  st->shielded = inner;
  lc_task *w = lc_spawn(so_waiter, st, "w");
  if (!w) return -errno;
  lc_sleep(10 * LC_MS);
  if (st->cancel_again) /* inner_cancel variant: cancel the inner itself */
    lc_trace_at("main: cancel(inner) -> %d", lc_cancel(inner));
  else lc_trace_at("main: cancel(w) -> %d", lc_cancel(w));
  st->rc2 = lc_await(w, NULL);
  lc_trace_at("main: await w -> %s", lc_trace_code(st->rc2));
  st->rc3 = lc_await(inner, &st->v);
  st->cancelled_flag = lc_task_cancelled(inner);
  lc_trace_at("main: await inner -> %s %ld, inner cancelled=%d", lc_trace_code(st->rc3),
              (long)st->v, st->cancelled_flag);
  lc_task_unref(w);
  lc_task_unref(inner);
  *result = 0;
  return 0;
}

LC_TEST(sem_shield_outer, "semantics.shield.outer_cancel", "SHIELD-OUTER-CANCEL", 0, 10000) {
  struct cstate st;
  memset(&st, 0, sizeof st);
  st.w = (struct worker){.name = "inner", .sleep_ms = 30, .value = 9};
  lc_trace_reports rep = {0};
  assert_int_equal(lc_trace_run(ctx, NULL, &rep, so_main, &st, NULL), 0);
  assert_int_equal(st.rc, -ECANCELED);
  assert_int_equal(st.rc2, -ECANCELED);
  assert_int_equal(st.rc3, 0);
  assert_int_equal(st.v, 9);
  assert_int_equal(st.cancelled_flag, 0);
  assert_int_equal(st.w.cancelled, 0);
  assert_int_equal(rep.n, 0);
}

/* ==========================================================================================
 * semantics.shield.inner_cancel: when the shielded task itself is cancelled by other means,
 * the task in lc_shield gets -ECANCELED too (with no cancel request of its own).
 * ======================================================================================== */

LC_TEST(sem_shield_inner, "semantics.shield.inner_cancel", "SHIELD-INNER-CANCEL", 0, 10000) {
  struct cstate st;
  memset(&st, 0, sizeof st);
  st.w = (struct worker){.name = "inner", .sleep_ms = 1000};
  st.cancel_again = 1; /* so_main cancels the inner instead of the waiter */
  lc_trace_reports rep = {0};
  assert_int_equal(lc_trace_run(ctx, NULL, &rep, so_main, &st, NULL), 0);
  assert_int_equal(st.rc, -ECANCELED);
  assert_int_equal(st.rc2, -ECANCELED);
  assert_int_equal(st.rc3, -ECANCELED);
  assert_int_equal(st.cancelled_flag, 1);
  assert_int_equal(rep.n, 0);
}

/* ==========================================================================================
 * semantics.shutdown.cancels_pending: when main returns, lc_run cancels a task still pending
 * and runs its cleanup (which awaits) before returning; the runtime reports it by name.
 * ======================================================================================== */

static int sp_main(void *arg, intptr_t *result) {
  struct cstate *st = arg;
  lc_task *bg = lc_spawn(worker_fn, &st->w, "bg");
  if (!bg) return -errno;
  lc_task_unref(bg); /* detached */
  lc_sleep(5 * LC_MS);
  lc_trace("main returns 1");
  *result = 1;
  return 0;
}

LC_TEST(sem_shutdown_pending, "semantics.shutdown.cancels_pending", "SHUTDOWN-CANCELS-PENDING", 0,
        10000) {
  struct cstate st;
  memset(&st, 0, sizeof st);
  st.w = (struct worker){.name = "bg", .sleep_ms = 5000, .cleanup_ms = 10};
  lc_trace_reports rep = {0};
  intptr_t res = 0;
  assert_int_equal(lc_trace_run(ctx, NULL, &rep, sp_main, &st, &res), 0);
  assert_int_equal(res, 1);
  assert_int_equal(st.w.cancelled, 1);
  assert_int_equal(st.w.cleanup_done, 1);
  assert_int_equal(lc_trace_reports_count(&rep, LC_REPORT_CANCELLED_AT_SHUTDOWN, "bg"), 1);
  assert_int_equal(rep.n, 1);
}

/* ==========================================================================================
 * semantics.shutdown.unretrieved_error: a detached task (no reference left) that fails is
 * reported by name as soon as it failed, since nobody can ever retrieve its error (asyncio:
 * "Task exception was never retrieved" when the last reference goes).
 * ======================================================================================== */

static int ue_fail(void *arg, intptr_t *result) {
  (void)arg;
  (void)result;
  lc_sleep(5 * LC_MS);
  lc_trace_at("bg fails EIO");
  return lc_error(-EIO, "bg gave up");
}

static int ue_main(void *arg, intptr_t *result) {
  (void)arg;
  lc_task *bg = lc_spawn(ue_fail, NULL, "bg");
  if (!bg) return -errno;
  lc_task_unref(bg);
  lc_sleep(20 * LC_MS);
  lc_trace_at("main returns");
  *result = 0;
  return 0;
}

LC_TEST(sem_shutdown_unretrieved, "semantics.shutdown.unretrieved_error",
        "SHUTDOWN-UNRETRIEVED-ERROR", 0, 10000) {
  lc_trace_reports rep = {0};
  rep.trace_kinds = 1u << LC_REPORT_UNRETRIEVED_ERROR;
  assert_int_equal(lc_trace_run(ctx, NULL, &rep, ue_main, NULL, NULL), 0);
  assert_int_equal(lc_trace_reports_count(&rep, LC_REPORT_UNRETRIEVED_ERROR, "bg"), 1);
  assert_int_equal(rep.n, 1);
}

/* ==========================================================================================
 * semantics.shutdown.deadlock: when every task waits for something that can never happen
 * (nothing ready, no timer, nothing active), asyncio hangs for ever; the runtime instead
 * cancels the waiting tasks, lets their cleanup run, and lc_run returns -EDEADLK.
 * ======================================================================================== */

static int dl_waiter(void *arg, intptr_t *result) {
  lc_event *ev = arg;
  int rc = lc_event_wait(ev);
  lc_trace("w: wait -> %s", lc_trace_code(rc));
  *result = 0;
  return rc;
}

static int dl_main(void *arg, intptr_t *result) {
  int *main_rc = arg;
  lc_event *ev = lc_event_new();
  if (!ev) return -ENOMEM;
  lc_task *w = lc_spawn(dl_waiter, ev, "w");
  if (!w) return -errno;
  lc_trace("main waits for w, which waits for an event nobody sets");
  *main_rc = lc_await(w, NULL);
  lc_trace("main: await w -> %s", lc_trace_code(*main_rc));
  lc_task_unref(w);
  lc_event_free(ev);
  *result = 0;
  return *main_rc;
}

LC_TEST(sem_shutdown_deadlock, "semantics.shutdown.deadlock", "SHUTDOWN-DEADLOCK", 0, 10000) {
  int main_rc = 0;
  lc_trace_reports rep = {0};
  int rc = lc_trace_run(ctx, NULL, &rep, dl_main, &main_rc, NULL);
  assert_int_equal(rc, -EDEADLK);
  assert_int_equal(main_rc, -ECANCELED);
}
