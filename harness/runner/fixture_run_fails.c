/* fixture_run_fails.c: the reference loop with a run() that always fails with -EIO.
 *
 * Every other operation is the reference loop's own (its sources are compiled into this module
 * with their entry point renamed), so timers, I/O and wakeups can be created and armed as on a
 * working backend; only run() reports a failure of the backend itself. No cell may PASS on it
 * when the cell depends on the loop running: harness/runner/backend_fails.sh checks that. */
#include "loopconf/backend.h"

#include <errno.h>

const struct lc_backend *lcfix_reference_backend(void); /* reference_loop.c, renamed */

static int lcfix_run_fails(lc_loop *loop, int mode) {
  (void)loop;
  (void)mode;
  return -EIO;
}

static struct lc_backend lcfix_backend;

LC_BACKEND_EXPORT const struct lc_backend *loopconf_backend(void) {
  lcfix_backend = *lcfix_reference_backend();
  lcfix_backend.name = "run-fails";
  lcfix_backend.run = lcfix_run_fails;
  return &lcfix_backend;
}
