/* rt_test.h: what the runtime's unit tests share: loading the backend under test, the time
 * multiplier, and checks that can be made from inside tasks.
 *
 * Assertions inside tasks only record the first failure (cmocka's longjmp must not leave a
 * coroutine stack); rt_test_run turns it into a test failure once lc_run has returned. */
#ifndef LC_RT_TEST_H
#define LC_RT_TEST_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "loopconf/runtime.h"
#include "loopconf/clock.h"

#define RT_TEST_UNUSED __attribute__((unused))

static const struct lc_backend *g_backend;
static double g_mult = 1.0;

/* base * the global slow-machine multiplier. */
RT_TEST_UNUSED static int64_t tol(int64_t base_ns) { return (int64_t)((double)base_ns * g_mult); }

/* Load the backend $LOOPCONF_TEST_BACKEND (a built-in name or a module path; default: reference)
 * into g_backend, found by the host library's one discovery rule, and read
 * LOOPCONF_TIME_MULTIPLIER into g_mult. Returns 0, or -1 after one error line naming `prog`. */
RT_TEST_UNUSED static int rt_test_load_backend(const char *prog) {
  lch_set_program(prog);
  const char *name = getenv("LOOPCONF_TEST_BACKEND");
  if (!name || !*name) name = "reference";
  g_backend = lch_backend_open(name);
  if (!g_backend) return -1;
  return lch_env_multiplier(&g_mult);
}

#ifndef RT_TEST_OWN_RUN_HELPERS /* core_test.c keeps its own run helpers */

static char g_fail[512];
static int g_reports[8];

#define CHECK(cond)                                                                          \
  do {                                                                                       \
    if (!(cond) && !g_fail[0])                                                               \
      snprintf(g_fail, sizeof g_fail, "%s:%d: check failed: %s", __FILE__, __LINE__, #cond); \
  } while (0)
#define CHECK_EQ(a, b)                                                                            \
  do {                                                                                            \
    long long ca_ = (long long)(a), cb_ = (long long)(b);                                         \
    if (ca_ != cb_ && !g_fail[0])                                                                 \
      snprintf(g_fail, sizeof g_fail, "%s:%d: %s == %s failed: %lld != %lld", __FILE__, __LINE__, \
               #a, #b, ca_, cb_);                                                                 \
  } while (0)

/* Count runtime reports by kind (and print them, for the test log). */
RT_TEST_UNUSED static void collect_report(void *ctx, enum lc_report_kind kind,
                                          const char *task_name, int64_t duration_ns,
                                          const char *message) {
  (void)ctx;
  (void)duration_ns;
  if (kind > 0 && kind < 8) g_reports[kind]++;
  fprintf(stderr, "report %d from %s: %s\n", (int)kind, task_name ? task_name : "?",
          message ? message : "");
}

/* Run fn as the main task on backend b; fail on a recorded check, a non-zero code, or any
 * runtime report (an unretrieved error or a swallowed cancel means something lost track).
 * Needs <cmocka.h> included before this header. */
RT_TEST_UNUSED static void run_main_on(const struct lc_backend *b, lc_run_opts *opts, lc_task_fn fn,
                                       void *arg) {
  g_fail[0] = 0;
  memset(g_reports, 0, sizeof g_reports);
  opts->report = collect_report;
  intptr_t res = 0;
  int rc = lc_run(b, opts, fn, arg, &res);
  if (g_fail[0]) fail_msg("%s", g_fail);
  assert_int_equal(rc, 0);
  assert_int_equal(g_reports[LC_REPORT_UNRETRIEVED_ERROR], 0);
  assert_int_equal(g_reports[LC_REPORT_SWALLOWED_CANCEL], 0);
  assert_int_equal(g_reports[LC_REPORT_CANCELLED_AT_SHUTDOWN], 0);
}

RT_TEST_UNUSED static void run_main_opts(lc_run_opts *opts, lc_task_fn fn, void *arg) {
  run_main_on(g_backend, opts, fn, arg);
}

RT_TEST_UNUSED static void run_main(lc_task_fn fn, void *arg) {
  lc_run_opts opts = {0};
  run_main_opts(&opts, fn, arg);
}

#endif /* RT_TEST_OWN_RUN_HELPERS */

#endif /* LC_RT_TEST_H */
