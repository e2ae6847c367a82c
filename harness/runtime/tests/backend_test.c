/* backend_test.c: the runtime against a backend that fails or lacks NOWAIT.
 *
 * The backend under test (rt_test_load_backend) is copied into a table whose run() or
 * timer_start fails after a number of calls, or which declares no LC_CAP_NOWAIT and refuses
 * run(LC_RUN_NOWAIT): a failed backend operation must stop lc_run with its code and name the
 * operation in lc_run_error(), with no task running on afterwards; a backend without NOWAIT must
 * still run every task (ONCE with the runtime's timer due at once).
 */
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
#include "rt_test.h"

static struct lc_backend g_wrapped;
static int g_run_calls, g_run_fail_after, g_start_calls, g_start_fail_after, g_nowait_calls;

static int run_wrapper(lc_loop *loop, int mode) {
  if (mode == LC_RUN_NOWAIT) g_nowait_calls++;
  if (g_run_fail_after >= 0 && g_run_calls++ >= g_run_fail_after) return -EIO;
  if (mode == LC_RUN_NOWAIT && !(g_wrapped.caps & LC_CAP_NOWAIT)) return -ENOTSUP;
  return g_backend->run(loop, mode);
}

static int timer_start_wrapper(lc_timer *t, int64_t delay_ns, int64_t repeat_ns) {
  if (g_start_fail_after >= 0 && g_start_calls++ >= g_start_fail_after) return -ENOSPC;
  return g_backend->timer_start(t, delay_ns, repeat_ns);
}

static void wrap(int run_fail_after, int start_fail_after, uint32_t caps) {
  g_wrapped = *g_backend;
  g_wrapped.run = run_wrapper;
  g_wrapped.timer_start = timer_start_wrapper;
  g_wrapped.caps = caps;
  g_run_calls = g_start_calls = g_nowait_calls = 0;
  g_run_fail_after = run_fail_after;
  g_start_fail_after = start_fail_after;
}

/* Yields and sleeps 20 times; counts the steps that ran. */
static int g_steps;
static int body_steps(void *arg, intptr_t *result) {
  (void)arg;
  for (int i = 0; i < 20; i++) {
    g_steps++;
    int rc = i % 2 ? lc_yield() : lc_sleep(LC_MS);
    if (rc) return rc;
  }
  *result = 7;
  return 0;
}

static int run_steps(intptr_t *result) {
  g_steps = 0;
  return lc_run(&g_wrapped, NULL, body_steps, NULL, result);
}

static void test_run_failure_stops_lc_run(void **state) {
  (void)state;
  for (int after = 0; after < 4; after++) {
    wrap(after, -1, g_backend->caps);
    intptr_t res = 0;
    int rc = run_steps(&res);
    assert_int_equal(rc, -EIO);
    assert_int_equal(g_run_calls, after + 1); /* nothing asked of the backend after it failed */
    assert_true(g_steps <= after + 1);        /* no task ran on without the loop */
    assert_int_equal(res, 0);
    const char *why = lc_run_error();
    assert_non_null(why);
    assert_non_null(strstr(why, "run(LC_RUN_"));
    assert_non_null(strstr(why, "failed: -5"));
  }
}

static void test_timer_start_failure_stops_lc_run(void **state) {
  (void)state;
  wrap(-1, 0, g_backend->caps);
  int rc = run_steps(NULL);
  assert_int_equal(rc, -ENOSPC);
  const char *why = lc_run_error();
  assert_non_null(why);
  assert_non_null(strstr(why, "timer_start failed: -28"));
}

static void test_success_clears_the_error(void **state) {
  (void)state;
  wrap(0, -1, g_backend->caps);
  assert_int_equal(run_steps(NULL), -EIO);
  assert_non_null(lc_run_error());
  wrap(-1, -1, g_backend->caps);
  intptr_t res = 0;
  assert_int_equal(run_steps(&res), 0);
  assert_int_equal(res, 7);
  assert_null(lc_run_error());
}

/* Without LC_CAP_NOWAIT the runtime never asks for NOWAIT and every task still runs. */
static void test_no_nowait(void **state) {
  (void)state;
  wrap(-1, -1, g_backend->caps & ~(uint32_t)LC_CAP_NOWAIT);
  intptr_t res = 0;
  assert_int_equal(run_steps(&res), 0);
  assert_int_equal(res, 7);
  assert_int_equal(g_steps, 20);
  assert_int_equal(g_nowait_calls, 0);
  /* With it, the same workload does use NOWAIT (the yields leave work ready). */
  wrap(-1, -1, g_backend->caps | LC_CAP_NOWAIT);
  assert_int_equal(run_steps(&res), 0);
  assert_true(g_nowait_calls > 0);
}

int main(void) {
  if (rt_test_load_backend("backend_test") != 0) return 2;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_run_failure_stops_lc_run),
      cmocka_unit_test(test_timer_start_failure_stops_lc_run),
      cmocka_unit_test(test_success_clears_the_error),
      cmocka_unit_test(test_no_nowait),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
