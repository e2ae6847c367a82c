/* selftest_verdicts.c: hidden tests that produce every verdict, to prove the runner's machinery.
 *
 * They run only when named explicitly (--test 'selftest.*'); harness/runner/selftest.sh runs
 * them with an expectations file and checks each verdict, report and exit code. */
#include "lc_test.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Passes: the helpers behave, and the backend under test can create and free a loop. */
LC_TEST(selftest_pass, "selftest.pass", "", 0, 5000) {
  int64_t a = lc_clock_ns(), b = lc_clock_ns();
  assert_true(b >= a);
  assert_true(ctx->multiplier >= 1.0);
  assert_true(lc_tol_ns(ctx, 1000) >= 1000);
  assert_string_equal(lc_strerr(-ECANCELED), "ECANCELED: Operation canceled");
  assert_non_null(ctx->b->version());
  lc_loop *loop = lc_loop_new_or_fail(ctx);
  lc_loop_free_or_fail(ctx, loop);
}

/* Fails a cmocka assertion: no fail line, so the reason comes from the log. */
LC_TEST(selftest_fail_assert, "selftest.fail.assert", "", 0, 5000) {
  (void)ctx;
  int answer = 41;
  assert_int_equal(answer, 42);
}

/* Fails through lc_fail: the reason is the fail line. */
LC_TEST(selftest_fail_message, "selftest.fail.message", "", 0, 5000) {
  lc_fail(ctx, "deliberate failure %d", 42);
}

/* Dies by a signal: CRASH naming SIGSEGV. */
LC_TEST(selftest_crash, "selftest.crash", "", 0, 5000) {
  (void)ctx;
  raise(SIGSEGV);
}

/* Never returns: TIMEOUT after 300 ms x multiplier. */
LC_TEST(selftest_hang, "selftest.hang", "", 0, 300) {
  (void)ctx;
  for (;;) pause();
}

/* SKIP with a reason. */
LC_TEST(selftest_skip, "selftest.skip", "", 0, 5000) { lc_skip(ctx, "deliberate skip"); }

/* Records a characteristic and a note, then passes. */
LC_TEST(selftest_characteristic, "selftest.characteristic", "", 0, 5000) {
  lc_characteristic(ctx, "selftest-key", "value\twith tab %d", 7);
  lc_note(ctx, "a note for the log");
}

/* Exits with status 0 before the body ends: must not count as a pass. */
LC_TEST(selftest_early_exit, "selftest.early-exit", "", 0, 5000) {
  (void)ctx;
  fflush(NULL);
  _exit(0);
}

/* Floods the log past the runner's cap, with bytes that need escaping in XML, then fails. */
LC_TEST(selftest_flood, "selftest.flood", "", 0, 10000) {
  for (int i = 0; i < 4000; i++) printf("flood line %d <&> \"quoted\" \x01 \xff\n", i);
  fflush(stdout);
  lc_fail(ctx, "flooded the log");
}

/* Passes on odd runs and fails on even ones, counted in the file named by
 * LOOPCONF_SELFTEST_FLAKY_FILE: with --repeat 2 the cell must be FLAKY. */
/* This run's number (1, 2, ...), counted in the file named by LOOPCONF_SELFTEST_FLAKY_FILE. */
static long count_run(lc_ctx *ctx) {
  const char *path = getenv("LOOPCONF_SELFTEST_FLAKY_FILE");
  if (!path) lc_skip(ctx, "LOOPCONF_SELFTEST_FLAKY_FILE not set");
  FILE *f = fopen(path, "a+");
  if (!f) lc_fail(ctx, "cannot open %s: %s", path, strerror(errno));
  fputc('x', f);
  long runs = ftell(f); /* one byte per run so far, this one included */
  fclose(f);
  return runs;
}

LC_TEST(selftest_flaky, "selftest.flaky", "", 0, 5000) {
  long runs = count_run(ctx);
  if (runs % 2 == 0) lc_fail(ctx, "even run %ld fails", runs);
}

/* Passes on odd runs and SKIPs (no evidence, as a test that could not measure) on even ones,
 * counted like selftest.flaky: with --repeat 2 the cell is PASS, its reason counting the skip. */
LC_TEST(selftest_sometimes_skips, "selftest.sometimes-skips", "", 0, 5000) {
  if (count_run(ctx) % 2 == 0) lc_skip(ctx, "inconclusive: deliberate");
}
