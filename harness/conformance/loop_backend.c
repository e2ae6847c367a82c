/* loop_backend.c: loop-contract tests of what a backend declares (backend.h caps, settings).
 *
 * One body per scenario, run on every backend; clause ids refer to spec/loop-contract.tsv.
 */
#include "lc_test.h"

#include <errno.h>
#include <string.h>

static void never_cb(lc_timer *t, void *arg) {
  (void)t;
  ++*(int *)arg;
}

/* ==========================================================================================
 * loop.backend.declarations (characteristic): records whether the backend can poll without
 * blocking (LC_CAP_NOWAIT) and the library settings its adapter changed, with the library's
 * defaults (e.g. sd-event's timer accuracy). Fails on a malformed declaration: caps bits the
 * contract does not define, an empty settings string, or, without LC_CAP_NOWAIT, a
 * run(LC_RUN_NOWAIT) that does not return -ENOTSUP at once (with a 2 s timer pending, a
 * backend that blocks instead misses the 50 ms bound by 40x).
 * ======================================================================================== */

LC_TEST(loop_backend_declarations, "loop.backend.declarations", "LOOP-CHAR-DECLARED", 0, 10000) {
  const struct lc_backend *b = ctx->b;
  lc_characteristic(ctx, "nowait", "%s",
                    (b->caps & LC_CAP_NOWAIT) ? "yes" : "no (run(NOWAIT) is -ENOTSUP)");
  lc_characteristic(ctx, "adapter-settings", "%s", b->settings ? b->settings : "library defaults");
  if (b->caps & ~(uint32_t)LC_CAP_NOWAIT)
    lc_fail(ctx, "caps has bits the contract does not define: 0x%x", (unsigned)b->caps);
  if (b->settings && !*b->settings)
    lc_fail(ctx, "settings is an empty string (NULL means: every library default kept)");
  if (b->caps & LC_CAP_NOWAIT) return;
  lc_loop *loop = lc_loop_new_or_fail(ctx);
  int fired = 0;
  lc_timer *t;
  lc_assert_ok(ctx, b->timer_new(loop, never_cb, &fired, &t));
  lc_assert_ok(ctx, b->timer_start(t, 2000 * LC_MS, 0));
  int64_t start = lc_clock_ns();
  int rc = b->run(loop, LC_RUN_NOWAIT);
  int64_t took = lc_clock_ns() - start;
  if (rc != -ENOTSUP)
    lc_fail(ctx, "without LC_CAP_NOWAIT, run(NOWAIT) returned %d after %lld us, not -ENOTSUP", rc,
            (long long)(took / LC_US));
  if (took > lc_tol_ns(ctx, 50 * LC_MS))
    lc_fail(ctx, "run(NOWAIT) took %lld us to refuse", (long long)(took / LC_US));
  assert_int_equal(fired, 0);
  b->timer_free(t);
  lc_loop_free_or_fail(ctx, loop);
}
