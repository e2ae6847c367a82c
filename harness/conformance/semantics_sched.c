/* semantics_sched.c: asyncio-semantics tests of scheduling: spawn, sleep(0), call_soon, await.
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

/* ==========================================================================================
 * semantics.sched.spawn_order: lc_spawn schedules but never runs the body inside the call;
 * bodies start in spawn order once the spawner yields; a task cancelled before its first step
 * never runs its body.
 * ======================================================================================== */

struct so_state {
  int started[5]; /* started[i]: order number at which task i's body ran (0: never) */
  int nstarted;
  int seen_at_spawn; /* bodies that had run when the spawner was back from lc_spawn */
  int results[4];
  int t4_rc;
};

static struct so_state *so_st;

static int so_child(void *arg, intptr_t *result) {
  int i = (int)(intptr_t)arg;
  so_st->started[i] = ++so_st->nstarted;
  lc_trace("t%d start", i);
  *result = i;
  return 0;
}

static int so_main(void *arg, intptr_t *result) {
  struct so_state *st = arg;
  lc_task *t[5] = {NULL};
  char name[8];
  for (int i = 1; i <= 4; i++) {
    snprintf(name, sizeof name, "t%d", i);
    t[i] = lc_spawn(so_child, (void *)(intptr_t)i, name);
    if (!t[i]) return -errno;
  }
  st->seen_at_spawn = st->nstarted;
  lc_trace("main spawned 4, bodies run so far: %d", st->nstarted);
  lc_trace("cancel(t4) -> %d", lc_cancel(t[4]));
  int rc = lc_yield();
  lc_trace("main resumed -> %s", lc_trace_code(rc));
  for (int i = 1; i <= 3; i++) {
    intptr_t r = 0;
    rc = lc_await(t[i], &r);
    st->results[i] = rc == 0 ? (int)r : rc;
  }
  lc_trace("results %d %d %d", st->results[1], st->results[2], st->results[3]);
  st->t4_rc = lc_await(t[4], NULL);
  lc_trace("await t4 -> %s, body ran: %s", lc_trace_code(st->t4_rc), st->started[4] ? "yes" : "no");
  for (int i = 1; i <= 4; i++) lc_task_unref(t[i]);
  *result = 0;
  return 0;
}

LC_TEST(sem_sched_spawn_order, "semantics.sched.spawn_order",
        "SCHED-SPAWN-DEFERRED SCHED-FIFO SCHED-CANCEL-BEFORE-START", 0, 10000) {
  struct so_state st;
  memset(&st, 0, sizeof st);
  so_st = &st;
  lc_trace_reports rep = {0};
  int rc = lc_trace_run(ctx, NULL, &rep, so_main, &st, NULL);
  assert_int_equal(rc, 0);
  assert_int_equal(st.seen_at_spawn, 0); /* no body ran inside lc_spawn */
  assert_int_equal(st.started[1], 1);    /* FIFO: spawn order */
  assert_int_equal(st.started[2], 2);
  assert_int_equal(st.started[3], 3);
  assert_int_equal(st.started[4], 0); /* cancelled before its first step */
  assert_int_equal(st.t4_rc, -ECANCELED);
  assert_int_equal(st.results[1], 1);
  assert_int_equal(st.results[3], 3);
  assert_int_equal(rep.n, 0);
}

/* ==========================================================================================
 * semantics.sched.yield_round_robin: three tasks that each trace a step and lc_yield three
 * times interleave a0 b0 c0 a1 b1 c1 a2 b2 c2: lc_yield lets every ready task run first.
 * ======================================================================================== */

struct rr_state {
  char order[32];
  size_t len;
};

static struct rr_state *rr_st;

static int rr_child(void *arg, intptr_t *result) {
  char c = (char)(intptr_t)arg;
  for (int i = 0; i < 3; i++) {
    lc_trace("%c%d", c, i);
    if (rr_st->len + 2 < sizeof rr_st->order) {
      rr_st->order[rr_st->len++] = c;
      rr_st->order[rr_st->len++] = (char)('0' + i);
    }
    int rc = lc_yield();
    if (rc) return rc;
  }
  *result = 0;
  return 0;
}

static int rr_main(void *arg, intptr_t *result) {
  (void)arg;
  lc_task *t[3];
  for (int i = 0; i < 3; i++) {
    char name[2] = {(char)('a' + i), 0};
    t[i] = lc_spawn(rr_child, (void *)(intptr_t)('a' + i), name);
    if (!t[i]) return -errno;
  }
  int rc = lc_gather(t, 3, NULL, NULL, 0);
  lc_trace("gather -> %s", lc_trace_code(rc));
  for (int i = 0; i < 3; i++) lc_task_unref(t[i]);
  *result = 0;
  return rc;
}

LC_TEST(sem_sched_yield_rr, "semantics.sched.yield_round_robin", "SCHED-YIELD SCHED-FIFO", 0,
        10000) {
  struct rr_state st;
  memset(&st, 0, sizeof st);
  rr_st = &st;
  lc_trace_reports rep = {0};
  int rc = lc_trace_run(ctx, NULL, &rep, rr_main, NULL, NULL);
  assert_int_equal(rc, 0);
  assert_string_equal(st.order, "a0b0c0a1b1c1a2b2c2");
  assert_int_equal(rep.n, 0);
}

/* ==========================================================================================
 * semantics.sched.call_soon: callbacks run FIFO; one scheduled while the ready queue runs
 * waits for the next iteration (after the yielding task queued before it); a callback that
 * keeps rescheduling itself does not starve a 10 ms timer.
 * ======================================================================================== */

struct cs_state {
  char order[16];
  size_t len;
  int spin_stop;
  long spins;
  long spins_at_wake;
  int64_t woke_after_ns;
};

static struct cs_state *cs_st;

static void cs_note(char c) {
  if (cs_st->len + 1 < sizeof cs_st->order) cs_st->order[cs_st->len++] = c;
}

static void cs_cb3(void *arg) {
  (void)arg;
  lc_trace("cb3");
  cs_note('3');
}

static void cs_cb1(void *arg) {
  (void)arg;
  lc_trace("cb1 (schedules cb3)");
  cs_note('1');
  lc_call_soon(cs_cb3, NULL);
}

static void cs_cb2(void *arg) {
  (void)arg;
  lc_trace("cb2");
  cs_note('2');
}

static void cs_spin(void *arg) {
  (void)arg;
  if (cs_st->spin_stop) return;
  cs_st->spins++;
  lc_call_soon(cs_spin, NULL);
}

static int cs_main(void *arg, intptr_t *result) {
  struct cs_state *st = arg;
  int rc = lc_call_soon(cs_cb1, NULL);
  if (!rc) rc = lc_call_soon(cs_cb2, NULL);
  if (rc) return rc;
  lc_yield();
  lc_trace("main resumed");
  cs_note('m');
  lc_yield();
  lc_trace("main resumed again");
  cs_note('M');
  /* A self-rescheduling callback against a timer. */
  if ((rc = lc_call_soon(cs_spin, NULL))) return rc;
  int64_t t0 = lc_clock_ns();
  lc_trace_at("main sleeps 10ms while a callback reschedules itself");
  rc = lc_sleep(10 * LC_MS);
  st->woke_after_ns = lc_clock_ns() - t0;
  st->spins_at_wake = st->spins;
  st->spin_stop = 1;
  lc_trace_at("main woke -> %s, spinner %s", lc_trace_code(rc),
              st->spins > 0 ? "ran" : "never ran");
  *result = 0;
  return rc;
}

LC_TEST(sem_sched_call_soon, "semantics.sched.call_soon", "SCHED-CALL-SOON-FIFO SCHED-NO-STARVE", 0,
        10000) {
  struct cs_state st;
  memset(&st, 0, sizeof st);
  cs_st = &st;
  lc_trace_reports rep = {0};
  int rc = lc_trace_run(ctx, NULL, &rep, cs_main, &st, NULL);
  assert_int_equal(rc, 0);
  assert_string_equal(st.order, "12m3M");
  assert_true(st.spins_at_wake > 0);
  /* The timer was not starved: main woke within 10 ms plus a tolerance. */
  if (st.woke_after_ns > 10 * LC_MS + lc_tol_ns(ctx, 200 * LC_MS))
    lc_fail(ctx, "a self-rescheduling callback delayed a 10 ms sleep to %.1f ms",
            (double)st.woke_after_ns / LC_MS);
  assert_int_equal(rep.n, 0);
}

/* ==========================================================================================
 * semantics.sched.await_done: awaiting a task that is already done returns its result
 * without suspending (another ready task does not run in between); seed 003 says every await
 * yields to the loop.
 * ======================================================================================== */

struct ad_state {
  int x_ran;
  int x_ran_after_await;
  int rc;
  intptr_t value;
};

static struct ad_state *ad_st;

static int ad_seven(void *arg, intptr_t *result) {
  (void)arg;
  *result = 7;
  return 0;
}

static int ad_x(void *arg, intptr_t *result) {
  (void)arg;
  ad_st->x_ran = 1;
  lc_trace("x ran");
  *result = 0;
  return 0;
}

static int ad_main(void *arg, intptr_t *result) {
  struct ad_state *st = arg;
  lc_task *t = lc_spawn(ad_seven, NULL, "t");
  if (!t) return -errno;
  lc_yield(); /* t runs and finishes */
  lc_trace("t done: %s", lc_task_done(t) ? "yes" : "no");
  lc_task *x = lc_spawn(ad_x, NULL, "x");
  if (!x) return -errno;
  st->rc = lc_await(t, &st->value);
  st->x_ran_after_await = st->x_ran;
  lc_trace("await t -> %s %ld, x ran meanwhile: %s", lc_trace_code(st->rc), (long)st->value,
           st->x_ran ? "yes" : "no");
  lc_await(x, NULL);
  lc_trace("await x done");
  lc_task_unref(t);
  lc_task_unref(x);
  *result = 0;
  return 0;
}

LC_TEST(sem_sched_await_done, "semantics.sched.await_done", "SCHED-AWAIT-DONE", 0, 10000) {
  struct ad_state st;
  memset(&st, 0, sizeof st);
  ad_st = &st;
  lc_trace_reports rep = {0};
  int rc = lc_trace_run(ctx, NULL, &rep, ad_main, &st, NULL);
  assert_int_equal(rc, 0);
  assert_int_equal(st.rc, 0);
  assert_int_equal(st.value, 7);
  assert_int_equal(st.x_ran_after_await, 0);
  assert_int_equal(st.x_ran, 1);
  assert_int_equal(rep.n, 0);
}

/* ==========================================================================================
 * semantics.sched.sleep_after_block: a 1 ms sleep that falls due while another task blocks
 * the loop for 20 ms ends as soon as the loop is free again, with an executor's wakeup handle
 * active. This is what the runtime's stop() in its timer callback is for: libuv's UV_RUN_ONCE
 * runs the already-due backend timer and then polls with no timeout (loop clause
 * LOOP-RUN-ONCE-DUE-TIMER), and with the wakeup's fd watched it would block for good.
 * ======================================================================================== */

struct sb_state {
  int64_t block_end_ns, woke_ns;
  intptr_t job;
  int job_rc, await_rc;
};

static intptr_t sb_job(void *arg) {
  (void)arg;
  return 1;
}

static int sb_sleeper(void *arg, intptr_t *result) {
  struct sb_state *st = arg;
  int rc = lc_sleep(1 * LC_MS);
  st->woke_ns = lc_clock_ns();
  lc_trace("sleeper woke -> %s", lc_trace_code(rc));
  *result = 0;
  return rc;
}

static int sb_main(void *arg, intptr_t *result) {
  struct sb_state *st = arg;
  st->job_rc = lc_run_in_thread(sb_job, NULL, &st->job); /* the executor's wakeup now exists */
  lc_trace("job -> %s %ld", lc_trace_code(st->job_rc), (long)st->job);
  lc_task *s = lc_spawn(sb_sleeper, st, "sleeper");
  if (!s) return -errno;
  lc_yield(); /* the sleeper starts its 1 ms sleep */
  int64_t until = lc_clock_ns() + 20 * LC_MS;
  while (lc_clock_ns() < until) {
  } /* a blocking step: the sleep falls due meanwhile */
  st->block_end_ns = lc_clock_ns();
  lc_trace("main: blocked 20 ms");
  st->await_rc = lc_await(s, NULL);
  lc_trace("await sleeper -> %s", lc_trace_code(st->await_rc));
  lc_task_unref(s);
  *result = 0;
  return 0;
}

LC_TEST(sem_sched_sleep_after_block, "semantics.sched.sleep_after_block", "SCHED-SLEEP-AFTER-BLOCK",
        LC_NEEDS_WAKEUP, 10000) {
  struct sb_state st;
  memset(&st, 0, sizeof st);
  lc_trace_reports rep = {0};
  int rc = lc_trace_run(ctx, NULL, &rep, sb_main, &st, NULL);
  assert_int_equal(rc, 0);
  assert_int_equal(st.job_rc, 0);
  assert_int_equal(st.job, 1);
  assert_int_equal(st.await_rc, 0);
  int64_t late = st.woke_ns - st.block_end_ns;
  if (late > lc_tol_ns(ctx, 100 * LC_MS))
    lc_fail(ctx, "a sleep already due when a 20 ms blocking step ended woke %lld ms after it",
            (long long)(late / LC_MS));
}
