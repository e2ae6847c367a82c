/* semantics_api.c: asyncio-semantics tests of smaller pieces of asyncio's API: cancel with a
 * message, timeout_at and when(), wait_for(aw, None), wait_for(shield(t)) and set_name.
 *
 * One body per scenario, run on every backend through lc_run(ctx->b, ...); each writes an
 * event trace for its asyncio twin (harness/oracle/<scenario>.py). Clauses: spec/semantics.tsv.
 * Tasks only record what they see; the assertions run after lc_run returns.
 */
#include "lc_test.h"
#include "lc_trace.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

struct astate {
  char msg[4][64];
  int rc[16];
  intptr_t v[8];
};

static struct astate *as_;

/* ==========================================================================================
 * semantics.cancel.message: the message of lc_cancel_msg reaches the cancelled task and a
 * task it awaits; a plain cancel carries none.
 * ======================================================================================== */

static int cm_sleeper(void *arg, intptr_t *result) {
  int slot = (int)(intptr_t)arg;
  static const char *const names[] = {"sleeper", "inner", "outer", "plain"};
  int rc = lc_sleep(LC_S);
  if (rc == -ECANCELED) {
    snprintf(as_->msg[slot], sizeof as_->msg[slot], "%s", lc_cancel_message(lc_current_task()));
    lc_trace("%s cancelled: '%s'", names[slot], as_->msg[slot]);
  }
  *result = 0;
  return rc;
}

static int cm_outer(void *arg, intptr_t *result) {
  int rc = lc_await(arg, NULL);
  if (rc == -ECANCELED) {
    snprintf(as_->msg[2], sizeof as_->msg[2], "%s", lc_cancel_message(lc_current_task()));
    lc_trace("outer cancelled: '%s'", as_->msg[2]);
  }
  *result = 0;
  return rc;
}

static int cm_main(void *arg, intptr_t *result) {
  (void)arg;
  lc_task *s = lc_spawn(cm_sleeper, (void *)0, "sleeper");
  if (!s) return -errno;
  lc_sleep(5 * LC_MS);
  lc_cancel_msg(s, "shutting down");
  lc_gather(&s, 1, NULL, NULL, LC_GATHER_RETURN_EXCEPTIONS);
  lc_task *inner = lc_spawn(cm_sleeper, (void *)1, "inner");
  if (!inner) return -errno;
  lc_task *o = lc_spawn(cm_outer, inner, "outer");
  if (!o) return -errno;
  lc_sleep(5 * LC_MS);
  lc_cancel_msg(o, "stop");
  lc_gather(&o, 1, NULL, NULL, LC_GATHER_RETURN_EXCEPTIONS);
  lc_task *p = lc_spawn(cm_sleeper, (void *)3, "plain");
  if (!p) return -errno;
  lc_sleep(5 * LC_MS);
  lc_cancel(p);
  lc_gather(&p, 1, NULL, NULL, LC_GATHER_RETURN_EXCEPTIONS);
  lc_task_unref(s);
  lc_task_unref(inner);
  lc_task_unref(o);
  lc_task_unref(p);
  *result = 0;
  return 0;
}

LC_TEST(sem_cancel_message, "semantics.cancel.message", "CANCEL-MESSAGE", 0, 10000) {
  struct astate st;
  memset(&st, 0, sizeof st);
  as_ = &st;
  assert_int_equal(lc_trace_run(ctx, NULL, NULL, cm_main, NULL, NULL), 0);
  assert_string_equal(st.msg[0], "shutting down");
  assert_string_equal(st.msg[1], "stop");
  assert_string_equal(st.msg[2], "stop");
  assert_string_equal(st.msg[3], "");
}

/* ==========================================================================================
 * semantics.timeout.at_when: timeout_at expires at its absolute deadline; when() is that
 * deadline (none for no deadline); a deadline already past expires at the next iteration.
 * ======================================================================================== */

static int ta_main(void *arg, intptr_t *result) {
  (void)arg;
  int64_t t0 = lc_now();
  lc_timeout to;
  int rc = lc_timeout_enter_at(&to, t0 + 20 * LC_MS);
  if (rc) return rc;
  as_->v[0] = (lc_timeout_when(&to) - t0 + LC_MS / 2) / LC_MS;
  lc_trace("when-start=%ldms", (long)as_->v[0]);
  rc = lc_timeout_exit(&to, lc_sleep(LC_S));
  as_->rc[0] = rc;
  lc_trace_at("timeout_at -> %s, expired=%d", lc_trace_code(rc), lc_timeout_expired(&to));
  if ((rc = lc_timeout_enter(&to, -1)) != 0) return rc;
  as_->v[1] = lc_timeout_when(&to) == INT64_MAX;
  lc_trace("timeout(None).when() -> %s", as_->v[1] ? "none" : "set");
  lc_timeout_exit(&to, 0);
  if ((rc = lc_timeout_enter_at(&to, lc_now() - LC_S)) != 0) return rc;
  rc = lc_timeout_exit(&to, lc_sleep(LC_S));
  as_->rc[1] = rc;
  lc_trace_at("past deadline -> %s", lc_trace_code(rc));
  *result = 0;
  return 0;
}

LC_TEST(sem_timeout_at_when, "semantics.timeout.at_when", "TIMEOUT-AT-WHEN", 0, 10000) {
  struct astate st;
  memset(&st, 0, sizeof st);
  as_ = &st;
  assert_int_equal(lc_trace_run(ctx, NULL, NULL, ta_main, NULL, NULL), 0);
  assert_int_equal(st.v[0], 20);
  assert_int_equal(st.rc[0], -ETIMEDOUT);
  assert_int_equal(st.v[1], 1);
  assert_int_equal(st.rc[1], -ETIMEDOUT);
}

/* ==========================================================================================
 * semantics.waitfor.no_timeout: wait_for(aw, None) is await: it waits as long as it takes;
 * cancelling the caller cancels the inner, whose value after swallowing it is returned.
 * ======================================================================================== */

struct inner_arg {
  int ms;
  intptr_t value;
  int swallow;
};

static int wn_inner(void *arg, intptr_t *result) {
  const struct inner_arg *a = arg;
  int rc = lc_sleep(a->ms * LC_MS);
  if (rc == -ECANCELED) {
    lc_trace("inner cancelled");
    if (!a->swallow) return rc;
    lc_uncancel(lc_current_task());
  }
  *result = a->value;
  return 0;
}

static int wn_caller(void *arg, intptr_t *result) {
  intptr_t r = 0;
  int rc = lc_wait_for(arg, LC_NO_TIMEOUT, &r);
  as_->rc[1] = rc;
  if (rc == 0) lc_trace("caller -> ok %ld", (long)r);
  *result = r;
  return rc;
}

static int wn_main(void *arg, intptr_t *result) {
  (void)arg;
  static const struct inner_arg a1 = {20, 5, 0}, a2 = {1000, 7, 1};
  lc_task *t = lc_spawn(wn_inner, (void *)&a1, "inner");
  if (!t) return -errno;
  intptr_t r = 0;
  as_->rc[0] = lc_wait_for(t, LC_NO_TIMEOUT, &r);
  lc_trace_at("wait_for(None) -> %s %ld", lc_trace_code(as_->rc[0]), (long)r);
  as_->v[0] = r;
  lc_task_unref(t);
  if (!(t = lc_spawn(wn_inner, (void *)&a2, "inner"))) return -errno;
  lc_task *c = lc_spawn(wn_caller, t, "caller");
  if (!c) return -errno;
  lc_sleep(5 * LC_MS);
  lc_cancel(c);
  as_->rc[2] = lc_await(c, &r);
  as_->v[1] = r;
  lc_trace("cancelled caller -> %s %ld, inner cancelled: %d", lc_trace_code(as_->rc[2]), (long)r,
           lc_task_cancelled(t));
  lc_task_unref(c);
  lc_task_unref(t);
  *result = 0;
  return 0;
}

LC_TEST(sem_waitfor_no_timeout, "semantics.waitfor.no_timeout", "WAITFOR-NO-TIMEOUT", 0, 10000) {
  struct astate st;
  memset(&st, 0, sizeof st);
  as_ = &st;
  lc_trace_reports rep = {0}; /* the caller swallows the cancel it handed on: reported */
  assert_int_equal(lc_trace_run(ctx, NULL, &rep, wn_main, NULL, NULL), 0);
  assert_int_equal(st.rc[0], 0);
  assert_int_equal(st.v[0], 5);
  assert_int_equal(st.rc[2], 0);
  assert_int_equal(st.v[1], 7);
}

/* ==========================================================================================
 * semantics.shield.wait_for: wait_for(shield(t), timeout) times out without cancelling t,
 * which keeps its result; cancelling the caller does not cancel t either.
 * ======================================================================================== */

static int sw_inner(void *arg, intptr_t *result) {
  const struct inner_arg *a = arg;
  int rc = lc_sleep(a->ms * LC_MS);
  if (rc) return rc;
  lc_trace_at("inner done %ld", (long)a->value);
  *result = a->value;
  return 0;
}

static int sw_caller(void *arg, intptr_t *result) {
  *result = 0;
  as_->rc[3] = lc_wait_for_shield(arg, LC_S, NULL);
  return as_->rc[3];
}

static int sw_main(void *arg, intptr_t *result) {
  (void)arg;
  static const struct inner_arg a1 = {60, 9, 0}, a2 = {60, 4, 0};
  lc_task *t = lc_spawn(sw_inner, (void *)&a1, "inner");
  if (!t) return -errno;
  as_->rc[0] = lc_wait_for_shield(t, 20 * LC_MS, NULL);
  lc_trace_at("wait_for(shield) -> %s, inner cancelled: %d", lc_trace_code(as_->rc[0]),
              lc_task_cancelled(t));
  intptr_t r = 0;
  as_->rc[1] = lc_await(t, &r);
  as_->v[0] = r;
  lc_trace_at("inner -> %s %ld", lc_trace_code(as_->rc[1]), (long)r);
  lc_task *u = lc_spawn(sw_inner, (void *)&a2, "inner2");
  if (!u) return -errno;
  lc_task *c = lc_spawn(sw_caller, u, "caller");
  if (!c) return -errno;
  lc_sleep(5 * LC_MS);
  lc_cancel(c);
  as_->rc[2] = lc_await(c, NULL);
  if (as_->rc[2] == -ECANCELED)
    lc_trace("cancelled caller -> ECANCELED, inner2 cancelled: %d", lc_task_cancelled(u));
  as_->rc[4] = lc_await(u, &r);
  as_->v[1] = r;
  lc_trace_at("inner2 -> %s %ld", lc_trace_code(as_->rc[4]), (long)r);
  lc_task_unref(t);
  lc_task_unref(u);
  lc_task_unref(c);
  *result = 0;
  return 0;
}

LC_TEST(sem_shield_wait_for, "semantics.shield.wait_for", "SHIELD-WAIT-FOR", 0, 10000) {
  struct astate st;
  memset(&st, 0, sizeof st);
  as_ = &st;
  assert_int_equal(lc_trace_run(ctx, NULL, NULL, sw_main, NULL, NULL), 0);
  assert_int_equal(st.rc[0], -ETIMEDOUT);
  assert_int_equal(st.rc[1], 0);
  assert_int_equal(st.v[0], 9);
  assert_int_equal(st.rc[2], -ECANCELED);
  assert_int_equal(st.rc[4], 0);
  assert_int_equal(st.v[1], 4);
}

/* ==========================================================================================
 * semantics.sched.set_name: a task's name can be changed after it was spawned.
 * ======================================================================================== */

static int sn_child(void *arg, intptr_t *result) {
  (void)arg;
  lc_trace("child runs as '%s'", lc_task_name(lc_current_task()));
  snprintf(as_->msg[0], sizeof as_->msg[0], "%s", lc_task_name(lc_current_task()));
  *result = 0;
  return 0;
}

static int sn_main(void *arg, intptr_t *result) {
  (void)arg;
  lc_task *t = lc_spawn(sn_child, NULL, "first");
  if (!t) return -errno;
  lc_trace("spawned as '%s'", lc_task_name(t));
  as_->rc[0] = lc_task_set_name(t, "a-much-longer-name-than-the-inline-buffer-holds");
  lc_await(t, NULL);
  lc_task_unref(t);
  *result = 0;
  return 0;
}

LC_TEST(sem_sched_set_name, "semantics.sched.set_name", "SCHED-SET-NAME", 0, 10000) {
  struct astate st;
  memset(&st, 0, sizeof st);
  as_ = &st;
  assert_int_equal(lc_trace_run(ctx, NULL, NULL, sn_main, NULL, NULL), 0);
  assert_int_equal(st.rc[0], 0);
  assert_string_equal(st.msg[0], "a-much-longer-name-than-the-inline-buffer-holds");
}
