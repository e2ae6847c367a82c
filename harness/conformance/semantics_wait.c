/* semantics_wait.c: asyncio-semantics tests of asyncio.wait (lc_wait), as_completed and
 * loop.call_later / call_at (lc_call_later, lc_call_at).
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

struct swait_state {
  char flags[8][24];
  int rc[16];
  int64_t at_ms[16];
  int ticks;
  char order[16];
  size_t n;
};

static struct swait_state *ws_;

struct wait_job {
  int ms;
  int value;
  int err;
};

static int job_fn(void *arg, intptr_t *result) {
  const struct wait_job *j = arg;
  int rc = lc_sleep(j->ms * LC_MS);
  if (rc) return rc;
  if (j->err) return -j->err;
  *result = j->value ? j->value : j->ms;
  return 0;
}

static int ticker_fn(void *arg, intptr_t *result) {
  (void)arg;
  for (int k = 0; k < 5; k++) {
    ws_->ticks++;
    lc_yield();
  }
  *result = 0;
  return 0;
}

static const char *flags(int slot, const unsigned char *done, size_t n) {
  char *b = ws_->flags[slot];
  size_t len = 0;
  b[len++] = '[';
  for (size_t i = 0; i < n && len + 4 < sizeof ws_->flags[slot]; i++) {
    if (i) b[len++] = ',', b[len++] = ' ';
    b[len++] = done[i] ? '1' : '0';
  }
  b[len++] = ']';
  b[len] = 0;
  return b;
}

static int64_t now_ms(void) { return (lc_trace_elapsed_ns() + LC_MS / 2) / LC_MS; }

/* ==========================================================================================
 * semantics.wait.modes: FIRST_COMPLETED, FIRST_EXCEPTION, ALL_COMPLETED with and without a
 * timeout; wait always suspends; cancelling the waiter does not cancel the tasks.
 * ======================================================================================== */

static lc_task *wm_d;

static int wm_waiter(void *arg, intptr_t *result) {
  (void)arg;
  *result = 0;
  return lc_wait(&wm_d, 1, LC_ALL_COMPLETED, -1, NULL, NULL);
}

static int wm_main(void *arg, intptr_t *result) {
  (void)arg;
  static const struct wait_job ja = {30, 0, 0}, jb = {60, 0, EIO}, jc = {120, 0, 0},
                               jd = {90, 0, 0};
  lc_task *t[3] = {lc_spawn(job_fn, (void *)&ja, "a"), lc_spawn(job_fn, (void *)&jb, "b"),
                   lc_spawn(job_fn, (void *)&jc, "c")};
  if (!t[0] || !t[1] || !t[2]) return -ENOMEM;
  unsigned char d[3];
  ws_->rc[0] = lc_wait(t, 3, LC_FIRST_COMPLETED, -1, d, NULL);
  lc_trace_at("FIRST_COMPLETED -> %s", flags(0, d, 3));
  ws_->rc[1] = lc_wait(t + 1, 2, LC_FIRST_EXCEPTION, -1, d, NULL);
  lc_trace_at("FIRST_EXCEPTION -> %s", flags(1, d, 2));
  ws_->rc[2] = lc_wait(t + 2, 1, LC_ALL_COMPLETED, 15 * LC_MS, d, NULL);
  lc_trace_at("ALL_COMPLETED, timeout 15 ms -> %s", flags(2, d, 1));
  size_t nd = 0;
  ws_->rc[3] = lc_wait(t, 3, LC_ALL_COMPLETED, -1, d, &nd);
  lc_trace_at("ALL_COMPLETED -> %s", flags(3, d, 3));
  ws_->rc[4] = (int)nd;
  lc_task *tk = lc_spawn(ticker_fn, NULL, "ticker");
  if (!tk) return -errno;
  lc_yield();
  int before = ws_->ticks;
  lc_task *ac[2] = {t[0], t[2]};
  lc_wait(ac, 2, LC_ALL_COMPLETED, -1, d, NULL);
  ws_->rc[5] = ws_->ticks != before;
  lc_trace("wait on done tasks -> %s, other tasks ran meanwhile: %d", flags(4, d, 2), ws_->rc[5]);
  lc_await(tk, NULL);
  lc_task_unref(tk);
  if (!(wm_d = lc_spawn(job_fn, (void *)&jd, "d"))) return -errno;
  lc_task *w = lc_spawn(wm_waiter, NULL, "w");
  if (!w) return -errno;
  lc_sleep(5 * LC_MS);
  lc_cancel(w);
  ws_->rc[6] = lc_await(w, NULL);
  if (ws_->rc[6] == -ECANCELED)
    lc_trace("cancelled wait -> ECANCELED, d cancelled: %d", lc_task_cancelled(wm_d));
  intptr_t v = 0;
  ws_->rc[7] = lc_await(wm_d, &v);
  lc_trace_at("d -> %ld", (long)v);
  lc_task_unref(w);
  lc_task_unref(wm_d);
  lc_task_result(t[1], NULL);
  for (int i = 0; i < 3; i++) lc_task_unref(t[i]);
  *result = 0;
  return 0;
}

LC_TEST(sem_wait_modes, "semantics.wait.modes",
        "WAIT-FIRST-COMPLETED WAIT-FIRST-EXCEPTION WAIT-ALL-COMPLETED WAIT-TIMEOUT "
        "WAIT-SUSPENDS WAIT-CANCEL",
        0, 10000) {
  struct swait_state st;
  memset(&st, 0, sizeof st);
  ws_ = &st;
  assert_int_equal(lc_trace_run(ctx, NULL, NULL, wm_main, NULL, NULL), 0);
  assert_string_equal(st.flags[0], "[1, 0, 0]");
  assert_string_equal(st.flags[1], "[1, 0]");
  assert_string_equal(st.flags[2], "[0]"); /* timed out: returned, not -ETIMEDOUT */
  assert_int_equal(st.rc[2], 0);
  assert_string_equal(st.flags[3], "[1, 1, 1]");
  assert_int_equal(st.rc[4], 3);
  assert_int_equal(st.rc[5], 1);
  assert_int_equal(st.rc[6], -ECANCELED);
  assert_int_equal(st.rc[7], 0); /* d was not cancelled */
}

/* ==========================================================================================
 * semantics.wait.as_completed: tasks come out in the order they finish, failures as their
 * error; with a timeout the calls left once it passed return -ETIMEDOUT.
 * ======================================================================================== */

static int ac_main(void *arg, intptr_t *result) {
  (void)arg;
  static const struct wait_job jx = {90, 3, 0}, jy = {30, 1, 0}, jz = {60, 2, EIO}, jp = {10, 1, 0},
                               jq = {200, 2, 0};
  lc_task *t[3] = {lc_spawn(job_fn, (void *)&jx, "x"), lc_spawn(job_fn, (void *)&jy, "y"),
                   lc_spawn(job_fn, (void *)&jz, "z")};
  if (!t[0] || !t[1] || !t[2]) return -ENOMEM;
  lc_as_completed *ac = lc_as_completed_new(t, 3, -1);
  if (!ac) return -errno;
  int k = 0;
  for (;;) {
    intptr_t v = 0;
    int rc = lc_as_completed_next(ac, NULL, &v);
    if (rc == -ENOENT) break;
    ws_->rc[k++] = rc == 0 ? (int)v : rc;
    if (rc == 0) lc_trace_at("next -> ok %ld", (long)v);
    else lc_trace_at("next -> %s", lc_trace_code(rc));
  }
  lc_as_completed_free(ac);
  for (int i = 0; i < 3; i++) lc_task_unref(t[i]);
  lc_task *u[2] = {lc_spawn(job_fn, (void *)&jp, "p"), lc_spawn(job_fn, (void *)&jq, "q")};
  if (!u[0] || !u[1]) return -ENOMEM;
  if (!(ac = lc_as_completed_new(u, 2, 60 * LC_MS))) return -errno;
  for (;;) {
    intptr_t v = 0;
    int rc = lc_as_completed_next(ac, NULL, &v);
    if (rc == -ENOENT) break;
    ws_->at_ms[k] = now_ms();
    ws_->rc[k++] = rc == 0 ? (int)v : rc;
    if (rc == 0) lc_trace_at("next -> ok %ld", (long)v);
    else lc_trace_at("next -> %s", lc_trace_code(rc));
  }
  lc_as_completed_free(ac);
  lc_await(u[1], NULL);
  lc_task_unref(u[0]);
  lc_task_unref(u[1]);
  *result = 0;
  return 0;
}

LC_TEST(sem_wait_as_completed, "semantics.wait.as_completed",
        "ASCOMPLETED-ORDER ASCOMPLETED-TIMEOUT", 0, 10000) {
  struct swait_state st;
  memset(&st, 0, sizeof st);
  ws_ = &st;
  assert_int_equal(lc_trace_run(ctx, NULL, NULL, ac_main, NULL, NULL), 0);
  assert_int_equal(st.rc[0], 1);
  assert_int_equal(st.rc[1], -EIO);
  assert_int_equal(st.rc[2], 3);
  assert_int_equal(st.rc[3], 1);
  assert_int_equal(st.rc[4], -ETIMEDOUT);
}

/* ==========================================================================================
 * semantics.sched.call_later: call_later / call_at run at their deadline, in deadline order;
 * when() is the absolute deadline; a cancelled handle never runs.
 * ======================================================================================== */

static void cl_cb(void *arg) {
  const char *name = arg;
  if (ws_->n + 1 < sizeof ws_->order) ws_->order[ws_->n++] = name[0];
  lc_trace_at("%s fired", name);
}

static int cl_main(void *arg, intptr_t *result) {
  (void)arg;
  int64_t t0 = lc_now();
  lc_handle *ha = lc_call_later(20 * LC_MS, cl_cb, "A");
  lc_handle *hb = lc_call_later(10 * LC_MS, cl_cb, "B");
  lc_handle *hc = lc_call_at(t0 + 30 * LC_MS, cl_cb, "C");
  if (!ha || !hb || !hc) return -ENOMEM;
  lc_trace("A when-now=%lldms, C when-now=%lldms",
           (long long)((lc_handle_when(ha) - t0 + LC_MS / 2) / LC_MS),
           (long long)((lc_handle_when(hc) - t0 + LC_MS / 2) / LC_MS));
  ws_->rc[0] = lc_handle_cancel(hc);
  lc_trace("C cancelled=%d", lc_handle_cancelled(hc));
  lc_sleep(40 * LC_MS);
  lc_trace_at("after 40 ms: fired %s", ws_->n == 2 && ws_->order[0] == 'B' ? "B, A" : ws_->order);
  ws_->rc[1] = lc_handle_cancel(ha); /* already ran: 0 */
  lc_handle_unref(ha);
  lc_handle_unref(hb);
  lc_handle_unref(hc);
  *result = 0;
  return 0;
}

LC_TEST(sem_sched_call_later, "semantics.sched.call_later", "SCHED-CALL-LATER", 0, 10000) {
  struct swait_state st;
  memset(&st, 0, sizeof st);
  ws_ = &st;
  assert_int_equal(lc_trace_run(ctx, NULL, NULL, cl_main, NULL, NULL), 0);
  assert_string_equal(st.order, "BA");
  assert_int_equal(st.rc[0], 1);
  assert_int_equal(st.rc[1], 0);
}
