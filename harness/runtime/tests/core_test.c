/* core_test.c: unit tests of the runtime core (scheduling, cancellation, gather, wait_for,
 * timeout scopes, shield, shutdown, debug reports, loop lag) on one backend module.
 *
 * Task bodies never call cmocka assertions (a failed assertion longjmps, which must not cross
 * a coroutine stack): they record what happened in a per-test struct, and the test function
 * asserts after lc_run returns. Timing checks assert orderings or lower bounds that hold on
 * any machine; upper bounds are scaled by LOOPCONF_TIME_MULTIPLIER. */
#include <dlfcn.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "loopconf/runtime.h"
#include "rt_internal.h"

#define RT_TEST_OWN_RUN_HELPERS
#include "rt_test.h"

/* cmocka group setup: load the backend under test. */
static int load_backend(void **state) {
  (void)state;
  return rt_test_load_backend("core_test");
}

/* An ordered log of short event names. */
typedef struct evlog {
  char s[1024];
} evlog;
static evlog g_log;
static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...) {
  size_t len = strlen(g_log.s);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(g_log.s + len, sizeof g_log.s - len, fmt, ap);
  va_end(ap);
}

/* Reports collected by the report hook. */
#define MAX_REPORTS 64
typedef struct reports {
  int n;
  enum lc_report_kind kind[MAX_REPORTS];
  char name[MAX_REPORTS][64];
  int64_t dur[MAX_REPORTS];
} reports;
static reports g_rep;

static void collect_report(void *ctx, enum lc_report_kind kind, const char *name, int64_t dur,
                           const char *msg) {
  reports *r = ctx;
  (void)msg;
  if (r->n >= MAX_REPORTS) return;
  r->kind[r->n] = kind;
  snprintf(r->name[r->n], sizeof r->name[0], "%s", name ? name : "");
  r->dur[r->n] = dur;
  r->n++;
}

static int count_reports(enum lc_report_kind kind, const char *name) {
  int c = 0;
  for (int i = 0; i < g_rep.n; i++)
    if (g_rep.kind[i] == kind && (!name || strcmp(g_rep.name[i], name) == 0)) c++;
  return c;
}

static int run_main(lc_task_fn fn, void *arg, intptr_t *result, int debug, int64_t slow_ns) {
  memset(&g_log, 0, sizeof g_log);
  memset(&g_rep, 0, sizeof g_rep);
  lc_run_opts o = {
      .debug = debug, .slow_step_ns = slow_ns, .report = collect_report, .report_ctx = &g_rep};
  return lc_run(g_backend, &o, fn, arg, result);
}

/* Generic task bodies. */
static int body_log(void *arg, intptr_t *result) {
  logf_("%s", (const char *)arg);
  *result = 1;
  return 0;
}

static int body_sleep_value(void *arg, intptr_t *result) { /* arg: ms to sleep, result = ms */
  int rc = lc_sleep((intptr_t)arg * LC_MS);
  if (rc) return rc;
  *result = (intptr_t)arg;
  return 0;
}

static int body_value(void *arg, intptr_t *result) { /* returns arg at its first step */
  *result = (intptr_t)arg;
  return 0;
}

static int body_fail_after(void *arg, intptr_t *result) { /* fails with -EIO after arg ms */
  (void)result;
  int rc = lc_sleep((intptr_t)arg * LC_MS);
  if (rc) return rc;
  return lc_error(-EIO, "failed after %d ms", (int)(intptr_t)arg);
}

/* Sleeps long; on cancellation sleeps arg ms (NULL: 20) more of cleanup, records it, then
 * returns -ECANCELED. */
static int g_cleanup_done;
static int body_slow_cleanup(void *arg, intptr_t *result) {
  (void)result;
  int rc = lc_sleep(10000 * LC_MS);
  if (rc == -ECANCELED) {
    int rc2 = lc_sleep((arg ? (intptr_t)arg : 20) * LC_MS); /* cleanup may await again */
    g_cleanup_done = rc2 == 0 ? 1 : -1;
  }
  return rc;
}

/* Swallows its cancellation and returns 42 (uncancels when arg != NULL). */
static int body_swallow(void *arg, intptr_t *result) {
  int rc = lc_sleep(10000 * LC_MS);
  if (rc == -ECANCELED && arg) lc_uncancel(lc_current_task());
  *result = 42;
  return 0;
}

/* Parks until the test opens the gate (lc_unpark), then returns arg as its result: for
 * "still running" checks that must not depend on timing. */
static lc_waiter g_gate;
static int body_gated(void *arg, intptr_t *result) {
  int rc = lc_park(&g_gate);
  if (rc) return rc;
  *result = (intptr_t)arg;
  return 0;
}

/* ---- Scheduling --------------------------------------------------------------------------- */

static int sched_main(void *arg, intptr_t *result) {
  (void)arg;
  (void)result;
  lc_task *t[3] = {lc_spawn(body_log, "A", NULL), lc_spawn(body_log, "B", NULL),
                   lc_spawn(body_log, "C", "third")};
  logf_("spawned;"); /* no body ran inside lc_spawn */
  if (strcmp(lc_task_name(t[2]), "third") != 0 || strncmp(lc_task_name(t[0]), "task-", 5) != 0)
    logf_("BADNAME;");
  if (lc_task_done(t[0])) logf_("EARLY;");
  int rc = lc_gather(t, 3, NULL, NULL, 0);
  logf_(";gather=%d", rc);
  for (int i = 0; i < 3; i++) lc_task_unref(t[i]);
  return 0;
}

static void test_spawn_is_deferred_and_fifo(void **state) {
  (void)state;
  assert_int_equal(run_main(sched_main, NULL, NULL, 0, 0), 0);
  assert_string_equal(g_log.s, "spawned;ABC;gather=0");
}

static void cb2(void *arg) {
  (void)arg;
  logf_("c2 ");
}
static void cb1(void *arg) {
  (void)arg;
  logf_("c1 ");
  lc_call_soon(cb2, NULL); /* scheduled while the queue runs: next iteration */
}
static int stepper(void *arg, intptr_t *result) {
  (void)arg;
  (void)result;
  logf_("T1 ");
  lc_yield();
  logf_("T2 ");
  return 0;
}
static int callsoon_main(void *arg, intptr_t *result) {
  (void)arg;
  (void)result;
  if (lc_call_soon(cb1, NULL) != 0) return -EIO;
  if (lc_call_soon(NULL, NULL) != -EINVAL) return -EIO;
  lc_task *t = lc_spawn(stepper, NULL, "stepper");
  int rc = lc_await(t, NULL);
  lc_task_unref(t);
  return rc;
}

static void test_call_soon_next_iteration(void **state) {
  (void)state;
  /* CPython 3.11 prints c1 T1 c2 T2 for the same program. */
  assert_int_equal(run_main(callsoon_main, NULL, NULL, 0, 0), 0);
  assert_string_equal(g_log.s, "c1 T1 c2 T2 ");
}

/* A callback that keeps rescheduling itself runs once per iteration, so timers still fire:
 * a 2 ms sleep ends long before the callback's 2,000,000-round cap. */
static long g_rounds;
static int g_stop;
static void respawning_cb(void *arg) {
  (void)arg;
  if (g_stop || ++g_rounds >= 2000000) return;
  lc_call_soon(respawning_cb, NULL);
}
static int starve_main(void *arg, intptr_t *result) {
  (void)arg;
  (void)result;
  g_rounds = 0;
  g_stop = 0;
  lc_call_soon(respawning_cb, NULL);
  lc_sleep(2 * LC_MS);
  logf_("%s", g_rounds < 2000000 ? "timer-fired" : "STARVED");
  g_stop = 1;
  return 0;
}

static void test_call_soon_cannot_starve_timers(void **state) {
  (void)state;
  assert_int_equal(run_main(starve_main, NULL, NULL, 0, 0), 0);
  assert_string_equal(g_log.s, "timer-fired");
}

static int yielder(void *arg, intptr_t *result) {
  (void)result;
  for (int i = 0; i < 3; i++) {
    logf_("%s", (const char *)arg);
    if (lc_sleep(0) != 0) return -EIO; /* sleep(0) is a bare yield */
  }
  return 0;
}
static int yield_main(void *arg, intptr_t *result) {
  (void)arg;
  (void)result;
  lc_task *t[2] = {lc_spawn(yielder, "a", NULL), lc_spawn(yielder, "b", NULL)};
  int rc = lc_gather(t, 2, NULL, NULL, 0);
  lc_task_unref(t[0]);
  lc_task_unref(t[1]);
  return rc;
}

static void test_yield_interleaves(void **state) {
  (void)state;
  assert_int_equal(run_main(yield_main, NULL, NULL, 0, 0), 0);
  assert_string_equal(g_log.s, "ababab");
}

static int sleep_order_main(void *arg, intptr_t *result) {
  (void)arg;
  (void)result;
  static const intptr_t ms[] = {30, 10, 20, 10};
  lc_task *t[4];
  intptr_t res[4];
  int64_t t0 = lc_now();
  for (int i = 0; i < 4; i++) t[i] = lc_spawn(body_sleep_value, (void *)ms[i], NULL);
  /* log the order of completion through awaits in finishing order */
  int rc = lc_gather(t, 4, res, NULL, 0);
  int64_t el = lc_now() - t0;
  logf_("rc=%d res=%d,%d,%d,%d %s %s", rc, (int)res[0], (int)res[1], (int)res[2], (int)res[3],
        el >= 30 * LC_MS ? "notearly" : "EARLY",
        el < tol(30 * LC_MS) + 1000 * LC_MS ? "bounded" : "SLOW");
  for (int i = 0; i < 4; i++) lc_task_unref(t[i]);
  return 0;
}

static void test_sleep_and_gather_order(void **state) {
  (void)state;
  /* Results in argument order, total ~max(durations), never early. */
  assert_int_equal(run_main(sleep_order_main, NULL, NULL, 0, 0), 0);
  assert_string_equal(g_log.s, "rc=0 res=30,10,20,10 notearly bounded");
}

/* Each task sleeps until base + d x multiplier, base taken by main before spawning: the
 * deadlines are 10 ms x multiplier apart however late a task's first step runs (a stall of
 * more than 10 ms between first steps flipped "15" and "25" once in a busy TSan run when each
 * task slept d from its own start). */
static int64_t g_wake_base;
static int wake_logger(void *arg, intptr_t *result) {
  (void)result;
  int64_t until = g_wake_base + tol((intptr_t)arg * LC_MS), now = lc_now();
  if (lc_sleep(until > now ? until - now : 0) == 0) logf_("%d ", (int)(intptr_t)arg);
  return 0;
}
static int wake_order_main(void *arg, intptr_t *result) {
  (void)arg;
  (void)result;
  static const intptr_t ms[] = {25, 5, 15};
  g_wake_base = lc_now();
  lc_task *t[3];
  for (int i = 0; i < 3; i++) t[i] = lc_spawn(wake_logger, (void *)ms[i], NULL);
  int rc = lc_gather(t, 3, NULL, NULL, 0);
  for (int i = 0; i < 3; i++) lc_task_unref(t[i]);
  return rc;
}

static void test_sleep_wake_order(void **state) {
  (void)state;
  assert_int_equal(run_main(wake_order_main, NULL, NULL, 0, 0), 0);
  assert_string_equal(g_log.s, "5 15 25 ");
}

/* ---- Cancellation ------------------------------------------------------------------------- */

static int cancel_basic_main(void *arg, intptr_t *result) {
  (void)arg;
  (void)result;
  /* Cancelled before its first step: the body never runs. */
  lc_task *a = lc_spawn(body_log, "RAN", "never");
  logf_("c=%d ", lc_cancel(a));
  int rc = lc_await(a, NULL);
  logf_("await=%d cancelled=%d ", rc == -ECANCELED, lc_task_cancelled(a));
  logf_("again=%d ", lc_cancel(a)); /* done: not recorded */
  lc_task_unref(a);

  /* Delivered at the await point; cleanup may await again; cancelling() counts requests. */
  g_cleanup_done = 0;
  lc_task *b = lc_spawn(body_slow_cleanup, NULL, "slow-cleanup");
  lc_sleep(5 * LC_MS);
  lc_cancel(b);
  lc_cancel(b);
  logf_("cancelling=%d ", lc_cancelling(b));
  logf_("uncancel=%d ", lc_uncancel(b));
  lc_cancel(b);
  rc = lc_await(b, NULL);
  logf_("b=%d cleanup=%d ", rc == -ECANCELED, g_cleanup_done);
  lc_task_unref(b);
  return 0;
}

static void test_cancel_delivery(void **state) {
  (void)state;
  assert_int_equal(run_main(cancel_basic_main, NULL, NULL, 0, 0), 0);
  assert_string_equal(g_log.s,
                      "c=1 await=1 cancelled=1 again=0 cancelling=2 uncancel=1 b=1 cleanup=1 ");
}

/* Cancelled twice, withdraws one request the way runtime machinery does: the other one is
 * still swallowed, and still reported. */
static int body_withdraw(void *arg, intptr_t *result) {
  (void)arg;
  if (lc_sleep(10000 * LC_MS) == -ECANCELED) lc__withdraw_cancel(lc_current_task());
  *result = 1;
  return 0;
}
static int swallow_main(void *arg, intptr_t *result) {
  (void)arg;
  (void)result;
  lc_task *s = lc_spawn(body_swallow, NULL, "swallower");
  lc_task *u = lc_spawn(body_swallow, (void *)1, "uncanceller");
  lc_task *w = lc_spawn(body_withdraw, NULL, "withdrawer");
  lc_sleep(2 * LC_MS);
  lc_cancel(s);
  lc_cancel(u);
  lc_cancel(w);
  lc_cancel(w);
  lc_await(w, NULL);
  lc_task_unref(w);
  intptr_t rs = 0, ru = 0;
  int a = lc_await(s, &rs), b = lc_await(u, &ru);
  logf_("%d %d %d %d %d", a, (int)rs, b, (int)ru, lc_task_cancelled(s));
  lc_task_unref(s);
  lc_task_unref(u);
  return 0;
}

static void test_swallowed_cancel_reported(void **state) {
  (void)state;
  assert_int_equal(run_main(swallow_main, NULL, NULL, 0, 0), 0);
  assert_string_equal(g_log.s, "0 42 0 42 0"); /* result kept, as CPython */
  assert_int_equal(count_reports(LC_REPORT_SWALLOWED_CANCEL, "swallower"), 1);
  assert_int_equal(count_reports(LC_REPORT_SWALLOWED_CANCEL, "uncanceller"), 0);
  assert_int_equal(count_reports(LC_REPORT_SWALLOWED_CANCEL, "withdrawer"), 1);
}

static int self_cancel_return(void *arg, intptr_t *result) {
  (void)arg;
  lc_cancel(lc_current_task());
  *result = 5;
  return 0; /* cancelled right before it returns: ends cancelled, like asyncio */
}
static int self_cancel_main(void *arg, intptr_t *result) {
  (void)arg;
  (void)result;
  lc_task *t = lc_spawn(self_cancel_return, NULL, NULL);
  int rc = lc_await(t, NULL);
  logf_("%d", rc == -ECANCELED && lc_task_cancelled(t));
  lc_task_unref(t);
  return 0;
}

static void test_cancel_pending_at_return(void **state) {
  (void)state;
  assert_int_equal(run_main(self_cancel_main, NULL, NULL, 0, 0), 0);
  assert_string_equal(g_log.s, "1");
}

/* A awaits B: cancelling A cancels B (B's outcome is A's). Shield does not forward. */
static int awaiter(void *arg, intptr_t *result) { return lc_await(arg, result); }
static int shielder(void *arg, intptr_t *result) { return lc_shield(arg, result); }

static int await_cancel_main(void *arg, intptr_t *result) {
  (void)arg;
  (void)result;
  lc_task *b = lc_spawn(body_sleep_value, (void *)(intptr_t)10000, "b");
  lc_task *a = lc_spawn(awaiter, b, "a");
  lc_sleep(2 * LC_MS);
  lc_cancel(a);
  int ra = lc_await(a, NULL);
  logf_("a=%d b=%d ", ra == -ECANCELED, lc_task_cancelled(b));
  lc_task_unref(a);
  lc_task_unref(b);

  /* B swallows: A gets B's value (CPython 3.11 does the same). */
  b = lc_spawn(body_swallow, (void *)1, "b2");
  a = lc_spawn(awaiter, b, "a2");
  lc_sleep(2 * LC_MS);
  lc_cancel(a);
  intptr_t v = 0;
  ra = lc_await(a, &v);
  logf_("a2=%d,%d ", ra, (int)v);
  lc_task_unref(a);
  lc_task_unref(b);

  /* Shield: the shielding task is cancelled, the inner runs on and keeps its result. */
  memset(&g_gate, 0, sizeof g_gate);
  b = lc_spawn(body_gated, (void *)(intptr_t)20, "inner");
  a = lc_spawn(shielder, b, "shield");
  lc_sleep(2 * LC_MS);
  lc_cancel(a);
  ra = lc_await(a, NULL);
  logf_("shield=%d innerdone=%d ", ra == -ECANCELED, lc_task_done(b));
  lc_unpark(&g_gate, 0);
  intptr_t iv = 0;
  int rb = lc_await(b, &iv);
  logf_("inner=%d,%d ", rb, (int)iv);
  lc_task_unref(a);
  lc_task_unref(b);

  /* Shield, inner cancelled by other means: the shielding task gets -ECANCELED too. */
  b = lc_spawn(body_sleep_value, (void *)(intptr_t)10000, "inner2");
  a = lc_spawn(shielder, b, "shield2");
  lc_sleep(2 * LC_MS);
  lc_cancel(b);
  ra = lc_await(a, NULL);
  logf_("shield2=%d", ra == -ECANCELED);
  lc_task_unref(a);
  lc_task_unref(b);
  return 0;
}

static void test_await_forwards_cancel_shield_does_not(void **state) {
  (void)state;
  assert_int_equal(run_main(await_cancel_main, NULL, NULL, 0, 0), 0);
  assert_string_equal(g_log.s, "a=1 b=1 a2=0,42 shield=1 innerdone=0 inner=0,20 shield2=1");
}

/* A chain of 3000 tasks, each awaiting the next: cancelling the head reaches the tail
 * (without overflowing the canceller's 64 KiB stack) and every link ends cancelled. */
#define CHAIN 3000
static lc_task *g_chain[CHAIN];
static int chain_link(void *arg, intptr_t *result) {
  intptr_t i = (intptr_t)arg;
  if (i == CHAIN - 1) return lc_sleep(10000 * LC_MS);
  g_chain[i + 1] = lc_spawn(chain_link, (void *)(i + 1), NULL);
  return lc_await(g_chain[i + 1], result);
}
static int chain_main(void *arg, intptr_t *result) {
  (void)arg;
  (void)result;
  g_chain[0] = lc_spawn(chain_link, (void *)0, "head");
  while (!g_chain[CHAIN - 1] || lc_cancelling(g_chain[CHAIN - 1]) == 0) {
    lc_sleep(1 * LC_MS);
    if (g_chain[CHAIN - 1]) lc_cancel(g_chain[0]);
  }
  int rc = lc_await(g_chain[0], NULL);
  int all = 1;
  for (int i = 0; i < CHAIN; i++) {
    if (!lc_task_cancelled(g_chain[i])) all = 0;
    lc_task_unref(g_chain[i]);
  }
  logf_("%d %d", rc == -ECANCELED, all);
  return 0;
}

static void test_cancel_long_await_chain(void **state) {
  (void)state;
  memset(g_chain, 0, sizeof g_chain);
  assert_int_equal(run_main(chain_main, NULL, NULL, 0, 0), 0);
  assert_string_equal(g_log.s, "1 1");
}

/* lc_park/lc_unpark: a waiter woken and then cancelled before it resumed learns both. */
static lc_waiter g_w;
static int parker(void *arg, intptr_t *result) {
  (void)arg;
  *result = lc_park(&g_w);
  return 0;
}
static int park_main(void *arg, intptr_t *result) {
  (void)arg;
  (void)result;
  memset(&g_w, 0, sizeof g_w);
  lc_task *p = lc_spawn(parker, NULL, "parker");
  lc_yield();
  lc_unpark(&g_w, 7);
  intptr_t r = 0;
  lc_await(p, &r);
  logf_("%d,%d ", (int)r, g_w.woken);
  lc_task_unref(p);

  memset(&g_w, 0, sizeof g_w);
  p = lc_spawn(parker, NULL, "parker2");
  lc_yield();
  lc_unpark(&g_w, 7);
  lc_cancel(p); /* woken, then cancelled before it ran */
  lc_await(p, &r);
  logf_("%d,%d ", r == -ECANCELED, g_w.woken);
  lc_task_unref(p);

  memset(&g_w, 0, sizeof g_w);
  p = lc_spawn(parker, NULL, "parker3");
  lc_yield();
  lc_cancel(p); /* cancelled while parked, never woken */
  lc_await(p, &r);
  logf_("%d,%d", r == -ECANCELED, g_w.woken);
  lc_task_unref(p);
  return 0;
}

static void test_park_unpark(void **state) {
  (void)state;
  assert_int_equal(run_main(park_main, NULL, NULL, 0, 0), 0);
  assert_string_equal(g_log.s, "7,1 1,1 1,0");
}

/* ---- gather ------------------------------------------------------------------------------- */

static int gather_main(void *arg, intptr_t *result) {
  (void)arg;
  (void)result;
  /* Default: the first error is returned at once; the sibling keeps running. "fast" finishes
   * at its first step, which runs in the same pass as the others' (spawn order), before any
   * timer can fire: when it slept 1 ms against "fails"' 5 ms, a stall of 4 ms between their
   * first steps (a busy TSan run) let "fails" fail first. */
  memset(&g_gate, 0, sizeof g_gate);
  lc_task *t[3] = {lc_spawn(body_gated, (void *)(intptr_t)40, "slow"),
                   lc_spawn(body_fail_after, (void *)(intptr_t)5, "fails"),
                   lc_spawn(body_value, (void *)(intptr_t)1, "fast")};
  intptr_t res[3];
  int err[3];
  int rc = lc_gather(t, 3, res, err, 0);
  logf_("rc=%d slowdone=%d err=%d,%d,%d ", rc, lc_task_done(t[0]), err[0], err[1], err[2]);
  lc_unpark(&g_gate, 0); /* the sibling was not cancelled: it finishes with its value */
  intptr_t v = 0;
  int rs = lc_await(t[0], &v);
  logf_("sibling=%d,%d ", rs, (int)v);
  for (int i = 0; i < 3; i++) lc_task_unref(t[i]);

  /* return_exceptions: waits for all; errors in their slots; returns 0. */
  lc_task *u[3] = {lc_spawn(body_sleep_value, (void *)(intptr_t)15, NULL),
                   lc_spawn(body_fail_after, (void *)(intptr_t)1, NULL),
                   lc_spawn(body_sleep_value, (void *)(intptr_t)2, NULL)};
  lc_cancel(u[2]); /* a cancelled child counts as failing with -ECANCELED */
  rc = lc_gather(u, 3, res, err, LC_GATHER_RETURN_EXCEPTIONS);
  logf_("rc=%d res0=%d err=%d,%d,%d", rc, (int)res[0], err[0], err[1], err[2]);
  for (int i = 0; i < 3; i++) lc_task_unref(u[i]);
  return 0;
}

static void test_gather_errors(void **state) {
  (void)state;
  assert_int_equal(run_main(gather_main, NULL, NULL, 0, 0), 0);
  char want[256];
  snprintf(want, sizeof want, "rc=%d slowdone=0 err=%d,%d,0 sibling=0,40 rc=0 res0=15 err=0,%d,%d",
           -EIO, -EAGAIN, -EIO, -EIO, -ECANCELED);
  assert_string_equal(g_log.s, want);
  /* gather retrieved every error: nothing reported as unretrieved */
  assert_int_equal(count_reports(LC_REPORT_UNRETRIEVED_ERROR, NULL), 0);
}

static lc_task *g_children[2];
static int gatherer(void *arg, intptr_t *result) {
  (void)arg;
  (void)result;
  return lc_gather(g_children, 2, NULL, NULL, (int)(intptr_t)arg);
}
static int gather_cancel_main(void *arg, intptr_t *result) {
  (void)result;
  g_cleanup_done = 0;
  g_children[0] = lc_spawn(body_slow_cleanup, (void *)(intptr_t)300, "c0");
  g_children[1] = lc_spawn(body_sleep_value, (void *)(intptr_t)10000, "c1");
  lc_task *g = lc_spawn(gatherer, arg, "gatherer");
  lc_sleep(2 * LC_MS);
  lc_cancel(g);
  int rc = lc_await(g, NULL);
  logf_("%d c0done=%d c1=%d ", rc == -ECANCELED, lc_task_done(g_children[0]),
        lc_task_cancelled(g_children[1]));
  lc_await(g_children[0], NULL); /* with the default flags c0 may still be cleaning up */
  logf_("%d %d", lc_task_cancelled(g_children[0]), g_cleanup_done);
  lc_task_unref(g);
  lc_task_unref(g_children[0]);
  lc_task_unref(g_children[1]);
  return 0;
}

static void test_gather_cancel_cancels_children(void **state) {
  (void)state;
  /* return_exceptions: waits for every child's cleanup, then -ECANCELED. */
  assert_int_equal(
      run_main(gather_cancel_main, (void *)(intptr_t)LC_GATHER_RETURN_EXCEPTIONS, NULL, 0, 0), 0);
  assert_string_equal(g_log.s, "1 c0done=1 c1=1 1 1");
  /* default: -ECANCELED as soon as one child (c1) finishes cancelled; c0's 20 ms cleanup
   * goes on after the gather returned (CPython's _done_callback). */
  assert_int_equal(run_main(gather_cancel_main, (void *)0, NULL, 0, 0), 0);
  assert_string_equal(g_log.s, "1 c0done=0 c1=1 1 1");
}

#define BIG 2000
static int gather_big_main(void *arg, intptr_t *result) {
  (void)arg;
  lc_task **t = malloc(BIG * sizeof *t);
  intptr_t *res = malloc(BIG * sizeof *res);
  if (!t || !res) return -ENOMEM;
  for (intptr_t i = 0; i < BIG; i++) t[i] = lc_spawn(body_sleep_value, (void *)(i % 3), NULL);
  int rc = lc_gather(t, BIG, res, NULL, 0);
  intptr_t sum = 0;
  for (int i = 0; i < BIG; i++) {
    sum += res[i];
    lc_task_unref(t[i]);
  }
  free(t);
  free(res);
  *result = sum;
  return rc;
}

static void test_gather_many(void **state) {
  (void)state;
  intptr_t sum = 0;
  assert_int_equal(run_main(gather_big_main, NULL, &sum, 0, 0), 0);
  intptr_t want = 0;
  for (int i = 0; i < BIG; i++) want += i % 3;
  assert_int_equal(sum, want);
}

/* ---- wait_for ----------------------------------------------------------------------------- */

static int wait_for_main(void *arg, intptr_t *result) {
  (void)arg;
  (void)result;
  intptr_t v = -1;
  /* in time */
  lc_task *t = lc_spawn(body_sleep_value, (void *)(intptr_t)2, NULL);
  int rc = lc_wait_for(t, 5000 * LC_MS, &v);
  logf_("ok=%d,%d ", rc, (int)v);
  lc_task_unref(t);

  /* expiry: the inner is cancelled and its 20 ms cleanup is waited for */
  g_cleanup_done = 0;
  t = lc_spawn(body_slow_cleanup, NULL, "inner");
  int64_t t0 = lc_now();
  rc = lc_wait_for(t, 5 * LC_MS, &v);
  int64_t el = lc_now() - t0;
  logf_("exp=%d done=%d cleanup=%d waited=%d ", rc == -ETIMEDOUT, lc_task_done(t), g_cleanup_done,
        el >= 25 * LC_MS);
  lc_task_unref(t);

  /* timeout <= 0: cancels at once (a task not started never runs) and still waits */
  t = lc_spawn(body_log, "RAN", NULL);
  rc = lc_wait_for(t, 0, &v);
  logf_("zero=%d ", rc == -ETIMEDOUT);
  lc_task_unref(t);

  /* the inner swallows the cancel: its value is returned */
  t = lc_spawn(body_swallow, (void *)1, NULL);
  v = 0;
  rc = lc_wait_for(t, 3 * LC_MS, &v);
  logf_("swallow=%d,%d", rc, (int)v);
  lc_task_unref(t);
  return 0;
}

static void test_wait_for(void **state) {
  (void)state;
  assert_int_equal(run_main(wait_for_main, NULL, NULL, 0, 0), 0);
  assert_string_equal(g_log.s, "ok=0,2 exp=1 done=1 cleanup=1 waited=1 zero=1 swallow=0,42");
}

static lc_task *g_inner;
static int wait_forer(void *arg, intptr_t *result) {
  (void)arg;
  return lc_wait_for(g_inner, 10000 * LC_MS, result);
}
static int wait_for_cancel_main(void *arg, intptr_t *result) {
  (void)arg;
  (void)result;
  g_cleanup_done = 0;
  g_inner = lc_spawn(body_slow_cleanup, NULL, "inner");
  lc_task *w = lc_spawn(wait_forer, NULL, "waiter");
  lc_sleep(2 * LC_MS);
  lc_cancel(w);
  int rc = lc_await(w, NULL);
  logf_("%d %d %d", rc == -ECANCELED, lc_task_cancelled(g_inner), g_cleanup_done);
  lc_task_unref(w);
  lc_task_unref(g_inner);
  return 0;
}

static void test_wait_for_caller_cancelled(void **state) {
  (void)state;
  assert_int_equal(run_main(wait_for_cancel_main, NULL, NULL, 0, 0), 0);
  assert_string_equal(g_log.s, "1 1 1");
}

/* ---- Timeout scopes ----------------------------------------------------------------------- */

static int timeout_main(void *arg, intptr_t *result) {
  (void)arg;
  (void)result;
  lc_task *self = lc_current_task();
  lc_timeout to;

  /* expires: the sleep is cancelled, exit turns it into -ETIMEDOUT and uncancels */
  lc_timeout_enter(&to, 5 * LC_MS);
  int rc = lc_sleep(10000 * LC_MS);
  int was = rc == -ECANCELED;
  rc = lc_timeout_exit(&to, rc);
  logf_("a=%d,%d,%d,%d ", was, rc == -ETIMEDOUT, lc_timeout_expired(&to), lc_cancelling(self));

  /* does not expire */
  lc_timeout_enter(&to, 1000 * LC_MS);
  rc = lc_timeout_exit(&to, lc_sleep(1 * LC_MS));
  logf_("b=%d,%d ", rc, lc_timeout_expired(&to));

  /* no deadline, then rescheduled to one in the past: fires at the next iteration */
  lc_timeout_enter(&to, -1);
  lc_timeout_reschedule(&to, lc_now() - 1);
  rc = lc_timeout_exit(&to, lc_sleep(1000 * LC_MS));
  logf_("c=%d ", rc == -ETIMEDOUT);

  /* nested: the inner expires first; only the inner reports it */
  lc_timeout outer, inner;
  lc_timeout_enter(&outer, 2000 * LC_MS);
  lc_timeout_enter(&inner, 3 * LC_MS);
  rc = lc_timeout_exit(&inner, lc_sleep(10000 * LC_MS));
  int inner_rc = rc;
  rc = lc_timeout_exit(&outer, lc_sleep(1 * LC_MS));
  logf_("d=%d,%d,%d ", inner_rc == -ETIMEDOUT, rc, lc_timeout_expired(&outer));

  /* nested: the outer expires while inside the inner: the inner passes -ECANCELED through,
   * the outer reports the timeout */
  lc_timeout_enter(&outer, 3 * LC_MS);
  lc_timeout_enter(&inner, 2000 * LC_MS);
  rc = lc_timeout_exit(&inner, lc_sleep(10000 * LC_MS));
  inner_rc = rc;
  rc = lc_timeout_exit(&outer, rc);
  logf_("e=%d,%d,%d ", inner_rc == -ECANCELED, lc_timeout_expired(&inner), rc == -ETIMEDOUT);

  /* a cancellation from outside during a scope that also expired is not a timeout */
  lc_timeout_enter(&to, 1 * LC_MS);
  lc_cancel(self);              /* somebody else's request */
  rc = lc_sleep(10000 * LC_MS); /* delivered at once */
  lc_sleep(5 * LC_MS);          /* let the scope expire too (cleanup awaits) */
  rc = lc_timeout_exit(&to, rc);
  logf_("f=%d,%d", rc == -ECANCELED, lc_cancelling(self));
  lc_uncancel(self);
  return 0;
}

static void test_timeout_scopes(void **state) {
  (void)state;
  assert_int_equal(run_main(timeout_main, NULL, NULL, 0, 0), 0);
  assert_string_equal(g_log.s, "a=1,1,1,0 b=0,0 c=1 d=1,0,0 e=1,0,1 f=1,1");
}

/* A task that returns inside a scope it never exited (a bug in the task): the scope's
 * deadline must not fire into the finished task or touch its dead stack. */
static void enter_and_forget(void) {
  lc_timeout to;
  lc_timeout_enter(&to, 3 * LC_MS);
}
static int forgets_exit(void *arg, intptr_t *result) {
  (void)arg;
  enter_and_forget();
  *result = 3;
  return 0;
}
static int scope_left_open_main(void *arg, intptr_t *result) {
  (void)arg;
  (void)result;
  lc_task *t = lc_spawn(forgets_exit, NULL, "forgetful");
  intptr_t v = 0;
  int rc = lc_await(t, &v);
  lc_task_unref(t);
  rc = rc ? rc : lc_sleep(20 * LC_MS); /* past the forgotten deadline: nothing fires */
  logf_("%d %d", rc, (int)v);
  return 0;
}

static void test_timeout_scope_left_open(void **state) {
  (void)state;
  assert_int_equal(run_main(scope_left_open_main, NULL, NULL, 0, 0), 0);
  assert_string_equal(g_log.s, "0 3");
}

/* ---- lc_run: shutdown, errors, deadlock --------------------------------------------------- */

static int g_leftover_cleanup;
static int leftover(void *arg, intptr_t *result) {
  (void)arg;
  (void)result;
  int rc = lc_sleep(10000 * LC_MS);
  if (rc == -ECANCELED && lc_sleep(2 * LC_MS) == 0) g_leftover_cleanup++; /* cleanup runs */
  return rc;
}
static int g_late_cb;
static void late_cb(void *arg) {
  (void)arg;
  g_late_cb++;
}
static int shutdown_main(void *arg, intptr_t *result) {
  (void)arg;
  g_leftover_cleanup = 0;
  g_late_cb = 0;
  lc_task_unref(lc_spawn(leftover, NULL, "left1"));
  lc_task_unref(lc_spawn(leftover, NULL, "left2"));
  /* "orphan-fails" fails after one yield, before any timer can fire: when it slept 1 ms
   * against main's 10, a stall of 9 ms before its first step (a busy TSan run) left it
   * asleep at main's return, so it was cancelled at shutdown instead of failing. */
  lc_task_unref(lc_spawn(body_fail_after, (void *)(intptr_t)0, "orphan-fails"));
  lc_sleep(10 * LC_MS);
  lc_call_soon(late_cb, NULL); /* queued as main returns: still runs during the shutdown */
  *result = 99;
  return 0;
}

static void test_run_shutdown(void **state) {
  (void)state;
  intptr_t r = 0;
  assert_int_equal(run_main(shutdown_main, NULL, &r, 0, 0), 0);
  assert_int_equal(r, 99);
  assert_int_equal(g_leftover_cleanup, 2);
  assert_int_equal(g_late_cb, 1);
  assert_int_equal(count_reports(LC_REPORT_CANCELLED_AT_SHUTDOWN, "left1"), 1);
  assert_int_equal(count_reports(LC_REPORT_CANCELLED_AT_SHUTDOWN, "left2"), 1);
  assert_int_equal(count_reports(LC_REPORT_UNRETRIEVED_ERROR, "orphan-fails"), 1);
  assert_int_equal(count_reports(LC_REPORT_UNRETRIEVED_ERROR, NULL), 1);
}

static int main_fails(void *arg, intptr_t *result) {
  (void)arg;
  (void)result;
  lc_task *t = lc_spawn(body_fail_after, (void *)(intptr_t)0, "err");
  int rc = lc_await(t, NULL);
  int msg_ok = strcmp(lc_task_error_message(t), "failed after 0 ms") == 0;
  lc_task_unref(t);
  return msg_ok ? rc : -EINVAL;
}

static int g_park_rc;
static int main_deadlocks(void *arg, intptr_t *result) {
  (void)arg;
  (void)result;
  lc_waiter w = {0};
  g_park_rc = lc_park(&w); /* nothing will ever unpark it */
  return g_park_rc;
}

static int nested_run(void *arg, intptr_t *result) {
  (void)arg;
  (void)result;
  return lc_run(g_backend, NULL, body_log, "x", NULL);
}

static void test_run_errors(void **state) {
  (void)state;
  assert_int_equal(run_main(main_fails, NULL, NULL, 0, 0), -EIO);
  assert_int_equal(count_reports(LC_REPORT_UNRETRIEVED_ERROR, NULL), 0);

  /* A main task waiting for something that can never happen: cancelled, -EDEADLK. */
  assert_int_equal(run_main(main_deadlocks, NULL, NULL, 0, 0), -EDEADLK);
  assert_int_equal(g_park_rc, -ECANCELED);

  assert_int_equal(run_main(nested_run, NULL, NULL, 0, 0), -EBUSY);
  assert_int_equal(lc_run(NULL, NULL, body_log, "x", NULL), -EINVAL);
  assert_int_equal(lc_run(g_backend, NULL, NULL, NULL, NULL), -EINVAL);
  lc_run_opts bad = {.slow_step_ns = -1};
  assert_int_equal(lc_run(g_backend, &bad, body_log, "x", NULL), -EINVAL);

  /* Await points outside a task. */
  errno = 0;
  assert_null(lc_spawn(body_log, "x", NULL));
  assert_int_equal(errno, EPERM);
  assert_int_equal(lc_sleep(LC_MS), -EPERM);
  assert_int_equal(lc_yield(), -EPERM);
  assert_int_equal(lc_call_soon(cb2, NULL), -EPERM);
  assert_null(lc_rt_current());
}

/* ---- Debug mode and loop lag -------------------------------------------------------------- */

static void busy_ns(int64_t ns) {
  int64_t end = lc_now() + ns;
  while (lc_now() < end) {
  }
}
static int hog(void *arg, intptr_t *result) {
  (void)result;
  busy_ns((intptr_t)arg * LC_MS); /* blocks the loop: one slow step */
  return 0;
}
static int lag_main(void *arg, intptr_t *result) {
  (void)arg;
  (void)result;
  lc_rt *rt = lc_rt_current();
  lc_rt_lag_reset(rt);
  lc_task *s = lc_spawn(body_sleep_value, (void *)(intptr_t)1, "sleeper");
  lc_task *h = lc_spawn(hog, (void *)(intptr_t)40, "hog");
  lc_task *t[2] = {s, h};
  lc_gather(t, 2, NULL, NULL, 0);
  lc_lag_stats st;
  lc_rt_lag(rt, &st);
  logf_("%d %d", st.samples > 0, st.max_ns >= 30 * LC_MS); /* the sleeper woke >= 30 ms late */
  lc_task_unref(s);
  lc_task_unref(h);
  return 0;
}

static void test_debug_slow_step_and_lag(void **state) {
  (void)state;
  assert_int_equal(run_main(lag_main, NULL, NULL, 1, 10 * LC_MS), 0);
  assert_string_equal(g_log.s, "1 1");
  assert_true(count_reports(LC_REPORT_SLOW_STEP, "hog") == 1);
  for (int i = 0; i < g_rep.n; i++)
    if (g_rep.kind[i] == LC_REPORT_SLOW_STEP && strcmp(g_rep.name[i], "hog") == 0)
      assert_true(g_rep.dur[i] >= 40 * LC_MS);
  /* Without debug mode nothing is timed or reported. */
  assert_int_equal(run_main(lag_main, NULL, NULL, 0, 10 * LC_MS), 0);
  assert_int_equal(count_reports(LC_REPORT_SLOW_STEP, NULL), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_spawn_is_deferred_and_fifo),
      cmocka_unit_test(test_call_soon_next_iteration),
      cmocka_unit_test(test_call_soon_cannot_starve_timers),
      cmocka_unit_test(test_yield_interleaves),
      cmocka_unit_test(test_sleep_and_gather_order),
      cmocka_unit_test(test_sleep_wake_order),
      cmocka_unit_test(test_cancel_delivery),
      cmocka_unit_test(test_swallowed_cancel_reported),
      cmocka_unit_test(test_cancel_pending_at_return),
      cmocka_unit_test(test_await_forwards_cancel_shield_does_not),
      cmocka_unit_test(test_cancel_long_await_chain),
      cmocka_unit_test(test_park_unpark),
      cmocka_unit_test(test_gather_errors),
      cmocka_unit_test(test_gather_cancel_cancels_children),
      cmocka_unit_test(test_gather_many),
      cmocka_unit_test(test_wait_for),
      cmocka_unit_test(test_wait_for_caller_cancelled),
      cmocka_unit_test(test_timeout_scopes),
      cmocka_unit_test(test_timeout_scope_left_open),
      cmocka_unit_test(test_run_shutdown),
      cmocka_unit_test(test_run_errors),
      cmocka_unit_test(test_debug_slow_step_and_lag),
  };
  return cmocka_run_group_tests_name("runtime.core", tests, load_backend, NULL);
}
