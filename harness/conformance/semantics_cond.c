/* semantics_cond.c: asyncio-semantics tests of Condition (lc_cond).
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

struct cdstate {
  lc_cond *cond;
  int counter;
  char order[16];
  size_t n;
  int rc[8];
  int locked_after[8];
};

static struct cdstate *cs;

static void note(char c) {
  if (cs->n + 1 < sizeof cs->order) cs->order[cs->n++] = c;
}

/* ==========================================================================================
 * semantics.cond.notify: wait releases the lock and re-acquires it before returning;
 * notify(1) wakes the first waiter, notify_all the rest; wait/notify without the lock are
 * refused; wait_for re-checks its predicate after every wake-up; a waiter cancelled while
 * waiting re-acquires the lock (waiting for it) before it gets -ECANCELED.
 * ======================================================================================== */

static int cd_waiter(void *arg, intptr_t *result) {
  int id = (int)(intptr_t)arg;
  lc_cond_acquire(cs->cond);
  cs->rc[id] = lc_cond_wait(cs->cond);
  cs->locked_after[id] = lc_cond_locked(cs->cond);
  note((char)('0' + id));
  lc_trace("w%d woke, locked=%d", id, cs->locked_after[id]);
  lc_cond_release(cs->cond);
  *result = 0;
  return cs->rc[id];
}

static int counter_ge2(void *arg) { return ((struct cdstate *)arg)->counter >= 2; }

static int cd_pred_waiter(void *arg, intptr_t *result) {
  (void)arg;
  lc_cond_acquire(cs->cond);
  cs->rc[5] = lc_cond_wait_for(cs->cond, counter_ge2, cs);
  lc_trace("wait_for -> %s, counter=%d", lc_trace_code(cs->rc[5]), cs->counter);
  cs->rc[6] = cs->counter;
  lc_cond_release(cs->cond);
  *result = 0;
  return 0;
}

static int cd_cancelled_waiter(void *arg, intptr_t *result) {
  (void)arg;
  lc_cond_acquire(cs->cond);
  cs->rc[4] = lc_cond_wait(cs->cond);
  cs->locked_after[4] = lc_cond_locked(cs->cond);
  lc_trace("w4 wait -> %s, locked=%d", lc_trace_code(cs->rc[4]), cs->locked_after[4]);
  lc_cond_release(cs->cond);
  *result = 0;
  return 0;
}

static int cd_main(void *arg, intptr_t *result) {
  (void)arg;
  if (!(cs->cond = lc_cond_new(NULL))) return -ENOMEM;
  cs->rc[0] = lc_cond_wait(cs->cond);
  if (cs->rc[0] == -EPERM) lc_trace("wait without the lock -> EPERM");
  cs->rc[7] = lc_cond_notify(cs->cond, 1);
  if (cs->rc[7] == -EPERM) lc_trace("notify without the lock -> EPERM");
  lc_task *w[3];
  char name[4];
  for (int i = 0; i < 3; i++) {
    snprintf(name, sizeof name, "w%d", i + 1);
    if (!(w[i] = lc_spawn(cd_waiter, (void *)(intptr_t)(i + 1), name))) return -errno;
  }
  lc_sleep(5 * LC_MS);
  lc_cond_acquire(cs->cond);
  lc_cond_notify(cs->cond, 1);
  note('n');
  lc_trace("notify(1)");
  lc_cond_release(cs->cond);
  lc_sleep(5 * LC_MS);
  lc_cond_acquire(cs->cond);
  lc_cond_notify_all(cs->cond);
  note('N');
  lc_trace("notify_all");
  lc_cond_release(cs->cond);
  lc_gather(w, 3, NULL, NULL, 0);
  for (int i = 0; i < 3; i++) lc_task_unref(w[i]);

  lc_task *p = lc_spawn(cd_pred_waiter, NULL, "pred");
  if (!p) return -errno;
  for (int k = 0; k < 2; k++) {
    lc_sleep(5 * LC_MS);
    lc_cond_acquire(cs->cond);
    cs->counter++;
    lc_cond_notify_all(cs->cond);
    lc_trace("counter=%d, notify_all", cs->counter);
    lc_cond_release(cs->cond);
  }
  lc_await(p, NULL);
  lc_task_unref(p);

  lc_task *w4 = lc_spawn(cd_cancelled_waiter, NULL, "w4");
  if (!w4) return -errno;
  lc_sleep(5 * LC_MS);
  lc_cond_acquire(cs->cond);
  lc_cancel(w4);
  lc_trace("cancel(w4) while main holds the lock");
  lc_sleep(5 * LC_MS);
  lc_trace("w4 done: %d", lc_task_done(w4));
  cs->locked_after[0] = lc_task_done(w4);
  lc_cond_release(cs->cond);
  lc_await(w4, NULL);
  lc_task_unref(w4);
  lc_cond_free(cs->cond);
  *result = 0;
  return 0;
}

LC_TEST(sem_cond_notify, "semantics.cond.notify",
        "COND-WAIT-RELEASES COND-NOTIFY COND-NEEDS-LOCK COND-WAIT-FOR COND-CANCEL-REACQUIRES", 0,
        10000) {
  struct cdstate st;
  memset(&st, 0, sizeof st);
  cs = &st;
  assert_int_equal(lc_trace_run(ctx, "cond_notify", NULL, NULL, cd_main, NULL, NULL), 0);
  assert_int_equal(st.rc[0], -EPERM);
  assert_int_equal(st.rc[7], -EPERM);
  if (strcmp(st.order, "n1N23") != 0)
    lc_fail(ctx, "order '%s', expected 'n1N23' (n: notify(1), N: notify_all, digits: waiters)",
            st.order);
  for (int i = 1; i <= 3; i++) {
    assert_int_equal(st.rc[i], 0);
    assert_int_equal(st.locked_after[i], 1); /* woke holding the lock */
  }
  assert_int_equal(st.rc[5], 0);
  assert_int_equal(st.rc[6], 2); /* the predicate was re-checked: not woken at counter 1 */
  assert_int_equal(st.locked_after[0], 0); /* w4 waited for the lock main held */
  assert_int_equal(st.rc[4], -ECANCELED);
  assert_int_equal(st.locked_after[4], 1); /* and got it back before seeing the cancel */
}
