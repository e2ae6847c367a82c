/* semantics_gather.c: asyncio-semantics tests of gather: order, max-not-sum, errors, cancel.
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

#define GN_MAX 8

/* A child: sleep delay_ms, then return value or fail with -fail. Traces start, end, cancel. */
struct gchild {
  const char *name;
  int delay_ms;
  int value;
  int fail;      /* errno to fail with, 0 for success */
  int cancelled; /* set when its sleep returned -ECANCELED */
  int finished;  /* set when it returned (any way) */
  int quiet;     /* no start line */
};

static int gchild_fn(void *arg, intptr_t *result) {
  struct gchild *c = arg;
  if (!c->quiet) lc_trace("%s start", c->name);
  int rc = lc_sleep((int64_t)c->delay_ms * LC_MS);
  c->finished = 1;
  if (rc == -ECANCELED) {
    c->cancelled = 1;
    lc_trace_at("%s cancelled", c->name);
    return rc;
  }
  if (c->fail) {
    lc_trace_at("%s fails %s", c->name, lc_trace_code(-c->fail));
    return -c->fail;
  }
  lc_trace_at("%s done", c->name);
  *result = c->value;
  return 0;
}

/* Spawn children[0..n) into t[]; 0 or -errno. */
static int gspawn(struct gchild *children, size_t n, lc_task **t) {
  for (size_t i = 0; i < n; i++) {
    t[i] = lc_spawn(gchild_fn, &children[i], children[i].name);
    if (!t[i]) return -errno;
  }
  return 0;
}

static void gunref(lc_task **t, size_t n) {
  for (size_t i = 0; i < n; i++) lc_task_unref(t[i]);
}

/* "[1, EIO, 3]": results and errors in argument order. */
static void gformat(char *buf, size_t cap, const intptr_t *res, const int *err, size_t n) {
  size_t len = (size_t)snprintf(buf, cap, "[");
  for (size_t i = 0; i < n && len < cap; i++) {
    if (err[i] == 0)
      len += (size_t)snprintf(buf + len, cap - len, "%s%ld", i ? ", " : "", (long)res[i]);
    else
      len += (size_t)snprintf(buf + len, cap - len, "%s%s", i ? ", " : "", lc_trace_code(err[i]));
  }
  if (len < cap) snprintf(buf + len, cap - len, "]");
}

struct gstate {
  struct gchild c[GN_MAX];
  intptr_t res[GN_MAX];
  int err[GN_MAX];
  int rc, rc2;
  int64_t elapsed_ns;
  int sibling_done_at_return; /* gather.error: was b done when gather returned */
  int64_t b_finished_at_ns;
};

/* ==========================================================================================
 * semantics.gather.order: children finishing in the order b, c, a give results in argument
 * order [1, 2, 3].
 * ======================================================================================== */

static int go_main(void *arg, intptr_t *result) {
  struct gstate *st = arg;
  lc_task *t[3];
  int rc = gspawn(st->c, 3, t);
  if (rc) return rc;
  st->rc = lc_gather(t, 3, st->res, st->err, 0);
  char buf[128];
  gformat(buf, sizeof buf, st->res, st->err, 3);
  lc_trace_at("gather -> %s %s", lc_trace_code(st->rc), buf);
  gunref(t, 3);
  *result = 0;
  return 0;
}

LC_TEST(sem_gather_order, "semantics.gather.order", "GATHER-ORDER", 0, 10000) {
  struct gstate st;
  memset(&st, 0, sizeof st);
  st.c[0] = (struct gchild){.name = "a", .delay_ms = 30, .value = 1};
  st.c[1] = (struct gchild){.name = "b", .delay_ms = 10, .value = 2};
  st.c[2] = (struct gchild){.name = "c", .delay_ms = 20, .value = 3};
  lc_trace_reports rep = {0};
  assert_int_equal(lc_trace_run(ctx, NULL, &rep, go_main, &st, NULL), 0);
  assert_int_equal(st.rc, 0);
  assert_int_equal(st.res[0], 1);
  assert_int_equal(st.res[1], 2);
  assert_int_equal(st.res[2], 3);
  assert_int_equal(rep.n, 0);
}

/* ==========================================================================================
 * semantics.gather.max_not_sum: gather of 8 sleeps of 10..80 ms takes about 80 ms (the max),
 * not 360 ms (the sum): elapsed/max within [1, 1 + tolerance], elapsed well under the sum.
 * ======================================================================================== */

static int gm_main(void *arg, intptr_t *result) {
  struct gstate *st = arg;
  lc_task *t[GN_MAX];
  int rc = gspawn(st->c, GN_MAX, t);
  if (rc) return rc;
  int64_t t0 = lc_clock_ns();
  st->rc = lc_gather(t, GN_MAX, st->res, st->err, 0);
  st->elapsed_ns = lc_clock_ns() - t0;
  lc_trace_at("gather of 8 -> %s", lc_trace_code(st->rc));
  gunref(t, GN_MAX);
  *result = 0;
  return 0;
}

LC_TEST(sem_gather_max_not_sum, "semantics.gather.max_not_sum", "GATHER-MAX-NOT-SUM", 0, 10000) {
  struct gstate st;
  memset(&st, 0, sizeof st);
  static const char *names[GN_MAX] = {"s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8"};
  int64_t sum = 0, max = 0;
  for (int i = 0; i < GN_MAX; i++) {
    st.c[i] =
        (struct gchild){.name = names[i], .delay_ms = 10 * (GN_MAX - i), .value = i, .quiet = 1};
    sum += st.c[i].delay_ms * LC_MS;
    if (st.c[i].delay_ms * LC_MS > max) max = st.c[i].delay_ms * LC_MS;
  }
  lc_trace_reports rep = {0};
  assert_int_equal(lc_trace_run(ctx, NULL, &rep, gm_main, &st, NULL), 0);
  assert_int_equal(st.rc, 0);
  double ratio = (double)st.elapsed_ns / (double)max;
  /* 60 ms x multiplier of slack over the 80 ms max: a busy machine's scheduling delays fit,
   * while the sum (360 ms) or even two of the longest children run one after the other
   * (150 ms) do not. */
  double allowed = 1.0 + (double)lc_tol_ns(ctx, 60 * LC_MS) / (double)max;
  lc_note(ctx, "gather of 8: %.1f ms, max %.0f ms, sum %.0f ms, elapsed/max %.2f",
          (double)st.elapsed_ns / LC_MS, (double)max / LC_MS, (double)sum / LC_MS, ratio);
  if (st.elapsed_ns < max) lc_fail(ctx, "gather returned before its longest child (%.2f)", ratio);
  if (ratio > allowed)
    lc_fail(ctx, "gather took %.2f x the longest child (allowed %.2f); sum/max is %.2f", ratio,
            allowed, (double)sum / (double)max);
  assert_int_equal(rep.n, 0);
}

/* ==========================================================================================
 * semantics.gather.error_siblings_continue: default gather returns the first error at once
 * and does NOT cancel the other children (seed 003 says it does; CPython, bpo-34433: not).
 * ======================================================================================== */

static int ge_main(void *arg, intptr_t *result) {
  struct gstate *st = arg;
  lc_task *t[2];
  int rc = gspawn(st->c, 2, t);
  if (rc) return rc;
  st->rc = lc_gather(t, 2, st->res, st->err, 0);
  st->sibling_done_at_return = lc_task_done(t[1]);
  lc_trace_at("gather -> %s, b done: %s", lc_trace_code(st->rc),
              st->sibling_done_at_return ? "yes" : "no");
  intptr_t v = 0;
  st->rc2 = lc_await(t[1], &v);
  lc_trace_at("await b -> %s %ld, b cancelled: %s", lc_trace_code(st->rc2), (long)v,
              lc_task_cancelled(t[1]) ? "yes" : "no");
  gunref(t, 2);
  *result = 0;
  return 0;
}

LC_TEST(sem_gather_error, "semantics.gather.error_siblings_continue",
        "GATHER-FIRST-ERROR GATHER-NO-SIBLING-CANCEL", 0, 10000) {
  struct gstate st;
  memset(&st, 0, sizeof st);
  st.c[0] = (struct gchild){.name = "a", .delay_ms = 10, .fail = EIO};
  st.c[1] = (struct gchild){.name = "b", .delay_ms = 30, .value = 2};
  lc_trace_reports rep = {0};
  assert_int_equal(lc_trace_run(ctx, NULL, &rep, ge_main, &st, NULL), 0);
  assert_int_equal(st.rc, -EIO);
  assert_int_equal(st.sibling_done_at_return, 0);
  assert_int_equal(st.rc2, 0);
  assert_int_equal(st.c[1].cancelled, 0);
  assert_int_equal(rep.n, 0); /* a's error was taken by gather: nothing unretrieved */
}

/* ==========================================================================================
 * semantics.gather.return_exceptions: with LC_GATHER_RETURN_EXCEPTIONS every child runs to
 * completion and the errors land in their slots: [EIO, 2, EINVAL], gather returns 0.
 * ======================================================================================== */

static int gr_main(void *arg, intptr_t *result) {
  struct gstate *st = arg;
  lc_task *t[3];
  int rc = gspawn(st->c, 3, t);
  if (rc) return rc;
  st->rc = lc_gather(t, 3, st->res, st->err, LC_GATHER_RETURN_EXCEPTIONS);
  char buf[128];
  gformat(buf, sizeof buf, st->res, st->err, 3);
  lc_trace_at("gather -> %s %s", lc_trace_code(st->rc), buf);
  gunref(t, 3);
  *result = 0;
  return 0;
}

LC_TEST(sem_gather_return_exc, "semantics.gather.return_exceptions", "GATHER-RETURN-EXCEPTIONS", 0,
        10000) {
  struct gstate st;
  memset(&st, 0, sizeof st);
  st.c[0] = (struct gchild){.name = "a", .delay_ms = 10, .fail = EIO};
  st.c[1] = (struct gchild){.name = "b", .delay_ms = 20, .value = 2};
  st.c[2] = (struct gchild){.name = "c", .delay_ms = 30, .fail = EINVAL};
  lc_trace_reports rep = {0};
  assert_int_equal(lc_trace_run(ctx, NULL, &rep, gr_main, &st, NULL), 0);
  assert_int_equal(st.rc, 0);
  assert_int_equal(st.err[0], -EIO);
  assert_int_equal(st.err[1], 0);
  assert_int_equal(st.res[1], 2);
  assert_int_equal(st.err[2], -EINVAL);
  assert_int_equal(st.c[2].finished, 1);
  assert_int_equal(rep.n, 0);
}

/* ==========================================================================================
 * semantics.gather.cancel_outer: cancelling the task that awaits gather cancels every child
 * not yet finished; gather returns -ECANCELED once they are done; a finished child keeps its
 * result.
 * ======================================================================================== */

struct gc_state {
  struct gstate g;
  int g_rc;
};

static int gc_gatherer(void *arg, intptr_t *result) {
  struct gc_state *st = arg;
  lc_task *t[3];
  int rc = gspawn(st->g.c, 3, t);
  if (rc) return rc;
  st->g.rc = lc_gather(t, 3, st->g.res, st->g.err, 0);
  lc_trace_at("g: gather -> %s", lc_trace_code(st->g.rc));
  gunref(t, 3);
  *result = 0;
  return st->g.rc;
}

static int gc_main(void *arg, intptr_t *result) {
  struct gc_state *st = arg;
  lc_task *g = lc_spawn(gc_gatherer, st, "g");
  if (!g) return -errno;
  lc_sleep(50 * LC_MS); /* 40 ms after a finished: a loaded machine cannot reorder them */
  lc_trace_at("main: cancel(g) -> %d", lc_cancel(g));
  st->g_rc = lc_await(g, NULL);
  lc_trace_at("main: await g -> %s", lc_trace_code(st->g_rc));
  lc_task_unref(g);
  *result = 0;
  return 0;
}

LC_TEST(sem_gather_cancel_outer, "semantics.gather.cancel_outer", "GATHER-CANCEL-OUTER", 0, 10000) {
  struct gc_state st;
  memset(&st, 0, sizeof st);
  st.g.c[0] = (struct gchild){.name = "a", .delay_ms = 10, .value = 1};
  st.g.c[1] = (struct gchild){.name = "b", .delay_ms = 500, .value = 2};
  st.g.c[2] = (struct gchild){.name = "c", .delay_ms = 600, .value = 3};
  lc_trace_reports rep = {0};
  assert_int_equal(lc_trace_run(ctx, NULL, &rep, gc_main, &st, NULL), 0);
  assert_int_equal(st.g.rc, -ECANCELED);
  assert_int_equal(st.g_rc, -ECANCELED);
  assert_int_equal(st.g.c[0].cancelled, 0);
  assert_int_equal(st.g.c[1].cancelled, 1);
  assert_int_equal(st.g.c[2].cancelled, 1);
  assert_int_equal(rep.n, 0);
}

/* ==========================================================================================
 * semantics.gather.child_cancelled: a child cancelled by someone else counts as failing with
 * -ECANCELED: in its slot with LC_GATHER_RETURN_EXCEPTIONS ([1, ECANCELED, 3]), as gather's
 * own result by default (while the awaiting task itself is not cancelled).
 * ======================================================================================== */

static int gk_main(void *arg, intptr_t *result) {
  struct gstate *st = arg;
  lc_task *t[5];
  int rc = gspawn(st->c, 5, t);
  if (rc) return rc;
  lc_sleep(5 * LC_MS);
  lc_trace_at("cancel(b) -> %d", lc_cancel(t[1]));
  st->rc = lc_gather(t, 3, st->res, st->err, LC_GATHER_RETURN_EXCEPTIONS);
  char buf[128];
  gformat(buf, sizeof buf, st->res, st->err, 3);
  lc_trace_at("gather(a, b, c, return_exceptions) -> %s %s", lc_trace_code(st->rc), buf);
  lc_trace_at("cancel(d) -> %d", lc_cancel(t[3]));
  st->rc2 = lc_gather(t + 3, 2, NULL, NULL, 0);
  lc_trace_at("gather(d, e) -> %s, main cancelling=%d", lc_trace_code(st->rc2),
              lc_cancelling(lc_current_task()));
  intptr_t v = 0;
  rc = lc_await(t[4], &v);
  lc_trace_at("await e -> %s %ld", lc_trace_code(rc), (long)v);
  gunref(t, 5);
  *result = 0;
  return 0;
}

LC_TEST(sem_gather_child_cancelled, "semantics.gather.child_cancelled", "GATHER-CHILD-CANCELLED", 0,
        10000) {
  struct gstate st;
  memset(&st, 0, sizeof st);
  /* 25 ms or more between the events, so that a loaded machine cannot reorder them. */
  st.c[0] = (struct gchild){.name = "a", .delay_ms = 30, .value = 1};
  st.c[1] = (struct gchild){.name = "b", .delay_ms = 500, .value = 2};
  st.c[2] = (struct gchild){.name = "c", .delay_ms = 60, .value = 3};
  st.c[3] = (struct gchild){.name = "d", .delay_ms = 500, .value = 4};
  st.c[4] = (struct gchild){.name = "e", .delay_ms = 120, .value = 5};
  lc_trace_reports rep = {0};
  assert_int_equal(lc_trace_run(ctx, NULL, &rep, gk_main, &st, NULL), 0);
  assert_int_equal(st.rc, 0);
  assert_int_equal(st.err[1], -ECANCELED);
  assert_int_equal(st.res[0], 1);
  assert_int_equal(st.res[2], 3);
  assert_int_equal(st.rc2, -ECANCELED);
  assert_int_equal(st.c[4].cancelled, 0);
  assert_int_equal(rep.n, 0);
}
