/* semantics_order.c: asyncio-semantics tests of the order in which one loop iteration runs
 * ready tasks, due timers and done callbacks (CPython's BaseEventLoop._run_once).
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

struct ostate {
  char order[64]; /* one letter per event */
  size_t n;
  int rc[4];
};

static struct ostate *os_;

static void note(char c) {
  if (os_->n + 1 < sizeof os_->order) os_->order[os_->n++] = c;
}

/* Busy-wait (no await point): deadlines pass while the loop is blocked. */
static void block_ms(int ms) {
  int64_t end = lc_clock_ns() + ms * LC_MS;
  while (lc_clock_ns() < end) {
  }
}

/* ==========================================================================================
 * semantics.sched.timer_ready_order: due timers' callbacks go to the end of the ready queue
 * of the same iteration. A sleeper whose timer fell due resumes one iteration after tasks that
 * were ready already; a timeout scope's expiry lets an already-ready yield complete and cancels
 * the task at its next await point.
 * ======================================================================================== */

static int tro_sleeper(void *arg, intptr_t *result) {
  (void)arg;
  int rc = lc_sleep(5 * LC_MS);
  note('S');
  lc_trace("sleeper woke");
  *result = 0;
  return rc;
}

static int tro_main(void *arg, intptr_t *result) {
  (void)arg;
  lc_task *s = lc_spawn(tro_sleeper, NULL, "sleeper");
  if (!s) return -errno;
  lc_yield(); /* the sleeper starts and arms its 5 ms timer */
  block_ms(15);
  for (int k = 1; k <= 4; k++) {
    lc_yield();
    note((char)('0' + k));
    lc_trace("main yield %d", k);
  }
  lc_await(s, NULL);
  lc_task_unref(s);
  lc_timeout to;
  int rc = lc_timeout_enter(&to, 5 * LC_MS);
  if (rc) return rc;
  block_ms(15); /* the deadline passes while this step blocks */
  os_->rc[0] = os_->rc[1] = 1;
  for (int k = 0; k < 2 && rc == 0; k++) rc = os_->rc[k] = lc_yield();
  rc = lc_timeout_exit(&to, rc);
  os_->rc[2] = rc;
  if (rc == -ETIMEDOUT) lc_trace("scope -> %s", lc_trace_code(rc));
  lc_trace("yield 1 -> %s, yield 2 -> %s", os_->rc[0] == 1 ? "none" : lc_trace_code(os_->rc[0]),
           os_->rc[1] == 1 ? "none" : lc_trace_code(os_->rc[1]));
  *result = 0;
  return 0;
}

LC_TEST(sem_sched_timer_ready_order, "semantics.sched.timer_ready_order", "SCHED-TIMER-AFTER-READY",
        0, 10000) {
  struct ostate st;
  memset(&st, 0, sizeof st);
  os_ = &st;
  assert_int_equal(lc_trace_run(ctx, NULL, NULL, tro_main, NULL, NULL), 0);
  if (strcmp(st.order, "12S34") != 0)
    lc_fail(ctx, "order '%s', expected '12S34' (1-4: main's yields, S: the sleeper woke)",
            st.order);
  if (st.rc[0] != 0 || st.rc[1] != -ECANCELED)
    lc_fail(ctx, "yields in the expired scope returned %s, %s; expected ok, ECANCELED",
            lc_trace_code(st.rc[0]), lc_trace_code(st.rc[1]));
  assert_int_equal(st.rc[2], -ETIMEDOUT);
}

/* ==========================================================================================
 * semantics.gather.done_suspends: gather of tasks already done still suspends (CPython's done
 * callbacks go through call_soon), so other ready tasks run first; gather's caller resumes two
 * iterations after its last child finished, lc_await's one.
 * ======================================================================================== */

static int gd_child(void *arg, intptr_t *result) {
  *result = (intptr_t)arg;
  return 0;
}

static int gd_ticker(void *arg, intptr_t *result) {
  int n = (int)(intptr_t)arg;
  for (int k = 1; k <= n; k++) {
    lc_trace("tick %d", k);
    note((char)('0' + k));
    lc_yield();
  }
  *result = 0;
  return 0;
}

static int gd_main(void *arg, intptr_t *result) {
  (void)arg;
  lc_task *c[2] = {lc_spawn(gd_child, (void *)1, "c1"), lc_spawn(gd_child, (void *)2, "c2")};
  if (!c[0] || !c[1]) return -ENOMEM;
  lc_yield();
  lc_trace("children done: %d", lc_task_done(c[0]) && lc_task_done(c[1]));
  lc_task *tk = lc_spawn(gd_ticker, (void *)3, "ticker");
  if (!tk) return -errno;
  lc_yield(); /* the ticker starts: tick 1 */
  intptr_t r[2] = {0, 0};
  int rc = lc_gather(c, 2, r, NULL, 0);
  note('G');
  lc_trace("gather of done tasks -> [%ld, %ld]", (long)r[0], (long)r[1]);
  os_->rc[0] = rc;
  lc_await(tk, NULL);
  lc_task_unref(tk);
  lc_task_unref(c[0]);
  lc_task_unref(c[1]);

  lc_task *c3 = lc_spawn(gd_child, (void *)3, "c3");
  if (!c3 || !(tk = lc_spawn(gd_ticker, (void *)4, "ticker"))) return -ENOMEM;
  rc = lc_gather(&c3, 1, r, NULL, 0);
  note('G');
  lc_trace("gather -> [%ld]", (long)r[0]);
  lc_await(tk, NULL);
  lc_task_unref(tk);
  lc_task_unref(c3);

  lc_task *c4 = lc_spawn(gd_child, (void *)4, "c4");
  if (!c4 || !(tk = lc_spawn(gd_ticker, (void *)4, "ticker"))) return -ENOMEM;
  rc = lc_await(c4, &r[0]);
  note('A');
  lc_trace("await -> %ld", (long)r[0]);
  lc_await(tk, NULL);
  lc_task_unref(tk);
  lc_task_unref(c4);
  *result = 0;
  return rc;
}

LC_TEST(sem_gather_done_suspends, "semantics.gather.done_suspends", "GATHER-DONE-SUSPENDS", 0,
        10000) {
  struct ostate st;
  memset(&st, 0, sizeof st);
  os_ = &st;
  assert_int_equal(lc_trace_run(ctx, NULL, NULL, gd_main, NULL, NULL), 0);
  assert_int_equal(st.rc[0], 0);
  if (strcmp(st.order, "123G12G341A234") != 0)
    lc_fail(ctx,
            "order '%s', expected '123G12G341A234' (digits: ticks, G: gather returned, "
            "A: await returned)",
            st.order);
}

/* ==========================================================================================
 * semantics.shutdown.cleanup_spawn: a task main spawns just before it returns still gets its
 * first step (asyncio.run stops its loop through a callback: one more iteration runs); a task
 * spawned by a leftover's cleanup during the shutdown gets to start too. The runtime then
 * cancels it (asyncio would leave it pending at close: a deliberate difference).
 * ======================================================================================== */

static int cs_late(void *arg, intptr_t *result) {
  (void)arg;
  lc_trace("late start");
  note('L');
  int rc = lc_sleep(50 * LC_MS);
  if (rc == 0) lc_trace("late done");
  os_->rc[2] = rc;
  *result = 0;
  return rc;
}

static int cs_waiter(void *arg, intptr_t *result) {
  int spawn_late = arg != NULL;
  const char *name = spawn_late ? "leftover" : "last";
  lc_trace("%s start", name);
  note(spawn_late ? 'S' : 's');
  int rc = lc_sleep(5 * LC_S);
  if (rc == -ECANCELED && spawn_late) {
    lc_trace("%s cancelled", name);
    lc_task *t = lc_spawn(cs_late, NULL, "late");
    if (t) lc_task_unref(t);
  }
  *result = 0;
  return rc;
}

static int cs_main(void *arg, intptr_t *result) {
  (void)arg;
  lc_task *t = lc_spawn(cs_waiter, (void *)1, "leftover");
  if (!t) return -errno;
  lc_task_unref(t);
  lc_sleep(5 * LC_MS);
  if (!(t = lc_spawn(cs_waiter, NULL, "last"))) return -errno;
  lc_task_unref(t);
  lc_trace("main returns");
  *result = 0;
  return 0;
}

LC_TEST(sem_shutdown_cleanup_spawn, "semantics.shutdown.cleanup_spawn", "SHUTDOWN-CLEANUP-SPAWN", 0,
        10000) {
  struct ostate st;
  memset(&st, 0, sizeof st);
  os_ = &st;
  lc_trace_reports rep = {0};
  assert_int_equal(lc_trace_run(ctx, NULL, &rep, cs_main, NULL, NULL), 0);
  if (strcmp(st.order, "SsL") != 0)
    lc_fail(ctx, "order '%s', expected 'SsL' (S: leftover, s: last, L: late started)", st.order);
  assert_int_equal(st.rc[2], -ECANCELED); /* then cancelled, and its cleanup ran */
  assert_int_equal(lc_trace_reports_count(&rep, LC_REPORT_CANCELLED_AT_SHUTDOWN, "late"), 1);
}

/* ==========================================================================================
 * semantics.waitfor.done_task: wait_for on a task already done returns its result without
 * suspending (CPython 3.12+; 3.11 suspended: clause WAITFOR-DONE-VERSION).
 * ======================================================================================== */

static int wd_ticks;

static int wd_ticker(void *arg, intptr_t *result) {
  (void)arg;
  for (int k = 0; k < 5; k++) {
    wd_ticks++;
    lc_yield();
  }
  *result = 0;
  return 0;
}

static int wd_main(void *arg, intptr_t *result) {
  (void)arg;
  wd_ticks = 0;
  lc_task *c = lc_spawn(gd_child, (void *)7, "child");
  if (!c) return -errno;
  lc_yield();
  lc_task *tk = lc_spawn(wd_ticker, NULL, "ticker");
  if (!tk) return -errno;
  lc_yield(); /* the ticker starts */
  int before = wd_ticks;
  intptr_t r = 0;
  os_->rc[0] = lc_wait_for(c, LC_S, &r);
  os_->rc[1] = wd_ticks != before;
  lc_trace("wait_for(done task, 1 s) -> %ld, other tasks ran meanwhile: %d", (long)r, os_->rc[1]);
  lc_await(tk, NULL);
  lc_task_unref(tk);
  lc_task_unref(c);
  *result = 0;
  return 0;
}

LC_TEST(sem_waitfor_done_task, "semantics.waitfor.done_task", "WAITFOR-DONE-VERSION", 0, 10000) {
  struct ostate st;
  memset(&st, 0, sizeof st);
  os_ = &st;
  assert_int_equal(lc_trace_run(ctx, NULL, NULL, wd_main, NULL, NULL), 0);
  assert_int_equal(st.rc[0], 0);
  assert_int_equal(st.rc[1], 0);
}
