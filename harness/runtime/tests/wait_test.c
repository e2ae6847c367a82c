/* wait_test.c: unit tests of the runtime parts added for issue 9 that the semantic scenarios
 * do not reach: timer handles cancelled while their call is queued or left at lc_run's end,
 * done callbacks dropped while queued (wait, as_completed and gather returning early),
 * Condition over a caller's lock, and a portal used after its runtime ended. Meant to be run
 * under ASan/TSan too: most checks are "nothing is touched after it is gone". */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "rt_test.h"

static int g_fired[8];

static void fire_cb(void *arg) { g_fired[(intptr_t)arg]++; }

static lc_handle *g_h2;

static void cancel_other_cb(void *arg) {
  g_fired[(intptr_t)arg]++;
  CHECK_EQ(lc_handle_cancel(g_h2), 1); /* still scheduled: its call is queued, not run */
}

static int sleeper_fn(void *arg, intptr_t *result) {
  *result = 0;
  return lc_sleep((int64_t)(intptr_t)arg * LC_MS);
}

/* Two handles fall due in the same iteration; the first cancels the second, whose call
 * already waits in the ready queue: it must not run. A third is dropped (never unref'd by
 * the runtime twice) when lc_run ends with it still scheduled. */
static int t_handles(void *arg, intptr_t *result) {
  (void)arg;
  (void)result;
  memset(g_fired, 0, sizeof g_fired);
  int64_t when = lc_now() + 5 * LC_MS;
  lc_handle *h1 = lc_call_at(when, cancel_other_cb, (void *)0);
  g_h2 = lc_call_at(when, fire_cb, (void *)1);
  lc_handle *h3 = lc_call_later(10 * LC_S, fire_cb, (void *)2);
  lc_handle *h4 = lc_call_later(2 * LC_MS, fire_cb, (void *)3);
  CHECK(h1 && g_h2 && h3 && h4);
  lc_handle_unref(h4); /* dropping the reference does not cancel it */
  lc_sleep(20 * LC_MS);
  CHECK_EQ(g_fired[0], 1);
  CHECK_EQ(g_fired[1], 0);
  CHECK(lc_handle_cancelled(g_h2));
  CHECK_EQ(g_fired[3], 1);
  CHECK_EQ(lc_handle_cancel(h1), 0); /* ran already */
  lc_handle_unref(h1);
  lc_handle_unref(g_h2);
  lc_handle_unref(h3); /* still scheduled: lc_run drops it */
  return 0;
}

static void test_handles(void **state) {
  (void)state;
  run_main(t_handles, NULL);
  assert_int_equal(g_fired[2], 0);
}

/* wait and as_completed return (or are freed) while some tasks' done callbacks are still
 * registered or queued; those tasks finish later without touching the gone nodes. */
static int t_early_return(void *arg, intptr_t *result) {
  (void)arg;
  (void)result;
  lc_task *t[3] = {lc_spawn(sleeper_fn, (void *)1, "a"), lc_spawn(sleeper_fn, (void *)1, "b"),
                   lc_spawn(sleeper_fn, (void *)30, "c")};
  CHECK(t[0] && t[1] && t[2]);
  unsigned char d[3];
  CHECK_EQ(lc_wait(t, 3, LC_FIRST_COMPLETED, -1, d, NULL), 0);
  CHECK_EQ(d[2], 0);
  lc_as_completed *ac = lc_as_completed_new(t, 3, -1);
  CHECK(ac != NULL);
  lc_task *got = NULL;
  CHECK_EQ(lc_as_completed_next(ac, &got, NULL), 0);
  lc_as_completed_free(ac); /* c still running, its callback registered */
  CHECK_EQ(lc_wait(t, 3, LC_ALL_COMPLETED, 1 * LC_MS, d, NULL), 0); /* times out */
  CHECK_EQ(d[2], 0);
  lc_task *e = lc_spawn(sleeper_fn, (void *)1, "e");
  lc_task *g2[2] = {e, t[2]};
  CHECK(e != NULL);
  lc_sleep(5 * LC_MS); /* e done, c still running: one deferred callback, one registered */
  CHECK_EQ(lc_gather(g2, 2, NULL, NULL, 0), 0);
  CHECK_EQ(lc_wait(t, 3, LC_ALL_COMPLETED, -1, d, NULL), 0);
  CHECK(d[0] && d[1] && d[2]);
  CHECK_EQ(lc_wait(t, 0, LC_ALL_COMPLETED, -1, d, NULL), -EINVAL);
  CHECK_EQ(lc_wait(t, 3, 99, -1, d, NULL), -EINVAL);
  for (int i = 0; i < 3; i++) lc_task_unref(t[i]);
  lc_task_unref(e);
  return 0;
}

static void test_early_return(void **state) {
  (void)state;
  run_main(t_early_return, NULL);
}

static int fail_fn(void *arg, intptr_t *result) {
  (void)arg;
  (void)result;
  return -EIO;
}

/* gather of a failed and a running child returns at once with the error; the running child's
 * deferred callback is dropped when it finishes later. */
static int t_gather_early(void *arg, intptr_t *result) {
  (void)arg;
  (void)result;
  lc_task *t[2] = {lc_spawn(fail_fn, NULL, "f"), lc_spawn(sleeper_fn, (void *)10, "s")};
  CHECK(t[0] && t[1]);
  lc_yield();
  CHECK_EQ(lc_gather(t, 2, NULL, NULL, 0), -EIO);
  CHECK(!lc_task_done(t[1]));
  CHECK_EQ(lc_await(t[1], NULL), 0);
  lc_task_unref(t[0]);
  lc_task_unref(t[1]);
  return 0;
}

static void test_gather_early(void **state) {
  (void)state;
  run_main(t_gather_early, NULL);
}

/* A Condition over the caller's lock leaves that lock alone when freed. */
static int t_cond_external_lock(void *arg, intptr_t *result) {
  (void)arg;
  (void)result;
  lc_lock *l = lc_lock_new();
  lc_cond *c = lc_cond_new(l);
  CHECK(l && c && lc_cond_lock(c) == l);
  CHECK_EQ(lc_cond_acquire(c), 0);
  CHECK(lc_lock_locked(l));
  CHECK_EQ(lc_cond_notify_all(c), 0);
  CHECK_EQ(lc_cond_release(c), 0);
  CHECK_EQ(lc_cond_notify(c, 1), -EPERM);
  CHECK_EQ(lc_cond_wait_for(c, NULL, NULL), -EINVAL);
  lc_cond_free(c);
  CHECK_EQ(lc_lock_acquire(l), 0); /* still usable */
  lc_lock_release(l);
  lc_lock_free(l);
  return 0;
}

static void test_cond_external_lock(void **state) {
  (void)state;
  run_main(t_cond_external_lock, NULL);
}

/* A portal kept past lc_run: posting is refused with -ESHUTDOWN, nothing dangles. */
static lc_portal *g_portal;

static int t_portal_open(void *arg, intptr_t *result) {
  (void)arg;
  (void)result;
  g_portal = lc_portal_open();
  CHECK(g_portal != NULL);
  CHECK_EQ(lc_call_soon_threadsafe(g_portal, fire_cb, (void *)4), 0);
  lc_sleep(5 * LC_MS); /* the call runs (the wakeup fires) */
  CHECK_EQ(g_fired[4], 1);
  CHECK_EQ(lc_call_soon_threadsafe(g_portal, fire_cb, (void *)5), 0); /* dropped at the end */
  return 0; /* left open: lc_run closes it */
}

static void test_portal_after_run(void **state) {
  (void)state;
  memset(g_fired, 0, sizeof g_fired);
  if (!g_backend->wakeup_new) skip();
  run_main(t_portal_open, NULL);
  assert_int_equal(lc_call_soon_threadsafe(g_portal, fire_cb, (void *)6), -ESHUTDOWN);
  errno = 0;
  assert_null(lc_run_coroutine_threadsafe(g_portal, sleeper_fn, NULL, "x"));
  assert_int_equal(errno, ESHUTDOWN);
  assert_int_equal(g_fired[6], 0);
  lc_portal_unref(g_portal);
  errno = 0;
  assert_null(lc_portal_open()); /* outside lc_run */
  assert_int_equal(errno, EPERM);
}

int main(void) {
  if (rt_test_load_backend("wait_test") != 0) return 2;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_handles),          cmocka_unit_test(test_early_return),
      cmocka_unit_test(test_gather_early),     cmocka_unit_test(test_cond_external_lock),
      cmocka_unit_test(test_portal_after_run),
  };
  return cmocka_run_group_tests_name("runtime.wait", tests, NULL, NULL);
}
